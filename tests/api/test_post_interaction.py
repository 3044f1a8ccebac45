"""Post-interaction variables and destinations: a call's flow variables reach a loopback webhook
receiver (signed) and a local SMTP sink (aiosmtpd) when the call ends."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
import urllib.parse

from aiosmtpd.controller import Controller

from conftest import Client
from test_webhooks import Receiver

from formi.sim import simulate

PARTY_FLOW = {
    "variables": {"party_size": None, "note": "walk-in"},
    "states": [
        {"state_id": 1, "name": "size", "initial": True, "state_prompt": "How many guests? Press a number."},
        {"state_id": 2, "name": "done", "terminal": True, "state_prompt": "Thank you.", "on_entry": [{"type": "end_call"}]},
    ],
    "edges": [{"edge_id": 1, "from_node": 1, "to_node": 2, "condition": "event.type == \"dtmf\"",
               "assign": {"party_size": "event.digit"}}],
}


class Sink:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_variables_go_to_their_destinations(api: Client, silence) -> None:
    token = api.login(1)
    sink = Sink()
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    receiver = Receiver(refuse=1)
    try:
        aid = api.post("/api/v1/agents", {"name": "Party line", "flow": PARTY_FLOW}, token)[1]["agent"]["agent_id"]
        for name, kind in (("party_size", "integer"), ("note", "string"), ("unset", "string")):
            assert api.post("/api/v1/post-interaction/variables", {"name": name, "type": kind}, token)[0] == 200
        assert api.post("/api/v1/post-interaction/variables", {"name": "note", "type": "string"}, token)[0] == 409
        status, body = api.post("/api/v1/post-interaction/destinations", {"name": "crm", "type": "webhook", "url": receiver.url}, token)
        assert status == 200, body
        hook, secret = body["destination"]["destination_id"], body["secret"]
        status, body = api.post("/api/v1/post-interaction/destinations", {"name": "desk", "type": "email", "to": ["desk@luigis.example"]}, token)
        assert status == 200, body
        mail = body["destination"]["destination_id"]
        assert api.post("/api/v1/post-interaction/destinations", {"name": "bad", "type": "email", "to": ["not an address"]}, token)[0] == 400
        assert api.put("/api/v1/post-interaction/email", {"host": "127.0.0.1", "port": smtp.port, "from": "formi@luigis.example"}, token)[0] == 200
        for name, target in (("party_size", hook), ("note", hook), ("unset", hook), ("party_size", mail)):
            status, body = api.post(f"/api/v1/post-interaction/variables/{name}/destinations", {"destination_id": target}, token)
            assert status == 200, body
        mapping = api.get("/api/v1/post-interaction/variables", token)[1]["map"]
        assert mapping == {"party_size": [hook, mail], "note": [hook], "unset": [hook]}

        report = asyncio.run(simulate(api.server.url("twilio", f"inbound/{aid}/1/+15550100"), silence(4), speed=4,
                                      dtmf=[(2.0, "4")], tail=0.5))
        assert report.calls[0].ok, report.calls[0].error
        deadline = time.time() + 20
        while (len(receiver.posts) < 2 or not sink.messages) and time.time() < deadline:
            time.sleep(0.1)
        events = [json.loads(b) for _, _, b in receiver.posts if json.loads(b)["event"] == "interaction.variables"]
        assert len(events) == 2, receiver.posts       # refused once, then taken
        assert events[-1]["variables"] == {"party_size": 4, "note": "walk-in", "unset": None}
        _, headers, body = [p for p in receiver.posts if json.loads(p[2])["event"] == "interaction.variables"][-1]
        fields = dict(part.split("=", 1) for part in headers["Formi-Signature"].split(","))
        assert fields["v1"] == hmac.new(secret.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256).hexdigest()
        assert len(sink.messages) == 1
        message = sink.messages[0]
        assert message.rcpt_tos == ["desk@luigis.example"] and message.mail_from == "formi@luigis.example"
        text = message.content.decode()
        assert "party_size: 4" in text and "note" not in text.split("\r\n\r\n", 1)[1]

        # Deleting a destination disconnects it.
        assert api.delete(f"/api/v1/post-interaction/destinations/{mail}", token)[0] == 200
        assert api.get("/api/v1/post-interaction/variables", token)[1]["map"]["party_size"] == [hook]
        assert api.delete("/api/v1/post-interaction/variables/unset", token)[0] == 200
        assert api.get("/api/v1/post-interaction/email", token)[1]["email"]["password_set"] is False
    finally:
        smtp.stop()
        receiver.close()
