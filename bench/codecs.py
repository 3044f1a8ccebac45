"""Codec throughput: libformi through its C ABI against CPython's audioop, same data, same process.

Signal: speech level (two tones plus noise, about -12 dBFS), and for the G.711 encoders also the
full-scale ITU sweep, since audioop's encoder slows with level while libformi's tables do not.
Each kernel runs on a 64 Ki-sample buffer (128 KiB of PCM: cache-resident, like a live call's frames),
repeated; every figure is the median of ROUNDS rounds, so a noisy neighbour moves both columns alike.
The ctypes call costs about a microsecond per call, well under 1% at this size; output buffers are
allocated once (the C API writes into the caller's memory), while audioop allocates its result per call,
as its API does. M samples/s counts input samples (for base64: input bytes).

usage: FORMI_LIBRARY=build/lib/libformi.so.0.1.0 python3 bench/codecs.py
"""
import base64
import ctypes
import math
import os
import random
import statistics
import sys
import time
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

ROUNDS = 15
SAMPLES = 65536
LIB = ctypes.CDLL(os.environ.get("FORMI_LIBRARY", "libformi.so.0"))
size_t = ctypes.c_size_t


def signal(n):
    """Speech-band content: two tones and noise, at telephone level."""
    rng = random.Random(1)
    return [int(8000 * math.sin(i * 0.1) + 4000 * math.sin(i * 0.37) + rng.gauss(0, 1500)) for i in range(n)]


PCM = b"".join(max(-32768, min(32767, x)).to_bytes(2, sys.byteorder, signed=True) for x in signal(SAMPLES))
ULAW = audioop.lin2ulaw(PCM, 2)
ALAW = audioop.lin2alaw(PCM, 2)
STEREO = audioop.tostereo(PCM, 2, 1, 1)
F32 = (ctypes.c_float * SAMPLES)()
LIB.formi_f32_encode(PCM, SAMPLES, F32, SAMPLES)
B64_TEXT = base64.b64encode(PCM)
# The ITU-T G.191 sweep (every int16 once): full scale, where audioop's segment search is slowest.
SWEEP = b"".join(x.to_bytes(2, sys.byteorder, signed=True) for x in range(-32768, 32768))
LIB.formi_last_error.restype = ctypes.c_char_p


def rate(fn, items):
    """Median M items/s of fn over ROUNDS rounds of enough calls to last about 20 ms each."""
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        if time.perf_counter() - start > 0.02:
            break
        calls *= 2
    results = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        results.append(items * calls / (time.perf_counter() - start) / 1e6)
    return statistics.median(results)


def sized(name, data, count, out_elements, out_bytes):
    """A call of formi_NAME(data, count, out, out_elements) into a buffer allocated once."""
    fn = getattr(LIB, "formi_" + name)
    out = ctypes.create_string_buffer(out_bytes)
    status = fn(data, count, out, out_elements)
    assert status == 0, (name, status, LIB.formi_last_error())
    return lambda: fn(data, count, out, out_elements)


def base64_call(name, data, out_size):
    """formi_base64_encode/decode, which also report the length written."""
    fn = getattr(LIB, "formi_" + name)
    out = ctypes.create_string_buffer(out_size)
    length = size_t(0)
    assert fn(data, len(data), out, out_size, ctypes.byref(length)) == 0
    return lambda: fn(data, len(data), out, out_size, ctypes.byref(length))


