"""A call simulator: plays a WAV file as a caller to an agent server, in any built-in provider's protocol.

    python -m formi.sim ws://127.0.0.1:8080/ws-adapter/twilio/inbound/agent-1/outlet-1/+15550100 --wav caller.wav
    python -m formi.sim tcp://127.0.0.1:9092 --wav caller.wav          # Asterisk AudioSocket, over raw TCP

Each call is one WebSocket (for AudioSocket, a `tcp://` URL: one TCP connection, as Asterisk makes it)
and one telephony-role `formi.Session`, which speaks as the provider (Twilio,
Exotel, Plivo, Telnyx, Vonage, jambonz, Asterisk, AudioSocket): the provider's connected and start, the
caller's audio as media messages at the call's 20 ms clock (or faster, `--speed`), DTMF, mark echoes
and the stop. The agent's audio is played out at the same clock, as a phone would, and what was heard
is reported. `--calls N` runs N calls at once and reports latency percentiles over all of them.

From Python: `asyncio.run(formi.sim.simulate(url, "caller.wav", speed=10, calls=5))` returns a
`SimReport`. WebSocket calls need the `websockets` package (13 or later): `pip install 'formi[sim]'`.
"""
from __future__ import annotations

import argparse
import array
import asyncio
import collections
import json
import math
import os
import sys
import uuid
import wave
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type
from urllib.parse import unquote, urlsplit

from . import audio as _audio
from ._types import EventKind
from .errors import FormiError
from .provider import BUILTIN_PROVIDERS
from .session import Session

__all__ = ["simulate", "main", "CallReport", "SimReport", "SimError", "load_wav", "percentile"]

FRAME_MS = 20          # the call's clock: one caller frame sent and one agent frame played per tick
VOICE_DBFS = -35.0     # 20 ms louder than this is speech (for matching echoes and telling utterances apart)
FLOOR_DBFS = -60.0     # levels are compared above this floor
DTMF_GAP_MS = 200      # the keys of one --dtmf are pressed this far apart
GAP_MS = 200           # a shorter hole in the agent's speech is lost frames; a longer one, a new utterance
MATCH_FRAMES = 50      # an echo is matched on its first second...
SEARCH_FRAMES = 1500   # ...against the last 30 s of caller audio...
MATCH_DB = 6.0         # ...and accepted when its loudness contour is within 6 dB on average
MAX_LAG_S = 0.01       # a sender this late (wall clock) does not rush to catch up: its clock slips
MAX_TAIL_MS = 60000    # after the WAV, the call lasts at most this much longer, however long the agent talks
RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)

EPILOG = """\
what is measured:
  heard           seconds of agent audio the caller's playout played (real audio, not the silence
                  between utterances); "received" is what arrived, cleared audio included.
  echo latency    per 20 ms frame of agent audio: wall-clock time from sending the caller audio it
                  echoes to receiving it. Which caller audio an agent utterance echoes is found by
                  matching its loudness contour (20 ms RMS levels) against what the caller sent, to a
                  frame; utterances that match nothing (not an echo) are counted as unmatched and not
                  timed. It includes the server's own waiting (for examples/echo_server.py: the rest
                  of the turn and the pause that ends it, divided by --speed), so compare runs at one
                  speed; p99 - p50 shows the server's load. Percentiles are nearest-rank.
  lost frames     playout ticks (20 ms) with no agent audio in the middle of the agent's speech: holes
                  of at most 200 ms of call time that no clear explains, i.e. dropouts the caller
                  hears because the audio came later than the jitter buffer allows for (the phone
                  starts an utterance once --jitter-buffer of it waits). The session's own late,
                  lost and overflow counters are added. At high --speed the buffer is short in wall
                  time, and the simulator's own work counts too.
  barge-in        at the time given, once agent audio is playing, the caller starts talking: loud
                  voice-like audio (-14 dBFS, 140 Hz harmonics, 4 syllables a second) is inserted in
                  the caller's stream (the WAV resumes after it). clear_ms is the wall-clock time from
                  its first frame to the provider's clear; talked_over_ms the agent audio the caller
                  still heard meanwhile (call time).
  clock           each call's clock ticks every 20 ms / --speed of wall time; a host too busy to keep
                  up makes it slip (reported as slipped_ms) rather than rush through the missed ticks.

examples:
  python -m formi.sim ws://127.0.0.1:8080/ws-adapter/twilio/inbound/a1/o1/+15550100 --wav hi.wav
  python -m formi.sim tcp://127.0.0.1:9092 --wav hi.wav     (AudioSocket over TCP, as Asterisk calls)
  python -m formi.sim URL --wav hi.wav --dtmf 1@2.5 --dtmf '#@4' --barge-in 3 --save heard.wav
  python -m formi.sim URL --wav hi.wav --speed 10 --calls 50 --json > report.json

exit status: 0 when every call connected and ended normally, 1 when one did not, 2 for bad arguments.
"""


class SimError(Exception):
    """A simulation that cannot start: a bad WAV file, a missing websockets package, a bad URL."""


