// Tools (seed 000, "Tools"): an agent's functions, each a name, a description and a JSON Schema of its
// parameters, as LLM tool calling takes them; the flow's `{"type": "function", "name": ...}` actions
// name them. Schemas are checked on the way in (every problem, with its JSON pointer); a tool the flow
// still calls cannot be deleted.

import FormiCore
import Foundation
import Hummingbird
import HummingbirdWebSocket

enum ToolRoutes {
    static let namePattern = "^[A-Za-z_][A-Za-z0-9_-]{0,63}$"

    static func add(to api: RouterGroup<BasicWebSocketRequestContext>, server: ServerContext) {
        let platform = server.api
        let limit = platform.config.maxBodyBytes

        api.get("agents/:agent_id/tools") { request, context in
            let outlet = try await platform.outlet(request)
            try Fields(query: request).finish()
            let agent = try await platform.agent(try pathID(context, "agent_id"), outlet: outlet)
            return API.ok(["agent_id": agent.id, "tools": try await platform.store.tools(agent: agent.id).map(json)])
        }

        api.post("agents/:agent_id/tools") { request, context in
            let outlet = try await platform.outlet(request)
            let agent = try await platform.agent(try pathID(context, "agent_id"), outlet: outlet)
            var fields = Fields(try await API.body(request, limit: limit))
            let name = fields.string("name", required: true, max: 64, pattern: namePattern)
            let description = fields.string("description", required: true, max: 1024)
            let parameters = fields.object("parameters", required: true)
            try fields.finish()
            try check(parameters ?? [:])
            let record = ToolRecord(agentId: agent.id, name: name ?? "", description: description ?? "",
                                    parametersJSON: JSONSerialization.text(parameters ?? [:]), updatedAt: Date().timeIntervalSince1970)
            try await stored { try await platform.store.createTool(record) }
            return API.ok(["agent_id": agent.id, "tool": json(record)])
        }

        api.put("agents/:agent_id/tools/:tool_name") { request, context in
            let outlet = try await platform.outlet(request)
            let agent = try await platform.agent(try pathID(context, "agent_id"), outlet: outlet)
            let name = try toolName(context)
            var fields = Fields(try await API.body(request, limit: limit))
            let description = fields.string("description", max: 1024)
            let parameters = fields.object("parameters")
            try fields.finish()
            guard var record = try await platform.store.tools(agent: agent.id).first(where: { $0.name == name }) else {
                throw APIError.notFound("no tool \(name)")
            }
            if let parameters {
                try check(parameters)
                record.parametersJSON = JSONSerialization.text(parameters)
            }
            if let description { record.description = description }
            record.updatedAt = Date().timeIntervalSince1970
            try await stored { try await platform.store.updateTool(record) }
            return API.ok(["agent_id": agent.id, "tool": json(record)])
        }

        api.delete("agents/:agent_id/tools/:tool_name") { request, context in
            let outlet = try await platform.outlet(request)
            try Fields(query: request).finish()
            let agent = try await platform.agent(try pathID(context, "agent_id"), outlet: outlet)
            let name = try toolName(context)
            let callers = try FlowRoutes.definition(agent.flowJSON).states.filter { state in
                (state.onEntry + state.onExit).contains { $0.type == "function" && $0.object[key: "name"]?.string == name }
            }.map(\.id)
            if !callers.isEmpty {
                throw APIError.conflict("the flow still calls \(name) (states \(callers.map(String.init).joined(separator: ", ")))")
            }
            try await stored { try await platform.store.deleteTool(agent: agent.id, name: name) }
            return API.ok(["agent_id": agent.id, "name": name, "deleted": true])
        }
    }

    static func json(_ tool: ToolRecord) -> [String: Any] {
        ["name": tool.name, "description": tool.description,
         "parameters": JSONSerialization.object(tool.parametersJSON) ?? [:], "updated_at": iso(tool.updatedAt)]
    }

