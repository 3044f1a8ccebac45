"""Streaming sample-rate conversion (Resampler, libspeexdsp) and format conversion (Transcoder: any
encoding x rate x channels to any other, optionally cut into exact frames)."""
from __future__ import annotations

import ctypes
from typing import Any, Callable

from . import _abi
from ._core import (SIZE, BufferOut, BytesLike, Handle, buffer_in, c_int, check, new_handle, want_numpy,
                    whole)
from ._types import Format, FormatLike

__all__ = ["Resampler", "Transcoder", "QUALITY_DEFAULT"]

#: FORMI_RESAMPLER_QUALITY_DEFAULT: libformi's own FIR for 8/16/24/32/48 kHz (flat to 3.4 kHz, aliases 94+ dB
#: down, at most 3 ms delay), speexdsp quality 5 for other rates; 0...10 selects speexdsp at that quality.
QUALITY_DEFAULT = -1


def _grow(call: Callable[[Any, int, Any], int], size: int, numpy_dtype: Any, unit: int) -> Any:
    """Calls `call(pointer, capacity, written)` with a buffer of `size` bytes; on FORMI_EBUFFER retries once
    with the size the library asked for. `unit` converts between bytes and the call's capacity unit."""
    for _ in range(2):
        out = BufferOut(size, numpy_dtype)
        written = ctypes.c_size_t(0)
        status = call(out.pointer, size // unit, ctypes.byref(written))
        if status == -3 and written.value * unit > size:  # FORMI_EBUFFER: written holds the size needed
            size = written.value * unit
            continue
        check(status)
        return out.result(written.value * unit)
    check(status)
    return None


class Resampler(Handle):
    """A streaming sample-rate converter for interleaved 16-bit pcm: libformi's own polyphase FIR for
    8/16/24/32/48 kHz at the default `quality` (-1), libspeexdsp for other rates or `quality` 0...10.

    State carries across calls: any chunking of a signal gives the same samples. The filter's delay is
    in the output (`latency` frames); `drain()` writes the tail and resets. Equal rates pass through
    exactly. Use it from one thread at a time (a lock enforces it); releases the GIL during work.

        with formi.Resampler(8000, 16000) as r:
            wide = r.process(narrow) + r.drain()
    """

    _what = "Resampler"

    def __init__(self, in_rate: int, out_rate: int, *, channels: int = 1, quality: int = QUALITY_DEFAULT) -> None:
        self.channels = c_int(channels, "channels")
        self.in_rate = c_int(in_rate, "in_rate")
        self.out_rate = c_int(out_rate, "out_rate")
        self.quality = c_int(quality, "quality")
        L = _abi.lib()
        pointer = new_handle(lambda status: L.formi_resampler_new(self.channels, self.in_rate, self.out_rate,
                                                                  self.quality, status))
        self._adopt(pointer, L.formi_resampler_free)

    @property
    def frame_bytes(self) -> int:
        """Bytes per frame: 2 x channels."""
        return 2 * self.channels

    def max_output(self, in_frames: int) -> int:
        """The most frames process() writes for `in_frames` input frames."""
        frames = c_int(in_frames, "in_frames", *SIZE)
        with self._lock:
            return _abi.lib().formi_resampler_max_output(self._handle(), frames)

    @property
    def latency(self) -> int:
        """The filter's delay in output frames."""
        with self._lock:
            return check(_abi.lib().formi_resampler_latency(self._handle()))

    def process(self, pcm: BytesLike, *, as_numpy: bool = False) -> Any:
        """Converts all of `pcm` (whole frames: LengthError otherwise) and returns the output pcm.
        Releases the GIL during work."""
        pointer, size, keep = buffer_in(pcm, "pcm", "int16")
        frames = whole(size, self.frame_bytes, "pcm")
        dtype = "int16" if want_numpy(as_numpy, pcm) else None
        L = _abi.lib()
        with self._lock:
            handle = self._handle()
            capacity = L.formi_resampler_max_output(handle, frames) * self.frame_bytes
            result = _grow(lambda out, n, written: L.formi_resampler_process(handle, pointer, frames, out, n, written),
                           capacity, dtype, self.frame_bytes)
        del keep
        return result

    def drain(self, *, as_numpy: bool = False) -> Any:
        """Ends the stream: returns the filter's tail, then resets for a new stream."""
        dtype = "int16" if want_numpy(as_numpy) else None
        L = _abi.lib()
        with self._lock:
            handle = self._handle()
            latency = max(L.formi_resampler_latency(handle), 0)
            capacity = (L.formi_resampler_max_output(handle, 0) + latency) * self.frame_bytes
            return _grow(lambda out, n, written: L.formi_resampler_drain(handle, out, n, written), capacity, dtype,
                         self.frame_bytes)

    def reset(self) -> None:
        """Forgets the history, for a new, unrelated stream."""
        with self._lock:
            check(_abi.lib().formi_resampler_reset(self._handle()))


class Transcoder(Handle):
    """One streaming conversion from any Format to any other (encoding x rate x channels), optionally cut
    into exact frames of `frame_bytes` (Twilio: 160 for mu-law 8 kHz); drain() pads the last frame with
    the encoding's silence. Input must be whole frames of samples (LengthError). Identical formats pass
    through bit-exactly. One thread at a time (a lock enforces it); releases the GIL during work.

        with formi.Transcoder(("pcm16le", 16000), ("ulaw", 8000), frame_bytes=160) as t:
            frames = t.process(agent_pcm) + t.drain()
    """

    _what = "Transcoder"

    def __init__(self, in_format: FormatLike, out_format: FormatLike, *, quality: int = QUALITY_DEFAULT,
                 frame_bytes: int = 0) -> None:
        self.in_format = Format.coerce(in_format)
        self.out_format = Format.coerce(out_format)
        self.quality = c_int(quality, "quality")
        self.frame_bytes = c_int(frame_bytes, "frame_bytes", *SIZE)
        cin = _abi.FormiFormat(int(self.in_format.encoding), c_int(self.in_format.sample_rate, "sample_rate"),
                               c_int(self.in_format.channels, "channels"))
        cout = _abi.FormiFormat(int(self.out_format.encoding), c_int(self.out_format.sample_rate, "sample_rate"),
                                c_int(self.out_format.channels, "channels"))
        L = _abi.lib()
        pointer = new_handle(lambda status: L.formi_transcoder_new(ctypes.byref(cin), ctypes.byref(cout), self.quality,
                                                                   self.frame_bytes, status))
        self._adopt(pointer, L.formi_transcoder_free)

    def max_output(self, in_bytes: int) -> int:
        """The most bytes process() writes for `in_bytes` of input (covering drain() too)."""
        size = c_int(in_bytes, "in_bytes", *SIZE)
        with self._lock:
            return _abi.lib().formi_transcoder_max_output(self._handle(), size)

    @property
    def latency(self) -> int:
        """The conversion's delay in output frames."""
        with self._lock:
            return check(_abi.lib().formi_transcoder_latency(self._handle()))

    def process(self, data: BytesLike) -> bytes:
        """Converts all of `data` (whole input frames) and returns the output bytes (whole output frames
        when framing; the remainder waits for the next call). Releases the GIL during work."""
        pointer, size, keep = buffer_in(data, "data", "raw")
        L = _abi.lib()
        with self._lock:
            handle = self._handle()
            capacity = L.formi_transcoder_max_output(handle, size)
            result = _grow(lambda out, n, written: L.formi_transcoder_process(handle, pointer, size, out, n, written),
                           capacity, None, 1)
        del keep
        return result

    def drain(self) -> bytes:
        """Ends the stream: the filter's tail and the padded last frame; then resets."""
        L = _abi.lib()
        with self._lock:
            handle = self._handle()
            capacity = L.formi_transcoder_max_output(handle, 0)
            return _grow(lambda out, n, written: L.formi_transcoder_drain(handle, out, n, written), capacity, None, 1)

    def reset(self) -> None:
        """Forgets all state (filter history, held-back bytes), for a new, unrelated stream."""
        with self._lock:
            check(_abi.lib().formi_transcoder_reset(self._handle()))
