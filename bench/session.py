"""The full frame path of an agent server, per Twilio 20 ms frame: libformi's session through its C ABI
(bench-session) against a Python pipeline doing the same work the way pipecat's Twilio serializer does,
in the same run:
  inbound:  json.loads -> base64.b64decode -> audioop.ulaw2lin -> soxr.ResampleStream 8 -> 16 kHz
  outbound: soxr.ResampleStream 16 -> 8 kHz -> audioop.lin2ulaw -> base64.b64encode -> json.dumps
pipecat streams with soxr quality "VHQ"; an "HQ" row is printed too, and libformi with speexdsp at
quality 5 (the default before libformi's own FIR) and 3 (speex's VoIP setting) beside its default. Rounds alternate between the two;
medians and ratios are printed, and how many calls (both directions) one core carries.

usage: python3 bench/session.py build/bench-session
"""
import warnings

warnings.simplefilter("ignore", DeprecationWarning)
import audioop  # noqa: E402 (deprecated in 3.11, which pipecat still runs on)
import base64
import json
import statistics
import subprocess
import sys
import time

import numpy as np
import soxr

ROUNDS = 7
FRAMES = 100_000
PY_FRAMES = 20_000

ULAW = bytes((i * 37 + 11) & 0xFF for i in range(160))
MESSAGE = json.dumps({"event": "media", "sequenceNumber": "3", "media": {"track": "inbound", "chunk": "2", "timestamp": "40",
                      "payload": base64.b64encode(ULAW).decode()}, "streamSid": "MZ18ad3ab5a668481ce02b83e7395059f0"})
PCM16K = np.array([(i % 40) * 700 - 14000 for i in range(320)], dtype=np.int16).tobytes()


def python_inbound(n, quality):
    stream = soxr.ResampleStream(8000, 16000, 1, dtype="int16", quality=quality)
    produced = 0
    start = time.perf_counter()
    for _ in range(n):
        message = json.loads(MESSAGE)
        if message["event"] == "media":
            ulaw = base64.b64decode(message["media"]["payload"])
            pcm = audioop.ulaw2lin(ulaw, 2)
            out = stream.resample_chunk(np.frombuffer(pcm, dtype=np.int16)).astype(np.int16).tobytes()
            produced += len(out)  # soxr gives its output in bursts (about every 100 ms)
    assert produced > n * 500
    return n / (time.perf_counter() - start)


def python_outbound(n, quality):
    stream = soxr.ResampleStream(16000, 8000, 1, dtype="int16", quality=quality)
    sent = 0
    start = time.perf_counter()
    for _ in range(n):
        pcm = stream.resample_chunk(np.frombuffer(PCM16K, dtype=np.int16)).astype(np.int16).tobytes()
        ulaw = audioop.lin2ulaw(pcm, 2)
        payload = base64.b64encode(ulaw).decode("utf-8")
        text = json.dumps({"event": "media", "streamSid": "MZ18ad3ab5a668481ce02b83e7395059f0", "media": {"payload": payload}})
        sent += len(text)
    assert sent > n * 100
    return n / (time.perf_counter() - start)


def ours(binary, mode, quality=-1):
    out = subprocess.run([binary, mode, str(FRAMES), str(quality)], capture_output=True, text=True, check=True).stdout
    return float(out.split()[0])


def main():
    binary = sys.argv[1]
    results = {key: [] for key in ("in", "out", "in_q5", "out_q5", "in_q3", "out_q3", "py_in", "py_out", "py_in_hq",
                                   "py_out_hq")}
    for _ in range(ROUNDS):
        results["in"].append(ours(binary, "inbound"))
        results["in_q5"].append(ours(binary, "inbound", 5))
        results["out_q5"].append(ours(binary, "outbound", 5))
        results["in_q3"].append(ours(binary, "inbound", 3))
        results["out_q3"].append(ours(binary, "outbound", 3))
        results["py_in"].append(python_inbound(PY_FRAMES, "VHQ"))
        results["py_in_hq"].append(python_inbound(PY_FRAMES, "HQ"))
        results["out"].append(ours(binary, "outbound"))
        results["py_out"].append(python_outbound(PY_FRAMES, "VHQ"))
        results["py_out_hq"].append(python_outbound(PY_FRAMES, "HQ"))
    ns = {key: 1e9 / statistics.median(values) for key, values in results.items()}
    print(f"agent-server frame path, Twilio 20 ms frames, median of {ROUNDS} rounds (ns per frame)")
    print(f"  {'':34} {'inbound':>9} {'outbound':>9} {'both':>9} {'calls/core':>10}")
    def row(name, a, b):
        print(f"  {name:34} {a:9.0f} {b:9.0f} {a + b:9.0f} {20e6 / (a + b):10.0f}")
    row("libformi session (C ABI, own FIR)", ns["in"], ns["out"])
    row("libformi, speexdsp quality 5", ns["in_q5"], ns["out_q5"])
    row("libformi, speexdsp quality 3 (VoIP)", ns["in_q3"], ns["out_q3"])
    row("Python, pipecat's way (soxr VHQ)", ns["py_in"], ns["py_out"])
    row("Python, pipecat's way (soxr HQ)", ns["py_in_hq"], ns["py_out_hq"])
    print(f"  ratio vs VHQ: inbound {ns['py_in'] / ns['in']:.1f}x, outbound {ns['py_out'] / ns['out']:.1f}x, "
          f"both {(ns['py_in'] + ns['py_out']) / (ns['in'] + ns['out']):.1f}x")
    print(f"  ratio vs HQ:  inbound {ns['py_in_hq'] / ns['in']:.1f}x, outbound {ns['py_out_hq'] / ns['out']:.1f}x, "
          f"both {(ns['py_in_hq'] + ns['py_out_hq']) / (ns['in'] + ns['out']):.1f}x")


if __name__ == "__main__":
    main()
