// HTTP: the WebSocket endpoint of seed 004 (checked before the upgrade: a refused call gets a 4xx or
// 503 with {"success": false, "message": ...}), health, readiness and metrics.

import Foundation
import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// A call refused before the upgrade.
struct Refusal: HTTPResponseError {
    var status: HTTPResponse.Status
    var message: String
    var reason: String

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = (try? JSONSerialization.data(withJSONObject: ["success": false, "message": message], options: [.sortedKeys])) ?? Data()
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
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: server.metrics.text())))
        }
        router.ws(RouterPath(path), shouldUpgrade: { request, context in
            do {
                _ = try validate(request, parameters: context.parameters, server: server)
            } catch let refusal as Refusal {
                server.metrics.refused(reason: refusal.reason).increment()
                server.logger.info("refused \(request.uri.path): \(refusal.message)")
                throw refusal
            }
            return .upgrade([:])
        }, onUpgrade: { inbound, outbound, context in
            let route: CallRoute
            do {
                route = try validate(context.request, parameters: context.requestContext.parameters, server: server, upgrading: true)
            } catch {
                try? await outbound.close(.policyViolation, reason: "\(error)")
                return
            }
            let maxSize = server.config.limits.maxMessageBytes
            let logger = server.logger
            await server.serveCall(route: route, transport: WebSocketTransport(outbound: outbound)) { queue in
                do {
                    for try await message in inbound.messages(maxSize: maxSize) {
                        let input: CallInput
                        switch message {
                        case .text(let text): input = .frame(Array(text.utf8), binary: false)
                        case .binary(let buffer): input = .frame(Array(buffer.readableBytesView), binary: true)
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

    /// The call a URL asks for, or why not. `upgrading`: the capacity is checked by the call itself.
    static func validate(_ request: Request, parameters: Parameters, server: ServerContext, upgrading: Bool = false) throws -> CallRoute {
        if !upgrading, request.headers[.upgrade]?.lowercased() != "websocket" {
            throw Refusal(status: .upgradeRequired, message: "this endpoint takes a WebSocket upgrade", reason: "not_websocket")
        }
        let provider = parameters.get("provider") ?? ""
        guard server.templates[provider] != nil else {
            let known = server.templates.keys.sorted().joined(separator: ", ")
            throw Refusal(status: .notFound, message: "unknown provider '\(provider.prefix(32))'; known: \(known)", reason: "provider")
        }
        let callType = parameters.get("call_type") ?? ""
        guard callType == "inbound" || callType == "outbound" else {
            throw Refusal(status: .badRequest, message: "call_type must be inbound or outbound, not '\(callType.prefix(32))'", reason: "call_type")
        }
        guard let agentId = integer(parameters.get("agent_id")) else {
            throw Refusal(status: .badRequest, message: "agent_id must be a positive integer, not '\((parameters.get("agent_id") ?? "").prefix(32))'", reason: "agent_id")
        }
        guard let outletId = integer(parameters.get("outlet_id")) else {
            throw Refusal(status: .badRequest, message: "outlet_id must be a positive integer, not '\((parameters.get("outlet_id") ?? "").prefix(32))'", reason: "outlet_id")
        }
        let number = parameters.get("virtual_number") ?? ""
        guard (1...64).contains(number.utf8.count), number.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw Refusal(status: .badRequest, message: "virtual_number must be 1 to 64 visible ASCII characters", reason: "virtual_number")
        }
        guard server.agent(agentId) != nil else {
            throw Refusal(status: .notFound, message: "no agent \(agentId)", reason: "agent")
        }
        guard server.outlet(outletId) != nil else {
            throw Refusal(status: .notFound, message: "no outlet \(outletId)", reason: "outlet")
        }
        var callerId = UUID().uuidString.lowercased()
        if let given = request.uri.queryParameters.get("caller_id") {
            guard (1...64).contains(given.utf8.count), given.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
                throw Refusal(status: .badRequest, message: "caller_id must be 1 to 64 visible ASCII characters", reason: "caller_id")
            }
            callerId = given
        }
        if !upgrading, !server.calls.accepting {
            let draining = server.calls.draining
            throw Refusal(status: .serviceUnavailable,
                          message: draining ? "the server is shutting down" : "the server is at its limit of \(server.calls.maxCalls) calls",
                          reason: draining ? "draining" : "capacity")
        }
        return CallRoute(provider: provider, callType: callType, agentId: agentId, outletId: outletId,
                         virtualNumber: number, callerId: callerId)
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
