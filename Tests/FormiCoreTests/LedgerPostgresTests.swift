@testable import FormiCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

// The ledger on PostgreSQL: many connections writing at once (threads here; processes in
// bindings/c/tests/test_ledger_concurrent.c), faults (a backend terminated mid-transaction, a
// statement timeout), reconnection, and the schema's version. Needs FORMI_TEST_PG_URL (make test-swift).

/// Runs `body(0..<n)` on n threads at once and waits for them all.
func onThreads(_ n: Int, _ body: @escaping @Sendable (Int) -> Void) {
    final class Job: @unchecked Sendable {
        let body: @Sendable (Int) -> Void
        let index: Int
        init(_ body: @escaping @Sendable (Int) -> Void, _ index: Int) { self.body = body; self.index = index }
    }
    var threads: [pthread_t] = []
    for i in 0..<n {
        var thread = pthread_t()
        let job = Unmanaged.passRetained(Job(body, i)).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            let job = Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue()
            job.body(job.index)
            return nil
        }, job)
        precondition(rc == 0, "pthread_create")
        threads.append(thread)
    }
    for thread in threads { pthread_join(thread, nil) }
}

/// A thread-safe list of what the threads saw.
final class Collected<T>: @unchecked Sendable {
    private var items: [T] = []
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    func append(_ item: T) { pthread_mutex_lock(&mutex); items.append(item); pthread_mutex_unlock(&mutex) }
    var all: [T] { pthread_mutex_lock(&mutex); defer { pthread_mutex_unlock(&mutex) }; return items }
}

@Suite("Ledger on PostgreSQL: concurrency, faults, schema", .enabled(if: PostgresTestServer.url != nil, "FORMI_TEST_PG_URL is not set"),
       .serialized)
struct LedgerPostgresTests {
    static let card = #"{"op":"rate_card","idempotency_key":"rc","outlet_id":"o1","rate_card":{"duration":{"rule":"per_second","price_per_minute":60}}}"#

