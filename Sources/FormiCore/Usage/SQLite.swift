// The one place that talks to libsqlite3: a connection, prepared statements and transactions.
// Every pointer the C API hands out stays inside this file. Written by hand because the Swift
// wrappers at hand either need Foundation (GRDB) or bring their own SQLite and SwiftNIO (sqlite-nio);
// the ledger needs a dozen calls of the system library.

import CSQLite
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

struct SQLiteError: Error {
    var code: Int32
    var message: String

    /// Another connection holds a lock this one needs (SQLITE_BUSY or SQLITE_LOCKED, any extended code).
    var isBusy: Bool { code & 0xFF == SQLITE_BUSY || code & 0xFF == SQLITE_LOCKED }
}

final class SQLiteDatabase {
    private let handle: OpaquePointer
    private var statements: [String: SQLiteStatement] = [:]
    private let busy = BusyWait()
    /// The file's device and inode as opened (nil in memory), to tell when its path names another file.
    private var identity: (device: UInt64, inode: UInt64)?

    /// How long a call waits for another connection's lock before giving up with SQLITE_BUSY, in ms.
    var busyTimeout: Int64 {
        get { busy.timeout }
        set { busy.timeout = max(0, newValue) }
    }

    /// Opens (creating if needed) the database at `path`, or a private in-memory one when nil.
    init(path: String?) throws(SQLiteError) {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let rc = sqlite3_open_v2(path ?? ":memory:", &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(db)
            throw SQLiteError(code: rc, message: message)
        }
        handle = db
        // Another process writing: wait for it rather than fail, the long waiting first (see BusyWait).
        sqlite3_busy_handler(db, { context, count in
            guard let context else { return 0 }
            return Unmanaged<BusyWait>.fromOpaque(context).takeUnretainedValue().pause(first: count == 0) ? 1 : 0
        }, Unmanaged.passUnretained(busy).toOpaque())
        if path != nil, let name = sqlite3_db_filename(db, "main") { identity = Self.fileIdentity(name) }
    }

    deinit {
        statements.removeAll()  // statements finalize before the connection closes
        if fileHasMoved { checkpointTruncating() }  // SQLite's close skips a moved file's checkpoint
        sqlite3_close_v2(handle)
    }

    /// True when SQLite fell back to reading only (a file the process may not write).
    var isReadOnly: Bool { sqlite3_db_readonly(handle, "main") == 1 }

    var lastError: SQLiteError {
        SQLiteError(code: sqlite3_extended_errcode(handle), message: String(cString: sqlite3_errmsg(handle)))
    }

    /// Runs SQL that returns no rows (DDL, pragmas, transaction control).
    func execute(_ sql: String) throws(SQLiteError) {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw lastError }
    }

    /// The first column of the first row of `sql`, as text (for pragmas that answer).
    func scalarText(_ sql: String) throws(SQLiteError) -> String? {
        let statement = try prepare(sql)
        defer { statement.reset() }
        guard try statement.step() else { return nil }
        return statement.text(0)
    }

    /// A prepared statement, compiled once per connection and reused.
    func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        if let cached = statements[sql] {
            cached.reset()
            return cached
        }
        var raw: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &raw, nil)
        guard rc == SQLITE_OK, let raw else { throw lastError }
        let statement = SQLiteStatement(raw, database: self)
        statements[sql] = statement
        return statement
    }

    /// Runs `body` in a write transaction: committed (durably, with synchronous=FULL) when it returns,
    /// rolled back when it throws. BEGIN IMMEDIATE takes the write lock up front, so a transaction never
    /// fails half way for want of it. A transaction that meets another connection's lock anyway (SQLite
    /// skips the busy handler where waiting could deadlock) is rolled back and run again, until the
    /// busy timeout since the first try has passed; `isBusy` tells such a failure from others.
    func writeTransaction<T, E: Error>(_ body: () throws(E) -> T, storageError: (SQLiteError) -> E, isBusy: (E) -> Bool) throws(E) -> T {
        try retryingWhileBusy({ () throws(E) in try writeTransactionOnce(body, storageError: storageError) }, isBusy: isBusy)
    }

    /// A read snapshot: every statement in `body` sees the same committed state. Retried as writes are.
    func readTransaction<T, E: Error>(_ body: () throws(E) -> T, storageError: (SQLiteError) -> E, isBusy: (E) -> Bool) throws(E) -> T {
        try retryingWhileBusy({ () throws(E) in
            do throws(SQLiteError) { try execute("BEGIN DEFERRED") } catch { throw storageError(error) }
            defer { try? execute("COMMIT") }
            return try body()
        }, isBusy: isBusy)
    }

    /// Runs `body` again while it fails for a lock, until one busy timeout from now; the busy handler
    /// counts its waits against the same deadline.
    private func retryingWhileBusy<T, E: Error>(_ body: () throws(E) -> T, isBusy: (E) -> Bool) throws(E) -> T {
        busy.started = BusyWait.now()
        busy.deadline = busy.started &+ busy.timeout
        defer { busy.deadline = nil }
        while true {
            do {
                return try body()
            } catch {
                guard isBusy(error), busy.pause() else { throw error }
            }
        }
    }

    private func writeTransactionOnce<T, E: Error>(_ body: () throws(E) -> T, storageError: (SQLiteError) -> E) throws(E) -> T {
        do throws(SQLiteError) { try execute("BEGIN IMMEDIATE") } catch { throw storageError(error) }
        let result: T
        do {
            result = try body()
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
        do throws(SQLiteError) {
            try execute("COMMIT")
        } catch {
            try? execute("ROLLBACK")
            throw storageError(error)
        }
        return result
    }

    /// True when the path the database was opened at no longer names the open file: deleted, renamed,
    /// or replaced by another file. Writes then go to a file nobody will open again (SQLite's own
    /// check covers only rollback-journal mode), and the write-ahead log, named after the path, would
    /// be applied to whatever file is there now.
    var fileHasMoved: Bool {
        guard let identity, let name = sqlite3_db_filename(handle, "main") else { return false }
        var moved: Int32 = 0
        if sqlite3_file_control(handle, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK, moved != 0 { return true }
        guard let now = Self.fileIdentity(name) else { return true }
        return now != identity
    }

    /// Copies every committed transaction from the write-ahead log into the open file and empties the
    /// log. Run when the file has moved: SQLite does not checkpoint a moved file when it closes it, so
    /// what was acknowledged would stay in a log named after the old path, where a file put there
    /// later would read it as its own. Waits at most 1 s for other connections (it is a last effort).
    func checkpointTruncating() {
        busy.started = BusyWait.now()
        busy.deadline = busy.started &+ min(busy.timeout, 1000)
        defer { busy.deadline = nil }
        sqlite3_wal_checkpoint_v2(handle, "main", SQLITE_CHECKPOINT_TRUNCATE, nil, nil)
    }

    private static func fileIdentity(_ path: UnsafePointer<CChar>) -> (device: UInt64, inode: UInt64)? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }
}

