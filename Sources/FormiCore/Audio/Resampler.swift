// A streaming sample-rate converter over libspeexdsp.
//
// State is carried across calls: a signal fed in one call or in any chunking gives the same samples,
// and nothing resets on silence. Output never waits for the filter to fill (the filter's delay is in
// the signal, as `latency` output frames, not in a short first chunk). `drain` feeds the filter's tail
// out at the end of a stream. Equal rates bypass speexdsp entirely: an exact copy with no delay.

import CSpeexDSP

public final class Resampler {
    /// speexdsp quality 5 (its "desktop" setting): the lowest that passes 3.4 kHz within 0.5 dB and
    /// rejects 16k->8k aliases by 90 dB (quality 4 gives -87 dB, 3 loses 1 dB at 3.4 kHz); 5 ms of delay.
    public static let defaultQuality = 5

    public let channels: Int
    public let inputRate: Int
    public let outputRate: Int
    public let quality: Int

    /// nil when the rates are equal (pass-through).
    private let state: OpaquePointer?

    public init(channels: Int, inputRate: Int, outputRate: Int, quality: Int = Resampler.defaultQuality) throws(AudioError) {
        guard channels == 1 || channels == 2 else { throw .unsupportedChannels(channels) }
        guard SampleRate.isSupported(inputRate) else { throw .unsupportedRate(inputRate) }
        guard SampleRate.isSupported(outputRate) else { throw .unsupportedRate(outputRate) }
        guard (0...10).contains(quality) else { throw .qualityOutOfRange(quality) }
        self.channels = channels
        self.inputRate = inputRate
        self.outputRate = outputRate
        self.quality = quality
        if inputRate == outputRate {
            state = nil
            return
        }
        var error: Int32 = 0
        guard let created = speex_resampler_init(
            UInt32(channels), UInt32(inputRate), UInt32(outputRate), Int32(quality), &error
        ) else {
            throw .resamplerFailed(String(cString: speex_resampler_strerror(error)))
        }
        state = created
    }

    deinit {
        if let state { speex_resampler_destroy(state) }
    }

    /// The delay of the filter in output frames: an impulse at input frame `i` peaks at output frame
    /// `i * outputRate / inputRate + latency`. 0 for pass-through.
    public var latency: Int {
        guard let state else { return 0 }
        return Int(speex_resampler_get_output_latency(state))
    }

    /// The filter's delay in input frames: how many frames of zeros `drain` feeds.
    public var inputLatency: Int {
        guard let state else { return 0 }
        return Int(speex_resampler_get_input_latency(state))
    }

    /// The most frames `process` can produce from `frames` input frames, whatever the filter's phase;
    /// nil if that overflows.
    public func maxOutputFrames(forInputFrames frames: Int) -> Int? {
        guard frames >= 0 else { return nil }
        guard state != nil else { return frames }
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
        guard let state else {
            _ = output.initialize(fromContentsOf: input)
            return frames
        }
        return run(state, input.baseAddress, frames: frames, into: output)
    }

    /// Feeds the filter's tail out (the last `latency` frames of the stream), then resets for a new
    /// stream. Throws `.outputTooSmall` unless `output` holds `maxDrainFrames` frames.
    public func drain(into output: UnsafeMutableBufferPointer<Int16>) throws(AudioError) -> Int {
        guard let state else { return 0 }
        guard output.count / channels >= maxDrainFrames else { throw .outputTooSmall(required: maxDrainFrames) }
        let produced = run(state, nil, frames: inputLatency, into: output)  // NULL input: speexdsp feeds zeros
        reset()
        return produced
    }

    /// Forgets the history, for a new and unrelated stream.
    public func reset() {
        if let state { speex_resampler_reset_mem(state) }
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
