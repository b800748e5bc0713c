/* Signature checks against GitHub's published vector, every signed GitHub fixture, the
 * Standard Webhooks reference vectors (official, negative and derived), and bearer secrets. */
#include "handlers/verify.h"
#include "support/harness.h"
#include "util/util.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GH_SECRET "It's a Secret to Everybody"

/* Parses a fixture JSON file, or skips the test when the fixtures are absent. */
static cJSON *fixture_json(const char *rel)
{
    char *path = th_fixture_path(rel);
    if (!path)
        cr_skip_test("fixture %s is absent (../shared/fixtures)", rel);
    char *text = th_read_file(path, NULL);
    cJSON *j = cJSON_Parse(text);
    cr_assert_not_null(j, "%s is not JSON", rel);
    free(text);
    free(path);
    return j;
}

static char *fixture_bytes(const char *rel, size_t *len)
{
    char *path = th_fixture_path(rel);
    if (!path)
        cr_skip_test("fixture %s is absent (../shared/fixtures)", rel);
    char *data = th_read_file(path, len);
    free(path);
    return data;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    cr_assert(cJSON_IsString(v), "fixture has no string %s", key);
    return v->valuestring;
}

static void expect_github(const char *csv, const char *header, const void *body, size_t len,
                          const char *want_reason)
{
    const char *reason = "unset";
    enum rh_status st = verify_github(csv, header, body, len, &reason);
    if (!want_reason) {
        cr_assert_eq(st, RH_OK, "expected a match, got %s", reason ? reason : "(null)");
        cr_assert_null(reason);
    } else {
        cr_assert_eq(st, RH_INVALID);
        cr_assert_str_eq(reason, want_reason);
    }
}

Test(verify, github_official_vector_from_the_docs)
{
    cJSON *sigs = fixture_json("github/signatures/github-signatures.json");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(sigs, "official_github_test_vector");
    const char *payload = str(v, "payload");
    cr_assert_str_eq(str(v, "secret"), GH_SECRET);
    expect_github(str(v, "secret"), str(v, "X-Hub-Signature-256"), payload, strlen(payload), NULL);
    /* The vector as quoted, independent of the fixture file. */
    expect_github(GH_SECRET,
                  "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
                  "Hello, World!", 13, NULL);
    expect_github(GH_SECRET,
                  "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
                  "Hello, World?", 13, "signature_mismatch");
    cJSON_Delete(sigs);
}

Test(verify, github_every_fixture_file_verifies_over_its_exact_bytes)
{
    cJSON *sigs = fixture_json("github/signatures/github-signatures.json");
    const cJSON *files = cJSON_GetObjectItemCaseSensitive(sigs, "files");
    const cJSON *f;
    int n = 0;
    cJSON_ArrayForEach(f, files)
    {
        char rel[256];
        snprintf(rel, sizeof(rel), "github/%s", str(f, "file"));
        size_t len = 0;
        char *body = fixture_bytes(rel, &len);
        cr_assert_eq((double)len,
                     cJSON_GetObjectItemCaseSensitive(f, "Content-Length")->valuedouble, "%s", rel);
        expect_github(str(sigs, "secret_used_for_fixture_files"), str(f, "X-Hub-Signature-256"),
                      body, len, NULL);
        /* One flipped byte anywhere fails. */
        body[len / 2] ^= 0x01;
        expect_github(GH_SECRET, str(f, "X-Hub-Signature-256"), body, len, "signature_mismatch");
        free(body);
        n++;
    }
    cr_assert_eq(n, 9, "expected the nine signed fixtures, saw %d", n);
    cJSON_Delete(sigs);
}

Test(verify, github_form_body_is_signed_as_sent_not_as_decoded)
{
    cJSON *sigs = fixture_json("github/signatures/github-signatures.json");
    const cJSON *form = cJSON_GetObjectItemCaseSensitive(sigs, "form_encoded_example");
    char rel[256];
    snprintf(rel, sizeof(rel), "github/%s", str(form, "file"));
    size_t len = 0;
    char *body = fixture_bytes(rel, &len);
    expect_github(GH_SECRET, str(form, "X-Hub-Signature-256"), body, len, NULL);
    expect_github(GH_SECRET, str(form, "X-Hub-Signature-256_of_decoded_json_WRONG_if_used"), body,
                  len, "signature_mismatch");
    free(body);
    cJSON_Delete(sigs);
}

