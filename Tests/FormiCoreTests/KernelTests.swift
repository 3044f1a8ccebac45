// The SIMD kernels of CFormiKernels against plain Swift references: every kernel, every byte value at
// every position, every length around the block size.

import CFormiKernels
import Testing

/// The SIMD kernels (`CFormiKernels`) against a plain decoder: each must decode exactly the whole valid
/// blocks of 16 characters before the first character outside the alphabet, byte for byte.
@Suite("Base64 SIMD kernels")
struct Base64KernelTests {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// What a kernel must do with `text`: characters it may decode (whole blocks of 16 before the
    /// first bad one) and their bytes.
    static func expected(_ text: [UInt8]) -> (count: Int, bytes: [UInt8]) {
        let firstBad = text.firstIndex { !alphabet.contains($0) } ?? text.count
        let count = firstBad / 16 * 16
        var bytes: [UInt8] = []
        for quantum in stride(from: 0, to: count, by: 4) {
            let bits = (0..<4).reduce(UInt32(0)) { $0 << 6 | UInt32(alphabet.firstIndex(of: text[quantum + $1]) ?? 0) }
            bytes += [UInt8(truncatingIfNeeded: bits >> 16), UInt8(truncatingIfNeeded: bits >> 8), UInt8(truncatingIfNeeded: bits)]
        }
        return (count, bytes)
    }

    static func run(_ kernel: Int32, _ text: [UInt8]) -> (count: Int, bytes: [UInt8]) {
        var out = [UInt8](repeating: 0xEE, count: text.count / 4 * 3 + 8)
        let count = text.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { fk_base64_decode_blocks_with(kernel, input.baseAddress, input.count, $0.baseAddress) }
        }
        // Nothing written beyond what was decoded.
        #expect(out[(count / 4 * 3)...].allSatisfy { $0 == 0xEE }, "kernel \(kernel) wrote past its output")
        return (count, Array(out.prefix(count / 4 * 3)))
    }

    @Test(arguments: [Int32(0), 1, 2]) func everyByteAtEveryPosition(kernel: Int32) {
        var rng = SplitMix64(seed: 7)
        let valid = (0..<80).map { _ in Self.alphabet[Int(rng.next() % 64)] }
        let supported = Self.run(kernel, valid).count > 0
        if supported { #expect(Self.run(kernel, valid) == Self.expected(valid)) }
        for position in valid.indices {
            for byte in 0...255 {
                var text = valid
                text[position] = UInt8(byte)
                let result = Self.run(kernel, text)
                if supported {
                    #expect(result == Self.expected(text), "kernel \(kernel): byte \(byte) at \(position)")
                } else {
                    #expect(result.count == 0)
                }
            }
        }
    }

    @Test(arguments: [Int32(0), 1, 2]) func randomLengths(kernel: Int32) {
        var rng = SplitMix64(seed: 11)
        for _ in 0..<3000 {
            let text = (0..<Int(rng.next() % 300)).map { _ in Self.alphabet[Int(rng.next() % 64)] }
            let result = Self.run(kernel, text)
            #expect(result.count == 0 || result == Self.expected(text))
        }
    }
}

/// The JSON string scan: the length of the leading run of bytes a string holds as they are.
@Suite("JSON string scan kernel")
struct JSONScanKernelTests {
    static func expected(_ bytes: [UInt8]) -> Int {
        bytes.firstIndex { $0 < 0x20 || $0 >= 0x80 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") } ?? bytes.count
    }

    @Test func everyByteAtEveryPositionAndLength() {
        for length in 0...40 {
            // Printable ASCII without '"' and '\\'.
            let plain: [UInt8] = (0..<length).map { index -> UInt8 in
                let byte = UInt8(0x20 + (index * 7) % 0x60)
                return byte == 0x22 || byte == 0x5C ? 0x41 : byte
            }
            #expect(plain.withUnsafeBufferPointer { fk_json_plain_run($0.baseAddress, $0.count) } == length)
            for position in 0..<length {
                for byte in 0...255 {
                    var text = plain
                    text[position] = UInt8(byte)
                    let run = text.withUnsafeBufferPointer { fk_json_plain_run($0.baseAddress, $0.count) }
                    #expect(run == Self.expected(text), "byte \(byte) at \(position) of \(length)")
                }
            }
        }
    }
}
