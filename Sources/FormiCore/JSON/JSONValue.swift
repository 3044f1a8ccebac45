// Reading values of a parsed document: lookups, exact numbers, and strings unescaped on demand.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A value inside a `JSONDocument`: valid until the document's next parse, while its bytes are alive.
/// A plain view (two pointers and an index): copying one costs nothing.
public struct JSONValue {
    @usableFromInline let nodes: UnsafePointer<JSONNode>
    @usableFromInline let bytes: UnsafeRawBufferPointer
    @usableFromInline let index: Int

    init(nodes: UnsafeMutablePointer<JSONNode>, bytes: UnsafeRawBufferPointer, index: Int) {
        self.nodes = UnsafePointer(nodes)
        self.bytes = bytes
        self.index = index
    }

    init(nodes: UnsafePointer<JSONNode>, bytes: UnsafeRawBufferPointer, index: Int) {
        self.nodes = nodes
        self.bytes = bytes
        self.index = index
    }

    @usableFromInline var node: JSONNode { nodes[index] }

    public var kind: JSONKind { node.kind }

    /// Members of an object, or elements of an array.
    public var count: Int { Int(node.count) }

    /// The value's own text: for strings, the content between the quotes, escapes as written.
    public var rawBytes: UnsafeRawBufferPointer {
        let n = node
        return UnsafeRawBufferPointer(rebasing: bytes[Int(n.start)..<(Int(n.start) &+ Int(n.length))])
    }

    /// The whole value as JSON text (strings with their quotes).
    public var jsonText: UnsafeRawBufferPointer {
        let n = node
        let quotes = n.kind == .string ? 1 : 0
        return UnsafeRawBufferPointer(rebasing: bytes[(Int(n.start) &- quotes)..<(Int(n.start) &+ Int(n.length) &+ quotes)])
    }

    // MARK: containers

    /// The value of `key` in an object (the first, if a key repeats).
    public subscript(key: UnsafeRawBufferPointer) -> JSONValue? {
        guard node.kind == .object else { return nil }
        var child = index &+ 1
        let end = Int(node.end)
        while child < end {
            let keyNode = nodes[child]
            if keyNode.escaped {
                if JSONValue(nodes: nodes, bytes: bytes, index: child).stringEquals(key) {
                    return JSONValue(nodes: nodes, bytes: bytes, index: child &+ 1)
                }
            } else if Int(keyNode.length) == key.count, sameBytes(at: Int(keyNode.start), key) {
                return JSONValue(nodes: nodes, bytes: bytes, index: child &+ 1)
            }
            child = Int(nodes[child &+ 1].end)
        }
        return nil
    }

    /// Whether the document's bytes at `offset` begin with `other` (the caller checked the length fits).
    private func sameBytes(at offset: Int, _ other: UnsafeRawBufferPointer) -> Bool {
        guard other.count > 0 else { return true }
        guard let mine = bytes.baseAddress, let theirs = other.baseAddress else { return false }
        return memcmp(mine + offset, theirs, other.count) == 0
    }

    public subscript(key: some Collection<UInt8>) -> JSONValue? {
        if let found = key.withContiguousStorageIfAvailable({ self[UnsafeRawBufferPointer($0)] }) { return found }
        return self[Array(key)]
    }

    public subscript(key: String) -> JSONValue? {
        var key = key
        return key.withUTF8 { self[UnsafeRawBufferPointer($0)] }
    }

    /// The element at `position` of an array.
    public subscript(position position: Int) -> JSONValue? {
        guard node.kind == .array, position >= 0, position < count else { return nil }
        var child = index &+ 1
        for _ in 0..<position { child = Int(nodes[child].end) }
        return JSONValue(nodes: nodes, bytes: bytes, index: child)
    }

    /// An object's members in order.
    public var members: [(key: JSONValue, value: JSONValue)] {
        guard node.kind == .object else { return [] }
        var result: [(key: JSONValue, value: JSONValue)] = []
        var child = index &+ 1
        while child < Int(node.end) {
            result.append((JSONValue(nodes: nodes, bytes: bytes, index: child), JSONValue(nodes: nodes, bytes: bytes, index: child &+ 1)))
            child = Int(nodes[child &+ 1].end)
        }
        return result
    }

    /// An array's elements in order.
    public var elements: [JSONValue] {
        guard node.kind == .array else { return [] }
        var result: [JSONValue] = []
        var child = index &+ 1
        while child < Int(node.end) {
            result.append(JSONValue(nodes: nodes, bytes: bytes, index: child))
            child = Int(nodes[child].end)
        }
        return result
    }

    // MARK: scalars

    public var bool: Bool? {
        switch node.kind {
        case .true: true
        case .false: false
        default: nil
        }
    }

    /// An integer number, exactly; nil for fractions, exponents and values beyond Int64.
    public var int64: Int64? {
        guard node.kind == .number else { return nil }
        return parseInteger(rawBytes)
    }

