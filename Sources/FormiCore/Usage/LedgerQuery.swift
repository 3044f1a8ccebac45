// Queries: `{"query": NAME, ...}` in, the seeds' JSON out. This file parses the request and its date
// range and dispatches; each family of answers has its own file.

/// A query's time range [start, end) in Unix ms, with the UTC offset its days and hours are cut by.
struct QueryRange {
    var range: Range<Int64>
    var offsetMs: Int64 = 0
    /// The range's dates (yyyy-mm-dd) or instants (ISO 8601), echoed in answers; nil for an open end.
    var fromText: String?
    var toText: String?

    static let allTime = QueryRange(range: -62_135_596_800_000..<253_402_300_800_000)  // years 1 to 9999
    static let maxDays: Int64 = 3660

    /// The local day (days since 1970-01-01) of an instant.
    func localDay(_ ms: Int64) -> Int64 { CivilTime.floorDiv(ms + offsetMs, CivilTime.msPerDay) }

    /// The local hour of the day (0...23) of an instant.
    func localHour(_ ms: Int64) -> Int { Int((ms + offsetMs - localDay(ms) * CivilTime.msPerDay) / CivilTime.msPerHour) }

    static func offset(_ q: inout FieldReader) throws(LedgerError) -> Int64 {
        let seconds = try q.integer("utc_offset", in: -64_800...64_800) ?? 0
        guard seconds % 900 == 0 else {
            throw .invalid("utc_offset must be a whole number of quarter hours in seconds (as every time zone's is), found \(seconds)")
        }
        return seconds * 1000
    }

    /// `from_date` / `to_date` (dd/mm/yyyy or yyyy-mm-dd), the end date inclusive, under `utc_offset`.
    /// Without dates: nil, or when `defaultDays` is given, the `defaultDays` local days ending today.
    static func days(_ q: inout FieldReader, now: Int64, defaultDays: Int64? = nil) throws(LedgerError) -> QueryRange? {
        let offsetMs = try offset(&q)
        let fromText = try q.string("from_date", maxBytes: 64)
        let toText = try q.string("to_date", maxBytes: 64)
        var from = try fromText.map { (text) throws(LedgerError) in try CivilTime.parseDate(text, field: "from_date") }
        var to = try toText.map { (text) throws(LedgerError) in try CivilTime.parseDate(text, field: "to_date") }
        if from == nil && to == nil && defaultDays == nil { return nil }
        let today = CivilTime.floorDiv(now + offsetMs, CivilTime.msPerDay)
        let span = defaultDays ?? 1
        if to == nil { to = from.map { max($0, today) } ?? today }
        if from == nil, let to { from = to - (span - 1) }
        guard let from, let to else { return nil }
        guard to >= from else { throw .invalid("To Date cannot be before From Date") }
        guard to - from < maxDays else { throw .limit("a date range covers at most \(maxDays) days") }
        return QueryRange(range: (from * CivilTime.msPerDay - offsetMs)..<((to + 1) * CivilTime.msPerDay - offsetMs), offsetMs: offsetMs,
                          fromText: CivilTime.isoDate(days: from), toText: CivilTime.isoDate(days: to))
    }

    /// `startDate` / `endDate` instants, [start, end); `utc_offset` for days and hours. Missing ends are
    /// open (all time), unless `required`.
    static func instants(_ q: inout FieldReader, required: Bool) throws(LedgerError) -> QueryRange {
        let offsetMs = try offset(&q)
        let start = try q.time("startDate")
        let end = try q.time("endDate")
        if required && (start == nil || end == nil) { throw .invalid("startDate and endDate are required") }
        let lower = start ?? allTime.range.lowerBound
        let upper = end ?? allTime.range.upperBound
        guard upper >= lower else { throw .invalid("To Date cannot be before From Date") }
        return QueryRange(range: lower..<upper, offsetMs: offsetMs, fromText: start.map(CivilTime.isoInstant), toText: end.map(CivilTime.isoInstant))
    }
}

extension Ledger {
    /// Answers a query (docs/ledger.md, "Queries").
    public func query(json: some Collection<UInt8>) throws(LedgerError) -> [UInt8] {
        let tree = try Ledger.parse(json, what: "the query")
        var q = try FieldReader(tree, context: "query")
        guard let name = try q.string("query", maxBytes: 64) else { throw .invalid("query.query (the query's name) is required") }
        let filter = KeyFilter(outletId: try q.id("outlet_id"), agentId: try q.id("agent_id"))
        var w = JSONWriter(capacity: 2048)
        try read { () throws(LedgerError) in
            switch name {
            case "credits": try credits(&q, filter, &w)
            case "interaction_utilisation": try interactionUtilisation(&q, filter, &w)
            case "model_utilisation": try modelUtilisation(&q, filter, &w)
            case "interaction": try interaction(&q, &w)
            case "usage_stats": try usageStats(&q, filter, &w)
            case "agent_statistic": try agentStatistic(&q, filter, &w)
            case "metrics": try metrics(&q, filter, &w)
            case "verify": try verify(&q, &w)
            default:
                throw .notFound("no query named \"\(name)\" (credits, interaction_utilisation, model_utilisation, interaction, usage_stats, agent_statistic, metrics, verify)")
            }
        }
        return w.bytes
    }
}

extension JSONWriter {
    /// `numerator / denominator` rounded half away from zero to two decimals; null when the
    /// denominator is zero (no data is not a measurement of zero).
    mutating func ratio(_ numerator: Int64, _ denominator: Int64, times factor: Int64 = 1) {
        guard denominator != 0 else { return null() }
        let n = Int128(numerator) * Int128(factor) * 100
        let d = Int128(denominator)
        let negative = (n < 0) != (d < 0)
        let hundredths = (n.magnitude * 2 + d.magnitude) / (d.magnitude * 2)
        let whole = hundredths / 100, fraction = hundredths % 100
        var text = negative && hundredths != 0 ? "-" : ""
        text += String(whole)
        if fraction != 0 { text += fraction % 10 == 0 ? ".\(fraction / 10)" : (fraction < 10 ? ".0\(fraction)" : ".\(fraction)") }
        raw(text.utf8)
    }

    /// A percentage: part / whole x 100, two decimals, null when whole is zero.
    mutating func percent(_ part: Int64, _ whole: Int64) { ratio(part, whole, times: 100) }

    mutating func field(_ name: String, _ value: Int64) { key(name); int(value) }
    mutating func field(_ name: String, _ value: String?) { key(name); if let value { string(value) } else { null() } }
}
