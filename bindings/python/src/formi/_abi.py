"""The C ABI of libformi.so as ctypes sees it: finding and loading the library, the structs of
include/formi.h mirrored field for field, and the prototype of every exported function.

Private: the public API is in the other modules. The structs and `PROTOTYPES` are checked against the
header by the test suite (sizes and offsets from a compiled C program; the set of functions).

The library is loaded with `ctypes.CDLL`, so every call releases the GIL while it runs.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sysconfig
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

__all__ = [
    "LibraryNotFoundError",
    "lib",
    "library_path",
    "locate",
    "PROTOTYPES",
    "FormiFormat",
    "FormiText",
    "FormiEvent",
    "FormiSessionConfig",
    "FormiMessage",
    "FormiPlayback",
]

#: The library's file name with its SONAME version: what the bindings were written against.
SONAME = "libformi.so.0"
#: The major version the structs below mirror (FORMI_VERSION_MAJOR).
ABI_MAJOR = 0


# ---- structs (include/formi.h, in declaration order) ------------------------------------------------

class FormiFormat(ctypes.Structure):
    """`formi_format`: encoding, sample rate, channels."""

    _fields_ = [
        ("encoding", ctypes.c_int),
        ("sample_rate", ctypes.c_int),
        ("channels", ctypes.c_int),
    ]


class FormiText(ctypes.Structure):
    """`formi_text`: `len` bytes at `data`, not NUL-terminated; `data` NULL when absent."""

    _fields_ = [
        ("data", ctypes.c_void_p),  # const char *, but not NUL-terminated: never c_char_p
        ("len", ctypes.c_size_t),
    ]


#: The formi_text fields of formi_event, in order.
EVENT_TEXT_FIELDS = (
    "stream_id", "call_id", "account_id", "track", "digit", "mark", "direction", "from", "to", "reason",
    "custom_parameters", "error", "pattern",
)


class _Sized(ctypes.Structure):
    """A struct that begins with its own size (formi.h: the structs that may grow), set when made."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.size = ctypes.sizeof(self)


class FormiEvent(_Sized):
    """`formi_event`: one mapped provider message (views valid until the next call on the handle)."""

    _fields_ = [
        ("size", ctypes.c_size_t),
        ("kind", ctypes.c_int),
        ("format", FormiFormat),
        ("audio", ctypes.c_void_p),  # const uint8_t *
        ("audio_len", ctypes.c_size_t),
        ("sequence", ctypes.c_int64),
        ("timestamp", ctypes.c_int64),
        ("chunk", ctypes.c_int64),
        ("duration_ms", ctypes.c_int64),
    ] + [(name, FormiText) for name in EVENT_TEXT_FIELDS]


class FormiSessionConfig(_Sized):
    """`formi_session_config`. The `char *` fields keep their Python bytes alive (ctypes holds them)."""

    _fields_ = [
        ("size", ctypes.c_size_t),
        ("role", ctypes.c_int),
        ("local_format", FormiFormat),
        ("call_format", FormiFormat),
        ("max_queued_ms", ctypes.c_uint32),
        ("max_message_bytes", ctypes.c_uint32),
        ("reorder_window", ctypes.c_uint32),
        ("early_media_frames", ctypes.c_uint32),
        ("mark_interval_ms", ctypes.c_uint32),
        ("output_lead_ms", ctypes.c_int32),
        ("resampler_quality", ctypes.c_int32),
        ("stream_id", ctypes.c_char_p),
        ("call_id", ctypes.c_char_p),
        ("account_id", ctypes.c_char_p),
        ("from", ctypes.c_char_p),
        ("to", ctypes.c_char_p),
        ("direction", ctypes.c_char_p),
        ("custom_parameters", ctypes.c_char_p),
        ("caller_track", ctypes.c_char_p),
        ("agent_format", FormiFormat),
        ("send_format", FormiFormat),
        ("frame_ms", ctypes.c_uint32),
        ("strict", ctypes.c_int),
    ]


class FormiMessage(ctypes.Structure):
    """`formi_message`: a message to send, binary when `is_binary`."""

    _fields_ = [
        ("data", ctypes.c_void_p),  # const uint8_t *
        ("len", ctypes.c_size_t),
        ("is_binary", ctypes.c_int),
    ]


class FormiPlayback(_Sized):
    """`formi_playback`: the playback figures of an utterance."""

    _fields_ = [
        ("size", ctypes.c_size_t),
        ("utterance", ctypes.c_int64),
        ("sent_ms", ctypes.c_int64),
        ("confirmed_ms", ctypes.c_int64),
        ("estimated_ms", ctypes.c_int64),
        ("interrupted", ctypes.c_int),
        ("queued_ms", ctypes.c_int64),
    ]


