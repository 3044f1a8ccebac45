#!/usr/bin/env python3
"""formi-server under load: the most concurrent real-time calls it carries on one core.

Steps up the number of calls (Twilio protocol, 20 ms frames both ways, the demo agent talking about half
the time: bench/server_load.c presses keys that start its prompts). The server is pinned to CPU 0 and
the generator (one thread, C, libformi's telephony role) to CPU 1. A step passes when the server's p99
per-frame processing time (its own histogram, /metrics) is under 5 ms, no frame was dropped, and every
call connected. Then the Python example server (bindings/python/examples/echo_server.py) takes the same
load at one step, for the ratio of CPU per call.

    python3 bench/server_load.py --server .build/release/formi-server --generator build/bench-server-load
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from typing import Dict, List, Optional, Tuple

TICKS = os.sysconf("SC_CLK_TCK")
PATH = "/ws-adapter/twilio/inbound/1/1/+15550100"


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mib(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def histogram(port: int) -> Tuple[List[Tuple[float, float]], float]:
    """formi_frame_processing_seconds buckets [(le, cumulative count)] and formi_frames_dropped_total."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    buckets = [(float("inf") if m.group(1) == "+Inf" else float(m.group(1)), float(m.group(2)))
               for m in re.finditer(r'formi_frame_processing_seconds_bucket\{le="([^"]+)"\} (\S+)', text)]
    dropped = sum(float(m.group(1)) for m in re.finditer(r"^formi_frames_dropped_total(?:\{[^}]*\})? (\S+)", text, re.M))
    return sorted(buckets), dropped


def p99(before: List[Tuple[float, float]], after: List[Tuple[float, float]]) -> Optional[float]:
    """The upper bound of the bucket holding the 99th percentile of the frames in between (seconds)."""
    delta = [(le, a - b) for (le, a), (_, b) in zip(after, before)]
    total = delta[-1][1] if delta else 0
    if not total:
        return None
    for le, count in delta:
        if count >= 0.99 * total:
            return le
    return float("inf")


def start(cmd: List[str], pattern: str) -> Tuple[subprocess.Popen, int]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if m := re.search(pattern, line):
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return proc, int(m.group(1))
    proc.kill()
    raise SystemExit(f"could not start: {' '.join(cmd)}")


