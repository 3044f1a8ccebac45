import FormiCore
import Testing

@Suite("PCM sample formats")
struct PCMTests {
    @Test func byteOrderRoundTripsAndLayout() {
        let samples: [Int16] = [0x0102, -2, Int16.min, Int16.max]
        var le = [UInt8](repeating: 0, count: 8), be = [UInt8](repeating: 0, count: 8)
        samples.withUnsafeBufferPointer { s in
            le.withUnsafeMutableBytes { _ = PCM.littleEndianBytes(s, into: $0) }
            be.withUnsafeMutableBytes { _ = PCM.bigEndianBytes(s, into: $0) }
        }
        #expect(le == [0x02, 0x01, 0xFE, 0xFF, 0x00, 0x80, 0xFF, 0x7F])
        #expect(be == [0x01, 0x02, 0xFF, 0xFE, 0x80, 0x00, 0x7F, 0xFF])
        var back = [Int16](repeating: 0, count: 4)
        be.withUnsafeBytes { b in back.withUnsafeMutableBufferPointer { _ = PCM.int16(fromBigEndian: b, into: $0) } }
        #expect(back == samples)
        le.withUnsafeBytes { b in back.withUnsafeMutableBufferPointer { _ = PCM.int16(fromLittleEndian: b, into: $0) } }
        #expect(back == samples)
    }

    @Test func unalignedBytesAreRead() {
        let bytes: [UInt8] = [0xEE, 0x34, 0x12, 0x78, 0x56]
        var out = [Int16](repeating: 0, count: 2)
        bytes.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { _ = PCM.int16(fromLittleEndian: UnsafeRawBufferPointer(rebasing: raw[1...]), into: $0) }
        }
        #expect(out == [0x1234, 0x5678])
    }

    @Test func unsigned8() {
        #expect(PCM.int16(fromUnsigned8: 128) == 0)
        #expect(PCM.int16(fromUnsigned8: 0) == -32768)
        #expect(PCM.int16(fromUnsigned8: 255) == 32512)
        #expect(PCM.unsigned8(fromInt16: 32767) == 255)      // saturates instead of wrapping to 0
        #expect(PCM.unsigned8(fromInt16: -32768) == 0)
        #expect(PCM.unsigned8(fromInt16: 127) == 128)         // rounds to nearest
        #expect(PCM.unsigned8(fromInt16: 128) == 129)
        for u in UInt8.min...UInt8.max { #expect(PCM.unsigned8(fromInt16: PCM.int16(fromUnsigned8: u)) == u) }
    }

    @Test func floatRoundTripIsExactForEveryInt16() {
        let floats = bulk(ramp, Float(0), PCM.float(fromInt16:into:))
        #expect(bulk(floats, Int16(0), PCM.int16(fromFloat:into:)) == ramp)
        #expect(floats.first == -1.0)
    }

    @Test func floatRoundsAndSaturates() {
        #expect(PCM.int16(fromFloat: 1.0) == 32767)
        #expect(PCM.int16(fromFloat: 7.5) == 32767)
        #expect(PCM.int16(fromFloat: -1.5) == -32768)
        #expect(PCM.int16(fromFloat: .infinity) == 32767)
        #expect(PCM.int16(fromFloat: -.infinity) == -32768)
        #expect(PCM.int16(fromFloat: .nan) == 0)
        #expect(PCM.int16(fromFloat: 0.5 / 32768) == 0)      // ties to even
        #expect(PCM.int16(fromFloat: 1.5 / 32768) == 2)
        #expect(PCM.int16(fromFloat: -1.5 / 32768) == -2)
        #expect(PCM.int16(fromFloat: 0.6 / 32768) == 1)
    }

    @Test func stereoToMonoRoundsSymmetrically() {
        let stereo: [Int16] = [1, 0, -1, 0, 3, 0, -3, 0, 32767, 32767, -32768, -32768, 100, -100]
        var mono = [Int16](repeating: 0, count: 7)
        let frames = stereo.withUnsafeBufferPointer { s in mono.withUnsafeMutableBufferPointer { PCM.mono(fromStereo: s, into: $0) } }
        #expect(frames == 7)
        #expect(mono == [1, -1, 2, -2, 32767, -32768, 0])
    }

    @Test func monoToStereoAndBack() {
        let mono: [Int16] = [5, -7, Int16.min, Int16.max]
        var stereo = [Int16](repeating: 0, count: 8)
        mono.withUnsafeBufferPointer { m in stereo.withUnsafeMutableBufferPointer { _ = PCM.stereo(fromMono: m, into: $0) } }
        #expect(stereo == [5, 5, -7, -7, Int16.min, Int16.min, Int16.max, Int16.max])
        var back = [Int16](repeating: 0, count: 4)
        stereo.withUnsafeBufferPointer { s in back.withUnsafeMutableBufferPointer { _ = PCM.mono(fromStereo: s, into: $0) } }
        #expect(back == mono)
    }
}
