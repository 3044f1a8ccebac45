// Exports of call sessions.

#if canImport(Glibc)
import Glibc
#endif
import CFormi
import FormiCore

/// A session handle: the session, and the texts it hands out (pattern names, error messages).
final class SessionHandle {
    let session: Session
    let patternNames: [CStringSlot]
    let eventError = CStringSlot()
    let lastError = CStringSlot()

    init(_ session: Session) {
        self.session = session
        patternNames = session.eventPatternNames.map { name in
            let slot = CStringSlot()
            slot.set(name)
            return slot
        }
        lastError.set("")
    }

    /// Runs an export's body, keeping a failure's message on the handle as well as on the thread.
    func call(_ body: () throws(ABIError) -> Void) -> Int32 {
        let status = abiCall(body)
        if status != Status.ok.rawValue { lastError.set(String(cString: LastError.current)) }
        return status
    }
}

extension ABIError {
    init(_ error: SessionError) {
        switch error {
        case .invalidConfig(let m): self.init(.invalidArgument, m)
        case .unsupported(let m): self.init(.unsupported, m)
        case .state(let m): self.init(.state, m)
        case .limit(let m): self.init(.limit, m)
        case .invalidAudio(let m): self.init(.badLength, m)
        }
    }
}

/// The session behind a handle, and the handle.
private func sessionHandle(_ handle: OpaquePointer?) throws(ABIError) -> SessionHandle {
    try Handle.object(handle, as: SessionHandle.self)
}

/// Runs `body` on the session behind `handle`, recording failures on it.
private func onSession(_ handle: OpaquePointer?, _ body: (SessionHandle) throws(ABIError) -> Void) -> Int32 {
    guard let object = try? sessionHandle(handle) else {
        return abiCall { () throws(ABIError) in throw ABIError(.invalidArgument, "the session handle is NULL") }
    }
    return object.call { () throws(ABIError) in try body(object) }
}

private func optionalString(_ pointer: UnsafePointer<CChar>?, default fallback: String = "") -> String {
    pointer.map { String(cString: $0) } ?? fallback
}

@c public func formi_session_config_init(_ config: UnsafeMutablePointer<formi_session_config>?, _ role: Int32) -> Int32 {
    abiCall { () throws(ABIError) in
        guard let config else { throw ABIError(.invalidArgument, "config is NULL") }
        guard let parsedRole = SessionRole(rawValue: Int(role)) else {
            throw ABIError(.invalidArgument, "unknown role \(role) (FORMI_ROLE_AGENT_SERVER or FORMI_ROLE_TELEPHONY)")
        }
        let defaults = SessionConfig(role: parsedRole)
        var c = formi_session_config()
        c.size = MemoryLayout<formi_session_config>.size
        c.role = role
        c.local_format = formi_format(defaults.localFormat)
        c.call_format = formi_format(encoding: 0, sample_rate: 0, channels: 0)
        c.max_queued_ms = UInt32(clamping: defaults.maxQueuedMilliseconds)
        c.max_message_bytes = UInt32(clamping: defaults.maxMessageBytes)
        c.reorder_window = UInt32(clamping: defaults.reorderWindow)
        c.early_media_frames = UInt32(clamping: defaults.earlyMediaFrames)
        c.mark_interval_ms = UInt32(clamping: defaults.playbackMarkInterval)
        c.output_lead_ms = -1
        c.resampler_quality = Int32(clamping: defaults.resamplerQuality)
        c.agent_format = formi_format(encoding: 0, sample_rate: 0, channels: 0)
        c.send_format = formi_format(encoding: 0, sample_rate: 0, channels: 0)
        c.strict = defaults.strict ? 1 : 0
        config.pointee = c
    }
}

