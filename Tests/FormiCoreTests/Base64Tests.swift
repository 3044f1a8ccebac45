import FormiCore
import Testing

func decode(_ text: String) -> Result<[UInt8], Base64Error> {
    var output = [UInt8](repeating: 0, count: text.utf8.count)
    let bytes = Array(text.utf8)
    return bytes.withUnsafeBytes { input in
        output.withUnsafeMutableBytes { out in Result { () throws(Base64Error) in try Base64.decode(input, into: out) } }
    }.map { Array(output.prefix($0)) }
}

func encode(_ bytes: [UInt8]) -> String {
    var output = [UInt8](repeating: 0, count: Base64.encodedCount(byteCount: bytes.count) ?? 0)
    let count = bytes.withUnsafeBytes { input in output.withUnsafeMutableBytes { Base64.encode(input, into: $0) } }
    return String(decoding: output.prefix(count ?? 0), as: UTF8.self)
}

@Suite("Base64 (RFC 4648, strict)")
struct Base64Tests {
    /// RFC 4648 §10 test vectors.
    static let vectors = [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
                          ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")]

    @Test(arguments: vectors) func rfcVectors(plain: String, encoded: String) throws {
        #expect(encode(Array(plain.utf8)) == encoded)
        #expect(try decode(encoded).get() == Array(plain.utf8))
    }

    @Test func everyByteValueRoundTrips() throws {
        let all = (0...255).map { UInt8($0) }
        for length in 0...all.count {
            let bytes = Array(all.prefix(length))
            #expect(try decode(encode(bytes)).get() == bytes)
        }
    }

    @Test func randomRoundTrips() throws {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<2000 {
            let bytes = (0..<Int(rng.next() % 400)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            #expect(try decode(encode(bytes)).get() == bytes)
        }
    }

    @Test func errorsSayWhatAndWhere() {
        #expect(decode("QQ") == .failure(.invalidLength(2)))
        #expect(decode("QUJDR") == .failure(.invalidLength(5)))
        #expect(decode("QU%D") == .failure(.invalidCharacter(0x25, offset: 2)))
        #expect(decode("QUJDQU\nD") == .failure(.invalidCharacter(0x0A, offset: 6)))
        #expect(decode("QUJD QUJ") == .failure(.invalidCharacter(0x20, offset: 4)))
        #expect(decode("QUJDQUJ\u{e9}") == .failure(.invalidLength(9)))
        #expect(decode("QUJDQUJ\u{80}") != .success([]))
        #expect(decode("QQ=A") == .failure(.invalidPadding(offset: 2)))      // "x=y": accepted by some decoders
        #expect(decode("Q===") == .failure(.invalidPadding(offset: 1)))
        #expect(decode("====") == .failure(.invalidPadding(offset: 0)))
        #expect(decode("QQ==QUJD") == .failure(.invalidPadding(offset: 2))) // padding before the end
        #expect(decode("QR==") == .failure(.invalidPadding(offset: 1)))      // non-zero bits under the padding
        #expect(decode("QUJ=") == .failure(.invalidPadding(offset: 2)))
        #expect(decode("QUI=") == .success([0x41, 0x42]))
        #expect(decode("-_8=") == .failure(.invalidCharacter(0x2D, offset: 0)))  // the URL alphabet is not accepted
    }

    @Test func shortOutputIsReportedWithTheSizeNeeded() {
        let text = Array("Zm9vYmFy".utf8)
        var small = [UInt8](repeating: 0xAA, count: 5)
        let result = text.withUnsafeBytes { input in
            small.withUnsafeMutableBytes { out in Result { () throws(Base64Error) in try Base64.decode(input, into: out) } }
        }
        #expect(result == .failure(.outputTooSmall(required: 6)))
        #expect(small == [UInt8](repeating: 0xAA, count: 5))
    }
}

/// A small deterministic generator for property tests (SplitMix64).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
