// The ledger on SQLite: one file in WAL mode with synchronous=FULL (or a private in-memory database).
// SQLite runs one writer at a time (BEGIN IMMEDIATE), so a transaction reads and writes as if alone.

final class SQLiteStore: LedgerStore {
    let db: SQLiteDatabase
    /// The file, or nil in memory.
    let path: String?

    init(path: String?) throws(LedgerError) {
        self.path = path
        let cannotOpen = { (error: SQLiteError) -> LedgerError in
            let text = "cannot open the ledger\(path.map { " at \($0)" } ?? ""): \(error.message)"
            return error.isBusy ? .busy("busy: \(text) (another process kept it locked until the busy timeout; try again)") : .storage(text)
        }
        do throws(SQLiteError) {
            db = try SQLiteDatabase(path: path)
            // Refused before anything is read: a ledger that cannot record must not seem to open (and a
            // read-only open would leave read-only WAL files behind that block the owner later).
            if db.isReadOnly { throw SQLiteError(code: 8, message: "the file cannot be written (read-only)") }
            if path != nil {
                let mode = try db.scalarText("PRAGMA journal_mode=WAL")
                guard mode?.lowercased() == "wal" else {
                    throw SQLiteError(code: 0, message: "the database cannot use write-ahead logging (journal mode \(mode ?? "unknown"))")
                }
            }
            try db.execute("PRAGMA synchronous=FULL")
            // 16 MiB of page cache (SQLite's default is 2): a year of daily roll-ups stays in memory.
            try db.execute("PRAGMA cache_size=-16384")
        } catch {
            throw cannotOpen(error)
        }
        do throws(LedgerError) {
            try LedgerSchema.migrate(self, ddl: LedgerSchema.statements, where: path.map { " at \($0)" } ?? "")
        } catch {
            // Keep "cannot open" in front of what went wrong while creating or checking the tables.
            switch error {
            case .storage(let m) where !m.hasPrefix("cannot open"): throw .storage("cannot open the ledger\(path.map { " at \($0)" } ?? ""): \(m)")
            default: throw error
            }
        }
    }

    var busyTimeout: Int64 {
        get { db.busyTimeout }
        set { db.busyTimeout = newValue }
    }

    func statement(_ sql: String) throws(LedgerError) -> any LedgerStatement {
        do throws(SQLiteError) { return try db.prepare(sql) } catch { throw .sqlite(error) }
    }

    /// Refused when the file is no longer at its path (checked once the write lock is held, and again
    /// before the commit): what it wrote would be acknowledged and then lost, or land in a file put there since.
    func write<T>(_ body: () throws(LedgerError) -> T) throws(LedgerError) -> T {
        do throws(LedgerError) {
            return try db.writeTransaction({ () throws(LedgerError) in
                try ensureInPlace()
                let result = try body()
                try ensureInPlace()
                return result
            }, storageError: LedgerError.sqlite, isBusy: \.isBusy)
        } catch {
            // Outside the transaction (a checkpoint cannot run inside one): put what was acknowledged
            // into the moved file itself, and empty the log that a file now at the path would adopt.
            if db.fileHasMoved { db.checkpointTruncating() }
            throw error
        }
    }

    private func ensureInPlace() throws(LedgerError) {
        guard db.fileHasMoved else { return }
        throw .storage("storage: the ledger file \(path ?? "") was deleted, renamed or replaced after it was opened; "
            + "writes are refused (nothing of this one was stored): close the ledger and open the file where it is now")
    }

    func read<T>(_ body: () throws(LedgerError) -> T) throws(LedgerError) -> T {
        try db.readTransaction(body, storageError: LedgerError.sqlite, isBusy: \.isBusy)
    }

    func lockOutlet(_ outlet: String) {}
}

extension SQLiteStatement: LedgerStatement {
    /// `step()` with SQLite's errors as the ledger's.
    func next() throws(LedgerError) -> Bool {
        do throws(SQLiteError) { return try step() } catch { throw .sqlite(error) }
    }

    func execute() throws(LedgerError) {
        do throws(SQLiteError) { try run() } catch { throw .sqlite(error) }
    }
}
