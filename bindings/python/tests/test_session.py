"""Sessions: a recorded Twilio call through an agent-server session, both roles against each other
(audio, marks, barge-in, DTMF, stats), AudioSocket's binary stream, options, and bad input."""
from __future__ import annotations

import json
import math
import struct
import uuid

import pytest

import formi
from conftest import frame_of, load_session

try:
    import numpy as np
except ImportError:  # pragma: no cover
    np = None


def tone(rate: int, ms: int, freq: int = 440) -> bytes:
    n = rate * ms // 1000
    return struct.pack(f"={n}h", *(int(8000 * math.sin(2 * math.pi * freq * i / rate)) for i in range(n)))


def pump(source: formi.Session, target: formi.Session) -> int:
    """Moves every message `source` has to send into `target`; returns how many."""
    moved = 0
    for message in source.outputs():
        target.receive(message.data, binary=message.binary)
        moved += 1
    return moved


# ---- a recorded Twilio call ------------------------------------------------------------------------

def test_twilio_recorded_call_as_agent_server(repo, twilio):
    lines = load_session(repo, "twilio")
    with formi.Session(twilio, role="agent_server") as call:
        assert call.role is formi.Role.AGENT_SERVER
        assert call.local_format == formi.Format(formi.Encoding.PCM16LE, 16000, 1)
        # connected, start, and three media messages
        for line in lines[:5]:
            call.receive(line["text"])
        events = list(call.events())
        assert [e.kind for e in events] == [formi.EventKind.CONNECTED, formi.EventKind.START] + [formi.EventKind.MEDIA] * 3
        start = events[1]
        assert (start.stream_id, start.call_id, start.account_id) == ("MZ11", "CA11", "AC11")
        assert start.custom_parameters == {"caller": "+15550100", "lang": "en"}
        assert start.format == formi.Format("ulaw", 8000, 1)
        for media in events[2:]:
            # 20 ms of 8 kHz mu-law, decoded and resampled to 16 kHz PCM16: 640 bytes.
            assert media.format == formi.Format("pcm16le", 16000, 1) and len(media.audio) == 640
            assert media.stream_id == "MZ11"
        assert [e.chunk for e in events[2:]] == [1, 2, 3]
        # The caller's audio is what a transcoder makes of the same payloads.
        payloads = b"".join(formi.base64_decode(json.loads(line["text"])["media"]["payload"]) for line in lines[2:5])
        with formi.Transcoder(("ulaw", 8000), ("pcm16le", 16000)) as t:
            assert b"".join(e.audio for e in events[2:]) == t.process(payloads)
        if np is not None:
            assert events[2].audio_array().dtype == np.dtype("<i2") and events[2].audio_array().size == 320

        # The rest: dtmf, a mark echo, four bad frames (ERROR events; the call carries on), stop.
        for line in lines[5:]:
            data, binary = frame_of(line)
            call.receive(data, binary=binary)
        rest = list(call.events())
        # The stop is preceded by the resampler's tail (the caller's last 5 ms, 8 -> 16 kHz).
        assert [e.name for e in rest] == ["dtmf", "mark", "error", "error", "error", "error", "media", "stop"]
        assert rest[0].digit == "1" and rest[1].mark == "utt-1"
        assert "invalid base64" in rest[2].error and "text frames only" in rest[5].error
        assert call.next_event() is None and call.next_output() is None

        stats = call.stats()
        assert stats["provider"] == "twilio" and stats["role"] == "agent_server" and stats["state"] == "stopped"
        assert stats["caller_audio_ms"] == 60 and stats["frames_in"] == 3 and stats["dtmf_digits"] == 1
        assert stats["errors"] == 4 and stats["messages_in"] == len(lines)

        # After stop: input is an ERROR event, audio is refused with the session's own message.
        call.receive('{"event":"connected"}')
        assert call.next_event().kind is formi.EventKind.ERROR
        with pytest.raises(formi.StateError) as info:
            call.send_audio(bytes(640))
        assert info.value.status == -9 and info.value.message == call.last_error and info.value.message


