#!/usr/bin/env python3
"""Writes the platform API's OpenAPI 3.1 document (Sources/formi-server/API/openapi.json), the contract
the server's hand-written routes are checked against (tests/api). Edit the operations here, run
`python3 scripts/openapi.py`, commit both; tests/api/test_document.py fails when the two differ."""
import json
import sys
from pathlib import Path
ERR = {"$ref": "#/components/responses/Error"}
def ok(schema_props=None, required=None, desc="OK"):
    s = {"type": "object", "properties": {"success": {"const": True}}, "required": ["success"]}
    if schema_props: s["properties"].update(schema_props)
    if required: s["required"] += required
    return {"200": {"description": desc, "content": {"application/json": {"schema": s}}}}
def errs(*codes):
    return {str(c): ERR for c in codes}
def op(summary, tag, responses, params=None, body=None, security=True, opid=None, body_required=True):
    o = {"summary": summary, "tags": [tag], "operationId": opid, "responses": responses}
    if params: o["parameters"] = params
    if body is not None:
        o["requestBody"] = {"required": body_required, "content": {"application/json": {"schema": body}}}
    if not security: o["security"] = []
    return o
def path_int(name): return {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1, "maximum": 999999999, "examples": [1]}}
def q(name, schema, required=False): return {"name": name, "in": "query", "required": required, "schema": schema}
R = lambda n: {"$ref": f"#/components/schemas/{n}"}
AG = path_int("agent_id")
STD = (400, 401, 403, 404)
date = {"type": "string", "pattern": r"^(\d{2}/\d{2}/\d{4}|\d{4}-\d{2}-\d{2})$", "examples": ["2026-01-31"]}
instant = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$", "examples": ["2026-01-31T00:00:00Z"]}
offset = {"type": "integer", "minimum": -64800, "maximum": 64800, "multipleOf": 900}
obj = {"type": "object"}
flow_edit = {"type": "object", "description": "fields of the library's flow edit (docs: FlowEdits.swift); checked by the library", "not": {"required": ["op"]}}

paths = {}
paths["/api/v1/auth/token"] = {"post": op("Login / generate token: an outlet's id and secret for a signed token", "Generate Token",
    {**ok({"token": {"type": "string"}, "token_type": {"const": "Bearer"}, "expires_at": {"type": "string"}, "expires_in": {"type": "integer"}, "outlet_id": {"type": "integer"}}, ["token", "token_type", "expires_at", "expires_in", "outlet_id"]), **errs(400, 401, 413, 415, 429)},
    body={"type": "object", "additionalProperties": False, "required": ["outlet_id", "secret"], "properties": {"outlet_id": {"type": "integer", "minimum": 1, "maximum": 2147483647}, "secret": {"type": "string", "minLength": 1, "maxLength": 72}}},
    security=False, opid="login")}
paths["/api/v1/auth/admin-token"] = {"post": op("An admin token (admin operations: set credits)", "Generate Token",
    {**ok({"token": {"type": "string"}, "token_type": {"const": "Bearer"}, "expires_at": {"type": "string"}, "expires_in": {"type": "integer"}}, ["token"]), **errs(400, 401, 403, 413, 415, 429)},
    body={"type": "object", "additionalProperties": False, "required": ["secret"], "properties": {"secret": {"type": "string", "minLength": 1, "maxLength": 200}}},
    security=False, opid="adminToken")}
agent_in = {"type": "object", "additionalProperties": False, "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 120},
    "voice": {"type": "string", "pattern": r"^[a-z]{2,3}(-[a-z0-9]{1,8}){0,2}(\+[a-z0-9]{1,16})?$", "examples": ["en-us"]},
    "rate": {"type": "integer", "minimum": 80, "maximum": 450}}}
agent_create = json.loads(json.dumps(agent_in)); agent_create["required"] = ["name"]; agent_create["properties"]["flow"] = {"type": "object", "description": "a flow in the library's format; default: the demo flow"}
paths["/api/v1/agents"] = {
    "get": op("Get all agents of the outlet", "Agents", {**ok({"agents": {"type": "array", "items": R("Agent")}}, ["agents"]), **errs(400, 401, 403)}, opid="listAgents"),
    "post": op("Create an agent (with a flow, checked by the library)", "Agents", {**ok({"agent": R("Agent")}, ["agent"]), **errs(400, 401, 403, 413, 415, 422)}, body=agent_create, opid="createAgent")}
paths["/api/v1/agents/{agent_id}"] = {
    "get": op("Single agent details", "Agents", {**ok({"agent": R("Agent")}, ["agent"]), **errs(*STD)}, [AG], opid="getAgent"),
    "put": op("Update agent details", "Agents", {**ok({"agent": R("Agent")}, ["agent"]), **errs(*STD, 413, 415)}, [AG], body=agent_in, opid="updateAgent")}
