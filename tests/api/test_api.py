"""The platform API end to end (seed 000): tokens, agents and their flows, connection vendors, a
simulated call read back as an interaction and as usage, bad input. Run by `make test-api`."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import urllib.parse

import pytest

from conftest import ADMIN_SECRET, SECRETS, Client, claims, make_jwt

from formi.sim import simulate

SMALL_FLOW = {
    "inputs": ["outlet"],
    "templates": [{"template_id": 10, "name": "menu", "content": "Hello {{caller}}, press 1.", "variables": {"caller": "friend"}}],
    "states": [
        {"state_id": 1, "name": "hello", "initial": True, "state_prompt": "Welcome to {{outlet}}. Press 1 to finish."},
        {"state_id": 2, "name": "bye", "terminal": True, "state_prompt": "Goodbye.", "on_entry": [{"type": "end_call"}]},
    ],
    "edges": [{"edge_id": 1, "from_node": 1, "to_node": 2, "condition": "event.type == \"dtmf\" && event.digit == \"1\""}],
}


def test_login_gives_a_token_that_every_endpoint_needs(api: Client) -> None:
    status, body = api.post("/api/v1/auth/token", {"outlet_id": 1, "secret": SECRETS[1]})
    assert status == 200 and body["success"] is True and body["token_type"] == "Bearer" and body["expires_in"] > 0
    token = body["token"]
    assert api.get("/api/v1/agents", token)[0] == 200
    status, body = api.get("/api/v1/agents")
    assert status == 401 and body == {"success": False, "message": body["message"]} and "Bearer" in body["message"]
    status, body = api.post("/api/v1/auth/token", {"outlet_id": 2, "secret": "wrong-secret"})
    assert status == 401 and body["success"] is False
    status, body = api.post("/api/v1/auth/token", {"outlet_id": 99, "secret": "whatever-it-is"})
    assert status == 401


@pytest.mark.parametrize("token,words", [
    ("garbage", "not valid"),
    (make_jwt(claims(1), secret="another-key-entirely-0123456789abcdef"), "not valid"),   # forged signature
    (make_jwt(claims(1, exp_in=-10)), "expired"),                                         # expired
    (make_jwt(claims(1), alg="none"), "not valid"),                                       # unsigned
    (make_jwt({**claims(1), "iss": "someone-else"}), "not valid"),                        # not ours
])
def test_bad_tokens_are_refused(api: Client, token: str, words: str) -> None:
    status, body = api.get("/api/v1/agents", token)
    assert status == 401 and body["success"] is False and words in body["message"], body


def test_a_token_made_with_the_servers_key_works(api: Client) -> None:
    # The same construction as the forged one above, with the right key: the forgery failed for its key only.
    assert api.get("/api/v1/agents", make_jwt(claims(1)))[0] == 200


def test_login_is_rate_limited_per_outlet(api: Client) -> None:
    for _ in range(5):
        assert api.post("/api/v1/auth/token", {"outlet_id": 3, "secret": "wrong-secret"})[0] == 401
    status, body, headers = api.request("POST", "/api/v1/auth/token", {"outlet_id": 3, "secret": SECRETS[3]})
    assert status == 429 and int(headers["retry-after"]) >= 1 and "too many" in body["message"]
    # Another outlet is not held up by outlet 3's guesser.
    assert api.post("/api/v1/auth/token", {"outlet_id": 2, "secret": SECRETS[2]})[0] == 200


def test_admin_token_for_admin_operations_only(api: Client) -> None:
    outlet = api.login(1)
    admin = api.admin()
    body = {"outlet_id": 1, "agent_id": 1, "mode": "add", "amount": 1000, "idempotency_key": "admin-test-1"}
    assert api.post("/api/v1/utilisation/credits/set", body, outlet)[0] == 403
    assert api.get("/api/v1/agents", admin)[0] == 403
    assert api.post("/api/v1/auth/admin-token", {"secret": "not-" + ADMIN_SECRET})[0] == 401
    before = api.get("/api/v1/utilisation/credits?agent_id=1", outlet)[1]["available_credits"]
    status, answer = api.post("/api/v1/utilisation/credits/set", body, admin)
    assert status == 200, answer
    # The same key again: applied once.
    assert api.post("/api/v1/utilisation/credits/set", body, admin)[0] == 200
    after = api.get("/api/v1/utilisation/credits?agent_id=1", outlet)[1]["available_credits"]
    assert after - before == 1000
    status, answer = api.post("/api/v1/utilisation/credits/set", {**body, "mode": "set", "amount": 123456, "idempotency_key": "admin-test-2"}, admin)
    assert status == 200
    assert api.get("/api/v1/utilisation/credits?agent_id=1", outlet)[1]["available_credits"] == 123456
    api.post("/api/v1/utilisation/credits/set", {**body, "mode": "set", "amount": 100000000, "idempotency_key": "admin-test-3"}, admin)


def test_agents_and_their_flows(api: Client) -> None:
    token = api.login(2)
    status, body = api.post("/api/v1/agents", {"name": "Front desk", "voice": "en-gb", "flow": SMALL_FLOW}, token)
    assert status == 200, body
    agent = body["agent"]
    assert agent["outlet_id"] == 2 and agent["name"] == "Front desk" and agent["voice"] == "en-gb"
    aid = agent["agent_id"]
    assert any(a["agent_id"] == aid for a in api.get("/api/v1/agents", token)[1]["agents"])
    status, body = api.put(f"/api/v1/agents/{aid}", {"name": "Reception", "rate": 180}, token)
    assert status == 200 and body["agent"]["name"] == "Reception" and body["agent"]["rate"] == 180
    assert api.get(f"/api/v1/agents/{aid}", token)[1]["agent"]["name"] == "Reception"

    sm = api.get(f"/api/v1/agents/{aid}/state-machine", token)[1]
    assert sm["validation"]["valid"] is True and [s["state_id"] for s in sm["flow"]["states"]] == [1, 2]

    # A state from the flow's template, an edge to it, changed, read, through the legacy routes too.
    status, body = api.post(f"/api/v1/agents/{aid}/states", {"template_id": 10, "name": "menu"}, token)
    assert status == 200, body
    sid = body["state_id"]
    assert api.get(f"/api/v1/agents/{aid}/states/{sid}", token)[1]["state"]["state_prompt"].startswith("Hello")
    status, body = api.post(f"/api/v1/agents/{aid}/edges", {"from_node": 1, "to_node": sid, "condition": "event.type == \"dtmf\" && event.digit == \"2\""}, token)
    assert status == 200, body
    eid = body["edge_id"]
    status, body = api.post(f"/api/v1/agents/{aid}/edges", {"from_node": sid, "to_node": 2, "condition": "event.type == \"dtmf\""}, token)
    assert status == 200, body
    assert api.put(f"/api/v1/agents/{aid}/edges/{eid}", {"priority": 3}, token)[0] == 200
    assert api.get(f"/api/v1/agents/{aid}/edges/{eid}", token)[1]["edge"]["priority"] == 3
    assert api.put(f"/api/v1/agents/{aid}/edge", {"edge_id": eid, "priority": 4}, token)[0] == 200
    assert api.get(f"/api/v1/agents/{aid}/edge?edge_id={eid}", token)[1]["edge"]["priority"] == 4
    status, body = api.put(f"/api/v1/agents/{aid}/states/{sid}", {"state_prompt": "Menu: press 1."}, token)
    assert status == 200, body

    # An edit that breaks the flow: refused with its problems, nothing stored.
    before = api.get(f"/api/v1/agents/{aid}/state-machine", token)[1]["flow"]
    status, body = api.post(f"/api/v1/agents/{aid}/edges", {"from_node": 1, "to_node": 77}, token)
    assert status == 422 and body["success"] is False and body["errors"], body
    status, body = api.delete(f"/api/v1/agents/{aid}/states/1", token)   # the initial state
    assert status == 422 and body["errors"], body
    assert api.get(f"/api/v1/agents/{aid}/state-machine", token)[1]["flow"] == before
    assert api.get(f"/api/v1/agents/{aid}/states/555", token)[0] == 404
    assert api.delete(f"/api/v1/agents/{aid}/edge?edge_id=555", token)[0] == 404

    # Validation of a flow with several problems names them all at once.
    bad = {"states": [{"state_id": 1, "name": "a"}, {"state_id": 1, "name": "b"}],
           "edges": [{"edge_id": 1, "from_node": 1, "to_node": 9}, {"edge_id": 2, "from_node": 8, "to_node": 1}]}
    status, body = api.post(f"/api/v1/agents/{aid}/state-machine/validate", {"flow": bad}, token)
    assert status == 200 and body["valid"] is False and len(body["errors"]) >= 3, body
    status, body = api.post(f"/api/v1/agents/{aid}/state-machine/validate", token=token)
    assert status == 200 and body["valid"] is True
    status, body = api.post("/api/v1/agents", {"name": "Broken", "flow": bad}, token)
    assert status == 422 and len(body["errors"]) >= 3

    # Deleting the added edge and state.
    assert api.delete(f"/api/v1/agents/{aid}/edges/{eid}", token)[0] == 200
    status, body = api.delete(f"/api/v1/agents/{aid}/states/{sid}", token)
    assert status == 200 and body["deleted_edge_ids"], body
    assert api.get(f"/api/v1/agents/{aid}/edges/{eid}", token)[0] == 404

    # Prompt templates.
    templates = api.get(f"/api/v1/agents/{aid}/prompt-templates", token)[1]["templates"]
    assert templates[0]["template_id"] == 10
    status, body = api.post(f"/api/v1/agents/{aid}/prompt-templates/render", {"template_id": 10, "variables": {"caller": "Ada"}}, token)
    assert status == 200 and body["text"] == "Hello Ada, press 1." and body["missing_variables"] == []
    status, body = api.post(f"/api/v1/agents/{aid}/prompt-templates/render", {"text": "For {{party}} at {{time}}"}, token)
    assert status == 200 and sorted(body["missing_variables"]) == ["party", "time"]

    # The dashboard switch.
    assert api.post("/api/v1/dashboard/enable", token=token)[1]["dashboard_enabled"] is True
    assert api.get("/api/v1/dashboard", token)[1]["dashboard_enabled"] is True
    assert api.post("/api/v1/dashboard/disable", token=token)[1]["dashboard_enabled"] is False


def twilio_template(api: Client, token: str) -> dict:
    status, body = api.get("/api/v1/connection-vendors/twilio", token)
    assert status == 200 and body["builtin"] is True
    return body["template"]


def test_connection_vendors_checked_and_usable_without_restart(api: Client, silence) -> None:
    token = api.login(2)
    template = twilio_template(api, token)
    # Every problem named.
    status, body = api.post("/api/v1/connection-vendors", {"name": "broken", "template": {"name": "broken", "version": "x"}}, token)
    assert status == 422 and body["problems"], body
    assert api.post("/api/v1/connection-vendors", {"name": "twilio", "template": template}, token)[0] == 409
    status, body = api.post("/api/v1/connection-vendors", {"name": "acme", "template": template}, token)
    assert status == 200, body
    names = {v["name"]: v for v in api.get("/api/v1/connection-vendors", token)[1]["vendors"]}
    assert names["acme"]["editable"] is True and names["twilio"]["editable"] is False
    assert api.put("/api/v1/connection-vendors/acme", {"template": template}, token)[0] == 200
    assert api.delete("/api/v1/connection-vendors/twilio", token)[0] == 404

    # A call through the new vendor at once, with the outlet's token in the query (call tokens are on).
    agent = api.post("/api/v1/agents", {"name": "Vendor test", "flow": SMALL_FLOW}, token)[1]["agent"]["agent_id"]
    url = f"ws://127.0.0.1:{api.server.port}/ws-adapter/acme/inbound/{agent}/2/+15550111?token={token}"
    report = asyncio.run(simulate(url, silence(4), provider="twilio", speed=4, dtmf=[(2.0, "1")], tail=0.5))
    assert report.calls[0].ok, report.calls[0].error
    api.server.settle()
    status, body = api.get(f"/api/v1/interactions?agent_id={agent}", token)
    assert status == 200 and body["total"] == 1 and body["interactions"][0]["provider"] == "acme", body

    # The agent's connection config names the vendor; another outlet's vendor is not found by name.
    status, body = api.put(f"/api/v1/agents/{agent}/connection", {"vendor": "acme", "virtual_number": "+15550111"}, token)
    assert status == 200 and body["connection"]["path"] == f"/ws-adapter/acme/inbound/{agent}/2/+15550111", body
    assert api.get(f"/api/v1/agents/{agent}/connection", token)[1]["connection"]["available"] is True
    t1 = api.login(1)
    assert api.put("/api/v1/agents/1/connection", {"vendor": "acme"}, t1)[0] == 404
    assert api.put(f"/api/v1/agents/{agent}/connection", {"vendor": "nope"}, token)[0] == 404

    assert api.delete("/api/v1/connection-vendors/acme", token)[0] == 200
    assert api.get(f"/api/v1/agents/{agent}/connection", token)[1]["connection"]["available"] is False
    status, _, _ = upgrade(api, f"/ws-adapter/acme/inbound/{agent}/2/+15550111?token={token}")
    assert status == 404


def upgrade(api: Client, path: str, headers: dict | None = None) -> tuple:
    h = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    h.update(headers or {})
    return api.request("GET", path, headers=h)


def test_call_tokens(api: Client) -> None:
    t2 = api.login(2)
    agent = api.post("/api/v1/agents", {"name": "Token test"}, t2)[1]["agent"]["agent_id"]
    path = f"/ws-adapter/twilio/inbound/{agent}/2/+15550100"
    status, body, _ = upgrade(api, path)
    assert status == 401 and "token" in body["message"]
    assert upgrade(api, path + "?token=" + make_jwt(claims(2), secret="forged-key-forged-key-forged-key-0000"))[0] == 401
    assert upgrade(api, path + "?token=" + make_jwt(claims(2, exp_in=-5)))[0] == 401
    assert upgrade(api, path + "?token=" + api.login(1))[0] == 401            # another outlet's token
    assert upgrade(api, path, {"Authorization": f"Bearer {t2}"})[0] == 101
    assert upgrade(api, path + "?token=" + urllib.parse.quote(t2))[0] == 101
    # Twilio's signature of the URL (HMAC-SHA1 with the account's auth token) stands in for a token.
    def twilio(url: str, token: str = "twilio-test-auth-token") -> str:
        return base64.b64encode(hmac.new(token.encode(), f"wss://calls.example.test{url}".encode(), hashlib.sha1).digest()).decode()
    signed = path + "?caller_id=%2B15550199"
    assert upgrade(api, signed, {"X-Twilio-Signature": twilio(signed)})[0] == 101
    assert upgrade(api, signed, {"X-Twilio-Signature": twilio(signed, "another-account")})[0] == 401
    assert upgrade(api, signed, {"X-Twilio-Signature": twilio(path)})[0] == 401      # signed for another URL
    # Outlet 2's token for outlet 1's agent: refused; the demo outlet needs none.
    assert upgrade(api, f"/ws-adapter/twilio/inbound/1/2/+15550100?token={t2}")[0] == 401
    assert upgrade(api, "/ws-adapter/twilio/inbound/1/1/+15550100")[0] == 101


def test_a_call_read_back_as_interaction_and_usage(api: Client, silence) -> None:
    token = api.login(1)
    api.server.settle()

    def listed() -> dict:
        return {i["interaction_id"]: i for i in api.get("/api/v1/interactions?page_size=200", token)[1]["interactions"]}

    # An earlier test's call may still be recorded meanwhile: this call's record is the new escalated one.
    before = listed()
    # DTMF 0: the demo flow hands the caller to a person (an escalated interaction).
    report = asyncio.run(simulate(api.server.url("twilio", "inbound/1/1/+15550100"), silence(5), speed=4, dtmf=[(2.5, "0")], tail=0.5))
    assert report.calls[0].ok, report.calls[0].error
    api.server.settle()
    deadline, new = time.time() + 10, []
    while not new and time.time() < deadline:
        new = [i for key, i in listed().items() if key not in before and i["outcome"] == "transferred"]
        time.sleep(0.1)
    assert len(new) == 1, new
    item = new[0]
    assert item["outcome"] == "transferred" and item["escalated"] and not item["resolved"], item
    iid = item["interaction_id"]
    escalated = api.get("/api/v1/interactions?escalated=true", token)[1]
    assert iid in [i["interaction_id"] for i in escalated["interactions"]]
    one = api.get(f"/api/v1/interactions/{urllib.parse.quote(iid, safe='')}", token)[1]["interaction"]
    assert one["record"]["interaction_id"] == iid and one["ledger"]["charged"] > 0 and one["ledger"]["billed_seconds"] >= 1, one
    summary = api.get(f"/api/v1/interactions/{urllib.parse.quote(iid, safe='')}/summary", token)[1]["summary"]
    assert summary["flow_path"][0] == 1 and summary["flow_path"][-1] == 7, summary
    status, body = api.post(f"/api/v1/interactions/{urllib.parse.quote(iid, safe='')}/resolve", {"note": "called back"}, token)
    assert status == 200 and body["interaction"]["resolved"] is True
    assert api.post(f"/api/v1/interactions/{urllib.parse.quote(iid, safe='')}/resolve", token=token)[0] == 409

    today = time.strftime("%Y-%m-%d", time.gmtime())
    stats = api.get(f"/api/v1/utilisation/usage-stats?agent_id=1&from_date={today}&to_date={today}", token)[1]
    assert stats["aggregate_stats"]["session_count"] >= 1 and len(stats["stats"]) == 9, stats
    credits = api.get("/api/v1/utilisation/credits?agent_id=1", token)[1]
    assert credits["total_usage"] > 0
    groups = api.get("/api/v1/utilisation/interactions?group_by=AGENT", token)[1]["groups"]
    assert {g["outlet_id"] for g in groups} == {"1"}, groups
    models = api.get("/api/v1/utilisation/models", token)[1]["groups"]
    assert models[0]["models"][0]["kind"] == "TTS"
    metrics = api.get("/api/v1/utilisation/metrics", token)[1]
    assert metrics["metrics"]["totalCalls"] >= 1 and len(metrics["hourlyDistribution"]) == 24
    stat = api.get("/api/v1/utilisation/agent-statistic?agent_id=1", token)[1]
    assert stat["conversations"] >= 1
    # Outlet 2 sees none of it.
    t2 = api.login(2)
    assert all(i["outlet_id"] == 2 for i in api.get("/api/v1/interactions", t2)[1]["interactions"])
    assert api.get("/api/v1/utilisation/credits?agent_id=1", t2)[0] == 404
    assert {g["outlet_id"] for g in api.get("/api/v1/utilisation/interactions?group_by=AGENT", t2)[1]["groups"]} <= {"2"}


@pytest.mark.parametrize("method,path,raw,headers,status,words", [
    ("POST", "/api/v1/agents", b"{not json", {}, 400, "not valid JSON"),
    ("POST", "/api/v1/agents", b"[1, 2]", {}, 400, "JSON object"),
    ("POST", "/api/v1/agents", b"", {}, 400, "empty"),
    ("POST", "/api/v1/agents", json.dumps({"name": 5}).encode(), {}, 400, "name must be a string"),
    ("POST", "/api/v1/agents", json.dumps({"name": "x", "rate": "fast"}).encode(), {}, 400, "rate must be an integer"),
    ("POST", "/api/v1/agents", json.dumps({"name": "x", "rate": True}).encode(), {}, 400, "rate must be an integer"),
    ("POST", "/api/v1/agents", json.dumps({"name": "x", "colour": "red"}).encode(), {}, 400, "unknown field: colour"),
    ("POST", "/api/v1/agents", json.dumps({"name": "x", "voice": "../../etc/passwd"}).encode(), {}, 400, "voice must match"),
    ("POST", "/api/v1/agents", json.dumps({"name": "x" * 70000}).encode(), {}, 413, "larger than"),
    ("POST", "/api/v1/agents", b"name=x", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "application/json"),
    ("POST", "/api/v1/connection-vendors", json.dumps({"name": "../evil", "template": {}}).encode(), {}, 400, "name must match"),
    ("POST", "/api/v1/connection-vendors", json.dumps({"name": "a'; DROP TABLE vendors;--", "template": {}}).encode(), {}, 400, "name must match"),
    ("GET", "/api/v1/connection-vendors/..%2F..%2Fetc", None, {}, 404, "connection vendor"),
    ("GET", "/api/v1/agents/1%20OR%201=1", None, {}, 404, "agent_id"),
    ("GET", "/api/v1/interactions?outcome=resolved'%20OR%20'1'='1", None, {}, 400, "outcome must be one of"),
    ("GET", "/api/v1/interactions?page=0", None, {}, 400, "page must be"),
    ("GET", "/api/v1/interactions/x'%20OR%20'1'='1", None, {}, 404, "no interaction"),
    ("GET", "/api/v1/utilisation/usage-stats?from_date=2026-02-01&to_date=2026-01-01", None, {}, 400, "cannot be before"),
    ("GET", "/api/v1/utilisation/metrics?startDate=yesterday", None, {}, 400, "startDate must match"),
    ("PUT", "/api/v1/agents/1/edge", json.dumps({"priority": 1}).encode(), {}, 400, "edge_id is required"),
    ("GET", "/api/v1/no/such/thing", None, {}, 404, "no such endpoint"),
    ("GET", "/api/v1/../../etc/passwd", None, {}, 404, "no such endpoint"),
    ("PATCH", "/api/v1/agents", json.dumps({"name": "x"}).encode(), {}, 404, "no such endpoint: PATCH"),
])
def test_bad_input(api: Client, method: str, path: str, raw, headers, status: int, words: str) -> None:
    token = api.login(1)
    before = snapshot(api, token)
    got, body, _ = api.request(method, path, token=token, raw=raw, headers=headers)
    assert got == status and body["success"] is False and words in body["message"], (got, body)
    assert snapshot(api, token) == before


def test_sql_metacharacters_are_kept_as_text(api: Client) -> None:
    token = api.login(1)
    name = "Robert'); DROP TABLE agents;-- \" \\ %_"
    status, body = api.post("/api/v1/agents", {"name": name}, token)
    assert status == 200 and body["agent"]["name"] == name
    aid = body["agent"]["agent_id"]
    assert api.get(f"/api/v1/agents/{aid}", token)[1]["agent"]["name"] == name
    assert len(api.get("/api/v1/agents", token)[1]["agents"]) >= 2


def snapshot(api: Client, token: str) -> str:
    """Outlet 1's data as its own token reads it."""
    parts = [api.get("/api/v1/agents", token)[1], api.get("/api/v1/agents/1/state-machine", token)[1],
             api.get("/api/v1/connection-vendors", token)[1], api.get("/api/v1/interactions", token)[1],
             api.get("/api/v1/dashboard", token)[1]]
    return json.dumps(parts, sort_keys=True)


