// The parser and type checker of the condition language (the language itself: Condition.swift).
// Recursive descent over the UTF-8 bytes, bounded in length and nesting so that hostile input cannot
// exhaust the stack; every type rule is checked here, so evaluation has nothing left that can fail.

/// The static type of an expression. `any` is a name whose value is only known at run time.
enum ExpressionType: Equatable {
    case bool, number, string, null, list, any

    var phrase: String {
        switch self {
        case .bool: "true or false"
        case .number: "a number"
        case .string: "a string"
        case .null: "null"
        case .list: "a list"
        case .any: "a run value"
        }
    }

    init(of literal: JSONTree) {
        switch literal {
        case .bool: self = .bool
        case .integer, .number, .numberText: self = .number
        case .string: self = .string
        case .null: self = .null
        default: self = .any
        }
    }
}

struct ExpressionParser {
    static let maxLength = 4096
    static let maxDepth = 32

    private let text: [UInt8]
    private var offset = 0
    private var depth = 0

    init(_ text: String) {
        self.text = Array(text.utf8)
    }

    mutating func parseWhole() throws(ExpressionError) -> (Expression, ExpressionType) {
        guard text.count <= ExpressionParser.maxLength else {
            throw ExpressionError(message: "longer than \(ExpressionParser.maxLength) bytes", column: ExpressionParser.maxLength)
        }
        skipSpace()
        guard offset < text.count else { throw ExpressionError(message: "empty expression", column: 1) }
        let result = try parseOr()
        skipSpace()
        guard offset == text.count else { throw error("unexpected \(describeNext())") }
        return result
    }

    // MARK: grammar

    private mutating func parseOr() throws(ExpressionError) -> (Expression, ExpressionType) {
        var (left, leftType) = try parseAnd()
        while take("||") {
            let at = offset
            let (right, rightType) = try parseAnd()
            try requireCondition(leftType, "left of ||", at: at)
            try requireCondition(rightType, "right of ||", at: at)
            left = .or(left, right)
            leftType = .bool
        }
        return (left, leftType)
    }

    private mutating func parseAnd() throws(ExpressionError) -> (Expression, ExpressionType) {
        var (left, leftType) = try parseUnary()
        while take("&&") {
            let at = offset
            let (right, rightType) = try parseUnary()
            try requireCondition(leftType, "left of &&", at: at)
            try requireCondition(rightType, "right of &&", at: at)
            left = .and(left, right)
            leftType = .bool
        }
        return (left, leftType)
    }

    private mutating func parseUnary() throws(ExpressionError) -> (Expression, ExpressionType) {
        try enter()
        defer { depth -= 1 }
        skipSpace()
        let at = offset
        if peek() == UInt8(ascii: "!") && peek(1) != UInt8(ascii: "=") {
            offset += 1
            let (inner, type) = try parseUnary()
            try requireCondition(type, "after !", at: at)
            return (.not(inner), .bool)
        }
        if takeWord("exists") {
            let name = try parseName()
            return (.exists(name), .bool)
        }
        return try parseComparison()
    }

    private mutating func parseComparison() throws(ExpressionError) -> (Expression, ExpressionType) {
        let (left, leftType) = try parseOperand()
        skipSpace()
        let at = offset
        for op in [Expression.Comparison.equal, .notEqual, .lessOrEqual, .greaterOrEqual, .less, .greater] where take(op.rawValue) {
            let (right, rightType) = try parseOperand()
            try checkComparison(op, leftType, rightType, at: at)
            return (.compare(op, left, right), .bool)
        }
        if takeWord("in") {
            skipSpace()
            let (right, rightType): (Expression, ExpressionType)
            if peek() == UInt8(ascii: "[") {
                let elements = try parseList()
                let types = Set(elements.map { ExpressionType(of: $0).phrase })
                guard types.count <= 1 else { throw ExpressionError(message: "a list mixes \(types.sorted().joined(separator: " and "))", column: at + 1) }
                if let element = elements.first, leftType != .any, leftType != ExpressionType(of: element) {
                    throw ExpressionError(message: "\(leftType.phrase) is never in a list of \(ExpressionType(of: element).phrase)s", column: at + 1)
                }
                (right, rightType) = (.list(elements), .list)
            } else {
                (right, rightType) = try parseOperand()
                guard rightType == .any else { throw ExpressionError(message: "`in` needs a [list] or a name, found \(rightType.phrase)", column: at + 1) }
            }
            guard leftType != .list, leftType != .bool || rightType == .any else {
                throw ExpressionError(message: "\(leftType.phrase) cannot be looked up in a list", column: at + 1)
            }
            return (.isIn(left, right), .bool)
        }
        if takeWord("contains") {
            let (right, rightType) = try parseOperand()
            guard leftType == .string || leftType == .any else {
                throw ExpressionError(message: "`contains` needs a string or a name on its left, found \(leftType.phrase)", column: at + 1)
            }
            guard rightType != .list, leftType != .string || rightType == .string || rightType == .any else {
                throw ExpressionError(message: "a string contains only strings, found \(rightType.phrase)", column: at + 1)
            }
            return (.contains(left, right), .bool)
        }
        if takeWord("exists") {
            guard case .name(let name) = left else { throw ExpressionError(message: "`exists` follows a name", column: at + 1) }
            return (.exists(name), .bool)
        }
        return (left, leftType)
    }

