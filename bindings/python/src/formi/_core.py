"""Plumbing shared by the modules: buffers in and out (zero-copy where ctypes allows), JSON at the
boundary, strings the library allocates, argument checks, and the base class of every handle."""
from __future__ import annotations

import ctypes
import json
import os
import sys
import threading
from typing import Any, Callable, Optional, Tuple, Union

from . import _abi
from .errors import FORMI_EINVAL, FORMI_ELENGTH, ClosedError, FormiError, InternalError, error_for

#: What a bytes-like argument may be: bytes, bytearray, memoryview, array.array, a numpy array, or
#: anything else with the buffer protocol.
BytesLike = Union[bytes, bytearray, memoryview, Any]
#: JSON input: a Python value (dumped with json.dumps) or its text as str or bytes (passed unchanged).
JSONInput = Any


def last_error() -> str:
    """The message of the last failed libformi call on this thread (formi_last_error)."""
    raw = _abi.lib().formi_last_error()
    return raw.decode("utf-8", "replace") if raw else ""


def check(status: int, handle_error: Optional[Callable[[], str]] = None) -> int:
    """Raises the FormiError for a negative status, with the handle's message or formi_last_error()."""
    if status >= 0:
        return status
    message = ""
    if handle_error is not None:
        message = handle_error()
    if not message:
        message = last_error()
    raise error_for(status, message)


# ---- argument checks -------------------------------------------------------------------------------

def c_int(value: Any, what: str, lo: int = -(2 ** 31), hi: int = 2 ** 31 - 1) -> int:
    """`value` as an int within [lo, hi]: TypeError for a non-int, InvalidArgument when out of range
    (ctypes would silently truncate)."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = value.__index__()  # numpy integers
        except AttributeError:
            raise TypeError(f"{what} must be an int, not {type(value).__name__}") from None
    if not lo <= value <= hi:
        raise error_for(FORMI_EINVAL, f"{what} = {value} is out of range [{lo}, {hi}]")
    return value


U32 = (0, 2 ** 32 - 1)
I32 = (-(2 ** 31), 2 ** 31 - 1)
I64 = (-(2 ** 63), 2 ** 63 - 1)
SIZE = (0, 2 ** (8 * ctypes.sizeof(ctypes.c_size_t)) - 1)


def c_string(value: Any, what: str, optional: bool = False) -> Optional[bytes]:
    """A str (or bytes) as a NUL-terminated C string: InvalidArgument if it holds a NUL byte."""
    if value is None:
        if optional:
            return None
        raise TypeError(f"{what} must be a str, not None")
    if isinstance(value, str):
        data = value.encode("utf-8")
    elif isinstance(value, bytes):
        data = value
    elif isinstance(value, os.PathLike):
        data = os.fsencode(value)
    else:
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if b"\0" in data:
        raise error_for(FORMI_EINVAL, f"{what} contains a NUL byte")
    return data


# ---- buffers ---------------------------------------------------------------------------------------

def _numpy_module() -> Any:
    """numpy if it is already imported (an object cannot be an ndarray otherwise), else None."""
    return sys.modules.get("numpy")


def want_numpy(as_numpy: bool, *inputs: Any) -> bool:
    """Whether to return a numpy array: asked for, or an input was one."""
    if as_numpy:
        try:
            __import__("numpy")
        except ImportError:
            raise ImportError("as_numpy=True needs numpy, which is not installed") from None
        return True
    np = _numpy_module()
    return np is not None and any(isinstance(x, np.ndarray) for x in inputs)


#: Accepted numpy dtypes per kind of input ("bytes": any 1-byte dtype; "raw": any dtype, as its bytes).
_NUMPY_KINDS = {"int16": "int16", "float32": "float32"}


def buffer_in(data: Any, what: str, kind: str = "bytes") -> Tuple[Any, int, Any]:
    """A bytes-like input as (pointer argument, byte count, object to keep alive during the call).

    Zero-copy for bytes (passed as is), writable contiguous buffers (bytearray, memoryview, array,
    numpy: `(c_char * n).from_buffer`) and contiguous numpy arrays (their data pointer). Read-only or
    non-contiguous buffers are copied once. `kind` checks numpy dtypes: "int16", "float32", "bytes"
    (1-byte items) or "raw" (anything). Empty input gives a NULL pointer with length 0.
    """
    if isinstance(data, bytes):
        return (data if data else None), len(data), data
    if isinstance(data, str) or data is None or isinstance(data, (int, float)):
        raise TypeError(f"{what} must be a bytes-like object (bytes, bytearray, memoryview"
                        f"{' or a numpy array' if kind != 'raw' else ''}), not {type(data).__name__}")
    np = _numpy_module()
    if np is not None and isinstance(data, np.ndarray):
        if kind in _NUMPY_KINDS:
            if data.dtype != np.dtype(_NUMPY_KINDS[kind]):
                raise TypeError(f"{what} must be a numpy array of {_NUMPY_KINDS[kind]} (native byte order), "
                                f"not {data.dtype}")
        elif kind == "bytes" and data.dtype.itemsize != 1:
            raise TypeError(f"{what} must be a numpy array of 1-byte items (uint8), not {data.dtype}")
        array = np.ascontiguousarray(data)
        return (array.ctypes.data if array.nbytes else None), array.nbytes, array
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(f"{what} must be a bytes-like object (bytes, bytearray, memoryview or a numpy array), "
                        f"not {type(data).__name__}") from None
    size = view.nbytes
    if size == 0:
        return None, 0, view
    if view.readonly or not view.c_contiguous:
        copy = view.tobytes()
        return copy, size, copy
    try:
        array = (ctypes.c_char * size).from_buffer(view)
    except (TypeError, ValueError):
        copy = view.tobytes()
        return copy, size, copy
    return array, size, (array, view)


def whole(size: int, unit: int, what: str) -> int:
    """size // unit, or LengthError when `size` bytes is not a whole number of `unit`-byte items."""
    if size % unit:
        raise error_for(FORMI_ELENGTH, f"{what}: {size} bytes is not a whole number of {unit}-byte "
                                       f"{'samples' if unit <= 4 else 'frames'}")
    return size // unit


