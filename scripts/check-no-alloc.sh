#!/usr/bin/env bash
# No allocation per call: the allocation count of a program under valgrind must not grow with the
# number of calls it makes. usage: check-no-alloc.sh PROGRAM (which takes the call count as argv[1])
set -euo pipefail
program=${1:?usage: check-no-alloc.sh PROGRAM}
allocs() { valgrind "$program" "$1" 2>&1 >/dev/null | sed -n 's/.*total heap usage: \([0-9,]*\) allocs.*/\1/p' | tr -d ,; }
once=$(allocs 1)
many=$(allocs 1000)
if [ -z "$once" ] || [ "$once" != "$many" ]; then
    echo "FAIL: $(basename "$program") allocates per call: $once allocations for 1 round, $many for 1000"
    exit 1
fi
echo "$(basename "$program"): $once allocations for 1 round of calls and for 1000 (none per call)"
