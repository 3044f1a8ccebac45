"""formi: Python bindings for libformi, the telephony <-> voice-AI adapter library.

A thin, typed layer over libformi.so through ctypes (nothing to compile at install):

- codecs and base64: `ulaw_encode`, `ulaw_decode`, `alaw_encode`, `alaw_decode`, `pcm16le_*`,
  `pcm16be_*`, `pcm8_*`, `f32_*`, `stereo_to_mono`, `mono_to_stereo`, `base64_encode`, `base64_decode`;
- handles, each a context manager with `close()`: `Resampler`, `Transcoder`, `Provider`, `Session`,
  `Flow` and `FlowRun`, `Ledger`;
- prompt templates: `template_render`, `template_variables`;
- errors: `FormiError` and a subclass per FORMI_E* status (`InvalidArgument`, `JSONError`, ...);
- submodules imported on their own: `formi.aio` (a call's events straight from a websockets or FastAPI
  WebSocket), `formi.audiosocket` (an asyncio server for Asterisk's AudioSocket, raw TCP), `formi.pipecat`
  (a pipecat FrameSerializer for every provider), `formi.echo` (the example echo agent server:
  `python -m formi.echo`), `formi.sim` (a call simulator: `python -m formi.sim`) and `formi.agent` (a bot
  behind formi-server's agent bridge, docs/agent-protocol.md).

Audio goes in as any bytes-like object (bytes, bytearray, memoryview, numpy arrays) and comes out as
bytes (or numpy arrays, when numpy is installed and asked for); JSON goes in and out as dicts.
The library is loaded with ctypes.CDLL, which releases the GIL during every call: codecs run in
parallel from many threads, and each handle serialises its own calls with a lock.

Where the library is looked for: FORMI_LIBRARY (a path), pkg-config's libdir for formi, the install
prefixes, the dynamic loader, then the source tree's build/lib (see `library_path`).
"""
from . import _abi
from ._abi import LibraryNotFoundError
from ._core import last_error
from ._types import AudioChunk, Encoding, Event, EventKind, Format, Message, Playback, Role
from .audio import (alaw_decode, alaw_encode, base64_decode, base64_encode, f32_decode, f32_encode, mono_to_stereo,
                    pcm8_decode, pcm8_encode, pcm16be_decode, pcm16be_encode, pcm16le_decode, pcm16le_encode,
                    stereo_to_mono, ulaw_decode, ulaw_encode)
from .errors import (Base64Error, BufferTooSmall, Busy, ClosedError, FormiError, InternalError, InvalidArgument,
                     JSONError, LengthError, LimitExceeded, NotFound, OutOfMemory, SizeOverflow, StateError,
                     StorageError, TemplateError, Unsupported)
from .flow import Flow, FlowRun, template_render, template_variables
from .ledger import Ledger
from .provider import BUILTIN_PROVIDERS, Provider
from .resample import QUALITY_DEFAULT, Resampler, Transcoder
from .session import SESSION_OPTIONS, Session

#: The version of these bindings (they mirror include/formi.h of libformi 0.1).
__version__ = "0.1.0"


def version() -> str:
    """The loaded library's version, e.g. "0.1.0" (formi_version)."""
    return _abi.lib().formi_version().decode("ascii")


def version_number() -> int:
    """The loaded library's version as major * 10000 + minor * 100 + patch (formi_version_number)."""
    return int(_abi.lib().formi_version_number())


def strerror(status: int) -> str:
    """The library's short description of a status code (formi_strerror)."""
    from ._core import c_int

    return _abi.lib().formi_strerror(c_int(status, "status")).decode("utf-8", "replace")


def library_path() -> "tuple[str, str]":
    """(path, how it was found) of the loaded libformi, loading it on first use. "how" is one of
    "FORMI_LIBRARY", "bundled", "pkg-config", "install prefix", "dynamic loader", "build tree". Raises
    LibraryNotFoundError, listing every place tried, when it cannot be found."""
    return _abi.library_path()


__all__ = [
    "__version__", "version", "version_number", "strerror", "last_error", "library_path",
    "LibraryNotFoundError",
    # values
    "Encoding", "Format", "EventKind", "Role", "Event", "Message", "Playback", "AudioChunk",
    # codecs
    "ulaw_encode", "ulaw_decode", "alaw_encode", "alaw_decode", "pcm16le_encode", "pcm16le_decode",
    "pcm16be_encode", "pcm16be_decode", "pcm8_encode", "pcm8_decode", "f32_encode", "f32_decode",
    "stereo_to_mono", "mono_to_stereo", "base64_encode", "base64_decode",
    # handles
    "Resampler", "Transcoder", "QUALITY_DEFAULT", "Provider", "BUILTIN_PROVIDERS", "Session", "SESSION_OPTIONS",
    "Flow", "FlowRun", "Ledger",
    # templates
    "template_render", "template_variables",
    # errors
    "FormiError", "InvalidArgument", "OutOfMemory", "BufferTooSmall", "LengthError", "SizeOverflow",
    "Base64Error", "JSONError", "Unsupported", "StateError", "NotFound", "LimitExceeded", "TemplateError",
    "StorageError", "InternalError", "Busy", "ClosedError",
]
