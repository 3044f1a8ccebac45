import FormiCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Resampler (both engines)")
struct ResamplerTests {
    /// The own FIR's pairs (8, 16, 24, 32, 48 kHz) and speexdsp's (the rest, at quality 5).
    static let pairs: [(Int, Int)] = [(8000, 16000), (16000, 8000), (8000, 24000), (48000, 8000), (24000, 32000),
                                      (48000, 32000), (44100, 16000), (11025, 8000), (8000, 44100), (22050, 48000),
                                      (12000, 32000)]

    @Test(arguments: pairs, [1, 2])
    func anyChunkingGivesTheSameSamples(pair: (Int, Int), channels: Int) throws {
        let mono = Signals.speechWithGap(rate: pair.0, seconds: 0.8)
        let input = channels == 1 ? mono : mono.enumerated().flatMap { [$0.element, Int16(truncatingIfNeeded: $0.offset &* 31)] }
        let whole = try Resampler(channels: channels, inputRate: pair.0, outputRate: pair.1).run(input, chunks: [Int.max / 4])
        #expect(whole.body.count > 0)
        var rng = SplitMix64(seed: UInt64(pair.0 * 7 + pair.1 + channels))
        for trial in 0..<12 {
            let chunks = (0..<50).map { _ in
                trial % 3 == 0 ? Int(rng.next() % 4) : Int(rng.next() % UInt64(pair.0 / 25)) + 1  // some 0- and 1-frame chunks
            } + [1]
            let chunked = try Resampler(channels: channels, inputRate: pair.0, outputRate: pair.1).run(input, chunks: chunks)
            #expect(chunked.body == whole.body, "chunking \(trial) changed the output")
            #expect(chunked.tail == whole.tail)
        }
    }

    @Test(arguments: pairs)
    func reportedLatencyIsTheImpulseDelay(pair: (Int, Int)) throws {
        let resampler = try Resampler(channels: 1, inputRate: pair.0, outputRate: pair.1)
        // An impulse on an input frame that maps to a whole output frame.
        let step = pair.0 / gcd(pair.0, pair.1)
        let position = step * (1 + 400 / step)
        var input = [Int16](repeating: 0, count: position + pair.0 / 10)
        input[position] = 20000
        let (body, tail) = try resampler.run(input, chunks: [160])
        let output = (body + tail).map(Double.init)
        let peak = output.indices.max { abs(output[$0]) < abs(output[$1]) } ?? 1
        // Where the peak really is, between samples (parabolic interpolation): the delay of rates whose
        // filter delay is not a whole number of output frames (8k -> 44.1k) is fractional.
        let (l, c, r) = (output[peak - 1], output[peak], output[peak + 1])
        let measured = Double(peak) + 0.5 * (l - r) / (l - 2 * c + r) - Double(position * pair.1 / pair.0)
        #expect(abs(measured - Double(resampler.latency)) <= 0.5, "impulse delay \(measured), reported \(resampler.latency)")
    }

    /// The default (the own FIR) and speexdsp quality 5.
    @Test(arguments: [Resampler.defaultQuality, 5]) func roundTrip8to16to8At1004HzKeeps100dB(quality: Int) throws {
        let input = Signals.tone(1004, rate: 8000, seconds: 1)
        let (up, upTail) = try Resampler(channels: 1, inputRate: 8000, outputRate: 16000, quality: quality).run(input, chunks: [160])
        let (down, downTail) = try Resampler(channels: 1, inputRate: 16000, outputRate: 8000, quality: quality).run(up + upTail, chunks: [320])
        // Output against the int16 input itself, at the delay of the two filters.
        let output = down + downTail
        func noise(at delay: Int) -> Double {
            (1000..<7000).reduce(0.0) { sum, n in let e = Double(output[n + delay]) - Double(input[n]); return sum + e * e }
        }
        let delay = (0..<200).min { noise(at: $0) < noise(at: $1) } ?? 0
        let signal = (1000..<7000).reduce(0.0) { $0 + Double(input[$1]) * Double(input[$1]) }
        let snr = 10 * log10(signal / max(noise(at: delay), 1e-9))
        #expect(snr >= 100, "round-trip SNR \(snr) dB")
    }

