// A run of a flow: one conversation moving through the machine, one event at a time.
//
// Events are JSON objects with a "type" and an optional "at_ms" (the host's clock in ms, never going
// back). Types with a meaning of their own:
//   "user" (a caller utterance, "text") and "dtmf" ("digit"): caller turns, counted by `turns`;
//   "judged" ("edge_id": N, or null for "none applies"; optional "state_id"): the transition model's
//     verdict on the edges with a plain-language prompt;
//   "interrupted": the caller barged in; "actions_done": the host finished the pending entry actions
//     (e.g. spoke the new state's greeting); "tick": the clock moved (for timeouts).
// Any other type is the host's own (e.g. "tool_result") and is seen by conditions.
//
// A step: "interrupted" and "actions_done" never move the run. Otherwise the state's timeout first (to
// its fallback); then the state's edges, then global edges, each group by priority then id, first match
// wins (a condition edge matches when its condition holds; a prompt edge when the verdict names it, and
// its condition, if any, holds); then, on a caller turn, the turn limit (to the fallback); then, on a
// decision event (user, dtmf, judged), the state's default edge, else the global default (a default's
// condition, if any, must hold). Turns and the state's clock restart only when the run enters another
// state, so an "ask again" self-loop still reaches its limits. Taking an edge: its `assign`s, the old
// state's exit actions, the new state's entry actions (`set` actions are performed here; the rest are
// handed to the host, rendered). Entering a terminal state ends the run; so does needing a transition
// beyond `max_transitions`, which then ends where it is with nothing of that transition done.
//
// Interruptions: a transition is atomic. It is committed when the step returns, so a barge-in can never
// leave it half-made or lost: an "interrupted" event keeps the run in the state it is in, and hands back
// the entry actions that were still pending (so the host can redo or drop the cut-off speech). Leaving a
// state before its entry actions were done reports them as cancelled. A verdict made for another state
// (a stale "judged" that raced a transition) is ignored and reported, never applied to the wrong state.

public struct FlowRun {
    public static let maxReturnDepth = 32

    public enum EndReason: String, Sendable { case terminal, transitionLimit = "transition_limit" }

    /// What a step did.
    public struct Step: Sendable {
        public struct Transition: Sendable {
            public enum Reason: String, Sendable { case condition, judged, `default`, timeout, turnLimit = "turn_limit" }
            public var edgeID: Int64?
            public var from: Int64
            public var to: Int64
            public var reason: Reason
            public var isGlobal: Bool
            public var returned: Bool
        }

        public struct Action: Sendable {
            public enum Phase: String, Sendable { case exit, entry }
            public var phase: Phase
            public var stateID: Int64
            public var action: JSONTree
        }

        public var step: Int64
        public var eventType: String
        public var stateID: Int64
        public var stateName: String
        public var transition: Transition?
        /// The new state's rendered prompt (after a transition).
        public var prompt: String?
        public var actions: [Action] = []
        /// Entry actions that were pending when the caller interrupted.
        public var interruptedActions: [Action] = []
        /// Entry actions of a state the run left before they were done.
        public var cancelledActions: [Action] = []
        /// A verdict that was not applied: its edge does not leave the current state, its condition does
        /// not hold, or it was made for another state (it raced a transition).
        public var ignoredVerdict = false
        public var missingVariables: [String] = []
        public var ended: EndReason?
    }

    public struct HistoryEntry: Sendable {
        public var step: Int64
        public var atMs: Int64?
        public var eventType: String
        public var transition: Step.Transition
    }

    public let flow: CompiledFlow
    public private(set) var current: Int
    public private(set) var variables: [JSONMember]
    public private(set) var turns: Int64 = 0
    public private(set) var steps: Int64 = 0
    public private(set) var transitions: Int64 = 0
    public private(set) var now: Int64?
    public private(set) var enteredAt: Int64?
    /// The clock of the event being stepped, if it carried one.
    private var eventTime: Int64?
    /// The state before the last transition.
    public private(set) var previous: Int?
    /// Where returning edges lead, most recent last.
    public private(set) var returnStack: [Int] = []
    public private(set) var pendingActions: [Step.Action] = []
    public private(set) var ended: EndReason?
    public private(set) var history: [HistoryEntry] = []

