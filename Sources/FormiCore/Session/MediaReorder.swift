// Puts media frames back in the provider's order (Telnyx may deliver them out of order) within a small
// window, counts what came late or never came, and keeps a forged or broken number from taking the call.
//
// Frames are keyed by the provider's media chunk number (or sequence number). A frame with the next key
// goes straight through, followed by any held frames it unblocks. A frame a little ahead of the next key
// is held; when more than `window` frames are held the missing ones are declared lost and delivery moves
// on. A frame behind the next key that was never delivered is late and dropped: its moment has passed;
// one that was is a duplicate. In-order input is never delayed.
//
// Numbers cannot be trusted blindly: one frame numbered far ahead would make every genuine frame after
// it "late". So:
//   - a frame more than `nearAhead` ahead is not held: it starts (or continues) a run of frames numbered
//     one after another out there; once `resyncRun` frames make such a run the stream is taken to have
//     moved there (a provider that restarted its numbering, or a long outage). Until then such frames
//     are ignored and counted;
//   - likewise frames behind: a run of `resyncRun` consecutive never-delivered frames behind the stream
//     means the stream is back there (a forged or broken jump ahead): delivery rewinds to them, and the
//     frames of the run are delivered, so the genuine audio loses nothing but a delay.
// At most `resyncRun` frames wait in a run, so hostile numbering costs a bounded gap and bounded memory.
// During the first `window` frames, frames just before the first one are still delivered (Telnyx's first
// chunk may overtake the one before it): the window settles its start before calling anything late.

struct MediaReorder {
    /// A held frame: its key, wire audio, and what its event carried.
    struct Frame {
        var key: Int64
        var audio: [UInt8]
        var sequence, timestamp, chunk: Int64?
        var pattern: Int?
        var streamId: [UInt8]
    }

    enum Decision {
        /// Deliver this frame now, then call `nextReady()` until it returns nil.
        case deliver
        /// Held for later (in the window, or in a run that may become the stream).
        case held
        /// Behind the stream: dropped.
        case late
        /// Already delivered or held: dropped.
        case duplicate
    }

    let window: Int
    /// Frames further ahead than this are not held but must form a run to count.
    let nearAhead: Int64
    /// Consecutive frames that move the stream (ahead) or rewind it (behind).
    let resyncRun: Int
    private var expected: Int64?
    /// Bit i set: the key `expected - 1 - i` was delivered (duplicates told from late frames).
    private var delivered: UInt64 = 0
    private var held: [Frame] = []
    /// Frames out of place that may become the stream (see above), consecutive keys.
    private var run: [Frame] = []
    /// Frames to hand out before anything else (a run that became the stream).
    private var ready: [Frame] = []
    private var readyIndex = 0
    private var runAhead = true
    /// Frames delivered in order since the run began: a run the stream ignores for long is dropped.
    private var sinceRun = 0
    /// The first key, and how many frames may still settle the start.
    private var firstKey: Int64 = 0
    private var settling = 0
    /// The gap last declared lost, so that a rewind into it takes the count back.
    private var gap: Range<Int64>?
    /// Spare frame buffers, so holding a frame reuses memory.
    private var spare: [[UInt8]] = []
    private(set) var late: Int64 = 0
    private(set) var lost: Int64 = 0
    private(set) var reordered: Int64 = 0
    private(set) var duplicates: Int64 = 0
    /// Frames numbered out of all plausibility that never formed a run: ignored.
    private(set) var ignored: Int64 = 0
    /// Times the stream was moved to (or rewound to) a run.
    private(set) var resyncs: Int64 = 0

    /// The largest gap an outage is believed to have made (a minute of 20 ms frames); a jump further
    /// is not counted as lost frames.
    static let plausibleGap: Int64 = 3000

    init(window: Int) {
        self.window = max(0, window)
        nearAhead = Int64(max(1, self.window) &* 2)
        resyncRun = max(4, self.window &+ 2)
        held.reserveCapacity(self.window &+ 1)
        run.reserveCapacity(resyncRun)
        spare.reserveCapacity(self.window &+ resyncRun &+ 1)
    }

    /// Decides what to do with a frame keyed `key` (nil: no number to order by, delivered as is).
    mutating func accept(key: Int64?, audio: UnsafeRawBufferPointer, sequence: Int64?, timestamp: Int64?, chunk: Int64?,
                         pattern: Int?, streamId: UnsafeRawBufferPointer?) -> Decision {
        guard window > 0, let key else { return .deliver }
        guard let next = expected else {
            expected = key &+ 1
            delivered = 1
            firstKey = key
            settling = window
            return .deliver
        }
        if key == next {
            advance(to: key)
            noteInOrder()
            return .deliver
        }
        func frame() -> Frame {
            var buffer = spare.popLast() ?? []
            buffer.removeAll(keepingCapacity: true)
            buffer.append(contentsOf: audio)
            return Frame(key: key, audio: buffer, sequence: sequence, timestamp: timestamp, chunk: chunk, pattern: pattern,
                         streamId: streamId.map(Array.init) ?? [])
        }
        let (ahead, overflow) = key.subtractingReportingOverflow(next)
        if !overflow && ahead > 0 && ahead <= nearAhead {
            if held.contains(where: { $0.key == key }) {
                duplicates = duplicates.addingSaturated(1)
                return .duplicate
            }
            let index = held.firstIndex(where: { $0.key > key }) ?? held.count
            held.insert(frame(), at: index)
            reordered = reordered.addingSaturated(1)
            return .held
        }
        if ahead > 0 || (overflow && key > next) {
            return extendRun(frame(), ahead: true)
        }
        // Behind the stream.
        let (behind, behindOverflow) = next.subtractingReportingOverflow(key)
        if !behindOverflow && behind <= 64 && delivered & (1 << UInt64(behind &- 1)) != 0 {
            duplicates = duplicates.addingSaturated(1)
            return .duplicate
        }
        if settling > 0 && key < firstKey && !behindOverflow && behind <= 64 && firstKey &- key <= Int64(window) {
            // The start settling: a frame that should have come first is delivered, not dropped.
            delivered |= 1 << UInt64(behind &- 1)
            reordered = reordered.addingSaturated(1)
            return .deliver
        }
        late = late.addingSaturated(1)
        return extendRun(frame(), ahead: false) == .held ? .held : .late
    }

