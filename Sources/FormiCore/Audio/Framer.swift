// Cuts a byte stream into the exact frames a provider demands (Twilio: 160-byte µ-law; Vonage: 640
// bytes per 20 ms; Exotel: multiples of 320), holding the remainder for the next call. `flush` pads
// the last partial frame with the encoding's silence at the end of a call. Storage is allocated once.

public struct Framer: ~Copyable {
    /// The frame size in bytes; 0 passes bytes through unframed.
    public let frameBytes: Int
    private let silence: [UInt8]
    private let pending: UnsafeMutableRawBufferPointer
    /// Bytes held back: less than one frame.
    public private(set) var pendingBytes = 0

    /// `frameBytes` must be 0 or a positive multiple of `alignment` (the bytes of one whole frame of
    /// samples, so frames never split a sample); at most 1 MiB.
    public init(frameBytes: Int, alignment: Int, silence: [UInt8]) throws(AudioError) {
        guard frameBytes >= 0, frameBytes <= 1 << 20, alignment > 0, frameBytes % alignment == 0 else {
            throw .frameSizeInvalid(frameBytes: frameBytes, bytesPerFrame: alignment)
        }
        self.frameBytes = frameBytes
        self.silence = silence.isEmpty ? [0] : silence
        pending = .allocate(byteCount: frameBytes, alignment: 16)
    }

    deinit { pending.deallocate() }

    /// The bytes `push` writes for `count` more input bytes: whole frames only.
    public func outputBytes(forInput count: Int) -> Int {
        guard frameBytes > 0 else { return count }
        let total = pendingBytes &+ count
        return total &- total % frameBytes
    }

    /// Appends `input` to the stream and writes every completed frame to `output`, which must hold
    /// `outputBytes(forInput: input.count)` bytes; returns the bytes written.
    public mutating func push(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int {
        guard frameBytes > 0 else {
            output.copyMemory(from: input)
            return input.count
        }
        var written = 0
        var consumed = 0
        // Complete the held-back frame first.
        if pendingBytes > 0 {
            let take = min(frameBytes &- pendingBytes, input.count)
            UnsafeMutableRawBufferPointer(rebasing: pending[pendingBytes..<(pendingBytes &+ take)])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: input[0..<take]))
            pendingBytes &+= take
            consumed = take
            guard pendingBytes == frameBytes else { return 0 }
            UnsafeMutableRawBufferPointer(rebasing: output[0..<frameBytes]).copyMemory(from: UnsafeRawBufferPointer(pending))
            written = frameBytes
            pendingBytes = 0
        }
        // Whole frames straight through, then keep the rest.
        let remaining = input.count &- consumed
        let whole = remaining &- remaining % frameBytes
        UnsafeMutableRawBufferPointer(rebasing: output[written..<(written &+ whole)])
            .copyMemory(from: UnsafeRawBufferPointer(rebasing: input[consumed..<(consumed &+ whole)]))
        written &+= whole
        consumed &+= whole
        let rest = input.count &- consumed
        UnsafeMutableRawBufferPointer(rebasing: pending[0..<rest]).copyMemory(from: UnsafeRawBufferPointer(rebasing: input[consumed...]))
        pendingBytes = rest
        return written
    }

    /// Writes the held-back bytes padded with silence to one whole frame (nothing if none are held);
    /// `output` must hold `frameBytes`. Returns the bytes written.
    public mutating func flush(into output: UnsafeMutableRawBufferPointer) -> Int {
        guard pendingBytes > 0 else { return 0 }
        UnsafeMutableRawBufferPointer(rebasing: output[0..<pendingBytes]).copyMemory(from: UnsafeRawBufferPointer(rebasing: pending[0..<pendingBytes]))
        for i in pendingBytes..<frameBytes {
            output[i] = silence[i % silence.count]
        }
        pendingBytes = 0
        return frameBytes
    }

    /// Drops the held-back bytes.
    public mutating func clear() { pendingBytes = 0 }
}
