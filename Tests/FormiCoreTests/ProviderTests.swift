import FormiCore
import Testing

/// Whether `actual` has everything `expected` has (objects compared member by member, recursively).
func contains(_ actual: JSONValue, _ expected: JSONValue) -> Bool {
    guard expected.kind == .object else { return actual.equals(expected) }
    guard actual.kind == .object else { return false }
    return expected.members.allSatisfy { member in
        member.key.withString { key in actual[key].map { contains($0, member.value) } ?? false }
    }
}

func decodeBase64(_ text: String) -> [UInt8] {
    let bytes = Array(text.utf8)
    var out = [UInt8](repeating: 0, count: bytes.count)
    let n = (try? bytes.withUnsafeBytes { input in try out.withUnsafeMutableBytes { try Base64.decode(input, into: $0) } }) ?? 0
    return Array(out.prefix(n))
}

/// Maps one frame and returns the event as JSON text.
func mapToJSON(_ mapper: EventMapper, _ frame: [UInt8], binary: Bool) -> String {
    frame.withUnsafeBytes { mapper.map($0, binary: binary) }
    var writer = JSONWriter()
    frame.withUnsafeBytes { _ in mapper.writeEvent(into: &writer) }
    return String(decoding: writer.bytes, as: UTF8.self)
}