    /// The next frame that may now go out: a run that became the stream, the held one with the next key,
    /// or, when more than `window` frames are held (or `flushing` at the end of the stream), the first
    /// held one past a gap, counting the gap as lost. Give the frame back with `recycle` once delivered.
    mutating func nextReady(flushing: Bool = false) -> Frame? {
        if readyIndex < ready.count {
            let frame = ready[readyIndex]
            readyIndex &+= 1
            if readyIndex == ready.count {
                ready.removeAll(keepingCapacity: true)
                readyIndex = 0
            }
            return frame
        }
        guard let first = held.first, let next = expected else {
            if flushing { dropRun() }
            return nil
        }
        if first.key != next {
            guard held.count > window || flushing else { return nil }
            lost = lost.addingSaturated(first.key &- next)
            gap = next..<first.key
        }
        advance(to: first.key)
        noteInOrder()
        return held.removeFirst()
    }

    mutating func recycle(_ frame: Frame) {
        if spare.count < window &+ resyncRun &+ 1 { spare.append(frame.audio) }
    }

    // MARK: runs

    /// Adds a frame out of place to the run of consecutive keys it continues (or starts a new run);
    /// moves the stream to the run once it is long enough. Frames behind count as late until then.
    private mutating func extendRun(_ frame: Frame, ahead: Bool) -> Decision {
        if let last = run.last, runAhead == ahead, frame.key == last.key &+ 1, last.key != .max {
            run.append(frame)
        } else {
            dropRun()
            run.append(frame)
            runAhead = ahead
            sinceRun = 0
        }
        if run.count >= resyncRun { moveStreamToRun() }
        return ahead ? .held : .late
    }

    /// The run becomes the stream: held frames are dropped (they belong to the other numbering), the
    /// run's frames are handed out next.
    private mutating func moveStreamToRun() {
        guard let firstRun = run.first, let lastRun = run.last, let next = expected else { return }
        resyncs = resyncs.addingSaturated(1)
        if runAhead {
            // An outage (or a provider that renumbered): the frames between are lost, if a plausible number.
            let missing = firstRun.key.subtractingReportingOverflow(next)
            if !missing.overflow, missing.partialValue <= Self.plausibleGap {
                lost = lost.addingSaturated(missing.partialValue)
                gap = next..<firstRun.key
            }
        } else {
            // The run's frames were counted late; they are delivered after all. A rewind into the gap last
            // declared lost: those frames were not lost either.
            late = max(0, late &- Int64(run.count))
            if let gap, gap.contains(firstRun.key) {
                lost = max(0, lost &- (gap.upperBound &- firstRun.key))
                self.gap = nil
            }
        }
        ignored = ignored.addingSaturated(Int64(held.count))
        for frame in held { recycle(frame) }
        held.removeAll(keepingCapacity: true)
        ready.append(contentsOf: run)
        run.removeAll(keepingCapacity: true)
        let span = lastRun.key &- firstRun.key
        delivered = span >= 63 ? .max : (1 << UInt64(span &+ 1)) &- 1
        expected = lastRun.key &+ 1
        settling = 0
    }

    /// A run the stream ignored: its frames are not audio of this call after all.
    private mutating func dropRun() {
        guard let first = run.first else { return }
        if runAhead { ignored = ignored.addingSaturated(Int64(run.count)) }
        for frame in run { recycle(frame) }
        run.removeAll(keepingCapacity: true)
    }

    /// One frame went out in order: a pending run that the stream keeps ignoring is given up.
    private mutating func noteInOrder() {
        if settling > 0 { settling &-= 1 }
        guard !run.isEmpty else { return }
        sinceRun &+= 1
        if sinceRun > resyncRun &* 4 { dropRun() }
    }

    /// `key` is delivered: the stream expects the one after it.
    private mutating func advance(to key: Int64) {
        let step = key &- (expected ?? key) &+ 1
        delivered = step >= 64 || step <= 0 ? 1 : delivered << UInt64(step) | 1
        expected = key &+ 1
    }
}

extension Int64 {
    /// Adds, stopping at the largest value instead of wrapping (counters that reach the ledger).
    func addingSaturated(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}
