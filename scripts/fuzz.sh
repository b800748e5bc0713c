#!/usr/bin/env bash
# `make fuzz` / `make fuzz-smoke` (which build the fuzz preset first): seeds a corpus for each
# libFuzzer target (fuzz/*.c) from the deliveries railhook-delivery builds, small built-in inputs
# and, when present, ../shared/fixtures (never committed), and runs each target for FUZZ_SECONDS (default 60). Exits non-zero when a
# target finds a crash, a leak or undefined behaviour; the input that did it is left in
# BUILD_DIR/artifacts/.
# Usage: scripts/fuzz.sh BUILD_DIR [TARGET...]   (targets: fuzz/fuzz_<TARGET>.c; default all)
# classify: Railway's answers through railway_classify() and railway_result_details();
# redact: what is stored around jobs, through redact_json() and redact_string();
# variables: worker variable templates through variables_render() (template, newline, row).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/fuzz.sh BUILD_DIR [TARGET...]}
shift
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
    for f in fuzz/fuzz_*.c; do
        t=${f#fuzz/fuzz_}
        targets+=("${t%.c}")
    done
fi
seconds=${FUZZ_SECONDS:-60}
fixtures=${RAILHOOK_FIXTURES:-../shared/fixtures}
mkdir -p "$out/artifacts"

# Seeds: deliveries' bodies and headers in each target's input format.
seed() { # target name < bytes
    mkdir -p "$out/corpus/$1"
    cat >"$out/corpus/$1/$2"
}
# The deliveries the tests build, signed by railhook-delivery (built with the fuzz preset).
gh_secret=fuzz-github-secret
whsec=whsec_ZnV6ei1zdGFuZGFyZC13ZWJob29rcy1rZXkhISEhISE=
for c in $("$out/railhook-delivery" --list); do
    case $c in
    github-*)
        "$out/railhook-delivery" "$c" --secret "$gh_secret" --body "$out/delivery.body" \
            >"$out/delivery.headers"
        seed mapping "$c" <"$out/delivery.body"
        # verify: signature header, timestamp, secret list, webhook-id, then the body.
        { printf '%s\n\n%s\n\n' "$(sed -n 's/^X-Hub-Signature-256: //p' "$out/delivery.headers")" \
            "$gh_secret"; cat "$out/delivery.body"; } | seed verify "$c"
        "$out/railhook-delivery" "$c" --form --body "$out/delivery.body" >/dev/null
        seed form "$c" <"$out/delivery.body"
        ;;
    supabase-*)
        "$out/railhook-delivery" "$c" --whsec "$whsec" --id "msg_$c" --ts 1748873251 \
            --body "$out/delivery.body" >"$out/delivery.headers"
        seed mapping "$c" <"$out/delivery.body"
        seed redact "$c" <"$out/delivery.body"
        { printf '%s\n%s\n%s\n%s\n' "$(sed -n 's/^webhook-signature: //p' "$out/delivery.headers")" \
            1748873251 "$whsec" "msg_$c"; cat "$out/delivery.body"; } | seed verify "$c"
        ;;
    esac
done
# The real files, when they sit beside the checkout.
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
# variables: a template, a newline, a manifest row.
printf '%s\n%s' 'osp-{record.service_schema}-{x}{env.FZ_ENV}{' '{"id":7,"service_schema":"a_b"}' |
    seed variables mixed
printf '%s\n%s' '{"k": {record.id}}' '{"id":"{record.id}"}' | seed variables nested
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
