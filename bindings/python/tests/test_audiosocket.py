"""formi.audiosocket: the asyncio AudioSocket server, against a raw TCP client that speaks as Asterisk
(the UUID frame, 20 ms slin frames, DTMF, the hang-up frame): events, pacing of the agent's audio at
20 ms a frame, hang-up either way, a failing handler, and shutting the server down mid-call."""
from __future__ import annotations

import asyncio
import inspect
import logging
import struct
import uuid
from typing import List, Optional, Tuple

import pytest

import formi
from formi import audiosocket

CALL_ID = uuid.UUID("5f1c2a34-8d6e-4b7f-9a0c-1d2e3f405162")
SILENCE_FRAME = bytes(320)  # 20 ms of slin at 8 kHz


def frame(kind: int, payload: bytes = b"") -> bytes:
    return struct.pack("!BH", kind, len(payload)) + payload


class Asterisk:
    """The calling side of one AudioSocket connection, as Asterisk's app_audiosocket speaks it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.frames: List[Tuple[float, int, bytes]] = []  # (arrival time, type, payload) from the server

    @classmethod
    async def connect(cls, port: int, first_audio: bool = True) -> "Asterisk":
        """The UUID frame, then (as Asterisk does at once) the first 20 ms of audio, whose frame type
        tells the rate: the session's START waits for it."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        caller = cls(reader, writer)
        caller.send(frame(0x01, CALL_ID.bytes) + (frame(0x10, SILENCE_FRAME) if first_audio else b""))
        return caller

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def read_until_eof(self, timeout: float = 10) -> None:
        """Every frame the server sends, with its arrival time, until it closes the connection (then
        this side closes too, as Asterisk does)."""
        loop = asyncio.get_running_loop()

        async def read() -> None:
            while True:
                try:
                    head = await self.reader.readexactly(3)
                except asyncio.IncompleteReadError:
                    return
                kind, length = struct.unpack("!BH", head)
                self.frames.append((loop.time(), kind, await self.reader.readexactly(length)))

        await asyncio.wait_for(read(), timeout)
        self.writer.close()

    def close(self) -> None:
        self.writer.close()


async def calls_end(server: audiosocket.Server) -> None:
    """Waits for the server's side of its calls to close (it follows the caller's side)."""
    for _ in range(200):
        if not server.calls:
            return
        await asyncio.sleep(0.01)
    assert server.calls == ()


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 30))


def test_events_of_a_call_and_the_caller_hanging_up():
    seen: List[formi.Event] = []
    stats = {}

    async def agent(call: audiosocket.Call) -> None:
        async for event in call.events():
            seen.append(event)
        stats.update(call.stats())

    async def scenario() -> Asterisk:
        async with audiosocket.serve(agent, "127.0.0.1", 0) as server:
            caller = await Asterisk.connect(server.port, first_audio=False)
            caller.send(frame(0x10, SILENCE_FRAME) * 5 + frame(0x03, b"7"))
            await asyncio.sleep(0.1)
            # Pieces of frames in separate writes: TCP may deliver a frame in parts.
            hangup = frame(0x10, SILENCE_FRAME) + frame(0x00)
            caller.send(hangup[:100])
            await asyncio.sleep(0.05)
            caller.send(hangup[100:])
            await caller.read_until_eof()
            return caller

    caller = run(scenario())
    kinds = [e.kind for e in seen]
    assert kinds[0] is formi.EventKind.START and seen[0].call_id == str(CALL_ID)
    # Six frames at 16 kHz, then the resampler's tail (the caller's last 5 ms) before the STOP.
    media = [e for e in seen if e.kind is formi.EventKind.MEDIA]
    assert [len(e.audio) for e in media][:6] == [640] * 6 and len(media) == 7 and 0 < len(media[6].audio) <= 160
    assert [e.digit for e in seen if e.kind is formi.EventKind.DTMF] == ["7"]
    assert kinds[-1] is formi.EventKind.STOP
    # The clock ran from the first frame: the call has a start and a duration (about 0.15 s).
    assert stats["started_at_ms"] is not None and 100 <= stats["duration_ms"] <= 2000, stats
    assert stats["caller_audio_ms"] == 120 and stats["errors"] == 0
    # The caller hung up: the server closed the connection, with no frame of its own.
    assert caller.frames == []


def test_the_agents_audio_is_paced_at_20_ms_a_frame():
    """One second of the agent's audio handed over at once goes out as 50 frames over about a second,
    never more than the session's small lead (60 ms) ahead of the call's clock, as Asterisk plays it."""
    tone = struct.pack("<16000h", *([8000, -8000] * 8000))  # 1 s at 16 kHz (local_format)

    async def agent(call: audiosocket.Call) -> None:
        async for event in call.events():
            if event.kind is formi.EventKind.START:
                call.send_audio(tone)
                call.flush()
                call.send_mark("end")
            elif event.kind is formi.EventKind.MARK:
                marks.append((asyncio.get_running_loop().time(), event.mark, event.reason))
                return  # hangs up

    marks: List[Tuple[float, Optional[str], Optional[str]]] = []

    async def scenario() -> Tuple[Asterisk, float]:
        async with audiosocket.serve(agent, "127.0.0.1", 0) as server:
            caller = await Asterisk.connect(server.port)
            start = asyncio.get_running_loop().time()
            await caller.read_until_eof()
            return caller, start

    caller, start = run(scenario())
    audio = [(t - start, data) for t, kind, data in caller.frames if kind == 0x10]
    # 50 frames, or 51 with the resampler's delay (16 kHz to 8 kHz) padded out by flush().
    assert len(audio) in (50, 51) and all(len(data) == 320 for _, data in audio)
    assert caller.frames[-1][1:] == (0x00, b"")  # then the agent hung up: AudioSocket's hang-up frame
    first, last = audio[0][0], audio[-1][0]
    assert first < 0.5 and 0.85 <= last - first <= 2.5, (first, last)  # late only when the host is busy
    for n, (at, _) in enumerate(audio):  # frame n is due at n * 20 ms: at most 3 frames early
        assert at >= (n - 3) * 0.02 - 0.005, (n, at)
    ((marked_at, name, reason),) = marks
    assert name == "end" and reason == "played" and marked_at - start >= 0.9


