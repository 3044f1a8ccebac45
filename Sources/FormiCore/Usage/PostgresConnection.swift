// One connection to PostgreSQL through libpq, the standard C client (written against it by hand: the
// Swift clients at hand, such as postgres-nio, bring SwiftNIO and Foundation into a core that has
// neither, for a dozen blocking calls). Every libpq pointer stays inside this file and
// PostgresStatement.swift. Results come as text (integers in decimal, bytea in hex); parameters go as
// text, blobs as binary.

import CPostgres

struct PostgresError: Error {
    /// The five-character SQLSTATE, or "" when libpq gave none (the connection broke).
    var sqlState: String
    var message: String
    /// The connection is gone (server restarted, backend terminated, network): reconnect before the next call.
    var connectionLost: Bool

    /// Another writer won a race: a serialization failure, a deadlock, or a key inserted at the same
    /// time. Running the whole transaction again resolves it (a retried idempotency key finds the first result).
    var isConflict: Bool { sqlState == "40001" || sqlState == "40P01" || sqlState == "23505" }
    /// A lock timeout (lock_timeout): other writers held what this one needed.
    var isLockTimeout: Bool { sqlState == "55P03" }
}

final class PostgresConnection {
    private(set) var raw: OpaquePointer?
    /// Bumped by every new connection: statements prepared on an older one are prepared again.
    private(set) var generation = 0
    private let url: String

    /// Connects; `url` is a libpq connection URI (postgresql://user:password@host:port/db?param=value).
    /// Defaults the URI may override: a 10 s connect timeout, UTF-8, application name libformi.
    init(url: String) throws(PostgresError) {
        self.url = url
        try connect()
    }

    deinit { PQfinish(raw) }

    var isConnected: Bool { raw.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// The server process serving this connection (for pg_terminate_backend in the tests).
    var backendPID: Int32 { raw.map { PQbackendPID($0) } ?? 0 }

    /// Connects again if the connection broke; a no-op while it is fine.
    func ensureConnected() throws(PostgresError) {
        if isConnected { return }
        try connect()
    }

    private func connect() throws(PostgresError) {
        PQfinish(raw)
        raw = nil
        // Keywords before "dbname" are defaults: the URI, expanded in its place, overrides them.
        let keywords = ["connect_timeout", "client_encoding", "application_name", "dbname"]
        let values = ["10", "UTF8", "libformi", url]
        let made = withCStrings(keywords) { k in withCStrings(values) { v in PQconnectdbParams(k, v, 1) } }
        guard let conn = made ?? nil ?? nil else { throw PostgresError(sqlState: "", message: "out of memory", connectionLost: true) }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(conn))
            PQfinish(conn)
            throw PostgresError(sqlState: "", message: message, connectionLost: true)
        }
        // libpq prints the server's notices on stderr by default; a library must not write there.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        raw = conn
        generation &+= 1
    }

    /// Runs SQL without parameters (transaction control, DDL); the rows are discarded.
    func execute(_ sql: String) throws(PostgresError) {
        guard let raw else { throw lostError() }
        let result = PQexec(raw, sql)
        defer { PQclear(result) }
        try check(result)
    }

    /// Runs SQL without parameters and returns every row as text (NULL as nil). For tests and scripts.
    func rows(_ sql: String) throws(PostgresError) -> [[String?]] {
        guard let raw else { throw lostError() }
        let result = PQexec(raw, sql)
        defer { PQclear(result) }
        try check(result)
        var rows: [[String?]] = []
        for row in 0..<PQntuples(result) {
            rows.append((0..<PQnfields(result)).map { column in
                PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
            })
        }
        return rows
    }

    /// The command tag of the last statement of `sql` ("COMMIT", or "ROLLBACK" when COMMIT found the
    /// transaction failed).
    func command(_ sql: String) throws(PostgresError) -> String {
        guard let raw else { throw lostError() }
        let result = PQexec(raw, sql)
        defer { PQclear(result) }
        try check(result)
        return PQcmdStatus(result).map { String(cString: $0) } ?? ""
    }

    /// True when the connection is inside a transaction block (in progress or failed).
    var inTransaction: Bool {
        guard let raw else { return false }
        let status = PQtransactionStatus(raw)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
    }

    /// Throws the error a result carries; nil (libpq's out of memory or a broken connection) too.
    func check(_ result: OpaquePointer?) throws(PostgresError) {
        guard let result else { throw lostError() }
        let status = PQresultStatus(result)
        if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY { return }
        let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
        var message = PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) } ?? ""
        if message.isEmpty { message = Self.trimmed(PQresultErrorMessage(result)) }
        if message.isEmpty, let raw { message = Self.trimmed(PQerrorMessage(raw)) }
        // Class 08 (connection exception) and 57P01..57P03 (terminated, crash shutdown, cannot connect now).
        let lost = !isConnected || state.hasPrefix("08") || state == "57P01" || state == "57P02" || state == "57P03"
        throw PostgresError(sqlState: state, message: message, connectionLost: lost)
    }

    func lostError() -> PostgresError {
        let message = raw.map { Self.trimmed(PQerrorMessage($0)) } ?? "not connected"
        return PostgresError(sqlState: "", message: message.isEmpty ? "the connection was closed" : message, connectionLost: true)
    }

    static func trimmed(_ text: UnsafePointer<CChar>?) -> String {
        guard let text else { return "" }
        var message = String(cString: text)
        while let last = message.last, last == "\n" || last == " " { message.removeLast() }
        return message.split(separator: "\n").joined(separator: "; ")
    }
}

/// A NULL-terminated array of C strings, valid during `body` (nil only if there were no memory for it).
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R? {
    var storage: [UInt8] = []
    var offsets: [Int] = []
    for string in strings {
        offsets.append(storage.count)
        storage.append(contentsOf: string.utf8)
        storage.append(0)
    }
    storage.append(0)  // never empty, so it has a base address
    return storage.withUnsafeBufferPointer { bytes in
        let base = UnsafeRawPointer(bytes.baseAddress).map { $0.assumingMemoryBound(to: CChar.self) }
        var pointers: [UnsafePointer<CChar>?] = offsets.map { offset in base.map { $0 + offset } }
        pointers.append(nil)
        // `pointers` holds at least the terminating nil, so a base address always exists.
        return pointers.withUnsafeBufferPointer { list in list.baseAddress.map(body) }
    }
}
