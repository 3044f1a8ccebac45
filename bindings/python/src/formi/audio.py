"""Stateless audio conversions and base64: G.711 mu-law and A-law, PCM sample formats, stereo/mono.

"pcm" is signed 16-bit linear PCM in host byte order (interleaved when stereo). Inputs are any
bytes-like object (bytes, bytearray, memoryview, array.array('h'), a numpy int16 array); outputs are
bytes, or numpy arrays when an input was one or `as_numpy=True` (numpy is optional). Every function
releases the GIL during work and may be called from many threads at once. Errors raise FormiError
subclasses: LengthError for odd byte counts of 16-bit PCM, TypeError for non-buffers.
"""
from __future__ import annotations

import ctypes
from typing import Any, Union

from . import _abi
from ._core import BufferOut, BytesLike, buffer_in, check, want_numpy, whole

__all__ = [
    "ulaw_encode", "ulaw_decode", "alaw_encode", "alaw_decode", "pcm16le_encode", "pcm16le_decode",
    "pcm16be_encode", "pcm16be_decode", "pcm8_encode", "pcm8_decode", "f32_encode", "f32_decode",
    "stereo_to_mono", "mono_to_stereo", "base64_encode", "base64_decode",
]


def _convert(function: str, data: Any, what: str, in_kind: str, whole_unit: int, count_unit: int,
             out_factor: float, out_elem: int, out_dtype: str, as_numpy: bool) -> Any:
    """One (in, count, out, out_count) conversion. The input must be whole `whole_unit`-byte items; the
    library's count is in `count_unit`-byte elements (samples, frames, or bytes for `void *`); the
    output is `out_factor` x the input's bytes, passed as a count of `out_elem`-byte elements."""
    pointer, size, keep = buffer_in(data, what, in_kind)
    whole(size, whole_unit, what)
    count = size // count_unit
    out_bytes = int(size * out_factor)
    out = BufferOut(out_bytes, out_dtype if want_numpy(as_numpy, data) else None)
    check(getattr(_abi.lib(), function)(pointer, count, out.pointer, out_bytes // out_elem))
    del keep
    return out.result(out_bytes)


def ulaw_encode(pcm: BytesLike, *, as_numpy: bool = False) -> Any:
    """pcm (16-bit samples) to G.711 mu-law, one byte per sample (silence, 0, is 0xFF).
    Releases the GIL during work. Returns bytes (a uint8 array with numpy)."""
    return _convert("formi_ulaw_encode", pcm, "pcm", "int16", 2, 2, 0.5, 1, "uint8", as_numpy)


def ulaw_decode(data: BytesLike, *, as_numpy: bool = False) -> Any:
    """G.711 mu-law bytes to pcm, two bytes per sample. Releases the GIL during work.
    Returns bytes (an int16 array with numpy)."""
    return _convert("formi_ulaw_decode", data, "mu-law data", "bytes", 1, 1, 2, 2, "int16", as_numpy)


def alaw_encode(pcm: BytesLike, *, as_numpy: bool = False) -> Any:
    """pcm to G.711 A-law, one byte per sample (silence is 0xD5). Releases the GIL during work."""
    return _convert("formi_alaw_encode", pcm, "pcm", "int16", 2, 2, 0.5, 1, "uint8", as_numpy)


def alaw_decode(data: BytesLike, *, as_numpy: bool = False) -> Any:
    """G.711 A-law bytes to pcm. Releases the GIL during work."""
    return _convert("formi_alaw_decode", data, "A-law data", "bytes", 1, 1, 2, 2, "int16", as_numpy)


def pcm16le_encode(pcm: BytesLike, *, as_numpy: bool = False) -> Any:
    """pcm to 16-bit little-endian bytes (s16le). Releases the GIL during work."""
    return _convert("formi_pcm16le_encode", pcm, "pcm", "int16", 2, 2, 1, 1, "uint8", as_numpy)


def pcm16le_decode(data: BytesLike, *, as_numpy: bool = False) -> Any:
    """16-bit little-endian bytes to pcm (LengthError for an odd byte count). Releases the GIL."""
    return _convert("formi_pcm16le_decode", data, "s16le data", "raw", 2, 1, 1, 2, "int16", as_numpy)


def pcm16be_encode(pcm: BytesLike, *, as_numpy: bool = False) -> Any:
    """pcm to 16-bit big-endian bytes (s16be, RFC 3551 "L16"). Releases the GIL during work."""
    return _convert("formi_pcm16be_encode", pcm, "pcm", "int16", 2, 2, 1, 1, "uint8", as_numpy)


def pcm16be_decode(data: BytesLike, *, as_numpy: bool = False) -> Any:
    """16-bit big-endian bytes to pcm (LengthError for an odd byte count). Releases the GIL."""
    return _convert("formi_pcm16be_decode", data, "s16be data", "raw", 2, 1, 1, 2, "int16", as_numpy)


def pcm8_encode(pcm: BytesLike, *, as_numpy: bool = False) -> Any:
    """pcm to unsigned 8-bit (silence 128), rounded to nearest and saturated. Releases the GIL."""
    return _convert("formi_pcm8_encode", pcm, "pcm", "int16", 2, 2, 0.5, 1, "uint8", as_numpy)


def pcm8_decode(data: BytesLike, *, as_numpy: bool = False) -> Any:
    """Unsigned 8-bit to pcm, (u - 128) << 8. Releases the GIL during work."""
    return _convert("formi_pcm8_decode", data, "pcm8 data", "bytes", 1, 1, 2, 2, "int16", as_numpy)


def f32_encode(pcm: BytesLike, *, as_numpy: bool = False) -> Any:
    """pcm to native float32 in [-1, 1) (sample / 32768, exact). Returns bytes (4 per sample) or a
    float32 array. Releases the GIL during work."""
    return _convert("formi_f32_encode", pcm, "pcm", "int16", 2, 2, 2, 4, "float32", as_numpy)


def f32_decode(data: BytesLike, *, as_numpy: bool = False) -> Any:
    """Native float32 (bytes, 4 per sample, or a float32 array) to pcm: x 32768, rounded to nearest
    even, saturated; NaN becomes 0. Releases the GIL during work."""
    return _convert("formi_f32_decode", data, "float32 data", "float32", 4, 4, 0.5, 2, "int16", as_numpy)


def stereo_to_mono(pcm: BytesLike, *, as_numpy: bool = False) -> Any:
    """Interleaved stereo pcm (whole left/right frames, 4 bytes each) to mono: the mean of the channels,
    rounded half away from zero. Releases the GIL during work."""
    return _convert("formi_stereo_to_mono", pcm, "stereo pcm", "int16", 4, 4, 0.5, 2, "int16", as_numpy)


def mono_to_stereo(pcm: BytesLike, *, as_numpy: bool = False) -> Any:
    """Mono pcm to interleaved stereo, each sample on both channels. Releases the GIL during work."""
    return _convert("formi_mono_to_stereo", pcm, "mono pcm", "int16", 2, 2, 2, 2, "int16", as_numpy)


def base64_encode(data: BytesLike) -> str:
    """Standard base64 (RFC 4648 section 4, '=' padding, no line breaks) of bytes. Releases the GIL."""
    pointer, size, keep = buffer_in(data, "data", "raw")
    need = (size + 2) // 3 * 4
    out = BufferOut(need)
    length = ctypes.c_size_t(0)
    check(_abi.lib().formi_base64_encode(pointer, size, out.pointer, need, ctypes.byref(length)))
    del keep
    return out.result(length.value).decode("ascii")


def base64_decode(text: Union[str, BytesLike]) -> bytes:
    """Strict base64 to bytes: the length a multiple of 4, only the standard alphabet, '=' only as final
    padding, zero bits under it. Base64Error names the offending byte and offset. Releases the GIL."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    pointer, size, keep = buffer_in(text, "base64 text", "bytes")
    need = size // 4 * 3
    out = BufferOut(need)
    length = ctypes.c_size_t(0)
    check(_abi.lib().formi_base64_decode(pointer, size, out.pointer, need, ctypes.byref(length)))
    del keep
    return out.result(length.value)
