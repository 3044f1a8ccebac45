"""The call simulator (formi.sim) against the example echo server (formi.echo), end to end
over real WebSockets on localhost: calls in several providers' protocols, DTMF, barge-in, concurrent
calls with latency percentiles, the command line, and the server's refusals and shutdown; and AudioSocket
over raw TCP, as Asterisk calls (formi.audiosocket on the server's side)."""
from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import math
import os
import re
import signal
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from conftest import write_wav

pytest.importorskip("websockets", minversion="13")

import formi  # noqa: E402
from formi import audiosocket, sim  # noqa: E402

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "echo_server.py"
SPEED = 10         # the calls run ten times faster than real time
JITTER = 0.2       # a roomy jitter buffer (call time): busy test machines do not make lost frames


@pytest.fixture(scope="module")
def echo():
    """The example server, imported from its file."""
    spec = importlib.util.spec_from_file_location("echo_server", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def caller_wav(tmp_path_factory) -> str:
    """4 s at 16 kHz: a 0.8 s "word", a pause, a 0.6 s word, a pause; the echo of each plays in the pause
    after it (the server waits for 0.4 s of silence)."""
    rate = 16000

    def word(seconds: float, freq: float, amplitude: float) -> list:
        n = int(rate * seconds)
        return [int(32767 * amplitude * (0.6 + 0.4 * math.sin(2 * math.pi * 3 * i / rate))
                    * math.sin(2 * math.pi * freq * i / rate)) for i in range(n)]

    def pause(seconds: float) -> list:
        return [0] * int(rate * seconds)

    samples = word(0.8, 300, 0.3) + pause(1.4) + word(0.6, 500, 0.2) + pause(1.2)
    path = tmp_path_factory.mktemp("sim") / "caller.wav"
    return write_wav(path, samples, rate)


def url(port: int, provider: str) -> str:
    return f"ws://127.0.0.1:{port}/ws-adapter/{provider}/inbound/agent-1/outlet-1/+15550100"


def simulate_against(echo, provider: str, wav: str, **options) -> sim.SimReport:
    """Runs the example server on a free port and the simulator against it, in one event loop."""
    from websockets.asyncio.server import serve

    async def run() -> sim.SimReport:
        async with serve(echo.handle, "127.0.0.1", 0, compression=None) as server:
            port = server.sockets[0].getsockname()[1]
            return await sim.simulate(url(port, provider), wav, speed=SPEED, jitter_buffer=JITTER, **options)

    return asyncio.run(run())


def subprocess_env() -> dict:
    """The environment for child processes: they import this formi (installed or the source tree)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(formi.__file__).parent.parent),
                                                      env.get("PYTHONPATH")]))
    return env


def start_server(*options: str) -> subprocess.Popen:
    # `python -m formi.echo`, as the README runs it (examples/echo_server.py is a wrapper of the same).
    return subprocess.Popen([sys.executable, "-m", "formi.echo", "--port", "0", *options], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=subprocess_env())


def read_port(process: subprocess.Popen, pattern: str) -> int:
    """The port in the server's next line of output, which must match `pattern`."""
    line = process.stdout.readline()
    found = re.search(pattern, line)
    assert found, f"the server did not start: {line}{process.stdout.read() if process.poll() is not None else ''}"
    return int(found.group(1))


@pytest.fixture
def server_process():
    """The example server as its own process on a free port: (process, port)."""
    process = start_server()
    try:
        yield process, read_port(process, r"ws://127\.0\.0\.1:(\d+)/")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# ---- one call, end to end --------------------------------------------------------------------------

@pytest.mark.parametrize("provider", ["twilio", "vonage", "jambonz"])
def test_echo_call(echo, caller_wav, provider, capsys, tmp_path):
    """A call in a text protocol (Twilio) and in binary ones (Vonage, jambonz: L16 frames): it connects,
    the caller hears its words back, the server sees the DTMF, talking over the echo clears it, and no
    frame is lost."""
    heard_wav = tmp_path / "heard.wav"
    report = simulate_against(echo, provider, caller_wav, dtmf=[(1.0, "5")], barge_in=[3.3], save=str(heard_wav))
    server = capsys.readouterr().out
    assert report.ok and len(report.calls) == 1
    call = report.calls[0]
    print(json.dumps(call.to_dict(), indent=1), server)  # shown when an assertion fails
    assert call.connected and call.error is None and call.closed_by == "simulator" and call.close_code == 1000

    assert call.heard_s > 0.5                                   # the echo of the first word at least
    assert call.utterances >= 2 and call.received_s >= call.heard_s
    assert f"{provider}] DTMF 5" in server                      # the server saw the key press
    assert call.dtmf == [{"at": 1.0, "digit": "5"}] and call.stats["dtmf_digits"] == 1

    (barge,) = call.barge_ins                                   # barge-in: the agent cleared its audio
    assert barge["triggered"] and barge["cleared"] and barge["clear_ms"] is not None
    assert barge["at"] >= 3.3 and barge["talked_over_ms"] < 600  # the echo of the 0.6 s word was cut short
    assert "clear" in [e["event"] for e in call.events]
    assert "barge-in: the caller heard" in server and "cleared" in server

    assert call.lost_frames == 0
    assert call.stats["late_frames"] == 0 and call.stats["lost_frames"] == 0
    latency = call.latency()                                    # every echoed frame matched and timed
    assert latency["frames"] >= 40 and call.unmatched_frames == 0
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]

    with wave.open(str(heard_wav), "rb") as w:                  # --save: the call as the caller heard it
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
        assert w.getnframes() == round(call.duration_s * 16000)
        assert sim.level_dbfs(w.readframes(w.getnframes())) > -40
    # The session's clock ran from the first message on: the call has a start and a duration.
    found = re.search(rf"{provider}\] ended \(.*\) after ([\d.]+) s: caller \d", server)
    assert found, server
    assert 0 < float(found.group(1)) <= call.wall_s + 1


