#!/usr/bin/env bash
# `make fuzz` / `make fuzz-smoke`: builds the libFuzzer targets in fuzz/ with clang
# (ASan + UBSan) against the library sources they exercise, makes a seed corpus from
# ../shared/fixtures (never committed), and runs each target for FUZZ_SECONDS (default 60).
# Exits non-zero when a target finds a crash, a leak or undefined behaviour; the input that
# did it is left in BUILD_DIR/artifacts/.
# Usage: scripts/fuzz.sh [BUILD_DIR] [TARGET...]   (targets: verify form mapping classify redact)
# classify: Railway's answers through railway_classify() and railway_result_details();
# redact: what is stored around jobs, through redact_json() and redact_string().
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build-fuzz}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(verify form mapping classify redact)
seconds=${FUZZ_SECONDS:-60}
fixtures=${RAILHOOK_FIXTURES:-../shared/fixtures}

scripts/deps.sh fuzz
cc=$(command -v clang || command -v clang-14 || true)
[[ -n "$cc" ]] || { echo "fuzz: clang not found" >&2; exit 1; }

# The library sources the targets reach (mapping reads the flows' variable templates).
sources=(handlers/verify.c handlers/form.c handlers/mapping.c flows/variables.c
         railway/classify.c util/util.c util/config.c util/redact.c util/log.c)
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
# classify: two bytes of HTTP status, header lines, a blank line, the body.
answer() { # name status-hex headers body
    { printf "\\x${2:0:2}\\x${2:2:2}"; printf '%b\r\n' "$3"; printf '%s' "$4"; } | seed classify "$1"
}
answer ok 00c8 'X-RateLimit-Limit: 10000\r\nX-RateLimit-Remaining: 9999\r\nX-RateLimit-Reset: 1767225600\r\n' \
    '{"data":{"serviceCreate":{"id":"svc-1","name":"osp-worker-a"}}}'
answer denied 00c8 'Content-Type: application/json\r\n' \
    '{"errors":[{"message":"Not Authorized: fz-alpha-7731","extensions":{"code":"INTERNAL_SERVER_ERROR"}}],"data":null}'
answer problem 00c8 '' '{"errors":[{"message":"Problem processing request"}],"data":null}'
answer limited 01ad 'Retry-After: 3\r\n' '{"errors":[{"message":"rate limit exceeded"}]}'
answer proxy 01f7 'Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n' '<html><body>503 Service Unavailable</body></html>'
answer invalid 0190 '' '{"errors":[{"message":"Unknown argument \"x\" alpha-7731-omega","extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}'
answer straddle 01f4 '' "$(head -c 1995 /dev/zero | tr '\0' x)pgpass-fuzz-0042"
# redact: JSON (and text) as stored in steps, events and errors.
printf '%s' '{"message":"token fz-alpha-7731","fz-alpha-7731":{"Authorization":"Bearer abc.def","n":[1,2.5e3,true,null]}}' |
    seed redact secrets
printf '%s' 'Authorization: Bearer pgpass-fuzz-0042; alpha-7731-omega' | seed redact text
if [[ -d "$fixtures" ]]; then
    for f in "$fixtures"/supabase/*.body.json; do
        seed redact "$(basename "$f")" <"$f"
    done
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
