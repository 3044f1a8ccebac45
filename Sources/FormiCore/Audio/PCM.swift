// Linear PCM conversions between the sample formats that telephony providers use.
//
// Every bulk function converts as much as both buffers allow and returns the count, so it can never
// write past `output`; callers that need all-or-nothing (the C ABI) check the sizes first.
// Conventions: int16 full scale is [-32768, 32767]; float full scale is [-1.0, 1.0) with
// `float = int16 / 32768`, so int16 -> float -> int16 is exact.

public enum PCM {
    // MARK: 16-bit byte order

    /// Reads 16-bit little-endian samples from bytes (any alignment). Converts
    /// `min(bytes.count / 2, output.count)` samples and returns that count; a trailing odd byte is ignored.
    @inlinable
    @discardableResult
    public static func int16(fromLittleEndian bytes: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<Int16>) -> Int {
        let count = min(bytes.count / 2, output.count)
        for i in 0..<count {
            output[i] = Int16(littleEndian: bytes.loadUnaligned(fromByteOffset: i &* 2, as: Int16.self))
        }
        return count
    }

    /// Reads 16-bit big-endian (network order, "L16") samples from bytes (any alignment).
    @inlinable
    @discardableResult
    public static func int16(fromBigEndian bytes: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<Int16>) -> Int {
        let count = min(bytes.count / 2, output.count)
        for i in 0..<count {
            output[i] = Int16(bigEndian: bytes.loadUnaligned(fromByteOffset: i &* 2, as: Int16.self))
        }
        return count
    }

    /// Writes samples as 16-bit little-endian bytes. Converts `min(input.count, output.count / 2)` samples.
    @inlinable
    @discardableResult
    public static func littleEndianBytes(_ input: UnsafeBufferPointer<Int16>, into output: UnsafeMutableRawBufferPointer) -> Int {
        let count = min(input.count, output.count / 2)
        for i in 0..<count {
            output.storeBytes(of: input[i].littleEndian, toByteOffset: i &* 2, as: Int16.self)
        }
        return count
    }

    /// Writes samples as 16-bit big-endian bytes. Converts `min(input.count, output.count / 2)` samples.
    @inlinable
    @discardableResult
    public static func bigEndianBytes(_ input: UnsafeBufferPointer<Int16>, into output: UnsafeMutableRawBufferPointer) -> Int {
        let count = min(input.count, output.count / 2)
        for i in 0..<count {
            output.storeBytes(of: input[i].bigEndian, toByteOffset: i &* 2, as: Int16.self)
        }
        return count
    }

    // MARK: unsigned 8-bit

    /// Unsigned 8-bit (silence 128) to int16: `(u - 128) << 8`.
    @inlinable
    public static func int16(fromUnsigned8 value: UInt8) -> Int16 {
        Int16(truncatingIfNeeded: (Int32(value) &- 128) << 8)
    }

    /// int16 to unsigned 8-bit, rounded to nearest and saturated, so `u8 -> int16 -> u8` is exact.
    @inlinable
    public static func unsigned8(fromInt16 sample: Int16) -> UInt8 {
        let rounded = min((Int32(sample) &+ 128) >> 8, 127)
        return UInt8(truncatingIfNeeded: rounded &+ 128)
    }

    @inlinable
    @discardableResult
    public static func int16(fromUnsigned8 input: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableBufferPointer<Int16>) -> Int {
        let count = min(input.count, output.count)
        for i in 0..<count { output[i] = int16(fromUnsigned8: input[i]) }
        return count
    }

    @inlinable
    @discardableResult
    public static func unsigned8(fromInt16 input: UnsafeBufferPointer<Int16>, into output: UnsafeMutableBufferPointer<UInt8>) -> Int {
        let count = min(input.count, output.count)
        for i in 0..<count { output[i] = unsigned8(fromInt16: input[i]) }
        return count
    }

    // MARK: float32

