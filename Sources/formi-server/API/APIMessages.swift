// The API's answers ({"success": true, ...} or {"success": false, "message": ...} with a 4xx/5xx) and
// the reading of request bodies and query parameters: every problem named, unknown fields refused.

import Foundation
import Hummingbird
import NIOCore

/// A refused request: its status, a message, and optional details (e.g. a flow's problems).
struct APIError: HTTPResponseError {
    var status: HTTPResponse.Status
    var message: String
    /// More fields of the answer (e.g. a flow's problems), kept as JSON text so the error is Sendable.
    private var detailsJSON = "{}"
    var headers: HTTPFields = [:]

    init(status: HTTPResponse.Status, message: String, details: [String: Any] = [:], headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.headers = headers
        if !details.isEmpty { detailsJSON = JSONSerialization.text(details) }
    }

    static func badRequest(_ m: String, _ details: [String: Any] = [:]) -> APIError { APIError(status: .badRequest, message: m, details: details) }
    static func notFound(_ m: String) -> APIError { APIError(status: .notFound, message: m) }
    static func forbidden(_ m: String) -> APIError { APIError(status: .forbidden, message: m) }
    static func conflict(_ m: String) -> APIError { APIError(status: .conflict, message: m) }
    static func unprocessable(_ m: String, _ details: [String: Any] = [:]) -> APIError { APIError(status: .unprocessableContent, message: m, details: details) }
    static func unauthorized(_ m: String) -> APIError {
        APIError(status: .unauthorized, message: m, headers: [.wwwAuthenticate: "Bearer"])
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var object = JSONSerialization.object(detailsJSON) as? [String: Any] ?? [:]
        object["success"] = false
        object["message"] = message
        var response = API.json(object, status: status)
        for field in headers { response.headers.append(field) }
        return response
    }
}

enum API {
    static func json(_ object: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let body = Data(JSONSerialization.text(object).utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// `{"success": true, ...}`.
    static func ok(_ object: [String: Any]) -> Response {
        var object = object
        object["success"] = true
        return json(object)
    }

    /// The body's JSON object, or nil when there is no body.
    static func optionalBody(_ request: Request, limit: Int) async throws -> [String: Any]? {
        let length = request.headers[.contentLength].flatMap { Int($0) }
        if length == 0 || (length == nil && request.headers[.transferEncoding] == nil) { return nil }
        return try await body(request, limit: limit)
    }

    /// A JSON object from the request body, at most `limit` bytes.
    static func body(_ request: Request, limit: Int) async throws -> [String: Any] {
        if let type = request.headers[.contentType], !type.lowercased().hasPrefix("application/json") {
            throw APIError(status: .unsupportedMediaType, message: "the body must be application/json")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw APIError(status: .contentTooLarge, message: "the body is larger than \(limit) bytes")
        }
        guard buffer.readableBytes > 0 else { throw APIError.badRequest("the body is empty; a JSON object is expected") }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView), options: [])
        } catch {
            throw APIError.badRequest("the body is not valid JSON")
        }
        guard let object = parsed as? [String: Any] else { throw APIError.badRequest("the body must be a JSON object") }
        return object
    }
}

/// Reads typed fields from a JSON object (a body) or from query parameters, collecting every problem,
/// then `finish()` refuses unknown fields and throws them all at once.
struct Fields {
    private let object: [String: Any]
    private var seen: Set<String> = []
    private(set) var problems: [String] = []

    init(_ object: [String: Any]) { self.object = object }

    init(query request: Request) {
        var object: [String: Any] = [:]
        for (name, value) in request.uri.queryParameters { object[String(name)] = String(value) }
        self.object = object
        fromQuery = true
    }

    private var fromQuery = false

    mutating func has(_ key: String) -> Bool { seen.insert(key); return object[key] != nil && !(object[key] is NSNull) }

