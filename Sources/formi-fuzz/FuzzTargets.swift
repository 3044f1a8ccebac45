// The fuzz targets: one function per parser that takes outside bytes. Each must accept any input
// without trapping; results go into `FuzzSink` so the optimiser cannot drop the work.

import FormiCore

enum FuzzSink {
    nonisolated(unsafe) static var value = 0
}

/// Each target by the name `make fuzz` and FORMI_FUZZ_TARGET use.
let fuzzTargets: [(name: String, run: @Sendable (UnsafeRawBufferPointer) -> Void)] = [
    ("base64", fuzzBase64),
    ("transcoder", fuzzTranscoder),
    ("json", fuzzJSON),
    ("template", fuzzTemplate),
    ("mapper", fuzzMapper),
    ("session", fuzzSession),
    ("flow", fuzzFlow),
    ("condition", fuzzCondition),
    ("flowrun", fuzzFlowRun),
    ("ledger", fuzzLedger),
    ("ledgerquery", fuzzLedgerQuery),
]

/// Strict base64 decode: any bytes either decode and re-encode to the same text, or give an error.
func fuzzBase64(_ data: UnsafeRawBufferPointer) {
    var decoded = [UInt8](repeating: 0, count: data.count)
    let result = decoded.withUnsafeMutableBytes { output in Result { () throws(Base64Error) in try Base64.decode(data, into: output) } }
    switch result {
    case .success(let count):
        // A strict decoder accepts only canonical text, so encoding again must give the input back.
        var encoded = [UInt8](repeating: 0, count: data.count)
        let length = decoded.withUnsafeBytes { bytes in
            encoded.withUnsafeMutableBytes { Base64.encode(UnsafeRawBufferPointer(rebasing: bytes.prefix(count)), into: $0) }
        }
        guard length == data.count, encoded.elementsEqual(data) else { fatalError("base64: decode/encode round trip differs") }
        FuzzSink.value &+= count
    case .failure(let error):
        if case .outputTooSmall = error { fatalError("base64: an input-sized buffer was reported too small") }
        FuzzSink.value &+= 1
    }
}

/// Reads fuzz input as a sequence of choices.
struct FuzzReader {
    let data: UnsafeRawBufferPointer
    var offset = 0

    mutating func byte() -> Int {
        guard offset < data.count else { return 0 }
        defer { offset += 1 }
        return Int(data[offset])
    }

    mutating func pick<T>(_ options: [T]) -> T { options[byte() % options.count] }

    var rest: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: data[min(offset, data.count)...]) }
}

