"""Outlet isolation: outlet 2's token walks every operation of the OpenAPI document with outlet 1's ids
(its agent, states, edges, vendor, interaction) and gets 403 or 404 from each, and outlet 1's data is
byte for byte what it was. Operations that name no id answer with outlet 2's own data only."""
from __future__ import annotations

import asyncio
import json
import urllib.parse

from conftest import Client

from formi.sim import simulate
from test_api import SMALL_FLOW, snapshot, twilio_template

# A body each operation accepts (so that a refusal is about whose ids they are, not about the body).
BODIES = {
    "createAgent": {"name": "walker"},
    "updateAgent": {"name": "pwned"},
    "validateStateMachine": {"flow": SMALL_FLOW},
    "createState": {"template_id": 10},
    "updateState": {"state_prompt": "pwned"},
    "createEdge": {"from_node": 1, "to_node": 2, "condition": "event.type == \"dtmf\""},
    "legacyCreateEdge": {"from_node": 1, "to_node": 2, "condition": "event.type == \"dtmf\""},
    "updateEdge": {"priority": 9},
    "legacyUpdateEdge": {"edge_id": 1, "priority": 9},
    "renderPromptTemplate": {"template_id": 10},
    "resolveInteraction": {"note": "pwned"},
    "setCredits": {"outlet_id": 1, "agent_id": 1, "mode": "set", "amount": 0, "idempotency_key": "walk"},
    "addTool": {"name": "pwn", "description": "x", "parameters": {"type": "object", "properties": {}}},
    "updateTool": {"description": "pwned"},
    "setWebhook": {"url": "http://127.0.0.1:9/attacker"},
    "setWebhookMetadata": {"metadata": {"who": "attacker"}},
    "scheduleContext": {"number": "+15550999", "variables": {"who": "attacker"}},
    "updateContext": {"variables": {"who": "attacker"}},
    "addVariable": {"name": "stolen", "type": "string"},
    "updateVariable": {"description": "pwned"},
    "connectVariable": {"destination_id": "DESTINATION"},
    "addDestination": {"name": "attacker", "type": "webhook", "url": "http://127.0.0.1:9/x"},
    "updateDestination": {"name": "pwned"},
    "setEmailConfig": {"host": "127.0.0.1", "port": 2525, "from": "attacker@example.com"},
    "respondTextInteraction": {"text": "book a table"},
    "setConnection": {"vendor": "twilio"},
    "setModelConfig": {"kind": "TTS", "provider": "espeak-ng", "model": "espeak-ng", "parameters": {"rate": 300}},
}
# Operations that name no resource: they act on the caller's own outlet.
OWN = {"listAgents", "createAgent", "getDashboard", "enableDashboard", "disableDashboard", "listVendors",
       "createVendor", "listInteractions", "interactionUtilisation", "modelUtilisation", "supportedProviders",
       "supportedModels", "supportedParameters", "getWebhook", "setWebhook", "getWebhookMetadata", "setWebhookMetadata", "listContexts",
       "scheduleContext", "clearContexts", "listVariables", "addVariable", "listDestinations", "addDestination",
       "getEmailConfig", "setEmailConfig"}
SKIP = {"login", "adminToken"}


def victim_state(api: Client, token: str, agent: int, iid: str) -> str:
    quoted = urllib.parse.quote(iid, safe="")
    parts = [snapshot(api, token), api.get(f"/api/v1/agents/{agent}/state-machine", token)[1],
             api.get("/api/v1/connection-vendors/victim", token)[1], api.get(f"/api/v1/interactions/{quoted}", token)[1],
             api.get("/api/v1/utilisation/credits?agent_id=1", token)[1], api.get(f"/api/v1/agents/{agent}/tools", token)[1],
             api.get(f"/api/v1/agents/{agent}/model-config", token)[1], api.get("/api/v1/webhook", token)[1],
             api.get("/api/v1/webhook/metadata", token)[1], api.get("/api/v1/pre-interactions", token)[1],
             api.get("/api/v1/post-interaction/variables", token)[1], api.get("/api/v1/post-interaction/destinations", token)[1],
             api.get("/api/v1/post-interaction/email", token)[1], api.get(f"/api/v1/agents/{agent}/connection", token)[1]]
    return json.dumps(parts, sort_keys=True)


