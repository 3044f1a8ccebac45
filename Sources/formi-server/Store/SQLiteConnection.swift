// A small wrapper over the system's libsqlite3 for the API store: open, execute, prepared statements
// with bound parameters (never SQL built from input), rows as dictionaries, transactions. Written by
// hand as the ledger's is (FormiCore/Usage/SQLite.swift, internal to the core): the store needs a
// handful of calls, and the SQLite packages at hand bring their own SQLite and event loops.

import CSQLite

struct StoreError: Error, CustomStringConvertible {
    enum Kind { case notFound, conflict, invalid, database }
    var kind: Kind
    var message: String
    var description: String { message }

    static func notFound(_ m: String) -> StoreError { StoreError(kind: .notFound, message: m) }
    static func conflict(_ m: String) -> StoreError { StoreError(kind: .conflict, message: m) }
    static func invalid(_ m: String) -> StoreError { StoreError(kind: .invalid, message: m) }
}

/// A value bound to or read from a statement.
enum SQLValue: Sendable, Equatable {
    case null, integer(Int64), real(Double), text(String)

    var int: Int64? { if case .integer(let v) = self { v } else { nil } }
    var string: String? { if case .text(let v) = self { v } else { nil } }
    var double: Double? {
        switch self {
        case .real(let v): v
        case .integer(let v): Double(v)
        default: nil
        }
    }
}

typealias SQLRow = [String: SQLValue]

/// One connection, used from one thread at a time: only on the store's serial queue (hence unchecked).
final class SQLiteConnection: @unchecked Sendable {
    private let handle: OpaquePointer

    init(path: String) throws {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(db)
            throw StoreError(kind: .database, message: "cannot open \(path): \(message)")
        }
        handle = db
        sqlite3_busy_timeout(db, 5000)
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=FULL")
        try execute("PRAGMA foreign_keys=ON")
    }

    deinit { sqlite3_close_v2(handle) }

    private var errorMessage: String { String(cString: sqlite3_errmsg(handle)) }

    /// Runs SQL with no parameters and no rows wanted (schema, pragmas).
    func execute(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        if sqlite3_exec(handle, sql, nil, nil, &error) != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? errorMessage
            sqlite3_free(error)
            throw StoreError(kind: .database, message: message)
        }
    }

    /// Runs one statement with `parameters` bound in order; returns its rows.
    @discardableResult
    func query(_ sql: String, _ parameters: [SQLValue] = []) throws -> [SQLRow] {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw StoreError(kind: .database, message: "prepare: \(errorMessage)")
        }
        defer { sqlite3_finalize(statement) }
        for (index, value) in parameters.enumerated() {
            let position = Int32(index + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(statement, position)
            case .integer(let v): rc = sqlite3_bind_int64(statement, position, v)
            case .real(let v): rc = sqlite3_bind_double(statement, position, v)
            case .text(let v): rc = sqlite3_bind_text(statement, position, v, -1, csqlite_transient())
            }
            guard rc == SQLITE_OK else { throw StoreError(kind: .database, message: "bind: \(errorMessage)") }
        }
        var rows: [SQLRow] = []
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else {
                if rc & 0xFF == SQLITE_CONSTRAINT { throw StoreError.conflict(errorMessage) }
                throw StoreError(kind: .database, message: errorMessage)
            }
            var row: SQLRow = [:]
            for column in 0..<sqlite3_column_count(statement) {
                let name = String(cString: sqlite3_column_name(statement, column))
                switch sqlite3_column_type(statement, column) {
                case SQLITE_INTEGER: row[name] = .integer(sqlite3_column_int64(statement, column))
                case SQLITE_FLOAT: row[name] = .real(sqlite3_column_double(statement, column))
                case SQLITE_TEXT: row[name] = .text(String(cString: sqlite3_column_text(statement, column)))
                default: row[name] = .null
                }
            }
            rows.append(row)
        }
        return rows
    }

    var changes: Int { Int(sqlite3_changes(handle)) }
    var lastInsertID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// `body` in one transaction: all of it or nothing.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }
}
