@testable import FormiCore
import Testing

/// The sample flow of the tests (tests/flows/booking.json): a restaurant's table booking line.
func sampleFlowJSON() -> [UInt8] {
    readFile(projectRoot + "/tests/flows/booking.json") ?? []
}

func sampleFlow() throws -> CompiledFlow {
    try CompiledFlow.compile(json: sampleFlowJSON())
}

/// The problems of a flow given as JSON text.
func problems(_ json: String) -> [FlowProblem] {
    do {
        return try FlowDefinition(json: Array(json.utf8)).validate()
    } catch let error as FlowError {
        if case .invalid(let list) = error { return list }
        return [FlowProblem(.error, "unexpected", error.message)]
    } catch {
        return []
    }
}

@Suite("Flow model, validation, edits and DOT")
struct FlowTests {
    @Test("the sample flow loads without problems and round-trips through JSON")
    func sample() throws {
        let flow = try sampleFlow()
        #expect(flow.warnings.isEmpty, "\(flow.warnings)")
        #expect(flow.definition.states.count == 7 && flow.definition.edges.count == 11)
        let written = flow.definition.jsonBytes
        let reread = try FlowDefinition(json: written)
        #expect(reread == flow.definition)
        #expect(reread.jsonBytes == written)
        // Unknown fields ("name" of the flow) are kept.
        #expect(reread.extra[key: "name"] == .string("table booking"))
        // Numbers beyond a double's range are kept as written (found by the flow fuzz target).
        #expect(tree(#"{"x":[1e400,-2.5,3,-0]}"#).jsonText == #"{"x":[1e400,-2.5,3,0]}"#)
        // Global edges: the global return edge has no from_node at all in the file.
        #expect(reread.edges.first { $0.id == 11 }?.from == nil)
    }

