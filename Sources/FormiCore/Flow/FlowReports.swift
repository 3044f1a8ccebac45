// What flows and runs hand out as JSON: validation reports, steps, a run's state and history.

extension FlowProblem {
    public func write(into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("code"); writer.string(code)
        writer.key("message"); writer.string(message)
        writer.key("state_ids"); JSONTree.array(stateIDs.map(JSONTree.integer)).write(into: &writer)
        writer.key("edge_ids"); JSONTree.array(edgeIDs.map(JSONTree.integer)).write(into: &writer)
        writer.endObject()
    }

    /// `{"valid": bool, "errors": [...], "warnings": [...]}`.
    public static func report(_ problems: [FlowProblem]) -> [UInt8] {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("valid"); writer.bool(!problems.contains { $0.severity == .error })
        for severity in [Severity.error, .warning] {
            writer.key(severity == .error ? "errors" : "warnings")
            writer.beginArray()
            for problem in problems where problem.severity == severity { problem.write(into: &writer) }
            writer.endArray()
        }
        writer.endObject()
        return writer.bytes
    }
}

extension FlowRun.Step.Transition {
    public func write(into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("edge_id"); if let edgeID { writer.int(edgeID) } else { writer.null() }
        writer.key("from"); writer.int(from)
        writer.key("to"); writer.int(to)
        writer.key("reason"); writer.string(reason.rawValue)
        writer.key("global"); writer.bool(isGlobal)
        writer.key("returned"); writer.bool(returned)
        writer.endObject()
    }
}

private func write(_ actions: [FlowRun.Step.Action], into writer: inout JSONWriter) {
    writer.beginArray()
    for action in actions {
        writer.beginObject()
        writer.key("phase"); writer.string(action.phase.rawValue)
        writer.key("state_id"); writer.int(action.stateID)
        writer.key("action"); action.action.write(into: &writer)
        writer.endObject()
    }
    writer.endArray()
}

private func write(_ names: [String], into writer: inout JSONWriter) {
    writer.beginArray()
    for name in names { writer.string(name) }
    writer.endArray()
}

extension FlowRun.Step {
    public var json: [UInt8] {
        var writer = JSONWriter(capacity: 512)
        writer.beginObject()
        writer.key("step"); writer.int(step)
        writer.key("event"); writer.string(eventType)
        writer.key("state_id"); writer.int(stateID)
        writer.key("state"); writer.string(stateName)
        writer.key("transition"); if let transition { transition.write(into: &writer) } else { writer.null() }
        if let prompt { writer.key("prompt"); writer.string(prompt) }
        writer.key("actions"); write(actions, into: &writer)
        if !interruptedActions.isEmpty { writer.key("interrupted_actions"); write(interruptedActions, into: &writer) }
        if !cancelledActions.isEmpty { writer.key("cancelled_actions"); write(cancelledActions, into: &writer) }
        if ignoredVerdict { writer.key("ignored_verdict"); writer.bool(true) }
        if !missingVariables.isEmpty { writer.key("missing_variables"); write(missingVariables, into: &writer) }
        writer.key("ended"); writer.bool(ended != nil)
        writer.key("end_reason"); if let ended { writer.string(ended.rawValue) } else { writer.null() }
        writer.endObject()
        return writer.bytes
    }
}

extension FlowRun {
    /// The run now: state, rendered prompt, counters, pending actions, variables, end.
    public var stateJSON: [UInt8] {
        var writer = JSONWriter(capacity: 1024)
        let rendered = prompt
        writer.beginObject()
        writer.key("state_id"); writer.int(state.id)
        writer.key("name"); writer.string(state.name)
        writer.key("prompt"); writer.string(rendered.text)
        writer.key("missing_variables"); write(rendered.missing, into: &writer)
        writer.key("turns"); writer.int(turns)
        writer.key("steps"); writer.int(steps)
        writer.key("transitions"); writer.int(transitions)
        writer.key("previous_state_id"); if let previous { writer.int(flow.definition.states[previous].id) } else { writer.null() }
        writer.key("return_stack"); JSONTree.array(returnStack.map { .integer(flow.definition.states[$0].id) }).write(into: &writer)
        writer.key("entered_at_ms"); if let enteredAt { writer.int(enteredAt) } else { writer.null() }
        writer.key("pending_actions"); write(pendingActions, into: &writer)
        writer.key("variables"); JSONTree.object(variables).write(into: &writer)
        writer.key("ended"); writer.bool(ended != nil)
        writer.key("end_reason"); if let ended { writer.string(ended.rawValue) } else { writer.null() }
        writer.endObject()
        return writer.bytes
    }

    /// Every transition taken, in order.
    public var historyJSON: [UInt8] {
        var writer = JSONWriter(capacity: 256)
        writer.beginArray()
        for entry in history {
            writer.beginObject()
            writer.key("step"); writer.int(entry.step)
            writer.key("at_ms"); if let at = entry.atMs { writer.int(at) } else { writer.null() }
            writer.key("event"); writer.string(entry.eventType)
            writer.key("transition"); entry.transition.write(into: &writer)
            writer.endObject()
        }
        writer.endArray()
        return writer.bytes
    }
}
