/* Signature checks: GitHub's published vector, every delivery the tests build (JSON and form,
 * signed as GitHub signs them), the negative cases, Standard Webhooks signatures computed by
 * the documented algorithm with their edge cases, and bearer secrets. The real signed files
 * and the reference vectors beside the checkout, when present, run as extra cases. */
#include "handlers/verify.h"
#include "support/deliveries.h"
#include "support/harness.h"
#include "util/util.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The secret and vector of GitHub's docs ("Validating webhook deliveries"). */
#define GH_SECRET    "It's a Secret to Everybody"
#define GH_VECTOR    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
#define GH_SIGS_FILE "github/signatures/github-signatures.json"
#define SWH_FILE     "standard-webhooks/test-vectors.json"

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
    expect_github(GH_SECRET, GH_VECTOR, "Hello, World!", 13, NULL);
    expect_github(GH_SECRET, GH_VECTOR, "Hello, World?", 13, "signature_mismatch");
    /* The tests' own signer agrees with the docs. */
    char sig[TD_GITHUB_SIG_CAP];
    td_github_sign(GH_SECRET, "Hello, World!", 13, sig);
    cr_assert_str_eq(sig, GH_VECTOR);

    cJSON *sigs = th_fixture_json(GH_SIGS_FILE);
    if (sigs) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(sigs, "official_github_test_vector");
        const char *payload = str(v, "payload");
        expect_github(str(v, "secret"), str(v, "X-Hub-Signature-256"), payload, strlen(payload),
                      NULL);
        cJSON_Delete(sigs);
    }
}

/* A signed body verifies over its exact bytes and fails with any one byte flipped. */
static void expect_signed_bytes(const char *secret, const char *sig, char *body, size_t len,
                                const char *name)
{
    cr_assert_not_null(sig, "%s has no signature", name);
    expect_github(secret, sig, body, len, NULL);
    for (size_t at = 0; at < len; at += len / 7 + 1) {
        body[at] ^= 0x01;
        expect_github(secret, sig, body, len, "signature_mismatch");
        body[at] ^= 0x01;
    }
}

Test(verify, github_every_delivery_verifies_over_its_exact_bytes)
{
    const char *secret = "s3cr\xc3\xa9t", *wrong = "another secret";
    for (int c = 0; c < TD_GITHUB_CASES; c++) {
        for (int form = 0; form < 2; form++) {
            struct td_delivery d;
            td_github_delivery(&d, (enum td_github_case)c, form, secret, "d-1");
            const char *name = td_github_name((enum td_github_case)c);
            expect_signed_bytes(secret, td_delivery_header_value(&d, "X-Hub-Signature-256"), d.body,
                                d.len, name);
            /* The legacy SHA-1 header is not accepted in its place. */
            expect_github(secret, td_delivery_header_value(&d, "X-Hub-Signature"), d.body, d.len,
                          "malformed_signature");
            expect_github(wrong, td_delivery_header_value(&d, "X-Hub-Signature-256"), d.body, d.len,
                          "signature_mismatch");
            td_delivery_free(&d);
        }
    }

    cJSON *sigs = th_fixture_json(GH_SIGS_FILE);
    if (sigs) {
        const cJSON *f;
        int n = 0;
        cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(sigs, "files"))
        {
            char rel[256];
            snprintf(rel, sizeof(rel), "github/%s", str(f, "file"));
            size_t len = 0;
            char *body = th_fixture_read(rel, &len);
            cr_assert_not_null(body, "%s is listed but absent", rel);
            cr_assert_eq((double)len,
                         cJSON_GetObjectItemCaseSensitive(f, "Content-Length")->valuedouble, "%s",
                         rel);
            expect_signed_bytes(str(sigs, "secret_used_for_fixture_files"),
                                str(f, "X-Hub-Signature-256"), body, len, rel);
            free(body);
            n++;
        }
        cr_assert_eq(n, 9, "expected the nine signed files, saw %d", n);
        cJSON_Delete(sigs);
    }
}