    /// Float to int16: scaled by 32768, rounded to nearest (ties to even), saturated; NaN becomes 0.
    ///
    /// Written to vectorise (10x the scalar `Int32(x.rounded())`, which also needs a trap check):
    /// clamp by selects, then add 1.5 * 2^23, where a float's unit in the last place is 1, so the
    /// addition itself rounds to an integer and the low 16 bits of the sum's bit pattern are that
    /// integer in two's complement.
    @inlinable
    public static func int16(fromFloat value: Float) -> Int16 {
        let scaled = value * 32768
        var clamped = scaled < 32767 ? scaled : 32767
        clamped = clamped > -32768 ? clamped : -32768
        clamped = scaled == scaled ? clamped : 0  // NaN compares unequal to itself
        return Int16(truncatingIfNeeded: (clamped + 12_582_912).bitPattern)
    }

    /// int16 to float: `sample / 32768`, exact.
    @inlinable
    public static func float(fromInt16 sample: Int16) -> Float {
        Float(sample) * (1.0 / 32768.0)
    }

    @inlinable
    @discardableResult
    public static func int16(fromFloat input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Int16>) -> Int {
        let count = min(input.count, output.count)
        for i in 0..<count { output[i] = int16(fromFloat: input[i]) }
        return count
    }

    @inlinable
    @discardableResult
    public static func float(fromInt16 input: UnsafeBufferPointer<Int16>, into output: UnsafeMutableBufferPointer<Float>) -> Int {
        let count = min(input.count, output.count)
        for i in 0..<count { output[i] = float(fromInt16: input[i]) }
        return count
    }

    /// Reads float32 little-endian samples from bytes (any alignment) into int16 as `int16(fromFloat:)` does.
    /// Converts `min(bytes.count / 4, output.count)` samples.
    @inlinable
    @discardableResult
    public static func int16(fromFloat32LittleEndian bytes: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<Int16>) -> Int {
        let count = min(bytes.count / 4, output.count)
        for i in 0..<count {
            let bits = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self))
            output[i] = int16(fromFloat: Float(bitPattern: bits))
        }
        return count
    }

    /// Writes int16 samples as float32 little-endian bytes. Converts `min(input.count, output.count / 4)` samples.
    @inlinable
    @discardableResult
    public static func float32LittleEndianBytes(_ input: UnsafeBufferPointer<Int16>, into output: UnsafeMutableRawBufferPointer) -> Int {
        let count = min(input.count, output.count / 4)
        for i in 0..<count {
            output.storeBytes(of: float(fromInt16: input[i]).bitPattern.littleEndian, toByteOffset: i &* 4, as: UInt32.self)
        }
        return count
    }

    // MARK: channels

    /// Interleaved stereo to mono: the mean of both channels, rounded half away from zero (no DC bias).
    /// Converts `min(input.count / 2, output.count)` frames and returns that count.
    @inlinable
    @discardableResult
    public static func mono(fromStereo input: UnsafeBufferPointer<Int16>, into output: UnsafeMutableBufferPointer<Int16>) -> Int {
        let count = min(input.count / 2, output.count)
        for i in 0..<count {
            let sum = Int32(input[i &* 2]) &+ Int32(input[i &* 2 &+ 1])
            output[i] = Int16(truncatingIfNeeded: (sum &+ (sum >= 0 ? 1 : 0)) >> 1)
        }
        return count
    }

    /// Mono to interleaved stereo, the sample copied to both channels.
    /// Converts `min(input.count, output.count / 2)` samples and returns that count.
    @inlinable
    @discardableResult
    public static func stereo(fromMono input: UnsafeBufferPointer<Int16>, into output: UnsafeMutableBufferPointer<Int16>) -> Int {
        let count = min(input.count, output.count / 2)
        for i in 0..<count {
            output[i &* 2] = input[i]
            output[i &* 2 &+ 1] = input[i]
        }
        return count
    }
}
