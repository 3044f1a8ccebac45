#!/usr/bin/env bash
# The resampler's C ABI overhead as instructions (valgrind --tool=callgrind: exact and repeatable, unlike
# time on a shared machine): libformi against the same speexdsp calls made directly, 2 s of audio fed as
# 20 ms frames. Each count has the cost of making the test signal subtracted (a run that only makes it).
# usage: bench-overhead.sh path/to/bench-resampler
set -euo pipefail
bench=${1:?usage: bench-overhead.sh BENCH_BINARY}
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bench" --one "$@" 2>&1 | sed -n 's/.*refs: *//p' | tr -d ,; }
printf 'resampler overhead in instructions (callgrind), 2 s mono fed as 20 ms frames\n'
printf '  %-14s  Q   %12s  %12s  %9s\n' rates libformi speexdsp overhead
for pair in "8000 16000" "16000 8000" "8000 24000" "48000 16000"; do
    for q in 3 5 8; do
        set -- $pair
        base=$(count none "$q" "$1" "$2")
        f=$(( $(count formi "$q" "$1" "$2") - base ))
        s=$(( $(count speex "$q" "$1" "$2") - base ))
        printf '  %5d -> %5d  Q%-2d %12d  %12d  %+8.2f%%\n' "$1" "$2" "$q" "$f" "$s" "$(awk "BEGIN { print ($f / $s - 1) * 100 }")"
    done
done

# libformi's own FIR (quality -1, the default) against raw speexdsp quality 5, per 20 ms frame: the
# difference between 12 s and 2 s of audio (500 frames), each less the signal alone, so that neither
# the library's start-up nor the signal counts. Issue 19's bar: at most 1/8 of speexdsp for 8k <-> 16k,
# 1/4 for the other pairs listed.
printf '\nown FIR against speexdsp quality 5: instructions per 20 ms frame (callgrind), mono\n'
printf '  %-14s  %9s  %9s  %7s\n' rates "own FIR" "speex Q5" ratio
for pair in "8000 16000" "16000 8000" "8000 24000" "24000 8000" "16000 24000" "24000 16000" "8000 48000" "48000 8000" "16000 48000" "48000 16000"; do
    set -- $pair
    base=$(( $(count none 5 "$1" "$2" 12) - $(count none 5 "$1" "$2" 2) ))
    f=$(( ($(count formi -1 "$1" "$2" 12) - $(count formi -1 "$1" "$2" 2) - base) / 500 ))
    s=$(( ($(count speex 5 "$1" "$2" 12) - $(count speex 5 "$1" "$2" 2) - base) / 500 ))
    printf '  %5d -> %5d  %9d  %9d  %6.2f\n' "$1" "$2" "$f" "$s" "$(awk "BEGIN { print $f / $s }")"
done
