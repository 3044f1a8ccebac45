import FormiCore

/// An event copied out of a session (its views last only until the next call).
struct TakenEvent: CustomStringConvertible {
    var kind: EventKind
    var audio: [UInt8]
    var format: AudioFormat
    var mark: String?
    var digit: String?
    var reason: String?
    var streamId: String?
    var callId: String?
    var chunk: Int64?
    var pattern: Int?
    var error: String?

    init(_ event: ProviderEvent) {
        kind = event.kind
        audio = event.audio.map(Array.init) ?? []
        format = event.format
        mark = event.text(.mark)
        digit = event.text(.digit)
        reason = event.text(.reason)
        streamId = event.text(.streamId)
        callId = event.text(.callId)
        chunk = event.chunk
        pattern = event.pattern
        error = event.error
    }

    var description: String { "\(kind.name)\(mark.map { "(\($0))" } ?? "")\(error.map { ": \($0)" } ?? "")" }
}

/// A message copied out of a session.
struct TakenMessage {
    var bytes: [UInt8]
    var binary: Bool
    var text: String { String(decoding: bytes, as: UTF8.self) }
}

extension Session {
    convenience init(provider: String, config: SessionConfig) throws {
        try self.init(template: ProviderTemplate(json: BuiltinTemplates.json(named: provider) ?? ""), config: config)
    }

    func takeEvents() -> [TakenEvent] {
        var taken: [TakenEvent] = []
        while let event = nextEvent() { taken.append(TakenEvent(event)) }
        return taken
    }

    /// Up to `limit` messages to send now.
    func takeOutput(limit: Int = .max) -> [TakenMessage] {
        var taken: [TakenMessage] = []
        while taken.count < limit, let (bytes, binary) = nextOutput() { taken.append(TakenMessage(bytes: Array(bytes), binary: binary)) }
        return taken
    }

    func receive(_ message: TakenMessage) throws {
        try message.bytes.withUnsafeBytes { try receive($0, binary: message.binary) }
    }

    func receive(text: String) throws {
        try receive(TakenMessage(bytes: Array(text.utf8), binary: false))
    }

    func send(samples: [Int16]) throws {
        var bytes = [UInt8](repeating: 0, count: samples.count * 2)
        _ = samples.withUnsafeBufferPointer { s in bytes.withUnsafeMutableBytes { Encoding.pcm16LE.encode(s, into: $0) } }
        try bytes.withUnsafeBytes { try sendAudio($0) }
    }

    /// Reads `frames` of playback; returns the samples and how many bytes were real audio.
    func read(frames: Int) throws -> (samples: [Int16], real: Int) {
        var bytes = [UInt8](repeating: 0, count: frames * localFormat.bytesPerFrame)
        let real = try bytes.withUnsafeMutableBytes { try readAudio(into: $0) }
        return (decoded(bytes, as: .pcm16LE), real)
    }

    func stat(_ key: String) -> Int64? {
        let json = statsJSON()
        return withParsedValue(json) { root in root[key]?.int64 }
    }
}

/// A telephony-role session and an agent-server-role session joined in memory, as the two ends of one call.
final class Wire {
    let phone: Session
    let agent: Session
    /// The agent's clock (ms), for providers that need pacing.
    var clock: Int64 = 0

    init(provider: String, callFormat: AudioFormat? = nil, phoneLocal: AudioFormat? = nil, agentLocal: AudioFormat? = nil,
         configure: (inout SessionConfig) -> Void = { _ in }) throws {
        let template = try ProviderTemplate(json: BuiltinTemplates.json(named: provider) ?? "")
        let format = callFormat ?? template.defaultFormat
        var phoneConfig = SessionConfig(role: .telephony)
        phoneConfig.callFormat = format
        phoneConfig.localFormat = phoneLocal ?? AudioFormat(encoding: .pcm16LE, sampleRate: format.sampleRate)
        phoneConfig.call.streamId = "MZ-stream-1"
        phoneConfig.call.callId = "3c1e5a4e-8f0b-4c8e-9d6a-2b7f0e1d9c55"
        phoneConfig.call.accountId = "AC-1"
        phoneConfig.call.from = "+15550001"
        phoneConfig.call.to = "+15550002"
        phoneConfig.call.customParameters = #"{"agent":"7","lang":"en"}"#
        var agentConfig = SessionConfig(role: .agentServer)
        agentConfig.localFormat = agentLocal ?? AudioFormat(encoding: .pcm16LE, sampleRate: format.sampleRate)
        configure(&phoneConfig)
        configure(&agentConfig)
        phoneConfig.role = .telephony
        agentConfig.role = .agentServer
        phone = try Session(template: template, config: phoneConfig)
        agent = try Session(template: template, config: agentConfig)
    }

    /// Moves every message the phone has to send to the agent; returns how many.
    @discardableResult
    func phoneToAgent() throws -> Int {
        let messages = phone.takeOutput()
        for message in messages { try agent.receive(message) }
        return messages.count
    }

    /// Moves up to `limit` messages from the agent to the phone. Where the agent paces its output (the
    /// provider plays frames as they arrive) the agent's clock is advanced 20 ms whenever nothing is due.
    @discardableResult
    func agentToPhone(limit: Int = .max) throws -> Int {
        var moved = 0
        while moved < limit {
            let messages = agent.takeOutput(limit: limit - moved)
            for message in messages { try phone.receive(message) }
            moved += messages.count
            guard messages.isEmpty else { continue }
            guard agent.playbackReport().queuedMilliseconds > 0 else { break }
            clock += 20
            agent.setTime(milliseconds: clock)
        }
        return moved
    }
}

/// Runs `body` on the root of a parsed JSON text.
func withParsedValue<R>(_ json: [UInt8], _ body: (JSONValue) -> R?) -> R? {
    var document = JSONDocument()
    return json.withUnsafeBytes { bytes -> R? in
        guard (try? document.parse(bytes)) != nil else { return nil }
        return body(document.root)
    }
}

/// What a format's encoding makes of samples (G.711 quantises; PCM keeps them).
func throughEncoding(_ samples: [Int16], _ encoding: Encoding) -> [Int16] {
    decoded(encoded(samples, as: encoding), as: encoding)
}

func base64Text(_ bytes: [UInt8]) -> String {
    var out = [UInt8](repeating: 0, count: Base64.encodedCount(byteCount: bytes.count) ?? 0)
    let count = bytes.withUnsafeBytes { b in out.withUnsafeMutableBytes { Base64.encode(b, into: $0) } } ?? 0
    return String(decoding: out.prefix(count), as: UTF8.self)
}
