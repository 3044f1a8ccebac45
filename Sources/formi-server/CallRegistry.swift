// The calls in progress: the cap on concurrent calls, and the drain on shutdown (refuse new calls, let
// the others finish up to the drain time, then end them with a reason).

import Prometheus
import Synchronization

final class CallRegistry: Sendable {
    private struct State {
        var active: [Int: AsyncStream<CallInput>.Continuation] = [:]
        var nextId = 1
        var draining = false
    }

    let maxCalls: Int
    private let state = Mutex(State())

    init(maxCalls: Int) { self.maxCalls = maxCalls }

    var count: Int { state.withLock { $0.active.count } }
    var draining: Bool { state.withLock { $0.draining } }
    /// Whether a new call would be taken now (checked before a WebSocket upgrade).
    var accepting: Bool { state.withLock { !$0.draining && $0.active.count < maxCalls } }

    /// A call's id, or nil when at the cap or draining.
    func reserve(_ continuation: AsyncStream<CallInput>.Continuation) -> Int? {
        state.withLock { s in
            guard !s.draining, s.active.count < maxCalls else { return nil }
            let id = s.nextId
            s.nextId += 1
            s.active[id] = continuation
            return id
        }
    }

    /// The calls' clock: one timer for every call (a timer per call costs more than the calls' audio).
    func tickAll(drops: Prometheus.Counter) {
        let queues = state.withLock { Array($0.active.values) }
        for queue in queues {
            if case .dropped = queue.yield(.tick) { drops.increment() }
        }
    }

    func release(_ id: Int) {
        _ = state.withLock { $0.active.removeValue(forKey: id) }
    }

    /// Stops taking calls; waits up to `seconds` for the calls to end, then ends those left, and waits
    /// (at most `grace` more) for them to be written to the ledger.
    func drain(seconds: Double, grace: Double = 5) async -> (finished: Int, ended: Int) {
        let before = state.withLock { s in
            s.draining = true
            return s.active.count
        }
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(Int64(seconds * 1000))
        while count > 0, clock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        let left = state.withLock { Array($0.active.values) }
        for continuation in left { continuation.yield(.shutdown) }
        let hard = clock.now + .milliseconds(Int64(grace * 1000))
        while count > 0, clock.now < hard { try? await Task.sleep(for: .milliseconds(20)) }
        return (before - left.count, left.count)
    }
}
