"""Call sessions: one call, at one end of it, sans-I/O (no sockets, threads or sleeps).

Feed in what the transport received (receive), your own audio (send_audio) and your clock (set_time);
take out events (events()) and messages to send (outputs()).

    with formi.Session("twilio", role="agent_server") as call:
        for frame in websocket:                        # your transport
            call.receive(frame)
            for event in call.events():
                if event.kind is formi.EventKind.MEDIA:
                    recogniser.feed(event.audio)       # PCM16LE 16 kHz by default
            for message in call.outputs():
                websocket.send(message.data, binary=message.binary)
"""
from __future__ import annotations

import ctypes
import json
from collections import deque
from typing import Any, Deque, Dict, Iterator, Optional, Union

from . import _abi
from ._core import (I32, I64, U32, BufferOut, BytesLike, Handle, buffer_in, c_int, c_string, check, new_handle,
                    out_call, view_bytes)
from ._types import AudioChunk, Event, EventKind, Format, Message, Playback, Role
from .provider import Provider, event_from_struct

__all__ = ["Session", "SESSION_OPTIONS"]

_FORMAT_OPTIONS = ("local_format", "call_format", "agent_format", "send_format")
_U32_OPTIONS = ("max_queued_ms", "max_message_bytes", "reorder_window", "early_media_frames", "mark_interval_ms",
                "frame_ms")
_I32_OPTIONS = ("output_lead_ms", "resampler_quality", "strict")
_STRING_OPTIONS = ("stream_id", "call_id", "account_id", "from_", "to", "direction", "custom_parameters", "caller_track")
#: The keyword options of Session(), the fields of formi_session_config ("from" is spelled `from_`).
SESSION_OPTIONS = _FORMAT_OPTIONS + _U32_OPTIONS + _I32_OPTIONS + _STRING_OPTIONS


def _format_out(f: _abi.FormiFormat) -> Optional[Format]:
    if not f.encoding:
        return None
    return Format(f.encoding, f.sample_rate, f.channels)


def _config(role: Role, options: Dict[str, Any]) -> _abi.FormiSessionConfig:
    """formi_session_config_init(role), then every option given."""
    config = _abi.FormiSessionConfig()
    check(_abi.lib().formi_session_config_init(ctypes.byref(config), int(role)))
    if "from" in options:  # Session(p, **{"from": ...})
        if "from_" in options:
            raise TypeError("give 'from' or 'from_', not both")
        options["from_"] = options.pop("from")
    for key, value in options.items():
        if key in _FORMAT_OPTIONS:
            if value is None:
                continue
            f = Format.coerce(value)
            setattr(config, key, _abi.FormiFormat(int(f.encoding), c_int(f.sample_rate, f"{key}.sample_rate"),
                                                  c_int(f.channels, f"{key}.channels")))
        elif key in _U32_OPTIONS:
            setattr(config, key, c_int(value, key, *U32))
        elif key in _I32_OPTIONS:
            setattr(config, key, c_int(value, key, *I32))
        elif key in _STRING_OPTIONS:
            if key == "custom_parameters" and value is not None and not isinstance(value, (str, bytes)):
                value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            setattr(config, "from" if key == "from_" else key, c_string(value, key, optional=True))
        else:
            raise TypeError(f"unexpected session option {key!r}; the options are: " + ", ".join(SESSION_OPTIONS))
    return config


