@testable import FormiCore
import Testing

// The worked example: tests/ledger/fixture.json replayed through the ledger, every write's result and
// every query's answer compared with tests/ledger/expected.json, which tests/ledger/oracle.py computed
// from docs/ledger.md alone (plain Python, scanning every interaction for every query, exact fractions).

/// The status name of a ledger error, as the C API reports it.
func statusName(_ error: LedgerError) -> String {
    switch error {
    case .json: "FORMI_EJSON"
    case .invalid: "FORMI_EINVAL"
    case .notFound: "FORMI_ENOTFOUND"
    case .limit: "FORMI_ELIMIT"
    case .conflict: "FORMI_ESTATE"
    case .storage: "FORMI_ESTORAGE"
    case .busy: "FORMI_EBUSY"
    }
}

/// Runs one ledger call, giving its answer or its error in the oracle's form.
func answer(_ body: () throws(LedgerError) -> [UInt8]) -> JSONTree {
    let bytes: [UInt8]
    do throws(LedgerError) {
        bytes = try body()
    } catch {
        return .object([JSONMember(key: "error", value: .string(statusName(error))), JSONMember(key: "message", value: .string(error.message))])
    }
    return (try? JSONTree.parse(bytes)) ?? .string("unparsable answer: " + String(decoding: bytes, as: UTF8.self))
}

/// Differences between an expected and an actual answer, by path. Numbers compare by value (2.0 == 2);
/// an expected error compares its status and that the message contains `message_contains`.
func differences(_ expected: JSONTree, _ actual: JSONTree, at path: String = "$") -> [String] {
    if let members = expected.members, let error = members[key: "error"]?.string {
        guard actual["error"]?.string == error else { return ["\(path): expected error \(error), got \(actual.jsonText)"] }
        let fragment = members[key: "message_contains"]?.string ?? ""
        let message = actual["message"]?.string ?? ""
        return fragment.isEmpty || message.contains(fragment) ? [] : ["\(path): message \"\(message)\" lacks \"\(fragment)\""]
    }
    switch (expected, actual) {
    case (.object(let e), .object(let a)):
        var found: [String] = []
        for member in e {
            guard let value = a[key: member.key] else { found.append("\(path).\(member.key): missing"); continue }
            found += differences(member.value, value, at: "\(path).\(member.key)")
        }
        for member in a where e[key: member.key] == nil { found.append("\(path).\(member.key): unexpected") }
        return found
    case (.array(let e), .array(let a)):
        guard e.count == a.count else { return ["\(path): \(e.count) elements expected, \(a.count) found"] }
        return zip(e, a).enumerated().flatMap { differences($1.0, $1.1, at: "\(path)[\($0)]") }
    default:
        if let x = expected.number, let y = actual.number { return x == y ? [] : ["\(path): expected \(x), got \(y)"] }
        return expected == actual ? [] : ["\(path): expected \(expected.jsonText), got \(actual.jsonText)"]
    }
}

@Suite("Ledger: the worked example against an independent oracle")
struct LedgerFixtureTests {
    let fixture: JSONTree
    let expected: JSONTree

    init() throws {
        fixture = try JSONTree.parse(readFile(projectRoot + "/tests/ledger/fixture.json") ?? [])
        expected = try JSONTree.parse(readFile(projectRoot + "/tests/ledger/expected.json") ?? [])
    }

    /// A ledger with every write of the fixture applied, and the writes' results.
    func replay(path: String? = nil, store: LedgerStoreKind = .sqlite) throws -> (Ledger, [JSONTree]) {
        let (ledger, raw) = try replayRaw(path: path, store: store)
        return (ledger, raw.map { bytes in answer { () throws(LedgerError) in try bytes.get() } })
    }

