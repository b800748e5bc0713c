#!/usr/bin/env bash
# Benchmarks (not timed tests): each case starts a throwaway but durable PostgreSQL cluster
# (fsync on) for the release preset's railhook (`make bench-*` builds it), measures, prints its
# figures and cleans up. railhook runs as shipped: only what the case needs configured
# (secrets, the worker repository, a token), every tuning setting at its default; only the
# load generators' settings are chosen. Each figure is printed with the load average (uptime)
# when it was taken, since the machine may be shared.
# Usage: scripts/bench.sh CASE      cases: intake, queue, api, railway
# Environment: BUILD_DIR (default build/release), BENCH_SECONDS (default 20; intake, api: per
# round, default 10), BENCH_ROUNDS (intake, api: default 3), BENCH_PROVISION_BUILD_MS
# (railway: default 180000). BENCH_PROFILE=1 also loads pg_stat_statements into the cluster
# and prints, when the case ends, where PostgreSQL spent its time: each statement's share,
# calls and mean time (the figures README's limits quote come from it).
set -euo pipefail
cd "$(dirname "$0")/.."
case_name=${1:-}
build=${BUILD_DIR:-build/release}
seconds=${BENCH_SECONDS:-20}

# A durable cluster in a temp folder, stopped and removed on exit; sets tmp, pgport, db_url.
start_cluster() {
    tmp=$(mktemp -d /tmp/railhook-bench.XXXXXX)
    chmod 755 "$tmp"
    pgport=$(scripts/free-port.sh)
    trap 'stop_all' EXIT
    if [[ "${BENCH_PROFILE:-0}" == 1 ]]; then
        PG_EXTRA_OPTS="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all" \
            scripts/pg.sh start "$tmp/pg" "$pgport"
    else
        scripts/pg.sh start "$tmp/pg" "$pgport"
    fi
    psql -q "$(scripts/pg.sh url "$tmp/pg" "$pgport" postgres)" -c "CREATE DATABASE railhook" \
        >/dev/null
    db_url=$(scripts/pg.sh url "$tmp/pg" "$pgport" railhook)
    [[ "${BENCH_PROFILE:-0}" == 1 ]] && psql -q "$db_url" -c "CREATE EXTENSION pg_stat_statements"
    DATABASE_URL=$db_url LOG_LEVEL=warn "$build/railhook" migrate
}

railhook_pid=
sim_pid=
# BENCH_PROFILE=1: the statements that took 1% or more of PostgreSQL's execution time.
print_profile() {
    psql -qX "$db_url" -P pager=off -c "
        SELECT round((100 * total_exec_time / sum(total_exec_time) OVER ())::numeric, 1) AS pct, calls,
               round((total_exec_time / calls)::numeric, 3) AS mean_ms,
               left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS statement
        FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = 'railhook')
        ORDER BY total_exec_time DESC" | awk 'NR <= 2 || $1 + 0 >= 1 || /rows\)/'
}

stop_all() {
    if [[ "${BENCH_PROFILE:-0}" == 1 && -n "${db_url:-}" ]]; then
        echo "== PostgreSQL's time by statement (pg_stat_statements, track=all)"
        print_profile || true
    fi
    for pid in $railhook_pid $sim_pid; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    scripts/pg.sh stop "$tmp/pg" || true
    rm -rf "$tmp"
}

wait_healthy() {
    for _ in $(seq 1 150); do
        curl -fsS "http://127.0.0.1:$1/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "bench: railhook did not become healthy" >&2
    tail -n 5 "$tmp/railhook.log" >&2
    return 1
}

