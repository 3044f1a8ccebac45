// Stateless codec exports: G.711, PCM sample formats, channel layout, base64.
// "encode" turns host int16 samples into a wire format, "decode" the reverse. Sizes are in elements
// of the pointed-to type; outputs must be at least as large as the result (else FORMI_EBUFFER).

import FormiCore

// MARK: G.711

@c public func formi_ulaw_encode(
    _ pcm: UnsafePointer<Int16>?, _ samples: UInt, _ out: UnsafeMutablePointer<UInt8>?, _ outSize: UInt
) -> Int32 {
    abiCall { () throws(ABIError) in
        let input = try CBuffer.input(pcm, count: samples, "pcm")
        MuLaw.encode(input, into: try CBuffer.output(out, capacity: outSize, required: input.count, "out"))
    }
}

@c public func formi_ulaw_decode(
    _ ulaw: UnsafePointer<UInt8>?, _ bytes: UInt, _ out: UnsafeMutablePointer<Int16>?, _ outSamples: UInt
) -> Int32 {
    abiCall { () throws(ABIError) in
        let input = try CBuffer.input(ulaw, count: bytes, "ulaw")
        MuLaw.decode(input, into: try CBuffer.output(out, capacity: outSamples, required: input.count, "out"))
    }
}

@c public func formi_alaw_encode(
    _ pcm: UnsafePointer<Int16>?, _ samples: UInt, _ out: UnsafeMutablePointer<UInt8>?, _ outSize: UInt
) -> Int32 {
    abiCall { () throws(ABIError) in
        let input = try CBuffer.input(pcm, count: samples, "pcm")
        ALaw.encode(input, into: try CBuffer.output(out, capacity: outSize, required: input.count, "out"))
    }
}

@c public func formi_alaw_decode(
    _ alaw: UnsafePointer<UInt8>?, _ bytes: UInt, _ out: UnsafeMutablePointer<Int16>?, _ outSamples: UInt
) -> Int32 {
    abiCall { () throws(ABIError) in
        let input = try CBuffer.input(alaw, count: bytes, "alaw")
        ALaw.decode(input, into: try CBuffer.output(out, capacity: outSamples, required: input.count, "out"))
    }
}

// MARK: 16-bit byte order

/// Whole 16-bit samples in `bytes`, or FORMI_ELENGTH for an odd byte count.
private func sampleCount(ofPCM16 bytes: UnsafeRawBufferPointer, _ name: StaticString) throws(ABIError) -> Int {
    guard bytes.count % 2 == 0 else {
        throw ABIError(.badLength, "\(name): \(bytes.count) bytes is not a whole number of 16-bit samples")
    }
    return bytes.count / 2
}

@c public func formi_pcm16le_encode(
    _ pcm: UnsafePointer<Int16>?, _ samples: UInt, _ out: UnsafeMutableRawPointer?, _ outSize: UInt
) -> Int32 {
    abiCall { () throws(ABIError) in
        let input = try CBuffer.input(pcm, count: samples, "pcm")
        let required = try CBuffer.scaled(input.count, by: 2, "pcm")
        PCM.littleEndianBytes(input, into: try CBuffer.outputBytes(out, capacity: outSize, required: required, "out"))
    }
}

@c public func formi_pcm16le_decode(
    _ bytes: UnsafeRawPointer?, _ size: UInt, _ out: UnsafeMutablePointer<Int16>?, _ outSamples: UInt
) -> Int32 {
    abiCall { () throws(ABIError) in
        let input = try CBuffer.inputBytes(bytes, count: size, "bytes")
        let samples = try sampleCount(ofPCM16: input, "bytes")
        PCM.int16(fromLittleEndian: input, into: try CBuffer.output(out, capacity: outSamples, required: samples, "out"))
    }
}

@c public func formi_pcm16be_encode(
    _ pcm: UnsafePointer<Int16>?, _ samples: UInt, _ out: UnsafeMutableRawPointer?, _ outSize: UInt
) -> Int32 {
    abiCall { () throws(ABIError) in
        let input = try CBuffer.input(pcm, count: samples, "pcm")
        let required = try CBuffer.scaled(input.count, by: 2, "pcm")
        PCM.bigEndianBytes(input, into: try CBuffer.outputBytes(out, capacity: outSize, required: required, "out"))
    }
}

@c public func formi_pcm16be_decode(
    _ bytes: UnsafeRawPointer?, _ size: UInt, _ out: UnsafeMutablePointer<Int16>?, _ outSamples: UInt
) -> Int32 {
    abiCall { () throws(ABIError) in
        let input = try CBuffer.inputBytes(bytes, count: size, "bytes")
        let samples = try sampleCount(ofPCM16: input, "bytes")
        PCM.int16(fromBigEndian: input, into: try CBuffer.output(out, capacity: outSamples, required: samples, "out"))
    }
}

// MARK: unsigned 8-bit and float32

@c public func formi_pcm8_encode(
    _ pcm: UnsafePointer<Int16>?, _ samples: UInt, _ out: UnsafeMutablePointer<UInt8>?, _ outSize: UInt
) -> Int32 {
    abiCall { () throws(ABIError) in
        let input = try CBuffer.input(pcm, count: samples, "pcm")
        PCM.unsigned8(fromInt16: input, into: try CBuffer.output(out, capacity: outSize, required: input.count, "out"))
    }
}

