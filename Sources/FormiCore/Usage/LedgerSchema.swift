// The ledger's tables. Interactions are the facts; roll-ups are sums of their usage vectors kept in
// the same transaction as each write, so a query over a million interactions reads a few hundred rows.

enum LedgerSchema {
    static let version: Int64 = 1

    /// Roll-up levels: a UTC hour and a UTC day. A range is answered from whole days, then whole hours,
    /// then the interactions themselves at its ragged ends (RollupReader).
    static let levels: [Int64] = [CivilTime.msPerDay, CivilTime.msPerHour]

    static let statements = [
        """
        CREATE TABLE IF NOT EXISTS meta (
            name TEXT PRIMARY KEY,
            value INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
        // Every write, by idempotency key: a retry answers the first result.
        """
        CREATE TABLE IF NOT EXISTS writes (
            idempotency_key TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            result TEXT NOT NULL
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE IF NOT EXISTS interactions (
            id INTEGER PRIMARY KEY,
            interaction_id TEXT NOT NULL UNIQUE,
            outlet_id TEXT NOT NULL,
            agent_id TEXT NOT NULL,
            started_ms INTEGER NOT NULL,
            ended_ms INTEGER NOT NULL,
            escalation_reason TEXT,
            usage BLOB NOT NULL,
            cost TEXT,
            record TEXT NOT NULL
        )
        """,
        "CREATE INDEX IF NOT EXISTS interactions_by_start ON interactions (started_ms)",
        // level: the slot length in ms; slot: the start of the hour or day (UTC ms).
        """
        CREATE TABLE IF NOT EXISTS rollups (
            level INTEGER NOT NULL,
            slot INTEGER NOT NULL,
            outlet_id TEXT NOT NULL,
            agent_id TEXT NOT NULL,
            usage BLOB NOT NULL,
            PRIMARY KEY (level, slot, outlet_id, agent_id)
        ) WITHOUT ROWID
        """,
        // Calls, resolved calls and duration per quarter hour of a UTC day (96 x 3 varints): days and
        // hours under any UTC offset that is a whole number of quarter hours, as every zone's is.
        """
        CREATE TABLE IF NOT EXISTS day_profiles (
            day INTEGER NOT NULL,
            outlet_id TEXT NOT NULL,
            agent_id TEXT NOT NULL,
            quarters BLOB NOT NULL,
            PRIMARY KEY (agent_id, day, outlet_id)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE IF NOT EXISTS reason_rollups (
            level INTEGER NOT NULL,
            slot INTEGER NOT NULL,
            outlet_id TEXT NOT NULL,
            agent_id TEXT NOT NULL,
            reason TEXT NOT NULL,
            calls INTEGER NOT NULL,
            duration_ms INTEGER NOT NULL,
            PRIMARY KEY (agent_id, level, slot, outlet_id, reason)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE IF NOT EXISTS agents (
            outlet_id TEXT NOT NULL,
            agent_id TEXT NOT NULL,
            name TEXT,
            status TEXT,
            PRIMARY KEY (outlet_id, agent_id)
        ) WITHOUT ROWID
        """,
        // balance = total_recharge - total_usage, always (checked by `verify`).
        """
        CREATE TABLE IF NOT EXISTS balances (
            outlet_id TEXT NOT NULL,
            agent_id TEXT NOT NULL,
            balance INTEGER NOT NULL,
            total_recharge INTEGER NOT NULL,
            total_usage INTEGER NOT NULL,
            PRIMARY KEY (outlet_id, agent_id)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE IF NOT EXISTS credit_ops (
            id INTEGER PRIMARY KEY,
            idempotency_key TEXT NOT NULL UNIQUE,
            op TEXT NOT NULL,
            outlet_id TEXT NOT NULL,
            agent_id TEXT NOT NULL,
            amount INTEGER NOT NULL,
            change INTEGER NOT NULL,
            at_ms INTEGER NOT NULL
        )
        """,
        "CREATE INDEX IF NOT EXISTS credit_ops_by_agent ON credit_ops (outlet_id, agent_id, at_ms)",
        """
        CREATE TABLE IF NOT EXISTS rate_cards (
            outlet_id TEXT PRIMARY KEY,
            card TEXT NOT NULL
        ) WITHOUT ROWID
        """,
    ]
}
