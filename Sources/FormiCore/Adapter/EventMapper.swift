// Maps provider messages to internal events with one template: detection (first matching pattern wins),
// then extraction with type coercion (Twilio sends numbers as strings, Plivo as numbers).
//
// Text frames are JSON, or for Asterisk's default control format plain-text lines, which are read into
// a small JSON object first ("MEDIA_START format:ulaw ptime:20" -> {"event":"MEDIA_START","format":
// "ulaw","ptime":"20"}; bare words go to "args"). Binary frames are either raw media or AudioSocket
// type-length-value frames, likewise read into an object ({"kind":"audio","type":16,"sample_rate":8000})
// with the frame's payload at the path "$payload".
//
// The mapper remembers the call's audio format from the last `start` (media events carry it), unless its
// owner (a session) says the format itself with `expect`. It keeps its buffers between messages: once
// warm, mapping allocates nothing. Not thread-safe: one per call.

public final class EventMapper {
    public let template: ProviderTemplate
    /// The call's format: the template's default until a `start` says otherwise.
    public private(set) var callFormat: AudioFormat
    /// The last event mapped, but its error message; its views are valid until the next `map`.
    public private(set) var fields: EventFields
    /// What was wrong, when the last event is an error.
    public private(set) var errorMessage: String?
    /// The last event mapped (a copy; the C API reads `fields` and `errorMessage` in place).
    public var event: ProviderEvent { ProviderEvent(fields, error: errorMessage) }
    /// The encoding name the last event gave, as written (a view like the event's).
    public private(set) var encodingName: UnsafeRawBufferPointer?
    /// Extraction-map fields outside the internal set (the seed's "status", "action"...), of the last event.
    public private(set) var extras: [(name: String, value: JSONValue)] = []

    private var document: JSONDocument
    private let plan: PatternPlan
    private var arena = ScratchArena(capacity: 4096)
    /// The JSON object read from a text line or AudioSocket frame.
    private var transcript = JSONWriter(capacity: 256)
    private var scratch = JSONWriter(capacity: 256)

    /// Whether a `start` sets the call's format. A session owns the format itself (it rejects a second
    /// start, and knows the format of a call it announces) and says it with `expect`.
    private let followsStart: Bool

    public convenience init(template: ProviderTemplate, limits: JSONLimits = JSONLimits(maxBytes: 1 << 20, maxDepth: 32, maxValues: 4096)) {
        self.init(template: template, limits: limits, followsStart: true)
    }

    init(template: ProviderTemplate, limits: JSONLimits, followsStart: Bool) {
        self.followsStart = followsStart
        self.template = template
        callFormat = template.defaultFormat
        fields = EventFields(format: template.defaultFormat)
        document = JSONDocument(limits: limits)
        plan = PatternPlan(template)
        extras.reserveCapacity(4)
    }

    /// Forgets the call's format (a new call on the same mapper).
    public func reset() {
        callFormat = template.defaultFormat
    }

    /// Sets the call's format without a start (the side that announced it knows it).
    func expect(_ format: AudioFormat) {
        callFormat = format
    }

    /// Maps one message (a text frame, or a binary one) into `event`. Never fails: what cannot be mapped
    /// is an `.error` event that says why. (The event is read from the property rather than returned:
    /// returning it would copy it, and this runs for every frame.)
    public func map(_ message: UnsafeRawBufferPointer, binary: Bool) {
        clearEvent()
        // Room for anything a message can expand to: unescaped text, decoded audio, a parameter object.
        // Only up to the size limit: a larger text frame is rejected by the parser (binary frames are not
        // copied), so an oversize frame cannot make the mapper allocate.
        arena.reset(minimum: min(message.count, document.limits.maxBytes) &* 2 &+ 512)
        if !binary, message.count > document.limits.maxBytes {
            // Before any byte is read (the line reader would otherwise walk all of it).
            return fail("message of \(message.count) bytes exceeds the limit of \(document.limits.maxBytes)")
        }
        if binary {
            mapBinary(message)
        } else {
            switch template.text {
            case .json: mapJSON(message, payload: nil)
            case .lines: mapLine(message)
            }
        }
    }

