"""Mapping a Twilio media message: libformi through its C ABI (bench-mapper) against CPython doing the
same work the usual way (json.loads, then the event, stream id, sequence number, chunk, timestamp and
track fields, and base64.b64decode of the 160-byte payload), on the same message, in one run.
Rounds alternate between the two; medians and their ratio are printed.

With --instructions, both sides run under valgrind --tool=callgrind instead, for N and 2N messages, and
the difference gives instructions per message: a repeatable count where the clock is noisy.

usage: python3 bench/mapper.py build/bench-mapper [--instructions]
"""
import base64
import json
import statistics
import os
import re
import subprocess
import sys
import tempfile
import time

ROUNDS = 7
MESSAGES = 200_000

payload = base64.b64encode(bytes((i * 37 + 11) & 0xFF for i in range(160))).decode()
MESSAGE = ('{"event":"media","sequenceNumber":"3","media":{"track":"inbound","chunk":"2","timestamp":"40",'
           '"payload":"%s"},"streamSid":"MZ18ad3ab5a668481ce02b83e7395059f0"}' % payload)


def python_round(n):
    start = time.perf_counter()
    for _ in range(n):
        m = json.loads(MESSAGE)
        if m["event"] == "media":
            media = m["media"]
            event = ("media", m["streamSid"], int(m["sequenceNumber"]), int(media["chunk"]),
                     int(media["timestamp"]), media["track"], base64.b64decode(media["payload"], validate=True))
    assert len(event[-1]) == 160
    return n / (time.perf_counter() - start)


def instructions(command):
    """Instructions callgrind counts for `command`."""
    with tempfile.TemporaryDirectory() as work:
        result = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={work}/out"] + command,
                                capture_output=True, text=True, check=True)
    return int(re.search(r"Collected : (\d+)", result.stderr).group(1))


def per_message(command, n=2000):
    return (instructions(command(2 * n)) - instructions(command(n))) / n


def count_instructions(binary):
    ours = per_message(lambda n: [binary, "1", str(n)])
    theirs = per_message(lambda n: [sys.executable, os.path.abspath(__file__), "--python-round", str(n)])
    print(f"map a Twilio media message ({len(MESSAGE)} bytes), instructions per message (callgrind, 4000 - 2000 messages)")
    print(f"  libformi (C ABI)            {ours:8.0f}")
    print(f"  CPython json + base64       {theirs:8.0f}")
    print(f"  ratio                       {theirs / ours:8.1f}x")


def main():
    if sys.argv[1] == "--python-round":
        python_round(int(sys.argv[2]))
        return
    binary = sys.argv[1]
    if "--instructions" in sys.argv[2:]:
        count_instructions(binary)
        return
    ours, theirs = [], []
    for _ in range(ROUNDS):
        out = subprocess.run([binary, "1", str(MESSAGES)], capture_output=True, text=True, check=True).stdout.split()
        ours.append(float(out[0]))
        theirs.append(python_round(MESSAGES // 4))
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"map a Twilio media message ({len(MESSAGE)} bytes: parse, detect, extract, base64-decode 160 bytes), median of {ROUNDS} rounds")
    print(f"  libformi (C ABI)            {a / 1e6:8.2f} M messages/s  {1e9 / a:8.0f} ns each")
    print(f"  CPython json + base64       {b / 1e6:8.2f} M messages/s  {1e9 / b:8.0f} ns each")
    print(f"  ratio                       {a / b:8.1f}x")


if __name__ == "__main__":
    main()
