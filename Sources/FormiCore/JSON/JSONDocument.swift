// A strict RFC 8259 JSON reader that indexes a message in place.
//
// Parsing writes one `Node` per value into a tape that is reused from message to message, so a warm
// reader allocates nothing. Nodes point into the caller's bytes (zero-copy): strings are unescaped only
// when asked for, numbers converted only when read. Everything RFC 8259 forbids is rejected (a test runs
// all of JSONTestSuite): bad UTF-8, control characters and lone surrogates in strings, leading zeros,
// trailing commas, a byte-order mark, anything after the value. Size, depth and value count are limited.

/// Limits on what a reader accepts; messages from a provider are small, so defaults are modest.
public struct JSONLimits: Sendable {
    public var maxBytes: Int
    public var maxDepth: Int
    public var maxValues: Int

    public init(maxBytes: Int = 1 << 20, maxDepth: Int = 64, maxValues: Int = 1 << 16) {
        self.maxBytes = maxBytes
        self.maxDepth = maxDepth
        self.maxValues = maxValues
    }
}

/// Why a text is not acceptable JSON, and where.
public enum JSONError: Error, Equatable, Sendable {
    case empty
    case tooLarge(bytes: Int, limit: Int)
    case tooDeep(offset: Int, limit: Int)
    case tooManyValues(limit: Int)
    /// An unexpected byte (nil: the text ended) where `expected` should be.
    case unexpected(byte: UInt8?, offset: Int, expected: String)
    case invalidNumber(offset: Int)
    case invalidEscape(offset: Int)
    case invalidUTF8(offset: Int)
    case controlCharacter(offset: Int)

    /// A one-line description for logs and the C API.
    public var message: String {
        switch self {
        case .empty: return "empty message"
        case .tooLarge(let bytes, let limit): return "message of \(bytes) bytes exceeds the limit of \(limit)"
        case .tooDeep(let offset, let limit): return "nesting deeper than \(limit) at offset \(offset)"
        case .tooManyValues(let limit): return "more than \(limit) values"
        case .unexpected(let byte, let offset, let expected):
            let found = byte.map { $0 >= 0x21 && $0 < 0x7F ? "'\(Character(Unicode.Scalar($0)))'" : "byte \($0)" } ?? "end of text"
            return "expected \(expected) at offset \(offset), found \(found)"
        case .invalidNumber(let offset): return "invalid number at offset \(offset)"
        case .invalidEscape(let offset): return "invalid escape at offset \(offset)"
        case .invalidUTF8(let offset): return "invalid UTF-8 at offset \(offset)"
        case .controlCharacter(let offset): return "unescaped control character in a string at offset \(offset)"
        }
    }
}

public enum JSONKind: UInt8, Sendable {
    case object, array, string, number, `true`, `false`, null
}

/// One value on the tape. Strings span their content (without quotes); containers span from the
/// opening bracket and record where their subtree ends on the tape.
@usableFromInline
struct JSONNode {
    @usableFromInline var kind: JSONKind
    /// Strings: contains at least one escape.
    @usableFromInline var escaped: Bool
    @usableFromInline var start: UInt32
    @usableFromInline var length: UInt32
    /// Containers: the index after the last node of the subtree; others: index + 1.
    @usableFromInline var end: UInt32
    /// Containers: members (object: key/value pairs count once) or elements.
    @usableFromInline var count: UInt32
}

/// The node tape: storage that grows during a parse and is reused by the next one.
final class JSONTape {
    private(set) var nodes: UnsafeMutablePointer<JSONNode>
    private(set) var capacity: Int
    var count = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 16)
        nodes = .allocate(capacity: self.capacity)
    }

    deinit { nodes.deallocate() }

    @inline(__always)
    func append(_ node: JSONNode) {
        if count == capacity { grow() }
        (nodes + count).initialize(to: node)
        count &+= 1
    }

    private func grow() {
        let bigger = UnsafeMutablePointer<JSONNode>.allocate(capacity: capacity &* 2)
        bigger.moveInitialize(from: nodes, count: count)
        nodes.deallocate()
        nodes = bigger
        capacity &*= 2
    }
}

/// A parsed message: the tape plus the bytes it indexes. Values read from it are valid until the next
/// `parse`, and only while the bytes stay alive and unchanged.
public struct JSONDocument {
    let tape: JSONTape
    @usableFromInline var bytes = UnsafeRawBufferPointer(start: nil, count: 0)
    public var limits: JSONLimits

    public init(limits: JSONLimits = JSONLimits()) {
        self.limits = limits
        tape = JSONTape(capacity: 64)
    }

    /// The root value of the last successful parse.
    public var root: JSONValue { JSONValue(nodes: tape.nodes, bytes: bytes, index: 0) }

    /// Parses `text`, replacing what the document held. On error the document is empty.
    public mutating func parse(_ text: UnsafeRawBufferPointer) throws(JSONError) {
        tape.count = 0
        bytes = UnsafeRawBufferPointer(start: nil, count: 0)
        guard text.count <= limits.maxBytes, text.count <= Int(UInt32.max) else {
            throw .tooLarge(bytes: text.count, limit: limits.maxBytes)
        }
        var parser = JSONParser(text: text, limits: limits, tape: tape)
        do throws(JSONError) {
            try parser.document()
        } catch {
            tape.count = 0
            throw error
        }
        bytes = text
    }
}

