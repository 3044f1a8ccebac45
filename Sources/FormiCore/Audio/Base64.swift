// Base64 (RFC 4648 §4: standard alphabet, '=' padding), as providers put audio inside JSON.
//
// Encoding is swift-extras-base64's. Decoding is our own because this library must be strict and say
// what is wrong: swift-extras-base64 1.2.0 accepts "QQ=A" (decoding it to two bytes), accepts
// non-canonical padding bits ("QR=="), names the first character of a bad quantum rather than the bad
// one, gives no offset, and traps on a short output buffer.

import CFormiKernels

internal import ExtrasBase64

/// What is wrong with a base64 text or the buffer given for it.
public enum Base64Error: Error, Equatable, Sendable {
    /// The length is not a multiple of 4 (padding is mandatory).
    case invalidLength(Int)
    /// A byte outside the standard alphabet, at this offset.
    case invalidCharacter(UInt8, offset: Int)
    /// Misplaced '=' (before the last quantum, or "x=y"), or non-zero bits before the padding.
    case invalidPadding(offset: Int)
    /// The output buffer holds fewer bytes than the text decodes to.
    case outputTooSmall(required: Int)
}

public enum Base64 {
    /// The length of the encoding of `byteCount` bytes, or nil if it does not fit in an `Int`.
    @inlinable
    public static func encodedCount(byteCount: Int) -> Int? {
        guard byteCount >= 0 else { return nil }
        let (quanta, overflow) = (byteCount / 3 &+ (byteCount % 3 == 0 ? 0 : 1)).multipliedReportingOverflow(by: 4)
        return overflow ? nil : quanta
    }

    /// The exact number of bytes `text` decodes to, judging only its length and final padding, or nil when
    /// the length is not a multiple of 4. Content is checked by `decode`.
    @inlinable
    public static func decodedCount(_ text: UnsafeRawBufferPointer) -> Int? {
        let length = text.count
        guard length % 4 == 0 else { return nil }
        guard length > 0 else { return 0 }
        var padding = 0
        if text[length &- 1] == UInt8(ascii: "=") {
            padding = text[length &- 2] == UInt8(ascii: "=") ? 2 : 1
        }
        return length / 4 &* 3 &- padding
    }

