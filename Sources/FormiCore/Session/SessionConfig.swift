// How a session is set up: its role, the host's audio format, its limits, and (for the telephony role)
// the call it announces.

/// Which end of the call the host is.
public enum SessionRole: Int, Sendable {
    /// The host is the agent server: provider frames in, internal events out; agent audio in, provider
    /// messages out (the `/ws-adapter` side).
    case agentServer = 1
    /// The host is the telephony side (a PBX module, a SIP stack): it speaks as the provider to an agent
    /// server, sending caller audio and playing the agent's audio from a playback queue.
    case telephony = 2

    public var name: String { self == .agentServer ? "agent_server" : "telephony" }
}

/// The call a telephony-role session announces in its `start` message.
public struct CallMetadata: Sendable {
    public var streamId = ""
    public var callId = ""
    public var accountId = ""
    public var from = ""
    public var to = ""
    public var direction = "inbound"
    /// A JSON object.
    public var customParameters = "{}"

    public init() {}
}

public struct SessionConfig: Sendable {
    public var role: SessionRole
    /// The host's audio: the agent's PCM (agent-server role) or the PBX's audio (telephony role).
    public var localFormat = AudioFormat(encoding: .pcm16LE, sampleRate: 16000, channels: 1)
    /// The host's audio handed to `sendAudio`, where it differs from what it receives (an agent that
    /// hears at 16 kHz and speaks at 24 kHz); nil: `localFormat`.
    public var sendFormat: AudioFormat?
    /// Telephony role: the format on the wire (nil: the template's default). The agent-server role
    /// learns it from the provider's `start`.
    public var callFormat: AudioFormat?
    /// The most agent audio waiting in the session: unsent output (agent-server role) or unplayed
    /// playback (telephony role).
    public var maxQueuedMilliseconds = 60_000
    /// The largest message accepted (bigger ones are an error event).
    public var maxMessageBytes = 256 * 1024
    /// Media frames held to restore the provider's order (Telnyx may reorder); 0 delivers as received.
    public var reorderWindow = 4
    /// Media frames held while waiting for a late `start`; more is an error event and they are dropped.
    public var earlyMediaFrames = 50
    /// Agent-server role: milliseconds of agent audio between the session's own playback marks, which
    /// measure what the caller heard (0: none; only the host's marks and the clock).
    public var playbackMarkInterval = 200
    /// Agent-server role: the most audio released ahead of real time for providers that play frames as
    /// they arrive (AudioSocket); nil: the template's rule (unlimited where the provider buffers).
    public var outputLeadMilliseconds: Int?
    public var resamplerQuality = Resampler.defaultQuality
    /// Agent-server role: the track whose media is the caller's (a both-tracks stream also carries the
    /// agent's own audio, which is counted and dropped); nil: the template's ("inbound"); "": every track.
    public var callerTrack: String?
    /// The format the agent's audio travels in on the wire, when the provider fixes it apart from the
    /// call's (Telnyx's bidirectional codec); nil: the template's rule, else the call's format.
    public var agentFormat: AudioFormat?
    /// Agent-server role: the duration of each media message, where the provider takes any (its template
    /// frames by milliseconds and does not refuse other sizes): e.g. a pipeline's own 40 ms chunks, one
    /// message each. nil: the template's rule.
    public var frameMilliseconds: Int?
    /// Telephony role: behave as the provider does with an agent server that breaks its rules (media for
    /// another stream, frame sizes it rejects): an error event naming the rule. Default on.
    public var strict = true
    /// Telephony role: the call announced.
    public var call = CallMetadata()

    public init(role: SessionRole) {
        self.role = role
    }
}

/// Why a session cannot be made, or an action cannot be done in the session's state.
public enum SessionError: Error, Sendable, Equatable {
    case invalidConfig(String)
    case unsupported(String)
    case state(String)
    case limit(String)
    case invalidAudio(String)

    public var message: String {
        switch self {
        case .invalidConfig(let m), .unsupported(let m), .state(let m), .limit(let m), .invalidAudio(let m): m
        }
    }
}