    private mutating func parseOperand() throws(ExpressionError) -> (Expression, ExpressionType) {
        skipSpace()
        guard let byte = peek() else { throw error("expected a value, found the end") }
        switch byte {
        case UInt8(ascii: "("):
            try enter()
            defer { depth -= 1 }
            offset += 1
            let inner = try parseOr()
            skipSpace()
            guard take(")") else { throw error("expected ')', found \(describeNext())") }
            return inner
        case UInt8(ascii: "\""):
            let value = JSONTree.string(try parseString())
            return (.literal(value), .string)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let value = try parseNumber()
            return (.literal(value), .number)
        case UInt8(ascii: "["):
            throw error("a [list] may only follow `in`")
        default:
            if takeWord("true") { return (.literal(.bool(true)), .bool) }
            if takeWord("false") { return (.literal(.bool(false)), .bool) }
            if takeWord("null") { return (.literal(.null), .null) }
            let name = try parseName()
            switch name.root {
            case .event: return (.name(name), name.path == ["type"] ? .string : .any)
            case .vars: return (.name(name), .any)
            case .previous: return (.name(name), .any)  // a state id, or null before the first transition
            default: return (.name(name), .number)
            }
        }
    }

    private mutating func parseList() throws(ExpressionError) -> [JSONTree] {
        offset += 1  // '['
        var elements: [JSONTree] = []
        skipSpace()
        if take("]") { return elements }
        while true {
            skipSpace()
            guard elements.count < 1024 else { throw error("a list holds at most 1024 values") }
            let (element, _) = try parseOperand()
            guard case .literal(let value) = element, value != .null else { throw error("a list holds only string and number literals") }
            if case .bool = value { throw error("a list holds only string and number literals") }
            elements.append(value)
            skipSpace()
            if take("]") { return elements }
            guard take(",") else { throw error("expected ',' or ']', found \(describeNext())") }
        }
    }

    private mutating func parseName() throws(ExpressionError) -> RunName {
        skipSpace()
        let start = offset
        var parts: [String] = []
        repeat {
            let partStart = offset
            while let byte = peek(), isNameByte(byte) { offset += 1 }
            guard offset > partStart, !isDigit(text[partStart]) else {
                throw ExpressionError(message: "expected a name, found \(describeNext())", column: partStart + 1)
            }
            parts.append(String(decoding: text[partStart..<offset], as: UTF8.self))
        } while take(".")
        guard let root = RunName.Root(rawValue: parts[0]) else {
            throw ExpressionError(
                message: "unknown name '\(parts[0])' (known: event.<field>, vars.<name>, turns, steps, transitions, state, previous, elapsed_ms)",
                column: start + 1)
        }
        let path = Array(parts.dropFirst())
        switch root {
        case .event, .vars:
            guard !path.isEmpty else { throw ExpressionError(message: "'\(root.rawValue)' needs a field, e.g. \(root.rawValue).type", column: start + 1) }
        default:
            guard path.isEmpty else { throw ExpressionError(message: "'\(root.rawValue)' is a number and has no fields", column: start + 1) }
        }
        return RunName(root: root, path: path)
    }

