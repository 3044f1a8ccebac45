// Internal events into the C struct `formi_event`, for providers and sessions alike.

import CFormi
import FormiCore

/// Copies an event into the C struct: views point into the event's owner (message, mapper or session);
/// the error text is kept in `error`, pattern names in `patternNames` (both owned by the handle).
func fill(_ out: UnsafeMutablePointer<formi_event>, from event: ProviderEvent, patternNames: [CStringSlot], error: CStringSlot) {
    func text(_ bytes: UnsafeRawBufferPointer?) -> formi_text {
        guard let bytes else { return formi_text(data: nil, len: 0) }
        // A present but empty text still has a pointer.
        let base = bytes.baseAddress ?? UnsafeRawPointer(("" as StaticString).utf8Start)
        return formi_text(data: base.assumingMemoryBound(to: CChar.self), len: bytes.count)
    }
    func text(_ field: EventField) -> formi_text { text(event.texts[field]) }
    var e = formi_event()
    e.kind = Int32(clamping: event.kind.rawValue)
    e.format = formi_format(event.format)
    e.audio = event.audio?.baseAddress?.assumingMemoryBound(to: UInt8.self)
    e.audio_len = event.audio?.count ?? 0
    e.sequence = event.sequence ?? -1
    e.timestamp = event.timestamp ?? -1
    e.chunk = event.chunk ?? -1
    e.duration_ms = event.duration ?? -1
    e.stream_id = text(.streamId)
    e.call_id = text(.callId)
    e.account_id = text(.accountId)
    e.track = text(.track)
    e.digit = text(.digit)
    e.mark = text(.mark)
    e.direction = text(.direction)
    e.from = text(.from)
    e.to = text(.to)
    e.reason = text(.reason)
    e.custom_parameters = text(event.customParameters)
    error.set(event.error)  // allocates only for errors
    e.error = error.text
    e.pattern = event.pattern.flatMap { $0 < patternNames.count ? patternNames[$0].text : nil } ?? formi_text(data: nil, len: 0)
    out.pointee = e
}

extension formi_format {
    init(_ format: AudioFormat) {
        self.init(encoding: Int32(clamping: format.encoding.rawValue), sample_rate: Int32(clamping: format.sampleRate),
                  channels: Int32(clamping: format.channels))
    }
}