#: Every struct, by its C name (the layout test walks this).
STRUCTS = {
    "formi_format": FormiFormat,
    "formi_text": FormiText,
    "formi_event": FormiEvent,
    "formi_session_config": FormiSessionConfig,
    "formi_message": FormiMessage,
    "formi_playback": FormiPlayback,
}


# ---- prototypes ------------------------------------------------------------------------------------

_v = ctypes.c_void_p  # handles and data pointers (bytes, ctypes arrays and addresses all pass)
_z = ctypes.c_size_t
_i = ctypes.c_int
_zp = ctypes.POINTER(ctypes.c_size_t)
_ip = ctypes.POINTER(ctypes.c_int)
_outp = ctypes.POINTER(ctypes.c_void_p)  # char **: read as an address, freed with formi_free
_s = ctypes.c_char_p  # NUL-terminated strings in, static or handle-owned strings out

_Prototype = Tuple[Any, List[Any]]
_BUFFER_CONVERSION: _Prototype = (_i, [_v, _z, _v, _z])  # (in, count, out, out_count)
_JSON_CALL: _Prototype = (_i, [_v, _v, _z, _outp])        # (handle, json, len, char **out)

#: name -> (restype, argtypes), for every function of include/formi.h.
PROTOTYPES: Dict[str, _Prototype] = {
    "formi_version": (_s, []),
    "formi_version_number": (_i, []),
    "formi_strerror": (_s, [_i]),
    "formi_last_error": (_s, []),
    "formi_free": (None, [_v]),
    "formi_ulaw_encode": _BUFFER_CONVERSION,
    "formi_ulaw_decode": _BUFFER_CONVERSION,
    "formi_alaw_encode": _BUFFER_CONVERSION,
    "formi_alaw_decode": _BUFFER_CONVERSION,
    "formi_pcm16le_encode": _BUFFER_CONVERSION,
    "formi_pcm16le_decode": _BUFFER_CONVERSION,
    "formi_pcm16be_encode": _BUFFER_CONVERSION,
    "formi_pcm16be_decode": _BUFFER_CONVERSION,
    "formi_pcm8_encode": _BUFFER_CONVERSION,
    "formi_pcm8_decode": _BUFFER_CONVERSION,
    "formi_f32_encode": _BUFFER_CONVERSION,
    "formi_f32_decode": _BUFFER_CONVERSION,
    "formi_stereo_to_mono": _BUFFER_CONVERSION,
    "formi_mono_to_stereo": _BUFFER_CONVERSION,
    "formi_base64_encode": (_i, [_v, _z, _v, _z, _zp]),
    "formi_base64_decode": (_i, [_v, _z, _v, _z, _zp]),
    # resampler
    "formi_resampler_new": (_v, [_i, _i, _i, _i, _ip]),
    "formi_resampler_max_output": (_z, [_v, _z]),
    "formi_resampler_process": (_i, [_v, _v, _z, _v, _z, _zp]),
    "formi_resampler_drain": (_i, [_v, _v, _z, _zp]),
    "formi_resampler_latency": (_i, [_v]),
    "formi_resampler_reset": (_i, [_v]),
    "formi_resampler_free": (None, [_v]),
    # transcoder
    "formi_transcoder_new": (_v, [ctypes.POINTER(FormiFormat), ctypes.POINTER(FormiFormat), _i, _z, _ip]),
    "formi_transcoder_max_output": (_z, [_v, _z]),
    "formi_transcoder_process": (_i, [_v, _v, _z, _v, _z, _zp]),
    "formi_transcoder_drain": (_i, [_v, _v, _z, _zp]),
    "formi_transcoder_latency": (_i, [_v]),
    "formi_transcoder_reset": (_i, [_v]),
    "formi_transcoder_free": (None, [_v]),
    # providers
    "formi_provider_builtin": (_v, [_s, _ip]),
    "formi_provider_from_json": (_v, [_v, _z, _ip]),
    "formi_provider_validate_json": (_i, [_v, _z, _outp]),
    "formi_provider_name": (_s, [_v]),
    "formi_provider_map": (_i, [_v, _v, _z, _i, ctypes.POINTER(FormiEvent)]),
    "formi_provider_map_json": (_i, [_v, _v, _z, _i, _outp]),
    "formi_provider_free": (None, [_v]),
    # sessions
    "formi_session_config_init": (_i, [ctypes.POINTER(FormiSessionConfig), _i]),
    "formi_session_new": (_v, [_v, ctypes.POINTER(FormiSessionConfig), _ip]),
    "formi_session_receive": (_i, [_v, _v, _z, _i]),
    "formi_session_receive_part": (_i, [_v, _v, _z, _i, _zp]),
    "formi_session_next_event": (_i, [_v, ctypes.POINTER(FormiEvent)]),
    "formi_session_next_output": (_i, [_v, ctypes.POINTER(FormiMessage)]),
    "formi_session_send_audio": (_i, [_v, _v, _z]),
    "formi_session_flush": (_i, [_v]),
    "formi_session_send_mark": (_i, [_v, _s]),
    "formi_session_interrupt": (_i, [_v, ctypes.POINTER(FormiPlayback)]),
    "formi_session_playback": (_i, [_v, ctypes.POINTER(FormiPlayback)]),
    "formi_session_send_dtmf": (_i, [_v, ctypes.c_char, _i]),
    "formi_session_read_audio": (_i, [_v, _v, _z, _zp]),
    "formi_session_set_time": (_i, [_v, ctypes.c_int64]),
    "formi_session_end": (_i, [_v, _s]),
    "formi_session_stats_json": (_i, [_v, _outp]),
    "formi_session_last_error": (_s, [_v]),
    "formi_session_free": (None, [_v]),
    # flows and templates
    "formi_flow_from_json": (_v, [_v, _z, _ip]),
    "formi_flow_validate_json": (_i, [_v, _z, _outp]),
    "formi_flow_to_json": (_i, [_v, _outp]),
    "formi_flow_to_dot": (_i, [_v, _outp]),
    "formi_flow_edit": _JSON_CALL,
    "formi_flow_free": (None, [_v]),
    "formi_template_render": (_i, [_v, _z, _v, _z, _outp]),
    "formi_template_variables": (_i, [_v, _z, _outp]),
    "formi_flow_run_new": (_v, [_v, _v, _z, _ip]),
    "formi_flow_run_step": _JSON_CALL,
    "formi_flow_run_state": (_i, [_v, _outp]),
    "formi_flow_run_history": (_i, [_v, _outp]),
    "formi_flow_run_free": (None, [_v]),
    # ledger
    "formi_ledger_open": (_v, [_s, _ip]),
    "formi_ledger_record": _JSON_CALL,
    "formi_ledger_credit": _JSON_CALL,
    "formi_ledger_query": _JSON_CALL,
    "formi_ledger_set_busy_timeout": (_i, [_v, _i]),
    "formi_ledger_last_error": (_s, [_v]),
    "formi_ledger_close": (None, [_v]),
}


