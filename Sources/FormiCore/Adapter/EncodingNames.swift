// How providers name encodings, and the names every template knows (see docs/templates.md).

/// Encoding names as providers write them ("audio/x-mulaw", "PCMA", "slin16", "audio/x-l16;rate=16000"),
/// mapped to an encoding and, where the name implies one, a sample rate.
public struct EncodingNames: Sendable {
    public struct Entry: Sendable {
        public var encoding: Encoding
        public var sampleRate: Int?
    }

    private var table: [(name: [UInt8], entry: Entry)] = []
    /// Names as written, with their entries, in lookup order (own names first).
    private var written: [(name: String, entry: Entry)] = []

    /// The names every template knows; a template's own `encoding_names` come first.
    public static let common: [(String, String)] = [
        ("ulaw", "ulaw"), ("mulaw", "ulaw"), ("pcmu", "ulaw"), ("audio/x-mulaw", "ulaw"), ("audio/pcmu", "ulaw"), ("g711_ulaw", "ulaw"),
        ("alaw", "alaw"), ("pcma", "alaw"), ("audio/x-alaw", "alaw"), ("audio/pcma", "alaw"), ("g711_alaw", "alaw"),
        ("pcm16le", "pcm16le"), ("pcm_16_le", "pcm16le"), ("pcm16be", "pcm16be"), ("pcm8", "pcm8"), ("f32le", "f32le"),
        ("slin", "pcm16le@8000"), ("slin12", "pcm16le@12000"), ("slin16", "pcm16le@16000"), ("slin24", "pcm16le@24000"),
        ("slin32", "pcm16le@32000"), ("slin44", "pcm16le@44100"), ("slin48", "pcm16le@48000"),
        ("raw/slin", "pcm16le"), ("audio/x-raw", "pcm16le"), ("linear16", "pcm16le"), ("l16", "pcm16le"),
        ("audio/l16", "pcm16le"), ("audio/x-l16", "pcm16le"),
    ]

    /// Parses a value of an `encoding_names` table: an encoding name, optionally "@rate".
    public static func entry(_ value: String) -> Entry? {
        let parts = value.split(separator: "@", maxSplits: 1)
        guard let first = parts.first, let encoding = Encoding(name: String(first)) else { return nil }
        var rate: Int?
        if parts.count == 2 {
            guard let r = Int(parts[1]), SampleRate.isSupported(r) else { return nil }
            rate = r
        }
        return Entry(encoding: encoding, sampleRate: rate)
    }

    /// How many of `written` are the template's own names (they come first).
    private var ownCount = 0

    public init(_ names: [(String, String)]) {
        for (name, value) in names + Self.common {
            if let entry = Self.entry(value) {
                table.append((Array(name.lowercased().utf8), entry))
                written.append((name, entry))
            }
        }
        ownCount = names.count { Self.entry($0.1) != nil }
    }

    /// The name to write for a format (the telephony role announcing the call's format, the agent side's
    /// content type): a provider speaks only its own names, so the template's own name of the encoding
    /// (at exactly that rate, else at any rate) wins over the common ones, which are tried the same way.
    public func name(for format: AudioFormat) -> String {
        for names in [written.prefix(ownCount), written.dropFirst(ownCount)] {
            if let name = names.first(where: { $0.entry.encoding == format.encoding && $0.entry.sampleRate == format.sampleRate })?.name
                ?? names.first(where: { $0.entry.encoding == format.encoding && $0.entry.sampleRate == nil })?.name {
                return name
            }
        }
        return format.encoding.name
    }

    /// Whether the template has names of its own (then a provider knows only those).
    public var hasOwnNames: Bool { ownCount > 0 }

    /// The template's own names, as written.
    public var ownNames: [String] { written.prefix(ownCount).map(\.name) }

    /// Whether `name` (";parameters" ignored) is one of the template's own names.
    public func isOwn(_ name: UnsafeRawBufferPointer) -> Bool {
        let end = name.firstIndex(of: UInt8(ascii: ";")) ?? name.count
        let base = UnsafeRawBufferPointer(rebasing: name[0..<end])
        return table.prefix(ownCount).contains { equalsIgnoringCase($0.name, base) }
    }

    /// Looks up a name case-insensitively, ignoring ";parameters" except "rate=N".
    public func lookup(_ name: UnsafeRawBufferPointer) -> Entry? {
        let end = name.firstIndex(of: UInt8(ascii: ";")) ?? name.count
        let base = UnsafeRawBufferPointer(rebasing: name[0..<end])
        guard var entry = table.first(where: { equalsIgnoringCase($0.name, base) })?.entry else { return nil }
        if end < name.count, let rate = parameter(name, "rate=") { entry.sampleRate = rate }
        return entry
    }

    private func equalsIgnoringCase(_ lower: [UInt8], _ text: UnsafeRawBufferPointer) -> Bool {
        lower.count == text.count && zip(lower, text).allSatisfy { a, b in a == (b >= 0x41 && b <= 0x5A ? b | 0x20 : b) }
    }

    private func parameter(_ text: UnsafeRawBufferPointer, _ key: String) -> Int? {
        let key = Array(key.utf8)
        var i = 0
        while i + key.count <= text.count {
            if text[i..<(i + key.count)].elementsEqual(key) {
                var value = 0, j = i + key.count
                while j < text.count, text[j] >= 0x30, text[j] <= 0x39, value < 1_000_000 { value = value * 10 + Int(text[j] - 0x30); j += 1 }
                return j > i + key.count ? value : nil
            }
            i += 1
        }
        return nil
    }
}

extension Encoding {
    /// The canonical names templates use: ulaw, alaw, pcm16le, pcm16be, pcm8, f32le.
    public var name: String {
        switch self {
        case .ulaw: "ulaw"
        case .alaw: "alaw"
        case .pcm16LE: "pcm16le"
        case .pcm16BE: "pcm16be"
        case .pcm8: "pcm8"
        case .float32LE: "f32le"
        }
    }

    public init?(name: String) {
        guard let match = Encoding.allCases.first(where: { $0.name == name }) else { return nil }
        self = match
    }
}
