@testable import FormiCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

// The stores the ledger suites run on: SQLite always; PostgreSQL when FORMI_TEST_PG_URL names a server
// the tests may create schemas in (`make test-swift` starts one with scripts/pg.sh). Each ledger on
// PostgreSQL gets a schema of its own, so every test starts from an empty ledger.

enum LedgerStoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, postgres

    var testDescription: String { rawValue }

    /// SQLite, and PostgreSQL when the tests have a server.
    static var available: [LedgerStoreKind] { PostgresTestServer.url == nil ? [.sqlite] : [.sqlite, .postgres] }

    /// A new, empty ledger on this store (SQLite: in memory, or in a file when `file` is given).
    func open(file: String? = nil) throws -> Ledger {
        switch self {
        case .sqlite: return try Ledger(path: file)
        case .postgres: return try Ledger(location: try PostgresTestServer.freshLedgerURL())
        }
    }
}

enum PostgresTestServer {
    static let url: String? = getenv("FORMI_TEST_PG_URL").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
    /// The URL of an empty schema of its own (created now), for one ledger or several sharing it.
    static func freshLedgerURL() throws -> String {
        guard let url else { throw TemporaryFileError(message: "FORMI_TEST_PG_URL is not set") }
        let name = "t_\(getpid())_\(UInt64.random(in: 0..<(1 << 48)))"
        let admin = try PostgresConnection(url: url)
        try admin.execute("DROP SCHEMA IF EXISTS \(name) CASCADE; CREATE SCHEMA \(name)")
        return url + (url.contains("?") ? "&" : "?") + "options=-c%20search_path%3D\(name)"
    }

    /// A plain connection to the server (for faults: terminating backends, holding locks).
    static func connection(_ target: String? = nil) throws -> PostgresConnection {
        guard let u = target ?? url else { throw TemporaryFileError(message: "FORMI_TEST_PG_URL is not set") }
        return try PostgresConnection(url: u)
    }
}

extension PostgresError: CustomStringConvertible {
    public var description: String { "PostgreSQL \(sqlState): \(message)" }
}

extension Ledger {
    /// The SQLite database under a ledger on SQLite (the tests' pragmas); traps on PostgreSQL.
    var sqlite: SQLiteDatabase { (db as! SQLiteStore).db }
    var postgres: PostgresStore { db as! PostgresStore }
}
