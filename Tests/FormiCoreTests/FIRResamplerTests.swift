// libformi's own polyphase FIR resampler (the default for every pair of 8, 16, 24, 32 and 48 kHz) against
// the bar of issue 19, pair by pair, with every kernel the CPU has.

import CFormiKernels
import FormiCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Resampler (own FIR)")
struct FIRResamplerTests {
    static let rates = [8000, 16000, 24000, 32000, 48000]
    static let pairs: [(Int, Int)] = rates.flatMap { a in rates.filter { $0 != a }.map { (a, $0) } }
    /// Every kernel this CPU has: 1 SSE2, 2 AVX2 + FMA, 3 portable C.
    static let kernels: [Int] = [1, 2, 3].filter { (try? Resampler(channels: 1, inputRate: 8000, outputRate: 16000, firKernel: $0)) != nil }

    /// The gain (dB, against 16384) of a tone at `frequency` through `pair`, measured at `at` in the output.
    static func gain(_ pair: (Int, Int), tone frequency: Double, at measured: Double, kernel: Int = 0) throws -> Double {
        let resampler = try Resampler(channels: 1, inputRate: pair.0, outputRate: pair.1, firKernel: kernel)
        let output = try resampler.run(Signals.tone(frequency, rate: pair.0, seconds: 0.25), chunks: [pair.0 / 50]).body
        let skip = pair.1 / 100  // past the filter's start
        return Signals.decibels(Signals.fit(output[skip..<(skip + pair.1 / 8)], frequency: measured, rate: pair.1).amplitude / 16384)
    }

    @Test(arguments: pairs) func theOwnFilterIsTheDefaultAndSpeexStaysSelectable(pair: (Int, Int)) throws {
        #expect(try Resampler(channels: 1, inputRate: pair.0, outputRate: pair.1).isOwnFilter)
        #expect(try !Resampler(channels: 1, inputRate: pair.0, outputRate: pair.1, quality: 5).isOwnFilter)
        #expect(try !Resampler(channels: 1, inputRate: 44100, outputRate: pair.1).isOwnFilter)
    }

    @Test(arguments: pairs) func delayIsAtMost3ms(pair: (Int, Int)) throws {
        let resampler = try Resampler(channels: 1, inputRate: pair.0, outputRate: pair.1)
        #expect(Double(resampler.latency) / Double(pair.1) <= 0.003, "latency \(resampler.latency) frames at \(pair.1)")
    }

    /// a -> b -> a of a tone at 1004 Hz (scaled to the lower rate, as 3.4 kHz is for 8 kHz): against the
    /// int16 input itself, at the two filters' delay, >= 100 dB where b is at least twice a. For 2:3 and
    /// 3:4 the int16 rounding at b bounds any resampler below that: the way back passes 2/3 or 3/4 of
    /// that rounding noise (1/12 step squared) instead of 1/2, which alone costs 1.5-2 dB against the
    /// 99.8 dB of 1:2 (speexdsp quality 5 measures 98.4, 94.1 and 98.4 dB for 16/24, 24/32 and 32/48 kHz,
    /// bench/resampler.c's method): >= 96 dB there.
    @Test(arguments: pairs.filter { $0.0 < $0.1 }, [1, 2])
    func roundTripKeeps100dB(pair: (Int, Int), channels: Int) throws {
        let (a, b) = pair
        for kernel in Self.kernels {
            let mono = Signals.tone(1004 * Double(a) / 8000, rate: a, seconds: 0.5)
            let input = channels == 1 ? mono : mono.flatMap { [$0, 0 - $0] }  // both at the same level
            let up = try Resampler(channels: channels, inputRate: a, outputRate: b, firKernel: kernel).run(input, chunks: [a / 50])
            let down = try Resampler(channels: channels, inputRate: b, outputRate: a, firKernel: kernel).run(up.body + up.tail, chunks: [b / 50])
            let output = down.body + down.tail
            let range = (a / 8)..<(a * 3 / 8)
            func noise(at delay: Int) -> Double {
                range.reduce(0.0) { sum, n in
                    (0..<channels).reduce(sum) { s, c in
                        let e = Double(output[(n + delay) * channels + c]) - Double(input[n * channels + c])
                        return s + e * e
                    }
                }
            }
            let delay = (0..<(a / 100)).min { noise(at: $0) < noise(at: $1) } ?? 0
            let signal = range.reduce(0.0) { sum, n in (0..<channels).reduce(sum) { $0 + Double(input[n * channels + $1]) * Double(input[n * channels + $1]) } }
            let snr = 10 * log10(signal / max(noise(at: delay), 1e-9))
            let bar: Double = b >= 2 * a ? 100 : 96
            #expect(snr >= bar, "\(a) -> \(b) -> \(a), kernel \(kernel): round-trip SNR \(snr) dB")
        }
    }