    @Test("8 connections recording and crediting two agents of one outlet at once: no lost update, verify ok")
    func noLostUpdates() throws {
        let url = try PostgresTestServer.freshLedgerURL()
        let setup = try Ledger(location: url)
        _ = try setup.credit(json: Array(Self.card.utf8))
        for agent in ["a0", "a1"] {
            _ = try setup.credit(json: Array(#"{"op":"add","idempotency_key":"seed-\#(agent)","outlet_id":"o1","agent_id":"\#(agent)","amount":1000000}"#.utf8))
        }
        let failures = Collected<String>()
        let writers = 8, each = 25
        onThreads(writers) { w in
            do {
                let ledger = try Ledger(location: url)
                for i in 0..<each {
                    // 60 s calls at 60 micro-credits a minute: 60 each; and an add of 7 every time.
                    _ = try ledger.record(json: recordJSON("w\(w)-\(i)", agent: "a\(w % 2)", start: "2024-03-15T10:0\(i % 10):00Z", end: "2024-03-15T10:1\(i % 10):00Z"))
                    _ = try ledger.credit(json: Array(#"{"op":"add","idempotency_key":"add-\#(w)-\#(i)","outlet_id":"o1","agent_id":"a\#(w % 2)","amount":7}"#.utf8))
                }
            } catch {
                failures.append("writer \(w): \(error)")
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
        let n = Int64(writers / 2 * each)  // per agent
        for agent in ["a0", "a1"] {
            let credits = try query(setup, #"{"query":"credits","outlet_id":"o1","agent_id":"\#(agent)"}"#)
            #expect(credits["total_usage"] == .integer(n * 600))
            #expect(credits["total_recharge"] == .integer(1_000_000 + n * 7))
            #expect(credits["available_credits"] == .integer(1_000_000 + n * 7 - n * 600))
        }
        #expect(try interactionCount(setup) == 2 * n && isOK(setup))
        let utilisation = try query(setup, #"{"query":"interaction_utilisation","group_by":"OUTLET","from_date":"15/03/2024","to_date":"15/03/2024"}"#)
        #expect(utilisation["groups"]?.elements?.first?["interactions"] == .integer(2 * n))
        let metrics = try query(setup, #"{"query":"metrics","startDate":"2024-03-15T00:00:00Z","endDate":"2024-03-16T00:00:00Z"}"#)
        #expect(metrics["metrics"]?["totalCalls"] == .integer(2 * n))
    }

    @Test("the same idempotency keys from 6 connections at once: one write each, every retry answers the first result")
    func idempotencyAcrossConnections() throws {
        let url = try PostgresTestServer.freshLedgerURL()
        let setup = try Ledger(location: url)
        _ = try setup.credit(json: Array(Self.card.utf8))
        _ = try setup.credit(json: Array(#"{"op":"add","idempotency_key":"seed","outlet_id":"o1","agent_id":"a1","amount":100000}"#.utf8))
        let answers = Collected<(Int, String)>()
        let failures = Collected<String>()
        onThreads(6) { _ in
            do {
                let ledger = try Ledger(location: url)
                for i in 0..<20 {
                    let answer = try json(try ledger.record(json: recordJSON("same-\(i)")))
                    var members = answer.members ?? []
                    members.set("duplicate", .bool(false))
                    answers.append((i, JSONTree.object(members).jsonText))
                }
            } catch {
                failures.append("\(error)")
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
        // Every connection got the same answer for a key (the first one's), and one interaction was stored per key.
        for i in 0..<20 { #expect(Set(answers.all.filter { $0.0 == i }.map(\.1)).count == 1, "key \(i)") }
        #expect(try interactionCount(setup) == 20 && isOK(setup))
        let credits = try query(setup, #"{"query":"credits","outlet_id":"o1","agent_id":"a1"}"#)
        #expect(credits["total_usage"] == .integer(20 * 120))
    }

    @Test("debits racing from 5 connections never take the balance below zero")
    func debitsNeverBelowZero() throws {
        let url = try PostgresTestServer.freshLedgerURL()
        let setup = try Ledger(location: url)
        _ = try setup.credit(json: Array(#"{"op":"add","idempotency_key":"seed","outlet_id":"o1","agent_id":"a1","amount":1000}"#.utf8))
        let accepted = Collected<Int>(), refused = Collected<Int>(), failures = Collected<String>()
        onThreads(5) { w in
            do {
                let ledger = try Ledger(location: url)
                for i in 0..<10 {
                    do throws(LedgerError) {
                        _ = try ledger.credit(json: Array(#"{"op":"debit","idempotency_key":"d-\#(w)-\#(i)","outlet_id":"o1","agent_id":"a1","amount":30}"#.utf8))
                        accepted.append(1)
                    } catch {
                        if case .limit = error { refused.append(1) } else { failures.append("\(error)") }
                    }
                }
            } catch {
                failures.append("\(error)")
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
        // 1000 / 30: exactly 33 debits fit.
        #expect(accepted.all.count == 33 && refused.all.count == 17)
        let credits = try query(setup, #"{"query":"credits","outlet_id":"o1","agent_id":"a1"}"#)
        #expect(try credits["available_credits"] == .integer(10) && isOK(setup))
    }

    @Test("a backend terminated mid-transaction: FORMI_ESTORAGE, nothing half applied, the next call reconnects")
    func connectionLost() throws {
        let url = try PostgresTestServer.freshLedgerURL()
        let ledger = try Ledger(location: url)
        _ = try ledger.record(json: recordJSON("before"))
        // Another connection holds the roll-ups, so the record stops half way: interaction inserted,
        // roll-ups waiting. Then its backend is terminated.
        let blocker = try PostgresTestServer.connection(url)
        try blocker.execute("BEGIN; LOCK TABLE rollups IN EXCLUSIVE MODE")
        let pid = ledger.postgres.connection.backendPID
        let outcome = Collected<LedgerError?>()
        let box = UncheckedBox(ledger)
        onThreads(2) { t in
            if t == 0 {
                outcome.append(ledgerError { () throws(LedgerError) in try box.value.record(json: recordJSON("cut")) })
            } else {
                usleep(500_000)
                let admin = try? PostgresTestServer.connection()
                _ = try? admin?.rows("SELECT pg_terminate_backend(\(pid))")
            }
        }
        try blocker.execute("ROLLBACK")
        let error = try #require(outcome.all.first ?? nil)
        #expect(statusName(error) == "FORMI_ESTORAGE" && error.message.contains("connection to PostgreSQL"), "\(error)")
        // The next call reconnects; the cut write left nothing behind and can be made again.
        #expect(ledgerError { () throws(LedgerError) in try ledger.query(json: Array(#"{"query":"interaction","interaction_id":"cut"}"#.utf8)) }
                .map(statusName) == "FORMI_ENOTFOUND")
        #expect(ledger.postgres.connection.backendPID != pid)
        #expect(try json(try ledger.record(json: recordJSON("cut")))["duplicate"] == .bool(false))
        #expect(try interactionCount(ledger) == 2 && isOK(ledger))
    }

    @Test("a statement timeout: FORMI_ESTORAGE with the reason, nothing half applied, the connection goes on")
    func statementTimeout() throws {
        let url = try PostgresTestServer.freshLedgerURL()
        let ledger = try Ledger(location: url + "%20-c%20statement_timeout%3D300")
        _ = try ledger.record(json: recordJSON("before"))
        let blocker = try PostgresTestServer.connection(url)
        try blocker.execute("BEGIN; LOCK TABLE day_profiles IN EXCLUSIVE MODE")
        let error = ledgerError { () throws(LedgerError) in try ledger.record(json: recordJSON("slow")) }
        try blocker.execute("ROLLBACK")
        #expect(error.map(statusName) == "FORMI_ESTORAGE" && error?.message.contains("statement timeout") == true, "\(String(describing: error))")
        #expect(try interactionCount(ledger) == 1 && isOK(ledger))
        _ = try ledger.record(json: recordJSON("slow"))
        #expect(try interactionCount(ledger) == 2 && isOK(ledger))
    }

    @Test("another writer holding the outlet past the busy timeout: FORMI_EBUSY, nothing stored, the retry stored once")
    func busyTimeout() throws {
        let url = try PostgresTestServer.freshLedgerURL()
        let ledger = try Ledger(location: url)
        ledger.busyTimeout = 300
        let holder = try PostgresTestServer.connection(url)
        _ = try holder.rows("SELECT pg_advisory_lock(hashtextextended('o1', 7305614231))")
        let started = BusyClock.now()
        let error = ledgerError { () throws(LedgerError) in try ledger.record(json: recordJSON("held")) }
        let waited = BusyClock.now() - started
        _ = try holder.rows("SELECT pg_advisory_unlock(hashtextextended('o1', 7305614231))")
        #expect(error.map(statusName) == "FORMI_EBUSY" && waited >= 250 && waited < 3000, "\(String(describing: error)) after \(waited) ms")
        #expect(try interactionCount(ledger) == 0)
        #expect(try json(try ledger.record(json: recordJSON("held")))["duplicate"] == .bool(false))
        #expect(try interactionCount(ledger) == 1 && isOK(ledger))
    }

    @Test("an unreachable server: FORMI_ESTORAGE at open, with the address and no password")
    func unreachable() throws {
        let error = ledgerError { () throws(LedgerError) in
            _ = try Ledger(location: "postgresql://formi:s3cret@127.0.0.1:1/none?connect_timeout=2")
            return []
        }
        #expect(error.map(statusName) == "FORMI_ESTORAGE")
        #expect(error?.message.contains("127.0.0.1") == true && error?.message.contains("s3cret") == false, "\(String(describing: error))")
    }

    @Test("the schema is created and versioned on first open, opened again by others, and a newer one is refused")
    func schemaVersion() throws {
        let url = try PostgresTestServer.freshLedgerURL()
        // Four connections creating the tables at once: one does, the others find them.
        let failures = Collected<String>()
        onThreads(4) { _ in
            do { _ = try Ledger(location: url) } catch { failures.append("\(error)") }
        }
        #expect(failures.all.isEmpty, "\(failures.all)")
        let admin = try PostgresTestServer.connection(url)
        #expect(try admin.rows("SELECT value FROM meta WHERE name = 'schema_version'") == [["\(LedgerSchema.version)"]])
        try admin.execute("UPDATE meta SET value = 99 WHERE name = 'schema_version'")
        let error = ledgerError { () throws(LedgerError) in _ = try Ledger(location: url); return [] }
        #expect(error.map(statusName) == "FORMI_ESTORAGE" && error?.message.contains("newer libformi (schema 99") == true, "\(String(describing: error))")
    }

    @Test("a NUL character in an id is refused on both stores alike, before anything is stored")
    func nulCharacters() throws {
        for store in LedgerStoreKind.available {
            let ledger = try store.open()
            let error = ledgerError { () throws(LedgerError) in try ledger.record(json: recordJSON("a\\u0000b", key: "knul")) }
            #expect(error == .invalid("record.interaction_id must not contain U+0000 (a NUL character)"), "\(store): \(String(describing: error))")
            #expect(try interactionCount(ledger) == 0)
        }
    }

    @Test("passwords are kept out of messages")
    func redaction() {
        #expect(PostgresStore.redacted("postgresql://u:pw@h:5432/db?sslmode=require&password=x") == "postgresql://u:***@h:5432/db?sslmode=require&password=***")
        #expect(PostgresStore.redacted("postgres://h/db?password=x") == "postgres://h/db?password=***")
        #expect(PostgresStore.redacted("postgresql://u@h/db") == "postgresql://u@h/db")
    }
}

@Test("a SQLite file with a newer schema is refused the same way")
func sqliteSchemaVersion() throws {
    let path = try temporaryDirectory() + "/newer.db"
    do {
        let ledger = try Ledger(path: path)
        try ledger.sqlite.execute("UPDATE meta SET value = 99 WHERE name = 'schema_version'")
    }
    let error = ledgerError { () throws(LedgerError) in _ = try Ledger(path: path); return [] }
    #expect(error.map(statusName) == "FORMI_ESTORAGE" && error?.message.contains("newer libformi (schema 99") == true, "\(String(describing: error))")
}

final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
