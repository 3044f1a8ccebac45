"""Writes the recorded provider sessions (one JSON-lines file per built-in provider) used by the tests.

Each line is one frame as a provider sends it, {"text": "..."} or {"binary": "<base64>"}, with the
internal event it must map to ("expect", compared as a subset). Messages follow each provider's documented
wire format (shared/reference/protocols.md): field names, types (Twilio's numbers as strings, Plivo's as
numbers) and order; the audio is a real 440 Hz tone in the provider's codec, 20 ms per frame.

usage: python3 tests/sessions/make_sessions.py   (rewrites the .jsonl files next to it)
"""
import base64
import json
import math
import os
import struct
import sys
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

HERE = os.path.dirname(os.path.abspath(__file__))


def tone(rate, ms, start=0):
    n = rate * ms // 1000
    return b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * (start + i) / rate))) for i in range(n))


def ulaw(pcm):
    return audioop.lin2ulaw(pcm, 2)


def alaw(pcm):
    return audioop.lin2alaw(pcm, 2)


def b64(data):
    return base64.b64encode(data).decode()


def text(msg, expect):
    return {"text": msg if isinstance(msg, str) else json.dumps(msg, separators=(",", ":")), "expect": expect}


def binary(data, expect):
    return {"binary": b64(data), "expect": expect}


def media_expect(n, **fields):
    e = {"event": "media", "audio": {"bytes": n}}
    e.update(fields)
    return e


