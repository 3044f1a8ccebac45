"""An echo agent for telephony media streams, on libformi: one server for every built-in provider.

Point a provider's media stream (or the simulator, `python -m formi.sim`) at

    ws://HOST:PORT/ws-adapter/{provider}/{call_type}/{agent_id}/{outlet_id}/{virtual_number}

and whatever the caller says comes back once they pause: each turn is recorded (a simple energy VAD),
then played back as one utterance, and the echo stops as soon as the caller talks over it (barge-in).
DTMF digits and marks are printed. One formi.Session per connection does all the protocol work:
parsing each provider's messages, decoding and resampling caller audio to 16 kHz PCM, encoding and
framing the reply, marks, and the provider's own "clear" on barge-in.

With --audiosocket-port it also answers Asterisk's AudioSocket, which is raw TCP, not a WebSocket
(formi.audiosocket: one session per connection, the echo paced at 20 ms as Asterisk plays it):
`AudioSocket(${UUID()},HOST:PORT)` in a dialplan, or `python -m formi.sim tcp://HOST:PORT`.

    pip install 'formi[sim]'                             # formi and websockets (or the wheel, and websockets)
    python -m formi.echo --port 8080 --audiosocket-port 9092
    python -m formi.sim ws://127.0.0.1:8080/ws-adapter/twilio/inbound/agent-1/outlet-1/+15550100 \
        --wav hello.wav --barge-in 3
    python -m formi.sim tcp://127.0.0.1:9092 --wav hello.wav

(On the WebSocket path, /ws-adapter/audiosocket/... carries AudioSocket's byte stream in binary frames.)
"""
from __future__ import annotations

import argparse
import array
import asyncio
import itertools
import math
import signal
import sys
from urllib.parse import unquote

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

import formi
import formi.audiosocket

VOICE_DBFS = -35.0    # a frame louder than this is speech (an energy VAD: fine for a demo, not for noise)
END_OF_TURN_MS = 400  # this much silence after speech ends the caller's turn: echo it
MIN_TURN_MS = 100     # turns with less speech than this (a click, a cough) are not echoed
MAX_TURN_MS = 5000    # a monologue is echoed in pieces of this length
BARGE_IN_MS = 60      # speech this long while the echo plays interrupts the echo
TICK_S = 0.02         # the session's clock ticks at least this often (pacing, marks kept by the clock)
PATH = "/ws-adapter/{provider}/{call_type}/{agent_id}/{outlet_id}/{virtual_number}"
calls = itertools.count(1)


def level_dbfs(pcm: bytes) -> float:
    """The RMS level of 16-bit PCM (host byte order) in dB below full scale; -100 for silence."""
    samples = array.array("h", pcm)
    power = sum(s * s for s in samples) / len(samples) if samples else 0
    return 10 * math.log10(power / 32768 ** 2) if power else -100.0


def close_reason(text: str) -> str:
    """A WebSocket close reason is at most 123 bytes of UTF-8."""
    return text.encode("utf-8")[:123].decode("utf-8", "ignore")


def now_ms() -> int:
    """The sessions' clock: the event loop's monotonic time in ms."""
    return int(asyncio.get_running_loop().time() * 1000)