@c public func formi_pcm8_decode(
    _ pcm8: UnsafePointer<UInt8>?, _ samples: UInt, _ out: UnsafeMutablePointer<Int16>?, _ outSamples: UInt
) -> Int32 {
    abiCall { () throws(ABIError) in
        let input = try CBuffer.input(pcm8, count: samples, "pcm8")
        PCM.int16(fromUnsigned8: input, into: try CBuffer.output(out, capacity: outSamples, required: input.count, "out"))
    }
}

@c public func formi_f32_encode(
    _ pcm: UnsafePointer<Int16>?, _ samples: UInt, _ out: UnsafeMutablePointer<Float>?, _ outSamples: UInt
) -> Int32 {
    abiCall { () throws(ABIError) in
        let input = try CBuffer.input(pcm, count: samples, "pcm")
        PCM.float(fromInt16: input, into: try CBuffer.output(out, capacity: outSamples, required: input.count, "out"))
    }
}

@c public func formi_f32_decode(
    _ f32: UnsafePointer<Float>?, _ samples: UInt, _ out: UnsafeMutablePointer<Int16>?, _ outSamples: UInt
) -> Int32 {
    abiCall { () throws(ABIError) in
        let input = try CBuffer.input(f32, count: samples, "f32")
        PCM.int16(fromFloat: input, into: try CBuffer.output(out, capacity: outSamples, required: input.count, "out"))
    }
}

// MARK: channels

@c public func formi_stereo_to_mono(
    _ stereo: UnsafePointer<Int16>?, _ frames: UInt, _ out: UnsafeMutablePointer<Int16>?, _ outSamples: UInt
) -> Int32 {
    abiCall { () throws(ABIError) in
        let frameCount = try CBuffer.elementCount(frames, of: (Int16, Int16).self, "stereo")
        let input = try CBuffer.input(stereo, count: UInt(clamping: frameCount) &* 2, "stereo")
        PCM.mono(fromStereo: input, into: try CBuffer.output(out, capacity: outSamples, required: frameCount, "out"))
    }
}

@c public func formi_mono_to_stereo(
    _ mono: UnsafePointer<Int16>?, _ samples: UInt, _ out: UnsafeMutablePointer<Int16>?, _ outSamples: UInt
) -> Int32 {
    abiCall { () throws(ABIError) in
        let input = try CBuffer.input(mono, count: samples, "mono")
        let required = try CBuffer.scaled(input.count, by: 2, "mono")
        PCM.stereo(fromMono: input, into: try CBuffer.output(out, capacity: outSamples, required: required, "out"))
    }
}

// MARK: base64

@c public func formi_base64_encode(
    _ data: UnsafeRawPointer?, _ size: UInt, _ out: UnsafeMutablePointer<CChar>?, _ outSize: UInt,
    _ outLength: UnsafeMutablePointer<UInt>?
) -> Int32 {
    abiCall { () throws(ABIError) in
        let written = try CBuffer.result(outLength, "out_len")
        let input = try CBuffer.inputBytes(data, count: size, "data")
        guard let required = Base64.encodedCount(byteCount: input.count) else {
            throw ABIError(.overflow, "data: the base64 text of \(input.count) bytes overflows")
        }
        written.pointee = UInt(clamping: required)
        let output = try CBuffer.outputBytes(out, capacity: outSize, required: required, "out")
        written.pointee = UInt(clamping: Base64.encode(input, into: output) ?? 0)
    }
}

@c public func formi_base64_decode(
    _ text: UnsafePointer<CChar>?, _ length: UInt, _ out: UnsafeMutableRawPointer?, _ outSize: UInt,
    _ outLength: UnsafeMutablePointer<UInt>?
) -> Int32 {
    abiCall { () throws(ABIError) in
        let written = try CBuffer.result(outLength, "out_len")
        let input = try CBuffer.inputBytes(text, count: length, "text")
        let output = try CBuffer.outputBytes(out, capacity: outSize, required: 0, "out")
        written.pointee = 0
        do throws(Base64Error) {
            written.pointee = UInt(clamping: try Base64.decode(input, into: output))
        } catch {
            if case .outputTooSmall(let required) = error { written.pointee = UInt(clamping: required) }
            throw ABIError(error)
        }
    }
}

extension ABIError {
    init(_ error: Base64Error) {
        switch error {
        case .invalidLength(let length):
            self.init(.base64, "invalid base64: length \(length) is not a multiple of 4")
        case .invalidCharacter(let byte, let offset):
            self.init(.base64, "invalid base64: byte \(describe(byte)) at offset \(offset) is not in the alphabet")
        case .invalidPadding(let offset):
            self.init(.base64, "invalid base64: bad padding at offset \(offset)")
        case .outputTooSmall(let required):
            self.init(.bufferTooSmall, "out: the decoded data needs \(required) bytes")
        }
    }
}

/// A byte for a message: its hex value, and the character when printable ASCII.
private func describe(_ byte: UInt8) -> String {
    let hex = String(byte, radix: 16, uppercase: true)
    let code = "0x" + (byte < 0x10 ? "0" + hex : hex)
    return (0x21...0x7E).contains(byte) ? "\(code) '\(Character(Unicode.Scalar(byte)))'" : code
}
