#!/usr/bin/env bash
# Installs the system packages libformi needs to build and test, only those that are missing.
# Idempotent: a second run installs nothing. Uses sudo when not root. --bench adds the benchmarks' peers.
set -euo pipefail

need=()
pkg-config --exists speexdsp 2>/dev/null || need+=(libspeexdsp-dev)
pkg-config --exists sqlite3 2>/dev/null || need+=(libsqlite3-dev)  # the usage ledger's store
pkg-config --exists libpq 2>/dev/null || need+=(libpq-dev)  # the usage ledger on PostgreSQL
# The PostgreSQL server the ledger's tests start in a temporary directory (scripts/pg.sh).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
# The server's demo agent: espeak-ng (linked as a library, with its voice data) and WebRTC's C VAD.
pkg-config --exists espeak-ng 2>/dev/null || need+=(libespeak-ng-dev)
dpkg -s espeak-ng-data >/dev/null 2>&1 || need+=(espeak-ng-data)
pkg-config --exists webrtc-audio-processing 2>/dev/null || need+=(libwebrtc-audio-processing-dev)
# Its keyword recognition (pocketsphinx with the US English model), and the test callers' voice (espeak-ng).
pkg-config --exists pocketsphinx 2>/dev/null || need+=(libpocketsphinx-dev)
[ -d /usr/share/pocketsphinx/model/en-us/en-us ] || need+=(pocketsphinx-en-us)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v valgrind >/dev/null || need+=(valgrind)
command -v python3 >/dev/null || need+=(python3)
python3 -c "import ensurepip, venv" 2>/dev/null || need+=(python3-venv)  # the Python package's test venv
command -v dot >/dev/null || need+=(graphviz)  # renders the flows' DOT output in the tests
# Peers the benchmarks run against (make bench).
if [ "${1:-}" = "--bench" ]; then
    pkg-config --exists soxr 2>/dev/null || need+=(libsoxr-dev)
fi

if [ ${#need[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y --no-install-recommends "${need[@]}" \
        || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends "${need[@]}"; }
fi
# The Python pipeline the session benchmark runs against (pipecat's way: numpy + soxr).
if [ "${1:-}" = "--bench" ] && ! python3 -c "import numpy, soxr" 2>/dev/null; then
    python3 -m pip install --quiet numpy soxr || python3 -m pip install --quiet --break-system-packages numpy soxr
fi
