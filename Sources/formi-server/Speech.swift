// The demo agent's voice: espeak-ng linked as a library. espeak-ng is a process-wide singleton (one
// voice, one callback) that crashes when two threads synthesise at once, so every call goes through one
// serial queue (a thread of its own, off the event loops) in SYNCHRONOUS mode; a sentence takes ~2 ms.
// Its 22,050 Hz output is resampled to the calls' 16 kHz by the library's resampler. Rendered prompts
// repeat across calls, so they are cached. When synthesis fails the caller hears a tone pattern instead
// (logged and counted), never silence.

import CEspeakNG
import Dispatch
import FormiCore
import Foundation
import Logging
import Synchronization

final class Speech: @unchecked Sendable {
    /// The calls' audio: PCM16 at this rate (the sessions' local format).
    static let outputRate = 16000

    struct Utterance: Sendable {
        var samples: [Int16]
        /// Synthesis failed: this is the tone fallback.
        var fallback: Bool
    }

    private let queue = DispatchQueue(label: "formi.speech")
    private let logger: Logger
    private let metrics: ServerMetrics
    /// espeak-ng's rate, 0 when it could not start (no data): every utterance is then the fallback.
    private var espeakRate: Int32 = 0
    private var currentVoice = ""
    private var currentRate: Int32 = 0
    /// Rendered prompts (most are the same on every call): a hit is answered at once, no queue.
    private let cache = Mutex<(entries: [String: [Int16]], order: [String])>(([:], []))
    private let cacheLimit = 256

    init(logger: Logger, metrics: ServerMetrics) {
        self.logger = logger
        self.metrics = metrics
        queue.sync {
            // DONT_EXIT: without it a missing data directory makes espeak-ng call exit(1). With it,
            // Initialize returns 0 (not -1) on failure, so the rate is what tells.
            espeakRate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nil, Int32(espeakINITIALIZE_DONT_EXIT))
            if espeakRate > 0 {
                espeak_SetSynthCallback { wav, count, events in
                    guard let wav, count > 0, let events, let context = events.pointee.user_data else { return 0 }
                    let sink = Unmanaged<SampleSink>.fromOpaque(context).takeUnretainedValue()
                    sink.samples.append(contentsOf: UnsafeBufferPointer(start: wav, count: Int(count)))
                    return 0
                }
            }
        }
        if espeakRate > 0 {
            logger.info("espeak-ng ready", metadata: ["rate": "\(espeakRate)"])
        } else {
            logger.error("espeak-ng could not start (is espeak-ng-data installed?): prompts will be tones")
        }
    }

    var available: Bool { espeakRate > 0 }

    /// The text spoken in `voice` at `wpm`, as 16 kHz PCM16; the tone pattern if that fails.
    func speak(_ text: String, voice: String, wpm: Int) async -> Utterance {
        if let hit = cache.withLock({ $0.entries[Self.key(text, voice, wpm)] }) { return Utterance(samples: hit, fallback: false) }
        return await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: self.synthesize(text, voice: voice, wpm: wpm))
            }
        }
    }

    private static func key(_ text: String, _ voice: String, _ wpm: Int) -> String { "\(voice)|\(wpm)|\(text)" }

    private func synthesize(_ text: String, voice: String, wpm: Int) -> Utterance {
        let key = Self.key(text, voice, wpm)
        if let hit = cache.withLock({ $0.entries[key] }) { return Utterance(samples: hit, fallback: false) }
        let started = ContinuousClock.now
        guard let samples = render(text, voice: voice, wpm: wpm) else {
            metrics.ttsFallbacks.increment()
            metrics.errors(kind: "tts").increment()
            return Utterance(samples: Self.tones, fallback: true)
        }
        metrics.ttsSeconds.record(ContinuousClock.now - started)
        cache.withLock { c in
            c.entries[key] = samples
            c.order.append(key)
            if c.order.count > cacheLimit { c.entries[c.order.removeFirst()] = nil }
        }
        return Utterance(samples: samples, fallback: false)
    }

    private final class SampleSink { var samples: [Int16] = [] }

    private func render(_ text: String, voice: String, wpm: Int) -> [Int16]? {
        guard espeakRate > 0 else { return nil }
        if voice != currentVoice {
            let status = espeak_SetVoiceByName(voice)
            guard status == EE_OK else {
                logger.warning("espeak-ng has no voice \(voice) (status \(status.rawValue))")
                return nil
            }
            currentVoice = voice
        }
        let wpm = Int32(clamping: wpm)
        if wpm != currentRate {
            _ = espeak_SetParameter(espeakRATE, wpm, 0)
            currentRate = wpm
        }
        let sink = SampleSink()
        let context = Unmanaged.passUnretained(sink).toOpaque()
        let status: espeak_ERROR = withExtendedLifetime(sink) {
            text.withCString { cText in
                espeak_Synth(cText, strlen(cText) + 1, 0, POS_CHARACTER, 0,
                             UInt32(espeakCHARS_UTF8 | espeakENDPAUSE), nil, context)
            }
        }
        guard status == EE_OK, !sink.samples.isEmpty else {
            logger.warning("espeak-ng failed to speak a prompt", metadata: ["status": "\(status.rawValue)", "text": "\(text.prefix(80))"])
            return nil
        }
        return resample(sink.samples, from: Int(espeakRate))
    }

    /// espeak-ng's rate -> the calls' rate, with the library's (speexdsp) resampler, drained.
    private func resample(_ input: [Int16], from rate: Int) -> [Int16]? {
        guard rate != Self.outputRate else { return input }
        do throws(AudioError) {
            let resampler = try Resampler(channels: 1, inputRate: rate, outputRate: Self.outputRate)
            let capacity = (resampler.maxOutputFrames(forInputFrames: input.count) ?? input.count) + resampler.maxDrainFrames
            var output = [Int16](repeating: 0, count: capacity)
            let produced = try input.withUnsafeBufferPointer { inBuf throws(AudioError) -> Int in
                try output.withUnsafeMutableBufferPointer { outBuf throws(AudioError) -> Int in
                    let n = try resampler.process(inBuf, into: outBuf)
                    let rest = UnsafeMutableBufferPointer(rebasing: outBuf[n...])
                    return n + (try resampler.drain(into: rest))
                }
            }
            output.removeSubrange(produced...)
            return output
        } catch {
            logger.warning("resampling a prompt failed: \(error)")
            return nil
        }
    }

    /// The fallback: three short 440/660 Hz beeps, 0.9 s in all, at -12 dBFS.
    static let tones: [Int16] = {
        var out: [Int16] = []
        let rate = Double(outputRate)
        for (frequency, on) in [(440.0, 0.15), (660.0, 0.15), (440.0, 0.15)] {
            for i in 0..<Int(rate * on) {
                out.append(Int16(8000 * sin(2 * Double.pi * frequency * Double(i) / rate)))
            }
            out.append(contentsOf: repeatElement(0, count: Int(rate * 0.15)))
        }
        return out
    }()

    func shutdown() {
        queue.sync { if espeakRate > 0 { _ = espeak_Terminate() } }
    }
}