Test(verify, github_form_body_is_signed_as_sent_not_as_decoded)
{
    struct td_delivery d;
    td_github_delivery(&d, TD_GITHUB_PUSH, true, GH_SECRET, "d-form");
    size_t jlen = 0;
    char *json = td_github(TD_GITHUB_PUSH, &jlen);
    char over_json[TD_GITHUB_SIG_CAP];
    td_github_sign(GH_SECRET, json, jlen, over_json);
    expect_github(GH_SECRET, td_delivery_header_value(&d, "X-Hub-Signature-256"), d.body, d.len,
                  NULL);
    expect_github(GH_SECRET, over_json, d.body, d.len, "signature_mismatch");
    free(json);
    td_delivery_free(&d);

    cJSON *sigs = th_fixture_json(GH_SIGS_FILE);
    if (sigs) {
        const cJSON *form = cJSON_GetObjectItemCaseSensitive(sigs, "form_encoded_example");
        char rel[256];
        snprintf(rel, sizeof(rel), "github/%s", str(form, "file"));
        size_t len = 0;
        char *body = th_fixture_read(rel, &len);
        cr_assert_not_null(body, "%s is listed but absent", rel);
        expect_github(GH_SECRET, str(form, "X-Hub-Signature-256"), body, len, NULL);
        expect_github(GH_SECRET, str(form, "X-Hub-Signature-256_of_decoded_json_WRONG_if_used"),
                      body, len, "signature_mismatch");
        free(body);
        cJSON_Delete(sigs);
    }
}

