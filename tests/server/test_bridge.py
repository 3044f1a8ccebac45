"""The agent bridge end to end: formi-server relays calls from every built-in provider (the simulator as the
caller) to a Python agent on loopback written with formi.agent (docs/agent-protocol.md). Audio both ways
(bit-exact where the formats allow: Twilio's µ-law 8 kHz with an 8 kHz agent), marks, barge-in decided by
the agent, its hang-up, an agent that cannot be reached and one that vanishes mid-call. Run by
`make test-server`."""
from __future__ import annotations

import asyncio
import json
import math
import random
import socket
import struct
import threading
import time
import wave
from pathlib import Path
from typing import Any, Dict, List

import pytest

import formi
import formi.agent
from formi.sim import simulate

from conftest import Server
from test_server import WS_PROVIDERS, speech_seconds

RATE = 8000


def exact_tone(freq: float, seconds: float, seed: int, dbfs: float = -12) -> bytes:
    """A tone with a little noise (so a match of it is not a coincidence), every sample a µ-law value:
    through µ-law and back it comes out bit for bit."""
    rng = random.Random(seed)
    amp = 32768 * 10 ** (dbfs / 20)
    pcm = struct.pack(f"<{int(RATE * seconds)}h", *(max(-32768, min(32767, int(amp * math.sin(2 * math.pi * freq * i / RATE))
                                                              + rng.randint(-300, 300))) for i in range(int(RATE * seconds))))
    return bytes(formi.ulaw_decode(formi.ulaw_encode(pcm)))


