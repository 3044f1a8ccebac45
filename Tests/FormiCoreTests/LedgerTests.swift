@testable import FormiCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A record's JSON with the given fields over a base interaction.
func recordJSON(_ id: String, key: String? = nil, outlet: String = "o1", agent: String = "a1",
                start: String = "2024-03-15T10:00:00Z", end: String = "2024-03-15T10:02:00Z", extra: String = "") -> [UInt8] {
    Array("""
        {"idempotency_key":"\(key ?? "k-" + id)","interaction_id":"\(id)","outlet_id":"\(outlet)","agent_id":"\(agent)",
         "started_at":"\(start)","ended_at":"\(end)","outcome":"resolved"\(extra.isEmpty ? "" : "," + extra)}
        """.utf8)
}

func json(_ bytes: [UInt8]) throws -> JSONTree { try JSONTree.parse(bytes, limits: JSONLimits(maxBytes: 1 << 26, maxDepth: 64, maxValues: 1 << 22)) }

func query(_ ledger: Ledger, _ text: String) throws -> JSONTree { try json(try ledger.query(json: Array(text.utf8))) }

func interactionCount(_ ledger: Ledger) throws -> Int64? {
    try query(ledger, #"{"query":"verify"}"#)["interactions"]?.integer
}

func isOK(_ ledger: Ledger) throws -> Bool { try query(ledger, #"{"query":"verify"}"#)["ok"] == .bool(true) }

/// The error a call throws, if any.
func ledgerError(_ body: () throws(LedgerError) -> [UInt8]) -> LedgerError? {
    do throws(LedgerError) {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

@Suite("Ledger: rate cards, idempotency, bad input, storage")
struct LedgerTests {
    func card(_ duration: String, extra: String = "") -> RateCard? {
        try? RateCard(json: JSONTree.parse(Array(#"{"duration":\#(duration)\#(extra)}"#.utf8)))
    }

    @Test("billing rules round up as telephony bills: per second, per started minute, increments, first block")
    func billingRules() throws {
        let perSecond = try #require(card(#"{"rule":"per_second","price_per_minute":600}"#))
        #expect(perSecond.billedSeconds(durationMs: 0) == 0)
        #expect(perSecond.billedSeconds(durationMs: 1) == 1)  // a sub-second call bills 1 s
        #expect(perSecond.billedSeconds(durationMs: 400) == 1)
        #expect(perSecond.billedSeconds(durationMs: 1000) == 1)
        #expect(perSecond.billedSeconds(durationMs: 1001) == 2)
        let perMinute = try #require(card(#"{"rule":"per_minute","price_per_minute":600}"#))
        #expect(perMinute.billedSeconds(durationMs: 1) == 60)
        #expect(perMinute.billedSeconds(durationMs: 60_000) == 60)
        #expect(perMinute.billedSeconds(durationMs: 60_001) == 120)
        let sixes = try #require(card(#"{"rule":"increments","increment_seconds":6,"price_per_minute":600}"#))
        #expect(sixes.billedSeconds(durationMs: 1) == 6)
        #expect(sixes.billedSeconds(durationMs: 6000) == 6)
        #expect(sixes.billedSeconds(durationMs: 6001) == 12)
        let block = try #require(card(#"{"rule":"first_block","first_block_seconds":60,"increment_seconds":6,"price_per_minute":600}"#))
        #expect(block.billedSeconds(durationMs: 1) == 60)
        #expect(block.billedSeconds(durationMs: 60_000) == 60)
        #expect(block.billedSeconds(durationMs: 60_001) == 66)
        #expect(block.billedSeconds(durationMs: 125_063) == 126)
        #expect(block.billedSeconds(durationMs: 0) == 0)
    }

    @Test("each cost part rounds up once, and the parts add up to the cost")
    func costParts() throws {
        // 61 s at 1,000,001 micro-credits a minute: 61 x 1,000,001 / 60 = 1,016,667.68 -> 1,016,668.
        let c = try #require(card(#"{"rule":"per_second","price_per_minute":1000001}"#,
                                  extra: #","tokens":{"input_per_million":3,"cached_per_million":1,"output_per_million":7},"characters_per_million":11"#))
        var usage = UsageVector()
        usage[.durationMs] = 60_200
        usage[.conversation, .inputTokens] = 1000
        usage[.conversation, .cachedTokens] = 400
        usage[.conversation, .outputTokens] = 10
        usage[.tts, .characters] = 1
        let parts = c.cost(of: usage)
        #expect(parts.billedSeconds == 61)
        #expect(parts.duration == 1_016_668)
        // (600 x 3 + 400 x 1 + 10 x 7) / 10^6 = 0.00227 -> 1; 1 x 11 / 10^6 -> 1.
        #expect(parts.byKind[ModelKind.conversation.rawValue] == 1)
        #expect(parts.byKind[ModelKind.tts.rawValue] == 1)
        #expect(parts.byKind[ModelKind.stt.rawValue] == 0)
        #expect(parts.total == 1_016_670)
    }

    @Test("rate cards are validated field by field")
    func rateCardErrors() {
        #expect(card(#"{"rule":"increments","price_per_minute":1}"#) == nil)  // no increment
        #expect(card(#"{"rule":"first_block","increment_seconds":6}"#) == nil)  // no first block
        #expect(card(#"{"rule":"per_fortnight"}"#) == nil)
        #expect(card(#"{"rule":"per_second","price_per_minute":-1}"#) == nil)
        #expect(card(#"{"rule":"per_second","price_per_minute":1.5}"#) == nil)
        #expect(card(#"{"rule":"per_second","price":1}"#) == nil)  // misspelt
    }

    @Test("a retried record or credit is a no-op that answers the first result")
    func idempotency() throws {
        let ledger = try Ledger(path: nil)
        _ = try ledger.credit(json: Array(#"{"op":"rate_card","idempotency_key":"rc","outlet_id":"o1","rate_card":{"duration":{"rule":"per_minute","price_per_minute":1000}}}"#.utf8))
        let add = Array(#"{"op":"add","idempotency_key":"pay-1","outlet_id":"o1","agent_id":"a1","amount":5000,"at":"2024-03-01T00:00:00Z"}"#.utf8)
        let first = try json(try ledger.credit(json: add))
        let again = try json(try ledger.credit(json: add))
        #expect(first["balance"] == .integer(5000) && again["balance"] == .integer(5000))
        #expect(first["duplicate"] == .bool(false) && again["duplicate"] == .bool(true))

        let record = recordJSON("call-1")
        let r1 = try json(try ledger.record(json: record))
        let r2 = try json(try ledger.record(json: record))
        #expect(r1["cost"] == .integer(2000) && r1["balance"] == .integer(3000))
        #expect(r2["cost"] == .integer(2000) && r2["balance"] == .integer(3000) && r2["duplicate"] == .bool(true))
        // Only the key decides: a retry with another body still answers the first result.
        let r3 = try json(try ledger.record(json: recordJSON("call-1", end: "2024-03-15T11:00:00Z")))
        #expect(r3["cost"] == .integer(2000) && r3["duplicate"] == .bool(true))
        // The same interaction under a new key is a conflict, not a second interaction.
        #expect(ledgerError { () throws(LedgerError) in try ledger.record(json: recordJSON("call-1", key: "other")) } ==
                .conflict("interaction call-1 is already recorded under another idempotency key"))
        let credits = try query(ledger, #"{"query":"credits","outlet_id":"o1","agent_id":"a1"}"#)
        #expect(credits["available_credits"] == .integer(3000) && credits["total_usage"] == .integer(2000))
        #expect(try interactionCount(ledger) == 1 && isOK(ledger))
    }

    @Test("a batch is one transaction: one bad record and nothing of it is stored")
    func batches() throws {
        let ledger = try Ledger(path: nil)
        let good = String(decoding: recordJSON("b1"), as: UTF8.self)
        let bad = String(decoding: recordJSON("b2", end: "2024-03-15T09:00:00Z"), as: UTF8.self)
        let error = ledgerError { () throws(LedgerError) in try ledger.record(json: Array("[\(good),\(bad)]".utf8)) }
        #expect(error == .invalid("records[1].ended_at is before started_at"))
        #expect(try interactionCount(ledger) == 0)
        let ok = try json(try ledger.record(json: Array("[\(good),\(String(decoding: recordJSON("b3"), as: UTF8.self)),\(good)]".utf8)))
        #expect(ok["results"]?.elements?.map { $0["duplicate"] } == [.bool(false), .bool(false), .bool(true)])
        #expect(try interactionCount(ledger) == 2 && isOK(ledger))

        // A full-sized batch is not refused by the JSON reader's default limits (1 MiB, 65,536 values).
        let session = #""session_stats":{"frames_in":6000,"frames_out":5900,"lost_frames":0,"late_frames":3},"messages":{"received":9,"unhandled":1}"#
        let big = (0..<3500).map { String(decoding: recordJSON("big\($0)", extra: session), as: UTF8.self) }.joined(separator: ",")
        #expect(big.utf8.count > 1 << 20)
        let answer = try json(try ledger.record(json: Array("[\(big)]".utf8)))
        #expect(answer["results"]?.elements?.count == 3500)
        let tooMany = Array("[\(Array(repeating: "{}", count: Ledger.maxBatch + 1).joined(separator: ","))]".utf8)
        #expect(ledgerError { () throws(LedgerError) in try ledger.record(json: tooMany) } == .limit("a batch holds at most 10000 records, found 10001"))
        #expect(try interactionCount(ledger) == 3502 && isOK(ledger))
    }

    @Test("bad records are refused with a message naming the field, and change nothing")
    func badRecords() throws {
        let ledger = try Ledger(path: nil)
        _ = try ledger.record(json: recordJSON("keep"))
        let cases: [([UInt8], String)] = [
            (Array("{".utf8), "not valid JSON"),
            (Array("[]".utf8), "empty"),
            (Array("42".utf8), "must be a JSON object"),
            (recordJSON("x", end: "2024-03-15T09:59:59Z"), "ended_at is before started_at"),
            (recordJSON("x", start: "2024-03-15 10:00"), "record.started_at must be an ISO 8601 time"),
            (recordJSON("x", start: "2024-02-30T10:00:00Z"), "started_at must be an ISO 8601"),
            (recordJSON("x", extra: #""outcome2":"resolved""#), "unknown field \"outcome2\""),
            (recordJSON("x", extra: #""sentiment":"happy""#), "record.sentiment must be one of positive, neutral, negative"),
            (recordJSON("x", extra: #""user_corrections":-1"#), "record.user_corrections must be between 0"),
            (recordJSON("x", extra: #""user_corrections":"2""#), "must be an integer, found a string"),
            (recordJSON("x", extra: #""messages":{"received":1,"unhandled":2}"#), "unhandled + ambiguous exceeds received"),
            (recordJSON("x", extra: #""model_usage":[{"kind":"VISION"}]"#), "record.model_usage[0].kind must be one of"),
            (recordJSON("x", extra: #""model_usage":[{"kind":"STT","confidence":1.5}]"#), "confidence must be between 0 and 1"),
            (recordJSON("x", extra: #""model_usage":[{"kind":"CONVERSATION","input_tokens":5,"cached_tokens":6}]"#), "cached_tokens exceeds input_tokens"),
            (recordJSON("x", extra: #""model_usage":{"kind":"STT"}"#), "model_usage must be an array"),
            (recordJSON("x", extra: #""counters":{"sms":1.5}"#), "record.counters.sms must be an integer"),
            (recordJSON("x", extra: #""session_stats":[1]"#), "session_stats must be an object"),
            (recordJSON("", key: "k"), "interaction_id must not be empty"),
            (Array(#"{"idempotency_key":"k","interaction_id":"i","outlet_id":"o","agent_id":"a","started_at":1,"ended_at":2,"outcome":"resolved","outcome":"other"}"#.utf8), "twice"),
            (Array(#"{"idempotency_key":"k","interaction_id":"i","outlet_id":"o","agent_id":"a","started_at":1,"outcome":"resolved"}"#.utf8), "record.ended_at is required"),
        ]
        for (input, fragment) in cases {
            let error = ledgerError { () throws(LedgerError) in try ledger.record(json: input) }
            #expect(error?.message.contains(fragment) == true, "\(String(decoding: input, as: UTF8.self)) -> \(error?.message ?? "accepted")")
        }
        #expect(try interactionCount(ledger) == 1 && isOK(ledger))
    }

    @Test("bad queries and credit operations are refused precisely")
    func badQueriesAndCredits() throws {
        let ledger = try Ledger(path: nil)
        let queries: [(String, LedgerError)] = [
            (#"{"query":"usage_stats","from_date":"17/03/2024","to_date":"15/03/2024"}"#, .invalid("To Date cannot be before From Date")),
            (#"{"query":"usage_stats","from_date":"31/02/2024","to_date":"15/03/2024"}"#, .invalid("from_date is not a valid date: \"31/02/2024\"")),
            (#"{"query":"usage_stats","from_date":"01/01/2000","to_date":"15/03/2024"}"#, .limit("a date range covers at most 3660 days")),
            (#"{"query":"usage_stats","utc_offset":3601}"#, .invalid("utc_offset must be a whole number of quarter hours in seconds (as every time zone's is), found 3601")),
            (#"{"query":"metrics"}"#, .invalid("startDate and endDate are required")),
            (#"{"query":"metrics","startDate":"2024-03-02T00:00:00Z","endDate":"2024-03-01T00:00:00Z"}"#, .invalid("To Date cannot be before From Date")),
            (#"{"query":"interaction_utilisation","group_by":"CITY","from_date":"01/03/2024","to_date":"02/03/2024"}"#, .invalid("query.group_by must be one of OUTLET, AGENT, found \"CITY\"")),
            (#"{"query":"credits","outlet_id":"o1"}"#, .invalid("credits needs outlet_id and agent_id")),
            (#"{"query":"usage_stats","from":"01/03/2024"}"#, .invalid("query has an unknown field \"from\"")),
        ]
        for (text, expected) in queries {
            #expect(ledgerError { () throws(LedgerError) in try ledger.query(json: Array(text.utf8)) } == expected, "\(text)")
        }
        #expect(ledgerError { () throws(LedgerError) in try ledger.query(json: Array(#"{"query":"nope"}"#.utf8)) }.map { if case .notFound = $0 { true } else { false } } == true)

        let debit = Array(#"{"op":"debit","idempotency_key":"d","outlet_id":"o1","agent_id":"a1","amount":1}"#.utf8)
        #expect(ledgerError { () throws(LedgerError) in try ledger.credit(json: debit) }.map { if case .limit = $0 { true } else { false } } == true)
        #expect(ledgerError { () throws(LedgerError) in try ledger.credit(json: Array(#"{"op":"add","idempotency_key":"a","outlet_id":"o1","agent_id":"a1","amount":0}"#.utf8)) }
                == .invalid("credit.amount must be between 1 and 2305843009213693951, found 0"))
        // A refused debit keeps no key: once there is money, the same key succeeds.
        _ = try ledger.credit(json: Array(#"{"op":"set","idempotency_key":"s","outlet_id":"o1","agent_id":"a1","amount":10}"#.utf8))
        #expect(try json(try ledger.credit(json: debit))["balance"] == .integer(9))
        #expect(try isOK(ledger))
    }

    @Test("low balance and insufficient credits are events; without allow_negative the balance stops at zero")
    func balanceEvents() throws {
        let ledger = try Ledger(path: nil)
        _ = try ledger.credit(json: Array(#"{"op":"rate_card","idempotency_key":"rc","outlet_id":"o1","rate_card":{"duration":{"rule":"per_minute","price_per_minute":1000},"low_balance_threshold":1500}}"#.utf8))
        _ = try ledger.credit(json: Array(#"{"op":"add","idempotency_key":"p","outlet_id":"o1","agent_id":"a1","amount":2500}"#.utf8))
        let first = try json(try ledger.record(json: recordJSON("c1")))  // 2 minutes: 2000
        #expect(first["balance"] == .integer(500))
        #expect(first["events"]?.elements?.first?["type"] == .string("low_balance"))
        let second = try json(try ledger.record(json: recordJSON("c2")))
        #expect(second["charged"] == .integer(500) && second["unpaid"] == .integer(1500) && second["balance"] == .integer(0))
        #expect(second["events"]?.elements?.map { $0["type"] } == [.string("insufficient_credits")])
        #expect(try isOK(ledger))
    }

    @Test("storage: a file that is not a ledger, a full disk, a damaged page: errors, never a crash, nothing lost")
    func storageErrors() throws {
        let directory = try temporaryDirectory()
        let garbage = directory + "/garbage.db"
        let file = fopen(garbage, "w")
        fputs(String(repeating: "not a database at all ", count: 300), file)
        fclose(file)
        #expect(throws: LedgerError.self) { try Ledger(path: garbage) }
        #expect(throws: LedgerError.self) { try Ledger(path: directory + "/missing/dir/ledger.db") }

        // A full disk, as SQLite sees one: a page limit just above the current size.
        let path = directory + "/full.db"
        let ledger = try Ledger(path: path)
        for i in 0..<20 { _ = try ledger.record(json: recordJSON("f\(i)")) }
        let pages = try ledger.sqlite.scalarText("PRAGMA page_count") ?? "0"
        _ = try ledger.sqlite.scalarText("PRAGMA max_page_count=\(pages)")
        var refused: LedgerError?
        var stored = 20
        for i in 20..<2000 where refused == nil {
            refused = ledgerError { () throws(LedgerError) in try ledger.record(json: recordJSON("f\(i)", extra: #""agent_name":"\#(String(repeating: "n", count: 400))""#)) }
            if refused == nil { stored += 1 }
        }
        #expect(refused?.message.contains("full") == true, "\(refused?.message ?? "never refused")")
        #expect(try interactionCount(ledger) == Int64(stored) && isOK(ledger))

        // A damaged page in the middle of a real ledger: queries fail cleanly or answer; no trap.
        let damaged = directory + "/damaged.db"
        do {
            let l = try Ledger(path: damaged)
            for i in 0..<300 { _ = try l.record(json: recordJSON("d\(i)", start: "2024-03-\(10 + i % 10)T10:00:00Z", end: "2024-03-\(10 + i % 10)T10:05:00Z")) }
            _ = try l.sqlite.scalarText("PRAGMA wal_checkpoint(TRUNCATE)")
        }
        let handle = fopen(damaged, "r+")
        fseek(handle, 8192, SEEK_SET)
        fputs(String(repeating: "\u{7f}", count: 4096), handle)
        fclose(handle)
        if let l = try? Ledger(path: damaged) {
            _ = ledgerError { () throws(LedgerError) in try l.query(json: Array(#"{"query":"verify"}"#.utf8)) }
            _ = ledgerError { () throws(LedgerError) in try l.query(json: Array(#"{"query":"metrics","startDate":"2024-03-01T00:00:00Z","endDate":"2024-04-01T00:00:00Z"}"#.utf8)) }
            _ = ledgerError { () throws(LedgerError) in try l.record(json: recordJSON("after")) }
        }
    }

    @Test("times read back from a damaged store format without trapping, at both ends of Int64")
    func extremeTimes() {
        #expect(CivilTime.isoInstant(ms: 0) == "1970-01-01T00:00:00.000Z")
        #expect(CivilTime.isoInstant(ms: -1) == "1969-12-31T23:59:59.999Z")
        #expect(CivilTime.isoInstant(ms: .min).hasSuffix("Z") && CivilTime.isoInstant(ms: .max).hasSuffix("Z"))
    }

    @Test("writes survive closing and reopening the file, and a second connection sees them")
    func durability() throws {
        let path = try temporaryDirectory() + "/reopen.db"
        do {
            let ledger = try Ledger(path: path)
            _ = try ledger.record(json: recordJSON("r1"))
            let other = try Ledger(path: path)
            #expect(try interactionCount(other) == 1)
            _ = try other.record(json: recordJSON("r2"))
            #expect(try interactionCount(ledger) == 2)
        }
        let reopened = try Ledger(path: path)
        #expect(try interactionCount(reopened) == 2 && isOK(reopened))
        #expect(try reopened.sqlite.scalarText("PRAGMA journal_mode") == "wal")
    }
}