@pytest.mark.parametrize("provider", [p for p in formi.BUILTIN_PROVIDERS if p not in ("twilio", "vonage", "jambonz")])
def test_every_other_provider_echoes(echo, caller_wav, provider, capsys):
    report = simulate_against(echo, provider, caller_wav, dtmf=[(1.0, "7#"), (5.0, "9")])
    call = report.calls[0]
    assert report.ok and call.heard_s > 0.5 and call.latency()["frames"] > 0, call
    assert [(d["at"], d["digit"]) for d in call.dtmf] == [(1.0, "7"), (1.2, "#"), (5.0, "9")]
    server = capsys.readouterr().out
    assert all(f"{provider}] DTMF {digit}" in server for digit in "7#9"), server
    if provider != "audiosocket":  # AudioSocket paces the agent at the wall clock, slower than 10x: gaps
        assert call.lost_frames == 0


# ---- AudioSocket over TCP, as Asterisk calls ------------------------------------------------------------

def test_audiosocket_call_over_tcp(echo, caller_wav, capsys):
    """The simulator calls like Asterisk does (raw TCP: the UUID, 20 ms slin frames, DTMF, the hang-up
    frame) and the example's AudioSocket server (formi.audiosocket) echoes, paced at the call's 20 ms:
    in real time, the caller hears both words back with no frame lost."""
    async def run() -> sim.SimReport:
        async with audiosocket.serve(echo.handle_audiosocket, "127.0.0.1", 0) as server:
            return await sim.simulate(f"tcp://127.0.0.1:{server.port}", caller_wav, speed=1, dtmf=[(1.0, "4")],
                                      tail=1.0, jitter_buffer=JITTER)

    report = asyncio.run(run())
    server = capsys.readouterr().out
    call = report.calls[0]
    print(json.dumps(call.to_dict(), indent=1), server)
    assert report.ok and call.provider == "audiosocket"
    assert call.closed_by == "simulator" and call.close_code is None
    assert call.heard_s > 1.0 and call.utterances == 2       # the echo of each word
    assert call.lost_frames == 0 and call.stats["late_frames"] == 0
    latency = call.latency()
    assert latency["frames"] >= 50 and call.unmatched_frames == 0
    assert "audiosocket] DTMF 4" in server
    assert re.search(r"audiosocket\] start: pcm16le 8000 Hz, stream_id [0-9a-f-]{36}", server), server
    found = re.search(r"audiosocket\] ended \(stop\) after ([\d.]+) s: caller ([\d.]+) s, echo ([\d.]+) s", server)
    assert found, server
    duration, caller, echoed = map(float, found.groups())
    assert call.duration_s - 1 <= duration <= call.wall_s + 1 and caller >= 3.9 and echoed >= 1.0