Test(verify, github_negative_cases)
{
    size_t len = 0;
    char *body = td_github(TD_GITHUB_PUSH, &len);
    cr_assert_eq(body[len - 1], '\n', "the built push ends with a newline, as GitHub's do");
    char sig[TD_GITHUB_SIG_CAP], other[TD_GITHUB_SIG_CAP];
    td_github_sign(GH_SECRET, body, len, sig);
    expect_github(GH_SECRET, sig, body, len, NULL);

    /* Signed over the body re-serialized, or without its final newline: not these bytes. */
    cJSON *parsed = cJSON_ParseWithLength(body, len);
    char *compact = cJSON_PrintUnformatted(parsed);
    td_github_sign(GH_SECRET, compact, strlen(compact), other);
    expect_github(GH_SECRET, other, body, len, "signature_mismatch");
    cJSON_free(compact);
    cJSON_Delete(parsed);
    td_github_sign(GH_SECRET, body, len - 1, other);
    expect_github(GH_SECRET, other, body, len, "signature_mismatch");

    /* Uppercase hex, no "sha256=" prefix, a sha1 header, one digit short: malformed. */
    snprintf(other, sizeof(other), "%s", sig);
    for (char *p = other + 7; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    expect_github(GH_SECRET, other, body, len, "malformed_signature");
    expect_github(GH_SECRET, sig + 7, body, len, "malformed_signature");
    char sha1[48];
    td_github_sign_sha1(GH_SECRET, body, len, sha1);
    expect_github(GH_SECRET, sha1, body, len, "malformed_signature");
    snprintf(other, sizeof(other), "%.*s", (int)strlen(sig) - 1, sig);
    expect_github(GH_SECRET, other, body, len, "malformed_signature");
    expect_github(GH_SECRET, NULL, body, len, "missing_signature");
    expect_github(GH_SECRET, "", body, len, "missing_signature");
    free(body);

    cJSON *sigs = th_fixture_json(GH_SIGS_FILE);
    if (sigs) {
        body = th_fixture_read(
            "github/push/developer.github.com-push-branch-update-2015.payload.json", &len);
        cr_assert_not_null(body);
        const cJSON *c;
        int seen = 0;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(sigs, "negative_cases"))
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
        free(body);
        cJSON_Delete(sigs);
    }
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
    cr_assert_eq(swh_base64_decode("aGVsbG8=", 8, out, sizeof(out), &n), RH_OK);
    cr_assert_eq(n, 5);
    cr_assert_eq(memcmp(out, "hello", 5), 0);
    cr_assert_eq(swh_base64_decode("aGVsbG8", 7, out, sizeof(out), &n), RH_OK);
    cr_assert_eq(n, 5);
    cr_assert_eq(swh_base64_decode("", 0, out, sizeof(out), &n), RH_OK);
    cr_assert_eq(n, 0);
    cr_assert_eq(swh_base64_decode("+/+/", 4, out, sizeof(out), &n), RH_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(out[0], 0xfb);
    cr_assert_eq(swh_base64_decode("aGVsb", 5, out, sizeof(out), &n), RH_INVALID);
    cr_assert_eq(swh_base64_decode("aGVs*G8=", 8, out, sizeof(out), &n), RH_INVALID);
    cr_assert_eq(swh_base64_decode("aGVsbG8==", 9, out, sizeof(out), &n), RH_INVALID);
    cr_assert_eq(swh_base64_decode("aG=sbG8=", 8, out, sizeof(out), &n), RH_INVALID);
    cr_assert_eq(swh_base64_decode("aGVsbG8=", 8, out, 4, &n), RH_INVALID);
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

/* ---- Standard Webhooks ---- */

/* One signed message: the secret, webhook-id, webhook-timestamp, signature header and body. */
struct swh_vector {
    const char *secret;
    const char *id;
    const char *ts;
    const char *sig;
    const char *body;
};

static int64_t ts_of(const struct swh_vector *v)
{
    int64_t ts = 0;
    cr_assert(parse_i64(v->ts, 0, INT64_MAX, &ts), "%s", v->ts);
    return ts;
}

/* A Standard Webhooks secret for n key bytes the test chooses from seed. */
static void chosen_secret(unsigned char seed, size_t n, char out[TD_SWH_SECRET_CAP])
{
    unsigned char key[64];
    for (size_t i = 0; i < n; i++)
        key[i] = (unsigned char)(seed + 37 * i);
    td_swh_secret(key, n, out);
}

/* A valid signature verifies at its timestamp and up to 300 s either side (inclusive), and
 * fails past that, over a tampered body, or under another id. */
static void expect_swh_vector(const struct swh_vector *v)
{
    int64_t ts = ts_of(v);
    expect_swh(v->secret, v->id, v->ts, v->sig, v->body, ts, NULL);
    expect_swh(v->secret, v->id, v->ts, v->sig, v->body, ts + 300, NULL);
    expect_swh(v->secret, v->id, v->ts, v->sig, v->body, ts - 300, NULL);
    expect_swh(v->secret, v->id, v->ts, v->sig, v->body, ts + 301, "timestamp_too_old");
    expect_swh(v->secret, v->id, v->ts, v->sig, v->body, ts - 301, "timestamp_too_new");
    char *tampered = xasprintf("%s ", v->body);
    expect_swh(v->secret, v->id, v->ts, v->sig, tampered, ts, "signature_mismatch");
    free(tampered);
    expect_swh(v->secret, "msg_other", v->ts, v->sig, v->body, ts, "signature_mismatch");
}

Test(verify, standard_webhooks_signatures_by_the_documented_algorithm)
{
    /* The tests' signer is HMAC-SHA256 keyed with the bytes the secret encodes, over
     * id "." timestamp "." body, base64 behind "v1,". */
    unsigned char key[24];
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (unsigned char)(0xa5 ^ (i * 11));
    char secret[TD_SWH_SECRET_CAP], sig[TD_SWH_SIG_CAP];
    td_swh_secret(key, sizeof(key), secret);
    const char *body = "{\"manifest\": 7, \"note\": \"caf\xc3\xa9\"}";
    cr_assert(td_swh_sign(secret, "msg_2x9PLdQ0aRk", "1748873251", body, strlen(body), sig));
    char *msg = xasprintf("msg_2x9PLdQ0aRk.1748873251.%s", body);
    unsigned char mac[32], b64[48];
    unsigned int n = 0;
    HMAC(EVP_sha256(), key, (int)sizeof(key), (unsigned char *)msg, strlen(msg), mac, &n);
    EVP_EncodeBlock(b64, mac, (int)sizeof(mac));
    char want[64];
    snprintf(want, sizeof(want), "v1,%s", (char *)b64);
    cr_assert_str_eq(sig, want);
    free(msg);

    /* Signatures the test computes, on a JSON body, a Supabase delivery and an empty body. */
    char s32[TD_SWH_SECRET_CAP];
    chosen_secret(0x3c, 32, s32);
    char *insert = td_supabase(TD_SUPABASE_INSERT, NULL);
    struct swh_vector v[] = {
        {secret, "msg_2x9PLdQ0aRk", "1748873251", NULL, body},
        {s32, "msg_manifest_insert_0001", "1748873300", NULL, insert},
        {secret + 6, "msg_bare_base64_secret", "1748873400", NULL, body},
        {s32, "msg_empty", "1748873500", NULL, ""},
    };
    char sigs[4][TD_SWH_SIG_CAP];
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        cr_assert(
            td_swh_sign(v[i].secret, v[i].id, v[i].ts, v[i].body, strlen(v[i].body), sigs[i]));
        v[i].sig = sigs[i];
        expect_swh_vector(&v[i]);
    }
    free(insert);

    cJSON *tv = th_fixture_json(SWH_FILE);
    if (tv) {
        const cJSON *o;
        int seen = 0;
        cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(tv, "official"))
        {
            if (!cJSON_GetObjectItemCaseSensitive(o, "secret"))
                continue;
            struct swh_vector sv = {str(o, "secret"), str(o, "webhook-id"),
                                    str(o, "webhook-timestamp"),
                                    str(o, "expected_webhook-signature"), str(o, "payload")};
            expect_swh_vector(&sv);
            /* The tests' signer reproduces the reference libraries' vectors. */
            char mine[TD_SWH_SIG_CAP];
            cr_assert(td_swh_sign(sv.secret, sv.id, sv.ts, sv.body, strlen(sv.body), mine));
            cr_assert_str_eq(mine, sv.sig);
            seen++;
        }
        cr_assert_eq(seen, 2);
        cJSON_Delete(tv);
    }
}

