// Pre-interaction context (seed 000): schedule an interaction (variables for an upcoming call from a
// number), update it, delete it, clear all, and a summary. The first call from that number (its
// caller_id) to the outlet, before the context expires, starts its flow with the variables as inputs.

import FormiCore
import Foundation
import Hummingbird
import HummingbirdWebSocket

enum ContextRoutes {
    static let namePattern = "^[A-Za-z_][A-Za-z0-9_]{0,63}$"
    static let numberPattern = "^[!-~]{1,64}$"

    static func add(to api: RouterGroup<BasicWebSocketRequestContext>, server: ServerContext) {
        let platform = server.api
        let limit = platform.config.maxBodyBytes

        api.get("pre-interactions") { request, _ in
            let outlet = try await platform.outlet(request)
            try Fields(query: request).finish()
            let all = try await stored { try await platform.store.contexts(outlet: outlet) }
            let now = Date().timeIntervalSince1970
            let pending = all.filter { $0.usedAt == nil && $0.expiresAt > now }
            return API.ok(["pending": pending.count, "used": all.filter { $0.usedAt != nil }.count,
                           "expired": all.filter { $0.usedAt == nil && $0.expiresAt <= now }.count,
                           "contexts": all.map(json)])
        }

        api.post("pre-interactions") { request, _ in
            let outlet = try await platform.outlet(request)
            var fields = Fields(try await API.body(request, limit: limit))
            let number = fields.string("number", required: true, max: 64, pattern: numberPattern)
            let agent = fields.int("agent_id")
            let variables = fields.object("variables", required: true)
            let ttl = fields.int("expires_in_seconds", in: 60...(30 * 86_400)) ?? 86_400
            try fields.finish()
            try check(variables ?? [:])
            if let agent { _ = try await platform.agent(agent, outlet: outlet) }
            let now = Date().timeIntervalSince1970
            let record = ContextRecord(id: UUID().uuidString.lowercased(), outletId: outlet, number: number ?? "", agentId: agent,
                                       variablesJSON: JSONSerialization.text(variables ?? [:]), createdAt: now,
                                       expiresAt: now + Double(ttl), usedAt: nil)
            try await stored { try await platform.store.createContext(record) }
            return API.ok(["context": json(record)])
        }

        api.put("pre-interactions/:context_id") { request, context in
            let outlet = try await platform.outlet(request)
            let id = try contextID(context)
            var fields = Fields(try await API.body(request, limit: limit))
            let number = fields.string("number", max: 64, pattern: numberPattern)
            let variables = fields.object("variables")
            let ttl = fields.int("expires_in_seconds", in: 60...(30 * 86_400))
            try fields.finish()
            if let variables { try check(variables) }
            let text = variables.map { JSONSerialization.text($0) }
            let record = try await stored {
                try await platform.store.updateContext(id, outlet: outlet) { record in
                    if let number { record.number = number }
                    if let text { record.variablesJSON = text }
                    if let ttl { record.expiresAt = Date().timeIntervalSince1970 + Double(ttl) }
                }
            }
            return API.ok(["context": json(record)])
        }

        api.delete("pre-interactions/:context_id") { request, context in
            let outlet = try await platform.outlet(request)
            try Fields(query: request).finish()
            let id = try contextID(context)
            try await stored { try await platform.store.deleteContext(id, outlet: outlet) }
            return API.ok(["context_id": id, "deleted": true])
        }

        api.delete("pre-interactions") { request, _ in
            let outlet = try await platform.outlet(request)
            try Fields(query: request).finish()
            return API.ok(["deleted": try await stored { try await platform.store.clearContexts(outlet: outlet) }])
        }
    }

    static func json(_ r: ContextRecord) -> [String: Any] {
        ["context_id": r.id, "number": r.number, "agent_id": r.agentId ?? NSNull(),
         "variables": JSONSerialization.object(r.variablesJSON) ?? [:], "created_at": iso(r.createdAt),
         "expires_at": iso(r.expiresAt), "used": r.usedAt != nil, "used_at": r.usedAt.map(iso) ?? NSNull()]
    }

    private static func contextID(_ context: BasicWebSocketRequestContext) throws -> String {
        guard let id = context.parameters.get("context_id"), id.range(of: "^[0-9a-f-]{36}$", options: .regularExpression) != nil else {
            throw APIError.notFound("no such scheduled interaction")
        }
        return id
    }

    /// Variables: names a flow can read (vars.<name>), at most 64 of them.
    private static func check(_ variables: [String: Any]) throws {
        var problems: [String] = []
        if variables.count > 64 { problems.append("at most 64 variables") }
        for name in variables.keys.sorted() where name.range(of: namePattern, options: .regularExpression) == nil || name == "outlet" {
            problems.append("variable \(name.prefix(64)) must match \(namePattern) and not be outlet")
        }
        if !problems.isEmpty { throw APIError.badRequest(problems.joined(separator: "; "), ["problems": problems]) }
    }

    /// The flow inputs a call starts with: the context scheduled for its caller, if any (used up).
    static func inputs(for route: CallRoute, server: ServerContext) async -> [JSONMember] {
        guard let record = try? await server.api.store.takeContext(outlet: route.outletId, agent: route.agentId, number: route.callerId,
                                                                   now: Date().timeIntervalSince1970) else { return [] }
        do throws(JSONError) {
            server.logger.info("pre-interaction context \(record.id) for the call from \(route.callerId)")
            return try JSONTree.parse(Array(record.variablesJSON.utf8), limits: FlowDefinition.jsonLimits).members ?? []
        } catch {
            return []
        }
    }
}
