// Audio formats as providers and agents speak them: an encoding, a sample rate, a channel count.

/// How samples are written as bytes.
public enum Encoding: Int, Sendable, CaseIterable {
    /// G.711 µ-law, one byte per sample.
    case ulaw = 1
    /// G.711 A-law, one byte per sample.
    case alaw = 2
    /// Signed 16-bit, little-endian.
    case pcm16LE = 3
    /// Signed 16-bit, big-endian (network order, RFC 3551 "L16").
    case pcm16BE = 4
    /// Unsigned 8-bit, silence 128.
    case pcm8 = 5
    /// IEEE 754 float32, little-endian, full scale ±1.
    case float32LE = 6

    public var bytesPerSample: Int {
        switch self {
        case .ulaw, .alaw, .pcm8: 1
        case .pcm16LE, .pcm16BE: 2
        case .float32LE: 4
        }
    }

    /// The byte pattern of one sample of silence: what a framer pads with.
    public var silence: [UInt8] {
        switch self {
        case .ulaw: [MuLaw.silence]
        case .alaw: [ALaw.silence]
        case .pcm8: [0x80]
        case .pcm16LE, .pcm16BE: [0, 0]
        case .float32LE: [0, 0, 0, 0]
        }
    }

    /// Decodes whole samples from `bytes` into host int16; returns the number of samples.
    /// Converts `min(bytes.count / bytesPerSample, output.count)` samples.
    @discardableResult
    public func decode(_ bytes: UnsafeRawBufferPointer, into output: UnsafeMutableBufferPointer<Int16>) -> Int {
        switch self {
        case .ulaw: MuLaw.decode(bytes.assumingMemoryBound(to: UInt8.self), into: output)
        case .alaw: ALaw.decode(bytes.assumingMemoryBound(to: UInt8.self), into: output)
        case .pcm8: PCM.int16(fromUnsigned8: bytes.assumingMemoryBound(to: UInt8.self), into: output)
        case .pcm16LE: PCM.int16(fromLittleEndian: bytes, into: output)
        case .pcm16BE: PCM.int16(fromBigEndian: bytes, into: output)
        case .float32LE: PCM.int16(fromFloat32LittleEndian: bytes, into: output)
        }
    }

    /// Encodes host int16 samples as bytes; returns the number of bytes written.
    /// Converts `min(input.count, output.count / bytesPerSample)` samples.
    @discardableResult
    public func encode(_ input: UnsafeBufferPointer<Int16>, into output: UnsafeMutableRawBufferPointer) -> Int {
        let samples: Int
        switch self {
        case .ulaw: samples = MuLaw.encode(input, into: output.assumingMemoryBound(to: UInt8.self))
        case .alaw: samples = ALaw.encode(input, into: output.assumingMemoryBound(to: UInt8.self))
        case .pcm8: samples = PCM.unsigned8(fromInt16: input, into: output.assumingMemoryBound(to: UInt8.self))
        case .pcm16LE: samples = PCM.littleEndianBytes(input, into: output)
        case .pcm16BE: samples = PCM.bigEndianBytes(input, into: output)
        case .float32LE: samples = PCM.float32LittleEndianBytes(input, into: output)
        }
        return samples &* bytesPerSample
    }
}

/// The sample rates libformi converts between: every rate telephony providers and speech models use.
public enum SampleRate {
    public static let supported: [Int] = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000]

    public static func isSupported(_ rate: Int) -> Bool { supported.contains(rate) }
}

/// What is wrong with a requested conversion or a buffer given to one.
public enum AudioError: Error, Equatable, Sendable {
    case unsupportedRate(Int)
    case unsupportedChannels(Int)
    case unsupportedEncoding(Int)
    case qualityOutOfRange(Int)
    case frameSizeInvalid(frameBytes: Int, bytesPerFrame: Int)
    /// The input is not a whole number of frames (`bytesPerFrame` each).
    case partialFrame(bytes: Int, bytesPerFrame: Int)
    /// The output buffer holds fewer than `required` elements (frames for the resampler, bytes for the
    /// transcoder); nothing was consumed.
    case outputTooSmall(required: Int)
    /// The sizes involved overflow.
    case overflow
    /// The resampler library failed (out of memory at creation).
    case resamplerFailed(String)
}

/// An encoding, a rate and a channel count.
public struct AudioFormat: Equatable, Sendable {
    public var encoding: Encoding
    public var sampleRate: Int
    public var channels: Int

    public init(encoding: Encoding, sampleRate: Int, channels: Int = 1) {
        self.encoding = encoding
        self.sampleRate = sampleRate
        self.channels = channels
    }

    /// Validates a format given as raw numbers (as they come from C or JSON).
    public init(encoding rawEncoding: Int, sampleRate: Int, channels: Int) throws(AudioError) {
        guard let encoding = Encoding(rawValue: rawEncoding) else { throw .unsupportedEncoding(rawEncoding) }
        guard SampleRate.isSupported(sampleRate) else { throw .unsupportedRate(sampleRate) }
        guard channels == 1 || channels == 2 else { throw .unsupportedChannels(channels) }
        self.init(encoding: encoding, sampleRate: sampleRate, channels: channels)
    }

    /// Bytes of one frame (one sample of every channel).
    public var bytesPerFrame: Int { encoding.bytesPerSample &* channels }

    /// Bytes per 20 ms, the usual telephony frame (160 for µ-law at 8 kHz, 640 for PCM16 at 16 kHz).
    public var bytesPer20ms: Int { sampleRate / 50 &* bytesPerFrame }
}
