// Flows to and from JSON in the seed's field names (see FlowModel.swift). Reading reports every
// problem of shape at once (wrong types, missing ids), each naming its field and the ids involved.

extension FlowDefinition {
    /// Limits for flow documents: flows are configuration, larger than a provider message.
    public static let jsonLimits = JSONLimits(maxBytes: 16 << 20, maxDepth: 64, maxValues: 1 << 22)

    /// Reads a flow. Shape problems are errors; the rules of a good machine are checked by `validate()`.
    public init(json: some Collection<UInt8>) throws(FlowError) {
        let tree: JSONTree
        do throws(JSONError) {
            tree = try JSONTree.parse(json, limits: FlowDefinition.jsonLimits)
        } catch {
            throw .json(error)
        }
        var reader = FlowReader()
        self = reader.flow(tree)
        if !reader.problems.isEmpty { throw .invalid(reader.problems) }
    }

    public func write(into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("states")
        writer.beginArray()
        for state in states { state.write(into: &writer) }
        writer.endArray()
        writer.key("edges")
        writer.beginArray()
        for edge in edges { edge.write(into: &writer) }
        writer.endArray()
        if !templates.isEmpty {
            writer.key("templates")
            writer.beginArray()
            for template in templates { template.write(into: &writer) }
            writer.endArray()
        }
        if !variables.isEmpty { writer.key("variables"); JSONTree.object(variables).write(into: &writer) }
        if !inputs.isEmpty { writer.key("inputs"); JSONTree.array(inputs.map(JSONTree.string)).write(into: &writer) }
        if let fallback { writer.key("fallback_state"); writer.int(fallback) }
        if maxTransitions != FlowDefinition.defaultMaxTransitions { writer.key("max_transitions"); writer.int(maxTransitions) }
        writeExtra(extra, into: &writer)
        writer.endObject()
    }

    public var jsonBytes: [UInt8] {
        var writer = JSONWriter(capacity: 4096)
        write(into: &writer)
        return writer.bytes
    }
}

extension FlowState {
    public func write(into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("state_id"); writer.int(id)
        writer.key("name"); writer.string(name)
        writer.key("template_id"); templateID.write(into: &writer)
        writer.key("state_prompt"); writer.string(prompt)
        writer.key("variables"); JSONTree.object(variables).write(into: &writer)
        if isInitial { writer.key("initial"); writer.bool(true) }
        if isTerminal { writer.key("terminal"); writer.bool(true) }
        if !onEntry.isEmpty { writer.key("on_entry"); writeActions(onEntry, into: &writer) }
        if !onExit.isEmpty { writer.key("on_exit"); writeActions(onExit, into: &writer) }
        if let maxTurns { writer.key("max_turns"); writer.int(maxTurns) }
        if let timeoutMs { writer.key("timeout_ms"); writer.int(timeoutMs) }
        if let fallback { writer.key("fallback_state"); writer.int(fallback) }
        writeExtra(extra, into: &writer)
        writer.endObject()
    }
}

extension FlowEdge {
    public func write(into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("edge_id"); writer.int(id)
        writer.key("from_node"); if let from { writer.int(from) } else { writer.null() }
        writer.key("to_node"); if let to { writer.int(to) } else { writer.null() }
        writer.key("prompt"); if let prompt { writer.string(prompt) } else { writer.null() }
        writer.key("transition_metadata"); metadata.write(into: &writer)
        if priority != 0 { writer.key("priority"); writer.int(priority) }
        if let condition { writer.key("condition"); writer.string(condition) }
        if isDefault { writer.key("default"); writer.bool(true) }
        if isGlobal { writer.key("global"); writer.bool(true) }
        if returnsToPrevious { writer.key("return_to_previous"); writer.bool(true) }
        if !assign.isEmpty {
            writer.key("assign")
            JSONTree.object(assign.map { JSONMember(key: $0.name, value: .string($0.expression)) }).write(into: &writer)
        }
        writeExtra(extra, into: &writer)
        writer.endObject()
    }
}

extension FlowTemplate {
    public func write(into writer: inout JSONWriter) {
        writer.beginObject()
        writer.key("template_id"); id.write(into: &writer)
        writer.key("name"); writer.string(name)
        writer.key("content"); writer.string(content)
        writer.key("variables"); JSONTree.object(variables).write(into: &writer)
        writeExtra(extra, into: &writer)
        writer.endObject()
    }
}

