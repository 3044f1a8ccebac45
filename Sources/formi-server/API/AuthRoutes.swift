// Login (seed 000, "Generate Token"): an outlet's id and secret, or the admin secret, for a signed
// token that expires. Failed attempts are limited per outlet (and for admin) a minute.

import Foundation
import Hummingbird
import HummingbirdWebSocket

enum AuthRoutes {
    static func add(to api: RouterGroup<BasicWebSocketRequestContext>, server: ServerContext) {
        let platform = server.api

        api.post("auth/token") { request, _ in
            var fields = Fields(try await API.body(request, limit: 4096))
            let outlet = fields.int("outlet_id", required: true)
            let secret = fields.string("secret", required: true, max: 72)
            try fields.finish()
            guard let outlet, let secret else { throw APIError.badRequest("outlet_id and secret are required") }
            try admit(platform, "outlet:\(outlet)")
            guard let hash = try await platform.store.outlet(outlet)?.secretHash, await Secrets.verify(secret, hash: hash) else {
                platform.limiter.failed("outlet:\(outlet)")
                throw APIError.unauthorized("the outlet id or secret is wrong")
            }
            let (token, expires) = try await platform.tokens.issue(.outlet(outlet))
            return API.ok(["token": token, "token_type": "Bearer", "expires_at": iso(expires.timeIntervalSince1970),
                           "expires_in": try platform.tokens.ttl, "outlet_id": outlet])
        }

        api.post("auth/admin-token") { request, _ in
            var fields = Fields(try await API.body(request, limit: 4096))
            let secret = fields.string("secret", required: true, max: 200)
            try fields.finish()
            try admit(platform, "admin")
            guard let expected = platform.adminSecret else { throw APIError.forbidden("no admin secret is configured (api.admin_secret)") }
            guard let secret, constantTimeEqual(secret, expected) else {
                platform.limiter.failed("admin")
                throw APIError.unauthorized("the admin secret is wrong")
            }
            let (token, expires) = try await platform.tokens.issue(.admin)
            return API.ok(["token": token, "token_type": "Bearer", "expires_at": iso(expires.timeIntervalSince1970),
                           "expires_in": try platform.tokens.ttl])
        }
    }

    private static func admit(_ platform: PlatformAPI, _ key: String) throws {
        if let wait = platform.limiter.wait(key) {
            throw APIError(status: .tooManyRequests, message: "too many login attempts; try again in \(wait) s",
                           headers: [.retryAfter: String(wait)])
        }
    }

    private static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) { difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0) }
        return difference == 0
    }
}
