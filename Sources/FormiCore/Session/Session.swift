// A call session: the sans-I/O engine a host embeds, for either end of a call. It opens no socket and
// starts no thread. The host feeds in what it receives (`receive`), its audio (`sendAudio`) and its clock
// (`setTime`), and takes out internal events (`nextEvent`) and messages to send (`nextOutput`).
//
// Agent-server role (Session+AgentServer.swift): provider frames in -> events (media decoded and
// resampled to the agent's format); agent audio in -> the provider's media messages, framed as it
// demands; marks, barge-in, playback truth.
// Telephony role (Session+Telephony.swift): speaks as the provider: announces the call, sends caller
// audio, and plays the agent server's audio from a playback queue read at the host's clock.
//
// The call's lifecycle (the order of docs/architecture.md) and what happens to input out of order:
//   awaiting_handshake --connected--> awaiting_start --start--> streaming --stop--> stopped
//   - start may come first (it stands in for connected, as with Plivo);
//   - media before start: held (up to `earlyMediaFrames`) and delivered once start gives the format;
//     beyond that, an error event and the held frames are dropped (counted lost);
//   - a second connected or start: an error event, the message is rejected (the first start stands);
//   - anything after stop (or after the host ended the call): an error event, rejected;
//   - unknown or malformed messages: an error event; the session carries on.
// Not thread-safe: one thread at a time per session.

public enum CallState: String, Sendable {
    case awaitingHandshake = "awaiting_handshake"
    case awaitingStart = "awaiting_start"
    case streaming
    case stopped
}

public final class Session {
    public let role: SessionRole
    public let template: ProviderTemplate
    public let config: SessionConfig
    public internal(set) var state: CallState = .awaitingHandshake
    public internal(set) var stats = SessionStats()
    /// The format on the wire: from the provider's start (agent-server role), or announced (telephony).
    public internal(set) var callFormat: AudioFormat
    public var localFormat: AudioFormat { config.localFormat }
    /// The format of the host's audio for `sendAudio`.
    public var sendFormat: AudioFormat { config.sendFormat ?? config.localFormat }
    /// Names of the patterns events refer to (`ProviderEvent.pattern`): the provider's, or in the
    /// telephony role those of the agent server's messages.
    public var eventPatternNames: [String] { mapper.template.patternNames }

    /// Reads what arrives: the provider's messages, or (telephony role) the agent server's. It reads
    /// media in the format the session tells it (`expect`): the session alone decides the call's format.
    let mapper: EventMapper
    var events = EventQueue()
    var output = OutputQueue()
    /// The host's clock in µs, once given.
    var now: Int64?
    /// Arriving audio -> the host's format.
    var inbound: Transcoder?
    /// The host's audio -> the call's format, cut into the frames the far end takes.
    var outbound: Transcoder?
    var values = OutgoingValues()
    /// The transport's own framing (AudioSocket's frames, or none beyond whole messages).
    let framing: any BinaryFraming
    /// Binary input is a byte stream (`framing.isByteStream`), assembled by `audioSocket`.
    let binaryIsStream: Bool
    var audioSocket = AudioSocketStream()
    /// How this end puts one frame of audio on the wire (decided once, not per frame).
    let mediaFraming: MediaFraming
    /// The most audio the host may have waiting in `output` (µs); nil: no cap (the telephony role's
    /// caller audio is taken at the host's pace).
    let outputCapMicros: Int64?
    /// Scratch for rendering one message, and for converted audio (grown to the largest call, then reused).
    var rendered: [UInt8] = []
    var converted: UnsafeMutableRawBufferPointer

    /// The role's own state: each role's entry points take it from here, once.
    let side: Side

    // Noncopyable: a switch over it borrows the role's state rather than retaining it (the frame path
    // looks it up per call).
    enum Side: ~Copyable {
        case agentServer(AgentServerSide)
        case telephony(TelephonySide)
    }

    /// Events waiting beyond this make `receive` refuse input until the host takes some.
    public static let maxPendingEvents = 1024
    /// Events waiting to be taken.
    public var pendingEvents: Int { events.count }
    /// The prefix of the session's own mark names.
    static let autoMarkPrefix: [UInt8] = Array("formi-".utf8)