    /// Encodes `bytes` into `output`, which must hold `encodedCount(byteCount:)` bytes.
    /// Returns the number of bytes written, or nil (writing nothing) when `output` is too small.
    public static func encode(_ bytes: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int? {
        guard let required = encodedCount(byteCount: bytes.count), output.count >= required else { return nil }
        guard required > 0 else { return 0 }
        let input = bytes.assumingMemoryBound(to: UInt8.self)
        var target = output.assumingMemoryBound(to: UInt8.self).mutableSpan
        return ExtrasBase64.Base64.encode(bytes: input.span, into: &target)
    }

    /// Decodes strict base64 into `output`; returns the number of bytes written.
    /// On error nothing is guaranteed about `output` beyond `output.count` (nothing is written past it).
    public static func decode(
        _ text: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) throws(Base64Error) -> Int {
        guard let required = decodedCount(text) else { throw .invalidLength(text.count) }
        guard output.count >= required else { throw .outputTooSmall(required: required) }
        let length = text.count
        guard length > 0 else { return 0 }

        // Blocks of 16 characters with SIMD where the CPU has it, never the last quantum (it may hold
        // padding); a block with a character outside the alphabet is left to the loop below to diagnose.
        var simd = 0
        if let input = text.baseAddress, let target = output.baseAddress {
            simd = fk_base64_decode_blocks(input.assumingMemoryBound(to: UInt8.self), length &- 4, target.assumingMemoryBound(to: UInt8.self))
        }
        let words = Base64DecodeTable.words
        let decodedFast = words.withUnsafeBufferPointer { words -> (offset: Int, written: Int) in
            // The quanta the kernel left, but the last: four characters OR'd from pre-shifted tables into
            // the three output bytes of a little-endian word; an invalid character sets the word's top byte.
            // One 4-byte store per quantum while a spare byte of room remains, else three byte stores.
            var written = simd / 4 &* 3
            var offset = simd
            while offset < length &- 4 {
                let word = words[Int(text[offset])] | words[256 &+ Int(text[offset &+ 1])]
                    | words[512 &+ Int(text[offset &+ 2])] | words[768 &+ Int(text[offset &+ 3])]
                guard word & 0xFF00_0000 == 0 else { break }
                if written &+ 4 <= output.count {
                    output.storeBytes(of: word.littleEndian, toByteOffset: written, as: UInt32.self)
                } else {
                    output[written] = UInt8(truncatingIfNeeded: word)
                    output[written &+ 1] = UInt8(truncatingIfNeeded: word >> 8)
                    output[written &+ 2] = UInt8(truncatingIfNeeded: word >> 16)
                }
                written &+= 3
                offset &+= 4
            }
            return (offset, written)
        }
        var written = decodedFast.written
        let offset = decodedFast.offset
        guard offset >= length &- 4 else { throw diagnose(text, quantumAt: offset, isLast: false) }

        // The last quantum: "xxxx", "xxx=" or "xx==", with the bits under the padding zero.
        let table = Base64DecodeTable.values
        let pad = UInt8(ascii: "=")
        let c2 = text[offset &+ 2], c3 = text[offset &+ 3]
        let a = table[Int(text[offset])], b = table[Int(text[offset &+ 1])]
        let c = c2 == pad ? 0 : table[Int(c2)]
        let d = c3 == pad ? 0 : table[Int(c3)]
        guard (a | b | c | d) & Base64DecodeTable.invalid == 0, !(c2 == pad && c3 != pad) else {
            throw diagnose(text, quantumAt: offset, isLast: true)
        }
        let bits = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
        output[written] = UInt8(truncatingIfNeeded: bits >> 16)
        written &+= 1
        if c2 == pad {
            guard bits & 0xFFFF == 0 else { throw .invalidPadding(offset: offset &+ 1) }
            return written
        }
        output[written] = UInt8(truncatingIfNeeded: bits >> 8)
        written &+= 1
        if c3 == pad {
            guard bits & 0xFF == 0 else { throw .invalidPadding(offset: offset &+ 2) }
            return written
        }
        output[written] = UInt8(truncatingIfNeeded: bits)
        return written &+ 1
    }

    /// Names the first offending byte of a quantum already known to be bad (the slow, error-only path).
    static func diagnose(_ text: UnsafeRawBufferPointer, quantumAt start: Int, isLast: Bool) -> Base64Error {
        let pad = UInt8(ascii: "=")
        for position in start..<(start &+ 4) {
            let byte = text[position]
            if byte == pad {
                // '=' may only stand in the last two places of the last quantum, and "x=y" is not allowed.
                let index = position &- start
                let allowed = isLast && (index == 3 || (index == 2 && text[start &+ 3] == pad))
                if !allowed { return .invalidPadding(offset: position) }
            } else if Base64DecodeTable.values[Int(byte)] & Base64DecodeTable.invalid != 0 {
                return .invalidCharacter(byte, offset: position)
            }
        }
        return .invalidPadding(offset: start)  // not reached for a quantum that failed the fast check
    }
}

/// Character -> 6-bit value, or `invalid` for bytes outside the standard alphabet ('=' included).
@usableFromInline
enum Base64DecodeTable {
    @usableFromInline static let invalid: UInt8 = 0x80

    static let values: [UInt8] = {
        var table = [UInt8](repeating: invalid, count: 256)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        for (value, character) in alphabet.enumerated() {
            table[Int(character)] = UInt8(value)
        }
        return table
    }()

    /// Four tables of 256, one per position in a quantum: each character's 6 bits already placed where
    /// they land in the little-endian word of the 3 output bytes; invalid characters set the top byte.
    static let words: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 1024)
        for character in 0..<256 {
            let v = UInt32(values[character])
            guard v & UInt32(invalid) == 0 else {
                for position in 0..<4 { table[position * 256 + character] = 0xFF00_0000 }
                continue
            }
            table[character] = v << 2                                    // byte 0: aaaaaa..
            table[256 + character] = (v >> 4) | ((v & 0x0F) << 12)      // byte 0: ......bb, byte 1: bbbb....
            table[512 + character] = ((v >> 2) << 8) | ((v & 0x03) << 22) // byte 1: ....cccc, byte 2: cc......
            table[768 + character] = v << 16                             // byte 2: ..dddddd
        }
        return table
    }()
}
