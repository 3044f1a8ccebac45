// Seed 000 (Agent Utilisation): credits available, interaction and model utilisation grouped by
// OUTLET or AGENT, and one interaction's full record.

extension Ledger {
    func credits(_ q: inout FieldReader, _ filter: KeyFilter, _ w: inout JSONWriter) throws(LedgerError) {
        guard let outlet = filter.outletId, let agent = filter.agentId else { throw .invalid("credits needs outlet_id and agent_id") }
        let range = try QueryRange.days(&q, now: clock()) ?? QueryRange.allTime
        try q.finish()
        let b = try balance(outlet: outlet, agent: agent)
        let card = try rateCard(outlet: outlet)
        let charged = try sums(in: range.range, filter).values.reduce(Int64(0)) { $0 &+ $1[.chargedMicro] }
        let debits = try statement("""
            SELECT coalesce(sum(amount), 0) FROM credit_ops
            WHERE outlet_id = ?1 AND agent_id = ?2 AND op = 'debit' AND at_ms >= ?3 AND at_ms < ?4
            """)
        debits.bind(1, outlet); debits.bind(2, agent); debits.bind(3, range.range.lowerBound); debits.bind(4, range.range.upperBound)
        let debited = try debits.next() ? debits.int(0) : 0
        debits.reset()

        w.beginObject()
        w.key("success"); w.bool(true)
        w.field("outlet_id", outlet)
        w.field("agent_id", agent)
        w.field("credits_type", card?.creditsType)
        w.field("unit", "micro-credits")
        w.key("filtered_credit_usage")
        w.beginObject()
        w.field("from_date", range.fromText)
        w.field("to_date", range.toText)
        w.field("credit_usage", charged &+ debited)
        w.endObject()
        w.field("available_credits", b.balance)
        w.field("total_recharge", b.totalRecharge)
        w.field("total_usage", b.totalUsage)
        w.endObject()
    }

    /// A utilisation answer: the range and grouping, then one object per group (outlet, or outlet and
    /// agent) with its ids and what `fields` writes of its sums.
    private func utilisation(_ q: inout FieldReader, _ filter: KeyFilter, _ w: inout JSONWriter,
                             fields: (UsageVector, inout JSONWriter) -> Void) throws(LedgerError) {
        guard let groupBy = try q.choice("group_by", ["OUTLET", "AGENT"]) else { throw .invalid("group_by is required (OUTLET or AGENT)") }
        guard let range = try QueryRange.days(&q, now: clock()) else { throw .invalid("from_date and to_date are required") }
        try q.finish()
        var groups: [RollupKey: UsageVector] = [:]
        for (key, usage) in try sums(in: range.range, filter) {
            let group = groupBy == "OUTLET" ? RollupKey(outletId: key.outletId, agentId: "") : key
            groups[group, default: UsageVector()].add(usage)
        }
        w.beginObject()
        w.key("success"); w.bool(true)
        w.field("group_by", groupBy)
        w.field("from_date", range.fromText)
        w.field("to_date", range.toText)
        w.key("groups")
        w.beginArray()
        for (key, usage) in groups.sorted(by: { $0.key < $1.key }) {
            w.beginObject()
            w.field("outlet_id", key.outletId)
            if !key.agentId.isEmpty { w.field("agent_id", key.agentId) }
            fields(usage, &w)
            w.endObject()
        }
        w.endArray()
        w.endObject()
    }

    func interactionUtilisation(_ q: inout FieldReader, _ filter: KeyFilter, _ w: inout JSONWriter) throws(LedgerError) {
        try utilisation(&q, filter, &w) { u, w in
            w.field("interactions", u[.calls])
            w.key("total_duration_seconds"); w.ratio(u[.durationMs], 1000)
            w.key("average_duration_seconds"); w.ratio(u[.durationMs], u[.calls] &* 1000)
            w.field("billed_seconds", u[.billedSeconds])
            w.field("credits_used", u[.chargedMicro])
            w.field("messages", u[.messages])
            w.field("resolved", u[.resolved])
            w.field("transferred", u[.transferred])
            w.field("abandoned", u[.abandoned])
            w.field("other", u[.other])
        }
    }

    func modelUtilisation(_ q: inout FieldReader, _ filter: KeyFilter, _ w: inout JSONWriter) throws(LedgerError) {
        try utilisation(&q, filter, &w) { u, w in
            w.key("models")
            w.beginArray()
            for kind in ModelKind.allCases where u[kind, .entries] > 0 {
                w.beginObject()
                w.field("kind", kind.name)
                w.field("entries", u[kind, .entries])
                w.field("input_tokens", u[kind, .inputTokens])
                w.field("cached_tokens", u[kind, .cachedTokens])
                w.field("output_tokens", u[kind, .outputTokens])
                w.field("characters", u[kind, .characters])
                w.key("audio_seconds"); w.ratio(u[kind, .audioMs], 1000)
                w.field("cost", u[kind, .costMicro])
                w.key("average_latency_ms"); w.ratio(u[kind, .ttftMicros], u[kind, .ttftCount] &* 1000)
                w.field("tool_calls_ok", u[kind, .toolOk])
                w.field("tool_calls_failed", u[kind, .toolFailed])
                w.endObject()
            }
            w.endArray()
        }
    }

    /// The record as given, its times as ISO 8601 UTC, with what the ledger made of it.
    func interaction(_ q: inout FieldReader, _ w: inout JSONWriter) throws(LedgerError) {
        guard let id = try q.id("interaction_id") else { throw .invalid("interaction_id is required") }
        try q.finish()
        let select = try statement("SELECT record, cost, started_ms, ended_ms, usage FROM interactions WHERE interaction_id = ?1")
        select.bind(1, id)
        guard try select.next() else { throw .notFound("no interaction \(id)") }
        defer { select.reset() }
        guard var record = (select.text(0).flatMap { try? JSONTree.parse(Array($0.utf8)) })?.members,
              let usage = select.withBlob(4, { UsageVector(encoded: $0) }) else {
            throw .storage("storage: the record of interaction \(id) is damaged")
        }
        record.set("started_at", .string(CivilTime.isoInstant(ms: select.int(2))))
        record.set("ended_at", .string(CivilTime.isoInstant(ms: select.int(3))))
        record.set("duration_ms", .integer(usage[.durationMs]))
        record.set("billed_seconds", .integer(usage[.billedSeconds]))
        record.set("cost", (select.text(1).flatMap { try? JSONTree.parse(Array($0.utf8)) }) ?? .null)
        record.set("charged", .integer(usage[.chargedMicro]))
        record.set("unpaid", .integer(usage[.unpaidMicro]))
        w.beginObject()
        w.key("success"); w.bool(true)
        w.key("interaction"); JSONTree.object(record).write(into: &w)
        w.endObject()
    }
}
