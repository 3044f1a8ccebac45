// A flow as Graphviz DOT, for people to look at (`dot -Tpng flow.dot -o flow.png`).
// Initial state: bold border; terminal: double border; default edges dashed; global edges leave a
// point named "any state"; returning edges lead to a "previous state" node; fallbacks are dotted.

extension FlowDefinition {
    public var dot: String {
        var out = "digraph flow {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n"
        for state in states {
            var attributes = ["label=\(quoted("\(state.id): \(state.name)"))"]
            if state.isInitial { attributes.append("penwidth=2.5") }
            if state.isTerminal { attributes.append("peripheries=2") }
            out += "  s\(nodeID(state.id)) [\(attributes.joined(separator: ", "))];\n"
        }
        if edges.contains(where: \.isGlobal) { out += "  any [label=\"any state\", shape=point, width=0.15];\n" }
        if edges.contains(where: \.returnsToPrevious) { out += "  previous [label=\"previous state\", shape=ellipse, style=dashed];\n" }
        for edge in edges {
            let from = edge.isGlobal ? "any" : edge.from.map { "s\(nodeID($0))" } ?? "any"
            let to = edge.returnsToPrevious ? "previous" : edge.to.map { "s\(nodeID($0))" } ?? "previous"
            var label = "#\(edge.id)"
            if edge.priority != 0 { label += " p\(edge.priority)" }
            if let condition = edge.condition { label += "\n" + shortened(condition) }
            if let prompt = edge.prompt, !prompt.isEmpty { label += "\n“" + shortened(prompt) + "”" }
            if edge.isDefault { label += "\n(default)" }
            var attributes = ["label=\(quoted(label))"]
            if edge.isDefault { attributes.append("style=dashed") }
            out += "  \(from) -> \(to) [\(attributes.joined(separator: ", "))];\n"
        }
        for state in states {
            guard state.maxTurns != nil || state.timeoutMs != nil, let fallback = state.fallback ?? self.fallback else { continue }
            var label: [String] = []
            if let turns = state.maxTurns { label.append("\(turns) turns") }
            if let timeout = state.timeoutMs { label.append("\(timeout) ms") }
            out += "  s\(nodeID(state.id)) -> s\(nodeID(fallback)) [label=\(quoted(label.joined(separator: " / "))), style=dotted];\n"
        }
        out += "}\n"
        return out
    }

    /// DOT node ids are written without a minus sign.
    private func nodeID(_ id: Int64) -> String {
        id < 0 ? "m\(id.magnitude)" : "\(id)"
    }

    private func shortened(_ text: String) -> String {
        let limit = 48
        guard text.count > limit else { return text }
        return String(text.prefix(limit - 1)) + "…"
    }

    /// A DOT string: quotes and backslashes escaped, line breaks as centred-line escapes.
    private func quoted(_ text: String) -> String {
        var out = "\""
        for character in text {
            switch character {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r", "\0": break
            default: out.append(character)
            }
        }
        return out + "\""
    }
}
