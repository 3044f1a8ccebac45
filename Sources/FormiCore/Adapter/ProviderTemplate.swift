// A provider template: the seed's JSON format (`provider`, `events.incoming.message_patterns.<event>`
// with `detection_pattern` and `extraction_map`), extended with what real providers need:
//
//   "transport": {"text": "json" | "lines", "binary": "reject" | "media" | "audiosocket"}
//   "audio": {"encoding": "ulaw", "sample_rate": 8000, "channels": 1, "payload": "base64" | "binary",
//             "frame_bytes": 160 | "frame_multiple": 320, "frame_min": 3200, "frame_max": 100000,
//             "encoding_names": {"PCMA": "alaw", "slin16": "pcm16le@16000"}}
//   a pattern's "maps_to": an internal event other than its name (e.g. "cleared" -> "clear", or "ignore")
//   a detection leaf {"$exists": true | false}: presence rather than equality
//   "events.outgoing.<name>": a message with "{{field}}" placeholders (media, mark, clear, and extras
//   such as Vonage's notify); "clear": null declares that clearing is local (AudioSocket has no command).
//   "events.telephony.<name>": the provider's own messages (connected, start, media, dtmf, mark echoes,
//   mark_cleared, cleared, stop), for sessions in the telephony role, which speak as the provider.
//   "audio.agent_encoding" (and "agent_sample_rate"): the format the agent's audio must be sent in
//   when the provider fixes it apart from the call's (Telnyx's bidirectional codec is PCMU whatever
//   the call's codec); absent: the call's format.
//   "audio.caller_track": media whose track field says otherwise is not the caller's (a both-tracks
//   stream also carries the agent's own audio); absent: "inbound".
//   "audio.strict_frames": true: the provider refuses (or garbles) media of other sizes than the frame
//   rule says (Exotel: multiples of 320 bytes from 3.2 KB; Vonage: exactly 20 ms); a strict telephony
//   session says so when an agent server breaks it.
//   "audio.pacing": "provider" (it buffers what it is sent and plays it in time) or "sender" (it plays
//   frames as they arrive, so the sender must send them in real time: AudioSocket).
//   "flow_control": {"pause": "<pattern>", "resume": "<pattern>"}: incoming patterns after which the
//   provider wants no more audio for now, and again (Asterisk's MEDIA_XOFF / MEDIA_XON).
//
// Loading checks the whole template and reports every problem at once, each naming its field. The seed's
// mandatory events: handshake (connected, or start standing in), meta (start), audio (media), and clear
// (an incoming clear pattern as in the seed, or an outgoing clear); mark is optional.

/// One thing wrong with a template, and where.
public struct TemplateProblem: Equatable, Sendable, CustomStringConvertible {
    public var field: String
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}

public enum TemplateError: Error, Sendable {
    case json(JSONError)
    case invalid([TemplateProblem])

    public var message: String {
        switch self {
        case .json(let error): "template is not valid JSON: \(error.message)"
        case .invalid(let problems): "invalid template: " + problems.map(\.description).joined(separator: "; ")
        }
    }
}

public final class ProviderTemplate {
    public enum TextTransport: String, Sendable { case json, lines }
    public enum BinaryTransport: String, Sendable { case reject, media, audiosocket }
    public enum Payload: String, Sendable { case base64, binary }
    public enum Pacing: String, Sendable { case provider, sender }

    /// How outgoing audio must be cut: exact frames (in bytes, or in ms of the call's format), or
    /// multiples within bounds.
    public struct FrameRule: Sendable {
        public var milliseconds: Int?
        public var exact: Int?
        public var multiple: Int?
        public var minimum: Int?
        public var maximum: Int?
    }

    /// A detection leaf: the value at `path` equals `expected`, or (with `expected` nil) the path
    /// exists when `present`, or does not.
    struct Detection {
        let path: FieldPath
        let expected: JSONValue?
        let present: Bool
    }

