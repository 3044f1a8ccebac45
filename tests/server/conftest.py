"""Starts formi-server on free loopback ports for the tests, with its ledger in a temporary folder."""
from __future__ import annotations

import json
import os
import re
import signal
import ssl
import sqlite3
import subprocess
import threading
import time
import urllib.request
import wave
from pathlib import Path
from typing import Dict, List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVER = os.environ.get("FORMI_SERVER", str(ROOT / ".build" / "debug" / "formi-server"))


class Server:
    """One running formi-server: its ports, its output, its ledger."""

    def __init__(self, data_dir: Path, *args: str, cafile: Optional[str] = None) -> None:
        self.data_dir = data_dir
        # With a certificate (--tls-certificate) the port speaks https: `cafile` is what to trust.
        self.scheme, self.context = ("https", ssl.create_default_context(cafile=cafile)) if cafile else ("http", None)
        self.lines: List[str] = []
        self.proc = subprocess.Popen(
            [SERVER, "--host", "127.0.0.1", "--port", "0", "--audiosocket-port", "0", "--data-dir", str(data_dir), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.port = self.audiosocket_port = 0
        self._stderr: List[str] = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        deadline = time.time() + 60
        while (not self.port or not self.audiosocket_port) and time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            if m := re.search(r"listening on https?://[\d.]+:(\d+)", line):
                self.port = int(m.group(1))
            if m := re.search(r"AudioSocket listening on tcp://[\d.]+:(\d+)", line):
                self.audiosocket_port = int(m.group(1))
        if not self.port or not self.audiosocket_port:
            self.stop()
            raise RuntimeError("formi-server did not start:\n" + "".join(self.lines) + "".join(self._stderr))
        threading.Thread(target=self._drain_stdout, daemon=True).start()

    def _drain_stderr(self) -> None:
        for line in self.proc.stderr:
            self._stderr.append(line)

    def _drain_stdout(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def log(self) -> str:
        return "".join(self._stderr)

    def url(self, provider: str = "twilio", rest: str = "inbound/1/1/+15550100") -> str:
        if provider == "audiosocket-tcp":
            return f"tcp://127.0.0.1:{self.audiosocket_port}"
        return f"ws://127.0.0.1:{self.port}/ws-adapter/{provider}/{rest}"

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"{self.scheme}://127.0.0.1:{self.port}{path}", timeout=5, context=self.context) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metrics(self) -> Dict[str, float]:
        """Samples of /metrics, parsed by prometheus_client: {name{labels}: value}."""
        from prometheus_client.parser import text_string_to_metric_families
        out: Dict[str, float] = {}
        for family in text_string_to_metric_families(self.get("/metrics")[1]):
            for s in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
                out[f"{s.name}{{{labels}}}"] = s.value
        return out

    def metric_sum(self, name: str, **labels: str) -> float:
        total = 0.0
        for key, value in self.metrics().items():
            base, _, rest = key.partition("{")
            if base == name and all(f'{k}="{v}"' in rest for k, v in labels.items()):
                total += value
        return total

    def interactions(self) -> List[Dict[str, object]]:
        """Every interaction in the ledger (read-only, beside the running server)."""
        db = self.data_dir / "usage.db"
        if not db.exists():
            return []
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute("SELECT * FROM interactions ORDER BY id")]
        finally:
            con.close()

    def wait_for_records(self, count: int, timeout: float = 10) -> List[Dict[str, object]]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            rows = self.interactions()
            if len(rows) >= count:
                return rows
            time.sleep(0.1)
        return self.interactions()

    def settle(self, timeout: float = 15) -> None:
        """Waits until no call is active: every call that ended is in the ledger (it is written before
        the call stops counting as active)."""
        deadline = time.time() + timeout
        while self.metric_sum("formi_calls_active") > 0 and time.time() < deadline:
            time.sleep(0.05)

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> Optional[int]:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    s = Server(tmp_path_factory.mktemp("formi-data"), "--idle-seconds", "3", "--max-calls", "300",
               "--reconnect-grace-seconds", "1")
    yield s
    s.stop()


@pytest.fixture(scope="session")
def silence(tmp_path_factory: pytest.TempPathFactory):
    """A caller who listens: WAV files of silence, by length in seconds."""
    folder = tmp_path_factory.mktemp("wav")

    def make(seconds: float) -> str:
        path = folder / f"silence-{seconds}.wav"
        if not path.exists():
            with wave.open(str(path), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(8000)
                w.writeframes(b"\0\0" * int(8000 * seconds))
        return str(path)
    return make
