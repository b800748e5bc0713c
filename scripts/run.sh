#!/usr/bin/env bash
# `make run`: builds, starts (or reuses) a local PostgreSQL cluster in .local/pg when
# DATABASE_URL is unset, applies migrations and runs railhook in the foreground.
# Ctrl-C stops railhook and everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh run
cmake -S . -B build -DRAILHOOK_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target railhook >/dev/null

started_pg=""
child=""
cleanup() {
    trap - EXIT INT TERM
    [[ -n "$child" ]] && kill -TERM "$child" 2>/dev/null && wait "$child" 2>/dev/null || true
    [[ -n "$started_pg" ]] && scripts/pg.sh stop .local/pg
    exit 0
}
trap cleanup EXIT INT TERM

if [[ -z "${DATABASE_URL:-}" ]]; then
    pgport=${PGPORT_LOCAL:-54329}
    mkdir -p .local
    chmod 755 .local
    scripts/pg.sh start .local/pg "$pgport"
    started_pg=1
    export DATABASE_URL
    DATABASE_URL=$(scripts/pg.sh url .local/pg "$pgport" postgres)
    psql -qtA "$DATABASE_URL" -c "SELECT 1 FROM pg_database WHERE datname = 'railhook'" |
        grep -q 1 || psql -q "$DATABASE_URL" -c "CREATE DATABASE railhook"
    DATABASE_URL=$(scripts/pg.sh url .local/pg "$pgport" railhook)
    echo "run: local PostgreSQL in .local/pg on 127.0.0.1:$pgport" >&2
fi
: "${API_AUTH:=none}"
export API_AUTH

build/railhook migrate
build/railhook serve &
child=$!
wait "$child" || true
child=""
