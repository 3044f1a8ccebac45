"""Mapping a Twilio media message: libformi through its C ABI (bench-mapper) against CPython doing the
same work the usual way (json.loads, then the event, stream id, sequence number, chunk, timestamp and
track fields, and base64.b64decode of the 160-byte payload), on the same message, in one run.
Rounds alternate between the two; medians and their ratio are printed.

usage: python3 bench/mapper.py build/bench-mapper
"""
import base64
import json
import statistics
import subprocess
import sys
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


def main():
    binary = sys.argv[1]
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
