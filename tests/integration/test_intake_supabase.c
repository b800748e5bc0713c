/* POST /webhooks/supabase through the real server and a real database: every delivery the
 * tests build (and the real bodies beside the checkout, when present) with pg_net's headers,
 * bearer secrets, Standard Webhooks signatures (fresh, stale, future, replayed, rotated,
 * Supabase's v1,whsec_ secrets), both methods at once, bad input, dedupe and an unreachable
 * database. */
#include "support/deliveries.h"
#include "support/harness.h"
#include "support/webhook_helpers.h"
#include "util/util.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BEARER "test-shared-secret-do-not-use"
/* Two Standard Webhooks secrets (24-byte keys) the tests sign with. */
#define WHSEC  "whsec_cmFpbGhvb2staW50YWtlLXRlc3Qta2V5"
#define WHSEC2 "whsec_cmFpbGhvb2stcm90YXRlZC10ZXN0LWsy"

static struct th_server ts;
static char *db;

static void boot(const char *bearer, const char *signing)
{
    setenv("SUPABASE_WEBHOOK_SECRET", bearer ? bearer : "", 1);
    setenv("SUPABASE_WEBHOOK_SIGNING_SECRET", signing ? signing : "", 1);
    db = th_db_create();
    th_server_start(&ts, db);
}

static void start_bearer(void)
{
    boot(BEARER, NULL);
}

static void start_signed(void)
{
    boot(NULL, WHSEC);
}

static void start_both(void)
{
    boot(BEARER, WHSEC);
}

static void stop(void)
{
    th_server_stop(&ts);
    th_db_drop(db);
}

/* The headers pg_net sends for a Dashboard-made webhook with a shared secret. */
static void post_bearer(struct th_response *r, const char *token, const void *body, size_t len)
{
    char auth[256];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    const char *hdrs[] = {"Content-type: application/json", auth, "User-Agent: pg_net/0.19.5",
                          "Accept: */*", NULL};
    wh_post(r, &ts, "/webhooks/supabase", hdrs, body, len);
}

/* Standard Webhooks headers signed with secret at timestamp ts_s (an extra header may be
 * added, e.g. Authorization). */
static void post_signed(struct th_response *r, const char *secret, const char *id, int64_t ts_s,
                        const char *extra, const void *body, size_t len)
{
    char tsv[32], sig[TD_SWH_SIG_CAP], h_id[320], h_ts[64], h_sig[160];
    snprintf(tsv, sizeof(tsv), "%lld", (long long)ts_s);
    cr_assert(td_swh_sign(secret, id, tsv, body, len, sig));
    snprintf(h_id, sizeof(h_id), "webhook-id: %s", id);
    snprintf(h_ts, sizeof(h_ts), "webhook-timestamp: %s", tsv);
    snprintf(h_sig, sizeof(h_sig), "webhook-signature: %s", sig);
    const char *hdrs[] = {"Content-Type: application/json", h_id, h_ts, h_sig, extra, NULL};
    wh_post(r, &ts, "/webhooks/supabase", hdrs, body, len);
}

static int64_t now_s(void)
{
    return time_wall_ms() / 1000;
}

static void expect_error(const struct th_response *r, long status, const char *code)
{
    cr_assert_eq(r->status, status, "want %ld, got %ld: %s", status, r->status, r->body);
    char *got = wh_error_code(r);
    cr_assert_str_eq(got, code, "%s", r->body);
    free(got);
}

static char *job_row(const char *id)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT kind || ' ' || service_name || ' ' || (payload->>'manifest_id') || ' ' ||"
             " (payload->>'source') FROM jobs WHERE id = '%s'",
             id);
    return th_sql(db, sql);
}

/* A row value of a delivery body, e.g. ("record", "id"). */
static char *row_value(const char *body, size_t len, const char *row, const char *key)
{
    cJSON *j = cJSON_ParseWithLength(body, len);
    const cJSON *v =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, row), key);
    cr_assert(cJSON_IsString(v), "no %s.%s in %.*s", row, key, (int)len, body);
    char *out = xstrdup(v->valuestring);
    cJSON_Delete(j);
    return out;
}

