// Playback truth for the agent-server role: how much of the agent's audio the caller has heard.
//
// Positions are microseconds on one timeline of agent audio handed to the host to send. Two sources say
// how far playback has got: mark echoes (the provider says "audio up to here has played": a lower
// bound that is exact up to the mark spacing) and the host's clock (audio plays in real time from when
// it reaches the provider, so everything sent is done at `playEnd`; an echo re-anchors that estimate).
// The estimate never falls below what marks confirmed nor exceeds what was sent.
//
// An utterance is the audio since the last interrupt or flush. After an interrupt the figures of the
// interrupted utterance stay readable until the next utterance starts.

public struct PlaybackReport: Equatable, Sendable {
    /// Counts utterances, from 1; 0 before any agent audio.
    public var utterance: Int64 = 0
    /// Audio of the utterance handed to the host to send (ms).
    public var sentMilliseconds: Int64 = 0
    /// Of it, confirmed played by the provider's mark echoes (ms).
    public var confirmedMilliseconds: Int64 = 0
    /// Of it, played by the host's clock: at least `confirmed`, at most `sent` (ms). Without a clock it
    /// equals `confirmed`.
    public var estimatedMilliseconds: Int64 = 0
    /// Whether the utterance was cut by an interrupt (then the figures are those at that instant).
    public var interrupted = false
    /// Agent audio rendered but not yet taken by the host (ms).
    public var queuedMilliseconds: Int64 = 0

    public init() {}
}

struct PlaybackTracker {
    /// Audio handed to the host to send, since the session began (µs).
    private(set) var sent: Int64 = 0
    /// Audio known played from mark echoes (µs).
    private(set) var confirmed: Int64 = 0
    /// Host clock (µs) at which everything sent will have played; nil until the host gives a clock.
    private var playEnd: Int64?
    private var utteranceStart: Int64 = 0
    private var utterance: Int64 = 0
    /// Set when the current utterance has ended (interrupt or flush): the next audio starts another.
    private var ended = true
    private var frozen: PlaybackReport?

    /// Audio of `micros` handed to the host at clock `now` (nil: no clock).
    mutating func sent(_ micros: Int64, now: Int64?) {
        if ended { beginUtterance() }
        sent &+= micros
        if let now {
            playEnd = max(playEnd ?? now, now) &+ micros
        }
    }

    /// A mark echo: audio up to `position` has played, as of `now`.
    mutating func confirm(_ position: Int64, now: Int64?) {
        let position = min(position, sent)
        confirmed = max(confirmed, position)
        if let now { playEnd = now &+ (sent &- confirmed) }
    }

    /// Audio sent but not yet played by the clock at `now` (µs): what the provider holds.
    func ahead(now: Int64) -> Int64 {
        max(0, (playEnd ?? now) &- now)
    }

    /// Played by the clock at `now`, within [confirmed, sent].
    func estimated(now: Int64?) -> Int64 {
        guard let now, let playEnd else { return confirmed }
        let pending = max(0, playEnd &- now)
        return min(sent, max(confirmed, sent &- pending))
    }

    private mutating func beginUtterance() {
        ended = false
        frozen = nil
        utterance &+= 1
        utteranceStart = sent
    }

    /// The current utterance ends unheard from the estimate on: returns the report at this instant, with
    /// `queued` (µs) the audio dropped before it was sent. Everything sent is now settled (the provider's
    /// queue is cleared). When the last utterance had ended and only new audio was dropped, that new
    /// utterance, none of which was sent, is the one cut.
    mutating func interrupt(now: Int64?, queued: Int64) -> PlaybackReport {
        if ended && queued > 0 { beginUtterance() }
        var report = self.report(now: now, queued: queued)
        report.interrupted = true
        frozen = report
        ended = true
        // Nothing sent remains to be played: the clear discarded it.
        confirmed = sent
        if now != nil { playEnd = now }
        return report
    }

    /// The utterance ends normally (the host flushed): the next audio starts a new one.
    mutating func endUtterance() { ended = true }

    func report(now: Int64?, queued: Int64) -> PlaybackReport {
        if var frozen {
            frozen.queuedMilliseconds = queued / 1000
            return frozen
        }
        var report = PlaybackReport()
        report.utterance = utterance
        report.sentMilliseconds = (sent &- utteranceStart) / 1000
        report.confirmedMilliseconds = max(0, confirmed &- utteranceStart) / 1000
        report.estimatedMilliseconds = max(0, estimated(now: now) &- utteranceStart) / 1000
        report.queuedMilliseconds = queued / 1000
        return report
    }

    /// The unheard remainder at an interrupt (µs): sent but not played by the estimate.
    func unplayed(now: Int64?) -> Int64 { sent &- estimated(now: now) }
}
