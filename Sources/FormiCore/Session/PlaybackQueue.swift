// The telephony role's playback queue: agent audio (already in the host's format) waiting to be played
// at the host's own clock, with the agent's marks placed between the bytes. A mark is due once every
// byte queued before it has been read out; `clear` empties the queue and hands back the marks it
// discarded. Storage grows by doubling up to the cap and is then reused: no allocation per frame.

struct PlaybackQueue: ~Copyable {
    struct Mark {
        var name: [UInt8]
        /// The read position (bytes since the queue began) at which the mark is due.
        var position: Int64
    }

    private var ring: UnsafeMutableRawBufferPointer
    private var start = 0
    private(set) var count = 0
    /// Bytes read out since the queue began.
    private(set) var readTotal: Int64 = 0
    private(set) var marks: [Mark] = []
    let capacityLimit: Int

    init(capacityLimit: Int) {
        self.capacityLimit = max(capacityLimit, 1)
        ring = .allocate(byteCount: min(self.capacityLimit, 64 * 1024), alignment: 16)
        marks.reserveCapacity(8)
    }

    deinit { ring.deallocate() }

    var isEmpty: Bool { count == 0 }

    /// Appends audio; false (appending nothing) when it would pass the cap.
    mutating func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count <= capacityLimit &- count else { return false }
        grow(toHold: count &+ bytes.count)
        var offset = 0
        while offset < bytes.count {
            let tail = (start &+ count) % ring.count
            let run = min(bytes.count &- offset, ring.count &- tail)
            UnsafeMutableRawBufferPointer(rebasing: ring[tail..<(tail &+ run)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset &+ run)]))
            count &+= run
            offset &+= run
        }
        return true
    }

    /// A mark due after everything queued so far.
    mutating func appendMark(_ name: UnsafeRawBufferPointer) {
        marks.append(Mark(name: Array(name), position: readTotal &+ Int64(count)))
    }

    /// Reads up to `out.count` bytes; returns how many.
    mutating func read(into out: UnsafeMutableRawBufferPointer) -> Int {
        let total = min(out.count, count)
        var written = 0
        while written < total {
            let run = min(total &- written, ring.count &- start)
            UnsafeMutableRawBufferPointer(rebasing: out[written..<(written &+ run)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: ring[start..<(start &+ run)]))
            start = (start &+ run) % ring.count
            count &-= run
            written &+= run
        }
        readTotal &+= Int64(written)
        if count == 0 { start = 0 }
        return written
    }

    /// The next mark whose audio has all been read, removed from the queue.
    mutating func nextDueMark() -> Mark? {
        guard let first = marks.first, first.position <= readTotal else { return nil }
        return marks.removeFirst()
    }

    /// Empties the queue: returns the bytes dropped; the marks dropped stay readable via `takeMarks`.
    mutating func clear() -> Int {
        let dropped = count
        readTotal &+= Int64(count)
        start = 0
        count = 0
        return dropped
    }

    /// Removes and returns every pending mark.
    mutating func takeMarks() -> [Mark] {
        defer { marks.removeAll(keepingCapacity: true) }
        return marks
    }

    private mutating func grow(toHold needed: Int) {
        guard needed > ring.count else { return }
        var size = ring.count
        while size < needed { size = min(size &* 2, max(capacityLimit, needed)) }
        let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        var copied = 0
        while copied < count {
            let from = (start &+ copied) % ring.count
            let run = min(count &- copied, ring.count &- from)
            UnsafeMutableRawBufferPointer(rebasing: grown[copied..<(copied &+ run)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: ring[from..<(from &+ run)]))
            copied &+= run
        }
        ring.deallocate()
        ring = grown
        start = 0
    }
}
