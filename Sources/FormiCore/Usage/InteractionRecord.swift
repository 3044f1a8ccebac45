// One finished interaction as a host reports it (docs/ledger.md, "Recording an interaction"): read
// strictly, checked for consistency, and reduced to the usage vector every roll-up is built from.

public enum Outcome: String, CaseIterable, Sendable {
    case resolved, transferred, abandoned, other
}

struct InteractionRecord {
    static let maxDurationMs: Int64 = 31 * CivilTime.msPerDay
    static let maxModelEntries = 1000
    static let maxCounters = 100

    var idempotencyKey: String
    var interactionId: String
    var outletId: String
    var agentId: String
    var agentName: String?
    var agentStatus: String?
    var startedMs: Int64
    var endedMs: Int64
    var outcome: Outcome
    var escalationReason: String?
    /// Every figure of the interaction but its cost (which needs the outlet's rate card).
    var usage: UsageVector
    /// The record as given, stored and returned by the `interaction` query.
    var tree: JSONTree

    init(json tree: JSONTree, context: String = "record") throws(LedgerError) {
        var r = try FieldReader(tree, context: context)
        idempotencyKey = try r.requiredString("idempotency_key")
        interactionId = try r.requiredString("interaction_id")
        outletId = try r.requiredString("outlet_id")
        agentId = try r.requiredString("agent_id")
        agentName = try r.string("agent_name", maxBytes: 500)
        agentStatus = try r.string("agent_status", maxBytes: 64)
        _ = try r.string("provider", maxBytes: 64)
        _ = try r.string("call_type", maxBytes: 64)
        guard let started = try r.time("started_at") else { throw .invalid("\(context).started_at is required") }
        guard let ended = try r.time("ended_at") else { throw .invalid("\(context).ended_at is required") }
        guard ended >= started else { throw .invalid("\(context).ended_at is before started_at") }
        guard ended - started <= Self.maxDurationMs else { throw .invalid("\(context) lasts more than 31 days") }
        startedMs = started
        endedMs = ended
        guard let outcomeName = try r.choice("outcome", Outcome.allCases.map(\.rawValue)), let outcome = Outcome(rawValue: outcomeName) else {
            throw .invalid("\(context).outcome is required (resolved, transferred, abandoned or other)")
        }
        self.outcome = outcome
        escalationReason = try r.string("escalation_reason", maxBytes: 500)
        if escalationReason?.isEmpty == true { escalationReason = nil }
        let sentiment = try r.choice("sentiment", ["positive", "neutral", "negative"])
        let corrections = try r.integer("user_corrections")

        var v = UsageVector()
        v[.calls] = 1
        v[.durationMs] = ended - started
        switch outcome {
        case .resolved: v[.resolved] = 1
        case .transferred: v[.transferred] = 1
        case .abandoned: v[.abandoned] = 1
        case .other: v[.other] = 1
        }
        v[.escalated] = outcome == .transferred || escalationReason != nil ? 1 : 0
        if let sentiment {
            v[.sentimentKnown] = 1
            v[.sentimentPositive] = sentiment == "positive" ? 1 : 0
        }
        if let corrections {
            v[.correctionsKnown] = 1
            v[.zeroCorrections] = corrections == 0 ? 1 : 0
        }
        if let messages = r.value("messages") {
            try Self.readMessages(messages, into: &v, context: "\(context).messages")
        }
        if let counters = r.value("counters") {
            try Self.readCounters(counters, into: &v, context: "\(context).counters")
        }
        if let stats = r.value("session_stats"), stats.members == nil {
            throw .invalid("\(context).session_stats must be an object, found \(stats.kindName)")
        }
        if let entries = r.value("model_usage") {
            guard let list = entries.elements else { throw .invalid("\(context).model_usage must be an array, found \(entries.kindName)") }
            guard list.count <= Self.maxModelEntries else { throw .invalid("\(context).model_usage has more than \(Self.maxModelEntries) entries") }
            for (i, entry) in list.enumerated() {
                try Self.readModelUsage(entry, into: &v, context: "\(context).model_usage[\(i)]")
            }
        }
        try r.finish()
        usage = v
        self.tree = tree
    }

    private static func readMessages(_ tree: JSONTree, into v: inout UsageVector, context: String) throws(LedgerError) {
        var m = try FieldReader(tree, context: context)
        let received = try m.integer("received") ?? 0
        let unhandled = try m.integer("unhandled") ?? 0
        let ambiguous = try m.integer("ambiguous") ?? 0
        let mismatched = try m.integer("mismatched_ambiguous") ?? 0
        let interventions = try m.integer("interventions") ?? 0
        try m.finish()
        guard unhandled + ambiguous <= received else { throw .invalid("\(context): unhandled + ambiguous exceeds received") }
        guard mismatched <= ambiguous else { throw .invalid("\(context): mismatched_ambiguous exceeds ambiguous") }
        v[.messages] = received
        v[.unhandled] = unhandled
        v[.ambiguous] = ambiguous
        v[.mismatched] = mismatched
        v[.interventions] = interventions
    }

    private static func readCounters(_ tree: JSONTree, into v: inout UsageVector, context: String) throws(LedgerError) {
        guard let members = tree.members else { throw .invalid("\(context) must be an object, found \(tree.kindName)") }
        guard members.count <= maxCounters else { throw .invalid("\(context) has more than \(maxCounters) counters") }
        var c = try FieldReader(tree, context: context)
        for member in members {
            guard !member.key.isEmpty, member.key.utf8.count <= 64 else { throw .invalid("\(context) has a counter name that is empty or longer than 64 bytes") }
            let count = try c.integer(member.key) ?? 0
            if member.key == "sms" { v[.sms] = count }
            if member.key == "emails" { v[.emails] = count }
        }
    }

    private static func readModelUsage(_ tree: JSONTree, into v: inout UsageVector, context: String) throws(LedgerError) {
        var e = try FieldReader(tree, context: context)
        guard let kindName = try e.choice("kind", ModelKind.allCases.map(\.name)), let kind = ModelKind(name: kindName) else {
            throw .invalid("\(context).kind is required (CONVERSATION, TRANSITION, TTS or STT)")
        }
        _ = try e.string("model", maxBytes: 200)
        let input = try e.integer("input_tokens") ?? 0
        let cached = try e.integer("cached_tokens") ?? 0
        guard cached <= input else { throw .invalid("\(context).cached_tokens exceeds input_tokens (input counts cached tokens too)") }
        v[kind, .entries] += 1
        v[kind, .inputTokens] += input
        v[kind, .cachedTokens] += cached
        v[kind, .outputTokens] += try e.integer("output_tokens") ?? 0
        v[kind, .characters] += try e.integer("characters") ?? 0
        v[kind, .toolOk] += try e.integer("tool_calls_ok") ?? 0
        v[kind, .toolFailed] += try e.integer("tool_calls_failed") ?? 0
        v[kind, .audioMs] += try e.scaled("audio_seconds", scale: 1000, max: 31 * 86_400) ?? 0
        if let ttft = try e.scaled("ttft_ms", scale: 1000, max: 1e9) {
            v[kind, .ttftCount] += 1
            v[kind, .ttftMicros] += ttft
        }
        if let confidence = try e.scaled("confidence", scale: 1_000_000, max: 1) {
            v[kind, .confidenceCount] += 1
            v[kind, .confidencePpm] += confidence
        }
        try e.finish()
    }
}
