// The agent bridge: a call whose agent names an `agent_url` is relayed to an outside agent over one
// WebSocket, in one normalised protocol whatever the provider (docs/agent-protocol.md, version 1). The
// session's local format is the agent's rate, so the library converts provider audio to and from it.
//
// Two sides, one object each: this class lives in the call's task like any agent; the connection runs
// in a task of its own and talks to it only through `Link` (what the agent sent, under a lock) and an
// AsyncStream (what goes to the agent). The agent's messages wake the call at once; the call applies
// them in order on its own task, so the session still has one user. Backpressure: agent audio enters
// the session until its queue cap (limits: max_queued_ms); beyond that it waits in the link, and when
// the link holds a second of it the connection stops reading, so TCP pushes back on the agent.
//
// Failure: an agent that cannot be reached (or does not answer the upgrade in 5 s), or that drops
// mid-call, leaves the caller a spoken apology and a clean hang-up, recorded with the reason.

import FormiCore
import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import Synchronization

final class AgentBridge: CallAgent {
    static let protocolVersion = 1
    static let rates = [8000, 16000, 24000, 48000]
    static let fallbackPrompt = "Sorry, we cannot take your call right now. Please call again later. Goodbye."
    static let connectTimeout: Duration = .seconds(5)
    /// Messages for the agent that may wait while it is slow (10 s of 20 ms frames); beyond it caller
    /// audio is dropped and counted.
    static let outgoingCap = 500

    let agent: ServerConfig.Agent
    weak var host: AgentHost?
    private(set) var summary = AgentSummary()
    var sampleRate: Int { agent.agentSampleRate }
    var isSpeaking: Bool { fallbackMark != nil }
    var isEnding: Bool { ending != nil }

    private let route: CallRoute
    private let server: ServerContext
    private let logger: Logger
    private let wake: @Sendable () -> Void
    private let link: Link
    private let outgoing: AsyncStream<Outgoing>
    private let toAgent: AsyncStream<Outgoing>.Continuation
    private var connection: Task<Void, Never>?
    /// Why the bridge failed; the fallback prompt is playing.
    private var ending: String?
    private var fallbackMark: String?
    /// The agent asked to hang up: the call ends when this mark (after its last audio) is heard.
    private var hangUpMark: String?
    private var stopped = false
    /// An odd byte of agent audio, waiting for its other half.
    private var carry: UInt8?
    private var dropped = 0

    init(agent: ServerConfig.Agent, route: CallRoute, server: ServerContext, logger: Logger, wake: @escaping @Sendable () -> Void) {
        self.agent = agent
        self.route = route
        self.server = server
        self.logger = logger
        self.wake = wake
        link = Link(bound: agent.agentSampleRate * 2)
        (outgoing, toAgent) = AsyncStream.makeStream(of: Outgoing.self, bufferingPolicy: .bufferingOldest(Self.outgoingCap))
    }

    deinit {
        toAgent.finish()
        connection?.cancel()
    }

    /// What is wrong with the agents' bridge settings.
    static func problems(_ agents: [ServerConfig.Agent]) -> [String] {
        var out: [String] = []
        for a in agents {
            if let url = a.agentUrl, !(url.hasPrefix("ws://") || url.hasPrefix("wss://")) {
                out.append("agent \(a.agentId): agent_url must be a ws:// or wss:// URL")
            }
            if a.agentUrl != nil, !rates.contains(a.agentSampleRate) {
                out.append("agent \(a.agentId): agent_sample_rate must be one of 8000, 16000, 24000, 48000")
            }
        }
        return out
    }

    // MARK: the call -> the agent

    func start(_ call: CallStart) async -> [AgentCommand] {
        let custom = (try? JSONSerialization.jsonObject(with: Data(call.customParameters.utf8))) ?? [String: Any]()
        let start: [String: Any] = [
            "type": "start", "version": Self.protocolVersion,
            "call_id": call.callId, "stream_id": call.streamId, "provider": route.provider,
            "direction": route.callType, "caller": call.from.isEmpty ? route.callerId : call.from,
            "virtual_number": route.virtualNumber, "agent_id": route.agentId, "outlet_id": route.outletId,
            "custom_parameters": custom,
            "audio": ["encoding": "pcm16le", "sample_rate": sampleRate, "channels": 1],
        ]
        send(start)
        connect()
        return []
    }

    func callerAudio(_ samples: [Int16], now: Int64) async -> [AgentCommand] {
        guard !stopped, ending == nil, !samples.isEmpty else { return [] }
        let bytes = samples.withUnsafeBytes { Array($0) }  // little-endian hosts only, as the library
        if case .dropped = toAgent.yield(.binary(bytes)) {
            dropped += 1
            if dropped == 1 || dropped % 500 == 0 { logger.warning("the agent is not reading: caller audio dropped", metadata: ["frames": "\(dropped)"]) }
        }
        return []
    }

    func digit(_ digit: String, now: Int64) async -> [AgentCommand] {
        guard !stopped, ending == nil, digit.count == 1 else { return [] }
        summary.digits += 1
        send(["type": "dtmf", "digit": digit])
        return []
    }