class Session(Handle):
    """One call at one end of it: `Session(provider, role="agent_server"|"telephony", **options)`.

    `provider` is a Provider or a built-in provider's name. The options are the fields of
    formi_session_config (defaults from formi_session_config_init): local_format, call_format (Format
    or (encoding, rate[, channels])), max_queued_ms, max_message_bytes, reorder_window,
    early_media_frames, mark_interval_ms, output_lead_ms, resampler_quality, caller_track (the track
    of the caller's media; "" for every track), agent_format (the agent's audio on the wire, where the
    provider fixes it apart from the call's), send_format (the audio given to send_audio, where it differs
    from local_format: hear at 16 kHz, speak at 24 kHz), frame_ms (agent server: each media message's duration where
    the provider takes any; 0 for the template's rule), strict (telephony: error events when the agent server
    breaks the provider's rules; on by default), and for the telephony role the call announced in
    start: stream_id, call_id, account_id, from_, to, direction, custom_parameters (a dict or JSON text).

    Errors raise FormiError subclasses with the session's own message. A session is used by one thread
    at a time (a lock enforces it); every call releases the GIL during work.
    """

    _what = "Session"

    def __init__(self, provider: Union[Provider, str], role: Union[Role, str, int] = Role.AGENT_SERVER,
                 **options: Any) -> None:
        self.role = Role.parse(role)
        config = _config(self.role, dict(options))
        self.local_format: Format = _format_out(config.local_format)  # type: ignore[assignment]
        L = _abi.lib()
        if isinstance(provider, str):
            with Provider(provider) as temporary:
                pointer = self._create(temporary, config)
        elif isinstance(provider, Provider):
            pointer = self._create(provider, config)
        else:
            raise TypeError(f"provider must be a formi.Provider or a provider name, not {type(provider).__name__}")
        self._adopt(pointer, L.formi_session_free)
        self._event = _abi.FormiEvent()
        self._message = _abi.FormiMessage()
        self._playback = _abi.FormiPlayback()
        # The frame path's calls, looked up once: a ctypes call costs less than finding its function.
        self._event_ref, self._message_ref = ctypes.byref(self._event), ctypes.byref(self._message)
        self._receive_fn, self._next_event_fn = L.formi_session_receive, L.formi_session_next_event
        self._send_audio_fn, self._next_output_fn = L.formi_session_send_audio, L.formi_session_next_output
        self._set_time_fn = L.formi_session_set_time
        #: Events receive_audio() took out of the library that were not audio: next_event() gives them first.
        self._held: Deque[Event] = deque()

    @staticmethod
    def _create(provider: Provider, config: _abi.FormiSessionConfig) -> int:
        L = _abi.lib()
        with provider._lock:
            handle = provider._handle()
            return new_handle(lambda status: L.formi_session_new(handle, ctypes.byref(config), status))

    @staticmethod
    def defaults(role: Union[Role, str, int] = Role.AGENT_SERVER) -> Dict[str, Any]:
        """The default options for `role` (formi_session_config_init), as a dict of the option names."""
        config = _config(Role.parse(role), {})
        result: Dict[str, Any] = {}
        for key in SESSION_OPTIONS:
            if key in _FORMAT_OPTIONS:
                result[key] = _format_out(getattr(config, key))
            elif key in _STRING_OPTIONS:
                raw = getattr(config, "from" if key == "from_" else key)
                result[key] = raw.decode("utf-8") if raw is not None else None
            else:
                result[key] = getattr(config, key)
        return result

    # -- internals -----------------------------------------------------------------------------------

    def _error(self) -> str:
        raw = _abi.lib().formi_session_last_error(self._ptr)
        return raw.decode("utf-8", "replace") if raw else ""

    def _call(self, function: str, *args: Any) -> int:
        with self._lock:
            return check(getattr(_abi.lib(), function)(self._handle(), *args), self._error)

    # -- input ---------------------------------------------------------------------------------------

    def receive(self, data: Union[str, BytesLike], binary: Optional[bool] = None) -> None:
        """One received frame, as the WebSocket gave it: a str is a text frame, anything bytes-like a
        binary frame (AudioSocket: any piece of the TCP stream), unless `binary` says otherwise (text
        as bytes: binary=False). Whatever is wrong with it becomes an ERROR event. LimitExceeded while
        1024 events wait (nothing consumed: take events and call again). Releases the GIL."""
        if binary is None:
            binary = not isinstance(data, str)
        if isinstance(data, str):
            data = data.encode("utf-8")
        pointer, size, keep = buffer_in(data, "data", "raw")
        self._call("formi_session_receive", pointer, size, 1 if binary else 0)
        del keep

    def receive_audio(self, data: Union[str, BytesLike], binary: Optional[bool] = None) -> bytes:
        """receive() for the audio path: returns the caller audio this frame carried (local_format; the
        MEDIA events' audio joined, b"" if none) without building an Event per frame. Every other event
        (start, dtmf, mark, stop, error, ...) waits in events() as usual, in its order; the audio of this
        receive is not among them (the order between the two is not kept)."""
        if binary is None:
            binary = not isinstance(data, str)
        if isinstance(data, str):
            data = data.encode("utf-8")
        pointer, size, keep = buffer_in(data, "data", "raw")
        event, ref, next_event, media = self._event, self._event_ref, self._next_event_fn, EventKind.MEDIA
        audio = b""
        with self._lock:
            handle = self._handle()
            check(self._receive_fn(handle, pointer, size, 1 if binary else 0), self._error)
            del keep
            while check(next_event(handle, ref), self._error):
                if event.kind == media:
                    if event.audio_len:
                        piece = ctypes.string_at(event.audio, event.audio_len)
                        audio = audio + piece if audio else piece
                else:
                    self._held.append(event_from_struct(event))
        return audio

    def send_audio(self, data: BytesLike) -> None:
        """The host's audio in local_format (whole frames): the agent's (agent server) or the caller's
        (telephony), converted and framed at once; the messages wait in outputs(). StateError before
        start or after the end, LengthError for a partial frame, LimitExceeded past max_queued_ms."""
        pointer, size, keep = buffer_in(data, "audio", "raw")
        with self._lock:
            check(self._send_audio_fn(self._handle(), pointer, size), self._error)
        del keep

    def flush(self) -> None:
        """Agent server: the end of an utterance (the last partial frame padded, then a playback mark)."""
        self._call("formi_session_flush")

    def send_mark(self, name: str) -> None:
        """Agent server: a mark after the audio sent so far; a MARK event comes back with reason "played"
        or "cleared". InvalidArgument for a bad name (1 to 256 bytes, not starting "formi-")."""
        self._call("formi_session_send_mark", c_string(name, "mark name"))

    def interrupt(self) -> Playback:
        """Agent server: barge-in. Drops every agent frame not yet taken, queues the provider's clear,
        returns outstanding marks as "cleared", and returns what the caller heard."""
        with self._lock:
            check(_abi.lib().formi_session_interrupt(self._handle(), ctypes.byref(self._playback)), self._error)
            return self._playback_out()

    def playback(self) -> Playback:
        """Agent server: the current (or last interrupted) utterance's playback figures."""
        with self._lock:
            check(_abi.lib().formi_session_playback(self._handle(), ctypes.byref(self._playback)), self._error)
            return self._playback_out()

    def _playback_out(self) -> Playback:
        p = self._playback
        return Playback(utterance=p.utterance, sent_ms=p.sent_ms, confirmed_ms=p.confirmed_ms,
                        estimated_ms=p.estimated_ms, interrupted=bool(p.interrupted), queued_ms=p.queued_ms)

    def send_dtmf(self, digit: str, duration_ms: int = 100) -> None:
        """Telephony: a key press from the caller ('0'-'9', '*', '#', 'A'-'D'; InvalidArgument else)."""
        if isinstance(digit, int) and not isinstance(digit, bool) and 0 <= digit <= 9:
            digit = str(digit)
        if not isinstance(digit, str):
            raise TypeError(f"digit must be a str of one character, not {type(digit).__name__}")
        encoded = digit.encode("utf-8")
        if len(encoded) != 1:
            from .errors import FORMI_EINVAL, error_for

            raise error_for(FORMI_EINVAL, f"digit must be one character, not {digit!r}")
        self._call("formi_session_send_dtmf", encoded, c_int(duration_ms, "duration_ms"))

    def read_audio(self, size: int) -> AudioChunk:
        """Telephony: the next `size` bytes of agent audio to play (local_format), padded with silence
        when the queue runs short; returns AudioChunk(data, real). Call it at your playout clock."""
        size = c_int(size, "size", 0, 2 ** 31 - 1)
        out = BufferOut(size)
        real = ctypes.c_size_t(0)
        self._call("formi_session_read_audio", out.pointer, size, ctypes.byref(real))
        return AudioChunk(out.result(size), real.value)

    def read_audio_into(self, buffer: BytesLike) -> int:
        """read_audio into a writable buffer (bytearray, memoryview, numpy array), filling all of it,
        without copying; returns the bytes of real audio."""
        try:
            view = memoryview(buffer)
        except TypeError:
            raise TypeError(f"read_audio_into needs a writable buffer, not {type(buffer).__name__}") from None
        if view.readonly or not view.c_contiguous:
            raise TypeError("read_audio_into needs a writable, C-contiguous buffer")
        pointer, size, keep = buffer_in(buffer, "buffer", "raw")
        real = ctypes.c_size_t(0)
        self._call("formi_session_read_audio", pointer, size, ctypes.byref(real))
        del keep
        return real.value

    def set_time(self, now_ms: int) -> None:
        """The host's monotonic clock in ms (any origin; never going back): pacing, the playback
        estimate, marks the provider cannot echo, the stats' start and end times."""
        if type(now_ms) is not int or not -(2 ** 63) <= now_ms < 2 ** 63:  # the frame path's call: checked cheaply
            now_ms = c_int(now_ms, "now_ms", *I64)
        with self._lock:
            check(self._set_time_fn(self._handle(), now_ms), self._error)

    def end(self, reason: Optional[str] = None) -> None:
        """The call ends (the transport closed, or you end it): agent server, a STOP event if the provider
        sent none and the provider's hangup where it has one; telephony, the provider's stop. Ending
        twice is a no-op."""
        self._call("formi_session_end", c_string(reason, "reason", optional=True))

    # -- output --------------------------------------------------------------------------------------

    def next_event(self) -> Optional[Event]:
        """The next event, or None when none waits."""
        with self._lock:
            if self._held:
                return self._held.popleft()
            got = check(self._next_event_fn(self._handle(), self._event_ref), self._error)
            return event_from_struct(self._event) if got else None

    def events(self) -> Iterator[Event]:
        """Yields every waiting event (copied out: each stays valid), until none waits."""
        while True:
            event = self.next_event()
            if event is None:
                return
            yield event

    def next_output(self) -> Optional[Message]:
        """The next message to send, or None when nothing is due now (with pacing: after set_time)."""
        with self._lock:
            m = self._message
            got = check(self._next_output_fn(self._handle(), self._message_ref), self._error)
            return Message(ctypes.string_at(m.data, m.len) if m.len else b"", bool(m.is_binary)) if got else None

    def outputs(self) -> Iterator[Message]:
        """Yields every message due now (copied out), until none is."""
        while True:
            message = self.next_output()
            if message is None:
                return
            yield message

    def stats(self) -> Dict[str, Any]:
        """The session's counters (formi_session_stats_json) as a dict: provider, role, state, ids,
        formats, times, audio and message counts, frame counts, marks, interruptions, errors, playback."""
        with self._lock:
            return out_call(_abi.lib().formi_session_stats_json, self._handle(), handle_error=self._error,
                            what="session stats")

    @property
    def last_error(self) -> str:
        """The message of the last failed call on this session ("" if none)."""
        with self._lock:
            self._handle()
            return self._error()

    def __repr__(self) -> str:
        if self.closed:
            return "<formi.Session closed>"
        return f"<formi.Session {self.role.name.lower()}>"