    @Test("the seed's own example, an edge to a state that does not exist, is reported")
    func seedExample() {
        let found = problems(#"""
        {"states": [
           {"state_id": 1, "name": "Greeting", "template_id": 3, "state_prompt": "Greet the user.", "variables": {"tone": "friendly"}, "initial": true},
           {"state_id": 2, "name": "Goodbye", "template_id": 4, "state_prompt": "Say goodbye.", "variables": {}, "terminal": true}],
         "edges": [
           {"edge_id": 1, "from_node": 1, "to_node": 5, "prompt": "If the user says goodbye, transition.", "transition_metadata": {}}]}
        """#)
        let missing = found.first { $0.code == "edge_to_missing_state" }
        #expect(missing?.severity == .error)
        #expect(missing?.edgeIDs == [1] && missing?.stateIDs == [5])
        #expect(missing?.message == "edge 1 leads to state 5, which does not exist")
        // State 2 is then unreachable: a warning, reported in the same pass.
        #expect(found.contains { $0.code == "unreachable_state" && $0.stateIDs == [2] && $0.severity == .warning })
    }

    @Test("every rule is checked in one pass, each problem with its ids")
    func everyRule() {
        let found = problems(#"""
        {"states": [
           {"state_id": 1, "name": "a", "initial": true, "state_prompt": "Hi {{who}}"},
           {"state_id": 2, "name": "b", "initial": true, "max_turns": 2},
           {"state_id": 2, "name": "b again"},
           {"state_id": 3, "name": "end", "terminal": true, "fallback_state": 42},
           {"state_id": 4, "name": "island", "state_prompt": "{{unclosed"},
           {"state_id": 5, "name": "stuck"}],
         "edges": [
           {"edge_id": 1, "from_node": 1, "to_node": 3, "condition": "turns == \"x\""},
           {"edge_id": 1, "from_node": 1, "to_node": 2, "default": true},
           {"edge_id": 2, "from_node": 1, "to_node": 3, "default": true},
           {"edge_id": 3, "from_node": 3, "to_node": 1, "condition": "true"},
           {"edge_id": 4, "from_node": 9, "to_node": 1, "condition": "true"},
           {"edge_id": 5, "from_node": 1, "to_node": 5},
           {"edge_id": 6, "to_node": 1, "condition": "true"},
           {"edge_id": 7, "from_node": 1, "global": true, "to_node": 2, "condition": "true"},
           {"edge_id": 8, "from_node": 1, "return_to_previous": true, "to_node": 2, "condition": "true"},
           {"edge_id": 9, "from_node": 1, "condition": "true"},
           {"edge_id": 10, "from_node": 2, "to_node": 1, "condition": "true", "assign": {"a.b": "1", "ok": "turns +"}}]}
        """#)
        func has(_ code: String, states: [Int64]? = nil, edges: [Int64]? = nil, _ severity: FlowProblem.Severity = .error) -> Bool {
            found.contains { p in
                p.code == code && p.severity == severity && (states == nil || p.stateIDs == states!) && (edges == nil || p.edgeIDs == edges!)
            }
        }
        #expect(has("several_initial_states", states: [1, 2]))
        #expect(has("duplicate_state_id", states: [2]))
        #expect(has("duplicate_edge_id", edges: [1]))
        #expect(has("invalid_condition", edges: [1]))
        #expect(found.first { $0.code == "invalid_condition" }?.message == "edge 1 condition: == compares a number with a string: never equal (column 7)")
        #expect(has("several_default_edges", states: [1], edges: [1, 2]))
        #expect(has("terminal_state_with_edges", states: [3], edges: [3]))
        #expect(has("edge_from_missing_state", states: [9], edges: [4]))
        #expect(has("edge_never_taken", edges: [5], .warning))
        #expect(has("edge_without_source", edges: [6]))
        #expect(has("global_edge_with_source", states: [1], edges: [7]))
        #expect(has("return_edge_with_target", states: [2], edges: [8]))
        #expect(has("edge_without_target", edges: [9]))
        #expect(has("invalid_assignment", edges: [10]))
        #expect(found.filter { $0.code == "invalid_assignment" }.count == 2)
        #expect(has("fallback_to_missing_state", states: [3]))
        #expect(has("limit_without_fallback", states: [2]))
        #expect(has("invalid_template", states: [4]))
        #expect(has("missing_template_variable", states: [1]))
        #expect(has("unreachable_state", states: [4], .warning))
        #expect(has("dead_end", states: [5], .warning))
        let report = String(decoding: FlowProblem.report(found), as: UTF8.self)
        #expect(report.hasPrefix(#"{"valid":false,"errors":[{"code":"#))
    }

    @Test("shape problems are all reported, each naming its field", arguments: [
        (#"{"states": 3}"#, ["states: expected an array, found a number"]),
        (#"[]"#, [#"(flow): expected an object with "states" and "edges", found an array"#]),
        (#"{"states": [{"name": "x"}, {"state_id": "1"}, {"state_id": 2, "initial": "yes", "max_turns": 0}]}"#,
         ["states[0].state_id: missing", "states[1].state_id: expected an integer, found a string",
          "state 2.initial: expected true or false, found a string", "state 2.max_turns: must be positive, found 0"]),
        (#"{"states": [], "edges": [{"edge_id": 1, "from_node": "a", "assign": {"x": 1}}], "max_transitions": 0}"#,
         ["edge 1.from_node: expected an integer, found a string", "edge 1.assign.x: expected a string, found a number",
          "max_transitions: must be at least 1, found 0"]),
        (#"{"states": [{"state_id": 1, "on_entry": [{"text": "hi"}, {"type": "set", "value": 1}]}]}"#,
         [#"state 1.on_entry[0]: expected an action object with a "type" string"#,
          "state 1.on_entry[1].name: a set action needs the variable's name as a string"]),
    ])
    func shapes(_ json: String, _ messages: [String]) {
        let found = problems(json)
        #expect(found.map(\.message) == messages)
        #expect(found.allSatisfy { $0.code == "invalid_field" })
    }

    @Test("malformed JSON is a JSON error")
    func malformed() {
        #expect(throws: FlowError.self) { try FlowDefinition(json: Array(#"{"states": [}"#.utf8)) }
        do {
            _ = try FlowDefinition(json: Array("{\"states\": [".utf8))
        } catch {
            guard case .json = error else { Issue.record("\(error)"); return }
        }
    }

    @Test("edits: create from a template, update, delete with its edges, merge a draft, all or nothing")
    func edits() throws {
        var flow = try sampleFlow().definition
        let created = try flow.apply(edit: Array(#"{"op":"create_state_from_template","template_id":101,"variables":{"slot":"date"},"max_turns":3}"#.utf8))
        #expect(created == [JSONMember(key: "state_id", value: .integer(8))])
        let state = try #require(flow.states.last)
        #expect(state.name == "collect" && state.templateID == .integer(101) && state.maxTurns == 3)
        #expect(state.prompt.hasPrefix("Ask for the {{slot}}"))
        #expect(state.variables == [JSONMember(key: "slot", value: .string("date"))])

        _ = try flow.apply(edit: Array(#"{"op":"create_edge","from_node":2,"to_node":8,"condition":"event.type == \"user\"","priority":9}"#.utf8))
        #expect(flow.edges.last?.id == 12)
        _ = try flow.apply(edit: Array(#"{"op":"update_state","state_id":8,"name":"date"}"#.utf8))
        #expect(flow.states.last?.name == "date" && flow.states.last?.maxTurns == 3)
        _ = try flow.apply(edit: Array(#"{"op":"update_edge","edge_id":12,"priority":0}"#.utf8))
        #expect(flow.edges.last?.priority == 0 && flow.edges.last?.condition == #"event.type == "user""#)

        // Refused edits leave the flow exactly as it was.
        let before = flow
        #expect(throws: FlowError.self) { try flow.apply(edit: Array(#"{"op":"create_edge","from_node":2,"to_node":99,"condition":"true"}"#.utf8)) }
        #expect(throws: FlowError.self) { try flow.apply(edit: Array(#"{"op":"update_edge","edge_id":12,"condition":"turns == \"1\""}"#.utf8)) }
        #expect(throws: FlowError.self) { try flow.apply(edit: Array(#"{"op":"delete_state","state_id":1}"#.utf8)) }  // the initial state
        #expect(throws: FlowError.self) { try flow.apply(edit: Array(#"{"op":"delete_edge","edge_id":77}"#.utf8)) }
        #expect(throws: FlowError.self) { try flow.apply(edit: Array(#"{"op":"rename"}"#.utf8)) }
        #expect(throws: FlowError.self) { try flow.apply(edit: Array(#"{"op":"create_state_from_template","template_id":5}"#.utf8)) }
        #expect(flow == before)

        let deleted = try flow.apply(edit: Array(#"{"op":"delete_state","state_id":8}"#.utf8))
        #expect(deleted[key: "deleted_edge_ids"] == .array([.integer(12)]))
        #expect(flow.edgeIndex(12) == nil)

        // A draft: delete edge 9 and state 3 (edges 3, 4, 5 go with it), replace state 6, add state 9 and an edge to it.
        let merged = try flow.apply(edit: Array(#"""
        {"op": "merge", "delete_state_ids": [3], "delete_edge_ids": [9, 4],
         "states": [{"state_id": 6, "name": "farewell", "terminal": true, "state_prompt": "Bye."},
                    {"state_id": 9, "name": "waitlist", "terminal": true, "state_prompt": "Offer the waitlist."}],
         "edges": [{"edge_id": 20, "from_node": 4, "to_node": 9, "condition": "event.type == \"user\" && event.text contains \"wait\""}]}
        """#.utf8))
        #expect(merged[key: "deleted_edge_ids"] == .array([.integer(3), .integer(4), .integer(5), .integer(9)]))
        #expect(flow.states.map(\.id) == [1, 2, 4, 5, 6, 7, 9])
        #expect(flow.states.first { $0.id == 6 }?.name == "farewell")
        #expect(flow.edges.map(\.id) == [1, 2, 6, 7, 8, 10, 11, 20])
        #expect(flow.validate().filter { $0.severity == .error }.isEmpty)
    }

    @Test("DOT shows states, edges, globals, returns, defaults and fallbacks")
    func dot() throws {
        let dot = try sampleFlow().definition.dot
        #expect(dot.hasPrefix("digraph flow {"))
        #expect(dot.contains(#"s1 [label="1: greeting", penwidth=2.5];"#))
        #expect(dot.contains(#"s5 [label="5: booked", peripheries=2];"#))
        #expect(dot.contains(##"s1 -> s2 [label="#2 p1\nevent.type == \"dtmf\" && event.digit == \"1\""];"##))
        #expect(dot.contains(##"s3 -> s6 [label="#5\n(default)", style=dashed];"##))
        #expect(dot.contains(##"any -> s7 [label="#10 p5\n“If the caller asks for a human, transition.”"];"##))
        #expect(dot.contains("any -> previous"))
        #expect(dot.contains(#"s1 -> s7 [label="3 turns / 20000 ms", style=dotted];"#))
        #expect(dot.hasSuffix("}\n"))
    }
}