    public init(template: ProviderTemplate, config: SessionConfig) throws(SessionError) {
        guard SampleRate.isSupported(config.localFormat.sampleRate), config.localFormat.channels == 1 || config.localFormat.channels == 2 else {
            throw .invalidConfig("unsupported local format: \(config.localFormat.sampleRate) Hz, \(config.localFormat.channels) channels")
        }
        if let send = config.sendFormat, !SampleRate.isSupported(send.sampleRate) || !(send.channels == 1 || send.channels == 2) {
            throw .invalidConfig("unsupported send format: \(send.sampleRate) Hz, \(send.channels) channels")
        }
        guard config.maxQueuedMilliseconds > 0, config.maxQueuedMilliseconds <= 3_600_000 else {
            throw .invalidConfig("max_queued_ms must be 1 to 3600000, not \(config.maxQueuedMilliseconds)")
        }
        guard config.maxMessageBytes >= 64, config.maxMessageBytes <= 16 << 20 else {
            throw .invalidConfig("max_message_bytes must be 64 to 16 MiB, not \(config.maxMessageBytes)")
        }
        guard (0...64).contains(config.reorderWindow) else { throw .invalidConfig("reorder_window must be 0 to 64, not \(config.reorderWindow)") }
        guard (0...3000).contains(config.earlyMediaFrames) else { throw .invalidConfig("early_media_frames must be 0 to 3000, not \(config.earlyMediaFrames)") }
        guard (0...60_000).contains(config.playbackMarkInterval) else { throw .invalidConfig("mark_interval_ms must be 0 to 60000, not \(config.playbackMarkInterval)") }
        guard (-1...10).contains(config.resamplerQuality) else { throw .invalidConfig("resampler quality must be -1 to 10, not \(config.resamplerQuality)") }
        if let ms = config.frameMilliseconds, !(1...1000).contains(ms) {
            throw .invalidConfig("frame_ms must be 1 to 1000 (0: the template's rule), not \(ms)")
        }
        if let lead = config.outputLeadMilliseconds, !(0...3_600_000).contains(lead) {
            throw .invalidConfig("output_lead_ms must be 0 to 3600000, not \(lead)")
        }
        self.template = template
        self.config = config
        role = config.role
        callFormat = template.defaultFormat
        converted = .allocate(byteCount: 16 * 1024, alignment: 16)
        rendered.reserveCapacity(4096)
        framing = template.binaryFraming
        binaryIsStream = framing.isByteStream
        mediaFraming = MediaFraming(template: template, framing: framing, role: config.role)
        let limits = JSONLimits(maxBytes: config.maxMessageBytes, maxDepth: 32, maxValues: 4096)
        switch config.role {
        case .agentServer:
            mapper = EventMapper(template: template, limits: limits, followsStart: false)
            outputCapMicros = Int64(config.maxQueuedMilliseconds) &* 1000
            side = .agentServer(AgentServerSide(template: template, config: config))
        case .telephony:
            let server: ProviderTemplate
            do throws(TemplateError) {
                server = try template.serverTemplate()
            } catch {
                converted.deallocate()
                throw .unsupported("\(template.name) cannot be used in the telephony role: \(error.message)")
            }
            mapper = EventMapper(template: server, limits: limits, followsStart: false)
            outputCapMicros = nil
            let telephony = TelephonySide(config: config)
            side = .telephony(telephony)
            // Fully initialised here: if this throws, deinit frees `converted`.
            try announceCall(telephony)
        }
    }

    deinit { converted.deallocate() }

    // MARK: input

    /// Takes one received frame (text, or binary with `binary`). Whatever is wrong with it becomes an
    /// error event; throws only when the host must first take events (`.limit`), consuming nothing.
    public func receive(_ bytes: UnsafeRawBufferPointer, binary: Bool) throws(SessionError) {
        guard events.count < Self.maxPendingEvents else {
            throw .limit("\(events.count) events are waiting: take them with next_event before receiving more")
        }
        if binary && binaryIsStream {
            // A TCP byte stream: one read may carry thousands of frames, each an event. All or nothing.
            let room = Self.maxPendingEvents &- events.count
            let frames = audioSocket.frameCount(bytes, limit: room &+ 1)
            guard frames <= room else {
                throw .limit("this read carries more AudioSocket frames than the \(room) events there is room for: take events, or pass it in parts (receivePart)")
            }
            _ = receivePart(bytes, binary: true)
            return
        }
        stats.messagesIn &+= 1
        stats.bytesIn &+= Int64(bytes.count)
        guard bytes.count <= config.maxMessageBytes else {
            return reject("message of \(bytes.count) bytes exceeds the session's limit of \(config.maxMessageBytes)")
        }
        handle(bytes, binary: binary)
    }