/* One job of kind for the row the body carries in row, with the row stored whole. */
static void expect_job(const char *kind, const char *row, const char *body, size_t len)
{
    struct th_response r;
    post_bearer(&r, BEARER, body, len);
    cr_assert_eq(r.status, 202, "%s", r.body);
    char ids[WH_MAX_IDS][37];
    cr_assert_eq(wh_job_ids(&r, ids), 1);
    th_response_free(&r);
    char *id = row_value(body, len, row, "id");
    char *schema = row_value(body, len, row, "service_schema");
    char *want = xasprintf("%s osp-worker-%s %s supabase", kind, schema, id);
    char *got = job_row(ids[0]);
    cr_assert_str_eq(got, want);
    /* The stored row keeps raw UTF-8 and nested JSON as sent. */
    cJSON *j = cJSON_ParseWithLength(body, len);
    char *sent = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(j, row));
    char *sql = xasprintf("SELECT count(*) FROM jobs WHERE id = '%s' AND"
                          " payload->'record' = $json$%s$json$::jsonb",
                          ids[0], sent);
    cr_assert_eq(th_sql_long(db, sql), 1, "the stored record differs from %s", sent);
    free(sql);
    cJSON_free(sent);
    cJSON_Delete(j);
    free(got);
    free(want);
    free(schema);
    free(id);
}

/* Every case: INSERT and DELETE are jobs, the UPDATE of status is ignored, the escapes row is
 * refused naming its field. */
static void expect_cases(const char *insert, size_t ilen, const char *update, size_t ulen,
                         const char *del, size_t dlen, const char *escapes, size_t elen)
{
    struct th_response r;
    expect_job("provision", "record", insert, ilen);
    post_bearer(&r, BEARER, update, ulen);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.body, "{\"job_ids\":[],\"ignored\":\"no relevant change\"}");
    th_response_free(&r);
    expect_job("deprovision", "old_record", del, dlen);
    post_bearer(&r, BEARER, escapes, elen);
    expect_error(&r, 422, "invalid_field");
    cr_assert_not_null(strstr(r.body, "\"field\":\"record.service_schema\""), "%s", r.body);
    th_response_free(&r);
}

Test(intake_supabase, every_delivery_with_pg_net_headers, .init = start_bearer, .fini = stop)
{
    char *body[TD_SUPABASE_CASES];
    size_t len[TD_SUPABASE_CASES];
    for (int c = 0; c < TD_SUPABASE_CASES; c++)
        body[c] = td_supabase((enum td_supabase_case)c, &len[c]);
    expect_cases(body[TD_SUPABASE_INSERT], len[TD_SUPABASE_INSERT], body[TD_SUPABASE_UPDATE],
                 len[TD_SUPABASE_UPDATE], body[TD_SUPABASE_DELETE], len[TD_SUPABASE_DELETE],
                 body[TD_SUPABASE_ESCAPES], len[TD_SUPABASE_ESCAPES]);
    long jobs = 2;

    static const char *const files[] = {"supabase/manifests.insert.body.json",
                                        "supabase/manifests.update.body.json",
                                        "supabase/manifests.delete.body.json",
                                        "supabase/manifests.insert-null-and-escapes.body.json"};
    char *shared[4];
    size_t slen[4];
    bool all = true;
    for (int i = 0; i < 4; i++) {
        shared[i] = th_fixture_read(files[i], &slen[i]);
        all = all && shared[i];
    }
    if (all) {
        expect_cases(shared[0], slen[0], shared[1], slen[1], shared[2], slen[2], shared[3],
                     slen[3]);
        jobs += 2;
    }
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), jobs);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries WHERE source = 'supabase'"
                                 " AND outcome = 'accepted'"),
                 jobs);
    for (int i = 0; i < 4; i++) {
        free(shared[i]);
        free(body[i]);
    }
}

/* A webhook made in SQL as Supabase's docs show it carries no credentials: refused. */
static void expect_refused_without_credentials(const char *const *hdrs, const char *body,
                                               size_t len)
{
    struct th_response r;
    wh_post(&r, &ts, "/webhooks/supabase", hdrs, body, len);
    expect_error(&r, 401, "unauthorized");
    cr_assert_not_null(strstr(r.body, "missing_credentials"));
    th_response_free(&r);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries"), 0);
}

