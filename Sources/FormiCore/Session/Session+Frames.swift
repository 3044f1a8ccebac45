// The host's audio on its way out, for either role: cut into the frames the far end takes and put on
// the wire as its media messages. The roles differ only in what rides along: the agent-server role
// counts audio towards its playback marks; the telephony role numbers its messages as the provider does.

/// How one frame of audio goes on the wire (decided once per session).
enum MediaFraming {
    /// A binary frame holding the audio alone.
    case raw
    /// The transport's own audio frame (`Session.framing`; AudioSocket's type says the rate).
    case transport
    /// A text message rendered from the template, the audio in its {{audio}}.
    case message(OutgoingTemplate)
    /// The template has no way to send audio: frames are dropped.
    case none

    init(template: ProviderTemplate, framing: any BinaryFraming, role: SessionRole) {
        if framing.hasOwnFrames {
            self = .transport
            return
        }
        switch role {
        case .agentServer:
            // Binary media only where the provider takes binary frames at all.
            if template.binary == .media && template.payload == .binary {
                self = .raw
            } else if let media = template.messages.media {
                self = .message(media)
            } else {
                self = .none
            }
        case .telephony:
            // Speaking as the provider: its audio is binary whenever its payload is.
            if template.payload == .binary {
                self = .raw
            } else if let media = template.telephonyMessages.media {
                self = .message(media)
            } else {
                self = .none
            }
        }
    }
}

extension Session {
    /// Queues one media message per whole frame of `framed` (a multiple of the frame size). Throws only
    /// in the telephony role, when the provider's media message cannot be rendered (frames before it
    /// stay queued); the agent-server role reports that as an error event and carries on.
    /// (`agent` or `telephony`: the session's side.)
    func emitFrames(_ framed: UnsafeRawBufferPointer, agent: AgentServerSide?, telephony: TelephonySide?) throws(SessionError) {
        guard let outbound, outbound.frameBytes > 0 else { return }
        let size = outbound.frameBytes
        let micros = SessionStats.micros(bytes: size, format: outbound.output)
        let markEvery = Int64(config.playbackMarkInterval) &* 1000
        defer { values.audio = UnsafeRawBufferPointer(start: nil, count: 0) }
        var offset = 0
        while offset &+ size <= framed.count {
            let frame = UnsafeRawBufferPointer(rebasing: framed[offset..<(offset &+ size)])
            offset &+= size
            switch mediaFraming {
            case .raw:
                output.push(frame, binary: true, kind: .media(micros: micros))
            case .transport:
                rendered.removeAll(keepingCapacity: true)
                framing.appendAudio(frame, format: outbound.output, to: &rendered)
                output.push(rendered, binary: true, kind: .media(micros: micros))
            case .message(let media):
                values.audio = frame
                if let telephony {
                    telephony.chunk &+= 1
                    values.chunk = telephony.chunk
                    values.timestamp = telephony.callerMicros / 1000
                    try sendProviderMessage(media, name: "media", kind: .media(micros: micros), telephony)
                } else {
                    guard render(media, name: "media") else { continue }
                    output.push(rendered, binary: false, kind: .media(micros: micros))
                }
            case .none:
                continue
            }
            stats.framesOut &+= 1
            if let telephony { telephony.callerMicros &+= micros }
            if let agent {
                agent.sinceAutoMark &+= micros
                if markEvery > 0 && agent.sinceAutoMark >= markEvery { queueMark(nil, agent) }
            }
        }
    }
}