@c public func formi_session_new(
    _ provider: UnsafeRawPointer?, _ config: UnsafePointer<formi_session_config>?, _ status: UnsafeMutablePointer<Int32>?
) -> OpaquePointer? {
    Handle.create(status) { () throws(ABIError) in
        let provider = try Handle.object(provider, as: Provider.self)
        let c = try sized(UnsafeMutablePointer(mutating: config), "config", initialiser: "formi_session_config_init").pointee
        guard let role = SessionRole(rawValue: Int(c.role)) else {
            throw ABIError(.invalidArgument, "unknown role \(c.role) (FORMI_ROLE_AGENT_SERVER or FORMI_ROLE_TELEPHONY)")
        }
        var settings = SessionConfig(role: role)
        do throws(AudioError) {
            settings.localFormat = try AudioFormat(c.local_format)
            if c.call_format.encoding != 0 { settings.callFormat = try AudioFormat(c.call_format) }
            if c.agent_format.encoding != 0 { settings.agentFormat = try AudioFormat(c.agent_format) }
            if c.send_format.encoding != 0 { settings.sendFormat = try AudioFormat(c.send_format) }
        } catch {
            throw ABIError(error)
        }
        settings.maxQueuedMilliseconds = Int(c.max_queued_ms)
        settings.maxMessageBytes = Int(c.max_message_bytes)
        settings.reorderWindow = Int(c.reorder_window)
        settings.earlyMediaFrames = Int(c.early_media_frames)
        settings.playbackMarkInterval = Int(c.mark_interval_ms)
        guard c.output_lead_ms >= -1 else {
            throw ABIError(.invalidArgument, "output_lead_ms is \(c.output_lead_ms): 0 or more, or -1 for the default")
        }
        settings.outputLeadMilliseconds = c.output_lead_ms < 0 ? nil : Int(c.output_lead_ms)
        settings.resamplerQuality = Int(c.resampler_quality)
        settings.call.streamId = optionalString(c.stream_id)
        settings.call.callId = optionalString(c.call_id)
        settings.call.accountId = optionalString(c.account_id)
        settings.call.from = optionalString(c.from)
        settings.call.to = optionalString(c.to)
        settings.call.direction = optionalString(c.direction, default: "inbound")
        settings.call.customParameters = optionalString(c.custom_parameters, default: "{}")
        settings.callerTrack = c.caller_track.map { String(cString: $0) }
        settings.strict = c.strict != 0
        settings.frameMilliseconds = c.frame_ms == 0 ? nil : Int(c.frame_ms)
        do throws(SessionError) {
            return SessionHandle(try Session(template: provider.template, config: settings))
        } catch {
            throw ABIError(error)
        }
    }
}

@c public func formi_session_receive(_ handle: OpaquePointer?, _ data: UnsafeRawPointer?, _ length: UInt, _ isBinary: Int32) -> Int32 {
    onSession(handle) { object throws(ABIError) in
        let bytes = try CBuffer.inputBytes(data, count: length, "data")
        do throws(SessionError) {
            try object.session.receive(bytes, binary: isBinary != 0)
        } catch {
            throw ABIError(error)
        }
    }
}

@c public func formi_session_receive_part(
    _ handle: OpaquePointer?, _ data: UnsafeRawPointer?, _ length: UInt, _ isBinary: Int32, _ consumed: UnsafeMutablePointer<UInt>?
) -> Int32 {
    onSession(handle) { object throws(ABIError) in
        let consumed = try CBuffer.result(consumed, "consumed")
        consumed.pointee = 0
        let bytes = try CBuffer.inputBytes(data, count: length, "data")
        let taken = object.session.receivePart(bytes, binary: isBinary != 0)
        consumed.pointee = UInt(taken)
        if taken < bytes.count || (bytes.isEmpty && object.session.pendingEvents >= Session.maxPendingEvents) {
            throw ABIError(.limit, "\(object.session.pendingEvents) events are waiting: took \(taken) of \(bytes.count) bytes; take events with next_event and pass the rest")
        }
    }
}

@c public func formi_session_next_event(_ handle: OpaquePointer?, _ event: UnsafeMutablePointer<formi_event>?) -> Int32 {
    var found: Int32 = 0
    let status = onSession(handle) { object throws(ABIError) in
        let event = try sized(event, "event", initialiser: "FORMI_EVENT_INIT")
        guard let next = object.session.nextEvent() else { return }
        fill(event, from: next, patternNames: object.patternNames, error: object.eventError)
        found = 1
    }
    return status == Status.ok.rawValue ? found : status
}

@c public func formi_session_next_output(_ handle: OpaquePointer?, _ message: UnsafeMutablePointer<formi_message>?) -> Int32 {
    var found: Int32 = 0
    let status = onSession(handle) { object throws(ABIError) in
        guard let message else { throw ABIError(.invalidArgument, "message is NULL") }
        guard let (bytes, binary) = object.session.nextOutput() else { return }
        message.pointee = formi_message(data: bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), len: bytes.count,
                                        is_binary: binary ? 1 : 0)
        found = 1
    }
    return status == Status.ok.rawValue ? found : status
}

@c public func formi_session_send_audio(_ handle: OpaquePointer?, _ data: UnsafeRawPointer?, _ length: UInt) -> Int32 {
    onSession(handle) { object throws(ABIError) in
        let bytes = try CBuffer.inputBytes(data, count: length, "data")
        do throws(SessionError) {
            try object.session.sendAudio(bytes)
        } catch {
            throw ABIError(error)
        }
    }
}