dash = {"outlet_id": {"type": "integer"}, "dashboard_enabled": {"type": "boolean"}}
paths["/api/v1/dashboard"] = {"get": op("Whether the outlet's dashboard is enabled", "Agents", {**ok(dash, ["outlet_id", "dashboard_enabled"]), **errs(400, 401, 403, 404)}, opid="getDashboard")}
paths["/api/v1/dashboard/enable"] = {"post": op("Enable the dashboard for the outlet", "Agents", {**ok(dash, ["outlet_id", "dashboard_enabled"]), **errs(400, 401, 403, 404)}, opid="enableDashboard")}
paths["/api/v1/dashboard/disable"] = {"post": op("Disable the dashboard for the outlet", "Agents", {**ok(dash, ["outlet_id", "dashboard_enabled"]), **errs(400, 401, 403, 404)}, opid="disableDashboard")}
edit_ok = {**ok({"agent_id": {"type": "integer"}, "warnings": {"type": "array"}}, ["agent_id", "warnings"]), **errs(*STD, 409, 413, 415, 422)}
paths["/api/v1/agents/{agent_id}/state-machine"] = {"get": op("Get the state machine structure (and its validation)", "State Machine",
    {**ok({"agent_id": {"type": "integer"}, "flow": obj, "validation": R("Validation")}, ["agent_id", "flow", "validation"]), **errs(*STD)}, [AG], opid="getStateMachine")}
paths["/api/v1/agents/{agent_id}/state-machine/validate"] = {"post": op("Validate the stored flow, or the flow given, every problem at once", "State Machine",
    {**ok({"agent_id": {"type": "integer"}, "valid": {"type": "boolean"}, "errors": {"type": "array", "items": R("Problem")}, "warnings": {"type": "array", "items": R("Problem")}}, ["valid", "errors", "warnings"]), **errs(*STD, 413, 415)},
    [AG], body={"type": "object", "additionalProperties": False, "required": ["flow"], "properties": {"flow": obj}}, opid="validateStateMachine", body_required=False)}
paths["/api/v1/agents/{agent_id}/states"] = {"post": op("Create a state from a template", "State Machine", edit_ok, [AG], body=flow_edit, opid="createState")}
SID = path_int("state_id"); EID = path_int("edge_id")
paths["/api/v1/agents/{agent_id}/states/{state_id}"] = {
    "get": op("Get state information", "State Machine", {**ok({"agent_id": {"type": "integer"}, "state": obj}, ["state"]), **errs(*STD)}, [AG, SID], opid="getState"),
    "put": op("Update a state", "State Machine", edit_ok, [AG, SID], body=flow_edit, opid="updateState"),
    "delete": op("Delete a state (and the edges touching it)", "State Machine", edit_ok, [AG, SID], opid="deleteState")}
paths["/api/v1/agents/{agent_id}/edges"] = {"post": op("Create an edge (transition) between two states", "State Machine", edit_ok, [AG], body=flow_edit, opid="createEdge")}
edge_ok = {**ok({"agent_id": {"type": "integer"}, "edge": obj}, ["edge"]), **errs(*STD)}
paths["/api/v1/agents/{agent_id}/edges/{edge_id}"] = {
    "get": op("Get edge details", "State Machine", edge_ok, [AG, EID], opid="getEdge"),
    "put": op("Update edge properties", "State Machine", edit_ok, [AG, EID], body=flow_edit, opid="updateEdge"),
    "delete": op("Delete an edge", "State Machine", edit_ok, [AG, EID], opid="deleteEdge")}
QE = q("edge_id", {"type": "integer", "minimum": 1, "maximum": 2147483647}, True)
legacy_put = {"type": "object", "required": ["edge_id"], "properties": {"edge_id": {"type": "integer", "minimum": 1}}, "not": {"required": ["op"]}}
paths["/api/v1/agents/{agent_id}/edge"] = {
    "post": op("Legacy: create edge", "State Machine (legacy)", edit_ok, [AG], body=flow_edit, opid="legacyCreateEdge"),
    "get": op("Legacy: edge details (edge_id in the query)", "State Machine (legacy)", edge_ok, [AG, QE], opid="legacyGetEdge"),
    "put": op("Legacy: update edge (edge_id in the body)", "State Machine (legacy)", edit_ok, [AG], body=legacy_put, opid="legacyUpdateEdge"),
    "delete": op("Legacy: delete edge (edge_id in the query)", "State Machine (legacy)", edit_ok, [AG, QE], opid="legacyDeleteEdge")}