Test(verify, github_negative_cases)
{
    cJSON *sigs = fixture_json("github/signatures/github-signatures.json");
    const cJSON *neg = cJSON_GetObjectItemCaseSensitive(sigs, "negative_cases");
    size_t len = 0;
    char *body = fixture_bytes(
        "github/push/developer.github.com-push-branch-update-2015.payload.json", &len);
    const cJSON *c;
    int seen = 0;
    cJSON_ArrayForEach(c, neg)
    {
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(c, "hmac_of_reserialized_body");
        if (!h)
            h = cJSON_GetObjectItemCaseSensitive(c, "hmac_of_body_without_final_newline");
        if (h) {
            expect_github(GH_SECRET, h->valuestring, body, len, "signature_mismatch");
            seen++;
        }
        h = cJSON_GetObjectItemCaseSensitive(c, "header");
        if (h) {
            expect_github(GH_SECRET, h->valuestring, body, len, "malformed_signature");
            seen++;
        }
    }
    cr_assert_eq(seen, 4);
    /* The fixture's own signature still passes. */
    expect_github(GH_SECRET,
                  "sha256=d44c5ca3657a9eacf3de7c36b290ffeecb2a11ba235416bffc390909800dc0c9", body,
                  len, NULL);
    expect_github(GH_SECRET, NULL, body, len, "missing_signature");
    expect_github(GH_SECRET, "", body, len, "missing_signature");
    expect_github(GH_SECRET, "sha1=4d6c43bdfb52fe76aded4d262ba58140d26283df", body, len,
                  "malformed_signature");
    expect_github(GH_SECRET,
                  "sha256=d44c5ca3657a9eacf3de7c36b290ffeecb2a11ba235416bffc390909800dc0c", body,
                  len, "malformed_signature");
    free(body);
    cJSON_Delete(sigs);
}

Test(verify, github_secret_rotation_and_empty_lists)
{
    const char *sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    expect_github("old-secret," GH_SECRET, sig, "Hello, World!", 13, NULL);
    expect_github(" " GH_SECRET " , new-secret,", sig, "Hello, World!", 13, NULL);
    expect_github("old-secret,new-secret", sig, "Hello, World!", 13, "signature_mismatch");
    expect_github("", sig, "Hello, World!", 13, "no_secret");
    expect_github(" , ,", sig, "Hello, World!", 13, "no_secret");
    expect_github(NULL, sig, "Hello, World!", 13, "no_secret");
    cr_assert(verify_secrets_configured("a"));
    cr_assert(verify_secrets_configured(" ,b"));
    cr_assert_not(verify_secrets_configured(" , "));
    cr_assert_not(verify_secrets_configured(NULL));
}

Test(verify, bearer_tokens)
{
    const char *reason = NULL;
    cr_assert_eq(verify_bearer("s1,s2", "Bearer s2", &reason), RH_OK);
    cr_assert_eq(verify_bearer("s1,s2", "bearer   s1 ", &reason), RH_OK);
    cr_assert_eq(verify_bearer("s1", "Bearer s2", &reason), RH_INVALID);
    cr_assert_str_eq(reason, "token_mismatch");
    cr_assert_eq(verify_bearer("s1", "Bearer s1x", &reason), RH_INVALID);
    cr_assert_eq(verify_bearer("s1", "Basic s1", &reason), RH_INVALID);
    cr_assert_str_eq(reason, "malformed_token");
    cr_assert_eq(verify_bearer("s1", "Bearer ", &reason), RH_INVALID);
    cr_assert_eq(verify_bearer("s1", NULL, &reason), RH_INVALID);
    cr_assert_str_eq(reason, "missing_token");
    cr_assert_eq(verify_bearer("", "Bearer x", &reason), RH_INVALID);
    cr_assert_str_eq(reason, "no_secret");
}

