// A streaming sample-rate converter: libformi's own polyphase FIR (CFormiKernels' fk_fir_*) for every
// pair of 8, 16, 24, 32 and 48 kHz, libspeexdsp for the other rates or when a speexdsp quality is asked for.
//
// State is carried across calls: a signal fed in one call or in any chunking gives the same samples,
// and nothing resets on silence. Output never waits for the filter to fill (the filter's delay is in
// the signal, as `latency` output frames, not in a short first chunk). `drain` feeds the filter's tail
// out at the end of a stream. Equal rates bypass both entirely: an exact copy with no delay.

import CFormiKernels
import CSpeexDSP

public final class Resampler {
    /// The default, -1: libformi's own polyphase FIR where it has one (every pair of 8, 16, 24, 32 and
    /// 48 kHz: flat to 3.4 kHz at 8 kHz, 2.6 dB down at 3.8 kHz, aliases 94+ dB down from 4.4 kHz, at most
    /// 3 ms of delay), speexdsp at `speexDefaultQuality` for any other pair. 0...10: speexdsp at that quality.
    public static let defaultQuality = -1

    /// speexdsp quality 5 (its "desktop" setting), for the pairs the FIR lacks: the lowest that passes
    /// 3.4 kHz within 0.5 dB and rejects 16k->8k aliases by 90 dB (quality 4 gives -87 dB, 3 loses 1 dB at
    /// 3.4 kHz); 5 ms of delay.
    public static let speexDefaultQuality = 5

    public let channels: Int
    public let inputRate: Int
    public let outputRate: Int
    public let quality: Int

    private enum Engine {
        case passThrough
        case speex(OpaquePointer)
        /// The state and its history rows (owned).
        case fir(UnsafeMutablePointer<fk_fir_state>, UnsafeMutableRawPointer)
    }
    private let engine: Engine

    /// Whether this converts with libformi's own FIR (false: speexdsp, or pass-through).
    public var isOwnFilter: Bool {
        if case .fir = engine { return true }
        return false
    }

    /// `firKernel` picks the FIR's inner product, for tests: 0 the fastest this CPU has, 1 SSE2, 2 AVX2
    /// with FMA, 3 portable C (`.resamplerFailed` where the CPU lacks it).
    public init(channels: Int, inputRate: Int, outputRate: Int, quality: Int = Resampler.defaultQuality, firKernel: Int = 0) throws(AudioError) {
        guard channels == 1 || channels == 2 else { throw .unsupportedChannels(channels) }
        guard SampleRate.isSupported(inputRate) else { throw .unsupportedRate(inputRate) }
        guard SampleRate.isSupported(outputRate) else { throw .unsupportedRate(outputRate) }
        guard (-1...10).contains(quality) else { throw .qualityOutOfRange(quality) }
        self.channels = channels
        self.inputRate = inputRate
        self.outputRate = outputRate
        self.quality = quality
        if inputRate == outputRate {
            engine = .passThrough
            return
        }
        if quality == Self.defaultQuality, let filter = fk_fir_find(Int32(inputRate), Int32(outputRate)) {
            let state = UnsafeMutablePointer<fk_fir_state>.allocate(capacity: 1)
            let history = UnsafeMutableRawPointer.allocate(
                byteCount: fk_fir_state_floats(filter, Int32(channels)) &* MemoryLayout<Float>.stride, alignment: 32
            )
            guard fk_fir_init(state, filter, history.assumingMemoryBound(to: Float.self), Int32(channels), Int32(clamping: firKernel)) == 0 else {
                state.deallocate()
                history.deallocate()
                throw .resamplerFailed("this CPU has no resampler kernel \(firKernel)")
            }
            engine = .fir(state, history)
            return
        }
        var error: Int32 = 0
        guard let created = speex_resampler_init(
            UInt32(channels), UInt32(inputRate), UInt32(outputRate), Int32(quality < 0 ? Self.speexDefaultQuality : quality), &error
        ) else {
            throw .resamplerFailed(String(cString: speex_resampler_strerror(error)))
        }
        engine = .speex(created)
    }

    deinit {
        switch engine {
        case .passThrough: break
        case .speex(let state): speex_resampler_destroy(state)
        case .fir(let state, let history):
            state.deallocate()
            history.deallocate()
        }
    }

