"""The agent bridge's added latency per frame: the same caller (formi.sim, Twilio, speech with pauses) talks
to a frame-by-frame echo twice:

- direct: a Twilio media-stream echo (each media message sent straight back, as an agent server speaking
  Twilio itself would);
- bridged: formi-server in the middle, relaying to an echo agent on formi.agent (docs/agent-protocol.md,
  8 kHz PCM16: each binary frame sent straight back).

The simulator times every echoed 20 ms frame from sending the caller audio to receiving its echo; the
difference between the two runs is what the server in the middle adds.

    make bench-bridge     # = FORMI_LIBRARY=build/lib/libformi.so.0 build/python-venv/bin/python bench/bridge_latency.py \\
        --server .build/release/formi-server
"""
from __future__ import annotations

import argparse
import asyncio
import json
import re
import struct
import subprocess
import sys
import tempfile
import threading
import wave
from pathlib import Path

import formi
import formi.agent
from formi.sim import simulate
from websockets.asyncio.server import serve

REPEAT = 3
PHRASES = ["book a table for four", "what time do you open", "yes please", "goodbye"]


def caller_wav(folder: Path) -> str:
    """The phrases (espeak-ng, 8 kHz) with a second of silence after each, three times over."""
    pcm = b""
    for text in PHRASES * REPEAT:
        wav = folder / "p.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), text], check=True)
        with wave.open(str(wav), "rb") as w:
            rate, data = w.getframerate(), w.readframes(w.getnframes())
        r = formi.Resampler(rate, 8000)
        pcm += bytes(r.process(data)) + bytes(r.drain()) + bytes(16000)
    path = folder / "caller.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(pcm)
    return str(path)


def loud(pcm: bytes) -> bool:
    """Above -50 dBFS: silence is not echoed (else the agent never stops talking and the call never ends)."""
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm[: len(pcm) // 2 * 2])
    return bool(samples) and sum(x * x for x in samples) / len(samples) > 104 ** 2


async def twilio_echo(ws) -> None:
    sid = ""
    async for message in ws:
        event = json.loads(message)
        if event.get("event") == "start":
            sid = event["start"]["streamSid"]
        elif event.get("event") == "media" and loud(bytes(formi.ulaw_decode(formi.base64_decode(event["media"]["payload"])))):
            await ws.send(json.dumps({"event": "media", "streamSid": sid, "media": {"payload": event["media"]["payload"]}}))


async def agent_echo(call: formi.agent.Call) -> None:
    async for event in call:
        if event.type == "audio" and loud(event.audio):
            await call.send_audio(event.audio)


def in_thread(coro_factory) -> int:
    """Runs a server coroutine in a thread of its own (as the real ones would be other processes)."""
    port: list[int] = []
    ready = threading.Event()

    def run() -> None:
        asyncio.run(coro_factory(lambda p: (port.append(p), ready.set())))
    threading.Thread(target=run, daemon=True).start()
    ready.wait(10)
    return port[0]


async def direct_server(ready) -> None:
    async with serve(twilio_echo, "127.0.0.1", 0) as s:
        ready(next(iter(s.sockets)).getsockname()[1])
        await asyncio.Future()


def stats(values: list[float]) -> dict:
    v = sorted(values)
    pick = lambda p: v[min(len(v) - 1, int(p / 100 * len(v)))]
    return {"frames": len(v), "mean": sum(v) / len(v), "p50": pick(50), "p90": pick(90), "p99": pick(99), "max": v[-1]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default=".build/release/formi-server")
    parser.add_argument("--calls", type=int, default=4, help="calls at once in each run (default 4)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        wav = caller_wav(folder)
        direct = in_thread(direct_server)
        agent = in_thread(lambda ready: formi.agent.serve(agent_echo, "127.0.0.1", 0, ready=ready))
        config = folder / "config.json"
        config.write_text(json.dumps({"agents": [{"agent_id": 1, "name": "echo", "agent_url": f"ws://127.0.0.1:{agent}/echo",
                                                   "agent_sample_rate": 8000}]}))
        server = subprocess.Popen([args.server, "--config", str(config), "--port", "0", "--no-audiosocket",
                                   "--data-dir", str(folder / "data"), "--log-level", "warning"],
                                  stdout=subprocess.PIPE, text=True)
        try:
            port = 0
            for line in server.stdout:
                if m := re.search(r"listening on http://[\d.]+:(\d+)", line):
                    port = int(m.group(1))
                    break
            results = {}
            for name, url in [("direct", f"ws://127.0.0.1:{direct}/ws-adapter/twilio/inbound/1/1/+15550100"),
                              ("bridged", f"ws://127.0.0.1:{port}/ws-adapter/twilio/inbound/1/1/+15550100")]:
                report = asyncio.run(simulate(url, wav, calls=args.calls, tail=1.0, jitter_buffer=0))
                assert report.ok, [c.error for c in report.calls]
                results[name] = stats([v for c in report.calls for v in c.latencies_ms])
        finally:
            server.terminate()
            server.wait(10)
    for name, s in results.items():
        print(f"{name:8} {s['frames']} echoed frames: mean {s['mean']:.2f} ms, p50 {s['p50']:.2f}, p90 {s['p90']:.2f}, "
              f"p99 {s['p99']:.2f}, max {s['max']:.2f}")
    d, b = results["direct"], results["bridged"]
    print(f"added by the bridge: mean {b['mean'] - d['mean']:.2f} ms, p50 {b['p50'] - d['p50']:.2f} ms, "
          f"p99 {b['p99'] - d['p99']:.2f} ms per frame")
    return 0


if __name__ == "__main__":
    sys.exit(main())
