// The usage ledger: durable interactions, credits and rate cards in SQLite, with JSON in and out
// (docs/ledger.md). One Ledger is used from one thread at a time; several processes may open the same
// file (SQLite's locks and a busy timeout order their writes; a write that cannot get its turn within
// the timeout is `.busy`, which the caller may retry).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public final class Ledger {
    let db: SQLiteDatabase
    /// The file, or nil for a private in-memory ledger.
    public let path: String?
    /// Unix ms now: the default time of a credit operation and "today" of a usage query.
    public var clock: () -> Int64 = Ledger.systemClock
    /// Parsed rate cards by outlet, with the stored text they were parsed from.
    var rateCards: [String: (text: String, card: RateCard)] = [:]

    /// Largest batch of records in one call, and the JSON limits of an input (a full batch of
    /// realistic records is ~10 MiB and ~1M values).
    public static let maxBatch = 10_000

    /// How long a call waits for another process's lock on the file before failing with `.busy`, in ms
    /// (0: not at all; negative counts as 0).
    public var busyTimeout: Int64 {
        get { db.busyTimeout }
        set { db.busyTimeout = newValue }
    }
    static let inputLimits = JSONLimits(maxBytes: 32 << 20, maxDepth: 64, maxValues: 4 << 20)

    /// Opens or creates the ledger at `path` (nil: in memory). On disk it runs in WAL mode with
    /// synchronous=FULL: a write is acknowledged only once its transaction is on disk.
    public init(path: String?) throws(LedgerError) {
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
        try db.writeTransaction({ () throws(LedgerError) in
            do throws(SQLiteError) {
                for statement in LedgerSchema.statements { try db.execute(statement) }
                let version = try db.prepare("SELECT value FROM meta WHERE name = 'schema_version'")
                let stored = try version.step() ? version.int(0) : nil
                version.reset()
                if let stored, stored > LedgerSchema.version {
                    throw SQLiteError(code: 0, message: "the file was written by a newer libformi (schema \(stored), this one knows \(LedgerSchema.version))")
                }
                if stored == nil {
                    let insert = try db.prepare("INSERT INTO meta (name, value) VALUES ('schema_version', ?1)")
                    insert.bind(1, LedgerSchema.version)
                    try insert.run()
                }
            } catch {
                throw cannotOpen(error)
            }
        }, storageError: cannotOpen, isBusy: \.isBusy)
    }

    static func systemClock() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// Parses a JSON input, within the size limit.
    static func parse(_ json: some Collection<UInt8>, what: String) throws(LedgerError) -> JSONTree {
        do throws(JSONError) {
            return try JSONTree.parse(json, limits: inputLimits)
        } catch {
            switch error {
            case .tooLarge, .tooManyValues, .tooDeep: throw .limit("\(what) is too large: \(error.message)")
            default: throw .json("\(what) is not valid JSON: \(error.message)")
            }
        }
    }

    /// Runs `body` as one durable write transaction; on any error nothing of it remains. Refused when
    /// the file is no longer at its path (checked once the write lock is held, and again before the
    /// commit): what it wrote would be acknowledged and then lost, or land in a file put there since.
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

    /// Runs `body` on one consistent snapshot.
    func read<T>(_ body: () throws(LedgerError) -> T) throws(LedgerError) -> T {
        try db.readTransaction(body, storageError: LedgerError.sqlite, isBusy: \.isBusy)
    }

    /// A prepared statement; SQLite's errors become `.storage`.
    func statement(_ sql: String) throws(LedgerError) -> SQLiteStatement {
        do throws(SQLiteError) { return try db.prepare(sql) } catch { throw .sqlite(error) }
    }
}

extension SQLiteStatement {
    /// `step()` with SQLite's errors as the ledger's.
    func next() throws(LedgerError) -> Bool {
        do throws(SQLiteError) { return try step() } catch { throw .sqlite(error) }
    }

    func execute() throws(LedgerError) {
        do throws(SQLiteError) { try run() } catch { throw .sqlite(error) }
    }
}
