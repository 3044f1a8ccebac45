"""Webhooks: a loopback HTTP receiver that refuses the first deliveries; the event of a finished call
arrives again with back-off until accepted, signed with the outlet's secret (checked here), with the
outlet's metadata."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import Client

from formi.sim import simulate


class Receiver:
    def __init__(self, refuse: int) -> None:
        self.refuse = refuse
        self.posts: list = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.posts.append((time.time(), dict(self.headers), body))
                self.send_response(500 if len(outer.posts) <= outer.refuse else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


def test_interaction_event_is_signed_and_retried(api: Client, silence) -> None:
    token = api.login(1)
    receiver = Receiver(refuse=2)
    try:
        assert api.put("/api/v1/webhook", {"url": "ftp://example.com/x"}, token)[0] == 400
        status, body = api.put("/api/v1/webhook", {"url": receiver.url}, token)
        assert status == 200 and body["secret"].startswith("whsec_"), body
        secret = body["secret"]
        # Setting the URL again keeps the secret (and does not show it).
        assert api.put("/api/v1/webhook", {"url": receiver.url}, token)[1]["secret"] is None
        assert api.get("/api/v1/webhook", token)[1]["url"] == receiver.url
        assert api.put("/api/v1/webhook/metadata", {"metadata": {"store": "north", "n": 3}}, token)[0] == 200
        report = asyncio.run(simulate(api.server.url("twilio", "inbound/1/1/+15550100"), silence(3), speed=4, tail=0.5))
        assert report.calls[0].ok, report.calls[0].error
        deadline = time.time() + 20
        while len(receiver.posts) < 3 and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        events = [json.loads(b) for _, _, b in receiver.posts]
        ended = [e for e in events if e["event"] == "interaction.ended"]
        assert len(ended) == 3, events          # refused twice, accepted the third time, then no more
        assert [h["Formi-Attempt"] for _, h, b in receiver.posts if json.loads(b)["event"] == "interaction.ended"] == ["1", "2", "3"]
        times = [t for t, _, b in receiver.posts if json.loads(b)["event"] == "interaction.ended"]
        assert times[2] - times[1] > times[1] - times[0] >= 0.4     # back-off grows
        for _, headers, body in receiver.posts:
            fields = dict(part.split("=", 1) for part in headers["Formi-Signature"].split(","))
            expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(fields["v1"], expected)
        event = ended[-1]
        assert event["outlet_id"] == 1 and event["metadata"] == {"store": "north", "n": 3}
        assert event["data"]["agent_id"] == 1 and event["data"]["interaction_id"]
        # A signature made with another secret would not match.
        _, headers, body = receiver.posts[-1]
        fields = dict(part.split("=", 1) for part in headers["Formi-Signature"].split(","))
        assert fields["v1"] != hmac.new(b"whsec_other", f"{fields['t']}.".encode() + body, hashlib.sha256).hexdigest()
    finally:
        receiver.close()
