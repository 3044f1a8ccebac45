import FormiCore
import Testing

/// docs/templates.md's worked example is a template that loads and behaves as the document says, and the
/// built-in providers are the files in providers/.
@Suite("Templates: the document and the files")
struct TemplateDocTests {
    /// The first ```json block of docs/templates.md.
    static func example() throws -> String {
        let text = String(decoding: try #require(readFile(projectRoot + "/docs/templates.md")), as: UTF8.self)
        let start = try #require(text.firstRange(of: "```json\n"))
        let rest = text[start.upperBound...]
        let end = try #require(rest.firstRange(of: "\n```"))
        return String(rest[..<end.lowerBound])
    }

    @Test func theWorkedExampleLoadsAndMapsAsDocumented() throws {
        let template = try ProviderTemplate(json: try Self.example())
        #expect(template.name == "acme")
        var config = SessionConfig(role: .agentServer)
        config.localFormat = AudioFormat(encoding: .ulaw, sampleRate: 8000)
        let session = try Session(template: template, config: config)
        try session.receive(text: #"{"type":"hello"}"#)
        try session.receive(text: #"{"type":"begin","stream":"s1","call":{"id":"c1","from":"+1","to":"+2","params":{"k":"v"}},"audio":{"codec":"audio/x-mulaw","rate":8000}}"#)
        try session.receive(text: #"{"type":"audio","stream":"s1","seq":12,"data":"//7+/w=="}"#)
        let events = session.takeEvents()
        #expect(events.map(\.kind) == [.connected, .start, .media])
        #expect(events[2].streamId == "s1" && events[2].audio == [0xFF, 0xFE, 0xFE, 0xFF])
        try session.send(samples: [Int16](repeating: 0, count: 160))
        #expect(session.takeOutput().first?.text.hasPrefix(#"{"type":"audio","stream":"s1","data":""#) == true)
        // And it plays the provider in the telephony role: both ends from the one document.
        var phoneConfig = SessionConfig(role: .telephony)
        phoneConfig.call.streamId = "s1"
        let phone = try Session(template: template, config: phoneConfig)
        #expect(phone.takeOutput().map(\.text).first == #"{"type":"hello"}"#)
    }

    @Test func theBuiltInsAreTheProviderFiles() throws {
        let files = listDirectory(projectRoot + "/providers").filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }
        #expect(BuiltinTemplates.names == files.sorted())
        for name in files {
            let text = String(decoding: try #require(readFile(projectRoot + "/providers/\(name).json")), as: UTF8.self)
            #expect(BuiltinTemplates.json(named: name) == text, "\(name)")
            #expect(try ProviderTemplate(json: text).name == name)
        }
    }
}
