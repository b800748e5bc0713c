#!/usr/bin/env bash
# `make bench`: every benchmark next to a baseline measured in the same run, written as one
# markdown table to bench/report.md and printed.
#   intake   scripts/bench.sh intake: signed GitHub pushes vs pgbench single-row inserts
#            (alternating rounds), and railhook's peak RSS over those rounds; then
#            adnanh/webhook (Debian's `webhook`, a payload-hmac-sha256 rule on
#            X-Hub-Signature-256) driven by the same wrk script at the same concurrency
#   api      scripts/bench.sh api: GET /jobs/{id} vs pgbench -S (marked pending when absent)
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

field() { # file regex-with-one-group
    sed -nE "s#$2#\1#p" "$1" | head -n 1
}
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
}

# ---- intake (and peak RSS), then adnanh/webhook with the same load
echo "== make bench: intake"
scripts/bench.sh intake | tee "$tmp/intake.txt"
in_rps=$(field "$tmp/intake.txt" '^railhook intake: ([0-9.]+) requests/s.*')
in_p50=$(field "$tmp/intake.txt" '^railhook intake: .* p50 ([0-9.]+) ms.*')
in_p99=$(field "$tmp/intake.txt" '^railhook intake: .* p99 ([0-9.]+) ms.*')
pg_tps=$(field "$tmp/intake.txt" '^pgbench single-row inserts: ([0-9.]+) tps.*')
rss=$(field "$tmp/intake.txt" '^railhook peak RSS: (.*)$')

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

# ---- api
api_row="| status API read, \`GET /jobs/{id}\` of a finished job, c=16 | pending | pgbench -S | pending |"
if grep -q '^api)' scripts/bench.sh; then
    echo "== make bench: api"
    scripts/bench.sh api | tee "$tmp/api.txt"
    api_rps=$(field "$tmp/api.txt" '^railhook GET /jobs/\{id\}: ([0-9.]+) requests/s.*')
    api_p99=$(field "$tmp/api.txt" '^railhook GET /jobs/\{id\}: .* p99 ([0-9.]+) ms.*')
    api_tps=$(field "$tmp/api.txt" '^pgbench prepared primary-key reads: ([0-9.]+) tps.*')
    api_row="| status API read, \`GET /jobs/{id}\` of a finished job, c=16 | $api_rps req/s (p99 $api_p99 ms) | pgbench \`-S -M prepared\`: $api_tps tps | $(ratio "$api_rps" "$api_tps") |"
fi

# ---- one durable cluster for the queue and the provisions
echo "== make bench: queue"
pgport=$(scripts/free-port.sh)
scripts/pg.sh start "$tmp/pg" "$pgport"
admin=$(scripts/pg.sh url "$tmp/pg" "$pgport" postgres)
for d in railhook graphile; do
    psql -q "$admin" -c "CREATE DATABASE $d" >/dev/null
done
db=$(scripts/pg.sh url "$tmp/pg" "$pgport" railhook)
DATABASE_URL=$db LOG_LEVEL=warn "$build/railhook" migrate
q_best=0 g_best=0 g_version=
for round in $(seq 1 "$queue_rounds"); do
    DATABASE_URL=$db BENCH_WORKERS=10 BENCH_JOBS=$jobs BENCH_LATENCY_JOBS=200 \
        "$build/bench-queue" >"$tmp/queue.out"
    q=$(awk '$1 == 10 { print $2; exit }' "$tmp/queue.out")
    DATABASE_URL=$(scripts/pg.sh url "$tmp/pg" "$pgport" graphile) BENCH_JOBS=$jobs \
        BENCH_CONCURRENCY=10 node bench/graphile/bench.mjs >"$tmp/graphile.out"
    g=$(field "$tmp/graphile.out" '^GRAPHILE .* rate=([0-9.]+).*')
    g_version=$(field "$tmp/graphile.out" '^GRAPHILE .* version=([0-9.]+).*')
    echo "round $round: railhook $q jobs/s | graphile-worker $g jobs/s"
    awk -v a="$q" -v b="$q_best" 'BEGIN { exit !(a > b) }' && q_best=$q
    awk -v a="$g" -v b="$g_best" 'BEGIN { exit !(a > b) }' && g_best=$g
done

# ---- Railway requests per provision and the time 20 take, 3-minute builds, railhook's defaults
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

# ---- the table
cpu=$(sed -nE 's/^model name\s*:\s*(.*)/\1/p' /proc/cpuinfo | head -n 1)
mem=$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
pgv=$(psql -qtA "$admin" -c "SHOW server_version" | cut -d' ' -f1)
{
    echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($cpu), $mem, $(uname -sr), PostgreSQL $pgv"
    echo "(fsync on); load generators, railhook, baselines and PostgreSQL share the cores."
    echo
    echo "| benchmark | railhook | baseline, same run | ratio |"
    echo "| --- | --- | --- | --- |"
    echo "| webhook intake, signed GitHub pushes, c=32, every 202 a committed delivery + job | $in_rps req/s (p50 $in_p50 ms, p99 $in_p99 ms) | pgbench single-row inserts of the payload, c=32: $pg_tps tps | $(ratio "$in_rps" "$pg_tps") |"
    echo "| webhook intake, same wrk script and signature | $in_rps req/s (p99 $in_p99 ms) | adnanh/webhook $wh_version (HMAC rule, runs /bin/true, stores nothing): $wh_best req/s (p99 $wh_p99 ms) | $(ratio "$in_rps" "$wh_best") |"
    echo "| job queue, drain $jobs no-op jobs, 10 workers | $q_best jobs/s | Graphile Worker $g_version, concurrency 10, same cluster: $g_best jobs/s | $(ratio "$q_best" "$g_best") |"
    echo "$api_row"
    echo "| Railway requests per provision, alone, $((build_ms / 1000)) s builds, defaults | $r1 | target <= 8 | - |"
    echo "| Railway requests per provision, 20 at once, $((build_ms / 1000)) s builds, defaults (WORKERS=4) | $r20 ($r20_ok/20 succeeded) | target <= 6 | - |"
    echo "| 20 provisions posted together, $((build_ms / 1000)) s builds, defaults: time until all finish | $r20_wall s (at most $r20_most building at once) | target <= 360 s | - |"
    echo "| peak RSS of railhook serve over the intake rounds | $rss | - | - |"
    echo
    echo "Railway requests per provision by operation, alone: $r1_ops; 20 at once: $r20_ops."
} >"$report"
echo
echo "== bench/report.md"
cat "$report"
