// An agent's state machine (seed 000, "State Machine"): the structure, states and edges (and the seed's
// legacy edge routes, which name the edge in the query or body), validation, prompt templates. Every
// change is one of the library's flow edits (FlowEdits.swift): applied to a copy, refused with every
// problem if the flow no longer loads, stored in one transaction, and the next call runs it.

import FormiCore
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Synchronization

enum FlowRoutes {
    static func add(to api: RouterGroup<BasicWebSocketRequestContext>, server: ServerContext) {
        let platform = server.api
        let limit = platform.config.maxBodyBytes

        api.get("agents/:agent_id/state-machine") { request, context in
            let outlet = try await platform.outlet(request)
            try Fields(query: request).finish()
            let agent = try await platform.agent(try pathID(context, "agent_id"), outlet: outlet)
            let definition = try definition(agent.flowJSON)
            return API.ok(["agent_id": agent.id, "flow": foundation(definition.jsonBytes),
                           "validation": foundation(FlowProblem.report(definition.validate()))])
        }

        // Validates the flow given ({"flow": {...}}), or with no body the stored one; stores nothing.
        api.post("agents/:agent_id/state-machine/validate") { request, context in
            let outlet = try await platform.outlet(request)
            let agent = try await platform.agent(try pathID(context, "agent_id"), outlet: outlet)
            var text = agent.flowJSON
            if let body = try await API.optionalBody(request, limit: limit) {
                var fields = Fields(body)
                let flow = fields.object("flow", required: true)
                try fields.finish()
                text = JSONSerialization.text(flow ?? [:])
            }
            let problems: [FlowProblem]
            do throws(FlowError) {
                problems = try FlowDefinition(json: Array(text.utf8)).validate()
            } catch {
                guard case .invalid(let list) = error else { throw APIError.badRequest(error.message) }
                problems = list
            }
            var report = foundation(FlowProblem.report(problems)) as? [String: Any] ?? [:]
            report["agent_id"] = agent.id
            return API.ok(report)
        }

        // States.
        api.post("agents/:agent_id/states") { request, context in
            try await edit(platform, server, request, context, op: "create_state_from_template", body: try await editBody(request, limit))
        }
        api.get("agents/:agent_id/states/:state_id") { request, context in
            let (definition, agent) = try await current(platform, request, context)
            let id = try pathID(context, "state_id")
            guard let state = definition.states.first(where: { $0.id == Int64(id) }) else { throw APIError.notFound("no state \(id)") }
            var writer = JSONWriter()
            state.write(into: &writer)
            return API.ok(["agent_id": agent.id, "state": foundation(writer.bytes)])
        }
        api.put("agents/:agent_id/states/:state_id") { request, context in
            var body = try await editBody(request, limit)
            body["state_id"] = try pathID(context, "state_id")
            return try await edit(platform, server, request, context, op: "update_state", body: body)
        }
        api.delete("agents/:agent_id/states/:state_id") { request, context in
            try await edit(platform, server, request, context, op: "delete_state", body: ["state_id": try pathID(context, "state_id")])
        }

        // Edges.
        api.post("agents/:agent_id/edges") { request, context in
            try await edit(platform, server, request, context, op: "create_edge", body: try await editBody(request, limit))
        }
        api.get("agents/:agent_id/edges/:edge_id") { request, context in
            try await edgeDetails(platform, request, context, id: try pathID(context, "edge_id"))
        }
        api.put("agents/:agent_id/edges/:edge_id") { request, context in
            var body = try await editBody(request, limit)
            body["edge_id"] = try pathID(context, "edge_id")
            return try await edit(platform, server, request, context, op: "update_edge", body: body)
        }
        api.delete("agents/:agent_id/edges/:edge_id") { request, context in
            try await edit(platform, server, request, context, op: "delete_edge", body: ["edge_id": try pathID(context, "edge_id")])
        }

        // The seed's legacy edge routes: one path, the edge named by `edge_id` in the query (GET, DELETE)
        // or the body (PUT).
        api.post("agents/:agent_id/edge") { request, context in
            try await edit(platform, server, request, context, op: "create_edge", body: try await editBody(request, limit))
        }
        api.get("agents/:agent_id/edge") { request, context in
            try await edgeDetails(platform, request, context, id: try queryEdgeID(request))
        }
        api.put("agents/:agent_id/edge") { request, context in
            let body = try await editBody(request, limit)
            var fields = Fields(body.filter { $0.key == "edge_id" })
            _ = fields.int("edge_id", required: true)
            try fields.finish()
            return try await edit(platform, server, request, context, op: "update_edge", body: body)
        }
        api.delete("agents/:agent_id/edge") { request, context in
            try await edit(platform, server, request, context, op: "delete_edge", body: ["edge_id": try queryEdgeID(request)])
        }

        // Prompt templates: the flow's templates; rendering names the variables it lacks.
        api.get("agents/:agent_id/prompt-templates") { request, context in
            let (definition, agent) = try await current(platform, request, context)
            let templates = definition.templates.map { template -> Any in
                var writer = JSONWriter()
                template.write(into: &writer)
                return foundation(writer.bytes)
            }
            return API.ok(["agent_id": agent.id, "templates": templates])
        }
        api.post("agents/:agent_id/prompt-templates/render") { request, context in
            let outlet = try await platform.outlet(request)
            let agent = try await platform.agent(try pathID(context, "agent_id"), outlet: outlet)
            var fields = Fields(try await API.body(request, limit: limit))
            let templateID = fields.any("template_id")
            let text = fields.string("text", max: 65_536)
            let variables = fields.object("variables") ?? [:]
            if (templateID == nil) == (text == nil) { fields.problem("give either template_id or text") }
            try fields.finish()
            var content = text ?? ""
            var defaults: [JSONMember] = []
            if let templateID {
                let definition = try definition(agent.flowJSON)
                let wanted = JSONSerialization.text(templateID)
                guard let template = definition.templates.first(where: { $0.id.jsonText == wanted }) else {
                    throw APIError.notFound("no prompt template \(wanted.prefix(64))")
                }
                content = template.content
                defaults = template.variables
            }
            let prompt: PromptTemplate
            do throws(TemplateSyntaxError) {
                prompt = try PromptTemplate(content)
            } catch {
                throw APIError.unprocessable("the template does not parse: \(error.description)")
            }
            var members = defaults
            let given: JSONTree
            do throws(JSONError) {
                given = try JSONTree.parse(Array(JSONSerialization.text(variables).utf8), limits: FlowDefinition.jsonLimits)
            } catch {
                throw APIError.badRequest("variables: \(error.message)")
            }
            for member in given.members ?? [] { members.set(member.key, member.value) }
            let rendered = prompt.render(PromptTemplate.lookup(in: members))
            return API.ok(["text": rendered.text, "missing_variables": rendered.missing])
        }
    }

