"""formi-server end to end: real sockets on loopback, the Python simulator (python -m formi.sim) as the
caller, the ledger read back from its SQLite file. Run by `make test-server` (part of `make test`)."""
from __future__ import annotations

import array
import asyncio
import http.client
import json
import math
import signal
import time
import uuid
import wave

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

import formi
from formi.sim import simulate

from conftest import Server

WS_PROVIDERS = ["twilio", "exotel", "plivo", "telnyx", "vonage", "jambonz", "asterisk", "asterisk-text", "audiosocket"]


def level_dbfs(pcm: bytes) -> float:
    samples = array.array("h", pcm[: len(pcm) // 2 * 2])
    power = sum(s * s for s in samples) / len(samples) if samples else 0
    return 10 * math.log10(power / 32768 ** 2) if power else -100.0


def speech_seconds(path: str, until: float) -> float:
    """Seconds of the saved WAV, up to `until`, louder than -40 dBFS (in 20 ms frames)."""
    with wave.open(path, "rb") as w:
        rate = w.getframerate()
        pcm = w.readframes(int(rate * until))
    frame = rate // 50 * 2
    return sum(0.02 for i in range(0, len(pcm) - frame + 1, frame) if level_dbfs(pcm[i:i + frame]) > -40)


def upgrade(server: Server, path: str, upgrade: bool = True) -> tuple[int, dict]:
    con = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    headers = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="} if upgrade else {}
    con.request("GET", path, headers=headers)
    r = con.getresponse()
    body = r.read()
    con.close()
    return r.status, (json.loads(body) if body else {})


def test_health_ready_and_metrics_parse(server: Server) -> None:
    assert server.get("/healthz") == (200, '{"status":"ok"}')
    status, body = server.get("/readyz")
    ready = json.loads(body)
    assert status == 200 and ready["ready"] is True and ready["templates"] == 9 and ready["draining"] is False
    names = {key.partition("{")[0] for key in server.metrics()}
    for family in ("formi_frame_processing_seconds_bucket", "formi_ledger_write_seconds_count", "formi_barge_ins_total",
                   "formi_tts_fallbacks_total", "formi_frames_dropped_total"):
        assert family in names, family


@pytest.mark.parametrize("path,status,words", [
    ("/ws-adapter/nosuch/inbound/1/1/+15550100", 404, "unknown provider 'nosuch'"),
    ("/ws-adapter/twilio/sideways/1/1/+15550100", 400, "call_type must be inbound or outbound"),
    ("/ws-adapter/twilio/inbound/one/1/+15550100", 400, "agent_id must be a positive integer"),
    ("/ws-adapter/twilio/inbound/1/1.5/+15550100", 400, "outlet_id must be a positive integer"),
    ("/ws-adapter/twilio/inbound/-3/1/+15550100", 400, "agent_id must be a positive integer"),
    ("/ws-adapter/twilio/inbound/99/1/+15550100", 404, "no agent 99"),
    ("/ws-adapter/twilio/inbound/1/77/+15550100", 404, "no outlet 77"),
    ("/ws-adapter/twilio/inbound/1/1/+15550100?caller_id=" + "9" * 80, 400, "caller_id must be"),
    ("/ws-adapter/twilio/inbound/1/1", 404, "expected /ws-adapter/"),
])
def test_refused_urls(server: Server, path: str, status: int, words: str) -> None:
    got, body = upgrade(server, path)
    assert got == status
    assert body["success"] is False and words in body["message"], body


def test_plain_get_needs_an_upgrade(server: Server) -> None:
    got, body = upgrade(server, "/ws-adapter/twilio/inbound/1/1/+15550100", upgrade=False)
    assert got == 426 and body == {"success": False, "message": "this endpoint takes a WebSocket upgrade"}


@pytest.mark.parametrize("provider", WS_PROVIDERS + ["audiosocket-tcp"])
def test_call(server: Server, silence, tmp_path, provider: str) -> None:
    """Greeting heard, a barge-in cut by the provider's clear, DTMF moving the flow, one ledger record."""
    server.settle()
    before = len(server.interactions())
    heard = str(tmp_path / "heard.wav")
    # AudioSocket is paced by the sender (the server, in real time): the caller's clock must be real time too.
    paced = provider.startswith("audiosocket")
    report = asyncio.run(simulate(server.url(provider), silence(9 if paced else 12), speed=1 if paced else 2,
                                  barge_in=[3.0], barge_in_seconds=0.6,
                                  dtmf=[(6.0, "1")], save=heard, tail=1.0))
    call = report.calls[0]
    assert call.ok, call.error
    # The greeting: speech in the first 3 s of what the caller heard (before the barge-in).
    assert speech_seconds(heard, 3.0) > 1.2
    # Barge-in: the agent's audio stopped within a few frames of the caller's speech (the VAD needs
    # 60 ms of it), and the provider's clear went out (AudioSocket has none: the server's pacing stops).
    barge = call.barge_ins[0]
    assert barge["triggered"]
    # Heard after the caller started: the VAD's 60 ms, a frame, and for AudioSocket the 60 ms the
    # server keeps ahead of real time (it has no clear: what was sent plays out).
    assert barge["talked_over_ms"] <= (200 if paced else 100)
    if not paced:
        assert barge["cleared"], call.events
    server.settle()
    rows = server.interactions()
    assert len(rows) == before + 1, "exactly one ledger record per call"
    row = rows[-1]
    ledger = formi.Ledger(str(server.data_dir / "usage.db"))
    try:
        record = ledger.query({"query": "interaction", "interaction_id": row["interaction_id"]})
    finally:
        ledger.close()
    text = json.dumps(record)
    # DTMF 1 moved the flow from the greeting (1) to the party size (2).
    assert '"flow_path": [1, 2' in text or '"flow_path":[1,2' in text, text[:2000]
    assert row["ended_ms"] >= row["started_ms"]
    assert record["cost"] > 0 if isinstance(record.get("cost"), int) else "cost" in text
    assert '"barge_ins": 1' in text or '"barge_ins":1' in text or '"barge_ins": 2' in text, text[:2000]


def test_ledger_debits_credits(server: Server, silence) -> None:
    server.settle()
    ledger = formi.Ledger(str(server.data_dir / "usage.db"))
    try:
        before = ledger.query({"query": "credits", "outlet_id": "1", "agent_id": "1"})
        report = asyncio.run(simulate(server.url("twilio"), silence(3), speed=4, tail=0.5))
        assert report.calls[0].ok
        server.settle()
        after = ledger.query({"query": "credits", "outlet_id": "1", "agent_id": "1"})
    finally:
        ledger.close()
    # Per-second billing at one credit a minute: a call of a few seconds costs a few 16,667ths.
    spent = before["available_credits"] - after["available_credits"]
    assert 16_667 <= spent <= 20 * 16_667, (before, after)


def twilio_phone() -> formi.Session:
    return formi.Session("twilio", role="telephony", local_format=("pcm16le", 8000),
                         stream_id=f"MZtest{uuid.uuid4().hex[:20]}", call_id=str(uuid.uuid4()), from_="+15550111")


async def recv_some(ws, seconds: float) -> list:
    """What arrives within `seconds` (less if the connection closes)."""
    loop = asyncio.get_running_loop()
    got, deadline = [], loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            got.append(await asyncio.wait_for(ws.recv(), left))
        except (asyncio.TimeoutError, ConnectionClosed):
            break
    return got


def test_malformed_frame_mid_call(server: Server) -> None:
    server.settle()
    errors_before = server.metric_sum("formi_errors_total", kind="protocol")
    before = len(server.interactions())

    async def call() -> tuple[list, list, int]:
        phone = twilio_phone()
        async with connect(server.url("twilio")) as ws:
            for m in phone.outputs():
                await ws.send(m.text)
            first = await recv_some(ws, 0.5)
            await ws.send("{this is not json")
            await ws.send(json.dumps({"event": "media", "media": {"payload": "!!not base64!!"}}))
            await ws.send(b"\x00\x01binary where Twilio sends none")
            phone.set_time(0)
            phone.send_audio(b"\0\0" * 160)
            phone.send_dtmf("2")
            for m in phone.outputs():
                await ws.send(m.text)
            later = await recv_some(ws, 1.0)
            phone.end("hangup")
            for m in phone.outputs():
                await ws.send(m.text)
            await recv_some(ws, 2.0)
            return first, later, ws.close_code
    first, later, code = asyncio.run(call())
    assert first and later, "the server went on talking after the bad frames"
    clears = [m for m in later if isinstance(m, str) and '"clear"' in m]
    assert len(clears) == 1, f"DTMF after the bad frames barged in once: {clears}"
    assert code == 1000
    assert server.metric_sum("formi_errors_total", kind="protocol") >= errors_before + 3
    rows = server.wait_for_records(before + 1)
    assert len(rows) == before + 1


def test_client_that_vanishes(server: Server) -> None:
    """A TCP connection cut without a close frame, and one that goes silent: both end, both recorded."""
    server.settle()
    before = len(server.interactions())

    async def vanish() -> None:
        phone = twilio_phone()
        ws = await connect(server.url("twilio"))
        for m in phone.outputs():
            await ws.send(m.text)
        await recv_some(ws, 0.3)
        ws.transport.abort()  # no close frame, no FIN handshake: a reset

    async def silent() -> float:
        phone = twilio_phone()
        async with connect(server.url("twilio")) as ws:
            for m in phone.outputs():
                await ws.send(m.text)
            start = time.time()
            await recv_some(ws, 10)  # the server closes after --idle-seconds 3
            assert ws.close_code == 1001, (ws.close_code, ws.close_reason)
            return time.time() - start
    asyncio.run(vanish())
    waited = asyncio.run(silent())
    assert 2.5 < waited < 6
    rows = server.wait_for_records(before + 2)  # the cut one after the 1 s reconnect grace
    assert len(rows) == before + 2
    deadline = time.time() + 5
    while server.metric_sum("formi_calls_active") > 0 and time.time() < deadline:
        time.sleep(0.1)
    assert server.metric_sum("formi_calls_active") == 0


def test_many_connections_no_leak(server: Server) -> None:
    async def one(i: int) -> None:
        phone = twilio_phone()
        async with connect(server.url("twilio")) as ws:
            for m in phone.outputs():
                await ws.send(m.text)
            await asyncio.sleep(0.2)
            phone.end("hangup")
            for m in phone.outputs():
                await ws.send(m.text)

    async def wave_of(n: int) -> None:
        for start in range(0, n, 50):
            await asyncio.gather(*(one(i) for i in range(start, min(n, start + 50))))

    asyncio.run(wave_of(50))  # warm up: caches, pools, the allocator's arenas
    server.settle()
    base = server.rss_kib()
    before = len(server.interactions())
    asyncio.run(wave_of(200))
    rows = server.wait_for_records(before + 200, timeout=30)
    assert len(rows) == before + 200
    deadline = time.time() + 10
    while server.metric_sum("formi_calls_active") > 0 and time.time() < deadline:
        time.sleep(0.1)
    assert server.metric_sum("formi_calls_active") == 0
    grown = server.rss_kib() - base
    print(f"RSS after 200 calls: {grown / 1024:+.1f} MiB over the baseline of {base / 1024:.1f} MiB")
    assert grown < 16 * 1024, f"RSS grew by {grown} KiB over 200 calls"


def test_capacity_refuses_with_503(tmp_path, silence) -> None:
    s = Server(tmp_path, "--max-calls", "2")
    try:
        async def scenario() -> tuple[int, dict]:
            phones = [twilio_phone() for _ in range(2)]
            sockets = [await connect(s.url("twilio")) for _ in phones]
            for ws, phone in zip(sockets, phones):
                for m in phone.outputs():
                    await ws.send(m.text)
            await asyncio.sleep(0.3)
            result = await asyncio.to_thread(upgrade, s, "/ws-adapter/twilio/inbound/1/1/+15550100")
            for ws in sockets:
                await ws.close()
            return result
        status, body = asyncio.run(scenario())
        assert status == 503 and body["success"] is False and "limit of 2 calls" in body["message"]
        assert s.metric_sum("formi_calls_refused_total", reason="capacity") == 1
    finally:
        s.stop()


def test_sigterm_drains(tmp_path, silence) -> None:
    s = Server(tmp_path, "--drain-seconds", "1")

    async def scenario() -> tuple:
        task = asyncio.ensure_future(simulate(s.url("twilio"), silence(30), speed=1))
        await asyncio.sleep(1.5)
        s.proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        # While draining: not ready, and new calls are refused.
        ready = await asyncio.to_thread(s.get, "/readyz")
        refused = await asyncio.to_thread(upgrade, s, "/ws-adapter/twilio/inbound/1/1/+15550100")
        report = await task
        return ready, refused, report
    (ready_status, _), (refused_status, refused_body), report = asyncio.run(scenario())
    assert ready_status == 503
    assert refused_status == 503 and refused_body["message"] == "the server is shutting down"
    call = report.calls[0]
    assert call.close_code == 1001 and call.close_reason == "the server is shutting down"
    assert s.proc.wait(15) == 0
    rows = s.interactions()
    assert len(rows) == 1, "the drained call is in the ledger"
    assert "drained: 0 call(s) finished, 1 ended by the shutdown" in s.log


def test_tone_fallback_when_synthesis_fails(tmp_path, silence) -> None:
    """An agent whose voice espeak-ng does not have: the caller hears the tone pattern, logged and counted."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"agents": [{"agent_id": 1, "flow": "demo", "voice": "no-such-voice"}]}))
    s = Server(tmp_path / "data", "--config", str(config))
    try:
        heard = str(tmp_path / "heard.wav")
        report = asyncio.run(simulate(s.url("twilio"), silence(3), speed=4, save=heard, tail=0.5))
        assert report.calls[0].ok
        assert 0.3 < speech_seconds(heard, 3.0) < 1.0, "the 0.45 s of beeps, not a spoken greeting"
        assert s.metric_sum("formi_tts_fallbacks_total") >= 1
        assert "speech synthesis failed: the caller hears tones" in s.log
    finally:
        s.stop()


async def place(server: Server, stream: str) -> tuple:
    phone = formi.Session("twilio", role="telephony", local_format=("pcm16le", 8000), stream_id=stream,
                          call_id=stream, from_="+15550111")
    ws = await connect(server.url("twilio"))
    for m in phone.outputs():
        await ws.send(m.text)
    return phone, ws


async def press(phone: formi.Session, ws, digit: str, clock: list) -> list:
    """Sends a key (with a frame of audio around it) and collects what comes back for a while."""
    clock[0] += 20
    phone.set_time(clock[0])
    phone.send_audio(b"\0\0" * 160)
    phone.send_dtmf(digit)
    for m in phone.outputs():
        await ws.send(m.text)
    return await recv_some(ws, 1.0)


def media_frames(messages: list) -> int:
    return sum(1 for m in messages if isinstance(m, str) and '"media"' in m)


def test_reconnect_within_grace_resumes_the_call(tmp_path) -> None:
    s = Server(tmp_path, "--reconnect-grace-seconds", "3")
    try:
        stream = f"MZresume{uuid.uuid4().hex[:16]}"

        async def scenario() -> tuple:
            clock = [0]
            phone, ws = await place(s, stream)
            greeting = await recv_some(ws, 0.5)
            said = await press(phone, ws, "1", clock)  # greeting -> party size
            ws.transport.abort()  # the socket drops mid-prompt, no stop
            await asyncio.sleep(0.5)
            phone2, ws2 = await place(s, stream)  # the same stream id, within the grace period
            rest = await recv_some(ws2, 0.5)
            after = await press(phone2, ws2, "4", clock)  # valid in "party size" only: -> confirm
            phone2.end("hangup")
            for m in phone2.outputs():
                await ws2.send(m.text)
            await recv_some(ws2, 1.0)
            return greeting, said, rest, after
        greeting, said, rest, after = asyncio.run(scenario())
        # Agent audio is paced (400 ms ahead of real time): about 25 frames + 20 a second.
        assert media_frames(greeting) > 20 and media_frames(said) > 20
        assert media_frames(rest) > 10 and media_frames(after) > 20
        assert "resuming the utterance" in s.log, "the rest of the prompt, not a new greeting"
        rows = s.wait_for_records(1)
        time.sleep(0.5)
        rows = s.interactions()
        assert len(rows) == 1, "one call, billed once"
        ledger = formi.Ledger(str(tmp_path / "usage.db"))
        try:
            record = ledger.query({"query": "interaction", "interaction_id": stream})
        finally:
            ledger.close()
        text = json.dumps(record)
        assert '"flow_path": [1, 2, 4]' in text, text[:3000]
        assert '"reconnects": 1' in text
        assert "resumed" in s.log
    finally:
        s.stop()


def test_reconnect_after_grace_is_a_new_call(tmp_path) -> None:
    s = Server(tmp_path, "--reconnect-grace-seconds", "1")
    try:
        stream = f"MZlate{uuid.uuid4().hex[:16]}"

        async def scenario() -> None:
            clock = [0]
            phone, ws = await place(s, stream)
            await recv_some(ws, 0.3)
            await press(phone, ws, "1", clock)
            ws.transport.abort()
            await asyncio.sleep(2.0)  # past the grace period: the first call is over and recorded
            phone2, ws2 = await place(s, stream)
            greeting = await recv_some(ws2, 0.5)
            assert media_frames(greeting) > 20, "a new call starts with the greeting"
            phone2.end("hangup")
            for m in phone2.outputs():
                await ws2.send(m.text)
            await recv_some(ws2, 1.0)
        asyncio.run(scenario())
        rows = s.wait_for_records(2)
        assert sorted(r["interaction_id"] for r in rows) == [stream, stream + "#2"]
        assert "not resumed within 1 s" in s.log
    finally:
        s.stop()
