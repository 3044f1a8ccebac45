// One call: its session (agent-server role) and its agent. Data flows one way: what the socket
// received -> session -> events -> agent -> commands -> session -> messages -> socket. Everything of a
// call happens in one task, reading one queue (frames, the 20 ms clock, the end), so the session (not
// thread-safe) needs no lock, and no call ever waits for another.

import FormiCore
import Foundation
import Logging

/// Who a call is for: from the URL (WebSocket) or the configuration (AudioSocket).
struct CallRoute: Sendable {
    var provider: String
    var callType: String
    var agentId: Int
    var outletId: Int
    var virtualNumber: String
    var callerId: String
}

/// A copy of a session event, taken before the session is called again (its views die then).
private enum CallEvent {
    case connected
    case start(CallStart)
    case media([Int16])
    case dtmf(String)
    case mark(String, played: Bool)
    case clear
    case stop(String)
    case error(String)
}

final class CallHandler: AgentHost {
    let id: Int
    let route: CallRoute
    private let session: Session
    private var agent: any CallAgent
    private let transport: CallTransport
    private let server: ServerContext
    private var logger: Logger
    private let clock = ContinuousClock()
    private let began: ContinuousClock.Instant
    private var startedAt = Date()
    /// Counters of the connections this call had before this one (a reconnect), as JSON objects.
    private var priorSegments: [[String: Any]] = []
    /// Parked after the socket dropped: the entry, its key, and until when.
    private var parked: (call: ParkedCall, key: String, until: ContinuousClock.Instant)?
    /// Another connection took the call over: this one ends without a record.
    private var resumedElsewhere = false
    /// The provider said stop: the call is over even if the socket then drops.
    private var stopped = false
    private var streamId: String?
    private var providerCallId: String?
    private var lastReceived: ContinuousClock.Instant
    private var started = false
    /// Set when the call is over: why, the close code, and who ended it.
    private var ending: (reason: String, code: UInt16, closeSocket: Bool)?
    private var protocolErrors = 0
    private let framesIn, framesOut, bytesIn, bytesOut: Prometheus.Counter

    static let maxProtocolErrors = 50

    init(id: Int, route: CallRoute, template: ProviderTemplate, agent: any CallAgent, transport: CallTransport,
         server: ServerContext) throws(SessionError) {
        var config = SessionConfig(role: .agentServer)
        config.localFormat = AudioFormat(encoding: .pcm16LE, sampleRate: agent.sampleRate, channels: 1)
        config.maxMessageBytes = server.config.limits.maxMessageBytes
        let lead = server.config.limits.outputLeadMs
        if lead > 0 { config.outputLeadMilliseconds = template.pacing == .sender ? min(lead, 60) : lead }
        config.call.direction = route.callType
        config.call.from = route.callerId
        config.call.to = route.virtualNumber
        session = try Session(template: template, config: config)
        self.id = id
        self.route = route
        self.agent = agent
        self.transport = transport
        self.server = server
        logger = server.logger
        logger[metadataKey: "call"] = "\(id)"
        logger[metadataKey: "provider"] = "\(route.provider)"
        began = clock.now
        lastReceived = began
        framesIn = server.metrics.framesIn(provider: route.provider)
        framesOut = server.metrics.framesOut(provider: route.provider)
        bytesIn = server.metrics.bytesIn(provider: route.provider)
        bytesOut = server.metrics.bytesOut(provider: route.provider)
        agent.host = self
    }

    private var nowMs: Int64 {
        let elapsed = clock.now - began
        return elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
    }

