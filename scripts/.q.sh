#!/usr/bin/env bash
# `make bench`: every benchmark next to a baseline measured in the same run, written as one
# markdown table to bench/report.md and printed. railhook runs as shipped (scripts/bench.sh):
# only the load generators' settings are chosen. One function per row (row_*), each appending
# its table line to $rows (and any note to $notes), with the load average it ran under; add a
# row by adding a function and its call at the bottom.
#   intake   scripts/bench.sh intake: signed GitHub pushes vs pgbench single-row inserts
#            (alternating rounds), and railhook's peak RSS over those rounds; then
#            adnanh/webhook (Debian's `webhook`, a payload-hmac-sha256 rule on
#            X-Hub-Signature-256) driven by the same wrk script at the same concurrency
#   api      scripts/bench.sh api: GET /jobs/{id} of 8 running and 8 finished jobs vs pgbench -S
#   queue    railhook's bench-queue draining BENCH_JOBS no-op jobs with 10 workers vs
#            Graphile Worker (bench/graphile) draining as many with concurrency 10, on one
#            durable cluster, alternating BENCH_ROUNDS rounds, best of each
#   railway  scripts/bench.sh railway: one provision, then 20 posted together, against
#            railway-sim with 3-minute builds at railhook's defaults: Railway requests per
#            provision (targets <= 8 alone, <= 6 at 20) and the time until the 20 finish
#            (target <= 6 min)
# The release preset's build (`make bench` builds it) and bench/graphile's packages
# (scripts/deps.sh bench installs them) must be there.
# Environment: BUILD_DIR (build/release), BENCH_SECONDS (10), BENCH_ROUNDS (3 for intake and
# api, 2 for the queue), BENCH_JOBS (20000), BENCH_PROVISION_BUILD_MS (180000).
set -euo pipefail
cd "$(dirname "$0")/.."
export BUILD_DIR=${BUILD_DIR:-build/release}
build=$BUILD_DIR
secs=${BENCH_SECONDS:-10}
jobs=${BENCH_JOBS:-20000}
queue_rounds=${BENCH_QUEUE_ROUNDS:-2}
build_ms=${BENCH_PROVISION_BUILD_MS:-180000}
report=bench/report.md
rows=
notes=

tmp=$(mktemp -d /tmp/railhook-report.XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    scripts/pg.sh stop "$tmp/pg" || true
    rm -rf "$tmp"
}
trap cleanup EXIT
rows=$tmp/rows.md
notes=$tmp/notes.md
: >"$rows"
: >"$notes"

field() { # file regex-with-one-group
    sed -nE "s#$2#\1#p" "$1" | head -n 1
}
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
}
load() { # the 1-minute load average now
    cut -d' ' -f1 /proc/loadavg
}

# ---- intake (and peak RSS)
row_intake() {
    echo "== make bench: intake"
    scripts/bench.sh intake | tee "$tmp/intake.txt"
    in_rps=$(field "$tmp/intake.txt" '^railhook intake: ([0-9.]+) requests/s.*')
    in_p50=$(field "$tmp/intake.txt" '^railhook intake: .* p50 ([0-9.]+) ms.*')
    in_p99=$(field "$tmp/intake.txt" '^railhook intake: .* p99 ([0-9.]+) ms.*')
    pg_tps=$(field "$tmp/intake.txt" '^pgbench single-row inserts: ([0-9.]+) tps.*')
    rss=$(field "$tmp/intake.txt" '^railhook peak RSS: (.*)$')
    echo "| webhook intake at the defaults, signed GitHub pushes, c=32, every 202 a committed delivery + job | $in_rps req/s (p50 $in_p50 ms, p99 $in_p99 ms) | pgbench single-row inserts of the payload, c=32: $pg_tps tps | $(ratio "$in_rps" "$pg_tps") (goal >= 1.5, p99 <= 15 ms) | $(load) |" >>"$rows"
}

