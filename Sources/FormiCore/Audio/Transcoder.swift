// One streaming conversion from any audio format to any other: encoding x sample rate x channels,
// optionally cut into exact frames.
//
// Data flows one way through fixed blocks: decode to int16 -> downmix -> resample -> upmix -> encode
// -> framer. All scratch space is allocated at creation, sized for one block, so converting a frame
// allocates nothing. Identical formats skip straight to the framer (bit-exact).

public final class Transcoder {
    public let input: AudioFormat
    public let output: AudioFormat
    private let resampler: Resampler
    private var framer: Framer
    private let passThrough: Bool

    /// Input frames per block: 20 ms at 48 kHz.
    private static let blockFrames = 960
    private let decoded: UnsafeMutableBufferPointer<Int16>
    private let mixed: UnsafeMutableBufferPointer<Int16>
    private let resampled: UnsafeMutableBufferPointer<Int16>
    private let upmixed: UnsafeMutableBufferPointer<Int16>
    private let encoded: UnsafeMutableRawBufferPointer

    /// `frameBytes`: 0 for a plain byte stream, else the exact frame size the output is cut into (a
    /// multiple of the output's bytes per frame).
    public init(from input: AudioFormat, to output: AudioFormat, quality: Int = Resampler.defaultQuality, frameBytes: Int = 0) throws(AudioError) {
        for format in [input, output] {
            guard SampleRate.isSupported(format.sampleRate) else { throw .unsupportedRate(format.sampleRate) }
            guard format.channels == 1 || format.channels == 2 else { throw .unsupportedChannels(format.channels) }
        }
        self.input = input
        self.output = output
        passThrough = input == output
        resampler = try Resampler(
            channels: min(input.channels, output.channels), inputRate: input.sampleRate, outputRate: output.sampleRate, quality: quality
        )
        framer = try Framer(frameBytes: frameBytes, alignment: output.bytesPerFrame, silence: output.encoding.silence)

        let blockOutput = max(resampler.maxOutputFrames(forInputFrames: Self.blockFrames) ?? 0, resampler.maxDrainFrames)
        decoded = .allocate(capacity: Self.blockFrames &* input.channels)
        mixed = .allocate(capacity: Self.blockFrames)
        resampled = .allocate(capacity: blockOutput &* resampler.channels)
        upmixed = .allocate(capacity: blockOutput &* 2)
        encoded = .allocate(byteCount: blockOutput &* output.bytesPerFrame, alignment: 16)
    }

    deinit {
        decoded.deallocate()
        mixed.deallocate()
        resampled.deallocate()
        upmixed.deallocate()
        encoded.deallocate()
    }

    /// The filter delay, in output frames.
    public var latency: Int { resampler.latency }

    /// The frame size output is cut into (0: unframed).
    public var frameBytes: Int { framer.frameBytes }

    /// An upper bound on the bytes `process` writes for `inputBytes` bytes of input, and on what `drain`
    /// writes, so one buffer of this size serves both. nil if it overflows.
    public func maxOutputBytes(forInputBytes inputBytes: Int) -> Int? {
        guard inputBytes >= 0 else { return nil }
        guard let frames = resampler.maxOutputFrames(forInputFrames: inputBytes / input.bytesPerFrame) else { return nil }
        let (withTail, o1) = frames.addingReportingOverflow(resampler.maxDrainFrames)
        let (bytes, o2) = withTail.multipliedReportingOverflow(by: output.bytesPerFrame)
        let (total, o3) = bytes.addingReportingOverflow(framer.frameBytes)
        return o1 || o2 || o3 ? nil : total
    }

    /// Converts all of `bytes` (a whole number of input frames) into `out`; returns the bytes written.
    /// Throws, consuming nothing, on a partial frame or when `out` is smaller than `maxOutputBytes`.
    public func process(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) throws(AudioError) -> Int {
        guard bytes.count % input.bytesPerFrame == 0 else {
            throw .partialFrame(bytes: bytes.count, bytesPerFrame: input.bytesPerFrame)
        }
        guard let required = maxOutputBytes(forInputBytes: bytes.count) else { throw .overflow }
        guard out.count >= required else { throw .outputTooSmall(required: required) }
        if passThrough {
            return framer.push(bytes, into: out)
        }
        var written = 0
        var offset = 0
        let blockBytes = Self.blockFrames &* input.bytesPerFrame
        while offset < bytes.count {
            let end = min(offset &+ blockBytes, bytes.count)
            let samples = input.encoding.decode(UnsafeRawBufferPointer(rebasing: bytes[offset..<end]), into: decoded)
            written &+= convert(UnsafeBufferPointer(rebasing: decoded[0..<samples]), into: out, at: written)
            offset = end
        }
        return written
    }

    /// Ends the stream: the resampler's tail, then the last partial frame padded with silence. Resets
    /// for a new stream. `out` must hold `maxOutputBytes(forInputBytes: 0)`.
    public func drain(into out: UnsafeMutableRawBufferPointer) throws(AudioError) -> Int {
        guard let required = maxOutputBytes(forInputBytes: 0) else { throw .overflow }
        guard out.count >= required else { throw .outputTooSmall(required: required) }
        var written = 0
        if !passThrough {
            let frames = try resampler.drain(into: resampled)
            written = emit(UnsafeBufferPointer(rebasing: resampled[0..<(frames &* resampler.channels)]), into: out, at: 0)
        }
        written &+= framer.flush(into: UnsafeMutableRawBufferPointer(rebasing: out[written...]))
        return written
    }

    /// Forgets all state (filter history, held-back bytes) for a new, unrelated stream.
    public func reset() {
        resampler.reset()
        framer.clear()
    }

    /// One block of decoded samples through downmix and resampling, then out.
    private func convert(_ samples: UnsafeBufferPointer<Int16>, into out: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        var stage = samples
        if input.channels > output.channels {
            let frames = PCM.mono(fromStereo: stage, into: mixed)
            stage = UnsafeBufferPointer(rebasing: mixed[0..<frames])
        }
        // The block's output fits `resampled` by construction, so this cannot throw.
        let frames = (try? resampler.process(stage, into: resampled)) ?? 0
        return emit(UnsafeBufferPointer(rebasing: resampled[0..<(frames &* resampler.channels)]), into: out, at: offset)
    }

    /// Resampled samples through upmix, encoding and the framer.
    private func emit(_ samples: UnsafeBufferPointer<Int16>, into out: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        var stage = samples
        if output.channels > input.channels {
            let count = PCM.stereo(fromMono: stage, into: upmixed) &* 2
            stage = UnsafeBufferPointer(rebasing: upmixed[0..<count])
        }
        let bytes = output.encoding.encode(stage, into: encoded)
        return framer.push(UnsafeRawBufferPointer(rebasing: encoded[0..<bytes]), into: UnsafeMutableRawBufferPointer(rebasing: out[offset...]))
    }
}