    private mutating func parseString() throws(ExpressionError) -> String {
        let start = offset
        offset += 1
        while let byte = peek() {
            if byte == UInt8(ascii: "\\") { offset += 2; continue }
            if byte == UInt8(ascii: "\"") { break }
            offset += 1
        }
        guard offset < text.count else { throw ExpressionError(message: "unterminated string", column: start + 1) }
        offset += 1
        // The literal's JSON text is a JSON string: the JSON reader resolves and checks its escapes.
        guard case .string(let value)? = try? JSONTree.parse(text[start..<offset]) else {
            throw ExpressionError(message: "invalid string literal (JSON escapes only)", column: start + 1)
        }
        return value
    }

    private mutating func parseNumber() throws(ExpressionError) -> JSONTree {
        let start = offset
        if peek() == UInt8(ascii: "-") { offset += 1 }
        while let byte = peek(), isDigit(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
            || ((byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-")) && (text[offset - 1] | 0x20) == UInt8(ascii: "e")) {
            offset += 1
        }
        guard let value = try? JSONTree.parse(text[start..<offset]), value.number?.isFinite == true else {
            throw ExpressionError(message: "invalid number '\(String(decoding: text[start..<offset], as: UTF8.self))'", column: start + 1)
        }
        return value
    }

    // MARK: type rules

    private func requireCondition(_ type: ExpressionType, _ place: String, at: Int) throws(ExpressionError) {
        guard type == .bool || type == .any else {
            throw ExpressionError(message: "\(place) must be true or false, found \(type.phrase) (compare it with something)", column: at + 1)
        }
    }

    private func checkComparison(_ op: Expression.Comparison, _ a: ExpressionType, _ b: ExpressionType, at: Int) throws(ExpressionError) {
        if a == .list || b == .list { throw ExpressionError(message: "lists are compared with `in`", column: at + 1) }
        switch op {
        case .equal, .notEqual:
            guard a == .any || b == .any || a == .null || b == .null || a == b else {
                throw ExpressionError(message: "\(op.rawValue) compares \(a.phrase) with \(b.phrase): never equal", column: at + 1)
            }
        default:
            for type in [a, b] where type == .bool || type == .null {
                throw ExpressionError(message: "\(op.rawValue) orders numbers or strings, not \(type.phrase)", column: at + 1)
            }
            guard a == .any || b == .any || a == b else {
                throw ExpressionError(message: "\(op.rawValue) orders \(a.phrase) against \(b.phrase)", column: at + 1)
            }
        }
    }

    // MARK: lexing

    private mutating func enter() throws(ExpressionError) {
        depth += 1
        guard depth <= ExpressionParser.maxDepth else { throw error("nested deeper than \(ExpressionParser.maxDepth)") }
    }

    private func peek(_ ahead: Int = 0) -> UInt8? {
        let index = offset + ahead
        return index < text.count ? text[index] : nil
    }

    private mutating func skipSpace() {
        while let byte = peek(), byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { offset += 1 }
    }

    /// Consumes the operator `symbol` if it comes next (after spaces).
    private mutating func take(_ symbol: StaticString) -> Bool {
        skipSpace()
        let count = symbol.utf8CodeUnitCount
        guard offset + count <= text.count else { return false }
        for k in 0..<count where text[offset + k] != symbol.utf8Start[k] { return false }
        offset += count
        return true
    }

    private mutating func take(_ symbol: String) -> Bool {
        skipSpace()
        let bytes = Array(symbol.utf8)
        guard offset + bytes.count <= text.count, text[offset..<(offset + bytes.count)].elementsEqual(bytes) else { return false }
        offset += bytes.count
        return true
    }

    /// Consumes `word` if it comes next as a whole word.
    private mutating func takeWord(_ word: StaticString) -> Bool {
        skipSpace()
        let count = word.utf8CodeUnitCount
        guard offset + count <= text.count else { return false }
        for k in 0..<count where text[offset + k] != word.utf8Start[k] { return false }
        if let after = peek(count), isNameByte(after) || after == UInt8(ascii: ".") { return false }
        offset += count
        return true
    }

    private func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"): true
        default: false
        }
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    private func describeNext() -> String {
        guard let byte = peek() else { return "the end" }
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte \(byte)"
    }

    private func error(_ message: String) -> ExpressionError {
        ExpressionError(message: message, column: offset + 1)
    }
}