    /// Starts a run in the initial state with the flow's variables overlaid by `inputs`; every declared
    /// input must be given.
    public init(flow: CompiledFlow, inputs: [JSONMember] = []) throws(FlowError) {
        let missing = flow.definition.inputs.filter { inputs[key: $0] == nil }
        guard missing.isEmpty else { throw .notFound("the flow's inputs \(missing.joined(separator: ", ")) were not given") }
        self.flow = flow
        current = flow.initial
        variables = flow.definition.variables
        for input in inputs { variables.set(input.key, input.value) }
        var missingNames: [String] = []
        pendingActions = enter(flow.initial, missing: &missingNames)
        if flow.definition.states[current].isTerminal { ended = .terminal }
    }

    public var state: FlowState { flow.definition.states[current] }

    /// The current state's prompt, rendered, and the placeholders that had no value.
    public var prompt: (text: String, missing: [String]) {
        flow.states[current].prompt.render(lookup)
    }

    // MARK: stepping

    /// Takes one event (a JSON object, see above). A malformed event, a step after the run ended, or a
    /// clock going back is an error and changes nothing.
    public mutating func step(json: some Collection<UInt8>) throws(FlowError) -> Step {
        let event: JSONTree
        do throws(JSONError) {
            event = try JSONTree.parse(json, limits: JSONLimits(maxBytes: 1 << 20, maxDepth: 32, maxValues: 1 << 16))
        } catch {
            throw .json(error)
        }
        return try step(event)
    }

    public mutating func step(_ event: JSONTree) throws(FlowError) -> Step {
        if let ended { throw .state("the run has ended (\(ended.rawValue)); start a new run") }
        guard event.members != nil, let type = event["type"]?.string, !type.isEmpty else {
            throw .shape("an event is an object with a \"type\" string, e.g. {\"type\":\"dtmf\",\"digit\":\"1\"}")
        }
        var at: Int64?
        if let clock = event["at_ms"], clock != .null {
            guard let value = clock.integer, value >= 0 else {
                throw .shape("at_ms must be a non-negative integer, found \(clock.kindName)")
            }
            if let now, value < now { throw .state("the clock went back: at_ms \(value) after \(now)") }
            at = value
        }
        var verdict: Int64?
        if type == "judged" {
            let named = event["edge_id"] ?? .null
            guard named == .null || named.integer != nil else {
                throw .shape("a judged event's edge_id is an integer or null, found \(named.kindName)")
            }
            verdict = named.integer
            if let verdict, flow.edgeIndex[verdict] == nil { throw .notFound("judged edge \(verdict) is not an edge of the flow") }
        }

        // Accepted: from here on the step cannot fail.
        if let at {
            now = at
            if enteredAt == nil { enteredAt = at }
        }
        eventTime = at
        steps &+= 1
        let isTurn = type == "user" || type == "dtmf"
        if isTurn { turns &+= 1 }
        var result = Step(step: steps, eventType: type, stateID: state.id, stateName: state.name)
        switch type {
        case "interrupted":
            result.interruptedActions = pendingActions
            pendingActions = []
        case "actions_done":
            pendingActions = []
        default: break
        }
        // A barge-in or an acknowledgement never moves the run: that is what makes transitions safe
        // to interrupt.
        if type == "interrupted" || type == "actions_done" { return finish(result) }

        let compiled = flow.states[current]
        let stale = type == "judged" && event["state_id"]?.integer.map { $0 != state.id } == true
        let scope = RunScope(event: event, run: self)
        let isDecision = isTurn || type == "judged"

        if let timeout = state.timeoutMs, let now, let enteredAt, now &- enteredAt >= timeout, let fallback = compiled.fallback {
            take(edge: nil, to: fallback, reason: .timeout, event: event, into: &result)
        } else if stale {
            result.ignoredVerdict = true
        } else if let (edge, reason) = firstMatch(compiled, type: type, verdict: verdict, scope: scope) {
            takeEdge(edge, reason: reason, event: event, into: &result)
        } else if verdict != nil {
            result.ignoredVerdict = true
        } else if isTurn, let limit = state.maxTurns, turns >= limit, let fallback = compiled.fallback {
            take(edge: nil, to: fallback, reason: .turnLimit, event: event, into: &result)
        } else if isDecision, let edge = defaults(compiled).first(where: { defaultApplies($0, scope) }) {
            takeEdge(edge, reason: .default, event: event, into: &result)
        }
        return finish(result)
    }