    // MARK: the edits

    /// An edit's fields from the body; `op` is the route's, not the caller's.
    private static func editBody(_ request: Request, _ limit: Int) async throws -> [String: Any] {
        let body = try await API.body(request, limit: limit)
        if body["op"] != nil { throw APIError.badRequest("unknown field: op (the route names the operation)") }
        return body
    }

    private static func queryEdgeID(_ request: Request) throws -> Int {
        var fields = Fields(query: request)
        let id = fields.int("edge_id", required: true)
        try fields.finish()
        return id ?? 0
    }

    /// Applies one edit to the agent's flow in one store transaction; the catalog gets the new flow.
    private static func edit(_ platform: PlatformAPI, _ server: ServerContext, _ request: Request, _ context: BasicWebSocketRequestContext,
                             op: String, body: [String: Any]) async throws -> Response {
        let outlet = try await platform.outlet(request)
        let agentID = try pathID(context, "agent_id")
        var object = body
        object["op"] = op
        let edit = Array(JSONSerialization.text(object).utf8)
        let outcome = EditOutcome()
        let record: AgentRecord
        do {
            record = try await platform.store.updateAgent(agentID, outlet: outlet) { agent in
                var definition = try FlowRoutes.definition(agent.flowJSON)
                let result: [JSONMember]
                do throws(FlowError) {
                    result = try definition.apply(edit: edit)
                } catch {
                    throw FlowRoutes.apiError(error)
                }
                let compiled = try FlowRoutes.compile(String(decoding: definition.jsonBytes, as: UTF8.self))
                agent.flowJSON = String(decoding: definition.jsonBytes, as: UTF8.self)
                agent.updatedAt = Date().timeIntervalSince1970
                outcome.value.withLock { $0 = (result, compiled, definition.validate().filter { $0.severity == .warning }) }
            }
        } catch let error as StoreError {
            throw error.kind == .notFound ? APIError.notFound("no agent \(agentID)") : error.api
        }
        guard let (result, compiled, warnings) = outcome.value.withLock({ $0 }) else {
            throw APIError(status: .internalServerError, message: "the edit left no result")
        }
        server.catalog.set(agent: record, flow: compiled)
        var answer = foundation(Array(JSONTree.object(result).jsonText.utf8)) as? [String: Any] ?? [:]
        answer["agent_id"] = record.id
        answer["warnings"] = (foundation(FlowProblem.report(warnings)) as? [String: Any])?["warnings"] ?? []
        return API.ok(answer)
    }