def percentile(values: Sequence[float], p: float) -> Optional[float]:
    """The nearest-rank p-th percentile (0 < p <= 100) of `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def level_dbfs(pcm: bytes) -> float:
    """The RMS level of 16-bit PCM (host byte order) in dB below full scale; -100 for silence."""
    samples = array.array("h", bytes(pcm[:len(pcm) // 2 * 2]))
    power = sum(s * s for s in samples) / len(samples) if samples else 0
    return 10 * math.log10(power / 32768 ** 2) if power else -100.0


def load_wav(path: str) -> Tuple[bytes, int]:
    """(mono 16-bit PCM, sample rate) of a 16-bit PCM WAV file (stereo is mixed down). SimError else."""
    try:
        with wave.open(path, "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            pcm = w.readframes(w.getnframes())
    except (OSError, EOFError, wave.Error) as error:
        raise SimError(f"cannot read {path}: {error}") from None
    if width != 2:
        raise SimError(f"{path}: {8 * width}-bit samples; the simulator plays 16-bit PCM WAV files")
    if rate not in RATES:
        raise SimError(f"{path}: {rate} Hz; the rates supported are " + ", ".join(map(str, RATES)))
    if sys.byteorder == "big":  # WAV is little-endian; the levels are computed in host order
        samples = array.array("h", pcm)
        samples.byteswap()
        pcm = samples.tobytes()
    if channels == 2:
        pcm = _audio.stereo_to_mono(pcm)
    elif channels != 1:
        raise SimError(f"{path}: {channels} channels; the simulator plays mono or stereo")
    return pcm, rate


def speech_like(rate: int, seconds: float) -> bytes:
    """Loud voice-like audio for barge-in: 140 Hz and 7 harmonics (a vowel), 4 syllables a second."""
    out = array.array("h")
    for i in range(int(rate * seconds)):
        t = i / rate
        voice = sum(math.sin(2 * math.pi * 140 * k * t) / k for k in range(1, 9)) / 2.2
        out.append(int(32767 * 0.7 * (0.7 + 0.3 * math.sin(2 * math.pi * 4 * t)) * voice))
    return out.tobytes()


@dataclass
class CallReport:
    """What one simulated call did and heard. Times "at" are call time in seconds from the start."""

    call: int
    url: str
    provider: str
    connected: bool = False
    error: Optional[str] = None              #: why the call failed: could not connect, closed by the server...
    connect_ms: Optional[float] = None       #: the WebSocket handshake, wall clock
    closed_by: Optional[str] = None          #: "simulator" (it hung up) or "server"
    close_code: Optional[int] = None         #: the WebSocket close code (None over TCP)
    close_reason: Optional[str] = None
    duration_s: float = 0.0                  #: call time
    wall_s: float = 0.0                      #: wall-clock time (duration_s / speed, plus slips)
    slipped_ms: float = 0.0                  #: wall-clock time the call's clock fell behind (a busy host)
    sent_s: float = 0.0                      #: caller audio sent: the WAV and barge-in speech (not silence)
    heard_s: float = 0.0                     #: agent audio played
    received_s: float = 0.0                  #: agent audio received (cleared audio included)
    utterances: int = 0                      #: runs of agent audio heard
    dtmf: List[Dict[str, Any]] = field(default_factory=list)       #: [{"at", "digit"}] sent
    events: List[Dict[str, Any]] = field(default_factory=list)     #: [{"at", "event", "detail"}] from the agent
    barge_ins: List[Dict[str, Any]] = field(default_factory=list)  #: see EPILOG
    latencies_ms: List[float] = field(default_factory=list)        #: echo latency of every matched agent frame
    unmatched_frames: int = 0                #: agent frames not matched to caller audio (not timed)
    lost_frames: int = 0                     #: see EPILOG
    stats: Dict[str, Any] = field(default_factory=dict)            #: the telephony session's counters
    #: The provider's rules the agent server broke (the strict telephony session's ERROR events), by
    #: message, with how often: what the real provider would have refused or garbled.
    rules_broken: Dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Connected, and ended by the simulator or normally by the server."""
        return self.connected and self.error is None

    def latency(self) -> Dict[str, Any]:
        """{"frames", "p50", "p90", "p99", "max"} of latencies_ms (None where there are none)."""
        return _latency(self.latencies_ms)

    def to_dict(self) -> Dict[str, Any]:
        """The report as JSON-ready data (the latencies summarised, not listed)."""
        data = asdict(self)
        del data["latencies_ms"]
        data["latency_ms"] = self.latency()
        data["ok"] = self.ok
        return data


def _latency(values: Sequence[float]) -> Dict[str, Any]:
    result: Dict[str, Any] = {"frames": len(values)}
    for p in (50, 90, 99):
        v = percentile(values, p)
        result[f"p{p}"] = None if v is None else round(v, 1)
    result["max"] = round(max(values), 1) if values else None
    return result