    func mark(_ name: String, played: Bool, now: Int64) async -> [AgentCommand] {
        if name == fallbackMark || name == hangUpMark {
            fallbackMark = nil
            return [.hangUp(reason: summary.endReason ?? "the agent hung up")]
        }
        guard ending == nil else { return [] }
        send(["type": "mark", "name": name, "played": played])
        return []
    }

    func resume(heardMs: Int64) -> [AgentCommand] {
        ending.map { [.hangUp(reason: $0)] } ?? []
    }

    func callEnded(reason: String) {
        if summary.endReason == nil { summary.endReason = reason }
        guard !stopped else { return }
        stopped = true
        send(["type": "stop", "reason": reason])
        toAgent.finish()
    }

    private func send(_ object: [String: Any]) {
        guard let json = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        toAgent.yield(.text(String(decoding: json, as: UTF8.self)))
    }

    // MARK: the agent -> the call

    /// Applies what the agent sent, in order; audio the session cannot take yet stays first in line.
    func tick(now: Int64) async -> [AgentCommand] {
        guard ending == nil, hangUpMark == nil else { return [] }
        while let message = link.first() {
            switch message {
            case .audio(let bytes):
                var all = bytes
                if let c = carry { all.insert(c, at: 0) }
                let samples = stride(from: 0, to: all.count - 1, by: 2).map { Int16(bitPattern: UInt16(all[$0]) | UInt16(all[$0 + 1]) << 8) }
                guard host?.sendAgentAudio(samples) ?? true else { return [] }  // full: retried on a later tick
                carry = all.count % 2 == 1 ? all.last : nil
            case .clear:
                summary.bargeIns += 1
                let heard = host?.interruptPlayback() ?? 0
                carry = nil
                send(["type": "interrupted", "heard_ms": heard])
            case .mark(let name):
                host?.sendAgentMark(name)
            case .hangup(let reason):
                link.removeFirst()
                summary.outcome = "resolved"
                summary.endReason = reason.isEmpty ? "the agent hung up" : "the agent hung up: \(reason)"
                hangUpMark = "agent-bridge-hangup"
                host?.sendAgentMark("agent-bridge-hangup")
                return []
            case .transfer(let to):
                // No built-in provider's media stream can move the call (that is the provider's REST API).
                send(["type": "error", "message": "transfer\(to.isEmpty ? "" : " to \(to)") is not supported by \(route.provider)'s media stream"])
            case .bad(let why):
                server.metrics.errors(kind: "agent_protocol").increment()
                logger.warning("bad message from the agent: \(why)")
                send(["type": "error", "message": why])
            }
            link.removeFirst()
        }
        if let reason = link.closedReason, !stopped { return await fail(reason) }
        return []
    }

    /// The agent is gone: the caller hears the fallback prompt, then the call ends, recorded as such.
    private func fail(_ reason: String) async -> [AgentCommand] {
        let wasOpen = link.wasOpened
        let why = wasOpen ? "agent disconnected: \(reason)" : "agent unreachable: \(reason)"
        logger.error("agent bridge: \(why)", metadata: ["url": "\(agent.agentUrl ?? "")"])
        server.metrics.errors(kind: "agent_bridge").increment()
        summary.outcome = "other"
        summary.escalationReason = wasOpen ? "agent disconnected" : "agent unreachable"
        summary.endReason = why
        ending = why
        toAgent.finish()
        let utterance = await server.speech.speak(Self.fallbackPrompt, voice: agent.voice, wpm: agent.rate)
        if utterance.fallback { summary.fallbacks += 1 }
        summary.utterances += 1
        summary.characters += Self.fallbackPrompt.count
        summary.spokenMs += utterance.samples.count / (Speech.outputRate / 1000)
        fallbackMark = "agent-bridge-fallback"
        return [.speak(mark: "agent-bridge-fallback", samples: Self.resample(utterance.samples, to: sampleRate))]
    }

    /// 16 kHz speech to the agent's rate (the session's local format), by the library's transcoder.
    static func resample(_ samples: [Int16], to rate: Int) -> [Int16] {
        guard rate != Speech.outputRate else { return samples }
        do {
            let t = try Transcoder(from: AudioFormat(encoding: .pcm16LE, sampleRate: Speech.outputRate, channels: 1),
                                   to: AudioFormat(encoding: .pcm16LE, sampleRate: rate, channels: 1))
            guard let body = t.maxOutputBytes(forInputBytes: samples.count * 2), let tail = t.maxOutputBytes(forInputBytes: 0) else { return [] }
            let size = body + tail  // process, then drain into what is left: room for both
            var out = [UInt8](repeating: 0, count: size)
            let n = try samples.withUnsafeBytes { input in
                try out.withUnsafeMutableBytes { output in
                    let n = try t.process(input, into: output)
                    return n + (try t.drain(into: UnsafeMutableRawBufferPointer(rebasing: output[n...])))
                }
            }
            return stride(from: 0, to: n - 1, by: 2).map { Int16(bitPattern: UInt16(out[$0]) | UInt16(out[$0 + 1]) << 8) }
        } catch {
            return []
        }
    }

