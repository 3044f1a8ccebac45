// The internal event set every provider's messages map to (docs/architecture.md), and one mapped event.

/// The internal events (the numbers are the C API's FORMI_EVENT_*).
public enum EventKind: Int, Sendable, CaseIterable {
    case connected = 1, start, media, dtmf, mark, clear, stop, error, ignored

    public var name: String {
        switch self {
        case .connected: "connected"
        case .start: "start"
        case .media: "media"
        case .dtmf: "dtmf"
        case .mark: "mark"
        case .clear: "clear"
        case .stop: "stop"
        case .error: "error"
        case .ignored: "ignored"
        }
    }

    public init?(name: some Collection<UInt8>) {
        guard let kind = Self.allCases.first(where: { $0.name.utf8.elementsEqual(name) }) else { return nil }
        self = kind
    }
}

/// The fields an extraction map can fill, with the type each is read as.
public enum EventField: String, CaseIterable, Sendable {
    case streamId = "stream_id", callId = "call_id", accountId = "account_id", track, digit, mark
    case direction, from, to, reason
    case customParameters = "custom_parameters"
    case audio, sequence, timestamp, chunk, duration, encoding
    case sampleRate = "sample_rate", channels

    enum ValueType { case text, integer, audio, object, encoding }

    var type: ValueType {
        switch self {
        case .streamId, .callId, .accountId, .track, .digit, .mark, .direction, .from, .to, .reason: .text
        case .sequence, .timestamp, .chunk, .duration, .sampleRate, .channels: .integer
        case .audio: .audio
        case .customParameters: .object
        case .encoding: .encoding
        }
    }

    /// The fields of text type, in the order of `EventTexts`.
    static let texts: [EventField] = [.streamId, .callId, .accountId, .track, .digit, .mark, .direction, .from, .to, .reason]
}

/// The text fields of an event, as views (see `ProviderEvent`).
public struct EventTexts {
    private var streamId, callId, accountId, track, digit, mark, direction, from, to, reason: UnsafeRawBufferPointer?

    public subscript(field: EventField) -> UnsafeRawBufferPointer? {
        get {
            switch field {
            case .streamId: streamId
            case .callId: callId
            case .accountId: accountId
            case .track: track
            case .digit: digit
            case .mark: mark
            case .direction: direction
            case .from: from
            case .to: to
            case .reason: reason
            default: nil
            }
        }
        set {
            switch field {
            case .streamId: streamId = newValue
            case .callId: callId = newValue
            case .accountId: accountId = newValue
            case .track: track = newValue
            case .digit: digit = newValue
            case .mark: mark = newValue
            case .direction: direction = newValue
            case .from: from = newValue
            case .to: to = newValue
            case .reason: reason = newValue
            default: break
            }
        }
    }
}

/// Everything of a mapped event but its error message: plain values only, so that the mapper resets and
/// hands it out (once per frame) with plain stores.
public struct EventFields {
    public internal(set) var kind: EventKind = .error
    /// The index of the matching pattern in the template (nil for errors and bare binary media).
    public internal(set) var pattern: Int?
    /// The audio's format; for `start`, the call's.
    public internal(set) var format: AudioFormat
    public internal(set) var audio: UnsafeRawBufferPointer?
    public internal(set) var sequence: Int64?
    public internal(set) var timestamp: Int64?
    public internal(set) var chunk: Int64?
    public internal(set) var duration: Int64?
    public internal(set) var texts = EventTexts()
    /// A JSON object's text.
    public internal(set) var customParameters: UnsafeRawBufferPointer?

    init(format: AudioFormat) {
        self.format = format
    }
}

/// One provider message, mapped. Views point into the message or the mapper's buffers: valid until the
/// mapper's next call, and while the message bytes are alive.
public struct ProviderEvent {
    public internal(set) var fields: EventFields
    /// What was wrong, for `.error` events.
    public internal(set) var error: String?

    init(format: AudioFormat) {
        fields = EventFields(format: format)
    }

    init(_ fields: EventFields, error: String?) {
        self.fields = fields
        self.error = error
    }

    public var kind: EventKind { get { fields.kind } set { fields.kind = newValue } }
    public var pattern: Int? { get { fields.pattern } set { fields.pattern = newValue } }
    public var format: AudioFormat { get { fields.format } set { fields.format = newValue } }
    public var audio: UnsafeRawBufferPointer? { get { fields.audio } set { fields.audio = newValue } }
    public var sequence: Int64? { get { fields.sequence } set { fields.sequence = newValue } }
    public var timestamp: Int64? { get { fields.timestamp } set { fields.timestamp = newValue } }
    public var chunk: Int64? { get { fields.chunk } set { fields.chunk = newValue } }
    public var duration: Int64? { get { fields.duration } set { fields.duration = newValue } }
    public var texts: EventTexts { get { fields.texts } set { fields.texts = newValue } }
    public var customParameters: UnsafeRawBufferPointer? { get { fields.customParameters } set { fields.customParameters = newValue } }

    public func text(_ field: EventField) -> String? {
        texts[field].map { String(decoding: $0, as: UTF8.self) }
    }
}

/// Growable scratch memory for unescaped strings and decoded audio. It grows only at the start of a
/// mapping (to the message's size), never during one, so views handed out stay valid until the next.
struct ScratchArena: ~Copyable {
    private var storage: UnsafeMutableRawBufferPointer
    private var used = 0

    init(capacity: Int) {
        storage = .allocate(byteCount: max(capacity, 64), alignment: 16)
    }

    deinit { storage.deallocate() }

    /// Empties the arena, making sure `minimum` bytes fit.
    mutating func reset(minimum: Int) {
        used = 0
        if storage.count < minimum {
            storage.deallocate()
            storage = .allocate(byteCount: max(minimum, storage.count * 2), alignment: 16)
        }
    }

    /// Room for `count` bytes, or nil when the arena is full.
    mutating func take(_ count: Int) -> UnsafeMutableRawBufferPointer? {
        guard count >= 0, storage.count - used >= count else { return nil }
        defer { used += count }
        return UnsafeMutableRawBufferPointer(rebasing: storage[used..<(used + count)])
    }

    /// A copy of `bytes` in the arena.
    mutating func copy(_ bytes: some Collection<UInt8>) -> UnsafeRawBufferPointer? {
        guard let room = take(bytes.count) else { return nil }
        _ = room.initializeMemory(as: UInt8.self, from: bytes)
        return UnsafeRawBufferPointer(room)
    }

    /// Gives back the unused tail of the last `take` of `taken` bytes when only `kept` were used.
    mutating func giveBack(taken: Int, kept: Int) {
        used -= max(0, taken - kept)
    }
}
