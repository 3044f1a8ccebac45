// How audio errors of the core read through the C API.

import FormiCore

extension ABIError {
    init(_ error: AudioError) {
        switch error {
        case .unsupportedRate(let rate):
            let supported = SampleRate.supported.map(String.init).joined(separator: ", ")
            self.init(.unsupported, "unsupported sample rate \(rate) Hz (supported: \(supported))")
        case .unsupportedChannels(let channels):
            self.init(.unsupported, "unsupported channel count \(channels) (1 or 2)")
        case .unsupportedEncoding(let encoding):
            self.init(.unsupported, "unknown encoding \(encoding) (FORMI_ENCODING_ULAW 1 ... FORMI_ENCODING_F32LE 6)")
        case .qualityOutOfRange(let quality):
            self.init(.invalidArgument, "resampler quality \(quality) is outside -1...10")
        case .frameSizeInvalid(let frameBytes, let bytesPerFrame):
            self.init(.invalidArgument, "frame size \(frameBytes) bytes is not a multiple of the \(bytesPerFrame)-byte sample frame (or above 1 MiB)")
        case .partialFrame(let bytes, let bytesPerFrame):
            self.init(.badLength, "\(bytes) bytes is not a whole number of \(bytesPerFrame)-byte frames")
        case .outputTooSmall(let required):
            self.init(.bufferTooSmall, "out is too small: \(required) are needed")
        case .overflow:
            self.init(.overflow, "the sizes involved overflow")
        case .resamplerFailed(let message):
            self.init(.outOfMemory, "speexdsp: \(message)")
        }
    }
}

/// Runs a core audio call, turning its error into the ABI's.
func audio<T>(_ body: () throws(AudioError) -> T) throws(ABIError) -> T {
    do throws(AudioError) {
        return try body()
    } catch {
        throw ABIError(error)
    }
}
