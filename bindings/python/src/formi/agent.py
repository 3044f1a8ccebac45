"""Write a voice agent for formi-server's agent bridge (docs/agent-protocol.md, version 1) in a few lines.

The server calls the agent over one WebSocket per call, with the same messages whatever the telephony
provider: PCM16 audio at the agent's rate both ways, DTMF, marks, barge-in, the end. An echo bot::

    import asyncio, formi.agent

    async def bot(call):
        async for event in call:
            if event.type == "audio":
                await call.send_audio(event.audio)      # any chunk size
            elif event.type == "dtmf" and event.digit == "#":
                await call.hangup("caller pressed #")

    asyncio.run(formi.agent.serve(bot, "127.0.0.1", 9000))

Needs the websockets package (13 or later): pip install 'formi[sim]'.
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, Optional

__all__ = ["PROTOCOL_VERSION", "Call", "AgentEvent", "serve"]

#: The protocol version this module speaks (the `version` of the server's start message).
PROTOCOL_VERSION = 1


@dataclass
class AgentEvent:
    """One thing the server said: `type` is "audio" (`audio`: PCM16 bytes), "dtmf" (`digit`), "mark"
    (`name`, `played`), "interrupted" (`heard_ms`), "error" (`message`) or "stop" (`reason`); `data` is
    the JSON message as received (empty for audio)."""
    type: str
    audio: bytes = b""
    digit: str = ""
    name: str = ""
    played: bool = False
    heard_ms: int = 0
    reason: str = ""
    message: str = ""
    data: Dict[str, Any] = field(default_factory=dict)


class Call:
    """One call from the server: `start` (the start message), `sample_rate`, the events (iterate with
    `async for`), and what the agent can do: send_audio, mark, clear, hangup, transfer."""

    def __init__(self, websocket: Any, start: Dict[str, Any]) -> None:
        self._ws = websocket
        self.start = start
        self.sample_rate = int(start.get("audio", {}).get("sample_rate", 16000))
        self.call_id = str(start.get("call_id", ""))
        self.provider = str(start.get("provider", ""))
        #: The path the server called (agents may serve several bots on one port).
        self.path = str(getattr(getattr(websocket, "request", None), "path", "") or "")

    async def send_audio(self, pcm: bytes) -> None:
        """The agent's speech: PCM16 little-endian mono at `sample_rate`, any length."""
        if pcm:
            await self._ws.send(bytes(pcm))

    async def mark(self, name: str) -> None:
        """A named point after the audio sent so far; a "mark" event comes back when the caller reached it."""
        await self._ws.send(json.dumps({"type": "mark", "name": name}))

    async def clear(self) -> None:
        """Barge-in: drop the audio not yet played; an "interrupted" event says how much was heard."""
        await self._ws.send(json.dumps({"type": "clear"}))

    async def hangup(self, reason: str = "") -> None:
        """End the call once the audio already sent has been heard."""
        await self._ws.send(json.dumps({"type": "hangup", "reason": reason}))

    async def transfer(self, to: str) -> None:
        """Ask for a transfer (answered with an "error" event where the provider's stream cannot)."""
        await self._ws.send(json.dumps({"type": "transfer", "to": to}))

    def __aiter__(self) -> AsyncIterator[AgentEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[AgentEvent]:
        from websockets.exceptions import ConnectionClosed
        try:
            async for message in self._ws:
                if isinstance(message, (bytes, bytearray)):
                    yield AgentEvent("audio", audio=bytes(message))
                    continue
                data = json.loads(message)
                kind = str(data.get("type", ""))
                yield AgentEvent(kind, digit=str(data.get("digit", "")), name=str(data.get("name", "")),
                                 played=bool(data.get("played", False)), heard_ms=int(data.get("heard_ms", 0) or 0),
                                 reason=str(data.get("reason", "")), message=str(data.get("message", "")), data=data)
                if kind == "stop":
                    return
        except ConnectionClosed:
            return


async def _handle(websocket: Any, bot: Callable[[Call], Awaitable[None]]) -> None:
    first = await websocket.recv()
    start = json.loads(first) if isinstance(first, str) else {}
    if start.get("type") != "start":
        await websocket.close(1002, "expected a start message first")
        return
    if int(start.get("version", 0)) > PROTOCOL_VERSION:
        # A later server: what this module knows still works (additions keep the version).
        pass
    await bot(Call(websocket, start))


async def serve(bot: Callable[[Call], Awaitable[None]], host: str = "127.0.0.1", port: int = 9000, *,
                ready: Optional[Callable[[int], None]] = None) -> None:
    """Runs `bot(call)` for every call the server bridges to ws://host:port/ (any path), until cancelled.
    `ready(port)` is called once listening (port 0 picks a free one)."""
    try:
        from websockets.asyncio.server import serve as ws_serve
    except ImportError:
        raise RuntimeError("formi.agent needs the websockets package, version 13 or later: pip install 'formi[sim]'") from None
    async with ws_serve(lambda ws: _handle(ws, bot), host, port, max_size=None) as server:
        if ready:
            ready(next(iter(server.sockets)).getsockname()[1])
        await asyncio.Future()
