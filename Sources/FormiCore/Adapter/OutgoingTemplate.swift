// Outgoing messages: a provider's JSON message with "{{field}}" placeholders, compiled once into literal
// runs and slots so that rendering a media message per 20 ms frame is a few appends.
//
// A string that is exactly "{{field}}" becomes the field's JSON value (a number for integer fields, a
// string otherwise; "{{field|string}}" forces a string, as Twilio wants its numbers); a placeholder inside
// a longer string is inserted escaped. "{{audio}}" is the frame's audio as base64. For providers whose
// control messages are plain-text lines (Asterisk), a template is a string rendered as is: "MARK_MEDIA {{mark}}".
// "{{custom_parameters}}" as a whole value is the call's parameters as a JSON object.

public struct OutgoingTemplate: Sendable {
    /// What a template can ask for.
    public enum Slot: String, CaseIterable, Sendable {
        case streamId = "stream_id", callId = "call_id", accountId = "account_id", mark, audio
        case sequence, timestamp, chunk, sampleRate = "sample_rate", channels, digit, track
        case from, to, direction, reason, encoding, duration
        case customParameters = "custom_parameters", frameBytes = "frame_bytes"

        var isInteger: Bool {
            switch self {
            case .sequence, .timestamp, .chunk, .sampleRate, .channels, .duration, .frameBytes: true
            default: false
            }
        }

        /// The internal event field a slot fills when a message is read back (nil for frame_bytes).
        var field: EventField? { EventField(rawValue: rawValue) }
    }

    enum Segment: Sendable {
        case literal([UInt8])
        /// A whole JSON value; `quoted` when it must be a string.
        case value(Slot, quoted: Bool)
        /// Inside an open string.
        case inString(Slot)
        /// custom_parameters as one "k=v;k=v" string (Plivo's extra_headers).
        case pairs
    }

    struct Problem: Error {
        var path: String
        var message: String
    }

    let segments: [Segment]
    public let placeholders: Set<String>

    init(_ template: JSONValue, plainText: Bool = false) throws(Problem) {
        var compiler = Compiler()
        if plainText {
            try compiler.plain(template.string ?? "")
        } else {
            try compiler.value(template, path: "")
        }
        compiler.flush()
        segments = compiler.segments
        placeholders = compiler.used
    }

    /// Renders the message into `out` (appending). Fields the template uses must be present in
    /// `values`; returns the missing slot otherwise (and `out` is left with a partial message).
    /// `render` for values held in a class: an inout argument is read where it lies, where a by-value
    /// one would be copied (every array in it retained and released) on each call.
    func render(inPlace values: inout OutgoingValues, into out: inout [UInt8]) -> Slot? {
        render(values, into: &out)
    }

    public func render(_ values: borrowing OutgoingValues, into out: inout [UInt8]) -> Slot? {
        for segment in segments {
            switch segment {
            case .literal(let bytes):
                out.append(contentsOf: bytes)
            case .value(let slot, let quoted):
                if let number = values.integer(slot) {
                    if quoted { out.append(UInt8(ascii: "\"")) }
                    appendDecimal(number, to: &out)
                    if quoted { out.append(UInt8(ascii: "\"")) }
                } else if slot == .customParameters && !quoted {
                    out.append(contentsOf: values.customParameters)
                } else {
                    out.append(UInt8(ascii: "\""))
                    guard values.appendText(slot, to: &out) else { return slot }
                    out.append(UInt8(ascii: "\""))
                }
            case .pairs:
                out.append(UInt8(ascii: "\""))
                appendPairs(values.customParameters, to: &out)
                out.append(UInt8(ascii: "\""))
            case .inString(let slot):
                if let number = values.integer(slot) {
                    appendDecimal(number, to: &out)
                } else if !values.appendText(slot, to: &out) {
                    return slot
                }
            }
        }
        return nil
    }

    /// Builds segments from a template value.
    struct Compiler {
        var segments: [Segment] = []
        var pending = JSONWriter(capacity: 64)
        var used: Set<String> = []

