"""Codecs, PCM formats, channels and base64: known values, CPython's audioop as a peer, every buffer
type in, numpy in and out, and bad input."""
from __future__ import annotations

import array
import struct
import sys
import threading
import warnings

import pytest

import formi

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop  # deprecated in 3.11, removed in 3.13: the reference where present
    except ImportError:  # pragma: no cover
        audioop = None

try:
    import numpy as np
except ImportError:  # pragma: no cover
    np = None

needs_audioop = pytest.mark.skipif(audioop is None, reason="audioop is not available (Python 3.13+)")
needs_numpy = pytest.mark.skipif(np is None, reason="numpy is not installed")


def pcm(*samples: int) -> bytes:
    return struct.pack(f"={len(samples)}h", *samples)


def samples(data: bytes) -> tuple:
    return struct.unpack(f"={len(data) // 2}h", data)


RAMP = pcm(*range(-32768, 32768))
CODES = bytes(range(256))


# ---- known values ----------------------------------------------------------------------------------

def test_ulaw_known_values():
    assert formi.ulaw_encode(pcm(0)) == b"\xff"
    assert formi.ulaw_encode(pcm(32767, -32768)) == b"\x80\x00"
    assert formi.ulaw_decode(b"\xff\x7f\x00\x80") == pcm(0, 0, -32124, 32124)


def test_alaw_known_values():
    assert formi.alaw_encode(pcm(0)) == b"\xd5"
    assert formi.alaw_decode(b"\xd5\x55") == pcm(8, -8)
    assert formi.alaw_encode(pcm(32767, -32768)) == b"\xaa\x2a"


def test_g711_round_trip_is_stable():
    for encode, decode in ((formi.ulaw_encode, formi.ulaw_decode), (formi.alaw_encode, formi.alaw_decode)):
        # Every code decodes to a value that encodes back to an equivalent code.
        assert decode(encode(decode(CODES))) == decode(CODES)


@needs_audioop
def test_alaw_and_decoders_equal_audioop():
    assert formi.alaw_encode(RAMP) == audioop.lin2alaw(RAMP, 2)
    assert formi.ulaw_decode(CODES) == audioop.ulaw2lin(CODES, 2)
    assert formi.alaw_decode(CODES) == audioop.alaw2lin(CODES, 2)


@needs_audioop
def test_ulaw_encode_differs_from_audioop_only_on_508_negative_inputs():
    ours, theirs = formi.ulaw_encode(RAMP), audioop.lin2ulaw(RAMP, 2)
    diffs = [i - 32768 for i in range(65536) if ours[i] != theirs[i]]
    assert len(diffs) == 508 and all(x < 0 for x in diffs)
    assert all(abs(ours[x + 32768] - theirs[x + 32768]) == 1 for x in diffs)


def test_pcm16_byte_orders():
    assert formi.pcm16le_encode(pcm(0x0102, -2)) == b"\x02\x01\xfe\xff"
    assert formi.pcm16be_encode(pcm(0x0102, -2)) == b"\x01\x02\xff\xfe"
    assert formi.pcm16le_decode(b"\x02\x01\xfe\xff") == pcm(0x0102, -2)
    assert formi.pcm16be_decode(b"\x01\x02\xff\xfe") == pcm(0x0102, -2)
    assert formi.pcm16be_decode(formi.pcm16be_encode(RAMP)) == RAMP


def test_pcm8():
    assert formi.pcm8_encode(pcm(0, 32767, -32768, 127, 128)) == bytes([128, 255, 0, 128, 129])
    assert formi.pcm8_decode(bytes([0, 128, 255])) == pcm(-32768, 0, 32512)


def test_f32():
    out = formi.f32_encode(pcm(16384, -32768, 0))
    assert struct.unpack("=3f", out) == (0.5, -1.0, 0.0)
    floats = struct.pack("=6f", 1.0, -2.0, float("nan"), 0.5 / 32768, 1.5 / 32768, -0.25)
    assert samples(formi.f32_decode(floats)) == (32767, -32768, 0, 0, 2, -8192)
    assert formi.f32_decode(formi.f32_encode(RAMP)) == RAMP


def test_channels():
    # The mean, rounded half away from zero: 1.5 -> 2, -1.5 -> -2, -0.5 -> -1.
    assert samples(formi.stereo_to_mono(pcm(1, 2, -1, -2, 32767, 32767, -32768, 32767))) == (2, -2, 32767, -1)
    assert samples(formi.mono_to_stereo(pcm(5, -7))) == (5, 5, -7, -7)


@pytest.mark.parametrize("raw,text", [(b"", ""), (b"f", "Zg=="), (b"fo", "Zm8="), (b"foo", "Zm9v"), (b"foob", "Zm9vYg=="),
                                      (b"fooba", "Zm9vYmE="), (b"foobar", "Zm9vYmFy")])
def test_base64_rfc4648_vectors(raw, text):
    assert formi.base64_encode(raw) == text
    assert formi.base64_decode(text) == raw
    assert formi.base64_decode(text.encode()) == raw


def test_base64_round_trip_all_bytes():
    import base64

    data = bytes(range(256)) * 3 + b"x"
    assert formi.base64_encode(data) == base64.b64encode(data).decode()
    assert formi.base64_decode(base64.b64encode(data)) == data


@pytest.mark.parametrize("bad,fragment", [("QU%D", "offset 2"), ("Zg=", ""), ("Zh==", ""), ("Zg==Zg==", ""),
                                          ("Zm9v\n", ""), ("é===", "")])
def test_base64_strict_errors(bad, fragment):
    with pytest.raises(formi.Base64Error) as info:
        formi.base64_decode(bad)
    assert info.value.status == -6 and info.value.name == "FORMI_EBASE64"
    assert fragment in info.value.message and info.value.message
    assert isinstance(info.value, ValueError)