    /// One extraction-map entry: a field of the internal set (or, when `field` is nil, an extra named
    /// `name`, an index into `extraNames`) and where to find it.
    struct Extraction {
        let field: EventField?
        let name: Int
        let path: FieldPath
    }

    struct Pattern {
        let name: String
        let kind: EventKind
        let detection: [Detection]
        let extraction: [Extraction]
    }

    public let name: String
    public let text: TextTransport
    public let binary: BinaryTransport
    public let payload: Payload
    public let defaultFormat: AudioFormat
    public let frameRule: FrameRule
    public let pacing: Pacing
    /// The format agent audio must be sent in, when the provider fixes it apart from the call's.
    public let agentFormat: AudioFormat?
    /// The track value of the caller's media.
    public let callerTrack: String
    /// Whether the provider refuses media of other sizes than `frameRule`.
    public let strictFrames: Bool
    public let encodingNames: EncodingNames
    let patterns: [Pattern]
    let paths: PathTable
    /// Names of extraction-map fields outside the internal set.
    let extraNames: [String]
    /// Outgoing messages by name; a nil template means the action is local (no wire message).
    public let outgoing: [String: OutgoingTemplate?]
    /// Patterns (indices) that pause and resume the audio sent to the provider.
    public let pausePattern: Int?
    public let resumePattern: Int?
    /// The provider's own messages, for the telephony role.
    public let telephony: [String: OutgoingTemplate]
    /// `outgoing` and `telephony` by what each message is for.
    public let messages: OutgoingMessages
    public let telephonyMessages: TelephonyMessages
    /// Whether the template describes what an agent server sends (see `ServerTemplate`): the seed's
    /// mandatory events do not apply.
    let serverSide: Bool

    /// The template's own JSON, kept for the life of the template: detection values point into it.
    private let source: UnsafeMutableRawBufferPointer
    private let document: JSONDocument

    /// Loads and validates a template.
    public convenience init(json: some Collection<UInt8>) throws(TemplateError) {
        try self.init(json: json, serverSide: false)
    }

    /// Limits of a template's JSON.
    static let jsonLimits = JSONLimits(maxBytes: 1 << 20, maxDepth: 32, maxValues: 1 << 16)

    init(json: some Collection<UInt8>, serverSide: Bool) throws(TemplateError) {
        // The size limit before the copy, so that an oversize input costs nothing.
        guard json.count <= Self.jsonLimits.maxBytes else {
            throw .json(.tooLarge(bytes: json.count, limit: Self.jsonLimits.maxBytes))
        }
        source = .allocate(byteCount: max(json.count, 1), alignment: 1)
        _ = source.initializeMemory(as: UInt8.self, from: json)
        var document = JSONDocument(limits: Self.jsonLimits)
        do throws(JSONError) {
            try document.parse(UnsafeRawBufferPointer(rebasing: source[0..<json.count]))
        } catch {
            source.deallocate()
            throw .json(error)
        }
        self.document = document
        var loader = TemplateLoader(root: document.root, serverSide: serverSide)
        let loaded = loader.load()
        guard loader.problems.isEmpty, let loaded else {
            source.deallocate()
            throw .invalid(loader.problems)
        }
        name = loaded.name
        text = loaded.text
        binary = loaded.binary
        payload = loaded.payload
        defaultFormat = loaded.format
        frameRule = loaded.frameRule
        pacing = loaded.pacing
        agentFormat = loaded.agentFormat
        callerTrack = loaded.callerTrack
        strictFrames = loaded.strictFrames
        encodingNames = loaded.encodingNames
        patterns = loaded.patterns
        paths = loader.paths
        extraNames = loader.extraNames
        outgoing = loaded.outgoing
        telephony = loaded.telephony
        messages = OutgoingMessages(loaded.outgoing)
        telephonyMessages = TelephonyMessages(loaded.telephony)
        pausePattern = loaded.pause
        resumePattern = loaded.resume
        self.serverSide = serverSide
    }

    /// The root of the template's JSON (alive as long as the template).
    var root: JSONValue { document.root }

    deinit { source.deallocate() }

