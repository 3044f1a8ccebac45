// The usage ledger: durable interactions, credits and rate cards in SQLite or PostgreSQL (LedgerStore),
// with JSON in and out (docs/ledger.md). One Ledger is used from one thread at a time; several processes
// may open the same file or database (the store orders their writes; a write that cannot get its turn
// within the busy timeout is `.busy`, which the caller may retry).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public final class Ledger {
    let db: any LedgerStore
    /// The file, or nil for a private in-memory ledger (or one on PostgreSQL: see `location`).
    public let path: String?
    /// Where the ledger lives as given to `init(location:)`: a path, a postgresql:// URL, or nil.
    public let location: String?
    /// Unix ms now: the default time of a credit operation and "today" of a usage query.
    public var clock: () -> Int64 = Ledger.systemClock
    /// Parsed rate cards by outlet, with the stored text they were parsed from.
    var rateCards: [String: (text: String, card: RateCard)] = [:]

    /// Largest batch of records in one call, and the JSON limits of an input (a full batch of
    /// realistic records is ~10 MiB and ~1M values).
    public static let maxBatch = 10_000

    /// How long a call waits for other writers (another process's lock on the file; on PostgreSQL,
    /// row locks and retries after a conflict) before failing with `.busy`, in ms (0: not at all;
    /// negative counts as 0).
    public var busyTimeout: Int64 {
        get { db.busyTimeout }
        set { db.busyTimeout = newValue }
    }
    static let inputLimits = JSONLimits(maxBytes: 32 << 20, maxDepth: 64, maxValues: 4 << 20)

    /// Opens or creates the ledger at `path` (nil: in memory). On disk it runs in WAL mode with
    /// synchronous=FULL: a write is acknowledged only once its transaction is on disk.
    public init(path: String?) throws(LedgerError) {
        self.path = path
        location = path
        db = try SQLiteStore(path: path)
    }

    /// Opens a ledger by where it lives: a `postgresql://` or `postgres://` URL (libpq's syntax)
    /// opens it on PostgreSQL, creating its tables on first use; anything else is a SQLite file path
    /// (nil: in memory).
    public init(location: String?) throws(LedgerError) {
        self.location = location
        if let location, PostgresStore.isURL(location) {
            path = nil
            db = try PostgresStore(url: location)
        } else {
            path = location
            db = try SQLiteStore(path: location)
        }
    }

    /// True when `location` names a PostgreSQL database rather than a file.
    public static func isPostgresURL(_ location: String) -> Bool { PostgresStore.isURL(location) }

    /// `location` fit to show: a URL's password replaced by `***`.
    public static func redacted(_ location: String) -> String {
        PostgresStore.isURL(location) ? PostgresStore.redacted(location) : location
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

    /// Runs `body` as one durable write transaction; on any error nothing of it remains.
    func write<T>(_ body: () throws(LedgerError) -> T) throws(LedgerError) -> T {
        try db.write(body)
    }

    /// Runs `body` on one consistent snapshot.
    func read<T>(_ body: () throws(LedgerError) -> T) throws(LedgerError) -> T {
        try db.read(body)
    }

    /// A prepared statement of the store.
    func statement(_ sql: String) throws(LedgerError) -> any LedgerStatement {
        try db.statement(sql)
    }
}