    // MARK: frames

    private func mapBinary(_ message: UnsafeRawBufferPointer) {
        switch template.binary {
        case .reject:
            fail("binary frame of \(message.count) bytes: \(template.name) sends text frames only")
        case .media:
            fields.kind = .media
            fields.format = callFormat
            guard message.count % callFormat.bytesPerFrame == 0 else {
                return fail("media: \(message.count) bytes is not a whole number of \(callFormat.encoding.name) frames")
            }
            fields.audio = message
        case .audiosocket:
            mapAudioSocket(message)
        }
    }

    /// One AudioSocket frame, read as a JSON object the patterns match (AudioSocket.swift).
    private func mapAudioSocket(_ frame: UnsafeRawBufferPointer) {
        if let problem = AudioSocket.transcribe(frame, into: &transcript) { return fail(problem) }
        let bytes = transcript.bytes
        bytes.withUnsafeBytes { mapJSON($0, payload: UnsafeRawBufferPointer(rebasing: frame[3...])) }
    }

    /// One plain-text control line: the first word is the event, "key:value" words are fields, and bare
    /// words are collected in "args".
    private func mapLine(_ line: UnsafeRawBufferPointer) {
        transcript.reset()
        transcript.beginObject()
        var args: [Range<Int>] = []
        var index = 0
        var first = true
        while index < line.count {
            while index < line.count, isSpace(line[index]) { index &+= 1 }
            let start = index
            while index < line.count, !isSpace(line[index]) { index &+= 1 }
            guard index > start else { break }
            let word = UnsafeRawBufferPointer(rebasing: line[start..<index])
            guard validUTF8(word) else { return fail("text line: not valid UTF-8") }
            if first {
                transcript.key("event"); transcript.string(word)
                first = false
            } else if let colon = word.firstIndex(of: UInt8(ascii: ":")), colon > 0 {
                transcript.key(word[0..<colon]); transcript.string(word[(colon &+ 1)...])
            } else {
                args.append(start..<index)
            }
        }
        guard !first else { return fail("empty text line") }
        if !args.isEmpty {
            transcript.key("args")
            transcript.beginArray()
            for range in args { transcript.string(UnsafeRawBufferPointer(rebasing: line[range])) }
            transcript.endArray()
        }
        transcript.endObject()
        let bytes = transcript.bytes
        bytes.withUnsafeBytes { mapJSON($0, payload: nil) }
    }

    // MARK: JSON

    private func mapJSON(_ text: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer?) {
        do throws(JSONError) {
            try document.parse(text)
        } catch {
            return fail("malformed JSON: \(error.message)")
        }
        let root = document.root
        guard root.kind == .object else { return fail("expected a JSON object, got \(root.kind)") }
        plan.begin(root)
        guard let index = plan.spans.indices.first(where: { matches(plan.spans[$0]) }) else {
            return fail("unknown message: no pattern of \(template.name) matches\(hint(root))")
        }
        let pattern = plan.spans[index]
        fields.kind = pattern.kind
        fields.pattern = index
        fields.format = callFormat
        for entryIndex in pattern.extractions {
            let entry = plan.extractions[entryIndex]
            if entry.path.isPayload {
                if let payload { fields.audio = payload }
                continue
            }
            guard let value = entry.path.isMessage ? root : plan.resolve(entry.path), value.kind != .null else {
                if let field = entry.field, isRequired(field, for: pattern.kind) {
                    return fail("\(template.patterns[index].name): \(field.rawValue) is missing at \(template.paths.text(entry.path))")
                }
                continue
            }
            guard let field = entry.field else {
                extras.append((template.extraNames[entry.name], value))
                continue
            }
            if let problem = extract(field, value) {
                return fail("\(template.patterns[index].name): \(field.rawValue) at \(template.paths.text(entry.path)): \(problem)")
            }
        }
        if pattern.kind == .media, fields.audio == nil, let payload { fields.audio = payload }
        if pattern.kind == .media || pattern.kind == .start {
            guard SampleRate.isSupported(fields.format.sampleRate) else {
                return fail("\(template.patterns[index].name): unsupported sample rate \(fields.format.sampleRate)")
            }
        }
        if pattern.kind == .start && followsStart { callFormat = fields.format }
        if pattern.kind == .media, let audio = fields.audio, audio.count % fields.format.bytesPerFrame != 0 {
            return fail("media: \(audio.count) bytes is not a whole number of \(fields.format.encoding.name) frames")
        }
    }

