// The agent-server role: the provider's frames in, internal events out; the agent's audio in, the
// provider's messages out; marks, barge-in and playback truth.

/// A mark sent towards the provider and not yet echoed. The session's own marks (`auto`) measure
/// playback and are never shown to the host; marks the provider cannot carry (`wire` false) are
/// resolved by the clock.
struct OutstandingMark {
    var id: Int64
    var name: [UInt8]
    /// Position on the playback timeline (µs) that the mark follows.
    var position: Int64
    var auto: Bool
    var wire: Bool
    var sent = false
}

/// A start held until the call's format is known (AudioSocket: the first audio frame's type says it).
struct PendingStart {
    var pattern: Int?
    var callId: [UInt8]
    var streamId: [UInt8]

    init(_ event: ProviderEvent) {
        pattern = event.pattern
        callId = event.texts[.callId].map(Array.init) ?? []
        streamId = event.texts[.streamId].map(Array.init) ?? []
    }
}

/// What only the agent-server role keeps: the caller's media on its way in (early frames, the reorder
/// window), and the agent's on its way out (marks, playback truth, the provider's flow control).
final class AgentServerSide {
    var reorder: MediaReorder
    /// Media that came before start, in arrival order.
    var early: [MediaReorder.Frame] = []
    /// Frames dropped waiting for start.
    var earlyLost: Int64 = 0
    /// The track value of the caller's media (empty: every track).
    let callerTrack: [UInt8]
    /// AudioSocket: the start, waiting for the first audio frame to give the rate.
    var pendingStart: PendingStart?
    var tracker = PlaybackTracker()
    var marks: [OutstandingMark] = []
    var markCounter: Int64 = 0
    var sinceAutoMark: Int64 = 0
    var clearedMarkNames: [[UInt8]] = []
    /// How far ahead of real time the host's audio may run at the provider (sender-paced providers).
    let leadMicros: Int64?
    /// The provider's mark message, when the provider echoes marks (it has an incoming mark pattern too).
    let markMessage: OutgoingTemplate?
    /// The provider asked for no more audio for now (Asterisk MEDIA_XOFF) until it resumes.
    var paused = false

    init(template: ProviderTemplate, config: SessionConfig) {
        reorder = MediaReorder(window: config.reorderWindow)
        callerTrack = Array((config.callerTrack ?? template.callerTrack).utf8)
        leadMicros = config.outputLeadMilliseconds.map { Int64($0) &* 1000 } ?? (template.pacing == .sender ? 60_000 : nil)
        markMessage = template.patterns.contains { $0.kind == .mark } ? template.messages.mark : nil
    }
}

extension Session {
    // MARK: provider -> host

    /// One provider event (not an error; the session is not stopped: `Session.handle` saw to both).
    func handleProviderEvent(_ event: ProviderEvent, _ agent: AgentServerSide) {
        switch event.kind {
        case .error:
            break
        case .ignored:
            // Flow control: the provider's queue is full (Asterisk MEDIA_XOFF at 900 frames) or has room again.
            if let pattern = event.pattern {
                if pattern == template.pausePattern { agent.paused = true }
                if pattern == template.resumePattern { agent.paused = false }
            }
        case .connected:
            guard state == .awaitingHandshake else { return reject("duplicate connected: rejected") }
            state = .awaitingStart
            events.push(event)
        case .start:
            guard state != .streaming, agent.pendingStart == nil else {
                return reject("duplicate start: rejected (the call keeps the format of the first start)")
            }
            if framing.startWaitsForMedia {
                // AudioSocket's start (the UUID frame) does not say the rate: the first audio frame's
                // type does. The start waits for it.
                agent.pendingStart = PendingStart(event)
                return
            }
            startCall(event, agent)
        case .media:
            stats.framesIn &+= 1
            if let pending = agent.pendingStart { completeStart(pending, format: event.format, agent) }
            guard state == .streaming else { return holdEarlyMedia(event, agent) }
            acceptMedia(event, agent)
        case .dtmf:
            if let pending = agent.pendingStart { completeStart(pending, format: callFormat, agent) }
            stats.dtmfDigits &+= 1
            events.push(event)
        case .mark:
            markEchoed(event, agent)
        case .clear:
            events.push(event)
        case .stop:
            if let pending = agent.pendingStart { completeStart(pending, format: callFormat, agent) }
            finishCallerAudio(agent)
            state = .stopped
            stats.endedAt = now.map { $0 / 1000 }
            events.push(event)
        }
    }

