// The agent state machine as data: states, edges, prompt templates, and the flow that holds them. Field
// names are the seed's (`state_id`, `name`, `template_id`, `state_prompt`, `variables`; `edge_id`,
// `from_node`, `to_node`, `prompt`, `transition_metadata`); what the seed leaves open is added:
//
//   state: "initial", "terminal", "on_entry" / "on_exit" (actions), "max_turns", "timeout_ms",
//          "fallback_state" (where turn limits and timeouts lead)
//   edge:  "priority" (lower first, then edge_id), "condition" (the expression language of
//          Condition.swift), "default" (tried last), "global" (applies from every state, no from_node),
//          "return_to_previous" (no to_node: back where the run came from), "assign" (variables set from
//          expressions when the edge is taken)
//   flow:  "variables" (defaults), "inputs" (variables the host supplies when a run starts),
//          "fallback_state" (for states without their own), "max_transitions" (a run's whole budget),
//          "templates" (prompt templates states are created from)
//
// Fields a flow carries that libformi does not know are kept and written back unchanged.

/// A state of the machine.
public struct FlowState: Sendable, Equatable {
    public var id: Int64
    public var name: String
    /// The prompt template the state was created from (the seed's ids are integers or strings).
    public var templateID: JSONTree = .null
    /// The state's prompt, a template rendered with the run's variables when the state is entered.
    public var prompt: String = ""
    /// Values for the prompt's placeholders (the seed's e.g. `{"tone": "friendly"}`); they win over
    /// the run's variables while the run is in this state.
    public var variables: [JSONMember] = []
    public var isInitial = false
    public var isTerminal = false
    public var onEntry: [FlowAction] = []
    public var onExit: [FlowAction] = []
    /// Caller turns allowed in the state before the run moves to the fallback.
    public var maxTurns: Int64?
    /// Time allowed in the state (host clock, `at_ms` of events) before the run moves to the fallback.
    public var timeoutMs: Int64?
    public var fallback: Int64?
    public var extra: [JSONMember] = []

    public init(id: Int64, name: String) {
        self.id = id
        self.name = name
    }
}

/// A transition between states.
public struct FlowEdge: Sendable, Equatable {
    public var id: Int64
    /// nil only for global edges.
    public var from: Int64?
    /// nil only for edges that return to the previous state.
    public var to: Int64?
    /// A plain-language condition for the transition model; the host reports its verdict as a
    /// `{"type": "judged", "edge_id": N}` event.
    public var prompt: String?
    public var metadata: JSONTree = .null
    public var priority: Int64 = 0
    public var condition: String?
    public var isDefault = false
    public var isGlobal = false
    public var returnsToPrevious = false
    /// Variable name -> expression (e.g. `"choice": "event.digit"`), evaluated when the edge is taken.
    public var assign: [(name: String, expression: String)] = []
    public var extra: [JSONMember] = []

    public init(id: Int64, from: Int64?, to: Int64?) {
        self.id = id
        self.from = from
        self.to = to
    }

    public static func == (a: FlowEdge, b: FlowEdge) -> Bool {
        a.id == b.id && a.from == b.from && a.to == b.to && a.prompt == b.prompt && a.metadata == b.metadata
            && a.priority == b.priority && a.condition == b.condition && a.isDefault == b.isDefault
            && a.isGlobal == b.isGlobal && a.returnsToPrevious == b.returnsToPrevious
            && a.assign.elementsEqual(b.assign, by: { $0 == $1 }) && a.extra == b.extra
    }
}

/// Something the host does when a state is entered or left: `{"type": "say", "text": "..."}`,
/// `{"type": "function", "name": ..., "arguments": {...}}`, `{"type": "end_call"}`, `{"type": "transfer",
/// "to": ...}`, `{"type": "context", "strategy": "append" | "reset" | "reset_with_summary"}`, or any type
/// the host defines. libformi performs `{"type": "set", "name": ..., "value": ...}` itself, and renders
/// the placeholders of every string member before handing an action out.
public struct FlowAction: Sendable, Equatable {
    public var type: String
    /// The whole action object, as written.
    public var object: [JSONMember]

    public init(object: [JSONMember]) {
        self.object = object
        type = object[key: "type"]?.string ?? ""
    }
}

/// A prompt template states are created from (the seed's "Prompt Templates").
public struct FlowTemplate: Sendable, Equatable {
    public var id: JSONTree
    public var name: String
    public var content: String
    /// Default values of its placeholders.
    public var variables: [JSONMember] = []
    public var extra: [JSONMember] = []

    public init(id: JSONTree, name: String, content: String) {
        self.id = id
        self.name = name
        self.content = content
    }
}

/// A whole machine.
public struct FlowDefinition: Sendable, Equatable {
    public static let defaultMaxTransitions: Int64 = 256

    public var states: [FlowState] = []
    public var edges: [FlowEdge] = []
    public var templates: [FlowTemplate] = []
    public var variables: [JSONMember] = []
    public var inputs: [String] = []
    public var fallback: Int64?
    public var maxTransitions: Int64 = FlowDefinition.defaultMaxTransitions
    public var extra: [JSONMember] = []

    public init() {}

    public func stateIndex(_ id: Int64) -> Int? { states.firstIndex { $0.id == id } }
    public func edgeIndex(_ id: Int64) -> Int? { edges.firstIndex { $0.id == id } }
}

/// One thing wrong (an error: the flow cannot load) or doubtful (a warning) about a flow.
public struct FlowProblem: Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning }

    public var severity: Severity
    /// A stable machine-readable name, e.g. `edge_to_missing_state`.
    public var code: String
    public var message: String
    public var stateIDs: [Int64]
    public var edgeIDs: [Int64]

    public init(_ severity: Severity, _ code: String, _ message: String, states: [Int64] = [], edges: [Int64] = []) {
        self.severity = severity
        self.code = code
        self.message = message
        stateIDs = states
        edgeIDs = edges
    }

    public var description: String { "\(code): \(message)" }
}

/// Why a flow, edit or run input was refused.
public enum FlowError: Error, Sendable {
    case json(JSONError)
    /// Valid JSON of the wrong shape (an event without a type, an edit without an op).
    case shape(String)
    case invalid([FlowProblem])
    case notFound(String)
    case state(String)

    public var message: String {
        switch self {
        case .json(let error): "not valid JSON: \(error.message)"
        case .invalid(let problems):
            "invalid flow: " + problems.filter { $0.severity == .error }.map(\.description).joined(separator: "; ")
        case .shape(let text), .notFound(let text), .state(let text): text
        }
    }
}
