// Asterisk's AudioSocket, all of it in one place: a TCP byte stream of type-length-value frames
// (type: 1 byte, payload length: 2 bytes big-endian, payload). Types: 0x00 hangup, 0x01 the call's
// UUID (16 bytes), 0x03 a DTMF digit (1 byte), 0x10...0x18 signed linear 16-bit LE audio whose type says
// the rate, 0xFF an error (its first byte a code).
//
// Here: the frame types and the one rate table; reading a frame into the JSON object the template's
// patterns match (EventMapper); the patterns an agent server's frames are read with (ServerTemplate);
// building frames; the stream assembler; and the session's view of the transport (AudioSocketFraming).

enum AudioSocket {
    static let hangup: UInt8 = 0x00
    static let uuid: UInt8 = 0x01
    static let dtmf: UInt8 = 0x03
    static let error: UInt8 = 0xFF
    /// The audio frame types, 0x10 upwards, by sample rate. The session sends at most 48 kHz.
    static let rates = [8000, 12000, 16000, 24000, 32000, 44100, 48000, 96000, 192000]
    static let firstAudio: UInt8 = 0x10

    /// The audio frame type for a sample rate, if AudioSocket has one the session can send.
    static func audioType(sampleRate: Int) -> UInt8? {
        guard sampleRate <= 48000, let index = rates.firstIndex(of: sampleRate) else { return nil }
        return firstAudio &+ UInt8(index)
    }

    /// The sample rate of an audio frame type, nil for other types.
    static func sampleRate(type: UInt8) -> Int? {
        guard type >= firstAudio, Int(type &- firstAudio) < rates.count else { return nil }
        return rates[Int(type &- firstAudio)]
    }

    /// Appends a frame of `type` carrying `payload` (at most 65535 bytes) to `out`.
    static func appendFrame(type: UInt8, payload: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        let length = min(payload.count, 0xFFFF)
        out.append(type)
        out.append(UInt8(truncatingIfNeeded: length >> 8))
        out.append(UInt8(truncatingIfNeeded: length))
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: payload[0..<length]))
    }

    // MARK: reading frames

    /// Writes one frame as the JSON object the template's patterns match ({"type", "length", "kind", and
    /// per kind "uuid", "digit", "sample_rate" or "code"}); the payload is the frame's "$payload". Returns
    /// what is wrong with the frame, if anything (nothing is written then).
    static func transcribe(_ frame: UnsafeRawBufferPointer, into out: inout JSONWriter) -> String? {
        guard frame.count >= 3 else { return "audiosocket: a frame needs 3 header bytes, got \(frame.count)" }
        let type = frame[0]
        let length = Int(frame[1]) << 8 | Int(frame[2])
        guard frame.count == 3 &+ length else {
            return "audiosocket: frame type 0x\(String(type, radix: 16)) declares \(length) bytes of payload but carries \(frame.count - 3)"
        }
        let payload = UnsafeRawBufferPointer(rebasing: frame[3...])
        out.reset()
        out.beginObject()
        out.key("type"); out.int(Int64(type))
        out.key("length"); out.int(Int64(length))
        out.key("kind")
        switch type {
        case hangup:
            out.string("hangup")
        case uuid:
            guard length == 16 else { return "audiosocket: the UUID frame must carry 16 bytes, not \(length)" }
            out.string("uuid")
            out.key("uuid"); out.string(uuidText(payload))
        case dtmf:
            guard length == 1 else { return "audiosocket: the DTMF frame must carry 1 byte, not \(length)" }
            out.string("dtmf")
            out.key("digit"); out.string(CollectionOfOne(payload[0]))
        case error:
            out.string("error")
            out.key("code"); out.int(length > 0 ? Int64(payload[0]) : 0)
        default:
            if let rate = sampleRate(type: type) {
                out.string("audio")
                out.key("sample_rate"); out.int(Int64(rate))
            } else {
                out.string("unknown")
            }
        }
        out.endObject()
        return nil
    }

    /// The patterns an agent server's frames are read with (the telephony role's server template).
    static let serverPatterns: [[UInt8]] = [
        Array(#""media":{"detection_pattern":{"kind":"audio"},"extraction_map":{"audio":"$payload","sample_rate":"sample_rate"}}"#.utf8),
        Array(#""hangup":{"maps_to":"stop","detection_pattern":{"kind":"hangup"},"extraction_map":{}}"#.utf8),
        Array(#""failed":{"maps_to":"stop","detection_pattern":{"kind":"error"},"extraction_map":{"reason":"kind"}}"#.utf8),
    ]

    // MARK: UUIDs

    /// The 16 bytes of a UUID written as 32 hex digits, dashes allowed anywhere.
    static func uuidBytes(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        var high: UInt8?
        for character in text.utf8 where character != UInt8(ascii: "-") {
            let nibble: UInt8
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = character &- UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = character &- UInt8(ascii: "a") &+ 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = character &- UInt8(ascii: "A") &+ 10
            default: return nil
            }
            if let h = high {
                bytes.append(h << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return bytes.count == 16 && high == nil ? bytes : nil
    }

    /// 16 bytes written as a UUID (8-4-4-4-12 lowercase hex digits).
    static func uuidText(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for (i, byte) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0xF)])
        }
        return out
    }
}