def run_load(generator: str, port: Optional[int], pid: int, calls: int, seconds: int, url_port: int) -> Dict[str, float]:
    """One step. The server's CPU, RSS and (with `port`) frame histogram are taken over the generator's
    measurement window only (all calls up, 5 s in), not the ramp or the hang-ups."""
    peak = [rss_mib(pid)]
    done = threading.Event()
    marks: Dict[str, tuple] = {}

    def sample() -> None:
        while not done.wait(0.5):
            if "start" in marks and "end" not in marks:
                peak.append(rss_mib(pid))
    threading.Thread(target=sample, daemon=True).start()
    gen = subprocess.Popen(["taskset", "-c", "1", generator, f"ws://127.0.0.1:{url_port}{PATH}", str(calls), str(seconds)],
                           stdout=subprocess.PIPE, text=True)
    last = ""
    for line in gen.stdout:
        line = line.strip()
        if line in ("measure start", "measure end"):
            marks[line.split()[1]] = (time.time(), cpu_seconds(pid), histogram(port) if port else ([], 0.0))
        elif line:
            last = line
    gen.wait()
    done.set()
    report = json.loads(last) if last.startswith("{") else {"connected": 0}
    if "start" in marks and "end" in marks:
        (t0, c0, (h0, d0)), (t1, c1, (h1, d1)) = marks["start"], marks["end"]
        report["server_cpu_percent"] = round(100 * (c1 - c0) / (t1 - t0), 1)
        report["p99"] = p99(h0, h1) if port else None
        report["dropped"] = d1 - d0
    else:
        report.update(server_cpu_percent=0.0, p99=None, dropped=0.0)
    report["server_peak_rss_mib"] = round(max(peak), 1)
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", default=".build/release/formi-server")
    ap.add_argument("--generator", default="build/bench-server-load")
    ap.add_argument("--steps", default="50,100,150,200,300,400,600,800,1000")
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--echo-calls", type=int, default=100, help="the step at which the Python echo server is compared")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--server-args", default="--threads 1", help="more formi-server flags (default: one event loop on its one core)")
    args = ap.parse_args()
    steps = [int(s) for s in args.steps.split(",")]

    data = tempfile.mkdtemp(prefix="formi-bench-")
    server, port = start(["taskset", "-c", "0", args.server, "--port", "0", "--no-audiosocket", "--data-dir", data,
                          "--max-calls", str(max(steps) + 100), "--log-level", "warning", *args.server_args.split()],
                         r"listening on http://[\d.]+:(\d+)")
    idle_rss = rss_mib(server.pid)
    rows = []
    best = 0
    try:
        for calls in steps:
            r = run_load(args.generator, port, server.pid, calls, args.seconds, port)
            time.sleep(2)  # the calls' ends and ledger writes, outside the next step
            q = r.pop("p99")
            r.update(calls=calls, p99_ms=None if q is None else q * 1000,
                     rss_per_call_kib=round((r["server_peak_rss_mib"] - idle_rss) * 1024 / calls, 1))
            r["ok"] = bool(r.get("connected") == calls and r.get("open_at_end") == calls and q is not None
                           and q <= 0.005 and r["dropped"] == 0)
            rows.append(r)
            print(json.dumps(r), flush=True)
            if r["ok"]:
                best = calls
            else:
                break
    finally:
        server.terminate()
        server.wait(30)

    echo, echo_port = start(["taskset", "-c", "0", args.python, "bindings/python/examples/echo_server.py", "--port", "0"],
                            r"echo server on ws://[\d.]+:(\d+)")
    try:
        e = run_load(args.generator, None, echo.pid, args.echo_calls, args.seconds, echo_port)
    finally:
        echo.terminate()
        echo.wait(30)
    ours = next((r for r in rows if r["calls"] == args.echo_calls), None)

    print()
    print(f"formi-server on one core (CPU 0), generator on CPU 1, {args.seconds} s per step, Twilio, 20 ms frames")
    print("| calls | p99 frame ms | dropped | server CPU % | CPU ms/s per call | RSS MiB (peak) | RSS KiB/call | agent talking | generator CPU % | generator ticks missed | ok |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        p = "-" if r["p99_ms"] is None else ("inf" if r["p99_ms"] == float("inf") else f"{r['p99_ms']:g}")
        print(f"| {r['calls']} | <= {p} | {r['dropped']:g} | {r['server_cpu_percent']} | {10 * r['server_cpu_percent'] / r['calls']:.2f} "
              f"| {r['server_peak_rss_mib']} | {r['rss_per_call_kib']} | {100 * r.get('heard_s_per_call', 0) / args.seconds:.0f}% "
              f"| {r.get('generator_cpu_percent')} | {r.get('ticks_missed')} | {'yes' if r['ok'] else 'no'} |")
    print(f"\nmost calls with p99 <= 5 ms and nothing dropped: {best} (of the steps {args.steps})")
    if ours and e.get("connected"):
        fc, ec = ours["server_cpu_percent"] / args.echo_calls, e["server_cpu_percent"] / args.echo_calls
        print(f"Python echo server (bindings/python/examples/echo_server.py), {args.echo_calls} calls: "
              f"CPU {e['server_cpu_percent']}% ({10 * ec:.2f} ms/s per call), peak RSS {e['server_peak_rss_mib']} MiB, "
              f"connected {e['connected']}/{args.echo_calls}, generator missed {e.get('ticks_missed')} ticks")
        print(f"CPU per call, echo server / formi-server: {ec / fc:.1f}x" if fc else "formi-server CPU too small to compare")
    return 0


if __name__ == "__main__":
    sys.exit(main())