# ---- adnanh/webhook with the same load
row_webhook() {
    echo "== make bench: adnanh/webhook"
    body="$tmp/push.json"
    secret="bench-secret-$RANDOM$RANDOM"
    signature=$("$build/railhook-delivery" github-push --secret "$secret" --body "$body" |
        sed -n 's/^X-Hub-Signature-256: //p')
    cat >"$tmp/hooks.json" <<EOF
[{"id": "github", "execute-command": "/bin/true", "success-http-response-code": 202,
  "trigger-rule": {"match": {"type": "payload-hmac-sha256", "secret": "$secret",
                             "parameter": {"source": "header", "name": "X-Hub-Signature-256"}}}}]
EOF
    wport=$(scripts/free-port.sh)
    webhook -hooks "$tmp/hooks.json" -ip 127.0.0.1 -port "$wport" >"$tmp/webhook.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$wport/" && break
        sleep 0.1
    done
    wh_version=$(webhook -version 2>&1 | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n 1)
    wh_best=0 wh_p50= wh_p99= wh_non202=0
    for round in $(seq 1 "${BENCH_ROUNDS:-3}"); do
        BENCH_BODY="$body" BENCH_SIGNATURE="$signature" BENCH_NONCE="wh$round" \
            wrk -t2 -c32 -d"${secs}s" --latency -s bench/intake.lua \
            "http://127.0.0.1:$wport/hooks/github" >"$tmp/wrk-webhook.out"
        line=$(grep '^BENCH ' "$tmp/wrk-webhook.out")
        rps=$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$line")
        wh_non202=$((wh_non202 + $(sed -E 's/.* non202=([0-9]+).*/\1/' <<<"$line")))
        echo "round $round: webhook $rps requests/s"
        if awk -v a="$rps" -v b="$wh_best" 'BEGIN { exit !(a > b) }'; then
            wh_best=$rps
            wh_p50=$(sed -E 's/.* p50_ms=([0-9.]+).*/\1/' <<<"$line")
            wh_p99=$(sed -E 's/.* p99_ms=([0-9.]+).*/\1/' <<<"$line")
        fi
    done
    [[ "$wh_non202" -eq 0 ]] || echo "warning: webhook answered $wh_non202 requests with other than 202" >&2
    echo "| webhook intake, same wrk script and signature | $in_rps req/s (p99 $in_p99 ms) | adnanh/webhook $wh_version (HMAC rule, runs /bin/true, stores nothing): $wh_best req/s (p99 $wh_p99 ms) | $(ratio "$in_rps" "$wh_best") | $(load) |" >>"$rows"
}

# ---- api
row_api() {
    echo "== make bench: api"
    scripts/bench.sh api | tee "$tmp/api.txt"
    local rps p99 tps
    rps=$(field "$tmp/api.txt" '^railhook GET /jobs/\{id\}: ([0-9.]+) requests/s.*')
    p99=$(field "$tmp/api.txt" '^railhook GET /jobs/\{id\}: .* p99 ([0-9.]+) ms.*')
    tps=$(field "$tmp/api.txt" '^pgbench prepared primary-key reads: ([0-9.]+) tps.*')
    echo "| status API read at the defaults, \`GET /jobs/{id}\` going round 8 running and 8 finished jobs, c=16 | $rps req/s (p99 $p99 ms) | pgbench \`-S -M prepared\`, c=16: $tps tps | $(ratio "$rps" "$tps") (goal >= 1.0) | $(load) |" >>"$rows"
    echo "GET /jobs/{id}: $(field "$tmp/api.txt" '^answered .*; documents read from: (.*)$')" >>"$notes"
}

# ---- one durable cluster for the queue and the provisions
cluster_start() {
    pgport=$(scripts/free-port.sh)
    scripts/pg.sh start "$tmp/pg" "$pgport"
    admin=$(scripts/pg.sh url "$tmp/pg" "$pgport" postgres)
    for d in railhook graphile; do
        psql -q "$admin" -c "CREATE DATABASE $d" >/dev/null
    done
}

# CPU time (1/100 s) the cluster's processes have used so far: the postmaster's own and its
# ended children's (reaped backends), and the live children's (one that ends meanwhile counts 0).
cluster_ticks() {
    local pm t p
    pm=$(head -n 1 "$tmp/pg/data/postmaster.pid")
    t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat")
    for p in $(ps -o pid= --ppid "$pm"); do
        t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}

# "X s own + Y s PostgreSQL" per 1000 jobs from CPU ticks; PostgreSQL's is n/a when its count
# went wrong (a backend ended and was not reaped in between).
cpu_per_1000() {
    awk -v o="$1" -v p="$2" -v n="$jobs" 'BEGIN {
        printf "%.2f s own + ", o / n * 10
        if (p >= 0) printf "%.2f s PostgreSQL", p / n * 10; else printf "n/a PostgreSQL" }'
}