    /// Flat within 0.1 dB to 0.425 of the lower rate (3.4 kHz at 8 kHz), at most 3 dB down at 0.475
    /// (3.8 kHz, which speexdsp quality 5 cuts by 18 dB at 16k -> 8k).
    @Test(arguments: pairs) func passbandIsFlatTo3400AndKeeps3800(pair: (Int, Int)) throws {
        let low = Double(min(pair.0, pair.1))
        for fraction in [0.05, 0.125, 0.25, 0.35, 0.425] {
            let g = try Self.gain(pair, tone: fraction * low, at: fraction * low)
            #expect(abs(g) <= 0.1, "\(pair): gain \(g) dB at \(fraction * low) Hz")
        }
        let edge = try Self.gain(pair, tone: 0.475 * low, at: 0.475 * low)
        #expect(edge >= -3, "\(pair): gain \(edge) dB at \(0.475 * low) Hz")
    }

    /// Downsampling: a tone anywhere from 0.55 of the output rate (4.4 kHz at 8 kHz) to the input's
    /// Nyquist frequency lands, where it folds to, at most -90 dB.
    @Test(arguments: pairs.filter { $0.0 > $0.1 }) func aliasesAre90dBDown(pair: (Int, Int)) throws {
        let (fin, fout) = (Double(pair.0), Double(pair.1))
        // Frequencies off any short period at the input rate: an int16 tone that repeats every few
        // samples has its rounding error in a few strong lines, one of which can sit on the alias.
        let step = (fin / 2 - 0.55 * fout) / 24
        for f in stride(from: 0.55 * fout + 0.37 * step, to: fin / 2, by: step) {
            var alias = f.truncatingRemainder(dividingBy: fout)
            if alias > fout / 2 { alias = fout - alias }
            guard alias > 50 && alias < fout / 2 - 50 else { continue }  // DC and Nyquist cannot be fitted
            let g = try Self.gain(pair, tone: f, at: alias)
            #expect(g <= -90, "\(pair): a \(f) Hz tone lands on \(alias) Hz at \(g) dB")
        }
    }

    /// Upsampling: the images of a passband tone (at the input rate minus the tone) are at most -90 dB.
    @Test(arguments: pairs.filter { $0.0 < $0.1 }) func imagesAre90dBDown(pair: (Int, Int)) throws {
        let fin = Double(pair.0)
        for fraction in [0.05, 0.2, 0.35, 0.425] {
            let g = try Self.gain(pair, tone: fraction * fin, at: fin - fraction * fin)
            #expect(g <= -90, "\(pair): image of \(fraction * fin) Hz at \(g) dB")
        }
    }

    /// Every kernel gives the same samples for any chunking (each its own; kernels may differ by
    /// rounding, by at most one step).
    @Test(arguments: [(8000, 16000), (16000, 8000), (16000, 24000), (24000, 16000), (48000, 8000), (32000, 24000)], [1, 2])
    func kernelsAreChunkInvariantAndAgree(pair: (Int, Int), channels: Int) throws {
        let mono = Signals.speechWithGap(rate: pair.0, seconds: 0.4)
        let input = channels == 1 ? mono : mono.enumerated().flatMap { [$0.element, Int16(truncatingIfNeeded: $0.offset &* 31)] }
        var reference: [Int16]? = nil
        for kernel in Self.kernels {
            let whole = try Resampler(channels: channels, inputRate: pair.0, outputRate: pair.1, firKernel: kernel).run(input, chunks: [Int.max / 4])
            for chunks in [[1], [3, 0, 7], [pair.0 / 50], [1000, 1, 2]] {
                let chunked = try Resampler(channels: channels, inputRate: pair.0, outputRate: pair.1, firKernel: kernel).run(input, chunks: chunks)
                #expect(chunked.body == whole.body && chunked.tail == whole.tail, "kernel \(kernel), chunks \(chunks)")
            }
            let all = whole.body + whole.tail
            if let reference {
                #expect(reference.count == all.count)
                #expect(zip(reference, all).allSatisfy { abs(Int($0) - Int($1)) <= 1 }, "kernel \(kernel) differs by more than rounding")
            } else {
                reference = all
            }
        }
    }

    /// A full-scale square wave overshoots the int16 range through any low-pass (Gibbs): the result
    /// saturates rather than wrapping, so every plateau keeps its sign.
    @Test func overshootSaturates() throws {
        let input = (0..<1600).map { ($0 / 20) % 2 == 0 ? Int16.max : Int16.min }
        for kernel in Self.kernels {
            let resampler = try Resampler(channels: 1, inputRate: 8000, outputRate: 16000, firKernel: kernel)
            let output = try resampler.run(input, chunks: [160]).body
            for m in (resampler.latency + 80)..<output.count {
                let k = (m - resampler.latency) / 2  // the input frame this output stands for
                if (5..<15).contains(k % 40) { #expect(output[m] > 30000, "kernel \(kernel), frame \(m): \(output[m])") }
                if (25..<35).contains(k % 40) { #expect(output[m] < -30000, "kernel \(kernel), frame \(m): \(output[m])") }
            }
            #expect(output.contains(Int16.max) && output.contains(Int16.min))
        }
    }

    @Test func unsupportedKernelIsAnError() {
        #expect(throws: AudioError.self) { try Resampler(channels: 1, inputRate: 8000, outputRate: 16000, firKernel: 9) }
    }
}
