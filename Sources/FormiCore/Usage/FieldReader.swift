// Strict reading of a JSON object's fields: types checked, ranges checked, and every field the
// object has must have been read, so a misspelt name is an error rather than a silent zero.

struct FieldReader {
    /// No single count may exceed this (10^12): sums over millions of records stay far from Int64's end.
    static let maxCount: Int64 = 1_000_000_000_000
    static let maxIdBytes = 200

    private let members: [JSONMember]
    private let context: String
    private var read: Set<String> = []

    init(_ tree: JSONTree, context: String) throws(LedgerError) {
        guard let members = tree.members else { throw .invalid("\(context) must be a JSON object, found \(tree.kindName)") }
        self.members = members
        self.context = context
        var names = Set<String>()
        for member in members where !names.insert(member.key).inserted {
            throw .invalid("\(context) has the field \"\(member.key)\" twice")
        }
    }

    private func name(_ key: String) -> String { context.isEmpty ? key : "\(context).\(key)" }

    /// The field's value; nil when absent or null.
    mutating func value(_ key: String) -> JSONTree? {
        read.insert(key)
        guard let value = members[key: key], value != .null else { return nil }
        return value
    }

    mutating func string(_ key: String, maxBytes: Int = 10_000) throws(LedgerError) -> String? {
        guard let value = value(key) else { return nil }
        guard let text = value.string else { throw .invalid("\(name(key)) must be a string, found \(value.kindName)") }
        guard text.utf8.count <= maxBytes else { throw .invalid("\(name(key)) is longer than \(maxBytes) bytes") }
        // Kept as text columns, and PostgreSQL's text cannot hold U+0000: refused on every store alike.
        guard !text.utf8.contains(0) else { throw .invalid("\(name(key)) must not contain U+0000 (a NUL character)") }
        return text
    }

    mutating func requiredString(_ key: String, maxBytes: Int = FieldReader.maxIdBytes) throws(LedgerError) -> String {
        guard let text = try string(key, maxBytes: maxBytes) else { throw .invalid("\(name(key)) is required") }
        guard !text.isEmpty else { throw .invalid("\(name(key)) must not be empty") }
        return text
    }

    /// An identifier: 1 to 200 bytes.
    mutating func id(_ key: String) throws(LedgerError) -> String? {
        guard let text = try string(key, maxBytes: FieldReader.maxIdBytes) else { return nil }
        guard !text.isEmpty else { throw .invalid("\(name(key)) must not be empty") }
        return text
    }

    mutating func integer(_ key: String, in range: ClosedRange<Int64> = 0...FieldReader.maxCount) throws(LedgerError) -> Int64? {
        guard let value = value(key) else { return nil }
        guard let number = value.integer else { throw .invalid("\(name(key)) must be an integer, found \(value.kindName)") }
        guard range.contains(number) else { throw .invalid("\(name(key)) must be between \(range.lowerBound) and \(range.upperBound), found \(number)") }
        return number
    }

    /// A number (integer or not) scaled to an integer count of `1/scale` units, rounded half away from zero.
    mutating func scaled(_ key: String, scale: Double, max: Double) throws(LedgerError) -> Int64? {
        guard let value = value(key) else { return nil }
        guard let number = value.number else { throw .invalid("\(name(key)) must be a number, found \(value.kindName)") }
        guard number >= 0, number <= max else { throw .invalid("\(name(key)) must be between 0 and \(max)") }
        return Int64((number * scale).rounded(.toNearestOrAwayFromZero))
    }

    mutating func bool(_ key: String) throws(LedgerError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard let flag = value.bool else { throw .invalid("\(name(key)) must be true or false, found \(value.kindName)") }
        return flag
    }

    mutating func time(_ key: String) throws(LedgerError) -> Int64? {
        guard let value = value(key) else { return nil }
        return try CivilTime.parseTime(value, field: name(key))
    }

    /// One of `choices` (exact spelling).
    mutating func choice(_ key: String, _ choices: [String]) throws(LedgerError) -> String? {
        guard let text = try string(key, maxBytes: 64) else { return nil }
        guard choices.contains(text) else {
            throw .invalid("\(name(key)) must be one of \(choices.joined(separator: ", ")), found \"\(text)\"")
        }
        return text
    }

    /// Fails on any field that was not read.
    func finish() throws(LedgerError) {
        if let unknown = members.first(where: { !read.contains($0.key) }) {
            throw .invalid("\(context.isEmpty ? "the object" : context) has an unknown field \"\(unknown.key)\"")
        }
    }
}