    private func startCall(_ event: ProviderEvent, _ agent: AgentServerSide) {
        do throws(SessionError) {
            try beginCall(event)
        } catch {
            return reject("start: \(error.message)")
        }
        state = .streaming
        stats.startedAt = now.map { $0 / 1000 }
        events.push(event)
        releaseEarlyMedia(agent)
    }

    /// A start that waited for the call's format (AudioSocket) goes out with it.
    func completeStart(_ pending: PendingStart, format: AudioFormat, _ agent: AgentServerSide) {
        agent.pendingStart = nil
        pending.callId.withUnsafeBytes { callId in
            pending.streamId.withUnsafeBytes { streamId in
                var event = ProviderEvent(format: format)
                event.kind = .start
                event.pattern = pending.pattern
                event.texts[.callId] = callId
                event.texts[.streamId] = streamId
                startCall(event, agent)
            }
        }
    }

    /// Sets the call up from its start: the format, the ids outgoing messages need, the transcoders.
    private func beginCall(_ start: ProviderEvent) throws(SessionError) {
        let format = start.format
        let reply = agentWireFormat(call: format)
        let frame = frameBytes(for: reply)
        guard frame % reply.bytesPerFrame == 0 else {
            throw .unsupported("\(frame)-byte frames split a sample of \(reply.encoding.name)")
        }
        do throws(AudioError) {
            inbound = try Transcoder(from: format, to: localFormat, quality: config.resamplerQuality)
            outbound = try Transcoder(from: sendFormat, to: reply, quality: config.resamplerQuality, frameBytes: frame)
        } catch {
            throw .unsupported("cannot convert between \(format.encoding.name) \(format.sampleRate) Hz and the local format: \(error)")
        }
        // The session owns the call's format: the mapper reads the call's media in it from now on.
        callFormat = format
        mapper.expect(format)
        values.streamId = start.texts[.streamId].map(Array.init) ?? []
        values.callId = start.texts[.callId].map(Array.init) ?? []
        values.accountId = start.texts[.accountId].map(Array.init) ?? []
        // What outgoing messages say of the audio they carry (Plivo's playAudio names its content type).
        values.encoding = Array(template.encodingNames.name(for: reply).utf8)
        values.sampleRate = Int64(reply.sampleRate)
        values.channels = Int64(reply.channels)
        values.frameBytes = Int64(frame)
    }

    /// Media before start: held until start says what it is, up to a limit.
    private func holdEarlyMedia(_ event: ProviderEvent, _ agent: AgentServerSide) {
        guard let audio = event.audio else { return }
        guard agent.early.count < config.earlyMediaFrames else {
            let dropped = agent.early.count &+ 1
            agent.earlyLost = agent.earlyLost.addingSaturated(Int64(dropped))
            syncReorderCounters(agent)
            agent.early.removeAll(keepingCapacity: true)
            return reject("media before start: \(dropped) frames arrived without a start and were dropped")
        }
        stats.earlyFrames &+= 1
        agent.early.append(MediaReorder.Frame(key: event.chunk ?? event.sequence ?? 0, audio: Array(audio), sequence: event.sequence,
                                        timestamp: event.timestamp, chunk: event.chunk, pattern: event.pattern,
                                        streamId: event.texts[.streamId].map(Array.init) ?? []))
    }