    public convenience init(json: String) throws(TemplateError) {
        try self.init(json: Array(json.utf8))
    }

    /// Every problem of a template (empty when it loads).
    public static func problems(json: some Collection<UInt8>) -> [TemplateProblem] {
        do throws(TemplateError) {
            _ = try ProviderTemplate(json: json)
            return []
        } catch {
            switch error {
            case .json(let e): return [TemplateProblem(field: "(template)", message: "not valid JSON: \(e.message)")]
            case .invalid(let problems): return problems
            }
        }
    }

    /// The names of the template's patterns, in detection order.
    public var patternNames: [String] { patterns.map(\.name) }
}

/// Reads a template document, collecting every problem rather than stopping at the first.
struct TemplateLoader {
    struct Loaded {
        var name: String
        var text: ProviderTemplate.TextTransport
        var binary: ProviderTemplate.BinaryTransport
        var payload: ProviderTemplate.Payload
        var format: AudioFormat
        var frameRule: ProviderTemplate.FrameRule
        var pacing: ProviderTemplate.Pacing
        var agentFormat: AudioFormat? = nil
        var callerTrack = "inbound"
        var strictFrames = false
        var encodingNames: EncodingNames
        var patterns: [ProviderTemplate.Pattern]
        var outgoing: [String: OutgoingTemplate?]
        var telephony: [String: OutgoingTemplate]
        var pause: Int?
        var resume: Int?
    }

    let root: JSONValue
    let serverSide: Bool
    var problems: [TemplateProblem] = []
    var paths = PathTable()
    var extraNames: [String] = []

    init(root: JSONValue, serverSide: Bool = false) {
        self.root = root
        self.serverSide = serverSide
    }

    mutating func problem(_ field: String, _ message: String) {
        problems.append(TemplateProblem(field: field, message: message))
    }