Test(verify, base64_decoding)
{
    unsigned char out[64];
    size_t n = 0;
    cr_assert_eq(verify_base64_decode("aGVsbG8=", 8, out, sizeof(out), &n), RH_OK);
    cr_assert_eq(n, 5);
    cr_assert_eq(memcmp(out, "hello", 5), 0);
    cr_assert_eq(verify_base64_decode("aGVsbG8", 7, out, sizeof(out), &n), RH_OK);
    cr_assert_eq(n, 5);
    cr_assert_eq(verify_base64_decode("", 0, out, sizeof(out), &n), RH_OK);
    cr_assert_eq(n, 0);
    cr_assert_eq(verify_base64_decode("+/+/", 4, out, sizeof(out), &n), RH_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(out[0], 0xfb);
    cr_assert_eq(verify_base64_decode("aGVsb", 5, out, sizeof(out), &n), RH_INVALID);
    cr_assert_eq(verify_base64_decode("aGVs*G8=", 8, out, sizeof(out), &n), RH_INVALID);
    cr_assert_eq(verify_base64_decode("aGVsbG8==", 9, out, sizeof(out), &n), RH_INVALID);
    cr_assert_eq(verify_base64_decode("aG=sbG8=", 8, out, sizeof(out), &n), RH_INVALID);
    cr_assert_eq(verify_base64_decode("aGVsbG8=", 8, out, 4, &n), RH_INVALID);
}

static void expect_swh(const char *csv, const char *id, const char *ts, const char *sig,
                       const char *body, int64_t now, const char *want_reason)
{
    struct verify_swh_input in = {
        .id = id,
        .timestamp = ts,
        .signature = sig,
        .body = body,
        .len = body ? strlen(body) : 0,
        .now_s = now,
        .tolerance_s = VERIFY_SWH_TOLERANCE_S,
    };
    const char *reason = "unset";
    enum rh_status st = verify_swh(csv, &in, &reason);
    if (!want_reason) {
        cr_assert_eq(st, RH_OK, "expected a match, got %s", reason ? reason : "(null)");
    } else {
        cr_assert_eq(st, RH_INVALID, "expected %s, got a match", want_reason);
        cr_assert_str_eq(reason, want_reason);
    }
}

static int64_t ts_of(const cJSON *v)
{
    int64_t ts = 0;
    cr_assert(parse_i64(str(v, "webhook-timestamp"), 0, INT64_MAX, &ts));
    return ts;
}

Test(verify, standard_webhooks_official_vectors)
{
    cJSON *tv = fixture_json("standard-webhooks/test-vectors.json");
    const cJSON *v;
    int n = 0;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(tv, "official"))
    {
        if (!cJSON_GetObjectItemCaseSensitive(v, "secret"))
            continue;
        expect_swh(str(v, "secret"), str(v, "webhook-id"), str(v, "webhook-timestamp"),
                   str(v, "expected_webhook-signature"), str(v, "payload"), ts_of(v), NULL);
        /* The tolerance is 300 s either way, inclusive. */
        expect_swh(str(v, "secret"), str(v, "webhook-id"), str(v, "webhook-timestamp"),
                   str(v, "expected_webhook-signature"), str(v, "payload"), ts_of(v) + 300, NULL);
        expect_swh(str(v, "secret"), str(v, "webhook-id"), str(v, "webhook-timestamp"),
                   str(v, "expected_webhook-signature"), str(v, "payload"), ts_of(v) - 300, NULL);
        expect_swh(str(v, "secret"), str(v, "webhook-id"), str(v, "webhook-timestamp"),
                   str(v, "expected_webhook-signature"), str(v, "payload"), ts_of(v) + 301,
                   "timestamp_too_old");
        expect_swh(str(v, "secret"), str(v, "webhook-id"), str(v, "webhook-timestamp"),
                   str(v, "expected_webhook-signature"), str(v, "payload"), ts_of(v) - 301,
                   "timestamp_too_new");
        /* Tampered body and another id fail. */
        char *tampered = xasprintf("%s ", str(v, "payload"));
        expect_swh(str(v, "secret"), str(v, "webhook-id"), str(v, "webhook-timestamp"),
                   str(v, "expected_webhook-signature"), tampered, ts_of(v), "signature_mismatch");
        free(tampered);
        expect_swh(str(v, "secret"), "msg_other", str(v, "webhook-timestamp"),
                   str(v, "expected_webhook-signature"), str(v, "payload"), ts_of(v),
                   "signature_mismatch");
        n++;
    }
    cr_assert_eq(n, 2);
    cJSON_Delete(tv);
}