class BufferOut:
    """An output buffer of `size` bytes: bytes (one copy on return) or a numpy array of `dtype` (none)."""

    __slots__ = ("size", "numpy_dtype", "array", "pointer")

    def __init__(self, size: int, numpy_dtype: Optional[str] = None) -> None:
        self.size = size
        self.numpy_dtype = numpy_dtype
        if numpy_dtype is not None:
            import numpy as np  # type: ignore[import-not-found, unused-ignore]

            itemsize = np.dtype(numpy_dtype).itemsize
            self.array = np.empty(size // itemsize, dtype=numpy_dtype)
            self.pointer = self.array.ctypes.data if size else None
        else:
            self.array = (ctypes.c_char * size)() if size else None
            self.pointer = self.array

    def result(self, length: int) -> Any:
        """The first `length` bytes written, as bytes or as the numpy array (a view of it)."""
        if self.numpy_dtype is not None:
            return self.array[: length // self.array.itemsize]
        if not length:
            return b""
        return ctypes.string_at(self.array, length)


# ---- JSON and library strings ----------------------------------------------------------------------

def json_in(value: JSONInput, what: str) -> bytes:
    """JSON text for the library: str/bytes-like pass unchanged (so malformed text reaches the library's
    own checks), anything else goes through json.dumps (compact, UTF-8, no NaN)."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as error:
        raise type(error)(f"{what}: cannot be written as JSON: {error}") from None


def take_string(pointer: ctypes.c_void_p) -> Optional[str]:
    """Copies a NUL-terminated string the library allocated and frees it with formi_free."""
    address = pointer.value
    if not address:
        return None
    try:
        return ctypes.string_at(address).decode("utf-8", "replace")
    finally:
        _abi.lib().formi_free(address)
        pointer.value = None


def take_json(pointer: ctypes.c_void_p, what: str) -> Any:
    """take_string, then json.loads (InternalError if the library wrote no JSON)."""
    text = take_string(pointer)
    if text is None:
        raise InternalError(-14, f"{what}: the library returned no JSON")
    return json.loads(text)


def out_call(fn: Callable[..., int], *args: Any, handle_error: Optional[Callable[[], str]] = None,
             parse: bool = True, what: str = "result") -> Any:
    """Calls `fn(*args, char **out)`, checks the status, and returns the string the library allocated
    (parsed as JSON unless `parse` is False), freed with formi_free whatever happens."""
    out = ctypes.c_void_p()
    try:
        check(fn(*args, ctypes.byref(out)), handle_error)
        return take_json(out, what) if parse else take_string(out)
    finally:
        if out.value:
            _abi.lib().formi_free(out.value)


def view_bytes(address: Optional[int], length: int) -> bytes:
    """A copy of `length` bytes at `address` (b"" for NULL or 0)."""
    if not address or not length:
        return b""
    return ctypes.string_at(address, length)


# ---- handles ---------------------------------------------------------------------------------------

class Handle:
    """The base of every handle: owns one library pointer, frees it once (close(), the context manager's
    exit, or garbage collection), and refuses calls after close with ClosedError.

    Each handle has a lock held around every library call, so a handle shared between threads is used
    by one thread at a time as the library requires (calls on different handles run in parallel: the
    GIL is released during each call). Handles cannot be copied or pickled.
    """

    _what = "handle"

    def _adopt(self, pointer: int, free: Callable[[int], None]) -> None:
        self._ptr: Optional[int] = pointer
        self._free = free
        self._lock = threading.Lock()

    def _handle(self) -> int:
        """The pointer, or ClosedError. Call with the lock held."""
        pointer = self.__dict__.get("_ptr")
        if not pointer:
            raise ClosedError(self._what)
        return pointer

    @property
    def closed(self) -> bool:
        """True once close() has run (or construction failed)."""
        return not self.__dict__.get("_ptr")

    def close(self) -> None:
        """Frees the library object. Idempotent; further calls raise ClosedError."""
        lock = self.__dict__.get("_lock")
        if lock is None:
            return
        with lock:
            pointer, self._ptr = self._ptr, None
            if pointer:
                self._free(pointer)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finaliser (e.g. at interpreter exit)
            pass

    def __copy__(self):
        raise TypeError(f"a {type(self).__name__} cannot be copied: it owns a library object")

    def __deepcopy__(self, memo: Any):
        raise TypeError(f"a {type(self).__name__} cannot be copied: it owns a library object")

    def __reduce__(self):
        raise TypeError(f"a {type(self).__name__} cannot be pickled: it owns a library object")

    def __repr__(self) -> str:
        return f"<formi.{type(self).__name__} {'closed' if self.closed else 'open'}>"


def new_handle(create: Callable[[Any], Optional[int]]) -> int:
    """Runs a formi_X_new-style call (given a `status` out-argument) and returns the pointer, or raises."""
    status = ctypes.c_int(0)
    pointer = create(ctypes.byref(status))
    if not pointer:
        check(status.value if status.value < 0 else -14)
        raise InternalError(-14, "the library returned no handle and no error")
    return int(pointer)


__all__ = [
    "BytesLike", "JSONInput", "last_error", "check", "c_int", "c_string", "buffer_in", "whole", "BufferOut",
    "json_in", "take_string", "take_json", "out_call", "view_bytes", "Handle", "new_handle", "want_numpy", "FormiError",
]