    mutating func load() -> Loaded? {
        guard root.kind == .object else {
            problem("(template)", "must be a JSON object")
            return nil
        }
        let name = root["provider"]?.string ?? ""
        if name.isEmpty { problem("provider", "a non-empty string naming the provider is required") }

        let transport = root["transport"]
        let text = enumValue(transport?["text"], "transport.text", default: ProviderTemplate.TextTransport.json)
        let binary = enumValue(transport?["binary"], "transport.binary", default: ProviderTemplate.BinaryTransport.reject)

        let audio = root["audio"]
        if let audio, audio.kind != .object { problem("audio", "must be an object") }
        let payload = enumValue(audio?["payload"], "audio.payload", default: binary == .reject ? ProviderTemplate.Payload.base64 : .binary)
        let format = audioFormat(audio)
        let frameRule = frameRule(audio, format: format)
        let pacing = enumValue(audio?["pacing"], "audio.pacing", default: ProviderTemplate.Pacing.provider)
        let names = encodingNames(audio?["encoding_names"])
        var agentFormat: AudioFormat?
        if let encoding = audio?["agent_encoding"] {
            if let name = encoding.string, let parsed = Encoding(name: name) {
                agentFormat = AudioFormat(encoding: parsed, sampleRate: format.sampleRate, channels: format.channels)
            } else {
                problem("audio.agent_encoding", "unknown encoding \(describe(encoding)) (ulaw, alaw, pcm16le, pcm16be, pcm8, f32le)")
            }
        }
        if let rate = audio?["agent_sample_rate"] {
            if let value = rate.int64, SampleRate.isSupported(Int(value)), agentFormat != nil {
                agentFormat?.sampleRate = Int(value)
            } else {
                problem("audio.agent_sample_rate", agentFormat == nil ? "needs audio.agent_encoding" : "unsupported sample rate \(describe(rate))")
            }
        }
        var strictFrames = false
        if let strict = audio?["strict_frames"] {
            if strict.kind == .true || strict.kind == .false { strictFrames = strict.kind == .true } else { problem("audio.strict_frames", "must be true or false") }
        }
        var callerTrack = "inbound"
        if let track = audio?["caller_track"] {
            if let text = track.string, !text.isEmpty { callerTrack = text } else { problem("audio.caller_track", "must be a non-empty string") }
        }

        let events = root["events"]
        let incoming = events?["incoming"]?["message_patterns"]
        var patterns: [ProviderTemplate.Pattern] = []
        if let incoming, incoming.kind == .object {
            for member in incoming.members {
                let patternName = member.key.string ?? ""
                if let pattern = self.pattern(patternName, member.value, payload: payload) { patterns.append(pattern) }
            }
        } else {
            problem("events.incoming.message_patterns", "an object of message patterns is required")
        }
        let outgoing = outgoingTemplates(events?["outgoing"], payload: payload, plainText: text == .lines)
        var telephony: [String: OutgoingTemplate] = [:]
        for (key, template) in outgoingTemplates(events?["telephony"], payload: payload, plainText: text == .lines, section: "telephony") {
            if let template { telephony[key] = template }
        }
        if let known = events?["telephony"], known.kind == .object {
            let names: Set<String> = ["connected", "start", "media", "dtmf", "mark", "mark_cleared", "cleared", "stop"]
            for member in known.members where !names.contains(member.key.string ?? "") {
                problem("events.telephony.\(member.key.string ?? "")", "unknown provider message (connected, start, media, dtmf, mark, mark_cleared, cleared, stop)")
            }
        }

        var pause: Int?, resume: Int?
        if let flow = root["flow_control"] {
            if flow.kind != .object { problem("flow_control", "must be an object {\"pause\": pattern, \"resume\": pattern}") }
            for member in flow.members {
                let key = member.key.string ?? ""
                let target = member.value.string ?? ""
                guard let index = patterns.firstIndex(where: { $0.name == target }) else {
                    problem("flow_control.\(key)", "no incoming pattern named \(describe(member.value))")
                    continue
                }
                switch key {
                case "pause": pause = index
                case "resume": resume = index
                default: problem("flow_control.\(key)", "unknown key (pause, resume)")
                }
            }
        }
        // The seed's mandatory events (for what a provider sends; an agent server's messages differ).
        guard !serverSide else {
            return problems.isEmpty ? Loaded(name: name, text: text, binary: binary, payload: payload, format: format, frameRule: frameRule,
                                             pacing: pacing, agentFormat: agentFormat, callerTrack: callerTrack, strictFrames: strictFrames, encodingNames: names, patterns: patterns, outgoing: outgoing, telephony: telephony,
                                             pause: pause, resume: resume) : nil
        }
        let kinds = Set(patterns.map(\.kind))
        if !kinds.contains(.connected) && !kinds.contains(.start) {
            problem("events.incoming.message_patterns.connected", "the handshake is mandatory: a connected pattern, or start standing in for it")
        }
        if !kinds.contains(.start) {
            problem("events.incoming.message_patterns.start", "the meta event (start) is mandatory")
        }
        if !kinds.contains(.media) && binary == .reject {
            problem("events.incoming.message_patterns.media", "the audio event (media) is mandatory")
        }
        if !kinds.contains(.clear) && outgoing["clear"] == nil {
            problem("events.outgoing.clear", "clear is mandatory: an outgoing clear message (null if clearing is local), or an incoming clear pattern")
        }
        guard problems.isEmpty else { return nil }
        return Loaded(name: name, text: text, binary: binary, payload: payload, format: format, frameRule: frameRule,
                      pacing: pacing, agentFormat: agentFormat, callerTrack: callerTrack, strictFrames: strictFrames, encodingNames: names, patterns: patterns, outgoing: outgoing, telephony: telephony,
                      pause: pause, resume: resume)
    }

    mutating func enumValue<T: RawRepresentable>(_ value: JSONValue?, _ field: String, default fallback: T) -> T where T.RawValue == String {
        guard let value else { return fallback }
        guard let text = value.string, let parsed = T(rawValue: text) else {
            problem(field, "unknown value \(describe(value))")
            return fallback
        }
        return parsed
    }

