// Post-interaction configuration (seed 000): the outlet's variables (read from the flow's variables when
// a call ends), its destinations (a webhook URL, or e-mail addresses), which variables go where, and the
// SMTP server for e-mail. When an interaction ends, each destination with connected variables gets
// their values: a signed POST with retries (as the webhooks), or an e-mail over SMTP with retries.

import FormiCore
import Foundation
import Hummingbird
import HummingbirdWebSocket

struct PostInteractionSettings: Codable, Sendable {
    struct Variable: Codable, Sendable {
        var name: String
        var type: String
        var description: String
        var destinations: [String]
    }

    struct Destination: Codable, Sendable {
        var id: String
        var name: String
        var type: String
        var url: String?
        var secret: String?
        var to: [String]?
    }

    struct Email: Codable, Sendable {
        var host: String
        var port: Int
        var from: String
        var username: String?
        var password: String?
    }

    var variables: [Variable] = []
    var destinations: [Destination] = []
    var email: Email?

    static let key = "post_interaction"

    static func decode(_ text: String?) -> PostInteractionSettings {
        text.flatMap { try? JSONDecoder().decode(PostInteractionSettings.self, from: Data($0.utf8)) } ?? PostInteractionSettings()
    }

    func encoded() throws -> String { String(decoding: try JSONEncoder().encode(self), as: UTF8.self) }
}

enum PostInteractionRoutes {
    static let types = ["string", "number", "integer", "boolean"]
    static let namePattern = "^[A-Za-z_][A-Za-z0-9_]{0,63}$"

