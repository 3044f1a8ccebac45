// A strict RFC 8259 JSON reader that indexes a message in place.
//
// Parsing writes one `Node` per value into a tape that is reused from message to message, so a warm
// reader allocates nothing. Nodes point into the caller's bytes (zero-copy): strings are unescaped only
// when asked for, numbers converted only when read. Everything RFC 8259 forbids is rejected (a test runs
// all of JSONTestSuite): bad UTF-8, control characters and lone surrogates in strings, leading zeros,
// trailing commas, a byte-order mark, anything after the value. Size, depth and value count are limited.

import CFormiKernels

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

    /// Doubles the capacity, keeping the first `count` nodes.
    func grow() {
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
        guard let base = text.baseAddress, !text.isEmpty else { throw .empty }
        var parser = JSONParser(text: base.assumingMemoryBound(to: UInt8.self), count: text.count, limits: limits, tape: tape)
        do throws(JSONError) {
            try parser.document()
        } catch {
            tape.count = 0
            throw error
        }
        tape.count = parser.nodeCount
        bytes = text
    }
}

/// The parser proper: one loop over the bytes, appending a node per value. Open containers form a
/// chain through the tape (an open container's `end` holds its parent's index until it closes), so
/// nesting needs no stack of its own and the loop, the cursor and the tape's end stay in registers.
struct JSONParser {
    let text: UnsafePointer<UInt8>
    let count: Int
    let limits: JSONLimits
    let tape: JSONTape
    var offset = 0
    /// The tape as the parser fills it; written back to `tape` when it grows and when the parse ends.
    var nodes: UnsafeMutablePointer<JSONNode>
    var nodeCount = 0
    /// Room on the tape before it must grow, never beyond `limits.maxValues`.
    var room: Int

    /// No container is open.
    static let none = UInt32.max

    init(text: UnsafePointer<UInt8>, count: Int, limits: JSONLimits, tape: JSONTape) {
        self.text = text
        self.count = count
        self.limits = limits
        self.tape = tape
        nodes = tape.nodes
        room = min(tape.capacity, max(limits.maxValues, 0))
    }

