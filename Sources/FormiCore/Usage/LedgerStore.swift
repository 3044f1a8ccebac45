// The one interface between the ledger's logic (billing, roll-ups, queries: written once) and where it
// keeps its tables: SQLite (a file or memory; SQLiteStore.swift) or PostgreSQL (PostgresStore.swift).
// The logic speaks one SQL both engines run alike: `?N` parameters, `INSERT ... ON CONFLICT (key) DO
// UPDATE`, integers, text and blobs only. Each store owns its own DDL and transaction rules.

/// A prepared statement of a store. Parameters are 1-based, columns 0-based (as in SQLite).
/// `next()` runs it (the first time after binding) and steps to the next row; `reset()` ends a run
/// early and clears the bindings.
protocol LedgerStatement: AnyObject {
    func bind(_ index: Int32, _ value: Int64)
    func bind(_ index: Int32, _ value: Int64?)
    func bind(_ index: Int32, _ value: String?)
    func bind(_ index: Int32, blob: [UInt8])
    func next() throws(LedgerError) -> Bool
    /// Runs a statement that returns no rows.
    func execute() throws(LedgerError)
    func reset()
    func isNull(_ column: Int32) -> Bool
    func int(_ column: Int32) -> Int64
    func text(_ column: Int32) -> String?
    func withBlob<T>(_ column: Int32, _ body: (UnsafeRawBufferPointer) -> T) -> T
}

protocol LedgerStore: AnyObject {
    /// How long a write waits for other writers (locks, retries after a conflict), in ms.
    var busyTimeout: Int64 { get set }

    /// A statement in the ledger's SQL, compiled once per connection.
    func statement(_ sql: String) throws(LedgerError) -> any LedgerStatement

    /// Runs `body` as one durable transaction: all of it is stored when this returns, none of it when
    /// it throws. A transaction that lost a race with another writer is run again (within the timeout).
    func write<T>(_ body: () throws(LedgerError) -> T) throws(LedgerError) -> T

    /// Runs `body` on one consistent snapshot.
    func read<T>(_ body: () throws(LedgerError) -> T) throws(LedgerError) -> T

    /// Called in a write before the outlet's balances and roll-ups are read to be changed (the outlet-wide
    /// day profiles are shared by its agents): a store whose writers run at once makes every other
    /// writer of that outlet wait until this transaction ends, so no update is lost. (SQLite runs one
    /// writer at a time: nothing to do.)
    func lockOutlet(_ outlet: String) throws(LedgerError)
}

extension LedgerSchema {
    /// Creates the tables a store lacks and records or checks the schema version, in one write.
    /// A ledger written by a newer libformi is refused rather than misread.
    static func migrate(_ store: any LedgerStore, ddl: [String], where location: String) throws(LedgerError) {
        try store.write { () throws(LedgerError) in
            for statement in ddl { try store.statement(statement).execute() }
            let version = try store.statement("SELECT value FROM meta WHERE name = 'schema_version'")
            let stored = try version.next() ? version.int(0) : nil
            version.reset()
            if let stored, stored > LedgerSchema.version {
                throw .storage("cannot open the ledger\(location): it was written by a newer libformi (schema \(stored), this one knows \(LedgerSchema.version))")
            }
            if stored == nil {
                let insert = try store.statement("INSERT INTO meta (name, value) VALUES ('schema_version', ?1)")
                insert.bind(1, LedgerSchema.version)
                try insert.execute()
            }
        }
    }
}
