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