/* The number of v1 MACs a signature header holds. */
static size_t v1_count(const char *header)
{
    unsigned char macs[VERIFY_MAX_SIGNATURES][VERIFY_MAC_LEN];
    size_t n = 0;
    cr_assert_eq(verify_swh_signatures_parse(header, macs, VERIFY_MAX_SIGNATURES, &n), RH_OK, "%s",
                 header);
    return n;
}

Test(verify, standard_webhooks_signature_headers_parse)
{
    unsigned char raw[64];
    for (size_t i = 0; i < sizeof(raw); i++)
        raw[i] = (unsigned char)(i * 29 + 3);
    unsigned char mac32[48], sig64[96];
    EVP_EncodeBlock(mac32, raw, 32);
    EVP_EncodeBlock(sig64, raw, 64);
    /* The spec's shape: a v1 entry next to an asymmetric v1a one, which is skipped. */
    char *header = xasprintf("v1,%s v1a,%s", (char *)mac32, (char *)sig64);
    cr_assert_eq(v1_count(header), 1, "only the v1 entry counts, v1a is skipped");
    free(header);
    header = xasprintf("v1,%s v1,%s", (char *)mac32, (char *)mac32);
    cr_assert_eq(v1_count(header), 2);
    free(header);

    cJSON *tv = th_fixture_json(SWH_FILE);
    if (tv) {
        const cJSON *o;
        cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(tv, "official"))
        {
            if (!cJSON_GetObjectItemCaseSensitive(o, "secret"))
                cr_assert_eq(v1_count(str(o, "webhook-signature")), 1);
        }
        cJSON_Delete(tv);
    }
}

