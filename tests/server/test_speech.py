"""The demo agent hears words: the simulator, as a Twilio caller, says "book a table", a party size and
"goodbye" (synthesised by espeak-ng, sent as µ-law 8 kHz), and the demo flow follows greeting -> party size
-> confirm -> goodbye, recorded once in the ledger with the recogniser's counts. Run by `make test-server`."""
from __future__ import annotations

import asyncio
import json
import random
import struct
import subprocess
import wave
from pathlib import Path

import formi
from formi.sim import simulate

from conftest import Server

RATE = 8000


def spoken(text: str, folder: Path) -> bytes:
    """`text` in espeak-ng's en-us voice at 150 wpm, as 8 kHz PCM16."""
    path = folder / f"{text.replace(' ', '_')}.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text], check=True)
    with wave.open(str(path), "rb") as w:
        rate, pcm = w.getframerate(), w.readframes(w.getnframes())
    r = formi.Resampler(rate, RATE)
    return bytes(r.process(pcm)) + bytes(r.drain())


def caller_wav(folder: Path, lines: list[tuple[float, str]], seconds: float) -> str:
    """A caller on a quiet line (-50 dBFS noise) saying each text at its time."""
    rng = random.Random(5)
    samples = [int(rng.gauss(0, 104)) for _ in range(int(RATE * seconds))]
    for at, text in lines:
        speech = struct.unpack(f"<{len(spoken(text, folder)) // 2}h", spoken(text, folder))
        start = int(at * RATE)
        for i, s in enumerate(speech):
            if start + i < len(samples):
                samples[start + i] = max(-32768, min(32767, samples[start + i] + s))
    path = folder / "caller.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return str(path)


def test_spoken_booking_follows_the_flow(server: Server, tmp_path: Path) -> None:
    server.settle()
    before = len(server.interactions())
    # Each phrase talks over the prompt it answers (a barge-in), so the call needs no long pauses.
    wav = caller_wav(tmp_path, [(2.5, "book a table"), (6.5, "four"), (10.5, "goodbye")], 16)
    report = asyncio.run(simulate(server.url("twilio"), wav, tail=1.0))
    call = report.calls[0]
    assert call.ok, call.error
    server.settle()
    rows = server.interactions()
    assert len(rows) == before + 1, "exactly one ledger record per call"
    ledger = formi.Ledger(str(server.data_dir / "usage.db"))
    try:
        record = ledger.query({"query": "interaction", "interaction_id": rows[-1]["interaction_id"]})
    finally:
        ledger.close()
    text = json.dumps(record)
    heard = [line for line in server.log.splitlines() if "heard" in line]
    # greeting (1) -> party size (2) -> confirm (4) -> goodbye (6): each by a recognised phrase.
    assert '"flow_path": [1, 2, 4, 6]' in text, (text[:3000], "\n".join(heard[-10:]))
    assert '"speech_recognised": 3' in text, text[:3000]
    assert '"outcome": "resolved"' in text, text[:3000]
    assert '"STT"' in text and "pocketsphinx" in text, text[:3000]