def twilio():
    s = [text({"event": "connected", "protocol": "Call", "version": "1.0.0"}, {"event": "connected", "extras": {"protocol": "Call"}}),
         text({"event": "start", "sequenceNumber": "1", "streamSid": "MZ11", "start": {"streamSid": "MZ11", "accountSid": "AC11", "callSid": "CA11",
               "tracks": ["inbound"], "customParameters": {"caller": "+15550100", "lang": "en"},
               "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}},
              {"event": "start", "stream_id": "MZ11", "call_id": "CA11", "account_id": "AC11", "sequence": 1, "track": "inbound",
               "custom_parameters": {"caller": "+15550100", "lang": "en"}, "format": {"encoding": "ulaw", "sample_rate": 8000, "channels": 1}})]
    for k in range(3):
        payload = ulaw(tone(8000, 20, 160 * k))
        s.append(text({"event": "media", "sequenceNumber": str(k + 2), "streamSid": "MZ11",
                       "media": {"track": "inbound", "chunk": str(k + 1), "timestamp": str(20 * k), "payload": b64(payload)}},
                      media_expect(160, stream_id="MZ11", sequence=k + 2, chunk=k + 1, timestamp=20 * k, track="inbound",
                                   audio={"bytes": 160, "base64": b64(payload)}, format={"encoding": "ulaw", "sample_rate": 8000})))
    s += [text({"event": "dtmf", "sequenceNumber": "5", "streamSid": "MZ11", "dtmf": {"track": "inbound_track", "digit": "1"}},
               {"event": "dtmf", "digit": "1", "sequence": 5}),
          text({"event": "mark", "sequenceNumber": "6", "streamSid": "MZ11", "mark": {"name": "utt-1"}}, {"event": "mark", "mark": "utt-1"}),
          text({"event": "media", "sequenceNumber": "7", "streamSid": "MZ11", "media": {"payload": "not base64!!"}},
               {"event": "error", "error": "media: audio at media.payload: invalid base64: byte 32 at offset 3 is not in the alphabet"}),
          text({"event": "mystery"}, {"event": "error", "error": "unknown message: no pattern of twilio matches (event: \"mystery\")"}),
          text('{"event":"media",', {"event": "error"}),
          binary(b"\x00\x01", {"event": "error", "error": "binary frame of 2 bytes: twilio sends text frames only"}),
          text({"event": "stop", "sequenceNumber": "8", "streamSid": "MZ11", "stop": {"accountSid": "AC11", "callSid": "CA11"}},
               {"event": "stop", "call_id": "CA11", "sequence": 8})]
    return s


def exotel():
    s = [text({"event": "connected"}, {"event": "connected"}),
         text({"event": "start", "sequence_number": "1", "stream_sid": "S1", "start": {"stream_sid": "S1", "call_sid": "C1", "account_sid": "A1",
               "from": "+918000000000", "to": "+912200000000", "custom_parameters": {"k": "v"},
               "media_format": {"encoding": "audio/x-raw", "sample_rate": "8000", "bit_rate": "16"}}},
              {"event": "start", "stream_id": "S1", "call_id": "C1", "from": "+918000000000", "to": "+912200000000",
               "custom_parameters": {"k": "v"}, "format": {"encoding": "pcm16le", "sample_rate": 8000}})]
    for k in range(2):
        pcm = tone(8000, 100, 800 * k)  # Exotel sends about every 100 ms
        s.append(text({"event": "media", "sequence_number": str(k + 2), "stream_sid": "S1",
                       "media": {"chunk": str(k + 1), "timestamp": str(100 * k), "payload": b64(pcm)}},
                      media_expect(1600, sequence=k + 2, chunk=k + 1, timestamp=100 * k, format={"encoding": "pcm16le", "sample_rate": 8000})))
    s += [text({"event": "dtmf", "sequence_number": "7", "stream_sid": "S1", "dtmf": {"digit": "5", "duration": "100"}},
               {"event": "dtmf", "digit": "5", "duration": 100}),
          text({"event": "mark", "sequence_number": "15", "stream_sid": "S1", "mark": {"name": "m1"}}, {"event": "mark", "mark": "m1"}),
          text({"event": "media", "sequence_number": "16", "stream_sid": "S1", "media": {"payload": b64(b"\x01\x02\x03")}},
               {"event": "error", "error": "media: 3 bytes is not a whole number of pcm16le frames"}),
          text({"event": "stop", "sequence_number": "20", "stream_sid": "S1", "stop": {"call_sid": "C1", "account_sid": "A1", "reason": "callended"}},
               {"event": "stop", "reason": "callended"})]
    # A newer Exotel account: mu-law from the start message.
    s += [text({"event": "start", "sequence_number": "1", "stream_sid": "S2", "start": {"stream_sid": "S2", "call_sid": "C2",
                "media_format": {"encoding": "audio/x-mulaw", "sample_rate": "8000"}}},
               {"event": "start", "format": {"encoding": "ulaw", "sample_rate": 8000}}),
          text({"event": "media", "sequence_number": "2", "stream_sid": "S2", "media": {"chunk": "1", "timestamp": "0", "payload": b64(ulaw(tone(8000, 20)))}},
               media_expect(160, format={"encoding": "ulaw"}))]
    return s


def plivo():
    s = [text({"event": "start", "sequenceNumber": 1, "start": {"callId": "c-1", "streamId": "s-1", "accountId": "MA1", "tracks": ["inbound"],
               "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000}}, "extra_headers": "userId=1;plan=gold"},
              {"event": "start", "stream_id": "s-1", "call_id": "c-1", "sequence": 1, "custom_parameters": {"userId": "1", "plan": "gold"},
               "format": {"encoding": "ulaw", "sample_rate": 8000}})]
    for k in range(3):
        payload = ulaw(tone(8000, 20, 160 * k))
        s.append(text({"event": "media", "sequenceNumber": k + 2, "streamId": "s-1",
                       "media": {"track": "inbound", "timestamp": str(1705312200000 + 20 * k), "chunk": k + 1, "payload": b64(payload)},
                       "extra_headers": "userId=1"},
                      media_expect(160, sequence=k + 2, chunk=k + 1, timestamp=1705312200000 + 20 * k)))
    s += [text({"event": "dtmf", "streamId": "s-1", "dtmf": {"digit": "5"}}, {"event": "dtmf", "digit": "5"}),
          text({"event": "playedStream", "streamId": "s-1", "name": "greeting"}, {"event": "mark", "pattern": "playedStream", "mark": "greeting"}),
          text({"event": "clearedAudio", "sequenceNumber": 0, "streamId": "s-1"}, {"event": "clear", "sequence": 0})]
    # The default L16 format, at 16 kHz by content type.
    s += [text({"event": "start", "sequenceNumber": 1, "start": {"callId": "c-2", "streamId": "s-2", "mediaFormat": {"encoding": "audio/x-l16;rate=16000", "sampleRate": 16000}}},
               {"event": "start", "format": {"encoding": "pcm16le", "sample_rate": 16000}}),
          text({"event": "media", "sequenceNumber": 2, "streamId": "s-2", "media": {"chunk": 1, "timestamp": "1", "payload": b64(tone(16000, 20))}},
               media_expect(640, format={"encoding": "pcm16le", "sample_rate": 16000}))]
    return s


def telnyx():
    s = [text({"event": "connected", "version": "1.0.0"}, {"event": "connected"}),
         text({"event": "start", "sequence_number": "1", "stream_id": "32DE", "start": {"user_id": "u", "call_control_id": "v3:cc", "call_session_id": "cs",
               "from": "+15550001", "to": "+15550002", "custom_parameters": {"customer_id": "c1"},
               "media_format": {"encoding": "PCMA", "sample_rate": 8000, "channels": 1}}},
              {"event": "start", "stream_id": "32DE", "call_id": "v3:cc", "from": "+15550001", "extras": {"call_session_id": "cs"},
               "format": {"encoding": "alaw", "sample_rate": 8000, "channels": 1}})]
    # Out of order, as Telnyx may deliver them: the mapper keeps each one's sequence for the session to reorder.
    for k in [1, 0, 2]:
        payload = alaw(tone(8000, 20, 160 * k))
        s.append(text({"event": "media", "sequence_number": str(k + 2), "stream_id": "32DE",
                       "media": {"track": "inbound", "chunk": str(k + 1), "timestamp": str(20 * k), "payload": b64(payload)}},
                      media_expect(160, sequence=k + 2, format={"encoding": "alaw"}, audio={"bytes": 160, "base64": b64(payload)})))
    s += [text({"event": "dtmf", "sequence_number": "5", "stream_id": "32DE", "dtmf": {"digit": "1"}}, {"event": "dtmf", "digit": "1"}),
          text({"event": "mark", "stream_id": "32DE", "mark": {"name": "m1"}}, {"event": "mark", "mark": "m1"}),
          text({"event": "stop", "sequence_number": "9", "stream_id": "32DE", "stop": {"user_id": "u", "call_control_id": "v3:cc"}},
               {"event": "stop", "call_id": "v3:cc"})]
    return s


def vonage():
    return [text({"event": "websocket:connected", "content-type": "audio/l16;rate=16000", "call_id": "CALL-1", "from": "447700900000", "to": "447700900001"},
                 {"event": "start", "call_id": "CALL-1", "from": "447700900000", "format": {"encoding": "pcm16le", "sample_rate": 16000}}),
            binary(tone(16000, 20), media_expect(640, format={"encoding": "pcm16le", "sample_rate": 16000})),
            binary(tone(16000, 20, 320), media_expect(640)),
            binary(b"\x00\x01\x02", {"event": "error", "error": "media: 3 bytes is not a whole number of pcm16le frames"}),
            text({"event": "websocket:dtmf", "digit": "5", "duration": 260}, {"event": "dtmf", "digit": "5", "duration": 260}),
            text({"event": "websocket:notify", "payload": {"mark": "m1"}}, {"event": "mark", "mark": "m1"}),
            text({"event": "websocket:cleared"}, {"event": "clear"})]


def jambonz():
    return [text({"callSid": "js-1", "from": "+15550100", "to": "+15550101", "direction": "inbound", "sampleRate": 8000, "mixType": "mono",
                  "metadata": {"agent": "7"}},
                 {"event": "start", "call_id": "js-1", "direction": "inbound", "custom_parameters": {"agent": "7"}, "format": {"encoding": "pcm16le", "sample_rate": 8000}}),
            binary(tone(8000, 20), media_expect(320)),
            text({"event": "dtmf", "dtmf": "5", "duration": "240"}, {"event": "dtmf", "digit": "5", "duration": 240}),
            text({"type": "mark", "data": {"name": "m1", "event": "playout"}}, {"event": "mark", "mark": "m1", "reason": "playout"}),
            text({"type": "mark", "data": {"name": "m2", "event": "cleared"}}, {"event": "mark", "mark": "m2", "reason": "cleared"}),
            binary(b"\x01", {"event": "error", "error": "media: 1 bytes is not a whole number of pcm16le frames"})]


def asterisk():
    return [text({"event": "MEDIA_START", "connection_id": "c1", "channel": "WebSocket/c1-0001", "channel_id": "1723.1", "format": "slin16",
                  "optimal_frame_size": "640", "ptime": "20", "channel_variables": {"X": "y"}},
                 {"event": "start", "stream_id": "c1", "call_id": "1723.1", "custom_parameters": {"X": "y"},
                  "format": {"encoding": "pcm16le", "sample_rate": 16000}, "extras": {"optimal_frame_size": "640"}}),
            binary(tone(16000, 20), media_expect(640, format={"sample_rate": 16000})),
            text({"event": "DTMF_END", "channel_id": "1723.1", "digit": "5"}, {"event": "dtmf", "digit": "5"}),
            text({"event": "MEDIA_XOFF", "channel_id": "1723.1"}, {"event": "ignored", "pattern": "xoff"}),
            text({"event": "MEDIA_XON", "channel_id": "1723.1"}, {"event": "ignored", "pattern": "xon"}),
            text({"event": "MEDIA_MARK_PROCESSED", "channel_id": "1723.1", "correlation_id": "m1"}, {"event": "mark", "mark": "m1"})]


def asterisk_text():
    return [text("MEDIA_START connection_id:media_connection1 channel:WebSocket/media_connection1/0x7f00 channel_id:1795239873.5 format:ulaw optimal_frame_size:160 ptime:20",
                 {"event": "start", "stream_id": "media_connection1", "call_id": "1795239873.5", "format": {"encoding": "ulaw", "sample_rate": 8000}}),
            binary(ulaw(tone(8000, 20)), media_expect(160)),
            text("DTMF_END digit:5 channel_id:1795239873.5", {"event": "dtmf", "digit": "5"}),
            text("MEDIA_MARK_PROCESSED m1", {"event": "mark", "mark": "m1"}),
            text("QUEUE_DRAINED", {"event": "ignored"}),
            text("   ", {"event": "error", "error": "empty text line"})]


def audiosocket():
    def frame(kind, payload):
        return bytes([kind]) + struct.pack(">H", len(payload)) + payload
    uuid = bytes(range(16))
    return [binary(frame(0x01, uuid), {"event": "start", "call_id": "00010203-0405-0607-0809-0a0b0c0d0e0f"}),
            binary(frame(0x03, b"5"), {"event": "dtmf", "digit": "5"}),
            binary(frame(0x10, tone(8000, 20)), media_expect(320, format={"encoding": "pcm16le", "sample_rate": 8000})),
            binary(frame(0x12, tone(16000, 20)), media_expect(640, format={"sample_rate": 16000})),
            binary(frame(0x10, b"\x00" * 10)[:8], {"event": "error"}),
            binary(frame(0xFF, b"\x02"), {"event": "stop", "pattern": "failed", "reason": "error"}),
            binary(frame(0x00, b""), {"event": "stop", "pattern": "stop"})]


SESSIONS = {"twilio": twilio, "exotel": exotel, "plivo": plivo, "telnyx": telnyx, "vonage": vonage, "jambonz": jambonz,
            "asterisk": asterisk, "asterisk-text": asterisk_text, "audiosocket": audiosocket}

if __name__ == "__main__":
    for name, make in SESSIONS.items():
        with open(os.path.join(HERE, name + ".jsonl"), "w") as f:
            for line in make():
                f.write(json.dumps(line, separators=(",", ":")) + "\n")
    print("wrote", ", ".join(n + ".jsonl" for n in SESSIONS), file=sys.stderr)
