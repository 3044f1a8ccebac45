// Refusing a WebSocket upgrade with a status and a reason. Hummingbird answers every refused upgrade
// with an empty 400, and a router refusal of an upgrade request with a 307 to itself; a provider (and
// its operator) needs to know why: an unknown provider (404), a bad id (400), no capacity (503). So the
// first request of each connection passes this NIO handler, placed after the HTTP decoder and before the
// upgrade handler: an upgrade request to /ws-adapter/... that `check` refuses is answered here with
// {"success": false, "message": ...} and the connection closed. Anything else goes on, and the handler
// leaves the pipeline (an upgrade can only happen on a connection's first request).

import HummingbirdCore
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1

struct GatedUpgradeChannel: ServerChildChannel {
    typealias Value = HTTP1WebSocketUpgradeChannel.Value
    let inner: HTTP1WebSocketUpgradeChannel
    /// The refusal of an upgrade request (path with query), or nil to let it through.
    let check: @Sendable (_ uri: String, _ headers: HTTPHeaders) -> Refusal?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let decoder = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try channel.pipeline.syncOperations.addHandler(UpgradeGate(check: check), position: .after(decoder))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

final class UpgradeGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let check: @Sendable (String, HTTPHeaders) -> Refusal?
    private var refusing = false

    init(check: @escaping @Sendable (String, HTTPHeaders) -> Refusal?) { self.check = check }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if refusing { return }  // the refused request's body: dropped
        guard case .head(let head) = part else { return context.fireChannelRead(data) }
        let upgrade = head.headers["upgrade"].contains { $0.lowercased() == "websocket" }
        if upgrade, let refusal = check(head.uri, head.headers) {
            refusing = true
            let body = refusal.body
            var headers = HTTPHeaders([("content-type", "application/json"), ("content-length", "\(body.count)"), ("connection", "close")])
            if refusal.status == .serviceUnavailable { headers.add(name: "retry-after", value: "1") }
            let status = HTTPResponseStatus(statusCode: refusal.status.code)
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
            // The client closes on "connection: close"; closing first would fail the upgrade handler's
            // pending result (logged as an error by Hummingbird). One that lingers is closed in 2 s.
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            let channel = context.channel
            context.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