/// AudioSocket as the session sees it: one of the transports behind `BinaryFraming`.
struct AudioSocketFraming: BinaryFraming {
    var isByteStream: Bool { true }
    /// The start (the UUID frame) does not say the rate: the first audio frame's type does.
    var startWaitsForMedia: Bool { true }
    var hasOwnFrames: Bool { true }

    func refusal(callFormat format: AudioFormat, callId: String) -> String? {
        guard format.encoding == .pcm16LE, format.channels == 1, AudioSocket.audioType(sampleRate: format.sampleRate) != nil else {
            return "AudioSocket carries 16-bit little-endian mono PCM at 8, 12, 16, 24, 32, 44.1 or 48 kHz"
        }
        guard AudioSocket.uuidBytes(callId) != nil else {
            return "AudioSocket identifies a call by a UUID: call_id \"\(callId)\" is not one"
        }
        return nil
    }

    func appendFrame(_ message: ControlFrame, to out: inout [UInt8]) {
        switch message {
        case .start(let callId):
            (AudioSocket.uuidBytes(callId) ?? []).withUnsafeBytes { AudioSocket.appendFrame(type: AudioSocket.uuid, payload: $0, to: &out) }
        case .dtmf(let digit):
            withUnsafeBytes(of: digit) { AudioSocket.appendFrame(type: AudioSocket.dtmf, payload: $0, to: &out) }
        case .hangup:
            out.append(contentsOf: [AudioSocket.hangup, 0, 0])
        }
    }

    func appendAudio(_ frame: UnsafeRawBufferPointer, format: AudioFormat, to out: inout [UInt8]) {
        AudioSocket.appendFrame(type: AudioSocket.audioType(sampleRate: format.sampleRate) ?? AudioSocket.firstAudio, payload: frame, to: &out)
    }
}

// AudioSocket runs over TCP, which delivers its frames in arbitrary pieces: frames straddle reads and
// one read may carry many. The assembler turns a byte stream back into whole frames, passing frames
// that lie whole inside a read without copying them.
struct AudioSocketStream {
    private var pending: [UInt8] = []

    init() { pending.reserveCapacity(1024) }

    /// Feeds one read; calls `frame` with each complete frame (header included), in order, as long as
    /// `more()` says there is room for one. Returns the bytes consumed: all of them (an incomplete frame
    /// at the end is kept for the next read), or fewer when `more()` stopped it before a whole frame.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, more: () -> Bool, _ frame: (UnsafeRawBufferPointer) -> Void) -> Int {
        var offset = 0
        if !pending.isEmpty {
            // Complete the held frame: first its header, then its payload.
            while pending.count < 3 && offset < bytes.count {
                pending.append(bytes[offset])
                offset &+= 1
            }
            guard pending.count >= 3 else { return offset }
            let total = 3 &+ (Int(pending[1]) << 8 | Int(pending[2]))
            let take = min(total &- pending.count, bytes.count &- offset)
            if pending.count &+ take == total, !more() {
                // Complete, but no room for its event: leave the rest of it for the next call.
                return offset
            }
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset &+ take)]))
            offset &+= take
            guard pending.count == total else { return offset }
            pending.withUnsafeBytes { frame($0) }
            pending.removeAll(keepingCapacity: true)
        }
        while bytes.count &- offset >= 3 {
            let total = 3 &+ (Int(bytes[offset &+ 1]) << 8 | Int(bytes[offset &+ 2]))
            guard bytes.count &- offset >= total else { break }
            guard more() else { return offset }
            frame(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset &+ total)]))
            offset &+= total
        }
        pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset...]))
        return bytes.count
    }

    /// How many complete frames feeding `bytes` would give, counting no further than `limit`.
    func frameCount(_ bytes: UnsafeRawBufferPointer, limit: Int) -> Int {
        var count = 0
        var offset = 0
        if !pending.isEmpty {
            var header = pending.prefix(3)
            while header.count < 3 && offset < bytes.count {
                header.append(bytes[offset])
                offset &+= 1
            }
            guard header.count == 3 else { return 0 }
            let missing = 3 &+ (Int(header[header.startIndex &+ 1]) << 8 | Int(header[header.startIndex &+ 2])) &- max(3, pending.count)
            guard bytes.count &- offset >= missing else { return 0 }
            offset &+= missing
            count = 1
        }
        while count < limit, bytes.count &- offset >= 3 {
            let total = 3 &+ (Int(bytes[offset &+ 1]) << 8 | Int(bytes[offset &+ 2]))
            guard bytes.count &- offset >= total else { break }
            offset &+= total
            count &+= 1
        }
        return count
    }
}