def test_tools_checked_and_kept_while_the_flow_calls_them(api: Client) -> None:
    token = api.login(2)
    flow = json.loads(json.dumps(SMALL_FLOW))
    flow["states"][0]["on_entry"] = [{"type": "function", "name": "lookup_booking", "arguments": {}}]
    aid = api.post("/api/v1/agents", {"name": "Tools", "flow": flow}, token)[1]["agent"]["agent_id"]
    tool = {"name": "lookup_booking", "description": "Finds a booking by phone number",
            "parameters": {"type": "object", "properties": {"phone": {"type": "string", "pattern": "^\\+[0-9]+$"},
                                                            "party": {"type": "integer", "minimum": 1}}, "required": ["phone"]}}
    status, body = api.post(f"/api/v1/agents/{aid}/tools", tool, token)
    assert status == 200, body
    assert api.post(f"/api/v1/agents/{aid}/tools", tool, token)[0] == 409
    bad = {"name": "bad", "description": "x", "parameters": {"type": "object", "properties": {"a": {"type": "strin"}, "b": {"type": "array"}},
                                                             "required": ["c"], "colour": 1}}
    status, body = api.post(f"/api/v1/agents/{aid}/tools", bad, token)
    assert status == 422 and len(body["problems"]) == 4, body
    status, body = api.put(f"/api/v1/agents/{aid}/tools/lookup_booking", {"description": "Finds a booking"}, token)
    assert status == 200 and body["tool"]["description"] == "Finds a booking"
    assert [t["name"] for t in api.get(f"/api/v1/agents/{aid}/tools", token)[1]["tools"]] == ["lookup_booking"]
    status, body = api.delete(f"/api/v1/agents/{aid}/tools/lookup_booking", token)
    assert status == 409 and "states 1" in body["message"]
    assert api.put(f"/api/v1/agents/{aid}/states/1", {"on_entry": []}, token)[0] == 200
    assert api.delete(f"/api/v1/agents/{aid}/tools/lookup_booking", token)[0] == 200
    assert api.get(f"/api/v1/agents/{aid}/tools", token)[1]["tools"] == []