paths["/api/v1/agents/{agent_id}/prompt-templates"] = {"get": op("Get all prompt templates of the agent's flow", "Prompt Templates",
    {**ok({"agent_id": {"type": "integer"}, "templates": {"type": "array", "items": obj}}, ["templates"]), **errs(*STD)}, [AG], opid="listPromptTemplates")}
paths["/api/v1/agents/{agent_id}/prompt-templates/render"] = {"post": op("Render a template (missing variables named)", "Prompt Templates",
    {**ok({"text": {"type": "string"}, "missing_variables": {"type": "array", "items": {"type": "string"}}}, ["text", "missing_variables"]), **errs(*STD, 413, 415, 422)}, [AG],
    body={"type": "object", "additionalProperties": False, "properties": {"template_id": {}, "text": {"type": "string", "minLength": 1, "maxLength": 65536}, "variables": obj}}, opid="renderPromptTemplate")}
vendor_name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[a-z][a-z0-9_-]{0,31}$", "examples": ["twilio"]}}
vend = {"name": {"type": "string"}, "builtin": {"type": "boolean"}, "editable": {"type": "boolean"}}
paths["/api/v1/connection-vendors"] = {
    "get": op("Get all connection vendors (built-in and the outlet's)", "Connection Vendors", {**ok({"vendors": {"type": "array", "items": {"type": "object", "properties": vend, "required": ["name", "builtin", "editable"]}}}, ["vendors"]), **errs(400, 401, 403)}, opid="listVendors"),
    "post": op("Create a new connection vendor (a provider template, seed 004's format)", "Connection Vendors", {**ok(vend, ["name"]), **errs(400, 401, 403, 409, 413, 415, 422)},
        body={"type": "object", "additionalProperties": False, "required": ["name", "template"], "properties": {"name": {"type": "string", "pattern": "^[a-z][a-z0-9_-]{0,31}$"}, "template": obj}}, opid="createVendor")}
paths["/api/v1/connection-vendors/{name}"] = {
    "get": op("One connection vendor's template", "Connection Vendors", {**ok({**vend, "template": obj}, ["name", "template"]), **errs(*STD)}, [vendor_name], opid="getVendor"),
    "put": op("Update a connection vendor", "Connection Vendors", {**ok(vend, ["name"]), **errs(*STD, 413, 415, 422)}, [vendor_name],
        body={"type": "object", "additionalProperties": False, "required": ["template"], "properties": {"template": obj}}, opid="updateVendor"),
    "delete": op("Delete a connection vendor", "Connection Vendors", {**ok({"name": {"type": "string"}, "deleted": {"const": True}}, ["name", "deleted"]), **errs(*STD)}, [vendor_name], opid="deleteVendor")}
IID = {"name": "interaction_id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~]+$"}}
paths["/api/v1/interactions"] = {"get": op("Get the interaction list (filters, pages)", "Interactions",
    {**ok({"interactions": {"type": "array", "items": R("InteractionSummary")}, "page": {"type": "integer"}, "page_size": {"type": "integer"}, "total": {"type": "integer"}, "total_pages": {"type": "integer"}}, ["interactions", "page", "page_size", "total", "total_pages"]), **errs(400, 401, 403)},
    [q("agent_id", {"type": "integer", "minimum": 1, "maximum": 2147483647}), q("outcome", {"enum": ["resolved", "transferred", "abandoned", "other"]}), q("escalated", {"type": "boolean"}),
     q("from", {"type": "string", "format": "date-time"}), q("to", {"type": "string", "format": "date-time"}),
     q("page", {"type": "integer", "minimum": 1, "maximum": 1000000}), q("page_size", {"type": "integer", "minimum": 1, "maximum": 200})], opid="listInteractions")}
paths["/api/v1/interactions/{interaction_id}"] = {"get": op("Information regarding a single interaction (record and cost)", "Interactions",
    {**ok({"interaction": {"allOf": [R("InteractionSummary"), {"type": "object", "required": ["record"], "properties": {"record": obj, "ledger": obj}}]}}, ["interaction"]), **errs(*STD)}, [IID], opid="getInteraction")}
paths["/api/v1/interactions/{interaction_id}/summary"] = {"get": op("Get interaction summary", "Interactions",
    {**ok({"summary": {"allOf": [R("InteractionSummary"), {"type": "object", "required": ["flow_path", "end_reason"]}]}}, ["summary"]), **errs(*STD)}, [IID], opid="getInteractionSummary")}
