// The edits of the seed's State Machine API, as JSON operations on a flow:
//
//   {"op": "create_state_from_template", "template_id": T, "state_id"?: N, "name"?: ..., "variables"?: {...}, ...}
//   {"op": "update_state", "state_id": N, <fields to change>}       {"op": "delete_state", "state_id": N}
//   {"op": "create_edge", "edge_id"?: N, "from_node": A, "to_node": B, ...}
//   {"op": "update_edge", "edge_id": N, <fields to change>}         {"op": "delete_edge", "edge_id": N}
//   {"op": "merge", "states": [...], "edges": [...], "delete_state_ids": [...], "delete_edge_ids": [...]}
//
// An edit is all or nothing: it is applied to a copy, and the copy must still load (no errors; warnings
// are returned). A missing id is given the next free one. Deleting a state deletes the edges that touch
// it. A merge deletes first, then upserts whole states and edges by id (a draft merged into the live flow).

extension FlowDefinition {
    /// Applies one edit; returns what it did (ids created, updated or deleted) as JSON members.
    public mutating func apply(edit json: some Collection<UInt8>) throws(FlowError) -> [JSONMember] {
        let edit: JSONTree
        do throws(JSONError) {
            edit = try JSONTree.parse(json, limits: FlowDefinition.jsonLimits)
        } catch {
            throw .json(error)
        }
        guard let members = edit.members, let op = edit["op"]?.string else {
            throw FlowError.shape("an edit is an object with an \"op\" string")
        }
        let fields = members.filter { $0.key != "op" }
        var copy = self
        let result: [JSONMember]
        switch op {
        case "create_state_from_template": result = try copy.createState(fromTemplate: fields)
        case "update_state": result = try copy.updateState(fields)
        case "delete_state": result = try copy.deleteState(try Self.id(fields, "state_id"))
        case "create_edge": result = try copy.createEdge(fields)
        case "update_edge": result = try copy.updateEdge(fields)
        case "delete_edge": result = try copy.deleteEdge(try Self.id(fields, "edge_id"))
        case "merge": result = try copy.merge(fields)
        default:
            throw FlowError.shape("unknown op \"\(op)\" (known: create_state_from_template, update_state, delete_state, create_edge, update_edge, delete_edge, merge)")
        }
        let problems = copy.validate()
        guard !problems.contains(where: { $0.severity == .error }) else { throw .invalid(problems) }
        self = copy
        return result
    }

    // MARK: states

    private mutating func createState(fromTemplate fields: [JSONMember]) throws(FlowError) -> [JSONMember] {
        guard let templateID = fields[key: "template_id"], templateID != .null else {
            throw .shape("create_state_from_template needs a template_id")
        }
        guard let template = templates.first(where: { $0.id == templateID }) else {
            throw .notFound("no template with template_id \(templateID.jsonText)")
        }
        var variables = template.variables
        for member in fields[key: "variables"]?.members ?? [] { variables.set(member.key, member.value) }
        var object: [JSONMember] = [
            JSONMember(key: "state_id", value: .integer(nextID(states.map(\.id)))),
            JSONMember(key: "name", value: .string(template.name)),
            JSONMember(key: "template_id", value: templateID),
            JSONMember(key: "state_prompt", value: .string(template.content)),
        ]
        for member in fields where member.key != "variables" { object.set(member.key, member.value) }
        object.set("variables", .object(variables))
        let state = try Self.readState(.object(object))
        guard stateIndex(state.id) == nil else { throw .invalid([Self.problem("state \(state.id) exists already", states: [state.id])]) }
        states.append(state)
        return [JSONMember(key: "state_id", value: .integer(state.id))]
    }

    private mutating func updateState(_ fields: [JSONMember]) throws(FlowError) -> [JSONMember] {
        let id = try Self.id(fields, "state_id")
        guard let index = stateIndex(id) else { throw .notFound("no state with state_id \(id)") }
        states[index] = try Self.readState(Self.overlay(states[index].tree, fields))
        return [JSONMember(key: "state_id", value: .integer(id))]
    }

    private mutating func deleteState(_ id: Int64) throws(FlowError) -> [JSONMember] {
        guard let index = stateIndex(id) else { throw .notFound("no state with state_id \(id)") }
        states.remove(at: index)
        let touching = edges.filter { $0.from == id || $0.to == id }.map(\.id)
        edges.removeAll { $0.from == id || $0.to == id }
        return [JSONMember(key: "state_id", value: .integer(id)),
                JSONMember(key: "deleted_edge_ids", value: .array(touching.map(JSONTree.integer)))]
    }

    // MARK: edges

    private mutating func createEdge(_ fields: [JSONMember]) throws(FlowError) -> [JSONMember] {
        var object = fields
        if object[key: "edge_id"] == nil { object.insert(JSONMember(key: "edge_id", value: .integer(nextID(edges.map(\.id)))), at: 0) }
        let edge = try Self.readEdge(.object(object))
        guard edgeIndex(edge.id) == nil else { throw .invalid([Self.problem("edge \(edge.id) exists already", edges: [edge.id])]) }
        edges.append(edge)
        return [JSONMember(key: "edge_id", value: .integer(edge.id))]
    }

