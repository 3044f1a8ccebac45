"""Asterisk AudioSocket servers on asyncio: one formi.Session per TCP connection, paced at 20 ms.

Asterisk's AudioSocket (the `AudioSocket()` dialplan application, or `Dial(AudioSocket/host:port/uuid)`)
is raw TCP, not a WebSocket: it connects to your server, sends the call's UUID, then 20 ms frames of
the caller's audio and DTMF, and plays whatever audio you send at once, as it comes. `serve` listens,
gives every connection a `Call` (a `formi.Session("audiosocket", role="agent_server")` and the socket)
and runs your coroutine for it. The call's clock ticks every 20 ms: the agent's audio goes out as
Asterisk expects it, one frame per tick (plus a small lead), however much you hand over at once.

    async def agent(call: formi.audiosocket.Call) -> None:
        async for event in call.events():                  # until the caller hangs up
            if event.kind is formi.EventKind.START:
                print("call", event.call_id)               # the UUID Asterisk sent
            elif event.kind is formi.EventKind.MEDIA:      # PCM16LE 16 kHz (the session's local_format)
                call.send_audio(event.audio)               # an echo; paced by the call's clock
        # returning hangs up (AudioSocket's hang-up frame, then the socket is closed)

    async def main() -> None:
        async with formi.audiosocket.serve(agent, "0.0.0.0", 9092) as server:
            await server.serve_forever()

The dialplan side: `exten => 100,1,Answer()`, `same => n,AudioSocket(${UUID()},10.0.0.5:9092)`.
Keyword options of `serve` other than its own are Session options (local_format, max_queued_ms...).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List, Optional, Set, Tuple

from ._types import Event, EventKind, Playback
from .errors import FormiError
from .session import Session

__all__ = ["Call", "Server", "serve", "DEFAULT_PORT", "TICK_MS"]

DEFAULT_PORT = 9092   #: the port of Asterisk's AudioSocket examples
HANGUP_FRAME = b"\x00\x00\x00"  # AudioSocket's hang-up: type 0x00, no payload
TICK_MS = 20          #: the call's clock: Asterisk plays what it gets at once, so audio goes out per 20 ms
READ_BYTES = 65536    #: read at most this much of the TCP stream at once
LINGER_S = 1.0        #: after hanging up, how long to wait for Asterisk to close its side
log = logging.getLogger("formi.audiosocket")

Handler = Callable[["Call"], Awaitable[Any]]


def _now_ms() -> int:
    return int(asyncio.get_running_loop().time() * 1000)


class Call:
    """One AudioSocket connection: its session (agent-server role), its socket, and the call's clock.

    Events come from `events()`; what you send (`send_audio`, `flush`, `send_mark`, `interrupt`) goes
    to the session, and the clock writes it to the socket as it falls due. The session's own methods
    are there too (`call.session`), e.g. `playback()` or `stats()`; use them from the event loop's thread.
    """

    def __init__(self, session: Session, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 tick_ms: int = TICK_MS) -> None:
        self.session = session
        self.peer: Tuple[str, int] = (writer.get_extra_info("peername") or ("", 0))[:2]
        self.call_id: Optional[str] = None   #: the call's UUID, from Asterisk's first frame (the START event)
        self._reader, self._writer, self._tick_ms = reader, writer, tick_ms
        self._events: "asyncio.Queue[Optional[Event]]" = asyncio.Queue()
        self._ended = False                  # the session has ended (no more input)
        self._hangup_sent = False            # AudioSocket's hang-up frame was written
        self._closed = False                 # the socket is closed
        self._tasks: List["asyncio.Task[None]"] = []

    # -- what the handler uses ------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[Event]:
        """Every event of the call as it arrives (START with the UUID, MEDIA, DTMF, MARK, ERROR...),
        ending after STOP: the caller hung up (AudioSocket's hang-up frame, or the connection closed)."""
        while True:
            event = await self._events.get()
            if event is None:
                return
            yield event
            if event.kind is EventKind.STOP:
                return

    def send_audio(self, pcm: bytes) -> None:
        """The agent's audio in the session's local_format (PCM16LE 16 kHz by default), whole frames;
        queued and sent at the call's pace. Raises StateError before START, LimitExceeded past
        max_queued_ms (see Session.send_audio)."""
        self.session.send_audio(pcm)
        self._write_due()

    def flush(self) -> None:
        """The end of an utterance: its last partial frame goes out padded with silence."""
        self.session.flush()
        self._write_due()

    def send_mark(self, name: str) -> None:
        """A mark after the audio sent so far: a MARK event comes back ("played") once the call's clock
        has played that audio out (AudioSocket has no echo of its own), or "cleared" by interrupt()."""
        self.session.send_mark(name)
        self._write_due()

    def interrupt(self) -> Playback:
        """Barge-in: drops the agent's audio not yet sent (AudioSocket has no clear: what was sent plays)."""
        return self.session.interrupt()

    def stats(self) -> Dict[str, Any]:
        """The session's counters (Session.stats)."""
        return self.session.stats()

    @property
    def closed(self) -> bool:
        """The connection is closed."""
        return self._closed

    async def hangup(self) -> None:
        """Ends the call from this side: AudioSocket's hang-up frame, then the connection is closed.
        Done for you when the handler returns; calling it twice is harmless."""
        if not self._ended:
            self._ended = True
            try:
                self.session.end("agent")
                self._write_due()
            except FormiError:
                pass
            if not self._hangup_sent and not self._closed and not self._writer.is_closing():
                self._writer.write(HANGUP_FRAME)  # the session does not queue one for this provider
        await self._close()

    # -- the connection's tasks -----------------------------------------------------------------------

    def _start(self) -> None:
        self._tasks = [asyncio.ensure_future(self._read()), asyncio.ensure_future(self._clock())]

    async def _read(self) -> None:
        """The TCP stream into the session (frames may straddle reads), its events into the queue."""
        reason = "hangup"
        try:
            while not self._ended:
                data = await self._reader.read(READ_BYTES)
                if not data:  # Asterisk closes the connection, often without a hang-up frame
                    break
                # The clock first: the session stamps what it receives (the call's start and duration).
                self.session.set_time(_now_ms())
                self.session.receive(data, binary=True)
                self._take_events()
                self._write_due()
        except (ConnectionError, OSError) as error:
            reason = f"connection lost: {error}"
        except FormiError as error:  # the session is closed or refuses input: the call is over
            reason = f"session: {error}"
        if not self._ended:
            self._ended = True
            try:
                self.session.set_time(_now_ms())
                self.session.end(reason)  # a STOP event if Asterisk sent no hang-up frame
                self._take_events()
            except FormiError:
                pass
        self._events.put_nowait(None)

    def _take_events(self) -> None:
        for event in self.session.events():
            if event.kind is EventKind.START and self.call_id is None:
                self.call_id = event.call_id
            elif event.kind is EventKind.STOP:
                self._ended = True
            self._events.put_nowait(event)

    async def _clock(self) -> None:
        """Every tick: the session's time, and the frames it releases at that time to the socket."""
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        try:
            while not self._closed:
                self._write_due()
                await self._writer.drain()
                next_tick += self._tick_ms / 1000
                delay = next_tick - loop.time()
                if delay < -0.1:  # held up (a busy loop): do not rush to catch up
                    next_tick, delay = loop.time(), 0
                await asyncio.sleep(max(delay, 0))
        except (ConnectionError, OSError):
            pass

    def _write_due(self) -> None:
        """The clock: writes every message due now (the session paces AudioSocket, a frame per 20 ms
        of its clock) and takes the events it brings (marks played by the clock)."""
        if self._closed or self._writer.is_closing():
            return
        try:
            self.session.set_time(_now_ms())
            for message in self.session.outputs():
                self._writer.write(message.data)
                self._hangup_sent = self._hangup_sent or message.data[:1] == HANGUP_FRAME[:1]
            self._take_events()
        except FormiError:  # the session was closed
            pass

    async def _close(self) -> None:
        """Closes gracefully: our side first (FIN after the hang-up frame), then what Asterisk still
        sends is read and dropped until it closes too (closing with unread input would reset the
        connection, and the hang-up frame could be lost), for at most LINGER_S."""
        if self._closed:
            return
        self._write_due()
        self._closed = True
        self._events.put_nowait(None)  # events() ends, also when the handler hung up while iterating
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        try:
            if self._writer.can_write_eof() and not self._writer.is_closing():
                self._writer.write_eof()
                await asyncio.wait_for(self._discard_input(), LINGER_S)
        except (ConnectionError, OSError, asyncio.TimeoutError):
            pass
        try:
            self._writer.close()
            await self._writer.wait_closed()
        except (ConnectionError, OSError):
            pass

    async def _discard_input(self) -> None:
        await self._writer.drain()
        while await self._reader.read(READ_BYTES):
            pass


class Server:
    """An AudioSocket server (see `serve`): an async context manager, also awaitable to start it."""

    def __init__(self, handler: Handler, host: Optional[str], port: int, tick_ms: int,
                 session_options: Dict[str, Any]) -> None:
        if not callable(handler):
            raise TypeError("handler must be a coroutine function taking a formi.audiosocket.Call")
        Session("audiosocket", role="agent_server", **session_options).close()  # bad options fail here
        self._handler, self._host, self._port, self._tick_ms = handler, host, port, tick_ms
        self._options = session_options
        self._server: Optional[asyncio.Server] = None
        self._calls: Set[Call] = set()
        self._connections: Set["asyncio.Task[Any]"] = set()

    async def start(self) -> "Server":
        """Starts listening (once)."""
        if self._server is None:
            self._server = await asyncio.start_server(self._connection, self._host, self._port)
        return self

    def __await__(self) -> Any:
        return self.start().__await__()

    async def __aenter__(self) -> "Server":
        return await self.start()

    async def __aexit__(self, *exc_info: Any) -> None:
        self.close()
        await self.wait_closed()

    @property
    def sockets(self) -> Tuple[Any, ...]:
        """The listening sockets."""
        return tuple(self._server.sockets) if self._server is not None and self._server.sockets else ()

    @property
    def port(self) -> int:
        """The port listened on (the one chosen, for port 0)."""
        return self.sockets[0].getsockname()[1] if self.sockets else self._port

    @property
    def calls(self) -> Tuple[Call, ...]:
        """The calls connected now."""
        return tuple(self._calls)

    def close(self) -> None:
        """Stops listening and hangs up every call (their handlers are cancelled)."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()

    async def wait_closed(self) -> None:
        """Waits until the server and every call are closed."""
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def serve_forever(self) -> None:
        """Serves until cancelled (then closes as `close` does)."""
        await self.start()
        try:
            await asyncio.Future()
        finally:
            self.close()
            await self.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            session = Session("audiosocket", role="agent_server", **self._options)
        except FormiError:
            log.exception("cannot start a session")
            writer.close()
            self._connections.discard(task)  # type: ignore[arg-type]
            return
        call = Call(session, reader, writer, self._tick_ms)
        self._calls.add(call)
        call._start()
        try:
            await self._handler(call)
        except asyncio.CancelledError:
            pass  # the server closes
        except Exception:  # one call's bug must not stop the server
            log.exception("AudioSocket handler failed (call %s from %s:%s)", call.call_id, *call.peer)
        finally:
            try:
                await call.hangup()
            finally:
                self._calls.discard(call)
                self._connections.discard(task)  # type: ignore[arg-type]
                session.close()


def serve(handler: Handler, host: Optional[str] = "127.0.0.1", port: int = DEFAULT_PORT, *, tick_ms: int = TICK_MS,
          **session_options: Any) -> Server:
    """An AudioSocket server: each connection gets a `Call` and `await handler(call)`; when the handler
    returns (or raises, which is logged) the call is hung up. `host` None listens on every address;
    port 0 picks a free one (`server.port`). `tick_ms` is the call's clock (keep 20 for Asterisk). Other
    keyword arguments are Session options (e.g. local_format=("pcm16le", 8000)); bad ones raise here.

        async with formi.audiosocket.serve(agent, "0.0.0.0", 9092) as server:
            await server.serve_forever()

    or `server = await formi.audiosocket.serve(...)`, then `server.close()` and `await server.wait_closed()`."""
    if isinstance(tick_ms, bool) or not isinstance(tick_ms, int) or not 1 <= tick_ms <= 1000:
        raise ValueError(f"tick_ms must be an int from 1 to 1000, not {tick_ms!r}")
    return Server(handler, host, port, tick_ms, session_options)
