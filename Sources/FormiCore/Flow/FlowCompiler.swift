// Validation of a flow, all problems at once, and compilation of a flow that has no errors.
//
// Errors (the flow cannot load): not exactly one initial state; duplicate state, edge or template ids;
// an edge whose ends do not exist (the seed's own example); an edge without a source that is not global,
// or a global edge with one; an edge without a target that does not return to the previous state, or a
// returning edge with one; a terminal state with outgoing edges; two default edges in one state (or two
// global defaults); a condition or assignment that does not parse or type-check; a fallback to a missing
// state; a turn limit or timeout with no fallback; a prompt or action that is not a valid template; a
// placeholder with no default that nothing provides (the flow's variables or inputs, the state's
// variables, a `set` action, an edge's `assign`).
// Warnings: a state the initial one cannot reach; a dead end (a non-terminal state with no way out); an
// edge that can never be taken (no condition, no prompt, not default); a template id not in `templates`.

struct FlowCompiler {
    private(set) var problems: [FlowProblem] = []
    private(set) var compiled: CompiledFlow?
    private let flow: FlowDefinition
    /// Each state id's own (non-global) edges, by index, and each edge id's first index: built once, so
    /// that compiling stays linear in the size of the flow.
    private let outgoing: [Int64: [Int]]
    private let edgeIndex: [Int64: Int]

    init(_ flow: FlowDefinition) {
        self.flow = flow
        var outgoing: [Int64: [Int]] = [:]
        var edgeIndex: [Int64: Int] = [:]
        for (i, edge) in flow.edges.enumerated() {
            if !edge.isGlobal, let from = edge.from { outgoing[from, default: []].append(i) }
            if edgeIndex[edge.id] == nil { edgeIndex[edge.id] = i }
        }
        self.outgoing = outgoing
        self.edgeIndex = edgeIndex
        compile()
    }

    private mutating func error(_ code: String, _ message: String, states: [Int64] = [], edges: [Int64] = []) {
        problems.append(FlowProblem(.error, code, message, states: states, edges: edges))
    }

    private mutating func warning(_ code: String, _ message: String, states: [Int64] = [], edges: [Int64] = []) {
        problems.append(FlowProblem(.warning, code, message, states: states, edges: edges))
    }

    private mutating func compile() {
        let stateIndex = uniqueIndex(flow.states.map(\.id), code: "duplicate_state_id", what: "state")
        _ = uniqueIndex(flow.edges.map(\.id), code: "duplicate_edge_id", what: "edge")
        checkTemplates()

        let initials = flow.states.filter(\.isInitial).map(\.id)
        if initials.isEmpty {
            error("no_initial_state", "no state is marked \"initial\": true", states: flow.states.map(\.id))
        } else if initials.count > 1 {
            error("several_initial_states", "states \(list(initials)) are all marked initial; exactly one may be", states: initials)
        }

        let flowFallback = resolveFallback(flow.fallback, field: "the flow's fallback_state", state: nil, in: stateIndex)
        let edges = flow.edges.map { compileEdge($0, stateIndex: stateIndex) }
        let provided = providedNames()

        var states: [CompiledState] = []
        for state in flow.states {
            states.append(compileState(state, stateIndex: stateIndex, flowFallback: flowFallback, provided: provided))
        }
        let globals = orderedEdges { $0.isGlobal }
        let globalDefaults = flow.edges.filter { $0.isGlobal && $0.isDefault }.map(\.id)
        if globalDefaults.count > 1 {
            error("several_default_edges", "global edges \(list(globalDefaults)) are all default; at most one may be", edges: globalDefaults)
        }
        checkReachability(states: states, edges: edges, stateIndex: stateIndex)

        guard !problems.contains(where: { $0.severity == .error }), initials.count == 1,
              let initial = initials.first.flatMap({ stateIndex[$0] }), edges.allSatisfy({ $0 != nil }) else { return }
        compiled = CompiledFlow(
            definition: flow, warnings: problems, states: states, edges: edges.compactMap { $0 }, initial: initial,
            globalEdges: globals, globalDefault: globalDefaults.first.flatMap { edgeIndex[$0] })
    }

    // MARK: ids

    /// id -> index, reporting each repeated id once.
    private mutating func uniqueIndex(_ ids: [Int64], code: String, what: String) -> [Int64: Int] {
        var index: [Int64: Int] = [:]
        var counts: [Int64: Int] = [:]
        for id in ids { counts[id, default: 0] += 1 }
        var reported: Set<Int64> = []
        for (i, id) in ids.enumerated() {
            if index[id] == nil {
                index[id] = i
            } else if reported.insert(id).inserted {
                let count = counts[id] ?? 2
                if what == "state" {
                    error(code, "\(count) states have state_id \(id)", states: [id])
                } else {
                    error(code, "\(count) edges have edge_id \(id)", edges: [id])
                }
            }
        }
        return index
    }