@Suite("Provider templates and event mapping")
struct ProviderTests {
    @Test(arguments: BuiltinTemplates.names)
    func recordedSessionMapsEveryMessage(provider: String) throws {
        let template = try ProviderTemplate(json: try #require(BuiltinTemplates.json(named: provider)))
        let mapper = EventMapper(template: template)
        let lines = try #require(readFile(projectRoot + "/tests/sessions/\(provider).jsonl"))
        var count = 0
        for line in lines.split(separator: UInt8(ascii: "\n")) {
            try withParsed(String(decoding: line, as: UTF8.self)) { record in
                let binary = record["binary"] != nil
                let frame = binary ? decodeBase64(record["binary"]?.string ?? "") : Array((record["text"]?.string ?? "").utf8)
                // The event's views point into the frame: render it while the frame is alive.
                let actual = frame.withUnsafeBytes { raw -> String in
                    mapper.map(raw, binary: binary)
                    var writer = JSONWriter()
                    mapper.writeEvent(into: &writer)
                    return String(decoding: writer.bytes, as: UTF8.self)
                }
                let expected = try #require(record["expect"])
                try withParsed(actual) { event in
                    #expect(contains(event, expected), "\(provider) line \(count + 1): got \(actual)")
                }
            }
            count += 1
        }
        #expect(count >= 6)
    }

    @Test func theSeedsExampleTemplateIsValid() throws {
        let seed = #"""
        {"provider": "your_provider_name", "events": {"incoming": {"message_patterns": {
          "connected": {"detection_pattern": {"event": "connection_established"}, "extraction_map": {"status": "connection.status"}},
          "start": {"detection_pattern": {"event": "call_started"}, "extraction_map": {"call_id": "call.id", "direction": "call.direction"}},
          "media": {"detection_pattern": {"event": "audio_data"}, "extraction_map": {"audio": "payload.audio_data"}},
          "clear": {"detection_pattern": {"event": "buffer_clear"}, "extraction_map": {"action": "control.action"}}}}}}
        """#
        let template = try ProviderTemplate(json: seed)
        let mapper = EventMapper(template: template)
        let json = mapToJSON(mapper, Array(#"{"event":"call_started","call":{"id":"c9","direction":"inbound"}}"#.utf8), binary: false)
        try withParsed(json) { event in
            #expect(event["event"]?.string == "start" && event["call_id"]?.string == "c9" && event["direction"]?.string == "inbound")
        }
        let clear = mapToJSON(mapper, Array(#"{"event":"buffer_clear","control":{"action":"flush"}}"#.utf8), binary: false)
        #expect(clear.contains(#""event":"clear""#) && clear.contains(#""extras":{"action":"flush"}"#))
    }

    @Test func everyProblemIsReportedWithItsField() {
        let broken = #"""
        {"audio": {"encoding": "opus", "sample_rate": 7000, "channels": 3, "frame_bytes": 161, "encoding_names": {"X": "mp3"}},
         "transport": {"text": "xml"},
         "events": {"incoming": {"message_patterns": {
           "media": {"detection_pattern": {"event": "media"}, "extraction_map": {"audio": "media..payload"}},
           "hello": {"detection_pattern": {"event": "hi"}},
           "gone": {"maps_to": "vanish", "detection_pattern": {"event": "x"}},
           "dtmf": {"detection_pattern": {"digit": {"$exists": "yes"}}}}},
          "outgoing": {"mark": {"event": "mark", "name": "{{label}}"}}}}
        """#
        let fields = Set(ProviderTemplate.problems(json: Array(broken.utf8)).map(\.field))
        let expected: Set<String> = [
            "provider", "transport.text", "audio.encoding", "audio.sample_rate", "audio.channels", "audio.encoding_names.X",
            "events.incoming.message_patterns.media.extraction_map.audio", "events.incoming.message_patterns.media.extraction_map.audio",
            "events.incoming.message_patterns.hello", "events.incoming.message_patterns.gone.maps_to",
            "events.incoming.message_patterns.dtmf.detection_pattern.digit", "events.outgoing.mark.name",
            "events.incoming.message_patterns.connected", "events.incoming.message_patterns.start", "events.outgoing.clear",
        ]
        #expect(expected.isSubset(of: fields), "missing: \(expected.subtracting(fields))")
        #expect(ProviderTemplate.problems(json: Array("{".utf8)).first?.message.hasPrefix("not valid JSON") == true)
        #expect(ProviderTemplate.problems(json: Array("[]".utf8)).first?.field == "(template)")
    }

    @Test func outgoingMessagesRender() throws {
        let twilio = try ProviderTemplate(json: try #require(BuiltinTemplates.json(named: "twilio")))
        var values = OutgoingValues()
        values.streamId = Array("MZ\"1".utf8)
        values.mark = Array("utt-1".utf8)
        let audio: [UInt8] = [0xFF, 0x7F, 0x00]
        var out: [UInt8] = []
        audio.withUnsafeBytes { values.audio = $0; #expect(twilio.outgoing["media"]??.render(values, into: &out) == nil) }
        #expect(String(decoding: out, as: UTF8.self) == #"{"event":"media","streamSid":"MZ\"1","media":{"payload":"/38A"}}"#)
        out.removeAll()
        #expect(twilio.outgoing["mark"]??.render(values, into: &out) == nil)
        #expect(String(decoding: out, as: UTF8.self) == #"{"event":"mark","streamSid":"MZ\"1","mark":{"name":"utt-1"}}"#)

        let asterisk = try ProviderTemplate(json: try #require(BuiltinTemplates.json(named: "asterisk-text")))
        out.removeAll()
        #expect(asterisk.outgoing["mark"]??.render(values, into: &out) == nil)
        #expect(String(decoding: out, as: UTF8.self) == "MARK_MEDIA utt-1")

        let plivo = try ProviderTemplate(json: try #require(BuiltinTemplates.json(named: "plivo")))
        out.removeAll()
        values.sampleRate = 8000
        audio.withUnsafeBytes { values.audio = $0; _ = plivo.outgoing["media"]??.render(values, into: &out) }
        #expect(String(decoding: out, as: UTF8.self).contains(#""sampleRate":8000"#))
        let audiosocket = try ProviderTemplate(json: try #require(BuiltinTemplates.json(named: "audiosocket")))
        #expect(audiosocket.outgoing["clear"] != nil && audiosocket.outgoing["clear"]! == nil)  // local clear
    }

    @Test func hostileMessagesAreErrors() throws {
        let mapper = EventMapper(template: try ProviderTemplate(json: try #require(BuiltinTemplates.json(named: "twilio"))))
        let deep = String(repeating: "[", count: 10000) + String(repeating: "]", count: 10000)
        #expect(mapToJSON(mapper, Array(deep.utf8), binary: false).contains("nesting deeper than 32"))
        let huge = [UInt8](repeating: UInt8(ascii: " "), count: (1 << 20) + 1)
        #expect(mapToJSON(mapper, huge, binary: false).contains("exceeds the limit"))
        let small = EventMapper(template: mapper.template, limits: JSONLimits(maxBytes: 100))
        #expect(mapToJSON(small, [UInt8](repeating: UInt8(ascii: " "), count: 5000), binary: false).contains("exceeds the limit of 100"))
        #expect(mapToJSON(mapper, Array(#"{"event":"dtmf","dtmf":{}}"#.utf8), binary: false).contains("digit is missing at dtmf.digit"))
        #expect(mapToJSON(mapper, Array(#"{"event":"media","sequenceNumber":"x1","media":{"payload":""}}"#.utf8), binary: false)
            .contains(#"sequence at sequenceNumber: expected an integer, found \"x1\""#))
        #expect(mapToJSON(mapper, Array(#"[1,2]"#.utf8), binary: false).contains("expected a JSON object"))
        // A good message afterwards maps normally: nothing was left behind.
        #expect(mapToJSON(mapper, Array(#"{"event":"mark","mark":{"name":"ok"}}"#.utf8), binary: false).contains(#""mark":"ok""#))
    }
}
