// The additive figures of one interaction, or of any set of them: a fixed vector of integer sums.
// Every query answer is computed from such sums (ratios and means at output), which is what lets the
// ledger keep hourly and daily roll-ups that add up exactly to what a scan would give.

/// The model kinds of docs/ledger.md (and STT, which the metrics' speech recognition needs).
public enum ModelKind: Int, CaseIterable, Sendable {
    case conversation, transition, tts, stt

    public var name: String {
        switch self {
        case .conversation: "CONVERSATION"
        case .transition: "TRANSITION"
        case .tts: "TTS"
        case .stt: "STT"
        }
    }

    init?(name: String) {
        guard let kind = ModelKind.allCases.first(where: { $0.name == name }) else { return nil }
        self = kind
    }
}

/// Interaction-level sums.
enum UsageField: Int, CaseIterable {
    case calls, durationMs, billedSeconds, costMicro, chargedMicro, unpaidMicro, durationCostMicro
    case resolved, transferred, abandoned, other, escalated
    case sentimentKnown, sentimentPositive, correctionsKnown, zeroCorrections
    case messages, unhandled, ambiguous, mismatched, interventions
    case sms, emails
}

/// Sums per model kind.
enum KindField: Int, CaseIterable {
    case entries, inputTokens, cachedTokens, outputTokens, characters, audioMs
    case ttftCount, ttftMicros, toolOk, toolFailed, confidenceCount, confidencePpm, costMicro
}

struct UsageVector: Equatable {
    static let count = UsageField.allCases.count + ModelKind.allCases.count * KindField.allCases.count

    private(set) var values: [Int64]

    init() { values = Array(repeating: 0, count: Self.count) }

    private static func index(_ kind: ModelKind, _ field: KindField) -> Int {
        UsageField.allCases.count + kind.rawValue * KindField.allCases.count + field.rawValue
    }

    subscript(field: UsageField) -> Int64 {
        get { values[field.rawValue] }
        set { values[field.rawValue] = newValue }
    }

    subscript(kind: ModelKind, field: KindField) -> Int64 {
        get { values[Self.index(kind, field)] }
        set { values[Self.index(kind, field)] = newValue }
    }

    /// A kind's field summed over the language-model kinds (CONVERSATION, TRANSITION): response time,
    /// latency and context retention are theirs.
    func llm(_ field: KindField) -> Int64 { self[.conversation, field] &+ self[.transition, field] }

    /// A kind's field summed over every kind.
    func allKinds(_ field: KindField) -> Int64 { ModelKind.allCases.reduce(0) { $0 &+ self[$1, field] } }

    /// Sums are of validated, bounded inputs (see InteractionRecord), so wrapping cannot occur in
    /// practice; wrapping arithmetic keeps a corrupt store from trapping the host.
    mutating func add(_ other: UsageVector) {
        for i in values.indices { values[i] &+= other.values[i] }
    }

    static func + (a: UsageVector, b: UsageVector) -> UsageVector {
        var sum = a
        sum.add(b)
        return sum
    }

    // MARK: storage

    var encoded: [UInt8] { Varints.encode(values, signed: true) }

    /// Decodes a stored vector; a shorter one (written before fields were added) reads as zeros beyond
    /// its end. Nil when the bytes are not a vector (a damaged store).
    init?(encoded bytes: UnsafeRawBufferPointer) {
        self.init()
        guard Varints.decode(bytes, into: &values, signed: true) else { return nil }
    }
}

/// LEB128 varints (zigzag when signed): most sums are zero or small, one byte each.
enum Varints {
    static func encode(_ values: [Int64], signed: Bool) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count + 16)
        for value in values {
            var v = signed ? UInt64(bitPattern: (value << 1) ^ (value >> 63)) : UInt64(bitPattern: value)
            while v >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
                v >>= 7
            }
            bytes.append(UInt8(v))
        }
        return bytes
    }

    /// Decodes into `values` (which keeps its length; missing trailing values stay as they were).
    /// False when the bytes hold more values than fit, or end inside one.
    static func decode(_ bytes: UnsafeRawBufferPointer, into values: inout [Int64], signed: Bool) -> Bool {
        var index = 0
        var shift: UInt64 = 0
        var accumulator: UInt64 = 0
        for byte in bytes {
            guard index < values.count, shift < 64 else { return false }
            accumulator |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 {
                values[index] = signed ? Int64(bitPattern: accumulator >> 1) ^ -Int64(bitPattern: accumulator & 1)
                                       : Int64(bitPattern: accumulator)
                index += 1
                shift = 0
                accumulator = 0
            } else {
                shift += 7
            }
        }
        return shift == 0
    }
}
