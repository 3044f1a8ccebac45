"""Telephony providers: JSON templates that map each WebSocket message of one provider to one event.
Built-in: twilio, exotel, plivo, telnyx, vonage, jambonz, asterisk, asterisk-text, audiosocket."""
from __future__ import annotations

import ctypes
import json
from typing import Any, Dict, List, Optional, Union

from . import _abi
from ._core import (BytesLike, Handle, JSONInput, buffer_in, c_string, check, json_in, new_handle, out_call,
                    take_json, view_bytes)
from ._types import Encoding, Event, EventKind, Format

__all__ = ["Provider", "BUILTIN_PROVIDERS", "event_from_struct"]

#: The built-in providers' names.
BUILTIN_PROVIDERS = ("twilio", "exotel", "plivo", "telnyx", "vonage", "jambonz", "asterisk", "asterisk-text",
                     "audiosocket")


def _text(field: _abi.FormiText) -> Optional[str]:
    if not field.data:
        return None
    return ctypes.string_at(field.data, field.len).decode("utf-8", "replace")


def _number(value: int) -> Optional[int]:
    return None if value == -1 else value


def event_from_struct(e: _abi.FormiEvent) -> Event:
    """Copies a formi_event into an Event (every view copied: valid after the next library call)."""
    try:
        kind = EventKind(e.kind)
    except ValueError:
        kind = e.kind  # a kind newer than these bindings: keep the number
    fmt: Optional[Format] = None
    if e.format.encoding:
        try:
            fmt = Format(Encoding(e.format.encoding), e.format.sample_rate, e.format.channels)
        except ValueError:
            fmt = None
    custom = _text(e.custom_parameters)
    return Event(
        kind=kind,
        format=fmt,
        audio=view_bytes(e.audio, e.audio_len) if e.audio else None,
        sequence=_number(e.sequence),
        timestamp=_number(e.timestamp),
        chunk=_number(e.chunk),
        duration_ms=_number(e.duration_ms),
        stream_id=_text(e.stream_id),
        call_id=_text(e.call_id),
        account_id=_text(e.account_id),
        track=_text(e.track),
        digit=_text(e.digit),
        mark=_text(e.mark),
        direction=_text(e.direction),
        from_=_text(getattr(e, "from")),
        to=_text(e.to),
        reason=_text(e.reason),
        custom_parameters=json.loads(custom) if custom is not None else None,
        error=_text(e.error),
        pattern=_text(e.pattern),
    )


def _message(message: Union[str, BytesLike]) -> Any:
    return message.encode("utf-8") if isinstance(message, str) else message


class Provider(Handle):
    """A provider template: `Provider("twilio")` (built-in) or `Provider.from_json(template)`.

    map() turns one WebSocket message into an Event; it never fails on bad messages (they become ERROR
    events), only on bad arguments. Sessions keep what they need of a provider, which may be closed once
    the session exists. One thread at a time (a lock enforces it); releases the GIL during work.
    """

    _what = "Provider"

    def __init__(self, name: str) -> None:
        encoded = c_string(name, "provider name")
        L = _abi.lib()
        pointer = new_handle(lambda status: L.formi_provider_builtin(encoded, status))
        self._adopt(pointer, L.formi_provider_free)
        self._event = _abi.FormiEvent()

    @classmethod
    def builtin(cls, name: str) -> "Provider":
        """A built-in provider by name (NotFound, naming the known ones, for another)."""
        return cls(name)

    @classmethod
    def from_json(cls, template: JSONInput) -> "Provider":
        """A provider from a template (a dict, or its JSON text). TemplateError (or JSONError) lists every
        problem, each naming its field; Provider.validate returns them as a list."""
        data = json_in(template, "template")
        L = _abi.lib()
        self = cls.__new__(cls)
        pointer = new_handle(lambda status: L.formi_provider_from_json(data, len(data), status))
        self._adopt(pointer, L.formi_provider_free)
        self._event = _abi.FormiEvent()
        return self

    @staticmethod
    def validate(template: JSONInput) -> List[Dict[str, Any]]:
        """Every problem of a template as a list of {"field", "message"} ([] when valid). Raises only for
        bad arguments."""
        data = json_in(template, "template")
        report = ctypes.c_void_p()
        status = _abi.lib().formi_provider_validate_json(data, len(data), ctypes.byref(report))
        if report.value:
            return take_json(report, "provider report")
        check(status)
        return []

    @property
    def name(self) -> str:
        """The provider's name."""
        with self._lock:
            raw = _abi.lib().formi_provider_name(self._handle())
        return raw.decode("utf-8", "replace") if raw else ""

    def map(self, message: Union[str, BytesLike], binary: bool = False) -> Event:
        """Maps one message (a text frame, or a binary frame with `binary=True`) to an Event. A str is
        sent as UTF-8. Releases the GIL during work."""
        data = _message(message)
        pointer, size, keep = buffer_in(data, "message", "raw")
        L = _abi.lib()
        with self._lock:
            check(L.formi_provider_map(self._handle(), pointer, size, 1 if binary else 0, ctypes.byref(self._event)))
            event = event_from_struct(self._event)
        del keep
        return event

    def map_json(self, message: Union[str, BytesLike], binary: bool = False) -> Dict[str, Any]:
        """The same mapping as a dict, e.g. {"event": "media", "audio": {"bytes": 160, "base64": ...}, ...}."""
        data = _message(message)
        pointer, size, keep = buffer_in(data, "message", "raw")
        L = _abi.lib()
        with self._lock:
            result = out_call(L.formi_provider_map_json, self._handle(), pointer, size, 1 if binary else 0,
                              what="mapped event")
        del keep
        return result

    def __repr__(self) -> str:
        if self.closed:
            return "<formi.Provider closed>"
        return f"<formi.Provider {self.name!r}>"