/// The parser proper: a recursive descent over bytes, appending nodes.
struct JSONParser {
    let text: UnsafeRawBufferPointer
    let limits: JSONLimits
    let tape: JSONTape
    var offset = 0
    var depth = 0

    init(text: UnsafeRawBufferPointer, limits: JSONLimits, tape: JSONTape) {
        self.text = text
        self.limits = limits
        self.tape = tape
    }

    mutating func document() throws(JSONError) {
        skipWhitespace()
        guard offset < text.count else { throw text.isEmpty ? .empty : .unexpected(byte: nil, offset: offset, expected: "a value") }
        try value()
        skipWhitespace()
        guard offset == text.count else { throw .unexpected(byte: text[offset], offset: offset, expected: "the end of the text") }
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while offset < text.count {
            let byte = text[offset]
            guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
            offset &+= 1
        }
    }

    @inline(__always)
    func peek() -> UInt8? { offset < text.count ? text[offset] : nil }

    @inline(__always)
    mutating func append(_ node: JSONNode) throws(JSONError) -> Int {
        guard tape.count < limits.maxValues else { throw .tooManyValues(limit: limits.maxValues) }
        tape.append(node)
        return tape.count &- 1
    }

    mutating func value() throws(JSONError) {
        guard let byte = peek() else { throw .unexpected(byte: nil, offset: offset, expected: "a value") }
        switch byte {
        case UInt8(ascii: "{"): try container(object: true)
        case UInt8(ascii: "["): try container(object: false)
        case UInt8(ascii: "\""): try string()
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        case UInt8(ascii: "t"): try literal("true", .true)
        case UInt8(ascii: "f"): try literal("false", .false)
        case UInt8(ascii: "n"): try literal("null", .null)
        default: throw .unexpected(byte: byte, offset: offset, expected: "a value")
        }
    }

    mutating func literal(_ word: StaticString, _ kind: JSONKind) throws(JSONError) {
        let start = offset
        let length = word.utf8CodeUnitCount
        guard text.count &- offset >= length else { throw .unexpected(byte: nil, offset: text.count, expected: "\(word)") }
        for i in 0..<length where text[offset &+ i] != word.utf8Start[i] {
            throw .unexpected(byte: text[offset &+ i], offset: offset &+ i, expected: "\(word)")
        }
        offset &+= length
        let index = tape.count
        _ = try append(JSONNode(kind: kind, escaped: false, start: UInt32(start), length: UInt32(length), end: UInt32(index &+ 1), count: 0))
    }

    mutating func container(object: Bool) throws(JSONError) {
        depth &+= 1
        guard depth <= limits.maxDepth else { throw .tooDeep(offset: offset, limit: limits.maxDepth) }
        let start = offset
        let index = try append(JSONNode(kind: object ? .object : .array, escaped: false, start: UInt32(start), length: 0, end: 0, count: 0))
        offset &+= 1  // the bracket
        let close = object ? UInt8(ascii: "}") : UInt8(ascii: "]")
        var count: UInt32 = 0
        skipWhitespace()
        if peek() == close {
            offset &+= 1
        } else {
            while true {
                skipWhitespace()
                if object {
                    guard peek() == UInt8(ascii: "\"") else { throw .unexpected(byte: peek(), offset: offset, expected: "a string key") }
                    try string()
                    skipWhitespace()
                    guard peek() == UInt8(ascii: ":") else { throw .unexpected(byte: peek(), offset: offset, expected: "':'") }
                    offset &+= 1
                    skipWhitespace()
                }
                try value()
                count &+= 1
                skipWhitespace()
                guard let next = peek() else { throw .unexpected(byte: nil, offset: offset, expected: object ? "',' or '}'" : "',' or ']'") }
                offset &+= 1
                if next == close { break }
                guard next == UInt8(ascii: ",") else {
                    throw .unexpected(byte: next, offset: offset &- 1, expected: object ? "',' or '}'" : "',' or ']'")
                }
            }
        }
        tape.nodes[index].length = UInt32(offset &- start)
        tape.nodes[index].end = UInt32(tape.count)
        tape.nodes[index].count = count
        depth &-= 1
    }