def test_model_configuration_against_the_catalogue(api: Client) -> None:
    token = api.login(2)
    providers = api.get("/api/v1/model-config/providers?kind=TTS", token)[1]["providers"]
    assert [p["name"] for p in providers] == ["espeak-ng"]
    models = api.get("/api/v1/model-config/models?provider=openai", token)[1]["models"]
    assert "gpt-4o-mini" in [m["name"] for m in models]
    params = api.get("/api/v1/model-config/parameters?provider=openai&model=gpt-4o-mini", token)[1]["parameters"]
    assert params["temperature"]["maximum"] == 2
    assert api.get("/api/v1/model-config/models?provider=nobody", token)[0] == 404
    aid = api.post("/api/v1/agents", {"name": "Models"}, token)[1]["agent"]["agent_id"]
    good = {"kind": "CONVERSATION", "provider": "openai", "model": "gpt-4o-mini", "parameters": {"temperature": 0.2, "max_tokens": 300}}
    assert api.put(f"/api/v1/agents/{aid}/model-config", good, token)[0] == 200
    bad = {"kind": "TTS", "provider": "openai", "model": "gpt-4o-mini", "parameters": {"temperature": 9, "voice": "en-us", "max_tokens": 1.5}}
    status, body = api.put(f"/api/v1/agents/{aid}/model-config", bad, token)
    assert status == 422 and len(body["problems"]) == 4, body
    config = api.get(f"/api/v1/agents/{aid}/model-config", token)[1]["model_config"]
    assert config == {"CONVERSATION": {"provider": "openai", "model": "gpt-4o-mini", "parameters": {"temperature": 0.2, "max_tokens": 300}}}


