import FormiCore
import Testing

/// Media numbering from real providers and from hostile or broken ones: the window restores order, and
/// no number can take the call's audio for more than a bounded gap.
@Suite("Session: media numbering")
struct ReorderTests {
    static let start = SessionLifecycleTests.start

    /// A Twilio media frame keyed `chunk`, whose 160 bytes say which genuine frame it is (`id`), or 0xEE
    /// for a hostile one.
    static func frame(chunk: Int64, id: Int?) -> String {
        var bytes = [UInt8](repeating: 0xEE, count: 160)
        if let id {
            bytes[0] = UInt8(truncatingIfNeeded: id >> 8)
            bytes[1] = UInt8(truncatingIfNeeded: id)
            bytes[2] = 0x5A
        }
        return #"{"event":"media","sequenceNumber":"\#(chunk &+ 1)","streamSid":"MZ1","media":{"track":"inbound","chunk":"\#(chunk)","timestamp":"0","payload":"\#(base64Text(bytes))"}}"#
    }

    static func session(window: Int = 4) throws -> Session {
        var config = SessionConfig(role: .agentServer)
        config.localFormat = AudioFormat(encoding: .ulaw, sampleRate: 8000)
        config.reorderWindow = window
        let session = try Session(provider: "twilio", config: config)
        try session.receive(text: start)
        _ = session.takeEvents()
        return session
    }

    /// The genuine frames delivered, in delivery order.
    static func genuine(_ events: [TakenEvent]) -> [Int] {
        events.filter { $0.kind == .media && $0.audio.count >= 3 && $0.audio[2] == 0x5A }.map { Int($0.audio[0]) << 8 | Int($0.audio[1]) }
    }

    /// Feeds genuine frames 1...count with `hostile` frames inserted before the genuine frame they name.
    static func run(count: Int, hostile: [(before: Int, key: Int64)], window: Int = 4) throws -> (session: Session, delivered: [Int]) {
        let session = try session(window: window)
        var events: [TakenEvent] = []
        for id in 1...count {
            for h in hostile where h.before == id { try session.receive(text: frame(chunk: h.key, id: nil)) }
            try session.receive(text: frame(chunk: Int64(id), id: id))
            events += session.takeEvents()
        }
        session.end(reason: "test")
        events += session.takeEvents()
        return (session, genuine(events))
    }

    /// Five frames just ahead of the stream (more than the window holds) used to make every later
    /// genuine frame late: 0 of 500 delivered. The frames they stand in for are lost, nothing more.
    @Test func fiveFramesNumberedAheadCostABoundedGap() throws {
        let (session, delivered) = try Self.run(count: 500, hostile: (0..<5).map { (before: 10, key: Int64(12 + $0)) })
        #expect(delivered == Array(1...9) + Array(17...500))
        #expect(session.stat("duplicate_frames") == 5)  // the genuine 12...16, after the forged ones
        #expect(session.stat("late_frames")! + session.stat("lost_frames")! <= 4)
    }

    /// A run of consecutive forged numbers ahead moves the stream; the genuine frames that then come
    /// "late" form a run of their own and the stream rewinds to them, delivering them.
    @Test func aForgedRunIsUndoneByTheGenuineStream() throws {
        let (session, delivered) = try Self.run(count: 500, hostile: (0..<8).map { (before: 10, key: Int64(1000 + $0)) })
        #expect(delivered == Array(1...500))
        #expect(session.stat("resyncs") == 2)
        #expect(session.stat("lost_frames") == 0)
        #expect(session.stat("late_frames") == 0)
    }

    @Test(arguments: [Int64(600), 1_000_000_000, Int64.max - 10])
    func framesNumberedFarAheadAreIgnored(ahead: Int64) throws {
        let (session, delivered) = try Self.run(count: 500, hostile: (0..<5).map { (before: 10, key: ahead &+ Int64($0)) })
        #expect(delivered == Array(1...500))
        #expect(session.stat("ignored_frames") == 5)
        #expect(session.stat("lost_frames") == 0)
        #expect(session.stat("late_frames") == 0)
    }