    @Test(arguments: [Resampler.defaultQuality, 5]) func downsampling16to8RejectsAliasesAndKeepsThePassband(quality: Int) throws {
        // 4.2 kHz cannot exist at 8 kHz; what leaks through lands on 3.8 kHz. The own FIR keeps 3.8 kHz
        // (2.6 dB down, where speexdsp quality 5 loses 18 dB), so its transition band mirrors to 4.2 kHz:
        // its stopband starts at 4.4 kHz, which lands on 3.6 kHz.
        let tone: Double = quality == 5 ? 4200 : 4400
        let alias = try Resampler(channels: 1, inputRate: 16000, outputRate: 8000, quality: quality).run(Signals.tone(tone, rate: 16000, seconds: 1), chunks: [320])
        let leaked = Signals.fit(alias.body[1000..<7000], frequency: 8000 - tone, rate: 8000).amplitude
        #expect(Signals.decibels(leaked / 16384) <= -90, "alias at \(Signals.decibels(leaked / 16384)) dB")

        let passband = try Resampler(channels: 1, inputRate: 16000, outputRate: 8000, quality: quality).run(Signals.tone(3400, rate: 16000, seconds: 1), chunks: [320])
        let gain = Signals.decibels(Signals.fit(passband.body[1000..<7000], frequency: 3400, rate: 8000).amplitude / 16384)
        #expect(abs(gain) <= 0.5, "3.4 kHz gain \(gain) dB")
    }

    @Test func equalRatesAreAnExactPassThrough() throws {
        let input = Signals.speechWithGap(rate: 16000, seconds: 0.2)
        let resampler = try Resampler(channels: 1, inputRate: 16000, outputRate: 16000)
        let (body, tail) = try resampler.run(input, chunks: [37, 320])
        #expect(body == input && tail.isEmpty && resampler.latency == 0)
    }

    @Test func drainReleasesTheTailSoNoAudioIsLost() throws {
        let input = Signals.tone(1000, rate: 8000, seconds: 0.5)
        let resampler = try Resampler(channels: 1, inputRate: 8000, outputRate: 16000)
        let (body, tail) = try resampler.run(input, chunks: [160])
        #expect(body.count == 8000)
        #expect(tail.count == resampler.latency)
        // The tail carries the last moments of the tone, not silence.
        #expect(tail.prefix(tail.count / 2).contains { abs(Int($0)) > 8000 })
    }

    @Test func resetStartsAFreshStream() throws {
        let a = Signals.speechWithGap(rate: 8000, seconds: 0.3, seed: 1)
        let b = Signals.speechWithGap(rate: 8000, seconds: 0.3, seed: 2)
        let shared = try Resampler(channels: 1, inputRate: 8000, outputRate: 16000)
        _ = try shared.run(a, chunks: [160])  // drain resets
        let again = try shared.run(b, chunks: [160])
        let fresh = try Resampler(channels: 1, inputRate: 8000, outputRate: 16000).run(b, chunks: [160])
        #expect(again.body == fresh.body)
    }

    @Test func badParametersAreErrors() {
        #expect(throws: AudioError.unsupportedRate(7000)) { try Resampler(channels: 1, inputRate: 7000, outputRate: 8000) }
        #expect(throws: AudioError.unsupportedRate(0)) { try Resampler(channels: 1, inputRate: 8000, outputRate: 0) }
        #expect(throws: AudioError.unsupportedChannels(3)) { try Resampler(channels: 3, inputRate: 8000, outputRate: 16000) }
        #expect(throws: AudioError.qualityOutOfRange(11)) { try Resampler(channels: 1, inputRate: 8000, outputRate: 16000, quality: 11) }
        #expect(throws: AudioError.qualityOutOfRange(-2)) { try Resampler(channels: 1, inputRate: 8000, outputRate: 16000, quality: -2) }
    }

    @Test func aShortOutputConsumesNothing() throws {
        let input = Signals.speechWithGap(rate: 8000, seconds: 0.2)
        let reference = try Resampler(channels: 2, inputRate: 8000, outputRate: 16000).run(input, chunks: [160])
        let resampler = try Resampler(channels: 2, inputRate: 8000, outputRate: 16000)
        var small = [Int16](repeating: 0, count: 10)
        #expect(throws: AudioError.outputTooSmall(required: 322)) {
            try input.withUnsafeBufferPointer { i in
                try small.withUnsafeMutableBufferPointer { try resampler.process(UnsafeBufferPointer(rebasing: i[0..<320]), into: $0) }
            }
        }
        #expect(throws: AudioError.partialFrame(bytes: 6, bytesPerFrame: 4)) {
            try input.withUnsafeBufferPointer { i in
                try small.withUnsafeMutableBufferPointer { try resampler.process(UnsafeBufferPointer(rebasing: i[0..<3]), into: $0) }
            }
        }
        #expect(try resampler.run(input, chunks: [160]) == reference)
    }
}

func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