# ---- the queue: railhook's bench-queue vs Graphile Worker, alternating, with the CPU each
# side (the queue's process, and PostgreSQL) spent per 1000 jobs in its best round
row_queue() {
    echo "== make bench: queue"
    local db gdb q g q_load g_load p0 q_cpu= g_cpu=
    db=$(scripts/pg.sh url "$tmp/pg" "$pgport" railhook)
    gdb=$(scripts/pg.sh url "$tmp/pg" "$pgport" graphile)
    DATABASE_URL=$db LOG_LEVEL=warn "$build/railhook" migrate
    q_best=0 g_best=0 g_version=
    for round in $(seq 1 "$queue_rounds"); do
        p0=$(cluster_ticks)
        DATABASE_URL=$db BENCH_WORKERS=10 BENCH_JOBS=$jobs BENCH_LATENCY_JOBS=200 \
            /usr/bin/time -f 'CPU %U %S' "$build/bench-queue" >"$tmp/queue.out" 2>"$tmp/queue.cpu"
        q=$(awk '$1 == 10 { print $2; exit }' "$tmp/queue.out")
        q_load=$(load)
        local q_pg=$(($(cluster_ticks) - p0)) q_own
        q_own=$(awk '/^CPU/ { printf "%.0f", ($2 + $3) * 100 }' "$tmp/queue.cpu")
        p0=$(cluster_ticks)
        DATABASE_URL=$gdb BENCH_JOBS=$jobs BENCH_CONCURRENCY=10 \
            /usr/bin/time -f 'CPU %U %S' node bench/graphile/bench.mjs >"$tmp/graphile.out" \
            2>"$tmp/graphile.cpu"
        g=$(field "$tmp/graphile.out" '^GRAPHILE .* rate=([0-9.]+).*')
        g_version=$(field "$tmp/graphile.out" '^GRAPHILE .* version=([0-9.]+).*')
        g_load=$(load)
        local g_pg=$(($(cluster_ticks) - p0)) g_own
        g_own=$(awk '/^CPU/ { printf "%.0f", ($2 + $3) * 100 }' "$tmp/graphile.cpu")
        echo "round $round: railhook $q jobs/s (load $q_load; CPU s: own $((q_own / 100)), PostgreSQL $((q_pg / 100))) | graphile-worker $g jobs/s (load $g_load; CPU s: own $((g_own / 100)), PostgreSQL $((g_pg / 100)))"
        if awk -v a="$q" -v b="$q_best" 'BEGIN { exit !(a > b) }'; then
            q_best=$q
            q_cpu=$(cpu_per_1000 "$q_own" "$q_pg")
        fi
        if awk -v a="$g" -v b="$g_best" 'BEGIN { exit !(a > b) }'; then
            g_best=$g
            g_cpu=$(cpu_per_1000 "$g_own" "$g_pg")
        fi
    done
    echo "| job queue, drain $jobs no-op jobs, 10 workers | $q_best jobs/s | Graphile Worker $g_version, concurrency 10, same cluster: $g_best jobs/s | $(ratio "$q_best" "$g_best") (goal >= 2.0) | $q_load / $g_load |" >>"$rows"
    echo "CPU per 1000 jobs drained (best rounds, setup included): railhook $q_cpu; Graphile Worker $g_cpu." >>"$notes"
}

# ---- Railway requests per provision (alone and 20 at once) and the time 20 take, 3-minute
# builds, railhook's defaults
row_railway() {
    echo "== make bench: Railway (builds of $((build_ms / 1000)) s)"
    BENCH_PROVISION_BUILD_MS=$build_ms scripts/bench.sh railway | tee "$tmp/railway.txt"
    rw() { # n regex-with-one-group-after-the-prefix
        field "$tmp/railway.txt" "^railway $1 at once: $2"
    }
    r1=$(rw 1 '([0-9.]+) Railway requests.*')
    r1_ops=$(rw 1 '[0-9.]+ Railway requests per provision \((.*)\); [0-9]+ of .*')
    r20=$(rw 20 '([0-9.]+) Railway requests.*')
    r20_ops=$(rw 20 '[0-9.]+ Railway requests per provision \((.*)\); [0-9]+ of .*')
    r20_ok=$(rw 20 '.*; ([0-9]+) of 20 succeeded.*')
    r20_wall=$(rw 20 '.* all finished in ([0-9]+) s.*')
    r20_most=$(rw 20 '.* at most ([0-9]+) waiting .*')
    echo "| Railway requests per provision, alone, $((build_ms / 1000)) s builds, defaults | $r1 | target <= 8 | - | $(load) |" >>"$rows"
    echo "| Railway requests per provision, 20 at once, $((build_ms / 1000)) s builds, defaults (WORKERS=4) | $r20 ($r20_ok/20 succeeded) | target <= 6 | - | $(load) |" >>"$rows"
    echo "| 20 provisions posted together, $((build_ms / 1000)) s builds, defaults: time until all finish | $r20_wall s (at most $r20_most building at once) | target <= 360 s | - | $(load) |" >>"$rows"
    echo "Railway requests per provision by operation, alone: $r1_ops; 20 at once: $r20_ops." >>"$notes"
}

cluster_start
row_queue
cat "$rows"; cat "$notes"
