// Prompt templates: text with `{{name}}` placeholders, `{{name|default}}` defaults, dotted names into
// object variables (`{{caller.name}}`), spaces allowed inside the braces, and `\{{` for a literal `{{`.
// Rendering is one pass: a value that itself contains `{{...}}` is inserted as it is, never expanded.

/// Why a template's text is not a template, and where (1-based column, in bytes).
public struct TemplateSyntaxError: Error, Sendable, Equatable {
    public var message: String
    public var column: Int

    public var description: String { "\(message) (column \(column))" }
}

public struct PromptTemplate: Sendable, Equatable {
    public enum Part: Sendable, Equatable {
        case text(String)
        case placeholder(Placeholder)
    }

    public struct Placeholder: Sendable, Equatable {
        public var name: String
        /// The name's dotted parts, split once here rather than at every render.
        public var path: [String]
        public var defaultValue: String?
    }

    public let parts: [Part]

    public init(_ text: String) throws(TemplateSyntaxError) {
        let bytes = Array(text.utf8)
        var parts: [Part] = []
        var literal: [UInt8] = []
        var i = 0
        func opens(at index: Int) -> Bool {
            index + 1 < bytes.count && bytes[index] == UInt8(ascii: "{") && bytes[index + 1] == UInt8(ascii: "{")
        }
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\") && opens(at: i + 1) {
                literal.append(contentsOf: [UInt8(ascii: "{"), UInt8(ascii: "{")])
                i += 3
                continue
            }
            guard opens(at: i) else {
                literal.append(bytes[i])
                i += 1
                continue
            }
            let start = i
            var close = i + 2
            while close + 1 < bytes.count && !(bytes[close] == UInt8(ascii: "}") && bytes[close + 1] == UInt8(ascii: "}")) { close += 1 }
            guard close + 1 < bytes.count else {
                throw TemplateSyntaxError(message: "'{{' is never closed by '}}' (write \\{{ for a literal '{{')", column: start + 1)
            }
            let inside = bytes[(start + 2)..<close]
            let bar = inside.firstIndex(of: UInt8(ascii: "|"))
            let name = trimmed(inside[inside.startIndex..<(bar ?? inside.endIndex)])
            guard PromptTemplate.isName(name) else {
                let shown = String(decoding: name, as: UTF8.self)
                throw TemplateSyntaxError(
                    message: shown.isEmpty ? "empty placeholder" : "'\(shown)' is not a placeholder name (letters, digits, _ and dots)",
                    column: start + 1)
            }
            let defaultValue = bar.map { String(decoding: trimmed(inside[($0 + 1)...]), as: UTF8.self) }
            if !literal.isEmpty { parts.append(.text(String(decoding: literal, as: UTF8.self))); literal.removeAll() }
            let path = name.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            parts.append(.placeholder(Placeholder(name: String(decoding: name, as: UTF8.self), path: path, defaultValue: defaultValue)))
            i = close + 2
        }
        if !literal.isEmpty { parts.append(.text(String(decoding: literal, as: UTF8.self))) }
        self.parts = parts
    }

    /// Each placeholder once, in order of first use, with its first default.
    public var variables: [(name: String, defaultValue: String?)] {
        var seen: [(name: String, defaultValue: String?)] = []
        for case .placeholder(let placeholder) in parts {
            if let index = seen.firstIndex(where: { $0.name == placeholder.name }) {
                if seen[index].defaultValue == nil { seen[index].defaultValue = placeholder.defaultValue }
            } else {
                seen.append((placeholder.name, placeholder.defaultValue))
            }
        }
        return seen
    }

    /// Names that have no default: a render fails without a value for each.
    public var requiredNames: [String] {
        variables.filter { $0.defaultValue == nil }.map(\.name)
    }

    /// The text with each placeholder replaced by its value (`lookup` of the dotted name's parts), else
    /// its default; `missing` lists names with neither, in order, each once (they render as empty text).
    public func render(_ lookup: ([String]) -> JSONTree?) -> (text: String, missing: [String]) {
        var out = ""
        var missing: [String] = []
        for part in parts {
            switch part {
            case .text(let text): out += text
            case .placeholder(let placeholder):
                if let value = lookup(placeholder.path), value != .null {
                    out += PromptTemplate.text(of: value)
                } else if let defaultValue = placeholder.defaultValue {
                    out += defaultValue
                } else if !missing.contains(placeholder.name) {
                    missing.append(placeholder.name)
                }
            }
        }
        return (out, missing)
    }

    /// A value as prompt text: strings as they are, anything else as JSON.
    public static func text(of value: JSONTree) -> String {
        if case .string(let text) = value { return text }
        return value.jsonText
    }

    /// `lookup` over JSON variables: the first key names the variable, further keys go into its objects.
    public static func lookup(in variables: [JSONMember]) -> ([String]) -> JSONTree? {
        { path in
            guard let first = path.first, let root = variables[key: first] else { return nil }
            return root[path: path.dropFirst()]
        }
    }

    static func isName(_ bytes: some Collection<UInt8>) -> Bool {
        guard let first = bytes.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first), first != UInt8(ascii: ".") else { return false }
        var previousDot = false
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"):
                previousDot = false
            case UInt8(ascii: "."):
                if previousDot { return false }
                previousDot = true
            default: return false
            }
        }
        return !previousDot
    }
}

private func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
    let isSpace = { (b: UInt8) in b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
    guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) }) else { return [] }
    return bytes[first...last]
}
