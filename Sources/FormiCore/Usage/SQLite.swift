// The one place that talks to libsqlite3: a connection, prepared statements and transactions.
// Every pointer the C API hands out stays inside this file. Written by hand because the Swift
// wrappers at hand either need Foundation (GRDB) or bring their own SQLite and SwiftNIO (sqlite-nio);
// the ledger needs a dozen calls of the system library.

import CSQLite

struct SQLiteError: Error {
    var code: Int32
    var message: String
}

final class SQLiteDatabase {
    private let handle: OpaquePointer
    private var statements: [String: SQLiteStatement] = [:]

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
        sqlite3_busy_timeout(db, 5000)  // another process writing: wait for it rather than fail
    }

    deinit {
        statements.removeAll()  // statements finalize before the connection closes
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
    /// fails half way for want of it.
    func writeTransaction<T, E: Error>(_ body: () throws(E) -> T, storageError: (SQLiteError) -> E) throws(E) -> T {
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

    /// A read snapshot: every statement in `body` sees the same committed state.
    func readTransaction<T, E: Error>(_ body: () throws(E) -> T, storageError: (SQLiteError) -> E) throws(E) -> T {
        do throws(SQLiteError) { try execute("BEGIN DEFERRED") } catch { throw storageError(error) }
        defer { try? execute("COMMIT") }
        return try body()
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
