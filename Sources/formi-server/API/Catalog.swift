// What a new call looks up: agents (with their compiled flows), outlets, provider templates. Built
// from the configuration at start, then kept in step with the API store: an agent or vendor changed
// through the API takes the next call without a restart. A call in progress keeps what it started with.

import FormiCore
import Synchronization

final class Catalog: Sendable {
    struct Snapshot: Sendable {
        var agents: [Int: ServerConfig.Agent] = [:]
        /// Agent id -> owning outlet (agents from the configuration file serve every outlet: nil).
        var owners: [Int: Int] = [:]
        var outlets: [Int: ServerConfig.Outlet] = [:]
        var flows: [String: CompiledFlow] = [:]
        var templates: [String: [UInt8]] = [:]
    }

    private let state: Mutex<Snapshot>

    init(_ snapshot: Snapshot) { state = Mutex(snapshot) }

    var snapshot: Snapshot { state.withLock { $0 } }
    var flows: [String: CompiledFlow] { state.withLock { $0.flows } }
    var templates: [String: [UInt8]] { state.withLock { $0.templates } }
    func template(_ name: String) -> [UInt8]? { state.withLock { $0.templates[name] } }
    func agent(_ id: Int) -> ServerConfig.Agent? { state.withLock { $0.agents[id] } }
    func owner(ofAgent id: Int) -> Int? { state.withLock { $0.owners[id] } }
    func outlet(_ id: Int) -> ServerConfig.Outlet? { state.withLock { $0.outlets[id] } }

    /// The flow name an API agent's calls run.
    static func flowName(agent id: Int) -> String { "agent:\(id)" }

    /// Puts a stored agent (its flow compiled by the caller) in place for the next call.
    func set(agent record: AgentRecord, flow: CompiledFlow) {
        var agent = ServerConfig.Agent(agentId: record.id, name: record.name, flow: Self.flowName(agent: record.id))
        agent.voice = record.voice
        agent.rate = record.rate
        state.withLock {
            $0.agents[record.id] = agent
            $0.owners[record.id] = record.outletId
            $0.flows[Self.flowName(agent: record.id)] = flow
        }
    }

    func set(outlet: ServerConfig.Outlet) { state.withLock { $0.outlets[outlet.outletId] = outlet } }
    func set(template name: String, json: [UInt8]) { state.withLock { $0.templates[name] = json } }
    func removeTemplate(_ name: String) { state.withLock { _ = $0.templates.removeValue(forKey: name) } }
}
