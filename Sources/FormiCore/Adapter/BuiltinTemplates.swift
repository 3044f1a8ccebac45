// The built-in providers, as templates in the same JSON format users write (from each provider's
// documented wire format; see shared/reference/protocols.md). Loaded by name.

public enum BuiltinTemplates {
    public static let names = ["twilio", "exotel", "plivo", "telnyx", "vonage", "jambonz", "asterisk", "asterisk-text", "audiosocket"]

    /// The template's JSON text, by name.
    public static func json(named name: String) -> String? {
        switch name {
        case "twilio": twilio
        case "exotel": exotel
        case "plivo": plivo
        case "telnyx": telnyx
        case "vonage": vonage
        case "jambonz": jambonz
        case "asterisk": asterisk
        case "asterisk-text": asteriskText
        case "audiosocket": audioSocket
        default: nil
        }
    }

    /// Twilio Media Streams: JSON text frames, µ-law 8 kHz, numbers as strings, marks echoed.
    static let twilio = #"""
    {
      "provider": "twilio",
      "transport": {"text": "json", "binary": "reject"},
      "audio": {"encoding": "ulaw", "sample_rate": 8000, "channels": 1, "payload": "base64", "frame_ms": 20,
                "encoding_names": {"audio/x-mulaw": "ulaw"}},
      "events": {
        "incoming": {"message_patterns": {
          "connected": {"detection_pattern": {"event": "connected"}, "extraction_map": {"protocol": "protocol", "version": "version"}},
          "start": {"detection_pattern": {"event": "start"}, "extraction_map": {
            "stream_id": "start.streamSid", "call_id": "start.callSid", "account_id": "start.accountSid",
            "sequence": "sequenceNumber", "track": "start.tracks.0", "custom_parameters": "start.customParameters",
            "encoding": "start.mediaFormat.encoding", "sample_rate": "start.mediaFormat.sampleRate", "channels": "start.mediaFormat.channels"}},
          "media": {"detection_pattern": {"event": "media"}, "extraction_map": {
            "stream_id": "streamSid", "sequence": "sequenceNumber", "track": "media.track", "chunk": "media.chunk",
            "timestamp": "media.timestamp", "audio": "media.payload"}},
          "dtmf": {"detection_pattern": {"event": "dtmf"}, "extraction_map": {
            "stream_id": "streamSid", "sequence": "sequenceNumber", "track": "dtmf.track", "digit": "dtmf.digit"}},
          "mark": {"detection_pattern": {"event": "mark"}, "extraction_map": {
            "stream_id": "streamSid", "sequence": "sequenceNumber", "mark": "mark.name"}},
          "stop": {"detection_pattern": {"event": "stop"}, "extraction_map": {
            "stream_id": "streamSid", "sequence": "sequenceNumber", "call_id": "stop.callSid", "account_id": "stop.accountSid"}}
        }},
        "outgoing": {
          "media": {"event": "media", "streamSid": "{{stream_id}}", "media": {"payload": "{{audio}}"}},
          "mark": {"event": "mark", "streamSid": "{{stream_id}}", "mark": {"name": "{{mark}}"}},
          "clear": {"event": "clear", "streamSid": "{{stream_id}}"}
        },
        "telephony": {
          "connected": {"event": "connected", "protocol": "Call", "version": "1.0.0"},
          "start": {"event": "start", "sequenceNumber": "{{sequence|string}}", "streamSid": "{{stream_id}}", "start": {
            "streamSid": "{{stream_id}}", "accountSid": "{{account_id}}", "callSid": "{{call_id}}", "tracks": ["inbound"],
            "customParameters": "{{custom_parameters}}",
            "mediaFormat": {"encoding": "{{encoding}}", "sampleRate": "{{sample_rate}}", "channels": "{{channels}}"}}},
          "media": {"event": "media", "sequenceNumber": "{{sequence|string}}", "streamSid": "{{stream_id}}", "media": {
            "track": "inbound", "chunk": "{{chunk|string}}", "timestamp": "{{timestamp|string}}", "payload": "{{audio}}"}},
          "dtmf": {"event": "dtmf", "sequenceNumber": "{{sequence|string}}", "streamSid": "{{stream_id}}", "dtmf": {"track": "inbound_track", "digit": "{{digit}}"}},
          "mark": {"event": "mark", "sequenceNumber": "{{sequence|string}}", "streamSid": "{{stream_id}}", "mark": {"name": "{{mark}}"}},
          "stop": {"event": "stop", "sequenceNumber": "{{sequence|string}}", "streamSid": "{{stream_id}}", "stop": {"accountSid": "{{account_id}}", "callSid": "{{call_id}}"}}
        }
      }
    }
    """#

    /// Exotel Voicebot: snake case, numbers as strings, PCM16 LE 8 kHz by default (read start's media_format),
    /// outgoing chunks in multiples of 320 bytes.
    static let exotel = #"""
    {
      "provider": "exotel",
      "transport": {"text": "json", "binary": "reject"},
      "audio": {"encoding": "pcm16le", "sample_rate": 8000, "channels": 1, "payload": "base64",
                "frame_multiple": 320, "frame_min": 3200, "frame_max": 100000, "strict_frames": true,
                "encoding_names": {"audio/x-mulaw": "ulaw", "raw/slin": "pcm16le", "audio/x-raw": "pcm16le", "base64": "pcm16le"}},
      "events": {
        "incoming": {"message_patterns": {
          "connected": {"detection_pattern": {"event": "connected"}, "extraction_map": {}},
          "start": {"detection_pattern": {"event": "start"}, "extraction_map": {
            "stream_id": "start.stream_sid", "call_id": "start.call_sid", "account_id": "start.account_sid",
            "sequence": "sequence_number", "from": "start.from", "to": "start.to",
            "custom_parameters": "start.custom_parameters", "encoding": "start.media_format.encoding",
            "sample_rate": "start.media_format.sample_rate"}},
          "media": {"detection_pattern": {"event": "media"}, "extraction_map": {
            "stream_id": "stream_sid", "sequence": "sequence_number", "chunk": "media.chunk",
            "timestamp": "media.timestamp", "audio": "media.payload"}},
          "dtmf": {"detection_pattern": {"event": "dtmf"}, "extraction_map": {
            "stream_id": "stream_sid", "sequence": "sequence_number", "digit": "dtmf.digit", "duration": "dtmf.duration"}},
          "mark": {"detection_pattern": {"event": "mark"}, "extraction_map": {
            "stream_id": "stream_sid", "sequence": "sequence_number", "mark": "mark.name"}},
          "stop": {"detection_pattern": {"event": "stop"}, "extraction_map": {
            "stream_id": "stream_sid", "sequence": "sequence_number", "call_id": "stop.call_sid",
            "account_id": "stop.account_sid", "reason": "stop.reason"}}
        }},
        "outgoing": {
          "media": {"event": "media", "stream_sid": "{{stream_id}}", "media": {"payload": "{{audio}}"}},
          "mark": {"event": "mark", "stream_sid": "{{stream_id}}", "mark": {"name": "{{mark}}"}},
          "clear": {"event": "clear", "stream_sid": "{{stream_id}}"}
        },
        "telephony": {
          "connected": {"event": "connected"},
          "start": {"event": "start", "sequence_number": "{{sequence|string}}", "stream_sid": "{{stream_id}}", "start": {
            "stream_sid": "{{stream_id}}", "call_sid": "{{call_id}}", "account_sid": "{{account_id}}", "from": "{{from}}", "to": "{{to}}",
            "custom_parameters": "{{custom_parameters}}",
            "media_format": {"encoding": "{{encoding}}", "sample_rate": "{{sample_rate|string}}", "bit_rate": "16"}}},
          "media": {"event": "media", "sequence_number": "{{sequence|string}}", "stream_sid": "{{stream_id}}", "media": {
            "chunk": "{{chunk|string}}", "timestamp": "{{timestamp|string}}", "payload": "{{audio}}"}},
          "dtmf": {"event": "dtmf", "sequence_number": "{{sequence|string}}", "stream_sid": "{{stream_id}}", "dtmf": {"digit": "{{digit}}", "duration": "{{duration|string}}"}},
          "mark": {"event": "mark", "sequence_number": "{{sequence|string}}", "stream_sid": "{{stream_id}}", "mark": {"name": "{{mark}}"}},
          "stop": {"event": "stop", "sequence_number": "{{sequence|string}}", "stream_sid": "{{stream_id}}", "stop": {
            "call_sid": "{{call_id}}", "account_sid": "{{account_id}}", "reason": "{{reason}}"}}
        }
      }
    }
    """#

    /// Plivo Audio Streams: no connected (start stands in), numbers as numbers, no stop (the socket closes),
    /// playAudio/checkpoint/clearAudio out, playedStream/clearedAudio back.
    static let plivo = #"""
    {
      "provider": "plivo",
      "transport": {"text": "json", "binary": "reject"},
      "audio": {"encoding": "pcm16le", "sample_rate": 8000, "channels": 1, "payload": "base64", "frame_ms": 20,
                "encoding_names": {"audio/x-l16": "pcm16le", "audio/x-mulaw": "ulaw"}},
      "events": {
        "incoming": {"message_patterns": {
          "start": {"detection_pattern": {"event": "start"}, "extraction_map": {
            "stream_id": "start.streamId", "call_id": "start.callId", "account_id": "start.accountId",
            "sequence": "sequenceNumber", "track": "start.tracks.0", "encoding": "start.mediaFormat.encoding",
            "sample_rate": "start.mediaFormat.sampleRate", "custom_parameters": "extra_headers"}},
          "media": {"detection_pattern": {"event": "media"}, "extraction_map": {
            "stream_id": "streamId", "sequence": "sequenceNumber", "track": "media.track", "chunk": "media.chunk",
            "timestamp": "media.timestamp", "audio": "media.payload"}},
          "dtmf": {"detection_pattern": {"event": "dtmf"}, "extraction_map": {"stream_id": "streamId", "digit": "dtmf.digit"}},
          "playedStream": {"maps_to": "mark", "detection_pattern": {"event": "playedStream"}, "extraction_map": {
            "stream_id": "streamId", "mark": "name"}},
          "clearedAudio": {"maps_to": "clear", "detection_pattern": {"event": "clearedAudio"}, "extraction_map": {
            "stream_id": "streamId", "sequence": "sequenceNumber"}}
        }},
        "outgoing": {
          "media": {"event": "playAudio", "media": {"contentType": "{{encoding}}", "sampleRate": "{{sample_rate}}", "payload": "{{audio}}"}, "streamId": "{{stream_id}}"},
          "mark": {"event": "checkpoint", "streamId": "{{stream_id}}", "name": "{{mark}}"},
          "clear": {"event": "clearAudio", "streamId": "{{stream_id}}"}
        },
        "telephony": {
          "start": {"event": "start", "sequenceNumber": "{{sequence}}", "start": {"callId": "{{call_id}}", "streamId": "{{stream_id}}",
            "accountId": "{{account_id}}", "tracks": ["inbound"], "mediaFormat": {"encoding": "{{encoding}}", "sampleRate": "{{sample_rate}}"}},
            "extra_headers": "{{custom_parameters|pairs}}"},
          "media": {"event": "media", "sequenceNumber": "{{sequence}}", "streamId": "{{stream_id}}", "media": {
            "track": "inbound", "timestamp": "{{timestamp|string}}", "chunk": "{{chunk}}", "payload": "{{audio}}"}},
          "dtmf": {"event": "dtmf", "streamId": "{{stream_id}}", "dtmf": {"digit": "{{digit}}"}},
          "mark": {"event": "playedStream", "streamId": "{{stream_id}}", "name": "{{mark}}"},
          "cleared": {"event": "clearedAudio", "sequenceNumber": "{{sequence}}", "streamId": "{{stream_id}}"}
        }
      }
    }
    """#

    /// Telnyx media streaming: stream_id at the top level, the call's own codec (PCMU or PCMA; L16 is
    /// big-endian here), media possibly out of order (sessions reorder by sequence). Audio sent back is in
    /// the stream's bidirectional codec, PCMU 8 kHz unless the call was set up otherwise.
    static let telnyx = #"""
    {
      "provider": "telnyx",
      "transport": {"text": "json", "binary": "reject"},
      "audio": {"encoding": "ulaw", "sample_rate": 8000, "channels": 1, "payload": "base64", "frame_ms": 20,
                "agent_encoding": "ulaw", "agent_sample_rate": 8000,
                "encoding_names": {"PCMU": "ulaw", "PCMA": "alaw", "L16": "pcm16be", "audio/l16": "pcm16be"}},
      "events": {
        "incoming": {"message_patterns": {
          "connected": {"detection_pattern": {"event": "connected"}, "extraction_map": {"version": "version"}},
          "start": {"detection_pattern": {"event": "start"}, "extraction_map": {
            "stream_id": "stream_id", "sequence": "sequence_number", "call_id": "start.call_control_id",
            "call_session_id": "start.call_session_id", "from": "start.from", "to": "start.to",
            "custom_parameters": "start.custom_parameters", "encoding": "start.media_format.encoding",
            "sample_rate": "start.media_format.sample_rate", "channels": "start.media_format.channels"}},
          "media": {"detection_pattern": {"event": "media"}, "extraction_map": {
            "stream_id": "stream_id", "sequence": "sequence_number", "track": "media.track", "chunk": "media.chunk",
            "timestamp": "media.timestamp", "audio": "media.payload"}},
          "dtmf": {"detection_pattern": {"event": "dtmf"}, "extraction_map": {
            "stream_id": "stream_id", "sequence": "sequence_number", "digit": "dtmf.digit"}},
          "mark": {"detection_pattern": {"event": "mark"}, "extraction_map": {"stream_id": "stream_id", "mark": "mark.name"}},
          "stop": {"detection_pattern": {"event": "stop"}, "extraction_map": {
            "stream_id": "stream_id", "sequence": "sequence_number", "call_id": "stop.call_control_id"}}
        }},
        "outgoing": {
          "media": {"event": "media", "media": {"payload": "{{audio}}"}},
          "mark": {"event": "mark", "mark": {"name": "{{mark}}"}},
          "clear": {"event": "clear"}
        },
        "telephony": {
          "connected": {"event": "connected", "version": "1.0.0"},
          "start": {"event": "start", "sequence_number": "{{sequence|string}}", "stream_id": "{{stream_id}}", "start": {
            "user_id": "{{account_id}}", "call_control_id": "{{call_id}}", "from": "{{from}}", "to": "{{to}}",
            "custom_parameters": "{{custom_parameters}}",
            "media_format": {"encoding": "{{encoding}}", "sample_rate": "{{sample_rate}}", "channels": "{{channels}}"}}},
          "media": {"event": "media", "sequence_number": "{{sequence|string}}", "stream_id": "{{stream_id}}", "media": {
            "track": "inbound", "chunk": "{{chunk|string}}", "timestamp": "{{timestamp|string}}", "payload": "{{audio}}"}},
          "dtmf": {"event": "dtmf", "sequence_number": "{{sequence|string}}", "stream_id": "{{stream_id}}", "dtmf": {"digit": "{{digit}}"}},
          "mark": {"event": "mark", "stream_id": "{{stream_id}}", "mark": {"name": "{{mark}}"}},
          "stop": {"event": "stop", "sequence_number": "{{sequence|string}}", "stream_id": "{{stream_id}}", "stop": {"call_control_id": "{{call_id}}"}}
        }
      }
    }
    """#

    /// Vonage Voice API WebSocket: one JSON text frame (websocket:connected, which carries the format and
    /// the NCCO headers flattened into it: the whole message is the call's custom parameters), then binary
    /// L16 frames of exactly 20 ms; notify stands in for marks.
    static let vonage = #"""
    {
      "provider": "vonage",
      "transport": {"text": "json", "binary": "media"},
      "audio": {"encoding": "pcm16le", "sample_rate": 16000, "channels": 1, "payload": "binary", "frame_ms": 20, "strict_frames": true},
      "events": {
        "incoming": {"message_patterns": {
          "start": {"detection_pattern": {"event": "websocket:connected"}, "extraction_map": {
            "encoding": "content-type", "call_id": "call_id", "from": "from", "to": "to", "custom_parameters": "$message"}},
          "dtmf": {"detection_pattern": {"event": "websocket:dtmf"}, "extraction_map": {"digit": "digit", "duration": "duration"}},
          "notify": {"maps_to": "mark", "detection_pattern": {"event": "websocket:notify"}, "extraction_map": {"mark": "payload.mark"}},
          "cleared": {"maps_to": "clear", "detection_pattern": {"event": "websocket:cleared"}, "extraction_map": {}},
          "error": {"maps_to": "stop", "detection_pattern": {"event": "websocket:error"}, "extraction_map": {"reason": "error"}}
        }},
        "outgoing": {
          "mark": {"action": "notify", "payload": {"mark": "{{mark}}"}},
          "clear": {"action": "clear"}
        },
        "telephony": {
          "start": {"event": "websocket:connected", "content-type": "audio/l16;rate={{sample_rate}}", "call_id": "{{call_id}}", "from": "{{from}}", "to": "{{to}}"},
          "dtmf": {"event": "websocket:dtmf", "digit": "{{digit}}", "duration": "{{duration}}"},
          "mark": {"event": "websocket:notify", "payload": {"mark": "{{mark}}"}},
          "cleared": {"event": "websocket:cleared"}
        }
      }
    }
    """#

    /// jambonz listen/stream (and FreeSWITCH mod_audio_fork): JSON metadata first, then binary L16 LE;
    /// killAudio clears, marks come back with data.event "playout" or "cleared".
    static let jambonz = #"""
    {
      "provider": "jambonz",
      "transport": {"text": "json", "binary": "media"},
      "audio": {"encoding": "pcm16le", "sample_rate": 8000, "channels": 1, "payload": "binary", "frame_ms": 20},
      "events": {
        "incoming": {"message_patterns": {
          "mark": {"detection_pattern": {"type": "mark"}, "extraction_map": {"mark": "data.name", "reason": "data.event"}},
          "dtmf": {"detection_pattern": {"event": "dtmf"}, "extraction_map": {"digit": "dtmf", "duration": "duration"}},
          "start": {"detection_pattern": {"callSid": {"$exists": true}, "event": {"$exists": false}, "type": {"$exists": false}}, "extraction_map": {
            "call_id": "callSid", "from": "from", "to": "to", "direction": "direction", "sample_rate": "sampleRate",
            "custom_parameters": "metadata"}}
        }},
        "outgoing": {
          "mark": {"type": "mark", "data": {"name": "{{mark}}"}},
          "clear": {"type": "killAudio"},
          "disconnect": {"type": "disconnect"}
        },
        "telephony": {
          "start": {"callSid": "{{call_id}}", "from": "{{from}}", "to": "{{to}}", "direction": "{{direction}}", "sampleRate": "{{sample_rate}}",
            "mixType": "mono", "metadata": "{{custom_parameters}}"},
          "dtmf": {"event": "dtmf", "dtmf": "{{digit}}", "duration": "{{duration|string}}"},
          "mark": {"type": "mark", "data": {"name": "{{mark}}", "event": "playout"}},
          "mark_cleared": {"type": "mark", "data": {"name": "{{mark}}", "event": "cleared"}}
        }
      }
    }
    """#

    /// Asterisk chan_websocket with JSON control messages; media binary in the channel's codec.
    static let asterisk = #"""
    {
      "provider": "asterisk",
      "flow_control": {"pause": "xoff", "resume": "xon"},
      "transport": {"text": "json", "binary": "media"},
      "audio": {"encoding": "ulaw", "sample_rate": 8000, "channels": 1, "payload": "binary", "frame_ms": 20},
      "events": {
        "incoming": {"message_patterns": {
          "start": {"detection_pattern": {"event": "MEDIA_START"}, "extraction_map": {
            "stream_id": "connection_id", "call_id": "channel_id", "encoding": "format",
            "custom_parameters": "channel_variables", "channel": "channel", "optimal_frame_size": "optimal_frame_size", "ptime": "ptime"}},
          "dtmf": {"detection_pattern": {"event": "DTMF_END"}, "extraction_map": {"call_id": "channel_id", "digit": "digit"}},
          "mark": {"detection_pattern": {"event": "MEDIA_MARK_PROCESSED"}, "extraction_map": {"call_id": "channel_id", "mark": "correlation_id"}},
          "xoff": {"maps_to": "ignore", "detection_pattern": {"event": "MEDIA_XOFF"}, "extraction_map": {}},
          "xon": {"maps_to": "ignore", "detection_pattern": {"event": "MEDIA_XON"}, "extraction_map": {}},
          "drained": {"maps_to": "ignore", "detection_pattern": {"event": "QUEUE_DRAINED"}, "extraction_map": {}}
        }},
        "outgoing": {
          "mark": {"command": "MARK_MEDIA", "correlation_id": "{{mark}}"},
          "clear": {"command": "FLUSH_MEDIA"},
          "hangup": {"command": "HANGUP"}
        },
        "telephony": {
          "start": {"event": "MEDIA_START", "connection_id": "{{stream_id}}", "channel": "WebSocket/{{stream_id}}", "channel_id": "{{call_id}}",
            "format": "{{encoding}}", "optimal_frame_size": "{{frame_bytes}}", "ptime": 20, "channel_variables": "{{custom_parameters}}"},
          "dtmf": {"event": "DTMF_END", "channel_id": "{{call_id}}", "digit": "{{digit}}"},
          "mark": {"event": "MEDIA_MARK_PROCESSED", "channel_id": "{{call_id}}", "correlation_id": "{{mark}}"}
        }
      }
    }
    """#

    /// Asterisk chan_websocket with its default plain-text control lines.
    static let asteriskText = #"""
    {
      "provider": "asterisk-text",
      "flow_control": {"pause": "xoff", "resume": "xon"},
      "transport": {"text": "lines", "binary": "media"},
      "audio": {"encoding": "ulaw", "sample_rate": 8000, "channels": 1, "payload": "binary", "frame_ms": 20},
      "events": {
        "incoming": {"message_patterns": {
          "start": {"detection_pattern": {"event": "MEDIA_START"}, "extraction_map": {
            "stream_id": "connection_id", "call_id": "channel_id", "encoding": "format",
            "channel": "channel", "optimal_frame_size": "optimal_frame_size", "ptime": "ptime"}},
          "dtmf": {"detection_pattern": {"event": "DTMF_END"}, "extraction_map": {"call_id": "channel_id", "digit": "digit"}},
          "mark": {"detection_pattern": {"event": "MEDIA_MARK_PROCESSED"}, "extraction_map": {"mark": "args.0"}},
          "xoff": {"maps_to": "ignore", "detection_pattern": {"event": "MEDIA_XOFF"}, "extraction_map": {}},
          "xon": {"maps_to": "ignore", "detection_pattern": {"event": "MEDIA_XON"}, "extraction_map": {}},
          "drained": {"maps_to": "ignore", "detection_pattern": {"event": "QUEUE_DRAINED"}, "extraction_map": {}}
        }},
        "outgoing": {
          "mark": "MARK_MEDIA {{mark}}",
          "clear": "FLUSH_MEDIA",
          "hangup": "HANGUP"
        },
        "telephony": {
          "start": "MEDIA_START connection_id:{{stream_id}} channel:WebSocket/{{stream_id}} channel_id:{{call_id}} format:{{encoding}} optimal_frame_size:{{frame_bytes}} ptime:20",
          "dtmf": "DTMF_END digit:{{digit}} channel_id:{{call_id}}",
          "mark": "MEDIA_MARK_PROCESSED {{mark}}"
        }
      }
    }
    """#

    /// Asterisk AudioSocket (TCP): type-length-value frames, slin 8 kHz; no clear command exists, so
    /// clearing is local (drop what is queued before it is written).
    static let audioSocket = #"""
    {
      "provider": "audiosocket",
      "transport": {"text": "json", "binary": "audiosocket"},
      "audio": {"encoding": "pcm16le", "sample_rate": 8000, "channels": 1, "payload": "binary", "frame_ms": 20, "pacing": "sender"},
      "events": {
        "incoming": {"message_patterns": {
          "start": {"detection_pattern": {"kind": "uuid"}, "extraction_map": {"call_id": "uuid", "stream_id": "uuid"}},
          "media": {"detection_pattern": {"kind": "audio"}, "extraction_map": {"audio": "$payload", "sample_rate": "sample_rate"}},
          "dtmf": {"detection_pattern": {"kind": "dtmf"}, "extraction_map": {"digit": "digit"}},
          "stop": {"detection_pattern": {"kind": "hangup"}, "extraction_map": {}},
          "failed": {"maps_to": "stop", "detection_pattern": {"kind": "error"}, "extraction_map": {"reason": "kind", "code": "code"}}
        }},
        "outgoing": {
          "clear": null
        }
      }
    }
    """#
}
