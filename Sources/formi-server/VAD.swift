// The caller's turns: WebRTC's C VAD (mode 2: 99.7% of speech flagged, 0.1% of far silence, in
// ../shared/reference/speech.md's measurements) on 20 ms frames of the call's 16 kHz audio, with a
// hangover before a turn ends. Frames arrive in whatever sizes the provider sends; they are cut into
// exact 20 ms frames here (the VAD refuses any other length).

import CWebRTCVAD

final class TurnDetector {
    enum Change {
        /// Speech began (the caller has been talking for `speechToStart` frames).
        case speechStarted
        /// The caller paused long enough: a turn of `speechMs` of speech ended.
        case turnEnded(speechMs: Int)
    }

    static let frameSamples = 320  // 20 ms at 16 kHz
    /// Speech this long starts a turn, and is a barge-in while the agent talks (60 ms).
    let speechToStart = 3
    /// Silence this long ends a turn (300 ms hangover).
    let silenceToEnd = 15
    /// Turns with less speech than this (a click, a cough) are not turns (200 ms).
    let minimumSpeech = 10

    private let vad: OpaquePointer?
    private var pending = [Int16](repeating: 0, count: frameSamples)
    private var filled = 0
    private var speechRun = 0
    private var silenceRun = 0
    private(set) var inTurn = false
    private var turnSpeechFrames = 0
    private(set) var framesFlagged = 0

    init?() {
        guard let vad = WebRtcVad_Create() else { return nil }
        guard WebRtcVad_Init(vad) == 0, WebRtcVad_set_mode(vad, 2) == 0 else {
            WebRtcVad_Free(vad)
            return nil
        }
        self.vad = vad
    }

    deinit { WebRtcVad_Free(vad) }

    /// Feeds caller audio (16 kHz PCM16); calls `change` for each turn boundary found.
    func feed(_ samples: UnsafeBufferPointer<Int16>, _ change: (Change) -> Void) {
        var index = 0
        while index < samples.count {
            let take = min(Self.frameSamples - filled, samples.count - index)
            for k in 0..<take { pending[filled + k] = samples[index + k] }
            filled += take
            index += take
            guard filled == Self.frameSamples else { break }
            filled = 0
            let speech = pending.withUnsafeBufferPointer { WebRtcVad_Process(vad, 16000, $0.baseAddress, Self.frameSamples) } == 1
            step(speech: speech, change)
        }
    }

    private func step(speech: Bool, _ change: (Change) -> Void) {
        if speech {
            framesFlagged += 1
            speechRun += 1
            silenceRun = 0
            if inTurn { turnSpeechFrames += 1 }
            if !inTurn, speechRun >= speechToStart {
                inTurn = true
                turnSpeechFrames = speechRun
                change(.speechStarted)
            }
        } else {
            speechRun = 0
            silenceRun += 1
            if inTurn, silenceRun >= silenceToEnd {
                inTurn = false
                if turnSpeechFrames >= minimumSpeech { change(.turnEnded(speechMs: turnSpeechFrames * 20)) }
                turnSpeechFrames = 0
            }
        }
    }
}