    private func finish(_ result: Step) -> Step {
        var result = result
        result.stateID = state.id
        result.stateName = state.name
        result.ended = ended
        return result
    }

    /// The first edge that matches: own edges, then global ones, each in order. A verdict may also name
    /// a default edge (its condition, if any, must hold).
    private func firstMatch(_ compiled: CompiledState, type: String, verdict: Int64?, scope: RunScope) -> (Int, Step.Transition.Reason)? {
        for group in [compiled.edges, flow.globalEdges] {
            for index in group {
                let edge = flow.edges[index]
                guard target(of: index) != nil else { continue }
                if edge.needsJudgement {
                    guard type == "judged", verdict == edge.id else { continue }
                    if let condition = edge.condition, !condition.holds(in: scope) { continue }
                    return (index, .judged)
                }
                if let condition = edge.condition, condition.holds(in: scope) { return (index, .condition) }
            }
        }
        if let verdict, let named = defaults(compiled).first(where: { flow.edges[$0].id == verdict }), defaultApplies(named, scope) {
            return (named, .judged)
        }
        return nil
    }

    /// The state's default edge, then the global default.
    private func defaults(_ compiled: CompiledState) -> [Int] {
        [compiled.defaultEdge, flow.globalDefault].compactMap { $0 }
    }

    /// A default edge can be taken: it leads somewhere now and its condition, if any, holds.
    private func defaultApplies(_ index: Int, _ scope: RunScope) -> Bool {
        target(of: index) != nil && flow.edges[index].condition.map { $0.holds(in: scope) } != false
    }

    /// The state an edge leads to now (a returning edge: the previous state, if there is one).
    private func target(of edge: Int) -> Int? {
        flow.edges[edge].target ?? returnStack.last
    }

    private mutating func takeEdge(_ index: Int, reason: Step.Transition.Reason, event: JSONTree, into result: inout Step) {
        guard let target = target(of: index) else { return }
        guard transitions < flow.definition.maxTransitions else { return endAtLimit(&result) }
        let scope = RunScope(event: event, run: self)
        let values = flow.edges[index].assignments.map { ($0.name, $0.value.value(in: scope)) }
        for (name, value) in values { variables.set(name, value) }
        take(edge: index, to: target, reason: reason, event: event, into: &result)
    }

    private mutating func take(edge: Int?, to target: Int, reason: Step.Transition.Reason, event: JSONTree, into result: inout Step) {
        guard transitions < flow.definition.maxTransitions else { return endAtLimit(&result) }
        let from = current
        let fromID = state.id
        var missing: [String] = []
        result.actions += perform(flow.states[from].onExit, phase: .exit, stateID: fromID, missing: &missing)
        result.cancelledActions = pendingActions
        let definition = edge.map { flow.definition.edges[$0] }
        let returned = definition?.returnsToPrevious ?? false
        if returned {
            returnStack.removeLast()
        } else {
            returnStack.append(from)
            if returnStack.count > FlowRun.maxReturnDepth { returnStack.removeFirst() }
        }
        transitions &+= 1
        previous = from
        let entry = enter(target, missing: &missing)
        result.actions += entry
        pendingActions = entry
        let transition = Step.Transition(
            edgeID: definition?.id, from: fromID, to: state.id, reason: reason, isGlobal: definition?.isGlobal ?? false, returned: returned)
        result.transition = transition
        history.append(HistoryEntry(step: steps, atMs: now, eventType: result.eventType, transition: transition))
        let rendered = prompt
        result.prompt = rendered.text
        for name in rendered.missing where !missing.contains(name) { missing.append(name) }
        result.missingVariables = missing
        if state.isTerminal { ended = .terminal }
    }