    private func matches(_ pattern: PatternPlan.Span) -> Bool {
        for leafIndex in pattern.detections {
            let leaf = plan.detections[leafIndex]
            let value = plan.resolve(leaf.path)
            if let expected = leaf.expected {
                guard let value, value.equals(expected) else { return false }
            } else if (value != nil) != leaf.present {
                return false
            }
        }
        return true
    }

    private func isRequired(_ field: EventField, for kind: EventKind) -> Bool {
        switch (kind, field) {
        // A mark without a name is one the far end made up (Vonage's notify carries any payload): the
        // session passes it through rather than calling it an error.
        case (.media, .audio), (.dtmf, .digit): true
        default: false
        }
    }

    /// Reads one field into the event; returns what is wrong, if anything.
    private func extract(_ field: EventField, _ value: JSONValue) -> String? {
        switch field.type {
        case .text:
            guard let text = text(value) else { return "expected text, found \(value.kind)" }
            fields.texts[field] = text
        case .integer:
            guard let number = integer(value) else { return "expected an integer, found \(describe(value))" }
            switch field {
            case .sequence: fields.sequence = number
            case .timestamp: fields.timestamp = number
            case .chunk: fields.chunk = number
            case .duration: fields.duration = number
            case .sampleRate:
                guard SampleRate.isSupported(Int(clamping: number)) else { return "unsupported sample rate \(number)" }
                fields.format.sampleRate = Int(number)
            case .channels:
                guard number == 1 || number == 2 else { return "unsupported channel count \(number)" }
                fields.format.channels = Int(number)
            default: break
            }
        case .audio:
            return audio(value)
        case .object:
            return parameters(value)
        case .encoding:
            guard let name = text(value) else { return "expected an encoding name, found \(value.kind)" }
            guard let entry = template.encodingNames.lookup(name) else {
                return "unsupported encoding \"\(String(decoding: name, as: UTF8.self))\""
            }
            fields.format.encoding = entry.encoding
            if let rate = entry.sampleRate { fields.format.sampleRate = rate }
            encodingName = name
        }
        return nil
    }

    /// A string's content (in place, or unescaped into the arena); numbers and booleans as written.
    private func text(_ value: JSONValue) -> UnsafeRawBufferPointer? {
        switch value.kind {
        case .string:
            return value.withString { unescaped in
                unescaped.baseAddress == value.rawBytes.baseAddress ? unescaped : arena.copy(unescaped)
            }
        case .number, .true, .false:
            return value.rawBytes
        default:
            return nil
        }
    }

    private func integer(_ value: JSONValue) -> Int64? {
        switch value.kind {
        case .number: value.int64
        case .string: value.withString { parseInteger($0) }
        default: nil
        }
    }

    /// The audio payload: base64 inside a JSON string, decoded into the arena.
    private func audio(_ value: JSONValue) -> String? {
        guard value.kind == .string else { return "expected a base64 string, found \(value.kind)" }
        return value.withString { encoded -> String? in
            let capacity = encoded.count / 4 &* 3
            guard let room = arena.take(capacity) else { return "audio too large" }
            do throws(Base64Error) {
                let count = try Base64.decode(encoded, into: room)
                arena.giveBack(taken: capacity, kept: count)
                fields.audio = UnsafeRawBufferPointer(rebasing: room[0..<count])
                return nil
            } catch {
                arena.giveBack(taken: capacity, kept: 0)
                switch error {
                case .invalidLength(let n): return "invalid base64: length \(n) is not a multiple of 4"
                case .invalidCharacter(let byte, let offset): return "invalid base64: byte \(byte) at offset \(offset) is not in the alphabet"
                case .invalidPadding(let offset): return "invalid base64: bad padding at offset \(offset)"
                case .outputTooSmall: return "audio too large"
                }
            }
        }
    }