    private mutating func checkTemplates() {
        var seen: [JSONTree] = []
        for template in flow.templates {
            if seen.contains(template.id) {
                error("duplicate_template_id", "two templates have template_id \(template.id.jsonText)")
            }
            seen.append(template.id)
            do throws(TemplateSyntaxError) {
                _ = try PromptTemplate(template.content)
            } catch {
                self.error("invalid_template", "template \(template.id.jsonText): \(error.description)")
            }
        }
        guard !flow.templates.isEmpty else { return }
        for state in flow.states where state.templateID != .null && !seen.contains(state.templateID) {
            warning("unknown_template", "state \(state.id) names template_id \(state.templateID.jsonText), which is not among the flow's templates",
                    states: [state.id])
        }
    }

    private mutating func resolveFallback(_ id: Int64?, field: String, state: Int64?, in stateIndex: [Int64: Int]) -> Int? {
        guard let id else { return nil }
        guard let index = stateIndex[id] else {
            error("fallback_to_missing_state", "\(field) is \(id), which is not a state", states: state.map { [$0] } ?? [])
            return nil
        }
        return index
    }

    // MARK: edges

    /// Edge indices among `candidates` chosen by `include`, non-default, in the order they are tried.
    private func orderedEdges(_ candidates: [Int]? = nil, _ include: (FlowEdge) -> Bool) -> [Int] {
        (candidates ?? Array(flow.edges.indices)).filter { include(flow.edges[$0]) && !flow.edges[$0].isDefault }.sorted {
            let a = flow.edges[$0], b = flow.edges[$1]
            return (a.priority, a.id) < (b.priority, b.id)
        }
    }

    private mutating func compileEdge(_ edge: FlowEdge, stateIndex: [Int64: Int]) -> CompiledEdge? {
        var ok = true
        if edge.isGlobal {
            if let from = edge.from {
                error("global_edge_with_source", "edge \(edge.id) is global but has from_node \(from)", states: [from], edges: [edge.id])
                ok = false
            }
        } else if let from = edge.from {
            if stateIndex[from] == nil {
                error("edge_from_missing_state", "edge \(edge.id) leaves state \(from), which does not exist", states: [from], edges: [edge.id])
                ok = false
            }
        } else {
            error("edge_without_source", "edge \(edge.id) has no from_node and is not global", edges: [edge.id])
            ok = false
        }
        var target: Int?
        if edge.returnsToPrevious {
            if let to = edge.to {
                error("return_edge_with_target", "edge \(edge.id) returns to the previous state but also names to_node \(to)", states: [to], edges: [edge.id])
                ok = false
            }
        } else if let to = edge.to {
            target = stateIndex[to]
            if target == nil {
                error("edge_to_missing_state", "edge \(edge.id) leads to state \(to), which does not exist", states: [to], edges: [edge.id])
                ok = false
            }
        } else {
            error("edge_without_target", "edge \(edge.id) has no to_node and does not return to the previous state", edges: [edge.id])
            ok = false
        }

        var condition: Expression?
        if let text = edge.condition {
            do throws(ExpressionError) {
                condition = try Expression.condition(text)
            } catch {
                self.error("invalid_condition", "edge \(edge.id) condition: \(error.description)", edges: [edge.id])
                ok = false
            }
        }
        var assignments: [(name: String, value: Expression)] = []
        for (name, text) in edge.assign {
            if !PromptTemplate.isName(Array(name.utf8)) || name.contains(".") {
                error("invalid_assignment", "edge \(edge.id) assigns to '\(name)', which is not a variable name", edges: [edge.id])
                ok = false
            }
            do throws(ExpressionError) {
                assignments.append((name, try Expression.value(text)))
            } catch {
                self.error("invalid_assignment", "edge \(edge.id) assign.\(name): \(error.description)", edges: [edge.id])
                ok = false
            }
        }
        let judged = edge.prompt.map { !$0.isEmpty } ?? false
        if condition == nil && !judged && !edge.isDefault {
            warning("edge_never_taken", "edge \(edge.id) has no condition, no prompt and is not default: it is never taken", edges: [edge.id])
        }
        guard ok else { return nil }
        return CompiledEdge(id: edge.id, target: target, condition: condition, needsJudgement: judged, assignments: assignments)
    }

    // MARK: states