/// A transcoder between formats drawn from the input, fed the rest of the input in drawn chunk sizes
/// (some deliberately not whole frames). Streaming must give exactly what one call gives, never write
/// more than `maxOutputBytes`, keep framed output whole frames, and reject partial frames harmlessly.
func fuzzTranscoder(_ data: UnsafeRawBufferPointer) {
    var reader = FuzzReader(data: data)
    func format() -> AudioFormat {
        AudioFormat(encoding: reader.pick(Encoding.allCases), sampleRate: reader.pick(SampleRate.supported), channels: reader.byte() % 2 + 1)
    }
    let from = format(), to = format()
    let quality = reader.byte() % 12 - 1  // -1, the own FIR where it has the rates; 0...10 speexdsp
    let frameBytes = reader.byte() % 4 * 160 * to.bytesPerFrame
    let chunkSeeds = (0..<8).map { _ in reader.byte() }
    let audio = UnsafeRawBufferPointer(rebasing: reader.rest.prefix(16384))
    guard let streamed = try? Transcoder(from: from, to: to, quality: quality, frameBytes: frameBytes),
          let oneShot = try? Transcoder(from: from, to: to, quality: quality, frameBytes: frameBytes) else {
        fatalError("transcoder: a valid format pair was refused: \(from) -> \(to)")
    }
    let usable = audio.count - audio.count % from.bytesPerFrame
    var buffer = [UInt8](repeating: 0, count: oneShot.maxOutputBytes(forInputBytes: usable) ?? 0)

    // The bound covers one call at a time: take each call's output before the next.
    var expected: [UInt8] = []
    buffer.withUnsafeMutableBytes { out in
        guard let n = try? oneShot.process(UnsafeRawBufferPointer(rebasing: audio[0..<usable]), into: out) else {
            fatalError("transcoder: one-shot conversion failed")
        }
        expected = Array(out.prefix(n))
        guard let tail = try? oneShot.drain(into: out) else { fatalError("transcoder: one-shot drain failed") }
        expected += out.prefix(tail)
    }

    var got: [UInt8] = []
    var offset = 0, index = 0
    while offset < usable {
        let seed = chunkSeeds[index % chunkSeeds.count]
        index += 1
        let size = min((seed % 64 + 1) * from.bytesPerFrame * 7, usable - offset)
        // Now and then offer a partial frame first: it must be refused whole, leaving the stream as it was.
        if seed % 13 == 0 && from.bytesPerFrame > 1 {
            buffer.withUnsafeMutableBytes { out in
                do throws(AudioError) {
                    _ = try streamed.process(UnsafeRawBufferPointer(rebasing: audio[offset..<(offset + size - 1)]), into: out)
                    fatalError("transcoder: a partial frame was accepted")
                } catch {
                    guard case .partialFrame = error else { fatalError("transcoder: unexpected \(error)") }
                }
            }
        }
        buffer.withUnsafeMutableBytes { out in
            let input = UnsafeRawBufferPointer(rebasing: audio[offset..<(offset + size)])
            guard let n = try? streamed.process(input, into: out) else { fatalError("transcoder: whole frames were refused") }
            guard n <= (streamed.maxOutputBytes(forInputBytes: input.count) ?? 0),
                  frameBytes == 0 || n % frameBytes == 0 else { fatalError("transcoder: output bound or framing broken") }
            got += out.prefix(n)
        }
        offset += size
    }
    buffer.withUnsafeMutableBytes { out in
        guard let n = try? streamed.drain(into: out) else { fatalError("transcoder: drain failed") }
        got += out.prefix(n)
    }
    guard got == expected else { fatalError("transcoder: streamed output differs from one call (\(from) -> \(to))") }
    FuzzSink.value &+= got.count
}

/// The JSON reader: any bytes parse or are rejected; what parses re-serialises to JSON that parses to an
/// equal value.
func fuzzJSON(_ data: UnsafeRawBufferPointer) {
    var document = JSONDocument(limits: JSONLimits(maxBytes: 1 << 16, maxDepth: 32, maxValues: 4096))
    guard (try? document.parse(data)) != nil else { return }
    var writer = JSONWriter()
    rewrite(document.root, into: &writer)
    var again = JSONDocument(limits: JSONLimits(maxBytes: 1 << 20, maxDepth: 32, maxValues: 4096))
    let same = writer.bytes.withUnsafeBytes { bytes -> Bool in
        guard (try? again.parse(bytes)) != nil else { return false }
        return again.root.equals(document.root)
    }
    guard same else { fatalError("json: rewriting a parsed value changed it") }
    FuzzSink.value &+= writer.bytes.count
}

/// Writes a value back out through the writer (strings unescaped and escaped again).
private func rewrite(_ value: JSONValue, into writer: inout JSONWriter) {
    switch value.kind {
    case .object:
        writer.beginObject()
        for member in value.members {
            member.key.withString { writer.key($0) }
            rewrite(member.value, into: &writer)
        }
        writer.endObject()
    case .array:
        writer.beginArray()
        for element in value.elements { rewrite(element, into: &writer) }
        writer.endArray()
    case .string: value.withString { writer.string($0) }
    default: writer.raw(value.jsonText)
    }
}

/// Template loading: any bytes load or give problems, never a crash; a template that loads maps a few
/// messages without trouble.
func fuzzTemplate(_ data: UnsafeRawBufferPointer) {
    let problems = ProviderTemplate.problems(json: data)
    FuzzSink.value &+= problems.count
    guard problems.isEmpty, let template = try? ProviderTemplate(json: data) else { return }
    let mapper = EventMapper(template: template)
    for message in [#"{"event":"start"}"#, #"{"event":"media","media":{"payload":"AAAA"}}"#, "MEDIA_START format:ulaw", "{}"] {
        Array(message.utf8).withUnsafeBytes { mapper.map($0, binary: false) }
        FuzzSink.value &+= mapper.event.kind.rawValue
    }
}