    /// Custom parameters: a JSON object as it is, or a string (Plivo's extra_headers) in either of its
    /// documented forms: "k=v;k=v" (or "k=v,k=v", as its XML attribute writes it: a comma starts a new
    /// pair only when "key=" follows it), or a JSON object written as a string ("{}").
    private func parameters(_ value: JSONValue) -> String? {
        switch value.kind {
        case .object:
            fields.customParameters = value.jsonText
        case .string:
            scratch.reset()
            scratch.beginObject()
            var problem: String?
            value.withString { text in
                let trimmed = text.drop { isSpace($0) }
                if trimmed.first == UInt8(ascii: "{") {
                    var inner = JSONDocument(limits: document.limits)
                    do throws(JSONError) {
                        try inner.parse(UnsafeRawBufferPointer(rebasing: text[trimmed.startIndex...]))
                        guard inner.root.kind == .object else { problem = "a string holding JSON must hold an object"; return }
                        scratch.reset()
                        scratch.appendVerbatim(inner.root.jsonText)
                    } catch {
                        problem = "a string holding JSON: \(error.message)"
                    }
                    return
                }
                for pair in splitPairs(text) where !pair.isEmpty {
                    let equals = pair.firstIndex(of: UInt8(ascii: "=")) ?? pair.endIndex
                    scratch.key(pair[pair.startIndex..<equals])
                    scratch.string(equals < pair.endIndex ? pair[(equals &+ 1)...] : pair[pair.endIndex...])
                }
                scratch.endObject()
            }
            if let problem { return problem }
            fields.customParameters = arena.copy(scratch.bytes)
        default:
            return "expected an object or \"k=v;k=v\", found \(value.kind)"
        }
        return nil
    }

    // MARK: helpers

    /// "a=1;b=2" or "a=1,b=2" into pairs; a comma not followed by "key=" belongs to the value.
    private func splitPairs(_ text: UnsafeRawBufferPointer) -> [Slice<UnsafeRawBufferPointer>] {
        var pairs: [Slice<UnsafeRawBufferPointer>] = []
        var start = text.startIndex
        var index = text.startIndex
        while index < text.endIndex {
            let byte = text[index]
            if byte == UInt8(ascii: ";") || (byte == UInt8(ascii: ",") && startsPair(text, at: index &+ 1)) {
                pairs.append(text[start..<index])
                start = index &+ 1
            }
            index &+= 1
        }
        pairs.append(text[start..<text.endIndex])
        return pairs
    }

    /// Whether "key=" (a key without separators) starts at `index`.
    private func startsPair(_ text: UnsafeRawBufferPointer, at index: Int) -> Bool {
        var i = index
        while i < text.endIndex {
            switch text[i] {
            case UInt8(ascii: "="): return i > index
            case UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: " "): return false
            default: i &+= 1
            }
        }
        return false
    }

    private func clearEvent() {
        fields = EventFields(format: callFormat)
        errorMessage = nil
        encodingName = nil
        if !extras.isEmpty { extras.removeAll(keepingCapacity: true) }
    }

    private func fail(_ message: String) {
        clearEvent()
        fields.kind = .error
        errorMessage = message
    }

    /// What the message said it was, for the "unknown message" error.
    private func hint(_ root: JSONValue) -> String {
        for key in ["event", "type", "action", "command", "kind"] {
            if let value = root[key], value.kind == .string || value.kind == .number {
                return " (\(key): \(describe(value)))"
            }
        }
        return ""
    }

    private func describe(_ value: JSONValue) -> String {
        String(decoding: value.jsonText.prefix(40), as: UTF8.self)
    }

    private func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

    private func validUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }
}
