#!/usr/bin/env bash
# `make test`: builds, starts a throwaway PostgreSQL cluster, runs every test suite (Criterion
# and the GraphQL schema check), stops the cluster. Exits non-zero on any failure.
# Usage: scripts/test.sh BUILD_DIR [cmake options...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true

scripts/deps.sh test
cmake -S . -B "$build" -DRAILHOOK_TESTS=ON "$@" >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null || cmake --build "$build" -j1

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
echo "== OpenAPI lint"
if [[ ! -d tests/js/node_modules/.bin || tests/js/package-lock.json -nt tests/js/node_modules/.package-lock.json ]]; then
    npm ci --silent --no-audit --no-fund --prefix tests/js >/dev/null
fi
tests/js/node_modules/.bin/redocly lint --format=summary openapi.yaml 2>&1 |
    grep -E "error|warning|valid" || true
tests/js/node_modules/.bin/redocly lint openapi.yaml >/dev/null 2>&1 || {
    echo "openapi.yaml does not lint"
    status=1
}

echo "== Dockerfile runtime stage covers the binary's libraries"
if grep -q '^RAILHOOK_SANITIZE:STRING=.' "$build/CMakeCache.txt"; then
    echo "skipped: a sanitizer build (the check is about the shipped binary)"
else
    tests/docker/check-runtime-libs.sh "$build/railhook" Dockerfile || status=1
fi

echo "== Criterion suite"
"$build/railhook-tests" ${CRITERION_ARGS:-} || status=1

# The status page in headless Chromium (Debian's chromium through playwright-core). It runs
# in the full suite; a filtered run (CRITERION_ARGS set) skips it unless BROWSER_TEST=on, and
# BROWSER_TEST=off always skips it.
if [[ "${BROWSER_TEST:-}" == on || ( -z "${CRITERION_ARGS:-}" && "${BROWSER_TEST:-}" != off ) ]]; then
    echo "== Status page in headless Chromium"
    node tests/browser/status-page.mjs "$build" || status=1
fi

echo "== Recorded responses against openapi.yaml"
node tests/js/check-responses.mjs "$tmp/responses" || status=1
exit $status
