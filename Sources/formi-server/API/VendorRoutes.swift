// Connection vendors (seed 000, "Voice > Connection Configuration"): provider templates (seed 004's
// format) created, listed, updated, deleted through the API. Each is checked by the library on the way
// in (every problem named) and is at /ws-adapter/{name}/... for the next call, without a restart.
// The built-in and configured templates are listed too and cannot be changed here.

import FormiCore
import Foundation
import Hummingbird
import HummingbirdWebSocket

enum VendorRoutes {
    /// A vendor name is one path segment: no dots, slashes or percent signs can reach a path.
    static let namePattern = "^[a-z][a-z0-9_-]{0,31}$"

    static func add(to api: RouterGroup<BasicWebSocketRequestContext>, server: ServerContext) {
        let platform = server.api
        let limit = platform.config.maxBodyBytes

        api.get("connection-vendors") { request, _ in
            let outlet = try await platform.outlet(request)
            try Fields(query: request).finish()
            let stored = try await platform.store.vendors()
            let storedNames = Set(stored.map(\.name))
            var list: [[String: Any]] = server.templates.keys.filter { !storedNames.contains($0) }.sorted().map {
                ["name": $0, "builtin": true, "editable": false]
            }
            list += stored.filter { $0.outletId == outlet }.map { ["name": $0.name, "builtin": false, "editable": true, "updated_at": iso($0.updatedAt)] }
            return API.ok(["vendors": list])
        }

        api.get("connection-vendors/:name") { request, context in
            let outlet = try await platform.outlet(request)
            try Fields(query: request).finish()
            let name = try vendorName(context)
            if let vendor = try await platform.store.vendor(name) {
                guard vendor.outletId == outlet else { throw APIError.notFound("no connection vendor \(name)") }
                return API.ok(["name": name, "builtin": false, "editable": true, "template": JSONSerialization.object(vendor.templateJSON) ?? NSNull()])
            }
            guard let builtin = server.catalog.template(name) else { throw APIError.notFound("no connection vendor \(name)") }
            return API.ok(["name": name, "builtin": true, "editable": false, "template": foundation(builtin)])
        }

        api.post("connection-vendors") { request, _ in
            let outlet = try await platform.outlet(request)
            var fields = Fields(try await API.body(request, limit: limit))
            let name = fields.string("name", required: true, max: 32, pattern: namePattern)
            let template = fields.object("template", required: true)
            try fields.finish()
            guard let name, let template else { throw APIError.badRequest("name and template are required") }
            if server.catalog.template(name) != nil { throw APIError.conflict("a connection vendor named \(name) exists already") }
            let json = try checked(template)
            try await stored { try await platform.store.createVendor(VendorRecord(name: name, outletId: outlet, templateJSON: json, updatedAt: Date().timeIntervalSince1970)) }
            server.catalog.set(template: name, json: Array(json.utf8))
            return API.ok(["name": name, "builtin": false, "editable": true])
        }

        api.put("connection-vendors/:name") { request, context in
            let outlet = try await platform.outlet(request)
            let name = try vendorName(context)
            var fields = Fields(try await API.body(request, limit: limit))
            let template = fields.object("template", required: true)
            try fields.finish()
            try await ownVendor(platform, name, outlet)
            let json = try checked(template ?? [:])
            try await stored { _ = try await platform.store.updateVendor(name, outlet: outlet, templateJSON: json, at: Date().timeIntervalSince1970) }
            server.catalog.set(template: name, json: Array(json.utf8))
            return API.ok(["name": name, "builtin": false, "editable": true])
        }

        api.delete("connection-vendors/:name") { request, context in
            let outlet = try await platform.outlet(request)
            try Fields(query: request).finish()
            let name = try vendorName(context)
            try await ownVendor(platform, name, outlet)
            try await stored { try await platform.store.deleteVendor(name, outlet: outlet) }
            server.catalog.removeTemplate(name)
            return API.ok(["name": name, "deleted": true])
        }
    }