        mutating func flush() {
            if !pending.bytes.isEmpty { segments.append(.literal(pending.bytes)) }
            pending.reset()
        }

        mutating func value(_ value: JSONValue, path: String) throws(Problem) {
            switch value.kind {
            case .object:
                pending.appendVerbatim("{".utf8)
                for (index, member) in value.members.enumerated() {
                    if index > 0 { pending.appendVerbatim(",".utf8) }
                    let key = member.key.string ?? ""
                    pending.appendVerbatim("\"".utf8)
                    pending.appendEscaped(key.utf8)
                    pending.appendVerbatim("\":".utf8)
                    try self.value(member.value, path: path.isEmpty ? key : path + "." + key)
                }
                pending.appendVerbatim("}".utf8)
            case .array:
                pending.appendVerbatim("[".utf8)
                for (index, element) in value.elements.enumerated() {
                    if index > 0 { pending.appendVerbatim(",".utf8) }
                    try self.value(element, path: "\(path).\(index)")
                }
                pending.appendVerbatim("]".utf8)
            case .string:
                try string(value.string ?? "", path: path)
            default:
                pending.appendVerbatim(value.jsonText)
            }
        }

        mutating func string(_ text: String, path: String) throws(Problem) {
            // A whole-value placeholder.
            if text.hasPrefix("{{"), text.hasSuffix("}}"), text.dropFirst(2).dropLast(2).allSatisfy({ $0 != "{" && $0 != "}" }) {
                let inner = text.dropFirst(2).dropLast(2).split(separator: "|", maxSplits: 1)
                let slot = try self.slot(String(inner.first ?? ""), path: path)
                if inner.count == 2 && inner[1] == "pairs" {
                    guard slot == .customParameters else {
                        throw Problem(path: path, message: "|pairs is for {{custom_parameters}} only")
                    }
                    flush()
                    segments.append(.pairs)
                    return
                }
                if inner.count == 2 && inner[1] != "string" {
                    throw Problem(path: path, message: "unknown conversion \"\(inner[1])\" (|string, or |pairs for custom_parameters)")
                }
                flush()
                segments.append(.value(slot, quoted: inner.count == 2 || !(slot.isInteger || slot == .customParameters)))
                return
            }
            // Placeholders inside a longer string.
            pending.appendVerbatim("\"".utf8)
            var rest = Substring(text)
            while let open = rest.firstRange(of: "{{") {
                pending.appendEscaped(rest[rest.startIndex..<open.lowerBound].utf8)
                guard let close = rest[open.upperBound...].firstRange(of: "}}") else {
                    throw Problem(path: path, message: "unclosed placeholder in \"\(text)\"")
                }
                let slot = try self.slot(String(rest[open.upperBound..<close.lowerBound]), path: path)
                flush()
                segments.append(.inString(slot))
                rest = rest[close.upperBound...]
            }
            pending.appendEscaped(rest.utf8)
            pending.appendVerbatim("\"".utf8)
        }

        /// A plain-text line: literal text with placeholders, nothing quoted or escaped.
        mutating func plain(_ text: String) throws(Problem) {
            var rest = Substring(text)
            while let open = rest.firstRange(of: "{{") {
                pending.appendVerbatim(rest[rest.startIndex..<open.lowerBound].utf8)
                guard let close = rest[open.upperBound...].firstRange(of: "}}") else {
                    throw Problem(path: "", message: "unclosed placeholder in \"\(text)\"")
                }
                let slot = try self.slot(String(rest[open.upperBound..<close.lowerBound]), path: "")
                flush()
                segments.append(.inString(slot))
                rest = rest[close.upperBound...]
            }
            pending.appendVerbatim(rest.utf8)
        }

        mutating func slot(_ name: String, path: String) throws(Problem) -> Slot {
            guard let slot = Slot(rawValue: name) else {
                let known = Slot.allCases.map(\.rawValue).joined(separator: ", ")
                throw Problem(path: path, message: "unknown placeholder {{\(name)}} (known: \(known))")
            }
            used.insert(name)
            return slot
        }
    }
}