# Signed GitHub pushes through POST /webhooks/github at 32 connections against pgbench's
# single-row inserts of the same payload at the same concurrency, on the same cluster. The two
# alternate for BENCH_ROUNDS rounds (default 3) of BENCH_SECONDS each, so a burst of other load
# on the machine hits both; every round is printed and the best of each is compared. The
# default workers run the redeploy job each push queues (one at a time: a push's redeploy is
# queued once per commit) against a closed loopback port, so no request leaves the machine.
bench_intake() {
    local rounds=${BENCH_ROUNDS:-3}
    local secs=${BENCH_SECONDS:-10}
    local secret="bench-secret-$RANDOM$RANDOM"
    local conns=32
    start_cluster
    # A push to acme-labs/osp-workers@main, built and signed by railhook-delivery.
    local body="$tmp/push.json" signature
    signature=$("$build/railhook-delivery" github-push --secret "$secret" --body "$body" |
        sed -n 's/^X-Hub-Signature-256: //p')
    psql -q "$db_url" -c "INSERT INTO services (name, status) VALUES ('osp-worker-bench', 'active')"
    psql -q "$db_url" -c "CREATE TABLE bench_delivery (id bigserial PRIMARY KEY,
        payload jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now())"

    local port
    port=$(scripts/free-port.sh)
    env DATABASE_URL="$db_url" PORT="$port" BIND_ADDRESS=127.0.0.1 \
        API_TOKEN="bench-read-$RANDOM$RANDOM" API_ADMIN_TOKEN="bench-admin-$RANDOM$RANDOM" \
        GITHUB_WEBHOOK_SECRET="$secret" WORKER_REPO=acme-labs/osp-workers \
        WORKER_BRANCH=main WORKER_PATHS_FILTER=off RAILWAY_API_URL=http://127.0.0.1:9/graphql/v2 \
        "$build/railhook" serve 2>"$tmp/railhook.log" &
    railhook_pid=$!
    wait_healthy "$port"

    local best_rps=0 best_p50= best_p99= best_tps=0 answered=0 non202=0
    for round in $(seq 1 "$rounds"); do
        BENCH_BODY="$body" BENCH_SIGNATURE="$signature" BENCH_NONCE="$round-$RANDOM$RANDOM" \
            wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/intake.lua \
            "http://127.0.0.1:$port/webhooks/github" >"$tmp/wrk.out"
        local line rps p50 p99
        line=$(grep '^BENCH ' "$tmp/wrk.out")
        rps=$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$line")
        p50=$(sed -E 's/.* p50_ms=([0-9.]+).*/\1/' <<<"$line")
        p99=$(sed -E 's/.* p99_ms=([0-9.]+).*/\1/' <<<"$line")
        answered=$((answered + $(sed -E 's/.* requests=([0-9]+).*/\1/' <<<"$line")))
        non202=$((non202 + $(sed -E 's/.* non202=([0-9]+).*/\1/' <<<"$line")))
        if awk -v a="$rps" -v b="$best_rps" 'BEGIN { exit !(a > b) }'; then
            best_rps=$rps best_p50=$p50 best_p99=$p99
        fi

        pgbench -n -c "$conns" -j 2 -T "$secs" -M prepared -f bench/intake_insert.sql \
            -D payload="$(cat "$body")" "$db_url" >"$tmp/pgbench.out" 2>&1
        local tps
        tps=$(sed -nE 's/^tps = ([0-9.]+) \(without initial connection time\).*/\1/p' "$tmp/pgbench.out")
        [[ -n "$tps" ]] || { cat "$tmp/pgbench.out" >&2; exit 1; }
        if awk -v a="$tps" -v b="$best_tps" 'BEGIN { exit !(a > b) }'; then
            best_tps=$tps
        fi
        printf 'round %d: railhook %s requests/s (p50 %s ms, p99 %s ms) | pgbench %s tps | load %s\n' \
            "$round" "$rps" "$p50" "$p99" "$tps" "$(cut -d' ' -f1-3 /proc/loadavg)"
    done
    # The high-water mark of railhook's resident memory over every round.
    printf 'railhook peak RSS: %s\n' "$(awk '/^VmHWM/ {print $2, $3}' "/proc/$railhook_pid/status")"
    kill "$railhook_pid"
    wait "$railhook_pid" || true
    railhook_pid=
    local stored
    stored=$(psql -qtA "$db_url" -c "SELECT count(*) FROM deliveries")

    echo "== intake: signed pushes at c=$conns vs pgbench single-row inserts at c=$conns" \
        "(best of $rounds rounds of ${secs}s, durable cluster)"
    printf 'railhook intake: %s requests/s, p50 %s ms, p99 %s ms\n' "$best_rps" "$best_p50" "$best_p99"
    printf 'pgbench single-row inserts: %s tps\n' "$best_tps"
    printf 'answered %d, not 202: %d, deliveries stored: %d\n' "$answered" "$non202" "$stored"
    awk -v a="$best_rps" -v b="$best_tps" -v p="$best_p99" 'BEGIN {
        r = a / b
        printf "ratio railhook/pgbench: %.2f (target >= 1.5: %s), p99 target <= 15 ms: %s\n",
            r, (r >= 1.5) ? "met" : "NOT met", (p <= 15) ? "met" : "NOT met" }'
}