@dataclass
class SimReport:
    """Every call's report, and their summary."""

    calls: List[CallReport]

    @property
    def ok(self) -> bool:
        """Every call connected and ended normally."""
        return all(call.ok for call in self.calls)

    def summary(self) -> Dict[str, Any]:
        """Totals over the calls: connected, failed, heard, echo latency percentiles, lost frames, barge-ins."""
        calls = self.calls
        heard = [c.heard_s for c in calls if c.connected]
        barge = [b for c in calls for b in c.barge_ins if b["triggered"]]
        clears = [b["clear_ms"] for b in barge if b["clear_ms"] is not None]
        return {
            "calls": len(calls), "connected": sum(c.connected for c in calls),
            "failed": sum(not c.ok for c in calls),
            "heard_s": {"mean": round(sum(heard) / len(heard), 3) if heard else None,
                        "min": min(heard, default=None), "max": max(heard, default=None)},
            "latency_ms": _latency([v for c in calls for v in c.latencies_ms]),
            "unmatched_frames": sum(c.unmatched_frames for c in calls),
            "lost_frames": sum(c.lost_frames for c in calls),
            "rules_broken": sum(sum(c.rules_broken.values()) for c in calls),
            "barge_ins": {"triggered": len(barge), "cleared": len(clears), "clear_ms": _latency(clears)},
        }

    def to_dict(self) -> Dict[str, Any]:
        """The report as JSON-ready data."""
        return {"summary": self.summary(), "calls": [c.to_dict() for c in self.calls]}


def _websockets() -> Any:
    """The websockets client, imported on first use (an optional dependency)."""
    try:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed, WebSocketException
    except ImportError:
        raise SimError("formi.sim needs the websockets package, version 13 or later: "
                       "pip install 'formi[sim]' (or: pip install websockets)") from None
    return connect, ConnectionClosed, WebSocketException


def provider_of(url: str) -> Optional[str]:
    """The provider named by a /ws-adapter/{provider}/... URL ("audiosocket" for tcp://), or None."""
    if urlsplit(url).scheme == "tcp":
        return "audiosocket"
    parts = [unquote(p) for p in urlsplit(url).path.strip("/").split("/")]
    return parts[1] if len(parts) >= 2 and parts[0] == "ws-adapter" and parts[1] else None


class _TcpClosed(ConnectionError):
    """The TCP connection of an AudioSocket call is closed."""


class _TcpConnection:
    """A raw TCP connection (AudioSocket) with the part of a websockets client connection the simulator
    uses: send, async iteration over what arrives, close, close_code and close_reason."""

    close_code: Optional[int] = None

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.close_reason: Optional[str] = None  #: why the server's side ended: "EOF" or the socket error
        self.reset = False                       #: the connection failed (not a clean EOF)

    @classmethod
    async def open(cls, url: str, timeout: float) -> "_TcpConnection":
        parts = urlsplit(url)
        if not parts.hostname or parts.port is None:
            raise SimError(f"{url}: a TCP URL needs a host and a port, e.g. tcp://127.0.0.1:9092")
        reader, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, parts.port), timeout)
        return cls(reader, writer)

    async def send(self, data: Any) -> None:
        if self.writer.is_closing():
            raise _TcpClosed("the connection is closed")
        try:
            self.writer.write(data if isinstance(data, (bytes, bytearray)) else str(data).encode("utf-8"))
            await self.writer.drain()
        except (ConnectionError, OSError) as error:
            raise _TcpClosed(str(error)) from None

    def __aiter__(self) -> "_TcpConnection":
        return self

    async def __anext__(self) -> bytes:
        try:
            data = await self.reader.read(65536)
        except (ConnectionError, OSError) as error:
            self.close_reason, self.reset = str(error) or type(error).__name__, True
            raise StopAsyncIteration from None
        if not data:
            self.close_reason = self.close_reason or "EOF"
            raise StopAsyncIteration
        return data

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


