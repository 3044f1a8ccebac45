// Calls whose socket dropped without a stop, held for the reconnect grace period (limits.
// reconnect_grace_seconds). A new connection whose start names the same provider and stream id takes
// the call over: the same agent (flow state, what was said), the rest of the utterance that was
// playing, the counters so far, and one ledger record at the real end.

import Foundation
import Synchronization

final class ParkedCall: @unchecked Sendable {
    /// The agent, handed from the dropped connection's task to the one that resumes (never both).
    let agent: any CallAgent
    /// How much of the utterance in flight the caller had heard when the socket dropped.
    let heardMs: Int64
    let startedAt: Date
    /// The session counters of every connection so far, as JSON objects.
    let segments: [[String: Any]]
    let callId: Int

    init(agent: any CallAgent, heardMs: Int64, startedAt: Date, segments: [[String: Any]], callId: Int) {
        self.agent = agent
        self.heardMs = heardMs
        self.startedAt = startedAt
        self.segments = segments
        self.callId = callId
    }
}

final class ParkedCalls: Sendable {
    private let table = Mutex<[String: ParkedCall]>([:])

    static func key(provider: String, streamId: String) -> String { "\(provider)\u{0}\(streamId)" }

    var count: Int { table.withLock { $0.count } }

    func park(_ key: String, _ call: ParkedCall) {
        table.withLock { $0[key] = call }
    }

    /// The parked call, now owned by the caller, or nil.
    func take(_ key: String) -> ParkedCall? {
        table.withLock { $0.removeValue(forKey: key) }
    }

    /// Ends the wait: true when the call was still parked (nobody resumed it), and it is removed.
    func release(_ key: String, _ call: ParkedCall) -> Bool {
        table.withLock { t in
            guard let found = t[key], found === call else { return false }
            t[key] = nil
            return true
        }
    }
}