    /// The run needs one transition more than `max_transitions` allows: it ends where it is, nothing of
    /// the transition done.
    private mutating func endAtLimit(_ result: inout Step) {
        ended = .transitionLimit
        result.cancelledActions = pendingActions
        pendingActions = []
    }

    /// Moves into `target` and performs its entry actions. Its turn count and clock restart only when the
    /// state changes: a state that loops to itself ("ask again") still reaches its turn limit and timeout.
    private mutating func enter(_ target: Int, missing: inout [String]) -> [Step.Action] {
        if target != current || steps == 0 {
            turns = 0
            enteredAt = eventTime
        }
        current = target
        return perform(flow.states[target].onEntry, phase: .entry, stateID: state.id, missing: &missing)
    }

    /// Performs `set` actions and returns the others rendered, for the host.
    private mutating func perform(_ actions: [CompiledAction], phase: Step.Action.Phase, stateID: Int64, missing: inout [String]) -> [Step.Action] {
        var handed: [Step.Action] = []
        for action in actions {
            let rendered = action.value.render(lookup, missing: &missing)
            if action.type == "set", let name = rendered["name"]?.string {
                variables.set(name, rendered["value"] ?? .null)
            } else {
                handed.append(Step.Action(phase: phase, stateID: stateID, action: rendered))
            }
        }
        return handed
    }

    /// A variable as templates and conditions see it: the current state's own variables first, then the
    /// run's; dotted names reach into objects.
    static func variable(_ path: [String], own: [JSONMember], run: [JSONMember]) -> JSONTree? {
        guard let first = path.first, let root = own[key: first] ?? run[key: first] else { return nil }
        return root[path: path.dropFirst()]
    }

    /// `variable` as a closure for templates; it holds the two variable lists, not the whole run.
    private var lookup: ([String]) -> JSONTree? {
        let own = state.variables, run = variables
        return { FlowRun.variable($0, own: own, run: run) }
    }
}

/// The run as conditions see it during one step: values, not the run itself (holding the run would
/// make every change during the step copy its history).
struct RunScope: ExpressionScope {
    let event: JSONTree
    let variables: [JSONMember]
    let stateVariables: [JSONMember]
    let turns: Int64, steps: Int64, transitions: Int64, state: Int64
    let previous: Int64?
    let elapsed: Int64

    init(event: JSONTree, run: FlowRun) {
        self.event = event
        variables = run.variables
        stateVariables = run.state.variables
        turns = run.turns
        steps = run.steps
        transitions = run.transitions
        state = run.state.id
        previous = run.previous.map { run.flow.definition.states[$0].id }
        if let now = run.now, let entered = run.enteredAt { elapsed = now &- entered } else { elapsed = 0 }
    }

    func variable(_ path: [String]) -> JSONTree? {
        FlowRun.variable(path, own: stateVariables, run: variables)
    }

    func number(_ root: RunName.Root) -> JSONTree {
        switch root {
        case .turns: .integer(turns)
        case .steps: .integer(steps)
        case .transitions: .integer(transitions)
        case .state: .integer(state)
        case .previous: previous.map(JSONTree.integer) ?? .null
        case .elapsedMs: .integer(elapsed)
        case .event, .vars: .null
        }
    }
}
