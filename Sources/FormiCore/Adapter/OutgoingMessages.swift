// The messages a template renders, by what they are for, looked up once when the template loads
// (the template keeps them by name too: `outgoing`, `telephony`).

/// What the agent-server role sends the provider (`events.outgoing`).
public struct OutgoingMessages: Sendable {
    public var media: OutgoingTemplate?
    public var mark: OutgoingTemplate?
    /// nil with `clearIsLocal`: the provider has no clear command ("clear": null).
    public var clear: OutgoingTemplate?
    public var clearIsLocal: Bool
    /// The call's end ("hangup", else "disconnect").
    public var hangup: OutgoingTemplate?

    init(_ byName: [String: OutgoingTemplate?]) {
        media = byName["media"] ?? nil
        mark = byName["mark"] ?? nil
        clear = byName["clear"] ?? nil
        clearIsLocal = byName["clear"].map { $0 == nil } ?? false
        hangup = (byName["hangup"] ?? nil) ?? (byName["disconnect"] ?? nil)
    }
}

/// What the telephony role sends the agent server, speaking as the provider (`events.telephony`).
public struct TelephonyMessages: Sendable {
    public var connected: OutgoingTemplate?
    public var start: OutgoingTemplate?
    public var media: OutgoingTemplate?
    public var dtmf: OutgoingTemplate?
    /// The echo of a mark whose audio has played.
    public var mark: OutgoingTemplate?
    /// The echo of a mark a clear discarded (else `mark`).
    public var markCleared: OutgoingTemplate?
    public var cleared: OutgoingTemplate?
    public var stop: OutgoingTemplate?

    init(_ byName: [String: OutgoingTemplate]) {
        connected = byName["connected"]
        start = byName["start"]
        media = byName["media"]
        dtmf = byName["dtmf"]
        mark = byName["mark"]
        markCleared = byName["mark_cleared"]
        cleared = byName["cleared"]
        stop = byName["stop"]
    }
}
