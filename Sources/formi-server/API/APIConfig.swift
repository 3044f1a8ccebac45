// The platform API's part of the configuration file (`"api": {...}`); every field optional.

struct APIConfig: Codable, Sendable {
    /// Outlet id -> its API secret as first given. Hashed (bcrypt) into the store at start; the store
    /// keeps only the hash. The demo outlet's is the README's walk-through secret.
    var outletSecrets: [String: String] = ["1": "luigi-demo-secret"]
    /// The secret that gives an admin token (set credits); none: no admin tokens. FORMI_ADMIN_SECRET
    /// in the environment is used when this is absent.
    var adminSecret: String?
    /// The key tokens are signed with (HMAC-SHA-256); absent: one made at first start and kept in the store.
    var tokenSecret: String?
    var tokenTTLSeconds = 3600
    /// Whether /ws-adapter calls need a token (an `Authorization: Bearer` header or a `token` query
    /// parameter, for providers that cannot set headers) of the call's outlet.
    var callTokens = false
    /// Twilio's account auth token and the public base URL Twilio connects to (e.g. wss://calls.example.com):
    /// with both, a call carrying a valid X-Twilio-Signature needs no token.
    var twilioAuthToken: String?
    var publicBaseURL: String?
    /// Outlets whose calls never need a token (the demo outlet).
    var openOutlets: [Int] = [1]
    /// Largest request body the API reads.
    var maxBodyBytes = 1 << 20
    /// Failed login attempts per outlet (and for admin) a minute; beyond them logins are refused with 429.
    var loginAttemptsPerMinute = 10

    enum CodingKeys: String, CodingKey {
        case outletSecrets, adminSecret, tokenSecret, tokenTTLSeconds = "tokenTtlSeconds", callTokens, openOutlets, maxBodyBytes, loginAttemptsPerMinute
        case twilioAuthToken, publicBaseURL = "publicBaseUrl"
    }

    init() {}
    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = APIConfig()
        outletSecrets = try c.decodeIfPresent([String: String].self, forKey: .outletSecrets) ?? d.outletSecrets
        adminSecret = try c.decodeIfPresent(String.self, forKey: .adminSecret)
        tokenSecret = try c.decodeIfPresent(String.self, forKey: .tokenSecret)
        tokenTTLSeconds = try c.decodeIfPresent(Int.self, forKey: .tokenTTLSeconds) ?? d.tokenTTLSeconds
        callTokens = try c.decodeIfPresent(Bool.self, forKey: .callTokens) ?? d.callTokens
        twilioAuthToken = try c.decodeIfPresent(String.self, forKey: .twilioAuthToken)
        publicBaseURL = try c.decodeIfPresent(String.self, forKey: .publicBaseURL)
        openOutlets = try c.decodeIfPresent([Int].self, forKey: .openOutlets) ?? d.openOutlets
        maxBodyBytes = try c.decodeIfPresent(Int.self, forKey: .maxBodyBytes) ?? d.maxBodyBytes
        loginAttemptsPerMinute = try c.decodeIfPresent(Int.self, forKey: .loginAttemptsPerMinute) ?? d.loginAttemptsPerMinute
    }

    func problems() -> [String] {
        var problems: [String] = []
        if !(60...86_400 * 30).contains(tokenTTLSeconds) { problems.append("api.token_ttl_seconds must be 60 to 2592000") }
        if !(1024...(64 << 20)).contains(maxBodyBytes) { problems.append("api.max_body_bytes must be 1 KiB to 64 MiB") }
        if loginAttemptsPerMinute < 1 { problems.append("api.login_attempts_per_minute must be at least 1") }
        if (twilioAuthToken == nil) != (publicBaseURL == nil) { problems.append("api.twilio_auth_token and api.public_base_url go together") }
        if let base = publicBaseURL, !(base.hasPrefix("wss://") || base.hasPrefix("ws://")) || base.hasSuffix("/") {
            problems.append("api.public_base_url must be ws:// or wss:// and a host, without a trailing slash")
        }
        if let secret = tokenSecret, secret.utf8.count < 32 { problems.append("api.token_secret must be at least 32 bytes") }
        for (id, secret) in outletSecrets {
            if Int(id) == nil { problems.append("api.outlet_secrets: \(id) is not an outlet id") }
            if secret.utf8.count < 8 || secret.utf8.count > 72 { problems.append("api.outlet_secrets[\(id)] must be 8 to 72 bytes (bcrypt's limit)") }
        }
        return problems
    }
}