    private static func current(_ platform: PlatformAPI, _ request: Request, _ context: BasicWebSocketRequestContext) async throws -> (FlowDefinition, AgentRecord) {
        let outlet = try await platform.outlet(request)
        try Fields(query: request).finish()
        let agent = try await platform.agent(try pathID(context, "agent_id"), outlet: outlet)
        return (try definition(agent.flowJSON), agent)
    }

    private static func edgeDetails(_ platform: PlatformAPI, _ request: Request, _ context: BasicWebSocketRequestContext, id: Int) async throws -> Response {
        let outlet = try await platform.outlet(request)
        let agent = try await platform.agent(try pathID(context, "agent_id"), outlet: outlet)
        let definition = try definition(agent.flowJSON)
        guard let edge = definition.edges.first(where: { $0.id == Int64(id) }) else { throw APIError.notFound("no edge \(id)") }
        var writer = JSONWriter()
        edge.write(into: &writer)
        return API.ok(["agent_id": agent.id, "edge": foundation(writer.bytes)])
    }

    // MARK: flows in and out

    /// A stored flow read back (it was valid when stored).
    static func definition(_ json: String) throws -> FlowDefinition {
        do throws(FlowError) {
            return try FlowDefinition(json: Array(json.utf8))
        } catch {
            throw apiError(error)
        }
    }

    /// A flow given by a caller: must load and validate without errors; returns its canonical JSON.
    static func checked(_ json: String) throws -> String {
        let definition = try definition(json)
        let problems = definition.validate()
        if problems.contains(where: { $0.severity == .error }) { throw apiError(.invalid(problems)) }
        return String(decoding: definition.jsonBytes, as: UTF8.self)
    }

    static func compile(_ json: String) throws -> CompiledFlow {
        do throws(FlowError) {
            return try CompiledFlow.compile(json: Array(json.utf8))
        } catch {
            throw apiError(error)
        }
    }

    static func apiError(_ error: FlowError) -> APIError {
        switch error {
        case .json, .shape: return .badRequest(error.message)
        case .notFound(let message): return .notFound(message)
        case .state(let message): return .conflict(message)
        case .invalid(let problems):
            let report = foundation(FlowProblem.report(problems)) as? [String: Any] ?? [:]
            return .unprocessable(error.message, ["errors": report["errors"] ?? [], "warnings": report["warnings"] ?? []])
        }
    }
}

/// What an edit made, carried out of the store's transaction.
private final class EditOutcome: Sendable {
    let value = Mutex<(result: [JSONMember], compiled: CompiledFlow, warnings: [FlowProblem])?>(nil)
}

/// JSON bytes as Foundation objects (for the answers built with JSONSerialization).
func foundation(_ bytes: [UInt8]) -> Any {
    (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) ?? NSNull()
}