/* The inputs of the reference libraries' rejection and acceptance cases around one vector. */
struct swh_edges {
    const char *empty_secrets[2];  /* refused when the secret is read */
    const char *prefix_secrets[2]; /* the vector's secret with and without "whsec_" */
    const char *bad_timestamp;     /* not an integer */
    const char *wrong_sig;         /* a valid-looking signature of something else */
    const char *wrong_version;     /* the right MAC under another version tag */
    const char *multi_template;    /* several entries with a "<valid v1 sig>" hole */
    const char *unpadded[2];       /* base64 secrets without their padding */
};

static void expect_swh_edges(const struct swh_vector *v, const struct swh_edges *e)
{
    int64_t now = ts_of(v);
    for (int i = 0; i < 2; i++) {
        const char *s = e->empty_secrets[i];
        unsigned char key[SWH_MAX_KEY];
        size_t n = 0;
        cr_assert_eq(swh_key_decode(s, strlen(s), key, &n), RH_INVALID, "'%s' must be refused", s);
        expect_swh(s, v->id, v->ts, v->sig, v->body, now, *s ? "signature_mismatch" : "no_secret");
    }
    for (int i = 0; i < 2; i++)
        expect_swh(e->prefix_secrets[i], v->id, v->ts, v->sig, v->body, now, NULL);

    expect_swh(v->secret, NULL, v->ts, v->sig, v->body, now, "missing_id");
    expect_swh(v->secret, v->id, NULL, v->sig, v->body, now, "missing_timestamp");
    expect_swh(v->secret, v->id, v->ts, NULL, v->body, now, "missing_signature");
    expect_swh(v->secret, "", v->ts, v->sig, v->body, now, "missing_id");

    char *neg = xasprintf("-%s", v->ts), *spaced = xasprintf(" %s", v->ts);
    expect_swh(v->secret, v->id, e->bad_timestamp, v->sig, v->body, now, "malformed_timestamp");
    expect_swh(v->secret, v->id, neg, v->sig, v->body, now, "malformed_timestamp");
    expect_swh(v->secret, v->id, spaced, v->sig, v->body, now, "malformed_timestamp");
    free(neg);
    free(spaced);

    expect_swh(v->secret, v->id, v->ts, v->sig, v->body, now + 301, "timestamp_too_old");
    expect_swh(v->secret, v->id, v->ts, v->sig, v->body, now - 301, "timestamp_too_new");
    expect_swh(v->secret, v->id, v->ts, e->wrong_sig, v->body, now, "signature_mismatch");

    char first8[9];
    snprintf(first8, sizeof(first8), "%s", v->sig);
    expect_swh(v->secret, v->id, v->ts, "v1,", v->body, now, "malformed_signature");
    expect_swh(v->secret, v->id, v->ts, first8, v->body, now, "malformed_signature");
    expect_swh(v->secret, v->id, v->ts, e->wrong_version, v->body, now, "malformed_signature");

    const char *tmpl = e->multi_template;
    const char *hole = strstr(tmpl, "<valid v1 sig>");
    cr_assert_not_null(hole);
    char *multi =
        xasprintf("%.*s%s%s", (int)(hole - tmpl), tmpl, v->sig, hole + strlen("<valid v1 sig>"));
    expect_swh(v->secret, v->id, v->ts, multi, v->body, now, NULL);
    char *without = xasprintf("%.*s%s", (int)(hole - tmpl), tmpl, hole + strlen("<valid v1 sig> "));
    expect_swh(v->secret, v->id, v->ts, without, v->body, now, "signature_mismatch");
    free(multi);
    free(without);

    for (int i = 0; i < 2; i++) {
        const char *s = e->unpadded[i];
        unsigned char key[SWH_MAX_KEY];
        size_t n = 0;
        cr_assert_eq(swh_key_decode(s, strlen(s), key, &n), RH_OK, "unpadded '%s' decodes", s);
        cr_assert_gt(n, 20);
    }
}

