#!/usr/bin/env bash
# `make run` (which builds the release preset first): starts (or reuses) a local PostgreSQL
# cluster in .local/pg when DATABASE_URL is unset, applies migrations and runs railhook in the
# foreground. Ctrl-C stops railhook and everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build/release

mkdir -p .local
chmod 755 .local
started_pg=""
child=""
sim=""
cleanup() {
    trap - EXIT INT TERM
    [[ -n "$child" ]] && kill -TERM "$child" 2>/dev/null && wait "$child" 2>/dev/null || true
    [[ -n "$sim" ]] && kill -TERM "$sim" 2>/dev/null && wait "$sim" 2>/dev/null || true
    [[ -n "$started_pg" ]] && scripts/pg.sh stop .local/pg
    exit 0
}
trap cleanup EXIT INT TERM

if [[ -z "${DATABASE_URL:-}" ]]; then
    pgport=${PGPORT_LOCAL:-54329}
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

if [[ -z "${RAILWAY_API_TOKEN:-}" && -z "${RAILWAY_TOKEN:-}" && -z "${RAILWAY_PROJECT_TOKEN:-}" ]]; then
    # No Railway token: run against the project's Railway simulator instead.
    simport=$(scripts/free-port.sh)
    "$build/railway-sim" --port "$simport" --build-ms "${SIM_BUILD_MS:-8000}" \
        >.local/railway-sim.out 2>.local/railway-sim.log &
    sim=$!
    for _ in $(seq 1 50); do
        grep -q listening .local/railway-sim.out 2>/dev/null && break
        sleep 0.1
    done
    export RAILWAY_API_URL="http://127.0.0.1:$simport/graphql/v2"
    export RAILWAY_TOKEN=sim-account-token
    export RAILWAY_PROJECT_ID=proj-sim RAILWAY_ENVIRONMENT_ID=env-sim
    export WORKER_REPO="${WORKER_REPO:-acme/osp}"
    export DEPLOY_POLL_MIN_MS="${DEPLOY_POLL_MIN_MS:-1000}"
    echo "run: no Railway token set: using the Railway simulator at $RAILWAY_API_URL" \
         "(log in .local/railway-sim.log)" >&2
fi
# Development secrets for the webhooks when none are configured (see README).
: "${GITHUB_WEBHOOK_SECRET:=dev-github-secret}"
: "${SUPABASE_WEBHOOK_SECRET:=dev-supabase-secret}"
export GITHUB_WEBHOOK_SECRET SUPABASE_WEBHOOK_SECRET

"$build/railhook" migrate
# The operator's preflight (README: "Preflight: railhook check"); problems do not stop `make run`.
"$build/railhook" check || echo "run: railhook check found problems (above); serving anyway" >&2
"$build/railhook" serve &
child=$!
wait "$child" || true
child=""
