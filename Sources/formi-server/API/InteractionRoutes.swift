// Interactions (seed 000, "Interactions"): the outlet's calls as recorded when they ended — a list with
// filters and pages, one interaction's full record (with the ledger's cost parts), its summary, and the
// resolution of an escalated one.

import FormiCore
import Foundation
import Hummingbird
import HummingbirdWebSocket

enum InteractionRoutes {
    static func add(to api: RouterGroup<BasicWebSocketRequestContext>, server: ServerContext) {
        let platform = server.api
        let limit = platform.config.maxBodyBytes

        api.get("interactions") { request, _ in
            let outlet = try await platform.outlet(request)
            var fields = Fields(query: request)
            var filter = InteractionFilter(outletId: outlet)
            filter.agentId = fields.int("agent_id")
            filter.outcome = fields.oneOf("outcome", ["resolved", "transferred", "abandoned", "other"])
            filter.escalated = fields.bool("escalated")
            filter.from = instant(&fields, "from")
            filter.to = instant(&fields, "to")
            let page = fields.int("page", in: 1...1_000_000) ?? 1
            let pageSize = fields.int("page_size", in: 1...200) ?? 50
            try fields.finish()
            filter.limit = pageSize
            filter.offset = (page - 1) * pageSize
            let (items, total) = try await stored { try await platform.store.interactions(filter) }
            return API.ok(["interactions": items.map(summary), "page": page, "page_size": pageSize, "total": total,
                           "total_pages": (total + pageSize - 1) / pageSize])
        }

        api.get("interactions/:interaction_id") { request, context in
            let outlet = try await platform.outlet(request)
            try Fields(query: request).finish()
            let record = try await find(platform, context, outlet)
            var object = summary(record)
            object["record"] = JSONSerialization.object(record.recordJSON) ?? NSNull()
            let query = JSONSerialization.text(["query": "interaction", "interaction_id": record.id])
            if case .success(let answer) = await server.ledger.queryOffLoop(Array(query.utf8)),
               let stored = (foundation(answer) as? [String: Any])?["interaction"] as? [String: Any] {
                // What the ledger made of the record: billed time, cost parts, the charge.
                object["ledger"] = stored.filter { ["cost", "charged", "unpaid", "billed_seconds", "duration_ms"].contains($0.key) }
            }
            return API.ok(["interaction": object])
        }

        api.get("interactions/:interaction_id/summary") { request, context in
            let outlet = try await platform.outlet(request)
            try Fields(query: request).finish()
            let record = try await find(platform, context, outlet)
            var object = summary(record)
            let stats = (JSONSerialization.object(record.recordJSON) as? [String: Any])?["session_stats"] as? [String: Any]
            object["flow_path"] = stats?["flow_path"] ?? []
            object["end_reason"] = stats?["end_reason"] ?? NSNull()
            return API.ok(["summary": object])
        }

        api.post("interactions/:interaction_id/resolve") { request, context in
            let outlet = try await platform.outlet(request)
            let note: String?
            if let body = try await API.optionalBody(request, limit: limit) {
                var fields = Fields(body)
                note = fields.string("note", max: 2000)
                try fields.finish()
            } else {
                note = nil
            }
            let id = try interactionID(context)
            let record = try await stored { try await platform.store.resolveInteraction(id, outlet: outlet, note: note, at: Date().timeIntervalSince1970) }
            return API.ok(["interaction": summary(record)])
        }
    }

    static func summary(_ r: InteractionRecord) -> [String: Any] {
        ["interaction_id": r.id, "agent_id": r.agentId, "outlet_id": r.outletId, "provider": r.provider, "call_type": r.callType,
         "started_at": iso(r.startedAt), "ended_at": iso(r.endedAt), "duration_seconds": max(0, r.endedAt - r.startedAt),
         "outcome": r.outcome, "escalation_reason": r.escalationReason ?? NSNull(), "escalated": r.escalated,
         "resolved": r.resolvedAt != nil, "resolved_at": r.resolvedAt.map(iso) ?? NSNull(), "resolution_note": r.resolutionNote ?? NSNull()]
    }

    private static func interactionID(_ context: BasicWebSocketRequestContext) throws -> String {
        guard let id = context.parameters.get("interaction_id"), (1...200).contains(id.utf8.count),
              id.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw APIError.notFound("no such interaction")
        }
        return id
    }

    private static func find(_ platform: PlatformAPI, _ context: BasicWebSocketRequestContext, _ outlet: Int) async throws -> InteractionRecord {
        let id = try interactionID(context)
        guard let record = try await stored({ try await platform.store.interaction(id, outlet: outlet) }) else {
            throw APIError.notFound("no interaction \(id.prefix(64))")
        }
        return record
    }

    /// An ISO 8601 instant from the query, as Unix seconds.
    private static func instant(_ fields: inout Fields, _ key: String) -> Double? {
        guard let text = fields.string(key, max: 40) else { return nil }
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date.timeIntervalSince1970 }
        fields.problem("\(key) must be an ISO 8601 instant, e.g. 2026-01-31T09:00:00Z")
        return nil
    }

    /// Keeps a finished call's record for the list (called once the ledger has it) and tells the outlet's
    /// webhook: the interaction, and the ledger's credit events.
    static func recorded(_ record: [String: Any], answer: [String: Any], variables: [JSONMember], server: ServerContext) async {
        guard let id = record["interaction_id"] as? String, let outlet = Int(record["outlet_id"] as? String ?? ""),
              let agent = Int(record["agent_id"] as? String ?? "") else { return }
        let entry = InteractionRecord(id: id, outletId: outlet, agentId: agent, provider: record["provider"] as? String ?? "",
                                      callType: record["call_type"] as? String ?? "", startedAt: record["started_at"] as? Double ?? 0,
                                      endedAt: record["ended_at"] as? Double ?? 0, outcome: record["outcome"] as? String ?? "other",
                                      escalationReason: record["escalation_reason"] as? String, resolvedAt: nil, resolutionNote: nil,
                                      recordJSON: JSONSerialization.text(record))
        do {
            try await server.api.store.addInteraction(entry)
        } catch {
            server.logger.error("the API store did not keep interaction \(id): \(error)")
        }
        var data = summary(entry)
        for key in ["cost", "charged", "unpaid", "balance"] { data[key] = answer[key] ?? NSNull() }
        server.api.webhooks.send("interaction.ended", outlet: outlet, data: data, server: server)
        await PostInteraction.deliver(interaction: entry, variables: variables, server: server)
        for case let event as [String: Any] in answer["events"] as? [Any] ?? [] {
            switch event["type"] as? String {
            case "low_balance": server.api.webhooks.send("credits.low_balance", outlet: outlet, data: event, server: server)
            case "insufficient_credits": server.api.webhooks.send("credits.insufficient", outlet: outlet, data: event, server: server)
            default: break
            }
        }
    }
}

extension LedgerWriter {
    /// `query` on a thread of its own: the ledger's queue may be busy with an fsync.
    func queryOffLoop(_ json: [UInt8]) async -> Result<[UInt8], Failure> {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: self.query(json)) }
        }
    }

    func creditOffLoop(_ op: [String: Any]) async -> Result<[UInt8], Failure> {
        let text = JSONSerialization.text(op)
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                do {
                    continuation.resume(returning: .success(try self.credit(text)))
                } catch let error as Failure {
                    continuation.resume(returning: .failure(error))
                } catch {
                    continuation.resume(returning: .failure(.ledger("\(error)")))
                }
            }
        }
    }
}
