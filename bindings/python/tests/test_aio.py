"""formi.aio over real WebSockets (the websockets package): a ten-line echo agent takes a simulated call
in several providers' protocols, hears the caller, answers, and sees the call end."""
from __future__ import annotations

import asyncio
import math

import pytest
from conftest import write_wav

pytest.importorskip("websockets", minversion="13")

import formi  # noqa: E402
import formi.aio  # noqa: E402
from formi import sim  # noqa: E402


@pytest.fixture(scope="module")
def caller_wav(tmp_path_factory) -> str:
    rate = 8000
    samples = [int(8000 * math.sin(2 * math.pi * 300 * i / rate)) if i < rate else 0 for i in range(rate * 2)]
    path = tmp_path_factory.mktemp("aio") / "caller.wav"
    return write_wav(path, samples, rate)


@pytest.mark.parametrize("provider", ["twilio", "vonage", "plivo"])
def test_an_agent_in_ten_lines(provider, caller_wav):
    from websockets.asyncio.server import serve

    seen = []

    async def handler(ws) -> None:
        with formi.Session(provider, local_format=("pcm16le", 16000)) as session:
            call = formi.aio.Call(session, ws)
            async for event in call.events():
                seen.append(event.kind)
                if event.kind is formi.EventKind.DTMF:
                    await call.send_audio(bytes(16000 * 2 // 2))  # half a second, on a key press

    async def run() -> sim.SimReport:
        async with serve(handler, "127.0.0.1", 0, compression=None) as server:
            port = server.sockets[0].getsockname()[1]
            url = f"ws://127.0.0.1:{port}/ws-adapter/{provider}/inbound/1/1/+15550100"
            return await sim.simulate(url, caller_wav, speed=4, dtmf=[(0.5, "5")], tail=0.5)

    report = asyncio.run(run()).calls[0]
    assert report.ok, report.error
    assert formi.EventKind.START in seen and seen.count(formi.EventKind.MEDIA) >= 90  # 2 s of 20 ms frames
    assert formi.EventKind.DTMF in seen and seen[-1] is formi.EventKind.STOP
    assert report.received_s >= 0.49 and report.rules_broken == {}