def test_audiosocket_from_the_command_line(caller_wav):
    """`python -m formi.echo --audiosocket-port 0` and `python -m formi.sim tcp://...`, as processes."""
    process = start_server("--audiosocket-port", "0")
    try:
        read_port(process, r"ws://127\.0\.0\.1:(\d+)/")
        port = read_port(process, r"AudioSocket echo on tcp://127\.0\.0\.1:(\d+)")
        done = subprocess.run([sys.executable, "-m", "formi.sim", f"tcp://127.0.0.1:{port}", "--wav", caller_wav,
                               "--speed", "4", "--dtmf", "9@1", "--tail", "0.5", "--json"],
                              capture_output=True, text=True, env=subprocess_env(), timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        (call,) = json.loads(done.stdout)["calls"]
        assert call["ok"] and call["provider"] == "audiosocket" and call["heard_s"] > 0.5
        assert call["dtmf"] == [{"at": 1.0, "digit": "9"}] and call["stats"]["dtmf_digits"] == 1
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "audiosocket] DTMF 9" in out and re.search(r"audiosocket\] ended \(stop\) after [\d.]+ s", out), out


def test_the_simulator_refuses_other_providers_over_tcp(caller_wav, capsys):
    with pytest.raises(SystemExit) as info:
        sim.main(["tcp://127.0.0.1:9", "--wav", caller_wav, "--provider", "twilio"])
    assert info.value.code == 2 and "AudioSocket" in capsys.readouterr().err
    with pytest.raises(sim.SimError, match="only AudioSocket"):
        asyncio.run(sim.simulate("tcp://127.0.0.1:9", caller_wav, provider="vonage"))
    report = asyncio.run(sim.simulate(f"tcp://127.0.0.1:{free_tcp_port()}", caller_wav))
    assert not report.ok and report.calls[0].error.startswith("could not connect")


def free_tcp_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- many calls, the command line ------------------------------------------------------------------

def test_concurrent_calls_report_percentiles(server_process, caller_wav):
    _, port = server_process
    command = [sys.executable, "-m", "formi.sim", url(port, "twilio"), "--wav", caller_wav, "--speed", str(SPEED),
               "--jitter-buffer", str(JITTER), "--calls", "5", "--dtmf", "1@1", "--barge-in", "3.3"]
    done = subprocess.run(command, capture_output=True, text=True, env=subprocess_env(), timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert len(re.findall(r"^call \d: heard \d", out, re.M)) == 5
    assert "5 calls: 5 connected, 0 failed" in out
    found = re.search(r"echo latency over (\d+) frames: p50 ([\d.]+) ms, p90 ([\d.]+) ms, p99 ([\d.]+) ms", out)
    assert found, out
    frames, p50, p90, p99 = int(found.group(1)), *map(float, found.groups()[1:])
    assert frames >= 5 * 40 and 0 < p50 <= p90 <= p99
    assert "lost frames: 0" in out
    assert "barge-in: 5 of 5 cleared" in out

    done = subprocess.run(command + ["--json"], capture_output=True, text=True, env=subprocess_env(), timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    summary = report["summary"]
    assert summary["calls"] == summary["connected"] == 5 and summary["failed"] == 0
    assert summary["lost_frames"] == 0 and summary["barge_ins"]["cleared"] == 5
    latency = summary["latency_ms"]
    assert latency["frames"] == sum(c["latency_ms"]["frames"] for c in report["calls"])
    assert latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
    assert all(c["ok"] and c["heard_s"] > 0.5 for c in report["calls"])


def test_help_and_bad_arguments(capsys):
    done = subprocess.run([sys.executable, "-m", "formi.sim", "--help"], capture_output=True, text=True,
                          env=subprocess_env())
    assert done.returncode == 0
    for text in ("--wav", "--speed", "--dtmf", "--barge-in", "--calls", "--save", "echo latency", "lost frames"):
        assert text in done.stdout
    good = "ws://h/ws-adapter/twilio/a/b/c/d"
    for arguments, message in (([good, "--wav", "x.wav", "--dtmf", "5"], "DIGITS@SECONDS"),
                               ([good.replace("ws:", "http:"), "--wav", "x.wav"], "ws://"),
                               (["ws://h/other", "--wav", "x.wav"], "--provider"),
                               ([good, "--wav", "x.wav", "--speed", "0"], "--speed"),
                               ([good, "--wav", "x.wav", "--provider", "skype"], "invalid choice")):
        with pytest.raises(SystemExit) as info:
            sim.main(arguments)
        assert info.value.code == 2 and message in capsys.readouterr().err
    assert sim.main(["ws://127.0.0.1:9/ws-adapter/twilio/a/b/c/d", "--wav", "/no/such.wav"]) == 2
    assert "cannot read /no/such.wav" in capsys.readouterr().err


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert (sim.percentile(values, 50), sim.percentile(values, 90), sim.percentile(values, 99)) == (50, 90, 99)
    assert sim.percentile([7.0], 99) == 7.0 and sim.percentile([], 50) is None
    assert sim.percentile([3, 1, 2], 50) == 2


def test_without_websockets_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "websockets.asyncio.client", None)  # makes the import fail
    with pytest.raises(sim.SimError, match=r"pip install 'formi\[sim\]'"):
        sim._websockets()


# ---- the server's refusals and its shutdown ----------------------------------------------------------

@pytest.mark.parametrize("path,reason", [
    ("/ws-adapter/skype/inbound/a/o/+1", "unknown provider 'skype'; known: twilio,"),
    ("/ws-adapter/twilio/inbound", "expected /ws-adapter/{provider}/"),
])
def test_the_server_refuses_unknown_providers_and_paths(echo, path, reason):
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosed

    async def run():
        async with serve(echo.handle, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with connect(f"ws://127.0.0.1:{port}{path}") as ws:
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
                return ws.close_code, ws.close_reason

    code, text = asyncio.run(run())
    assert code == 1008 and text.startswith(reason)


def test_the_simulator_reports_a_refused_call(echo, caller_wav, capsys):
    from websockets.asyncio.server import serve

    async def run():
        async with serve(echo.handle, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            return await sim.simulate(url(port, "skype"), caller_wav, provider="twilio", speed=SPEED)

    call = asyncio.run(run()).calls[0]
    assert call.connected and not call.ok and call.closed_by == "server" and call.close_code == 1008
    assert "unknown provider 'skype'" in call.error


def test_the_server_shuts_down_cleanly_during_a_call(server_process, tmp_path):
    process, port = server_process
    # A 30 s call in real time: however loaded the machine, the server's close comes first.
    long_call = write_wav(tmp_path / "long.wav", [0] * (8000 * 30), 8000)

    async def run():
        task = asyncio.ensure_future(sim.simulate(url(port, "vonage"), long_call, speed=1))
        await asyncio.sleep(0.5)  # mid-call
        process.send_signal(signal.SIGTERM)
        return await task

    call = asyncio.run(run()).calls[0]
    assert call.ok and call.closed_by == "server" and call.close_code == 1001  # going away
    out, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "shutting down" in out and re.search(r"vonage\] ended \(the socket closed\)", out), out


def test_a_strict_phone_reports_the_rules_an_agent_server_breaks(echo, caller_wav):
    """An agent server that answers Twilio media with another stream's streamSid (Twilio's error 31951):
    the simulator's phone drops that audio, as Twilio does, and the report and the printed summary name
    the rule. The example server keeps every rule."""
    from websockets.asyncio.server import serve

    good = simulate_against(echo, "twilio", caller_wav)
    assert good.calls[0].rules_broken == {} and good.summary()["rules_broken"] == 0

    async def wrong_stream(ws) -> None:
        payload = base64.b64encode(bytes([0x7F]) * 160).decode()  # 20 ms of mu-law silence
        async for message in ws:
            if isinstance(message, str) and '"event":"media"' in message:
                await ws.send(json.dumps({"event": "media", "streamSid": "MZnot-this-call", "media": {"payload": payload}}))

    async def run(strict: bool) -> sim.SimReport:
        async with serve(wrong_stream, "127.0.0.1", 0, compression=None) as server:
            port = server.sockets[0].getsockname()[1]
            return await sim.simulate(url(port, "twilio"), caller_wav, speed=SPEED, tail=0.5, strict=strict)

    report = asyncio.run(run(True)).calls[0]
    ((message, count),) = report.rules_broken.items()
    assert "31951" in message and "MZnot-this-call" in message and count > 50
    assert report.received_s == 0  # dropped, as Twilio drops it
    lax = asyncio.run(run(False)).calls[0]
    assert lax.rules_broken == {} and lax.received_s > 1

    import contextlib
    import io
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        sim._print_call(report, detail=True)
    assert "conformance: the agent server broke 1 of twilio's rules" in buffer.getvalue()
