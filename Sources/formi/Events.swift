// Internal events into the C struct `formi_event`, for providers and sessions alike.

import CFormi
import FormiCore

/// Copies an event into the C struct: views point into the event's owner (message, mapper or session);
/// the error text is kept in `error`, pattern names in `patternNames` (both owned by the handle).
func fill(_ out: UnsafeMutablePointer<formi_event>, from event: ProviderEvent, patternNames: [CStringSlot], error: CStringSlot) {
    fill(out, from: event.fields, message: event.error, patternNames: patternNames, error: error)
}

/// The same from an event's fields and error message, read where they are (a mapper's, per frame).
func fill(_ out: UnsafeMutablePointer<formi_event>, from event: borrowing EventFields, message: borrowing String?,
          patternNames: [CStringSlot], error: CStringSlot) {
    func text(_ bytes: UnsafeRawBufferPointer?) -> formi_text {
        guard let bytes else { return formi_text(data: nil, len: 0) }
        // A present but empty text still has a pointer.
        let base = bytes.baseAddress ?? UnsafeRawPointer(("" as StaticString).utf8Start)
        return formi_text(data: base.assumingMemoryBound(to: CChar.self), len: bytes.count)
    }
    func text(_ field: EventField) -> formi_text { text(event.texts[field]) }
    // Written field by field into the caller's struct (building it aside would copy 300 bytes per frame).
    out.pointee.kind = Int32(clamping: event.kind.rawValue)
    out.pointee.format = formi_format(event.format)
    out.pointee.audio = event.audio?.baseAddress?.assumingMemoryBound(to: UInt8.self)
    out.pointee.audio_len = event.audio?.count ?? 0
    out.pointee.sequence = event.sequence ?? -1
    out.pointee.timestamp = event.timestamp ?? -1
    out.pointee.chunk = event.chunk ?? -1
    out.pointee.duration_ms = event.duration ?? -1
    out.pointee.stream_id = text(.streamId)
    out.pointee.call_id = text(.callId)
    out.pointee.account_id = text(.accountId)
    out.pointee.track = text(.track)
    out.pointee.digit = text(.digit)
    out.pointee.mark = text(.mark)
    out.pointee.direction = text(.direction)
    out.pointee.from = text(.from)
    out.pointee.to = text(.to)
    out.pointee.reason = text(.reason)
    out.pointee.custom_parameters = text(event.customParameters)
    if event.kind == .error {
        error.set(copy message)  // allocates only for errors
        out.pointee.error = error.text
    } else {
        out.pointee.error = formi_text(data: nil, len: 0)
    }
    out.pointee.pattern = event.pattern.flatMap { $0 < patternNames.count ? patternNames[$0].text : nil } ?? formi_text(data: nil, len: 0)
}

/// The caller's struct, once its `size` (its first field, read alone: the struct may be older and smaller
/// than ours) says it holds at least this version's fields. The library writes nothing beyond that.
func sized<T>(_ pointer: UnsafeMutablePointer<T>?, _ name: StaticString, initialiser: StaticString) throws(ABIError) -> UnsafeMutablePointer<T> {
    guard let pointer else { throw ABIError(.invalidArgument, "\(name) is NULL") }
    let size = UnsafeRawPointer(pointer).load(as: Int.self)
    guard size >= MemoryLayout<T>.size else {
        throw ABIError(.invalidArgument, "\(name)->size is \(size), not \(MemoryLayout<T>.size): initialise it with \(initialiser)")
    }
    return pointer
}

extension formi_format {
    init(_ format: AudioFormat) {
        self.init(encoding: Int32(clamping: format.encoding.rawValue), sample_rate: Int32(clamping: format.sampleRate),
                  channels: Int32(clamping: format.channels))
    }
}
