// G.711 µ-law and A-law (ITU-T G.711, bit-exact to the G.191 reference behaviour).
//
// The scalar rules below are written from the specification; the bulk kernels use tables built from them.
// The tables are exact because µ-law encoding depends only on `x >> 2` and A-law only on `x >> 4`
// (14 and 12 significant bits): 16 KiB and 4 KiB, both resident in L1/L2 while a call is running.
// Negative inputs use the one's complement magnitude (`~x`), as the reference does, which makes
// `encode(~x) == encode(x) ^ 0x80` hold for every input.

/// G.711 µ-law (PCMU): North America and Japan; what Twilio, Exotel and most SIP trunks send.
public enum MuLaw {
    /// The code of digital silence.
    public static let silence: UInt8 = 0xFF

    /// Encodes one sample by the reference rule.
    @inlinable
    public static func encode(_ sample: Int16) -> UInt8 {
        let negative = sample < 0
        let magnitude = UInt32(truncatingIfNeeded: negative ? ~sample : sample)  // 0...32767
        let biased = min(magnitude &+ 132, 0x7FFF)
        let segment = UInt32(24 &- biased.leadingZeroBitCount)  // 0...7
        let mantissa = (biased >> (segment &+ 3)) & 0x0F
        let code = UInt8(truncatingIfNeeded: (segment << 4) | mantissa)
        return code ^ (negative ? 0x7F : 0xFF)
    }

    /// Decodes one code by the reference rule.
    @inlinable
    public static func decode(_ code: UInt8) -> Int16 {
        let u = ~code
        let t = ((Int32(u & 0x0F) << 3) &+ 0x84) << Int32((u >> 4) & 0x07)
        return Int16(truncatingIfNeeded: (u & 0x80) != 0 ? 0x84 &- t : t &- 0x84)
    }

    /// Encodes `min(input.count, output.count)` samples; returns how many.
    @inlinable
    @discardableResult
    public static func encode(_ input: UnsafeBufferPointer<Int16>, into output: UnsafeMutableBufferPointer<UInt8>) -> Int {
        G711Tables.muLawEncode.withUnsafeBufferPointer { table in
            G711Tables.encode(input, into: output, table: table, indexShift: 2)
        }
    }

    /// Decodes `min(input.count, output.count)` codes; returns how many.
    @inlinable
    @discardableResult
    public static func decode(_ input: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableBufferPointer<Int16>) -> Int {
        let count = min(input.count, output.count)
        G711Tables.muLawDecode.withUnsafeBufferPointer { table in
            for i in 0..<count {
                output[i] = table[Int(input[i])]
            }
        }
        return count
    }
}

/// G.711 A-law (PCMA): Europe, India and most of the world outside North America.
public enum ALaw {
    /// The code of digital silence (the smallest positive step; A-law has no code for zero).
    public static let silence: UInt8 = 0xD5

    /// Encodes one sample by the reference rule.
    @inlinable
    public static func encode(_ sample: Int16) -> UInt8 {
        let negative = sample < 0
        let magnitude = UInt32(truncatingIfNeeded: negative ? ~sample : sample)  // 0...32767
        // floor(log2(m | 0xFF)) - 7, i.e. 0 for magnitudes below 256.
        let segment = UInt32(31 &- (magnitude | 0xFF).leadingZeroBitCount) &- 7  // 0...7
        let shift = segment == 0 ? 4 : segment &+ 3
        let mantissa = (magnitude >> shift) & 0x0F
        let code = UInt8(truncatingIfNeeded: (segment << 4) | mantissa)
        return code ^ (negative ? 0x55 : 0xD5)
    }

    /// Decodes one code by the reference rule.
    @inlinable
    public static func decode(_ code: UInt8) -> Int16 {
        let a = code ^ 0x55
        let segment = Int32((a >> 4) & 0x07)
        var t = (Int32(a & 0x0F) << 4) &+ 8
        if segment != 0 {
            t = (t &+ 0x100) << (segment &- 1)
        }
        return Int16(truncatingIfNeeded: (a & 0x80) != 0 ? t : 0 &- t)
    }

