@testable import FormiCore
import Testing

/// A run of the sample flow at outlet "Luigi's".
func bookingRun() throws -> FlowRun {
    try FlowRun(flow: try sampleFlow(), inputs: [JSONMember(key: "outlet", value: .string("Luigi's"))])
}

extension FlowRun {
    /// Steps an event given as JSON text.
    mutating func take(_ json: String) throws -> Step {
        try step(json: Array(json.utf8))
    }

    var stateText: String { String(decoding: stateJSON, as: UTF8.self) }
}

@Suite("Flow runs")
struct FlowRunTests {
    @Test("a booking end to end: DTMF before the judged prompt edge, assign, set, terminal, actions rendered")
    func booking() throws {
        var run = try bookingRun()
        #expect(run.state.id == 1)
        #expect(run.prompt.text == "You are the host of Luigi's. Greet the caller in a warm tone and offer: 1 to book, 2 for opening hours.")
        #expect(run.pendingActions.map(\.action) == [tree(#"{"type":"say","text":"Welcome to Luigi's!"}"#)])

        let menu = try run.take(#"{"type":"dtmf","digit":"1","at_ms":1000}"#)
        #expect(menu.transition?.edgeID == 2 && menu.transition?.reason == .condition)
        #expect(menu.prompt == "Ask for the number of guests of the booking. Known so far: party of unknown.")
        #expect(menu.actions.map(\.action) == [tree(#"{"type":"context","strategy":"append"}"#)])
        #expect(menu.cancelledActions.count == 1)  // the greeting was never confirmed done

        let noise = try run.take(#"{"type":"user","text":"hmm","at_ms":2000}"#)
        #expect(noise.transition == nil && run.turns == 1)

        let size = try run.take(#"{"type":"user","text":"four of us","party_size":4,"at_ms":3000}"#)
        #expect(size.transition?.edgeID == 6 && run.state.id == 4)
        #expect(run.variables[key: "party_size"] == .integer(4))
        #expect(run.variables[key: "attempts"] == .integer(1))  // the set action on entry
        #expect(size.prompt == "Read back a table for 4 and ask the caller to confirm.")

        let done = try run.take(#"{"type":"user","text":"yes, book it","at_ms":4000}"#)
        #expect(done.transition?.edgeID == 8 && done.ended == .terminal)
        #expect(done.actions.map(\.action) == [
            tree(#"{"type":"function","name":"book_table","arguments":{"party_size":"4","outlet":"Luigi's"}}"#),
            tree(#"{"type":"end_call"}"#),
        ])
        #expect(throws: FlowError.self) { try run.take(#"{"type":"user","text":"hello?"}"#) }
        #expect(run.history.map(\.transition.edgeID) == [2, 6, 8])
        #expect(String(decoding: run.historyJSON, as: UTF8.self).hasPrefix(
            #"[{"step":1,"at_ms":1000,"event":"dtmf","transition":{"edge_id":2,"from":1,"to":2,"reason":"condition","global":false,"returned":false}}"#))
    }

    @Test("judged verdicts: applied to the edge they name, ignored when stale, none applies takes the default")
    func judged() throws {
        var run = try bookingRun()
        let judged = try run.take(#"{"type":"judged","edge_id":1}"#)
        #expect(judged.transition?.edgeID == 1 && judged.transition?.reason == .judged && run.state.id == 2)

        // A verdict on edge 1 arrives late, after the run moved: ignored, reported, nothing moves.
        let stale = try run.take(#"{"type":"judged","edge_id":1}"#)
        #expect(stale.transition == nil && stale.ignoredVerdict && run.state.id == 2)

        var other = try bookingRun()
        _ = try other.take(#"{"type":"dtmf","digit":"2"}"#)  // opening hours
        #expect(other.state.id == 3)
        let wrongState = try other.take(#"{"type":"judged","edge_id":4,"state_id":1}"#)
        #expect(wrongState.ignoredVerdict && other.state.id == 3)
        let none = try other.take(#"{"type":"judged","edge_id":null}"#)
        #expect(none.transition?.edgeID == 5 && none.transition?.reason == .default && none.ended == .terminal)
        // Leaving opening hours ran its exit action, rendered.
        #expect(none.actions.first?.phase == .exit)
        #expect(none.actions.first?.action == tree(#"{"type":"function","name":"log_faq","arguments":{"topic":"hours","outlet":"Luigi's"}}"#))

        var human = try bookingRun()
        let global = try human.take(#"{"type":"judged","edge_id":10}"#)
        #expect(global.transition?.isGlobal == true && human.state.id == 7 && global.ended == .terminal)
        #expect(global.actions.last?.action == tree(#"{"type":"transfer","to":"front desk"}"#))

        var unknown = try bookingRun()
        #expect(throws: FlowError.self) { try unknown.take(#"{"type":"judged","edge_id":99}"#) }
        #expect(unknown.steps == 0)
    }

    @Test("global return edge goes back to the previous state")
    func returns() throws {
        var run = try bookingRun()
        _ = try run.take(##"{"type":"dtmf","digit":"#"}"##)
        #expect(run.state.id == 3)
        let back = try run.take(#"{"type":"dtmf","digit":"*"}"#)
        #expect(back.transition?.returned == true && back.transition?.edgeID == 11 && run.state.id == 1)
        #expect(run.returnStack.isEmpty)
        // At the initial state with no history the return edge does not apply, and nothing happens.
        let nothing = try run.take(#"{"type":"dtmf","digit":"*"}"#)
        #expect(nothing.transition == nil && run.state.id == 1)
    }

    @Test("turn limits and timeouts move to the fallback")
    func limits() throws {
        var run = try bookingRun()
        _ = try run.take(#"{"type":"dtmf","digit":"1"}"#)
        _ = try run.take(#"{"type":"user","text":"uh"}"#)
        let limit = try run.take(#"{"type":"user","text":"what?"}"#)
        #expect(limit.transition?.reason == .turnLimit && limit.transition?.edgeID == nil && run.state.id == 7)

        var slow = try bookingRun()
        _ = try slow.take(#"{"type":"tick","at_ms":5000}"#)
        let early = try slow.take(#"{"type":"tick","at_ms":24999}"#)
        #expect(early.transition == nil)
        let late = try slow.take(#"{"type":"tick","at_ms":25000}"#)
        #expect(late.transition?.reason == .timeout && slow.state.id == 7)
        #expect(throws: FlowError.self) { try slow.take(#"{"type":"tick","at_ms":1}"#) }  // ended anyway
    }

    @Test("a loop ends at max_transitions")
    func transitionLimit() throws {
        let flow = try CompiledFlow.compile(json: Array(#"""
        {"max_transitions": 5, "states": [{"state_id": 1, "name": "a", "initial": true}, {"state_id": 2, "name": "b"}],
         "edges": [{"edge_id": 1, "from_node": 1, "to_node": 2, "default": true}, {"edge_id": 2, "from_node": 2, "to_node": 1, "default": true}]}
        """#.utf8))
        var run = try FlowRun(flow: flow)
        for _ in 0..<5 { #expect(try run.take(#"{"type":"user"}"#).transition != nil) }
        let last = try run.take(#"{"type":"user"}"#)
        #expect(last.transition == nil && last.ended == .transitionLimit && run.transitions == 5)
        #expect(throws: FlowError.self) { try run.take(#"{"type":"user"}"#) }
    }

    @Test("a barge-in mid-transition leaves the run committed, with the cut actions handed back")
    func interrupted() throws {
        var run = try bookingRun()
        _ = try run.take(#"{"type":"actions_done"}"#)  // the greeting was spoken
        let moved = try run.take(#"{"type":"dtmf","digit":"1"}"#)
        #expect(moved.cancelledActions.isEmpty && run.pendingActions.count == 1)

        let cut = try run.take(#"{"type":"interrupted"}"#)
        #expect(cut.transition == nil && run.state.id == 2)
        #expect(cut.interruptedActions.map(\.action) == [tree(#"{"type":"context","strategy":"append"}"#)])
        #expect(run.pendingActions.isEmpty && run.turns == 0)  // an interruption is not a caller turn
        #expect(run.stateText.contains(#""state_id":2,"name":"party size","prompt":"Ask for the number of guests"#))

        // Interrupted again with nothing pending: nothing to hand back, still committed.
        let again = try run.take(#"{"type":"interrupted"}"#)
        #expect(again.interruptedActions.isEmpty && run.state.id == 2)
    }

    @Test("bad events are errors that change nothing")
    func badEvents() throws {
        var run = try bookingRun()
        _ = try run.take(#"{"type":"tick","at_ms":100}"#)
        let before = run.stateText
        let steps = run.steps
        for bad in [#"{"type":"#, #"{"digit":"1"}"#, #"[1]"#, #"{"type":""}"#, #"{"type":"tick","at_ms":"soon"}"#,
                    #"{"type":"tick","at_ms":-5}"#, #"{"type":"tick","at_ms":50}"#, #"{"type":"judged","edge_id":"1"}"#, ""] {
            #expect(throws: FlowError.self, "\(bad)") { try run.take(bad) }
        }
        #expect(run.stateText == before && run.steps == steps)
    }

    @Test("inputs the flow declares must be given")
    func inputs() throws {
        #expect(throws: FlowError.self) { try FlowRun(flow: try sampleFlow()) }
        let run = try bookingRun()
        #expect(run.variables[key: "outlet"] == .string("Luigi's"))
    }

    @Test("runs keep the flow they started with when the flow is edited")
    func snapshot() throws {
        let flow = try sampleFlow()
        var run = try FlowRun(flow: flow, inputs: [JSONMember(key: "outlet", value: .string("X"))])
        var edited = flow.definition
        _ = try edited.apply(edit: Array(#"{"op":"update_edge","edge_id":2,"condition":"event.digit == \"9\""}"#.utf8))
        _ = try CompiledFlow.compile(edited)
        let step = try run.take(#"{"type":"dtmf","digit":"1"}"#)
        #expect(step.transition?.edgeID == 2)
    }
}

/// A flow given as JSON text, compiled.
func compiledFlow(_ json: String) throws -> CompiledFlow {
    try CompiledFlow.compile(json: Array(json.utf8))
}

@Suite("Flow runs: edge cases found in review")
struct FlowRunEdgeTests {
    @Test("interrupted and actions_done never move the run, even past a timeout or with a matching condition")
    func controlEventsStay() throws {
        var run = try FlowRun(flow: try compiledFlow(#"""
        {"states": [{"state_id": 1, "name": "a", "initial": true, "timeout_ms": 1000, "fallback_state": 2},
                    {"state_id": 2, "name": "b", "terminal": true}],
         "edges": [{"edge_id": 1, "from_node": 1, "to_node": 2, "condition": "steps >= 2"}]}
        """#))
        _ = try run.take(#"{"type":"tick","at_ms":0}"#)
        let cut = try run.take(#"{"type":"interrupted","at_ms":5000}"#)
        #expect(cut.transition == nil && run.state.id == 1)
        #expect(try run.take(#"{"type":"actions_done"}"#).transition == nil)
        #expect(try run.take(#"{"type":"tick","at_ms":5001}"#).transition?.reason == .timeout)
    }

    @Test("a transition refused by max_transitions has no effect at all")
    func limitHasNoEffect() throws {
        var run = try FlowRun(flow: try compiledFlow(#"""
        {"max_transitions": 1, "variables": {"n": 0, "left": 0},
         "states": [{"state_id": 1, "name": "a", "initial": true, "on_exit": [{"type": "set", "name": "left", "value": 1}, {"type": "say", "text": "bye"}]}],
         "edges": [{"edge_id": 1, "from_node": 1, "to_node": 1, "condition": "event.type == \"go\"", "assign": {"n": "event.n"}}]}
        """#))
        #expect(try run.take(#"{"type":"go","n":1}"#).transition != nil)
        let refused = try run.take(#"{"type":"go","n":2}"#)
        #expect(refused.transition == nil && refused.actions.isEmpty && refused.ended == .transitionLimit)
        #expect(run.variables[key: "n"] == .integer(1))
    }

    @Test("default edges honour their condition and may be named by a verdict; an ask-again loop reaches its turn limit")
    func defaults() throws {
        let flow = try compiledFlow(#"""
        {"variables": {"ok": false},
         "states": [{"state_id": 1, "name": "ask", "initial": true, "max_turns": 3, "fallback_state": 3},
                    {"state_id": 2, "name": "next", "terminal": true}, {"state_id": 3, "name": "human", "terminal": true}],
         "edges": [{"edge_id": 1, "from_node": 1, "to_node": 1, "default": true, "condition": "vars.ok == false"},
                   {"edge_id": 2, "global": true, "to_node": 2, "default": true, "prompt": "caller is done"}]}
        """#)
        var run = try FlowRun(flow: flow)
        #expect(try run.take(#"{"type":"user","text":"a"}"#).transition?.edgeID == 1)
        #expect(run.turns == 1)  // a self-loop keeps the count
        #expect(try run.take(#"{"type":"user","text":"b"}"#).transition?.edgeID == 1)
        let limit = try run.take(#"{"type":"user","text":"c"}"#)
        #expect(limit.transition?.reason == .turnLimit && run.state.id == 3)

        var judged = try FlowRun(flow: flow)
        let named = try judged.take(#"{"type":"judged","edge_id":2}"#)
        #expect(named.transition?.edgeID == 2 && named.transition?.reason == .judged)

        var guarded = try FlowRun(flow: flow, inputs: [JSONMember(key: "ok", value: .bool(true))])
        let fallsThrough = try guarded.take(#"{"type":"user","text":"x"}"#)
        #expect(fallsThrough.transition?.edgeID == 2 && fallsThrough.transition?.reason == .default)
    }

    @Test("a state's clock starts with the event that entered it, or the next clock seen")
    func clockOnEntry() throws {
        var run = try FlowRun(flow: try compiledFlow(#"""
        {"states": [{"state_id": 1, "name": "a", "initial": true},
                    {"state_id": 2, "name": "b", "timeout_ms": 10000, "fallback_state": 3},
                    {"state_id": 3, "name": "c", "terminal": true}],
         "edges": [{"edge_id": 1, "from_node": 1, "to_node": 2, "condition": "event.type == \"user\""}]}
        """#))
        _ = try run.take(#"{"type":"tick","at_ms":0}"#)
        _ = try run.take(#"{"type":"user"}"#)  // no clock: b's clock starts at the next one
        #expect(try run.take(#"{"type":"tick","at_ms":60000}"#).transition == nil)
        #expect(try run.take(#"{"type":"tick","at_ms":70000}"#).transition?.reason == .timeout)
    }

    @Test("action text without placeholders reads escapes the same way as text with them")
    func escapes() throws {
        let run = try FlowRun(flow: try compiledFlow(#"""
        {"variables": {"x": "v"}, "states": [{"state_id": 1, "name": "a", "initial": true, "terminal": true,
          "on_entry": [{"type": "say", "text": "s \\{{lit}}"}, {"type": "say", "text": "t \\{{lit}} {{x}}"}]}], "edges": []}
        """#))
        #expect(run.pendingActions.map(\.action) == [tree(#"{"type":"say","text":"s {{lit}}"}"#), tree(#"{"type":"say","text":"t {{lit}} v"}"#)])
    }

    @Test("compiling stays linear: 20,000 states in a chain")
    func largeFlow() throws {
        var flow = FlowDefinition()
        for i in 1...20_000 {
            var state = FlowState(id: Int64(i), name: "s\(i)")
            state.isInitial = i == 1
            state.isTerminal = i == 20_000
            flow.states.append(state)
            if i < 20_000 {
                var edge = FlowEdge(id: Int64(i), from: Int64(i), to: Int64(i + 1))
                edge.condition = "turns > 1"
                flow.edges.append(edge)
            }
        }
        let compiled = try CompiledFlow.compile(flow)
        #expect(compiled.warnings.isEmpty && compiled.states.count == 20_000)
    }
}