Test(intake_supabase, sql_made_webhook_without_a_secret_is_refused, .init = start_bearer,
     .fini = stop)
{
    struct td_delivery d;
    td_supabase_delivery(&d, TD_SUPABASE_INSERT, NULL);
    cr_assert_null(td_delivery_header_value(&d, "Authorization"));
    expect_refused_without_credentials(d.headers, d.body, d.len);

    cJSON *req = th_fixture_json("supabase/requests.json");
    if (req) {
        const cJSON *lines = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(req, "configurations"), "sql_docs_example"),
            "header_lines");
        const char *hdrs[8];
        int n = 0;
        const cJSON *l;
        cJSON_ArrayForEach(l, lines)
        {
            if (n < 7)
                hdrs[n++] = l->valuestring;
        }
        hdrs[n] = NULL;
        expect_refused_without_credentials(hdrs, d.body, d.len);
        cJSON_Delete(req);
    }
    td_delivery_free(&d);
}

Test(intake_supabase, bearer_redelivery_returns_the_same_job_ids, .init = start_bearer,
     .fini = stop)
{
    size_t len = 0;
    char *body = td_supabase(TD_SUPABASE_INSERT, &len);
    struct th_response r;
    char first[WH_MAX_IDS][37], again[WH_MAX_IDS][37];
    post_bearer(&r, BEARER, body, len);
    cr_assert_eq(r.status, 202, "%s", r.body);
    cr_assert_eq(wh_job_ids(&r, first), 1);
    th_response_free(&r);
    post_bearer(&r, BEARER, body, len);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(wh_job_ids(&r, again), 1);
    cr_assert_str_eq(again[0], first[0]);
    th_response_free(&r);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 1);
    char *id = th_sql(db, "SELECT delivery_id FROM deliveries");
    const char *prefix = "INSERT:public.manifests:" TD_MANIFEST_ID ":";
    cr_assert_eq(strncmp(id, prefix, strlen(prefix)), 0, "%s", id);
    cr_assert_eq(strlen(id), strlen(prefix) + 32, "%s", id);
    free(id);
    free(body);
}

Test(intake_supabase, bearer_secrets_are_enforced, .fini = stop)
{
    boot("old-secret, " BEARER, NULL);
    size_t len = 0;
    char *body = td_supabase(TD_SUPABASE_DELETE, &len);
    struct th_response r;
    post_bearer(&r, "wrong", body, len);
    expect_error(&r, 401, "unauthorized");
    cr_assert_null(strstr(r.body, BEARER), "the secret never leaks");
    th_response_free(&r);
    const char *basic[] = {"Content-Type: application/json",
                           "Authorization: Basic Zm9vOmJhcg==", NULL};
    wh_post(&r, &ts, "/webhooks/supabase", basic, body, len);
    expect_error(&r, 401, "unauthorized");
    th_response_free(&r);
    const char *none[] = {"Content-Type: application/json", NULL};
    wh_post(&r, &ts, "/webhooks/supabase", none, body, len);
    expect_error(&r, 401, "unauthorized");
    th_response_free(&r);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries"), 0);

    post_bearer(&r, "old-secret", body, len);
    cr_assert_eq(r.status, 202, "rotated: the old secret still works: %s", r.body);
    th_response_free(&r);
    free(body);
}

