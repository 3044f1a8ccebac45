// Fuzz targets of the usage ledger: the record, credit and query parsers, on in-memory ledgers.

import FormiCore

/// Lines of JSON, each a record (or batch), a credit operation or a query, applied to a fresh ledger
/// with a rate card and credits. Errors are fine; afterwards `verify` must find every roll-up and
/// balance consistent (nothing half applied), and a retry of an accepted write must be a duplicate.
func fuzzLedger(_ data: UnsafeRawBufferPointer) {
    guard let ledger = try? Ledger(path: nil) else { fatalError("ledger: cannot open in memory") }
    ledger.clock = { 1_710_000_000_000 }
    _ = try? ledger.credit(json: Array(#"{"op":"rate_card","idempotency_key":"rc","outlet_id":"o1","rate_card":{"duration":{"rule":"first_block","first_block_seconds":60,"increment_seconds":6,"price_per_minute":1000},"tokens":{"input_per_million":3},"low_balance_threshold":5000}}"#.utf8))
    _ = try? ledger.credit(json: Array(#"{"op":"add","idempotency_key":"pay","outlet_id":"o1","agent_id":"a1","amount":10000}"#.utf8))
    for line in data.split(separator: UInt8(ascii: "\n")).prefix(32) {
        let bytes = Array(line)
        if line.starts(with: Array(#"{"query""#.utf8)) {
            if let answer = try? ledger.query(json: bytes) { FuzzSink.value &+= answer.count }
        } else if line.starts(with: Array(#"{"op""#.utf8)) {
            if (try? ledger.credit(json: bytes)) != nil {
                guard let again = try? ledger.credit(json: bytes), String(decoding: again, as: UTF8.self).contains(#""duplicate":true"#) else {
                    fatalError("ledger: a retried credit operation is not a duplicate")
                }
            }
        } else if let result = try? ledger.record(json: bytes) {
            FuzzSink.value &+= result.count
            guard let again = try? ledger.record(json: bytes), String(decoding: again, as: UTF8.self).contains(#""duplicate":true"#) else {
                fatalError("ledger: a retried record is not a duplicate")
            }
        }
    }
    guard let verdict = try? ledger.query(json: Array(#"{"query":"verify"}"#.utf8)),
          String(decoding: verdict, as: UTF8.self).contains(#""ok":true"#) else {
        fatalError("ledger: verify found the store inconsistent")
    }
}

/// Any bytes as a query against a ledger holding a few weeks of interactions.
func fuzzLedgerQuery(_ data: UnsafeRawBufferPointer) {
    if let answer = try? populatedLedger.query(json: data) { FuzzSink.value &+= answer.count }
}

nonisolated(unsafe) private let populatedLedger: Ledger = {
    guard let ledger = try? Ledger(path: nil) else { fatalError("ledger: cannot open in memory") }
    ledger.clock = { 1_710_000_000_000 }
    _ = try? ledger.credit(json: Array(#"{"op":"rate_card","idempotency_key":"rc","outlet_id":"o1","rate_card":{"duration":{"rule":"per_second","price_per_minute":600}}}"#.utf8))
    var records: [String] = []
    for i in 0..<400 {
        let start = 1_708_000_000 + i * 5_471
        records.append("""
            {"idempotency_key":"k\(i)","interaction_id":"i\(i)","outlet_id":"o\(i % 2)","agent_id":"a\(i % 5)","agent_name":"Agent \(i % 5)",
             "started_at":\(start),"ended_at":\(start + 30 + i % 600),"outcome":"\(["resolved", "transferred", "abandoned", "other"][i % 4])",
             "escalation_reason":\(i % 3 == 0 ? "\"reason \(i % 7)\"" : "null"),"sentiment":"\(["positive", "neutral", "negative"][i % 3])",
             "user_corrections":\(i % 4),"messages":{"received":\(i % 9),"unhandled":\(i % 9 / 3)},"counters":{"sms":\(i % 2)},
             "model_usage":[{"kind":"CONVERSATION","input_tokens":\(100 + i),"cached_tokens":\(i % 100),"ttft_ms":\(200 + i % 300).5},
                            {"kind":"STT","confidence":0.\(90 + i % 9)}]}
            """)
    }
    _ = try? ledger.record(json: Array("[\(records.joined(separator: ","))]".utf8))
    return ledger
}()
