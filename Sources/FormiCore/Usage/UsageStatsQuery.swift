// Seed 001 (usage stats): the window, the window of the same length before it, and nine equal
// half-open buckets whose additive counts sum exactly to the window's (the seed's own example does not).

extension Ledger {
    static let usageBuckets: Int64 = 9

    func usageStats(_ q: inout FieldReader, _ filter: KeyFilter, _ w: inout JSONWriter) throws(LedgerError) {
        guard let window = try QueryRange.days(&q, now: clock(), defaultDays: 3) else { throw .invalid("from_date and to_date are required") }
        try q.finish()
        let start = window.range.lowerBound, length = window.range.upperBound - start
        // A day is 86,400 s, so a bucket of D days is D x 9,600 s: whole seconds, no drift.
        let bucket = length / Ledger.usageBuckets
        var buckets: [(Range<Int64>, UsageVector)] = []
        var aggregate = UsageVector()
        for i in 0..<Ledger.usageBuckets {
            let range = (start + i * bucket)..<(i == Ledger.usageBuckets - 1 ? window.range.upperBound : start + (i + 1) * bucket)
            let sum = try total(in: range, filter)
            aggregate.add(sum)
            buckets.append((range, sum))
        }
        let previousRange = (start - length)..<start
        let previous = try total(in: previousRange, filter)

        w.beginObject()
        w.key("success"); w.bool(true)
        w.key("aggregate_stats"); usageFields(window.range, aggregate, &w)
        w.key("previous_interval_stats"); usageFields(previousRange, previous, &w)
        w.key("stats")
        w.beginArray()
        for (range, sum) in buckets { usageFields(range, sum, &w) }
        w.endArray()
        w.endObject()
    }

    /// The sum over every outlet and agent the filter covers.
    func total(in range: Range<Int64>, _ filter: KeyFilter) throws(LedgerError) -> UsageVector {
        try sums(in: range, filter).values.reduce(into: UsageVector()) { $0.add($1) }
    }

    private func usageFields(_ range: Range<Int64>, _ u: UsageVector, _ w: inout JSONWriter) {
        // Stored sums: wrapping arithmetic, so a damaged store cannot trap the host.
        let successful = u[.messages] &- u[.unhandled] &- u[.ambiguous]
        w.beginObject()
        w.field("start_time", CivilTime.floorDiv(range.lowerBound, 1000))
        w.field("end_time", CivilTime.floorDiv(range.upperBound, 1000))
        w.field("session_count", u[.calls])
        w.field("messages_count", u[.messages])
        w.field("unhandled_messages_count", u[.unhandled])
        w.field("successful_responses_count", successful)
        w.field("ambiguous_messages_count", u[.ambiguous])
        w.field("interventions_count", u[.interventions])
        w.field("success_rate_count", successful &+ u[.ambiguous] &- u[.mismatched])
        w.key("success_rate"); w.percent(successful, u[.messages])
        w.endObject()
    }
}