    private mutating func updateEdge(_ fields: [JSONMember]) throws(FlowError) -> [JSONMember] {
        let id = try Self.id(fields, "edge_id")
        guard let index = edgeIndex(id) else { throw .notFound("no edge with edge_id \(id)") }
        edges[index] = try Self.readEdge(Self.overlay(edges[index].tree, fields))
        return [JSONMember(key: "edge_id", value: .integer(id))]
    }

    private mutating func deleteEdge(_ id: Int64) throws(FlowError) -> [JSONMember] {
        guard let index = edgeIndex(id) else { throw .notFound("no edge with edge_id \(id)") }
        edges.remove(at: index)
        return [JSONMember(key: "edge_id", value: .integer(id))]
    }

    // MARK: merge

    private mutating func merge(_ fields: [JSONMember]) throws(FlowError) -> [JSONMember] {
        var reader = FlowReader()
        let deleteStates = reader.array(fields[key: "delete_state_ids"] ?? .null, "delete_state_ids").enumerated().compactMap {
            reader.integer($1, "delete_state_ids[\($0)]")
        }
        let deleteEdges = reader.array(fields[key: "delete_edge_ids"] ?? .null, "delete_edge_ids").enumerated().compactMap {
            reader.integer($1, "delete_edge_ids[\($0)]")
        }
        let newStates = reader.array(fields[key: "states"] ?? .null, "states").enumerated().compactMap { reader.state($1, "states[\($0)]") }
        let newEdges = reader.array(fields[key: "edges"] ?? .null, "edges").enumerated().compactMap { reader.edge($1, "edges[\($0)]") }
        guard reader.problems.isEmpty else { throw .invalid(reader.problems) }

        var cascaded: [Int64] = []
        for id in deleteStates {
            guard stateIndex(id) != nil else { throw .notFound("merge deletes state \(id), which does not exist") }
            let result = try deleteState(id)
            cascaded += result[key: "deleted_edge_ids"]?.elements?.compactMap(\.integer) ?? []
        }
        let explicit = deleteEdges.filter { !cascaded.contains($0) }
        for id in explicit {
            guard edgeIndex(id) != nil else { throw .notFound("merge deletes edge \(id), which does not exist") }
            _ = try deleteEdge(id)
        }
        for state in newStates {
            if let index = stateIndex(state.id) { states[index] = state } else { states.append(state) }
        }
        for edge in newEdges {
            if let index = edgeIndex(edge.id) { edges[index] = edge } else { edges.append(edge) }
        }
        return [
            JSONMember(key: "upserted_state_ids", value: .array(newStates.map { .integer($0.id) })),
            JSONMember(key: "upserted_edge_ids", value: .array(newEdges.map { .integer($0.id) })),
            JSONMember(key: "deleted_state_ids", value: .array(deleteStates.map(JSONTree.integer))),
            JSONMember(key: "deleted_edge_ids", value: .array((cascaded + explicit).map(JSONTree.integer))),
        ]
    }

    // MARK: helpers

    private func nextID(_ ids: [Int64]) -> Int64 {
        (ids.max() ?? 0) &+ 1
    }

    private static func id(_ fields: [JSONMember], _ key: String) throws(FlowError) -> Int64 {
        guard let id = fields[key: key]?.integer else { throw .shape("\(key) must be given as an integer") }
        return id
    }

    private static func overlay(_ tree: JSONTree, _ fields: [JSONMember]) -> JSONTree {
        var members = tree.members ?? []
        for field in fields { members.set(field.key, field.value) }
        return .object(members)
    }

    private static func readState(_ tree: JSONTree) throws(FlowError) -> FlowState {
        var reader = FlowReader()
        let state = reader.state(tree, "state")
        guard let state, reader.problems.isEmpty else { throw .invalid(reader.problems) }
        return state
    }

    private static func readEdge(_ tree: JSONTree) throws(FlowError) -> FlowEdge {
        var reader = FlowReader()
        let edge = reader.edge(tree, "edge")
        guard let edge, reader.problems.isEmpty else { throw .invalid(reader.problems) }
        return edge
    }

    private static func problem(_ message: String, states: [Int64] = [], edges: [Int64] = []) -> FlowProblem {
        FlowProblem(.error, "invalid_edit", message, states: states, edges: edges)
    }
}

extension FlowState {
    /// The state as a JSON value (as `formi_flow_to_json` writes it).
    var tree: JSONTree { writtenTree { write(into: &$0) } }
}

extension FlowEdge {
    var tree: JSONTree { writtenTree { write(into: &$0) } }
}

/// What `write` writes, read back as a value.
private func writtenTree(_ write: (inout JSONWriter) -> Void) -> JSONTree {
    var writer = JSONWriter()
    write(&writer)
    return (try? JSONTree.parse(writer.bytes, limits: FlowDefinition.jsonLimits)) ?? .null
}
