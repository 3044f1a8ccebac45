// Exports of the resampler and the transcoder.

import CFormi
import FormiCore

// MARK: resampler

@c public func formi_resampler_new(
    _ channels: Int32, _ inRate: Int32, _ outRate: Int32, _ quality: Int32, _ status: UnsafeMutablePointer<Int32>?
) -> OpaquePointer? {
    Handle.create(status) { () throws(ABIError) in
        try audio { () throws(AudioError) in
            try Resampler(channels: Int(channels), inputRate: Int(inRate), outputRate: Int(outRate), quality: Int(quality))
        }
    }
}

@c public func formi_resampler_max_output(_ handle: UnsafeRawPointer?, _ inFrames: UInt) -> UInt {
    guard let resampler = try? Handle.object(handle, as: Resampler.self),
          let frames = Int(exactly: inFrames),
          let bound = resampler.maxOutputFrames(forInputFrames: frames) else { return 0 }
    return UInt(clamping: bound)
}

@c public func formi_resampler_process(
    _ handle: OpaquePointer?, _ input: UnsafePointer<Int16>?, _ inFrames: UInt,
    _ output: UnsafeMutablePointer<Int16>?, _ outFrames: UInt, _ written: UnsafeMutablePointer<UInt>?
) -> Int32 {
    abiCall { () throws(ABIError) in
        let resampler = try Handle.object(handle, as: Resampler.self)
        let count = try CBuffer.result(written, "written")
        count.pointee = 0
        let frames = try CBuffer.elementCount(inFrames, of: Int16.self, "in_frames")
        let samples = try CBuffer.scaled(frames, by: resampler.channels, "in_frames")
        let source = try CBuffer.input(input, count: UInt(clamping: samples), "in")
        let capacity = try CBuffer.scaled(try CBuffer.elementCount(outFrames, of: Int16.self, "out_frames"), by: resampler.channels, "out_frames")
        let target = try CBuffer.output(output, capacity: UInt(clamping: capacity), required: 0, "out")
        count.pointee = UInt(clamping: try framesOrRequired(count) { () throws(AudioError) in try resampler.process(source, into: target) })
    }
}

@c public func formi_resampler_drain(
    _ handle: OpaquePointer?, _ output: UnsafeMutablePointer<Int16>?, _ outFrames: UInt, _ written: UnsafeMutablePointer<UInt>?
) -> Int32 {
    abiCall { () throws(ABIError) in
        let resampler = try Handle.object(handle, as: Resampler.self)
        let count = try CBuffer.result(written, "written")
        count.pointee = 0
        let capacity = try CBuffer.scaled(try CBuffer.elementCount(outFrames, of: Int16.self, "out_frames"), by: resampler.channels, "out_frames")
        let target = try CBuffer.output(output, capacity: UInt(clamping: capacity), required: 0, "out")
        count.pointee = UInt(clamping: try framesOrRequired(count) { () throws(AudioError) in try resampler.drain(into: target) })
    }
}

@c public func formi_resampler_latency(_ handle: UnsafeRawPointer?) -> Int32 {
    guard let resampler = try? Handle.object(handle, as: Resampler.self) else {
        LastError.set("the Resampler handle is NULL")
        return Status.invalidArgument.rawValue
    }
    return Int32(clamping: resampler.latency)
}

@c public func formi_resampler_reset(_ handle: OpaquePointer?) -> Int32 {
    abiCall { () throws(ABIError) in try Handle.object(handle, as: Resampler.self).reset() }
}

@c public func formi_resampler_free(_ handle: OpaquePointer?) {
    Handle.release(handle, as: Resampler.self)
}

// MARK: transcoder

@c public func formi_transcoder_new(
    _ input: UnsafePointer<formi_format>?, _ output: UnsafePointer<formi_format>?, _ quality: Int32, _ frameBytes: UInt,
    _ status: UnsafeMutablePointer<Int32>?
) -> OpaquePointer? {
    Handle.create(status) { () throws(ABIError) in
        guard let input, let output else { throw ABIError(.invalidArgument, "a format is NULL") }
        guard let frameBytes = Int(exactly: frameBytes) else { throw ABIError(.invalidArgument, "frame_bytes \(frameBytes) is too large") }
        return try audio { () throws(AudioError) in
            try Transcoder(from: try AudioFormat(input.pointee), to: try AudioFormat(output.pointee), quality: Int(quality), frameBytes: frameBytes)
        }
    }
}

@c public func formi_transcoder_max_output(_ handle: UnsafeRawPointer?, _ inBytes: UInt) -> UInt {
    guard let transcoder = try? Handle.object(handle, as: Transcoder.self),
          let bytes = Int(exactly: inBytes),
          let bound = transcoder.maxOutputBytes(forInputBytes: bytes) else { return 0 }
    return UInt(clamping: bound)
}

@c public func formi_transcoder_process(
    _ handle: OpaquePointer?, _ input: UnsafeRawPointer?, _ inBytes: UInt,
    _ output: UnsafeMutableRawPointer?, _ outSize: UInt, _ outLength: UnsafeMutablePointer<UInt>?
) -> Int32 {
    abiCall { () throws(ABIError) in
        let transcoder = try Handle.object(handle, as: Transcoder.self)
        let count = try CBuffer.result(outLength, "out_len")
        count.pointee = 0
        let source = try CBuffer.inputBytes(input, count: inBytes, "in")
        let target = try CBuffer.outputBytes(output, capacity: outSize, required: 0, "out")
        count.pointee = UInt(clamping: try framesOrRequired(count) { () throws(AudioError) in try transcoder.process(source, into: target) })
    }
}

@c public func formi_transcoder_drain(
    _ handle: OpaquePointer?, _ output: UnsafeMutableRawPointer?, _ outSize: UInt, _ outLength: UnsafeMutablePointer<UInt>?
) -> Int32 {
    abiCall { () throws(ABIError) in
        let transcoder = try Handle.object(handle, as: Transcoder.self)
        let count = try CBuffer.result(outLength, "out_len")
        count.pointee = 0
        let target = try CBuffer.outputBytes(output, capacity: outSize, required: 0, "out")
        count.pointee = UInt(clamping: try framesOrRequired(count) { () throws(AudioError) in try transcoder.drain(into: target) })
    }
}

@c public func formi_transcoder_latency(_ handle: UnsafeRawPointer?) -> Int32 {
    guard let transcoder = try? Handle.object(handle, as: Transcoder.self) else {
        LastError.set("the Transcoder handle is NULL")
        return Status.invalidArgument.rawValue
    }
    return Int32(clamping: transcoder.latency)
}

@c public func formi_transcoder_reset(_ handle: OpaquePointer?) -> Int32 {
    abiCall { () throws(ABIError) in try Handle.object(handle, as: Transcoder.self).reset() }
}

@c public func formi_transcoder_free(_ handle: OpaquePointer?) {
    Handle.release(handle, as: Transcoder.self)
}

// MARK: helpers

extension AudioFormat {
    init(_ format: formi_format) throws(AudioError) {
        try self.init(encoding: Int(format.encoding), sampleRate: Int(format.sample_rate), channels: Int(format.channels))
    }
}

/// Runs a process or drain call; on `outputTooSmall` reports the size needed through `count`.
private func framesOrRequired(_ count: UnsafeMutablePointer<UInt>, _ body: () throws(AudioError) -> Int) throws(ABIError) -> Int {
    do throws(AudioError) {
        return try body()
    } catch {
        if case .outputTooSmall(let required) = error { count.pointee = UInt(clamping: required) }
        throw ABIError(error)
    }
}