# The job queue: a no-op handler linked into bench/bench_queue.c (not into the service) drains
# BENCH_JOBS (20000) jobs with 4 and 10 workers, then measures commit-to-start delays.
bench_queue() {
    start_cluster
    DATABASE_URL=$db_url "$build/bench-queue"
}

# GET /jobs/{id} of a mix of jobs at 16 connections with the read token: 8 provisions still
# running (leased by another instance's worker, as while a build runs) and 8 finished, each
# with ten events (bench/api_job.sql), every connection going round all 16 ids; against
# pgbench's prepared primary-key reads (-S) at the same concurrency on the same cluster. The two
# alternate for BENCH_ROUNDS rounds (default 3) of BENCH_SECONDS each (default 10); the best of
# each is compared.
bench_api() {
    local rounds=${BENCH_ROUNDS:-3}
    local secs=${BENCH_SECONDS:-10}
    local conns=16
    local token="bench-read-$RANDOM$RANDOM$RANDOM"
    start_cluster
    local ids="" n
    for n in $(seq 1 8); do
        ids+=$(psql -qtA -v state=succeeded -v n="f$n" "$db_url" -f bench/api_job.sql),
        ids+=$(psql -qtA -v state=running -v n="r$n" "$db_url" -f bench/api_job.sql),
    done
    ids=${ids%,}
    pgbench -i -q "$db_url" >"$tmp/pgbench-init.out" 2>&1 || { cat "$tmp/pgbench-init.out" >&2; exit 1; }

    local port
    port=$(scripts/free-port.sh)
    env DATABASE_URL="$db_url" PORT="$port" BIND_ADDRESS=127.0.0.1 API_TOKEN="$token" \
        API_ADMIN_TOKEN="bench-admin-$RANDOM$RANDOM$RANDOM" \
        "$build/railhook" serve 2>"$tmp/railhook.log" &
    railhook_pid=$!
    wait_healthy "$port"
    local events
    events=$(curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/jobs/${ids%%,*}" |
        grep -o '"message"' | wc -l)

    local best_rps=0 best_p50= best_p99= best_tps=0 answered=0 non200=0
    for round in $(seq 1 "$rounds"); do
        BENCH_TOKEN="$token" BENCH_IDS="$ids" wrk -t2 -c"$conns" -d"${secs}s" --latency \
            -s bench/api.lua "http://127.0.0.1:$port" >"$tmp/wrk.out"
        local line rps p50 p99
        line=$(grep '^BENCH ' "$tmp/wrk.out")
        rps=$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$line")
        p50=$(sed -E 's/.* p50_ms=([0-9.]+).*/\1/' <<<"$line")
        p99=$(sed -E 's/.* p99_ms=([0-9.]+).*/\1/' <<<"$line")
        answered=$((answered + $(sed -E 's/.* requests=([0-9]+).*/\1/' <<<"$line")))
        non200=$((non200 + $(sed -E 's/.* status400=([0-9]+).*/\1/' <<<"$line")))
        if awk -v a="$rps" -v b="$best_rps" 'BEGIN { exit !(a > b) }'; then
            best_rps=$rps best_p50=$p50 best_p99=$p99
        fi

        pgbench -n -S -M prepared -c "$conns" -j 2 -T "$secs" "$db_url" >"$tmp/pgbench.out" 2>&1
        local tps
        tps=$(sed -nE 's/^tps = ([0-9.]+) \(without initial connection time\).*/\1/p' "$tmp/pgbench.out")
        [[ -n "$tps" ]] || { cat "$tmp/pgbench.out" >&2; exit 1; }
        if awk -v a="$tps" -v b="$best_tps" 'BEGIN { exit !(a > b) }'; then
            best_tps=$tps
        fi
        printf 'round %d: railhook %s requests/s (p50 %s ms, p99 %s ms) | pgbench %s tps | load %s\n' \
            "$round" "$rps" "$p50" "$p99" "$tps" "$(cut -d' ' -f1-3 /proc/loadavg)"
    done
    local reads
    reads=$(curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$port/metrics" |
        sed -nE 's/^railhook_job_reads_total\{source="(cache|database)"\} ([0-9.e+]+)$/\1 \2/p' |
        tr '\n' ' ')
    kill "$railhook_pid"
    wait "$railhook_pid" || true
    railhook_pid=

    echo "== api: GET /jobs/{id} (8 running and 8 finished jobs, $events events each) at" \
        "c=$conns vs pgbench -S -M prepared at c=$conns (best of $rounds rounds of ${secs}s," \
        "durable cluster)"
    printf 'railhook GET /jobs/{id}: %s requests/s, p50 %s ms, p99 %s ms\n' "$best_rps" \
        "$best_p50" "$best_p99"
    printf 'pgbench prepared primary-key reads: %s tps\n' "$best_tps"
    printf 'answered %d, of status 400 or more: %d; documents read from: %s\n' "$answered" "$non200" "$reads"
    awk -v a="$best_rps" -v b="$best_tps" 'BEGIN {
        r = a / b
        printf "ratio railhook/pgbench: %.2f (target >= 1.0: %s)\n", r, (r >= 1.0) ? "met" : "NOT met" }'
}

