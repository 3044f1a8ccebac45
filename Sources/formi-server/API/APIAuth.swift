// Tokens: an outlet's secret (bcrypt-hashed in the store) or the admin secret gives a JWT signed with
// HMAC-SHA-256 (jwt-kit) that expires; every API request and, when configured, every call carries one.
// bcrypt is slow by design, so hashing and checking run on NIO's thread pool, not an event loop.

import Foundation
import HummingbirdBcrypt
import JWTKit
import NIOPosix
import Synchronization

struct APIClaims: JWTPayload {
    var sub: SubjectClaim
    var exp: ExpirationClaim
    var iat: IssuedAtClaim
    var iss: IssuerClaim
    /// "outlet" or "admin".
    var role: String
    var outlet_id: Int?

    func verify(using algorithm: some JWTAlgorithm) throws {
        try exp.verifyNotExpired()
        guard iss.value == APIClaims.issuer else { throw JWTError.claimVerificationFailure(failedClaim: iss, reason: "not this server's") }
        guard role == "admin" || (role == "outlet" && outlet_id != nil) else { throw JWTError.generic(identifier: "role", reason: "unknown role") }
    }

    static let issuer = "formi-server"
}

/// Who a request comes from.
enum Principal: Sendable {
    case outlet(Int)
    case admin

    var outletId: Int? { if case .outlet(let id) = self { id } else { nil } }
}

final class TokenIssuer: Sendable {
    private let keys: JWTKeyCollection
    let ttl: Int

    init(secret: String, ttl: Int) async {
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.ttl = ttl
    }

    func issue(_ principal: Principal) async throws -> (token: String, expiresAt: Date) {
        let now = Date()
        let expires = now.addingTimeInterval(TimeInterval(ttl))
        let claims = APIClaims(sub: SubjectClaim(value: principal.outletId.map { "outlet:\($0)" } ?? "admin"),
                               exp: ExpirationClaim(value: expires), iat: IssuedAtClaim(value: now),
                               iss: IssuerClaim(value: APIClaims.issuer),
                               role: principal.outletId == nil ? "admin" : "outlet", outlet_id: principal.outletId)
        return (try await keys.sign(claims), expires)
    }

    /// The principal of a valid token, or why not.
    func verify(_ token: String) async -> Result<Principal, APIError> {
        guard token.utf8.count <= 4096 else { return .failure(.unauthorized("the token is too long")) }
        // Compact JWS only (RFC 7515): base64url without padding. jwt-kit also takes padded parts, which
        // would make one token many.
        guard CallToken.isCompact(token) else { return .failure(.unauthorized("the token is not valid (malformed)")) }
        do {
            let claims = try await keys.verify(token, as: APIClaims.self)
            if claims.role == "admin" { return .success(.admin) }
            guard let outlet = claims.outlet_id else { return .failure(.unauthorized("the token names no outlet")) }
            return .success(.outlet(outlet))
        } catch let error as JWTError where "\(error)".contains("expired") {
            return .failure(.unauthorized("the token has expired; log in again"))
        } catch {
            return .failure(.unauthorized("the token is not valid (malformed, or not signed by this server)"))
        }
    }
}

enum Secrets {
    static let cost: UInt8 = 10

    static func hash(_ secret: String) async throws -> String {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(secret, cost: cost) }
    }

    static func verify(_ secret: String, hash: String) async -> Bool {
        (try? await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(secret, hash: hash) }) ?? false
    }

    /// A random key (hex) for signing tokens.
    static func randomKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}

/// At most `limit` failed login attempts a minute per key (an outlet id, "admin"): a sliding window of
/// the failures' times. While a key is over its limit every attempt is refused, the right secret too, so
/// a guesser gets `limit` tries a minute; a client that logs in correctly is never held up.
final class LoginLimiter: Sendable {
    private let limit: Int
    private let failures = Mutex<[String: [Double]]>([:])

    init(limit: Int) { self.limit = limit }

    /// nil: go ahead; else the seconds to wait.
    func wait(_ key: String, now: Double = Date().timeIntervalSince1970) -> Int? {
        failures.withLock { table in
            let times = (table[key] ?? []).filter { now - $0 < 60 }
            table[key] = times.isEmpty ? nil : times
            guard times.count >= limit, let first = times.first else { return nil }
            return max(1, Int((60 - (now - first)).rounded(.up)))
        }
    }

    func failed(_ key: String, now: Double = Date().timeIntervalSince1970) {
        failures.withLock { table in
            if table.count > 10_000 { table = table.filter { $0.value.last.map { now - $0 < 60 } ?? false } }
            table[key, default: []].append(now)
            if let count = table[key]?.count, count > limit { table[key]?.removeFirst(count - limit) }
        }
    }
}