Test(verify, standard_webhooks_negative_and_edge_cases)
{
    char secret[TD_SWH_SECRET_CAP], sig[TD_SWH_SIG_CAP];
    chosen_secret(0x5d, 24, secret);
    const char *body = "{\"test\": 1748873251}";
    cr_assert(td_swh_sign(secret, "msg_edge_0001", "1748873251", body, strlen(body), sig));
    struct swh_vector v = {secret, "msg_edge_0001", "1748873251", sig, body};

    char wrong[TD_SWH_SIG_CAP];
    snprintf(wrong, sizeof(wrong), "%s", sig);
    wrong[10] = wrong[10] == 'A' ? 'B' : 'A';
    char *v2 = xasprintf("v2,%s", sig + 3);
    unsigned char other[32], other64[48];
    memset(other, 0x42, sizeof(other));
    EVP_EncodeBlock(other64, other, (int)sizeof(other));
    char *multi = xasprintf("v1,%s v2,%s <valid v1 sig> v1,%s", (char *)other64, (char *)other64,
                            (char *)other64);
    char *short_b64 = xasprintf("%.*s", (int)strlen(secret + 6) - 1, secret + 6);
    char *long_b64 = xasprintf("%sBr", secret + 6);
    struct swh_edges e = {
        .empty_secrets = {"", "whsec_"},
        .prefix_secrets = {secret, secret + 6},
        .bad_timestamp = "hello",
        .wrong_sig = wrong,
        .wrong_version = v2,
        .multi_template = multi,
        .unpadded = {short_b64, long_b64},
    };
    expect_swh_edges(&v, &e);
    free(v2);
    free(multi);
    free(short_b64);
    free(long_b64);

    cJSON *tv = th_fixture_json(SWH_FILE);
    if (tv) {
        const cJSON *off = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(tv, "official"), 0);
        struct swh_vector sv = {str(off, "secret"), str(off, "webhook-id"),
                                str(off, "webhook-timestamp"),
                                str(off, "expected_webhook-signature"), str(off, "payload")};
        struct swh_edges se = {0};
        const cJSON *c;
        cJSON_ArrayForEach(c,
                           cJSON_GetObjectItemCaseSensitive(tv, "official_negative_and_edge_cases"))
        {
            const char *name = str(c, "case");
            const cJSON *secrets = cJSON_GetObjectItemCaseSensitive(c, "secrets");
            const char *s0 = secrets ? cJSON_GetArrayItem(secrets, 0)->valuestring : NULL;
            const char *s1 = secrets ? cJSON_GetArrayItem(secrets, 1)->valuestring : NULL;
            if (strstr(name, "empty secret")) {
                se.empty_secrets[0] = s0;
                se.empty_secrets[1] = s1;
            } else if (strstr(name, "with or without")) {
                se.prefix_secrets[0] = s0;
                se.prefix_secrets[1] = s1;
            } else if (strstr(name, "non-integer")) {
                se.bad_timestamp = str(c, "webhook-timestamp");
            } else if (strstr(name, "wrong signature")) {
                se.wrong_sig = str(c, "webhook-signature");
            } else if (strstr(name, "wrong version")) {
                se.wrong_version = str(c, "webhook-signature");
            } else if (strstr(name, "multi-signature")) {
                se.multi_template = str(c, "webhook-signature_template");
            } else if (strstr(name, "unpadded")) {
                se.unpadded[0] = s0;
                se.unpadded[1] = s1;
            }
        }
        cr_assert(se.empty_secrets[1] && se.prefix_secrets[1] && se.bad_timestamp && se.wrong_sig &&
                      se.wrong_version && se.multi_template && se.unpadded[1],
                  "a reference case is missing from %s", SWH_FILE);
        expect_swh_edges(&sv, &se);
        cJSON_Delete(tv);
    }
}

