"""formi-server with a certificate: https and wss on its port (providers reach agent servers over wss://
only). A self-signed certificate for 127.0.0.1 made by openssl; the clients trust it through
SSL_CERT_FILE, and a client that does not trust it is refused by the handshake."""
from __future__ import annotations

import asyncio
import ssl
import subprocess
import urllib.request

import pytest

from formi.sim import simulate

from conftest import Server
from test_server import speech_seconds


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return str(cert), str(key)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, certificate):
    cert, key = certificate
    s = Server(tmp_path_factory.mktemp("formi-tls"), "--tls-certificate", cert, "--tls-key", key, "--idle-seconds", "3",
               cafile=cert)
    yield s
    s.stop()


def test_https_answers_only_clients_that_trust_the_certificate(tls_server: Server, certificate) -> None:
    assert any("listening on https://" in line for line in tls_server.lines)
    trusting = ssl.create_default_context(cafile=certificate[0])
    with urllib.request.urlopen(f"https://127.0.0.1:{tls_server.port}/healthz", context=trusting, timeout=5) as r:
        assert r.status == 200
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(f"https://127.0.0.1:{tls_server.port}/healthz", context=ssl.create_default_context(), timeout=5)
    with pytest.raises(Exception):  # plain HTTP on the TLS port gets no answer
        urllib.request.urlopen(f"http://127.0.0.1:{tls_server.port}/healthz", timeout=5)


def test_a_call_over_wss(tls_server: Server, certificate, silence, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", certificate[0])  # the simulator's default context trusts it
    heard = str(tmp_path / "heard.wav")
    url = f"wss://127.0.0.1:{tls_server.port}/ws-adapter/twilio/inbound/1/1/+15550100"
    report = asyncio.run(simulate(url, silence(6), speed=2, dtmf=[(4.0, "2")], save=heard, tail=0.5))
    call = report.calls[0]
    assert call.ok, call.error
    assert speech_seconds(heard, 3.0) > 1.2  # the greeting, through TLS
    tls_server.settle()
    assert len(tls_server.interactions()) == 1


def test_a_half_configured_certificate_is_refused(tmp_path, certificate) -> None:
    from conftest import SERVER
    out = subprocess.run([SERVER, "--port", "0", "--no-audiosocket", "--data-dir", str(tmp_path),
                          "--tls-certificate", certificate[0], "--print-config"], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "tls_certificate and listen.tls_key go together" in out.stderr
    out = subprocess.run([SERVER, "--port", "0", "--no-audiosocket", "--data-dir", str(tmp_path),
                          "--tls-certificate", certificate[0], "--tls-key", certificate[0]], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "TLS" in out.stderr