    /// Runs the call until it ends; then writes it to the ledger.
    func run(_ inputs: AsyncStream<CallInput>) async {
        logger.info("call", metadata: ["call_type": "\(route.callType)", "agent": "\(route.agentId)", "outlet": "\(route.outletId)",
                                       "number": "\(route.virtualNumber)", "caller": "\(route.callerId)"])
        for await input in inputs {
            switch input {
            case .frame(let bytes, let binary, let arrived):
                let t0 = clock.now
                lastReceived = t0
                await receive(bytes, binary: binary)
                let t1 = clock.now
                server.metrics.frameSeconds.record(t1 - arrived)
                if t1 - arrived > .milliseconds(20) {
                    logger.debug("slow frame", metadata: ["waited": "\(t0 - arrived)", "took": "\(t1 - t0)", "head": "\(String(decoding: bytes.prefix(40), as: UTF8.self))"])
                }
            case .tick where parked != nil:
                if let p = parked, clock.now >= p.until {
                    parked = nil
                    if server.parked.release(p.key, p.call) {
                        finish("the connection was lost and not resumed within \(Int(server.config.limits.reconnectGraceSeconds)) s", code: 1001, closeSocket: false)
                    } else {
                        resumedElsewhere = true
                        ending = ("resumed on another connection", 1000, false)
                    }
                }
            case .tick:
                session.setTime(milliseconds: nowMs)
                await handleEvents()
                if started, ending == nil { await execute(await agent.tick(now: nowMs)) }
                await sendOutputs()
                if ending == nil {
                    let idle = clock.now - lastReceived
                    if idle > .seconds(server.config.limits.idleSeconds) {
                        finish("nothing received for \(Int(server.config.limits.idleSeconds)) s", code: 1001)
                    } else if clock.now - began > .seconds(server.config.limits.maxCallSeconds) {
                        finish("the call reached the longest allowed", code: 1000)
                    }
                }
            case .closed(let why):
                if !park(why) { finish(why, code: 1000, closeSocket: false) }
            case .shutdown:
                let socketOpen = parked == nil
                if let p = parked {
                    parked = nil
                    if !server.parked.release(p.key, p.call) {
                        resumedElsewhere = true
                        ending = ("resumed on another connection", 1000, false)
                        break
                    }
                }
                finish("the server is shutting down", code: 1001, closeSocket: socketOpen)
            }
            if ending != nil { break }
        }
        if ending == nil { finish("the connection ended", code: 1000, closeSocket: false) }
        await hangUp()
    }

    private func receive(_ bytes: [UInt8], binary: Bool) async {
        framesIn.increment()
        bytesIn.increment(by: Int64(bytes.count))
        session.setTime(milliseconds: nowMs)
        for _ in 0..<2 {
            do {
                try bytes.withUnsafeBytes { try session.receive($0, binary: binary) }
                break
            } catch {
                // Only .limit: events are waiting; take them and try once more.
                await handleEvents()
            }
        }
        await handleEvents()
        await sendOutputs()
    }

    // MARK: events

    private func takeEvents() -> [CallEvent] {
        var out: [CallEvent] = []
        while let event = session.nextEvent() {
            let f = event.fields
            func text(_ field: EventField) -> String { f.texts[field].map { String(decoding: $0, as: UTF8.self) } ?? "" }
            switch f.kind {
            case .connected: out.append(.connected)
            case .start:
                let custom = f.customParameters.map { String(decoding: $0, as: UTF8.self) } ?? "{}"
                out.append(.start(CallStart(streamId: text(.streamId), callId: text(.callId), from: text(.from), to: text(.to),
                                            direction: text(.direction), customParameters: custom.isEmpty ? "{}" : custom)))
            case .media:
                guard let audio = f.audio, audio.count >= 2 else { continue }
                let samples = [Int16](unsafeUninitializedCapacity: audio.count / 2) { buffer, count in
                    count = audio.count / 2
                    memcpy(buffer.baseAddress!, audio.baseAddress!, count * 2)
                }
                out.append(.media(samples))
            case .dtmf: out.append(.dtmf(text(.digit)))
            case .mark: out.append(.mark(text(.mark), played: text(.reason) != "cleared"))
            case .clear: out.append(.clear)
            case .stop: out.append(.stop(text(.reason)))
            case .error: out.append(.error(event.error ?? "unknown error"))
            case .ignored: break
            }
        }
        return out
    }

    private func handleEvents() async {
        while true {
            let events = takeEvents()
            if events.isEmpty { return }
            for event in events { await handle(event) }
        }
    }