def tone_share(pcm: bytes, freq: float, rate: int = RATE) -> float:
    """Of the power of the loud 20 ms frames of `pcm`, the share at `freq` (Goertzel)."""
    n = rate // 50
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm[: len(pcm) // 2 * 2])
    at, total = 0.0, 0.0
    for i in range(0, len(samples) - n + 1, n):
        frame = samples[i:i + n]
        power = sum(s * s for s in frame)
        if power / n < (32768 * 0.01) ** 2:  # quieter than -40 dBFS
            continue
        w = 2 * math.pi * freq / rate
        s1 = s2 = 0.0
        for x in frame:
            s1, s2 = x + 2 * math.cos(w) * s1 - s2, s1
        at += (s1 * s1 + s2 * s2 - 2 * math.cos(w) * s1 * s2) * 2 / n
        total += power
    return at / total if total else 0.0


def rms_dbfs(pcm: bytes) -> float:
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm[: len(pcm) // 2 * 2])
    power = sum(s * s for s in samples) / max(1, len(samples))
    return 10 * math.log10(power / 32768 ** 2) if power else -100.0


AGENT_TONE = exact_tone(500, 1.0, seed=1)
CALLER_TONE = exact_tone(1000, 3.0, seed=2)


class Agent:
    """A Python agent on loopback (formi.agent), in a thread of its own; it behaves by the path called."""

    def __init__(self) -> None:
        self.calls: List[Dict[str, Any]] = []
        self.port = 0
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.task = self.loop.create_task(formi.agent.serve(self.bot, "127.0.0.1", 0, ready=lambda p: (setattr(self, "port", p), ready.set())))
            try:
                self.loop.run_until_complete(self.task)
            except asyncio.CancelledError:
                pass
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(10), "the agent did not start"

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(10)

    async def bot(self, call: formi.agent.Call) -> None:
        record: Dict[str, Any] = {"start": call.start, "path": call.path, "heard": bytearray(), "events": []}
        self.calls.append(record)
        if call.path == "/tone":
            # The agent's speech in odd chunk sizes (the server frames it), then a mark.
            for i in range(0, len(AGENT_TONE), 333):
                await call.send_audio(AGENT_TONE[i:i + 333])
            await call.mark("m1")
            await call.transfer("front desk")
        elif call.path == "/barge":
            await call.send_audio(exact_tone(500, 6.0, seed=3))
            await call.mark("long")
        elif call.path == "/vanish":
            await call.send_audio(AGENT_TONE[: RATE])
        elif call.path == "/flood":
            # Ten minutes of 48 kHz audio as fast as the socket takes it: the server must hold it back.
            async def flood() -> None:
                chunk = bytes(struct.pack("<h", 3000) * 48000)  # 1 s
                record["flood_t0"] = time.monotonic()
                record["flooded"] = 0
                for _ in range(600):
                    await call.send_audio(chunk)
                    record["flooded"] += len(chunk)
            record["flood"] = asyncio.ensure_future(flood())
        cleared = hung = False
        async for event in call:
            if event.type == "audio":
                record["heard"] += event.audio
                seconds = len(record["heard"]) / 2 / RATE
                if call.path == "/barge" and not cleared and seconds > 0.5 and rms_dbfs(event.audio) > -30:
                    cleared = True
                    record["clear_at"] = seconds
                    await call.clear()
                if call.path == "/vanish" and seconds >= 1.0:
                    call._ws.transport.abort()  # gone: no close frame, no stop
                    return
                if call.path == "/tone" and not hung and seconds >= 2.5 and any(e["type"] == "mark" for e in record["events"]):
                    hung = True
                    record["events"].append({"type": "sent hangup", "at": time.time()})
                    await call.send_audio(AGENT_TONE[: RATE // 4])
                    await call.hangup("done")
            else:
                record["events"].append(dict(event.data, at=time.time()))
                if event.type == "interrupted":
                    await call.send_audio(AGENT_TONE[: RATE // 2])
                    await call.mark("after")
                if event.type == "mark" and event.name == "after":
                    await call.hangup("done after the barge-in")


@pytest.fixture(scope="module")
def agent():
    a = Agent()
    yield a
    a.stop()


@pytest.fixture(scope="module")
def bridged(agent: Agent, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("bridge")
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    nobody = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    url = f"ws://127.0.0.1:{agent.port}"
    config = {"audiosocket": {"agent_id": 2, "outlet_id": 1}, "agents": [
        {"agent_id": 1, "name": "Demo host", "flow": "demo"},
        {"agent_id": 2, "name": "tone bot", "agent_url": url + "/tone", "agent_sample_rate": RATE},
        {"agent_id": 3, "name": "barge bot", "agent_url": url + "/barge", "agent_sample_rate": RATE},
        {"agent_id": 4, "name": "vanishing bot", "agent_url": url + "/vanish", "agent_sample_rate": RATE},
        {"agent_id": 5, "name": "nobody", "agent_url": f"ws://127.0.0.1:{nobody}/", "agent_sample_rate": RATE},
        {"agent_id": 6, "name": "flooding bot", "agent_url": url + "/flood", "agent_sample_rate": 48000},
    ]}
    path = folder / "config.json"
    path.write_text(json.dumps(config))
    s = Server(folder / "data", "--config", str(path), "--idle-seconds", "5", "--reconnect-grace-seconds", "0")
    yield s
    s.stop()


def caller_wav(folder: Path, seconds: float = 4.0, tone: bool = True) -> str:
    """Half a second of silence, the caller's 3 s tone (or more silence), silence to `seconds`."""
    path = folder / "caller.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(bytes(RATE // 2 * 2) + (CALLER_TONE if tone else bytes(len(CALLER_TONE)))
                      + bytes(int(RATE * (seconds - 3.5)) * 2))
    return str(path)


def record_of(server: Server, before: int) -> Dict[str, Any]:
    server.settle()
    rows = server.interactions()
    assert len(rows) == before + 1, "exactly one ledger record per call"
    ledger = formi.Ledger(str(server.data_dir / "usage.db"))
    try:
        return ledger.query({"query": "interaction", "interaction_id": rows[-1]["interaction_id"]})["interaction"]
    finally:
        ledger.close()


def place(server: Server, provider: str, agent_id: int, wav: str, heard: str, **kw: Any):
    # AudioSocket over TCP has no URL to route by: the config sends its calls to agent 2.
    url = server.url(provider, f"inbound/{agent_id}/1/+15550100")
    return asyncio.run(simulate(url, wav, save=heard, **kw)).calls[0]


@pytest.mark.parametrize("provider", WS_PROVIDERS + ["audiosocket-tcp"])
def test_bridge_every_provider(bridged: Server, agent: Agent, tmp_path: Path, provider: str) -> None:
    """Both directions of audio, the agent's mark and hang-up, the start's fields, one ledger record."""
    bridged.settle()
    before = len(bridged.interactions())
    n = len(agent.calls)
    heard = str(tmp_path / "heard.wav")
    call = place(bridged, provider, 2, caller_wav(tmp_path), heard, dtmf=[(1.5, "5")], tail=1.0)
    assert call.ok, call.error
    mine = agent.calls[n]
    start = mine["start"]
    assert start["type"] == "start" and start["version"] == 1 and start["provider"] == provider.replace("-tcp", "")
    assert start["audio"] == {"encoding": "pcm16le", "sample_rate": RATE, "channels": 1}
    assert start["agent_id"] == 2 and start["outlet_id"] == 1
    assert start["virtual_number"] == ("audiosocket" if provider == "audiosocket-tcp" else "+15550100")
    # Caller -> agent: the 1 kHz tone, at its level, most of its 3 s.
    got = bytes(mine["heard"])
    assert len(got) / 2 / RATE >= 2.5
    assert tone_share(got, 1000) > 0.8 and -15 < rms_dbfs(got[RATE * 2:RATE * 5]) < -9  # 1 to 2.5 s in
    # Agent -> caller: the 500 Hz tone sent in 333-byte pieces, heard whole.
    with wave.open(heard, "rb") as w:
        rate, pcm = w.getframerate(), w.readframes(w.getnframes())
    assert rate == RATE
    assert speech_seconds(heard, 10) >= 1.1  # 1 s, then a quarter second before the hang-up
    assert tone_share(pcm, 500) > 0.8
    # The mark came back, played.
    marks = [e for e in mine["events"] if e["type"] == "mark"]
    assert marks and {k: marks[0][k] for k in ("type", "name", "played")} == {"type": "mark", "name": "m1", "played": True}
    # The key reached the agent; the transfer was answered: no provider's media stream can do it.
    assert {"type": "dtmf", "digit": "5"} in [{k: e[k] for k in ("type", "digit") if k in e} for e in mine["events"]]
    errors = [e["message"] for e in mine["events"] if e["type"] == "error"]
    assert errors == [f"transfer to front desk is not supported by {provider.replace('-tcp', '')}'s media stream"], errors
    record = record_of(bridged, before)
    assert record["outcome"] == "resolved", record
    assert record["counters"]["dtmf"] == 1
    assert "the agent hung up: done" in json.dumps(record), (json.dumps(record), mine["events"])
    if provider == "twilio":
        # µ-law 8 kHz to an 8 kHz agent: lossless both ways.
        mid = CALLER_TONE[RATE // 2 * 2: RATE * 2 * 2]
        assert mid in got, "the caller's audio reached the agent bit for bit"
        assert AGENT_TONE[RATE // 4 * 2: RATE * 3 // 4 * 2] in pcm, "the agent's audio reached the caller bit for bit"


def test_bridge_barge_in(bridged: Server, agent: Agent, tmp_path: Path) -> None:
    """The agent hears the caller talk over it and clears: the provider's clear goes out, the agent learns
    how much was heard, its cut mark comes back unplayed, and the call goes on."""
    bridged.settle()
    before = len(bridged.interactions())
    n = len(agent.calls)
    call = place(bridged, "twilio", 3, caller_wav(tmp_path, 5.0, tone=False), str(tmp_path / "heard.wav"),
                 barge_in=[2.0], barge_in_seconds=0.6, tail=1.0)
    assert call.ok, call.error
    mine = agent.calls[n]
    assert call.barge_ins and call.barge_ins[0]["triggered"] and call.barge_ins[0]["cleared"], call.barge_ins
    interrupted = [e for e in mine["events"] if e["type"] == "interrupted"]
    assert len(interrupted) == 1 and 1000 <= interrupted[0]["heard_ms"] <= 4000, mine["events"]
    marks = {e["name"]: e["played"] for e in mine["events"] if e["type"] == "mark"}
    assert marks == {"long": False, "after": True}, mine["events"]
    record = record_of(bridged, before)
    assert record["outcome"] == "resolved" and record["counters"]["barge_ins"] == 1, record


def test_agent_unreachable(bridged: Server, tmp_path: Path) -> None:
    """Nobody at the agent URL: the caller hears the apology, the call ends cleanly, recorded with why."""
    bridged.settle()
    before = len(bridged.interactions())
    heard = str(tmp_path / "heard.wav")
    t0 = time.time()
    call = place(bridged, "twilio", 5, caller_wav(tmp_path, 10.0), heard, tail=1.0)
    assert call.ok, call.error
    assert call.closed_by == "server" and time.time() - t0 < 12
    assert speech_seconds(heard, 10) > 2.0, "the fallback prompt was heard"
    record = record_of(bridged, before)
    text = json.dumps(record)
    assert record["outcome"] == "other" and record["escalation_reason"] == "agent unreachable", text[:2000]
    assert "agent unreachable:" in text


def test_agent_vanishes_mid_call(bridged: Server, agent: Agent, tmp_path: Path) -> None:
    """The agent's connection drops without a word: the caller still gets the apology and a clean end."""
    bridged.settle()
    before = len(bridged.interactions())
    heard = str(tmp_path / "heard.wav")
    call = place(bridged, "twilio", 4, caller_wav(tmp_path, 10.0), heard, tail=1.0)
    assert call.ok, call.error
    assert call.closed_by == "server"
    assert speech_seconds(heard, 12) > 2.5, "the agent's second of audio, then the fallback prompt"
    record = record_of(bridged, before)
    text = json.dumps(record)
    assert record["outcome"] == "other" and record["escalation_reason"] == "agent disconnected", text[:2000]
    # The server is fine afterwards: the next call is served.
    assert bridged.get("/healthz")[0] == 200


def test_agent_faster_than_real_time_is_held_back(bridged: Server, agent: Agent, tmp_path: Path) -> None:
    """An agent that sends audio as fast as it can: the session takes up to its queue cap (60 s of audio),
    the bridge a second more, then the server stops reading, so the agent's sends block; memory stays
    flat. The caller hangs up mid-flood and the call is recorded once."""
    bridged.settle()
    before = len(bridged.interactions())
    rss_before = bridged.rss_kib()
    n = len(agent.calls)

    async def call_and_hang_up() -> tuple:
        task = asyncio.ensure_future(simulate(bridged.url("twilio", "inbound/6/1/+15550100"),
                                              caller_wav(tmp_path, 30.0, tone=False), tail=0.5))
        await asyncio.sleep(6)
        flooded, rss = agent.calls[n]["flooded"], bridged.rss_kib()
        task.cancel()  # the simulator hangs up on its way out
        try:
            await task
        except asyncio.CancelledError:
            pass
        return flooded, rss

    flooded, rss = asyncio.run(call_and_hang_up())
    agent.calls[n]["flood"].cancel()
    sent_mb = flooded / 2 ** 20
    # Without backpressure all 55 MiB go in about a second; held back: the session's 60 s (5.5 MiB at
    # 48 kHz, held as 0.5 MiB of µ-law), a second in the bridge, and what the sockets' buffers hold.
    assert sent_mb < 25, f"the agent got {sent_mb:.1f} MiB through in 6 s"
    assert rss - rss_before < 40 * 1024, f"the server grew {(rss - rss_before) // 1024} MiB"
    record = record_of(bridged, before)
    assert record["session_stats"]["agent_audio_ms"] >= 5000, "the caller heard the agent meanwhile"
