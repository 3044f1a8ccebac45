"""The platform API's tests: formi-server started on free loopback ports with a configuration of three
outlets (the demo's and two others), known secrets and call tokens required; an HTTP client for the API."""
from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import http.client
import json
import time
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import pytest

# The server tests' launcher, loaded under its own name (both files are "conftest").
_spec = importlib.util.spec_from_file_location("server_conftest", Path(__file__).resolve().parents[1] / "server" / "conftest.py")
_server_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_server_conftest)
Server = _server_conftest.Server
silence = _server_conftest.silence

TOKEN_SECRET = "test-token-secret-0123456789abcdef0123"
SECRETS = {1: "secret-one-1", 2: "secret-two-2", 3: "secret-three-3"}
ADMIN_SECRET = "admin-secret-000"
RATE_CARD = {"credits_type": "MINUTE_BASED", "duration": {"rule": "per_second", "price_per_minute": 1000000},
             "characters_per_million": 0, "low_balance_threshold": 5000000}

CONFIG = {
    "outlets": [{"outlet_id": 1, "name": "Luigi's", "credits": 100000000, "rate_card": RATE_CARD},
                {"outlet_id": 2, "name": "Other", "credits": 50000000, "rate_card": RATE_CARD},
                {"outlet_id": 3, "name": "Third"}],
    "api": {"outlet_secrets": {str(k): v for k, v in SECRETS.items()}, "admin_secret": ADMIN_SECRET,
            "token_secret": TOKEN_SECRET, "login_attempts_per_minute": 5, "call_tokens": True, "open_outlets": [1],
            "max_body_bytes": 65536, "twilio_auth_token": "twilio-test-auth-token", "public_base_url": "wss://calls.example.test"},
}


class Client:
    """JSON over HTTP to one server; every answer as (status, parsed body, headers)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.tokens: Dict[int, str] = {}

    def request(self, method: str, path: str, body: Any = None, token: Optional[str] = None,
                raw: Optional[bytes] = None, headers: Optional[Dict[str, str]] = None) -> Tuple[int, Any, Dict[str, str]]:
        con = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        h = {"Content-Type": "application/json"} if (body is not None or raw is not None) else {}
        if token:
            h["Authorization"] = f"Bearer {token}"
        h.update(headers or {})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        con.request(method, path, body=data, headers=h)
        r = con.getresponse()
        text = r.read()
        con.close()
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text.decode(errors="replace")
        return r.status, parsed, {k.lower(): v for k, v in r.getheaders()}

    def get(self, path: str, token: Optional[str] = None, **kw) -> Tuple[int, Any]:
        status, body, _ = self.request("GET", path, token=token, **kw)
        return status, body

    def post(self, path: str, body: Any = None, token: Optional[str] = None, **kw) -> Tuple[int, Any]:
        status, parsed, _ = self.request("POST", path, body, token=token, **kw)
        return status, parsed

    def put(self, path: str, body: Any = None, token: Optional[str] = None, **kw) -> Tuple[int, Any]:
        status, parsed, _ = self.request("PUT", path, body, token=token, **kw)
        return status, parsed

    def delete(self, path: str, token: Optional[str] = None, **kw) -> Tuple[int, Any]:
        status, parsed, _ = self.request("DELETE", path, token=token, **kw)
        return status, parsed

    def login(self, outlet: int, fresh: bool = False) -> str:
        if outlet in self.tokens and not fresh:
            return self.tokens[outlet]
        status, body = self.post("/api/v1/auth/token", {"outlet_id": outlet, "secret": SECRETS[outlet]})
        assert status == 200, body
        self.tokens[outlet] = body["token"]
        return body["token"]

    def admin(self) -> str:
        status, body = self.post("/api/v1/auth/admin-token", {"secret": ADMIN_SECRET})
        assert status == 200, body
        return body["token"]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims: Dict[str, Any], secret: str = TOKEN_SECRET, alg: str = "HS256") -> str:
    """A token made by the test itself: with the server's key (expired ones) or another (forged)."""
    head = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    if alg == "none":
        return f"{head}.{body}."
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


def claims(outlet: int, exp_in: float = 3600) -> Dict[str, Any]:
    now = time.time()
    return {"sub": f"outlet:{outlet}", "exp": now + exp_in, "iat": now, "iss": "formi-server", "role": "outlet", "outlet_id": outlet}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("formi-api")
    config = data / "config.json"
    config.write_text(json.dumps(CONFIG))
    s = Server(data / "data", "--config", str(config), "--idle-seconds", "3")
    yield Client(s)
    s.stop()