    mutating func audioFormat(_ audio: JSONValue?) -> AudioFormat {
        var format = AudioFormat(encoding: .ulaw, sampleRate: 8000, channels: 1)
        if let encoding = audio?["encoding"] {
            if let name = encoding.string, let parsed = Encoding(name: name) {
                format.encoding = parsed
            } else {
                problem("audio.encoding", "unknown encoding \(describe(encoding)) (ulaw, alaw, pcm16le, pcm16be, pcm8, f32le)")
            }
        }
        if let rate = audio?["sample_rate"] {
            if let value = rate.int64, SampleRate.isSupported(Int(value)) {
                format.sampleRate = Int(value)
            } else {
                problem("audio.sample_rate", "unsupported sample rate \(describe(rate))")
            }
        }
        if let channels = audio?["channels"] {
            if let value = channels.int64, value == 1 || value == 2 {
                format.channels = Int(value)
            } else {
                problem("audio.channels", "must be 1 or 2, not \(describe(channels))")
            }
        }
        return format
    }

    mutating func frameRule(_ audio: JSONValue?, format: AudioFormat) -> ProviderTemplate.FrameRule {
        var rule = ProviderTemplate.FrameRule()
        func positive(_ key: String) -> Int? {
            guard let value = audio?[key] else { return nil }
            guard let n = value.int64, n > 0, n <= 1 << 20 else {
                problem("audio.\(key)", "must be a positive number of bytes, not \(describe(value))")
                return nil
            }
            if key == "frame_ms" && (n > 1000 || n % 10 != 0) {
                problem("audio.frame_ms", "must be a multiple of 10 ms up to 1000, not \(n)")
            }
            if Int(n) % format.bytesPerFrame != 0 && (key == "frame_bytes" || key == "frame_multiple") {
                problem("audio.\(key)", "\(n) bytes splits a sample (\(format.bytesPerFrame) bytes per frame)")
            }
            return Int(n)
        }
        rule.milliseconds = positive("frame_ms")
        rule.exact = positive("frame_bytes")
        rule.multiple = positive("frame_multiple")
        rule.minimum = positive("frame_min")
        rule.maximum = positive("frame_max")
        if [rule.milliseconds, rule.exact, rule.multiple].compactMap({ $0 }).count > 1 {
            problem("audio.frame_bytes", "give one of frame_ms, frame_bytes and frame_multiple")
        }
        return rule
    }

    mutating func encodingNames(_ value: JSONValue?) -> EncodingNames {
        var names: [(String, String)] = []
        if let value {
            if value.kind != .object { problem("audio.encoding_names", "must be an object of name: encoding") }
            for member in value.members {
                let key = member.key.string ?? ""
                if let target = member.value.string, EncodingNames.entry(target) != nil {
                    names.append((key, target))
                } else {
                    problem("audio.encoding_names.\(key)", "unknown encoding \(describe(member.value)) (ulaw, alaw, pcm16le, pcm16be, pcm8, f32le, optionally @rate)")
                }
            }
        }
        return EncodingNames(names)
    }

