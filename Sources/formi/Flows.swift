// Exports of agent flows, runs and prompt templates. Everything crosses as JSON (configuration and
// reports, not a hot path); each call checks its arguments, then hands over to FormiCore's Flow folder.

#if canImport(Glibc)
import Glibc
#endif
import FormiCore

/// A flow handle. Edits swap in a newly compiled flow; runs keep the one they started with.
final class FlowHandle {
    var flow: CompiledFlow

    init(_ flow: CompiledFlow) { self.flow = flow }
}

final class FlowRunHandle {
    var run: FlowRun

    init(_ run: FlowRun) { self.run = run }
}

extension ABIError {
    init(_ error: FlowError) {
        switch error {
        case .json(let e): self.init(.json, "not valid JSON: \(e.message)")
        case .shape(let text): self.init(.json, text)
        case .invalid: self.init(.invalidTemplate, error.message)
        case .notFound(let text): self.init(.notFound, text)
        case .state(let text): self.init(.state, text)
        }
    }
}

/// Stores `bytes` as a new NUL-terminated string in `*out` (which must not be NULL).
private func handOut(_ bytes: [UInt8], to out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) throws(ABIError) {
    out.pointee = try mallocString(bytes)
}

/// An optional JSON object argument (empty: no members).
private func jsonObject(_ bytes: UnsafeRawBufferPointer, _ name: StaticString) throws(ABIError) -> [JSONMember] {
    guard bytes.count > 0 else { return [] }
    let tree: JSONTree
    do throws(JSONError) {
        tree = try JSONTree.parse(bytes)
    } catch {
        throw ABIError(.json, "\(name) is not valid JSON: \(error.message)")
    }
    guard let members = tree.members else { throw ABIError(.json, "\(name) must be an object, found \(tree.kindName)") }
    return members
}

private func outPointer(_ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ name: StaticString) throws(ABIError)
    -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
    guard let out else { throw ABIError(.invalidArgument, "\(name) is NULL") }
    out.pointee = nil
    return out
}

// MARK: flows

@c public func formi_flow_from_json(_ json: UnsafePointer<CChar>?, _ length: UInt, _ status: UnsafeMutablePointer<Int32>?) -> OpaquePointer? {
    Handle.create(status) { () throws(ABIError) in
        let bytes = try CBuffer.inputBytes(json, count: length, "json")
        do throws(FlowError) {
            return FlowHandle(try CompiledFlow.compile(json: bytes))
        } catch {
            throw ABIError(error)
        }
    }
}

