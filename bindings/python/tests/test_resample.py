"""Resampler and Transcoder: streaming, chunking invariance, drain, framing, formats and bad input."""
from __future__ import annotations

import math
import struct

import pytest

import formi

try:
    import numpy as np
except ImportError:  # pragma: no cover
    np = None


def tone(rate: int, ms: int, channels: int = 1) -> bytes:
    n = rate * ms // 1000
    values = []
    for i in range(n):
        v = int(8000 * math.sin(2 * math.pi * 440 * i / rate))
        values += [v] * channels
    return struct.pack(f"={len(values)}h", *values)


def test_upsampling_doubles_and_is_chunking_invariant():
    signal = tone(8000, 200)
    with formi.Resampler(8000, 16000) as whole:
        one = whole.process(signal) + whole.drain()
        latency = whole.latency
    with formi.Resampler(8000, 16000) as pieces:
        chunked = b"".join(pieces.process(signal[i:i + 62]) for i in range(0, len(signal), 62)) + pieces.drain()
    assert one == chunked
    # The delay is in the signal: process() writes 2 x the input, drain() the last `latency` frames.
    assert latency > 0
    assert len(one) == 2 * len(signal) + 2 * latency


def test_equal_rates_pass_through_exactly():
    signal = tone(16000, 40)
    with formi.Resampler(16000, 16000) as r:
        assert r.process(signal) == signal
        assert r.latency == 0
        assert r.drain() == b""


def test_stereo_resampler_and_max_output():
    signal = tone(48000, 20, channels=2)
    with formi.Resampler(48000, 8000, channels=2, quality=3) as r:
        assert r.frame_bytes == 4 and r.channels == 2 and r.quality == 3
        assert r.max_output(960) >= 160
        out = r.process(signal)
        assert len(out) % 4 == 0 and 0 < len(out) <= r.max_output(960) * 4
        with pytest.raises(formi.LengthError):
            r.process(bytes(6))  # a frame and a half
        r.reset()
        assert isinstance(r.drain(), bytes)


@pytest.mark.skipif(np is None, reason="numpy is not installed")
def test_resampler_numpy():
    signal = np.frombuffer(tone(8000, 20), dtype=np.int16)
    with formi.Resampler(8000, 16000) as r:
        out = r.process(signal)
        assert isinstance(out, np.ndarray) and out.dtype == np.int16
        tail = r.drain(as_numpy=True)
        assert isinstance(tail, np.ndarray)
        assert out.size == 2 * signal.size and tail.size == r.latency


@pytest.mark.parametrize("args,kwargs,error", [
    ((7000, 8000), {}, formi.Unsupported),
    ((8000, 96000), {}, formi.Unsupported),
    ((8000, 16000), {"channels": 3}, formi.Unsupported),
    ((8000, 16000), {"quality": 11}, formi.InvalidArgument),
    ((8000, 16000), {"quality": -2}, formi.InvalidArgument),
    ((8000, 2 ** 40), {}, formi.InvalidArgument),  # out of int range: refused before ctypes truncates it
    (("8000", 16000), {}, TypeError),
    ((8000.0, 16000), {}, TypeError),
])
def test_resampler_bad_arguments(args, kwargs, error):
    with pytest.raises(error) as info:
        formi.Resampler(*args, **kwargs)
    if issubclass(error, formi.FormiError):
        assert info.value.message


def test_transcoder_agent_audio_to_twilio_frames():
    agent = tone(16000, 70)  # 70 ms: three whole 20 ms frames and a remainder
    with formi.Transcoder(("pcm16le", 16000), (formi.Encoding.ULAW, 8000, 1), frame_bytes=160) as t:
        assert t.in_format == formi.Format(formi.Encoding.PCM16LE, 16000, 1)
        assert t.max_output(len(agent)) >= 480
        out = t.process(agent)
        assert len(out) % 160 == 0 and len(out) >= 320
        tail = t.drain()
        assert len(tail) % 160 == 0 and tail.endswith(b"\xff")  # padded with mu-law silence
        assert len(out + tail) >= 560
        assert t.latency >= 0
        t.reset()


def test_transcoder_identity_is_bit_exact():
    data = bytes(range(256)) * 4
    with formi.Transcoder({"encoding": "ulaw", "sample_rate": 8000}, formi.Format("ulaw", 8000)) as t:
        assert t.process(data) + t.drain() == data


def test_transcoder_formats_and_errors():
    with pytest.raises(formi.Unsupported):
        formi.Transcoder(("pcm16le", 7000), ("ulaw", 8000))
    with pytest.raises(formi.InvalidArgument):
        formi.Transcoder(("pcm16le", 16000), ("pcm16le", 8000), frame_bytes=3)  # not whole 2-byte frames
    with pytest.raises(formi.InvalidArgument):
        formi.Transcoder(("pcm16le", 16000), ("ulaw", 8000), quality=42)
    with pytest.raises(ValueError, match="unknown encoding"):
        formi.Transcoder(("opus", 48000), ("ulaw", 8000))
    with pytest.raises(ValueError):
        formi.Transcoder((99, 8000), ("ulaw", 8000))
    with pytest.raises(TypeError):
        formi.Transcoder("pcm16le", ("ulaw", 8000))
    with formi.Transcoder(("pcm16le", 8000), ("ulaw", 8000)) as t:
        with pytest.raises(formi.LengthError):
            t.process(b"\x00\x00\x00")
        with pytest.raises(TypeError):
            t.process("text")
        assert t.process(b"") == b""


def test_format_helpers():
    f = formi.Format("pcm16le", 16000, 2)
    assert f.frame_bytes == 4 and f.bytes_for(20) == 1280
    assert formi.Format.coerce(("alaw", 8000)).encoding is formi.Encoding.ALAW
    assert formi.Encoding.parse("F32LE").sample_bytes == 4
    with pytest.raises(TypeError):
        formi.Format("ulaw", "8000")
