import FormiCore
import Testing

extension Transcoder {
    /// Runs whole `bytes` through in chunks of the given input-frame counts (cycled), then drains;
    /// returns every output call's bytes.
    func run(_ bytes: [UInt8], chunkFrames: [Int]) throws -> [[UInt8]] {
        var calls: [[UInt8]] = []
        var offset = 0, index = 0
        let step = input.bytesPerFrame
        while offset < bytes.count {
            let size = min(chunkFrames[index % chunkFrames.count] * step, bytes.count - offset)
            index += 1
            var out = [UInt8](repeating: 0, count: maxOutputBytes(forInputBytes: size) ?? 0)
            let written = try bytes.withUnsafeBytes { all in
                try out.withUnsafeMutableBytes { try process(UnsafeRawBufferPointer(rebasing: all[offset..<(offset + size)]), into: $0) }
            }
            calls.append(Array(out.prefix(written)))
            offset += size
        }
        var out = [UInt8](repeating: 0, count: maxOutputBytes(forInputBytes: 0) ?? 0)
        let written = try out.withUnsafeMutableBytes { try drain(into: $0) }
        calls.append(Array(out.prefix(written)))
        return calls
    }
}

/// Encodes host samples in a format's encoding.
func encoded(_ samples: [Int16], as encoding: Encoding) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: samples.count * encoding.bytesPerSample)
    _ = samples.withUnsafeBufferPointer { s in bytes.withUnsafeMutableBytes { encoding.encode(s, into: $0) } }
    return bytes
}

func decoded(_ bytes: [UInt8], as encoding: Encoding) -> [Int16] {
    var samples = [Int16](repeating: 0, count: bytes.count / encoding.bytesPerSample)
    _ = bytes.withUnsafeBytes { b in samples.withUnsafeMutableBufferPointer { encoding.decode(b, into: $0) } }
    return samples
}

@Suite("Transcoder and framer")
struct TranscoderTests {
    @Test func framerCutsExactFramesAndPadsWithSilence() throws {
        var framer = try Framer(frameBytes: 160, alignment: 1, silence: [0xFF])
        var rng = SplitMix64(seed: 3)
        let stream = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        var out: [UInt8] = []
        var offset = 0
        while offset < stream.count {
            let n = min(Int(rng.next() % 400), stream.count - offset)
            var buffer = [UInt8](repeating: 0, count: framer.outputBytes(forInput: n))
            let written = stream.withUnsafeBytes { s in
                buffer.withUnsafeMutableBytes { framer.push(UnsafeRawBufferPointer(rebasing: s[offset..<(offset + n)]), into: $0) }
            }
            #expect(written % 160 == 0 && written == buffer.count)
            out += buffer.prefix(written)
            offset += n
        }
        var last = [UInt8](repeating: 0, count: 160)
        #expect(last.withUnsafeMutableBytes { framer.flush(into: $0) } == 160)
        out += last
        #expect(out.count == 5120)
        #expect(Array(out.prefix(5000)) == stream)
        #expect(out.suffix(120).allSatisfy { $0 == 0xFF })
        #expect(last.withUnsafeMutableBytes { framer.flush(into: $0) } == 0)
    }

