// A call's token checked without suspending (the WebSocket upgrade gate runs on an event loop): the
// same HS256 JWT the API hands out, its signature checked with swift-crypto's HMAC in constant time,
// then its expiry, issuer and outlet. Any failure is a refusal with a reason.

import Crypto
import Foundation

struct CallTokenRefusal: Error { var message: String }

enum CallToken {
    /// The token's outlet, or why it is refused.
    static func verify(_ token: String, key: SymmetricKey, now: Date = Date()) -> Result<Int, CallTokenRefusal> {
        guard token.utf8.count <= 4096 else { return .failure(CallTokenRefusal(message: "the token is too long")) }
        guard isCompact(token) else { return .failure(CallTokenRefusal(message: "the token is malformed")) }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let header = decode(parts[0]), let payload = decode(parts[1]), let signature = decode(parts[2]) else {
            return .failure(CallTokenRefusal(message: "the token is malformed"))
        }
        guard let head = try? JSONSerialization.jsonObject(with: Data(header)) as? [String: Any], head["alg"] as? String == "HS256" else {
            return .failure(CallTokenRefusal(message: "the token is not HS256"))
        }
        let signed = Data((parts[0] + "." + parts[1]).utf8)
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: signed, using: key) else {
            return .failure(CallTokenRefusal(message: "the token's signature is not this server's"))
        }
        guard let claims = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any],
              let exp = (claims["exp"] as? NSNumber)?.doubleValue, claims["iss"] as? String == APIClaims.issuer else {
            return .failure(CallTokenRefusal(message: "the token's claims are not valid"))
        }
        guard now.timeIntervalSince1970 < exp else { return .failure(CallTokenRefusal(message: "the token has expired")) }
        guard claims["role"] as? String == "outlet", let outlet = (claims["outlet_id"] as? NSNumber)?.intValue else {
            return .failure(CallTokenRefusal(message: "the token is not an outlet's"))
        }
        return .success(outlet)
    }

    /// Three dot-separated parts of base64url characters, no padding.
    static func isCompact(_ token: String) -> Bool {
        token.utf8.filter { $0 == UInt8(ascii: ".") }.count == 2 && token.utf8.allSatisfy {
            ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d || $0 == 0x5f || $0 == 0x2e
        }
    }

    private static func decode(_ part: Substring) -> [UInt8]? {
        var text = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.utf8.count % 4 != 0 { text += "=" }
        return Data(base64Encoded: text).map(Array.init)
    }
}