Test(intake_supabase, standard_webhooks_fresh_replayed_stale_future, .init = start_signed,
     .fini = stop)
{
    size_t len = 0;
    char *body = td_supabase(TD_SUPABASE_INSERT, &len);
    struct th_response r;
    char first[WH_MAX_IDS][37], again[WH_MAX_IDS][37];

    post_signed(&r, WHSEC, "msg_fresh_0001", now_s(), NULL, body, len);
    cr_assert_eq(r.status, 202, "%s", r.body);
    cr_assert_eq(wh_job_ids(&r, first), 1);
    th_response_free(&r);
    char *id = th_sql(db, "SELECT delivery_id FROM deliveries");
    cr_assert_str_eq(id, "msg_fresh_0001");
    free(id);

    /* A replay of the webhook-id (re-signed later) is a duplicate. */
    post_signed(&r, WHSEC, "msg_fresh_0001", now_s() + 5, NULL, body, len);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(wh_job_ids(&r, again), 1);
    cr_assert_str_eq(again[0], first[0]);
    th_response_free(&r);

    post_signed(&r, WHSEC, "msg_stale", now_s() - 301, NULL, body, len);
    expect_error(&r, 401, "unauthorized");
    cr_assert_not_null(strstr(r.body, "timestamp_too_old"), "%s", r.body);
    th_response_free(&r);
    post_signed(&r, WHSEC, "msg_future", now_s() + 301, NULL, body, len);
    expect_error(&r, 401, "unauthorized");
    cr_assert_not_null(strstr(r.body, "timestamp_too_new"), "%s", r.body);
    th_response_free(&r);
    post_signed(&r, WHSEC2, "msg_other_key", now_s(), NULL, body, len);
    expect_error(&r, 401, "unauthorized");
    th_response_free(&r);

    /* Tampered body under a valid signature. */
    char tsv[32], sig[TD_SWH_SIG_CAP], h_ts[64], h_sig[160];
    snprintf(tsv, sizeof(tsv), "%lld", (long long)now_s());
    cr_assert(td_swh_sign(WHSEC, "msg_tamper", tsv, body, len, sig));
    snprintf(h_ts, sizeof(h_ts), "webhook-timestamp: %s", tsv);
    snprintf(h_sig, sizeof(h_sig), "webhook-signature: %s", sig);
    body[len - 3] = 'X';
    const char *hdrs[] = {"Content-Type: application/json", "webhook-id: msg_tamper", h_ts, h_sig,
                          NULL};
    wh_post(&r, &ts, "/webhooks/supabase", hdrs, body, len);
    expect_error(&r, 401, "unauthorized");
    cr_assert_not_null(strstr(r.body, "signature_mismatch"), "%s", r.body);
    th_response_free(&r);
    /* One of the three headers missing. */
    const char *partial[] = {"Content-Type: application/json", "webhook-id: msg_tamper", h_sig,
                             NULL};
    wh_post(&r, &ts, "/webhooks/supabase", partial, body, len);
    expect_error(&r, 401, "unauthorized");
    cr_assert_not_null(strstr(r.body, "missing_timestamp"), "%s", r.body);
    th_response_free(&r);

    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries"), 1);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 1);
    free(body);
}

/* A delivery signed correctly long ago is refused as too old. */
static void expect_stale(const char *id, const char *tsv, const char *sig, const char *body,
                         size_t len)
{
    char h_id[128], h_ts[64], h_sig[160];
    snprintf(h_id, sizeof(h_id), "webhook-id: %s", id);
    snprintf(h_ts, sizeof(h_ts), "webhook-timestamp: %s", tsv);
    snprintf(h_sig, sizeof(h_sig), "webhook-signature: %s", sig);
    const char *hdrs[] = {"Content-Type: application/json", h_id, h_ts, h_sig, NULL};
    struct th_response r;
    wh_post(&r, &ts, "/webhooks/supabase", hdrs, body, len);
    expect_error(&r, 401, "unauthorized");
    cr_assert_not_null(strstr(r.body, "timestamp_too_old"), "%s", r.body);
    th_response_free(&r);
}

Test(intake_supabase, standard_webhooks_recorded_long_ago_is_stale, .init = start_signed,
     .fini = stop)
{
    size_t len = 0;
    char *body = td_supabase(TD_SUPABASE_INSERT, &len);
    char tsv[32], sig[TD_SWH_SIG_CAP];
    snprintf(tsv, sizeof(tsv), "%lld", (long long)(now_s() - 86400));
    cr_assert(td_swh_sign(WHSEC, "msg_recorded_0001", tsv, body, len, sig));
    expect_stale("msg_recorded_0001", tsv, sig, body, len);
    free(body);

    /* The reference vector over the real INSERT body, with its own secret configured. */
    cJSON *tv = th_fixture_json("standard-webhooks/test-vectors.json");
    body = th_fixture_read("supabase/manifests.insert.body.json", &len);
    if (tv && body) {
        const cJSON *v = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(tv, "derived"), 0);
        cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(v, "name")->valuestring,
                         "manifests_insert_signed");
        stop();
        boot(NULL, cJSON_GetObjectItemCaseSensitive(v, "secret")->valuestring);
        expect_stale(cJSON_GetObjectItemCaseSensitive(v, "webhook-id")->valuestring,
                     cJSON_GetObjectItemCaseSensitive(v, "webhook-timestamp")->valuestring,
                     cJSON_GetObjectItemCaseSensitive(v, "expected_webhook-signature")->valuestring,
                     body, len);
    }
    free(body);
    cJSON_Delete(tv);
}

