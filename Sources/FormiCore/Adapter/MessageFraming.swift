// Transports of whole messages (WebSocket): each frame is one message, text (JSON or a text line) or,
// where the template allows it, binary media holding the audio alone. They have no frames of their
// own: the template's messages carry the start, DTMF and the hangup.

struct MessageFraming: BinaryFraming {
    var isByteStream: Bool { false }
    var startWaitsForMedia: Bool { false }
    var hasOwnFrames: Bool { false }
    func refusal(callFormat format: AudioFormat, callId: String) -> String? { nil }
    func appendFrame(_ message: ControlFrame, to out: inout [UInt8]) {}
    func appendAudio(_ frame: UnsafeRawBufferPointer, format: AudioFormat, to out: inout [UInt8]) {}
}