    // MARK: the connection (a task of its own)

    private func connect() {
        guard let url = agent.agentUrl, connection == nil else { return }
        let link = self.link, outgoing = self.outgoing, wake = self.wake, logger = self.logger
        let maxBytes = server.config.limits.maxMessageBytes
        let chunk = sampleRate * 2  // agent audio is cut into pieces of at most 1 s, each fits the session's cap
        connection = Task {
            await AgentBridge.run(url: url, link: link, outgoing: outgoing, wake: wake, logger: logger, maxBytes: maxBytes, chunk: chunk)
        }
    }

    private static func run(url: String, link: Link, outgoing: AsyncStream<Outgoing>, wake: @escaping @Sendable () -> Void,
                            logger: Logger, maxBytes: Int, chunk: Int) async {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        try await WebSocketClient.connect(url: url, configuration: .init(maxFrameSize: maxBytes), logger: logger) { inbound, outbound, _ in
                            link.open()
                            try await withThrowingTaskGroup(of: Void.self) { pair in
                                pair.addTask {
                                    for await message in outgoing {
                                        switch message {
                                        case .text(let text): try await outbound.write(.text(text))
                                        case .binary(let bytes): try await outbound.write(.binary(ByteBuffer(bytes: bytes)))
                                        }
                                    }
                                }
                                pair.addTask {
                                    for try await message in inbound.messages(maxSize: maxBytes) {
                                        switch message {
                                        case .binary(let buffer):
                                            let bytes = Array(buffer.readableBytesView)
                                            var at = 0
                                            while at < bytes.count {
                                                link.push(.audio(Array(bytes[at..<min(at + chunk, bytes.count)])))
                                                at += chunk
                                            }
                                        case .text(let text):
                                            link.push(Incoming.parse(text))
                                        }
                                        wake()
                                        while link.isFull, !Task.isCancelled { try await Task.sleep(for: .milliseconds(10)) }
                                    }
                                    link.close("the agent closed the connection")
                                }
                                _ = try await pair.next()
                                pair.cancelAll()
                            }
                        }
                        link.close("the agent closed the connection")
                    } catch {
                        link.close("\(error)")
                    }
                    wake()
                }
                group.addTask {
                    try? await Task.sleep(for: Self.connectTimeout)
                    if !link.wasOpened {
                        link.close("no WebSocket upgrade within \(Self.connectTimeout)")
                        wake()
                    }
                }
                // The timer may end first (the call goes on); cancel it only when the connection is over.
                await group.next()
                if link.isClosed || Task.isCancelled { group.cancelAll() }
                await group.waitForAll()
            }
    }

    enum Outgoing: Sendable {
        case text(String)
        case binary([UInt8])
    }

    enum Incoming: Sendable {
        case audio([UInt8])
        case clear
        case mark(String)
        case hangup(String)
        case transfer(String)
        case bad(String)

        static func parse(_ text: String) -> Incoming {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
                  let type = object["type"] as? String else { return .bad("not a JSON object with a type: \(text.prefix(80))") }
            switch type {
            case "clear": return .clear
            case "mark":
                guard let name = object["name"] as? String, !name.isEmpty, name.utf8.count <= 256 else { return .bad("mark needs a name (1 to 256 bytes)") }
                // "formi-" names are the session's own; "agent-bridge-" ones the bridge's.
                guard !name.hasPrefix("formi-"), !name.hasPrefix("agent-bridge-") else { return .bad("mark names starting formi- or agent-bridge- are reserved") }
                return .mark(name)
            case "hangup": return .hangup(object["reason"] as? String ?? "")
            case "transfer": return .transfer(object["to"] as? String ?? "")
            default: return .bad("unknown message type \(type.prefix(40))")
            }
        }
    }

    /// What the agent sent, waiting for the call's task; and how the connection ended.
    final class Link: Sendable {
        private struct State {
            var inbox: [Incoming] = []
            var audioBytes = 0
            var opened = false
            var closed: String?
        }
        private let state = Mutex(State())
        /// Agent audio held here beyond this many bytes stops the reading.
        private let bound: Int

        init(bound: Int) { self.bound = bound }

        func push(_ message: Incoming) {
            state.withLock {
                if case .audio(let b) = message { $0.audioBytes += b.count }
                $0.inbox.append(message)
            }
        }
        func first() -> Incoming? { state.withLock { $0.inbox.first } }
        func removeFirst() {
            state.withLock {
                guard !$0.inbox.isEmpty else { return }
                if case .audio(let b) = $0.inbox.removeFirst() { $0.audioBytes -= b.count }
            }
        }
        var isFull: Bool { state.withLock { $0.audioBytes > bound } }
        func open() { state.withLock { $0.opened = true } }
        var wasOpened: Bool { state.withLock { $0.opened } }
        var isClosed: Bool { state.withLock { $0.closed != nil } }
        /// The first reason wins.
        func close(_ reason: String) { state.withLock { if $0.closed == nil { $0.closed = reason } } }
        /// Only once everything the agent sent before it closed has been applied.
        var closedReason: String? { state.withLock { $0.inbox.isEmpty ? $0.closed : nil } }
    }
}