/// The values a rendered message may use. Text fields are bytes (copied in by the caller); `audio` is
/// raw audio, written as base64 straight into the message.
public struct OutgoingValues {
    public var streamId: [UInt8] = []
    public var callId: [UInt8] = []
    public var accountId: [UInt8] = []
    public var mark: [UInt8] = []
    public var digit: [UInt8] = []
    public var track: [UInt8] = []
    public var from: [UInt8] = []
    public var to: [UInt8] = []
    public var direction: [UInt8] = []
    public var reason: [UInt8] = []
    /// The provider's name for the call's encoding.
    public var encoding: [UInt8] = []
    /// A JSON object's text (inserted as is where the template has the whole-value placeholder).
    public var customParameters: [UInt8] = Array("{}".utf8)
    public var audio = UnsafeRawBufferPointer(start: nil, count: 0)
    public var sequence: Int64?
    public var timestamp: Int64?
    public var chunk: Int64?
    public var sampleRate: Int64?
    public var channels: Int64?
    public var duration: Int64?
    public var frameBytes: Int64?

    public init() {}

    func integer(_ slot: OutgoingTemplate.Slot) -> Int64? {
        switch slot {
        case .sequence: sequence
        case .timestamp: timestamp
        case .chunk: chunk
        case .sampleRate: sampleRate
        case .channels: channels
        case .duration: duration
        case .frameBytes: frameBytes
        default: nil
        }
    }

    /// Appends a text slot's value, escaped for a JSON string; false when it has none.
    func appendText(_ slot: OutgoingTemplate.Slot, to out: inout [UInt8]) -> Bool {
        let text: [UInt8]
        switch slot {
        case .audio:
            guard let length = Base64.encodedCount(byteCount: audio.count) else { return false }
            let start = out.count
            out.append(contentsOf: repeatElement(0, count: length))
            out.withUnsafeMutableBytes { bytes in
                _ = Base64.encode(audio, into: UnsafeMutableRawBufferPointer(rebasing: bytes[start...]))
            }
            return true
        case .streamId: text = streamId
        case .callId: text = callId
        case .accountId: text = accountId
        case .mark: text = mark
        case .digit: text = digit
        case .track: text = track
        case .from: text = from
        case .to: text = to
        case .direction: text = direction
        case .reason: text = reason
        case .encoding: text = encoding
        case .customParameters: text = customParameters
        default: return false
        }
        appendEscaped(text, to: &out)
        return true
    }
}

/// A JSON object's members as "k=v;k=v", escaped for a JSON string (strings as their text, other values
/// as written). Not an object: nothing.
func appendPairs(_ object: [UInt8], to out: inout [UInt8]) {
    var document = JSONDocument(limits: JSONLimits(maxBytes: 64 * 1024, maxDepth: 16, maxValues: 1024))
    object.withUnsafeBytes { bytes in
        guard (try? document.parse(bytes)) != nil, document.root.kind == .object else { return }
        var first = true
        for member in document.root.members {
            if !first { out.append(UInt8(ascii: ";")) }
            first = false
            appendEscaped(Array((member.key.string ?? "").utf8), to: &out)
            out.append(UInt8(ascii: "="))
            if let text = member.value.string {
                appendEscaped(Array(text.utf8), to: &out)
            } else {
                appendEscaped(member.value.jsonText, to: &out)
            }
        }
    }
}

func appendDecimal(_ value: Int64, to out: inout [UInt8]) {
    if value == 0 {
        out.append(UInt8(ascii: "0"))
        return
    }
    var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                 UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var count = 0
    var magnitude = value.magnitude
    withUnsafeMutableBytes(of: &digits) { buffer in
        while magnitude > 0 {
            buffer[count] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
            magnitude /= 10
            count &+= 1
        }
    }
    if value < 0 { out.append(UInt8(ascii: "-")) }
    withUnsafeBytes(of: &digits) { buffer in
        for i in stride(from: count &- 1, through: 0, by: -1) { out.append(buffer[i]) }
    }
}