def test_agent_audio_marks_and_barge_in(twilio):
    with formi.Session(twilio) as call:
        call.receive('{"event":"start","streamSid":"MZ7","start":{"streamSid":"MZ7","callSid":"CA7",'
                     '"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}')
        assert [e.name for e in call.events()] == ["start"]

        call.send_audio(tone(16000, 100))  # 100 ms of agent audio
        call.send_mark("utt-1")
        messages = list(call.outputs())
        assert all(not m.binary for m in messages)
        media = [m.json() for m in messages if m.json()["event"] == "media"]
        assert len(media) >= 5 and all(m["streamSid"] == "MZ7" for m in media)
        assert all(len(formi.base64_decode(m["media"]["payload"])) == 160 for m in media)  # 20 ms frames
        marks = [m.json()["mark"]["name"] for m in messages if m.json()["event"] == "mark"]
        assert "utt-1" in marks

        playback = call.playback()
        assert isinstance(playback, formi.Playback) and playback.utterance == 1 and playback.sent_ms >= 100

        # Twilio echoes the mark once the audio played: a MARK event with reason "played".
        for name in marks:
            call.receive(json.dumps({"event": "mark", "streamSid": "MZ7", "mark": {"name": name}}))
        played = [e for e in call.events() if e.kind is formi.EventKind.MARK and e.mark == "utt-1"]
        assert len(played) == 1 and played[0].reason == "played"
        assert call.playback().confirmed_ms == call.playback().sent_ms

        # More audio (no flush: the same utterance), interrupted before it was taken: nothing goes out
        # but Twilio's clear, and the report says what was dropped.
        call.send_audio(tone(16000, 200))
        call.send_mark("utt-2")
        heard = call.interrupt()
        assert isinstance(heard, formi.Playback) and heard.interrupted and heard.utterance == 1 and heard.queued_ms == 200
        out = [m.json() for m in call.outputs()]
        assert out == [{"event": "clear", "streamSid": "MZ7"}]
        cleared = [e for e in call.events() if e.kind is formi.EventKind.MARK]
        assert [(e.mark, e.reason) for e in cleared] == [("utt-2", "cleared")]
        stats = call.stats()
        assert stats["interruptions"] == 1 and stats["interrupted_audio_ms"] >= 200

        call.set_time(1000)
        call.set_time(1020)
        call.end("hangup")
        call.end()  # twice is a no-op
        events = list(call.events())
        assert events and events[-1].kind is formi.EventKind.STOP


def test_interrupt_reports_the_utterance_it_cut(twilio):
    """A barge-in before any of a new utterance was sent cuts that utterance (not the last one, which
    played in full), and the report says how much audio it dropped."""
    with formi.Session(twilio) as call:
        call.receive('{"event":"start","streamSid":"MZ8","start":{"streamSid":"MZ8",'
                     '"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}')
        call.send_audio(tone(16000, 100))
        call.flush()
        list(call.outputs())                 # utterance 1 handed out
        call.send_audio(tone(16000, 200))    # utterance 2 queued, none of it taken yet
        assert call.playback().queued_ms >= 200
        heard = call.interrupt()
        assert heard.utterance == 2 and heard.sent_ms == 0 and heard.interrupted
        assert heard.queued_ms >= 200
        call.send_audio(tone(16000, 100))
        list(call.outputs())
        assert call.playback().utterance == 3


def test_telephony_and_agent_server_talk_to_each_other():
    """A telephony-role session (as a PBX module embeds it) and an agent-server session, over Twilio's
    protocol in memory: caller audio one way, agent audio the other, marks, DTMF, barge-in, hang-up."""
    with formi.Provider("twilio") as twilio:
        phone = formi.Session(twilio, role="telephony", local_format=("pcm16le", 8000), stream_id="MZ42",
                              call_id="CA42", custom_parameters={"agent_id": "7"})
        agent = formi.Session(twilio, role=formi.Role.AGENT_SERVER)
    # The provider is closed: the sessions keep what they need.
    with phone, agent:
        assert pump(phone, agent) == 2
        events = list(agent.events())
        assert [e.name for e in events] == ["connected", "start"]
        assert (events[1].stream_id, events[1].call_id) == ("MZ42", "CA42")
        assert events[1].custom_parameters == {"agent_id": "7"}

        # One second of caller audio at 8 kHz arrives as 16 kHz PCM.
        phone.send_audio(tone(8000, 1000))
        assert pump(phone, agent) == 50
        heard = sum(len(e.audio) for e in agent.events() if e.kind is formi.EventKind.MEDIA)
        assert heard == 32000

        # Half a second of agent audio and a mark; the phone plays it at its 20 ms clock.
        agent.send_audio(tone(16000, 500))
        agent.flush()
        agent.send_mark("greeting")
        utterance_ms = agent.playback().queued_ms
        assert 500 <= utterance_ms <= 520
        pump(agent, phone)
        played = 0
        while True:
            chunk = phone.read_audio(320)
            assert isinstance(chunk, formi.AudioChunk) and len(chunk.data) == 320
            played += chunk.real
            if chunk.real == 0:
                break
        assert played == utterance_ms * 16
        pump(phone, agent)
        marks = [e for e in agent.events() if e.kind is formi.EventKind.MARK]
        assert [(e.mark, e.reason) for e in marks] == [("greeting", "played")]

        # DTMF from the caller.
        phone.send_dtmf("5")
        phone.send_dtmf(7, duration_ms=80)
        pump(phone, agent)
        assert [e.digit for e in agent.events() if e.kind is formi.EventKind.DTMF] == ["5", "7"]

        # Barge-in: the phone gets a clear, reported as a CLEAR event on its side.
        agent.send_audio(tone(16000, 300))
        agent.interrupt()
        pump(agent, phone)
        assert formi.EventKind.CLEAR in [e.kind for e in phone.events()]

        phone.end("hangup")
        pump(phone, agent)
        assert [e.kind for e in agent.events()][-1] is formi.EventKind.STOP
        stats = agent.stats()
        assert stats["state"] == "stopped" and stats["caller_audio_ms"] == 1000 and stats["marks_played"] == 1
        assert phone.stats()["role"] == "telephony"


