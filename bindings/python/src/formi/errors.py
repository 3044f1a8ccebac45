"""Exceptions carrying libformi's status codes (the FORMI_E* codes of include/formi.h) and messages.

Every failed call raises the subclass of `FormiError` for its status, with the library's message: the
handle's own last error (sessions, ledgers) where there is one, else `formi_last_error()`.
Subclasses also derive from the matching built-in exception where one fits (`InvalidArgument` is a
`ValueError`, `NotFound` a `LookupError`, ...), so generic handlers keep working.
"""
from __future__ import annotations

from typing import Dict, Optional, Type

__all__ = [
    "FORMI_OK", "FORMI_EINVAL", "FORMI_ENOMEM", "FORMI_EBUFFER", "FORMI_ELENGTH", "FORMI_EOVERFLOW",
    "FORMI_EBASE64", "FORMI_EJSON", "FORMI_EUNSUPPORTED", "FORMI_ESTATE", "FORMI_ENOTFOUND", "FORMI_ELIMIT",
    "FORMI_ETEMPLATE", "FORMI_ESTORAGE", "FORMI_EINTERNAL", "FORMI_EBUSY",
    "FormiError", "InvalidArgument", "OutOfMemory", "BufferTooSmall", "LengthError", "SizeOverflow",
    "Base64Error", "JSONError", "Unsupported", "StateError", "NotFound", "LimitExceeded", "TemplateError",
    "StorageError", "InternalError", "Busy", "ClosedError", "error_for", "status_name",
]

FORMI_OK = 0
FORMI_EINVAL = -1
FORMI_ENOMEM = -2
FORMI_EBUFFER = -3
FORMI_ELENGTH = -4
FORMI_EOVERFLOW = -5
FORMI_EBASE64 = -6
FORMI_EJSON = -7
FORMI_EUNSUPPORTED = -8
FORMI_ESTATE = -9
FORMI_ENOTFOUND = -10
FORMI_ELIMIT = -11
FORMI_ETEMPLATE = -12
FORMI_ESTORAGE = -13
FORMI_EINTERNAL = -14
FORMI_EBUSY = -15

_NAMES: Dict[int, str] = {
    FORMI_OK: "FORMI_OK", FORMI_EINVAL: "FORMI_EINVAL", FORMI_ENOMEM: "FORMI_ENOMEM",
    FORMI_EBUFFER: "FORMI_EBUFFER", FORMI_ELENGTH: "FORMI_ELENGTH", FORMI_EOVERFLOW: "FORMI_EOVERFLOW",
    FORMI_EBASE64: "FORMI_EBASE64", FORMI_EJSON: "FORMI_EJSON", FORMI_EUNSUPPORTED: "FORMI_EUNSUPPORTED",
    FORMI_ESTATE: "FORMI_ESTATE", FORMI_ENOTFOUND: "FORMI_ENOTFOUND", FORMI_ELIMIT: "FORMI_ELIMIT",
    FORMI_ETEMPLATE: "FORMI_ETEMPLATE", FORMI_ESTORAGE: "FORMI_ESTORAGE", FORMI_EINTERNAL: "FORMI_EINTERNAL",
    FORMI_EBUSY: "FORMI_EBUSY",
}


def status_name(status: int) -> str:
    """The C name of a status code, e.g. "FORMI_EJSON" for -7 ("FORMI_E?(-99)" for an unknown one)."""
    return _NAMES.get(status, f"FORMI_E?({status})")


class FormiError(Exception):
    """A libformi call failed: `status` is its FORMI_E* code (negative), `message` the library's detail."""

    #: The status code the subclass stands for (None on FormiError itself).
    STATUS: Optional[int] = None

    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message

    @property
    def name(self) -> str:
        """The status's C name, e.g. "FORMI_EJSON"."""
        return status_name(self.status)

    def __str__(self) -> str:
        return f"{self.message} ({self.name})" if self.message else self.name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.message!r})"

    def __reduce__(self):  # picklable despite the two-argument constructor
        return (type(self), (self.status, self.message))


class InvalidArgument(FormiError, ValueError):
    """FORMI_EINVAL: an invalid argument or value out of range."""

    STATUS = FORMI_EINVAL


class OutOfMemory(FormiError, MemoryError):
    """FORMI_ENOMEM: the library ran out of memory."""

    STATUS = FORMI_ENOMEM


class BufferTooSmall(FormiError):
    """FORMI_EBUFFER: an output buffer was too small (the bindings size buffers, so rarely seen)."""

    STATUS = FORMI_EBUFFER


class LengthError(FormiError, ValueError):
    """FORMI_ELENGTH: input not a whole number of samples or frames (e.g. odd bytes of 16-bit PCM)."""

    STATUS = FORMI_ELENGTH


class SizeOverflow(FormiError, OverflowError):
    """FORMI_EOVERFLOW: a length or size overflows."""

    STATUS = FORMI_EOVERFLOW


class Base64Error(FormiError, ValueError):
    """FORMI_EBASE64: invalid base64 (the message names the byte and offset)."""

    STATUS = FORMI_EBASE64


class JSONError(FormiError, ValueError):
    """FORMI_EJSON: malformed JSON, or JSON of the wrong shape."""

    STATUS = FORMI_EJSON


class Unsupported(FormiError):
    """FORMI_EUNSUPPORTED: unsupported format, rate, channel count, option, or a call the role lacks."""

    STATUS = FORMI_EUNSUPPORTED


class StateError(FormiError):
    """FORMI_ESTATE: not allowed in the current state (e.g. audio before start, a run that ended)."""

    STATUS = FORMI_ESTATE


class NotFound(FormiError, LookupError):
    """FORMI_ENOTFOUND: no such name or id (e.g. an unknown provider, a missing template variable)."""

    STATUS = FORMI_ENOTFOUND


class LimitExceeded(FormiError):
    """FORMI_ELIMIT: a configured limit was exceeded (size, depth, queue, balance)."""

    STATUS = FORMI_ELIMIT


class TemplateError(FormiError, ValueError):
    """FORMI_ETEMPLATE: an invalid template, flow or provider definition."""

    STATUS = FORMI_ETEMPLATE


class StorageError(FormiError):
    """FORMI_ESTORAGE: the ledger's storage failed (corrupt or read-only file, full disk, I/O)."""

    STATUS = FORMI_ESTORAGE


class InternalError(FormiError):
    """FORMI_EINTERNAL (or a status the bindings do not know): a bug in libformi."""

    STATUS = FORMI_EINTERNAL


class Busy(FormiError):
    """FORMI_EBUSY: another process kept the ledger's file locked past the busy timeout; nothing was
    done, the call may be retried."""

    STATUS = FORMI_EBUSY


class ClosedError(StateError, ValueError):
    """A method was called on a handle after close(): raised by the bindings, the library is not called."""

    def __init__(self, what: str) -> None:
        super().__init__(FORMI_ESTATE, f"{what} is closed")
        self.what = what

    def __reduce__(self):
        return (type(self), (self.what,))


_CLASSES: Dict[int, Type[FormiError]] = {
    cls.STATUS: cls  # type: ignore[misc]
    for cls in (InvalidArgument, OutOfMemory, BufferTooSmall, LengthError, SizeOverflow, Base64Error, JSONError,
                Unsupported, StateError, NotFound, LimitExceeded, TemplateError, StorageError, InternalError, Busy)
}


def error_for(status: int, message: str = "") -> FormiError:
    """The exception for a status code: its FormiError subclass, InternalError for an unknown code."""
    return _CLASSES.get(status, InternalError)(status, message)
