// The fuzz targets: one function per parser that takes outside bytes. Each must accept any input
// without trapping; results go into `FuzzSink` so the optimiser cannot drop the work.

import FormiCore

enum FuzzSink {
    nonisolated(unsafe) static var value = 0
}

/// Each target by the name `make fuzz` and FORMI_FUZZ_TARGET use.
let fuzzTargets: [(name: String, run: @Sendable (UnsafeRawBufferPointer) -> Void)] = [
    ("base64", fuzzBase64),
    ("transcoder", fuzzTranscoder),
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

/// Reads fuzz input as a sequence of choices.
struct FuzzReader {
    let data: UnsafeRawBufferPointer
    var offset = 0

    mutating func byte() -> Int {
        guard offset < data.count else { return 0 }
        defer { offset += 1 }
        return Int(data[offset])
    }

    mutating func pick<T>(_ options: [T]) -> T { options[byte() % options.count] }

    var rest: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: data[min(offset, data.count)...]) }
}

/// A transcoder between formats drawn from the input, fed the rest of the input in drawn chunk sizes
/// (some deliberately not whole frames). Streaming must give exactly what one call gives, never write
/// more than `maxOutputBytes`, keep framed output whole frames, and reject partial frames harmlessly.
func fuzzTranscoder(_ data: UnsafeRawBufferPointer) {
    var reader = FuzzReader(data: data)
    func format() -> AudioFormat {
        AudioFormat(encoding: reader.pick(Encoding.allCases), sampleRate: reader.pick(SampleRate.supported), channels: reader.byte() % 2 + 1)
    }
    let from = format(), to = format()
    let quality = reader.byte() % 11
    let frameBytes = reader.byte() % 4 * 160 * to.bytesPerFrame
    let chunkSeeds = (0..<8).map { _ in reader.byte() }
    let audio = UnsafeRawBufferPointer(rebasing: reader.rest.prefix(16384))
    guard let streamed = try? Transcoder(from: from, to: to, quality: quality, frameBytes: frameBytes),
          let oneShot = try? Transcoder(from: from, to: to, quality: quality, frameBytes: frameBytes) else {
        fatalError("transcoder: a valid format pair was refused: \(from) -> \(to)")
    }
    let usable = audio.count - audio.count % from.bytesPerFrame
    var buffer = [UInt8](repeating: 0, count: oneShot.maxOutputBytes(forInputBytes: usable) ?? 0)

    // The bound covers one call at a time: take each call's output before the next.
    var expected: [UInt8] = []
    buffer.withUnsafeMutableBytes { out in
        guard let n = try? oneShot.process(UnsafeRawBufferPointer(rebasing: audio[0..<usable]), into: out) else {
            fatalError("transcoder: one-shot conversion failed")
        }
        expected = Array(out.prefix(n))
        guard let tail = try? oneShot.drain(into: out) else { fatalError("transcoder: one-shot drain failed") }
        expected += out.prefix(tail)
    }

    var got: [UInt8] = []
    var offset = 0, index = 0
    while offset < usable {
        let seed = chunkSeeds[index % chunkSeeds.count]
        index += 1
        let size = min((seed % 64 + 1) * from.bytesPerFrame * 7, usable - offset)
        // Now and then offer a partial frame first: it must be refused whole, leaving the stream as it was.
        if seed % 13 == 0 && from.bytesPerFrame > 1 {
            buffer.withUnsafeMutableBytes { out in
                do throws(AudioError) {
                    _ = try streamed.process(UnsafeRawBufferPointer(rebasing: audio[offset..<(offset + size - 1)]), into: out)
                    fatalError("transcoder: a partial frame was accepted")
                } catch {
                    guard case .partialFrame = error else { fatalError("transcoder: unexpected \(error)") }
                }
            }
        }
        buffer.withUnsafeMutableBytes { out in
            let input = UnsafeRawBufferPointer(rebasing: audio[offset..<(offset + size)])
            guard let n = try? streamed.process(input, into: out) else { fatalError("transcoder: whole frames were refused") }
            guard n <= (streamed.maxOutputBytes(forInputBytes: input.count) ?? 0),
                  frameBytes == 0 || n % frameBytes == 0 else { fatalError("transcoder: output bound or framing broken") }
            got += out.prefix(n)
        }
        offset += size
    }
    buffer.withUnsafeMutableBytes { out in
        guard let n = try? streamed.drain(into: out) else { fatalError("transcoder: drain failed") }
        got += out.prefix(n)
    }
    guard got == expected else { fatalError("transcoder: streamed output differs from one call (\(from) -> \(to))") }
    FuzzSink.value &+= got.count
}
