"""formi.agent (the agent bridge's protocol, docs/agent-protocol.md) over a real WebSocket: a client plays
formi-server's part and a bot of a few lines answers it. The server end to end is in tests/server."""
from __future__ import annotations

import asyncio
import json

import pytest

pytest.importorskip("websockets", minversion="13")

import formi.agent  # noqa: E402


def test_a_bot_in_ten_lines():
    from websockets.asyncio.client import connect

    seen = []

    async def bot(call):
        seen.append((call.call_id, call.provider, call.sample_rate, call.path))
        async for event in call:
            seen.append(event.type)
            if event.type == "audio":
                await call.send_audio(event.audio)
            elif event.type == "dtmf" and event.digit == "#":
                await call.mark("bye")
                await call.hangup("caller pressed #")

    async def main():
        port = asyncio.get_running_loop().create_future()
        server = asyncio.ensure_future(formi.agent.serve(bot, "127.0.0.1", 0, ready=port.set_result))
        async with connect(f"ws://127.0.0.1:{await port}/calls/1") as ws:
            await ws.send(json.dumps({"type": "start", "version": 1, "call_id": "c1", "provider": "twilio",
                                      "audio": {"encoding": "pcm16le", "sample_rate": 8000, "channels": 1}}))
            await ws.send(b"\x01\x02" * 160)
            echo = await ws.recv()
            await ws.send(json.dumps({"type": "dtmf", "digit": "#"}))
            mark, hangup = json.loads(await ws.recv()), json.loads(await ws.recv())
            await ws.send(json.dumps({"type": "stop", "reason": "done"}))
        server.cancel()
        return echo, mark, hangup

    echo, mark, hangup = asyncio.run(main())
    assert echo == b"\x01\x02" * 160
    assert mark == {"type": "mark", "name": "bye"} and hangup == {"type": "hangup", "reason": "caller pressed #"}
    assert seen == [("c1", "twilio", 8000, "/calls/1"), "audio", "dtmf", "stop"]


def test_a_call_must_begin_with_start():
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    async def bot(call):
        raise AssertionError("no call without a start")

    async def main():
        port = asyncio.get_running_loop().create_future()
        server = asyncio.ensure_future(formi.agent.serve(bot, "127.0.0.1", 0, ready=port.set_result))
        async with connect(f"ws://127.0.0.1:{await port}/") as ws:
            await ws.send(json.dumps({"type": "dtmf", "digit": "1"}))
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            code = ws.close_code
        server.cancel()
        return code

    assert asyncio.run(main()) == 1002