paths["/api/v1/interactions/{interaction_id}/resolve"] = {"post": op("Resolve an escalated interaction", "Interactions",
    {**ok({"interaction": R("InteractionSummary")}, ["interaction"]), **errs(*STD, 409, 413, 415)}, [IID],
    body={"type": "object", "additionalProperties": False, "properties": {"note": {"type": "string", "minLength": 1, "maxLength": 2000}}}, opid="resolveInteraction", body_required=False)}
DATES = [q("from_date", date), q("to_date", date), q("utc_offset", offset)]
INST = [q("startDate", instant), q("endDate", instant), q("utc_offset", offset)]
QAG = q("agent_id", {"type": "integer", "minimum": 1, "maximum": 2147483647})
GB = q("group_by", {"enum": ["OUTLET", "AGENT"]})
U = "Agent Utilisation"
paths["/api/v1/utilisation/credits"] = {"get": op("Get credits available (seed 000)", U,
    {**ok({"available_credits": {"type": "integer"}, "total_recharge": {"type": "integer"}, "total_usage": {"type": "integer"}, "credits_type": {"type": ["string", "null"]}, "unit": {"type": "string"}, "filtered_credit_usage": obj}, ["available_credits", "total_recharge", "total_usage"]), **errs(*STD)},
    [q("agent_id", {"type": "integer", "minimum": 1, "maximum": 2147483647}, True)] + DATES, opid="getCredits")}
paths["/api/v1/utilisation/credits/set"] = {"post": op("Set credits (admin): mode set or add, idempotent by key", U,
    {**ok({"mode": {"enum": ["set", "add"]}}, ["mode"]), **errs(400, 401, 403, 404, 413, 415, 422)},
    body={"type": "object", "additionalProperties": False, "required": ["outlet_id", "agent_id", "mode", "amount", "idempotency_key"], "properties": {
        "outlet_id": {"type": "integer", "minimum": 1, "maximum": 2147483647}, "agent_id": {"type": "integer", "minimum": 1, "maximum": 2147483647},
        "mode": {"enum": ["set", "add"]}, "amount": {"type": "integer", "minimum": 0, "maximum": 4503599627370496}, "idempotency_key": {"type": "string", "minLength": 1, "maxLength": 200}}}, opid="setCredits")}
paths["/api/v1/utilisation/interactions"] = {"get": op("Interaction utilisation (OUTLET or AGENT)", U, {**ok({"groups": {"type": "array", "items": obj}, "group_by": {"type": "string"}}, ["groups"]), **errs(400, 401, 403)}, [GB] + DATES, opid="interactionUtilisation")}
paths["/api/v1/utilisation/models"] = {"get": op("Model utilisation (OUTLET or AGENT)", U, {**ok({"groups": {"type": "array", "items": obj}, "group_by": {"type": "string"}}, ["groups"]), **errs(400, 401, 403)}, [GB] + DATES, opid="modelUtilisation")}
paths["/api/v1/utilisation/usage-stats"] = {"get": op("Usage stats (seed 001's shape)", U, {**ok({"aggregate_stats": obj, "previous_interval_stats": obj, "stats": {"type": "array", "items": obj, "minItems": 9, "maxItems": 9}}, ["aggregate_stats", "previous_interval_stats", "stats"]), **errs(*STD)}, [QAG] + DATES, opid="usageStats")}
paths["/api/v1/utilisation/agent-statistic"] = {"get": op("Agent statistic (seed 002)", U, {**ok({"conversations": {"type": "integer"}, "tokensUsed": {"type": "integer"}}, ["conversations", "tokensUsed"]), **errs(*STD)}, [QAG] + INST, opid="agentStatistic")}
paths["/api/v1/utilisation/metrics"] = {"get": op("Metrics (seed 003)", U, {**ok({"metrics": obj, "dailyVolume": {"type": "array"}, "hourlyDistribution": {"type": "array", "minItems": 24, "maxItems": 24}, "resolutionBreakdown": obj, "agentPerformance": {"type": "array"}}, ["metrics", "dailyVolume", "hourlyDistribution", "resolutionBreakdown", "agentPerformance"]), **errs(*STD)}, [QAG] + INST, opid="metrics")}