    /// Start came: the held frames go through the reorder window as if they had just arrived.
    private func releaseEarlyMedia(_ agent: AgentServerSide) {
        let held = agent.early
        agent.early.removeAll(keepingCapacity: true)
        for frame in held {
            withEvent(of: frame) { event, _ in acceptMedia(event, agent) }
        }
    }

    /// The media event a held frame stands for, with everything it carried (views valid inside `body`).
    private func withEvent(of frame: MediaReorder.Frame, _ body: (ProviderEvent, UnsafeRawBufferPointer) -> Void) {
        frame.audio.withUnsafeBytes { audio in
            frame.streamId.withUnsafeBytes { streamId in
                var event = ProviderEvent(format: callFormat)
                event.kind = .media
                event.pattern = frame.pattern
                event.sequence = frame.sequence
                event.timestamp = frame.timestamp
                event.chunk = frame.chunk
                event.audio = audio
                if !frame.streamId.isEmpty { event.texts[.streamId] = streamId }
                body(event, audio)
            }
        }
    }

    /// The stream ended with media still waiting for a start that never came: dropped, counted, said.
    private func dropEarlyMedia(_ agent: AgentServerSide) {
        guard !agent.early.isEmpty else { return }
        let dropped = agent.early.count
        agent.earlyLost = agent.earlyLost.addingSaturated(Int64(dropped))
        agent.early.removeAll(keepingCapacity: true)
        syncReorderCounters(agent)
        reject("media before start: \(dropped) frame\(dropped == 1 ? "" : "s") arrived without a start and were dropped at the end of the call")
    }

    /// The end of the caller's audio: what the window holds, then the resampler's tail.
    private func finishCallerAudio(_ agent: AgentServerSide) {
        flushReorder(agent)
        dropEarlyMedia(agent)
        guard let inbound else { return }
        let tail = drain(inbound)
        guard tail.count > 0 else { return }
        var event = ProviderEvent(format: localFormat)
        event.kind = .media
        event.pattern = template.patterns.firstIndex { $0.kind == .media }
        event.audio = tail
        if !values.streamId.isEmpty {
            values.streamId.withUnsafeBytes { streamId in
                event.texts[.streamId] = streamId
                events.push(event)
            }
        } else {
            events.push(event)
        }
    }

    /// Media in the stream: in order through the reorder window, then converted and delivered.
    private func acceptMedia(_ event: ProviderEvent, _ agent: AgentServerSide) {
        guard let audio = event.audio else { return }
        if let track = event.texts[.track], !agent.callerTrack.isEmpty, !track.elementsEqual(agent.callerTrack) {
            // Another track of a both-tracks stream (the agent's own audio played to the caller).
            stats.otherTrackFrames = stats.otherTrackFrames.addingSaturated(1)
            return
        }
        let key = event.chunk ?? event.sequence
        if agent.reorder.accept(key: key, audio: audio, sequence: event.sequence, timestamp: event.timestamp, chunk: event.chunk,
                          pattern: event.pattern, streamId: event.texts[.streamId]) == .deliver {
            deliver(event, audio: audio)
        }
        // What this frame unblocked, or, past the window, what waited behind a lost one.
        while let frame = agent.reorder.nextReady() {
            deliverHeld(frame)
            agent.reorder.recycle(frame)
        }
        syncReorderCounters(agent)
    }

    private func flushReorder(_ agent: AgentServerSide) {
        while let frame = agent.reorder.nextReady(flushing: true) {
            deliverHeld(frame)
            agent.reorder.recycle(frame)
        }
        syncReorderCounters(agent)
    }

    private func syncReorderCounters(_ agent: AgentServerSide) {
        stats.lateFrames = agent.reorder.late
        stats.reorderedFrames = agent.reorder.reordered
        stats.duplicateFrames = agent.reorder.duplicates
        stats.lostFrames = agent.earlyLost.addingSaturated(agent.reorder.lost)
        stats.ignoredFrames = agent.reorder.ignored
        stats.resyncs = agent.reorder.resyncs
    }

