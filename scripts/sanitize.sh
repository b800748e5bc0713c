#!/usr/bin/env bash
# `make asan` / `make tsan` (which build the presets first): the suites under sanitizers,
# failing on any report, including those of the railhook processes the tests spawn (they write
# to report files, not to a terminal anyone reads).
#   asan  every suite but the browser test, built with ASan+UBSan (the asan preset; leaks fail;
#         tests/sanitizers/lsan.supp suppresses third-party leaks only).
#   tsan  Criterion's runner cannot run under TSan here ("Could not initialize inheritable
#         arena"), so the tests that spawn `railhook serve|migrate|check` run from the debug
#         preset's suites with RAILHOOK_BIN pointing at the tsan preset's railhook, and
#         RAILHOOK_TEST_SERVER at the tsan preset's queue_process test executable (whose `serve`
#         mode, with the test-only job kinds, the queue_process tests spawn): the server,
#         process, migrate, queue_process, check and chaos suites and the kill -9 tests of
#         flows and intake.
# Usage: scripts/sanitize.sh asan|tsan
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
    scripts/test.sh asan -LE browser || status=1
    check_reports || status=1
    ;;
tsan)
    export RAILHOOK_BIN=$PWD/build/tsan/railhook
    export RAILHOOK_TEST_SERVER=$PWD/build/tsan/tests/test_integration_queue_process
    export TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1:log_path=$reports/tsan"
    filter='@(server/*|process/*|migrate/*|queue_process/*|check/*|chaos/*|flows/kill_9*|intake_github/kill_9*)'
    CRITERION_TEST_PATTERN=$filter scripts/test.sh debug -L 'integration|chaos' || status=1
    check_reports || status=1
    ;;
*)
    echo "usage: $0 asan|tsan" >&2
    exit 2
    ;;
esac
exit $status