    static func add(to api: RouterGroup<BasicWebSocketRequestContext>, server: ServerContext) {
        let platform = server.api
        let limit = platform.config.maxBodyBytes

        /// Applies `change` to the outlet's settings in one transaction; returns the result.
        @Sendable func update(_ outlet: Int, _ change: @escaping @Sendable (inout PostInteractionSettings) throws -> Void) async throws -> PostInteractionSettings {
            let text = try await stored {
                try await platform.store.updateOutletSetting(outlet: outlet, key: PostInteractionSettings.key) { current in
                    var settings = PostInteractionSettings.decode(current)
                    try change(&settings)
                    return try settings.encoded()
                }
            }
            return PostInteractionSettings.decode(text)
        }

        @Sendable func load(_ outlet: Int) async throws -> PostInteractionSettings {
            PostInteractionSettings.decode(try await platform.store.outletSetting(outlet: outlet, key: PostInteractionSettings.key))
        }

        @Sendable func variablesAnswer(_ s: PostInteractionSettings) -> Response {
            API.ok(["variables": s.variables.map(json), "map": Dictionary(uniqueKeysWithValues: s.variables.map { ($0.name, $0.destinations) })])
        }

        // Variables.
        api.get("post-interaction/variables") { request, _ in
            let outlet = try await platform.outlet(request)
            try Fields(query: request).finish()
            return variablesAnswer(try await load(outlet))
        }
        api.post("post-interaction/variables") { request, _ in
            let outlet = try await platform.outlet(request)
            var fields = Fields(try await API.body(request, limit: limit))
            let name = fields.string("name", required: true, max: 64, pattern: namePattern)
            let type = fields.oneOf("type", types, required: true)
            let description = fields.string("description", max: 1024) ?? ""
            try fields.finish()
            let variable = PostInteractionSettings.Variable(name: name ?? "", type: type ?? "string", description: description, destinations: [])
            return variablesAnswer(try await update(outlet) { s in
                guard !s.variables.contains(where: { $0.name == variable.name }) else { throw APIError.conflict("variable \(variable.name) exists already") }
                guard s.variables.count < 100 else { throw APIError.unprocessable("an outlet has at most 100 variables") }
                s.variables.append(variable)
            })
        }
        api.put("post-interaction/variables/:name") { request, context in
            let outlet = try await platform.outlet(request)
            let name = try pathName(context, "name", namePattern)
            var fields = Fields(try await API.body(request, limit: limit))
            let type = fields.oneOf("type", types)
            let description = fields.string("description", max: 1024)
            try fields.finish()
            return variablesAnswer(try await update(outlet) { s in
                guard let index = s.variables.firstIndex(where: { $0.name == name }) else { throw APIError.notFound("no variable \(name)") }
                if let type { s.variables[index].type = type }
                if let description { s.variables[index].description = description }
            })
        }
        api.delete("post-interaction/variables/:name") { request, context in
            let outlet = try await platform.outlet(request)
            try Fields(query: request).finish()
            let name = try pathName(context, "name", namePattern)
            return variablesAnswer(try await update(outlet) { s in
                guard s.variables.contains(where: { $0.name == name }) else { throw APIError.notFound("no variable \(name)") }
                s.variables.removeAll { $0.name == name }
            })
        }
        // Connects (or with "connected": false, disconnects) a variable and a destination.
        api.post("post-interaction/variables/:name/destinations") { request, context in
            let outlet = try await platform.outlet(request)
            let name = try pathName(context, "name", namePattern)
            var fields = Fields(try await API.body(request, limit: limit))
            let destination = fields.string("destination_id", required: true, max: 36, pattern: "^[0-9a-f-]{36}$")
            let connected = fields.bool("connected") ?? true
            try fields.finish()
            return variablesAnswer(try await update(outlet) { s in
                guard let index = s.variables.firstIndex(where: { $0.name == name }) else { throw APIError.notFound("no variable \(name)") }
                guard let destination, s.destinations.contains(where: { $0.id == destination }) else {
                    throw APIError.notFound("no destination \(destination ?? "")")
                }
                s.variables[index].destinations.removeAll { $0 == destination }
                if connected { s.variables[index].destinations.append(destination) }
            })
        }

        // Destinations.
        api.get("post-interaction/destinations") { request, _ in
            let outlet = try await platform.outlet(request)
            try Fields(query: request).finish()
            return API.ok(["destinations": try await load(outlet).destinations.map(json)])
        }
        api.post("post-interaction/destinations") { request, _ in
            let outlet = try await platform.outlet(request)
            var fields = Fields(try await API.body(request, limit: limit))
            let name = fields.string("name", required: true, max: 120)
            let type = fields.oneOf("type", ["webhook", "email"], required: true)
            let url = fields.string("url", max: 2048)
            let to = addresses(&fields)
            try fields.finish()
            var destination = PostInteractionSettings.Destination(id: UUID().uuidString.lowercased(), name: name ?? "", type: type ?? "webhook")
            if type == "webhook" {
                guard let url, to == nil else { throw APIError.badRequest("a webhook destination takes url (and no to)") }
                destination.url = try checkedURL(url)
                destination.secret = "whsec_" + Secrets.randomKey()
            } else {
                guard let to, url == nil else { throw APIError.badRequest("an email destination takes to (and no url)") }
                destination.to = to
            }
            let made = destination
            _ = try await update(outlet) { s in
                guard s.destinations.count < 50 else { throw APIError.unprocessable("an outlet has at most 50 destinations") }
                s.destinations.append(made)
            }
            return API.ok(["destination": json(made), "secret": made.secret ?? NSNull()])
        }
        api.put("post-interaction/destinations/:destination_id") { request, context in
            let outlet = try await platform.outlet(request)
            let id = try pathName(context, "destination_id", "^[0-9a-f-]{36}$")
            var fields = Fields(try await API.body(request, limit: limit))
            let name = fields.string("name", max: 120)
            let url = try fields.string("url", max: 2048).map(checkedURL)
            let to = addresses(&fields)
            try fields.finish()
            let s = try await update(outlet) { s in
                guard let index = s.destinations.firstIndex(where: { $0.id == id }) else { throw APIError.notFound("no destination \(id)") }
                if let name { s.destinations[index].name = name }
                if let url {
                    guard s.destinations[index].type == "webhook" else { throw APIError.badRequest("url is for webhook destinations") }
                    s.destinations[index].url = url
                }
                if let to {
                    guard s.destinations[index].type == "email" else { throw APIError.badRequest("to is for email destinations") }
                    s.destinations[index].to = to
                }
            }
            return API.ok(["destination": s.destinations.first { $0.id == id }.map(json) ?? [:]])
        }
        api.delete("post-interaction/destinations/:destination_id") { request, context in
            let outlet = try await platform.outlet(request)
            try Fields(query: request).finish()
            let id = try pathName(context, "destination_id", "^[0-9a-f-]{36}$")
            _ = try await update(outlet) { s in
                guard s.destinations.contains(where: { $0.id == id }) else { throw APIError.notFound("no destination \(id)") }
                s.destinations.removeAll { $0.id == id }
                for index in s.variables.indices { s.variables[index].destinations.removeAll { $0 == id } }
            }
            return API.ok(["destination_id": id, "deleted": true])
        }

        // The SMTP server e-mail destinations go through (the password is never shown).
        api.get("post-interaction/email") { request, _ in
            let outlet = try await platform.outlet(request)
            try Fields(query: request).finish()
            return API.ok(["email": try await load(outlet).email.map(json) ?? NSNull()])
        }
        api.put("post-interaction/email") { request, _ in
            let outlet = try await platform.outlet(request)
            var fields = Fields(try await API.body(request, limit: limit))
            let host = fields.string("host", required: true, max: 253, pattern: "^[A-Za-z0-9.:-]+$")
            let port = fields.int("port", in: 1...65535) ?? 25
            let from = fields.string("from", required: true, max: 254, pattern: SMTPClient.addressPattern)
            let username = fields.string("username", max: 200)
            let password = fields.string("password", max: 200)
            if (username == nil) != (password == nil) { fields.problem("username and password go together") }
            try fields.finish()
            let email = PostInteractionSettings.Email(host: host ?? "", port: port, from: from ?? "", username: username, password: password)
            let s = try await update(outlet) { $0.email = email }
            return API.ok(["email": s.email.map(json) ?? NSNull()])
        }
    }