/// The busy handler's state: how long to wait, and until when for the call under way.
/// A new waiter backs off as SQLite's own handler does (1, 2, 5, 10, 15, 20 ms): a writer keeps the
/// lock for a run of writes (its page cache stays warm), and waiters spend little CPU, which the
/// writer holding the lock needs. But only for 250 ms, and never with SQLite's 25 to 100 ms sleeps,
/// with which a waiter could lose the lock to busier writers again and again until its deadline
/// (seen: 5 s with three writers): a waiter that has waited 250 ms tries every 0.05 to 0.55 ms, so
/// it takes the lock at the first gap. (Measured with 3 writers and 2 readers: more writes than
/// SQLite's handler and the longest wait under 1 s; polling from the start halved the writes.)
private final class BusyWait {
    var timeout: Int64 = 30_000
    /// The deadline of the transaction under way (nil between transactions: each wait gets a timeout).
    var deadline: Int64?
    /// When the call under way began to wait.
    var started: Int64 = 0
    private var tries = 0
    private var random: UInt64 = UInt64(truncatingIfNeeded: BusyWait.now()) | 1
    private static let backoff: [UInt32] = [1_000, 2_000, 5_000, 10_000, 15_000, 20_000]  // µs

    /// Sleeps a little before another try; false once the deadline has passed (then give up).
    /// `first`: the first wait for this lock (outside a transaction, the timeout counts from it).
    func pause(first: Bool = false) -> Bool {
        let now = Self.now()
        if first {
            tries = 0
            if deadline == nil { started = now }
        }
        guard now < deadline ?? (started &+ timeout) else { return false }
        if now &- started < 250 {
            usleep(Self.backoff[min(tries, Self.backoff.count - 1)])
            tries &+= 1
        } else {
            random ^= random << 13; random ^= random >> 7; random ^= random << 17
            usleep(UInt32(50 &+ random % 500))
        }
        return true
    }

    static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) &* 1000 &+ Int64(time.tv_nsec) / 1_000_000
    }
}

final class SQLiteStatement {
    private let raw: OpaquePointer
    private unowned let database: SQLiteDatabase

    fileprivate init(_ raw: OpaquePointer, database: SQLiteDatabase) {
        self.raw = raw
        self.database = database
    }

    deinit { sqlite3_finalize(raw) }

    func reset() {
        sqlite3_reset(raw)
        sqlite3_clear_bindings(raw)
    }

    // Binding. Indices are 1-based, as in SQL's ?NNN.

    func bind(_ index: Int32, _ value: Int64) { sqlite3_bind_int64(raw, index, value) }

    func bind(_ index: Int32, _ value: Int64?) {
        if let value { sqlite3_bind_int64(raw, index, value) } else { sqlite3_bind_null(raw, index) }
    }

    func bind(_ index: Int32, _ value: String?) {
        guard let value else { sqlite3_bind_null(raw, index); return }
        // The explicit length keeps bytes after an interior NUL; SQLITE_TRANSIENT: SQLite copies them.
        sqlite3_bind_text(raw, index, value, Int32(clamping: value.utf8.count), csqlite_transient())
    }

    func bind(_ index: Int32, blob: [UInt8]) {
        blob.withUnsafeBytes { bytes in
            _ = sqlite3_bind_blob(raw, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(clamping: bytes.count), csqlite_transient())
        }
    }

    /// Advances: true when a row is ready, false when done.
    func step() throws(SQLiteError) -> Bool {
        switch sqlite3_step(raw) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw database.lastError
        }
    }

    /// Runs a statement that returns no rows.
    func run() throws(SQLiteError) {
        defer { reset() }
        while try step() {}
    }

    // Reading the current row. Indices are 0-based.

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(raw, column) == SQLITE_NULL }

    func int(_ column: Int32) -> Int64 { sqlite3_column_int64(raw, column) }

    func text(_ column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(raw, column) else { return nil }
        let count = Int(sqlite3_column_bytes(raw, column))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    /// The column's bytes, lent to `body` (valid only during the call).
    func withBlob<T>(_ column: Int32, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        let pointer = sqlite3_column_blob(raw, column)
        let count = Int(sqlite3_column_bytes(raw, column))
        return body(UnsafeRawBufferPointer(start: count > 0 ? pointer : nil, count: count))
    }
}
