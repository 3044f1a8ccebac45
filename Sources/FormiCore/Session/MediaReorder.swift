// Puts media frames back in the provider's order (Telnyx may deliver them out of order) within a small
// window, and counts what came late or never came.
//
// Frames are keyed by the provider's media chunk number (or sequence number). A frame with the next key
// goes straight through, followed by any held frames it unblocks. A frame ahead of the next key is held;
// when more than `window` frames are held the missing ones are declared lost and delivery moves on. A
// frame behind the next key is late and dropped: its moment has passed. In-order input is never delayed.

struct MediaReorder {
    /// A held frame: its key, wire audio, and the event numbers it carried.
    struct Frame {
        var key: Int64
        var audio: [UInt8]
        var sequence, timestamp, chunk: Int64?
    }

    enum Decision {
        /// Deliver this frame now, then call `nextReady()` until it returns nil.
        case deliver
        /// Held for later.
        case held
        /// Behind the stream: dropped.
        case late
        /// Already held: dropped.
        case duplicate
    }

    let window: Int
    private var expected: Int64?
    private var held: [Frame] = []
    /// Spare frame buffers, so holding a frame reuses memory.
    private var spare: [[UInt8]] = []
    private(set) var late: Int64 = 0
    private(set) var lost: Int64 = 0
    private(set) var reordered: Int64 = 0
    private(set) var duplicates: Int64 = 0

    init(window: Int) {
        self.window = max(0, window)
        held.reserveCapacity(self.window &+ 1)
        spare.reserveCapacity(self.window &+ 1)
    }

    /// Decides what to do with a frame keyed `key` (nil: no number to order by, delivered as is).
    mutating func accept(key: Int64?, audio: UnsafeRawBufferPointer, sequence: Int64?, timestamp: Int64?, chunk: Int64?) -> Decision {
        guard window > 0, let key else { return .deliver }
        guard let next = expected else {
            expected = key &+ 1
            return .deliver
        }
        if key == next {
            expected = key &+ 1
            return .deliver
        }
        if key < next {
            late &+= 1
            return .late
        }
        if held.contains(where: { $0.key == key }) {
            duplicates &+= 1
            return .duplicate
        }
        var buffer = spare.popLast() ?? []
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: audio)
        let index = held.firstIndex(where: { $0.key > key }) ?? held.count
        held.insert(Frame(key: key, audio: buffer, sequence: sequence, timestamp: timestamp, chunk: chunk), at: index)
        reordered &+= 1
        return .held
    }

    /// The next held frame that may now go out: the one with the next key, or, when more than `window`
    /// frames are held (or `flushing` at the end of the stream), the first held one past a gap, counting
    /// the gap as lost. Give the frame back with `recycle` once delivered.
    mutating func nextReady(flushing: Bool = false) -> Frame? {
        guard let first = held.first, let next = expected else { return nil }
        if first.key != next {
            guard held.count > window || flushing else { return nil }
            lost &+= first.key &- next
        }
        expected = first.key &+ 1
        return held.removeFirst()
    }

    mutating func recycle(_ frame: Frame) {
        if spare.count < window &+ 1 { spare.append(frame.audio) }
    }
}
