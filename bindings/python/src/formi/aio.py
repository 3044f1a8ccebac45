"""asyncio glue: a call's events straight from a WebSocket, for the patterns voice developers use.

With the websockets package::

    async def handler(ws):
        with formi.Session("twilio") as session:
            call = formi.aio.Call(session, ws)
            async for event in call.events():
                if event.kind is formi.EventKind.MEDIA:
                    reply = agent.hear(event.audio)          # 16 kHz PCM
                    if reply:
                        await call.send_audio(reply)         # framed and sent as the provider wants

With FastAPI (or Starlette), the same with its WebSocket object (`await websocket.accept()` first).

`events()` reads each frame from the socket (text or binary, as it came), feeds the session, sets its
clock, yields the events, and sends whatever the session queued (the agent's audio, marks, a clear, the
provider's hang-up); it ends when the socket closes (after the session's STOP). The session is yours: make
it, pass it, close it.
"""
from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Optional, Union

from ._types import Event, Playback
from .session import Session

__all__ = ["Call"]


class Call:
    """One call: a formi.Session over a WebSocket of the websockets package or of FastAPI/Starlette."""

    def __init__(self, session: Session, websocket: Any) -> None:
        self.session = session
        self.websocket = websocket
        # FastAPI/Starlette's WebSocket has receive()/send_text()/send_bytes(); websockets' has recv()/send().
        self._starlette = hasattr(websocket, "send_bytes") and hasattr(websocket, "receive")
        self._clock0 = asyncio.get_running_loop().time()
        self._send_lock = asyncio.Lock()

    def _tick(self) -> None:
        self.session.set_time(int((asyncio.get_running_loop().time() - self._clock0) * 1000))

    async def _receive(self) -> Optional[Union[str, bytes]]:
        """The next frame, or None once the socket is closed."""
        if self._starlette:
            message = await self.websocket.receive()
            if message.get("type") == "websocket.disconnect":
                return None
            text = message.get("text")
            return text if text is not None else message.get("bytes")
        try:
            return await self.websocket.recv()
        except Exception as error:  # websockets' ConnectionClosed, without importing websockets here
            if type(error).__name__.startswith("ConnectionClosed"):
                return None
            raise

    async def _send(self, data: Union[str, bytes]) -> None:
        if self._starlette:
            await (self.websocket.send_text(data) if isinstance(data, str) else self.websocket.send_bytes(data))
        else:
            await self.websocket.send(data)

    async def flush(self) -> None:
        """Sends every message the session has queued, in order (paced sessions: what is due now)."""
        async with self._send_lock:  # one sender at a time keeps the messages in order
            self._tick()
            for message in list(self.session.outputs()):
                await self._send(message.data if message.binary else message.text)

    async def events(self) -> AsyncIterator[Event]:
        """Every event of the call as frames arrive; the session's queued messages are sent after each
        frame. Ends when the socket closes (the session is ended then, so a STOP comes last)."""
        while True:
            frame = await self._receive()
            self._tick()
            if frame is None:
                self.session.end("the connection closed")
            else:
                self.session.receive(frame)
            for event in list(self.session.events()):
                yield event
            if frame is None:
                return
            await self.flush()

    async def send_audio(self, pcm: bytes) -> None:
        """The agent's audio (the session's send format), converted, framed and sent at once."""
        self.session.send_audio(pcm)
        await self.flush()

    async def interrupt(self) -> Playback:
        """Barge-in: unsent agent audio dropped, the provider's clear sent; what the caller heard of it."""
        playback = self.session.interrupt()
        await self.flush()
        return playback

    async def hang_up(self, reason: str = "hangup") -> None:
        """Ends the call: the provider's hang-up message where it has one, then the socket is closed."""
        self.session.end(reason)
        await self.flush()
        await self.websocket.close()