def test_audiosocket_binary_stream():
    call_id = str(uuid.uuid4())
    with formi.Session("audiosocket", role="telephony", local_format=("pcm16le", 8000), call_id=call_id) as phone, \
            formi.Session("audiosocket") as agent:
        phone.send_audio(tone(8000, 100))
        phone.send_dtmf("#")
        phone.end()
        stream = b""
        for message in phone.outputs():
            assert message.binary
            stream += message.data
        # A TCP byte stream: fed in odd-sized pieces, bytearray and memoryview alike.
        for i in range(0, len(stream), 77):
            piece = stream[i:i + 77]
            agent.receive(bytearray(piece) if i % 2 else memoryview(piece), binary=True)
        events = list(agent.events())
        assert events[0].kind is formi.EventKind.START and events[0].call_id == call_id
        # 100 ms at 16 kHz, then the resampler\'s tail at the end of the call: its own FIR's 47 frames
        # (2.9 ms; speexdsp quality 5 had 80, 5 ms).
        assert sum(len(e.audio) for e in events if e.kind is formi.EventKind.MEDIA) == 3200 + 2 * 47
        assert [e.digit for e in events if e.kind is formi.EventKind.DTMF] == ["#"]
        assert events[-1].kind is formi.EventKind.STOP


def test_telnyx_media_is_put_back_in_order():
    with formi.Session("telnyx", reorder_window=4) as call:
        call.receive('{"event":"start","sequence_number":"1","stream_id":"32DE","start":{"call_control_id":"v3:cc",'
                     '"media_format":{"encoding":"PCMU","sample_rate":8000,"channels":1}}}')
        list(call.events())
        for chunk in (1, 3, 2, 4):
            payload = formi.base64_encode(bytes([chunk * 16]) * 160)
            call.receive(json.dumps({"event": "media", "sequence_number": str(chunk + 1), "stream_id": "32DE",
                                     "media": {"track": "inbound", "chunk": str(chunk), "timestamp": str(chunk * 20),
                                               "payload": payload}}))
        media = [e for e in call.events() if e.kind is formi.EventKind.MEDIA]
        assert [e.chunk for e in media] == [1, 2, 3, 4]
        assert call.stats()["reordered_frames"] == 1


# ---- options ---------------------------------------------------------------------------------------

def test_defaults_and_options():
    defaults = formi.Session.defaults("agent_server")
    assert defaults["local_format"] == formi.Format("pcm16le", 16000, 1) and defaults["call_format"] is None
    assert defaults["max_queued_ms"] == 60000 and defaults["max_message_bytes"] == 262144
    assert defaults["reorder_window"] == 4 and defaults["early_media_frames"] == 50
    assert defaults["mark_interval_ms"] == 200 and defaults["output_lead_ms"] == -1 and defaults["resampler_quality"] == -1
    assert set(defaults) == set(formi.SESSION_OPTIONS)
    with formi.Session("twilio", role="telephony", local_format=formi.Format("pcm16le", 16000), call_format=("ulaw", 8000),
                       max_queued_ms=1000, max_message_bytes=4096, reorder_window=0, early_media_frames=0,
                       mark_interval_ms=0, output_lead_ms=0, resampler_quality=0, stream_id="S", call_id="C",
                       account_id="A", from_="+1", to="+2", direction="outbound", custom_parameters='{"k":"v"}') as s:
        start = [m.json() for m in s.outputs()][1]
        assert start["start"]["customParameters"] == {"k": "v"} and start["streamSid"] == "S"
    with formi.Session("twilio", role="telephony", **{"from": "+1"}) as s:
        assert len(list(s.outputs())) == 2


