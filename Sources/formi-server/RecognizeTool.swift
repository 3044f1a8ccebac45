// `formi-server --recognize-grammar "book a table|goodbye" FILE.ulaw...`: the recogniser on recorded phone
// audio, one JSON line per file, for bench/speech_recognition.py. Each file is raw µ-law at 8 kHz (what a
// provider sends); it reaches the recogniser as in a call: through the library's transcoder to 16 kHz.
// Files named *.s16 are raw 16 kHz PCM16, taken as they are.

import FormiCore
import Foundation
import Logging

enum RecognizeTool {
    static func run(grammar text: String, files: [String], rejectBelow: Double) throws {
        let phrases = text.split(separator: "|").map { SpeechGrammar.normalise(String($0)) }.filter { !$0.isEmpty }
        var logger = Logger(label: "formi-recognize")
        logger.logLevel = .warning
        guard let recognizer = Recognizer(phrases: phrases, rejectBelow: rejectBelow, decoders: 1, logger: logger),
              let grammar = recognizer.hearable(SpeechGrammar(phrases: phrases)) else {
            throw StartupError("the recogniser could not start, or no phrase is in its dictionary")
        }
        for file in files {
            let ulaw = try Data(contentsOf: URL(fileURLWithPath: file))
            // A .s16 file is 16 kHz PCM16 already (for comparing with the telephone path).
            let samples = file.hasSuffix(".s16")
                ? stride(from: 0, to: ulaw.count - 1, by: 2).map { Int16(bitPattern: UInt16(ulaw[$0]) | UInt16(ulaw[$0 + 1]) << 8) }
                : try toCallRate(Array(ulaw))
            guard let r = recognizer.recognizeNow(samples, grammar: grammar) else { throw StartupError("\(file): decoding failed") }
            let line: [String: Any] = ["file": file, "text": r.text, "accepted": r.accepted, "score_per_frame": r.scorePerFrame,
                                       "confidence": r.confidence, "audio_seconds": r.audioSeconds, "decode_seconds": r.decodeSeconds]
            let json = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
            announce(String(decoding: json, as: UTF8.self))
        }
    }

    /// µ-law 8 kHz -> PCM16 16 kHz, the session's transcoder for a Twilio call's caller audio.
    static func toCallRate(_ ulaw: [UInt8]) throws -> [Int16] {
        let transcoder = try Transcoder(from: AudioFormat(encoding: .ulaw, sampleRate: 8000, channels: 1),
                                        to: AudioFormat(encoding: .pcm16LE, sampleRate: Recognizer.rate, channels: 1))
        guard let body = transcoder.maxOutputBytes(forInputBytes: ulaw.count), let tail = transcoder.maxOutputBytes(forInputBytes: 0) else { throw StartupError("too much audio") }
        let size = body + tail  // process, then drain into what is left: room for both
        var out = [UInt8](repeating: 0, count: size)
        let n = try ulaw.withUnsafeBytes { input in
            try out.withUnsafeMutableBytes { output in
                let n = try transcoder.process(input, into: output)
                return n + (try transcoder.drain(into: UnsafeMutableRawBufferPointer(rebasing: output[n...])))
            }
        }
        return stride(from: 0, to: n - 1, by: 2).map { Int16(bitPattern: UInt16(out[$0]) | UInt16(out[$0 + 1]) << 8) }
    }
}