    /// Takes as much of one received frame as there is room for: for a byte stream (AudioSocket), the
    /// frames whose events fit under the cap, returning the bytes consumed (pass the rest once events
    /// are taken); any other frame is taken whole, or not at all (0) while events wait at the cap.
    public func receivePart(_ bytes: UnsafeRawBufferPointer, binary: Bool) -> Int {
        guard events.count < Self.maxPendingEvents else { return 0 }
        guard binary && binaryIsStream else {
            do throws(SessionError) {
                try receive(bytes, binary: binary)
            } catch {
                return 0
            }
            return bytes.count
        }
        // (`handle` never touches `audioSocket`.)
        let consumed = audioSocket.feed(bytes, more: { events.count < Self.maxPendingEvents }) { frame in
            stats.messagesIn &+= 1
            handle(frame, binary: true)
        }
        stats.bytesIn &+= Int64(consumed)
        return consumed
    }

    /// The transport closed, or the host ends the call. Agent-server role: frames still held are
    /// delivered, a final `stop` event is given if the provider sent none, and the provider's hangup
    /// message (if it has one) is queued. Telephony role: the provider's stop message is queued.
    public func end(reason: String) {
        guard state != .stopped else { return }
        switch side {
        case .agentServer(let agent): endAgentCall(reason: reason, agent)
        case .telephony(let telephony): endTelephonyCall(reason: reason, telephony)
        }
        state = .stopped
        stats.endedAt = now.map { $0 / 1000 }
    }

    /// The host's monotonic clock, in milliseconds. Drives pacing, the playback estimate, and marks
    /// the provider cannot echo.
    public func setTime(milliseconds: Int64) {
        let micros = milliseconds.multipliedReportingOverflow(by: 1000)
        guard !micros.overflow else { return }
        now = max(now ?? micros.partialValue, micros.partialValue)
        switch side {
        case .agentServer(let agent):
            resolveLocalMarks(agent)
        case .telephony:
            // The call starts with the session, before the host can give a clock; its first clock is the
            // call's start.
            if stats.startedAt == nil, state == .streaming { stats.startedAt = milliseconds }
        }
    }

    private func handle(_ message: UnsafeRawBufferPointer, binary: Bool) {
        mapper.map(message, binary: binary)
        let event = mapper.event
        if state == .stopped {
            return reject("\(event.kind == .error ? "message" : event.kind.name) after \(role == .agentServer ? "stop" : "the call ended"): rejected")
        }
        if event.kind == .error {
            stats.errors &+= 1
            return events.push(event)
        }
        switch side {
        case .agentServer(let agent): handleProviderEvent(event, agent)
        case .telephony(let telephony): handleServerEvent(event, telephony)
        }
    }

    // MARK: the host's actions, by role

    /// The host's audio in the local format: the agent's (sent to the provider) or the caller's (sent to
    /// the agent server), converted, framed and queued as the far end's media messages. Throws (queuing
    /// nothing) before start, after stop, on a partial sample, or past the queue cap.
    public func sendAudio(_ audio: UnsafeRawBufferPointer) throws(SessionError) {
        guard state == .streaming, let outbound else {
            throw .state(state == .stopped ? "the call has ended" : "no start yet: the call's format is not known")
        }
        guard audio.count % sendFormat.bytesPerFrame == 0 else {
            throw .invalidAudio("\(audio.count) bytes is not a whole number of \(sendFormat.bytesPerFrame)-byte frames")
        }
        let micros = SessionStats.micros(bytes: audio.count, format: sendFormat)
        if let cap = outputCapMicros, output.queuedMicros &+ micros > cap {
            throw .limit("agent audio queue full: \(output.queuedMicros / 1000) ms waiting, \(micros / 1000) ms more would pass the cap of \(config.maxQueuedMilliseconds) ms")
        }
        let framed: UnsafeRawBufferPointer
        do throws(AudioError) {
            framed = try convert(audio, with: outbound)
        } catch {
            throw .invalidAudio("\(error)")
        }
        switch side {
        case .agentServer(let agent):
            stats.agentAudioMicros &+= micros
            try emitFrames(framed, agent: agent, telephony: nil)
        case .telephony(let telephony):
            stats.callerAudioMicros &+= micros
            try emitFrames(framed, agent: nil, telephony: telephony)
        }
    }