# ---- buffer types ----------------------------------------------------------------------------------

def test_every_buffer_type_gives_the_same_answer():
    data = pcm(0, 1000, -1000, 32767)
    expected = formi.ulaw_encode(data)
    writable = bytearray(data)
    inputs = [writable, memoryview(writable), memoryview(data), memoryview(writable).cast("h"),
              array.array("h", samples(data))]
    for value in inputs:
        assert formi.ulaw_encode(value) == expected, type(value)
    assert writable == bytearray(data)  # inputs are never written


def test_non_contiguous_memoryview_is_copied_correctly():
    data = pcm(1, 99, 2, 99, 3, 99)
    strided = memoryview(data).cast("h")[::2]
    assert formi.mono_to_stereo(strided) == formi.mono_to_stereo(pcm(1, 2, 3))


def test_empty_input_gives_empty_output():
    for fn in (formi.ulaw_encode, formi.ulaw_decode, formi.alaw_encode, formi.alaw_decode, formi.pcm16le_encode,
               formi.pcm16le_decode, formi.pcm16be_encode, formi.pcm16be_decode, formi.pcm8_encode, formi.pcm8_decode,
               formi.f32_encode, formi.f32_decode, formi.stereo_to_mono, formi.mono_to_stereo, formi.base64_decode):
        for empty in (b"", bytearray(), memoryview(b"")):
            assert fn(empty) == b"", fn.__name__
    assert formi.base64_encode(b"") == "" and formi.base64_decode("") == b""


@pytest.mark.parametrize("fn,size", [(formi.ulaw_encode, 3), (formi.alaw_encode, 1), (formi.pcm16le_decode, 5),
                                     (formi.pcm16be_decode, 3), (formi.f32_decode, 6), (formi.stereo_to_mono, 6),
                                     (formi.mono_to_stereo, 3), (formi.pcm8_encode, 1), (formi.f32_encode, 3)])
def test_odd_byte_counts_are_length_errors(fn, size):
    with pytest.raises(formi.LengthError) as info:
        fn(bytes(size))
    assert info.value.status == -4 and f"{size} bytes" in info.value.message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", ["text", None, 5, 1.5, [1, 2], {"a": 1}, object()])
def test_wrong_types_are_type_errors(bad):
    for fn in (formi.ulaw_encode, formi.ulaw_decode, formi.base64_encode, formi.mono_to_stereo):
        with pytest.raises(TypeError):
            fn(bad)


def test_as_numpy_without_numpy_is_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_numpy(name, *args, **kwargs):
        if name == "numpy":
            raise ImportError("no numpy here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_numpy)
    with pytest.raises(ImportError, match="needs numpy"):
        formi.ulaw_decode(b"\xff", as_numpy=True)


# ---- numpy -----------------------------------------------------------------------------------------

@needs_numpy
def test_numpy_in_and_out():
    samples_in = np.array([0, 1000, -1000, 32767], dtype=np.int16)
    encoded = formi.ulaw_encode(samples_in)
    assert isinstance(encoded, np.ndarray) and encoded.dtype == np.uint8
    assert encoded.tobytes() == formi.ulaw_encode(samples_in.tobytes())
    decoded = formi.ulaw_decode(encoded)
    assert isinstance(decoded, np.ndarray) and decoded.dtype == np.int16 and decoded.shape == (4,)
    assert decoded.tobytes() == formi.ulaw_decode(encoded.tobytes())
    # From bytes, on request.
    as_array = formi.ulaw_decode(encoded.tobytes(), as_numpy=True)
    assert isinstance(as_array, np.ndarray) and (as_array == decoded).all()
    floats = formi.f32_encode(samples_in)
    assert floats.dtype == np.float32 and floats[0] == 0.0 and floats[3] == np.float32(32767 / 32768)
    assert (formi.f32_decode(floats) == samples_in).all()
    stereo = formi.mono_to_stereo(samples_in)
    assert stereo.shape == (8,) and (formi.stereo_to_mono(stereo) == samples_in).all()
    assert formi.ulaw_encode(np.zeros(0, dtype=np.int16)).shape == (0,)


@needs_numpy
def test_numpy_views_and_wrong_dtypes():
    base = np.arange(-10, 10, dtype=np.int16)
    strided = base[::2]  # not contiguous: copied first
    assert formi.ulaw_encode(strided).tobytes() == formi.ulaw_encode(strided.tobytes())
    readonly = base.copy()
    readonly.flags.writeable = False
    assert formi.ulaw_encode(readonly).tobytes() == formi.ulaw_encode(base.tobytes())
    with pytest.raises(TypeError, match="int16"):
        formi.ulaw_encode(np.zeros(4, dtype=np.float64))
    with pytest.raises(TypeError, match="int16"):
        formi.ulaw_encode(np.zeros(4, dtype=">i2"))
    with pytest.raises(TypeError, match="float32"):
        formi.f32_decode(np.zeros(4, dtype=np.float64))
    with pytest.raises(TypeError, match="1-byte"):
        formi.ulaw_decode(np.zeros(4, dtype=np.int16))


# ---- threads ---------------------------------------------------------------------------------------

def test_codecs_from_many_threads():
    expected = formi.ulaw_encode(RAMP)
    failures = []

    def work():
        for _ in range(20):
            if formi.ulaw_encode(RAMP) != expected or formi.base64_decode(formi.base64_encode(expected)) != expected:
                failures.append(1)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_sys_byteorder_is_what_the_library_calls_host_order():
    # pcm is host order; pcm16le on a little-endian host is the identity.
    if sys.byteorder == "little":
        assert formi.pcm16le_encode(RAMP) == RAMP