    mutating func string(_ key: String, required: Bool = false, max: Int = 200, pattern: String? = nil) -> String? {
        seen.insert(key)
        guard let raw = object[key], !(raw is NSNull) else {
            if required { problems.append("\(key) is required") }
            return nil
        }
        guard let text = raw as? String else { problems.append("\(key) must be a string"); return nil }
        guard !text.isEmpty, text.utf8.count <= max else { problems.append("\(key) must be 1 to \(max) bytes"); return nil }
        guard !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
            problems.append("\(key) must not contain control characters"); return nil
        }
        if let pattern, text.range(of: pattern, options: .regularExpression) == nil {
            problems.append("\(key) must match \(pattern)"); return nil
        }
        return text
    }

    mutating func int(_ key: String, required: Bool = false, in range: ClosedRange<Int> = 1...Int(Int32.max)) -> Int? {
        seen.insert(key)
        guard let raw = object[key], !(raw is NSNull) else {
            if required { problems.append("\(key) is required") }
            return nil
        }
        var value: Int?
        if fromQuery, let text = raw as? String {
            if text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 || $0 == 0x2d }) { value = Int(text) }
        } else if let number = raw as? NSNumber, !Fields.isBool(number) {
            let double = number.doubleValue
            if double == double.rounded(), abs(double) < 9e15 { value = Int(double) }
        }
        guard let value else { problems.append("\(key) must be an integer"); return nil }
        guard range.contains(value) else { problems.append("\(key) must be \(range.lowerBound) to \(range.upperBound)"); return nil }
        return value
    }

    mutating func bool(_ key: String) -> Bool? {
        seen.insert(key)
        guard let raw = object[key], !(raw is NSNull) else { return nil }
        if fromQuery, let text = raw as? String {
            if text == "true" { return true }
            if text == "false" { return false }
        } else if let number = raw as? NSNumber, Fields.isBool(number) {
            return number.boolValue
        }
        problems.append("\(key) must be true or false")
        return nil
    }

    mutating func object(_ key: String, required: Bool = false) -> [String: Any]? {
        seen.insert(key)
        guard let raw = object[key], !(raw is NSNull) else {
            if required { problems.append("\(key) is required") }
            return nil
        }
        guard let value = raw as? [String: Any] else { problems.append("\(key) must be an object"); return nil }
        return value
    }

    /// The value as given (for fields handed on to the library, which checks them).
    mutating func any(_ key: String) -> Any? { seen.insert(key); return object[key] }

    mutating func oneOf(_ key: String, _ allowed: [String], required: Bool = false) -> String? {
        guard let text = string(key, required: required, max: 64) else { return nil }
        guard allowed.contains(text) else { problems.append("\(key) must be one of \(allowed.joined(separator: ", "))"); return nil }
        return text
    }

    /// JSON true/false (Foundation hands them out as NSNumbers of type "c").
    static func isBool(_ number: NSNumber) -> Bool { String(cString: number.objCType) == "c" }

    mutating func problem(_ text: String) { problems.append(text) }

    /// Throws every problem found, unknown fields included.
    func finish() throws {
        var all = problems
        let unknown = Set(object.keys).subtracting(seen).sorted()
        if !unknown.isEmpty { all.append("unknown field\(unknown.count > 1 ? "s" : ""): \(unknown.map { String($0.prefix(64)) }.joined(separator: ", "))") }
        if !all.isEmpty { throw APIError.badRequest(all.joined(separator: "; "), ["problems": all]) }
    }
}

extension JSONSerialization {
    /// An object as sorted, compact JSON text.
    /// Any value, a bare number or string included: wrapped in an array first, as Foundation on Linux
    /// traps (rather than throws) on a top level that is not an array or object, and on values it cannot
    /// write (checked by isValidJSONObject).
    static func text(_ value: Any) -> String {
        let wrapped: [Any] = [value]
        guard isValidJSONObject(wrapped),
              let data = try? data(withJSONObject: wrapped, options: [.sortedKeys, .withoutEscapingSlashes]) else { return "null" }
        return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
    }

    static func object(_ text: String) -> Any? { try? jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) }
}

/// Every refusal under /api/ in the API's shape: an unknown path or method, or an error the routes did
/// not turn into an APIError, becomes {"success": false, "message": ...} with its status.
struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix("/api/") else { return try await next(request, context) }
        do {
            return try await next(request, context)
        } catch let error as APIError {
            throw error
        } catch let error as HTTPError {
            let message = error.body ?? (error.status == .notFound ? "no such endpoint: \(request.method) \(request.uri.path.prefix(200))"
                                                                   : error.status.reasonPhrase)
            throw APIError(status: error.status, message: message)
        } catch let error as HTTPResponseError {
            throw APIError(status: error.status, message: error.status.reasonPhrase)
        } catch {
            context.logger.error("API request failed: \(error)")
            throw APIError(status: .internalServerError, message: "internal error")
        }
    }
}
