#!/usr/bin/env bash
# A PostgreSQL cluster in a folder of its own, for `make run` (kept) and the tests (thrown
# away). Listens on a unix socket inside the folder and on 127.0.0.1:PORT only.
# Usage: scripts/pg.sh start DIR PORT [fast] | stop DIR [immediate] | url DIR PORT [DBNAME]
# As root, the cluster runs as the "postgres" system user (PostgreSQL refuses root).
# PG_EXTRA_OPTS: more server options for start (the benchmarks' profile mode uses it).
set -euo pipefail

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[[ -x "$pgbin/pg_ctl" ]] || { echo "pg.sh: PostgreSQL server binaries not found" >&2; exit 1; }

as_owner() {
    if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cmd=${1:?usage}
dir=${2:?usage}
case "$cmd" in
start)
    port=${3:?usage}
    mode=${4:-durable}
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [[ $(id -u) -eq 0 ]] && chown postgres: "$dir"
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
        as_owner "$pgbin/initdb" -D "$dir/data" -U railhook -A trust -E UTF8 --locale=C.UTF-8 \
            --nosync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    opts="-k $dir -p $port -c listen_addresses=127.0.0.1 -c max_connections=300"
    if [[ "$mode" == fast ]]; then
        opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    opts+=${PG_EXTRA_OPTS:+ $PG_EXTRA_OPTS}
    if ! as_owner "$pgbin/pg_ctl" -D "$dir/data" -o "$opts" -l "$dir/server.log" -w -t 60 \
        start >/dev/null; then
        tail -n 20 "$dir/server.log" >&2
        exit 1
    fi
    ;;
stop)
    [[ -f "$dir/data/postmaster.pid" ]] || exit 0
    # immediate: a crash (the chaos suite's outage); fast: an orderly stop.
    as_owner "$pgbin/pg_ctl" -D "$dir/data" -m "${3:-fast}" -w -t 60 stop >/dev/null || true
    ;;
url)
    port=${3:?usage}
    echo "postgresql://railhook@127.0.0.1:$port/${4:-railhook}"
    ;;
*)
    echo "usage: $0 start DIR PORT [fast] | stop DIR [immediate] | url DIR PORT [DBNAME]" >&2
    exit 2
    ;;
esac