    mutating func number() throws(JSONError) {
        let start = offset
        if peek() == UInt8(ascii: "-") { offset &+= 1 }
        guard let first = peek(), isDigit(first) else { throw .invalidNumber(offset: start) }
        offset &+= 1
        if first == UInt8(ascii: "0") {
            if let next = peek(), isDigit(next) { throw .invalidNumber(offset: start) }  // no leading zeros
        } else {
            skipDigits()
        }
        if peek() == UInt8(ascii: ".") {
            offset &+= 1
            guard let d = peek(), isDigit(d) else { throw .invalidNumber(offset: start) }
            skipDigits()
        }
        if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            offset &+= 1
            if let sign = peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { offset &+= 1 }
            guard let d = peek(), isDigit(d) else { throw .invalidNumber(offset: start) }
            skipDigits()
        }
        let index = tape.count
        _ = try append(JSONNode(kind: .number, escaped: false, start: UInt32(start), length: UInt32(offset &- start), end: UInt32(index &+ 1), count: 0))
    }

    @inline(__always) func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    @inline(__always) mutating func skipDigits() {
        while let d = peek(), isDigit(d) { offset &+= 1 }
    }

    mutating func string() throws(JSONError) {
        offset &+= 1  // the opening quote
        let start = offset
        var escaped = false
        while true {
            skipPlainASCII()
            guard offset < text.count else { throw .unexpected(byte: nil, offset: offset, expected: "'\"'") }
            let byte = text[offset]
            if byte == UInt8(ascii: "\"") { break }
            if byte == UInt8(ascii: "\\") {
                escaped = true
                try escape()
            } else if byte < 0x20 {
                throw .controlCharacter(offset: offset)
            } else {
                try multibyte()
            }
        }
        let index = tape.count
        _ = try append(JSONNode(kind: .string, escaped: escaped, start: UInt32(start), length: UInt32(offset &- start), end: UInt32(index &+ 1), count: 0))
        offset &+= 1  // the closing quote
    }

    /// Skips bytes that need no attention: printable ASCII other than '"' and '\\'. Eight at a time while
    /// it can (base64 audio payloads are long runs of exactly such bytes), with word-wide bit tests that
    /// that find the first byte of the word that needs attention; the byte loop only serves the last few
    /// bytes of the text.
    @inline(__always)
    mutating func skipPlainASCII() {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        while offset &+ 8 <= text.count {
            let word = UInt64(littleEndian: text.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            let quote = word ^ (ones &* 0x22), backslash = word ^ (ones &* 0x5C)
            let special = (((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | ((word &- ones &* 0x20) & ~word) | word) & highs
            if special != 0 {
                // The lowest flagged byte is exactly the first that needs attention (false positives of
                // these tests only ever sit above a true one), so no byte loop is needed to find it.
                offset &+= special.trailingZeroBitCount &>> 3
                return
            }
            offset &+= 8
        }
        while offset < text.count {
            let byte = text[offset]
            // Printable ASCII (0x20...0x7F) other than '"' and '\\'.
            guard byte &- 0x20 < 0x60, byte != 0x22, byte != 0x5C else { return }
            offset &+= 1
        }
    }

    /// A backslash escape; `\u` escapes must form valid scalars (surrogates only in proper pairs).
    mutating func escape() throws(JSONError) {
        let start = offset
        offset &+= 1
        guard let kind = peek() else { throw .invalidEscape(offset: start) }
        offset &+= 1
        switch kind {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
             UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return
        case UInt8(ascii: "u"):
            guard let unit = hex4() else { throw .invalidEscape(offset: start) }
            if unit >= 0xDC00 && unit <= 0xDFFF { throw .invalidEscape(offset: start) }  // a lone low surrogate
            if unit >= 0xD800 && unit <= 0xDBFF {
                guard peek() == UInt8(ascii: "\\"), offset &+ 1 < text.count, text[offset &+ 1] == UInt8(ascii: "u") else {
                    throw .invalidEscape(offset: start)
                }
                offset &+= 2
                guard let low = hex4(), low >= 0xDC00 && low <= 0xDFFF else { throw .invalidEscape(offset: start) }
            }
        default:
            throw .invalidEscape(offset: start)
        }
    }

    mutating func hex4() -> UInt32? {
        guard text.count &- offset >= 4 else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = hexValue(text[offset]) else { return nil }
            value = value << 4 | digit
            offset &+= 1
        }
        return value
    }

    /// One UTF-8 encoded scalar of two to four bytes, validated (no overlongs, surrogates or values
    /// beyond U+10FFFF).
    mutating func multibyte() throws(JSONError) {
        let start = offset
        let lead = text[offset]
        let length: Int
        var minimum: UInt32
        var scalar: UInt32
        switch lead {
        case 0xC2...0xDF: length = 2; minimum = 0x80; scalar = UInt32(lead & 0x1F)
        case 0xE0...0xEF: length = 3; minimum = 0x800; scalar = UInt32(lead & 0x0F)
        case 0xF0...0xF4: length = 4; minimum = 0x10000; scalar = UInt32(lead & 0x07)
        default: throw .invalidUTF8(offset: start)
        }
        guard text.count &- offset >= length else { throw .invalidUTF8(offset: start) }
        for i in 1..<length {
            let next = text[offset &+ i]
            guard next & 0xC0 == 0x80 else { throw .invalidUTF8(offset: start) }
            scalar = scalar << 6 | UInt32(next & 0x3F)
        }
        guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else { throw .invalidUTF8(offset: start) }
        offset &+= length
    }
}

@inline(__always)
func hexValue(_ byte: UInt8) -> UInt32? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte &- UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte &- UInt8(ascii: "a") &+ 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte &- UInt8(ascii: "A") &+ 10)
    default: nil
    }
}

