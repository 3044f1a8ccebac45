// The platform API's state: the store, the token issuer, the login limiter. `bootstrap` seeds the store
// from the configuration (outlets, their secrets, the configured agents and their flows) and fills the
// catalog that calls read, so `make demo` runs as before and the API sees the demo agent.

import Crypto
import FormiCore
import Foundation
import Hummingbird
import Logging
import NIOHTTP1
import Synchronization

final class PlatformAPI: Sendable {
    let config: APIConfig
    let store: any APIStore
    let limiter: LoginLimiter
    let webhooks = WebhookSender()
    private let logger: Logger
    private let issuer = Mutex<TokenIssuer?>(nil)
    private let signingKey = Mutex<SymmetricKey?>(nil)

    init(config: ServerConfig, logger: Logger) throws {
        self.config = config.api
        store = try SQLiteAPIStore(dataDir: config.dataDir)
        limiter = LoginLimiter(limit: config.api.loginAttemptsPerMinute)
        self.logger = logger
    }

    var tokens: TokenIssuer {
        get throws {
            guard let issuer = issuer.withLock({ $0 }) else { throw APIError(status: .serviceUnavailable, message: "the API is starting") }
            return issuer
        }
    }

    var adminSecret: String? { config.adminSecret ?? ProcessInfo.processInfo.environment["FORMI_ADMIN_SECRET"] }

    func bootstrap(server config: ServerConfig, catalog: Catalog) async throws {
        let secret: String
        if let configured = self.config.tokenSecret {
            secret = configured
        } else {
            secret = try await store.settingOrInsert("token_secret", Secrets.randomKey())
        }
        let made = await TokenIssuer(secret: secret, ttl: self.config.tokenTTLSeconds)
        issuer.withLock { $0 = made }
        signingKey.withLock { $0 = SymmetricKey(data: Array(secret.utf8)) }

        for outlet in config.outlets {
            try await store.ensureOutlet(id: outlet.outletId, name: outlet.name)
            if let given = self.config.outletSecrets[String(outlet.outletId)] {
                let stored = try await store.outlet(outlet.outletId)?.secretHash
                let current = if let stored { await Secrets.verify(given, hash: stored) } else { false }
                if !current {
                    try await store.setOutletSecret(outlet.outletId, hash: try await Secrets.hash(given))
                }
            }
        }
        // The configured agents go to the first outlet (the demo's), once; afterwards the store is theirs.
        if let owner = config.outlets.first?.outletId {
            let now = Date().timeIntervalSince1970
            for agent in config.agents where try await store.agent(agent.agentId, outlet: nil) == nil {
                guard let flow = catalog.flows[agent.flow] else { continue }
                var record = AgentRecord(id: agent.agentId, outletId: owner, name: agent.name, voice: agent.voice, rate: agent.rate,
                                         flowJSON: String(decoding: flow.definition.jsonBytes, as: UTF8.self), createdAt: now, updatedAt: now)
                record = try await store.createAgent(record)
            }
        }
        for record in try await store.agents(outlet: nil) {
            do throws(FlowError) {
                catalog.set(agent: record, flow: try CompiledFlow.compile(json: Array(record.flowJSON.utf8)))
            } catch {
                logger.error("agent \(record.id)'s stored flow does not compile: \(error.message)")
            }
        }
        for vendor in try await store.vendors() { catalog.set(template: vendor.name, json: Array(vendor.templateJSON.utf8)) }
    }

    /// The principal of the request's bearer token.
    func principal(_ request: Request) async throws -> Principal {
        guard let header = request.headers[.authorization] else {
            throw APIError.unauthorized("an Authorization: Bearer token is required (POST /api/v1/auth/token)")
        }
        guard header.lowercased().hasPrefix("bearer ") else { throw APIError.unauthorized("the Authorization header must be Bearer <token>") }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        return try await tokens.verify(token).get()
    }

    /// The outlet of the request's token; an admin token is refused (admin tokens do admin operations only).
    func outlet(_ request: Request) async throws -> Int {
        guard let outlet = try await principal(request).outletId else {
            throw APIError.forbidden("this endpoint takes an outlet's token, not an admin token")
        }
        return outlet
    }

    func requireAdmin(_ request: Request) async throws {
        guard case .admin = try await principal(request) else { throw APIError.forbidden("this operation needs an admin token") }
    }

    /// The outlet's agent, or 404 (another outlet's agent is as absent as a missing one).
    func agent(_ id: Int, outlet: Int) async throws -> AgentRecord {
        guard let agent = try await store.agent(id, outlet: outlet) else { throw APIError.notFound("no agent \(id)") }
        return agent
    }

    /// Whether a call may go ahead: nil, or why not. Only when the configuration asks for call
    /// credentials; the open outlets (the demo's) never need them. A credential is the outlet's token
    /// (`Authorization: Bearer`, or a `token` query parameter for providers that cannot set headers), or
    /// Twilio's `X-Twilio-Signature` of the URL when `api.twilio_auth_token` is set. Synchronous (the
    /// upgrade gate is a NIO handler), so signatures are checked here with swift-crypto, not jwt-kit's actor.
    func callRefusal(route: CallRoute, uri: String, query: String?, headers: HTTPHeaders, agentOwner: Int?) -> String? {
        guard config.callTokens, !config.openOutlets.contains(route.outletId) else { return nil }
        if let agentOwner, agentOwner != route.outletId { return "the agent is not this outlet's" }
        if let signature = headers.first(name: "x-twilio-signature"), let authToken = config.twilioAuthToken, let base = config.publicBaseURL {
            // Twilio signs the URL it connects to (base64 of HMAC-SHA1 with the account's auth token).
            let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Data((base + uri).utf8), using: SymmetricKey(data: Array(authToken.utf8)))
            let expected = Data(mac).base64EncodedString()
            return expected.utf8.count == signature.utf8.count && zip(expected.utf8, signature.utf8).reduce(0, { $0 | ($1.0 ^ $1.1) }) == 0
                ? nil : "the X-Twilio-Signature does not match this URL"
        }
        let authorization = headers.first(name: "authorization")
        let token = authorization.flatMap { $0.lowercased().hasPrefix("bearer ") ? String($0.dropFirst(7)) : nil }
            ?? query.flatMap { URLComponents(string: "/?" + $0)?.queryItems?.first { $0.name == "token" }?.value }
        guard let token else { return "this outlet's calls need a token (Authorization: Bearer, or a token query parameter)" }
        guard let key = signingKey.withLock({ $0 }) else { return "the server is starting" }
        switch CallToken.verify(token, key: key) {
        case .failure(let refusal): return refusal.message
        case .success(let tokenOutlet):
            return tokenOutlet == route.outletId ? nil : "the token is not this outlet's"
        }
    }
}

extension StoreError {
    var api: APIError {
        switch kind {
        case .notFound: .notFound(message)
        case .conflict: .conflict(message)
        case .invalid: .badRequest(message)
        case .database: APIError(status: .internalServerError, message: "the store failed: \(message)")
        }
    }
}
