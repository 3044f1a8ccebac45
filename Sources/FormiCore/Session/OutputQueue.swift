// Messages a session has rendered for the host to send, in order. Media messages carry the duration of
// their audio, so that pacing can hold them back and a barge-in can drop every one not yet taken.

struct OutputQueue: ~Copyable {
    enum Kind: Equatable {
        case media(micros: Int64)
        /// A mark, by its id among the session's outstanding marks.
        case mark(id: Int64)
        /// No bytes: where the host flushed an utterance (never handed out).
        case utteranceEnd
        case control
    }

    struct Message {
        var range: Range<Int>
        var binary: Bool
        var kind: Kind
    }

    private var messages: [Message] = []
    private var bytes = ByteStore(capacity: 4096)
    private var head = 0
    /// Audio waiting in the queue, in microseconds.
    private(set) var queuedMicros: Int64 = 0

    init() { messages.reserveCapacity(64) }

    var first: Message? { head < messages.count ? messages[head] : nil }

    mutating func push(_ message: [UInt8], binary: Bool, kind: Kind) {
        message.withUnsafeBytes { push($0, binary: binary, kind: kind) }
    }

    mutating func push(_ message: UnsafeRawBufferPointer, binary: Bool, kind: Kind) {
        compactIfDrained()
        messages.append(Message(range: bytes.append(message), binary: binary, kind: kind))
        if case .media(let micros) = kind { queuedMicros &+= micros }
    }

    /// The next message and its bytes (valid until the queue next changes).
    mutating func pop() -> (message: Message, bytes: UnsafeRawBufferPointer)? {
        guard head < messages.count else { return nil }
        let message = messages[head]
        head &+= 1
        if case .media(let micros) = message.kind { queuedMicros &-= micros }
        return (message, bytes.view(message.range))
    }

    /// Drops every media and mark message not yet taken, keeping other control messages in order.
    /// Returns the audio dropped (µs).
    mutating func dropMedia() -> Int64 {
        var dropped: Int64 = 0
        var kept = head
        for index in head..<messages.count {
            switch messages[index].kind {
            case .media(let micros): dropped &+= micros
            case .mark, .utteranceEnd: break
            case .control:
                messages[kept] = messages[index]
                kept &+= 1
            }
        }
        messages.removeSubrange(kept..<messages.count)
        queuedMicros = 0
        return dropped
    }

    /// Forgets what was taken: all of it once drained, or, when a backlog never drains (the host keeps
    /// one message waiting), every 64 messages, so the store never grows without bound.
    private mutating func compactIfDrained() {
        guard head > 0 else { return }
        if head == messages.count {
            messages.removeAll(keepingCapacity: true)
            bytes.removeAll()
            head = 0
        } else if head >= 64 {
            let offset = messages[head].range.lowerBound
            bytes.dropFront(offset)
            messages.removeSubrange(0..<head)
            for index in messages.indices {
                let range = messages[index].range
                messages[index].range = (range.lowerBound &- offset)..<(range.upperBound &- offset)
            }
            head = 0
        }
    }
}