    /// The delay of the filter in output frames: an impulse at input frame `i` peaks at output frame
    /// `i * outputRate / inputRate + latency` (to half a frame). 0 for pass-through.
    public var latency: Int {
        switch engine {
        case .passThrough: return 0
        case .speex(let state): return Int(speex_resampler_get_output_latency(state))
        case .fir(let state, _):
            let filter = state.pointee.filter.pointee
            return Int((filter.delay &+ filter.down / 2) / filter.down)
        }
    }

    /// The filter's delay in input frames, rounded up.
    public var inputLatency: Int {
        switch engine {
        case .passThrough: return 0
        case .speex(let state): return Int(speex_resampler_get_input_latency(state))
        case .fir(let state, _):
            let filter = state.pointee.filter.pointee
            return Int((filter.delay &+ filter.up &- 1) / filter.up)
        }
    }

    /// The most frames `process` can produce from `frames` input frames, whatever the filter's phase;
    /// nil if that overflows.
    public func maxOutputFrames(forInputFrames frames: Int) -> Int? {
        guard frames >= 0 else { return nil }
        if case .passThrough = engine { return frames }
        let (product, overflow) = frames.multipliedReportingOverflow(by: outputRate)
        return overflow ? nil : product / inputRate &+ 2
    }

    /// The most frames `drain` can produce.
    public var maxDrainFrames: Int { maxOutputFrames(forInputFrames: inputLatency) ?? 0 }

    /// Converts all of `input` (interleaved, `channels` per frame); returns the frames written.
    /// Throws `.outputTooSmall` (consuming nothing) unless `output` holds `maxOutputFrames` frames.
    public func process(_ input: UnsafeBufferPointer<Int16>, into output: UnsafeMutableBufferPointer<Int16>) throws(AudioError) -> Int {
        let frames = input.count / channels
        guard frames &* channels == input.count else {
            throw .partialFrame(bytes: input.count &* 2, bytesPerFrame: channels &* 2)
        }
        guard let required = maxOutputFrames(forInputFrames: frames) else { throw .overflow }
        guard output.count / channels >= required else { throw .outputTooSmall(required: required) }
        switch engine {
        case .passThrough:
            _ = output.initialize(fromContentsOf: input)
            return frames
        case .speex(let state):
            return run(state, input.baseAddress, frames: frames, into: output)
        case .fir(let state, _):
            guard let source = input.baseAddress, let target = output.baseAddress else { return 0 }
            return fk_fir_process(state, source, frames, target)
        }
    }

    /// Feeds the filter's tail out (the last `latency` frames of the stream), then resets for a new
    /// stream. Throws `.outputTooSmall` unless `output` holds `maxDrainFrames` frames.
    public func drain(into output: UnsafeMutableBufferPointer<Int16>) throws(AudioError) -> Int {
        if case .passThrough = engine { return 0 }
        guard output.count / channels >= maxDrainFrames else { throw .outputTooSmall(required: maxDrainFrames) }
        let produced: Int
        switch engine {
        case .passThrough: produced = 0
        case .speex(let state): produced = run(state, nil, frames: inputLatency, into: output)  // NULL input: speexdsp feeds zeros
        case .fir(let state, _):
            guard let target = output.baseAddress else { return 0 }
            produced = fk_fir_drain(state, target, latency)
        }
        reset()
        return produced
    }

    /// Forgets the history, for a new and unrelated stream.
    public func reset() {
        switch engine {
        case .passThrough: break
        case .speex(let state): speex_resampler_reset_mem(state)
        case .fir(let state, _): fk_fir_reset(state)
        }
    }

    /// Feeds `frames` frames (zeros when `input` is nil) through speexdsp in blocks whose counts fit
    /// its 32-bit lengths. The caller has checked that `output` holds the result.
    private func run(_ state: OpaquePointer, _ input: UnsafePointer<Int16>?, frames: Int, into output: UnsafeMutableBufferPointer<Int16>) -> Int {
        let block = 1 << 20
        var consumed = 0
        var produced = 0
        while consumed < frames {
            var inLength = UInt32(truncatingIfNeeded: min(frames &- consumed, block))
            var outLength = UInt32(truncatingIfNeeded: min(output.count / channels &- produced, Int(UInt32.max)))
            let source = input.map { $0 + consumed &* channels }
            let target = output.baseAddress.map { $0 + produced &* channels }
            speex_resampler_process_interleaved_int(state, source, &inLength, target, &outLength)
            // With room for the whole result speexdsp always consumes everything; guard against a stall anyway.
            guard inLength > 0 || outLength > 0 else { break }
            consumed &+= Int(inLength)
            produced &+= Int(outLength)
        }
        return produced
    }
}
