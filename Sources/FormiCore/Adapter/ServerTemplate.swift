// What an agent server sends, read back. A session in the telephony role speaks as the provider, so it
// must parse the agent server's messages: it does so with a template derived from the provider
// template's own `events.outgoing` section, so that one template serves both roles and cannot disagree
// with itself.
//
// Each outgoing message becomes a pattern named like it. Its top-level literals detect it
// ("event": "media"); each whole-value placeholder becomes an extraction at its path ("{{audio}}" at
// media.payload reads the audio). A plain-text line ("MARK_MEDIA {{mark}}") is detected by its first
// word, and its placeholders are read from the words after it. Binary media needs no pattern: the
// transport says what binary frames are.

extension ProviderTemplate {
    /// The template that reads this provider's outgoing messages (media, mark, clear, hangup...).
    public func serverTemplate() throws(TemplateError) -> ProviderTemplate {
        var problems: [TemplateProblem] = []
        var writer = JSONWriter(capacity: 1024)
        writer.beginObject()
        writer.key("provider"); writer.string(name + " (agent server)")
        writer.key("transport")
        writer.beginObject()
        writer.key("text"); writer.string(text.rawValue)
        writer.key("binary"); writer.string(binary.rawValue)
        writer.endObject()
        writer.key("audio")
        writer.beginObject()
        writer.key("encoding"); writer.string(defaultFormat.encoding.name)
        writer.key("sample_rate"); writer.int(Int64(defaultFormat.sampleRate))
        writer.key("channels"); writer.int(Int64(defaultFormat.channels))
        writer.key("payload"); writer.string(payload.rawValue)
        if let names = root["audio"]?["encoding_names"] {
            writer.key("encoding_names"); writer.raw(names.jsonText)
        }
        writer.endObject()
        writer.key("events")
        writer.beginObject()
        writer.key("incoming")
        writer.beginObject()
        writer.key("message_patterns")
        writer.beginObject()
        if binary == .audiosocket {
            for pattern in AudioSocket.serverPatterns { writer.raw(pattern) }
        }
        if let outgoing = root["events"]?["outgoing"], outgoing.kind == .object {
            for member in outgoing.members where member.value.kind != .null {
                let messageName = member.key.string ?? ""
                var pattern = DerivedPattern()
                if text == .lines {
                    pattern.readLine(member.value.string ?? "")
                } else {
                    pattern.readMessage(member.value)
                }
                guard !pattern.detection.isEmpty else {
                    problems.append(TemplateProblem(field: "events.outgoing.\(messageName)",
                                                    message: "has no literal member (such as \"event\": \"media\") by which an agent server's message can be recognised"))
                    continue
                }
                writer.key(messageName)
                writer.beginObject()
                writer.key("maps_to"); writer.string(Self.serverKind(messageName))
                writer.key("detection_pattern")
                writer.beginObject()
                for (key, value) in pattern.detection { writer.key(key); writer.raw(value) }
                writer.endObject()
                writer.key("extraction_map")
                writer.beginObject()
                for (field, path) in pattern.extraction { writer.key(field); writer.string(path) }
                writer.endObject()
                writer.endObject()
            }
        }
        writer.endObject()
        writer.endObject()
        writer.endObject()
        writer.endObject()
        guard problems.isEmpty else { throw .invalid(problems) }
        return try ProviderTemplate(json: writer.bytes, serverSide: true)
    }

    /// The internal event an outgoing message means when read back.
    private static func serverKind(_ name: String) -> String {
        switch name {
        case "media", "mark", "clear": name
        case "hangup", "disconnect", "stop": "stop"
        default: "ignore"
        }
    }
}

/// Detection and extraction read off one outgoing message template.
private struct DerivedPattern {
    var detection: [(String, [UInt8])] = []
    var extraction: [(String, String)] = []

    mutating func readMessage(_ message: JSONValue) {
        guard message.kind == .object else { return }
        for member in message.members {
            let key = member.key.string ?? ""
            let value = member.value
            if let slot = placeholder(value) {
                extraction.append((slot, key))
            } else if value.kind == .object || value.kind == .array {
                readPlaceholders(value, path: key)
            } else if value.kind != .string || !(value.string ?? "").contains("{{") {
                detection.append((key, Array(value.jsonText)))
            }
        }
    }

    private mutating func readPlaceholders(_ value: JSONValue, path: String) {
        if let slot = placeholder(value) {
            extraction.append((slot, path))
        } else if value.kind == .object {
            for member in value.members { readPlaceholders(member.value, path: path + "." + (member.key.string ?? "")) }
        } else if value.kind == .array {
            for (index, element) in value.elements.enumerated() { readPlaceholders(element, path: "\(path).\(index)") }
        }
    }

    /// "MARK_MEDIA {{mark}}": the first word detects, "{{x}}" words are read from args, "k:{{x}}" from k.
    mutating func readLine(_ line: String) {
        var words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).makeIterator()
        guard let first = words.next(), !first.contains("{{") else { return }
        var writer = JSONWriter(capacity: 32)
        writer.string(first.utf8)
        detection.append(("event", writer.bytes))
        var argument = 0
        while let word = words.next() {
            if let colon = word.firstIndex(of: ":"), let slot = placeholder(text: word[word.index(after: colon)...]) {
                extraction.append((slot, String(word[..<colon])))
            } else {
                if let slot = placeholder(text: word) { extraction.append((slot, "args.\(argument)")) }
                argument += 1
            }
        }
    }

    /// The field a whole-value placeholder fills ("{{mark}}" or "{{sequence|string}}" -> its field name).
    private func placeholder(_ value: JSONValue) -> String? {
        guard value.kind == .string, let text = value.string else { return nil }
        return placeholder(text: Substring(text))
    }

    private func placeholder(text: Substring) -> String? {
        guard text.hasPrefix("{{"), text.hasSuffix("}}"), text.count > 4 else { return nil }
        let inner = text.dropFirst(2).dropLast(2)
        let name = inner.split(separator: "|", maxSplits: 1).first.map(String.init) ?? ""
        guard let slot = OutgoingTemplate.Slot(rawValue: name) else { return nil }
        return slot.field?.rawValue ?? slot.rawValue
    }
}
