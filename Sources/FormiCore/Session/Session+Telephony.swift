// The telephony role: the session speaks as the provider. It announces the call (connected, start),
// sends the caller's audio as the provider's media messages, reads the agent server's messages with the
// template's derived server side (ServerTemplate.swift), and keeps the agent's audio in a playback queue
// that the host reads at its own 20 ms clock. Marks are echoed exactly when the audio before them has
// been read; clear empties the queue.

/// What only the telephony role keeps: the agent's audio waiting to be played, and the numbering of
/// the provider's messages it speaks.
final class TelephonySide {
    var playback: PlaybackQueue
    /// The number of the last numbered message sent (Twilio's sequenceNumber).
    var sequence: Int64 = 0
    /// The number of the last media message sent.
    var chunk: Int64 = 0
    /// Caller audio sent so far (µs): the media messages' timestamps.
    var callerMicros: Int64 = 0

    init(config: SessionConfig) {
        let queueBytes = Int(SessionStats.bytes(micros: Int64(config.maxQueuedMilliseconds) &* 1000, format: config.localFormat))
        playback = PlaybackQueue(capacityLimit: queueBytes)
    }
}

extension Session {
    /// Queues the provider's first messages: connected (if the provider has one) and start.
    func announceCall(_ telephony: TelephonySide) throws(SessionError) {
        let format = config.callFormat ?? template.defaultFormat
        guard SampleRate.isSupported(format.sampleRate), format.channels == 1 || format.channels == 2 else {
            throw .invalidConfig("unsupported call format: \(format.sampleRate) Hz, \(format.channels) channels")
        }
        let call = config.call
        var parameters = JSONDocument(limits: JSONLimits(maxBytes: 64 * 1024, maxDepth: 16, maxValues: 1024))
        let parametersText = Array(call.customParameters.utf8)
        let problem: String? = parametersText.withUnsafeBytes { bytes in
            do throws(JSONError) {
                try parameters.parse(bytes)
                return parameters.root.kind == .object ? nil : "not an object"
            } catch {
                return error.message
            }
        }
        if let problem { throw .invalidConfig("custom_parameters must be a JSON object: \(problem)") }
        if let refusal = framing.refusal(callFormat: format, callId: call.callId) { throw .invalidConfig(refusal) }
        if !framing.hasOwnFrames && template.telephonyMessages.start == nil {
            throw .unsupported("\(template.name) has no events.telephony.start: it cannot be used in the telephony role")
        }
        if template.payload == .base64 && template.telephonyMessages.media == nil {
            throw .unsupported("\(template.name) has no events.telephony.media: it cannot send caller audio")
        }
        let frame = callerFrameBytes(for: format)
        let reply = agentWireFormat(call: format)
        do throws(AudioError) {
            outbound = try Transcoder(from: sendFormat, to: format, quality: config.resamplerQuality, frameBytes: frame)
            inbound = try Transcoder(from: reply, to: localFormat, quality: config.resamplerQuality)
        } catch {
            throw .unsupported("cannot convert between the local format and \(format.encoding.name) \(format.sampleRate) Hz: \(error)")
        }
        callFormat = format
        // The agent server's media comes in the agent's wire format.
        mapper.expect(reply)
        values.streamId = Array(call.streamId.utf8)
        values.callId = Array(call.callId.utf8)
        values.accountId = Array(call.accountId.utf8)
        values.from = Array(call.from.utf8)
        values.to = Array(call.to.utf8)
        values.direction = Array(call.direction.utf8)
        values.customParameters = parametersText
        values.encoding = Array(template.encodingNames.name(for: format).utf8)
        values.sampleRate = Int64(format.sampleRate)
        values.channels = Int64(format.channels)
        values.frameBytes = Int64(format.bytesPer20ms)

        if let connected = template.telephonyMessages.connected { try sendProviderMessage(connected, name: "connected", telephony) }
        if framing.hasOwnFrames {
            rendered.removeAll(keepingCapacity: true)
            framing.appendFrame(.start(callId: call.callId), to: &rendered)
            output.push(rendered, binary: true, kind: .control)
        } else if let start = template.telephonyMessages.start {
            try sendProviderMessage(start, name: "start", telephony)
        }
        state = .streaming
    }

