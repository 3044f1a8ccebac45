// Text interactions (seed 000: start, respond, end) on the same flow engine the calls run: start one for
// an agent and outlet and get the agent's first reply; send each user message and get the reply (the
// rendered prompt and the actions of the states entered); end it, and it is written to the ledger once,
// as an interaction of the text channel (call_type "text"; the ledger has no channel field). The HTTP
// endpoints are the platform API's (API/TextRoutes.swift); `formi-server --text` drives it too.
//
// A message reaches the flow as {"type":"text","text":...}, normalised as the recogniser's phrases are
// (lower case, words only), so a condition on `event.text` answers typed and spoken words alike.

import FormiCore
import Foundation

actor TextInteractions {
    struct Reply: Sendable {
        var interactionId: String
        var stateId: Int64
        var stateName: String
        /// The state's rendered prompt ("" when it has none).
        var prompt: String
        /// The actions of the states left and entered, as JSON objects (say, end_call, transfer, ...).
        var actions: [String]
        /// The flow reached a terminal state: only `end` is left.
        var ended: Bool

        var json: [String: Any] {
            ["interaction_id": interactionId, "state_id": stateId, "state": stateName, "prompt": prompt,
             "actions": actions.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) }, "ended": ended]
        }
    }

    enum Failure: Error, CustomStringConvertible {
        case notFound(String)
        case refused(String)
        case full(Int)

        var description: String {
            switch self {
            case .notFound(let m), .refused(let m): m
            case .full(let n): "\(n) text interactions are open: end some first"
            }
        }
    }

    /// Open interactions at most (each holds a flow run: bounded memory).
    static let maxOpen = 10_000
    /// The longest message taken.
    static let maxMessageBytes = 4096

    private struct Open {
        var run: FlowRun
        let agent: ServerConfig.Agent
        let outletId: Int
        let startedAt: Date
        let clock: ContinuousClock.Instant
        var path: [Int64]
        var messages = 0
        var transferredTo: String?
    }

    private let server: ServerContext
    private var open: [String: Open] = [:]

    init(server: ServerContext) {
        self.server = server
    }

    var count: Int { open.count }

    func start(agentId: Int, outletId: Int) throws(Failure) -> Reply {
        guard open.count < Self.maxOpen else { throw .full(Self.maxOpen) }
        guard let agent = server.agent(agentId) else { throw .notFound("no agent \(agentId)") }
        guard let outlet = server.outlet(outletId) else { throw .notFound("no outlet \(outletId)") }
        guard agent.agentUrl == nil, let flow = server.flows[agent.flow] else {
            throw .refused("agent \(agentId) has no flow (an outside agent takes calls only)")
        }
        let run: FlowRun
        do throws(FlowError) {
            run = try FlowRun(flow: flow, inputs: [JSONMember(key: "outlet", value: .string(outlet.name))])
        } catch {
            throw .refused("the flow cannot start: \(error.message)")
        }
        let id = "text-\(UUID().uuidString.lowercased())"
        var state = Open(run: run, agent: agent, outletId: outletId, startedAt: Date(), clock: .now, path: [run.state.id])
        let actions = run.pendingActions.map(\.action)
        note(actions, in: &state)
        open[id] = state
        return Reply(interactionId: id, stateId: run.state.id, stateName: run.state.name, prompt: run.prompt.text,
                     actions: actions.map(\.jsonText), ended: run.ended != nil)
    }

    /// `outletId`: the outlet asking (the platform API); another outlet's interaction is not found.
    func respond(_ id: String, text: String, outletId: Int? = nil) throws(Failure) -> Reply {
        guard var state = open[id], outletId == nil || state.outletId == outletId else { throw .notFound("no open interaction \(id)") }
        guard state.run.ended == nil else { throw .refused("the interaction has ended: end it") }
        guard text.utf8.count <= Self.maxMessageBytes else { throw .refused("a message is at most \(Self.maxMessageBytes) bytes") }
        state.messages += 1
        let event = JSONTree.object([
            JSONMember(key: "type", value: .string("text")),
            JSONMember(key: "text", value: .string(SpeechGrammar.normalise(text))),
            JSONMember(key: "at_ms", value: .integer(elapsedMs(state))),
        ])
        let step: FlowRun.Step
        do throws(FlowError) {
            step = try state.run.step(event)
        } catch {
            open[id] = state
            throw .refused("the flow refused the message: \(error.message)")
        }
        if let transition = step.transition { state.path.append(transition.to) }
        let actions = step.actions.map(\.action)
        note(actions, in: &state)
        open[id] = state
        // No transition: the state's prompt again (as the voice agent repeats its options).
        return Reply(interactionId: id, stateId: state.run.state.id, stateName: state.run.state.name,
                     prompt: step.prompt ?? state.run.prompt.text, actions: actions.map(\.jsonText), ended: step.ended != nil)
    }

    /// Ends the interaction and records it; the ledger's answer (cost, balance), as JSON.
    func end(_ id: String, outletId: Int? = nil) async throws(Failure) -> String {
        guard let found = open[id], outletId == nil || found.outletId == outletId else { throw .notFound("no open interaction \(id)") }
        let state = found
        open[id] = nil
        let outcome: String
        var escalation: String?
        if let to = state.transferredTo {
            outcome = "transferred"
            escalation = "transfer to \(to)"
        } else if state.run.ended == .terminal {
            outcome = "resolved"
        } else if state.run.ended == .transitionLimit {
            outcome = "other"
            escalation = "transition limit"
        } else {
            outcome = "abandoned"
        }
        let ended = Date()
        var record: [String: Any] = [
            "idempotency_key": "text:\(id)", "interaction_id": id,
            "agent_id": String(state.agent.agentId), "outlet_id": String(state.outletId), "agent_name": state.agent.name,
            "provider": "text", "call_type": "text",
            "started_at": state.startedAt.timeIntervalSince1970,
            "ended_at": max(ended.timeIntervalSince1970, state.startedAt.timeIntervalSince1970),
            "outcome": outcome,
            "messages": ["received": state.messages],
            "counters": ["transitions": max(state.path.count - 1, 0), "text_messages": state.messages],
            "session_stats": ["channel": "text", "flow_path": state.path],
        ]
        if let escalation { record["escalation_reason"] = escalation }
        switch await server.ledger.record(record) {
        case .success(let answer):
            await InteractionRoutes.recorded(record, answer: answer, variables: state.run.variables, server: server)  // the platform API
            let data = (try? JSONSerialization.data(withJSONObject: answer, options: [.sortedKeys])) ?? Data("{}".utf8)
            return String(decoding: data, as: UTF8.self)
        case .failure(.ledger(let message)): throw .refused("the ledger refused the interaction: \(message)")
        }
    }

    private func note(_ actions: [JSONTree], in state: inout Open) {
        for a in actions where a["type"]?.string == "transfer" { state.transferredTo = a["to"]?.string ?? "a person" }
    }

    private func elapsedMs(_ state: Open) -> Int64 {
        let d = ContinuousClock.now - state.clock
        return d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
    }
}

extension TextInteractions {
    /// `formi-server --text "book a table" --text four`: one interaction, each reply (and at the end the
    /// ledger's answer) as a JSON line on stdout.
    static func runTool(server: ServerContext, route: String, messages: [String]) async throws {
        let ids = route.split(separator: "/").compactMap { Int($0) }
        guard ids.count == 2 else { throw StartupError("--text-agent takes AGENT/OUTLET, e.g. 1/1") }
        let engine = TextInteractions(server: server)
        func line(_ object: [String: Any]) {
            if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) { announce(String(decoding: data, as: UTF8.self)) }
        }
        do {
            let first = try await engine.start(agentId: ids[0], outletId: ids[1])
            line(first.json)
            var ended = first.ended
            for message in messages where !ended {
                let reply = try await engine.respond(first.interactionId, text: message)
                line(reply.json)
                ended = reply.ended
            }
            announce(try await engine.end(first.interactionId))
        } catch {
            throw StartupError("\(error)")
        }
        server.ledger.flush()
    }
}