    private func handle(_ event: CallEvent) async {
        switch event {
        case .connected:
            logger.debug("connected")
        case .start(let start):
            let (stream, call, from) = (start.streamId, start.callId, start.from)
            streamId = stream.isEmpty ? nil : stream
            providerCallId = call.isEmpty ? nil : call
            logger[metadataKey: "stream"] = "\(stream)"
            logger.info("start", metadata: ["call_id": "\(call)", "from": "\(from)", "format": "\(session.callFormat.encoding) \(session.callFormat.sampleRate) Hz"])
            if !started {
                started = true
                if let stream = streamId, let resumed = server.parked.take(ParkedCalls.key(provider: route.provider, streamId: stream)) {
                    agent = resumed.agent
                    agent.host = self
                    startedAt = resumed.startedAt
                    priorSegments = resumed.segments
                    logger.info("resumed", metadata: ["previous_call": "\(resumed.callId)", "heard_ms": "\(resumed.heardMs)"])
                    await execute(agent.resume(heardMs: resumed.heardMs))
                } else {
                    await execute(await agent.start(start))
                }
            }
        case .media(let samples):
            guard started, ending == nil else { return }
            let commands = await agent.callerAudio(samples, now: nowMs)
            await execute(commands)
        case .dtmf(let digit):
            logger.info("DTMF \(digit)")
            guard started, ending == nil else { return }
            await execute(await agent.digit(digit, now: nowMs))
        case .mark(let name, let played):
            guard ending == nil else { return }
            await execute(await agent.mark(name, played: played, now: nowMs))
        case .clear:
            logger.debug("the provider confirmed the clear")
        case .stop(let reason):
            logger.info("stop", metadata: ["reason": "\(reason)"])
            stopped = true
            finish(reason.isEmpty ? "the caller hung up" : "the caller hung up: \(reason)", code: 1000)
        case .error(let message):
            protocolErrors += 1
            server.metrics.errors(kind: "protocol").increment()
            logger.warning("bad message from the provider: \(message)")
            if protocolErrors > Self.maxProtocolErrors {
                finish("more than \(Self.maxProtocolErrors) bad messages", code: 1008)
            }
        }
    }

    // MARK: the agent's commands

    private func execute(_ commands: [AgentCommand]) async {
        var queue = commands[...]
        while let command = queue.popFirst() {
            switch command {
            case .speak(let mark, let samples):
                do {
                    try samples.withUnsafeBytes { try session.sendAudio($0) }
                    try session.flush()
                    try session.sendMark(Array(mark.utf8))
                } catch {
                    server.metrics.errors(kind: "session").increment()
                    logger.warning("the agent's audio was refused: \((error as? SessionError)?.message ?? "\(error)")")
                }
            case .hangUp(let reason):
                finish(reason, code: 1000)
            }
        }
    }

    func interruptPlayback() -> Int64 {
        session.setTime(milliseconds: nowMs)
        let report: PlaybackReport
        do throws(SessionError) {
            report = try session.interrupt()
        } catch {
            logger.warning("interrupt failed: \(error.message)")
            return 0
        }
        server.metrics.bargeIns.increment()
        logger.info("barge-in", metadata: ["heard_ms": "\(report.estimatedMilliseconds)", "sent_ms": "\(report.sentMilliseconds)"])
        return report.estimatedMilliseconds
    }

    func sendAgentAudio(_ samples: [Int16]) -> Bool {
        session.setTime(milliseconds: nowMs)
        do {
            try samples.withUnsafeBytes { try session.sendAudio($0) }
            return true
        } catch {
            if case .limit? = error as? SessionError { return false }
            server.metrics.errors(kind: "session").increment()
            logger.warning("the agent's audio was refused: \((error as? SessionError)?.message ?? "\(error)")")
            return true  // refused for good (the call ended, a bad length): dropped, not retried
        }
    }

    func sendAgentMark(_ name: String) {
        do throws(SessionError) {
            try session.flush()
            try session.sendMark(Array(name.utf8))
        } catch {
            logger.warning("the agent's mark was refused: \(error.message)")
        }
    }

    // MARK: output and the end

    private func sendOutputs() async {
        while let (bytes, binary) = session.nextOutput() {
            let copy = Array(bytes)
            do {
                try await transport.send(copy, binary: binary)
                framesOut.increment()
                bytesOut.increment(by: Int64(copy.count))
            } catch {
                // The peer is gone: what is left cannot be delivered.
                if ending == nil { finish("the connection failed: \(error)", code: 1000, closeSocket: false) }
                server.metrics.errors(kind: "transport").increment()
                while session.nextOutput() != nil {}
                return
            }
        }
    }

    /// The socket dropped without a stop: hold the call for a reconnect with the same stream id. False
    /// when the call cannot be held (no stream id yet, no grace period, or it was ending anyway).
    private func park(_ why: String) -> Bool {
        let grace = server.config.limits.reconnectGraceSeconds
        guard grace > 0, let stream = streamId, started, !stopped, ending == nil, !agent.isEnding else { return false }
        let heard = agent.isSpeaking ? session.playbackReport().estimatedMilliseconds : 0
        let entry = ParkedCall(agent: agent, heardMs: heard, startedAt: startedAt, segments: priorSegments + [statsObject()], callId: id)
        let key = ParkedCalls.key(provider: route.provider, streamId: stream)
        server.parked.park(key, entry)
        parked = (entry, key, clock.now + .milliseconds(Int64(grace * 1000)))
        logger.info("connection lost (\(why)): holding the call \(grace) s for a reconnect", metadata: ["heard_ms": "\(heard)"])
        return true
    }