    /// A frame the window held, delivered with everything its event carried.
    private func deliverHeld(_ frame: MediaReorder.Frame) {
        withEvent(of: frame) { event, audio in deliver(event, audio: audio) }
    }

    /// Converts one frame of the call's audio to the local format and queues its media event.
    private func deliver(_ event: ProviderEvent, audio: UnsafeRawBufferPointer) {
        guard let transcoder = inboundTranscoder(for: event.format) else { return }
        guard let reserved = transcoder.maxOutputBytes(forInputBytes: audio.count) else { return }
        stats.callerAudioMicros &+= SessionStats.micros(bytes: audio.count, format: event.format)
        let room = events.audioRoom(reserved)
        do throws(AudioError) {
            let written = try transcoder.process(audio, into: room)
            var converted = event
            converted.format = localFormat
            events.pushWritten(converted, reserved: reserved, length: written)
        } catch {
            events.pushWritten(event, reserved: reserved, length: 0)
            reject("media: \(error)")
        }
    }

    // MARK: host -> provider

    /// Ends an utterance: the last partial frame goes out padded with silence, then a playback mark.
    func flushAgentAudio(_ agent: AgentServerSide) throws(SessionError) {
        guard state == .streaming, let outbound else { throw .state("no call is streaming") }
        try emitFrames(drain(outbound), agent: agent, telephony: nil)
        if config.playbackMarkInterval > 0 && agent.sinceAutoMark > 0 { queueMark(nil, agent) }
        output.push(UnsafeRawBufferPointer(start: nil, count: 0), binary: false, kind: .utteranceEnd)
    }

    /// A named mark after the audio sent so far. It follows every whole frame; what the framer holds
    /// back (under one frame) goes out after it, so a mark mid-utterance adds no gap and does not reset
    /// the resampler. Flush first to put it after everything.
    func sendAgentMark(_ name: [UInt8], _ agent: AgentServerSide) throws(SessionError) {
        guard state == .streaming else { throw .state("no call is streaming") }
        guard !name.starts(with: Self.autoMarkPrefix) else { throw .invalidConfig("mark names starting \"formi-\" are the session's own") }
        guard !name.isEmpty, name.count <= 256 else { throw .invalidConfig("a mark name is 1 to 256 bytes") }
        queueMark(name, agent)
        stats.marksSent &+= 1
    }

    /// Barge-in: every agent frame not yet taken is dropped, the provider is told to clear what it
    /// holds, and outstanding marks are reported cleared. Returns the interrupted utterance's figures.
    func interruptAgent(_ agent: AgentServerSide) throws(SessionError) -> PlaybackReport {
        guard state == .streaming else { throw .state("no call is streaming") }
        let unsent = output.dropMedia()
        outbound?.reset()
        agent.sinceAutoMark = 0
        let unplayed = agent.tracker.unplayed(now: now)
        let report = agent.tracker.interrupt(now: now, queued: unsent)
        stats.interruptions &+= 1
        stats.interruptedAudioMicros &+= unsent &+ unplayed
        if let clear = template.messages.clear, render(clear, name: "clear") {
            output.push(rendered, binary: false, kind: .control)
        }
        agent.clearedMarkNames.removeAll(keepingCapacity: true)
        for mark in agent.marks where !mark.auto {
            pushMarkEvent(mark.name, reason: "cleared")
            stats.marksCleared &+= 1
            if mark.wire && mark.sent { agent.clearedMarkNames.append(mark.name) }
        }
        agent.marks.removeAll(keepingCapacity: true)
        return report
    }

