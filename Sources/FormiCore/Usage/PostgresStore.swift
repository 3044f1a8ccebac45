// The ledger on PostgreSQL, shared by every host and process that opens the same database
// (docs/ledger.md, "Many writers on PostgreSQL"). Writes run in READ COMMITTED transactions; the
// writers of one outlet take a transaction-scoped advisory lock on it before they read its balances
// or roll-ups, so their read-modify-writes follow one another and none is lost. Idempotency
// keys and interaction ids are unique keys: a writer that races another with the same key fails with
// a unique violation, and its transaction is run again, which then finds the first result.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

final class PostgresStore: LedgerStore {
    let connection: PostgresConnection
    /// The URL without its password, for messages.
    let shownURL: String
    private var statements: [String: PostgresStatement] = [:]
    var busyTimeout: Int64 = 30_000
    /// The last failure of the store's own statements in the transaction under way.
    private var failure: PostgresError?
    /// Set while COMMIT runs: a connection lost then leaves the outcome unknown.
    private var committing = false

    static func isURL(_ location: String) -> Bool {
        location.hasPrefix("postgresql://") || location.hasPrefix("postgres://")
    }

    init(url: String) throws(LedgerError) {
        shownURL = Self.redacted(url)
        do throws(PostgresError) {
            connection = try PostgresConnection(url: url)
        } catch {
            throw .storage("cannot open the ledger on PostgreSQL (\(shownURL)): \(error.message)")
        }
        do throws(LedgerError) {
            try LedgerSchema.migrate(self, ddl: PostgresSchema.statements, where: " on PostgreSQL (\(shownURL))")
        } catch {
            switch error {
            case .storage(let m) where !m.hasPrefix("cannot open"): throw .storage("cannot open the ledger on PostgreSQL (\(shownURL)): \(m)")
            default: throw error
            }
        }
    }

    /// `postgresql://user:secret@host/db?password=x` -> `postgresql://user:***@host/db?password=***`.
    static func redacted(_ url: String) -> String {
        var text = Substring(url)
        var shown = ""
        if let prefix = ["postgresql://", "postgres://"].first(where: { url.hasPrefix($0) }) {
            shown += prefix
            text = text.dropFirst(prefix.count)
            let authorityEnd = text.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? text.endIndex
            let authority = text[..<authorityEnd]
            if let at = authority.lastIndex(of: "@") {
                let user = authority[..<at]
                shown += user.contains(":") ? user[..<(user.firstIndex(of: ":") ?? user.endIndex)] + ":***" : String(user)
                shown += authority[at...]
            } else {
                shown += authority
            }
            text = text[authorityEnd...]
        }
        // A password given as a parameter.
        guard let question = text.firstIndex(of: "?") else { return shown + text }
        shown += text[...question]
        let parts = text[text.index(after: question)...].split(separator: "&", omittingEmptySubsequences: false).map { part in
            part.hasPrefix("password=") ? "password=***" : String(part)
        }
        return shown + parts.joined(separator: "&")
    }

    func statement(_ sql: String) throws(LedgerError) -> any LedgerStatement {
        if let cached = statements[sql] {
            cached.reset()
            return cached
        }
        let statement = PostgresStatement(ledgerSQL: sql, name: "formi_\(statements.count)", store: self)
        statements[sql] = statement
        return statement
    }

    /// A statement's failure as the ledger's error, remembered so the transaction knows what happened.
    func failed(_ error: PostgresError) -> LedgerError {
        failure = error
        return Self.ledgerError(error, committing: committing, url: shownURL)
    }

    static func ledgerError(_ error: PostgresError, committing: Bool, url: String) -> LedgerError {
        if error.connectionLost {
            if committing {
                return .storage("storage: the connection to PostgreSQL (\(url)) was lost while committing (\(error.message)): "
                    + "this write may or may not be stored; retrying it with the same idempotency key is safe, and the next call reconnects")
            }
            return .storage("storage: the connection to PostgreSQL (\(url)) was lost (\(error.message)): "
                + "nothing of this call was stored; the next call reconnects")
        }
        if error.isConflict || error.isLockTimeout {
            return .busy("busy: other writers kept PostgreSQL's rows locked or conflicting until the busy timeout (\(error.message), SQLSTATE \(error.sqlState)); nothing was written, try again")
        }
        if error.sqlState == "57014" {
            return .storage("storage: PostgreSQL cancelled the statement (statement timeout or a cancel request: \(error.message)); nothing of this call was stored")
        }
        return .storage("storage: PostgreSQL: \(error.message) (SQLSTATE \(error.sqlState.isEmpty ? "none" : error.sqlState)); nothing of this call was stored")
    }

    private func reconnect() throws(LedgerError) {
        do throws(PostgresError) {
            try connection.ensureConnected()
            // A connection left inside a transaction (an earlier failure that could not roll back).
            if connection.inTransaction { try connection.execute("ROLLBACK") }
        } catch {
            throw .storage("storage: cannot reach PostgreSQL (\(shownURL)): \(error.message); nothing of this call was stored")
        }
    }

    private func control(_ sql: String) throws(LedgerError) {
        do throws(PostgresError) { try connection.execute(sql) } catch { throw failed(error) }
    }

    func write<T>(_ body: () throws(LedgerError) -> T) throws(LedgerError) -> T {
        let deadline = BusyClock.now() &+ busyTimeout
        var attempt: UInt32 = 0
        while true {
            try reconnect()
            failure = nil
            do throws(LedgerError) {
                return try writeOnce(body)
            } catch {
                // A race lost to another writer: run the whole transaction again, after a short random
                // pause that grows with the attempts, until the busy timeout.
                guard let failure, failure.isConflict, !failure.connectionLost, BusyClock.now() < deadline else { throw error }
                attempt &+= 1
                usleep(UInt32.random(in: 0...(min(attempt, 10) * 2_000)))
            }
        }
    }

    private func writeOnce<T>(_ body: () throws(LedgerError) -> T) throws(LedgerError) -> T {
        // One round trip: the transaction, and how long its lock waits may take (0 would mean forever).
        try control("BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = \(max(1, busyTimeout))")
        let result: T
        do throws(LedgerError) {
            result = try body()
        } catch {
            if connection.isConnected { try? connection.execute("ROLLBACK") }
            throw error
        }
        committing = true
        defer { committing = false }
        let tag: String
        do throws(PostgresError) { tag = try connection.command("COMMIT") } catch { throw failed(error) }
        // COMMIT of a transaction that failed on the way (an error swallowed) rolls it back instead.
        guard tag == "COMMIT" else {
            throw .storage("storage: PostgreSQL rolled the transaction back instead of committing it (\(tag)); nothing of this call was stored")
        }
        return result
    }

    func read<T>(_ body: () throws(LedgerError) -> T) throws(LedgerError) -> T {
        try reconnect()
        try control("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        do throws(LedgerError) {
            let result = try body()
            try control("COMMIT")
            return result
        } catch {
            if connection.isConnected { try? connection.execute("ROLLBACK") }
            throw error
        }
    }

    func lockOutlet(_ outlet: String) throws(LedgerError) {
        // A 64-bit hash of the id: two outlets sharing one only wait for each other.
        let lock = try statement("SELECT pg_advisory_xact_lock(hashtextextended(?1, 7305614231))")
        lock.bind(1, outlet)
        try lock.execute()
    }
}

enum BusyClock {
    static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) &* 1000 &+ Int64(time.tv_nsec) / 1_000_000
    }
}