private func writeActions(_ actions: [FlowAction], into writer: inout JSONWriter) {
    writer.beginArray()
    for action in actions { JSONTree.object(action.object).write(into: &writer) }
    writer.endArray()
}

private func writeExtra(_ extra: [JSONMember], into writer: inout JSONWriter) {
    for member in extra {
        writer.key(member.key)
        member.value.write(into: &writer)
    }
}

/// Reads the parts of a flow, collecting every problem.
struct FlowReader {
    var problems: [FlowProblem] = []

    mutating func flow(_ tree: JSONTree) -> FlowDefinition {
        var flow = FlowDefinition()
        guard let members = tree.members else {
            problem("(flow)", "expected an object with \"states\" and \"edges\", found \(tree.kindName)")
            return flow
        }
        for member in members {
            let value = member.value
            switch member.key {
            case "states":
                for (i, element) in array(value, "states").enumerated() {
                    if let state = state(element, "states[\(i)]") { flow.states.append(state) }
                }
            case "edges":
                for (i, element) in array(value, "edges").enumerated() {
                    if let edge = edge(element, "edges[\(i)]") { flow.edges.append(edge) }
                }
            case "templates":
                for (i, element) in array(value, "templates").enumerated() {
                    if let template = template(element, "templates[\(i)]") { flow.templates.append(template) }
                }
            case "variables": flow.variables = object(value, "variables")
            case "inputs":
                flow.inputs = array(value, "inputs").enumerated().compactMap { i, element in
                    string(element, "inputs[\(i)]")
                }
            case "fallback_state": flow.fallback = optionalInteger(value, "fallback_state")
            case "max_transitions":
                if let limit = integer(value, "max_transitions") {
                    if limit < 1 { problem("max_transitions", "must be at least 1, found \(limit)") } else { flow.maxTransitions = limit }
                }
            default: flow.extra.append(member)
            }
        }
        if tree["states"] == nil { problem("states", "missing") }
        return flow
    }

    mutating func state(_ tree: JSONTree, _ field: String) -> FlowState? {
        guard let members = tree.members else {
            problem(field, "expected a state object, found \(tree.kindName)")
            return nil
        }
        guard let idValue = members[key: "state_id"] else {
            problem("\(field).state_id", "missing")
            return nil
        }
        guard let id = integer(idValue, "\(field).state_id") else { return nil }
        var state = FlowState(id: id, name: "")
        let at = "state \(id)"
        for member in members {
            let value = member.value
            switch member.key {
            case "state_id": break
            case "name": state.name = string(value, "\(at).name", states: [id]) ?? ""
            case "template_id": state.templateID = value
            case "state_prompt": state.prompt = optionalString(value, "\(at).state_prompt", states: [id]) ?? ""
            case "variables": state.variables = object(value, "\(at).variables", states: [id])
            case "initial": state.isInitial = boolean(value, "\(at).initial", states: [id])
            case "terminal": state.isTerminal = boolean(value, "\(at).terminal", states: [id])
            case "on_entry": state.onEntry = actions(value, "\(at).on_entry", states: [id])
            case "on_exit": state.onExit = actions(value, "\(at).on_exit", states: [id])
            case "max_turns": state.maxTurns = positive(value, "\(at).max_turns", states: [id])
            case "timeout_ms": state.timeoutMs = positive(value, "\(at).timeout_ms", states: [id])
            case "fallback_state": state.fallback = optionalInteger(value, "\(at).fallback_state", states: [id])
            default: state.extra.append(member)
            }
        }
        return state
    }

    mutating func edge(_ tree: JSONTree, _ field: String) -> FlowEdge? {
        guard let members = tree.members else {
            problem(field, "expected an edge object, found \(tree.kindName)")
            return nil
        }
        guard let idValue = members[key: "edge_id"] else {
            problem("\(field).edge_id", "missing")
            return nil
        }
        guard let id = integer(idValue, "\(field).edge_id") else { return nil }
        var edge = FlowEdge(id: id, from: nil, to: nil)
        let at = "edge \(id)"
        for member in members {
            let value = member.value
            switch member.key {
            case "edge_id": break
            case "from_node": edge.from = optionalInteger(value, "\(at).from_node", edges: [id])
            case "to_node": edge.to = optionalInteger(value, "\(at).to_node", edges: [id])
            case "prompt": edge.prompt = optionalString(value, "\(at).prompt", edges: [id])
            case "transition_metadata": edge.metadata = value
            case "priority": edge.priority = integer(value, "\(at).priority", edges: [id]) ?? 0
            case "condition": edge.condition = optionalString(value, "\(at).condition", edges: [id])
            case "default": edge.isDefault = boolean(value, "\(at).default", edges: [id])
            case "global": edge.isGlobal = boolean(value, "\(at).global", edges: [id])
            case "return_to_previous": edge.returnsToPrevious = boolean(value, "\(at).return_to_previous", edges: [id])
            case "assign":
                for assignment in object(value, "\(at).assign", edges: [id]) {
                    if let expression = string(assignment.value, "\(at).assign.\(assignment.key)", edges: [id]) {
                        edge.assign.append((assignment.key, expression))
                    }
                }
            default: edge.extra.append(member)
            }
        }
        return edge
    }

