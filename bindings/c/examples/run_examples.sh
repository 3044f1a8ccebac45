#!/usr/bin/env bash
# Builds the C examples (transcode_wav, replay_capture) against a staged install of libformi, with the
# C tests' flags, and checks them under valgrind memcheck: good inputs must give the right output (WAV
# header fields, sample counts and content; event counts per capture), malformed inputs must be refused
# with a message and a non-zero exit, and nothing may leak or touch bad memory on any path.
#
#   bindings/c/examples/run_examples.sh PREFIX [WORKDIR]
#
#   PREFIX   where `make install PREFIX=...` put libformi (lib/, include/, lib/pkgconfig/formi.pc)
#   WORKDIR  scratch space for binaries and test files (default: build/c/examples)
#   CC, VALGRIND  override the compiler and the valgrind command (VALGRIND= runs without valgrind)
#
# One line per check ("ok" or "FAIL"), a total at the end; exits non-zero if any check failed.
# Test files are generated with python3's standard library only (wave, struct, math).
set -u
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 PREFIX [WORKDIR]" >&2
    exit 2
fi
PREFIX=$(cd "$1" && pwd) || exit 2
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
WORK=${2:-$ROOT/build/c/examples}
CC=${CC:-cc}
CFLAGS="-std=c11 -O2 -g -Wall -Wextra -Werror -pthread"
VALGRIND=${VALGRIND-valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --suppressions=$ROOT/bindings/c/tests/valgrind.supp}
export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
export LD_LIBRARY_PATH=$PREFIX/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
SESSIONS=$ROOT/tests/sessions

mkdir -p "$WORK/wav" "$WORK/captures" || exit 1
passed=0
failed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }
bad() { echo "FAIL $*"; failed=$((failed + 1)); }
# Shows a failed run's output, indented.
show() { sed 's/^/     | /' "$@" | head -40; }

# ---- build ---------------------------------------------------------------------------------------------

for prog in transcode_wav replay_capture; do
    # shellcheck disable=SC2046 # pkg-config's words are meant to split
    if $CC $CFLAGS "$HERE/$prog.c" -o "$WORK/$prog" $(pkg-config --cflags --libs formi) 2> "$WORK/$prog.build.log"; then
        ok "build $prog ($CC $CFLAGS ... \$(pkg-config --cflags --libs formi))"
    else
        bad "build $prog"
        show "$WORK/$prog.build.log"
        echo "run_examples: $passed passed, $failed failed"
        exit 1
    fi
done

# Runs a program under valgrind: stdout to $WORK/out, stderr to $WORK/err, status in $rc.
run() {
    $VALGRIND "$@" > "$WORK/out" 2> "$WORK/err"
    rc=$?
}

# ---- test files ----------------------------------------------------------------------------------------

cat > "$WORK/wavtool.py" <<'PY'
"""Test WAV files for transcode_wav, and a strict checker of what it writes. Standard library only."""
import math, os, struct, sys, wave

BIAS = 0x84
TAGS = {1: "pcm", 3: "float", 6: "alaw", 7: "ulaw"}


def lin2ulaw(s):
    sign = 0x7F if s < 0 else 0xFF
    s = min(-s if s < 0 else s, 32635) + BIAS
    exp = 7
    while exp > 0 and not s & (0x4000 >> (7 - exp)):
        exp -= 1
    return ((exp << 4) | ((s >> (exp + 3)) & 0x0F)) ^ sign


def ulaw2lin(u):
    u = ~u & 0xFF
    t = (((u & 0x0F) << 3) + BIAS) << ((u >> 4) & 7)
    return BIAS - t if u & 0x80 else t - BIAS


def alaw2lin(a):
    a ^= 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = t + 8 if seg == 0 else (t + 0x108) << max(seg - 1, 0)
    return t if a & 0x80 else -t


def tone(rate, n, amp, f=440.0):
    return [int(round(amp * math.sin(2 * math.pi * f * i / rate))) for i in range(n)]


def chunk(cid, body, pad=True):
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if pad and len(body) & 1 else b"")


