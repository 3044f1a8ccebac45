import FormiCore
import Testing

@Suite("Session: both roles against each other")
struct SessionRoleTests {
    /// Every built-in provider: a telephony-role session talks to an agent-server-role session. Caller
    /// audio, agent audio, marks, DTMF and hang-up arrive intact and in order.
    @Test(arguments: BuiltinTemplates.names)
    func roleAgainstRole(provider: String) throws {
        let wire = try Wire(provider: provider)
        let format = wire.phone.callFormat
        try wire.phoneToAgent()
        if provider == "audiosocket" {
            // AudioSocket's start (the UUID frame) does not say the rate: the first audio frame does, and
            // the start waits for it (Asterisk sends audio at once).
            #expect(wire.agent.takeEvents().isEmpty)
            try wire.phone.send(samples: [Int16](repeating: 0, count: format.sampleRate / 50))
            try wire.phoneToAgent()
        }
        let opening = wire.agent.takeEvents().filter { $0.kind != .media }
        let start = try #require(opening.last)
        #expect(start.kind == .start, "\(provider): \(opening)")
        #expect(opening.allSatisfy { $0.kind == .connected || $0.kind == .start }, "\(provider): \(opening)")
        #expect(wire.agent.callFormat == format)
        #expect(wire.agent.state == .streaming)

        // Caller audio: one second, whole 20 ms frames, lossless but for the encoding's own quantisation.
        let caller = Signals.speechWithGap(rate: format.sampleRate, seconds: 1.0, seed: 11)
        try wire.phone.send(samples: caller)
        try wire.phoneToAgent()
        let media = wire.agent.takeEvents()
        #expect(media.allSatisfy { $0.kind == .media }, "\(provider): \(media.filter { $0.kind != .media })")
        let heard = decoded(media.flatMap(\.audio), as: .pcm16LE)
        #expect(heard == throughEncoding(caller, format.encoding), "\(provider): \(heard.count) samples heard of \(caller.count)")

        // Agent audio, not a whole number of frames: flushed with silence, then played out.
        let agentSamples = Signals.speechWithGap(rate: format.sampleRate, seconds: 0.5, seed: 12) + [1200, -1200, 300]
        try wire.agent.send(samples: agentSamples)
        try wire.agent.flush()
        try wire.agent.sendMark(Array("utterance-1".utf8))
        try wire.agentToPhone()
        #expect(wire.phone.takeEvents().isEmpty)
        var played: [Int16] = []
        while true {
            let (samples, real) = try wire.phone.read(frames: format.sampleRate / 50)
            if real == 0 { break }
            played += samples.prefix(real / 2)
        }
        let expected = throughEncoding(agentSamples, format.encoding)
        #expect(Array(played.prefix(expected.count)) == expected, "\(provider): \(played.count) samples played of \(expected.count)")
        #expect(played.count >= expected.count && played.dropFirst(expected.count).allSatisfy { $0 == 0 }, "\(provider): padding")

        // The mark comes back once its audio was read (by the clock where the provider has no marks).
        try wire.phoneToAgent()
        wire.agent.setTime(milliseconds: 10_000)
        let marks = wire.agent.takeEvents()
        #expect(marks.map(\.description) == ["mark(utterance-1)"], "\(provider): \(marks)")
        #expect(marks.first?.reason == "played")

        // DTMF from the caller.
        try wire.phone.sendDigit(UInt8(ascii: "7"))
        try wire.phoneToAgent()
        let dtmf = wire.agent.takeEvents()
        #expect(dtmf.map(\.kind) == [.dtmf] && dtmf.first?.digit == "7", "\(provider): \(dtmf)")

        // Hang-up: the provider's stop where it has one, the transport closing where it has not.
        wire.phone.end(reason: "hangup")
        try wire.phoneToAgent()
        if wire.agent.state != .stopped { wire.agent.end(reason: "closed") }
        let stop = wire.agent.takeEvents()
        #expect(stop.map(\.kind) == [.stop], "\(provider): \(stop)")
        #expect(wire.agent.stat("errors") == 0 && wire.phone.stat("errors") == 0, "\(provider)")
        let firstFrame = provider == "audiosocket" ? 20 : 0  // the frame that completed the start
        #expect(wire.agent.stat("caller_audio_ms") == 1000 + Int64(firstFrame))
        #expect(wire.phone.stat("caller_audio_ms") == 1000 + Int64(firstFrame))
    }

