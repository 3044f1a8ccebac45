// A mapped event as JSON, for tools, bindings and tests (the hot path uses `ProviderEvent` directly).

extension EventMapper {
    /// Writes the last mapped event as one JSON object.
    public func writeEvent(into writer: inout JSONWriter) {
        let event = self.event
        writer.beginObject()
        writer.key("event"); writer.string(event.kind.name)
        writer.key("provider"); writer.string(template.name)
        if let pattern = event.pattern {
            writer.key("pattern"); writer.string(template.patternNames[pattern])
        }
        if let error = event.error {
            writer.key("error"); writer.string(error)
        }
        for field in EventField.texts {
            if let text = event.texts[field] {
                writer.key(field.rawValue); writer.string(text)
            }
        }
        for (name, value) in [("sequence", event.sequence), ("timestamp", event.timestamp), ("chunk", event.chunk), ("duration", event.duration)] {
            if let value {
                writer.key(name); writer.int(value)
            }
        }
        if let parameters = event.customParameters {
            writer.key("custom_parameters"); writer.raw(parameters)
        }
        if event.kind == .start || event.kind == .media {
            writer.key("format")
            writer.beginObject()
            writer.key("encoding"); writer.string(event.format.encoding.name)
            writer.key("sample_rate"); writer.int(Int64(event.format.sampleRate))
            writer.key("channels"); writer.int(Int64(event.format.channels))
            writer.endObject()
        }
        if let audio = event.audio {
            writer.key("audio")
            writer.beginObject()
            writer.key("bytes"); writer.int(Int64(audio.count))
            var encoded = [UInt8](repeating: 0, count: Base64.encodedCount(byteCount: audio.count) ?? 0)
            let length = encoded.withUnsafeMutableBytes { Base64.encode(audio, into: $0) } ?? 0
            writer.key("base64"); writer.string(encoded.prefix(length))
            writer.endObject()
        }
        if !extras.isEmpty {
            writer.key("extras")
            writer.beginObject()
            for (name, value) in extras {
                writer.key(name); writer.raw(value.jsonText)
            }
            writer.endObject()
        }
        writer.endObject()
    }
}