# n provisions posted together (Supabase INSERTs) to railhook at its defaults (WORKERS=4,
# default deployment watching) against a fresh railway-sim whose builds take build_ms, on a
# fresh database; prints Railway requests per provision by operation, the wall time until all
# finish, and the most jobs waiting for their deployment at once.
railway_round() {
    local n=$1 build_ms=$2 dbname="provision_$1"
    psql -q "$(scripts/pg.sh url "$tmp/pg" "$pgport" postgres)" -c "CREATE DATABASE $dbname"
    local pdb
    pdb=$(scripts/pg.sh url "$tmp/pg" "$pgport" "$dbname")
    DATABASE_URL=$pdb LOG_LEVEL=warn "$build/railhook" migrate
    "$build/railway-sim" --port 0 --quiet --build-ms "$build_ms" >"$tmp/sim$n.out" 2>/dev/null &
    sim_pid=$!
    for _ in $(seq 1 100); do
        grep -q 'listening' "$tmp/sim$n.out" 2>/dev/null && break
        sleep 0.1
    done
    local sim_url sim_base hport bearer
    sim_url=$(grep -oE 'http://127\.0\.0\.1:[0-9]+/graphql/v2' "$tmp/sim$n.out" | head -n 1)
    sim_base=${sim_url%/graphql/v2}
    hport=$(scripts/free-port.sh)
    bearer="bench-bearer-$RANDOM$RANDOM"
    env DATABASE_URL="$pdb" PORT="$hport" BIND_ADDRESS=127.0.0.1 LOG_LEVEL=warn API_AUTH=none \
        SUPABASE_WEBHOOK_SECRET="$bearer" RAILWAY_API_URL="$sim_url" \
        RAILWAY_TOKEN=sim-account-token RAILWAY_PROJECT_ID=proj-sim RAILWAY_ENVIRONMENT_ID=env-sim \
        WORKER_REPO=acme/osp WORKER_BRANCH=main "$build/railhook" serve 2>"$tmp/provision$n.log" &
    railhook_pid=$!
    wait_healthy "$hport"
    # What the instance itself sent while starting (railhook check's project look-up) is not a
    # provision's.
    curl -fsS "$sim_base/_sim/state" >"$tmp/base$n.json"
    local t0=$SECONDS posts=()
    for i in $(seq 1 "$n"); do
        curl -fsS -o /dev/null -H "Authorization: Bearer $bearer" \
            -H 'Content-Type: application/json' \
            --data "{\"type\":\"INSERT\",\"table\":\"manifests\",\"schema\":\"public\",\"record\":{\"id\":\"bench-$i\",\"service_schema\":\"bench_$i\"},\"old_record\":null}" \
            "http://127.0.0.1:$hport/webhooks/supabase" &
        posts+=($!)
    done
    wait "${posts[@]}"
    local deadline=$((SECONDS + build_ms / 1000 + 900)) most=0 waiting
    while (($(psql -qtA "$pdb" -c "SELECT count(*) FROM jobs WHERE state IN ('queued','running')") > 0)); do
        ((SECONDS < deadline)) || { echo "bench: provisions did not finish" >&2; exit 1; }
        waiting=$(psql -qtA "$pdb" -c "SELECT count(*) FROM jobs WHERE state = 'running' AND step LIKE 'waiting for deployment %'")
        ((waiting > most)) && most=$waiting
        sleep 1
    done
    local wall=$((SECONDS - t0)) ok per
    ok=$(psql -qtA "$pdb" -c "SELECT count(*) FROM jobs WHERE state = 'succeeded'")
    curl -fsS "$sim_base/_sim/state" >"$tmp/state$n.json"
    per=$(node -e 'const fs = require("fs"), n = +process.argv[3];
        const s = JSON.parse(fs.readFileSync(process.argv[1])).counts;
        const b = JSON.parse(fs.readFileSync(process.argv[2])).counts;
        const r = (v) => Math.round((v / n) * 100) / 100;
        const ops = Object.entries(s.by_operation)
            .map(([k, v]) => [k, v - (b.by_operation[k] || 0)]).filter(([, v]) => v > 0)
            .map(([k, v]) => `${k} ${r(v)}`).join(", ");
        console.log(`${r(s.requests - b.requests)}|${ops}`)' "$tmp/state$n.json" "$tmp/base$n.json" "$n")
    echo "railway $n at once: ${per%%|*} Railway requests per provision (${per#*|}); $ok of $n succeeded; all finished in $wall s; at most $most waiting for their deployment at once"
    kill "$railhook_pid" "$sim_pid" 2>/dev/null || true
    wait "$railhook_pid" "$sim_pid" 2>/dev/null || true
    railhook_pid= sim_pid=
}

# Railway requests per provision with BENCH_PROVISION_BUILD_MS builds (default 3 minutes), at
# railhook's defaults: one provision alone, then 20 posted together.
bench_railway() {
    local build_ms=${BENCH_PROVISION_BUILD_MS:-180000}
    start_cluster
    railway_round 1 "$build_ms"
    railway_round 20 "$build_ms"
}

case "$case_name" in
railway)
    bench_railway
    ;;
queue)
    bench_queue
    ;;
intake)
    bench_intake
    ;;
api)
    bench_api
    ;;
*)
    echo "usage: $0 intake|queue|api|railway" >&2
    exit 2
    ;;
esac
