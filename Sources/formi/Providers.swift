// Exports of provider templates and event mapping.

#if canImport(Glibc)
import Glibc
#endif
import CFormi
import FormiCore

/// A provider handle: the template and a mapper with its buffers (one thread at a time).
final class Provider {
    let template: ProviderTemplate
    let mapper: EventMapper
    /// What is handed out as text the handle owns.
    let name = CStringSlot()
    /// Made once, so that mapping a message allocates nothing.
    let patternNames: [CStringSlot]
    let error = CStringSlot()

    init(_ template: ProviderTemplate) {
        self.template = template
        mapper = EventMapper(template: template)
        name.set(template.name)
        patternNames = template.patternNames.map { text in
            let slot = CStringSlot()
            slot.set(text)
            return slot
        }
    }
}

/// A NUL-terminated string owned by a handle, valid until it is set again or the handle is freed.
final class CStringSlot {
    private(set) var pointer: UnsafeMutablePointer<CChar>?
    private(set) var length = 0

    /// Stores `text` (nil clears); on allocation failure the slot is empty.
    func set(_ text: String?) {
        free(pointer)
        pointer = nil
        length = 0
        guard let text, let memory = try? mallocString(Array(text.utf8)) else { return }
        pointer = memory
        length = text.utf8.count
    }

    var text: formi_text { formi_text(data: pointer.map { UnsafePointer($0) }, len: length) }

    deinit { free(pointer) }
}

extension ABIError {
    init(_ error: TemplateError) {
        switch error {
        case .json: self.init(.json, error.message)
        case .invalid: self.init(.invalidTemplate, error.message)
        }
    }
}

@c public func formi_provider_builtin(_ name: UnsafePointer<CChar>?, _ status: UnsafeMutablePointer<Int32>?) -> OpaquePointer? {
    Handle.create(status) { () throws(ABIError) in
        guard let name else { throw ABIError(.invalidArgument, "name is NULL") }
        let text = String(cString: name)
        guard let json = BuiltinTemplates.json(named: text) else {
            throw ABIError(.notFound, "no built-in provider \"\(text)\" (known: \(BuiltinTemplates.names.joined(separator: ", ")))")
        }
        do throws(TemplateError) {
            return Provider(try ProviderTemplate(json: json))
        } catch {
            throw ABIError(.internal, "built-in template \(text) does not load: \(error.message)")
        }
    }
}

@c public func formi_provider_from_json(_ json: UnsafePointer<CChar>?, _ length: UInt, _ status: UnsafeMutablePointer<Int32>?) -> OpaquePointer? {
    Handle.create(status) { () throws(ABIError) in
        let bytes = try CBuffer.inputBytes(json, count: length, "json")
        do throws(TemplateError) {
            return Provider(try ProviderTemplate(json: bytes))
        } catch {
            throw ABIError(error)
        }
    }
}

@c public func formi_provider_validate_json(
    _ json: UnsafePointer<CChar>?, _ length: UInt, _ report: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> Int32 {
    var result: Int32 = Status.ok.rawValue
    let status = abiCall { () throws(ABIError) in
        guard let report else { throw ABIError(.invalidArgument, "report is NULL") }
        report.pointee = nil
        let bytes = try CBuffer.inputBytes(json, count: length, "json")
        var problems: [TemplateProblem] = []
        do throws(TemplateError) {
            _ = try ProviderTemplate(json: bytes)
        } catch {
            switch error {
            case .json(let e):
                problems = [TemplateProblem(field: "(template)", message: "not valid JSON: \(e.message)")]
                result = Status.json.rawValue
            case .invalid(let list):
                problems = list
                result = Status.invalidTemplate.rawValue
            }
            LastError.set(error.message)
        }
        var writer = JSONWriter()
        writer.beginArray()
        for problem in problems {
            writer.beginObject()
            writer.key("field"); writer.string(problem.field)
            writer.key("message"); writer.string(problem.message)
            writer.endObject()
        }
        writer.endArray()
        report.pointee = try mallocString(writer.bytes)
    }
    return status != Status.ok.rawValue ? status : result
}

@c public func formi_provider_name(_ handle: UnsafeRawPointer?) -> UnsafePointer<CChar>? {
    guard let provider = try? Handle.object(handle, as: Provider.self) else { return nil }
    return provider.name.pointer.map { UnsafePointer($0) }
}

@c public func formi_provider_map(
    _ handle: OpaquePointer?, _ message: UnsafeRawPointer?, _ length: UInt, _ isBinary: Int32, _ event: UnsafeMutablePointer<formi_event>?
) -> Int32 {
    abiCall { () throws(ABIError) in
        try Handle.withObject(handle, as: Provider.self) { provider throws(ABIError) in
            let event = try sized(event, "event", initialiser: "FORMI_EVENT_INIT")
            let bytes = try CBuffer.inputBytes(message, count: length, "message")
            provider.mapper.map(bytes, binary: isBinary != 0)
            fill(event, from: provider.mapper.fields, message: provider.mapper.errorMessage, patternNames: provider.patternNames, error: provider.error)
        }
    }
}

@c public func formi_provider_map_json(
    _ handle: OpaquePointer?, _ message: UnsafeRawPointer?, _ length: UInt, _ isBinary: Int32,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> Int32 {
    abiCall { () throws(ABIError) in
        let provider = try Handle.object(handle, as: Provider.self)
        guard let out else { throw ABIError(.invalidArgument, "out_json is NULL") }
        out.pointee = nil
        let bytes = try CBuffer.inputBytes(message, count: length, "message")
        provider.mapper.map(bytes, binary: isBinary != 0)
        var writer = JSONWriter()
        provider.mapper.writeEvent(into: &writer)
        out.pointee = try mallocString(writer.bytes)
    }
}

@c public func formi_provider_free(_ handle: OpaquePointer?) {
    Handle.release(handle, as: Provider.self)
}

/// A NUL-terminated copy the caller frees with formi_free.
func mallocString(_ bytes: [UInt8]) throws(ABIError) -> UnsafeMutablePointer<CChar> {
    guard let memory = malloc(bytes.count + 1)?.assumingMemoryBound(to: CChar.self) else {
        throw ABIError(.outOfMemory, "cannot allocate \(bytes.count + 1) bytes")
    }
    bytes.withUnsafeBytes { raw in
        if let base = raw.baseAddress { memcpy(memory, base, raw.count) }
    }
    memory[bytes.count] = 0
    return memory
}
