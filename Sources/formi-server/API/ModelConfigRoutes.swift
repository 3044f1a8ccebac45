// Model configuration (seed 000, "Model Configuration"): the catalogue of providers, models and their
// parameters (a data file, API/models.json), and an agent's configuration per kind, checked against
// the catalogue (every problem named) before it is stored.

import Foundation
import Hummingbird
import HummingbirdWebSocket

enum ModelConfigRoutes {
    static let kinds = ["CONVERSATION", "TRANSITION", "TTS", "STT"]

    static func add(to api: RouterGroup<BasicWebSocketRequestContext>, server: ServerContext) {
        let platform = server.api
        let limit = platform.config.maxBodyBytes
        let catalogue = Catalogue.shared

        api.get("model-config/providers") { request, _ in
            _ = try await platform.outlet(request)
            var fields = Fields(query: request)
            let kind = fields.oneOf("kind", kinds)
            try fields.finish()
            let providers = catalogue.providers.filter { kind == nil || $0.kinds.contains(kind ?? "") }
            return API.ok(["providers": providers.map { ["name": $0.name, "kinds": $0.kinds] }])
        }

        api.get("model-config/models") { request, _ in
            _ = try await platform.outlet(request)
            var fields = Fields(query: request)
            let provider = fields.string("provider", required: true, max: 64)
            try fields.finish()
            guard let found = catalogue.providers.first(where: { $0.name == provider }) else {
                throw APIError.notFound("no provider \(provider?.prefix(64) ?? "") in the catalogue")
            }
            return API.ok(["provider": found.name, "models": found.models.map { ["name": $0.name, "parameters": $0.parameters] }])
        }

        api.get("model-config/parameters") { request, _ in
            _ = try await platform.outlet(request)
            var fields = Fields(query: request)
            let provider = fields.string("provider", required: true, max: 64)
            let model = fields.string("model", required: true, max: 64)
            try fields.finish()
            guard let found = catalogue.model(provider ?? "", model ?? "") else {
                throw APIError.notFound("no model \(model?.prefix(64) ?? "") of provider \(provider?.prefix(64) ?? "") in the catalogue")
            }
            var parameters: [String: Any] = [:]
            for name in found.parameters { parameters[name] = catalogue.parameters[name] ?? [:] }
            return API.ok(["provider": provider ?? "", "model": model ?? "", "parameters": parameters])
        }

        api.get("agents/:agent_id/model-config") { request, context in
            let outlet = try await platform.outlet(request)
            try Fields(query: request).finish()
            let agent = try await platform.agent(try pathID(context, "agent_id"), outlet: outlet)
            let stored = try await platform.store.agentSetting(agent: agent.id, key: "model_config").flatMap { JSONSerialization.object($0) }
            return API.ok(["agent_id": agent.id, "model_config": stored ?? [String: Any]()])
        }

        // Sets one kind's provider, model and parameters; the other kinds are kept.
        api.put("agents/:agent_id/model-config") { request, context in
            let outlet = try await platform.outlet(request)
            let agent = try await platform.agent(try pathID(context, "agent_id"), outlet: outlet)
            var fields = Fields(try await API.body(request, limit: limit))
            let kind = fields.oneOf("kind", kinds, required: true)
            let provider = fields.string("provider", required: true, max: 64)
            let model = fields.string("model", required: true, max: 64)
            let parameters = fields.object("parameters") ?? [:]
            try fields.finish()
            guard let kind, let provider, let model else { throw APIError.badRequest("kind, provider and model are required") }
            let problems = catalogue.problems(kind: kind, provider: provider, model: model, parameters: parameters)
            if !problems.isEmpty {
                throw APIError.unprocessable("the configuration does not fit the catalogue: " + problems.joined(separator: "; "), ["problems": problems])
            }
            var config = try await platform.store.agentSetting(agent: agent.id, key: "model_config")
                .flatMap { JSONSerialization.object($0) as? [String: Any] } ?? [:]
            config[kind] = ["provider": provider, "model": model, "parameters": parameters]
            try await stored { try await platform.store.setAgentSetting(agent: agent.id, key: "model_config", json: JSONSerialization.text(config)) }
            return API.ok(["agent_id": agent.id, "model_config": config])
        }
    }
}

/// API/models.json, read once.
struct Catalogue: @unchecked Sendable {
    struct Model { var name: String; var parameters: [String] }
    struct Provider { var name: String; var kinds: [String]; var models: [Model] }

    let providers: [Provider]
    /// Parameter name -> its rule (type, minimum, maximum, pattern, default, description).
    let parameters: [String: [String: Any]]

    static let shared: Catalogue = {
        guard let url = Bundle.module.url(forResource: "models", withExtension: "json"), let data = try? Data(contentsOf: url),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            return Catalogue(providers: [], parameters: [:])
        }
        let providers = (root["providers"] as? [[String: Any]] ?? []).map { p in
            Provider(name: p["name"] as? String ?? "", kinds: p["kinds"] as? [String] ?? [],
                     models: (p["models"] as? [[String: Any]] ?? []).map { Model(name: $0["name"] as? String ?? "", parameters: $0["parameters"] as? [String] ?? []) })
        }
        return Catalogue(providers: providers, parameters: root["parameters"] as? [String: [String: Any]] ?? [:])
    }()

    func model(_ provider: String, _ model: String) -> Model? {
        providers.first { $0.name == provider }?.models.first { $0.name == model }
    }

    func problems(kind: String, provider: String, model: String, parameters: [String: Any]) -> [String] {
        guard let found = providers.first(where: { $0.name == provider }) else {
            return ["provider \(provider.prefix(64)) is not in the catalogue (known: \(providers.map(\.name).joined(separator: ", ")))"]
        }
        var problems: [String] = []
        if !found.kinds.contains(kind) { problems.append("provider \(provider) does not serve \(kind) (it serves \(found.kinds.joined(separator: ", ")))") }
        guard let entry = found.models.first(where: { $0.name == model }) else {
            return problems + ["model \(model.prefix(64)) is not one of \(provider)'s (\(found.models.map(\.name).joined(separator: ", ")))"]
        }
        for (name, value) in parameters.sorted(by: { $0.key < $1.key }) {
            guard entry.parameters.contains(name), let rule = self.parameters[name] else {
                problems.append("parameter \(name.prefix(64)) does not apply to \(model) (it takes \(entry.parameters.joined(separator: ", ")))")
                continue
            }
            problems += Self.check(name, value, rule)
        }
        return problems
    }

    private static func check(_ name: String, _ value: Any, _ rule: [String: Any]) -> [String] {
        switch rule["type"] as? String {
        case "number", "integer":
            guard let number = value as? NSNumber, !Fields.isBool(number) else { return ["\(name) must be a number"] }
            let v = number.doubleValue
            if rule["type"] as? String == "integer", v != v.rounded() { return ["\(name) must be an integer"] }
            if let min = (rule["minimum"] as? NSNumber)?.doubleValue, v < min { return ["\(name) must be at least \(min)"] }
            if let max = (rule["maximum"] as? NSNumber)?.doubleValue, v > max { return ["\(name) must be at most \(max)"] }
            return []
        case "string":
            guard let text = value as? String, (1...200).contains(text.utf8.count) else { return ["\(name) must be a string of 1 to 200 bytes"] }
            if let pattern = rule["pattern"] as? String, text.range(of: pattern, options: .regularExpression) == nil { return ["\(name) must match \(pattern)"] }
            return []
        default:
            return ["\(name) has no rule in the catalogue"]
        }
    }
}
