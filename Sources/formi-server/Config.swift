// The server's configuration: a JSON file (every field optional; what is missing comes from the
// built-in demo default, DemoDefaults.swift) overridden by command-line flags. `formi-server
// --print-config` writes the effective configuration, a starting point for a file of one's own.

import Foundation

struct ServerConfig: Codable, Sendable {
    struct Listen: Codable, Sendable {
        var host = "127.0.0.1"
        var port = 8080
        /// PEM files: with both set the port speaks TLS (https, wss), as providers require in production.
        var tlsCertificate: String?
        var tlsKey: String?

        init() {}
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            host = try c.decodeIfPresent(String.self, forKey: .host) ?? host
            port = try c.decodeIfPresent(Int.self, forKey: .port) ?? port
            tlsCertificate = try c.decodeIfPresent(String.self, forKey: .tlsCertificate)
            tlsKey = try c.decodeIfPresent(String.self, forKey: .tlsKey)
        }
    }

    /// Asterisk AudioSocket is raw TCP: its calls go to one agent and outlet, or by call UUID to others.
    struct AudioSocket: Codable, Sendable {
        var enabled = true
        var host = "127.0.0.1"
        /// 0: any free port (logged when listening).
        var port = 9092
        var agentId = 1
        var outletId = 1
        var virtualNumber = "audiosocket"
        /// Call UUID (lower case, with dashes) -> agent and outlet.
        var calls: [String: Route] = [:]

        init() {}
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            enabled = try c.decodeIfPresent(Bool.self, forKey: .enabled) ?? enabled
            host = try c.decodeIfPresent(String.self, forKey: .host) ?? host
            port = try c.decodeIfPresent(Int.self, forKey: .port) ?? port
            agentId = try c.decodeIfPresent(Int.self, forKey: .agentId) ?? agentId
            outletId = try c.decodeIfPresent(Int.self, forKey: .outletId) ?? outletId
            virtualNumber = try c.decodeIfPresent(String.self, forKey: .virtualNumber) ?? virtualNumber
            calls = try c.decodeIfPresent([String: Route].self, forKey: .calls) ?? calls
        }

        struct Route: Codable, Sendable {
            var agentId: Int
            var outletId: Int
        }
    }

    struct Limits: Codable, Sendable {
        /// Concurrent calls; beyond it a WebSocket upgrade is refused with 503 (or closed 1013).
        var maxCalls = 500
        /// On SIGTERM: how long calls may go on before they are closed.
        var drainSeconds = 10.0
        /// Largest WebSocket message taken from a provider.
        var maxMessageBytes = 256 * 1024
        /// A call with nothing received for this long is closed (a client that vanished).
        var idleSeconds = 30.0
        /// Frames waiting to be processed per call; beyond it they are dropped and counted.
        var maxPendingFrames = 500
        /// The longest call.
        var maxCallSeconds = 3600.0
        /// Agent audio released ahead of real time (ms). The rest waits in the session and goes out with
        /// the clock: writes spread over the call instead of whole prompts at once, and a barge-in has less
        /// to clear. 0: the provider's own rule (everything at once where it buffers).
        var outputLeadMs = 400
        /// A call whose socket drops without a stop is held this long for a reconnect with the same
        /// stream id (0: never).
        var reconnectGraceSeconds = 10.0

        init() {}
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            maxCalls = try c.decodeIfPresent(Int.self, forKey: .maxCalls) ?? maxCalls
            drainSeconds = try c.decodeIfPresent(Double.self, forKey: .drainSeconds) ?? drainSeconds
            maxMessageBytes = try c.decodeIfPresent(Int.self, forKey: .maxMessageBytes) ?? maxMessageBytes
            idleSeconds = try c.decodeIfPresent(Double.self, forKey: .idleSeconds) ?? idleSeconds
            maxPendingFrames = try c.decodeIfPresent(Int.self, forKey: .maxPendingFrames) ?? maxPendingFrames
            maxCallSeconds = try c.decodeIfPresent(Double.self, forKey: .maxCallSeconds) ?? maxCallSeconds
            reconnectGraceSeconds = try c.decodeIfPresent(Double.self, forKey: .reconnectGraceSeconds) ?? reconnectGraceSeconds
            outputLeadMs = try c.decodeIfPresent(Int.self, forKey: .outputLeadMs) ?? outputLeadMs
        }
    }

    struct Log: Codable, Sendable {
        /// trace, debug, info, notice, warning, error, critical
        var level = "info"
        /// "text" or "json" (one JSON object a line).
        var format = "text"

        init() {}
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            level = try c.decodeIfPresent(String.self, forKey: .level) ?? level
            format = try c.decodeIfPresent(String.self, forKey: .format) ?? format
        }
    }

    struct Agent: Codable, Sendable {
        var agentId: Int
        var name: String
        /// A key of `flows` (unused when `agent_url` is set).
        var flow: String
        /// An outside agent (docs/agent-protocol.md): each call is relayed to this ws:// or wss:// URL
        /// instead of running a flow.
        var agentUrl: String?
        /// The audio rate the outside agent speaks and hears: 8000, 16000, 24000 or 48000.
        var agentSampleRate = 16000
        /// espeak-ng voice, e.g. en-us, en-gb, en-us+f3.
        var voice = "en-us"
        /// Words per minute.
        var rate = 165

        init(agentId: Int, name: String, flow: String) {
            self.agentId = agentId
            self.name = name
            self.flow = flow
        }
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            agentId = try c.decode(Int.self, forKey: .agentId)
            name = try c.decodeIfPresent(String.self, forKey: .name) ?? "agent \(agentId)"
            agentUrl = try c.decodeIfPresent(String.self, forKey: .agentUrl)
            flow = try agentUrl == nil ? c.decode(String.self, forKey: .flow) : c.decodeIfPresent(String.self, forKey: .flow) ?? ""
            agentSampleRate = try c.decodeIfPresent(Int.self, forKey: .agentSampleRate) ?? agentSampleRate
            voice = try c.decodeIfPresent(String.self, forKey: .voice) ?? voice
            rate = try c.decodeIfPresent(Int.self, forKey: .rate) ?? rate
        }
    }

    struct Outlet: Codable, Sendable {
        var outletId: Int
        var name: String
        /// Credits (micro-credits) set for each agent when the server first starts with this amount.
        var credits: Int64?
        /// The ledger's rate card (docs/ledger.md), as JSON.
        var rateCard: ConfigJSON?
    }

    var listen = Listen()
    var audiosocket = AudioSocket()
    /// The ledger and anything else written lives here.
    var dataDir = "./formi-data"
    /// The usage ledger: a postgresql:// URL (shared by every instance), or a SQLite path; empty:
    /// DATA_DIR/usage.db.
    var ledger = ""
    var limits = Limits()
    var log = Log()
    /// Provider name -> path of a template JSON file (seed 004's format), beside the built-ins.
    var templates: [String: String] = [:]
    /// Flow name -> path of a flow JSON file (the library's flow format), or "builtin:demo".
    var flows: [String: String] = ["demo": "builtin:demo"]
    var agents: [Agent] = [Agent(agentId: 1, name: "Demo host", flow: "demo")]
    var outlets: [Outlet] = [Outlet(outletId: 1, name: "Luigi's", credits: 100_000_000, rateCard: DemoDefaults.rateCard)]
    /// The platform API (API/APIConfig.swift).
    var api = APIConfig()

    init() {}

    // Every field optional in the file: decode over the defaults.
    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ServerConfig()
        listen = try c.decodeIfPresent(Listen.self, forKey: .listen) ?? d.listen
        audiosocket = try c.decodeIfPresent(AudioSocket.self, forKey: .audiosocket) ?? d.audiosocket
        dataDir = try c.decodeIfPresent(String.self, forKey: .dataDir) ?? d.dataDir
        ledger = try c.decodeIfPresent(String.self, forKey: .ledger) ?? d.ledger
        limits = try c.decodeIfPresent(Limits.self, forKey: .limits) ?? d.limits
        log = try c.decodeIfPresent(Log.self, forKey: .log) ?? d.log
        templates = try c.decodeIfPresent([String: String].self, forKey: .templates) ?? d.templates
        flows = try c.decodeIfPresent([String: String].self, forKey: .flows) ?? d.flows
        agents = try c.decodeIfPresent([Agent].self, forKey: .agents) ?? d.agents
        outlets = try c.decodeIfPresent([Outlet].self, forKey: .outlets) ?? d.outlets
        api = try c.decodeIfPresent(APIConfig.self, forKey: .api) ?? d.api
    }

    static func load(path: String) throws -> ServerConfig {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(ServerConfig.self, from: data)
    }

    func json() -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).flatMap { String(data: $0, encoding: .utf8) } ?? "{}"
    }

    /// What is wrong with the configuration, every problem at once.
    func problems() -> [String] {
        var problems: [String] = []
        if !(0...65535).contains(listen.port) { problems.append("listen.port must be 0 to 65535") }
        if (listen.tlsCertificate == nil) != (listen.tlsKey == nil) { problems.append("listen.tls_certificate and listen.tls_key go together") }
        if !(0...65535).contains(audiosocket.port) { problems.append("audiosocket.port must be 0 to 65535") }
        if limits.maxCalls < 1 { problems.append("limits.max_calls must be at least 1") }
        if limits.drainSeconds < 0 { problems.append("limits.drain_seconds must be >= 0") }
        if limits.maxMessageBytes < 1024 || limits.maxMessageBytes > 16 << 20 { problems.append("limits.max_message_bytes must be 1 KiB to 16 MiB") }
        if limits.outputLeadMs < 0 || limits.outputLeadMs > 60_000 { problems.append("limits.output_lead_ms must be 0 to 60000") }
        if limits.reconnectGraceSeconds < 0 || limits.reconnectGraceSeconds > 600 { problems.append("limits.reconnect_grace_seconds must be 0 to 600") }
        if limits.idleSeconds <= 0 { problems.append("limits.idle_seconds must be > 0") }
        if limits.maxPendingFrames < 10 { problems.append("limits.max_pending_frames must be at least 10") }
        if !["text", "json"].contains(log.format) { problems.append("log.format must be text or json") }
        if Logger.Level(rawValue: log.level) == nil { problems.append("log.level \(log.level) is not a swift-log level") }
        for agent in agents where agent.agentUrl == nil && flows[agent.flow] == nil {
            problems.append("agent \(agent.agentId) runs flow \(agent.flow), which flows does not define")
        }
        problems += api.problems()
        problems += AgentBridge.problems(agents)
        if Set(agents.map(\.agentId)).count != agents.count { problems.append("agents: an agent_id is defined twice") }
        if Set(outlets.map(\.outletId)).count != outlets.count { problems.append("outlets: an outlet_id is defined twice") }
        for (uuid, route) in audiosocket.calls {
            if !agents.contains(where: { $0.agentId == route.agentId }) { problems.append("audiosocket.calls[\(uuid)]: no agent \(route.agentId)") }
            if !outlets.contains(where: { $0.outletId == route.outletId }) { problems.append("audiosocket.calls[\(uuid)]: no outlet \(route.outletId)") }
        }
        if audiosocket.enabled {
            if !agents.contains(where: { $0.agentId == audiosocket.agentId }) { problems.append("audiosocket.agent_id \(audiosocket.agentId) is not an agent") }
            if !outlets.contains(where: { $0.outletId == audiosocket.outletId }) { problems.append("audiosocket.outlet_id \(audiosocket.outletId) is not an outlet") }
        }
        return problems
    }
}

import Logging

/// Any JSON value, kept as given (rate cards are handed to the ledger as they are).
enum ConfigJSON: Codable, Sendable, Equatable {
    case null, bool(Bool), number(Double), string(String), array([ConfigJSON]), object([String: ConfigJSON])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([ConfigJSON].self) { self = .array(a) }
        else { self = .object(try c.decode([String: ConfigJSON].self)) }
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n): if n == n.rounded(), abs(n) < 1e15 { try c.encode(Int64(n)) } else { try c.encode(n) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// As Foundation objects, for JSONSerialization.
    var foundation: Any {
        switch self {
        case .null: NSNull()
        case .bool(let b): b
        case .number(let n): n == n.rounded() && abs(n) < 1e15 ? Int64(n) as Any : n
        case .string(let s): s
        case .array(let a): a.map(\.foundation)
        case .object(let o): o.mapValues(\.foundation)
        }
    }
}