    mutating func template(_ tree: JSONTree, _ field: String) -> FlowTemplate? {
        guard let members = tree.members else {
            problem(field, "expected a template object, found \(tree.kindName)")
            return nil
        }
        guard let id = members[key: "template_id"], id != .null else {
            problem("\(field).template_id", "missing")
            return nil
        }
        guard let content = members[key: "content"] else {
            problem("\(field).content", "missing")
            return nil
        }
        var template = FlowTemplate(id: id, name: "", content: string(content, "\(field).content") ?? "")
        for member in members {
            switch member.key {
            case "template_id", "content": break
            case "name": template.name = string(member.value, "\(field).name") ?? ""
            case "variables": template.variables = object(member.value, "\(field).variables")
            default: template.extra.append(member)
            }
        }
        return template
    }

    mutating func actions(_ tree: JSONTree, _ field: String, states: [Int64] = []) -> [FlowAction] {
        array(tree, field, states: states).enumerated().compactMap { i, element in
            guard let members = element.members, members[key: "type"]?.string?.isEmpty == false else {
                problem("\(field)[\(i)]", "expected an action object with a \"type\" string", states: states)
                return nil
            }
            let action = FlowAction(object: members)
            if action.type == "set" && members[key: "name"]?.string == nil {
                problem("\(field)[\(i)].name", "a set action needs the variable's name as a string", states: states)
            }
            return action
        }
    }

    // MARK: typed fields

    mutating func problem(_ field: String, _ message: String, states: [Int64] = [], edges: [Int64] = []) {
        problems.append(FlowProblem(.error, "invalid_field", "\(field): \(message)", states: states, edges: edges))
    }

    mutating func integer(_ tree: JSONTree, _ field: String, states: [Int64] = [], edges: [Int64] = []) -> Int64? {
        if let value = tree.integer { return value }
        problem(field, "expected an integer, found \(tree.kindName)", states: states, edges: edges)
        return nil
    }

    mutating func optionalInteger(_ tree: JSONTree, _ field: String, states: [Int64] = [], edges: [Int64] = []) -> Int64? {
        tree == .null ? nil : integer(tree, field, states: states, edges: edges)
    }

    mutating func positive(_ tree: JSONTree, _ field: String, states: [Int64] = []) -> Int64? {
        guard tree != .null, let value = integer(tree, field, states: states) else { return nil }
        guard value > 0 else {
            problem(field, "must be positive, found \(value)", states: states)
            return nil
        }
        return value
    }

    mutating func string(_ tree: JSONTree, _ field: String, states: [Int64] = [], edges: [Int64] = []) -> String? {
        if let value = tree.string { return value }
        problem(field, "expected a string, found \(tree.kindName)", states: states, edges: edges)
        return nil
    }

    mutating func optionalString(_ tree: JSONTree, _ field: String, states: [Int64] = [], edges: [Int64] = []) -> String? {
        tree == .null ? nil : string(tree, field, states: states, edges: edges)
    }

    mutating func boolean(_ tree: JSONTree, _ field: String, states: [Int64] = [], edges: [Int64] = []) -> Bool {
        if let value = tree.bool { return value }
        if tree != .null { problem(field, "expected true or false, found \(tree.kindName)", states: states, edges: edges) }
        return false
    }

    mutating func object(_ tree: JSONTree, _ field: String, states: [Int64] = [], edges: [Int64] = []) -> [JSONMember] {
        if let members = tree.members { return members }
        if tree != .null { problem(field, "expected an object, found \(tree.kindName)", states: states, edges: edges) }
        return []
    }

    mutating func array(_ tree: JSONTree, _ field: String, states: [Int64] = []) -> [JSONTree] {
        if let elements = tree.elements { return elements }
        if tree != .null { problem(field, "expected an array, found \(tree.kindName)", states: states) }
        return []
    }
}