    /// An agent's connection config: the vendor its calls come through (and the number), with the URL a
    /// provider is pointed at. Stored per agent; the vendor must exist.
    static func addConnection(to api: RouterGroup<BasicWebSocketRequestContext>, server: ServerContext) {
        let platform = server.api
        let limit = platform.config.maxBodyBytes

        @Sendable func answer(_ agent: AgentRecord, _ stored: [String: Any]?) -> Response {
            guard var config = stored, let vendor = config["vendor"] as? String else {
                return API.ok(["agent_id": agent.id, "connection": NSNull()])
            }
            let number = config["virtual_number"] as? String ?? "{virtual_number}"
            let callType = config["call_type"] as? String ?? "inbound"
            config["path"] = "/ws-adapter/\(vendor)/\(callType)/\(agent.id)/\(agent.outletId)/\(number)"
            config["available"] = server.catalog.template(vendor) != nil
            return API.ok(["agent_id": agent.id, "connection": config])
        }

        api.get("agents/:agent_id/connection") { request, context in
            let outlet = try await platform.outlet(request)
            try Fields(query: request).finish()
            let agent = try await platform.agent(try pathID(context, "agent_id"), outlet: outlet)
            let stored = try await platform.store.agentSetting(agent: agent.id, key: "connection").flatMap { JSONSerialization.object($0) as? [String: Any] }
            return answer(agent, stored)
        }

        api.put("agents/:agent_id/connection") { request, context in
            let outlet = try await platform.outlet(request)
            let agent = try await platform.agent(try pathID(context, "agent_id"), outlet: outlet)
            var fields = Fields(try await API.body(request, limit: limit))
            let vendor = fields.string("vendor", required: true, max: 32, pattern: namePattern)
            let callType = fields.oneOf("call_type", ["inbound", "outbound"]) ?? "inbound"
            let number = fields.string("virtual_number", max: 64, pattern: "^[!-~]{1,64}$")
            try fields.finish()
            guard let vendor else { throw APIError.badRequest("vendor is required") }
            // A vendor another outlet made is not this outlet's to use by name here.
            if let record = try await platform.store.vendor(vendor), record.outletId != outlet { throw APIError.notFound("no connection vendor \(vendor)") }
            guard server.catalog.template(vendor) != nil else { throw APIError.notFound("no connection vendor \(vendor)") }
            var config: [String: Any] = ["vendor": vendor, "call_type": callType]
            if let number { config["virtual_number"] = number }
            try await stored { try await platform.store.setAgentSetting(agent: agent.id, key: "connection", json: JSONSerialization.text(config)) }
            return answer(agent, config)
        }
    }

    private static func vendorName(_ context: BasicWebSocketRequestContext) throws -> String {
        guard let name = context.parameters.get("name"), name.range(of: namePattern, options: .regularExpression) != nil else {
            throw APIError.notFound("a connection vendor name matches \(namePattern)")
        }
        return name
    }

    /// 404 for another outlet's vendor or none; 403 for a built-in one.
    private static func ownVendor(_ platform: PlatformAPI, _ name: String, _ outlet: Int) async throws {
        if let vendor = try await platform.store.vendor(name) {
            guard vendor.outletId == outlet else { throw APIError.notFound("no connection vendor \(name)") }
            return
        }
        throw APIError.notFound("no connection vendor \(name) of this outlet (built-in ones cannot be changed)")
    }

    /// The template checked by the library; its JSON as stored.
    private static func checked(_ template: [String: Any]) throws -> String {
        let json = JSONSerialization.text(template)
        do throws(TemplateError) {
            _ = try ProviderTemplate(json: Array(json.utf8))
        } catch {
            var problems: [String] = []
            if case .invalid(let list) = error { problems = list.map(\.description) }
            throw APIError.unprocessable(error.message, ["problems": problems])
        }
        return json
    }
}