    private static func pathName(_ context: BasicWebSocketRequestContext, _ key: String, _ pattern: String) throws -> String {
        guard let value = context.parameters.get(key), value.range(of: pattern, options: .regularExpression) != nil else {
            throw APIError.notFound("no such \(key.replacingOccurrences(of: "_", with: " "))")
        }
        return value
    }

    private static func addresses(_ fields: inout Fields) -> [String]? {
        guard let raw = fields.any("to") else { return nil }
        guard let list = raw as? [Any], (1...20).contains(list.count) else { fields.problem("to must be a list of 1 to 20 addresses"); return nil }
        var out: [String] = []
        for item in list {
            guard let text = item as? String, text.utf8.count <= 254, text.range(of: SMTPClient.addressPattern, options: .regularExpression) != nil else {
                fields.problem("to: \(String(describing: item).prefix(64)) is not an e-mail address")
                continue
            }
            out.append(text)
        }
        return out
    }

    private static func checkedURL(_ text: String) throws -> String {
        guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), let host = url.host, !host.isEmpty, url.user == nil else {
            throw APIError.badRequest("url must be an http or https URL with a host and no credentials")
        }
        return text
    }

    static func json(_ v: PostInteractionSettings.Variable) -> [String: Any] {
        ["name": v.name, "type": v.type, "description": v.description, "destinations": v.destinations]
    }

    static func json(_ d: PostInteractionSettings.Destination) -> [String: Any] {
        var object: [String: Any] = ["destination_id": d.id, "name": d.name, "type": d.type]
        if let url = d.url { object["url"] = url }
        if let to = d.to { object["to"] = to }
        return object
    }

    static func json(_ e: PostInteractionSettings.Email) -> [String: Any] {
        ["host": e.host, "port": e.port, "from": e.from, "username": e.username ?? NSNull(), "password_set": e.password != nil]
    }
}