Test(intake_supabase, standard_webhooks_secret_formats_and_rotation, .fini = stop)
{
    /* Supabase's own format, written with its comma, next to another secret. */
    boot(NULL, WHSEC2 ", v1," WHSEC);
    size_t len = 0;
    char *body = td_supabase(TD_SUPABASE_DELETE, &len);
    struct th_response r;
    post_signed(&r, WHSEC, "msg_rot_1", now_s(), NULL, body, len);
    cr_assert_eq(r.status, 202, "%s", r.body);
    th_response_free(&r);
    post_signed(&r, WHSEC2, "msg_rot_2", now_s(), NULL, body, len);
    cr_assert_eq(r.status, 202, "%s", r.body);
    th_response_free(&r);

    /* Header names are case-insensitive. */
    char tsv[32], sig[TD_SWH_SIG_CAP], h_ts[64], h_sig[160];
    snprintf(tsv, sizeof(tsv), "%lld", (long long)now_s());
    cr_assert(td_swh_sign(WHSEC, "msg_rot_3", tsv, body, len, sig));
    snprintf(h_ts, sizeof(h_ts), "Webhook-Timestamp: %s", tsv);
    snprintf(h_sig, sizeof(h_sig), "WEBHOOK-SIGNATURE: v2,AAAA %s", sig);
    const char *hdrs[] = {"content-type: application/json", "Webhook-ID: msg_rot_3", h_ts, h_sig,
                          NULL};
    wh_post(&r, &ts, "/webhooks/supabase", hdrs, body, len);
    cr_assert_eq(r.status, 202, "%s", r.body);
    th_response_free(&r);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries"), 3);
    free(body);
}

Test(intake_supabase, both_methods_every_carried_one_must_pass, .init = start_both, .fini = stop)
{
    size_t len = 0;
    char *body = td_supabase(TD_SUPABASE_INSERT, &len);
    struct th_response r;

    post_signed(&r, WHSEC, "msg_both_1", now_s(), "Authorization: Bearer " BEARER, body, len);
    cr_assert_eq(r.status, 202, "%s", r.body);
    th_response_free(&r);
    /* A good bearer does not excuse a bad signature, nor the other way round. */
    post_signed(&r, WHSEC, "msg_both_2", now_s() - 1000, "Authorization: Bearer " BEARER, body,
                len);
    expect_error(&r, 401, "unauthorized");
    th_response_free(&r);
    post_signed(&r, WHSEC, "msg_both_3", now_s(), "Authorization: Bearer nope", body, len);
    expect_error(&r, 401, "unauthorized");
    th_response_free(&r);
    /* Either one alone is enough. */
    post_signed(&r, WHSEC, "msg_both_4", now_s(), NULL, body, len);
    cr_assert_eq(r.status, 202, "the same row under a new webhook-id is a new delivery: %s",
                 r.body);
    th_response_free(&r);
    post_bearer(&r, BEARER, body, len);
    cr_assert_eq(r.status, 202, "%s", r.body);
    th_response_free(&r);
    free(body);
}

Test(intake_supabase, nothing_configured_is_503, .fini = stop)
{
    boot(NULL, NULL);
    size_t len = 0;
    char *body = td_supabase(TD_SUPABASE_INSERT, &len);
    struct th_response r;
    post_bearer(&r, BEARER, body, len);
    expect_error(&r, 503, "not_configured");
    th_response_free(&r);
    free(body);
}