    /// The fixture's writes applied, each write's answer as bytes (or its error).
    func replayRaw(path: String? = nil, store: LedgerStoreKind = .sqlite) throws -> (Ledger, [Result<[UInt8], LedgerError>]) {
        let ledger = try store.open(file: path)
        ledger.clock = { 1_711_000_000_000 }
        var results: [Result<[UInt8], LedgerError>] = []
        for write in fixture["writes"]?.elements ?? [] {
            let input = Array((write["input"] ?? JSONTree.null).jsonText.utf8)
            if write["call"]?.string == "record" {
                results.append(Result(catching: { () throws(LedgerError) in try ledger.record(json: input) }))
            } else {
                results.append(Result(catching: { () throws(LedgerError) in try ledger.credit(json: input) }))
            }
        }
        return (ledger, results)
    }

    @Test("every write gives the oracle's result (costs, charges, balances, events, retries)", arguments: LedgerStoreKind.available)
    func writes(store: LedgerStoreKind) throws {
        let (_, results) = try replay(store: store)
        let wanted = expected["writes"]?.elements ?? []
        #expect(results.count == wanted.count && !wanted.isEmpty)
        for (i, (e, a)) in zip(wanted, results).enumerated() {
            let found = differences(e, a, at: "writes[\(i)]")
            #expect(found.isEmpty, "\(found.joined(separator: "\n"))")
        }
    }

    @Test("every query gives the oracle's answer, in memory, on disk and on PostgreSQL")
    func queries() throws {
        let directory = try temporaryDirectory()
        let stores: [(String?, LedgerStoreKind)] = [(nil, .sqlite), (directory + "/ledger.db", .sqlite)]
            + LedgerStoreKind.available.dropFirst().map { (nil, $0) }
        for (path, store) in stores {
            let (ledger, _) = try replay(path: path, store: store)
            let queries = fixture["queries"]?.elements ?? []
            let wanted = expected["queries"]?.elements ?? []
            #expect(queries.count == wanted.count && !wanted.isEmpty)
            for (i, (query, e)) in zip(queries, wanted).enumerated() {
                let a = answer { () throws(LedgerError) in try ledger.query(json: Array(query.jsonText.utf8)) }
                let found = differences(e, a, at: "queries[\(i)] \(query["query"]?.string ?? "")")
                #expect(found.isEmpty, "\(found.joined(separator: "\n"))")
            }
        }
    }
}

@Suite("Ledger: SQLite and PostgreSQL give the same bytes")
struct LedgerSameAnswersTests {
    @Test("the worked example: every write's result and every query's answer byte for byte",
          .enabled(if: PostgresTestServer.url != nil, "FORMI_TEST_PG_URL is not set"))
    func workedExample() throws {
        let fixture = try LedgerFixtureTests()
        let (lite, liteWrites) = try fixture.replayRaw(store: .sqlite)
        let (pg, pgWrites) = try fixture.replayRaw(store: .postgres)
        #expect(liteWrites.count == pgWrites.count && !liteWrites.isEmpty)
        for (i, (a, b)) in zip(liteWrites, pgWrites).enumerated() {
            switch (a, b) {
            case (.success(let x), .success(let y)):
                #expect(x == y, "writes[\(i)]: \(String(decoding: x, as: UTF8.self)) vs \(String(decoding: y, as: UTF8.self))")
            case (.failure(let x), .failure(let y)):
                #expect(x == y, "writes[\(i)]")
            default:
                Issue.record("writes[\(i)]: \(a) vs \(b)")
            }
        }
        for (i, query) in (fixture.fixture["queries"]?.elements ?? []).enumerated() {
            let input = Array(query.jsonText.utf8)
            let x = Result(catching: { () throws(LedgerError) in try lite.query(json: input) })
            let y = Result(catching: { () throws(LedgerError) in try pg.query(json: input) })
            switch (x, y) {
            case (.success(let a), .success(let b)):
                #expect(a == b, "queries[\(i)]: \(String(decoding: a, as: UTF8.self)) vs \(String(decoding: b, as: UTF8.self))")
            case (.failure(let a), .failure(let b)):
                #expect(a == b, "queries[\(i)]")
            default:
                Issue.record("queries[\(i)]: \(x) vs \(y)")
            }
        }
    }
}