    /// Any number as the nearest double (correctly rounded, by the C library's strtod).
    public var double: Double? {
        guard node.kind == .number else { return nil }
        let raw = rawBytes
        guard raw.count < 128 else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: raw.count &+ 1) { buffer -> Double? in
            guard let base = buffer.baseAddress else { return nil }
            _ = buffer.initialize(from: raw.lazy.map { CChar(bitPattern: $0) })
            buffer[raw.count] = 0
            return strtod(base, nil)
        }
    }

    /// A string's content with escapes resolved (allocates; prefer `stringEquals` and `withString`).
    public var string: String? {
        guard node.kind == .string else { return nil }
        return withString { String(decoding: $0, as: UTF8.self) }
    }

    /// Calls `body` with the string's unescaped UTF-8: the bytes in place when there are no escapes.
    public func withString<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        let raw = rawBytes
        guard node.escaped else { return body(raw) }
        var unescaped: [UInt8] = []
        unescaped.reserveCapacity(raw.count)
        JSONEscapes.unescape(raw, into: &unescaped)
        return unescaped.withUnsafeBytes(body)
    }

    /// Whether this is a string whose unescaped content equals `other`.
    public func stringEquals(_ other: some Collection<UInt8>) -> Bool {
        guard node.kind == .string else { return false }
        return withString { $0.elementsEqual(other) }
    }

    /// Deep equality as JSON values: strings by content, numbers by value, objects regardless of order.
    public func equals(_ other: JSONValue) -> Bool {
        guard kind == other.kind else { return false }
        switch kind {
        case .true, .false, .null: return true
        case .string:
            let mine = node, theirs = other.node
            if !mine.escaped && !theirs.escaped {  // the usual case: compare the bytes in place
                return mine.length == theirs.length && sameBytes(at: Int(mine.start), other.rawBytes)
            }
            return other.withString { stringEquals($0) }
        case .number:
            if let a = int64, let b = other.int64 { return a == b }
            return double == other.double
        case .array:
            let a = elements, b = other.elements
            return a.count == b.count && zip(a, b).allSatisfy { $0.equals($1) }
        case .object:
            guard count == other.count else { return false }
            let mine = members, theirs = other.members
            // In order first: exact even with repeated keys (which RFC 8259 leaves unpredictable).
            let inOrder = zip(mine, theirs).allSatisfy { a, b in
                a.key.withString { key in b.key.stringEquals(key) } && a.value.equals(b.value)
            }
            if inOrder { return true }
            // Reordered members: every key of each side finds an equal value on the other.
            func covered(_ members: [(key: JSONValue, value: JSONValue)], by object: JSONValue) -> Bool {
                members.allSatisfy { member in
                    member.key.withString { key in object[key].map { member.value.equals($0) } ?? false }
                }
            }
            return covered(mine, by: other) && covered(theirs, by: self)
        }
    }
}

/// An exact decimal integer from ASCII digits with an optional '-'; nil on anything else or overflow.
func parseInteger(_ text: UnsafeRawBufferPointer) -> Int64? {
    guard !text.isEmpty else { return nil }
    var index = 0
    let negative = text[0] == UInt8(ascii: "-")
    if negative || text[0] == UInt8(ascii: "+") { index = 1 }
    guard index < text.count else { return nil }
    // Accumulate negatively so that Int64.min parses.
    var value: Int64 = 0
    while index < text.count {
        let digit = text[index] &- UInt8(ascii: "0")
        guard digit < 10 else { return nil }
        let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
        let (next, o2) = shifted.subtractingReportingOverflow(Int64(digit))
        guard !o1, !o2 else { return nil }
        value = next
        index &+= 1
    }
    if negative { return value }
    return value == Int64.min ? nil : -value
}

/// JSON string escapes, both ways.
enum JSONEscapes {
    /// Resolves escapes of a string already validated by the parser.
    static func unescape(_ raw: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        var i = 0
        while i < raw.count {
            let byte = raw[i]
            guard byte == UInt8(ascii: "\\"), i &+ 1 < raw.count else {
                out.append(byte)
                i &+= 1
                continue
            }
            let kind = raw[i &+ 1]
            i &+= 2
            switch kind {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex(raw, at: i)
                i &+= 4
                if scalar >= 0xD800 && scalar <= 0xDBFF && i &+ 6 <= raw.count {
                    let low = hex(raw, at: i &+ 2)
                    scalar = 0x10000 &+ ((scalar &- 0xD800) << 10) &+ (low &- 0xDC00)
                    i &+= 6
                }
                append(scalar, to: &out)
            default: out.append(kind)  // '"', '\', '/'
            }
        }
    }

    private static func hex(_ raw: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        var value: UInt32 = 0
        for k in 0..<4 where offset &+ k < raw.count { value = value << 4 | (hexValue(raw[offset &+ k]) ?? 0) }
        return value
    }

    static func append(_ scalar: UInt32, to out: inout [UInt8]) {
        guard let unicode = Unicode.Scalar(scalar) else {
            out.append(contentsOf: [0xEF, 0xBF, 0xBD])  // U+FFFD; the parser admits no lone surrogates
            return
        }
        var utf8 = [UInt8]()
        UTF8.encode(unicode) { utf8.append($0) }
        out.append(contentsOf: utf8)
    }
}