    /// Encodes `min(input.count, output.count)` samples; returns how many.
    @inlinable
    @discardableResult
    public static func encode(_ input: UnsafeBufferPointer<Int16>, into output: UnsafeMutableBufferPointer<UInt8>) -> Int {
        G711Tables.aLawEncode.withUnsafeBufferPointer { table in
            G711Tables.encode(input, into: output, table: table, indexShift: 4)
        }
    }

    /// Decodes `min(input.count, output.count)` codes; returns how many.
    @inlinable
    @discardableResult
    public static func decode(_ input: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableBufferPointer<Int16>) -> Int {
        let count = min(input.count, output.count)
        G711Tables.aLawDecode.withUnsafeBufferPointer { table in
            for i in 0..<count {
                output[i] = table[Int(input[i])]
            }
        }
        return count
    }
}

/// Lookup tables generated once from the scalar rules (lazily, thread-safely, on first use).
@usableFromInline
enum G711Tables {
    /// Indexed by the sample's bit pattern shifted right by 2.
    @usableFromInline
    static let muLawEncode: [UInt8] = (0..<(1 << 14)).map { MuLaw.encode(Int16(truncatingIfNeeded: $0 << 2)) }
    /// Indexed by the sample's bit pattern shifted right by 4.
    @usableFromInline
    static let aLawEncode: [UInt8] = (0..<(1 << 12)).map { ALaw.encode(Int16(truncatingIfNeeded: $0 << 4)) }
    @usableFromInline
    static let muLawDecode: [Int16] = (0...255).map { MuLaw.decode(UInt8($0)) }
    @usableFromInline
    static let aLawDecode: [Int16] = (0...255).map { ALaw.decode(UInt8($0)) }

    /// The table encoder of both laws: `table[bits(sample) >> indexShift]`, eight samples per step,
    /// read as two 64-bit words and written as one (5% faster than one sample at a time: one store
    /// per eight codes instead of eight). Encodes `min(input.count, output.count)`; returns that count.
    /// Always inlined so that each law gets its own loop with constant shifts.
    @inlinable @inline(__always)
    static func encode(
        _ input: UnsafeBufferPointer<Int16>, into output: UnsafeMutableBufferPointer<UInt8>,
        table: UnsafeBufferPointer<UInt8>, indexShift: UInt64
    ) -> Int {
        let count = min(input.count, output.count)
        guard count > 0, let source = input.baseAddress, let target = output.baseAddress else { return 0 }
        let words = UnsafeRawPointer(source), codes = UnsafeMutableRawPointer(target)
        let mask: UInt64 = 0xFFFF &>> indexShift
        @inline(__always) func code(_ word: UInt64, _ lane: UInt64) -> UInt64 {
            UInt64(table[Int(truncatingIfNeeded: (word &>> (lane &* 16 &+ indexShift)) & mask)])
        }
        var i = 0
        while i &+ 8 <= count {
            let low = UInt64(littleEndian: words.loadUnaligned(fromByteOffset: i &* 2, as: UInt64.self))
            let high = UInt64(littleEndian: words.loadUnaligned(fromByteOffset: i &* 2 &+ 8, as: UInt64.self))
            var packed = code(low, 0) | code(low, 1) &<< 8 | code(low, 2) &<< 16 | code(low, 3) &<< 24
            packed |= code(high, 0) &<< 32 | code(high, 1) &<< 40 | code(high, 2) &<< 48 | code(high, 3) &<< 56
            codes.storeBytes(of: packed.littleEndian, toByteOffset: i, as: UInt64.self)
            i &+= 8
        }
        while i < count {
            output[i] = table[Int(UInt16(bitPattern: input[i]) &>> indexShift)]
            i &+= 1
        }
        return count
    }
}