VIP_FLOW = {
    "variables": {"vip": False},
    "states": [
        {"state_id": 1, "name": "hello", "initial": True, "state_prompt": "Hello. Press a key."},
        {"state_id": 2, "name": "vip", "terminal": True, "state_prompt": "Welcome back.", "on_entry": [{"type": "end_call"}]},
        {"state_id": 3, "name": "guest", "terminal": True, "state_prompt": "Goodbye.", "on_entry": [{"type": "end_call"}]},
    ],
    "edges": [
        {"edge_id": 1, "from_node": 1, "to_node": 2, "condition": "event.type == \"dtmf\" && vars.vip == true"},
        {"edge_id": 2, "from_node": 1, "to_node": 3, "priority": 5, "condition": "event.type == \"dtmf\""},
    ],
}


def test_pre_interaction_context_reaches_the_flow_once(api: Client, silence) -> None:
    token = api.login(2)
    aid = api.post("/api/v1/agents", {"name": "VIP line", "flow": VIP_FLOW}, token)[1]["agent"]["agent_id"]
    number = "+15550123"
    status, body = api.post("/api/v1/pre-interactions", {"number": number, "agent_id": aid, "variables": {"vip": False}}, token)
    assert status == 200, body
    cid = body["context"]["context_id"]
    assert api.put(f"/api/v1/pre-interactions/{cid}", {"variables": {"vip": True}}, token)[1]["context"]["variables"] == {"vip": True}
    other = api.post("/api/v1/pre-interactions", {"number": "+15550999", "variables": {"x": 1}}, token)[1]["context"]["context_id"]
    assert api.delete(f"/api/v1/pre-interactions/{other}", token)[0] == 200
    assert api.post("/api/v1/pre-interactions", {"number": number, "variables": {"bad name": 1}}, token)[0] == 400
    assert api.get("/api/v1/pre-interactions", token)[1]["pending"] == 1

    def call() -> list:
        url = f"ws://127.0.0.1:{api.server.port}/ws-adapter/twilio/inbound/{aid}/2/+15550100?caller_id={urllib.parse.quote(number)}&token={token}"
        report = asyncio.run(simulate(url, silence(4), speed=4, dtmf=[(2.0, "1")], tail=0.5))
        assert report.calls[0].ok, report.calls[0].error
        api.server.settle()
        deadline = time.time() + 10
        while True:
            items = api.get(f"/api/v1/interactions?agent_id={aid}", token)[1]["interactions"]
            if items or time.time() > deadline:
                break
            time.sleep(0.1)
        newest = items[0]["interaction_id"]
        return api.get(f"/api/v1/interactions/{urllib.parse.quote(newest, safe='')}/summary", token)[1]["summary"]["flow_path"]

    assert call() == [1, 2]          # the context made the caller a VIP
    summary = api.get("/api/v1/interactions?agent_id=" + str(aid), token)[1]
    info = api.get("/api/v1/pre-interactions", token)[1]
    assert info["pending"] == 0 and info["used"] == 1
    assert api.put(f"/api/v1/pre-interactions/{cid}", {"variables": {"vip": False}}, token)[0] == 409
    time.sleep(1.1)                  # interactions are listed newest first by their start
    assert call() == [1, 3]          # used once: the next call from the number is a guest's
    assert summary["total"] == 1
    assert api.delete("/api/v1/pre-interactions", token)[1]["deleted"] == 1


