#!/usr/bin/env bash
# `make asan` / `make tsan`: the suite under sanitizers, failing on any report, including
# those of the railhook processes the tests spawn (they write to report files, not to a
# terminal anyone reads).
#   asan  the whole suite built with ASan+UBSan (leaks fail; tests/sanitizers/lsan.supp
#         suppresses third-party leaks only), in build-asan.
#   tsan  Criterion's runner cannot run under TSan here ("Could not initialize inheritable
#         arena"), so the tests that spawn `railhook serve|migrate|check` run from the normal
#         test binary (build/) with RAILHOOK_BIN pointing at a TSan build of railhook
#         (build-tsan/railhook) and RAILHOOK_TEST_SERVER at a TSan build of the test binary,
#         whose `serve` mode the queue_process tests spawn: the server, process, migrate,
#         queue_process, check and chaos suites and the kill -9 tests of flows and intake.
# Usage: scripts/sanitize.sh asan|tsan
# Build folders: ASAN_BUILD_DIR (build-asan), TSAN_BUILD_DIR (build-tsan), TEST_BUILD_DIR
# (build: the normal test binary the tsan run uses).
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-}
reports=$(mktemp -d /tmp/railhook-sanitize.XXXXXX)
chmod 755 "$reports"
trap 'rm -rf "$reports"' EXIT

check_reports() {
    local files
    files=$(find "$reports" -type f -size +0 | sort)
    if [[ -n "$files" ]]; then
        echo "sanitizer reports ($(wc -l <<<"$files")):" >&2
        for f in $files; do
            echo "---- $f" >&2
            head -n 60 "$f" >&2
        done
        return 1
    fi
    echo "sanitizer reports: none"
}

status=0
case "$kind" in
asan)
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:log_path=$reports/asan"
    export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"
    BROWSER_TEST=off scripts/test.sh "${ASAN_BUILD_DIR:-build-asan}" -DCMAKE_BUILD_TYPE=Debug \
        -DRAILHOOK_SANITIZE=address || status=1
    check_reports || status=1
    ;;
tsan)
    scripts/deps.sh test
    tsan_build=${TSAN_BUILD_DIR:-build-tsan}
    cmake -S . -B "$tsan_build" -DCMAKE_BUILD_TYPE=Debug -DRAILHOOK_SANITIZE=thread \
        -DRAILHOOK_TESTS=ON >/dev/null
    cmake --build "$tsan_build" -j"$(nproc)" --target railhook railhook-tests >/dev/null
    export RAILHOOK_BIN=$PWD/$tsan_build/railhook
    export RAILHOOK_TEST_SERVER=$PWD/$tsan_build/railhook-tests
    export TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1:log_path=$reports/tsan"
    filter='@(server/*|process/*|migrate/*|queue_process/*|check/*|chaos/*|flows/kill_9*|intake_github/kill_9*)'
    CRITERION_ARGS="--filter $filter" scripts/test.sh "${TEST_BUILD_DIR:-build}" \
        -DCMAKE_BUILD_TYPE=Debug || status=1
    check_reports || status=1
    ;;
*)
    echo "usage: $0 asan|tsan" >&2
    exit 2
    ;;
esac
exit $status