# ---- finding the library ---------------------------------------------------------------------------

class LibraryNotFoundError(OSError):
    """libformi.so could not be found or loaded. `tried` lists every place looked at, with the reason."""

    def __init__(self, message: str, tried: Sequence[Tuple[str, str]]) -> None:
        self.tried: List[Tuple[str, str]] = list(tried)
        lines = [message, "tried, in order:"]
        lines += [f"  {place}: {reason}" for place, reason in self.tried]
        lines.append("Set FORMI_LIBRARY to the path of libformi.so.0, install libformi (make install) where "
                     "pkg-config finds it, or build it (make all) in the source tree.")
        super().__init__("\n".join(lines))


def _pkg_config_libdir(environ: Dict[str, str]) -> Tuple[Optional[str], str]:
    """`pkg-config --variable=libdir formi`: (libdir or None, what happened)."""
    exe = shutil.which("pkg-config", path=environ.get("PATH", os.defpath))
    if exe is None:
        return None, "pkg-config is not installed"
    try:
        done = subprocess.run([exe, "--variable=libdir", "formi"], capture_output=True, text=True, timeout=10,
                              env=dict(environ), check=False)
    except (OSError, subprocess.SubprocessError) as error:
        return None, f"pkg-config failed: {error}"
    libdir = done.stdout.strip()
    if done.returncode != 0 or not libdir:
        detail = done.stderr.strip().splitlines()[0] if done.stderr.strip() else f"exit status {done.returncode}"
        return None, f"formi.pc not found on PKG_CONFIG_PATH ({detail})"
    return libdir, f"libdir={libdir}"


def _prefix_dirs() -> List[str]:
    """The usual install prefixes' library folders."""
    dirs = ["/usr/local/lib", "/usr/lib"]
    multiarch = sysconfig.get_config_var("MULTIARCH")
    if multiarch:
        dirs += [f"/usr/local/lib/{multiarch}", f"/usr/lib/{multiarch}"]
    dirs += ["/usr/local/lib64", "/usr/lib64"]
    return dirs


def _build_tree_candidates(anchor: Path) -> List[Path]:
    """build/lib/libformi.so.0 in every folder above `anchor`, nearest first, then the repo-relative path
    (bindings/python/src/formi -> the repository root) when the package runs from its source tree."""
    found: List[Path] = []
    for parent in anchor.parents:
        found.append(parent / "build" / "lib" / SONAME)
    parts = anchor.parts
    if len(parts) >= 5 and parts[-5:-1] == ("bindings", "python", "src", "formi"):
        found.append(anchor.parents[4] / "build" / "lib" / SONAME)
    unique: List[Path] = []
    for path in found:
        if path not in unique:
            unique.append(path)
    return unique


