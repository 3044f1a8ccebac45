// A flow made ready to run: ids resolved to indices, edges in the order they are tried, conditions and
// templates parsed. Built only by `FlowCompiler` from a flow without errors, then never changed, so runs
// share it across threads and an edit of the flow never disturbs a run in progress.

public final class CompiledFlow: Sendable {
    public let definition: FlowDefinition
    /// Warnings found when it was compiled (errors prevent compiling).
    public let warnings: [FlowProblem]

    let states: [CompiledState]
    let edges: [CompiledEdge]
    let edgeIndex: [Int64: Int]
    let initial: Int
    /// Global edges in the order they are tried, and the global default.
    let globalEdges: [Int]
    let globalDefault: Int?

    init(definition: FlowDefinition, warnings: [FlowProblem], states: [CompiledState], edges: [CompiledEdge],
         initial: Int, globalEdges: [Int], globalDefault: Int?) {
        self.definition = definition
        self.warnings = warnings
        self.states = states
        self.edges = edges
        self.initial = initial
        self.globalEdges = globalEdges
        self.globalDefault = globalDefault
        var edgeIndex: [Int64: Int] = [:]
        for (i, edge) in definition.edges.enumerated() { edgeIndex[edge.id] = i }
        self.edgeIndex = edgeIndex
    }

    /// Reads and compiles a flow; `FlowError.invalid` lists every error (and the warnings).
    public static func compile(json: some Collection<UInt8>) throws(FlowError) -> CompiledFlow {
        try compile(try FlowDefinition(json: json))
    }

    public static func compile(_ definition: FlowDefinition) throws(FlowError) -> CompiledFlow {
        let compiler = FlowCompiler(definition)
        guard let flow = compiler.compiled else { throw .invalid(compiler.problems) }
        return flow
    }
}

struct CompiledState: Sendable {
    let prompt: PromptTemplate
    /// Own edges in the order they are tried (priority, then id), defaults excepted.
    let edges: [Int]
    let defaultEdge: Int?
    /// Where turn limits and timeouts lead (the state's own fallback, else the flow's).
    let fallback: Int?
    let onEntry: [CompiledAction]
    let onExit: [CompiledAction]
}

struct CompiledEdge: Sendable {
    let id: Int64
    /// nil: back to the previous state.
    let target: Int?
    let condition: Expression?
    /// The edge has a plain-language prompt: it is taken only on the transition model's verdict.
    let needsJudgement: Bool
    let assignments: [(name: String, value: Expression)]
}

/// An action with its strings parsed as templates.
struct CompiledAction: Sendable {
    let type: String
    let value: CompiledValue
}

/// A JSON value whose strings are templates, rendered when handed out.
indirect enum CompiledValue: Sendable {
    case fixed(JSONTree)
    case text(PromptTemplate)
    case array([CompiledValue])
    case object([(key: String, value: CompiledValue)])

    init(_ tree: JSONTree) throws(TemplateSyntaxError) {
        switch tree {
        case .string(let text):
            let template = try PromptTemplate(text)
            // Without placeholders the text is fixed, but still as the template reads it (`\{{` -> `{{`).
            self = template.variables.isEmpty ? .fixed(.string(template.render { _ in nil }.text)) : .text(template)
        case .array(let elements):
            var compiled: [CompiledValue] = []
            for element in elements { compiled.append(try CompiledValue(element)) }
            self = .array(compiled)
        case .object(let members):
            var compiled: [(key: String, value: CompiledValue)] = []
            for member in members { compiled.append((member.key, try CompiledValue(member.value))) }
            self = .object(compiled)
        default:
            self = .fixed(tree)
        }
    }

    /// The value with its templates rendered; names without a value are added to `missing`.
    func render(_ lookup: ([String]) -> JSONTree?, missing: inout [String]) -> JSONTree {
        switch self {
        case .fixed(let tree): return tree
        case .text(let template):
            let (text, absent) = template.render(lookup)
            for name in absent where !missing.contains(name) { missing.append(name) }
            return .string(text)
        case .array(let elements): return .array(elements.map { $0.render(lookup, missing: &missing) })
        case .object(let members):
            return .object(members.map { JSONMember(key: $0.key, value: $0.value.render(lookup, missing: &missing)) })
        }
    }

    /// The placeholders its templates need without a default.
    var requiredNames: [String] {
        switch self {
        case .fixed: []
        case .text(let template): template.requiredNames
        case .array(let elements): elements.flatMap(\.requiredNames)
        case .object(let members): members.flatMap(\.value.requiredNames)
        }
    }
}