    mutating func pattern(_ name: String, _ value: JSONValue, payload: ProviderTemplate.Payload) -> ProviderTemplate.Pattern? {
        let field = "events.incoming.message_patterns.\(name)"
        guard value.kind == .object else {
            problem(field, "must be an object with detection_pattern and extraction_map")
            return nil
        }
        var kind = EventKind(name: name.utf8)
        if let mapsTo = value["maps_to"] {
            if mapsTo.stringEquals("ignore".utf8) {
                kind = .ignored
            } else if let target = mapsTo.string, let mapped = EventKind(name: target.utf8), mapped != .error, mapped != .ignored {
                kind = mapped
            } else {
                problem("\(field).maps_to", "unknown internal event \(describe(mapsTo))")
                return nil
            }
        }
        guard let kind, kind != .error else {
            problem(field, "unknown internal event \"\(name)\": use connected, start, media, dtmf, mark, clear or stop, or say \"maps_to\"")
            return nil
        }
        var detection: [ProviderTemplate.Detection] = []
        if let pattern = value["detection_pattern"], pattern.kind == .object, pattern.count > 0 {
            collectDetection(pattern, prefix: "", field: "\(field).detection_pattern", into: &detection)
        } else {
            problem("\(field).detection_pattern", "a non-empty object is required")
        }
        var extraction: [ProviderTemplate.Extraction] = []
        if let map = value["extraction_map"] {
            if map.kind != .object { problem("\(field).extraction_map", "must be an object of field: path") }
            for member in map.members {
                let key = member.key.string ?? ""
                guard let text = member.value.string, let path = paths.add(text) else {
                    problem("\(field).extraction_map.\(key)", "a dotted path like \"media.payload\" is required, not \(describe(member.value))")
                    continue
                }
                if path.isPayload && payload != .binary {
                    problem("\(field).extraction_map.\(key)", "$payload is only for binary frames")
                }
                let internalField = EventField(rawValue: key)
                if path.isMessage && internalField != .customParameters {
                    problem("\(field).extraction_map.\(key)", "$message (the whole message) is only for custom_parameters")
                }
                if internalField == nil { extraNames.append(key) }
                extraction.append(ProviderTemplate.Extraction(field: internalField, name: extraNames.count &- 1, path: path))
            }
        }
        let fields = Set(extraction.compactMap(\.field))
        if kind == .media && !fields.contains(.audio) {
            problem("\(field).extraction_map.audio", "a media pattern must say where the audio is")
        }
        return ProviderTemplate.Pattern(name: name, kind: kind, detection: detection, extraction: extraction)
    }

    mutating func collectDetection(_ object: JSONValue, prefix: String, field: String, into leaves: inout [ProviderTemplate.Detection]) {
        for member in object.members {
            let key = member.key.string ?? ""
            let path = prefix.isEmpty ? key : prefix + "." + key
            guard let fieldPath = paths.add(path) else {
                problem("\(field).\(key)", "empty key in a detection path")
                continue
            }
            let value = member.value
            if value.kind == .object, let exists = value["$exists"] {
                guard let flag = exists.bool, value.count == 1 else {
                    problem("\(field).\(key)", "{\"$exists\": true|false} takes a boolean and nothing else")
                    continue
                }
                leaves.append(ProviderTemplate.Detection(path: fieldPath, expected: nil, present: flag))
            } else if value.kind == .object {
                collectDetection(value, prefix: path, field: "\(field).\(key)", into: &leaves)
            } else {
                leaves.append(ProviderTemplate.Detection(path: fieldPath, expected: value, present: true))
            }
        }
    }

    mutating func outgoingTemplates(
        _ value: JSONValue?, payload: ProviderTemplate.Payload, plainText: Bool, section: String = "outgoing"
    ) -> [String: OutgoingTemplate?] {
        var result: [String: OutgoingTemplate?] = [:]
        guard let value else { return result }
        guard value.kind == .object else {
            problem("events.\(section)", "must be an object of name: message template")
            return result
        }
        for member in value.members {
            let key = member.key.string ?? ""
            if member.value.kind == .null {
                result[key] = .some(nil)
                continue
            }
            do throws(OutgoingTemplate.Problem) {
                guard !plainText || member.value.kind == .string else {
                    problem("events.\(section).\(key)", "a provider with plain-text control lines takes string templates, e.g. \"MARK_MEDIA {{mark}}\"")
                    continue
                }
                let template = try OutgoingTemplate(member.value, plainText: plainText)
                if key == "media" && payload == .base64 && !template.placeholders.contains("audio") {
                    problem("events.\(section).media", "must carry {{audio}}")
                }
                result[key] = .some(template)
            } catch {
                problem("events.\(section).\(key)\(error.path.isEmpty ? "" : "." + error.path)", error.message)
            }
        }
        return result
    }

    func describe(_ value: JSONValue) -> String {
        String(decoding: value.jsonText.prefix(60), as: UTF8.self)
    }
}
