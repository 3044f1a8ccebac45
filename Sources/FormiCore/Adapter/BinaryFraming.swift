// A transport's framing of its own, as the session sees it: how binary input is cut, and the frames
// the transport has for audio and control messages. One conformer per transport, each in its file:
// MessageFraming (one whole message per frame: JSON or text lines, raw binary media) and
// AudioSocketFraming (AudioSocket.swift).

protocol BinaryFraming: Sendable {
    /// Binary input is a byte stream to cut into frames (AudioSocketStream), not one message per frame.
    var isByteStream: Bool { get }
    /// The start does not say the call's format: the first audio frame does.
    var startWaitsForMedia: Bool { get }
    /// Audio, the call's start, DTMF and the hangup travel in the transport's own frames, not in the
    /// template's messages.
    var hasOwnFrames: Bool { get }
    /// Why the transport cannot carry a call in `format` identified by `callId`, if it cannot.
    func refusal(callFormat format: AudioFormat, callId: String) -> String?
    /// Appends the transport's frame for a control message (with `hasOwnFrames`).
    func appendFrame(_ message: ControlFrame, to out: inout [UInt8])
    /// Appends the transport's frame for one frame of audio in `format` (with `hasOwnFrames`).
    func appendAudio(_ frame: UnsafeRawBufferPointer, format: AudioFormat, to out: inout [UInt8])
}

/// The control messages a transport may frame itself.
enum ControlFrame {
    case start(callId: String)
    case dtmf(UInt8)
    case hangup
}

extension ProviderTemplate {
    /// The framing of this template's transport.
    var binaryFraming: any BinaryFraming {
        switch binary {
        case .audiosocket: AudioSocketFraming()
        case .reject, .media: MessageFraming()
        }
    }
}