    @Test func theLargestNumbersLeaveTheCountersSane() throws {
        let (session, delivered) = try Self.run(count: 100, hostile: [(before: 5, key: .max), (before: 6, key: .max - 1),
                                                                      (before: 7, key: .min), (before: 8, key: -1)])
        #expect(delivered == Array(1...100))
        for key in ["lost_frames", "late_frames", "ignored_frames", "duplicate_frames"] {
            let value = try #require(session.stat(key))
            #expect((0...10).contains(value), "\(key) = \(value)")
        }
    }

    /// A provider that lost a long stretch (or renumbered): after a short run the stream follows it.
    @Test func anOutageIsFollowedAndCounted() throws {
        let session = try Self.session()
        var events: [TakenEvent] = []
        for id in 1...10 { try session.receive(text: Self.frame(chunk: Int64(id), id: id)) }
        for id in 100...200 { try session.receive(text: Self.frame(chunk: Int64(id), id: id)) }
        session.end(reason: "test")
        events += session.takeEvents()
        #expect(Self.genuine(events) == Array(1...10) + Array(100...200))
        #expect(session.stat("lost_frames") == 89)
        #expect(session.stat("resyncs") == 1)
    }

    @Test func aDuplicateIsNotLate() throws {
        let session = try Self.session()
        for id in [1, 2, 3, 2, 4] { try session.receive(text: Self.frame(chunk: Int64(id), id: id)) }
        #expect(Self.genuine(session.takeEvents()) == [1, 2, 3, 4])
        #expect(session.stat("duplicate_frames") == 1)
        #expect(session.stat("late_frames") == 0)
    }

    /// Telnyx's first chunk may overtake the one before it: the window settles its start first.
    @Test func theFirstFramesSettleTheStart() throws {
        let session = try Self.session()
        for id in [2, 1, 3, 4] { try session.receive(text: Self.frame(chunk: Int64(id), id: id)) }
        #expect(Set(Self.genuine(session.takeEvents())) == [1, 2, 3, 4])
        #expect(session.stat("late_frames") == 0)
        #expect(session.stat("lost_frames") == 0)
    }

    /// A frame released from the window, or held before start, keeps its stream id and pattern.
    @Test func heldFramesKeepTheirFields() throws {
        let session = try Self.session()
        for id in [1, 3, 2] { try session.receive(text: Self.frame(chunk: Int64(id), id: id)) }
        let events = session.takeEvents()
        #expect(events.map(\.streamId) == ["MZ1", "MZ1", "MZ1"])
        #expect(events.allSatisfy { $0.pattern == events[0].pattern && $0.pattern != nil })

        var config = SessionConfig(role: .agentServer)
        config.localFormat = AudioFormat(encoding: .ulaw, sampleRate: 8000)
        let early = try Session(provider: "twilio", config: config)
        try early.receive(text: Self.frame(chunk: 1, id: 1))
        try early.receive(text: Self.start)
        let media = early.takeEvents().filter { $0.kind == .media }
        #expect(media.count == 1 && media[0].streamId == "MZ1" && media[0].pattern != nil)
    }

