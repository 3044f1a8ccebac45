#!/usr/bin/env bash
# Installs the wheel of build/wheel/ into a fresh venv and runs the package's tests from outside the
# repository, with no FORMI_LIBRARY and no build tree in reach: the bundled library must be the one
# loaded, and it may need only what the manylinux policy allows from the system.
# usage: scripts/test-wheel.sh [python]
set -euo pipefail
python=${1:-python3}
root=$(cd "$(dirname "$0")/.." && pwd)
wheel=$(ls "$root"/build/wheel/formi-*.whl)
work=$(mktemp -d /tmp/formi-wheel.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel" pytest websockets numpy
cp -r "$root/bindings/python/tests" "$root/bindings/python/examples" "$work/"
cd "$work"
unset FORMI_LIBRARY PKG_CONFIG_PATH LD_LIBRARY_PATH
where=$("$work/venv/bin/python" -c 'import formi; p, how = formi.library_path(); print(how, p)')
echo "loaded: $where"
case "$where" in bundled\ "$work"/venv/*) ;; *) echo "FAIL: the wheel's own library was not the one loaded"; exit 1 ;; esac
lib=${where#bundled }
# Everything it needs: the vendored libraries (formi.libs), or the system's libc, libm, libstdc++, libgcc_s
# (and glibc's libresolv, which the vendored libpq's Kerberos needs; the manylinux policy allows it).
bad=$(ldd "$lib" | awk '{print $1, $3}' | grep -vE '^(linux-vdso\.so|/lib64/ld-linux|ld-linux)|^(libc|libm|libstdc\+\+|libgcc_s|libresolv)\.so\.[0-9]+ |formi\.libs/' || true)
if [ -n "$bad" ]; then echo "FAIL: the bundled library needs from the system: $bad"; exit 1; fi
echo "ldd: $(ldd "$lib" | awk '{print $1}' | tr '\n' ' ')"
"$work/venv/bin/python" -m pytest -q -p no:cacheprovider -rs tests