KERNELS = [
    # (kernel, libformi call, peer name, peer call, items)
    ("mu-law encode", sized("ulaw_encode", PCM, SAMPLES, SAMPLES, SAMPLES),
     "audioop.lin2ulaw", lambda: audioop.lin2ulaw(PCM, 2), SAMPLES),
    ("mu-law enc sweep", sized("ulaw_encode", SWEEP, SAMPLES, SAMPLES, SAMPLES),
     "audioop.lin2ulaw", lambda: audioop.lin2ulaw(SWEEP, 2), SAMPLES),
    ("mu-law decode", sized("ulaw_decode", ULAW, SAMPLES, SAMPLES, 2 * SAMPLES),
     "audioop.ulaw2lin", lambda: audioop.ulaw2lin(ULAW, 2), SAMPLES),
    ("A-law encode", sized("alaw_encode", PCM, SAMPLES, SAMPLES, SAMPLES),
     "audioop.lin2alaw", lambda: audioop.lin2alaw(PCM, 2), SAMPLES),
    ("A-law enc sweep", sized("alaw_encode", SWEEP, SAMPLES, SAMPLES, SAMPLES),
     "audioop.lin2alaw", lambda: audioop.lin2alaw(SWEEP, 2), SAMPLES),
    ("A-law decode", sized("alaw_decode", ALAW, SAMPLES, SAMPLES, 2 * SAMPLES),
     "audioop.alaw2lin", lambda: audioop.alaw2lin(ALAW, 2), SAMPLES),
    ("s16 -> s16be", sized("pcm16be_encode", PCM, SAMPLES, 2 * SAMPLES, 2 * SAMPLES),
     "audioop.byteswap", lambda: audioop.byteswap(PCM, 2), SAMPLES),
    ("s16 -> u8", sized("pcm8_encode", PCM, SAMPLES, SAMPLES, SAMPLES),
     "audioop.lin2lin+bias", lambda: audioop.bias(audioop.lin2lin(PCM, 2, 1), 1, 128), SAMPLES),
    ("stereo -> mono", sized("stereo_to_mono", STEREO, SAMPLES, SAMPLES, 2 * SAMPLES),
     "audioop.tomono", lambda: audioop.tomono(STEREO, 2, 0.5, 0.5), SAMPLES),
    ("mono -> stereo", sized("mono_to_stereo", PCM, SAMPLES, 2 * SAMPLES, 4 * SAMPLES),
     "audioop.tostereo", lambda: audioop.tostereo(PCM, 2, 1, 1), SAMPLES),
    ("s16 -> f32", sized("f32_encode", PCM, SAMPLES, SAMPLES, 4 * SAMPLES), None, None, SAMPLES),
    ("f32 -> s16", sized("f32_decode", F32, SAMPLES, SAMPLES, 2 * SAMPLES), None, None, SAMPLES),
    ("base64 encode", base64_call("base64_encode", PCM, len(B64_TEXT)),
     "base64.b64encode", lambda: base64.b64encode(PCM), 2 * SAMPLES),
    ("base64 decode", base64_call("base64_decode", B64_TEXT, 2 * SAMPLES),
     "base64.b64decode", lambda: base64.b64decode(B64_TEXT, validate=True), 2 * SAMPLES),
]

try:  # numpy as the float peer, where it is installed
    import numpy as np
    SAMPLES_NP = np.frombuffer(PCM, dtype=np.int16)
    F32_NP = np.frombuffer(F32, dtype=np.float32)
    KERNELS[10] = KERNELS[10][:2] + ("numpy astype/32768", lambda: SAMPLES_NP.astype(np.float32) / 32768, SAMPLES)
    KERNELS[11] = KERNELS[11][:2] + ("numpy clip/rint/astype",
                                   lambda: np.clip(np.rint(F32_NP * 32768), -32768, 32767).astype(np.int16), SAMPLES)
except ImportError:
    pass


def main():
    print(f"codec throughput, M samples/s (base64: M bytes/s), median of {ROUNDS} rounds, {SAMPLES} samples per call")
    print(f"{'kernel':16} {'libformi':>10} {'peer':>10}  {'ratio':>7}  peer")
    for kernel, ours, peer_name, peer, items in KERNELS:
        a = rate(ours, items)
        if peer is None:
            print(f"{kernel:16} {a:10.0f} {'-':>10}  {'-':>7}")
            continue
        b = rate(peer, items)
        print(f"{kernel:16} {a:10.0f} {b:10.0f}  {a / b:6.1f}x  {peer_name}")


if __name__ == "__main__":
    main()