class EchoCall:
    """One call: its session, the caller's turn being recorded, and the echoes being played. It does no
    I/O: the WebSocket handler (run_websocket) or formi.audiosocket moves the session's bytes."""

    def __init__(self, session: formi.Session, tag: str) -> None:
        self.session, self.tag = session, tag
        self.bytes_per_ms = session.local_format.bytes_for(1000) // 1000  # 32: PCM16 at 16 kHz
        self.turn = bytearray()  # the caller's current turn, from its first speech
        self.speech_ms = 0       # speech in the turn
        self.silence_ms = 0      # silence since the caller last spoke
        self.talking_ms = 0      # uninterrupted speech just now, for barge-in
        self.playing = set()     # marks of echoes the caller has not heard to the end yet
        self.echoes = 0

    def log(self, text: str) -> None:
        print(f"[{self.tag}] {text}", flush=True)

    def log_end(self, reason: str, stats: dict) -> None:
        """The call's figures, from the session's stats (its clock gives the call's duration)."""
        duration = "?" if stats["duration_ms"] is None else f"{stats['duration_ms'] / 1000:.2f}"
        self.log(f"ended ({reason}) after {duration} s: caller {stats['caller_audio_ms'] / 1000:.2f} s, echo "
                 f"{stats['agent_audio_ms'] / 1000:.2f} s, {stats['interruptions']} barge-in(s), "
                 f"{stats['dtmf_digits']} DTMF, {stats['marks_played']} marks played, {stats['errors']} bad messages")

    def on_event(self, event: formi.Event) -> None:
        kind = event.kind
        if kind is formi.EventKind.MEDIA:  # caller audio, already 16 kHz PCM16 whatever the provider sent
            self.on_audio(event.audio)
        elif kind is formi.EventKind.CONNECTED:
            self.log("connected")
        elif kind is formi.EventKind.START:
            f, fields = event.format, ("stream_id", "call_id", "from_", "to", "custom_parameters")
            said = [f"{name.rstrip('_')} {getattr(event, name)}" for name in fields if getattr(event, name)]
            if f:  # the call's audio: from the start message, or the provider's default
                said.insert(0, f"{f.encoding.name.lower()} {f.sample_rate} Hz")
            self.log("start: " + ", ".join(said))
        elif kind is formi.EventKind.DTMF:
            self.log(f"DTMF {event.digit}")
        elif kind is formi.EventKind.MARK:  # one of our marks: "played" (heard to the end) or "cleared"
            self.playing.discard(event.mark)
            self.log(f"mark {event.mark} {event.reason}")
        elif kind is formi.EventKind.CLEAR:
            self.log("the provider confirmed the clear")
        elif kind is formi.EventKind.STOP:
            self.log("stop" + (f": {event.reason}" if event.reason else ""))
        elif kind is formi.EventKind.ERROR:  # a bad message: reported, and the call carries on
            self.log(f"bad message: {event.error}")

    def on_audio(self, pcm: bytes) -> None:
        ms = len(pcm) // self.bytes_per_ms
        speech = level_dbfs(pcm) > VOICE_DBFS
        self.talking_ms = self.talking_ms + ms if speech else 0
        if self.playing and self.talking_ms >= BARGE_IN_MS:
            self.barge_in()
        if speech or self.turn:  # a turn starts with speech and lasts until the caller pauses
            self.turn += pcm
            self.speech_ms += ms if speech else 0
            self.silence_ms = 0 if speech else self.silence_ms + ms
            if self.silence_ms >= END_OF_TURN_MS or len(self.turn) >= MAX_TURN_MS * self.bytes_per_ms:
                self.end_turn()

    def end_turn(self) -> None:
        """Plays the caller's turn back (without the pause that ended it) as one utterance."""
        said = bytes(self.turn[:len(self.turn) - self.silence_ms * self.bytes_per_ms])
        if self.speech_ms >= MIN_TURN_MS:
            self.echoes += 1
            name = f"echo-{self.echoes}"
            self.session.send_audio(said)  # converted to the call's codec and framed at once
            self.session.flush()           # the end of the utterance: its last frame goes out padded
            self.session.send_mark(name)   # comes back as a MARK event once the caller heard it all
            self.playing.add(name)
            self.log(f"echo {self.echoes}: {len(said) / self.bytes_per_ms / 1000:.2f} s")
        self.turn.clear()
        self.speech_ms = self.silence_ms = 0

    def barge_in(self) -> None:
        """The caller talks over the echo: drop what is not sent, and have the provider drop what it has."""
        heard = self.session.interrupt()  # queues the provider's clear; our marks come back "cleared"
        self.log(f"barge-in: the caller heard about {heard.estimated_ms} ms of utterance {heard.utterance} "
                 f"({heard.sent_ms} ms sent, {heard.confirmed_ms} ms confirmed by marks)")
        self.playing.clear()