    /// The call's own format where the provider lets it vary: Telnyx A-law, Asterisk slin16, Vonage 8 kHz,
    /// with the agent at 16 kHz (resampled both ways: checked against an independent transcoder run).
    @Test(arguments: [("telnyx", AudioFormat(encoding: .alaw, sampleRate: 8000)),
                      ("asterisk", AudioFormat(encoding: .pcm16LE, sampleRate: 16000)),
                      ("asterisk-text", AudioFormat(encoding: .alaw, sampleRate: 8000)),
                      ("vonage", AudioFormat(encoding: .pcm16LE, sampleRate: 8000)),
                      ("plivo", AudioFormat(encoding: .ulaw, sampleRate: 8000)),
                      ("exotel", AudioFormat(encoding: .ulaw, sampleRate: 8000))])
    func callFormatTravelsInStart(provider: String, format: AudioFormat) throws {
        let agentLocal = AudioFormat(encoding: .pcm16LE, sampleRate: 16000)
        let wire = try Wire(provider: provider, callFormat: format, agentLocal: agentLocal)
        try wire.phoneToAgent()
        _ = wire.agent.takeEvents()
        #expect(wire.agent.callFormat == format, "\(provider)")
        let caller = Signals.speechWithGap(rate: format.sampleRate, seconds: 0.4, seed: 5)
        try wire.phone.send(samples: caller)
        try wire.phoneToAgent()
        let heard = wire.agent.takeEvents().flatMap(\.audio)
        let reference = try Transcoder(from: format, to: agentLocal)
        let expected = try reference.run(encoded(caller, as: format.encoding), chunkFrames: [format.sampleRate / 50]).dropLast().flatMap { $0 }
        #expect(heard == Array(expected), "\(provider): \(heard.count) vs \(expected.count)")
    }
}

@Suite("Session: barge-in and playback truth")
struct SessionPlaybackTests {
    @Test func bargeInDropsUnsentAudioClearsThePhoneAndReportsWhatWasHeard() throws {
        let wire = try Wire(provider: "twilio")
        try wire.phoneToAgent()
        _ = wire.agent.takeEvents()
        try wire.agent.send(samples: Signals.speechWithGap(rate: 8000, seconds: 2.0))
        try wire.agent.sendMark(Array("answer".utf8))
        // The host sends the first 200 ms (10 frames) and the session's own mark after them.
        #expect(try wire.agentToPhone(limit: 11) == 11)
        _ = try wire.phone.read(frames: 1600)  // the phone plays those 200 ms
        try wire.phoneToAgent()                 // and echoes the session's mark
        #expect(wire.agent.takeEvents().isEmpty)  // the session's own marks are never shown
        var report = wire.agent.playbackReport()
        #expect(report.sentMilliseconds == 200 && report.confirmedMilliseconds == 200)
        #expect(report.queuedMilliseconds == 1800)

        // Barge-in: the rest is dropped here, the phone is told to clear, the host's mark is cleared.
        report = try wire.agent.interrupt()
        #expect(report.interrupted && report.sentMilliseconds == 200 && report.confirmedMilliseconds == 200)
        let after = wire.agent.takeOutput()
        #expect(after.map(\.text) == [#"{"event":"clear","streamSid":"MZ-stream-1"}"#])
        let events = wire.agent.takeEvents()
        #expect(events.map(\.description) == ["mark(answer)"] && events.first?.reason == "cleared")
        #expect(wire.agent.stat("interruptions") == 1)
        #expect(wire.agent.stat("interrupted_audio_ms") == 1800)

        // The next utterance starts afresh once its audio goes out.
        try wire.agent.send(samples: [Int16](repeating: 100, count: 1600))
        #expect(wire.agent.playbackReport().interrupted)
        _ = wire.agent.takeOutput()
        report = wire.agent.playbackReport()
        #expect(!report.interrupted && report.utterance == 2 && report.sentMilliseconds == 200 && report.queuedMilliseconds == 0)
    }

