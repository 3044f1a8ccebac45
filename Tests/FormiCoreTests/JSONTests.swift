import FormiCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Reads a file with the C library (the tests avoid Foundation like the library does).
func readFile(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        if n == 0 { break }
        bytes += chunk.prefix(n)
    }
    return bytes
}

func listDirectory(_ path: String) -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if !name.hasPrefix(".") { names.append(name) }
    }
    return names.sorted()
}

/// The project root, from this file's path (Tests/FormiCoreTests/JSONTests.swift).
let projectRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

/// Parses `text` and reads it inside `body`, while its bytes are alive.
func withParsed<R>(_ text: String, _ body: (JSONValue) throws -> R) throws -> R {
    var document = JSONDocument()
    let bytes = Array(text.utf8)
    return try bytes.withUnsafeBytes { raw in
        try document.parse(raw)
        return try body(document.root)
    }
}

/// The error parsing `text` gives, or nil if it parses.
func parseError(_ text: String) -> JSONError? {
    var document = JSONDocument()
    return Array(text.utf8).withUnsafeBytes { raw in
        do throws(JSONError) { try document.parse(raw); return nil } catch { return error }
    }
}

@Suite("JSON reader and writer")
struct JSONTests {
    @Test func jsonTestSuite() throws {
        let directory = projectRoot + "/../shared/testdata/JSONTestSuite/test_parsing"
        let files = listDirectory(directory)
        try #require(files.count > 300, "JSONTestSuite not found at \(directory)")
        var accepted = 0, rejected = 0, either = 0
        for name in files {
            let bytes = try #require(readFile(directory + "/" + name))
            var document = JSONDocument(limits: JSONLimits(maxBytes: 1 << 24, maxDepth: 512, maxValues: 1 << 20))
            let ok = bytes.withUnsafeBytes { raw in (try? document.parse(raw)) != nil }
            switch name.first {
            case "y": #expect(ok, "rejected \(name)"); accepted += 1
            case "n": #expect(!ok, "accepted \(name)"); rejected += 1
            default: either += 1
            }
        }
        #expect(accepted >= 95 && rejected >= 188)
    }

    @Test func valuesAndPaths() throws {
        try withParsed(#"{"event":"start","seq":"42","n":-9223372036854775808,"big":18446744073709551616,"f":2.5e3,"a":[true,null,{"k":"v\u00e9\n"}],"dup":1,"dup":2}"#) { root in
        #expect(root["event"]?.string == "start")
        #expect(root["n"]?.int64 == Int64.min)
        #expect(root["big"]?.int64 == nil && root["big"]?.double == 18446744073709551616)
        #expect(root["f"]?.double == 2500 && root["f"]?.int64 == nil)
        #expect(root["a"]?[position: 0]?.bool == true)
        #expect(root["a"]?[position: 1]?.kind == .null)
        #expect(root["a"]?[position: 2]?["k"]?.string == "v\u{e9}\n")
        #expect(root["a"]?[position: 3] == nil)
        #expect(root["dup"]?.int64 == 1)
        #expect(root["missing"] == nil && root.count == 8)
        }
    }

    @Test func errorsSayWhere() throws {
        #expect(parseError("") == .empty)
        #expect(parseError(#"{"a":1,}"#) == .unexpected(byte: UInt8(ascii: "}"), offset: 7, expected: "a string key"))
        #expect(parseError("[01]") == .invalidNumber(offset: 1))
        #expect(parseError(#"["\x"]"#) == .invalidEscape(offset: 2))
        #expect(parseError(#"["\uDC00"]"#) == .invalidEscape(offset: 2))
        #expect(parseError("[\"a\u{1}\"]") == .controlCharacter(offset: 3))
        #expect(parseError("{} x") == .unexpected(byte: UInt8(ascii: "x"), offset: 3, expected: "the end of the text"))
        var deep = JSONDocument(limits: JSONLimits(maxDepth: 4))
        let nested = Array("[[[[[1]]]]]".utf8)
        #expect(throws: JSONError.tooDeep(offset: 4, limit: 4)) { try nested.withUnsafeBytes { try deep.parse($0) } }
        var small = JSONDocument(limits: JSONLimits(maxBytes: 3))
        #expect(throws: JSONError.tooLarge(bytes: 4, limit: 3)) { try Array("1234".utf8).withUnsafeBytes { try small.parse($0) } }
        // The limit comes before the copy: a length of 1 TiB over three real bytes is refused without
        // reading them (a copy first would abort in the allocator, or read far past them).
        try Array("[1]".utf8).withUnsafeBytes { few throws in
            let claimed = UnsafeRawBufferPointer(start: few.baseAddress, count: 1 << 40)
            #expect(throws: JSONError.tooLarge(bytes: 1 << 40, limit: 1 << 20)) { try JSONTree.parse(claimed) }
            do throws(TemplateError) {
                _ = try ProviderTemplate(json: claimed)
                Issue.record("a template of 1 TiB was accepted")
            } catch {
                if case .json(let inner) = error {
                    #expect(inner == JSONError.tooLarge(bytes: 1 << 40, limit: 1 << 20))
                } else {
                    Issue.record("not a JSON error: \(error)")
                }
            }
            #expect(try JSONTree.parse(few) == .array([.integer(1)]))
        }
        let invalidUTF8: [UInt8] = [0x22, 0xC0, 0xAF, 0x22]
        var document = JSONDocument()
        #expect(throws: JSONError.invalidUTF8(offset: 1)) { try invalidUTF8.withUnsafeBytes { try document.parse($0) } }
    }

    @Test func writerEscapesAndRoundTrips() throws {
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("s"); writer.string("q\"b\\n\n\u{1}é")
        writer.key("i"); writer.int(-5)
        writer.key("d"); writer.double(0.1)
        writer.key("x"); writer.double(.nan)
        writer.key("a"); writer.beginArray(); writer.bool(true); writer.null(); writer.endArray()
        writer.endObject()
        let text = String(decoding: writer.bytes, as: UTF8.self)
        #expect(text == #"{"s":"q\"b\\n\n\u0001é","i":-5,"d":0.1,"x":null,"a":[true,null]}"#)
        try withParsed(text) { back in
            #expect(back["s"]?.string == "q\"b\\n\n\u{1}é" && back["d"]?.double == 0.1)
        }
    }

    @Test func equalityIsByValue() throws {
        try withParsed(#"{"x":[1,"a"],"y":{"z":null}}"#) { a in
            try withParsed(#"{ "y" : {"z":null}, "x":[1,"\u0061"] }"#) { b in #expect(a.equals(b)) }
            try withParsed(#"{"x":[1,"a"],"y":{"z":0}}"#) { c in #expect(!a.equals(c)) }
        }
        // Repeated keys (found by the fuzzer): a value still equals itself.
        try withParsed(#"{"":[1],"":"s"}"#) { d in #expect(d.equals(d)) }
    }
}