TN = {"name": "tool_name", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_-]{0,63}$", "examples": ["lookup"]}}
TOOL = {"type": "object", "required": ["name", "description", "parameters"], "properties": {"name": {"type": "string"}, "description": {"type": "string"}, "parameters": obj, "updated_at": {"type": "string"}}}
tool_schema = {"type": "object", "description": "a JSON Schema of type object (the subset tool calling uses)"}
paths["/api/v1/agents/{agent_id}/tools"] = {
    "get": op("Get the agent's tools", "Tools", {**ok({"agent_id": {"type": "integer"}, "tools": {"type": "array", "items": TOOL}}, ["tools"]), **errs(*STD)}, [AG], opid="listTools"),
    "post": op("Add a tool", "Tools", {**ok({"agent_id": {"type": "integer"}, "tool": TOOL}, ["tool"]), **errs(*STD, 409, 413, 415, 422)}, [AG],
        body={"type": "object", "additionalProperties": False, "required": ["name", "description", "parameters"], "properties": {
            "name": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_-]{0,63}$"}, "description": {"type": "string", "minLength": 1, "maxLength": 1024}, "parameters": tool_schema}}, opid="addTool")}
paths["/api/v1/agents/{agent_id}/tools/{tool_name}"] = {
    "put": op("Update a tool", "Tools", {**ok({"agent_id": {"type": "integer"}, "tool": TOOL}, ["tool"]), **errs(*STD, 413, 415, 422)}, [AG, TN],
        body={"type": "object", "additionalProperties": False, "properties": {"description": {"type": "string", "minLength": 1, "maxLength": 1024}, "parameters": tool_schema}}, opid="updateTool"),
    "delete": op("Delete a tool (refused while the flow calls it)", "Tools", {**ok({"agent_id": {"type": "integer"}, "name": {"type": "string"}, "deleted": {"const": True}}, ["name", "deleted"]), **errs(*STD, 409)}, [AG, TN], opid="deleteTool")}
KIND = {"enum": ["CONVERSATION", "TRANSITION", "TTS", "STT"]}
MC = "Model Configuration"
paths["/api/v1/model-config/providers"] = {"get": op("Supported providers", MC, {**ok({"providers": {"type": "array", "items": {"type": "object", "required": ["name", "kinds"]}}}, ["providers"]), **errs(400, 401, 403)}, [q("kind", KIND)], opid="supportedProviders")}
paths["/api/v1/model-config/models"] = {"get": op("Supported models of a provider", MC, {**ok({"provider": {"type": "string"}, "models": {"type": "array", "items": {"type": "object", "required": ["name", "parameters"]}}}, ["provider", "models"]), **errs(400, 401, 403, 404)}, [q("provider", {"type": "string", "minLength": 1, "maxLength": 64, "examples": ["openai"]}, True)], opid="supportedModels")}
paths["/api/v1/model-config/parameters"] = {"get": op("Supported parameters of a model", MC, {**ok({"provider": {"type": "string"}, "model": {"type": "string"}, "parameters": obj}, ["parameters"]), **errs(400, 401, 403, 404)},
    [q("provider", {"type": "string", "minLength": 1, "maxLength": 64, "examples": ["openai"]}, True), q("model", {"type": "string", "minLength": 1, "maxLength": 64, "examples": ["gpt-4o-mini"]}, True)], opid="supportedParameters")}
paths["/api/v1/agents/{agent_id}/model-config"] = {
    "get": op("Get the agent's model configuration", MC, {**ok({"agent_id": {"type": "integer"}, "model_config": obj}, ["model_config"]), **errs(*STD)}, [AG], opid="getModelConfig"),
    "put": op("Set one kind of the agent's model configuration (checked against the catalogue)", MC, {**ok({"agent_id": {"type": "integer"}, "model_config": obj}, ["model_config"]), **errs(*STD, 413, 415, 422)}, [AG],
        body={"type": "object", "additionalProperties": False, "required": ["kind", "provider", "model"], "properties": {"kind": KIND, "provider": {"type": "string", "minLength": 1, "maxLength": 64}, "model": {"type": "string", "minLength": 1, "maxLength": 64}, "parameters": obj}}, opid="setModelConfig")}

W = "Webhooks"
paths["/api/v1/webhook"] = {
    "get": op("Get the webhook URL (and the events and signature scheme)", W, {**ok({"url": {"type": ["string", "null"]}, "events": {"type": "array", "items": {"type": "string"}}, "signature": {"type": "string"}}, ["url", "events"]), **errs(400, 401, 403)}, opid="getWebhook"),
    "put": op("Update the webhook URL (the signing secret is shown when made)", W, {**ok({"url": {"type": "string"}, "secret": {"type": ["string", "null"]}}, ["url", "secret"]), **errs(400, 401, 403, 413, 415)},
        body={"type": "object", "additionalProperties": False, "required": ["url"], "properties": {"url": {"type": "string", "format": "uri", "maxLength": 2048, "examples": ["https://example.com/hook"]}, "rotate_secret": {"type": "boolean"}}}, opid="setWebhook")}
paths["/api/v1/webhook/metadata"] = {
    "get": op("Get the webhook metadata (sent with every event)", W, {**ok({"metadata": obj}, ["metadata"]), **errs(400, 401, 403)}, opid="getWebhookMetadata"),
    "put": op("Modify the webhook metadata", W, {**ok({"metadata": obj}, ["metadata"]), **errs(400, 401, 403, 413, 415)},
        body={"type": "object", "additionalProperties": False, "required": ["metadata"], "properties": {"metadata": obj}}, opid="setWebhookMetadata")}

PI = "Pre-Interaction Context"
CTX = {"type": "object", "required": ["context_id", "number", "agent_id", "variables", "created_at", "expires_at", "used"], "properties": {
    "context_id": {"type": "string"}, "number": {"type": "string"}, "agent_id": {"type": ["integer", "null"]}, "variables": obj,
    "created_at": {"type": "string"}, "expires_at": {"type": "string"}, "used": {"type": "boolean"}, "used_at": {"type": ["string", "null"]}}}
CID = {"name": "context_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f-]{36}$"}}
paths["/api/v1/pre-interactions"] = {
    "get": op("Get summarised interaction info (scheduled contexts)", PI, {**ok({"pending": {"type": "integer"}, "used": {"type": "integer"}, "expired": {"type": "integer"}, "contexts": {"type": "array", "items": CTX}}, ["pending", "used", "expired", "contexts"]), **errs(400, 401, 403)}, opid="listContexts"),
    "post": op("Schedule an interaction: variables for the next call from a number", PI, {**ok({"context": CTX}, ["context"]), **errs(400, 401, 403, 404, 413, 415)},
        body={"type": "object", "additionalProperties": False, "required": ["number", "variables"], "properties": {
            "number": {"type": "string", "pattern": "^[!-~]{1,64}$"}, "agent_id": {"type": "integer", "minimum": 1, "maximum": 2147483647},
            "variables": obj, "expires_in_seconds": {"type": "integer", "minimum": 60, "maximum": 2592000}}}, opid="scheduleContext"),
    "delete": op("Clear all scheduled interactions", PI, {**ok({"deleted": {"type": "integer"}}, ["deleted"]), **errs(400, 401, 403)}, opid="clearContexts")}
paths["/api/v1/pre-interactions/{context_id}"] = {
    "put": op("Update a scheduled interaction", PI, {**ok({"context": CTX}, ["context"]), **errs(*STD, 409, 413, 415)}, [CID],
        body={"type": "object", "additionalProperties": False, "properties": {"number": {"type": "string", "pattern": "^[!-~]{1,64}$"}, "variables": obj, "expires_in_seconds": {"type": "integer", "minimum": 60, "maximum": 2592000}}}, opid="updateContext"),
    "delete": op("Delete a scheduled interaction", PI, {**ok({"context_id": {"type": "string"}, "deleted": {"const": True}}, ["context_id", "deleted"]), **errs(*STD)}, [CID], opid="deleteContext")}

TX = "Text Modality"
REPLY = {"type": "object", "required": ["interaction_id", "state_id", "state", "prompt", "actions", "ended"], "properties": {
    "interaction_id": {"type": "string"}, "state_id": {"type": "integer"}, "state": {"type": "string"}, "prompt": {"type": "string"},
    "actions": {"type": "array", "items": obj}, "ended": {"type": "boolean"}}}
TID = {"name": "text_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^text-[0-9a-f-]{36}$"}}
paths["/api/v1/agents/{agent_id}/text-interactions"] = {"post": op("Start a text interaction with the agent: its first reply", TX,
    {**ok({"reply": REPLY}, ["reply"]), **errs(*STD, 409, 503)}, [AG], opid="startTextInteraction")}
paths["/api/v1/text-interactions/{text_id}/messages"] = {"post": op("Respond: the user's message in, the agent's reply out", TX,
    {**ok({"reply": REPLY}, ["reply"]), **errs(*STD, 409, 413, 415)}, [TID],
    body={"type": "object", "additionalProperties": False, "required": ["text"], "properties": {"text": {"type": "string", "maxLength": 4096}}},
    opid="respondTextInteraction")}
paths["/api/v1/text-interactions/{text_id}/end"] = {"post": op("End the interaction: recorded in the ledger (call_type text)", TX,
    {**ok({"interaction_id": {"type": "string"}, "ledger": obj}, ["interaction_id", "ledger"]), **errs(*STD, 409)}, [TID], opid="endTextInteraction")}

PO = "Post Interaction Configuration"
VAR = {"type": "object", "required": ["name", "type", "description", "destinations"], "properties": {"name": {"type": "string"}, "type": {"enum": ["string", "number", "integer", "boolean"]}, "description": {"type": "string"}, "destinations": {"type": "array", "items": {"type": "string"}}}}
VARS_OK = {**ok({"variables": {"type": "array", "items": VAR}, "map": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}}, ["variables", "map"])}
DEST = {"type": "object", "required": ["destination_id", "name", "type"], "properties": {"destination_id": {"type": "string"}, "name": {"type": "string"}, "type": {"enum": ["webhook", "email"]}, "url": {"type": "string"}, "to": {"type": "array", "items": {"type": "string"}}}}
VN = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,63}$", "examples": ["customer_name"]}}
DID = {"name": "destination_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f-]{36}$"}}
VTYPE = {"enum": ["string", "number", "integer", "boolean"]}
addr = {"type": "array", "minItems": 1, "maxItems": 20, "items": {"type": "string", "format": "email"}}
EMAIL = {"type": "object", "required": ["host", "port", "from", "username", "password_set"], "properties": {"host": {"type": "string"}, "port": {"type": "integer"}, "from": {"type": "string"}, "username": {"type": ["string", "null"]}, "password_set": {"type": "boolean"}}}
paths["/api/v1/post-interaction/variables"] = {
    "get": op("Get all variables of the outlet with their map to destinations", PO, {**VARS_OK, **errs(400, 401, 403)}, opid="listVariables"),
    "post": op("Add a new variable", PO, {**VARS_OK, **errs(400, 401, 403, 409, 413, 415, 422)},
        body={"type": "object", "additionalProperties": False, "required": ["name", "type"], "properties": {"name": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,63}$"}, "type": VTYPE, "description": {"type": "string", "minLength": 1, "maxLength": 1024}}}, opid="addVariable")}
paths["/api/v1/post-interaction/variables/{name}"] = {
    "put": op("Modify a variable's definition", PO, {**VARS_OK, **errs(*STD, 413, 415)}, [VN],
        body={"type": "object", "additionalProperties": False, "properties": {"type": VTYPE, "description": {"type": "string", "minLength": 1, "maxLength": 1024}}}, opid="updateVariable"),
    "delete": op("Delete a variable", PO, {**VARS_OK, **errs(*STD)}, [VN], opid="deleteVariable")}
paths["/api/v1/post-interaction/variables/{name}/destinations"] = {"post": op("Connect a variable to a destination (or disconnect: connected false)", PO, {**VARS_OK, **errs(*STD, 413, 415)}, [VN],
    body={"type": "object", "additionalProperties": False, "required": ["destination_id"], "properties": {"destination_id": {"type": "string", "pattern": "^[0-9a-f-]{36}$"}, "connected": {"type": "boolean"}}}, opid="connectVariable")}
paths["/api/v1/post-interaction/destinations"] = {
    "get": op("Get all destinations of the outlet", PO, {**ok({"destinations": {"type": "array", "items": DEST}}, ["destinations"]), **errs(400, 401, 403)}, opid="listDestinations"),
    "post": op("Add a destination (webhook URL or e-mail addresses); a webhook's signing secret is shown here only", PO, {**ok({"destination": DEST, "secret": {"type": ["string", "null"]}}, ["destination", "secret"]), **errs(400, 401, 403, 413, 415, 422)},
        body={"type": "object", "additionalProperties": False, "required": ["name", "type"], "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 120}, "type": {"enum": ["webhook", "email"]}, "url": {"type": "string", "format": "uri", "maxLength": 2048}, "to": addr}}, opid="addDestination")}
paths["/api/v1/post-interaction/destinations/{destination_id}"] = {
    "put": op("Modify a destination", PO, {**ok({"destination": DEST}, ["destination"]), **errs(*STD, 413, 415)}, [DID],
        body={"type": "object", "additionalProperties": False, "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 120}, "url": {"type": "string", "format": "uri", "maxLength": 2048}, "to": addr}}, opid="updateDestination"),
    "delete": op("Delete a destination (and its connections)", PO, {**ok({"destination_id": {"type": "string"}, "deleted": {"const": True}}, ["destination_id", "deleted"]), **errs(*STD)}, [DID], opid="deleteDestination")}
paths["/api/v1/post-interaction/email"] = {
    "get": op("Email destination configuration (the SMTP server)", PO, {**ok({"email": {"oneOf": [EMAIL, {"type": "null"}]}}, ["email"]), **errs(400, 401, 403)}, opid="getEmailConfig"),
    "put": op("Set the email destination configuration", PO, {**ok({"email": EMAIL}, ["email"]), **errs(400, 401, 403, 413, 415)},
        body={"type": "object", "additionalProperties": False, "required": ["host", "from"], "properties": {"host": {"type": "string", "pattern": "^[A-Za-z0-9.:-]+$", "maxLength": 253}, "port": {"type": "integer", "minimum": 1, "maximum": 65535}, "from": {"type": "string", "format": "email"}, "username": {"type": "string", "minLength": 1, "maxLength": 200}, "password": {"type": "string", "minLength": 1, "maxLength": 200}}}, opid="setEmailConfig")}

CONN = {"oneOf": [{"type": "null"}, {"type": "object", "required": ["vendor", "call_type", "path", "available"], "properties": {"vendor": {"type": "string"}, "call_type": {"enum": ["inbound", "outbound"]}, "virtual_number": {"type": "string"}, "path": {"type": "string"}, "available": {"type": "boolean"}}}]}
paths["/api/v1/agents/{agent_id}/connection"] = {
    "get": op("Get the agent's connection config", "Connection Vendors", {**ok({"agent_id": {"type": "integer"}, "connection": CONN}, ["connection"]), **errs(*STD)}, [AG], opid="getConnection"),
    "put": op("Add or update the agent's connection config", "Connection Vendors", {**ok({"agent_id": {"type": "integer"}, "connection": CONN}, ["connection"]), **errs(*STD, 413, 415)}, [AG],
        body={"type": "object", "additionalProperties": False, "required": ["vendor"], "properties": {"vendor": {"type": "string", "pattern": "^[a-z][a-z0-9_-]{0,31}$", "examples": ["twilio"]}, "call_type": {"enum": ["inbound", "outbound"]}, "virtual_number": {"type": "string", "pattern": "^[!-~]{1,64}$"}}}, opid="setConnection")}

doc = {
  "openapi": "3.1.0",
  "info": {"title": "formi-server platform API", "version": "1.0.0",
           "description": "Seed 000's platform API on formi-server: JSON over HTTP; {\"success\": true, ...} on success, {\"success\": false, \"message\": ...} with a 4xx/5xx otherwise. Every endpoint but login needs a Bearer token; an outlet's token reaches only its own data."},
  "servers": [{"url": "/"}],
  "security": [{"bearer": []}],
  "paths": paths,
  "components": {
    "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
    "responses": {"Error": {"description": "refused", "content": {"application/json": {"schema": R("Error")}}}},
    "schemas": {
      "Error": {"type": "object", "required": ["success", "message"], "properties": {"success": {"const": False}, "message": {"type": "string", "minLength": 1}, "problems": {"type": "array", "items": {"type": "string"}}, "errors": {"type": "array"}, "warnings": {"type": "array"}}},
      "Agent": {"type": "object", "required": ["agent_id", "outlet_id", "name", "voice", "rate", "created_at", "updated_at"], "properties": {
          "agent_id": {"type": "integer"}, "outlet_id": {"type": "integer"}, "name": {"type": "string"}, "voice": {"type": "string"}, "rate": {"type": "integer"},
          "created_at": {"type": "string"}, "updated_at": {"type": "string"}}},
      "Problem": {"type": "object", "required": ["code", "message", "state_ids", "edge_ids"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "state_ids": {"type": "array", "items": {"type": "integer"}}, "edge_ids": {"type": "array", "items": {"type": "integer"}}}},
      "Validation": {"type": "object", "required": ["valid", "errors", "warnings"], "properties": {"valid": {"type": "boolean"}, "errors": {"type": "array", "items": {"$ref": "#/components/schemas/Problem"}}, "warnings": {"type": "array", "items": {"$ref": "#/components/schemas/Problem"}}}},
      "InteractionSummary": {"type": "object", "required": ["interaction_id", "agent_id", "outlet_id", "provider", "call_type", "started_at", "ended_at", "duration_seconds", "outcome", "escalated", "resolved"], "properties": {
          "interaction_id": {"type": "string"}, "agent_id": {"type": "integer"}, "outlet_id": {"type": "integer"}, "provider": {"type": "string"}, "call_type": {"type": "string"},
          "started_at": {"type": "string"}, "ended_at": {"type": "string"}, "duration_seconds": {"type": "number", "minimum": 0},
          "outcome": {"enum": ["resolved", "transferred", "abandoned", "other"]}, "escalation_reason": {"type": ["string", "null"]}, "escalated": {"type": "boolean"},
          "resolved": {"type": "boolean"}, "resolved_at": {"type": ["string", "null"]}, "resolution_note": {"type": ["string", "null"]}}}
    }
  }
}
OUT = Path(__file__).resolve().parents[1] / "Sources" / "formi-server" / "API" / "openapi.json"


def text() -> str:
    return json.dumps(doc, indent=1, sort_keys=False) + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else OUT
    target.write_text(text())
    print(f"{target}: {len(paths)} paths, {sum(len(v) for v in paths.values())} operations")
