#!/usr/bin/env python3
"""The Python package's frame path against pipecat's own Twilio serializer, in the same run and with the
same data: one Twilio media message (20 ms of mu-law at 8 kHz) into the pipeline at 16 kHz, and 20 ms of
the pipeline's 16 kHz audio out as a Twilio media message.

Three ways, each per frame, median of several rounds (this machine is noisy; the ratio is what counts):
  pipecat    pipecat.serializers.twilio.TwilioFrameSerializer (json, base64, its mu-law and soxr resampler)
  formi      formi.pipecat.FormiFrameSerializer: the same pipecat interface, backed by libformi
  session    formi.Session directly: receive_audio() / send_audio() + outputs()

    FORMI_LIBRARY=build/lib/libformi.so.0 build/python-venv/bin/python bench/pipecat_frame.py [--instructions]
(make bench runs both in the test venv, where pipecat-ai is installed.) --instructions counts with callgrind,
which is repeatable where the clock is not; pipecat's frame objects (InputAudioRawFrame, OutputAudioRawFrame)
are made in the serializer rows of both and not in the session row.)"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import statistics
import struct
import sys
import time

import formi
from formi.pipecat import FormiFrameSerializer
from pipecat.frames.frames import OutputAudioRawFrame
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.serializers.twilio import TwilioFrameSerializer

RATE = 16000
STREAM = "MZ00000000000000000000000000000000"


def caller_messages(n: int) -> list:
    """Twilio media messages of a 440 Hz tone, as Twilio sends them."""
    out = []
    for i in range(n):
        pcm = struct.pack("<160h", *(int(8000 * math.sin(2 * math.pi * 440 * (i * 160 + k) / 8000)) for k in range(160)))
        ulaw = formi.ulaw_encode(pcm)
        out.append(json.dumps({"event": "media", "sequenceNumber": str(i + 3), "streamSid": STREAM,
                               "media": {"track": "inbound", "chunk": str(i + 1), "timestamp": str(i * 20),
                                         "payload": base64.b64encode(ulaw).decode()}}))
    return out


def agent_frames(n: int) -> list:
    return [struct.pack(f"<{RATE // 50}h", *(int(8000 * math.sin(2 * math.pi * 300 * (i * RATE // 50 + k) / RATE))
                                            for k in range(RATE // 50))) for i in range(n)]


START = [json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
         json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": STREAM,
                     "start": {"streamSid": STREAM, "accountSid": "AC1", "callSid": "CA1", "tracks": ["inbound"],
                               "customParameters": {}, "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                                                       "channels": 1}}})]


async def setup(serializer) -> None:
    await serializer.setup(FrameProcessorSetup(clock=None, task_manager=None, pipeline_worker=None, audio_in_sample_rate=RATE,
                                               audio_out_sample_rate=RATE))


async def serializer_rounds(make, inbound, outbound, rounds: int):
    """Per-frame µs of deserialize and serialize, one median per round."""
    ins, outs = [], []
    for _ in range(rounds):
        s = make()
        await setup(s)
        for m in START:
            await s.deserialize(m)
        got = 0
        t0 = time.perf_counter()
        for m in inbound:
            frame = await s.deserialize(m)
            got += len(frame.audio) if frame is not None else 0
        t1 = time.perf_counter()
        assert got >= 0.95 * len(inbound) * RATE // 50 * 2, got  # the resamplers hold back a few ms
        sent = []
        for pcm in outbound:
            sent.append(await s.serialize(OutputAudioRawFrame(audio=pcm, sample_rate=RATE, num_channels=1)))
        t2 = time.perf_counter()
        ulaw = sum(len(base64.b64decode(json.loads(m)["media"]["payload"])) for m in sent if m)
        assert ulaw >= 0.95 * len(outbound) * 160, ulaw  # mu-law bytes at 8 kHz
        ins.append((t1 - t0) / len(inbound) * 1e6)
        outs.append((t2 - t1) / len(outbound) * 1e6)
    return statistics.median(ins), statistics.median(outs)


def session_rounds(inbound, outbound, rounds: int):
    ins, outs = [], []
    for _ in range(rounds):
        with formi.Session("twilio", local_format=("pcm16le", RATE), frame_ms=20, mark_interval_ms=0) as s:
            for m in START:
                s.receive(m)
            list(s.events())
            got = 0
            t0 = time.perf_counter()
            for m in inbound:
                got += len(s.receive_audio(m))
            t1 = time.perf_counter()
            assert got >= 0.95 * len(inbound) * RATE // 50 * 2, got
            for pcm in outbound:
                s.send_audio(pcm)
                for message in s.outputs():
                    assert message.data
            t2 = time.perf_counter()
        ins.append((t1 - t0) / len(inbound) * 1e6)
        outs.append((t2 - t1) / len(outbound) * 1e6)
    return statistics.median(ins), statistics.median(outs)


MODES = ("pipecat-in", "pipecat-out", "formi-in", "formi-out", "session-in", "session-out")


def one(mode: str, frames: int) -> None:
    """One path, one way, `frames` frames, nothing timed: what --instructions counts under callgrind.
    Mode "none" only makes the data (subtracted from the others)."""
    inbound, outbound = caller_messages(frames), agent_frames(frames)
    if mode == "none":
        return
    if mode.startswith("session"):
        with formi.Session("twilio", local_format=("pcm16le", RATE), frame_ms=20, mark_interval_ms=0) as s:
            for m in START:
                s.receive(m)
            list(s.events())
            if mode.endswith("-in"):
                for m in inbound:
                    s.receive_audio(m)
            else:
                for pcm in outbound:
                    s.send_audio(pcm)
                    for _ in s.outputs():
                        pass
        return

    async def run() -> None:
        s = (TwilioFrameSerializer(STREAM, params=TwilioFrameSerializer.InputParams(auto_hang_up=False))
             if mode.startswith("pipecat") else FormiFrameSerializer("twilio", params=FormiFrameSerializer.InputParams(frame_ms=20)))
        await setup(s)
        for m in START:
            await s.deserialize(m)
        if mode.endswith("-in"):
            for m in inbound:
                await s.deserialize(m)
        else:
            for pcm in outbound:
                await s.serialize(OutputAudioRawFrame(audio=pcm, sample_rate=RATE, num_channels=1))
    asyncio.run(run())


def instructions(frames: int) -> None:
    """Instructions per frame under callgrind (repeatable where the clock is not): each mode run with
    `frames` and 3x `frames` frames, the difference divided by 2x `frames`, less making the data."""
    import os
    import subprocess

    def count(mode: str, n: int) -> int:
        out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                              os.path.abspath(__file__), "--one", mode, "--frames", str(n)],
                             capture_output=True, text=True, check=True).stderr
        return int(out.rsplit("Collected :", 1)[1].split()[0])

    per = {mode: (count(mode, 3 * frames) - count(mode, frames)) / (2 * frames) for mode in ("none",) + MODES}
    per = {mode: value - per["none"] for mode, value in per.items() if mode != "none"}
    print(f"Twilio 20 ms frames, pipeline at {RATE} Hz: instructions per frame (callgrind, same run)")
    print("| path | inbound | outbound | inbound vs pipecat | outbound vs pipecat |")
    print("|---|---|---|---|---|")
    for name, key in (("pipecat TwilioFrameSerializer", "pipecat"), ("formi FormiFrameSerializer", "formi"),
                      ("formi.Session", "session")):
        i, o = per[f"{key}-in"], per[f"{key}-out"]
        print(f"| {name} | {i / 1000:.1f}k | {o / 1000:.1f}k | {per['pipecat-in'] / i:.1f}x | {per['pipecat-out'] / o:.1f}x |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--instructions", action="store_true", help="count instructions with callgrind instead of timing")
    ap.add_argument("--one", choices=("none",) + MODES, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        return one(args.one, args.frames)
    if args.instructions:
        return instructions(min(args.frames, 500))
    inbound, outbound = caller_messages(args.frames), agent_frames(args.frames)

    pipecat = asyncio.run(serializer_rounds(lambda: TwilioFrameSerializer(STREAM, params=TwilioFrameSerializer.InputParams(
        auto_hang_up=False)), inbound, outbound, args.rounds))
    ours = asyncio.run(serializer_rounds(lambda: FormiFrameSerializer("twilio", params=FormiFrameSerializer.InputParams(
        frame_ms=20)), inbound, outbound, args.rounds))
    session = session_rounds(inbound, outbound, args.rounds)

    print(f"Twilio 20 ms frames, pipeline at {RATE} Hz: µs per frame (median of {args.rounds} rounds of {args.frames})")
    print("| path | inbound µs | outbound µs | inbound vs pipecat | outbound vs pipecat |")
    print("|---|---|---|---|---|")
    print(f"| pipecat TwilioFrameSerializer | {pipecat[0]:.2f} | {pipecat[1]:.2f} | 1.0x | 1.0x |")
    for name, (i, o) in (("formi FormiFrameSerializer", ours), ("formi.Session", session)):
        print(f"| {name} | {i:.2f} | {o:.2f} | {pipecat[0] / i:.1f}x | {pipecat[1] / o:.1f}x |")


if __name__ == "__main__":
    main()