def riff(*chunks):
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def fmt(tag, ch, rate, bits, extra=None):
    block = ch * bits // 8
    f = struct.pack("<HHIIHH", tag, ch, rate, rate * block, block, bits)
    return chunk(b"fmt ", f if extra is None else f + extra)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def gen(d):
    j = lambda name: os.path.join(d, name)
    s16 = lambda xs: struct.pack("<%dh" % len(xs), *xs)
    mono = tone(16000, 32000, 8000)  # 2 s of 440 Hz at 16 kHz
    with wave.open(j("tone16k.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000), w.writeframes(s16(mono))
    left, right = tone(16000, 16000, 8000), tone(16000, 16000, 4000)
    with wave.open(j("stereo16k.wav"), "wb") as w:
        w.setnchannels(2), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(s16([v for pair in zip(left, right) for v in pair]))
    # mu-law by hand (wave writes PCM only): the 18-byte fmt, fact, an odd LIST chunk (padded), 8001
    # samples (odd: padded), then a chunk after the data.
    codes = bytes(lin2ulaw(v) for v in tone(8000, 8001, 8000))
    listing = chunk(b"LIST", b"INFOISFT\x05\0\0\0ab\0")
    write(j("ulaw8k.wav"), riff(fmt(7, 1, 8000, 8, b"\0\0"), chunk(b"fact", struct.pack("<I", 8001)), listing,
                                chunk(b"data", codes), chunk(b"cue ", struct.pack("<I", 0))))
    # The same with the data chunk last and its pad byte missing, as some writers leave it.
    write(j("ulaw8k-nopad.wav"), riff(fmt(7, 1, 8000, 8, b"\0\0"), chunk(b"fact", struct.pack("<I", 8001)),
                                      chunk(b"data", codes, pad=False)))
    # Every mu-law code once, for an exact decode check.
    write(j("ulaw-all.wav"), riff(fmt(7, 1, 8000, 8, b"\0\0"), chunk(b"fact", struct.pack("<I", 256)), chunk(b"data", bytes(range(256)))))
    # float32 stereo at 48 kHz, samples k/32768 (exact in float).
    ints = [v for pair in zip(tone(48000, 4800, 12000), tone(48000, 4800, 3000, 1000.0)) for v in pair] + [-32768, 32767]
    floats = struct.pack("<%df" % len(ints), *[v / 32768.0 for v in ints])
    write(j("float48k.wav"), riff(fmt(3, 2, 48000, 32, b"\0\0"), chunk(b"fact", struct.pack("<I", len(ints) // 2)), chunk(b"data", floats)))
    with open(j("float48k.expect"), "wb") as f:
        f.write(s16(ints))
    # WAVE_FORMAT_EXTENSIBLE holding 16-bit PCM, with a LIST chunk before fmt.
    guid = struct.pack("<H", 1) + bytes([0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71])
    write(j("ext16k.wav"), riff(listing, fmt(0xFFFE, 1, 16000, 16, struct.pack("<HHI", 22, 16, 4) + guid), chunk(b"data", s16(mono))))

    # Malformed and unsupported files, from the good one.
    good = open(j("tone16k.wav"), "rb").read()  # 44-byte canonical header, data at 36
    write(j("bad-truncated-header.wav"), good[:30])
    write(j("bad-truncated-data.wav"), good[:1000])
    b = bytearray(good); struct.pack_into("<I", b, 40, 64000 + 100); write(j("bad-data-too-long.wav"), b)
    b = bytearray(good); struct.pack_into("<H", b, 20, 0x55); write(j("bad-format-tag.wav"), b)
    write(j("bad-not-riff.wav"), b"ID3\x04\0\0\0\0\0\0 this is an mp3, not a wav")
    write(j("bad-empty.wav"), b"")
    write(j("bad-no-data.wav"), riff(fmt(1, 1, 16000, 16), chunk(b"LIST", b"INFO")))
    write(j("bad-short-fmt.wav"), riff(chunk(b"fmt ", b"\1\0\1\0\x80\x3e\0\0\0\x7d\0\0\2\0"), chunk(b"data", b"\0\0")))
    write(j("bad-partial-frame.wav"), riff(fmt(1, 1, 16000, 16), chunk(b"data", b"\0\0\0")))
    b = bytearray(good); struct.pack_into("<H", b, 32, 3); write(j("bad-block-align.wav"), b)
    write(j("bad-chunk-id.wav"), riff(fmt(1, 1, 16000, 16), b"\x00\x01\x02\x03" + struct.pack("<I", 2) + b"\0\0", chunk(b"data", b"\0\0")))
    write(j("bad-24bit.wav"), riff(fmt(1, 1, 16000, 24), chunk(b"data", b"\0" * 30)))
    write(j("bad-rate.wav"), riff(fmt(1, 1, 7000, 16), chunk(b"data", s16(tone(7000, 700, 8000)))))


def samples(enc, data, bits):
    if enc == "ulaw":
        return [ulaw2lin(c) for c in data]
    if enc == "alaw":
        return [alaw2lin(c) for c in data]
    if enc == "float":
        return [v * 32768.0 for v in struct.unpack("<%df" % (len(data) // 4), data)]
    if bits == 8:
        return [(c - 128) << 8 for c in data]
    return list(struct.unpack("<%dh" % (len(data) // 2), data))


def read_wav(path):
    """Strictly parses a WAV as transcode_wav must write it; returns (info, data) or raises."""
    raw = open(path, "rb").read()
    assert raw[:4] == b"RIFF" and raw[8:12] == b"WAVE", "no RIFF/WAVE header"
    assert struct.unpack_from("<I", raw, 4)[0] == len(raw) - 8, "RIFF size %d, file %d bytes" % (struct.unpack_from("<I", raw, 4)[0], len(raw))
    pos, chunks = 12, {}
    while pos < len(raw):
        cid, size = raw[pos:pos + 4], struct.unpack_from("<I", raw, pos + 4)[0]
        assert pos + 8 + size <= len(raw), "chunk %r overruns the file" % cid
        assert cid not in chunks, "two %r chunks" % cid
        chunks[cid] = raw[pos + 8:pos + 8 + size]
        pos += 8 + size + (size & 1)
    assert pos == len(raw), "no pad byte after an odd chunk, or trailing bytes"
    f = chunks[b"fmt "]
    tag, ch, rate, byte_rate, block, bits = struct.unpack_from("<HHIIHH", f)
    assert tag in TAGS, "format tag %d" % tag
    if tag == 1:
        assert len(f) == 16, "PCM fmt chunk of %d bytes, not 16" % len(f)
        assert b"fact" not in chunks, "fact chunk in a PCM file"
    else:
        assert len(f) == 18 and f[16:18] == b"\0\0", "non-PCM fmt chunk must be 18 bytes with cbSize 0"
        assert b"fact" in chunks, "no fact chunk for non-PCM format %d" % tag
    assert block == ch * bits // 8 and byte_rate == rate * block, "block align or byte rate wrong"
    data = chunks[b"data"]
    assert len(data) % block == 0, "data not whole frames"
    frames = len(data) // block
    if b"fact" in chunks:
        assert struct.unpack("<I", chunks[b"fact"])[0] == frames, "fact %d != %d frames" % (struct.unpack("<I", chunks[b"fact"])[0], frames)
    return dict(enc=TAGS[tag], tag=tag, ch=ch, rate=rate, bits=bits, frames=frames, odd=len(data) & 1), data


def fit(xs, rate, f):
    """Amplitude and SNR (dB) of the best sine at f over the middle of xs."""
    n0, n1 = len(xs) // 5, len(xs) * 4 // 5
    w = 2 * math.pi * f / rate
    ss = cc = sc = ys = yc = 0.0
    for n in range(n0, n1):
        s, c = math.sin(w * n), math.cos(w * n)
        ss, cc, sc, ys, yc = ss + s * s, cc + c * c, sc + s * c, ys + xs[n] * s, yc + xs[n] * c
    det = ss * cc - sc * sc
    a, b = (ys * cc - yc * sc) / det, (yc * ss - ys * sc) / det
    sig = noise = 0.0
    for n in range(n0, n1):
        y = a * math.sin(w * n) + b * math.cos(w * n)
        sig, noise = sig + y * y, noise + (xs[n] - y) ** 2
    return math.hypot(a, b), 10 * math.log10(sig / max(noise, 1e-9))


def check(args):
    path, opts = args[0], dict(a.split("=", 1) for a in args[1:])
    info, data = read_wav(path)
    for k in ("enc", "ch", "rate", "bits", "frames"):
        if k in opts:
            assert str(info[k]) == opts[k], "%s is %s, expected %s" % (k, info[k], opts[k])
    xs = samples(info["enc"], data, info["bits"])
    note = "%s %d Hz %d ch %d-bit, %d frames%s" % (info["enc"], info["rate"], info["ch"], info["bits"], info["frames"],
                                                ", odd data padded" if info["odd"] else "")
    if "tone" in opts:  # every channel a sine of this amplitude: within 5 %, SNR above the bound
        for c in range(info["ch"]):
            amp, snr = fit(xs[c::info["ch"]], info["rate"], 440.0)
            want = float(opts["tone"].split(",")[c])
            assert abs(amp - want) < 0.05 * want and snr >= float(opts.get("snr", 30)), \
                "channel %d: 440 Hz at %.0f (expected %.0f), SNR %.1f dB" % (c, amp, want, snr)
            note += ", ch%d 440 Hz amp %.0f SNR %.1f dB" % (c, amp, snr)
    if "same-data" in opts:  # byte for byte the data of another WAV
        other = read_wav(opts["same-data"])[1] if opts["same-data"].endswith(".wav") else open(opts["same-data"], "rb").read()
        assert data == other, "data differs from %s" % opts["same-data"]
        note += ", data identical to %s" % os.path.basename(opts["same-data"])
    if "raw-data-of" in opts:  # the data chunk of an input we wrote (tolerating its quirks)
        raw = open(opts["raw-data-of"], "rb").read()
        i = raw.index(b"data")
        n = struct.unpack_from("<I", raw, i + 4)[0]
        assert data == raw[i + 8:i + 8 + n], "data differs from %s" % opts["raw-data-of"]
        note += ", data identical to the input's"
    if "ulaw-decode-of" in opts:  # the exact G.711 expansion of every code of a mu-law input
        raw = open(opts["ulaw-decode-of"], "rb").read()
        i = raw.index(b"data")
        codes = raw[i + 8:i + 8 + struct.unpack_from("<I", raw, i + 4)[0]]
        assert xs == [ulaw2lin(c) for c in codes], "not the G.711 expansion of the input"
        note += ", exact G.711 mu-law expansion"
    if "mono-of" in opts:  # the mean of a stereo input's channels, rounded half away from zero
        st, sdata = read_wav(opts["mono-of"])
        pcm = samples(st["enc"], sdata, st["bits"])
        mean = [(1 if l + r >= 0 else -1) * ((abs(l + r) + 1) // 2) for l, r in zip(pcm[0::2], pcm[1::2])]
        assert xs == mean, "not the rounded mean of %s's channels" % opts["mono-of"]
        note += ", exact mean of the stereo channels"
    print(note)


if __name__ == "__main__":
    try:
        {"gen": lambda a: gen(a[0]), "check": check}[sys.argv[1]](sys.argv[2:])
    except (AssertionError, KeyError, struct.error, OSError) as e:
        print("%s: %s" % (type(e).__name__, e))
        sys.exit(1)
PY
if python3 "$WORK/wavtool.py" gen "$WORK/wav" > "$WORK/gen.log" 2>&1; then
    ok "generate test WAVs in $WORK/wav ($(ls "$WORK/wav" | wc -l) files)"
else
    bad "generate test WAVs"
    show "$WORK/gen.log"
fi
W=$WORK/wav

# ---- transcode_wav: good inputs ------------------------------------------------------------------------

# transcode NAME IN OUT ENC RATE CH IN_FRAMES CHECK_ARGS...: runs it, then checks the output's header
# (frames = IN_FRAMES * RATE / in rate + the latency the program printed) and content.
transcode() {
    local name=$1 in=$2 out=$3 enc=$4 rate=$5 ch=$6 in_rate=$7 in_frames=$8
    shift 8
    rm -f "$out"
    run "$WORK/transcode_wav" "$in" "$out" "$enc" "$rate" $ch
    if [ "$rc" -ne 0 ]; then
        bad "transcode_wav $name: exit $rc"
        show "$WORK/out" "$WORK/err"
        return
    fi
    local latency frames note
    latency=$(sed -n 's/.*latency \([0-9]*\) samples.*/\1/p' "$WORK/out")
    frames=$((in_frames * rate / in_rate + latency))
    if note=$(python3 "$WORK/wavtool.py" check "$out" rate="$rate" frames="$frames" "$@" 2>&1); then
        ok "transcode_wav $name: $note (latency $latency)"
    else
        bad "transcode_wav $name: $note"
        show "$WORK/out" "$WORK/err"
    fi
}

transcode "PCM16 16 kHz mono -> mu-law 8 kHz" "$W/tone16k.wav" "$W/out-ulaw8k.wav" ulaw 8000 "" 16000 32000 enc=ulaw ch=1 tone=8000
transcode "mu-law 8 kHz -> PCM16 16 kHz" "$W/ulaw8k.wav" "$W/out-pcm16k.wav" pcm16 16000 "" 8000 8001 enc=pcm ch=1 bits=16 tone=8000
transcode "mu-law 8 kHz (all 256 codes) -> PCM16 8 kHz" "$W/ulaw-all.wav" "$W/out-ulaw-all.wav" pcm16 8000 "" 8000 256 enc=pcm ulaw-decode-of="$W/ulaw-all.wav"
transcode "mu-law, odd length, no final pad -> mu-law (pass-through)" "$W/ulaw8k-nopad.wav" "$W/out-ulaw-same.wav" ulaw 8000 "" 8000 8001 enc=ulaw raw-data-of="$W/ulaw8k-nopad.wav"
transcode "PCM16 stereo -> mono" "$W/stereo16k.wav" "$W/out-mono.wav" pcm16 16000 1 16000 16000 enc=pcm ch=1 mono-of="$W/stereo16k.wav"
transcode "PCM16 16 kHz stereo -> A-law 8 kHz mono" "$W/stereo16k.wav" "$W/out-alaw.wav" alaw 8000 1 16000 16000 enc=alaw ch=1 tone=6000
transcode "PCM16 16 kHz mono -> float32 48 kHz stereo" "$W/tone16k.wav" "$W/out-f32.wav" f32 48000 2 16000 32000 enc=float ch=2 bits=32 tone=8000,8000 snr=60
transcode "float32 48 kHz stereo -> PCM16 48 kHz stereo" "$W/float48k.wav" "$W/out-from-f32.wav" pcm16 48000 "" 48000 4801 enc=pcm ch=2 same-data="$W/float48k.expect"
transcode "WAVE_FORMAT_EXTENSIBLE PCM16 -> mu-law 8 kHz" "$W/ext16k.wav" "$W/out-ext.wav" ulaw 8000 "" 16000 32000 enc=ulaw tone=8000
transcode "PCM16 16 kHz -> PCM16 16 kHz (pass-through)" "$W/tone16k.wav" "$W/out-same.wav" pcm16 16000 "" 16000 32000 same-data="$W/tone16k.wav"
transcode "PCM16 16 kHz -> PCM8 8 kHz" "$W/tone16k.wav" "$W/out-pcm8.wav" u8 8000 1 16000 32000 enc=pcm bits=8 tone=8000 snr=25
run "$WORK/transcode_wav" "$W/ulaw8k.wav" "$W/out-skip.wav" alaw 8000
if [ "$rc" -eq 0 ] && grep -qF 'skipped chunks: LIST (15 bytes), cue  (4 bytes)' "$WORK/out"; then
    ok "transcode_wav skips unknown chunks: $(grep -F 'skipped chunks' "$WORK/out" | sed 's/^ *//') (an odd LIST before the data, cue after odd-sized data)"
else
    bad "transcode_wav does not report the skipped LIST and cue chunks: exit $rc"
    show "$WORK/out" "$WORK/err"
fi

# ---- transcode_wav: malformed inputs and bad arguments -------------------------------------------------

# refuse NAME STATUS PATTERN ARGS...: must exit with STATUS, say PATTERN on stderr, leave no output.
refuse() {
    local name=$1 want=$2 pattern=$3
    shift 3
    rm -f "$W/out-refused.wav"
    run "$WORK/transcode_wav" "$@"
    local first
    first=$(head -1 "$WORK/err")
    if [ "$rc" -eq "$want" ] && grep -qF -- "$pattern" "$WORK/err" && [ ! -e "$W/out-refused.wav" ]; then
        ok "transcode_wav refuses $name: exit $rc: $first"
    else
        bad "transcode_wav $name: exit $rc (expected $want), stderr should say \"$pattern\"$([ -e "$W/out-refused.wav" ] && echo ', output left behind')"
        show "$WORK/out" "$WORK/err"
    fi
}

refuse "a truncated header" 1 "truncated" "$W/bad-truncated-header.wav" "$W/out-refused.wav" ulaw 8000
refuse "a file cut in its data" 1 "truncated: the RIFF header says the file has 64044 bytes, it has 1000" "$W/bad-truncated-data.wav" "$W/out-refused.wav" ulaw 8000
refuse "a data chunk longer than the file" 1 'chunk "data" at offset 36 declares 64100 bytes, only 64000 remain' "$W/bad-data-too-long.wav" "$W/out-refused.wav" ulaw 8000
refuse "an unknown format tag" 1 "format tag 0x0055 (MPEG layer 3)" "$W/bad-format-tag.wav" "$W/out-refused.wav" ulaw 8000
refuse "a file that is not RIFF" 1 "not a WAV file" "$W/bad-not-riff.wav" "$W/out-refused.wav" ulaw 8000
refuse "an empty file" 1 "too short for a RIFF/WAVE header" "$W/bad-empty.wav" "$W/out-refused.wav" ulaw 8000
refuse "a file without data" 1 "no data chunk" "$W/bad-no-data.wav" "$W/out-refused.wav" ulaw 8000
refuse "a short fmt chunk" 1 "the fmt chunk has 14 bytes" "$W/bad-short-fmt.wav" "$W/out-refused.wav" ulaw 8000
refuse "data of partial frames" 1 "not a whole number of 2-byte frames" "$W/bad-partial-frame.wav" "$W/out-refused.wav" ulaw 8000
refuse "a wrong block align" 1 "block align 3 does not match" "$W/bad-block-align.wav" "$W/out-refused.wav" ulaw 8000
refuse "a chunk id that is not text" 1 "is not text" "$W/bad-chunk-id.wav" "$W/out-refused.wav" ulaw 8000
refuse "24-bit PCM" 1 "with 24 bits per sample" "$W/bad-24bit.wav" "$W/out-refused.wav" ulaw 8000
refuse "a rate libformi lacks (its own message)" 1 "formi_transcoder_new: unsupported format, rate, channel count or option (-8): unsupported sample rate 7000" "$W/bad-rate.wav" "$W/out-refused.wav" ulaw 8000
refuse "3 output channels (its own message)" 1 "unsupported channel count 3" "$W/tone16k.wav" "$W/out-refused.wav" ulaw 8000 3
refuse "a missing input" 1 "No such file or directory" "$W/missing.wav" "$W/out-refused.wav" ulaw 8000
refuse "big-endian PCM for a WAV" 2 '(WAV holds little-endian samples only)' "$W/tone16k.wav" "$W/out-refused.wav" pcm16be 8000
refuse "a bad rate argument" 2 'bad rate "8k"' "$W/tone16k.wav" "$W/out-refused.wav" ulaw 8k
refuse "a missing argument" 2 "usage:" "$W/tone16k.wav" "$W/out-refused.wav" ulaw

# ---- replay_capture: the recorded sessions -------------------------------------------------------------

# Expected event counts per capture, in the order CONNECTED START MEDIA DTMF MARK CLEAR STOP ERROR IGNORED.
# Where a session (one call, one stream) differs from the per-message mapping the captures record:
#  exotel       the capture holds a second call after the first one's stop: its start and media are
#               rejected (ERROR) - one session is one call
#  plivo        the same: the second call's start is a duplicate (ERROR) and its media (chunk 1 again)
#               is a duplicate and dropped; STOP comes from the end of the capture
#  telnyx       media arrives chunk 2, 1, 3 from the first frame on; the reorder window settles its
#               start, so chunk 1 is still delivered (reordered_frames 1)
#  every call whose audio is resampled (all but vonage's 16 kHz): one more MEDIA before the STOP, the
#               resampler's tail (the caller's last 5 ms)
#  asterisk     MEDIA_XOFF / MEDIA_XON are flow control, taken by the session: no events
#  audiosocket  a TCP byte stream: the deliberately truncated frame of line 5 (10 bytes declared, 5 sent)
#               takes the next 5 bytes (lines 6-7: the error and hangup frames) as its payload, so a short
#               MEDIA follows and the STOP comes from the end of the capture
declare -A EXPECT=(
    [twilio]="1 1 4 1 1 0 1 4 0"
    [exotel]="1 1 3 1 1 0 1 3 0"
    [plivo]="0 1 4 1 1 1 1 1 0"
    [telnyx]="1 1 4 1 1 0 1 0 0"
    [vonage]="0 1 2 1 1 1 1 1 0"
    [jambonz]="0 1 2 1 2 0 1 1 0"
    [asterisk]="0 1 1 1 1 0 1 0 0"
    [asterisk-text]="0 1 2 1 1 0 1 1 0"
    [audiosocket]="0 1 4 1 0 0 1 0 0"
)
KINDS=(CONNECTED START MEDIA DTMF MARK CLEAR STOP ERROR IGNORED)

# The events line for counts "a b c ...", as replay_capture prints it.
events_line() {
    local i=0 line="events:"
    for n in $1; do
        line+=" ${KINDS[$i]}=$n"
        i=$((i + 1))
    done
    echo "$line"
}

# Checks the stats JSON against the events printed: parseable, stopped, one message per frame, errors
# equal to ERROR events, caller audio equal to the MEDIA bytes (16 kHz 16-bit: 32 bytes per ms).
check_stats() {
    python3 - "$WORK/out" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
stats = json.loads(text.split("\nstats: ", 1)[1])
frames = int(re.search(r"\((\d+) frames from", text).group(1))
errors = len(re.findall(r"^(?:line \d+|end): ERROR", text, re.M))
media = sum(int(b) for b in re.findall(r"^(?:line \d+|end): MEDIA\b.*? bytes=(\d+)", text, re.M))
problems = []
if stats["state"] != "stopped": problems.append("state %s" % stats["state"])
# (AudioSocket counts the frames of its byte stream, not the reads that carried them.)
if stats["provider"] != "audiosocket" and stats["messages_in"] != frames: problems.append("messages_in %d, %d frames fed" % (stats["messages_in"], frames))
if stats["errors"] != errors: problems.append("errors %d, %d ERROR events" % (stats["errors"], errors))
# The resampler's tail (at most 5 ms) is MEDIA the caller's audio does not count twice.
if not 0 <= media // 32 - stats["caller_audio_ms"] <= 5: problems.append("caller_audio_ms %d, %d bytes of MEDIA" % (stats["caller_audio_ms"], media))
if problems: print("; ".join(problems)); sys.exit(1)
print("stats: %d messages, %d ms of caller audio, %d errors, %d late, %d lost" % (stats["messages_in"], stats["caller_audio_ms"],
      stats["errors"], stats["late_frames"], stats["lost_frames"]))
PY
}

for provider in twilio exotel plivo telnyx vonage jambonz asterisk asterisk-text audiosocket; do
    run "$WORK/replay_capture" "$provider" "$SESSIONS/$provider.jsonl"
    want=$(events_line "${EXPECT[$provider]}")
    got=$(grep '^events:' "$WORK/out" | sed 's/ (.*//')
    if [ "$rc" -eq 0 ] && [ "$got" = "$want" ] && note=$(check_stats); then
        ok "replay_capture $provider: ${got#events: }; $note"
    else
        bad "replay_capture $provider: exit $rc; got \"$got\", expected \"$want\" ${note:-}"
        show "$WORK/out" "$WORK/err"
    fi
    note=
done

# Lines that exercise the JSON reader: members before "text", nested values, every escape, surrogate
# pairs, "\/" inside base64, CRLF line ends and a blank line.
C=$WORK/captures
printf '%s\r\n' \
    '{"expect":{"a":[1,-2.5e3,0.25,true,false,null,{}],"b":"q\"\\\/\b\f\n\r\t\u00e9"}, "text" : "{\"event\":\"connected\",\"protocol\":\"Call\"}"}' \
    '' \
    '{"text":"{\"event\":\"start\",\"streamSid\":\"MZ1\",\"start\":{\"callSid\":\"CA1\",\"customParameters\":{\"name\":\"Zo\u00eb \ud83d\ude00 \\u00e9\"},\"mediaFormat\":{\"encoding\":\"audio/x-mulaw\",\"sampleRate\":8000,\"channels\":1}}}"}' \
    > "$C/twilio-escapes.jsonl"
run "$WORK/replay_capture" twilio "$C/twilio-escapes.jsonl"
if [ "$rc" -eq 0 ] && grep -q '^events: CONNECTED=1 START=1 ' "$WORK/out" &&
    grep -qF 'custom_parameters="{\"name\":\"Zo\xc3\xab \xf0\x9f\x98\x80 \\u00e9\"}"' "$WORK/out"; then
    ok "replay_capture JSON escapes: \\u00eb and the pair \\ud83d\\ude00 arrive as UTF-8, \\\\ stays a backslash, CRLF and blank lines pass"
else
    bad "replay_capture JSON escapes"
    show "$WORK/out" "$WORK/err"
fi
# The Vonage capture with every "/" of its base64 written "\/", as some JSON writers do.
sed 's#/#\\/#g' "$SESSIONS/vonage.jsonl" > "$C/vonage-escaped-slashes.jsonl"
run "$WORK/replay_capture" vonage "$C/vonage-escaped-slashes.jsonl"
want=$(events_line "${EXPECT[vonage]}")
if [ "$rc" -eq 0 ] && [ "$(grep '^events:' "$WORK/out" | sed 's/ (.*//')" = "$want" ] && [ "$(grep -c ' MEDIA bytes=640 ' "$WORK/out")" -eq 2 ]; then
    ok "replay_capture base64 with \\/ escapes: the same events as the plain capture"
else
    bad "replay_capture base64 with \\/ escapes"
    show "$WORK/out" "$WORK/err"
fi

# Invalid lines: exit 1, with the file, line (and column) and what is wrong.
# invalid NAME LINE PATTERN CONTENT: CONTENT (printf format) is written after one good line.
invalid() {
    local name=$1 line=$2 pattern=$3 content=$4
    { echo '{"text":"{\"event\":\"connected\"}"}'; printf "$content"; } > "$C/invalid.jsonl"
    run "$WORK/replay_capture" twilio "$C/invalid.jsonl"
    if [ "$rc" -eq 1 ] && grep -qF "invalid.jsonl:$line:" "$WORK/err" && grep -qF -- "$pattern" "$WORK/err"; then
        ok "replay_capture refuses $name: $(head -1 "$WORK/err" | sed "s#$C/##")"
    else
        bad "replay_capture $name: exit $rc, expected 1 and \"invalid.jsonl:$line: ... $pattern\""
        show "$WORK/out" "$WORK/err"
    fi
}

invalid "a line that is not JSON" 2 "a line must be a JSON object" 'event: media\n'
invalid "an unterminated string" 2 "unterminated string" '{"text":"abc'
invalid "a lone high surrogate" 2 "high surrogate without its low surrogate" '{"text":"\\ud800x"}\n'
invalid "a lone low surrogate" 2 "lone low surrogate" '{"text":"\\udc00"}\n'
invalid "a bad \\u escape" 2 "bad hex digit" '{"text":"\\u00g0"}\n'
invalid "an unknown escape" 2 "invalid escape" '{"text":"\\x41"}\n'
invalid "invalid UTF-8" 2 "invalid UTF-8" '{"text":"\xc3\x28"}\n'
invalid "an unescaped control character" 2 "control character" '{"text":"a\tb"}\n'
invalid "neither text nor binary" 2 'neither "text" nor "binary"' '{"expect":{"event":"media"}}\n'
invalid "both text and binary" 2 'both "text" and "binary"' '{"text":"x","binary":"AAAA"}\n'
invalid "a text that is not a string" 2 '"text" must be a string' '{"text":{"event":"media"}}\n'
invalid "bad base64" 2 '"binary" is not valid base64: invalid base64' '{"binary":"AAA"}\n'
invalid "text after the object" 2 "text after the object" '{"text":"x"} {}\n'
invalid "a number with a leading zero" 2 "expected ',' or '}'" '{"n":01,"text":"x"}\n'
invalid "a bad literal" 2 "invalid literal" '{"n":nul,"text":"x"}\n'
invalid "nesting past 64 levels" 2 "nested too deeply" "{\"x\":$(printf '[%.0s' {1..100})$(printf ']%.0s' {1..100}),\"text\":\"x\"}\n"
invalid "a missing colon" 3 "expected ':'" '\n{"text" "x"}\n'
run "$WORK/replay_capture" nosuch "$SESSIONS/twilio.jsonl"
if [ "$rc" -eq 1 ] && grep -qF 'no built-in provider "nosuch" (known: asterisk, asterisk-text, audiosocket, exotel, jambonz, plivo, telnyx, twilio, vonage)' "$WORK/err"; then
    ok "replay_capture refuses an unknown provider: $(head -1 "$WORK/err")"
else
    bad "replay_capture unknown provider: exit $rc"
    show "$WORK/err"
fi

echo "run_examples: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