def test_random_tokens_are_refused_and_the_server_stays_up(api: Client) -> None:
    """Property: any byte string as a bearer token or a call's token query parameter is a 401."""
    import random
    rng = random.Random(24)
    t2 = api.login(2)
    agent = api.post("/api/v1/agents", {"name": "Fuzzed"}, t2)[1]["agent"]["agent_id"]
    parts = [b"eyJhbGciOiJIUzI1NiJ9", b".", b"..", b"=", b"%", b"\xff", b"{}", t2.encode()]
    for i in range(300):
        pieces = [rng.choice(parts) if rng.random() < 0.5 else bytes(rng.randrange(33, 127) for _ in range(rng.randrange(0, 40)))
                  for _ in range(rng.randrange(1, 6))]
        token = b"".join(pieces).decode("latin-1")
        if token == t2:
            continue
        header = "".join(c for c in token if 32 < ord(c) < 127) or "x"
        if header != t2:
            assert api.request("GET", "/api/v1/agents", headers={"Authorization": f"Bearer {header}"})[0] == 401, header
        query = urllib.parse.quote(token.encode("latin-1"), safe="")
        assert upgrade(api, f"/ws-adapter/twilio/inbound/{agent}/2/+15550100?token={query}")[0] == 401, token
    assert api.get("/api/v1/agents", t2)[0] == 200


