// The audio of the caller's current turn, for the recogniser: what the VAD called speech plus a pre-roll
// (the VAD decides 60 ms into speech, and the word's onset is quieter still) and the hangover silence
// after it. Between turns only the pre-roll is kept; a turn longer than the recogniser takes keeps its
// latest part. Bounded either way.

struct TurnAudio {
    /// 300 ms at 16 kHz.
    static let preroll = Recognizer.rate * 3 / 10
    static let capacity = Recognizer.maxTurnSeconds * Recognizer.rate + preroll

    private(set) var samples: [Int16] = []

    mutating func append(_ more: [Int16]) {
        samples += more
        if samples.count > Self.capacity { samples.removeFirst(samples.count - Self.capacity) }
    }

    /// Between turns: only the last `preroll` samples matter.
    mutating func keepPreroll() {
        if samples.count > Self.preroll { samples.removeFirst(samples.count - Self.preroll) }
    }

    /// The turn's audio; the buffer starts over.
    mutating func take() -> [Int16] {
        defer { samples.removeAll(keepingCapacity: true) }
        return samples
    }
}
