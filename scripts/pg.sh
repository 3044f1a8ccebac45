#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests and benchmarks (Debian's postgresql package): its own data
# directory under /tmp, owned by a non-root user (postgres when run as root), listening on loopback
# only, trust authentication for a superuser "formi". Idempotent: start when running and stop when
# stopped do nothing.
#   scripts/pg.sh start            starts it (if not running); prints the URL of database "formi"
#   scripts/pg.sh stop             stops it and removes its data directory
#   scripts/pg.sh url              the URL (when running)
#   scripts/pg.sh createdb NAME    a new empty database; prints its URL (dropped with the server)
#   scripts/pg.sh run CMD ARGS...  starts it if needed, runs CMD with FORMI_TEST_PG_URL set, stops it
#                                  again if it was not running before; exits with CMD's status
# FORMI_PG_DIR picks the directory (default: one per checkout), FORMI_PG_PORT the first port tried.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
dir=${FORMI_PG_DIR:-/tmp/formi-pg-$(printf '%s' "$here" | cksum | cut -d' ' -f1)}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "pg.sh: PostgreSQL is not installed (scripts/install-deps.sh installs it)" >&2; exit 1; }

# Root may not run the server: run its commands as the postgres user (or one made for this).
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        local user=postgres
        id -u "$user" >/dev/null 2>&1 || { user=formi-pg; id -u "$user" >/dev/null 2>&1 || useradd --system --no-create-home "$user"; }
        runuser -u "$user" -- "$@"
    else
        "$@"
    fi
}

running() { [ -f "$dir/data/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; }
url() { echo "postgresql://formi@127.0.0.1:$(cat "$dir/port")/${1:-formi}"; }

free_port() {
    local port=${FORMI_PG_PORT:-55432}
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
    echo "$port"
}

start() {
    if running; then url; return; fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        rm -rf "$dir"
        mkdir -p "$dir"
        [ "$(id -u)" -ne 0 ] || chown "$(as_owner id -un)" "$dir"
        as_owner "$bin/initdb" -D "$dir/data" -U formi --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    free_port > "$dir/port.new" && chmod 644 "$dir/port.new" && mv "$dir/port.new" "$dir/port"
    # Loopback only, a socket in the directory, fsync on (the ledger's durability is what is tested).
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -p $(cat "$dir/port") -c unix_socket_directories=$dir -c max_connections=200" >/dev/null \
        || { tail -20 "$dir/server.log" >&2; exit 1; }
    as_owner "$bin/psql" -q -h 127.0.0.1 -p "$(cat "$dir/port")" -U formi -d postgres -c 'CREATE DATABASE formi' >/dev/null 2>&1 || true
    url
}

stop() {
    if running; then as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null; fi
    rm -rf "$dir"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
url) running && url ;;
createdb)
    name=${2:?createdb NAME}
    running || { echo "pg.sh: not running (scripts/pg.sh start)" >&2; exit 1; }
    PGOPTIONS="-c client_min_messages=warning" as_owner "$bin/psql" -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(cat "$dir/port")" -U formi -d postgres -c "DROP DATABASE IF EXISTS \"$name\"" -c "CREATE DATABASE \"$name\"" >/dev/null
    url "$name" ;;
run)
    shift
    was_running=0; running && was_running=1
    FORMI_TEST_PG_URL=$(start)
    export FORMI_TEST_PG_URL
    status=0; "$@" || status=$?
    [ "$was_running" -eq 1 ] || stop
    exit "$status" ;;
*) sed -n '2,14p' "$0" >&2; exit 2 ;;
esac