@pytest.mark.parametrize("options,error,fragment", [
    ({"reorder_window": 1000}, formi.InvalidArgument, ""),
    ({"reorder_window": -1}, formi.InvalidArgument, "reorder_window"),      # ctypes would wrap it to 2**32 - 1
    ({"max_queued_ms": 2 ** 32}, formi.InvalidArgument, "max_queued_ms"),
    ({"max_message_bytes": 1}, formi.InvalidArgument, ""),
    ({"resampler_quality": 11}, formi.InvalidArgument, ""),
    ({"local_format": ("pcm16le", 7000)}, formi.Unsupported, ""),
    ({"local_format": ("pcm16le", 16000, 3)}, formi.Unsupported, ""),
    ({"custom_parameters": "[1,2]"}, formi.InvalidArgument, "custom_parameters"),
    ({"custom_parameters": "{"}, formi.InvalidArgument, "custom_parameters"),
    ({"stream_id": "a\0b"}, formi.InvalidArgument, "NUL"),
    ({"colour": "blue"}, TypeError, "colour"),
    ({"max_queued_ms": "10"}, TypeError, "max_queued_ms"),
    ({"max_queued_ms": 1.5}, TypeError, "max_queued_ms"),
    ({"stream_id": 42}, TypeError, "stream_id"),
    ({"local_format": "pcm16le"}, TypeError, ""),
    ({"from": "+1", "from_": "+2"}, TypeError, "from"),
])
def test_bad_options(options, error, fragment):
    with pytest.raises(error) as info:
        formi.Session("twilio", role="telephony", **options)
    assert fragment in str(info.value)


def test_bad_roles_and_providers():
    with pytest.raises(ValueError):
        formi.Session("twilio", role="observer")
    with pytest.raises(ValueError):
        formi.Session("twilio", role=3)
    with pytest.raises(TypeError):
        formi.Session("twilio", role=None)
    with pytest.raises(formi.NotFound):
        formi.Session("skype")
    with pytest.raises(TypeError):
        formi.Session(None)
    with pytest.raises(formi.InvalidArgument):
        formi.Session("audiosocket", role="telephony", call_id="not-a-uuid")
    closed = formi.Provider("twilio")
    closed.close()
    with pytest.raises(formi.ClosedError):
        formi.Session(closed)


# ---- bad input -------------------------------------------------------------------------------------

def test_agent_server_bad_calls(twilio):
    with formi.Session(twilio) as call:
        with pytest.raises(formi.StateError) as info:
            call.send_audio(b"\0\0")  # no start yet
        assert "no start" in info.value.message
        with pytest.raises(formi.StateError):
            call.interrupt()
        with pytest.raises(formi.StateError):
            call.flush()
        with pytest.raises(formi.Unsupported):
            call.send_dtmf("5")
        with pytest.raises(formi.Unsupported):
            call.read_audio(0)
        for bad in ("", "formi-x", "x" * 300):
            with pytest.raises((formi.InvalidArgument, formi.StateError)):
                call.send_mark(bad)
        with pytest.raises(formi.InvalidArgument):
            call.send_mark("a\0b")
        with pytest.raises(TypeError):
            call.send_mark(None)
        for bad in (None, 5, 2.5, ["x"]):
            with pytest.raises(TypeError):
                call.receive(bad)
            with pytest.raises(TypeError):
                call.send_audio(bad)
        # Hostile frames are ERROR events, never exceptions.
        for frame in ("{", "[]", '{"event":"media","media":{"payload":"@@@@"}}', '{"event":"warp"}', b"\xff\xfe", ""):
            call.receive(frame)
            event = call.next_event()
            assert event.kind is formi.EventKind.ERROR and event.error
        call.receive(b"\x01\x02", binary=True)
        assert call.next_event().kind is formi.EventKind.ERROR
        call.receive("x" * 300_000)  # past max_message_bytes
        assert call.next_event().kind is formi.EventKind.ERROR
        with pytest.raises(formi.InvalidArgument):
            call.set_time(2 ** 63)
        with pytest.raises(TypeError):
            call.set_time("now")