    // Everything the loop calls is inlined into it or takes its arguments by value, so the parser's
    // fields never have their address taken and live in registers.
    @inline(__always)
    mutating func document() throws(JSONError) {
        var open = Self.none  // the innermost open container's index
        var depth = 0
        var isKey = false  // the next string is an object member's key
        values: while true {
            // A value (or a key) starts here.
            guard let byte = significantByte() else { throw .unexpected(byte: nil, offset: offset, expected: isKey ? "a string key" : "a value") }
            if isKey, byte != UInt8(ascii: "\"") { throw .unexpected(byte: byte, offset: offset, expected: "a string key") }
            switch byte {
            case UInt8(ascii: "\""):
                try string()  // the only call, so that it is inlined once
                if isKey {
                    let colon = significantByte()
                    guard colon == UInt8(ascii: ":") else { throw .unexpected(byte: colon, offset: offset, expected: "':'") }
                    offset &+= 1
                    isKey = false
                    continue values
                }
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                try number()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                guard depth < limits.maxDepth else { throw .tooDeep(offset: offset, limit: limits.maxDepth) }
                let isObject = byte == UInt8(ascii: "{")
                let start = offset
                let index = try append(JSONNode(kind: isObject ? .object : .array, escaped: false, start: UInt32(truncatingIfNeeded: start), length: 0, end: open, count: 0))
                offset &+= 1
                if significantByte() == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    offset &+= 1  // empty: complete at once, like a scalar
                    nodes[index].length = UInt32(truncatingIfNeeded: offset &- start)
                    nodes[index].end = UInt32(truncatingIfNeeded: nodeCount)
                } else {
                    open = UInt32(truncatingIfNeeded: index)
                    depth &+= 1
                    isKey = isObject
                    continue values
                }
            case UInt8(ascii: "t"): try literal("true", .true)
            case UInt8(ascii: "f"): try literal("false", .false)
            case UInt8(ascii: "n"): try literal("null", .null)
            default: throw .unexpected(byte: byte, offset: offset, expected: "a value")
            }
            // A value is complete: it is a member of the innermost open container, which goes on with a
            // comma or closes (then it is itself a complete value of its parent).
            while open != Self.none {
                let container = Int(open)
                nodes[container].count &+= 1
                let isObject = nodes[container].kind == .object
                guard let next = significantByte() else { throw .unexpected(byte: nil, offset: offset, expected: isObject ? "',' or '}'" : "',' or ']'") }
                offset &+= 1
                if next == UInt8(ascii: ",") {
                    isKey = isObject
                    continue values
                }
                guard next == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) else {
                    throw .unexpected(byte: next, offset: offset &- 1, expected: isObject ? "',' or '}'" : "',' or ']'")
                }
                open = nodes[container].end
                nodes[container].end = UInt32(truncatingIfNeeded: nodeCount)
                nodes[container].length = UInt32(truncatingIfNeeded: offset) &- nodes[container].start
                depth &-= 1
            }
            break
        }
        skipWhitespace()
        guard offset == count else { throw .unexpected(byte: text[offset], offset: offset, expected: "the end of the text") }
    }

    @inline(__always)
    mutating func append(_ node: JSONNode) throws(JSONError) -> Int {
        if nodeCount == room { (nodes, room) = try Self.grow(tape, holding: nodeCount, limit: limits.maxValues) }
        (nodes + nodeCount).initialize(to: node)
        nodeCount &+= 1
        return nodeCount &- 1
    }

    /// The tape's storage after growing it: nodes and room.
    @inline(never)
    static func grow(_ tape: JSONTape, holding count: Int, limit: Int) throws(JSONError) -> (UnsafeMutablePointer<JSONNode>, Int) {
        guard count < limit else { throw .tooManyValues(limit: limit) }
        tape.count = count
        tape.grow()
        return (tape.nodes, min(tape.capacity, limit))
    }

    /// The next byte that is not insignificant whitespace, which is skipped; nil at the end. Messages
    /// from providers usually have no whitespace: then this is one load and one compare.
    @inline(__always)
    mutating func significantByte() -> UInt8? {
        guard offset < count else { return nil }
        let byte = text[offset]
        if byte > 0x20 { return byte }
        skipWhitespace()
        return offset < count ? text[offset] : nil
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while offset < count {
            let byte = text[offset]
            guard byte <= 0x20, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
            offset &+= 1
        }
    }

    @inline(__always)
    mutating func literal(_ word: StaticString, _ kind: JSONKind) throws(JSONError) {
        let start = offset
        let length = word.utf8CodeUnitCount
        for i in 0..<length {
            guard offset &+ i < count else { throw .unexpected(byte: nil, offset: count, expected: "\(word)") }
            guard text[offset &+ i] == word.utf8Start[i] else { throw .unexpected(byte: text[offset &+ i], offset: offset &+ i, expected: "\(word)") }
        }
        offset &+= length
        _ = try append(JSONNode(kind: kind, escaped: false, start: UInt32(truncatingIfNeeded: start), length: UInt32(truncatingIfNeeded: length), end: UInt32(truncatingIfNeeded: nodeCount &+ 1), count: 0))
    }

    @inline(__always)
    mutating func number() throws(JSONError) {
        let start = offset
        if text[offset] == UInt8(ascii: "-") { offset &+= 1 }
        guard offset < count, isDigit(text[offset]) else { throw .invalidNumber(offset: start) }
        if text[offset] == UInt8(ascii: "0") {
            offset &+= 1
            if offset < count, isDigit(text[offset]) { throw .invalidNumber(offset: start) }  // no leading zeros
        } else {
            skipDigits()
        }
        if offset < count, text[offset] == UInt8(ascii: ".") {
            offset &+= 1
            guard offset < count, isDigit(text[offset]) else { throw .invalidNumber(offset: start) }
            skipDigits()
        }
        if offset < count, text[offset] | 0x20 == UInt8(ascii: "e") {
            offset &+= 1
            if offset < count, text[offset] == UInt8(ascii: "+") || text[offset] == UInt8(ascii: "-") { offset &+= 1 }
            guard offset < count, isDigit(text[offset]) else { throw .invalidNumber(offset: start) }
            skipDigits()
        }
        _ = try append(JSONNode(kind: .number, escaped: false, start: UInt32(truncatingIfNeeded: start), length: UInt32(truncatingIfNeeded: offset &- start), end: UInt32(truncatingIfNeeded: nodeCount &+ 1), count: 0))
    }

    @inline(__always) func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    @inline(__always) mutating func skipDigits() {
        while offset < count, isDigit(text[offset]) { offset &+= 1 }
    }

    /// A string from its opening quote: runs of plain bytes are skipped by the SIMD kernel (base64 audio
    /// is one long run), the parser itself only looks at escapes, multibyte UTF-8 and the end.
    @inline(__always)
    mutating func string() throws(JSONError) {
        offset &+= 1  // the opening quote
        let start = offset
        var escaped = false
        while true {
            offset &+= fk_json_plain_run(text + offset, count &- offset)
            guard offset < count else { throw .unexpected(byte: nil, offset: offset, expected: "'\"'") }
            let byte = text[offset]
            if byte == UInt8(ascii: "\"") { break }
            if byte == UInt8(ascii: "\\") {
                escaped = true
                offset = try Self.escape(text, count, at: offset)
            } else if byte < 0x20 {
                throw .controlCharacter(offset: offset)
            } else {
                offset = try Self.multibyte(text, count, at: offset)
            }
        }
        _ = try append(JSONNode(kind: .string, escaped: escaped, start: UInt32(truncatingIfNeeded: start), length: UInt32(truncatingIfNeeded: offset &- start), end: UInt32(truncatingIfNeeded: nodeCount &+ 1), count: 0))
        offset &+= 1  // the closing quote
    }

    /// A backslash escape at `start`; `\u` escapes must form valid scalars (surrogates only in proper
    /// pairs). Returns the offset after it.
    static func escape(_ text: UnsafePointer<UInt8>, _ count: Int, at start: Int) throws(JSONError) -> Int {
        var offset = start &+ 1
        guard offset < count else { throw .invalidEscape(offset: start) }
        let kind = text[offset]
        offset &+= 1
        switch kind {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
             UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return offset
        case UInt8(ascii: "u"):
            guard let unit = hex4(text, count, &offset) else { throw .invalidEscape(offset: start) }
            if unit >= 0xDC00 && unit <= 0xDFFF { throw .invalidEscape(offset: start) }  // a lone low surrogate
            if unit >= 0xD800 && unit <= 0xDBFF {
                guard offset &+ 1 < count, text[offset] == UInt8(ascii: "\\"), text[offset &+ 1] == UInt8(ascii: "u") else {
                    throw .invalidEscape(offset: start)
                }
                offset &+= 2
                guard let low = hex4(text, count, &offset), low >= 0xDC00 && low <= 0xDFFF else { throw .invalidEscape(offset: start) }
            }
            return offset
        default:
            throw .invalidEscape(offset: start)
        }
    }

    static func hex4(_ text: UnsafePointer<UInt8>, _ count: Int, _ offset: inout Int) -> UInt32? {
        guard count &- offset >= 4 else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = hexValue(text[offset]) else { return nil }
            value = value << 4 | digit
            offset &+= 1
        }
        return value
    }

    /// One UTF-8 encoded scalar of two to four bytes at `start`, validated (no overlongs, surrogates or
    /// values beyond U+10FFFF). Returns the offset after it.
    static func multibyte(_ text: UnsafePointer<UInt8>, _ count: Int, at start: Int) throws(JSONError) -> Int {
        let offset = start
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
        guard count &- offset >= length else { throw .invalidUTF8(offset: start) }
        for i in 1..<length {
            let next = text[offset &+ i]
            guard next & 0xC0 == 0x80 else { throw .invalidUTF8(offset: start) }
            scalar = scalar << 6 | UInt32(next & 0x3F)
        }
        guard scalar >= minimum, scalar <= 0x10FFFF, !(0xD800...0xDFFF).contains(scalar) else { throw .invalidUTF8(offset: start) }
        return offset &+ length
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