/// Mapping with every built-in provider: the first byte picks the provider and whether the frame is
/// binary; the rest is the frame. Every frame maps to an event; an error event says why; audio views
/// stay inside the frame or the mapper's memory and have whole samples.
func fuzzMapper(_ data: UnsafeRawBufferPointer) {
    guard let first = data.first else { return }
    let names = BuiltinTemplates.names
    let name = names[Int(first & 0x0F) % names.count]
    let binary = first & 0x80 != 0
    guard let json = BuiltinTemplates.json(named: name), let template = try? ProviderTemplate(json: json) else {
        fatalError("mapper: built-in template \(name) does not load")
    }
    let mapper = MapperCache.mapper(for: name, template)
    let frame = UnsafeRawBufferPointer(rebasing: data[1...])
    mapper.map(frame, binary: binary)
    let event = mapper.event
    if event.kind == .error && (event.error ?? "").isEmpty { fatalError("mapper: an error event without a reason") }
    if let audio = event.audio {
        guard audio.count % event.format.bytesPerFrame == 0 else { fatalError("mapper: audio of partial samples") }
        FuzzSink.value &+= audio.reduce(0) { $0 &+ Int($1) }  // touch every byte (ASan checks the view)
    }
    var writer = JSONWriter()
    mapper.writeEvent(into: &writer)
    FuzzSink.value &+= writer.bytes.count
}

/// One mapper per provider, kept across inputs so state (the call format from start) carries over too.
enum MapperCache {
    nonisolated(unsafe) static var mappers: [String: EventMapper] = [:]

    static func mapper(for name: String, _ template: ProviderTemplate) -> EventMapper {
        if let mapper = mappers[name] { return mapper }
        let mapper = EventMapper(template: template)
        mappers[name] = mapper
        return mapper
    }
}

/// A session of either role for a built-in provider, driven by the input as a script of operations:
/// receive real messages of the provider (recorded from a session of the other role), mutated ones,
/// raw bytes as text or binary, agent or caller audio, marks, interrupts, flushes, clock steps, reads,
/// digits and the end of the call, in any order. Invariants: no trap, every error event says why,
/// every view handed out is readable, and the stats stay valid JSON.
func fuzzSession(_ data: UnsafeRawBufferPointer) {
    var reader = FuzzReader(data: data)
    let name = reader.pick(BuiltinTemplates.names)
    let role: SessionRole = reader.byte() % 2 == 0 ? .agentServer : .telephony
    guard let (template, seeds) = SessionSeeds.seeds(for: name, role: role) else { fatalError("session: \(name) has no seeds") }
    var config = SessionConfig(role: role)
    config.reorderWindow = reader.byte() % 6
    config.earlyMediaFrames = reader.byte() % 8
    config.maxQueuedMilliseconds = 200 + reader.byte() * 20
    config.call.callId = "3c1e5a4e-8f0b-4c8e-9d6a-2b7f0e1d9c55"
    guard let session = try? Session(template: template, config: config) else { fatalError("session: \(name) \(role) refused a valid config") }
    var clock: Int64 = 0
    var samples = [UInt8](repeating: 0, count: 2048)
    for (i, byte) in data.enumerated() { samples[i % samples.count] ^= byte }
    var operations = 0
    while reader.offset < data.count && operations < 200 {
        operations += 1
        switch reader.byte() % 13 {
        case 0:
            let seed = seeds[reader.byte() % seeds.count]
            seed.bytes.withUnsafeBytes { try? session.receive($0, binary: seed.binary) }
        case 1:
            var seed = seeds[reader.byte() % seeds.count]
            if !seed.bytes.isEmpty {
                let position = reader.byte() * 7 % seed.bytes.count
                seed.bytes[position] = UInt8(truncatingIfNeeded: reader.byte())
            }
            seed.bytes.withUnsafeBytes { try? session.receive($0, binary: seed.binary) }
        case 2, 3:
            let binary = reader.byte() % 2 == 1
            let length = reader.byte()
            let raw = UnsafeRawBufferPointer(rebasing: reader.rest.prefix(length))
            reader.offset += raw.count
            try? session.receive(raw, binary: binary)
        case 4:
            let length = reader.byte() * 8
            samples.withUnsafeBytes { try? session.sendAudio(UnsafeRawBufferPointer(rebasing: $0.prefix(length))) }
        case 5: try? session.sendMark(Array("m\(reader.byte())".utf8))
        case 6: _ = try? session.interrupt()
        case 7: try? session.flush()
        case 8:
            clock += Int64(reader.byte() * 10)
            session.setTime(milliseconds: clock)
        case 9: session.end(reason: "fuzz")
        case 10:
            let length = reader.byte() * 4 + reader.byte() % 3
            samples.withUnsafeMutableBytes { _ = try? session.readAudio(into: UnsafeMutableRawBufferPointer(rebasing: $0.prefix(length))) }
        case 11: try? session.sendDigit(UInt8(truncatingIfNeeded: reader.byte()))
        default:
            drain(session)
        }
        if reader.byte() % 4 == 0 { drain(session) }
    }
    drain(session)
    let stats = session.statsJSON()
    var document = JSONDocument()
    stats.withUnsafeBytes { bytes in
        if (try? document.parse(bytes)) == nil { fatalError("session: stats are not JSON: \(String(decoding: stats, as: UTF8.self))") }
    }
}

