"""libformi.so loaded into a Python process through ctypes, checked against CPython's audioop.

audioop is the reference peer for the codecs. g711.md says exactly how it differs: A-law encoding and
both decoders agree on every input; µ-law encoding differs on exactly 508 inputs, all negative, where
audioop (Sun's rule) picks the neighbouring code. This test checks that, so it holds both libraries to it.
"""
import ctypes
import os
import re
import sys
import unittest
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # noqa: E402  (deprecated in 3.11, still the reference here)

LIB = ctypes.CDLL(os.environ.get("FORMI_LIBRARY", "libformi.so.0"))
c_size = ctypes.c_size_t
for name in ("ulaw_encode", "alaw_encode"):
    getattr(LIB, "formi_" + name).argtypes = [ctypes.c_char_p, c_size, ctypes.c_char_p, c_size]
for name in ("ulaw_decode", "alaw_decode"):
    getattr(LIB, "formi_" + name).argtypes = [ctypes.c_char_p, c_size, ctypes.c_char_p, c_size]
LIB.formi_base64_decode.argtypes = [ctypes.c_char_p, c_size, ctypes.c_char_p, c_size, ctypes.POINTER(c_size)]
LIB.formi_last_error.restype = ctypes.c_char_p
LIB.formi_version.restype = ctypes.c_char_p

RAMP = b"".join(x.to_bytes(2, sys.byteorder, signed=True) for x in range(-32768, 32768))
CODES = bytes(range(256))


def call(name, data, out_size, out_factor=1):
    out = ctypes.create_string_buffer(out_size * out_factor)
    status = getattr(LIB, "formi_" + name)(data, len(data) // (2 if "encode" in name else 1), out, out_size)
    if status != 0:
        raise AssertionError(f"formi_{name}: {status} {LIB.formi_last_error().decode()}")
    return out.raw


class AgainstAudioop(unittest.TestCase):
    def test_version(self):
        header = open(os.path.join(os.path.dirname(__file__), "..", "..", "include", "formi.h")).read()
        self.assertEqual(LIB.formi_version().decode(), re.search(r'#define FORMI_VERSION "([^"]+)"', header).group(1))

    def test_alaw_encode_equals_audioop(self):
        self.assertEqual(call("alaw_encode", RAMP, 65536), audioop.lin2alaw(RAMP, 2))

    def test_ulaw_encode_differs_exactly_where_g711_md_says(self):
        ours = call("ulaw_encode", RAMP, 65536)
        theirs = audioop.lin2ulaw(RAMP, 2)
        diffs = [i - 32768 for i in range(65536) if ours[i] != theirs[i]]
        self.assertEqual(len(diffs), 508)
        self.assertTrue(all(x < 0 for x in diffs))
        # Every difference is the neighbouring code, and decodes to the same quality.
        self.assertTrue(all(abs(ours[x + 32768] - theirs[x + 32768]) == 1 for x in diffs))

    def test_decoders_equal_audioop(self):
        self.assertEqual(call("ulaw_decode", CODES, 256, 2), audioop.ulaw2lin(CODES, 2))
        self.assertEqual(call("alaw_decode", CODES, 256, 2), audioop.alaw2lin(CODES, 2))

    def test_bad_base64_is_an_error_with_a_message(self):
        out = ctypes.create_string_buffer(16)
        length = c_size(0)
        status = LIB.formi_base64_decode(b"QU%D", 4, out, 16, ctypes.byref(length))
        self.assertEqual(status, -6)
        self.assertIn(b"offset 2", LIB.formi_last_error())


if __name__ == "__main__":
    unittest.main(verbosity=1)