    @Test func phoneClearEmptiesThePlaybackQueueAndEchoesPendingMarks() throws {
        let wire = try Wire(provider: "jambonz")
        try wire.phoneToAgent()
        _ = wire.agent.takeEvents()
        try wire.agent.send(samples: [Int16](repeating: 500, count: 8000))
        try wire.agent.sendMark(Array("m1".utf8))
        try wire.agentToPhone()
        _ = try wire.phone.read(frames: 1600)
        _ = try wire.agent.interrupt()
        try wire.agentToPhone()
        #expect(wire.phone.takeEvents().map(\.kind) == [.clear])
        #expect(try wire.phone.read(frames: 160).real == 0)
        // jambonz says the mark was cleared; the agent had already reported it so.
        let echoes = wire.phone.takeOutput().map(\.text)
        #expect(echoes.contains(#"{"type":"mark","data":{"name":"m1","event":"cleared"}}"#), "\(echoes)")
        for echo in echoes { try wire.agent.receive(text: echo) }
        #expect(wire.agent.takeEvents().map(\.description) == ["mark(m1)"])
        #expect(wire.phone.stat("interrupted_audio_ms") == 800)
    }

    /// AudioSocket plays frames as they arrive: the session paces its output by the host's clock, and
    /// with no marks on the wire, playback truth comes from the clock.
    @Test func audioSocketIsPacedAndMeasuredByTheClock() throws {
        let wire = try Wire(provider: "audiosocket")
        try wire.phone.send(samples: [Int16](repeating: 0, count: 160))  // the first audio frame completes the start
        try wire.phoneToAgent()
        _ = wire.agent.takeEvents()
        wire.agent.setTime(milliseconds: 1000)
        try wire.agent.send(samples: [Int16](repeating: 300, count: 8000))  // 1 s
        try wire.agent.sendMark(Array("end".utf8))
        var released = 0
        for step in 0...25 {
            wire.agent.setTime(milliseconds: 1000 + Int64(step) * 20)
            released += wire.agent.takeOutput().count
            // Never more than the lead (60 ms) and one frame ahead of the clock.
            #expect(released <= step + 4, "step \(step): \(released) frames released")
        }
        #expect(released >= 24)
        let report = try wire.agent.interrupt()  // at 1500 ms
        #expect((480...500).contains(report.estimatedMilliseconds), "\(report)")
        #expect(report.confirmedMilliseconds <= report.estimatedMilliseconds)
        #expect(wire.agent.takeEvents().map(\.description) == ["mark(end)"])
        #expect(wire.agent.takeOutput().isEmpty)  // AudioSocket has no clear: dropping what was unsent is all
    }

    @Test func queueCapRefusesAudioAndLosesNothingQueued() throws {
        let wire = try Wire(provider: "twilio") { $0.maxQueuedMilliseconds = 1000 }
        try wire.phoneToAgent()
        _ = wire.agent.takeEvents()
        try wire.agent.send(samples: [Int16](repeating: 1, count: 7200))  // 900 ms
        #expect(throws: SessionError.self) { try wire.agent.send(samples: [Int16](repeating: 1, count: 1600)) }
        #expect(wire.agent.playbackReport().queuedMilliseconds == 900)
        #expect(wire.agent.takeOutput().count == 45 + 4)  // 45 frames and 4 playback marks

        // The phone's playback queue overflows: an error event, the excess counted, the queue intact.
        try wire.agent.send(samples: [Int16](repeating: 1, count: 8000))
        try wire.agentToPhone()
        try wire.agent.send(samples: [Int16](repeating: 1, count: 8000))
        try wire.agentToPhone()
        let errors = wire.phone.takeEvents().filter { $0.kind == .error }
        #expect(!errors.isEmpty && errors[0].error?.contains("playback queue full") == true)
        #expect(wire.phone.stat("queued_audio_ms")! <= 1000)
        #expect(wire.phone.stat("overflow_audio_ms")! > 0)
    }
}

