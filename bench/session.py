"""The full frame path of an agent server, per Twilio 20 ms frame: libformi's session through its C ABI
(bench-session) against a Python pipeline doing the same work the way pipecat's Twilio serializer does,
in the same run:
  inbound:  json.loads -> base64.b64decode -> audioop.ulaw2lin -> soxr.ResampleStream 8 -> 16 kHz
  outbound: soxr.ResampleStream 16 -> 8 kHz -> audioop.lin2ulaw -> base64.b64encode -> json.dumps
pipecat streams with soxr quality "VHQ"; an "HQ" row is printed too, and libformi with speexdsp at
quality 5 (the default before libformi's own FIR) and 3 (speex's VoIP setting) beside its default. Rounds alternate between the two;
medians and ratios are printed, and how many calls (both directions) one core carries.

With --instructions, both sides run under valgrind --tool=callgrind instead, for N and 2N frames, and the
difference gives instructions per frame: a repeatable count where the clock is noisy.

usage: python3 bench/session.py build/bench-session [--instructions]
"""
import warnings

warnings.simplefilter("ignore", DeprecationWarning)
import audioop  # noqa: E402 (deprecated in 3.11, which pipecat still runs on)
import base64
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
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


def instructions(command):
    """Instructions callgrind counts for `command`."""
    with tempfile.TemporaryDirectory() as work:
        result = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={work}/out"] + command,
                                capture_output=True, text=True, check=True)
    return int(re.search(r"Collected : (\d+)", result.stderr).group(1))


def per_frame(command, n):
    return (instructions(command(2 * n)) - instructions(command(n))) / n


def count_instructions(binary):
    print("agent-server frame path, instructions per Twilio 20 ms frame (callgrind, 2N - N frames)")
    print(f"  {'':34} {'inbound':>9} {'outbound':>9}")
    counts = {}
    for name, quality in (("libformi session (C ABI, own FIR)", -1), ("libformi, speexdsp quality 5", 5)):
        counts[name] = [per_frame(lambda n: [binary, mode, str(n), str(quality)], 1000) for mode in ("inbound", "outbound")]
    for name, quality in (("Python, pipecat's way (soxr VHQ)", "VHQ"), ("Python, pipecat's way (soxr HQ)", "HQ")):
        counts[name] = [per_frame(lambda n: [sys.executable, os.path.abspath(__file__), "--python-run", mode, quality, str(n)], 500)
                        for mode in ("inbound", "outbound")]
    for name, (a, b) in counts.items():
        print(f"  {name:34} {a:9.0f} {b:9.0f}")
    ours = counts["libformi session (C ABI, own FIR)"]
    for name in ("Python, pipecat's way (soxr VHQ)", "Python, pipecat's way (soxr HQ)"):
        theirs = counts[name]
        print(f"  ratio vs {name[-4:-1].strip()}: inbound {theirs[0] / ours[0]:.1f}x fewer, outbound {theirs[1] / ours[1]:.1f}x fewer")


def main():
    if sys.argv[1] == "--python-run":
        mode, quality, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
        (python_inbound if mode == "inbound" else python_outbound)(n, quality)
        return
    binary = sys.argv[1]
    if "--instructions" in sys.argv[2:]:
        count_instructions(binary)
        return
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
