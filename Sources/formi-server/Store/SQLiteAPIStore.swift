// The API store in one SQLite file under the data directory (api.db, beside the ledger's usage.db).
// One connection owned by a serial queue: every call runs there, off the event loops, and the caller
// awaits it. Parameters are always bound, never spliced into SQL.

import Dispatch
import Foundation

final class SQLiteAPIStore: APIStore, @unchecked Sendable {
    private let queue = DispatchQueue(label: "formi.api-store")
    private let db: SQLiteConnection
    let path: String

    init(dataDir: String) throws {
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        path = (dataDir as NSString).appendingPathComponent("api.db")
        db = try SQLiteConnection(path: path)
        try db.execute(Self.schema)
    }

    static let schema = """
    CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS outlets (
        id INTEGER PRIMARY KEY, name TEXT NOT NULL, secret_hash TEXT, dashboard_enabled INTEGER NOT NULL DEFAULT 0);
    CREATE TABLE IF NOT EXISTS agents (
        id INTEGER PRIMARY KEY, outlet_id INTEGER NOT NULL REFERENCES outlets(id), name TEXT NOT NULL,
        voice TEXT NOT NULL, rate INTEGER NOT NULL, flow_json TEXT NOT NULL,
        created_at REAL NOT NULL, updated_at REAL NOT NULL);
    CREATE INDEX IF NOT EXISTS agents_outlet ON agents(outlet_id);
    CREATE TABLE IF NOT EXISTS outlet_settings (
        outlet_id INTEGER NOT NULL REFERENCES outlets(id), key TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (outlet_id, key));
    CREATE TABLE IF NOT EXISTS agent_settings (
        agent_id INTEGER NOT NULL REFERENCES agents(id), key TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (agent_id, key));
    CREATE TABLE IF NOT EXISTS tools (
        agent_id INTEGER NOT NULL REFERENCES agents(id), name TEXT NOT NULL, description TEXT NOT NULL,
        parameters_json TEXT NOT NULL, updated_at REAL NOT NULL, PRIMARY KEY (agent_id, name));
    CREATE TABLE IF NOT EXISTS vendors (
        name TEXT PRIMARY KEY, outlet_id INTEGER REFERENCES outlets(id), template_json TEXT NOT NULL, updated_at REAL NOT NULL);
    CREATE TABLE IF NOT EXISTS contexts (
        id TEXT PRIMARY KEY, outlet_id INTEGER NOT NULL REFERENCES outlets(id), number TEXT NOT NULL, agent_id INTEGER,
        variables_json TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL, used_at REAL);
    CREATE INDEX IF NOT EXISTS contexts_number ON contexts(outlet_id, number);
    CREATE TABLE IF NOT EXISTS interactions (
        id TEXT PRIMARY KEY, outlet_id INTEGER NOT NULL, agent_id INTEGER NOT NULL, provider TEXT NOT NULL,
        call_type TEXT NOT NULL, started_at REAL NOT NULL, ended_at REAL NOT NULL, outcome TEXT NOT NULL,
        escalation_reason TEXT, resolved_at REAL, resolution_note TEXT, record_json TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS interactions_outlet ON interactions(outlet_id, started_at);
    """

