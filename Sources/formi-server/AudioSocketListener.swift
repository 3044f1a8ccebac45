// Asterisk AudioSocket: raw TCP, not WebSocket. Each connection is a call with the same session engine
// (the `audiosocket` template reads the byte stream); the agent and outlet come from the configuration,
// by the call's UUID (the stream's first frame) where the configuration maps it.

import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

struct AudioSocketListener: Service {
    let server: ServerContext
    let group: EventLoopGroup
    /// Told the port once listening (0 in the configuration picks a free one).
    let onListening: @Sendable (Int) -> Void

    func run() async throws {
        let config = server.config.audiosocket
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .bind(host: config.host, port: config.port) { child in
                child.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: child)
                }
            }
        let port = channel.channel.localAddress?.port ?? config.port
        onListening(port)
        server.logger.info("AudioSocket listening", metadata: ["address": "\(config.host):\(port)"])
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await channel.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await handle(connection) }
                    }
                }
            }
        } onGracefulShutdown: {
            // New connections stop here; calls in progress are drained by the call registry.
            channel.channel.close(promise: nil)
        }
    }

    private func handle(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        let config = server.config.audiosocket
        do {
            try await connection.executeThenClose { inbound, outbound in
                var iterator = inbound.makeAsyncIterator()
                // The first frame (kind 0x01, 16 bytes) is the call's UUID: it may pick the agent and outlet.
                var head: [UInt8] = []
                while head.count < 19, let chunk = try await iterator.next() { head += chunk.readableBytesView }
                var route = CallRoute(provider: "audiosocket", callType: "inbound", agentId: config.agentId, outletId: config.outletId,
                                      virtualNumber: config.virtualNumber, callerId: "unknown")
                if head.count >= 19, head[0] == 0x01, head[1] == 0, head[2] == 16 {
                    let uuid = Self.uuid(head[3..<19])
                    route.callerId = uuid
                    if let mapped = config.calls[uuid] {
                        route.agentId = mapped.agentId
                        route.outletId = mapped.outletId
                    }
                }
                let first = head
                let rest = UnsafeTransfer(iterator)
                await server.serveCall(route: route, transport: TCPTransport(outbound: outbound)) { queue in
                    var iterator = rest.value
                    if !first.isEmpty { queue.yield(.frame(first, binary: true, at: .now)) }
                    do {
                        while let chunk = try await iterator.next() {
                            if case .dropped = queue.yield(.frame(Array(chunk.readableBytesView), binary: true, at: .now)) {
                                server.metrics.drops.increment()
                                server.metrics.errors(kind: "overload").increment()
                            }
                        }
                        queue.yield(.closed("the caller closed the connection"))
                    } catch {
                        server.metrics.errors(kind: "transport").increment()
                        queue.yield(.closed("the connection failed"))
                    }
                }
            }
        } catch {
            server.logger.info("AudioSocket connection failed: \(error)")
        }
    }

    static func uuid(_ bytes: ArraySlice<UInt8>) -> String {
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        let h = Array(hex)
        return [h[0..<8], h[8..<12], h[12..<16], h[16..<20], h[20..<32]].map { String($0) }.joined(separator: "-")
    }
}

/// Moves a value into a task that alone uses it from then on.
struct UnsafeTransfer<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}
