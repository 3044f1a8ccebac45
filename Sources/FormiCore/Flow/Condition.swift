// The condition language of edges: a small, safe expression language over the run and its event.
//
//   event.type == "dtmf" && event.digit in ["1", "2"]
//   turns >= 3 || elapsed_ms > 30000
//   vars.intent == "booking" && !(vars.party_size > 8)
//   exists vars.date && event.text contains "tomorrow"
//
// Names: `event.<path>` (the event being stepped; `event.type` is a string), `vars.<path>` (the run's
// variables), `turns` (caller turns in the current state), `steps` (events the run has taken),
// `transitions` (transitions so far), `state` (the current state id), `previous` (the previous state id,
// or null), `elapsed_ms` (time in the current state, host clock). Literals: numbers, "strings" (JSON
// escapes), true, false, null, and [lists] after `in`. Operators, loosest first: `||`, `&&`, `!`, then
// one of `== != < <= > >=`, `in`, `contains`, postfix `exists` (or prefix `exists name`).
//
// A condition is parsed and type-checked when its flow loads: comparing a number with a string, ordering
// booleans, `&&` over a number, an unknown name are load errors, with the column. Evaluating a checked
// condition never fails: a missing name reads as null, and a comparison between values of different
// types is false (`!=` true).

/// A parsed, type-checked condition or value expression.
public indirect enum Expression: Sendable {
    case literal(JSONTree)
    case list([JSONTree])
    case name(RunName)
    case not(Expression)
    case and(Expression, Expression)
    case or(Expression, Expression)
    case compare(Comparison, Expression, Expression)
    case isIn(Expression, Expression)
    case contains(Expression, Expression)
    case exists(RunName)

    public enum Comparison: String, Sendable { case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">=" }

    /// Parses and checks `text` as a condition (a true/false expression).
    public static func condition(_ text: String) throws(ExpressionError) -> Expression {
        var parser = ExpressionParser(text)
        let (expression, type) = try parser.parseWhole()
        guard type == .bool || type == .any else {
            throw ExpressionError(message: "a condition must be true or false, this is \(type.phrase)", column: 1)
        }
        return expression
    }

    /// Parses and checks `text` as a value (for `assign`): any expression.
    public static func value(_ text: String) throws(ExpressionError) -> Expression {
        var parser = ExpressionParser(text)
        return try parser.parseWhole().0
    }
}

/// A name of the language, resolved when parsed.
public struct RunName: Sendable, Equatable {
    public enum Root: String, Sendable { case event, vars, turns, steps, transitions, state, previous, elapsedMs = "elapsed_ms" }
    public var root: Root
    /// Keys below `event` or `vars`.
    public var path: [String]
}

/// Why an expression was refused, and where (1-based column, in bytes).
public struct ExpressionError: Error, Sendable, Equatable {
    public var message: String
    public var column: Int

    public var description: String { "\(message) (column \(column))" }
}

/// What a running machine exposes to expressions.
public protocol ExpressionScope {
    var event: JSONTree { get }
    func variable(_ path: [String]) -> JSONTree?
    func number(_ root: RunName.Root) -> JSONTree
}

extension Expression {
    /// Whether the condition holds in `scope`. Total: never fails.
    public func holds(in scope: some ExpressionScope) -> Bool {
        switch self {
        case .literal(let value): return value == .bool(true)
        case .list: return false
        case .name(let name): return Expression.lookup(name, in: scope) == .bool(true)
        case .not(let inner): return !inner.holds(in: scope)
        case .and(let a, let b): return a.holds(in: scope) && b.holds(in: scope)
        case .or(let a, let b): return a.holds(in: scope) || b.holds(in: scope)
        case .compare(let op, let a, let b): return Expression.compare(op, a.value(in: scope), b.value(in: scope))
        case .isIn(let a, let b):
            let needle = a.value(in: scope)
            guard case .array(let elements) = b.value(in: scope) else { return false }
            return elements.contains { Expression.same(needle, $0) }
        case .contains(let a, let b):
            let haystack = a.value(in: scope), needle = b.value(in: scope)
            switch (haystack, needle) {
            case (.string(let text), .string(let part)): return containsBytes(Array(text.utf8), Array(part.utf8))
            case (.array(let elements), _): return elements.contains { Expression.same(needle, $0) }
            default: return false
            }
        case .exists(let name):
            guard let found = Expression.lookupIfPresent(name, in: scope) else { return false }
            return found != .null
        }
    }

    /// The expression's value in `scope` (a condition's is a boolean).
    public func value(in scope: some ExpressionScope) -> JSONTree {
        switch self {
        case .literal(let value): return value
        case .list(let elements): return .array(elements)
        case .name(let name): return Expression.lookup(name, in: scope)
        default: return .bool(holds(in: scope))
        }
    }

    static func lookup(_ name: RunName, in scope: some ExpressionScope) -> JSONTree {
        lookupIfPresent(name, in: scope) ?? .null
    }

    static func lookupIfPresent(_ name: RunName, in scope: some ExpressionScope) -> JSONTree? {
        switch name.root {
        case .event: return scope.event[path: name.path]
        case .vars: return scope.variable(name.path)
        default: return scope.number(name.root)
        }
    }

    /// Equality across the number representations; values of different kinds are unequal.
    static func same(_ a: JSONTree, _ b: JSONTree) -> Bool {
        switch (a, b) {
        case (.integer(let x), .integer(let y)): return x == y
        case (.integer, .number), (.number, .integer), (.number, .number): return a.number == b.number
        default: return a == b
        }
    }

    static func compare(_ op: Comparison, _ a: JSONTree, _ b: JSONTree) -> Bool {
        switch op {
        case .equal: return same(a, b)
        case .notEqual: return !same(a, b)
        default: break
        }
        let order: Int
        if case .integer(let x) = a, case .integer(let y) = b {
            order = x < y ? -1 : (x == y ? 0 : 1)
        } else if let x = a.number, let y = b.number {
            guard !x.isNaN, !y.isNaN else { return false }
            order = x < y ? -1 : (x == y ? 0 : 1)
        } else if case .string(let x) = a, case .string(let y) = b {
            order = x < y ? -1 : (x == y ? 0 : 1)
        } else {
            return false
        }
        switch op {
        case .less: return order < 0
        case .lessOrEqual: return order <= 0
        case .greater: return order > 0
        default: return order >= 0
        }
    }

    /// The `vars.<name>` (first key) this expression reads.
    public var variableNames: [String] {
        switch self {
        case .literal, .list: return []
        case .name(let name), .exists(let name): return name.root == .vars ? Array(name.path.prefix(1)) : []
        case .not(let inner): return inner.variableNames
        case .and(let a, let b), .or(let a, let b), .compare(_, let a, let b), .isIn(let a, let b), .contains(let a, let b):
            return a.variableNames + b.variableNames
        }
    }
}

/// Substring search over UTF-8 (equal to search over scalars for valid UTF-8).
func containsBytes(_ text: [UInt8], _ part: [UInt8]) -> Bool {
    guard !part.isEmpty else { return true }
    guard part.count <= text.count else { return false }
    let first = part[0]
    var start = 0
    let last = text.count - part.count
    while start <= last {
        if text[start] == first && text[start..<(start + part.count)].elementsEqual(part) { return true }
        start += 1
    }
    return false
}