class _Call:
    """One simulated call: a paced sender/player (run) and a receiver (_receive) around one session."""

    def __init__(self, index: int, url: str, provider: str, pcm: bytes, rate: int, speed: float,
                 dtmf: Sequence[Tuple[float, str]], barge_in: Sequence[float], barge_in_s: float, tail_s: float,
                 caller: str, save: Optional[str], jitter_ms: int, strict: bool = True) -> None:
        self.report = CallReport(call=index, url=url, provider=provider)
        self.url, self.provider, self.pcm, self.rate, self.speed = url, provider, pcm, rate, speed
        self.frame_bytes = rate * FRAME_MS // 1000 * 2
        self.bytes_per_ms = rate * 2 / 1000
        self.pos = 0                      # the next byte of the WAV to send
        self.dtmf = sorted((int(at * 1000) + DTMF_GAP_MS * k, digit)  # several digits: one after another
                           for at, digits in dtmf for k, digit in enumerate(digits))
        self.pending_barge = sorted(int(at * 1000) for at in barge_in)
        self.barge_speech = speech_like(rate, barge_in_s) if barge_in else b""
        self.barge_pos = len(self.barge_speech)  # the next byte of barge-in speech (none being spoken)
        self.barge_wall = 0.0             # when the last barge-in started (wall clock)
        self.talked_over = False          # the agent still plays since the last barge-in started
        self.hung_up = False              # the agent hung up (a STOP event)
        self.tail_ms, self.caller, self.save = int(tail_s * 1000), caller, save
        self.sent_t: List[float] = []     # when each caller frame was sent (wall clock)
        self.sent_db: List[float] = []    # and its level
        self.runs: List[List[Tuple[float, float]]] = []  # agent utterances: (arrival time, level) per frame
        self.current: List[Tuple[float, float]] = []
        self.arrivals: collections.deque = collections.deque()  # [time, ms] of agent audio not yet played
        self.last_arrival = 0.0
        self.agent_ms = 0                 # agent audio received so far (the session's counter)
        self.heard = bytearray()          # what the caller heard, on the call's timeline (--save)
        self.playing = False              # the last tick played agent audio
        self.gap_ticks: Optional[int] = None  # ticks without agent audio since it last played
        self.cleared = False              # a clear came since the agent's audio last played
        self.jitter_ms = jitter_ms        # agent audio waits this long before it plays (a jitter buffer)
        self.buffering_ms = 0             # how long it has waited
        self.closed = asyncio.Event()
        self.send_lock = asyncio.Lock()
        self.ws: Any = None
        self.phone: Optional[Session] = None
        self.strict = strict              # the phone keeps the provider's rules and reports breaches

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def note(self, call_ms: float, event: str, detail: Optional[str] = None) -> None:
        self.report.events.append({"at": round(call_ms / 1000, 3), "event": event, "detail": detail})

    async def run(self) -> CallReport:
        tcp = urlsplit(self.url).scheme == "tcp"
        if tcp:
            ConnectionClosed: Any = _TcpClosed
            failures: Tuple[Type[BaseException], ...] = (OSError, asyncio.TimeoutError, SimError)
        else:
            connect, ConnectionClosed, WebSocketException = _websockets()
            failures = (OSError, asyncio.TimeoutError, WebSocketException)
        report = self.report
        # The phone end of the call. Its first messages (the provider's connected and start) wait in
        # outputs(); the start announces these ids, the caller and the number called (the URL's last part).
        to = unquote(urlsplit(self.url).path.rstrip("/").rsplit("/", 1)[-1])
        self.phone = Session(self.provider, role="telephony", local_format=("pcm16le", self.rate),
                             stream_id=f"MZsim{uuid.uuid4().hex[:24]}", call_id=str(uuid.uuid4()),
                             account_id="ACformisim", from_=self.caller, to=to, direction="inbound",
                             custom_parameters={"simulator": "formi.sim", "call": report.call},
                             strict=self.strict)
        start = self.now()
        try:
            if tcp:
                self.ws = await _TcpConnection.open(self.url, 10)
            else:
                self.ws = await connect(self.url, compression=None, open_timeout=10, max_size=16 * 2 ** 20)
        except failures as error:
            report.error = f"could not connect: {error or type(error).__name__}"
            self.phone.close()
            return report
        report.connected, report.connect_ms = True, round((self.now() - start) * 1000, 2)
        receiver = asyncio.ensure_future(self._receive(ConnectionClosed))
        # A send that finds the connection closed means the server closed it, even when the receiving
        # task has not run yet to see the close (a loaded machine schedules it later).
        server_closed = False
        try:
            await self._send_outputs()  # the provider's connected and start
            await self._play()
        except ConnectionClosed:
            server_closed = True
        except FormiError as error:  # the session refused something: report it, end the call
            report.error = f"session error: {error}"
        finally:
            if not self.closed.is_set() and not server_closed:  # hang up: the provider's stop, then close
                report.closed_by = "server" if self.hung_up else "simulator"
                try:
                    self.phone.end("hangup")
                    await self._send_outputs()
                except (ConnectionClosed, FormiError):
                    pass
                await self.ws.close()
            await receiver
            report.close_code, report.close_reason = self.ws.close_code, self.ws.close_reason or None
            if report.closed_by is None:
                report.closed_by = "server"
                if tcp:  # AudioSocket hangs up with a frame or just closes: only a failed connection is wrong
                    if self.ws.reset:
                        report.error = f"the connection failed: {report.close_reason}"
                elif report.close_code not in (1000, 1001):
                    report.error = f"the server closed the call: {report.close_code} {report.close_reason or ''}"
                    report.error = report.error.strip()
            self._finish(start)
        return report

    async def _receive(self, ConnectionClosed: Any) -> None:
        """Everything the agent server sends: its media into the playout queue, clear, stop, errors."""
        phone = self.phone
        try:
            async for data in self.ws:
                phone.receive(data, binary=isinstance(data, bytes))
                now, call_ms = self.now(), len(self.sent_t) * FRAME_MS
                for event in phone.events():
                    if event.kind is EventKind.CLEAR:  # the agent interrupted itself: its queued audio is gone
                        self.arrivals.clear()
                        self.cleared = True
                        self.note(call_ms, "clear")
                        barge = self.report.barge_ins[-1] if self.report.barge_ins else None
                        if barge is not None and not barge["cleared"]:
                            barge["cleared"] = True
                            barge["clear_ms"] = round((now - self.barge_wall) * 1000, 2)
                    elif event.kind is EventKind.STOP:  # the agent hung up
                        self.hung_up = True
                        self.note(call_ms, "stop", event.reason)
                    elif event.kind is EventKind.ERROR:
                        self.note(call_ms, "error", event.error)
                        if event.error and " rule: " in event.error:
                            broken = self.report.rules_broken
                            broken[event.error] = broken.get(event.error, 0) + 1
                    else:
                        self.note(call_ms, event.name)
                received = phone.stats()["agent_audio_ms"]
                if received > self.agent_ms:  # agent audio arrived now
                    self.arrivals.append([now, received - self.agent_ms])
                    self.agent_ms = received
                await self._send_outputs()  # e.g. Plivo's and Vonage's acknowledgement of a clear
        except ConnectionClosed:
            pass
        finally:
            if self.report.closed_by is None:
                code = "" if self.ws.close_code is None else f"{self.ws.close_code} "
                self.note(len(self.sent_t) * FRAME_MS, "closed", f"{code}{self.ws.close_reason or ''}".strip())
            self.closed.set()

    async def _send_outputs(self) -> None:
        async with self.send_lock:  # one sender at a time keeps the messages in order
            for message in list(self.phone.outputs()):
                await self.ws.send(message.data if message.binary else message.text)

    async def _play(self) -> None:
        """The call's clock: each tick sends 20 ms of caller audio and plays 20 ms of the agent's."""
        phone, tick_s, start = self.phone, FRAME_MS / 1000 / self.speed, self.now()
        wav_end_ms: Optional[int] = None
        last_agent_ms, tick = 0, 0
        max_lag = max(2 * tick_s, MAX_LAG_S)
        while True:
            delay = start + tick * tick_s - self.now()
            if delay < -max_lag:  # far behind (a busy machine): the call's clock slips; it never rushes
                start -= delay
                self.report.slipped_ms = round(self.report.slipped_ms - delay * 1000, 1)
                delay = 0
            await asyncio.sleep(max(delay, 0))  # a little behind: catch up, but let the receiver run
            if self.closed.is_set() or self.hung_up:
                return
            call_ms = tick * FRAME_MS
            phone.set_time(call_ms)
            frame = self._caller_frame(call_ms)
            phone.send_audio(frame)
            self.sent_t.append(self.now())
            self.sent_db.append(max(level_dbfs(frame), FLOOR_DBFS))
            while self.dtmf and self.dtmf[0][0] <= call_ms:
                digit = self.dtmf.pop(0)[1]
                phone.send_dtmf(digit)
                self.report.dtmf.append({"at": call_ms / 1000, "digit": digit})
            if self._playout():
                last_agent_ms = call_ms
            await self._send_outputs()
            tick += 1
            if self.pos >= len(self.pcm) and self.barge_pos >= len(self.barge_speech):  # the WAV is over:
                wav_end_ms = call_ms if wav_end_ms is None else wav_end_ms  # wait for the agent to finish
                quiet_ms = call_ms - max(last_agent_ms, wav_end_ms)
                if (quiet_ms >= self.tail_ms and not self.dtmf) or call_ms - wav_end_ms >= MAX_TAIL_MS:
                    return

    def _caller_frame(self, call_ms: int) -> bytes:
        """The next 20 ms of caller audio: barge-in speech when it is due, else the WAV, else silence."""
        fb = self.frame_bytes
        speaking = self.barge_pos < len(self.barge_speech)
        if not speaking and self.pending_barge and call_ms >= self.pending_barge[0] and self.playing:
            self.pending_barge.pop(0)  # the agent is talking: talk over it
            self.report.barge_ins.append({"at": call_ms / 1000, "triggered": True, "cleared": False,
                                          "clear_ms": None, "talked_over_ms": 0})
            self.barge_pos, self.barge_wall, self.talked_over, speaking = 0, self.now(), True, True
        if speaking:
            frame = self.barge_speech[self.barge_pos:self.barge_pos + fb]
            self.barge_pos += fb
        else:
            frame = self.pcm[self.pos:self.pos + fb]
            self.pos += fb
        if frame:
            self.report.sent_s += FRAME_MS / 1000
        return frame + bytes(fb - len(frame))

    def _playout(self) -> bool:
        """Plays one tick of agent audio, as a phone does; True when there was some."""
        if not self.playing:  # a jitter buffer: start once enough audio waits, or the first has waited enough
            queued = self.phone.stats()["queued_audio_ms"]
            self.buffering_ms = self.buffering_ms + FRAME_MS if queued else 0
            if not queued or (queued < self.jitter_ms and self.buffering_ms <= self.jitter_ms):
                return self._silent_tick()
        chunk = self.phone.read_audio(self.frame_bytes)
        if not chunk.real:
            return self._silent_tick()
        if self.save:
            self.heard += chunk.data
        if not self.playing:  # the agent's audio (re)starts: a new utterance, or a hole in one
            if self.gap_ticks is None or self.cleared or self.gap_ticks * FRAME_MS > GAP_MS:
                self.report.utterances += 1
            else:
                self.report.lost_frames += self.gap_ticks
            self.cleared = False
        self.current.append((self._arrival(chunk.real / self.bytes_per_ms), level_dbfs(chunk.data[:chunk.real])))
        self.report.heard_s += chunk.real / self.bytes_per_ms / 1000
        if self.talked_over:
            self.report.barge_ins[-1]["talked_over_ms"] += FRAME_MS
        self.gap_ticks, self.playing, self.buffering_ms = 0, True, 0
        return True

    def _silent_tick(self) -> bool:
        """A tick without agent audio."""
        if self.save:
            self.heard += bytes(self.frame_bytes)
        if self.current:
            self.runs.append(self.current)
            self.current = []
        if self.gap_ticks is not None:
            self.gap_ticks += 1
        self.talked_over = self.playing = False
        return False

    def _arrival(self, ms: float) -> float:
        """When the last of the next `ms` of queued agent audio arrived (wall clock)."""
        while ms > 1e-6 and self.arrivals:
            entry = self.arrivals[0]
            taken = min(ms, entry[1])
            entry[1] -= taken
            ms -= taken
            self.last_arrival = entry[0]
            if entry[1] <= 1e-6:
                self.arrivals.popleft()
        return self.last_arrival

    def _match(self, run: List[Tuple[float, float]]) -> None:
        """Times an agent utterance as the echo of the caller audio whose loudness contour it matches."""
        levels = [max(level, FLOOR_DBFS) for _, level in run]
        if max(levels) <= VOICE_DBFS:  # silence matches anything: not timed
            self.report.unmatched_frames += len(run)
            return
        sent_t, sent_db, width = self.sent_t, self.sent_db, min(len(run), MATCH_FRAMES)
        best, best_p = MATCH_DB, None
        for p in range(max(0, len(sent_t) - SEARCH_FRAMES), len(sent_t) - width + 1):
            # An echo cannot arrive before its audio was sent; past the first p where it would, none can.
            if any(sent_t[p + j] > run[j][0] for j in range(width)):
                break
            cost = sum(abs(levels[j] - sent_db[p + j]) for j in range(width)) / width
            if cost <= best:  # the latest of equal matches: an echo repeats the most recent audio
                best, best_p = cost, p
        for j, (arrival, _) in enumerate(run):
            if best_p is not None and best_p + j < len(sent_t) and sent_t[best_p + j] <= arrival:
                self.report.latencies_ms.append(round((arrival - sent_t[best_p + j]) * 1000, 2))
            else:
                self.report.unmatched_frames += 1

    def _finish(self, start: float) -> None:
        report = self.report
        if self.current:
            self.runs.append(self.current)
        for run in self.runs:
            self._match(run)
        for at in self.pending_barge:  # never triggered: no agent audio played after that time
            report.barge_ins.append({"at": at / 1000, "triggered": False, "cleared": False, "clear_ms": None,
                                     "talked_over_ms": 0})
        report.heard_s, report.sent_s = round(report.heard_s, 3), round(report.sent_s, 3)
        report.duration_s = len(self.sent_t) * FRAME_MS / 1000
        report.wall_s = round(self.now() - start, 3)
        if self.phone is not None:
            report.stats = self.phone.stats()
            report.received_s = report.stats["agent_audio_ms"] / 1000
            report.lost_frames += (report.stats["late_frames"] + report.stats["lost_frames"]
                                   + report.stats["overflow_audio_ms"] // FRAME_MS)
            self.phone.close()
        if self.save:
            with wave.open(self.save, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(self.rate)
                heard = array.array("h", bytes(self.heard))
                if sys.byteorder == "big":
                    heard.byteswap()
                w.writeframes(heard.tobytes())


async def simulate(url: str, wav: str, *, provider: Optional[str] = None, speed: float = 1.0,
                   dtmf: Sequence[Tuple[float, str]] = (), barge_in: Sequence[float] = (),
                   barge_in_seconds: float = 0.8, tail: float = 2.0, calls: int = 1, stagger: float = 0.0,
                   caller: str = "+15550100", save: Optional[str] = None, jitter_buffer: float = 0.06,
                   strict: bool = True) -> SimReport:
    """Runs `calls` simulated calls at once to `url`, each playing the WAV file `wav`, and reports.

    provider: the protocol to speak (default: the one in a /ws-adapter/{provider}/... URL). speed: the
    call's clock against the wall clock. dtmf: (seconds, digits) to press. barge_in: seconds after which,
    once agent audio plays, the caller talks over it for barge_in_seconds. tail: after the WAV, how long
    the agent must be quiet before hanging up. stagger: seconds between call starts. save: a WAV path
    for what the caller heard (with several calls, "-N" is added before the extension). jitter_buffer:
    seconds of agent audio the phone waits for before it plays an utterance (call time). strict: the
    phone behaves as the real provider does with an agent server that breaks its rules (media for another
    stream dropped; refused frame sizes and encoding names reported), and each call's report lists the
    rules broken (rules_broken).

    A tcp://HOST:PORT url is an AudioSocket server (Asterisk's raw TCP protocol; the provider must be
    "audiosocket"); ws:// and wss:// need the websockets package."""
    scheme = urlsplit(url).scheme
    if scheme not in ("ws", "wss", "tcp"):
        raise SimError(f"the URL must start with ws://, wss:// or tcp://, not {url!r}")
    if scheme != "tcp":
        _websockets()
    provider = provider or provider_of(url)
    if provider is None:
        raise SimError(f"cannot tell the provider from {url}: give it (--provider)")
    if scheme == "tcp" and provider != "audiosocket":
        raise SimError(f"only AudioSocket is spoken over raw TCP, not {provider!r}: use a ws:// URL for it")
    if provider not in BUILTIN_PROVIDERS:
        raise SimError(f"unknown provider {provider!r}; the simulator speaks: " + ", ".join(BUILTIN_PROVIDERS))
    if not speed > 0:
        raise SimError("speed must be above 0")
    pcm, rate = load_wav(wav)

    def saved(i: int) -> Optional[str]:
        if not save or calls == 1:
            return save
        root, ext = os.path.splitext(save)
        return f"{root}-{i}{ext or '.wav'}"

    async def one(i: int) -> CallReport:
        await asyncio.sleep(stagger * (i - 1))
        return await _Call(i, url, provider, pcm, rate, speed, dtmf, barge_in, barge_in_seconds, tail, caller,
                           saved(i), int(jitter_buffer * 1000), strict).run()

    return SimReport(list(await asyncio.gather(*(one(i) for i in range(1, calls + 1)))))


# ---- the command line -----------------------------------------------------------------------------

def _dtmf(text: str) -> Tuple[float, str]:
    digits, at, seconds = text.partition("@")
    if not at or not digits or any(d not in "0123456789*#ABCD" for d in digits):
        raise argparse.ArgumentTypeError(f"{text!r}: expected DIGITS@SECONDS, e.g. 1@2.5 (digits 0-9 * # A-D)")
    return _seconds(seconds), digits


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"{text!r}: seconds must be 0 or more")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m formi.sim", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG,
        description="Plays a WAV file as a caller to an agent server's /ws-adapter/... WebSocket (or to an\n"
                    "AudioSocket server over TCP), speaking a telephony provider's protocol (one telephony-role\n"
                    "formi.Session per call), and reports\n"
                    "what it heard: agent audio, events, barge-in, echo latency and lost frames.")
    parser.add_argument("url", help="the agent server, e.g. ws://127.0.0.1:8080/ws-adapter/twilio/inbound/"
                                    "AGENT/OUTLET/NUMBER (the provider is read from the path), or "
                                    "tcp://HOST:PORT for an AudioSocket server (raw TCP, as Asterisk calls)")
    parser.add_argument("--wav", required=True, metavar="FILE", help="the caller's audio: a 16-bit PCM WAV file, "
                        "mono or stereo, 8 to 48 kHz")
    parser.add_argument("--provider", choices=BUILTIN_PROVIDERS, metavar="NAME",
                        help="the protocol to speak, when the URL does not say: " + ", ".join(BUILTIN_PROVIDERS))
    parser.add_argument("--speed", type=float, default=1.0, metavar="X",
                        help="run the call's clock X times real time (default 1; e.g. 10 for fast tests)")
    parser.add_argument("--dtmf", type=_dtmf, action="append", default=[], metavar="DIGITS@SECONDS",
                        help="press keys at a call time, e.g. 1@2.5, or '*9#@4' (0.2 s apart; repeatable)")
    parser.add_argument("--barge-in", type=_seconds, action="append", default=[], metavar="SECONDS",
                        help="from this call time, as soon as agent audio plays, talk over it (repeatable)")
    parser.add_argument("--barge-in-length", type=_seconds, default=0.8, metavar="SECONDS",
                        help="how long the caller talks when barging in (default 0.8)")
    parser.add_argument("--tail", type=_seconds, default=2.0, metavar="SECONDS",
                        help="after the WAV, hang up once the agent has been quiet this long (default 2; "
                             "at most 60 s more)")
    parser.add_argument("--jitter-buffer", type=_seconds, default=0.06, metavar="SECONDS",
                        help="agent audio the phone waits for before playing an utterance (default 0.06)")
    parser.add_argument("--calls", type=int, default=1, metavar="N", help="N concurrent calls (default 1)")
    parser.add_argument("--stagger", type=_seconds, default=0.0, metavar="SECONDS",
                        help="wall-clock time between the starts of concurrent calls (default 0)")
    parser.add_argument("--caller", default="+15550100", metavar="NUMBER", help="the caller's number in the start")
    parser.add_argument("--save", metavar="FILE", help="save what the caller heard as a WAV file (with --calls, "
                                                        "FILE-1.wav, FILE-2.wav, ...)")
    parser.add_argument("--no-strict", dest="strict", action="store_false",
                        help="do not hold the agent server to the provider's rules (by default the phone drops "
                             "media for another stream, reports frame sizes and encoding names the provider "
                             "refuses, and prints a conformance summary)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def _print_call(c: CallReport, detail: bool) -> None:
    if not c.connected:
        print(f"call {c.call}: {c.error}")
        return
    lat = c.latency()
    timing = (f"echo latency p50 {lat['p50']} p90 {lat['p90']} p99 {lat['p99']} ms" if lat["frames"]
              else "no echo matched")
    line = (f"call {c.call}: heard {c.heard_s:.2f} s in {c.utterances} utterance(s), {timing}, "
            f"{c.lost_frames} lost frame(s)")
    broken = sum(c.rules_broken.values())
    if broken:
        line += f", {broken} breach(es) of {c.provider}'s rules"
    print(line + (f"; {c.error}" if c.error else ""))
    if not detail or not c.duration_s:
        return
    print(f"  {c.provider} {c.url}")
    print(f"  connected in {c.connect_ms} ms; {c.duration_s:.2f} s of call time in {c.wall_s:.2f} s"
          + (f" (the clock slipped {c.slipped_ms} ms: a busy host)" if c.slipped_ms else ""))
    print(f"  sent {c.sent_s:.2f} s of caller audio; received {c.received_s:.2f} s of agent audio")
    for d in c.dtmf:
        print(f"  {d['at']:7.2f} s  sent DTMF {d['digit']}")
    for e in c.events:
        print(f"  {e['at']:7.2f} s  {e['event']}" + (f": {e['detail']}" if e["detail"] else ""))
    for b in c.barge_ins:
        if not b["triggered"]:
            print(f"  barge-in from {b['at']:.2f} s: never triggered (no agent audio played after it)")
        elif b["cleared"]:
            print(f"  barge-in at {b['at']:.2f} s: the agent cleared after {b['clear_ms']} ms "
                  f"(talked over the caller for {b['talked_over_ms']} ms of call time)")
        else:
            print(f"  barge-in at {b['at']:.2f} s: no clear (the agent talked over the caller for "
                  f"{b['talked_over_ms']} ms of call time)")
    print(f"  {lat['frames']} agent frames timed, {c.unmatched_frames} not matched to caller audio; "
          f"max latency {lat['max']} ms")
    s = c.stats
    if s:
        print(f"  session: {s['frames_out']} frames out, {s['frames_in']} in, {s['marks_played']} marks echoed, "
              f"{s['errors']} errors, late {s['late_frames']}, lost {s['lost_frames']}, "
              f"overflow {s['overflow_audio_ms']} ms")
    if c.rules_broken:
        print(f"  conformance: the agent server broke {len(c.rules_broken)} of {c.provider}'s rules:")
        for message, count in sorted(c.rules_broken.items(), key=lambda item: -item[1]):
            print(f"    {count} x {message}")
    elif c.stats:
        print(f"  conformance: the agent server kept every rule of {c.provider} the simulator checks")
    how = (f"close {c.close_code}" if c.close_code is not None else "connection closed") \
        + (f" {c.close_reason}" if c.close_reason else "")
    print(f"  hung up by the {c.closed_by} ({how})")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The command line: `python -m formi.sim URL --wav FILE [options]`; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    scheme = urlsplit(args.url).scheme
    if scheme not in ("ws", "wss", "tcp"):
        parser.error(f"the URL must start with ws://, wss:// or tcp://, not {args.url!r}")
    if scheme == "tcp" and args.provider not in (None, "audiosocket"):
        parser.error(f"tcp:// is AudioSocket's transport; --provider {args.provider} needs a ws:// URL")
    if args.calls < 1:
        parser.error("--calls must be 1 or more")
    if not 0 < args.speed <= 1000:
        parser.error("--speed must be above 0 and at most 1000")
    if args.provider is None and provider_of(args.url) is None:
        parser.error("the URL does not say the provider (/ws-adapter/{provider}/...): give --provider")
    try:
        report = asyncio.run(simulate(
            args.url, args.wav, provider=args.provider, speed=args.speed, dtmf=args.dtmf, barge_in=args.barge_in,
            barge_in_seconds=args.barge_in_length, tail=args.tail, calls=args.calls, stagger=args.stagger,
            caller=args.caller, save=args.save, jitter_buffer=args.jitter_buffer, strict=args.strict))
    except SimError as error:
        print(f"formi.sim: {error}", file=sys.stderr)
        return 1 if "websockets" in str(error) else 2
    except KeyboardInterrupt:
        return 130
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        for call in report.calls:
            _print_call(call, detail=args.calls == 1)
        if args.calls > 1:
            s = report.summary()
            lat, barge = s["latency_ms"], s["barge_ins"]
            print(f"{s['calls']} calls: {s['connected']} connected, {s['failed']} failed; heard "
                  f"{s['heard_s']['mean']} s per call (min {s['heard_s']['min']}, max {s['heard_s']['max']})")
            print(f"echo latency over {lat['frames']} frames: p50 {lat['p50']} ms, p90 {lat['p90']} ms, "
                  f"p99 {lat['p99']} ms, max {lat['max']} ms ({s['unmatched_frames']} frames not matched)")
            print(f"lost frames: {s['lost_frames']}; breaches of the provider's rules: {s['rules_broken']}")
            if barge["triggered"]:
                timing = (f"; clear after p50 {barge['clear_ms']['p50']} ms, max {barge['clear_ms']['max']} ms"
                          if barge["cleared"] else "")
                print(f"barge-in: {barge['cleared']} of {barge['triggered']} cleared{timing}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
