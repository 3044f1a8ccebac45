// Agents (seed 000, "Agent Configuration"): list, one, create, update; the outlet's dashboard switch.
// An agent's flow is checked by the library (every problem at once) before anything is stored, and the
// next call to the agent runs what was stored.

import FormiCore
import Foundation
import Hummingbird
import HummingbirdWebSocket

enum AgentRoutes {
    static let voicePattern = #"^[a-z]{2,3}(-[a-z0-9]{1,8}){0,2}(\+[a-z0-9]{1,16})?$"#

    static func add(to api: RouterGroup<BasicWebSocketRequestContext>, server: ServerContext) {
        let platform = server.api
        let limit = platform.config.maxBodyBytes

        api.get("agents") { request, _ in
            let outlet = try await platform.outlet(request)
            try Fields(query: request).finish()
            return API.ok(["agents": try await platform.store.agents(outlet: outlet).map(json)])
        }

        api.post("agents") { request, _ in
            let outlet = try await platform.outlet(request)
            var fields = Fields(try await API.body(request, limit: limit))
            let name = fields.string("name", required: true, max: 120)
            let voice = fields.string("voice", max: 40, pattern: voicePattern) ?? "en-us"
            let rate = fields.int("rate", in: 80...450) ?? 165
            let flowObject = fields.object("flow")
            try fields.finish()
            let flowJSON = try flowObject.map { try FlowRoutes.checked(JSONSerialization.text($0)) } ?? DemoDefaults.demoFlow
            let compiled = try FlowRoutes.compile(flowJSON)
            let now = Date().timeIntervalSince1970
            let record = try await stored {
                try await platform.store.createAgent(AgentRecord(id: 0, outletId: outlet, name: name ?? "", voice: voice, rate: rate,
                                                                 flowJSON: flowJSON, createdAt: now, updatedAt: now))
            }
            server.catalog.set(agent: record, flow: compiled)
            return API.ok(["agent": json(record)])
        }

        api.get("agents/:agent_id") { request, context in
            let outlet = try await platform.outlet(request)
            try Fields(query: request).finish()
            return API.ok(["agent": json(try await platform.agent(try pathID(context, "agent_id"), outlet: outlet))])
        }

        api.put("agents/:agent_id") { request, context in
            let outlet = try await platform.outlet(request)
            let id = try pathID(context, "agent_id")
            var fields = Fields(try await API.body(request, limit: limit))
            let name = fields.string("name", max: 120)
            let voice = fields.string("voice", max: 40, pattern: voicePattern)
            let rate = fields.int("rate", in: 80...450)
            try fields.finish()
            let record = try await stored {
                try await platform.store.updateAgent(id, outlet: outlet) { agent in
                    if let name { agent.name = name }
                    if let voice { agent.voice = voice }
                    if let rate { agent.rate = rate }
                    agent.updatedAt = Date().timeIntervalSince1970
                }
            }
            server.catalog.set(agent: record, flow: try FlowRoutes.compile(record.flowJSON))
            return API.ok(["agent": json(record)])
        }

        for (path, enabled) in [("dashboard/enable", true), ("dashboard/disable", false)] {
            api.post(RouterPath(path)) { request, _ in
                let outlet = try await platform.outlet(request)
                try Fields(query: request).finish()
                try await stored { try await platform.store.setDashboard(outlet: outlet, enabled: enabled) }
                return API.ok(["outlet_id": outlet, "dashboard_enabled": enabled])
            }
        }
        api.get("dashboard") { request, _ in
            let outlet = try await platform.outlet(request)
            try Fields(query: request).finish()
            guard let record = try await platform.store.outlet(outlet) else { throw APIError.notFound("no outlet \(outlet)") }
            return API.ok(["outlet_id": outlet, "dashboard_enabled": record.dashboardEnabled])
        }
    }

    static func json(_ agent: AgentRecord) -> [String: Any] {
        ["agent_id": agent.id, "outlet_id": agent.outletId, "name": agent.name, "voice": agent.voice, "rate": agent.rate,
         "created_at": iso(agent.createdAt), "updated_at": iso(agent.updatedAt)]
    }
}

/// A path parameter that must be a positive integer: otherwise 404 (no such resource can exist).
func pathID(_ context: BasicWebSocketRequestContext, _ name: String) throws -> Int {
    guard let text = context.parameters.get(name), !text.isEmpty, text.utf8.count <= 9,
          text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int(text), value > 0 else {
        throw APIError.notFound("\(name) must be a positive integer")
    }
    return value
}

/// Runs a store operation, its failures as API errors.
@discardableResult
func stored<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as StoreError {
        throw error.api
    }
}

func iso(_ seconds: Double) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return formatter.string(from: Date(timeIntervalSince1970: seconds))
}