def _try_load(path: str) -> Tuple[Optional[ctypes.CDLL], str]:
    """Loads `path` and checks it is libformi of the ABI these bindings mirror."""
    try:
        dll = ctypes.CDLL(path)
    except OSError as error:
        return None, f"cannot load: {error}"
    try:
        number = dll.formi_version_number
    except AttributeError:
        return None, "loaded, but it has no formi_version_number: not libformi"
    number.restype, number.argtypes = ctypes.c_int, []
    major = number() // 10000
    if major != ABI_MAJOR:
        return None, f"loaded, but it is libformi {major}.x; these bindings need {ABI_MAJOR}.x"
    return dll, "loaded"


def locate(environ: Optional[Dict[str, str]] = None, anchor: Optional[Path] = None,
           prefixes: Optional[Sequence[str]] = None, use_loader: bool = True) -> Tuple[ctypes.CDLL, str, str]:
    """Finds and loads libformi. Returns (library, path, how it was found).

    The order: FORMI_LIBRARY (a path; if it is set, it is the only place tried); the copy bundled in this
    package (a wheel built by `make wheel` carries libformi.so.0 beside this file); pkg-config's libdir for
    formi; the install prefixes (/usr/local/lib, /usr/lib, ...); the dynamic loader by SONAME
    (LD_LIBRARY_PATH, ld.so.cache); then the build tree: build/lib/libformi.so.0 in every folder above
    this file, and the repository's own build/lib when the package runs from bindings/python/src.
    Raises LibraryNotFoundError listing every place tried. The arguments exist for the tests.
    """
    env = dict(os.environ if environ is None else environ)
    here = (anchor or Path(__file__)).resolve()
    tried: List[Tuple[str, str]] = []

    explicit = env.get("FORMI_LIBRARY", "")
    if explicit:
        dll, reason = _try_load(explicit)
        if dll is not None:
            return dll, explicit, "FORMI_LIBRARY"
        tried.append((f"FORMI_LIBRARY={explicit}", reason))
        raise LibraryNotFoundError("libformi could not be loaded from FORMI_LIBRARY", tried)
    tried.append(("FORMI_LIBRARY", "not set"))

    def attempt(path: Path, how: str) -> Optional[Tuple[ctypes.CDLL, str, str]]:
        if not path.exists():
            tried.append((str(path), "no such file"))
            return None
        dll, reason = _try_load(str(path))
        tried.append((str(path), reason))
        return (dll, str(path), how) if dll is not None else None

    hit = attempt(here.parent / SONAME, "bundled")
    if hit:
        return hit

    libdir, what = _pkg_config_libdir(env)
    tried.append(("pkg-config --variable=libdir formi", what))
    if libdir:
        for name in (SONAME, "libformi.so"):
            hit = attempt(Path(libdir) / name, "pkg-config")
            if hit:
                return hit

    for folder in (_prefix_dirs() if prefixes is None else list(prefixes)):
        hit = attempt(Path(folder) / SONAME, "install prefix")
        if hit:
            return hit

    if use_loader:
        dll, reason = _try_load(SONAME)
        tried.append((f"{SONAME} (dynamic loader: LD_LIBRARY_PATH, ld.so.cache)", reason))
        if dll is not None:
            return dll, SONAME, "dynamic loader"

    for path in _build_tree_candidates(here):
        hit = attempt(path, "build tree")
        if hit:
            return hit

    raise LibraryNotFoundError("libformi.so was not found", tried)


def _declare(dll: ctypes.CDLL) -> None:
    """Sets restype and argtypes of every function (a missing one is an error: a stale library)."""
    missing = []
    for name, (restype, argtypes) in PROTOTYPES.items():
        try:
            fn = getattr(dll, name)
        except AttributeError:
            missing.append(name)
            continue
        fn.restype = restype
        fn.argtypes = argtypes
    if missing:
        raise LibraryNotFoundError("the loaded libformi lacks functions these bindings need: " + ", ".join(missing),
                                   [])


_LOCK = threading.Lock()
_LIB: Optional[ctypes.CDLL] = None
_PATH: Optional[str] = None
_HOW: Optional[str] = None


def lib() -> ctypes.CDLL:
    """The loaded library, loading it on first use (see `locate` for where it looks)."""
    dll = _LIB
    if dll is not None:
        return dll
    return _load()


def _load() -> ctypes.CDLL:
    global _LIB, _PATH, _HOW
    with _LOCK:
        if _LIB is None:
            dll, path, how = locate()
            _declare(dll)
            _PATH, _HOW = path, how
            _LIB = dll
        return _LIB


def library_path() -> Tuple[str, str]:
    """(path, how it was found) of the loaded library, loading it if needed."""
    lib()
    assert _PATH is not None and _HOW is not None
    return _PATH, _HOW