@Suite("Session: lifecycle and order")
struct SessionLifecycleTests {
    static let start = #"{"event":"start","sequenceNumber":"1","streamSid":"MZ1","start":{"streamSid":"MZ1","accountSid":"AC1","callSid":"CA1","tracks":["inbound"],"customParameters":{},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}"#

    static func media(_ chunk: Int, byte: UInt8 = 0xFF) -> String {
        let payload = base64Text([UInt8](repeating: byte, count: 160))
        return #"{"event":"media","sequenceNumber":"\#(chunk + 1)","streamSid":"MZ1","media":{"track":"inbound","chunk":"\#(chunk)","timestamp":"\#(chunk * 20)","payload":"\#(payload)"}}"#
    }

    func agent(_ provider: String = "twilio", configure: (inout SessionConfig) -> Void = { _ in }) throws -> Session {
        var config = SessionConfig(role: .agentServer)
        config.localFormat = AudioFormat(encoding: .ulaw, sampleRate: 8000)
        configure(&config)
        return try Session(provider: provider, config: config)
    }

    @Test func mediaBeforeStartIsHeldThenDelivered() throws {
        let session = try agent()
        try session.receive(text: #"{"event":"connected","protocol":"Call","version":"1.0.0"}"#)
        try session.receive(text: Self.media(1, byte: 0x11))
        try session.receive(text: Self.media(2, byte: 0x22))
        #expect(session.takeEvents().map(\.kind) == [.connected])
        #expect(throws: SessionError.self) { try session.send(samples: [0, 0]) }  // no format yet
        try session.receive(text: Self.start)
        let events = session.takeEvents()
        #expect(events.map(\.kind) == [.start, .media, .media])
        #expect(events[1].audio.first == 0x11 && events[2].audio.first == 0x22)
        #expect(session.stat("early_frames") == 2)
    }

    @Test func tooMuchMediaBeforeStartIsAnError() throws {
        let session = try agent { $0.earlyMediaFrames = 3 }
        for chunk in 1...4 { try session.receive(text: Self.media(chunk)) }
        let events = session.takeEvents()
        #expect(events.map(\.kind) == [.error])
        #expect(events[0].error == "media before start: 4 frames arrived without a start and were dropped")
        #expect(session.stat("lost_frames") == 4)
    }

    @Test func duplicatesAndLateMessagesAreRejectedAndTheCallGoesOn() throws {
        let session = try agent()
        try session.receive(text: #"{"event":"connected"}"#)
        try session.receive(text: #"{"event":"connected"}"#)
        try session.receive(text: Self.start)
        try session.receive(text: Self.start.replacingOccurrences("audio/x-mulaw", "audio/x-alaw"))
        try session.receive(text: #"{"event":"nonsense"}"#)
        try session.receive(text: "{not json")
        try session.receive(text: Self.media(1))
        try session.receive(text: #"{"event":"stop","sequenceNumber":"9","streamSid":"MZ1","stop":{"accountSid":"AC1","callSid":"CA1"}}"#)
        try session.receive(text: Self.media(2))
        let events = session.takeEvents()
        #expect(events.map(\.kind) == [.connected, .error, .start, .error, .error, .error, .media, .stop, .error])
        #expect(events[1].error == "duplicate connected: rejected")
        #expect(events[3].error?.hasPrefix("duplicate start: rejected") == true)
        #expect(events[8].error == "media after stop: rejected")
        #expect(session.callFormat.encoding == .ulaw)  // the first start stands
        #expect(session.stat("errors") == 5)
        #expect(throws: SessionError.self) { try session.send(samples: [0, 0]) }
    }

    @Test func aRejectedStartDoesNotChangeHowMediaIsRead() throws {
        let session = try agent()
        try session.receive(text: Self.start)
        try session.receive(text: Self.start.replacingOccurrences("\"sampleRate\":8000", "\"sampleRate\":16000"))
        try session.receive(text: Self.media(1))
        #expect(session.takeEvents().map(\.kind) == [.start, .error, .media])
        // 160 bytes of the first start's 8 kHz mu-law: 20 ms (read at 16 kHz it would be 10 ms).
        #expect(session.stat("caller_audio_ms") == 20)
    }

    @Test func startStandsInForConnected() throws {
        let session = try agent("plivo")
        try session.receive(text: #"{"event":"start","sequenceNumber":1,"start":{"callId":"c-1","streamId":"s-1","accountId":"MA1","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000}},"extra_headers":"userId=1"}"#)
        #expect(session.takeEvents().map(\.kind) == [.start])
        #expect(session.state == .streaming)
    }

    /// Telnyx may deliver media out of order: put back within the window, the rest counted late or lost.
    @Test func telnyxMediaIsReorderedWithinTheWindow() throws {
        let session = try agent("telnyx")
        try session.receive(text: #"{"event":"start","sequence_number":"1","stream_id":"32DE","start":{"call_control_id":"v3:cc","media_format":{"encoding":"PCMU","sample_rate":8000,"channels":1}}}"#)
        _ = session.takeEvents()
        func media(_ chunk: Int) -> String {
            let payload = base64Text([UInt8](repeating: UInt8(chunk), count: 160))
            return #"{"event":"media","sequence_number":"\#(chunk + 2)","stream_id":"32DE","media":{"track":"inbound","chunk":"\#(chunk)","timestamp":"\#(chunk * 20)","payload":"\#(payload)"}}"#
        }
        for chunk in [1, 2, 4, 3, 5, 7, 8, 9, 10, 11, 12, 6, 13] { try session.receive(text: media(chunk)) }
        let order = session.takeEvents().map { Int($0.audio[0]) }
        #expect(order == [1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13])
        #expect(session.stat("reordered_frames") == 6)  // 4, then 7...11 waited
        #expect(session.stat("lost_frames") == 1)       // 6 did not come in time
        #expect(session.stat("late_frames") == 1)       // and was dropped when it did
    }

    /// AudioSocket is a TCP byte stream: however the bytes are cut, the same events come out.
    @Test func audioSocketStreamIsChunkingInvariant() throws {
        let wire = try Wire(provider: "audiosocket")
        try wire.phone.send(samples: Signals.speechWithGap(rate: 8000, seconds: 0.3))
        try wire.phone.sendDigit(UInt8(ascii: "4"))
        wire.phone.end(reason: "hangup")
        let stream = wire.phone.takeOutput().flatMap(\.bytes)
        func events(cuts: [Int]) throws -> [String] {
            let agent = try Session(provider: "audiosocket", config: SessionConfig(role: .agentServer))
            var offset = 0
            var index = 0
            while offset < stream.count {
                let size = min(cuts[index % cuts.count], stream.count - offset)
                try agent.receive(TakenMessage(bytes: Array(stream[offset..<(offset + size)]), binary: true))
                offset += size
                index += 1
            }
            return agent.takeEvents().map { "\($0.kind.name):\($0.audio.count):\($0.digit ?? "")" }
        }
        let whole = try events(cuts: [stream.count])
        // 15 frames, a digit, and the resampler's tail (8 -> 16 kHz) before the stop.
        #expect(whole.first == "start:0:" && whole.last == "stop:0:" && whole.count == 19)
        var rng = SplitMix64(seed: 9)
        for cuts in [[1], [2], [3], [7], [319, 1], [324], [1000]] + (0..<5).map({ _ in (0..<8).map { _ in Int(rng.next() % 700) + 1 } }) {
            #expect(try events(cuts: cuts) == whole, "cuts \(cuts)")
        }
    }

    /// Asterisk says when its queue is full (MEDIA_XOFF) and has room again (MEDIA_XON): media waits.
    @Test func asteriskFlowControlHoldsMedia() throws {
        var config = SessionConfig(role: .agentServer)
        config.localFormat = AudioFormat(encoding: .ulaw, sampleRate: 8000)
        let session = try Session(provider: "asterisk", config: config)
        try session.receive(text: #"{"event":"MEDIA_START","connection_id":"c1","channel":"WebSocket/c1-0001","channel_id":"1723.1","format":"ulaw","optimal_frame_size":160,"ptime":20}"#)
        _ = session.takeEvents()
        try session.receive(text: #"{"event":"MEDIA_XOFF","channel_id":"1723.1"}"#)
        try [UInt8](repeating: 0xFF, count: 800).withUnsafeBytes { try session.sendAudio($0) }
        try session.sendMark(Array("m".utf8))
        #expect(session.takeOutput().isEmpty)
        try session.receive(text: #"{"event":"MEDIA_XON","channel_id":"1723.1"}"#)
        let out = session.takeOutput()
        #expect(out.count == 5 + 1 && out.prefix(5).allSatisfy { $0.binary && $0.bytes.count == 160 })
        #expect(session.takeEvents().isEmpty)
        #expect(ProviderTemplate.problems(json: Array(#"{"provider":"x","flow_control":{"pause":"nope"},"events":{"incoming":{"message_patterns":{"start":{"detection_pattern":{"e":"s"},"extraction_map":{}},"media":{"detection_pattern":{"e":"m"},"extraction_map":{"audio":"p"}}}},"outgoing":{"clear":null}}}"#.utf8))
                == [TemplateProblem(field: "flow_control.pause", message: "no incoming pattern named \"nope\"")])
    }

    @Test func oversizeMessagesAreErrors() throws {
        let session = try agent { $0.maxMessageBytes = 1024 }
        try session.receive(text: Self.start)
        _ = session.takeEvents()
        try session.receive(text: String(repeating: " ", count: 2000))
        #expect(session.takeEvents().map(\.error) == ["message of 2000 bytes exceeds the session's limit of 1024"])
    }

    @Test func statsAreJSON() throws {
        let wire = try Wire(provider: "twilio")
        wire.agent.setTime(milliseconds: 5000)
        try wire.phoneToAgent()
        try wire.phone.send(samples: [Int16](repeating: 0, count: 800))
        try wire.phoneToAgent()
        wire.agent.setTime(milliseconds: 65_000)
        wire.agent.end(reason: "done")
        let json = wire.agent.statsJSON()
        let ok: Bool? = withParsedValue(json) { root in
            root["provider"]?.string == "twilio" && root["role"]?.string == "agent_server" && root["state"]?.string == "stopped"
                && root["duration_ms"]?.int64 == 60_000 && root["caller_audio_ms"]?.int64 == 100 && root["frames_in"]?.int64 == 5
                && root["call_id"]?.string == "3c1e5a4e-8f0b-4c8e-9d6a-2b7f0e1d9c55" && root["playback"]?["sent_ms"]?.int64 == 0
        }
        #expect(ok == true, "\(String(decoding: json, as: UTF8.self))")

        // Telephony: the session is the call from its creation; its first clock is the call's start.
        wire.phone.setTime(milliseconds: 2000)
        wire.phone.setTime(milliseconds: 9000)
        wire.phone.end(reason: "done")
        let phone: Bool? = withParsedValue(wire.phone.statsJSON()) { root in
            root["started_at_ms"]?.int64 == 2000 && root["duration_ms"]?.int64 == 7000
        }
        #expect(phone == true, "\(String(decoding: wire.phone.statsJSON(), as: UTF8.self))")
    }
}

extension String {
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound] + replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
