#!/usr/bin/env bash
# Runs CTest on a preset's build (built already: `make test` builds it) against a throwaway
# PostgreSQL cluster: starts the cluster, migrates its template database, exports what the
# suites read (RAILHOOK_TEST_PGURL, RAILHOOK_TEST_TEMPLATE, RAILHOOK_TEST_TMP), runs ctest,
# stops the cluster. Then prints each Criterion suite's summary and their total, and exits
# non-zero on any failure.
# Usage: scripts/test.sh PRESET [ctest options...]
#   scripts/test.sh debug                 every suite
#   scripts/test.sh debug -L unit         a label: unit integration sim chaos js docker browser
#   scripts/test.sh debug -R integration/flows -LE browser
# CRITERION_TEST_PATTERN (e.g. 'flows/kill_9*') filters the tests inside each Criterion suite.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:?usage: scripts/test.sh PRESET [ctest options...]}
shift
build=build/$preset
[[ -f "$build/CTestTestfile.cmake" && -x "$build/railhook" ]] || {
    echo "test: build the $preset preset first (make test does)" >&2
    exit 1
}

tmp=$(mktemp -d /tmp/railhook-test.XXXXXX)
chmod 755 "$tmp"
port=$(scripts/free-port.sh)
cleanup() {
    scripts/pg.sh stop "$tmp/pg" || true
    rm -rf "$tmp"
}
trap cleanup EXIT
scripts/pg.sh start "$tmp/pg" "$port" fast
base=$(scripts/pg.sh url "$tmp/pg" "$port" postgres)
psql -q "$base" -c "CREATE DATABASE railhook_template" >/dev/null
DATABASE_URL=$(scripts/pg.sh url "$tmp/pg" "$port" railhook_template) LOG_LEVEL=warn \
    "$build/railhook" migrate

export RAILHOOK_TEST_PGURL="postgresql://railhook@127.0.0.1:$port"
export RAILHOOK_TEST_TEMPLATE=railhook_template
export RAILHOOK_TEST_TMP="$tmp"

status=0
ctest --preset "$preset" "$@" || status=1

# Each Criterion suite's summary (ctest keeps every test's output in LastTest.log), then their
# total in Criterion's own words.
log=$build/Testing/Temporary/LastTest.log
[[ -f "$log" ]] && awk '
    /^[0-9]+\/[0-9]+ Test: / { name = $3 }
    /Synthesis: Tested:/ {
        line = $0
        sub(/.*Synthesis: /, "", line)
        printf "%-28s %s\n", name, line
        n = split(line, f, /[ |:]+/)
        for (i = 1; i < n; i++) {
            if (f[i] == "Tested") tested += f[i + 1]
            if (f[i] == "Passing") passing += f[i + 1]
            if (f[i] == "Failing") failing += f[i + 1]
            if (f[i] == "Crashing") crashing += f[i + 1]
        }
        suites++
    }
    END {
        if (suites)
            printf "[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | Crashing: %d " \
                "(%d Criterion suites)\n", tested, passing, failing, crashing, suites
    }' "$log"
exit $status