def test_telephony_bad_calls():
    with formi.Session("twilio", role="telephony", local_format=("pcm16le", 8000)) as phone:
        with pytest.raises(formi.LengthError):
            phone.send_audio(b"\0\0\0")  # odd bytes of 16-bit audio
        for digit in ("x", "12", "", "é"):
            with pytest.raises(formi.InvalidArgument):
                phone.send_dtmf(digit)
        with pytest.raises(TypeError):
            phone.send_dtmf(None)
        with pytest.raises(formi.Unsupported):
            phone.interrupt()
        with pytest.raises(formi.Unsupported):
            phone.flush()
        with pytest.raises(formi.Unsupported):
            phone.send_mark("m")
        chunk = phone.read_audio(5)  # padded, a partial sample too
        assert chunk == (b"\0" * 5, 0)
        with pytest.raises(formi.InvalidArgument):
            phone.read_audio(-1)
        buffer = bytearray(b"\x55" * 320)
        assert phone.read_audio_into(buffer) == 0 and buffer == bytearray(320)
        with pytest.raises(TypeError):
            phone.read_audio_into(b"read-only")
        if np is not None:
            samples = np.full(160, 7, dtype=np.int16)
            assert phone.read_audio_into(samples) == 0 and not samples.any()
            with pytest.raises(TypeError):
                phone.read_audio_into(np.zeros(320, dtype=np.int16)[::2])


def test_event_queue_limit(twilio):
    with formi.Session(twilio) as call:
        with pytest.raises(formi.LimitExceeded):
            for _ in range(1100):
                call.receive("{")  # each an ERROR event, none taken
        assert len(list(call.events())) == 1024
        call.receive("{")  # room again
        assert call.next_event().kind is formi.EventKind.ERROR


@pytest.mark.skipif(np is None, reason="numpy is not installed")
def test_numpy_audio_in(twilio):
    signal = tone(16000, 200)
    sent = []
    for audio in (signal, np.frombuffer(signal, dtype=np.int16)):
        with formi.Session(twilio) as call:
            call.receive('{"event":"start","streamSid":"M","start":{"streamSid":"M",'
                         '"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000}}}')
            call.send_audio(audio)
            call.flush()
            sent.append([m.data for m in call.outputs()])
    # 200 ms in 20 ms frames, plus the resampler's 5 ms tail padded to a frame; numpy and bytes alike.
    assert sent[0] == sent[1] and len([m for m in sent[0] if b'"media"' in m]) == 11


def test_receive_takes_the_frame_kind_from_the_type():
    """bytes-like in is a binary frame, str a text frame, as a WebSocket library hands them over (binary
    audio passed as bytes used to become "malformed JSON"); binary= still decides when given."""
    with formi.Session("vonage", local_format=("pcm16le", 16000)) as call:
        call.receive('{"event":"websocket:connected","content-type":"audio/l16;rate=16000"}')
        call.receive(bytes(640))
        call.receive(memoryview(bytearray(640)))
        call.receive(b'{"event":"websocket:dtmf","digit":"5","duration":100}', binary=False)
        assert [e.kind for e in call.events()] == [formi.EventKind.START, formi.EventKind.MEDIA,
                                                   formi.EventKind.MEDIA, formi.EventKind.DTMF]
    assert str(formi.EventKind.MEDIA) == "MEDIA" and f"{formi.EventKind.STOP}" == "STOP"


def test_receive_audio_gives_the_audio_and_keeps_the_other_events():
    """receive_audio() returns exactly the audio receive() + events() would give, and every other event
    (start before it, DTMF among the frames) still comes from events(), in order."""
    with formi.Provider("twilio") as twilio:
        phone = formi.Session(twilio, role="telephony", local_format=("pcm16le", 8000), stream_id="MZ7")
        fast = formi.Session(twilio, local_format=("pcm16le", 16000))
        plain = formi.Session(twilio, local_format=("pcm16le", 16000))
    with phone, fast, plain:
        phone.send_audio(tone(8000, 200))
        phone.send_dtmf("3")
        phone.send_audio(tone(8000, 100))
        heard_fast, heard_plain = b"", b""
        for message in phone.outputs():
            data = message.data if message.binary else message.text
            heard_fast += fast.receive_audio(data)
            plain.receive(data)
            heard_plain += b"".join(e.audio for e in plain.events() if e.kind is formi.EventKind.MEDIA)
        assert heard_fast and heard_fast == heard_plain
        assert [e.name for e in fast.events()] == ["connected", "start", "dtmf"]
        assert fast.next_event() is None
        # Nothing waits in the library either: a later receive() gives only its own events (the
        # resampler's tail, then the stop).
        fast.receive('{"event":"stop","streamSid":"MZ7","stop":{}}')
        assert [e.name for e in fast.events()] == ["media", "stop"]
