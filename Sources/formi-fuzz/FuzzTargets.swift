// The fuzz targets: one function per parser that takes outside bytes. Each must accept any input
// without trapping; results go into `FuzzSink` so the optimiser cannot drop the work.

import FormiCore

enum FuzzSink {
    nonisolated(unsafe) static var value = 0
}

/// Each target by the name `make fuzz` and FORMI_FUZZ_TARGET use.
let fuzzTargets: [(name: String, run: @Sendable (UnsafeRawBufferPointer) -> Void)] = [
    ("base64", fuzzBase64),
]

/// Strict base64 decode: any bytes either decode and re-encode to the same text, or give an error.
func fuzzBase64(_ data: UnsafeRawBufferPointer) {
    var decoded = [UInt8](repeating: 0, count: data.count)
    let result = decoded.withUnsafeMutableBytes { output in Result { () throws(Base64Error) in try Base64.decode(data, into: output) } }
    switch result {
    case .success(let count):
        // A strict decoder accepts only canonical text, so encoding again must give the input back.
        var encoded = [UInt8](repeating: 0, count: data.count)
        let length = decoded.withUnsafeBytes { bytes in
            encoded.withUnsafeMutableBytes { Base64.encode(UnsafeRawBufferPointer(rebasing: bytes.prefix(count)), into: $0) }
        }
        guard length == data.count, encoded.elementsEqual(data) else { fatalError("base64: decode/encode round trip differs") }
        FuzzSink.value &+= count
    case .failure(let error):
        if case .outputTooSmall = error { fatalError("base64: an input-sized buffer was reported too small") }
        FuzzSink.value &+= 1
    }
}
