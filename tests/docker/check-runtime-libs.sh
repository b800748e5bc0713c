#!/usr/bin/env bash
# Checks that the Dockerfile's runtime stage installs every shared library the railhook
# binary links: each library `ldd` reports is mapped to its Debian package (dpkg -S), which
# must be one of the runtime packages, one of their dependencies, or part of the base image
# (Priority: required). No Docker engine is needed.
# Usage: tests/docker/check-runtime-libs.sh BINARY [DOCKERFILE]
set -euo pipefail
bin=${1:?usage: $0 BINARY [DOCKERFILE]}
dockerfile=${2:-$(dirname "$0")/../../Dockerfile}

runtime=$(sed -n '/# runtime-packages: begin/,/# runtime-packages: end/p' "$dockerfile" |
    tr ' \\' '\n\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' |
    grep -vE '^(run|apt-get|update|install|rm|y|no|install-recommends|var|lib|apt|lists)$' |
    sort -u)
[[ -n "$runtime" ]] || { echo "docker: no runtime packages found in $dockerfile"; exit 1; }

# Everything those packages bring with them, plus the base image's required packages.
provided=$( { echo "$runtime"
    apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
        --no-replaces --no-enhances $runtime 2>/dev/null | grep -E '^[a-z0-9]' | sed 's/:.*//'
    dpkg-query -W -f='${Package} ${Priority}\n' | awk '$2 == "required" {print $1}'
} | sed 's/:amd64$//; s/:arm64$//' | sort -u)

passed=0
failed=0
while read -r lib path; do
    [[ -n "$path" && -e "$path" ]] || continue
    real=$(readlink -f "$path")
    pkg=$(dpkg -S "$path" 2>/dev/null || dpkg -S "$real" 2>/dev/null || true)
    pkg=${pkg%%:*}
    pkg=${pkg%%,*}
    if [[ -z "$pkg" ]]; then
        echo "FAIL $lib ($path): no Debian package owns it"
        failed=$((failed + 1))
    elif grep -qx "$pkg" <<<"$provided"; then
        passed=$((passed + 1))
    else
        echo "FAIL $lib: package $pkg is not installed by the Dockerfile's runtime stage"
        failed=$((failed + 1))
    fi
done < <(ldd "$bin" | awk '/=>/ {print $1, $3} /ld-linux/ {print $1, $1}')

echo "docker runtime libraries: $passed passed, $failed failed"
[[ $failed -eq 0 && $passed -gt 0 ]]
