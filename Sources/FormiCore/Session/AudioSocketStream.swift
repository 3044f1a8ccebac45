// AudioSocket runs over TCP, which delivers its type-length-value frames in arbitrary pieces: frames
// straddle reads and one read may carry many. The assembler turns a byte stream back into whole frames,
// passing frames that lie whole inside a read without copying them.
//
// Also here: building frames, for the side that sends them.

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

    // MARK: building frames

    static let hangup: UInt8 = 0x00
    static let uuid: UInt8 = 0x01
    static let dtmf: UInt8 = 0x03

    /// The audio frame type for a sample rate (signed linear 16-bit LE), if AudioSocket has one.
    static func audioType(sampleRate: Int) -> UInt8? {
        switch sampleRate {
        case 8000: 0x10
        case 12000: 0x11
        case 16000: 0x12
        case 24000: 0x13
        case 32000: 0x14
        case 44100: 0x15
        case 48000: 0x16
        default: nil
        }
    }

    /// Appends a frame of `type` carrying `payload` (at most 65535 bytes) to `out`.
    static func appendFrame(type: UInt8, payload: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        let length = min(payload.count, 0xFFFF)
        out.append(type)
        out.append(UInt8(truncatingIfNeeded: length >> 8))
        out.append(UInt8(truncatingIfNeeded: length))
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: payload[0..<length]))
    }

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
}