Test(verify, standard_webhooks_spec_example_header_parses)
{
    cJSON *tv = fixture_json("standard-webhooks/test-vectors.json");
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(tv, "official"))
    {
        if (cJSON_GetObjectItemCaseSensitive(v, "secret"))
            continue;
        unsigned char macs[VERIFY_MAX_SIGNATURES][VERIFY_MAC_LEN];
        size_t n = 0;
        cr_assert_eq(verify_swh_signatures_parse(str(v, "webhook-signature"), macs,
                                                 VERIFY_MAX_SIGNATURES, &n),
                     RH_OK);
        cr_assert_eq(n, 1, "only the v1 entry counts, v1a is skipped");
    }
    cJSON_Delete(tv);
}

Test(verify, standard_webhooks_negative_and_edge_cases)
{
    cJSON *tv = fixture_json("standard-webhooks/test-vectors.json");
    const cJSON *off = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(tv, "official"), 0);
    const char *secret = str(off, "secret");
    const char *id = str(off, "webhook-id");
    const char *ts = str(off, "webhook-timestamp");
    const char *sig = str(off, "expected_webhook-signature");
    const char *body = str(off, "payload");
    int64_t now = ts_of(off);
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(tv, "official_negative_and_edge_cases"))
    {
        const char *name = str(c, "case");
        const cJSON *secrets = cJSON_GetObjectItemCaseSensitive(c, "secrets");
        const cJSON *s;
        if (strstr(name, "empty secret")) {
            cJSON_ArrayForEach(s, secrets)
            {
                unsigned char key[VERIFY_MAX_KEY];
                size_t n = 0;
                cr_assert_eq(verify_swh_key(s->valuestring, strlen(s->valuestring), key, &n),
                             RH_INVALID, "secret '%s' must be refused", s->valuestring);
                expect_swh(s->valuestring, id, ts, sig, body, now,
                           *s->valuestring ? "signature_mismatch" : "no_secret");
            }
        } else if (strstr(name, "with or without")) {
            cJSON_ArrayForEach(s, secrets)
            {
                expect_swh(s->valuestring, id, ts, sig, body, now, NULL);
            }
        } else if (strstr(name, "missing webhook-id")) {
            expect_swh(secret, NULL, ts, sig, body, now, "missing_id");
            expect_swh(secret, id, NULL, sig, body, now, "missing_timestamp");
            expect_swh(secret, id, ts, NULL, body, now, "missing_signature");
            expect_swh(secret, "", ts, sig, body, now, "missing_id");
        } else if (strstr(name, "non-integer")) {
            expect_swh(secret, id, str(c, "webhook-timestamp"), sig, body, now,
                       "malformed_timestamp");
            expect_swh(secret, id, "-1614265330", sig, body, now, "malformed_timestamp");
            expect_swh(secret, id, " 1614265330", sig, body, now, "malformed_timestamp");
        } else if (strstr(name, "older than")) {
            expect_swh(secret, id, ts, sig, body, now + 301, "timestamp_too_old");
            expect_swh(secret, id, ts, sig, body, now - 301, "timestamp_too_new");
        } else if (strstr(name, "wrong signature")) {
            expect_swh(secret, id, ts, str(c, "webhook-signature"), body, now,
                       "signature_mismatch");
        } else if (strstr(name, "partial")) {
            char first8[9];
            snprintf(first8, sizeof(first8), "%s", sig);
            expect_swh(secret, id, ts, "v1,", body, now, "malformed_signature");
            expect_swh(secret, id, ts, first8, body, now, "malformed_signature");
        } else if (strstr(name, "wrong version")) {
            expect_swh(secret, id, ts, str(c, "webhook-signature"), body, now,
                       "malformed_signature");
        } else if (strstr(name, "multi-signature")) {
            const char *tmpl = str(c, "webhook-signature_template");
            const char *hole = strstr(tmpl, "<valid v1 sig>");
            cr_assert_not_null(hole);
            char *multi = xasprintf("%.*s%s%s", (int)(hole - tmpl), tmpl, sig,
                                    hole + strlen("<valid v1 sig>"));
            expect_swh(secret, id, ts, multi, body, now, NULL);
            /* The same header without the valid entry fails. */
            char *without =
                xasprintf("%.*s%s", (int)(hole - tmpl), tmpl, hole + strlen("<valid v1 sig> "));
            expect_swh(secret, id, ts, without, body, now, "signature_mismatch");
            free(multi);
            free(without);
        } else if (strstr(name, "unpadded")) {
            cJSON_ArrayForEach(s, secrets)
            {
                unsigned char key[VERIFY_MAX_KEY];
                size_t n = 0;
                cr_assert_eq(verify_swh_key(s->valuestring, strlen(s->valuestring), key, &n), RH_OK,
                             "unpadded secret '%s' decodes", s->valuestring);
                cr_assert_gt(n, 20);
            }
        }
    }
    cJSON_Delete(tv);
}

