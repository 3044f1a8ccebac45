"""FormiStream in a real Asterisk, and the module's build.

The Asterisk tests run a private Asterisk (its own configuration, directories and control socket under a
temporary folder, loopback only) with app_formistream loaded, place calls into FormiStream() with
`channel originate`, and play the agent server with small servers of their own: Twilio's protocol over
Python `websockets`, and a hand-written WebSocket server where the bytes on the wire matter. They need:

    ASTERISK_PREFIX     an Asterisk installed with `make install` (sbin/asterisk, lib/asterisk/modules)
                        from the tree the module was built against, with at least res_http_websocket,
                        pbx_config, res_clioriginate, app_playtones, app_system, func_base64 and
                        res_timing_timerfd
    FORMISTREAM_MODULE  the module to test (default: app_formistream.so beside this folder)

and are skipped without ASTERISK_PREFIX (see README.md, "Tested"). The build test needs only make and
pkg-config.

    make -C bindings/asterisk ASTERISK_SRC=... PKG_CONFIG_PATH=$PWD/build
    ASTERISK_PREFIX=... build/python-venv/bin/python -m pytest bindings/asterisk/tests
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

HERE = Path(__file__).resolve().parent
MODULE_DIR = HERE.parent
REPO = MODULE_DIR.parent.parent
MODULES = ("res_timing_timerfd", "res_clioriginate", "codec_ulaw", "codec_resample", "pbx_config", "res_http_websocket",
           "app_playtones", "app_system", "func_base64", "app_formistream")
# Loaded when built: the AudioSocket test needs them.
OPTIONAL_MODULES = ("res_audiosocket", "app_audiosocket", "app_record", "format_wav")
AUDIOSOCKET_UUID = "40325ec2-5efd-4bd3-805f-53576e581d13"
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# ---- the build ---------------------------------------------------------------------------------------

def test_pkg_config_path_on_the_command_line_reaches_pkg_config(tmp_path):
    """README's build line: `make ... PKG_CONFIG_PATH=dir` with no PKG_CONFIG_PATH in the environment.
    GNU make before 4.4 runs $(shell) in its starting environment, so pkg-config must be given it."""
    if not shutil.which("make") or not shutil.which("pkg-config"):
        pytest.skip("needs make and pkg-config")
    (tmp_path / "formi.pc").write_text("prefix=/opt/formi-test\nincludedir=${prefix}/include\nlibdir=${prefix}/lib\n"
                                       "Name: formi\nDescription: test\nVersion: 0.1.0\n"
                                       "Cflags: -I${includedir}\nLibs: -L${libdir} -lformi\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PKG_CONFIG")}
    # -n: print the commands only; the headers need not exist for that.
    done = subprocess.run(["make", "-n", "-B", "-C", str(MODULE_DIR), "app_formistream.so",
                           "ASTERISK_INCLUDE=/nonexistent", f"PKG_CONFIG_PATH={tmp_path}"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    compile_line = next(line for line in done.stdout.splitlines() if " -c app_formistream.c" in line)
    link_line = next(line for line in done.stdout.splitlines() if "-o app_formistream.so" in line)
    assert "-I/opt/formi-test/include" in compile_line, compile_line
    assert "-L/opt/formi-test/lib -lformi" in link_line and "-rpath,/opt/formi-test/lib" in link_line, link_line


# ---- a private Asterisk ------------------------------------------------------------------------------

class Asterisk:
    """A running Asterisk whose dialplan sends calls to FormiStream(ws://127.0.0.1:PORT/media)."""

    def __init__(self, prefix: Path, module: Path, root: Path) -> None:
        self.binary = prefix / "sbin" / "asterisk"
        self.root = root
        self.results = root / "results"
        etc, modules = root / "etc", root / "modules"
        for folder in ("etc", "modules", "var", "spool", "run", "log", "agi"):
            (root / folder).mkdir()
        for name in MODULES[:-1]:
            source = prefix / "lib" / "asterisk" / "modules" / f"{name}.so"
            if not source.is_file():
                pytest.skip(f"{source} is missing: build Asterisk with {name}")
            (modules / f"{name}.so").symlink_to(source)
        (modules / "app_formistream.so").symlink_to(module)
        self.optional = [name for name in OPTIONAL_MODULES
                         if (prefix / "lib" / "asterisk" / "modules" / f"{name}.so").is_file()]
        for name in self.optional:
            (modules / f"{name}.so").symlink_to(prefix / "lib" / "asterisk" / "modules" / f"{name}.so")
        self.conf = etc / "asterisk.conf"
        self.conf.write_text("[directories]\n" + "".join(
            f"{key} => {root / folder}\n" for key, folder in (
                ("astetcdir", "etc"), ("astmoddir", "modules"), ("astvarlibdir", "var"), ("astdbdir", "var"),
                ("astkeydir", "var"), ("astagidir", "agi"), ("astspooldir", "spool"), ("astrundir", "run"),
                ("astlogdir", "log"))) + f"astsbindir => {prefix / 'sbin'}\n"
            # Its XML documentation: Asterisk 22 will not start without the core's.
            f"astdatadir => {prefix / 'var' / 'lib' / 'asterisk'}\n"
            "[options]\nverbose = 3\ndebug = 0\nhideconnect = yes\n")
        (etc / "modules.conf").write_text("[modules]\nautoload = no\n"
                                          + "".join(f"load => {m}.so\n" for m in MODULES + tuple(self.optional)))
        (etc / "logger.conf").write_text("[general]\n[logfiles]\nmessages.log => notice,warning,error,verbose\n")
        # The status and stats (base64: the dialplan strips JSON's quotes) of each call, by port, from `h`.
        (etc / "extensions.conf").write_text(f"""\
[agent]
exten => _X.,1,Set(PORT=${{EXTEN}})
 same => n,FormiStream(ws://127.0.0.1:${{EXTEN}}/media,twilio,t(3000))
 same => n,Hangup()
exten => h,1,System(echo ${{PORT}} ${{FORMISTREAM_STATUS}} ${{BASE64_ENCODE(${{FORMISTREAM_STATS}})}} >> {self.results})

[caller]
exten => s,1,Answer()
 same => n,Playtones(440)
 same => n,Wait(30)
 same => n,Hangup()

; AudioSocket (raw TCP) to 127.0.0.1:PORT.
[audiosocket]
exten => _X.,1,Answer()
 same => n,AudioSocket({AUDIOSOCKET_UUID},127.0.0.1:${{EXTEN}})
 same => n,Hangup()

; A caller who waits a second (AudioSocket connects meanwhile), says one "word" (1 s of 440 Hz), then is
; silent (a phone still sends frames: silence) and records 3 s of what it hears (no beep).
[word]
exten => _X.,1,Answer()
 same => n,Playtones(0)
 same => n,Wait(1)
 same => n,Playtones(440)
 same => n,Wait(1)
 same => n,Playtones(0)
 same => n,Record({root}/heard-${{EXTEN}}.wav,0,3,qk)
 same => n,Hangup()
""")
        self.log = open(root / "log" / "console.log", "wb")
        self.process = subprocess.Popen([str(self.binary), "-C", str(self.conf), "-f", "-n", "-vvv"],
                                        stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while self.cli("core waitfullybooted", check=False).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"Asterisk did not start: {self.console()[-3000:]}")
            time.sleep(0.2)
        shown = self.cli("module show like app_formistream").stdout
        if "app_formistream.so" not in shown:
            self.stop()
            pytest.fail(f"app_formistream did not load: {shown}\n{self.console()[-3000:]}")

    def cli(self, command: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([str(self.binary), "-C", str(self.conf), "-rx", command], capture_output=True,
                              text=True, timeout=30)
        if check:
            assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
        return done

    def console(self) -> str:
        """Asterisk's log (its console output is block-buffered)."""
        log = self.root / "log" / "messages.log"
        return log.read_text(errors="replace") if log.exists() else ""

    async def call_audiosocket(self, port: int) -> Path:
        """A call whose caller says one word, answered by AudioSocket() towards 127.0.0.1:PORT; returns
        the path of the recording of what the caller heard after its word."""
        await asyncio.to_thread(self.cli, f"channel originate Local/{port}@audiosocket extension {port}@word")
        return self.root / f"heard-{port}.wav"

    async def call(self, port: int) -> None:
        """A call whose caller plays 440 Hz, answered by FormiStream towards ws://127.0.0.1:PORT/media
        (the CLI runs beside the event loop: the agent servers must answer meanwhile)."""
        await asyncio.to_thread(self.cli, f"channel originate Local/{port}@agent extension s@caller")

    def result(self, port: int) -> Optional[Tuple[str, Dict[str, object]]]:
        """(FORMISTREAM_STATUS, FORMISTREAM_STATS) of the call to `port` once it ended, else None."""
        if not self.results.exists():
            return None
        for line in self.results.read_text().splitlines():
            parts = line.split(" ")
            if parts[0] == str(port):
                stats = json.loads(base64.b64decode(parts[2])) if len(parts) > 2 and parts[2] else {}
                return parts[1] if len(parts) > 1 else "", stats
        return None

    async def wait_result(self, port: int, timeout: float = 30) -> Tuple[str, Dict[str, object]]:
        deadline = time.monotonic() + timeout
        while (found := self.result(port)) is None:
            assert time.monotonic() < deadline, f"no result for the call to {port}: {self.console()[-4000:]}"
            await asyncio.sleep(0.05)
        return found

    def stop(self) -> None:
        if self.process.poll() is None:
            self.cli("core stop now", check=False)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture(scope="module")
def asterisk(tmp_path_factory) -> Iterator[Asterisk]:
    prefix = os.environ.get("ASTERISK_PREFIX")
    if not prefix:
        pytest.skip("set ASTERISK_PREFIX to an installed Asterisk (see this file's docstring)")
    module = Path(os.environ.get("FORMISTREAM_MODULE", MODULE_DIR / "app_formistream.so")).resolve()
    if not module.is_file():
        pytest.skip(f"{module} is not built")
    # The control socket's path must fit in sockaddr_un: a short folder of our own.
    root = Path(os.environ.get("TMPDIR", "/tmp")) / f"formistream-{os.getpid()}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    try:
        server = Asterisk(Path(prefix), module, root)
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- agent servers -------------------------------------------------------------------------------------

@dataclass
class Seen:
    """What an agent server saw of its one call (times in seconds from the handshake)."""

    events: List[Tuple[float, str]] = field(default_factory=list)
    media: int = 0                  #: media messages received
    media_after_close: int = 0      #: of them, after the server sent its Close
    client_close_at: Optional[float] = None  #: when FormiStream's Close frame came
    eof_at: Optional[float] = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


async def twilio_agent(port: int, behaviour: str, seen: Seen):
    """A Twilio-protocol agent server (Python websockets, raw JSON) that, half a second into the caller's
    media, closes the WebSocket properly ("close") or drops the connection without a Close frame:
    "eof" (FIN) or "reset" (RST)."""
    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosed

    async def handler(ws):
        start = time.monotonic()
        try:
            async for message in ws:
                event = json.loads(message)["event"]
                seen.events.append((time.monotonic() - start, event))
                seen.media += event == "media"
                if seen.media == 25:  # 0.5 s of the caller
                    if behaviour == "close":
                        await ws.close(1000)
                    else:
                        sock = ws.transport.get_extra_info("socket")
                        if behaviour == "reset":
                            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        ws.transport.abort()
                    break
        except ConnectionClosed:
            pass
        seen.done.set()

    return await serve(handler, "127.0.0.1", port, compression=None)


def frame(opcode: int, payload: bytes = b"") -> bytes:
    """A server's (unmasked) WebSocket frame, payload under 126 bytes."""
    return bytes([0x80 | opcode, len(payload)]) + payload


async def read_frame(reader: asyncio.StreamReader) -> Tuple[int, bytes]:
    """A client's (masked) frame: (opcode, payload)."""
    head = await reader.readexactly(2)
    length = head[1] & 0x7F
    if length == 126:
        length = struct.unpack("!H", await reader.readexactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", await reader.readexactly(8))[0]
    mask = await reader.readexactly(4) if head[1] & 0x80 else b"\0\0\0\0"
    data = await reader.readexactly(length)
    return head[0] & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


async def closing_agent(port: int, seen: Seen, answer_pings: bool, drop_after: float):
    """A server that sends its Close frame in the same write as its 101 reply, then, as Python websockets
    does while it waits for the client's Close, answers Pings (when `answer_pings`) and reads (and
    ignores) data, dropping the connection `drop_after` seconds later if the client never closes."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        key = re.search(rb"(?i)sec-websocket-key:\s*(\S+)", request).group(1)
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + frame(0x8, struct.pack("!H", 1000)))
        start = time.monotonic()

        async def serve_frames() -> None:
            while True:
                opcode, data = await read_frame(reader)
                at = time.monotonic() - start
                if opcode == 0x9:
                    seen.events.append((at, "ping"))
                    if answer_pings:
                        writer.write(frame(0xA, data))
                elif opcode == 0x8:
                    seen.client_close_at = at
                    return
                elif opcode == 0x1:
                    seen.events.append((at, json.loads(data)["event"]))
                    seen.media_after_close += json.loads(data)["event"] == "media"

        try:
            await asyncio.wait_for(serve_frames(), drop_after)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            seen.eof_at = time.monotonic() - start
        writer.close()
        seen.done.set()

    return await asyncio.start_server(handler, "127.0.0.1", port)


def load_echo_example():
    """bindings/python/examples/echo_server.py, with the formi package (installed, or the source tree)."""
    import importlib.util
    import sys

    try:
        import formi  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(REPO / "bindings" / "python" / "src"))
    pytest.importorskip("websockets")
    spec = importlib.util.spec_from_file_location("echo_server", REPO / "bindings/python/examples/echo_server.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wav_frames(path: Path) -> List[bytes]:
    """The 20 ms frames of a 16-bit mono WAV file (8 kHz), once Asterisk has finished writing it."""
    import wave

    deadline = time.monotonic() + 10
    while True:
        try:
            with wave.open(str(path), "rb") as w:
                assert (w.getsampwidth(), w.getnchannels()) == (2, 1)
                rate, pcm = w.getframerate(), w.readframes(w.getnframes())
            break
        except (OSError, EOFError, wave.Error):
            assert time.monotonic() < deadline, f"no recording at {path}"
            time.sleep(0.1)
    size = rate // 50 * 2
    return [pcm[i:i + size] for i in range(0, len(pcm) - size + 1, size)]


# ---- calls ---------------------------------------------------------------------------------------------

def test_the_agent_closing_the_websocket_is_agent(asterisk):
    async def run():
        port, seen = free_port(), Seen()
        async with await twilio_agent(port, "close", seen):
            await asterisk.call(port)
            status, stats = await asterisk.wait_result(port)
        return seen, status, stats

    seen, status, stats = asyncio.run(run())
    assert [e for _, e in seen.events[:2]] == ["connected", "start"] and seen.media == 25
    assert status == "AGENT", asterisk.console()[-3000:]
    assert stats["state"] == "stopped" and stats["caller_audio_ms"] >= 500


@pytest.mark.parametrize("how", ["eof", "reset"])
def test_a_websocket_broken_mid_call_is_error(asterisk, how):
    """The connection drops without a Close frame: README promises FORMISTREAM_STATUS=ERROR."""
    async def run():
        port, seen = free_port(), Seen()
        async with await twilio_agent(port, how, seen):
            await asterisk.call(port)
            status, stats = await asterisk.wait_result(port)
        return seen, status, stats

    seen, status, stats = asyncio.run(run())
    assert seen.media == 25
    assert status == "ERROR", asterisk.console()[-3000:]
    assert stats["state"] == "stopped" and stats["caller_audio_ms"] >= 500


def test_a_failed_connection_leaves_no_streaming_stats(asterisk):
    async def run():
        port = free_port()  # nobody listens there
        await asterisk.call(port)
        return await asterisk.wait_result(port)

    status, stats = asyncio.run(run())
    assert status == "FAILED"
    assert stats["state"] != "streaming" and stats["messages_out"] == 0 and stats["caller_audio_ms"] == 0, stats


def test_a_close_sent_with_the_101_is_seen_at_once(asterisk):
    """The Close frame arrives in the same TCP segment as the 101: res_http_websocket keeps it in its
    stream buffer, where poll() does not see it. FormiStream's Ping after the handshake gets a Pong,
    which wakes it to read the buffered Close: the call ends at once, not when the server gives up."""
    async def run():
        port, seen = free_port(), Seen()
        async with await closing_agent(port, seen, answer_pings=True, drop_after=8):
            await asterisk.call(port)
            status, stats = await asterisk.wait_result(port)
            await asyncio.wait_for(seen.done.wait(), 10)
        return seen, status, stats

    seen, status, stats = asyncio.run(run())
    print(f"FormiStream's Close after {seen.client_close_at} s, {seen.media_after_close} media messages sent")
    assert status == "AGENT", asterisk.console()[-3000:]
    assert seen.client_close_at is not None and seen.client_close_at < 1.0, seen
    assert seen.media_after_close <= 10, seen  # at most 0.2 s of the caller went into the closed stream


def test_a_close_sent_with_the_101_waits_for_the_drop_without_pongs(asterisk):
    """The limit of the workaround, shown: a server that answers no Ping once it has sent its Close is
    noticed only when it drops the connection (then the buffered Close is read: AGENT)."""
    async def run():
        port, seen = free_port(), Seen()
        async with await closing_agent(port, seen, answer_pings=False, drop_after=2):
            await asterisk.call(port)
            status, stats = await asterisk.wait_result(port)
            await asyncio.wait_for(seen.done.wait(), 10)
        return seen, status, stats

    seen, status, stats = asyncio.run(run())
    print(f"dropped after {seen.eof_at} s, {seen.media_after_close} media messages sent; {status}")
    assert seen.client_close_at is None and seen.eof_at is not None and seen.eof_at >= 2, seen
    assert seen.media_after_close >= 50  # a second and more of the caller's audio, into a closed stream
    assert status in ("AGENT", "ERROR"), asterisk.console()[-3000:]


def test_the_audiosocket_echo_example_in_asterisk(asterisk, capsys):
    """Asterisk's AudioSocket() (raw TCP) calls the example echo server's formi.audiosocket side: it
    sees the call's UUID, records the caller's word, and echoes it once the caller pauses, paced so
    that Asterisk plays it whole: what the caller heard holds about 1 s of 440 Hz."""
    if set(OPTIONAL_MODULES) - set(asterisk.optional):
        pytest.skip("needs " + ", ".join(OPTIONAL_MODULES))
    echo = load_echo_example()
    from formi import audiosocket

    async def run() -> Path:
        async with audiosocket.serve(echo.handle_audiosocket, "127.0.0.1", 0) as server:
            recording = await asterisk.call_audiosocket(server.port)
            while not server.calls:  # Asterisk connects...
                await asyncio.sleep(0.02)
            while server.calls:      # ...and the caller hangs up after 5 s
                await asyncio.sleep(0.05)
        return recording

    recording = asyncio.run(asyncio.wait_for(run(), 30))
    out = capsys.readouterr().out
    print(out)
    assert f"start: pcm16le 8000 Hz, stream_id {AUDIOSOCKET_UUID}" in out, out
    found = re.search(r"audiosocket\] echo 1: ([\d.]+) s", out)
    assert found and 0.9 <= float(found.group(1)) <= 1.1, out
    assert re.search(r"audiosocket\] ended \(.*\) after [\d.]+ s: caller [45]\.\d+ s, echo 1\.\d+ s", out), out

    import array
    import math

    def level(frame: bytes) -> float:
        samples = array.array("h", frame)
        power = sum(x * x for x in samples) / len(samples)
        return 10 * math.log10(power / 32768 ** 2) if power else -100.0

    frames = wav_frames(recording)
    loud = [i for i, f in enumerate(frames) if level(f) > -40]
    assert 45 <= len(loud) <= 55, [round(level(f)) for f in frames]  # the 1 s word, whole
    assert loud[-1] - loud[0] + 1 == len(loud)                      # in one piece: no gap, no rush
    tone = array.array("h", b"".join(frames[i] for i in loud[5:-5]))
    crossings = sum(1 for a, b in zip(tone, tone[1:]) if (a < 0) != (b < 0))
    print(f"heard {len(loud)} loud 20 ms frames from frame {loud[0]}, "
          f"{crossings / (len(tone) / 8000) / 2:.1f} Hz")
    assert abs(crossings / (len(tone) / 8000) / 2 - 440) < 20      # still 440 Hz
