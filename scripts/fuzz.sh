#!/usr/bin/env bash
# `make fuzz` / `make fuzz-smoke`: builds the libFuzzer targets in fuzz/ with clang
# (ASan + UBSan) against the library sources they exercise, makes a seed corpus from
# ../shared/fixtures (never committed), and runs each target for FUZZ_SECONDS (default 60).
# Exits non-zero when a target finds a crash, a leak or undefined behaviour; the input that
# did it is left in BUILD_DIR/artifacts/.
# Usage: scripts/fuzz.sh [BUILD_DIR] [TARGET...]   (targets: verify form mapping)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build-fuzz}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(verify form mapping)
seconds=${FUZZ_SECONDS:-60}
fixtures=${RAILHOOK_FIXTURES:-../shared/fixtures}

scripts/deps.sh fuzz
cc=$(command -v clang || command -v clang-14 || true)
[[ -n "$cc" ]] || { echo "fuzz: clang not found" >&2; exit 1; }

# The library sources the targets reach (mapping reads the flows' variable templates).
sources=(handlers/verify.c handlers/form.c handlers/mapping.c worker/variables.c
         util/util.c util/config.c util/redact.c util/log.c)
cflags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
        -fno-omit-frame-pointer -I. -D_GNU_SOURCE -DRAILHOOK_VERSION=\"fuzz\"
        $(pkg-config --cflags libcjson libpq libcrypto))
libs=($(pkg-config --libs libcjson libpq libcrypto) -lm -pthread)

mkdir -p "$out/artifacts"
for t in "${targets[@]}"; do
    echo "== build fuzz_$t"
    "$cc" "${cflags[@]}" -o "$out/fuzz_$t" "fuzz/fuzz_$t.c" "${sources[@]}" "${libs[@]}"
done

# Seeds: the fixtures' bodies and headers in each target's input format.
seed() { # target name < bytes
    mkdir -p "$out/corpus/$1"
    cat >"$out/corpus/$1/$2"
}
if [[ -d "$fixtures" ]]; then
    for f in "$fixtures"/github/*/*.payload.json "$fixtures"/supabase/*.body.json; do
        seed mapping "$(basename "$f")" <"$f"
    done
    seed form push-2015.form <"$fixtures/github/signatures/push-branch-update-2015.form-urlencoded.body"
    # verify: signature header, timestamp, secret list, webhook-id, then the body.
    perl -MJSON::PP -e '
        my ($dir, $out) = @ARGV;
        sub slurp { local $/; open my $f, "<", $_[0] or die "$_[0]: $!"; binmode $f; <$f> }
        sub put { open my $f, ">", "$out/$_[0]" or die; binmode $f; print $f $_[1]; }
        my $gh = decode_json(slurp("$dir/github/signatures/github-signatures.json"));
        my $v = $gh->{official_github_test_vector};
        put("gh-official", "$v->{\"X-Hub-Signature-256\"}\n\n$v->{secret}\n\n$v->{payload}");
        for my $f (@{$gh->{files}}) {
            (my $name = $f->{file}) =~ s{.*/}{};
            put("gh-$name", "$f->{\"X-Hub-Signature-256\"}\n\n$gh->{secret_used_for_fixture_files}\n\n"
                . slurp("$dir/github/$f->{file}"));
        }
        my $tv = decode_json(slurp("$dir/standard-webhooks/test-vectors.json"));
        my $i = 0;
        for my $v (@{$tv->{official}}, @{$tv->{derived}}) {
            my $sig = $v->{"expected_webhook-signature"} // $v->{"webhook-signature"} // next;
            my $secret = $v->{secret} // join(",", @{$v->{secrets} // []});
            my $body = defined $v->{payload_file} ? slurp("$dir/standard-webhooks/$v->{payload_file}")
                                                  : ($v->{payload} // "");
            put("swh-" . $i++, "$sig\n$v->{\"webhook-timestamp\"}\n$secret\n$v->{\"webhook-id\"}\n$body");
        }
    ' "$fixtures" "$(mkdir -p "$out/corpus/verify" && cd "$out/corpus/verify" && pwd)"
else
    echo "fuzz: $fixtures is absent; starting from tiny seeds" >&2
fi
printf '{}' | seed mapping empty-object
printf 'payload=%%7B%%7D&x=1' | seed form tiny
printf 'sha256=00\n1\nsecret\nid\nbody' | seed verify tiny

status=0
for t in "${targets[@]}"; do
    echo "== fuzz_$t for ${seconds}s"
    mkdir -p "$out/corpus/$t"
    if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        "$out/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" \
        "$out/corpus/$t" >"$out/fuzz_$t.log" 2>&1; then
        echo "fuzz_$t FAILED (see $out/fuzz_$t.log and $out/artifacts/)" >&2
        tail -n 40 "$out/fuzz_$t.log" >&2
        status=1
    else
        grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|^Done' "$out/fuzz_$t.log" || true
        echo "fuzz_$t ok"
    fi
done
exit $status
