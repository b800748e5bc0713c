#!/usr/bin/env bash
# Makes sure the packages a task needs are installed: the Debian packages with apt-get when
# run as root (otherwise it prints the exact command and fails), then the Node packages of the
# task's scripts (tests/js for test, bench/graphile for bench) with npm ci when their lock
# file changed.
# Usage: scripts/deps.sh run|test|bench|fuzz
set -euo pipefail
cd "$(dirname "$0")/.."

base=(build-essential cmake pkg-config libmicrohttpd-dev libcurl4-openssl-dev libcjson-dev
      libpq-dev libssl-dev postgresql)
node_dir=
case "${1:-run}" in
    run) want=("${base[@]}") ;;
    test) want=("${base[@]}" libcriterion-dev nodejs npm clang clang-format libclang-rt-14-dev
                chromium)
          node_dir=tests/js ;;
    bench) want=("${base[@]}" libcriterion-dev wrk postgresql-contrib nodejs npm webhook)
           node_dir=bench/graphile ;;
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
if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ $(id -u) -eq 0 ]]; then
        echo "deps: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    else
        echo "deps: missing packages: ${missing[*]}" >&2
        echo "deps: run as root:  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
fi

if [[ -n "$node_dir" && ( ! -d "$node_dir/node_modules" ||
      "$node_dir/package-lock.json" -nt "$node_dir/node_modules/.package-lock.json" ) ]]; then
    npm ci --silent --no-audit --no-fund --prefix "$node_dir" >/dev/null
fi
