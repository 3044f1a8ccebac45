// What a flow state can hear: the phrases its edges' conditions name (its own edges and the global ones),
// as a JSGF grammar for the recogniser. A condition names a phrase when it tests `event.text` against a
// string: `event.text == "yes"`, `event.text contains "book a table"`, `event.text in ["two", "four"]`.
// A grammar always picks one of its phrases, so the phrases are what a caller says, whole.

import FormiCore

struct SpeechGrammar: Sendable, Hashable {
    /// Lower-case phrases, words separated by one space, in the order first named.
    let phrases: [String]

    /// JSGF: one public rule, one phrase per utterance.
    var jsgf: String {
        "#JSGF V1.0;\ngrammar formi;\npublic <utterance> = " + phrases.joined(separator: " | ") + ";\n"
    }

    /// Lower case; letters, digits and apostrophes kept, anything else splits words.
    static func normalise(_ text: String) -> String {
        var words: [String] = []
        var word = ""
        for c in text.lowercased() {
            if c.isLetter || c.isNumber || c == "'" { word.append(c) } else if !word.isEmpty { words.append(word); word = "" }
        }
        if !word.isEmpty { words.append(word) }
        return words.joined(separator: " ")
    }

    /// State id -> its grammar, for every state of `flow` that has speech conditions.
    static func perState(_ flow: CompiledFlow) -> [Int64: SpeechGrammar] {
        let edges = flow.definition.edges
        var global: [String] = []
        for edge in edges where edge.isGlobal { add(phrases(of: edge), to: &global) }
        var out: [Int64: SpeechGrammar] = [:]
        for state in flow.definition.states where !state.isTerminal {
            var own: [String] = []
            for edge in edges where !edge.isGlobal && edge.from == state.id { add(phrases(of: edge), to: &own) }
            add(global, to: &own)
            if !own.isEmpty { out[state.id] = SpeechGrammar(phrases: own) }
        }
        return out
    }

    /// Every phrase the flow names anywhere.
    static func allPhrases(_ flow: CompiledFlow) -> [String] {
        var all: [String] = []
        for edge in flow.definition.edges { add(phrases(of: edge), to: &all) }
        return all
    }

    private static func add(_ new: [String], to list: inout [String]) {
        for p in new where !list.contains(p) { list.append(p) }
    }

    static func phrases(of edge: FlowEdge) -> [String] {
        guard let text = edge.condition, let expression = try? Expression.condition(text) else { return [] }
        var out: [String] = []
        collect(expression, into: &out)
        return out.map(normalise).filter { !$0.isEmpty }
    }

    private static func isEventText(_ e: Expression) -> Bool {
        if case .name(let name) = e, name.root == .event, name.path == ["text"] { return true }
        return false
    }

    private static func strings(_ e: Expression) -> [String] {
        switch e {
        case .literal(.string(let s)): [s]
        case .list(let items): items.compactMap { if case .string(let s) = $0 { s } else { nil } }
        default: []
        }
    }

    private static func collect(_ e: Expression, into out: inout [String]) {
        switch e {
        case .and(let a, let b), .or(let a, let b):
            collect(a, into: &out)
            collect(b, into: &out)
        case .not(let a):
            collect(a, into: &out)
        case .compare(.equal, let a, let b):
            if isEventText(a) { out += strings(b) } else if isEventText(b) { out += strings(a) }
        case .contains(let a, let b), .isIn(let a, let b):
            // `event.text contains "x"` and `event.text in ["x", "y"]`.
            if isEventText(a) { out += strings(b) }
        default:
            break
        }
    }
}