    private func statsObject() -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(session.statsJSON()))) as? [String: Any] ?? [:]
    }

    private func finish(_ reason: String, code: UInt16, closeSocket: Bool = true) {
        guard ending == nil else { return }
        ending = (reason, code, closeSocket)
    }

    private func hangUp() async {
        guard let ending else { return }
        if resumedElsewhere {
            logger.info("this connection's part of the call ended: it goes on on another connection")
            return
        }
        agent.callEnded(reason: ending.reason)
        session.setTime(milliseconds: nowMs)
        session.end(reason: ending.reason)
        _ = takeEvents()
        if ending.closeSocket {
            await sendOutputs()
            await transport.close(code: ending.code, reason: ending.reason)
        }
        let summary = agent.summary
        logger.info("ended", metadata: ["reason": "\(ending.reason)", "outcome": "\(summary.outcome)",
                                        "path": "\(summary.path.map(String.init).joined(separator: ">"))"])
        server.metrics.calls(provider: route.provider, outcome: summary.outcome).increment()
        await record(summary, reason: ending.reason)
    }

    /// One ledger record per call, keyed by the stream id (a retried write is a duplicate, not a second call).
    private func record(_ summary: AgentSummary, reason: String) async {
        let interaction = streamId ?? providerCallId ?? "call-\(UUID().uuidString.lowercased())"
        var stats = statsObject()
        if !priorSegments.isEmpty {
            stats["earlier_connections"] = priorSegments
            stats["reconnects"] = priorSegments.count
        }
        stats["flow_path"] = summary.path
        stats["end_reason"] = reason
        stats["tts_fallbacks"] = summary.fallbacks
        let ended = Date()
        var record: [String: Any] = [
            "idempotency_key": "call:\(route.provider):\(interaction)",
            "interaction_id": interaction,
            "agent_id": String(route.agentId),
            "outlet_id": String(route.outletId),
            "agent_name": agent.agent.name,
            "provider": route.provider,
            "call_type": route.callType,
            "started_at": startedAt.timeIntervalSince1970,
            "ended_at": max(ended.timeIntervalSince1970, startedAt.timeIntervalSince1970),
            "outcome": summary.outcome,
            "messages": ["received": summary.turns + summary.digits],
            "counters": ["dtmf": summary.digits, "barge_ins": summary.bargeIns, "utterances": summary.utterances,
                         "speech_turns": summary.turns, "transitions": max(summary.path.count - 1, 0),
                         "speech_recognised": summary.recognised, "speech_rejected": summary.rejected],
            "session_stats": stats,
            "model_usage": [["kind": "TTS", "model": "espeak-ng", "characters": summary.characters,
                             "audio_seconds": Double(summary.spokenMs) / 1000]]
                + (summary.recognisedSeconds > 0 ? [["kind": "STT", "model": "pocketsphinx", "audio_seconds": summary.recognisedSeconds]] : []),
        ]
        if let escalation = summary.escalationReason { record["escalation_reason"] = escalation }
        var result = await server.ledger.record(record)
        // The same stream id after the grace period is a new call: recorded beside the first, not as a duplicate.
        var attempt = 1
        while case .success(let answer) = result, answer["duplicate"] as? Bool == true, attempt < 20 {
            attempt += 1
            record["interaction_id"] = "\(interaction)#\(attempt)"
            record["idempotency_key"] = "call:\(route.provider):\(interaction)#\(attempt)"
            result = await server.ledger.record(record)
        }
        switch result {
        case .success(let answer):
            await InteractionRoutes.recorded(record, answer: answer, variables: agent.flowVariables, server: server)  // the platform API
            logger.info("recorded", metadata: ["interaction": "\(interaction)", "cost": "\(answer["cost"] ?? "null")",
                                               "balance": "\(answer["balance"] ?? "null")"])
        case .failure(.ledger(let message)):
            logger.error("the ledger refused the call: \(message)", metadata: ["interaction": "\(interaction)"])
        }
    }
}

import Prometheus
