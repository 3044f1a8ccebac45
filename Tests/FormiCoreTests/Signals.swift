import FormiCore

#if canImport(Glibc)
import Glibc
#endif

/// Test signals and measurements for the audio tests.
enum Signals {
    /// A sine at `frequency` Hz, `amplitude` peak, as int16.
    static func tone(_ frequency: Double, rate: Int, seconds: Double, amplitude: Double = 16384) -> [Int16] {
        (0..<Int(Double(rate) * seconds)).map { i in
            Int16((amplitude * sin(2 * Double.pi * frequency * Double(i) / Double(rate))).rounded())
        }
    }

    /// Speech-like content with a silent gap: a gliding harmonic tone, 300 ms of digital silence, noise.
    static func speechWithGap(rate: Int, seconds: Double = 1.0, seed: UInt64 = 7) -> [Int16] {
        var rng = SplitMix64(seed: seed)
        let n = Int(Double(rate) * seconds)
        return (0..<n).map { i in
            let t = Double(i) / Double(rate)
            if t > 0.3 && t < 0.6 { return 0 }
            let f0 = 140 + 30 * sin(2 * Double.pi * 2 * t)
            var v = 0.0
            for h in 1...8 where Double(h) * f0 < Double(rate) / 2.2 { v += sin(2 * Double.pi * f0 * Double(h) * t) / Double(h) }
            v = 6000 * v + Double(Int64(bitPattern: rng.next() % 2001) - 1000)
            return Int16(max(-32768, min(32767, v.rounded())))
        }
    }

    /// Least-squares fit of a sine at `frequency` (with DC) to `samples`: the fitted peak amplitude and
    /// the RMS of what the fit leaves. Independent of phase and delay.
    static func fit(_ samples: ArraySlice<Int16>, frequency: Double, rate: Int) -> (amplitude: Double, residual: Double) {
        let w = 2 * Double.pi * frequency / Double(rate)
        // Normal equations for [sin, cos, 1].
        var a = [[Double]](repeating: [0, 0, 0], count: 3), b = [0.0, 0.0, 0.0]
        for (k, s) in samples.enumerated() {
            let basis = [sin(w * Double(k)), cos(w * Double(k)), 1.0]
            for r in 0..<3 {
                b[r] += basis[r] * Double(s)
                for c in 0..<3 { a[r][c] += basis[r] * basis[c] }
            }
        }
        let x = solve3(a, b)
        var residual = 0.0
        for (k, s) in samples.enumerated() {
            let e = Double(s) - (x[0] * sin(w * Double(k)) + x[1] * cos(w * Double(k)) + x[2])
            residual += e * e
        }
        return ((x[0] * x[0] + x[1] * x[1]).squareRoot(), (residual / Double(samples.count)).squareRoot())
    }

    private static func solve3(_ m: [[Double]], _ v: [Double]) -> [Double] {
        var a = m, b = v
        for col in 0..<3 {
            let pivot = (col..<3).max { abs(a[$0][col]) < abs(a[$1][col]) } ?? col
            a.swapAt(col, pivot); b.swapAt(col, pivot)
            for row in 0..<3 where row != col {
                let f = a[row][col] / a[col][col]
                for c in 0..<3 { a[row][c] -= f * a[col][c] }
                b[row] -= f * b[col]
            }
        }
        return (0..<3).map { b[$0] / a[$0][$0] }
    }

    static func decibels(_ ratio: Double) -> Double { 20 * log10(ratio) }
}

extension Resampler {
    /// Runs a whole signal through in chunks of the given sizes (cycled), then drains.
    func run(_ input: [Int16], chunks: [Int]) throws -> (body: [Int16], tail: [Int16]) {
        var body: [Int16] = []
        var offset = 0, index = 0
        var output = [Int16](repeating: 0, count: (maxOutputFrames(forInputFrames: input.count / channels) ?? 0) * channels)
        while offset < input.count {
            let frames = min(chunks[index % chunks.count], (input.count - offset) / channels)
            index += 1
            let produced = try input.withUnsafeBufferPointer { all in
                try output.withUnsafeMutableBufferPointer { out in
                    try process(UnsafeBufferPointer(rebasing: all[offset..<(offset + frames * channels)]), into: out)
                }
            }
            body += output.prefix(produced * channels)
            offset += frames * channels
        }
        var tail = [Int16](repeating: 0, count: maxDrainFrames * channels)
        let drained = try tail.withUnsafeMutableBufferPointer { try drain(into: $0) }
        return (body, Array(tail.prefix(drained * channels)))
    }
}