async def run_websocket(ws: ServerConnection, call: EchoCall) -> None:
    """Until the call stops: take what arrives, react, send what the session has to send."""
    while True:
        try:
            data = await asyncio.wait_for(ws.recv(), TICK_S)
        except asyncio.TimeoutError:
            data = None  # nothing arrived: still a tick of the clock
        stopped = False
        if data is not None:
            # The clock first: the session stamps what it receives (the call's start, its duration).
            call.session.set_time(now_ms())
            # Text frames arrive as str, binary frames (Vonage, jambonz, Asterisk media) as bytes.
            call.session.receive(data, binary=isinstance(data, bytes))
            for event in call.session.events():
                call.on_event(event)
                stopped = stopped or event.kind is formi.EventKind.STOP
        await send_outputs(ws, call.session)
        if stopped:
            return


async def send_outputs(ws: ServerConnection, session: formi.Session) -> None:
    """Sends, in order, every message due now: the echo's media frames, marks, the clear."""
    session.set_time(now_ms())
    for message in session.outputs():
        await ws.send(message.data if message.binary else message.text)


async def handle(ws: ServerConnection) -> None:
    """One connection: check the path, speak its provider's protocol, echo until the call ends."""
    parts = [unquote(p) for p in ws.request.path.split("?")[0].strip("/").split("/")]
    if len(parts) != 6 or parts[0] != "ws-adapter" or not all(parts):
        await ws.close(1008, close_reason(f"expected {PATH}"))
        return
    provider, call_type, agent_id, outlet_id, number = parts[1:]
    try:
        session = formi.Session(provider, role="agent_server")  # 16 kHz PCM16 towards us
    except formi.NotFound:
        known = ",".join(formi.BUILTIN_PROVIDERS)
        await ws.close(1008, close_reason(f"unknown provider {provider[:16]!r}; known: {known}"))
        return

    call = EchoCall(session, f"call {next(calls)} {provider}")
    call.log(f"{call_type} call for agent {agent_id}, outlet {outlet_id}, number {number}")
    try:
        await run_websocket(ws, call)
        reason = "stop"
    except ConnectionClosed:
        reason = "the socket closed"  # e.g. Vonage, jambonz, Asterisk, Plivo: no stop message, just a close
    try:
        # The end: a STOP event if the provider sent none, and its hang-up message where it has one.
        session.set_time(now_ms())
        session.end(reason)
        for event in session.events():
            call.on_event(event)
        await send_outputs(ws, session)
    except ConnectionClosed:
        pass
    finally:
        stats = session.stats()
        session.close()
    call.log_end(reason, stats)


async def handle_audiosocket(connection: formi.audiosocket.Call) -> None:
    """One AudioSocket connection from Asterisk (raw TCP): formi.audiosocket reads the socket into the
    session and writes the echo out at 20 ms a frame; the call ends when the caller hangs up."""
    call = EchoCall(connection.session, f"call {next(calls)} audiosocket")
    call.log(f"AudioSocket call from {connection.peer[0]}:{connection.peer[1]}")
    reason = "the socket closed"
    async for event in connection.events():
        call.on_event(event)
        if event.kind is formi.EventKind.STOP:
            reason = "stop"
    call.log_end(reason, connection.stats())


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    parser.add_argument("--audiosocket-port", type=int, metavar="PORT",
                        help="also take Asterisk AudioSocket calls (raw TCP) on this port (0 picks a free one)")
    args = parser.parse_args()

    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C or kill: close the calls, then exit
        try:
            asyncio.get_running_loop().add_signal_handler(signum, lambda: stop.done() or stop.set_result(None))
        except NotImplementedError:  # Windows
            pass
    # compression=None: audio does not compress, and telephony providers do not ask for it.
    async with serve(handle, args.host, args.port, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"echo server on ws://{args.host}:{port}{PATH} (libformi {formi.version()})", flush=True)
        audiosocket = None
        if args.audiosocket_port is not None:
            audiosocket = await formi.audiosocket.serve(handle_audiosocket, args.host, args.audiosocket_port)
            print(f"AudioSocket echo on tcp://{args.host}:{audiosocket.port}", flush=True)
        await stop
        print("shutting down: closing the calls", flush=True)
        if audiosocket is not None:  # its calls are hung up (AudioSocket's hang-up frame)
            audiosocket.close()
            await audiosocket.wait_closed()
    # Leaving `async with` closed every connection (1001 going away) and waited for the handlers.


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(130)
