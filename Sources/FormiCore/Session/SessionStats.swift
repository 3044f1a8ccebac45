// A session's counters: what usage accounting turns into billable records. Audio is counted in
// microseconds so that rounding happens once, when reported in milliseconds.

public struct SessionStats: Sendable {
    /// Host clock (ms) when the call started and ended; nil when the host gave no clock then.
    public var startedAt: Int64?
    public var endedAt: Int64?
    /// Caller audio: received from the provider (agent-server role) or sent by the host (telephony role).
    public var callerAudioMicros: Int64 = 0
    /// Agent audio: handed to the host to send (agent-server role) or queued for playback (telephony role).
    public var agentAudioMicros: Int64 = 0
    /// Telephony role: agent audio read out by the host.
    public var playedAudioMicros: Int64 = 0
    public var messagesIn: Int64 = 0
    public var messagesOut: Int64 = 0
    public var bytesIn: Int64 = 0
    public var bytesOut: Int64 = 0
    /// Media frames received and sent.
    public var framesIn: Int64 = 0
    public var framesOut: Int64 = 0
    public var lateFrames: Int64 = 0
    public var lostFrames: Int64 = 0
    public var reorderedFrames: Int64 = 0
    public var duplicateFrames: Int64 = 0
    /// Media numbered out of all plausibility (far from the stream, forming no run): ignored.
    public var ignoredFrames: Int64 = 0
    /// Times the stream's numbering was re-found after a jump (see MediaReorder).
    public var resyncs: Int64 = 0
    /// Media of a track other than the caller's (the agent's own audio in a both-tracks stream).
    public var otherTrackFrames: Int64 = 0
    /// Media that came before `start` and waited for it.
    public var earlyFrames: Int64 = 0
    public var interruptions: Int64 = 0
    /// Agent audio an interrupt discarded: unsent, and sent but not yet played.
    public var interruptedAudioMicros: Int64 = 0
    public var marksSent: Int64 = 0
    public var marksPlayed: Int64 = 0
    public var marksCleared: Int64 = 0
    public var dtmfDigits: Int64 = 0
    public var errors: Int64 = 0
    /// Telephony role: agent audio dropped because the playback queue was full.
    public var overflowAudioMicros: Int64 = 0

    public init() {}

    /// Microseconds of `bytes` bytes of audio in `format`.
    static func micros(bytes: Int, format: AudioFormat) -> Int64 {
        let frames = Int64(bytes / max(1, format.bytesPerFrame))
        return frames &* 1_000_000 / Int64(max(1, format.sampleRate))
    }
}

extension Session {
    /// The session's counters as a JSON object (field names as usage accounting reads them).
    public func statsJSON() -> [UInt8] {
        var w = JSONWriter(capacity: 1024)
        func ms(_ micros: Int64) -> Int64 { micros / 1000 }
        func optional(_ key: String, _ value: Int64?) {
            w.key(key)
            if let value { w.int(value) } else { w.null() }
        }
        func format(_ key: String, _ f: AudioFormat) {
            w.key(key)
            w.beginObject()
            w.key("encoding"); w.string(f.encoding.name)
            w.key("sample_rate"); w.int(Int64(f.sampleRate))
            w.key("channels"); w.int(Int64(f.channels))
            w.endObject()
        }
        w.beginObject()
        w.key("provider"); w.string(template.name)
        w.key("role"); w.string(role.name)
        w.key("state"); w.string(state.rawValue)
        w.key("stream_id"); w.string(values.streamId)
        w.key("call_id"); w.string(values.callId)
        format("call_format", callFormat)
        format("local_format", localFormat)
        format("send_format", sendFormat)
        optional("started_at_ms", stats.startedAt)
        optional("ended_at_ms", stats.endedAt)
        optional("duration_ms", stats.startedAt.flatMap { start in stats.endedAt.map { $0 &- start } })
        w.key("caller_audio_ms"); w.int(ms(stats.callerAudioMicros))
        w.key("agent_audio_ms"); w.int(ms(stats.agentAudioMicros))
        switch side {
        case .telephony(let telephony):
            w.key("played_audio_ms"); w.int(ms(stats.playedAudioMicros))
            w.key("queued_audio_ms"); w.int(ms(queuedPlaybackMicros(telephony)))
            w.key("overflow_audio_ms"); w.int(ms(stats.overflowAudioMicros))
        case .agentServer:
            w.key("queued_audio_ms"); w.int(ms(output.queuedMicros))
        }
        w.key("messages_in"); w.int(stats.messagesIn)
        w.key("messages_out"); w.int(stats.messagesOut)
        w.key("bytes_in"); w.int(stats.bytesIn)
        w.key("bytes_out"); w.int(stats.bytesOut)
        w.key("frames_in"); w.int(stats.framesIn)
        w.key("frames_out"); w.int(stats.framesOut)
        w.key("early_frames"); w.int(stats.earlyFrames)
        w.key("late_frames"); w.int(stats.lateFrames)
        w.key("lost_frames"); w.int(stats.lostFrames)
        w.key("reordered_frames"); w.int(stats.reorderedFrames)
        w.key("duplicate_frames"); w.int(stats.duplicateFrames)
        w.key("ignored_frames"); w.int(stats.ignoredFrames)
        w.key("resyncs"); w.int(stats.resyncs)
        w.key("other_track_frames"); w.int(stats.otherTrackFrames)
        w.key("interruptions"); w.int(stats.interruptions)
        w.key("interrupted_audio_ms"); w.int(ms(stats.interruptedAudioMicros))
        w.key("marks_sent"); w.int(stats.marksSent)
        w.key("marks_played"); w.int(stats.marksPlayed)
        w.key("marks_cleared"); w.int(stats.marksCleared)
        w.key("dtmf_digits"); w.int(stats.dtmfDigits)
        w.key("errors"); w.int(stats.errors)
        if role == .agentServer {
            let report = playbackReport()
            w.key("playback")
            w.beginObject()
            w.key("utterance"); w.int(report.utterance)
            w.key("sent_ms"); w.int(report.sentMilliseconds)
            w.key("confirmed_ms"); w.int(report.confirmedMilliseconds)
            w.key("estimated_ms"); w.int(report.estimatedMilliseconds)
            w.key("interrupted"); w.bool(report.interrupted)
            w.endObject()
        }
        w.endObject()
        return w.bytes
    }
}