    /// Property: any interleaving of genuine frames with up to N hostile ones (any number: near, far,
    /// behind, extreme, repeated) delivers every genuine frame but a bounded few around the hostile ones,
    /// and in order from some point on; the counters stay small and never negative.
    @Test func hostileFramesCostABoundedGap() throws {
        var generator = SystemRandomNumberGenerator()
        var worst = (missing: 0, hostile: 0, gapAllowed: 0)
        var totalMissing = 0, totalHostile = 0
        for round in 0..<300 {
            let count = 200
            let n = Int.random(in: 1...6, using: &generator)
            var hostile: [(before: Int, key: Int64)] = []
            for _ in 0..<n {
                let before = Int.random(in: 2...150, using: &generator)
                let key: Int64 = switch Int.random(in: 0..<7, using: &generator) {
                case 0: Int64(before) + Int64.random(in: 1...12, using: &generator)      // near ahead
                case 1: Int64(before) + Int64.random(in: 13...5000, using: &generator)   // far ahead
                case 2: Int64.random(in: Int64(1e9)...Int64.max, using: &generator)      // absurd
                case 3: Int64(before) - Int64.random(in: 1...40, using: &generator)     // behind
                case 4: Int64.random(in: Int64.min...(-1), using: &generator)           // negative
                case 5: .max
                default: Int64(before)                                                  // the genuine one's number
                }
                // Hostile frames may come as a burst of consecutive numbers.
                let burst = Int.random(in: 1...6, using: &generator)
                for i in 0..<burst { hostile.append((before, key &+ Int64(i))) }
            }
            let (session, delivered) = try Self.run(count: count, hostile: hostile)
            let missing = Set(1...count).subtracting(delivered)
            #expect(missing.count <= n * 12, "round \(round): \(missing.count) genuine frames missing with \(hostile)")
            if missing.count > worst.missing { worst = (missing.count, hostile.count, n * 12) }
            totalMissing += missing.count
            totalHostile += hostile.count
            // After the last hostile frame and a bounded gap, every genuine frame arrives in order.
            let lastHostile = hostile.map(\.before).max() ?? 0
            let tail = delivered.filter { $0 > lastHostile + 12 }
            #expect(tail == Array((lastHostile + 13)...count), "round \(round): \(hostile)")
            for key in ["lost_frames", "late_frames", "ignored_frames", "duplicate_frames", "reordered_frames"] {
                let value = try #require(session.stat(key))
                #expect((0...Int64(count + hostile.count + 5000)).contains(value), "round \(round): \(key) = \(value) with \(hostile)")
            }
        }
        print("hostile numbering: 300 calls of 200 genuine frames, \(totalHostile) hostile frames in all; genuine frames missing: \(totalMissing) in all, at worst \(worst.missing) in one call (with \(worst.hostile) hostile frames; bound \(worst.gapAllowed))")
    }

    /// Media held for a start that never came, then stop: counted lost and said, not dropped silently.
    @Test func mediaWaitingForAStartThatNeverCameIsCounted() throws {
        var config = SessionConfig(role: .agentServer)
        config.localFormat = AudioFormat(encoding: .ulaw, sampleRate: 8000)
        config.earlyMediaFrames = 3
        let session = try Session(provider: "twilio", config: config)
        for id in 1...5 { try session.receive(text: Self.frame(chunk: Int64(id), id: id)) }  // 4 dropped at the cap, 1 held
        try session.receive(text: #"{"event":"stop","sequenceNumber":"9","streamSid":"MZ1","stop":{"accountSid":"AC1","callSid":"CA1"}}"#)
        let events = session.takeEvents()
        #expect(events.map(\.kind) == [.error, .error, .stop])
        #expect(events[1].error?.contains("1 frame arrived without a start") == true)
        #expect(session.stat("lost_frames") == 5)
    }

    /// The end of the call delivers the resampler's tail: every sample the caller sent reaches the agent.
    @Test(arguments: [true, false])
    func theEndDeliversTheCallersLastSamples(byStop: Bool) throws {
        var config = SessionConfig(role: .agentServer)
        config.localFormat = AudioFormat(encoding: .pcm16LE, sampleRate: 16000)
        let session = try Session(provider: "twilio", config: config)
        try session.receive(text: Self.start)
        for id in 1...50 { try session.receive(text: Self.frame(chunk: Int64(id), id: id)) }
        if byStop {
            try session.receive(text: #"{"event":"stop","sequenceNumber":"99","streamSid":"MZ1","stop":{"accountSid":"AC1","callSid":"CA1"}}"#)
        } else {
            session.end(reason: "hangup")
        }
        let samples = session.takeEvents().filter { $0.kind == .media }.reduce(0) { $0 + $1.audio.count / 2 }
        // The filter's delay is in the signal: the last `latency` samples only come out of the drain.
        let latency = try Resampler(channels: 1, inputRate: 8000, outputRate: 16000, quality: Resampler.defaultQuality).latency
        #expect(latency > 0 && samples == 16000 + latency, "\(samples) samples, latency \(latency)")
    }
}
