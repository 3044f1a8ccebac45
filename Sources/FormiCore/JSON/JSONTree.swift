// An owned JSON value, for data that outlives the message it was read from: flow variables, edge
// metadata, actions, run events. Hot paths read messages in place with `JSONValue` instead.

/// A JSON value held in Swift memory. Integers stay exact (`integer`); other numbers are doubles.
/// Objects keep their members in the order written (and repeated keys as written).
public enum JSONTree: Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    /// A number beyond a double's range (e.g. 1e400), kept as written so that it reads back the same.
    case numberText(String)
    case string(String)
    case array([JSONTree])
    case object([JSONMember])

    /// Parses `text` as one JSON document.
    public static func parse(_ text: some Collection<UInt8>, limits: JSONLimits = JSONLimits()) throws(JSONError) -> JSONTree {
        // The size limit before the copy: an oversize input must cost nothing (a length of 1 TiB would
        // otherwise abort the process in the allocator before the parser could refuse it).
        guard text.count <= limits.maxBytes else { throw .tooLarge(bytes: text.count, limit: limits.maxBytes) }
        let bytes = Array(text)
        var document = JSONDocument(limits: limits)
        let result: Result<JSONTree, JSONError> = bytes.withUnsafeBytes { raw in
            do throws(JSONError) {
                try document.parse(raw)
                return .success(JSONTree(document.root))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// A copy of a value read in place (its document bounds the depth, so the recursion is bounded).
    public init(_ value: JSONValue) {
        switch value.kind {
        case .null: self = .null
        case .true: self = .bool(true)
        case .false: self = .bool(false)
        case .number:
            if let exact = value.int64 {
                self = .integer(exact)
            } else if let double = value.double, double.isFinite {
                self = .number(double)
            } else {
                self = .numberText(String(decoding: value.rawBytes, as: UTF8.self))
            }
        case .string: self = .string(value.string ?? "")
        case .array: self = .array(value.elements.map(JSONTree.init))
        case .object:
            self = .object(value.members.map { JSONMember(key: $0.key.string ?? "", value: JSONTree($0.value)) })
        }
    }

    // MARK: reading

    /// The value of `key` in an object (the first, if a key repeats).
    public subscript(key: String) -> JSONTree? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// The value at a path of object keys.
    public subscript(path path: some Sequence<String>) -> JSONTree? {
        var current = self
        for key in path {
            guard let next = current[key] else { return nil }
            current = next
        }
        return current
    }

    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var integer: Int64? { if case .integer(let i) = self { i } else { nil } }
    public var members: [JSONMember]? { if case .object(let m) = self { m } else { nil } }
    public var elements: [JSONTree]? { if case .array(let e) = self { e } else { nil } }

    /// Any number as a double.
    public var number: Double? {
        switch self {
        case .integer(let i): Double(i)
        case .number(let d): d
        default: nil
        }
    }

    /// A short name of the value's kind, for messages.
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .integer, .number, .numberText: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    // MARK: writing

    public func write(into writer: inout JSONWriter) {
        switch self {
        case .null: writer.null()
        case .bool(let b): writer.bool(b)
        case .integer(let i): writer.int(i)
        case .number(let d): writer.double(d)
        case .numberText(let text): writer.raw(text.utf8)
        case .string(let s): writer.string(s)
        case .array(let elements):
            writer.beginArray()
            for element in elements { element.write(into: &writer) }
            writer.endArray()
        case .object(let members):
            writer.beginObject()
            for member in members {
                writer.key(member.key)
                member.value.write(into: &writer)
            }
            writer.endObject()
        }
    }

    /// The value as JSON text.
    public var jsonText: String {
        var writer = JSONWriter()
        write(into: &writer)
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}

/// One member of a JSON object.
public struct JSONMember: Sendable, Equatable {
    public var key: String
    public var value: JSONTree

    public init(key: String, value: JSONTree) {
        self.key = key
        self.value = value
    }
}

extension Array where Element == JSONMember {
    /// The value of `key` (the first, if a key repeats).
    public subscript(key key: String) -> JSONTree? { first { $0.key == key }?.value }

    /// Replaces the value of `key`, or appends it.
    public mutating func set(_ key: String, _ value: JSONTree) {
        if let index = firstIndex(where: { $0.key == key }) { self[index].value = value } else { append(JSONMember(key: key, value: value)) }
    }
}