    /// Runs `body` on the store's queue and hands back its result.
    @discardableResult
    private func run<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [db] in continuation.resume(with: Result { try body(db) }) }
        }
    }

    // MARK: settings

    func setting(_ key: String) async throws -> String? {
        try await run { db in try db.query("SELECT value FROM settings WHERE key = ?", [.text(key)]).first?["value"]?.string }
    }

    func settingOrInsert(_ key: String, _ value: String) async throws -> String {
        try await run { db in
            try db.query("INSERT OR IGNORE INTO settings(key, value) VALUES (?, ?)", [.text(key), .text(value)])
            return try db.query("SELECT value FROM settings WHERE key = ?", [.text(key)]).first?["value"]?.string ?? value
        }
    }

    // MARK: outlets

    private static func outlet(_ row: SQLRow) -> OutletRecord {
        OutletRecord(id: Int(row["id"]?.int ?? 0), name: row["name"]?.string ?? "", secretHash: row["secret_hash"]?.string,
                     dashboardEnabled: row["dashboard_enabled"]?.int == 1)
    }

    func outlet(_ id: Int) async throws -> OutletRecord? {
        try await run { db in try db.query("SELECT * FROM outlets WHERE id = ?", [.integer(Int64(id))]).first.map(Self.outlet) }
    }

    func outlets() async throws -> [OutletRecord] {
        try await run { db in try db.query("SELECT * FROM outlets ORDER BY id").map(Self.outlet) }
    }

    func ensureOutlet(id: Int, name: String) async throws {
        try await run { db in
            try db.query("INSERT INTO outlets(id, name) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name",
                         [.integer(Int64(id)), .text(name)])
        }
    }

    func setOutletSecret(_ id: Int, hash: String) async throws {
        try await run { db in
            try db.query("UPDATE outlets SET secret_hash = ? WHERE id = ?", [.text(hash), .integer(Int64(id))])
            if db.changes == 0 { throw StoreError.notFound("no outlet \(id)") }
        }
    }

    func setDashboard(outlet: Int, enabled: Bool) async throws {
        try await run { db in
            try db.query("UPDATE outlets SET dashboard_enabled = ? WHERE id = ?", [.integer(enabled ? 1 : 0), .integer(Int64(outlet))])
            if db.changes == 0 { throw StoreError.notFound("no outlet \(outlet)") }
        }
    }

    // MARK: agents

    private static func agent(_ row: SQLRow) -> AgentRecord {
        AgentRecord(id: Int(row["id"]?.int ?? 0), outletId: Int(row["outlet_id"]?.int ?? 0), name: row["name"]?.string ?? "",
                    voice: row["voice"]?.string ?? "en-us", rate: Int(row["rate"]?.int ?? 165), flowJSON: row["flow_json"]?.string ?? "{}",
                    createdAt: row["created_at"]?.double ?? 0, updatedAt: row["updated_at"]?.double ?? 0)
    }

    private static func agentParameters(_ r: AgentRecord) -> [SQLValue] {
        [.integer(Int64(r.outletId)), .text(r.name), .text(r.voice), .integer(Int64(r.rate)), .text(r.flowJSON),
         .real(r.createdAt), .real(r.updatedAt)]
    }

    func agents(outlet: Int?) async throws -> [AgentRecord] {
        try await run { db in
            if let outlet {
                return try db.query("SELECT * FROM agents WHERE outlet_id = ? ORDER BY id", [.integer(Int64(outlet))]).map(Self.agent)
            }
            return try db.query("SELECT * FROM agents ORDER BY id").map(Self.agent)
        }
    }

    func agent(_ id: Int, outlet: Int?) async throws -> AgentRecord? {
        try await run { db in
            let rows = try db.query("SELECT * FROM agents WHERE id = ?", [.integer(Int64(id))])
            guard let row = rows.first else { return nil }
            let record = Self.agent(row)
            if let outlet, record.outletId != outlet { return nil }
            return record
        }
    }

    func createAgent(_ record: AgentRecord) async throws -> AgentRecord {
        try await run { db in
            try db.transaction {
                var stored = record
                if stored.id == 0 {
                    stored.id = Int(try db.query("SELECT COALESCE(MAX(id), 0) + 1 AS next FROM agents").first?["next"]?.int ?? 1)
                }
                try db.query("INSERT INTO agents(id, outlet_id, name, voice, rate, flow_json, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             [.integer(Int64(stored.id))] + Self.agentParameters(stored))
                return stored
            }
        }
    }

    func updateAgent(_ id: Int, outlet: Int, _ change: @escaping @Sendable (inout AgentRecord) throws -> Void) async throws -> AgentRecord {
        try await run { db in
            try db.transaction {
                guard let row = try db.query("SELECT * FROM agents WHERE id = ? AND outlet_id = ?",
                                             [.integer(Int64(id)), .integer(Int64(outlet))]).first else {
                    throw StoreError.notFound("no agent \(id)")
                }
                var record = Self.agent(row)
                try change(&record)
                record.id = id
                record.outletId = outlet
                try db.query("UPDATE agents SET outlet_id = ?, name = ?, voice = ?, rate = ?, flow_json = ?, created_at = ?, updated_at = ? WHERE id = ?",
                             Self.agentParameters(record) + [.integer(Int64(id))])
                return record
            }
        }
    }

    // MARK: outlet and agent settings, tools

    func outletSetting(outlet: Int, key: String) async throws -> String? {
        try await run { db in
            try db.query("SELECT json FROM outlet_settings WHERE outlet_id = ? AND key = ?", [.integer(Int64(outlet)), .text(key)]).first?["json"]?.string
        }
    }

    func setOutletSetting(outlet: Int, key: String, json: String) async throws {
        try await run { db in
            try db.query("INSERT INTO outlet_settings(outlet_id, key, json) VALUES (?, ?, ?) ON CONFLICT(outlet_id, key) DO UPDATE SET json = excluded.json",
                         [.integer(Int64(outlet)), .text(key), .text(json)])
        }
    }

    func agentSetting(agent: Int, key: String) async throws -> String? {
        try await run { db in
            try db.query("SELECT json FROM agent_settings WHERE agent_id = ? AND key = ?", [.integer(Int64(agent)), .text(key)]).first?["json"]?.string
        }
    }

    func setAgentSetting(agent: Int, key: String, json: String) async throws {
        try await run { db in
            try db.query("INSERT INTO agent_settings(agent_id, key, json) VALUES (?, ?, ?) ON CONFLICT(agent_id, key) DO UPDATE SET json = excluded.json",
                         [.integer(Int64(agent)), .text(key), .text(json)])
        }
    }

    func updateOutletSetting(outlet: Int, key: String, _ change: @escaping @Sendable (String?) throws -> String) async throws -> String {
        try await run { db in
            try db.transaction {
                let current = try db.query("SELECT json FROM outlet_settings WHERE outlet_id = ? AND key = ?",
                                           [.integer(Int64(outlet)), .text(key)]).first?["json"]?.string
                let updated = try change(current)
                try db.query("INSERT INTO outlet_settings(outlet_id, key, json) VALUES (?, ?, ?) ON CONFLICT(outlet_id, key) DO UPDATE SET json = excluded.json",
                             [.integer(Int64(outlet)), .text(key), .text(updated)])
                return updated
            }
        }
    }

    private static func tool(_ row: SQLRow) -> ToolRecord {
        ToolRecord(agentId: Int(row["agent_id"]?.int ?? 0), name: row["name"]?.string ?? "", description: row["description"]?.string ?? "",
                   parametersJSON: row["parameters_json"]?.string ?? "{}", updatedAt: row["updated_at"]?.double ?? 0)
    }

    func tools(agent: Int) async throws -> [ToolRecord] {
        try await run { db in try db.query("SELECT * FROM tools WHERE agent_id = ? ORDER BY name", [.integer(Int64(agent))]).map(Self.tool) }
    }

    func createTool(_ r: ToolRecord) async throws {
        try await run { db in
            do {
                try db.query("INSERT INTO tools(agent_id, name, description, parameters_json, updated_at) VALUES (?, ?, ?, ?, ?)",
                             [.integer(Int64(r.agentId)), .text(r.name), .text(r.description), .text(r.parametersJSON), .real(r.updatedAt)])
            } catch let error as StoreError where error.kind == .conflict {
                throw StoreError.conflict("agent \(r.agentId) has a tool named \(r.name) already")
            }
        }
    }

    func updateTool(_ r: ToolRecord) async throws {
        try await run { db in
            try db.query("UPDATE tools SET description = ?, parameters_json = ?, updated_at = ? WHERE agent_id = ? AND name = ?",
                         [.text(r.description), .text(r.parametersJSON), .real(r.updatedAt), .integer(Int64(r.agentId)), .text(r.name)])
            if db.changes == 0 { throw StoreError.notFound("no tool \(r.name)") }
        }
    }

    func deleteTool(agent: Int, name: String) async throws {
        try await run { db in
            try db.query("DELETE FROM tools WHERE agent_id = ? AND name = ?", [.integer(Int64(agent)), .text(name)])
            if db.changes == 0 { throw StoreError.notFound("no tool \(name)") }
        }
    }

    // MARK: vendors

    private static func vendor(_ row: SQLRow) -> VendorRecord {
        VendorRecord(name: row["name"]?.string ?? "", outletId: row["outlet_id"]?.int.map { Int($0) },
                     templateJSON: row["template_json"]?.string ?? "{}", updatedAt: row["updated_at"]?.double ?? 0)
    }

    func vendors() async throws -> [VendorRecord] {
        try await run { db in try db.query("SELECT * FROM vendors ORDER BY name").map(Self.vendor) }
    }

    func vendor(_ name: String) async throws -> VendorRecord? {
        try await run { db in try db.query("SELECT * FROM vendors WHERE name = ?", [.text(name)]).first.map(Self.vendor) }
    }

    func createVendor(_ record: VendorRecord) async throws {
        try await run { db in
            do {
                try db.query("INSERT INTO vendors(name, outlet_id, template_json, updated_at) VALUES (?, ?, ?, ?)",
                             [.text(record.name), record.outletId.map { .integer(Int64($0)) } ?? .null, .text(record.templateJSON), .real(record.updatedAt)])
            } catch let error as StoreError where error.kind == .conflict {
                throw StoreError.conflict("a connection vendor named \(record.name) exists already")
            }
        }
    }

    func updateVendor(_ name: String, outlet: Int, templateJSON: String, at: Double) async throws -> VendorRecord {
        try await run { db in
            try db.query("UPDATE vendors SET template_json = ?, updated_at = ? WHERE name = ? AND outlet_id = ?",
                         [.text(templateJSON), .real(at), .text(name), .integer(Int64(outlet))])
            if db.changes == 0 { throw StoreError.notFound("no connection vendor \(name) of this outlet") }
            return VendorRecord(name: name, outletId: outlet, templateJSON: templateJSON, updatedAt: at)
        }
    }

    func deleteVendor(_ name: String, outlet: Int) async throws {
        try await run { db in
            try db.query("DELETE FROM vendors WHERE name = ? AND outlet_id = ?", [.text(name), .integer(Int64(outlet))])
            if db.changes == 0 { throw StoreError.notFound("no connection vendor \(name) of this outlet") }
        }
    }

    // MARK: pre-interaction context

    private static func context(_ row: SQLRow) -> ContextRecord {
        ContextRecord(id: row["id"]?.string ?? "", outletId: Int(row["outlet_id"]?.int ?? 0), number: row["number"]?.string ?? "",
                      agentId: row["agent_id"]?.int.map { Int($0) }, variablesJSON: row["variables_json"]?.string ?? "{}",
                      createdAt: row["created_at"]?.double ?? 0, expiresAt: row["expires_at"]?.double ?? 0, usedAt: row["used_at"]?.double)
    }

    func contexts(outlet: Int) async throws -> [ContextRecord] {
        try await run { db in try db.query("SELECT * FROM contexts WHERE outlet_id = ? ORDER BY created_at, id", [.integer(Int64(outlet))]).map(Self.context) }
    }

    func createContext(_ r: ContextRecord) async throws {
        try await run { db in
            try db.query("INSERT INTO contexts(id, outlet_id, number, agent_id, variables_json, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         [.text(r.id), .integer(Int64(r.outletId)), .text(r.number), r.agentId.map { .integer(Int64($0)) } ?? .null,
                          .text(r.variablesJSON), .real(r.createdAt), .real(r.expiresAt)])
        }
    }

    func updateContext(_ id: String, outlet: Int, _ change: @escaping @Sendable (inout ContextRecord) throws -> Void) async throws -> ContextRecord {
        try await run { db in
            try db.transaction {
                guard let row = try db.query("SELECT * FROM contexts WHERE id = ? AND outlet_id = ?", [.text(id), .integer(Int64(outlet))]).first else {
                    throw StoreError.notFound("no scheduled interaction \(id)")
                }
                var record = Self.context(row)
                guard record.usedAt == nil else { throw StoreError.conflict("scheduled interaction \(id) was used by a call already") }
                try change(&record)
                try db.query("UPDATE contexts SET number = ?, agent_id = ?, variables_json = ?, expires_at = ? WHERE id = ?",
                             [.text(record.number), record.agentId.map { .integer(Int64($0)) } ?? .null, .text(record.variablesJSON),
                              .real(record.expiresAt), .text(id)])
                return record
            }
        }
    }

    func deleteContext(_ id: String, outlet: Int) async throws {
        try await run { db in
            try db.query("DELETE FROM contexts WHERE id = ? AND outlet_id = ?", [.text(id), .integer(Int64(outlet))])
            if db.changes == 0 { throw StoreError.notFound("no scheduled interaction \(id)") }
        }
    }

    func clearContexts(outlet: Int) async throws -> Int {
        try await run { db in
            try db.query("DELETE FROM contexts WHERE outlet_id = ?", [.integer(Int64(outlet))])
            return db.changes
        }
    }

    func takeContext(outlet: Int, agent: Int, number: String, now: Double) async throws -> ContextRecord? {
        try await run { db in
            try db.transaction {
                guard let row = try db.query("""
                    SELECT * FROM contexts WHERE outlet_id = ? AND number = ? AND used_at IS NULL AND expires_at > ?
                        AND (agent_id IS NULL OR agent_id = ?) ORDER BY created_at DESC, id LIMIT 1
                    """, [.integer(Int64(outlet)), .text(number), .real(now), .integer(Int64(agent))]).first else { return nil }
                var record = Self.context(row)
                try db.query("UPDATE contexts SET used_at = ? WHERE id = ?", [.real(now), .text(record.id)])
                record.usedAt = now
                return record
            }
        }
    }

    // MARK: interactions

    private static func interaction(_ row: SQLRow) -> InteractionRecord {
        InteractionRecord(id: row["id"]?.string ?? "", outletId: Int(row["outlet_id"]?.int ?? 0), agentId: Int(row["agent_id"]?.int ?? 0),
                          provider: row["provider"]?.string ?? "", callType: row["call_type"]?.string ?? "",
                          startedAt: row["started_at"]?.double ?? 0, endedAt: row["ended_at"]?.double ?? 0,
                          outcome: row["outcome"]?.string ?? "other", escalationReason: row["escalation_reason"]?.string,
                          resolvedAt: row["resolved_at"]?.double, resolutionNote: row["resolution_note"]?.string,
                          recordJSON: row["record_json"]?.string ?? "{}")
    }

    func addInteraction(_ r: InteractionRecord) async throws {
        try await run { db in
            try db.query("""
                INSERT OR IGNORE INTO interactions(id, outlet_id, agent_id, provider, call_type, started_at, ended_at, outcome,
                    escalation_reason, record_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(r.id), .integer(Int64(r.outletId)), .integer(Int64(r.agentId)), .text(r.provider), .text(r.callType),
                      .real(r.startedAt), .real(r.endedAt), .text(r.outcome), r.escalationReason.map(SQLValue.text) ?? .null, .text(r.recordJSON)])
        }
    }

    func interactions(_ f: InteractionFilter) async throws -> (items: [InteractionRecord], total: Int) {
        try await run { db in
            var conditions = ["outlet_id = ?"]
            var parameters: [SQLValue] = [.integer(Int64(f.outletId))]
            if let agent = f.agentId { conditions.append("agent_id = ?"); parameters.append(.integer(Int64(agent))) }
            if let outcome = f.outcome { conditions.append("outcome = ?"); parameters.append(.text(outcome)) }
            if let escalated = f.escalated {
                conditions.append(escalated ? "(outcome = 'transferred' OR escalation_reason IS NOT NULL)"
                                            : "(outcome <> 'transferred' AND escalation_reason IS NULL)")
            }
            if let from = f.from { conditions.append("started_at >= ?"); parameters.append(.real(from)) }
            if let to = f.to { conditions.append("started_at < ?"); parameters.append(.real(to)) }
            let condition = conditions.joined(separator: " AND ")
            let total = Int(try db.query("SELECT COUNT(*) AS n FROM interactions WHERE \(condition)", parameters).first?["n"]?.int ?? 0)
            let rows = try db.query("SELECT * FROM interactions WHERE \(condition) ORDER BY started_at DESC, id LIMIT ? OFFSET ?",
                                    parameters + [.integer(Int64(f.limit)), .integer(Int64(f.offset))])
            return (rows.map(Self.interaction), total)
        }
    }

    func interaction(_ id: String, outlet: Int) async throws -> InteractionRecord? {
        try await run { db in
            try db.query("SELECT * FROM interactions WHERE id = ? AND outlet_id = ?", [.text(id), .integer(Int64(outlet))]).first.map(Self.interaction)
        }
    }

    func resolveInteraction(_ id: String, outlet: Int, note: String?, at: Double) async throws -> InteractionRecord {
        try await run { db in
            try db.transaction {
                guard let row = try db.query("SELECT * FROM interactions WHERE id = ? AND outlet_id = ?", [.text(id), .integer(Int64(outlet))]).first else {
                    throw StoreError.notFound("no interaction \(id)")
                }
                var record = Self.interaction(row)
                guard record.escalated else { throw StoreError.conflict("interaction \(id) was not escalated") }
                guard record.resolvedAt == nil else { throw StoreError.conflict("interaction \(id) is resolved already") }
                try db.query("UPDATE interactions SET resolved_at = ?, resolution_note = ? WHERE id = ?",
                             [.real(at), note.map(SQLValue.text) ?? .null, .text(id)])
                record.resolvedAt = at
                record.resolutionNote = note
                return record
            }
        }
    }
}