def test_text_modality_start_respond_end(api: Client) -> None:
    """Seed 000's text modality over HTTP: the demo agent's flow answers typed messages; ending records
    the interaction once (call_type text), listed among the outlet's interactions; an ended or unknown
    interaction is refused."""
    token = api.login(1)
    status, body = api.post("/api/v1/agents/1/text-interactions", token=token)
    assert status == 200, body
    start = body["reply"]
    assert start["state"] == "greeting" and start["prompt"] and not start["ended"]
    tid = start["interaction_id"]
    states = []
    for message in ("Book a table, please!", "four", "Yes"):
        status, body = api.post(f"/api/v1/text-interactions/{tid}/messages", {"text": message}, token)
        assert status == 200, body
        states.append(body["reply"]["state"])
    assert states == ["party size", "confirm", "booked"] and body["reply"]["ended"]
    status, body = api.post(f"/api/v1/text-interactions/{tid}/messages", {"text": "more"}, token)
    assert status == 409 and "ended" in body["message"]
    status, body = api.post(f"/api/v1/text-interactions/{tid}/end", token=token)
    assert status == 200 and body["interaction_id"] == tid and body["ledger"]["success"] is True, body
    assert api.post(f"/api/v1/text-interactions/{tid}/end", token=token)[0] == 404  # recorded once
    listed = api.get("/api/v1/interactions?page_size=200", token)[1]["interactions"]
    mine = [i for i in listed if i["interaction_id"] == tid]
    assert len(mine) == 1 and mine[0]["call_type"] == "text" and mine[0]["outcome"] == "resolved", mine
    # Bad input: a message that is not text, unknown fields, an id of the wrong shape.
    status, body = api.post("/api/v1/agents/1/text-interactions", token=token)
    other = body["reply"]["interaction_id"]
    assert api.post(f"/api/v1/text-interactions/{other}/messages", {"text": 4}, token)[0] == 400
    assert api.post(f"/api/v1/text-interactions/{other}/messages", {"text": "hi", "x": 1}, token)[0] == 400
    assert api.post("/api/v1/text-interactions/text-..%2F..%2Fetc/end", token=token)[0] == 404
    assert api.post(f"/api/v1/text-interactions/{other}/end", token=token)[0] == 200
