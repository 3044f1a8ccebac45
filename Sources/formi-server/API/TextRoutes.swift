// Text modality (seed 000: start, respond, end): the agent's flow answering typed messages, through the
// engine calls share (TextInteractions.swift). Each interaction belongs to the outlet that started it;
// another outlet's token finds nothing. Ending one writes it to the ledger once (call_type "text").

import Foundation
import Hummingbird
import HummingbirdWebSocket

enum TextRoutes {
    static func add(to api: RouterGroup<BasicWebSocketRequestContext>, server: ServerContext) {
        let platform = server.api
        let limit = platform.config.maxBodyBytes
        let engine = TextInteractions(server: server)

        api.post("agents/:agent_id/text-interactions") { request, context in
            let outlet = try await platform.outlet(request)
            let agent = try agentID(context)
            try Fields(query: request).finish()
            _ = try await platform.agent(agent, outlet: outlet)
            return API.ok(["reply": try await answer { try await engine.start(agentId: agent, outletId: outlet).json }])
        }

        api.post("text-interactions/:text_id/messages") { request, context in
            let outlet = try await platform.outlet(request)
            let id = try textID(context)
            var fields = Fields(try await API.body(request, limit: limit))
            let text = fields.string("text", required: true, max: TextInteractions.maxMessageBytes) ?? ""
            try fields.finish()
            return API.ok(["reply": try await answer { try await engine.respond(id, text: text, outletId: outlet).json }])
        }

        api.post("text-interactions/:text_id/end") { request, context in
            let outlet = try await platform.outlet(request)
            let id = try textID(context)
            try Fields(query: request).finish()
            let ledger = try await answer { try await engine.end(id, outletId: outlet) }
            return API.ok(["interaction_id": id, "ledger": JSONSerialization.object(ledger) ?? [:]])
        }
    }

    /// The engine's refusals as the API's statuses.
    private static func answer<T>(_ work: () async throws -> T) async throws -> T {
        do {
            return try await work()
        } catch let failure as TextInteractions.Failure {
            switch failure {
            case .notFound(let message): throw APIError.notFound(message)
            case .refused(let message): throw APIError.conflict(message)
            case .full: throw APIError(status: .serviceUnavailable, message: failure.description)
            }
        }
    }

    private static func agentID(_ context: BasicWebSocketRequestContext) throws -> Int {
        guard let text = context.parameters.get("agent_id"), let id = Int(text), (1...999_999_999).contains(id) else {
            throw APIError.notFound("no such agent")
        }
        return id
    }

    private static func textID(_ context: BasicWebSocketRequestContext) throws -> String {
        guard let id = context.parameters.get("text_id"), id.range(of: "^text-[0-9a-f-]{36}$", options: .regularExpression) != nil else {
            throw APIError.notFound("no such text interaction")
        }
        return id
    }
}
