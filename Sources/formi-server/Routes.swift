// HTTP: the WebSocket endpoint of seed 004 (checked before the upgrade: a refused call gets a 4xx or
// 503 with {"success": false, "message": ...}), health, readiness and metrics.

import Foundation
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import NIOHTTP1

/// A call refused before the upgrade.
struct Refusal: HTTPResponseError {
    var status: HTTPResponse.Status
    var message: String
    var reason: String

    var body: [UInt8] {
        Array((try? JSONSerialization.data(withJSONObject: ["success": false, "message": message], options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data())
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if status == .serviceUnavailable { headers[.retryAfter] = "1" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

enum Routes {
    static let path = "/ws-adapter/{provider}/{call_type}/{agent_id}/{outlet_id}/{virtual_number}"

    static func router(_ server: ServerContext) -> Router<BasicWebSocketRequestContext> {
        let router = Router(context: BasicWebSocketRequestContext.self)
        router.get("/healthz") { _, _ in json(["status": "ok"]) }
        router.get("/readyz") { _, _ -> Response in
            let draining = server.calls.draining
            let ready = !draining && !server.flows.isEmpty && !server.templates.isEmpty
            return json(["ready": ready, "ledger": server.ledger.path, "templates": server.templates.count,
                         "flows": server.flows.count, "active_calls": server.calls.count, "draining": draining],
                        status: ready ? .ok : .serviceUnavailable)
        }
        APIRoutes.add(to: router, server: server)
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: server.metrics.text())))
        }
        router.ws(RouterPath(path), shouldUpgrade: { request, context in
            // Upgrade requests were checked by the UpgradeGate; this answers plain GETs (426) and
            // checks the capacity once more.
            let upgrade = request.headers[.upgrade]?.lowercased() == "websocket"
            if case .failure(let refusal) = validate(path: request.uri.path, query: request.uri.query, upgrade: upgrade, server: server) {
                server.metrics.refused(reason: refusal.reason).increment()
                throw refusal
            }
            return .upgrade([:])
        }, onUpgrade: { inbound, outbound, context in
            let route: CallRoute
            switch validate(path: context.request.uri.path, query: context.request.uri.query, upgrade: true, server: server, upgrading: true) {
            case .success(let found): route = found
            case .failure(let refusal):
                try? await outbound.close(.policyViolation, reason: refusal.message)
                return
            }
            let maxSize = server.config.limits.maxMessageBytes
            let logger = server.logger
            await server.serveCall(route: route, transport: WebSocketTransport(outbound: outbound)) { queue in
                do {
                    for try await message in inbound.messages(maxSize: maxSize) {
                        let input: CallInput
                        switch message {
                        case .text(let text): input = .frame(Array(text.utf8), binary: false, at: .now)
                        case .binary(let buffer): input = .frame(Array(buffer.readableBytesView), binary: true, at: .now)
                        }
                        if case .dropped = queue.yield(input) {
                            server.metrics.drops.increment()
                            server.metrics.errors(kind: "overload").increment()
                        }
                    }
                    queue.yield(.closed("the caller closed the connection"))
                } catch {
                    logger.info("the connection failed: \(error)")
                    server.metrics.errors(kind: "transport").increment()
                    queue.yield(.closed("the connection failed"))
                }
            }
        })
        return router
    }

    /// The call a URL asks for, or why not. `upgrading`: the call itself checks the capacity.
    static func validate(path: String, query: String?, upgrade: Bool, server: ServerContext, upgrading: Bool = false) -> Result<CallRoute, Refusal> {
        func refuse(_ status: HTTPResponse.Status, _ reason: String, _ message: String) -> Result<CallRoute, Refusal> {
            .failure(Refusal(status: status, message: message, reason: reason))
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { String($0).removingPercentEncoding ?? String($0) }
        guard parts.count == 6, parts[0] == "ws-adapter" else {
            return refuse(.notFound, "path", "expected \(Routes.path)")
        }
        if !upgrade { return refuse(.upgradeRequired, "not_websocket", "this endpoint takes a WebSocket upgrade") }
        let (provider, callType, agentText, outletText, number) = (parts[1], parts[2], parts[3], parts[4], parts[5])
        guard server.templates[provider] != nil else {
            let known = server.templates.keys.sorted().joined(separator: ", ")
            return refuse(.notFound, "provider", "unknown provider '\(provider.prefix(32))'; known: \(known)")
        }
        guard callType == "inbound" || callType == "outbound" else {
            return refuse(.badRequest, "call_type", "call_type must be inbound or outbound, not '\(callType.prefix(32))'")
        }
        guard let agentId = integer(agentText) else {
            return refuse(.badRequest, "agent_id", "agent_id must be a positive integer, not '\(agentText.prefix(32))'")
        }
        guard let outletId = integer(outletText) else {
            return refuse(.badRequest, "outlet_id", "outlet_id must be a positive integer, not '\(outletText.prefix(32))'")
        }
        guard visible(number) else {
            return refuse(.badRequest, "virtual_number", "virtual_number must be 1 to 64 visible ASCII characters")
        }
        guard server.agent(agentId) != nil else { return refuse(.notFound, "agent", "no agent \(agentId)") }
        guard server.outlet(outletId) != nil else { return refuse(.notFound, "outlet", "no outlet \(outletId)") }
        var callerId = UUID().uuidString.lowercased()
        if let query, let given = URLComponents(string: "/?" + query)?.queryItems?.first(where: { $0.name == "caller_id" })?.value {
            guard visible(given) else { return refuse(.badRequest, "caller_id", "caller_id must be 1 to 64 visible ASCII characters") }
            callerId = given
        }
        if !upgrading, !server.calls.accepting {
            let draining = server.calls.draining
            return refuse(.serviceUnavailable, draining ? "draining" : "capacity",
                          draining ? "the server is shutting down" : "the server is at its limit of \(server.calls.maxCalls) calls")
        }
        return .success(CallRoute(provider: provider, callType: callType, agentId: agentId, outletId: outletId,
                                  virtualNumber: number, callerId: callerId))
    }

    /// The refusal of an upgrade request's URI (for the UpgradeGate), or nil.
    static func refusal(uri: String, headers: HTTPHeaders = [:], server: ServerContext) -> Refusal? {
        let (path, query) = uri.firstIndex(of: "?").map { (String(uri[..<$0]), String(uri[uri.index(after: $0)...])) } ?? (uri, nil)
        guard path.hasPrefix("/ws-adapter") else { return nil }
        var refused: Refusal?
        switch validate(path: path, query: query, upgrade: true, server: server) {
        case .failure(let refusal): refused = refusal
        case .success(let route):
            // The platform API's call credentials (API/CallToken.swift), when the configuration asks for them.
            if let message = server.api.callRefusal(route: route, uri: uri, query: query, headers: headers,
                                                    agentOwner: server.catalog.owner(ofAgent: route.agentId)) {
                refused = Refusal(status: .unauthorized, message: message, reason: "token")
            }
        }
        if let refusal = refused {
            server.metrics.refused(reason: refusal.reason).increment()
            server.logger.info("refused \(path.prefix(200)): \(refusal.message)")
        }
        return refused
    }

    private static func visible(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count) && text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f }
    }

    private static func integer(_ text: String?) -> Int? {
        guard let text, !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let value = Int(text), value > 0 else { return nil }
        return value
    }

    static func json(_ object: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let body = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
