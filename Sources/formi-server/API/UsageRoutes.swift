// Utilisation (seeds 000-003, answered by the library's ledger): credits available, set credits (admin;
// `set` or `add`, idempotent by key), interaction and model utilisation, usage stats (seed 001), agent
// statistic (seed 002), metrics (seed 003). The outlet always comes from the token, never the query.

import FormiCore
import Foundation
import Hummingbird
import HummingbirdWebSocket

enum UsageRoutes {
    static func add(to api: RouterGroup<BasicWebSocketRequestContext>, server: ServerContext) {
        let platform = server.api
        let limit = platform.config.maxBodyBytes

        api.get("utilisation/credits") { request, _ in
            let outlet = try await platform.outlet(request)
            var fields = Fields(query: request)
            let agent = fields.int("agent_id", required: true)
            var query = dates(&fields)
            try fields.finish()
            _ = try await platform.agent(agent ?? 0, outlet: outlet)
            query["agent_id"] = String(agent ?? 0)
            return try await ask(server, "credits", outlet: outlet, query)
        }

        api.post("utilisation/credits/set") { request, _ in
            try await platform.requireAdmin(request)
            var fields = Fields(try await API.body(request, limit: limit))
            let outlet = fields.int("outlet_id", required: true)
            let agent = fields.int("agent_id", required: true)
            let mode = fields.oneOf("mode", ["set", "add"], required: true)
            let amount = fields.int("amount", required: true, in: 0...Int(Int64(1) << 52))
            let key = fields.string("idempotency_key", required: true, max: 200)
            if mode == "add", amount == 0 { fields.problem("amount must be > 0 to add") }
            try fields.finish()
            guard let outlet, let agent, let mode, let amount, let key else { throw APIError.badRequest("missing fields") }
            guard try await platform.store.agent(agent, outlet: outlet) != nil else { throw APIError.notFound("outlet \(outlet) has no agent \(agent)") }
            let op: [String: Any] = ["op": mode, "idempotency_key": "api:\(key)", "outlet_id": String(outlet), "agent_id": String(agent), "amount": amount]
            switch await server.ledger.creditOffLoop(op) {
            case .success(let answer):
                var object = foundation(answer) as? [String: Any] ?? [:]
                object["mode"] = mode
                return API.ok(object)
            case .failure(.ledger(let message)):
                throw APIError.unprocessable(message)
            }
        }

        api.get("utilisation/interactions") { request, _ in
            let outlet = try await platform.outlet(request)
            var fields = Fields(query: request)
            var query = dates(&fields)
            query["group_by"] = fields.oneOf("group_by", ["OUTLET", "AGENT"]) ?? "OUTLET"
            try fields.finish()
            defaultRange(&query)
            return try await ask(server, "interaction_utilisation", outlet: outlet, query)
        }

        api.get("utilisation/models") { request, _ in
            let outlet = try await platform.outlet(request)
            var fields = Fields(query: request)
            var query = dates(&fields)
            query["group_by"] = fields.oneOf("group_by", ["OUTLET", "AGENT"]) ?? "OUTLET"
            try fields.finish()
            defaultRange(&query)
            return try await ask(server, "model_utilisation", outlet: outlet, query)
        }

        api.get("utilisation/usage-stats") { request, _ in
            let outlet = try await platform.outlet(request)
            var fields = Fields(query: request)
            var query = dates(&fields)
            let agent = fields.int("agent_id")
            try fields.finish()
            if let agent { _ = try await platform.agent(agent, outlet: outlet); query["agent_id"] = String(agent) }
            return try await ask(server, "usage_stats", outlet: outlet, query)
        }

        api.get("utilisation/agent-statistic") { request, _ in
            let outlet = try await platform.outlet(request)
            var fields = Fields(query: request)
            var query = instants(&fields)
            let agent = fields.int("agent_id")
            try fields.finish()
            if let agent { _ = try await platform.agent(agent, outlet: outlet); query["agent_id"] = String(agent) }
            return try await ask(server, "agent_statistic", outlet: outlet, query)
        }

        api.get("utilisation/metrics") { request, _ in
            let outlet = try await platform.outlet(request)
            var fields = Fields(query: request)
            var query = instants(&fields)
            let agent = fields.int("agent_id")
            try fields.finish()
            if let agent { _ = try await platform.agent(agent, outlet: outlet); query["agent_id"] = String(agent) }
            if query["startDate"] == nil, query["endDate"] == nil {
                // The ledger needs a range here: the 30 days up to now.
                let formatter = ISO8601DateFormatter()
                query["endDate"] = formatter.string(from: Date().addingTimeInterval(1))
                query["startDate"] = formatter.string(from: Date().addingTimeInterval(-30 * 86_400))
            }
            return try await ask(server, "metrics", outlet: outlet, query)
        }
    }

    /// from_date, to_date (dd/mm/yyyy or yyyy-mm-dd) and utc_offset, checked by the ledger.
    private static func dates(_ fields: inout Fields) -> [String: Any] {
        var query: [String: Any] = [:]
        if let from = fields.string("from_date", max: 10, pattern: #"^(\d{2}/\d{2}/\d{4}|\d{4}-\d{2}-\d{2})$"#) { query["from_date"] = from }
        if let to = fields.string("to_date", max: 10, pattern: #"^(\d{2}/\d{2}/\d{4}|\d{4}-\d{2}-\d{2})$"#) { query["to_date"] = to }
        if let offset = fields.int("utc_offset", in: -64_800...64_800) { query["utc_offset"] = offset }
        return query
    }

    /// Without dates: the 30 days ending today (UTC), as the ledger needs a range here.
    private static func defaultRange(_ query: inout [String: Any]) {
        guard query["from_date"] == nil, query["to_date"] == nil else { return }
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd"
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.locale = Locale(identifier: "en_US_POSIX")
        query["to_date"] = formatter.string(from: Date())
        query["from_date"] = formatter.string(from: Date().addingTimeInterval(-29 * 86_400))
    }

    /// startDate and endDate (ISO 8601) and utc_offset.
    private static func instants(_ fields: inout Fields) -> [String: Any] {
        var query: [String: Any] = [:]
        let pattern = #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"#
        if let start = fields.string("startDate", max: 40, pattern: pattern) { query["startDate"] = start }
        if let end = fields.string("endDate", max: 40, pattern: pattern) { query["endDate"] = end }
        if let offset = fields.int("utc_offset", in: -64_800...64_800) { query["utc_offset"] = offset }
        return query
    }

    /// One ledger query for the outlet; the ledger's refusals are the caller's mistakes (400).
    private static func ask(_ server: ServerContext, _ name: String, outlet: Int, _ fields: [String: Any]) async throws -> Response {
        var query = fields
        query["query"] = name
        query["outlet_id"] = String(outlet)
        switch await server.ledger.queryOffLoop(Array(JSONSerialization.text(query).utf8)) {
        case .success(let answer):
            guard var object = foundation(answer) as? [String: Any] else {
                throw APIError(status: .internalServerError, message: "the ledger's answer is not a JSON object")
            }
            object.removeValue(forKey: "success")
            return API.ok(object)
        case .failure(.ledger(let message)):
            throw APIError.badRequest(message)
        }
    }
}