Test(verify, standard_webhooks_derived_vectors)
{
    cJSON *tv = fixture_json("standard-webhooks/test-vectors.json");
    const cJSON *v;
    int n = 0;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(tv, "derived"))
    {
        const char *name = str(v, "name");
        if (strcmp(name, "manifests_insert_signed") == 0) {
            size_t len = 0;
            char *body = fixture_bytes("supabase/manifests.insert.body.json", &len);
            expect_swh(str(v, "secret"), str(v, "webhook-id"), str(v, "webhook-timestamp"),
                       str(v, "expected_webhook-signature"), body, ts_of(v), NULL);
            free(body);
        } else if (strcmp(name, "rotation_two_secrets") == 0) {
            const cJSON *s;
            cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(v, "secrets"))
            {
                expect_swh(s->valuestring, str(v, "webhook-id"), str(v, "webhook-timestamp"),
                           str(v, "webhook-signature"), str(v, "payload"), ts_of(v), NULL);
                char *list = xasprintf("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,%s", s->valuestring);
                expect_swh(list, str(v, "webhook-id"), str(v, "webhook-timestamp"),
                           str(v, "webhook-signature"), str(v, "payload"), ts_of(v), NULL);
                free(list);
            }
        } else if (strcmp(name, "empty_body") == 0) {
            expect_swh(str(v, "secret"), str(v, "webhook-id"), str(v, "webhook-timestamp"),
                       str(v, "expected_webhook-signature"), "", ts_of(v), NULL);
        } else if (strcmp(name, "supabase_auth_hook_secret_format") == 0) {
            const cJSON *off =
                cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(tv, "official"), 0);
            unsigned char k1[VERIFY_MAX_KEY], k2[VERIFY_MAX_KEY];
            size_t n1 = 0, n2 = 0;
            const char *sb = str(v, "supabase_style_secret");
            const char *std = str(v, "equivalent_standard_secret");
            cr_assert_eq(verify_swh_key(sb, strlen(sb), k1, &n1), RH_OK);
            cr_assert_eq(verify_swh_key(std, strlen(std), k2, &n2), RH_OK);
            cr_assert_eq(n1, n2);
            cr_assert_eq(memcmp(k1, k2, n1), 0);
            /* Written into a comma-separated list, with its comma, alone or with others. */
            expect_swh(sb, str(off, "webhook-id"), str(off, "webhook-timestamp"),
                       str(off, "expected_webhook-signature"), str(off, "payload"), ts_of(off),
                       NULL);
            char *list = xasprintf("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD, %s", sb);
            expect_swh(list, str(off, "webhook-id"), str(off, "webhook-timestamp"),
                       str(off, "expected_webhook-signature"), str(off, "payload"), ts_of(off),
                       NULL);
            free(list);
        } else {
            cr_assert_fail("unknown derived vector %s", name);
        }
        n++;
    }
    cr_assert_eq(n, 4);
    cJSON_Delete(tv);
}

Test(verify, standard_webhooks_malformed_ids_are_refused)
{
    expect_swh("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "has space", "1614265330",
               "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "{}", 1614265330, "malformed_id");
    char *long_id = xmalloc(300);
    memset(long_id, 'a', 299);
    long_id[299] = '\0';
    expect_swh("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", long_id, "1614265330",
               "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "{}", 1614265330, "malformed_id");
    free(long_id);
}