    /// Agent-server role: the end of an utterance (its last partial frame is padded and sent).
    public func flush() throws(SessionError) {
        switch side {
        case .agentServer(let agent): try flushAgentAudio(agent)
        case .telephony: throw .unsupported("flush is for the agent-server role")
        }
    }

    /// Agent-server role: a named mark after the whole frames sent so far (flush first to include the
    /// last partial frame); a `mark` event comes back when the caller has heard it (reason "played") or
    /// an interrupt discarded it ("cleared").
    public func sendMark(_ name: [UInt8]) throws(SessionError) {
        switch side {
        case .agentServer(let agent): try sendAgentMark(name, agent)
        case .telephony: throw .unsupported("marks are sent by the agent-server role")
        }
    }

    /// Agent-server role: barge-in.
    @discardableResult
    public func interrupt() throws(SessionError) -> PlaybackReport {
        switch side {
        case .agentServer(let agent): return try interruptAgent(agent)
        case .telephony: throw .unsupported("interrupt is for the agent-server role")
        }
    }

    /// Agent-server role: the current (or last interrupted) utterance's playback figures (the telephony
    /// role sends no agent audio: all zero).
    public func playbackReport() -> PlaybackReport {
        switch side {
        case .agentServer(let agent): agent.tracker.report(now: now, queued: output.queuedMicros)
        case .telephony: PlaybackTracker().report(now: now, queued: output.queuedMicros)
        }
    }

    /// Telephony role: a DTMF digit from the caller.
    public func sendDigit(_ digit: UInt8, durationMilliseconds: Int64 = 100) throws(SessionError) {
        switch side {
        case .telephony(let telephony): try sendCallerDigit(digit, durationMilliseconds: durationMilliseconds, telephony)
        case .agentServer: throw .unsupported("DTMF is sent by the telephony role")
        }
    }

    /// Telephony role: fills `out` with the next agent audio to play, padded with silence; returns the
    /// bytes of real audio.
    public func readAudio(into out: UnsafeMutableRawBufferPointer) throws(SessionError) -> Int {
        switch side {
        case .telephony(let telephony): return readPlayback(into: out, telephony)
        case .agentServer: throw .unsupported("the playback queue is the telephony role's")
        }
    }

    // MARK: output

    /// The next internal event; its views stay valid until the next call on the session.
    public func nextEvent() -> ProviderEvent? {
        events.pop()
    }

    /// The next message to send and whether it is binary; its bytes stay valid until the next call on
    /// the session. nil when there is nothing to send now (with pacing: nothing due yet).
    public func nextOutput() -> (bytes: UnsafeRawBufferPointer, binary: Bool)? {
        switch side {
        case .agentServer(let agent): nextOutput(agent)
        case .telephony: nextOutput(nil)
        }
    }

    /// Only the agent-server role paces, tracks playback and sends marks of its own.
    private func nextOutput(_ agent: AgentServerSide?) -> (bytes: UnsafeRawBufferPointer, binary: Bool)? {
        while let head = output.first {
            if case .media = head.kind, let agent {
                if agent.paused { return nil }
                // Paced: keep at most `lead` of audio ahead of real time at the provider.
                if let lead = agent.leadMicros, agent.tracker.ahead(now: now ?? 0) > lead { return nil }
            }
            guard let (message, bytes) = output.pop() else { return nil }
            switch message.kind {
            case .media(let micros):
                agent?.tracker.sent(micros, now: now ?? (agent?.leadMicros != nil ? 0 : nil))
            case .mark(let id):
                if let agent, let index = agent.marks.firstIndex(where: { $0.id == id }) { agent.marks[index].sent = true }
            case .utteranceEnd:
                agent?.tracker.endUtterance()
                continue
            case .control:
                break
            }
            stats.messagesOut &+= 1
            stats.bytesOut &+= Int64(bytes.count)
            return (bytes, message.binary)
        }
        return nil
    }

    // MARK: shared helpers