@c public func formi_session_flush(_ handle: OpaquePointer?) -> Int32 {
    onSession(handle) { object throws(ABIError) in
        do throws(SessionError) {
            try object.session.flush()
        } catch {
            throw ABIError(error)
        }
    }
}

@c public func formi_session_send_mark(_ handle: OpaquePointer?, _ name: UnsafePointer<CChar>?) -> Int32 {
    onSession(handle) { object throws(ABIError) in
        guard let name else { throw ABIError(.invalidArgument, "name is NULL") }
        let length = strnlen(name, 257)
        let bytes = Array(UnsafeRawBufferPointer(start: name, count: length))
        do throws(SessionError) {
            try object.session.sendMark(bytes)
        } catch {
            throw ABIError(error)
        }
    }
}

@c public func formi_session_interrupt(_ handle: OpaquePointer?, _ report: UnsafeMutablePointer<formi_playback>?) -> Int32 {
    onSession(handle) { object throws(ABIError) in
        // NULL: the figures are not wanted; otherwise the struct must be sized before anything happens.
        let report = try report.map { pointer throws(ABIError) in try sized(pointer, "report", initialiser: "FORMI_PLAYBACK_INIT") }
        do throws(SessionError) {
            let result = try object.session.interrupt()
            report?.assign(result)
        } catch {
            throw ABIError(error)
        }
    }
}

@c public func formi_session_playback(_ handle: OpaquePointer?, _ report: UnsafeMutablePointer<formi_playback>?) -> Int32 {
    onSession(handle) { object throws(ABIError) in
        let report = try sized(report, "report", initialiser: "FORMI_PLAYBACK_INIT")
        guard object.session.role == .agentServer else { throw ABIError(.unsupported, "playback truth is the agent-server role's") }
        report.assign(object.session.playbackReport())
    }
}

@c public func formi_session_send_dtmf(_ handle: OpaquePointer?, _ digit: CChar, _ durationMs: Int32) -> Int32 {
    onSession(handle) { object throws(ABIError) in
        do throws(SessionError) {
            try object.session.sendDigit(UInt8(bitPattern: digit), durationMilliseconds: Int64(max(0, durationMs)))
        } catch {
            throw ABIError(error)
        }
    }
}

@c public func formi_session_read_audio(
    _ handle: OpaquePointer?, _ out: UnsafeMutableRawPointer?, _ length: UInt, _ real: UnsafeMutablePointer<UInt>?
) -> Int32 {
    onSession(handle) { object throws(ABIError) in
        let buffer = try CBuffer.outputBytes(out, capacity: length, required: 0, "out")
        do throws(SessionError) {
            let read = try object.session.readAudio(into: buffer)
            real?.pointee = UInt(read)
        } catch {
            throw ABIError(error)
        }
    }
}

@c public func formi_session_set_time(_ handle: OpaquePointer?, _ nowMs: Int64) -> Int32 {
    onSession(handle) { object throws(ABIError) in
        object.session.setTime(milliseconds: nowMs)
    }
}

@c public func formi_session_end(_ handle: OpaquePointer?, _ reason: UnsafePointer<CChar>?) -> Int32 {
    onSession(handle) { object throws(ABIError) in
        object.session.end(reason: optionalString(reason, default: "ended"))
    }
}

@c public func formi_session_stats_json(_ handle: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    onSession(handle) { object throws(ABIError) in
        guard let out else { throw ABIError(.invalidArgument, "out_json is NULL") }
        out.pointee = nil
        out.pointee = try mallocString(object.session.statsJSON())
    }
}

@c public func formi_session_last_error(_ handle: UnsafeRawPointer?) -> UnsafePointer<CChar>? {
    let empty = UnsafeRawPointer(("" as StaticString).utf8Start).assumingMemoryBound(to: CChar.self)
    guard let object = try? Handle.object(handle, as: SessionHandle.self) else { return empty }
    return object.lastError.pointer.map { UnsafePointer($0) } ?? empty
}

@c public func formi_session_free(_ handle: OpaquePointer?) {
    Handle.release(handle, as: SessionHandle.self)
}

extension UnsafeMutablePointer<formi_playback> {
    /// Writes the figures, leaving the caller's `size` as it was.
    func assign(_ report: PlaybackReport) {
        let size = pointee.size
        pointee = formi_playback(report)
        pointee.size = size
    }
}

extension formi_playback {
    init(_ report: PlaybackReport) {
        self.init(size: MemoryLayout<formi_playback>.size, utterance: report.utterance, sent_ms: report.sentMilliseconds, confirmed_ms: report.confirmedMilliseconds,
                  estimated_ms: report.estimatedMilliseconds, interrupted: report.interrupted ? 1 : 0,
                  queued_ms: report.queuedMilliseconds)
    }
}