    func endAgentCall(reason: String, _ agent: AgentServerSide) {
        if let pending = agent.pendingStart { completeStart(pending, format: callFormat, agent) }
        finishCallerAudio(agent)
        if framing.hasOwnFrames {
            rendered.removeAll(keepingCapacity: true)
            framing.appendFrame(.hangup, to: &rendered)
            output.push(rendered, binary: true, kind: .control)
        } else if let hangup = template.messages.hangup, render(hangup, name: "hangup") {
            output.push(rendered, binary: false, kind: .control)
        }
        var event = ProviderEvent(format: callFormat)
        event.kind = .stop
        Array(reason.utf8).withUnsafeBytes { text in
            event.texts[.reason] = text
            events.push(event)
        }
    }

    // MARK: marks

    /// Queues a mark after everything queued so far: the host's (`name`) or the session's own (nil).
    func queueMark(_ name: [UInt8]?, _ agent: AgentServerSide) {
        agent.markCounter &+= 1
        agent.sinceAutoMark = 0
        let auto = name == nil
        let markName = name ?? (Self.autoMarkPrefix + Array(String(agent.markCounter).utf8))
        let markMessage = agent.markMessage
        if auto && markMessage == nil { return }  // the clock alone measures playback then
        var mark = OutstandingMark(id: agent.markCounter, name: markName, position: agent.tracker.sent &+ output.queuedMicros, auto: auto,
                                   wire: markMessage != nil)
        if let template = markMessage {
            values.mark = markName
            if render(template, name: "mark") {
                output.push(rendered, binary: false, kind: .mark(id: mark.id))
            } else {
                mark.wire = false
            }
        }
        agent.marks.append(mark)
    }

    /// The provider echoed a mark: the audio before it has played.
    private func markEchoed(_ event: ProviderEvent, _ agent: AgentServerSide) {
        guard let name = event.texts[.mark] else { return passUnsolicited(event) }
        let providerCleared = event.texts[.reason].map { $0.elementsEqual("cleared".utf8) } ?? false
        if let index = agent.marks.firstIndex(where: { $0.wire && $0.name.elementsEqual(name) }) {
            // Echoes come in order: wire marks before this one have played too.
            var i = 0
            var last = index
            while i <= last {
                let mark = agent.marks[i]
                guard mark.wire else {
                    i &+= 1
                    continue
                }
                agent.marks.remove(at: i)
                last &-= 1
                if !providerCleared { agent.tracker.confirm(mark.position, now: now) }
                guard !mark.auto else { continue }
                pushMarkEvent(mark.name, reason: providerCleared ? "cleared" : "played")
                if providerCleared { stats.marksCleared &+= 1 } else { stats.marksPlayed &+= 1 }
            }
            return
        }
        if name.starts(with: Self.autoMarkPrefix) { return }
        if let index = agent.clearedMarkNames.firstIndex(where: { $0.elementsEqual(name) }) {
            // Echo of a mark an interrupt already reported cleared.
            agent.clearedMarkNames.remove(at: index)
            return
        }
        passUnsolicited(event)
    }

    /// A mark this session did not send (or one without a name): handed to the host as a MARK event with
    /// what it carried and the reason "unsolicited", unless the provider gave one.
    private func passUnsolicited(_ event: ProviderEvent) {
        guard event.texts[.reason] == nil else { return events.push(event) }
        var marked = event
        let reason: StaticString = "unsolicited"
        marked.texts[.reason] = UnsafeRawBufferPointer(start: reason.utf8Start, count: reason.utf8CodeUnitCount)
        events.push(marked)
    }

    /// Marks the provider cannot echo: played once the clock says their audio has.
    func resolveLocalMarks(_ agent: AgentServerSide) {
        guard agent.marks.contains(where: { !$0.wire }) else { return }
        let played = agent.tracker.estimated(now: now)
        var index = 0
        while index < agent.marks.count {
            let mark = agent.marks[index]
            if !mark.wire && mark.position <= played && mark.position <= agent.tracker.sent {
                if !mark.auto {
                    pushMarkEvent(mark.name, reason: "played")
                    stats.marksPlayed &+= 1
                }
                agent.marks.remove(at: index)
            } else {
                index &+= 1
            }
        }
    }
}