private func drain(_ session: Session) {
    while let event = session.nextEvent() {
        if event.kind == .error && (event.error ?? "").isEmpty { fatalError("session: an error event without a reason") }
        FuzzSink.value &+= event.audio?.reduce(0) { $0 &+ Int($1) } ?? 0
        FuzzSink.value &+= event.texts[.mark]?.count ?? 0
    }
    while let (bytes, _) = session.nextOutput() {
        FuzzSink.value &+= bytes.reduce(0) { $0 &+ Int($1) }
    }
}

/// Real messages of each provider, in both directions, made once by a call between two sessions.
enum SessionSeeds {
    struct Seed {
        var bytes: [UInt8]
        var binary: Bool
    }

    nonisolated(unsafe) static var cache: [String: (ProviderTemplate, provider: [Seed], agent: [Seed])] = [:]

    static func seeds(for name: String, role: SessionRole) -> (ProviderTemplate, [Seed])? {
        if cache[name] == nil { cache[name] = make(name) }
        guard let entry = cache[name] else { return nil }
        return (entry.0, role == .agentServer ? entry.provider : entry.agent)
    }

    private static func make(_ name: String) -> (ProviderTemplate, provider: [Seed], agent: [Seed])? {
        guard let json = BuiltinTemplates.json(named: name), let template = try? ProviderTemplate(json: json) else { return nil }
        var phoneConfig = SessionConfig(role: .telephony)
        phoneConfig.call.callId = "3c1e5a4e-8f0b-4c8e-9d6a-2b7f0e1d9c55"
        phoneConfig.call.streamId = "S1"
        phoneConfig.localFormat = template.defaultFormat.encoding == .pcm16LE ? template.defaultFormat : AudioFormat(encoding: .pcm16LE, sampleRate: 8000)
        var agentConfig = SessionConfig(role: .agentServer)
        agentConfig.outputLeadMilliseconds = 1_000_000
        guard let phone = try? Session(template: template, config: phoneConfig),
              let agent = try? Session(template: template, config: agentConfig) else { return nil }
        var fromProvider: [Seed] = [], fromAgent: [Seed] = []
        func move(_ from: Session, _ to: Session, into seeds: inout [Seed]) {
            while let (bytes, binary) = from.nextOutput() {
                seeds.append(Seed(bytes: Array(bytes), binary: binary))
                try? to.receive(bytes, binary: binary)
            }
        }
        let audio = [UInt8](repeating: 0x10, count: 960)
        move(phone, agent, into: &fromProvider)
        audio.withUnsafeBytes { try? phone.sendAudio($0) }
        try? phone.sendDigit(UInt8(ascii: "5"))
        move(phone, agent, into: &fromProvider)
        audio.withUnsafeBytes { try? agent.sendAudio($0) }
        try? agent.sendMark(Array("m1".utf8))
        move(agent, phone, into: &fromAgent)
        var played = [UInt8](repeating: 0, count: 4000)
        played.withUnsafeMutableBytes { _ = try? phone.readAudio(into: $0) }
        _ = try? agent.interrupt()
        move(agent, phone, into: &fromAgent)
        phone.end(reason: "hangup")
        agent.end(reason: "hangup")
        move(phone, agent, into: &fromProvider)
        move(agent, phone, into: &fromAgent)
        return (template, fromProvider, fromAgent.isEmpty ? [Seed(bytes: Array("{}".utf8), binary: false)] : fromAgent)
    }
}