def test_returning_from_the_handler_hangs_up():
    async def agent(call: audiosocket.Call) -> None:
        async for event in call.events():
            if event.kind is formi.EventKind.START:
                assert call.call_id == str(CALL_ID)
                return

    async def scenario() -> Asterisk:
        async with audiosocket.serve(agent, "127.0.0.1", 0) as server:
            caller = await Asterisk.connect(server.port)
            await caller.read_until_eof()
            await calls_end(server)
            return caller

    assert [kind for _, kind, _ in run(scenario()).frames] == [0x00]


def test_hanging_up_while_iterating_ends_the_events():
    after: List[formi.Event] = []

    async def agent(call: audiosocket.Call) -> None:
        async for event in call.events():
            if event.kind is formi.EventKind.DTMF:
                await call.hangup()
                assert call.closed
                after.append(event)

    async def scenario() -> Asterisk:
        async with audiosocket.serve(agent, "127.0.0.1", 0) as server:
            caller = await Asterisk.connect(server.port)
            caller.send(frame(0x03, b"#"))
            await caller.read_until_eof()
            await calls_end(server)
            return caller

    assert [kind for _, kind, _ in run(scenario()).frames] == [0x00]
    assert [e.digit for e in after] == ["#"]


def test_the_connection_closing_without_a_hangup_frame_stops_the_call():
    """Asterisk often just closes the socket when the call ends: a STOP event all the same."""
    stops: List[formi.Event] = []

    async def agent(call: audiosocket.Call) -> None:
        async for event in call.events():
            if event.kind is formi.EventKind.STOP:
                stops.append(event)

    async def scenario() -> None:
        async with audiosocket.serve(agent, "127.0.0.1", 0) as server:
            caller = await Asterisk.connect(server.port)
            caller.send(frame(0x10, SILENCE_FRAME))
            await asyncio.sleep(0.1)
            caller.close()
            for _ in range(100):
                if stops:
                    break
                await asyncio.sleep(0.02)

    run(scenario())
    assert len(stops) == 1 and stops[0].reason == "hangup"


def test_a_failing_handler_is_logged_and_the_server_goes_on(caplog):
    calls = []

    async def agent(call: audiosocket.Call) -> None:
        calls.append(call)
        if len(calls) == 1:
            raise RuntimeError("bug in the agent")
        async for event in call.events():
            if event.kind is formi.EventKind.START:
                return

    async def scenario() -> Tuple[Asterisk, Asterisk]:
        async with audiosocket.serve(agent, "127.0.0.1", 0) as server:
            first = await Asterisk.connect(server.port)
            await first.read_until_eof()
            second = await Asterisk.connect(server.port)
            await second.read_until_eof()
            return first, second

    with caplog.at_level(logging.ERROR, logger="formi.audiosocket"):
        first, second = run(scenario())
    assert "bug in the agent" in caplog.text and "AudioSocket handler failed" in caplog.text
    assert [kind for _, kind, _ in first.frames] == [0x00] == [kind for _, kind, _ in second.frames]
    assert calls[0].closed and calls[0].session.closed


def test_closing_the_server_hangs_up_its_calls():
    async def agent(call: audiosocket.Call) -> None:
        async for _ in call.events():
            pass

    async def scenario() -> Asterisk:
        server = await audiosocket.serve(agent, "127.0.0.1", 0)
        caller = await Asterisk.connect(server.port)
        caller.send(frame(0x10, SILENCE_FRAME))
        for _ in range(100):
            if server.calls and server.calls[0].call_id:
                break
            await asyncio.sleep(0.02)
        assert len(server.calls) == 1
        server.close()
        await server.wait_closed()
        await caller.read_until_eof()
        with pytest.raises(OSError):
            await Asterisk.connect(server.port)
        return caller

    assert [kind for _, kind, _ in run(scenario()).frames] == [0x00]


def test_bad_arguments():
    async def agent(call: audiosocket.Call) -> None:
        pass

    with pytest.raises(TypeError, match="handler"):
        audiosocket.serve("not a coroutine", port=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="tick_ms"):
        audiosocket.serve(agent, port=0, tick_ms=0)
    with pytest.raises(TypeError, match="unexpected session option"):
        audiosocket.serve(agent, port=0, colour="blue")
    with pytest.raises(formi.FormiError):
        audiosocket.serve(agent, port=0, max_message_bytes=1)


def test_public_names_are_documented():
    for name in audiosocket.__all__:
        obj = getattr(audiosocket, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__doc__ and obj.__doc__.strip(), name
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                target = member.fget if isinstance(member, property) else member
                if not attr.startswith("_") and callable(target):
                    assert target.__doc__ and target.__doc__.strip(), f"{name}.{attr}"
