// What answers a call, as the call handler sees it: the built-in demo agent (a flow, DemoAgent.swift) or
// a bridge to an outside agent over WebSocket (AgentBridge.swift). The handler hands it what the caller
// did and carries out the commands it answers with; it reaches the session directly only through
// AgentHost (barge-in, and a bridge's audio and marks, which arrive on the agent's own clock).

import FormiCore

/// Who the call is, as its start said.
struct CallStart: Sendable {
    var streamId: String
    var callId: String
    var from: String
    var to: String
    var direction: String
    /// The start's custom parameters, as JSON ("{}" when none).
    var customParameters: String
}

protocol CallAgent: AnyObject {
    /// The agent's configuration.
    var agent: ServerConfig.Agent { get }
    /// The handler of the call's current connection (it changes on a reconnect).
    var host: AgentHost? { get set }
    var summary: AgentSummary { get }
    /// The flow's variables at the end (the platform API's post-interaction variables read them).
    var flowVariables: [JSONMember] { get }
    /// Agent audio is playing that a reconnect should resume.
    var isSpeaking: Bool { get }
    /// The call ends once the last words are heard.
    var isEnding: Bool { get }
    /// The session's local audio rate: what the agent speaks and hears.
    var sampleRate: Int { get }

    func start(_ call: CallStart) async -> [AgentCommand]
    func callerAudio(_ samples: [Int16], now: Int64) async -> [AgentCommand]
    func digit(_ digit: String, now: Int64) async -> [AgentCommand]
    func mark(_ name: String, played: Bool, now: Int64) async -> [AgentCommand]
    /// The call's clock (every 20 ms, and when a bridge has something waiting).
    func tick(now: Int64) async -> [AgentCommand]
    func resume(heardMs: Int64) -> [AgentCommand]
    /// The call is over, for whatever reason.
    func callEnded(reason: String)
}

extension AgentBridge {
    /// An outside agent keeps its own variables: none reach the platform API from here.
    var flowVariables: [JSONMember] { [] }
}

extension DemoAgent: CallAgent {
    var sampleRate: Int { Speech.outputRate }
    func start(_ call: CallStart) async -> [AgentCommand] { await start() }
}