@c public func formi_flow_validate_json(
    _ json: UnsafePointer<CChar>?, _ length: UInt, _ report: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> Int32 {
    var result = Status.ok.rawValue
    let status = abiCall { () throws(ABIError) in
        let report = try outPointer(report, "report")
        let bytes = try CBuffer.inputBytes(json, count: length, "json")
        var problems: [FlowProblem]
        do throws(FlowError) {
            problems = try FlowDefinition(json: bytes).validate()
        } catch {
            switch error {
            case .invalid(let list): problems = list
            default: problems = [FlowProblem(.error, "invalid_json", error.message)]
            }
        }
        if let first = problems.first(where: { $0.severity == .error }) {
            result = first.code == "invalid_json" ? Status.json.rawValue : Status.invalidTemplate.rawValue
            LastError.set(FlowError.invalid(problems).message)
        }
        try handOut(FlowProblem.report(problems), to: report)
    }
    return status != Status.ok.rawValue ? status : result
}

@c public func formi_flow_to_json(_ handle: UnsafeRawPointer?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    abiCall { () throws(ABIError) in
        let out = try outPointer(out, "out_json")
        let flow = try Handle.object(handle, as: FlowHandle.self)
        try handOut(flow.flow.definition.jsonBytes, to: out)
    }
}

@c public func formi_flow_to_dot(_ handle: UnsafeRawPointer?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    abiCall { () throws(ABIError) in
        let out = try outPointer(out, "out_dot")
        let flow = try Handle.object(handle, as: FlowHandle.self)
        try handOut(Array(flow.flow.definition.dot.utf8), to: out)
    }
}

@c public func formi_flow_edit(
    _ handle: OpaquePointer?, _ json: UnsafePointer<CChar>?, _ length: UInt, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> Int32 {
    abiCall { () throws(ABIError) in
        let flow = try Handle.object(handle, as: FlowHandle.self)
        let bytes = try CBuffer.inputBytes(json, count: length, "edit_json")
        if let out { out.pointee = nil }
        var definition = flow.flow.definition
        let result: [JSONMember]
        let compiled: CompiledFlow
        do throws(FlowError) {
            result = try definition.apply(edit: bytes)
            compiled = try CompiledFlow.compile(definition)
        } catch {
            throw ABIError(error)
        }
        flow.flow = compiled
        guard let out else { return }
        var writer = JSONWriter()
        writer.beginObject()
        for member in result {
            writer.key(member.key)
            member.value.write(into: &writer)
        }
        writer.key("warnings")
        writer.beginArray()
        for warning in compiled.warnings { warning.write(into: &writer) }
        writer.endArray()
        writer.endObject()
        try handOut(writer.bytes, to: out)
    }
}

@c public func formi_flow_free(_ handle: OpaquePointer?) {
    Handle.release(handle, as: FlowHandle.self)
}

// MARK: templates

@c public func formi_template_render(
    _ template: UnsafePointer<CChar>?, _ length: UInt, _ variables: UnsafePointer<CChar>?, _ variablesLength: UInt,
    _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> Int32 {
    abiCall { () throws(ABIError) in
        let out = try outPointer(out, "out_text")
        let parsed = try parseTemplate(template, length)
        let bytes = try CBuffer.inputBytes(variables, count: variablesLength, "variables_json")
        let members = try jsonObject(bytes, "variables_json")
        let (text, missing) = parsed.render(PromptTemplate.lookup(in: members))
        guard missing.isEmpty else {
            throw ABIError(.notFound, "no value for " + missing.map { "{{\($0)}}" }.joined(separator: ", ") + " (give it, or a default: {{name|default}})")
        }
        guard !text.utf8.contains(0) else { throw ABIError(.invalidArgument, "the rendered text contains a NUL byte (from a variable's value)") }
        try handOut(Array(text.utf8), to: out)
    }
}

@c public func formi_template_variables(
    _ template: UnsafePointer<CChar>?, _ length: UInt, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> Int32 {
    abiCall { () throws(ABIError) in
        let out = try outPointer(out, "out_json")
        let parsed = try parseTemplate(template, length)
        var writer = JSONWriter()
        writer.beginArray()
        for variable in parsed.variables {
            writer.beginObject()
            writer.key("name"); writer.string(variable.name)
            writer.key("default"); if let value = variable.defaultValue { writer.string(value) } else { writer.null() }
            writer.endObject()
        }
        writer.endArray()
        try handOut(writer.bytes, to: out)
    }
}

private func parseTemplate(_ text: UnsafePointer<CChar>?, _ length: UInt) throws(ABIError) -> PromptTemplate {
    let bytes = try CBuffer.inputBytes(text, count: length, "template")
    guard let string = String(validating: bytes, as: UTF8.self) else { throw ABIError(.invalidArgument, "template is not valid UTF-8") }
    do throws(TemplateSyntaxError) {
        return try PromptTemplate(string)
    } catch {
        throw ABIError(.invalidTemplate, "template: \(error.description)")
    }
}

// MARK: runs

@c public func formi_flow_run_new(
    _ handle: UnsafeRawPointer?, _ inputs: UnsafePointer<CChar>?, _ length: UInt, _ status: UnsafeMutablePointer<Int32>?
) -> OpaquePointer? {
    Handle.create(status) { () throws(ABIError) in
        let flow = try Handle.object(handle, as: FlowHandle.self)
        let bytes = try CBuffer.inputBytes(inputs, count: length, "inputs_json")
        let members = try jsonObject(bytes, "inputs_json")
        do throws(FlowError) {
            return FlowRunHandle(try FlowRun(flow: flow.flow, inputs: members))
        } catch {
            throw ABIError(error)
        }
    }
}

@c public func formi_flow_run_step(
    _ handle: OpaquePointer?, _ event: UnsafePointer<CChar>?, _ length: UInt, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> Int32 {
    abiCall { () throws(ABIError) in
        let run = try Handle.object(handle, as: FlowRunHandle.self)
        let bytes = try CBuffer.inputBytes(event, count: length, "event_json")
        if let out { out.pointee = nil }
        let step: FlowRun.Step
        do throws(FlowError) {
            step = try run.run.step(json: bytes)
        } catch {
            throw ABIError(error)
        }
        if let out { try handOut(step.json, to: out) }
    }
}

@c public func formi_flow_run_state(_ handle: UnsafeRawPointer?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    abiCall { () throws(ABIError) in
        let out = try outPointer(out, "out_json")
        let run = try Handle.object(handle, as: FlowRunHandle.self)
        try handOut(run.run.stateJSON, to: out)
    }
}

@c public func formi_flow_run_history(_ handle: UnsafeRawPointer?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    abiCall { () throws(ABIError) in
        let out = try outPointer(out, "out_json")
        let run = try Handle.object(handle, as: FlowRunHandle.self)
        try handOut(run.run.historyJSON, to: out)
    }
}

@c public func formi_flow_run_free(_ handle: OpaquePointer?) {
    Handle.release(handle, as: FlowRunHandle.self)
}