def test_another_outlets_token_reaches_nothing(api: Client, silence) -> None:
    victim, attacker = api.login(1), api.login(2)
    status, body = api.post("/api/v1/agents", {"name": "Victim agent", "flow": SMALL_FLOW}, victim)
    assert status == 200, body
    agent = body["agent"]["agent_id"]
    assert api.post("/api/v1/connection-vendors", {"name": "victim", "template": twilio_template(api, victim)}, victim)[0] == 200
    tool = {"name": "victimtool", "description": "looks up", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}
    assert api.post(f"/api/v1/agents/{agent}/tools", tool, victim)[0] == 200
    config = {"kind": "TTS", "provider": "espeak-ng", "model": "espeak-ng", "parameters": {"rate": 170}}
    assert api.put(f"/api/v1/agents/{agent}/model-config", config, victim)[0] == 200
    assert api.put("/api/v1/webhook/metadata", {"metadata": {"who": "victim"}}, victim)[0] == 200
    assert api.put(f"/api/v1/agents/{agent}/connection", {"vendor": "victim", "virtual_number": "+15550100"}, victim)[0] == 200
    status, body = api.post("/api/v1/pre-interactions", {"number": "+15550777", "variables": {"who": "victim"}}, victim)
    assert status == 200, body
    context_id = body["context"]["context_id"]
    assert api.post("/api/v1/post-interaction/variables", {"name": "party_size", "type": "integer"}, victim)[0] == 200
    status, body = api.post("/api/v1/post-interaction/destinations", {"name": "crm", "type": "webhook", "url": "http://127.0.0.1:9/crm"}, victim)
    assert status == 200, body
    destination_id = body["destination"]["destination_id"]
    assert api.post("/api/v1/post-interaction/variables/party_size/destinations", {"destination_id": destination_id}, victim)[0] == 200
    assert api.put("/api/v1/post-interaction/email", {"host": "127.0.0.1", "port": 2525, "from": "desk@luigis.example"}, victim)[0] == 200
    report = asyncio.run(simulate(api.server.url("twilio", "inbound/1/1/+15550100"), silence(4), speed=4, dtmf=[(2.0, "0")], tail=0.5))
    assert report.calls[0].ok, report.calls[0].error
    api.server.settle()
    iid = api.get("/api/v1/interactions", victim)[1]["interactions"][0]["interaction_id"]
    status, body = api.post(f"/api/v1/agents/{agent}/text-interactions", token=victim)
    assert status == 200, body
    text_id = body["reply"]["interaction_id"]

    before = victim_state(api, victim, agent, iid)
    document = api.get("/openapi.json")[1]
    walked = set()
    for path, item in document["paths"].items():
        for method, op in item.items():
            name = op["operationId"]
            if name in SKIP:
                continue
            walked.add(name)
            url = (path.replace("{agent_id}", str(agent)).replace("{state_id}", "1").replace("{edge_id}", "1")
                   .replace("/variables/{name}", "/variables/party_size").replace("{name}", "victim")
                   .replace("{tool_name}", "victimtool").replace("{context_id}", context_id)
                   .replace("{destination_id}", destination_id).replace("{interaction_id}", urllib.parse.quote(iid, safe="")).replace("{text_id}", text_id))
            values = {"edge_id": 1, "agent_id": agent, "provider": "espeak-ng", "model": "espeak-ng"}
            query = {p["name"]: values[p["name"]] for p in op.get("parameters", []) if p["in"] == "query" and p["name"] in values}
            if query:
                url += "?" + urllib.parse.urlencode(query)
            body = json.loads(json.dumps(BODIES.get(name)).replace("DESTINATION", destination_id)) if name in BODIES else None
            if name == "updateVendor":
                body = {"template": twilio_template(api, attacker)}
            if name == "createVendor":
                body = {"name": "attacker", "template": twilio_template(api, attacker)}
            status, answer, _ = api.request(method.upper(), url, body, token=attacker)
            text = json.dumps(answer)
            if name in OWN:
                assert status == 200, (name, status, answer)
                assert "Victim agent" not in text and iid not in text and '"victim"' not in text, (name, answer)
                assert '"outlet_id": 1' not in text and '"outlet_id": "1"' not in text, (name, answer)
            else:
                assert status in (403, 404), (name, method, url, status, answer)
                assert answer["success"] is False, (name, answer)
                # Refused by the route (another outlet's id), not because the route does not exist.
                assert not answer["message"].startswith("no such endpoint"), (name, answer)
    operations = {op["operationId"] for item in document["paths"].values() for op in item.values()} - SKIP
    assert walked == operations
    assert victim_state(api, victim, agent, iid) == before
    # The victim's text interaction is still open and answers its owner only.
    status, body = api.post(f"/api/v1/text-interactions/{text_id}/messages", {"text": "hello"}, victim)
    assert status == 200 and body["reply"]["interaction_id"] == text_id, body