    @Test func framesMustNotSplitSamples() {
        #expect(throws: AudioError.frameSizeInvalid(frameBytes: 321, bytesPerFrame: 2)) {
            try Transcoder(from: AudioFormat(encoding: .pcm16LE, sampleRate: 8000), to: AudioFormat(encoding: .pcm16LE, sampleRate: 16000), frameBytes: 321)
        }
    }

    @Test(arguments: [(Encoding.ulaw, 8000, Encoding.pcm16LE, 16000, 640), (.pcm16LE, 16000, .ulaw, 8000, 160),
                      (.alaw, 8000, .float32LE, 24000, 0), (.pcm16BE, 44100, .pcm16LE, 8000, 320),
                      (.float32LE, 48000, .alaw, 8000, 160), (.pcm8, 11025, .pcm16LE, 16000, 640)])
    func anyChunkingGivesTheSameBytes(from: Encoding, fromRate: Int, to: Encoding, toRate: Int, frameBytes: Int) throws {
        let input = encoded(Signals.speechWithGap(rate: fromRate, seconds: 0.6), as: from)
        let make = { () throws -> Transcoder in
            try Transcoder(from: AudioFormat(encoding: from, sampleRate: fromRate), to: AudioFormat(encoding: to, sampleRate: toRate), frameBytes: frameBytes)
        }
        let whole = try make().run(input, chunkFrames: [Int.max / 64]).flatMap { $0 }
        var rng = SplitMix64(seed: UInt64(fromRate + toRate))
        for _ in 0..<8 {
            let chunks = (0..<40).map { _ in Int(rng.next() % UInt64(fromRate / 40)) }
            let calls = try make().run(input, chunkFrames: chunks)
            #expect(calls.flatMap { $0 } == whole)
            if frameBytes > 0 { #expect(calls.allSatisfy { $0.count % frameBytes == 0 }) }
        }
        // All the audio is there: input duration, plus the filter delay, within a frame.
        let expected = (input.count / from.bytesPerSample * toRate / fromRate) * to.bytesPerSample
        #expect(whole.count >= expected)
    }

    @Test func losslessPathsAreBitExact() throws {
        let samples = Array(Int16.min...Int16.max)
        for from in [Encoding.pcm16LE, .pcm16BE, .float32LE] {
            for to in [Encoding.pcm16LE, .pcm16BE, .float32LE] {
                let t = try Transcoder(from: AudioFormat(encoding: from, sampleRate: 16000), to: AudioFormat(encoding: to, sampleRate: 16000))
                let out = try t.run(encoded(samples, as: from), chunkFrames: [1234]).flatMap { $0 }
                #expect(decoded(out, as: to) == samples, "\(from) -> \(to)")
            }
        }
        // G.711 to linear and back: every code survives (µ-law's negative zero becomes positive zero).
        let codes = (0...255).map { UInt8($0) }
        for law in [Encoding.ulaw, .alaw] {
            let toLinear = try Transcoder(from: AudioFormat(encoding: law, sampleRate: 8000), to: AudioFormat(encoding: .pcm16LE, sampleRate: 8000))
            let back = try Transcoder(from: AudioFormat(encoding: .pcm16LE, sampleRate: 8000), to: AudioFormat(encoding: law, sampleRate: 8000))
            let linear = try toLinear.run(codes, chunkFrames: [100]).flatMap { $0 }
            let again = try back.run(linear, chunkFrames: [100]).flatMap { $0 }
            #expect(again == codes.map { law == .ulaw && $0 == 0x7F ? 0xFF : $0 })
        }
    }

    @Test func identicalFormatsPassThroughUnchanged() throws {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let t = try Transcoder(from: AudioFormat(encoding: .ulaw, sampleRate: 8000), to: AudioFormat(encoding: .ulaw, sampleRate: 8000), frameBytes: 160)
        let out = try t.run(bytes, chunkFrames: [77]).flatMap { $0 }
        #expect(Array(out.prefix(1000)) == bytes && out.count == 1120 && out.suffix(120).allSatisfy { $0 == 0xFF })
    }

    @Test func sameSamplesAsTheResamplerAlone() throws {
        let samples = Signals.speechWithGap(rate: 8000, seconds: 0.4)
        let viaTranscoder = try Transcoder(from: AudioFormat(encoding: .pcm16LE, sampleRate: 8000), to: AudioFormat(encoding: .pcm16LE, sampleRate: 16000))
            .run(encoded(samples, as: .pcm16LE), chunkFrames: [160]).flatMap { $0 }
        let (body, tail) = try Resampler(channels: 1, inputRate: 8000, outputRate: 16000).run(samples, chunks: [160])
        #expect(decoded(viaTranscoder, as: .pcm16LE) == body + tail)
    }

    @Test func channelsAreMixedAndSplit() throws {
        let stereo: [Int16] = (0..<800).flatMap { [Int16($0), Int16(-$0 / 2)] }
        let down = try Transcoder(from: AudioFormat(encoding: .pcm16LE, sampleRate: 8000, channels: 2), to: AudioFormat(encoding: .pcm16LE, sampleRate: 8000))
        let mono = decoded(try down.run(encoded(stereo, as: .pcm16LE), chunkFrames: [33]).flatMap { $0 }, as: .pcm16LE)
        var expected = [Int16](repeating: 0, count: 800)
        _ = stereo.withUnsafeBufferPointer { s in expected.withUnsafeMutableBufferPointer { PCM.mono(fromStereo: s, into: $0) } }
        #expect(mono == expected)
        let up = try Transcoder(from: AudioFormat(encoding: .pcm16LE, sampleRate: 8000), to: AudioFormat(encoding: .pcm16LE, sampleRate: 8000, channels: 2))
        let back = decoded(try up.run(encoded(mono, as: .pcm16LE), chunkFrames: [33]).flatMap { $0 }, as: .pcm16LE)
        #expect(back == mono.flatMap { [$0, $0] })
    }

    @Test(arguments: [(Encoding.ulaw, UInt8(0xFF)), (.alaw, 0xD5), (.pcm8, 0x80), (.pcm16LE, 0)])
    func drainPadsTheLastFrameWithSilence(encoding: Encoding, silence: UInt8) throws {
        let t = try Transcoder(from: AudioFormat(encoding: .pcm16LE, sampleRate: 16000), to: AudioFormat(encoding: encoding, sampleRate: 8000), frameBytes: 160 * encoding.bytesPerSample)
        let calls = try t.run(encoded([Int16](repeating: 0, count: 3200 + 50), as: .pcm16LE), chunkFrames: [320])
        let last = try #require(calls.last)
        #expect(last.count % (160 * encoding.bytesPerSample) == 0 && last.count > 0)
        #expect(last.allSatisfy { $0 == silence })
    }

    @Test func badInputIsAnErrorAndTheStreamStaysUsable() throws {
        #expect(throws: AudioError.unsupportedRate(9600)) {
            try Transcoder(from: AudioFormat(encoding: .ulaw, sampleRate: 9600), to: AudioFormat(encoding: .pcm16LE, sampleRate: 16000))
        }
        #expect(throws: AudioError.unsupportedChannels(0)) {
            try Transcoder(from: AudioFormat(encoding: .ulaw, sampleRate: 8000, channels: 0), to: AudioFormat(encoding: .pcm16LE, sampleRate: 16000))
        }
        #expect(throws: AudioError.unsupportedEncoding(9)) { try AudioFormat(encoding: 9, sampleRate: 8000, channels: 1) }

        let make = { try Transcoder(from: AudioFormat(encoding: .pcm16LE, sampleRate: 16000), to: AudioFormat(encoding: .ulaw, sampleRate: 8000), frameBytes: 160) }
        let input = encoded(Signals.speechWithGap(rate: 16000, seconds: 0.3), as: .pcm16LE)
        let reference = try make().run(input, chunkFrames: [320]).flatMap { $0 }
        let t = try make()
        var out = [UInt8](repeating: 0, count: 4096)
        #expect(throws: AudioError.partialFrame(bytes: 641, bytesPerFrame: 2)) {
            try input.withUnsafeBytes { i in try out.withUnsafeMutableBytes { try t.process(UnsafeRawBufferPointer(rebasing: i[0..<641]), into: $0) } }
        }
        #expect(throws: AudioError.self) {
            try input.withUnsafeBytes { i in try out.withUnsafeMutableBytes { try t.process(UnsafeRawBufferPointer(rebasing: i[0..<640]), into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<100])) } }
        }
        #expect(try t.run(input, chunkFrames: [320]).flatMap { $0 } == reference)
    }
}
