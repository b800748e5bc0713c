#!/usr/bin/env bash
# Makes sure the Debian packages a task needs are installed: installs them with apt-get when
# run as root, otherwise prints the exact command and fails.
# Usage: scripts/deps.sh run|test|bench|fuzz
set -euo pipefail

base=(build-essential cmake pkg-config libmicrohttpd-dev libcurl4-openssl-dev libcjson-dev
      libpq-dev libssl-dev postgresql)
case "${1:-run}" in
    run) want=("${base[@]}") ;;
    test) want=("${base[@]}" libcriterion-dev nodejs npm clang clang-format libclang-rt-14-dev
                chromium) ;;
    bench) want=("${base[@]}" libcriterion-dev wrk postgresql-contrib nodejs npm webhook) ;;
    fuzz) want=("${base[@]}" libcriterion-dev clang libclang-rt-14-dev) ;;
    *) echo "usage: $0 run|test|bench|fuzz" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
    # Node.js may come from elsewhere than Debian (its npm then comes with it).
    if [[ "$p" == nodejs || "$p" == npm ]] && command -v node >/dev/null && command -v npm >/dev/null; then
        continue
    fi
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
    echo "deps: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
else
    echo "deps: missing packages: ${missing[*]}" >&2
    echo "deps: run as root:  sudo $cmd" >&2
    exit 1
fi
