// What the platform API keeps: outlets and their hashed secrets, agents with their flows, connection
// vendors (provider templates), interactions, settings. One interface, async so that an implementation
// over a network database (PostgreSQL) fits it as well as the embedded one (SQLiteAPIStore). Every
// method that names an outlet reaches only that outlet's rows: isolation is kept here as well as in
// the routes.

struct OutletRecord: Sendable, Equatable {
    var id: Int
    var name: String
    /// bcrypt hash of the outlet's API secret; nil: the outlet cannot log in.
    var secretHash: String?
    var dashboardEnabled: Bool
}

struct AgentRecord: Sendable, Equatable {
    var id: Int
    var outletId: Int
    var name: String
    /// espeak-ng voice and words per minute (the demo agent's voice).
    var voice: String
    var rate: Int
    /// The agent's flow in the library's flow format; valid whenever stored.
    var flowJSON: String
    var createdAt: Double
    var updatedAt: Double
}

struct VendorRecord: Sendable, Equatable {
    /// The provider name in /ws-adapter/{name}/...
    var name: String
    /// The outlet that created it; nil for the built-in and configured templates.
    var outletId: Int?
    var templateJSON: String
    var updatedAt: Double
}

struct InteractionRecord: Sendable, Equatable {
    var id: String
    var outletId: Int
    var agentId: Int
    var provider: String
    var callType: String
    var startedAt: Double
    var endedAt: Double
    var outcome: String
    var escalationReason: String?
    var resolvedAt: Double?
    var resolutionNote: String?
    /// The ledger record as written (JSON).
    var recordJSON: String

    var escalated: Bool { outcome == "transferred" || escalationReason != nil }
}

/// A function an agent's flow may call (`{"type": "function", "name": ...}` actions): a JSON-schema'd
/// definition, as LLM tool calling takes it.
struct ToolRecord: Sendable, Equatable {
    var agentId: Int
    var name: String
    var description: String
    /// A JSON Schema object (JSON text).
    var parametersJSON: String
    var updatedAt: Double
}

/// Context for an upcoming call from a number (seed 000, "Pre-Interaction Context"): the variables its
/// flow starts with. Used once, by the first call from the number before it expires.
struct ContextRecord: Sendable, Equatable {
    var id: String
    var outletId: Int
    /// The caller's number as the call's URL gives it (caller_id).
    var number: String
    /// Only calls to this agent take it; nil: any of the outlet's agents.
    var agentId: Int?
    var variablesJSON: String
    var createdAt: Double
    var expiresAt: Double
    var usedAt: Double?
}

struct InteractionFilter: Sendable {
    var outletId: Int
    var agentId: Int?
    var outcome: String?
    var escalated: Bool?
    /// Started at or after / before (Unix seconds).
    var from: Double?
    var to: Double?
    var offset = 0
    var limit = 50
}

protocol APIStore: Sendable {
    // Settings (the token signing key).
    func setting(_ key: String) async throws -> String?
    /// Stores `value` unless the key has one; returns the value kept.
    func settingOrInsert(_ key: String, _ value: String) async throws -> String

    // Outlets.
    func outlet(_ id: Int) async throws -> OutletRecord?
    func outlets() async throws -> [OutletRecord]
    /// Inserts the outlet if it is new; the name is updated, the secret and dashboard are kept.
    func ensureOutlet(id: Int, name: String) async throws
    func setOutletSecret(_ id: Int, hash: String) async throws
    func setDashboard(outlet: Int, enabled: Bool) async throws

    // Agents.
    func agents(outlet: Int?) async throws -> [AgentRecord]
    func agent(_ id: Int, outlet: Int?) async throws -> AgentRecord?
    /// `record.id` 0: the next free id.
    func createAgent(_ record: AgentRecord) async throws -> AgentRecord
    /// Reads the outlet's agent, lets `change` edit it (throwing leaves it as it was), stores it; one
    /// transaction, so concurrent edits of one agent's flow do not lose each other.
    func updateAgent(_ id: Int, outlet: Int, _ change: @escaping @Sendable (inout AgentRecord) throws -> Void) async throws -> AgentRecord

    // Per-outlet settings (JSON text by key: "webhook").
    func outletSetting(outlet: Int, key: String) async throws -> String?
    func setOutletSetting(outlet: Int, key: String, json: String) async throws
    /// Reads a setting (nil: none), lets `change` rewrite it (throwing leaves it), stores it; one transaction.
    func updateOutletSetting(outlet: Int, key: String, _ change: @escaping @Sendable (String?) throws -> String) async throws -> String

    // Per-agent settings (JSON text by key: "model_config").
    func agentSetting(agent: Int, key: String) async throws -> String?
    func setAgentSetting(agent: Int, key: String, json: String) async throws

    // Tools, per agent (the routes check the agent is the caller's first).
    func tools(agent: Int) async throws -> [ToolRecord]
    func createTool(_ record: ToolRecord) async throws
    func updateTool(_ record: ToolRecord) async throws
    func deleteTool(agent: Int, name: String) async throws

    // Connection vendors.
    func vendors() async throws -> [VendorRecord]
    func vendor(_ name: String) async throws -> VendorRecord?
    func createVendor(_ record: VendorRecord) async throws
    func updateVendor(_ name: String, outlet: Int, templateJSON: String, at: Double) async throws -> VendorRecord
    func deleteVendor(_ name: String, outlet: Int) async throws

    // Pre-interaction context.
    func contexts(outlet: Int) async throws -> [ContextRecord]
    func createContext(_ record: ContextRecord) async throws
    func updateContext(_ id: String, outlet: Int, _ change: @escaping @Sendable (inout ContextRecord) throws -> Void) async throws -> ContextRecord
    func deleteContext(_ id: String, outlet: Int) async throws
    /// Deletes the outlet's contexts; how many.
    func clearContexts(outlet: Int) async throws -> Int
    /// The newest unused, unexpired context for a call from `number` to `agent`, marked used.
    func takeContext(outlet: Int, agent: Int, number: String, now: Double) async throws -> ContextRecord?

    // Interactions.
    /// Idempotent by id (a retried write changes nothing).
    func addInteraction(_ record: InteractionRecord) async throws
    func interactions(_ filter: InteractionFilter) async throws -> (items: [InteractionRecord], total: Int)
    func interaction(_ id: String, outlet: Int) async throws -> InteractionRecord?
    func resolveInteraction(_ id: String, outlet: Int, note: String?, at: Double) async throws -> InteractionRecord
}