    private static func toolName(_ context: BasicWebSocketRequestContext) throws -> String {
        guard let name = context.parameters.get("tool_name"), name.range(of: namePattern, options: .regularExpression) != nil else {
            throw APIError.notFound("a tool name matches \(namePattern)")
        }
        return name
    }

    /// The parameters' schema: an object schema in the subset of JSON Schema that tool calling uses.
    static func check(_ schema: [String: Any]) throws {
        var problems: [String] = []
        if schema["type"] as? String != "object" { problems.append("/type: the parameters' schema must be of type object") }
        walk(schema, "", depth: 0, &problems)
        if !problems.isEmpty {
            throw APIError.unprocessable("the parameters' schema is not valid: " + problems.joined(separator: "; "), ["problems": problems])
        }
    }

    private static let keywords: Set<String> = ["type", "description", "enum", "items", "properties", "required", "minimum",
                                                "maximum", "minLength", "maxLength", "pattern", "default", "additionalProperties", "title"]
    private static let types: Set<String> = ["string", "number", "integer", "boolean", "array", "object", "null"]

    private static func walk(_ schema: [String: Any], _ path: String, depth: Int, _ problems: inout [String]) {
        guard depth <= 8 else { problems.append("\(path): nested deeper than 8 levels"); return }
        for key in schema.keys.sorted() where !keywords.contains(key) { problems.append("\(path)/\(key.prefix(64)): unknown keyword") }
        let type = schema["type"] as? String
        if schema["type"] != nil, type.map(types.contains) != true { problems.append("\(path)/type: must be one of \(types.sorted().joined(separator: ", "))") }
        if let description = schema["description"], !(description is String) { problems.append("\(path)/description: must be a string") }
        if let values = schema["enum"] {
            if (values as? [Any])?.isEmpty != false { problems.append("\(path)/enum: must be a non-empty array") }
        }
        for key in ["minimum", "maximum"] where schema[key] != nil {
            if (schema[key] as? NSNumber).map(Fields.isBool) != false { problems.append("\(path)/\(key): must be a number") }
        }
        for key in ["minLength", "maxLength"] where schema[key] != nil {
            if let n = schema[key] as? NSNumber, !Fields.isBool(n), n.doubleValue >= 0, n.doubleValue == n.doubleValue.rounded() { continue }
            problems.append("\(path)/\(key): must be a whole number >= 0")
        }
        if let pattern = schema["pattern"] {
            if let text = pattern as? String, (try? NSRegularExpression(pattern: text)) != nil {} else { problems.append("\(path)/pattern: must be a regular expression") }
        }
        if let properties = schema["properties"] {
            if let properties = properties as? [String: Any] {
                for (name, sub) in properties.sorted(by: { $0.key < $1.key }) {
                    if let sub = sub as? [String: Any] { walk(sub, "\(path)/properties/\(name.prefix(64))", depth: depth + 1, &problems) }
                    else { problems.append("\(path)/properties/\(name.prefix(64)): must be a schema object") }
                }
            } else {
                problems.append("\(path)/properties: must be an object")
            }
        }
        if let required = schema["required"] {
            let names = required as? [Any] ?? []
            if !(required is [Any]) || names.contains(where: { !($0 is String) }) { problems.append("\(path)/required: must be an array of names") }
            let defined = (schema["properties"] as? [String: Any]).map { Set($0.keys) } ?? []
            for case let name as String in names where !defined.contains(name) { problems.append("\(path)/required: \(name.prefix(64)) is not a property") }
        }
        if let items = schema["items"] {
            if let items = items as? [String: Any] { walk(items, "\(path)/items", depth: depth + 1, &problems) }
            else { problems.append("\(path)/items: must be a schema object") }
        }
        if type == "array", schema["items"] == nil { problems.append("\(path)/items: an array needs an items schema") }
        if let extra = schema["additionalProperties"], !(extra is [String: Any]), (extra as? NSNumber).map(Fields.isBool) != true {
            problems.append("\(path)/additionalProperties: must be a boolean or a schema")
        }
    }
}
