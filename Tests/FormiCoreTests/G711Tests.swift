import FormiCore
import Testing

/// The ITU-T G.191 sweep: every int16 from -32768 to 32767 in order.
let ramp: [Int16] = Array(Int16.min...Int16.max)

/// Runs a bulk kernel over a whole array.
func bulk<In, Out>(
    _ input: [In], _ fill: Out,
    _ kernel: (UnsafeBufferPointer<In>, UnsafeMutableBufferPointer<Out>) -> Int
) -> [Out] {
    var output = [Out](repeating: fill, count: input.count)
    let count = input.withUnsafeBufferPointer { source in output.withUnsafeMutableBufferPointer { kernel(source, $0) } }
    #expect(count == input.count)
    return output
}

@Suite("G.711 conformance (CRC-32 values of shared/reference/g711.md)")
struct G711ConformanceTests {
    @Test func sweepItself() {
        #expect(CRC32.of(int16LE: ramp) == 0xC8BA_7682)
    }

    @Test func muLawEncodeAsWords() {
        let codes = bulk(ramp, UInt8(0), MuLaw.encode)
        #expect(CRC32.of(int16LE: codes.map { Int16($0) }) == 0xCD17_0E15)
        #expect(CRC32.of(bytes: codes) == 0x6399_D432)
    }

    @Test func aLawEncodeAsWords() {
        let codes = bulk(ramp, UInt8(0), ALaw.encode)
        #expect(CRC32.of(int16LE: codes.map { Int16($0) }) == 0x7471_9FE4)
        #expect(CRC32.of(bytes: codes) == 0x9133_796E)
    }

    @Test func muLawRoundTrip() {
        let decoded = bulk(bulk(ramp, UInt8(0), MuLaw.encode), Int16(0), MuLaw.decode)
        #expect(CRC32.of(int16LE: decoded) == 0x6364_1C01)
    }

    @Test func aLawRoundTrip() {
        let decoded = bulk(bulk(ramp, UInt8(0), ALaw.encode), Int16(0), ALaw.decode)
        #expect(CRC32.of(int16LE: decoded) == 0xABCE_AA69)
    }

    @Test func decodeTables() {
        let codes = (0...255).map { UInt8($0) }
        #expect(CRC32.of(int16LE: bulk(codes, Int16(0), MuLaw.decode)) == 0x0C84_7A9F)
        #expect(CRC32.of(int16LE: bulk(codes, Int16(0), ALaw.decode)) == 0x9D76_4657)
    }
}

@Suite("G.711 properties over all 65536 inputs")
struct G711PropertyTests {
    @Test func tablesMatchTheScalarRule() {
        let mu = bulk(ramp, UInt8(0), MuLaw.encode)
        let a = bulk(ramp, UInt8(0), ALaw.encode)
        for (index, x) in ramp.enumerated() {
            if mu[index] != MuLaw.encode(x) || a[index] != ALaw.encode(x) {
                Issue.record("table differs from the rule at \(x)")
                return
            }
        }
    }

    @Test func complementFlipsTheSignBit() {
        for x in ramp {
            if MuLaw.encode(~x) != MuLaw.encode(x) ^ 0x80 || ALaw.encode(~x) != ALaw.encode(x) ^ 0x80 {
                Issue.record("enc(~x) != enc(x) ^ 0x80 at \(x)")
                return
            }
        }
    }

    @Test func zeroCodesAndExtremes() {
        for x in Int16(0)...3 { #expect(MuLaw.encode(x) == 0xFF) }
        for x in Int16(-4)...(-1) { #expect(MuLaw.encode(x) == 0x7F) }
        #expect(MuLaw.decode(0xFF) == 0 && MuLaw.decode(0x7F) == 0)
        #expect(MuLaw.decode(0x00) == -32124 && MuLaw.decode(0x80) == 32124)
        #expect(ALaw.decode(0x2A) == -32256 && ALaw.decode(0xAA) == 32256)
        #expect(ALaw.decode(ALaw.silence) == 8 && MuLaw.decode(MuLaw.silence) == 0)
    }

    @Test func decodeThenEncodeIsIdentityOnCodes() {
        // Every code is a fixed point of encode(decode(code)), except the µ-law negative zero 0x7F,
        // which decodes to 0 and re-encodes as the positive zero 0xFF.
        for code in UInt8.min...UInt8.max {
            #expect(ALaw.encode(ALaw.decode(code)) == code)
            #expect(MuLaw.encode(MuLaw.decode(code)) == (code == 0x7F ? 0xFF : code))
        }
    }

    @Test func bulkKernelsStopAtTheShorterBuffer() {
        let input: [Int16] = [1, 2, 3, 4]
        var output = [UInt8](repeating: 0xAA, count: 2)
        let count = input.withUnsafeBufferPointer { i in output.withUnsafeMutableBufferPointer { MuLaw.encode(i, into: $0) } }
        #expect(count == 2)
    }
}