Test(intake_supabase, bad_input_gets_clear_json_errors, .init = start_bearer, .fini = stop)
{
    struct th_response r;
    char auth[] = "Authorization: Bearer " BEARER;
    const char *text[] = {"Content-Type: text/plain", auth, NULL};
    const char *json[] = {"Content-Type: application/json; charset=utf-8", auth, NULL};
    char url[128];

    wh_post(&r, &ts, "/webhooks/supabase", text, "{}", 2);
    expect_error(&r, 415, "unsupported_media_type");
    th_response_free(&r);
    wh_post(&r, &ts, "/webhooks/supabase", json, "", 0);
    expect_error(&r, 400, "empty_body");
    th_response_free(&r);
    wh_post(&r, &ts, "/webhooks/supabase", json, "{\"type\": \"INSERT\"", 17);
    expect_error(&r, 400, "invalid_json");
    th_response_free(&r);

    const char *no_id =
        "{\"type\": \"INSERT\", \"table\": \"manifests\", \"record\": "
        "{\"service_schema\": \"ok\"}, \"schema\": \"public\", \"old_record\": null}";
    wh_post(&r, &ts, "/webhooks/supabase", json, no_id, strlen(no_id));
    expect_error(&r, 422, "invalid_field");
    cr_assert_not_null(strstr(r.body, "\"field\":\"record.id\""), "%s", r.body);
    th_response_free(&r);

    const char *other = "{\"type\": \"INSERT\", \"table\": \"audit\", \"record\": {\"id\": 1}, "
                        "\"schema\": \"public\", \"old_record\": null}";
    wh_post(&r, &ts, "/webhooks/supabase", json, other, strlen(other));
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.body, "{\"job_ids\":[],\"ignored\":\"table public.audit is not tracked\"}");
    th_response_free(&r);

    size_t big = (size_t)ts.cfg.max_body_bytes + 1;
    char *huge = xcalloc(1, big);
    memset(huge, ' ', big);
    wh_post(&r, &ts, "/webhooks/supabase", json, huge, big);
    expect_error(&r, 413, "payload_too_large");
    th_response_free(&r);
    free(huge);

    snprintf(url, sizeof(url), "%s/webhooks/supabase", ts.base);
    th_http(&r, "PUT", url, json, "{}", 2);
    expect_error(&r, 405, "method_not_allowed");
    th_response_free(&r);

    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries"), 0);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 0);
}

Test(intake_supabase, update_of_service_schema_carries_the_old_name, .init = start_bearer,
     .fini = stop)
{
    size_t len = 0;
    char *update = td_supabase(TD_SUPABASE_UPDATE, &len);
    cJSON *body = cJSON_ParseWithLength(update, len);
    free(update);
    cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(body, "record"),
                                           "service_schema", cJSON_CreateString("ledger_v4"));
    char *text = cJSON_Print(body);
    struct th_response r;
    post_bearer(&r, BEARER, text, strlen(text));
    cr_assert_eq(r.status, 202, "%s", r.body);
    char ids[WH_MAX_IDS][37];
    cr_assert_eq(wh_job_ids(&r, ids), 1);
    th_response_free(&r);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT kind || ' ' || service_name || ' ' || (payload->>'old_service_name')"
             " FROM jobs WHERE id = '%s'",
             ids[0]);
    char *row = th_sql(db, sql);
    cr_assert_str_eq(row, "update osp-worker-ledger_v4 osp-worker-" TD_SCHEMA);
    free(row);
    cJSON_free(text);
    cJSON_Delete(body);
}

Test(intake_supabase, unreachable_database_is_503_with_retry_after, .timeout = 60)
{
    setenv("SUPABASE_WEBHOOK_SECRET", BEARER, 1);
    setenv("DB_POOL_WAIT_MS", "3000", 1);
    char *url_db =
        xasprintf("postgresql://railhook@127.0.0.1:%d/none?connect_timeout=2", th_free_port());
    th_server_start(&ts, url_db);
    size_t len = 0;
    char *body = td_supabase(TD_SUPABASE_INSERT, &len);
    struct th_response r;
    post_bearer(&r, BEARER, body, len);
    expect_error(&r, 503, "database_unavailable");
    char *ra = th_response_header(&r, "Retry-After");
    cr_assert_not_null(ra);
    free(ra);
    th_response_free(&r);
    th_server_stop(&ts);
    free(body);
    free(url_db);
}