    private mutating func compileState(_ state: FlowState, stateIndex: [Int64: Int], flowFallback: Int?, provided: Set<String>) -> CompiledState {
        let ownIndices = outgoing[state.id] ?? []
        let own = ownIndices.map { flow.edges[$0] }
        if state.isTerminal && !own.isEmpty {
            error("terminal_state_with_edges", "state \(state.id) is terminal but edges \(list(own.map(\.id))) leave it",
                  states: [state.id], edges: own.map(\.id))
        }
        let defaults = own.filter(\.isDefault).map(\.id)
        if defaults.count > 1 {
            error("several_default_edges", "state \(state.id) has default edges \(list(defaults)); at most one may be", states: [state.id], edges: defaults)
        }
        var fallback = resolveFallback(state.fallback, field: "state \(state.id)'s fallback_state", state: state.id, in: stateIndex)
        if state.fallback == nil { fallback = flowFallback }
        if (state.maxTurns != nil || state.timeoutMs != nil) && fallback == nil && state.fallback == nil {
            error("limit_without_fallback", "state \(state.id) has a turn limit or timeout but neither it nor the flow names a fallback_state",
                  states: [state.id])
        }

        var prompt = PromptTemplate.empty
        do throws(TemplateSyntaxError) {
            prompt = try PromptTemplate(state.prompt)
        } catch {
            self.error("invalid_template", "state \(state.id) state_prompt: \(error.description)", states: [state.id])
        }
        let onEntry = compileActions(state.onEntry, "on_entry", state: state.id)
        let onExit = compileActions(state.onExit, "on_exit", state: state.id)

        var needed = prompt.requiredNames
        for action in onEntry + onExit { needed += action.value.requiredNames }
        let stateVariables = Set(state.variables.map(\.key))
        var missing: [String] = []
        for name in needed {
            let root = String(name.split(separator: ".", maxSplits: 1).first ?? "")
            if !provided.contains(root) && !stateVariables.contains(root) && !missing.contains(name) { missing.append(name) }
        }
        if !missing.isEmpty {
            error("missing_template_variable",
                  "state \(state.id) needs \(missing.map { "{{\($0)}}" }.joined(separator: ", ")), which no variable, input, set action or assign provides",
                  states: [state.id])
        }
        return CompiledState(
            prompt: prompt, edges: orderedEdges(ownIndices) { _ in true },
            defaultEdge: ownIndices.first { flow.edges[$0].isDefault },
            fallback: fallback, onEntry: onEntry, onExit: onExit)
    }

    private mutating func compileActions(_ actions: [FlowAction], _ field: String, state: Int64) -> [CompiledAction] {
        var compiled: [CompiledAction] = []
        for (i, action) in actions.enumerated() {
            do throws(TemplateSyntaxError) {
                compiled.append(CompiledAction(type: action.type, value: try CompiledValue(.object(action.object))))
            } catch {
                self.error("invalid_template", "state \(state).\(field)[\(i)]: \(error.description)", states: [state])
            }
        }
        return compiled
    }

    /// Variables a run can hold whatever its path: the flow's defaults and inputs, and every name a `set`
    /// action or an `assign` writes (a template is checked against these plus its state's own variables).
    private func providedNames() -> Set<String> {
        var names = Set(flow.variables.map(\.key))
        names.formUnion(flow.inputs)
        for state in flow.states {
            for action in state.onEntry + state.onExit where action.type == "set" {
                if let name = action.object[key: "name"]?.string { names.insert(name) }
            }
        }
        for edge in flow.edges { names.formUnion(edge.assign.map(\.name)) }
        return names
    }

    // MARK: reachability and ways out

    private mutating func checkReachability(states: [CompiledState], edges: [CompiledEdge?], stateIndex: [Int64: Int]) {
        guard let initial = flow.states.firstIndex(where: \.isInitial) else { return }
        let globalTargets = flow.edges.indices.filter { flow.edges[$0].isGlobal }.compactMap { edges[$0]?.target }
        var reached = Array(repeating: false, count: flow.states.count)
        var queue = [initial]
        reached[initial] = true
        var globalsFollowed = false
        while let current = queue.popLast() {
            let state = flow.states[current]
            var next: [Int] = []
            for i in outgoing[state.id] ?? [] {
                if let target = edges[i]?.target { next.append(target) }
            }
            if !state.isTerminal {
                if !globalsFollowed {  // global edges lead to the same states from anywhere: follow them once
                    next += globalTargets
                    globalsFollowed = true
                }
                if state.maxTurns != nil || state.timeoutMs != nil, let fallback = states[current].fallback { next.append(fallback) }
            }
            for target in next where !reached[target] {
                reached[target] = true
                queue.append(target)
            }
        }
        let unreachable = flow.states.indices.filter { !reached[$0] }.map { flow.states[$0].id }
        for id in unreachable {
            warning("unreachable_state", "state \(id) cannot be reached from the initial state \(flow.states[initial].id)", states: [id])
        }
        let hasGlobal = flow.edges.indices.contains { flow.edges[$0].isGlobal && edges[$0] != nil }
        for (i, state) in flow.states.enumerated() where !state.isTerminal {
            let leaves = !(outgoing[state.id] ?? []).isEmpty
            let limited = (state.maxTurns != nil || state.timeoutMs != nil) && states[i].fallback != nil
            if !leaves && !hasGlobal && !limited {
                warning("dead_end", "state \(state.id) is not terminal but no edge, global edge or fallback leaves it", states: [state.id])
            }
        }
    }

    private func list(_ ids: [Int64]) -> String {
        ids.map(String.init).joined(separator: ", ")
    }
}

extension PromptTemplate {
    /// A template with no text.
    static let empty = PromptTemplate(parts: [])

    init(parts: [Part]) { self.parts = parts }
}

extension FlowDefinition {
    /// Every problem of the flow (errors and warnings).
    public func validate() -> [FlowProblem] {
        FlowCompiler(self).problems
    }
}
