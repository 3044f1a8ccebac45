"""The demo agent's keyword recognition, measured: caller phrases synthesised with espeak-ng in several voices
and speeds, sent through µ-law 8 kHz as a phone call would, decoded by formi-server's recogniser (its
--recognize-grammar mode: the library's transcoder to 16 kHz, then pocketsphinx against one state's grammar).

Reports, per demo-flow state and overall: the share of in-grammar phrases routed to the right transition
(recognised as the phrase its edge names and accepted), wrong, and rejected; out-of-grammar phrases wrongly
accepted; the trade-off over rejection thresholds; and decoding time per second of audio.

    make bench-speech     # = FORMI_LIBRARY=build/lib/libformi.so.0 build/python-venv/bin/python bench/speech_recognition.py \\
        --server .build/release/formi-server
"""
from __future__ import annotations

import argparse
import json
import random
import struct
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import formi

VOICES = ["en-us", "en-us+f3", "en-gb", "en-us+m3"]
SPEEDS = [130, 160, 190]
GLOBAL = ["talk to a person", "goodbye"]
# The demo flow's states (Sources/formi-server/DemoDefaults.swift) and the phrases their edges name.
STATES = {
    "greeting": ["book a table", "opening hours"] + GLOBAL,
    "party size": ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"] + GLOBAL,
    "confirm": ["yes", "no"] + GLOBAL,
}
# What callers also say: none of these is any state's phrase.
OUT_OF_GRAMMAR = ["book a flight", "hello", "what time is it", "cancel my order", "thank you very much",
                  "i would like a pizza", "can you hear me", "maybe later"]


def synthesise(text: str, voice: str, speed: int, folder: Path, rng: random.Random) -> Path:
    """espeak-ng -> 8 kHz (the library's resampler) -> µ-law, with 0.3 s of line noise (-50 dBFS) either
    side: what the VAD's pre-roll and hangover hand the recogniser in a call."""
    wav = folder / "tmp.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), text], check=True)
    with wave.open(str(wav), "rb") as w:
        rate, pcm = w.getframerate(), w.readframes(w.getnframes())
    r = formi.Resampler(rate, 8000)
    pcm8 = bytes(r.process(pcm)) + bytes(r.drain())
    noise = lambda n: struct.pack(f"<{n}h", *(int(rng.gauss(0, 104)) for _ in range(n)))  # ~-50 dBFS
    line = noise(2400) + pcm8 + noise(2400)
    out = folder / f"{voice}-{speed}-{text.replace(' ', '_')}.ulaw"
    out.write_bytes(bytes(formi.ulaw_encode(line)))
    return out


def decode(server: str, phrases: list[str], files: list[Path], reject_below: float) -> list[dict]:
    out = subprocess.run([server, "--recognize-grammar", "|".join(phrases), f"--reject-below={reject_below}",
                          *map(str, files)], check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default=".build/release/formi-server")
    parser.add_argument("--reject-below", type=float, default=-30.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(7)
    results = {"in": [], "out": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clips: dict[str, Path] = {}
        for text in sorted({p for ps in STATES.values() for p in ps} | set(OUT_OF_GRAMMAR)):
            for voice in VOICES:
                for speed in SPEEDS:
                    clips[f"{text}|{voice}|{speed}"] = synthesise(text, voice, speed, folder, rng)
        for state, phrases in STATES.items():
            keys = [k for k in clips if k.split("|")[0] in phrases or k.split("|")[0] in OUT_OF_GRAMMAR]
            for key, r in zip(keys, decode(args.server, phrases, [clips[k] for k in keys], args.reject_below)):
                said = key.split("|")[0]
                r.update(state=state, said=said, voice=key.split("|")[1], speed=int(key.split("|")[2]))
                results["in" if said in phrases else "out"].append(r)

    def share(rows, test) -> str:
        return f"{sum(1 for r in rows if test(r))}/{len(rows)} ({100 * sum(1 for r in rows if test(r)) / max(1, len(rows)):.1f}%)"

    ins, outs = results["in"], results["out"]
    print(f"clips: {len(ins)} in-grammar, {len(outs)} out-of-grammar decodes ({len(VOICES)} voices x {len(SPEEDS)} speeds)")
    print(f"threshold {args.reject_below} per frame:")
    for state in STATES:
        rows = [r for r in ins if r["state"] == state]
        print(f"  {state:11} right transition {share(rows, lambda r: r['accepted'] and r['text'] == r['said'])}, "
              f"wrong {share(rows, lambda r: r['accepted'] and r['text'] != r['said'])}, "
              f"rejected {share(rows, lambda r: not r['accepted'])}")
    print(f"  all         right transition {share(ins, lambda r: r['accepted'] and r['text'] == r['said'])}, "
          f"wrong {share(ins, lambda r: r['accepted'] and r['text'] != r['said'])}, rejected {share(ins, lambda r: not r['accepted'])}")
    print(f"  with no threshold: right {share(ins, lambda r: r['text'] == r['said'])}")
    print(f"  out-of-grammar accepted (a wrong transition) {share(outs, lambda r: r['accepted'])}, "
          f"with no threshold {share(outs, lambda r: r['text'] != '')}")
    print("trade-off (threshold: in-grammar right and accepted / out-of-grammar accepted):")
    for t in [-20, -25, -28, -30, -32, -35, -40, -50]:
        ok = sum(1 for r in ins if r["text"] == r["said"] and r["score_per_frame"] >= t)
        bad = sum(1 for r in outs if r["text"] and r["score_per_frame"] >= t)
        wrong = sum(1 for r in ins if r["text"] and r["text"] != r["said"] and r["score_per_frame"] >= t)
        print(f"  {t:>4}: right {100 * ok / len(ins):5.1f}%  wrong {100 * wrong / len(ins):4.1f}%  out-of-grammar accepted {100 * bad / len(outs):5.1f}%")
    audio = sum(r["audio_seconds"] for r in ins + outs)
    cpu = sum(r["decode_seconds"] for r in ins + outs)
    print(f"decoding: {cpu:.2f} s for {audio:.1f} s of audio = {1000 * cpu / audio:.1f} ms per second of audio "
          f"({audio / cpu:.0f}x real time, one decoder)")
    misses = [f"{r['said']!r}->{r['text']!r} ({r['voice']} {r['speed']}, {r['score_per_frame']:.1f})"
              for r in ins if r["text"] != r["said"]]
    print("misses:", "; ".join(misses) if misses else "none")
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
