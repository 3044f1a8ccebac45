@testable import FormiCore
import Testing

// Properties over random interactions: whatever the range, filter or offset, the roll-ups answer
// exactly what a scan of the records gives; and batching the writes differently changes no answer.

struct RandomInteractions {
    var records: [InteractionRecord] = []
    var texts: [String] = []

    init(count: Int, seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let base: Int64 = 1_710_000_000_000  // 2024-03-09T16:00Z, not aligned to a day or an hour
        let reasons = ["billing dispute", "wants human", "technical issue"]
        for i in 0..<count {
            let start = base + Int64.random(in: 0..<(12 * CivilTime.msPerDay), using: &rng)
            let end = start + Int64.random(in: 0..<(40 * 60_000), using: &rng)
            let received = Int64.random(in: 0...12, using: &rng)
            let unhandled = Int64.random(in: 0...(received / 2), using: &rng)
            let ambiguous = Int64.random(in: 0...(received - unhandled), using: &rng)
            var fields = [
                #""idempotency_key":"k\#(i)","interaction_id":"i\#(i)""#,
                #""outlet_id":"o\#(Int.random(in: 1...2, using: &rng))","agent_id":"a\#(Int.random(in: 1...4, using: &rng))""#,
                #""started_at":\#(Double(start) / 1000),"ended_at":"\#(CivilTime.isoInstant(ms: end))""#,
                #""outcome":"\#(Outcome.allCases.randomElement(using: &rng)?.rawValue ?? "other")""#,
                #""messages":{"received":\#(received),"unhandled":\#(unhandled),"ambiguous":\#(ambiguous),"mismatched_ambiguous":\#(Int64.random(in: 0...ambiguous, using: &rng))}"#,
                #""model_usage":[{"kind":"CONVERSATION","input_tokens":\#(Int.random(in: 100...900, using: &rng)),"cached_tokens":\#(Int.random(in: 0...99, using: &rng)),"ttft_ms":\#(Double(Int.random(in: 100_000...900_000, using: &rng)) / 1000)}]"#,
            ]
            if Bool.random(using: &rng) { fields.append(#""escalation_reason":"\#(reasons.randomElement(using: &rng) ?? "")""#) }
            if Bool.random(using: &rng) { fields.append(#""sentiment":"\#(["positive", "neutral", "negative"].randomElement(using: &rng) ?? "")""#) }
            let text = "{" + fields.joined(separator: ",") + "}"
            texts.append(text)
            records.append(try InteractionRecord(json: try JSONTree.parse(Array(text.utf8))))
        }
    }

    func matching(_ range: Range<Int64>, _ filter: KeyFilter) -> [InteractionRecord] {
        records.filter { r in
            range.contains(r.startedMs) && (filter.outletId.map { r.outletId == $0 } ?? true) && (filter.agentId.map { r.agentId == $0 } ?? true)
        }
    }
}

@Suite("Ledger properties: roll-ups equal scans; batching changes nothing")
struct LedgerPropertyTests {
    @Test("sums, quarter-hour calls and escalation reasons over random ranges and filters equal a scan",
          arguments: LedgerStoreKind.available)
    func rollupsEqualScans(store: LedgerStoreKind) throws {
        let data = try RandomInteractions(count: 1500, seed: 7)
        let ledger = try store.open()
        for chunk in stride(from: 0, to: data.texts.count, by: 250) {
            _ = try ledger.record(json: Array("[\(data.texts[chunk..<min(chunk + 250, data.texts.count)].joined(separator: ","))]".utf8))
        }
        var rng = SplitMix64(seed: 11)
        let lo: Int64 = 1_709_900_000_000, hi: Int64 = 1_711_100_000_000
        let filters = [KeyFilter(), KeyFilter(outletId: "o1"), KeyFilter(agentId: "a3"), KeyFilter(outletId: "o2", agentId: "a2")]
        for round in 0..<150 {
            var a = Int64.random(in: lo..<hi, using: &rng), b = Int64.random(in: lo..<hi, using: &rng)
            if round % 3 == 0 { a = a / CivilTime.msPerHour * CivilTime.msPerHour }  // aligned ends too
            if round % 5 == 0 { b = b / CivilTime.msPerDay * CivilTime.msPerDay }
            let range = min(a, b)..<max(a, b)
            let filter = filters[round % filters.count]
            let scan = data.matching(range, filter)

            let expected = scan.reduce(into: UsageVector()) { $0.add($1.usage) }
            let total = try ledger.sums(in: range, filter).values.reduce(into: UsageVector()) { $0.add($1) }
            #expect(total == expected, "range \(range) filter \(filter)")

            let offsetMs = Int64.random(in: -48...56, using: &rng) * CivilTime.msPerQuarter
            let q = QueryRange(range: range, offsetMs: offsetMs)
            var hours = Array(repeating: Int64(0), count: 24), days: [Int64: Int64] = [:]
            try ledger.timedCalls(in: range, filter) { piece in
                hours[q.localHour(piece.atMs)] += piece.durationMs
                days[q.localDay(piece.atMs), default: 0] += piece.calls
            }
            var expectedHours = Array(repeating: Int64(0), count: 24), expectedDays: [Int64: Int64] = [:]
            for r in scan {
                expectedHours[q.localHour(r.startedMs)] += r.usage[.durationMs]
                expectedDays[q.localDay(r.startedMs), default: 0] += 1
            }
            #expect(hours == expectedHours && days == expectedDays, "range \(range) offset \(offsetMs)")

            var expectedReasons: [String: Int64] = [:]
            for r in scan { if let reason = r.escalationReason { expectedReasons[reason, default: 0] += 1 } }
            #expect(try ledger.reasons(in: range, filter).mapValues(\.calls) == expectedReasons)
        }
        #expect(try isOK(ledger))
    }

    @Test("the nine usage buckets sum exactly to the aggregate, and the previous interval is as long",
          arguments: LedgerStoreKind.available)
    func bucketsAddUp(store: LedgerStoreKind) throws {
        let data = try RandomInteractions(count: 600, seed: 3)
        let ledger = try store.open()
        _ = try ledger.record(json: Array("[\(data.texts.joined(separator: ","))]".utf8))
        for (from, to, offset) in [("10/03/2024", "12/03/2024", 19800), ("09/03/2024", "21/03/2024", -12600), ("15/03/2024", "15/03/2024", 0)] {
            let answer = try query(ledger, #"{"query":"usage_stats","from_date":"\#(from)","to_date":"\#(to)","utc_offset":\#(offset)}"#)
            let aggregate = try #require(answer["aggregate_stats"]?.members)
            let buckets = try #require(answer["stats"]?.elements)
            #expect(buckets.count == 9)
            for field in ["session_count", "messages_count", "unhandled_messages_count", "ambiguous_messages_count",
                          "interventions_count", "successful_responses_count", "success_rate_count"] {
                let sum = buckets.reduce(Int64(0)) { $0 + ($1[field]?.integer ?? 0) }
                #expect(sum == aggregate[key: field]?.integer, "\(field) \(from)-\(to)")
            }
            // Half-open and contiguous: each bucket starts where the last ended.
            for (a, b) in zip(buckets, buckets.dropFirst()) { #expect(a["end_time"] == b["start_time"]) }
            #expect(buckets.first?["start_time"] == aggregate[key: "start_time"] && buckets.last?["end_time"] == aggregate[key: "end_time"])
            let previous = try #require(answer["previous_interval_stats"])
            #expect(previous["end_time"] == aggregate[key: "start_time"])
            let length = (aggregate[key: "end_time"]?.integer ?? 0) - (aggregate[key: "start_time"]?.integer ?? 0)
            #expect((previous["end_time"]?.integer ?? 0) - (previous["start_time"]?.integer ?? 0) == length)
        }
    }

    @Test("one by one, in batches of any size, or retried: the same answers, on SQLite and on PostgreSQL")
    func batchingInvariance() throws {
        let data = try RandomInteractions(count: 300, seed: 5)
        let queries = [
            #"{"query":"metrics","startDate":"2024-03-09T00:00:00+05:30","endDate":"2024-03-23T00:00:00+05:30","utc_offset":19800}"#,
            #"{"query":"usage_stats","from_date":"10/03/2024","to_date":"20/03/2024","utc_offset":19800}"#,
            #"{"query":"interaction_utilisation","group_by":"AGENT","from_date":"09/03/2024","to_date":"22/03/2024"}"#,
            #"{"query":"model_utilisation","group_by":"OUTLET","from_date":"09/03/2024","to_date":"22/03/2024","utc_offset":-18000}"#,
            #"{"query":"agent_statistic","agent_id":"a1"}"#,
        ]
        func answers(_ ledger: Ledger) throws -> [[UInt8]] { try queries.map { try ledger.query(json: Array($0.utf8)) } }

        let single = try Ledger(path: nil)
        for text in data.texts { _ = try single.record(json: Array(text.utf8)) }
        let reference = try answers(single)

        var rng = SplitMix64(seed: 9)
        // The reference is SQLite one by one: PostgreSQL's answers must be the same bytes.
        for store in [LedgerStoreKind.sqlite, .sqlite, .sqlite] + LedgerStoreKind.available.dropFirst().flatMap({ [$0, $0] }) {
            let batched = try store.open()
            var i = 0
            while i < data.texts.count {
                let n = Int.random(in: 1...60, using: &rng)
                let chunk = data.texts[i..<min(i + n, data.texts.count)]
                _ = try batched.record(json: Array("[\(chunk.joined(separator: ","))]".utf8))
                // Retrying a chunk (a lost acknowledgement) changes nothing.
                if Bool.random(using: &rng) { _ = try batched.record(json: Array("[\(chunk.joined(separator: ","))]".utf8)) }
                i += n
            }
            #expect(try answers(batched) == reference)
        }
    }
}
