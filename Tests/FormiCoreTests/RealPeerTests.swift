import FormiCore
import Testing

/// What real peers (a real Asterisk, pipecat's serializers, the providers' documented messages) found:
/// each test here failed before its fix.
@Suite("Session: real peers")
struct RealPeerTests {
    static func agent(_ provider: String, local: AudioFormat = AudioFormat(encoding: .pcm16LE, sampleRate: 8000),
                      configure: (inout SessionConfig) -> Void = { _ in }) throws -> Session {
        var config = SessionConfig(role: .agentServer)
        config.localFormat = local
        configure(&config)
        return try Session(provider: provider, config: config)
    }

    /// Exotel's applet guide: "encoding":"base64" means PCM16LE at the given rate, base64.
    @Test func exotelsDocumentedStartIsHeard() throws {
        let session = try Self.agent("exotel")
        try session.receive(text: #"{"event":"connected"}"#)
        try session.receive(text: #"{"event":"start","sequence_number":"1","stream_sid":"S1","start":{"stream_sid":"S1","call_sid":"C1","account_sid":"A1","from":"+9180","to":"+9122","custom_parameters":{},"media_format":{"encoding":"base64","sample_rate":"8000","bit_rate":"128kbps"}}}"#)
        let samples = (0..<160).map { Int16($0 * 50) }
        let payload = base64Text(encoded(samples, as: .pcm16LE))
        try session.receive(text: #"{"event":"media","sequence_number":"2","stream_sid":"S1","media":{"chunk":"1","timestamp":"20","payload":"\#(payload)"}}"#)
        let events = session.takeEvents()
        #expect(events.map(\.kind) == [.connected, .start, .media], "\(events)")
        #expect(session.callFormat == AudioFormat(encoding: .pcm16LE, sampleRate: 8000))
        #expect(decoded(events.last?.audio ?? [], as: .pcm16LE) == samples)
    }

    /// Each provider speaks only its own encoding names: Plivo's playAudio says audio/x-l16, and the
    /// telephony role's start announces the provider's name, not "slin".
    @Test(arguments: [("plivo", AudioFormat(encoding: .pcm16LE, sampleRate: 8000), "audio/x-l16"),
                      ("plivo", AudioFormat(encoding: .pcm16LE, sampleRate: 16000), "audio/x-l16"),
                      ("exotel", AudioFormat(encoding: .pcm16LE, sampleRate: 8000), "raw/slin"),
                      ("twilio", AudioFormat(encoding: .ulaw, sampleRate: 8000), "audio/x-mulaw"),
                      ("telnyx", AudioFormat(encoding: .alaw, sampleRate: 8000), "PCMA")])
    func providersSpeakTheirOwnEncodingNames(provider: String, format: AudioFormat, name: String) throws {
        let wire = try Wire(provider: provider, callFormat: format)
        let opening = wire.phone.takeOutput().map(\.text)
        #expect(opening.contains { $0.contains("\"\(name)\"") }, "\(opening)")
        #expect(!opening.contains { $0.contains("\"slin") }, "\(opening)")
        for message in opening { try wire.agent.receive(text: message) }
        _ = wire.agent.takeEvents()
        try wire.agent.send(samples: [Int16](repeating: 100, count: 320))
        let out = wire.agent.takeOutput().map(\.text)
        if provider == "plivo" { #expect(out.first?.contains(#""contentType":"audio/x-l16""#) == true, "\(out)") }
        #expect(!out.contains { $0.contains("\"slin") })
    }

    /// Both-tracks streams: the agent's own (outbound) track is not the caller; it is counted.
    @Test(arguments: ["twilio", "telnyx"])
    func onlyTheCallersTrackIsDelivered(provider: String) throws {
        let session = try Self.agent(provider, local: AudioFormat(encoding: .ulaw, sampleRate: 8000))
        let stream = provider == "twilio" ? #""streamSid":"MZ1""# : #""stream_id":"MZ1""#
        let start = provider == "twilio"
            ? #"{"event":"start","sequenceNumber":"1","streamSid":"MZ1","start":{"streamSid":"MZ1","callSid":"CA1","tracks":["inbound","outbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}"#
            : #"{"event":"start","sequence_number":"1","stream_id":"MZ1","start":{"call_control_id":"cc","media_format":{"encoding":"PCMU","sample_rate":8000,"channels":1}}}"#
        try session.receive(text: start)
        for chunk in 1...10 {
            for (track, byte) in [("inbound", UInt8(0x11)), ("outbound", UInt8(0x77))] {
                let payload = base64Text([UInt8](repeating: byte, count: 160))
                let seq = provider == "twilio" ? "sequenceNumber" : "sequence_number"
                try session.receive(text: #"{"event":"media","\#(seq)":"\#(chunk * 2 + (track == "inbound" ? 0 : 1))",\#(stream),"media":{"track":"\#(track)","chunk":"\#(chunk)","timestamp":"\#(chunk * 20)","payload":"\#(payload)"}}"#)
            }
        }
        let media = session.takeEvents().filter { $0.kind == .media }
        #expect(media.count == 10 && media.allSatisfy { $0.audio.allSatisfy { $0 == 0x11 } })
        #expect(session.stat("other_track_frames") == 10)
        #expect(session.stat("late_frames") == 0 && session.stat("duplicate_frames") == 0)
    }

    /// Telnyx's bidirectional codec is PCMU unless set otherwise, whatever the call's codec; a session
    /// option chooses another.
    @Test func telnyxRepliesInItsBidirectionalCodec() throws {
        let start = #"{"event":"start","sequence_number":"1","stream_id":"S","start":{"call_control_id":"cc","media_format":{"encoding":"PCMA","sample_rate":8000,"channels":1}}}"#
        let samples = (0..<160).map { Int16(($0 % 40) * 300 - 6000) }
        func reply(_ configure: (inout SessionConfig) -> Void) throws -> [UInt8] {
            let session = try Self.agent("telnyx", configure: configure)
            try session.receive(text: start)
            #expect(session.callFormat.encoding == .alaw)
            try session.send(samples: samples)
            let text = try #require(session.takeOutput().first?.text)
            let payload = String(try #require(text.split(separator: #""payload":""#).last?.split(separator: "\"").first))
            return Array(payload.utf8).withUnsafeBytes { b in
                var out = [UInt8](repeating: 0, count: 160)
                let n = out.withUnsafeMutableBytes { (try? Base64.decode(b, into: $0)) ?? 0 }
                return Array(out.prefix(n))
            }
        }
        #expect(try reply { _ in } == encoded(samples, as: .ulaw))
        #expect(try reply { $0.agentFormat = AudioFormat(encoding: .alaw, sampleRate: 8000) } == encoded(samples, as: .alaw))
    }

    /// AudioSocket at 16 kHz (frame type 0x12): reported in start, answered in kind.
    @Test(arguments: [8000, 16000, 24000, 48000])
    func audioSocketRateComesFromTheFrameType(rate: Int) throws {
        let wire = try Wire(provider: "audiosocket", callFormat: AudioFormat(encoding: .pcm16LE, sampleRate: rate))
        try wire.phone.send(samples: [Int16](repeating: 500, count: rate / 50))
        try wire.phoneToAgent()
        let events = wire.agent.takeEvents()
        #expect(events.first?.kind == .start && events.first?.format.sampleRate == rate, "\(events)")
        #expect(wire.agent.callFormat.sampleRate == rate)
        wire.agent.setTime(milliseconds: 0)
        try wire.agent.send(samples: [Int16](repeating: 100, count: rate / 25))
        let frames = wire.agent.takeOutput()
        let type = try #require(frames.first?.bytes.first)
        #expect(type == 0x10 + UInt8([8000, 12000, 16000, 24000, 32000, 44100, 48000].firstIndex(of: rate) ?? 0))
        #expect(frames.first?.bytes.count == 3 + rate / 50 * 2)
    }

    /// Vonage's NCCO headers (flattened into websocket:connected) reach start as custom parameters.
    @Test func vonageHeadersReachStart() throws {
        let session = try Self.agent("vonage", local: AudioFormat(encoding: .pcm16LE, sampleRate: 16000))
        try session.receive(text: #"{"event":"websocket:connected","content-type":"audio/l16;rate=16000","uuid":"abc-123","caller":"447700900000"}"#)
        let start = try #require(session.nextEvent())
        #expect(start.kind == .start)
        let parameters = String(decoding: start.customParameters.map(Array.init) ?? [], as: UTF8.self)
        #expect(parameters.contains(#""uuid":"abc-123""#) && parameters.contains(#""caller":"447700900000""#), "\(parameters)")
    }

    /// Plivo's extra_headers in both documented forms, and as an empty JSON object in a string.
    @Test(arguments: [("userId=1;plan=gold", #"{"userId":"1","plan":"gold"}"#),
                      ("a=1,b=2", #"{"a":"1","b":"2"}"#),
                      ("name=Smith, John;a=1", #"{"name":"Smith, John","a":"1"}"#),
                      ("{}", "{}"),
                      (#"{\"k\":\"v\"}"#, #"{"k":"v"}"#)])
    func plivoExtraHeaders(given: String, expected: String) throws {
        let session = try Self.agent("plivo")
        try session.receive(text: #"{"event":"start","sequenceNumber":1,"start":{"callId":"c-1","streamId":"s-1","accountId":"MA1","tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000}},"extra_headers":"\#(given)"}"#)
        let start = try #require(session.nextEvent())
        #expect(start.kind == .start, "\(start.error ?? "")")
        #expect(String(decoding: start.customParameters.map(Array.init) ?? [], as: UTF8.self) == expected)
    }

    /// The telephony role sends Plivo's extra_headers as "k=v;k=v", as Plivo does.
    @Test func plivoTelephonySendsPairs() throws {
        let wire = try Wire(provider: "plivo")
        let start = try #require(wire.phone.takeOutput().first?.text)
        #expect(start.contains(#""extra_headers":"agent=7;lang=en""#), "\(start)")
    }

    /// A mark the session did not send (Vonage notify with its own payload) is passed through.
    @Test func anUnsolicitedMarkIsPassedThrough() throws {
        let session = try Self.agent("vonage", local: AudioFormat(encoding: .pcm16LE, sampleRate: 16000))
        try session.receive(text: #"{"event":"websocket:connected","content-type":"audio/l16;rate=16000"}"#)
        try session.receive(text: #"{"event":"websocket:notify","payload":{"note":"hello"}}"#)
        try session.receive(text: #"{"event":"websocket:notify","payload":{"mark":"theirs"}}"#)
        let events = session.takeEvents()
        #expect(events.map(\.kind) == [.start, .mark, .mark], "\(events)")
        #expect(events[1].mark == nil && events[1].reason == "unsolicited")
        #expect(events[2].mark == "theirs" && events[2].reason == "unsolicited")
        #expect(session.stat("errors") == 0)
    }

    /// Twilio's start is sequenceNumber "1", as Twilio's is.
    @Test func twilioStartIsNumberOne() throws {
        let wire = try Wire(provider: "twilio")
        let opening = wire.phone.takeOutput().map(\.text)
        #expect(opening.count == 2 && opening[1].contains(#""sequenceNumber":"1""#), "\(opening)")
    }

    /// The telephony role as a strict provider: an agent server that breaks the provider's rules hears
    /// about it, rule by rule.
    @Test func theTelephonyRoleIsAStrictProvider() throws {
        // Twilio: media for another stream is dropped (error 31951).
        let twilio = try Wire(provider: "twilio")
        _ = twilio.phone.takeOutput()
        let payload = base64Text([UInt8](repeating: 0xFF, count: 160))
        try twilio.phone.receive(text: #"{"event":"media","streamSid":"MZ-other","media":{"payload":"\#(payload)"}}"#)
        try twilio.phone.receive(text: #"{"event":"media","streamSid":"MZ-stream-1","media":{"payload":"\#(payload)"}}"#)
        let errors = twilio.phone.takeEvents()
        #expect(errors.count == 1 && errors[0].error?.contains("31951") == true, "\(errors)")
        #expect(twilio.phone.playbackQueuedMilliseconds == 20)

        // Exotel: multiples of 320 bytes from 3.2 KB.
        let exotel = try Wire(provider: "exotel")
        _ = exotel.phone.takeOutput()
        let small = base64Text([UInt8](repeating: 0, count: 640))
        try exotel.phone.receive(text: #"{"event":"media","stream_sid":"MZ-stream-1","media":{"payload":"\#(small)"}}"#)
        #expect(exotel.phone.takeEvents().first?.error?.contains("multiples of 320 bytes from 3200") == true)

        // Vonage: exactly 20 ms per binary message.
        let vonage = try Wire(provider: "vonage")
        _ = vonage.phone.takeOutput()
        try vonage.phone.receive(TakenMessage(bytes: [UInt8](repeating: 0, count: 1000), binary: true))
        #expect(vonage.phone.takeEvents().first?.error?.contains("exactly 20 ms") == true)

        // Plivo: an encoding name Plivo does not know.
        let plivo = try Wire(provider: "plivo")
        _ = plivo.phone.takeOutput()
        let pcm = base64Text([UInt8](repeating: 0, count: 320))
        try plivo.phone.receive(text: #"{"event":"playAudio","media":{"contentType":"slin","sampleRate":8000,"payload":"\#(pcm)"},"streamId":"MZ-stream-1"}"#)
        #expect(plivo.phone.takeEvents().first?.error?.contains("not one plivo knows") == true)

        // Off: no complaints.
        let lax = try Wire(provider: "exotel") { $0.strict = false }
        _ = lax.phone.takeOutput()
        try lax.phone.receive(text: #"{"event":"media","stream_sid":"MZ-stream-1","media":{"payload":"\#(small)"}}"#)
        #expect(lax.phone.takeEvents().isEmpty)
    }

    /// Our own agent-server session keeps every strict provider's rules.
    @Test(arguments: BuiltinTemplates.names)
    func ourAgentServerKeepsTheRules(provider: String) throws {
        let wire = try Wire(provider: provider)
        try wire.phone.send(samples: [Int16](repeating: 0, count: wire.phone.callFormat.sampleRate / 50))
        try wire.phoneToAgent()
        _ = wire.agent.takeEvents()
        try wire.agent.send(samples: Signals.speechWithGap(rate: wire.agent.localFormat.sampleRate, seconds: 0.5, seed: 3))
        try wire.agent.flush()
        try wire.agentToPhone()
        #expect(wire.phone.takeEvents().filter { $0.kind == .error }.isEmpty)
    }
}

extension Session {
    var playbackQueuedMilliseconds: Int64 { stat("queued_audio_ms") ?? -1 }
}

@Suite("Session: the host's frame size")
struct FrameSizeTests {
    /// Where the provider takes any size, the host may choose (a pipeline's 40 ms chunks, one message
    /// each); where it does not (Vonage's exactly 20 ms), the choice is ignored.
    @Test(arguments: [("twilio", 40), ("plivo", 60), ("vonage", 40)])
    func theHostChoosesTheFrameWhereTheProviderLetsIt(provider: String, ms: Int) throws {
        let wire = try Wire(provider: provider) { $0.frameMilliseconds = ms }
        try wire.phoneToAgent()
        _ = wire.agent.takeEvents()
        let rate = wire.agent.localFormat.sampleRate
        try wire.agent.send(samples: [Int16](repeating: 300, count: rate * ms / 1000 * 3))
        let out = wire.agent.takeOutput().filter { $0.binary || $0.text.contains("audio") || $0.text.contains("media") }
        #expect(out.count == (provider == "vonage" ? 6 : 3))
        try wire.agentToPhone()
        #expect(wire.phone.takeEvents().filter { $0.kind == .error }.isEmpty)
    }
}

@Suite("Session: separate formats for hearing and speaking")
struct SendFormatTests {
    /// An agent that hears at 16 kHz and speaks at 24 kHz: the caller's audio arrives at 16 kHz, the
    /// agent's 24 kHz audio reaches the phone at the call's rate, its length kept.
    @Test(arguments: ["twilio", "vonage", "audiosocket"])
    func theAgentHearsAndSpeaksAtItsOwnRates(provider: String) throws {
        let wire = try Wire(provider: provider, agentLocal: AudioFormat(encoding: .pcm16LE, sampleRate: 16000)) { config in
            if config.role == .agentServer { config.sendFormat = AudioFormat(encoding: .pcm16LE, sampleRate: 24000) }
        }
        let rate = wire.phone.callFormat.sampleRate
        try wire.phone.send(samples: [Int16](repeating: 800, count: rate / 5))  // 200 ms
        try wire.phoneToAgent()
        let heard = wire.agent.takeEvents().filter { $0.kind == .media }
        #expect(heard.allSatisfy { $0.format.sampleRate == 16000 })
        #expect(heard.reduce(0) { $0 + $1.audio.count } == 16000 / 5 * 2)
        wire.agent.setTime(milliseconds: 0)
        try wire.agent.send(samples: Signals.speechWithGap(rate: 24000, seconds: 0.4, seed: 5))  // 400 ms at 24 kHz
        try wire.agent.flush()
        try wire.agentToPhone()
        #expect(wire.agent.stat("agent_audio_ms") == 400)
        #expect((400...420).contains(wire.phone.stat("agent_audio_ms") ?? 0))  // the flush: the resampler's tail, padded to a frame
        #expect(wire.phone.takeEvents().filter { $0.kind == .error }.isEmpty)
    }
}