    /// Caller audio goes out in 20 ms frames unless the provider's own frames are fixed otherwise.
    private func callerFrameBytes(for format: AudioFormat) -> Int {
        let rule = template.frameRule
        if rule.exact != nil || rule.milliseconds != nil { return frameBytes(for: format) }
        return format.bytesPer20ms
    }

    /// Renders one of the provider's own messages (numbering it) and queues it.
    func sendProviderMessage(_ message: OutgoingTemplate, name: String, kind: OutputQueue.Kind = .control, _ telephony: TelephonySide) throws(SessionError) {
        // Only numbered messages take a number: Twilio's start is "1" (its connected has none).
        if message.placeholders.contains("sequence") {
            telephony.sequence &+= 1
            values.sequence = telephony.sequence
        }
        rendered.removeAll(keepingCapacity: true)
        let missing = message.render(inPlace: &values, into: &rendered)
        if let missing {
            throw .unsupported("cannot render \(name): no value for {{\(missing.rawValue)}}")
        }
        output.push(rendered, binary: false, kind: kind)
    }

    // MARK: host -> agent server

    /// A DTMF digit from the caller.
    func sendCallerDigit(_ digit: UInt8, durationMilliseconds: Int64, _ telephony: TelephonySide) throws(SessionError) {
        guard state == .streaming else { throw .state("the call has ended") }
        guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) || [UInt8(ascii: "*"), UInt8(ascii: "#")].contains(digit)
                || (UInt8(ascii: "A")...UInt8(ascii: "D")).contains(digit) else {
            throw .invalidConfig("a DTMF digit is 0-9, *, # or A-D")
        }
        if framing.hasOwnFrames {
            rendered.removeAll(keepingCapacity: true)
            framing.appendFrame(.dtmf(digit), to: &rendered)
            output.push(rendered, binary: true, kind: .control)
        } else {
            guard let dtmf = template.telephonyMessages.dtmf else { throw .unsupported("\(template.name) has no events.telephony.dtmf") }
            values.digit = [digit]
            values.duration = durationMilliseconds
            try sendProviderMessage(dtmf, name: "dtmf", telephony)
        }
        stats.dtmfDigits &+= 1
    }

    func endTelephonyCall(reason: String, _ telephony: TelephonySide) {
        values.reason = Array(reason.utf8)
        if framing.hasOwnFrames {
            rendered.removeAll(keepingCapacity: true)
            framing.appendFrame(.hangup, to: &rendered)
            output.push(rendered, binary: true, kind: .control)
        } else if let stop = template.telephonyMessages.stop {
            try? sendProviderMessage(stop, name: "stop", telephony)
        }
    }

    // MARK: agent server -> host

    /// One event of the agent server (not an error; the session is not stopped: `Session.handle` saw to both).
    func handleServerEvent(_ event: ProviderEvent, _ telephony: TelephonySide) {
        switch event.kind {
        case .media:
            stats.framesIn &+= 1
            if config.strict, !conforms(event) { return }
            queuePlayback(event, telephony)
        case .mark:
            guard let name = event.texts[.mark] else { return reject("mark without a name") }
            stats.marksSent &+= 1
            if telephony.playback.isEmpty {
                echoMark(Array(name), cleared: false, telephony)
            } else {
                telephony.playback.appendMark(name)
            }
        case .clear:
            let dropped = telephony.playback.clear()
            let droppedMicros = SessionStats.micros(bytes: dropped, format: localFormat)
            stats.interruptions &+= 1
            stats.interruptedAudioMicros &+= droppedMicros
            for mark in telephony.playback.takeMarks() { echoMark(mark.name, cleared: true, telephony) }
            if let cleared = template.telephonyMessages.cleared { try? sendProviderMessage(cleared, name: "cleared", telephony) }
            events.push(event)
        case .stop:
            state = .stopped
            stats.endedAt = now.map { $0 / 1000 }
            events.push(event)
        case .error, .ignored, .connected, .start, .dtmf:
            break
        }
    }

    /// Strict: whether agent media keeps the provider's rules; each rule broken is an error event naming
    /// it. Media for another stream is dropped, as the provider drops it; the rest is still played.
    private func conforms(_ event: ProviderEvent) -> Bool {
        let media = template.messages.media
        if media?.placeholders.contains("stream_id") == true {
            let given = event.texts[.streamId]
            guard let given, given.elementsEqual(values.streamId) else {
                let what = given.map { "\"\(String(decoding: $0, as: UTF8.self))\"" } ?? "no stream id"
                reject("\(template.name) rule: media for \(what), not this call's stream \"\(String(decoding: values.streamId, as: UTF8.self))\": the provider drops it\(template.name == "twilio" ? " (error 31951)" : "")")
                return false
            }
        }
        if let name = mapper.encodingName, mapper.template.encodingNames.hasOwnNames, !mapper.template.encodingNames.isOwn(name) {
            reject("\(template.name) rule: encoding \"\(String(decoding: name, as: UTF8.self))\" is not one \(template.name) knows (\(mapper.template.encodingNames.ownNames.joined(separator: ", ")))")
        }
        if template.strictFrames, let audio = event.audio, let allowed = allowedFrame(audio.count, format: event.format) {
            reject("\(template.name) rule: \(audio.count)-byte media: \(template.name) takes \(allowed)")
        }
        return true
    }

    /// nil when `count` bytes is a frame size the provider takes, else what it takes.
    private func allowedFrame(_ count: Int, format: AudioFormat) -> String? {
        let rule = template.frameRule
        if let exact = rule.exact { return count == exact ? nil : "exactly \(exact) bytes" }
        if let ms = rule.milliseconds {
            let bytes = format.sampleRate * ms / 1000 * format.bytesPerFrame
            return count == bytes ? nil : "exactly \(ms) ms (\(bytes) bytes at \(format.sampleRate) Hz)"
        }
        if let multiple = rule.multiple {
            let low = rule.minimum ?? multiple, high = rule.maximum ?? Int.max
            return count % multiple == 0 && count >= low && count <= high ? nil
                : "multiples of \(multiple) bytes from \(low)\(high == Int.max ? "" : " to \(high)") bytes"
        }
        return nil
    }

    /// The agent's audio, converted to the local format, into the playback queue.
    private func queuePlayback(_ event: ProviderEvent, _ telephony: TelephonySide) {
        guard let audio = event.audio, let transcoder = inboundTranscoder(for: event.format) else { return }
        let converted: UnsafeRawBufferPointer
        do throws(AudioError) {
            converted = try convert(audio, with: transcoder)
        } catch {
            return reject("media: \(error)")
        }
        let micros = SessionStats.micros(bytes: converted.count, format: localFormat)
        guard telephony.playback.append(converted) else {
            stats.overflowAudioMicros &+= micros
            return reject("playback queue full: \(micros / 1000) ms of agent audio dropped (cap \(config.maxQueuedMilliseconds) ms)")
        }
        stats.agentAudioMicros &+= micros
    }

    /// Fills `out` with the next audio to play (padded with silence when the queue runs short) and
    /// echoes the marks whose audio has now been read. Returns the bytes of real audio.
    func readPlayback(into out: UnsafeMutableRawBufferPointer, _ telephony: TelephonySide) -> Int {
        let whole = out.count &- out.count % localFormat.bytesPerFrame
        let read = telephony.playback.read(into: UnsafeMutableRawBufferPointer(rebasing: out[0..<whole]))
        if read < out.count {
            let silence = localFormat.encoding.silence
            for i in read..<out.count { out[i] = silence[i % silence.count] }
        }
        stats.playedAudioMicros &+= SessionStats.micros(bytes: read, format: localFormat)
        while let mark = telephony.playback.nextDueMark() {
            echoMark(mark.name, cleared: false, telephony)
        }
        return read
    }

    /// Audio waiting in the playback queue (µs).
    func queuedPlaybackMicros(_ telephony: TelephonySide) -> Int64 { SessionStats.micros(bytes: telephony.playback.count, format: localFormat) }

    /// Tells the agent server that a mark's audio has played (or was cleared).
    private func echoMark(_ name: [UInt8], cleared: Bool, _ telephony: TelephonySide) {
        let messages = template.telephonyMessages
        guard let template = (cleared ? messages.markCleared : nil) ?? messages.mark else { return }
        values.mark = name
        guard (try? sendProviderMessage(template, name: "mark", telephony)) != nil else { return }
        if cleared { stats.marksCleared &+= 1 } else { stats.marksPlayed &+= 1 }
    }
}