    /// An error event about the input; the input is otherwise ignored.
    func reject(_ message: String) {
        stats.errors &+= 1
        var event = ProviderEvent(format: callFormat)
        event.kind = .error
        event.error = message
        events.push(event)
    }

    /// Pushes a synthesized event carrying a mark name and a reason.
    func pushMarkEvent(_ name: [UInt8], reason: StaticString) {
        var event = ProviderEvent(format: callFormat)
        event.kind = .mark
        name.withUnsafeBytes { nameBytes in
            event.texts[.mark] = nameBytes
            event.texts[.reason] = UnsafeRawBufferPointer(start: reason.utf8Start, count: reason.utf8CodeUnitCount)
            events.push(event)
        }
    }

    /// Scratch room of at least `count` bytes for converted audio.
    func convertedRoom(_ count: Int) -> UnsafeMutableRawBufferPointer {
        if converted.count < count {
            converted.deallocate()
            converted = .allocate(byteCount: count, alignment: 16)
        }
        return converted
    }

    /// Renders a template into `rendered`; false (with an error noted) when a value is missing.
    func render(_ template: OutgoingTemplate, name: String) -> Bool {
        rendered.removeAll(keepingCapacity: true)
        let missing = template.render(inPlace: &values, into: &rendered)
        if let missing {
            reject("cannot render \(name): no value for {{\(missing.rawValue)}}")
            return false
        }
        return true
    }

    /// The transcoder for arriving audio in `format`: the call's, or a new one when the far end changed
    /// format mid-call (no built-in provider does; Plivo's playAudio names its own). nil (with an error
    /// event) when the format cannot be converted.
    func inboundTranscoder(for format: AudioFormat) -> Transcoder? {
        if let inbound, inbound.input == format { return inbound }
        guard inbound != nil, let replacement = try? Transcoder(from: format, to: localFormat, quality: config.resamplerQuality) else {
            reject("media: cannot convert \(format.encoding.name) \(format.sampleRate) Hz to the local format")
            return nil
        }
        inbound = replacement
        return replacement
    }

    /// Converts `audio` through `transcoder` into the scratch room; returns the bytes written.
    func convert(_ audio: UnsafeRawBufferPointer, with transcoder: Transcoder) throws(AudioError) -> UnsafeRawBufferPointer {
        guard let needed = transcoder.maxOutputBytes(forInputBytes: audio.count) else { throw .overflow }
        let room = convertedRoom(needed)
        let written = try transcoder.process(audio, into: room)
        return UnsafeRawBufferPointer(rebasing: room[0..<written])
    }

    /// Audio left in a transcoder (resampler tail, partial frame padded with silence).
    func drain(_ transcoder: Transcoder) -> UnsafeRawBufferPointer {
        guard let needed = transcoder.maxOutputBytes(forInputBytes: 0) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        let room = convertedRoom(needed)
        let written = (try? transcoder.drain(into: room)) ?? 0
        return UnsafeRawBufferPointer(rebasing: room[0..<written])
    }

    /// The format the agent's audio travels in: the host's choice, else the template's, else the call's.
    func agentWireFormat(call: AudioFormat) -> AudioFormat {
        config.agentFormat ?? template.agentFormat ?? call
    }

    /// The frame size the far end takes for audio in `format` (the template's rule; 20 ms otherwise).
    func frameBytes(for format: AudioFormat) -> Int {
        let rule = template.frameRule
        let perFrame = format.bytesPerFrame
        if let exact = rule.exact { return exact }
        if let ms = rule.milliseconds {
            // The host's own duration, where the provider takes any.
            let chosen = role == .agentServer && !template.strictFrames ? config.frameMilliseconds ?? ms : ms
            return max(1, format.sampleRate &* chosen / 1000) &* perFrame
        }
        if let multiple = rule.multiple {
            let smallest = max(rule.minimum ?? multiple, multiple)
            return (smallest &+ multiple &- 1) / multiple &* multiple
        }
        return max(1, format.sampleRate / 50) &* perFrame
    }
}

extension SessionStats {
    /// Bytes of `micros` of audio in `format`.
    static func bytes(micros: Int64, format: AudioFormat) -> Int64 {
        micros &* Int64(format.sampleRate) / 1_000_000 &* Int64(format.bytesPerFrame)
    }
}
