// What a call sends through, whichever socket it came on: a WebSocket (every provider but AudioSocket)
// or a raw TCP connection (AudioSocket).

import HummingbirdWebSocket
import NIOCore
import NIOWebSocket

protocol CallTransport: Sendable {
    func send(_ bytes: [UInt8], binary: Bool) async throws
    /// Ends the connection; `code` and `reason` are the WebSocket close frame's (TCP has none).
    func close(code: UInt16, reason: String) async
}

/// What arrives on a call's queue: the socket's frames, the clock, and the end.
enum CallInput: Sendable {
    /// What the socket received, and when (the histogram counts the time it waited in the queue).
    case frame([UInt8], binary: Bool, at: ContinuousClock.Instant)
    case tick
    /// The peer closed, or the socket failed.
    case closed(String)
    /// The server is shutting down and the drain time is over.
    case shutdown
}

struct WebSocketTransport: CallTransport {
    let outbound: WebSocketOutboundWriter

    func send(_ bytes: [UInt8], binary: Bool) async throws {
        if binary {
            try await outbound.write(.binary(ByteBuffer(bytes: bytes)))
        } else {
            try await outbound.write(.text(String(decoding: bytes, as: UTF8.self)))
        }
    }

    func close(code: UInt16, reason: String) async {
        // A close reason is at most 123 bytes of UTF-8.
        var cut = Substring(reason)
        while cut.utf8.count > 123 { cut = cut.dropLast() }
        try? await outbound.close(WebSocketErrorCode(codeNumber: Int(code)), reason: String(cut))
    }
}

struct TCPTransport: CallTransport {
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

    func send(_ bytes: [UInt8], binary: Bool) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    func close(code: UInt16, reason: String) async {
        outbound.finish()
    }
}