enum PostInteraction {
    /// Sends a finished interaction's variables to every destination connected to one of them.
    static func deliver(interaction: InteractionRecord, variables: [JSONMember], server: ServerContext) async {
        guard let text = try? await server.api.store.outletSetting(outlet: interaction.outletId, key: PostInteractionSettings.key) else { return }
        let settings = PostInteractionSettings.decode(text)
        for destination in settings.destinations {
            let wanted = settings.variables.filter { $0.destinations.contains(destination.id) }
            guard !wanted.isEmpty else { continue }
            var values: [String: Any] = [:]
            for variable in wanted { values[variable.name] = value(variables[key: variable.name], as: variable.type) }
            let payload: [String: Any] = ["event": "interaction.variables", "interaction_id": interaction.id, "agent_id": interaction.agentId,
                                          "outlet_id": interaction.outletId, "outcome": interaction.outcome, "variables": values]
            let body = JSONSerialization.text(payload)
            let what = "post-interaction \(destination.type) \(destination.id)"
            if destination.type == "webhook", let url = destination.url.flatMap(URL.init(string:)), let secret = destination.secret {
                server.api.webhooks.launch(what, server: server) {
                    if !(await WebhookSender.post(url: url, secret: secret, event: "interaction.variables", body: body)) {
                        server.metrics.errors(kind: "webhook").increment()
                        server.logger.warning("\(what) was not delivered")
                    }
                }
            } else if destination.type == "email", let to = destination.to {
                guard let email = settings.email else {
                    server.logger.warning("\(what): no SMTP server is configured (post-interaction/email)")
                    continue
                }
                let lines = values.keys.sorted().map { "\($0): \(JSONSerialization.text(values[$0] ?? NSNull()))" }
                let message = SMTPClient.Message(from: email.from, to: to, subject: "Interaction \(interaction.id.prefix(80)): \(interaction.outcome)",
                                                 body: (["Interaction \(interaction.id) of agent \(interaction.agentId) ended: \(interaction.outcome).", ""] + lines).joined(separator: "\n"))
                server.api.webhooks.launch(what, server: server) {
                    for (attempt, pause) in [0.0, 1, 2].enumerated() {
                        if pause > 0 { try? await Task.sleep(for: .milliseconds(Int(pause * 1000))) }
                        do {
                            try await SMTPClient.send(message, host: email.host, port: email.port, username: email.username, password: email.password)
                            return
                        } catch {
                            server.logger.info("\(what): attempt \(attempt + 1) failed: \(error)")
                        }
                    }
                    server.metrics.errors(kind: "email").increment()
                    server.logger.warning("\(what) was not delivered")
                }
            }
        }
    }

    /// A flow value as the variable's type, or null when it is missing or of another type.
    private static func value(_ tree: JSONTree?, as type: String) -> Any {
        guard let tree, let parsed = JSONSerialization.object(tree.jsonText) else { return NSNull() }
        switch type {
        case "string": return parsed as? String ?? (parsed as? NSNumber).map { Fields.isBool($0) ? NSNull() : $0.stringValue as Any } ?? NSNull()
        case "boolean": return (parsed as? NSNumber).flatMap { Fields.isBool($0) ? $0.boolValue : nil } ?? NSNull()
        case "integer": return (parsed as? NSNumber).flatMap { !Fields.isBool($0) && $0.doubleValue == $0.doubleValue.rounded() ? $0.intValue : nil }
            ?? (parsed as? String).flatMap { Int($0) } ?? NSNull()
        case "number": return (parsed as? NSNumber).flatMap { Fields.isBool($0) ? nil : $0.doubleValue } ?? (parsed as? String).flatMap { Double($0) } ?? NSNull()
        default: return NSNull()
        }
    }
}
