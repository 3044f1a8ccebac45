// The internal events a session has produced and the host has not yet taken. One received message can
// give several events (held media released when `start` arrives, frames put back in order), so events
// wait here, their bytes copied into the queue's own store. Once every event is taken the store is
// emptied on the next push, so a warm session reuses the same memory for every frame.

struct EventQueue: ~Copyable {
    private struct Stored {
        var kind: EventKind
        var pattern: Int?
        var format: AudioFormat
        var audio: Range<Int>?
        var sequence, timestamp, chunk, duration: Int64?
        var customParameters: Range<Int>?
        var error: String?
    }

    private var events: [Stored] = []
    /// `EventField.texts.count` ranges per event, in that order.
    private var texts: [Range<Int>?] = []
    private var bytes = ByteStore(capacity: 4096)
    private var head = 0

    init() {
        events.reserveCapacity(16)
        texts.reserveCapacity(16 &* EventField.texts.count)
    }

    var count: Int { events.count &- head }

    /// Copies an event in; `audio` (when given) replaces the event's own audio, e.g. after transcoding.
    mutating func push(_ event: ProviderEvent, audio: UnsafeRawBufferPointer? = nil) {
        compactIfDrained()
        var stored = Stored(kind: event.kind, pattern: event.pattern, format: event.format, audio: nil,
                            sequence: event.sequence, timestamp: event.timestamp, chunk: event.chunk,
                            duration: event.duration, customParameters: nil, error: event.error)
        if let audio = audio ?? event.audio { stored.audio = bytes.append(audio) }
        if let parameters = event.customParameters { stored.customParameters = bytes.append(parameters) }
        for field in EventField.texts {
            texts.append(event.texts[field].map { bytes.append($0) })
        }
        events.append(stored)
    }

    /// Room for an event's audio, to be written in place and then pushed with `pushWritten`.
    mutating func audioRoom(_ length: Int) -> UnsafeMutableRawBufferPointer {
        compactIfDrained()
        return bytes.extend(by: length).room
    }

    /// Pushes an event whose audio is the last `length` bytes written into `audioRoom` (of `reserved`).
    mutating func pushWritten(_ event: ProviderEvent, reserved: Int, length: Int) {
        let end = bytes.count &- reserved &+ length
        bytes.truncate(to: end)
        let range = (end &- length)..<end
        push(event, audio: UnsafeRawBufferPointer(start: nil, count: 0))
        events[events.count &- 1].audio = range
    }

    /// The next event, with views into the queue valid until the queue is next changed.
    mutating func pop() -> ProviderEvent? {
        guard head < events.count else { return nil }
        let stored = events[head]
        var event = ProviderEvent(format: stored.format)
        event.kind = stored.kind
        event.pattern = stored.pattern
        event.audio = stored.audio.map { bytes.view($0) }
        event.sequence = stored.sequence
        event.timestamp = stored.timestamp
        event.chunk = stored.chunk
        event.duration = stored.duration
        event.customParameters = stored.customParameters.map { bytes.view($0) }
        event.error = stored.error
        let base = head &* EventField.texts.count
        for (offset, field) in EventField.texts.enumerated() {
            event.texts[field] = texts[base &+ offset].map { bytes.view($0) }
        }
        head &+= 1
        return event
    }

    mutating func removeAll() {
        events.removeAll(keepingCapacity: true)
        texts.removeAll(keepingCapacity: true)
        bytes.removeAll()
        head = 0
    }

    /// Forgets what was taken: all of it once drained, or every 64 events when a backlog never drains.
    private mutating func compactIfDrained() {
        guard head > 0 else { return }
        if head == events.count {
            removeAll()
            return
        }
        guard head >= 64 else { return }
        // The first byte still in use: the lowest range of a waiting event.
        let width = EventField.texts.count
        var offset = bytes.count
        func lower(_ range: Range<Int>?) { if let range { offset = min(offset, range.lowerBound) } }
        for index in head..<events.count {
            lower(events[index].audio)
            lower(events[index].customParameters)
        }
        for index in (head &* width)..<texts.count { lower(texts[index]) }
        func shift(_ range: Range<Int>?) -> Range<Int>? { range.map { ($0.lowerBound &- offset)..<($0.upperBound &- offset) } }
        bytes.dropFront(offset)
        events.removeSubrange(0..<head)
        texts.removeSubrange(0..<(head &* width))
        for index in events.indices {
            events[index].audio = shift(events[index].audio)
            events[index].customParameters = shift(events[index].customParameters)
        }
        for index in texts.indices { texts[index] = shift(texts[index]) }
        head = 0
    }
}
