#!/usr/bin/env bash
# Checks libformi.so against its promises:
#  1. include/formi.h and the Swift exports agree: the compiler-emitted prototypes of every @c function
#     and the hand-written header are compiled together (any signature drift is a "conflicting types"
#     error), and both declare exactly the same set of functions;
#  2. exactly those functions are exported, and nothing else (no Swift runtime, no FormiCore symbols);
#  3. the library is self-contained: an SONAME, only system libraries needed, no toolchain run path.
# usage: scripts/check-abi.sh path/to/libformi.so
set -euo pipefail
lib=${1:?usage: check-abi.sh libformi.so}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0

# 1. Header drift.
swiftc -typecheck -parse-as-library -module-name formi -I "$root/.build/release/Modules" \
    -I "$root/Sources/CFormi" -I "$root/Sources/CFormiKernels/include" -I "$root/Sources/CSpeexDSP" -I "$root/Sources/CSQLite" -I "$root/Sources/CPostgres" $(pkg-config --cflags-only-I libpq | sed "s/-I/-Xcc -I/g") -emit-clang-header-path "$work/formi-swift.h" "$root"/Sources/formi/*.swift
printf '#include "formi.h"\n#include "formi-swift.h"\n' > "$work/drift.c"
if ! clang -std=c11 -Werror -fsyntax-only -DFORMI_DRIFT_CHECK -I "$root/include" -I "$root/Sources/CFormi" -I "$work" "$work/drift.c"; then
    echo "FAIL: include/formi.h and the Swift exports disagree (see the conflicting types above)"
    fail=1
fi
grep -oE '\bformi_[a-z0-9_]+\(' "$root/include/formi.h" | tr -d '(' | sort -u > "$work/header.txt"
grep -E '^SWIFT_EXTERN' "$work/formi-swift.h" | grep -oE '\bformi_[a-z0-9_]+\(' | tr -d '(' | sort -u > "$work/swift.txt"
if ! diff -u --label include/formi.h --label swift-exports "$work/header.txt" "$work/swift.txt"; then
    echo "FAIL: the functions declared in include/formi.h and those exported from Swift differ"
    fail=1
fi

# 2. Exported symbols: every global defined dynamic symbol, but the version node.
nm -D --defined-only "$lib" | awk '$2 ~ /^[A-Z]$/ && $2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort -u > "$work/exported.txt"
if grep -v '^formi_' "$work/exported.txt"; then
    echo "FAIL: the symbols above are exported but are not formi_*"
    fail=1
fi
if ! diff -u --label include/formi.h --label exported "$work/header.txt" "$work/exported.txt"; then
    echo "FAIL: exported functions differ from the header"
    fail=1
fi

# 3. Self-contained.
soname=$(readelf -d "$lib" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = "libformi.so.0" ] || { echo "FAIL: SONAME is '$soname', not libformi.so.0"; fail=1; }
allowed='^(libc\.so\.6|libm\.so\.6|libstdc\+\+\.so\.6|libgcc_s\.so\.1|ld-linux-[a-z0-9_-]+\.so\.[0-9]|libspeexdsp\.so\.1|libsqlite3\.so\.0|libpq\.so\.5|libpthread\.so\.0|libdl\.so\.2)$'
readelf -d "$lib" | sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p' > "$work/needed.txt"
if grep -vE "$allowed" "$work/needed.txt"; then
    echo "FAIL: libformi.so needs the libraries above, which a host without the Swift toolchain may lack"
    fail=1
fi
if readelf -d "$lib" | grep -E 'R(UN)?PATH' | grep -vE '\[\$ORIGIN\]$'; then
    echo "FAIL: a run path other than \$ORIGIN is set (the toolchain's, which a host does not have)"
    fail=1
fi

[ $fail -eq 0 ] && echo "abi: $(wc -l < "$work/exported.txt") functions, header and exports agree; only formi_* exported; SONAME $soname; needs $(tr '\n' ' ' < "$work/needed.txt")"
exit $fail
