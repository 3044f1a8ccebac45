// Fuzz targets of agent flows: the flow loader, the condition and template parsers, and runs.

import FormiCore

/// Any bytes as a flow. Problems are reported, never trapped on; a flow that loads writes JSON that
/// reads back to the same flow, draws as DOT, and runs a few events.
func fuzzFlow(_ data: UnsafeRawBufferPointer) {
    let definition: FlowDefinition
    do throws(FlowError) {
        definition = try FlowDefinition(json: data)
    } catch {
        if case .invalid(let problems) = error, problems.isEmpty { fatalError("flow: refused without a problem") }
        FuzzSink.value &+= error.message.utf8.count
        return
    }
    let problems = definition.validate()
    guard let flow = try? CompiledFlow.compile(definition) else {
        if !problems.contains(where: { $0.severity == .error }) { fatalError("flow: no error reported but it does not compile") }
        return
    }
    guard let reread = try? FlowDefinition(json: definition.jsonBytes), reread == definition else {
        fatalError("flow: JSON round trip differs")
    }
    FuzzSink.value &+= definition.dot.utf8.count
    guard var run = try? FlowRun(flow: flow, inputs: definition.inputs.map { JSONMember(key: $0, value: .string("x")) }) else {
        fatalError("flow: a run with every input given did not start")
    }
    for event in [#"{"type":"user","text":"yes"}"#, #"{"type":"dtmf","digit":"1","at_ms":10}"#, #"{"type":"judged","edge_id":null}"#,
                  #"{"type":"interrupted"}"#, #"{"type":"tick","at_ms":100000000}"#] {
        if let step = try? run.step(json: Array(event.utf8)) { FuzzSink.value &+= step.json.count }
    }
}

/// Any text as a condition, a value expression and a template: parse errors are fine; what parses
/// evaluates (never failing) and renders.
func fuzzCondition(_ data: UnsafeRawBufferPointer) {
    let text = String(decoding: data, as: UTF8.self)
    let scope = FuzzScope()
    if let condition = try? Expression.condition(text) {
        FuzzSink.value &+= condition.holds(in: scope) ? 1 : 2
    }
    if let value = try? Expression.value(text) {
        FuzzSink.value &+= value.value(in: scope).jsonText.utf8.count
    }
    if let template = try? PromptTemplate(text) {
        let rendered = template.render(PromptTemplate.lookup(in: scope.vars))
        FuzzSink.value &+= rendered.text.utf8.count &+ rendered.missing.count &+ template.variables.count
    }
}

private struct FuzzScope: ExpressionScope {
    let event: JSONTree = .object([
        JSONMember(key: "type", value: .string("dtmf")), JSONMember(key: "digit", value: .string("1")),
        JSONMember(key: "n", value: .integer(3)), JSONMember(key: "x", value: .number(0.5)),
        JSONMember(key: "list", value: .array([.string("a"), .integer(1)])),
    ])
    let vars: [JSONMember] = [
        JSONMember(key: "intent", value: .string("booking")), JSONMember(key: "flag", value: .bool(true)),
        JSONMember(key: "nested", value: .object([JSONMember(key: "a", value: .null)])),
    ]

    func variable(_ path: [String]) -> JSONTree? {
        guard let first = path.first, let root = vars[key: first] else { return nil }
        return root[path: path.dropFirst()]
    }

    func number(_ root: RunName.Root) -> JSONTree { .integer(Int64(root.rawValue.utf8.count)) }
}

/// Runs of a fixed flow fed fuzzed events (one per line). A refused event changes nothing.
/// The flow is compiled for each input rather than kept in a global: LeakSanitizer cannot see pointers
/// that Swift stores with enum tag bits, so a flow held for the whole process reads as a leak.
func fuzzFlowRun(_ data: UnsafeRawBufferPointer) {
    guard var run = try? FlowRun(flow: FuzzFlow.compile()) else { fatalError("flowrun: the fixed flow does not run") }
    for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).prefix(64) {
        let before = run.stateJSON
        do throws(FlowError) {
            FuzzSink.value &+= try run.step(json: line).json.count
        } catch {
            guard run.stateJSON == before else { fatalError("flowrun: a refused event changed the run") }
        }
        FuzzSink.value &+= run.historyJSON.count
    }
}

private enum FuzzFlow {
    static func compile() -> CompiledFlow {
        let json = #"""
        {"variables": {"n": 0}, "fallback_state": 4, "max_transitions": 20,
         "states": [
           {"state_id": 1, "name": "menu", "initial": true, "state_prompt": "Menu {{n}} {{who|you}}", "max_turns": 3, "timeout_ms": 5000,
            "on_entry": [{"type": "say", "text": "hello {{who|there}}"}], "on_exit": [{"type": "set", "name": "n", "value": 1}]},
           {"state_id": 2, "name": "ask", "state_prompt": "Ask {{picked|nothing}}", "on_entry": [{"type": "say", "text": "{{picked}}"}]},
           {"state_id": 3, "name": "done", "terminal": true},
           {"state_id": 4, "name": "human", "terminal": true}],
         "edges": [
           {"edge_id": 1, "from_node": 1, "to_node": 2, "condition": "event.type == \"dtmf\" && event.digit in [\"1\",\"2\"]", "assign": {"picked": "event.digit"}},
           {"edge_id": 2, "from_node": 1, "to_node": 2, "prompt": "wants to book"},
           {"edge_id": 3, "from_node": 2, "to_node": 1, "default": true},
           {"edge_id": 4, "from_node": 2, "to_node": 3, "condition": "event.text contains \"bye\" || turns > 2"},
           {"edge_id": 5, "global": true, "return_to_previous": true, "condition": "event.digit == \"*\""},
           {"edge_id": 6, "global": true, "to_node": 4, "prompt": "wants a human", "priority": 9}]}
        """#
        guard let flow = try? CompiledFlow.compile(json: Array(json.utf8)) else { fatalError("flowrun: the fixed flow does not load") }
        return flow
    }
}