Test(verify, standard_webhooks_rotation_and_supabase_secret_format)
{
    char a[TD_SWH_SECRET_CAP], b[TD_SWH_SECRET_CAP], sig_a[TD_SWH_SIG_CAP], sig_b[TD_SWH_SIG_CAP];
    chosen_secret(0x11, 24, a);
    chosen_secret(0x77, 24, b);
    const char *id = "msg_rotation", *ts = "1748873600";
    int64_t now = 1748873600;
    const char *body = "{\"test\": 2}";
    cr_assert(td_swh_sign(a, id, ts, body, strlen(body), sig_a));
    cr_assert(td_swh_sign(b, id, ts, body, strlen(body), sig_b));

    /* Signed with two secrets at once: a verifier holding either one accepts. */
    char *both = xasprintf("%s %s", sig_a, sig_b);
    const char *secrets[] = {a, b};
    for (int i = 0; i < 2; i++) {
        expect_swh(secrets[i], id, ts, both, body, now, NULL);
        char *list = xasprintf("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,%s", secrets[i]);
        expect_swh(list, id, ts, both, body, now, NULL);
        free(list);
    }
    free(both);

    /* Supabase writes its secrets "v1,whsec_<base64>": the same key, alone or in a list. */
    char *supabase = xasprintf("v1,%s", a);
    unsigned char k1[SWH_MAX_KEY], k2[SWH_MAX_KEY];
    size_t n1 = 0, n2 = 0;
    cr_assert_eq(swh_key_decode(supabase, strlen(supabase), k1, &n1), RH_OK);
    cr_assert_eq(swh_key_decode(a, strlen(a), k2, &n2), RH_OK);
    cr_assert_eq(n1, 24);
    cr_assert_eq(n1, n2);
    cr_assert_eq(memcmp(k1, k2, n1), 0);
    expect_swh(supabase, id, ts, sig_a, body, now, NULL);
    char *list = xasprintf("%s, %s", b, supabase);
    expect_swh(list, id, ts, sig_a, body, now, NULL);
    free(list);
    free(supabase);

    cJSON *tv = th_fixture_json(SWH_FILE);
    if (tv) {
        const cJSON *v;
        int n = 0;
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(tv, "derived"))
        {
            const char *name = str(v, "name");
            if (strcmp(name, "manifests_insert_signed") == 0) {
                size_t len = 0;
                char *file = th_fixture_read("supabase/manifests.insert.body.json", &len);
                cr_assert_not_null(file);
                struct swh_vector sv = {str(v, "secret"), str(v, "webhook-id"),
                                        str(v, "webhook-timestamp"),
                                        str(v, "expected_webhook-signature"), file};
                expect_swh_vector(&sv);
                free(file);
            } else if (strcmp(name, "rotation_two_secrets") == 0) {
                const cJSON *s;
                int64_t t = 0;
                cr_assert(parse_i64(str(v, "webhook-timestamp"), 0, INT64_MAX, &t));
                cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(v, "secrets"))
                {
                    expect_swh(s->valuestring, str(v, "webhook-id"), str(v, "webhook-timestamp"),
                               str(v, "webhook-signature"), str(v, "payload"), t, NULL);
                }
            } else if (strcmp(name, "empty_body") == 0) {
                struct swh_vector sv = {str(v, "secret"), str(v, "webhook-id"),
                                        str(v, "webhook-timestamp"),
                                        str(v, "expected_webhook-signature"), ""};
                expect_swh(sv.secret, sv.id, sv.ts, sv.sig, "", ts_of(&sv), NULL);
            } else if (strcmp(name, "supabase_auth_hook_secret_format") == 0) {
                const char *sb = str(v, "supabase_style_secret");
                const char *std = str(v, "equivalent_standard_secret");
                cr_assert_eq(swh_key_decode(sb, strlen(sb), k1, &n1), RH_OK);
                cr_assert_eq(swh_key_decode(std, strlen(std), k2, &n2), RH_OK);
                cr_assert_eq(n1, n2);
                cr_assert_eq(memcmp(k1, k2, n1), 0);
            } else {
                cr_assert_fail("unknown derived vector %s", name);
            }
            n++;
        }
        cr_assert_eq(n, 4);
        cJSON_Delete(tv);
    }
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
