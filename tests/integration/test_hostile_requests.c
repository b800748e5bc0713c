/* Hostile requests against the in-process server and a real database: manifest values that
 * would reach other services' secrets (422 naming the field), bodies with a key twice (400
 * naming it), API tokens that are near misses, cursors that would make PostgreSQL fail, and a
 * readiness failure that must not carry the database's own words. Nothing hostile is queued. */
#include "support/harness.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUPABASE_SECRET "sb-hostile-5f1a9e"

static struct th_server ts;
static char *db;

static void start(void)
{
    setenv("SUPABASE_WEBHOOK_SECRET", SUPABASE_SECRET, 1);
    /* Blanks around entries are not part of the tokens. */
    setenv("API_TOKEN", "read-tok-1 , read-tok-two\t", 1);
    setenv("API_ADMIN_TOKEN", "admin-tok", 1);
    db = th_db_create();
    th_server_start(&ts, db);
}

static void stop(void)
{
    th_server_stop(&ts);
    th_db_drop(db);
}

/* POSTs body to path with hdrs and checks the answer's status, error code and field. */
static void expect_error(const char *path, const char *const *hdrs, const char *body, long status,
                         const char *code, const char *field)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", ts.base, path);
    struct th_response r;
    th_http(&r, "POST", url, hdrs, body, strlen(body));
    cr_assert_eq(r.status, status, "%s gave %ld: %s", body, r.status, r.body);
    cJSON *j = cJSON_Parse(r.body);
    const cJSON *e = cJSON_GetObjectItem(j, "error");
    const cJSON *c = cJSON_GetObjectItem(e, "code");
    const cJSON *f = cJSON_GetObjectItem(e, "field");
    cr_assert(cJSON_IsString(c) && strcmp(c->valuestring, code) == 0, "%s: %s", body, r.body);
    cr_assert(cJSON_IsString(f) && strcmp(f->valuestring, field) == 0, "%s: %s", body, r.body);
    cJSON_Delete(j);
    th_response_free(&r);
}

static const char *const supabase[] = {"Authorization: Bearer " SUPABASE_SECRET,
                                       "Content-Type: application/json", NULL};
static const char *const admin[] = {"Authorization: Bearer admin-tok",
                                    "Content-Type: application/json", NULL};

#define DELIVERY(type, rows)                                                                       \
    "{\"type\":\"" type "\",\"table\":\"manifests\",\"schema\":\"public\"," rows "}"

Test(hostile_requests, manifest_values_that_reach_secrets_get_422_naming_the_field, .init = start,
     .fini = stop)
{
    expect_error("/webhooks/supabase", supabase,
                 DELIVERY("INSERT", "\"record\":{\"id\":\"${{Postgres.DATABASE_URL}}\","
                                    "\"service_schema\":\"billing\"},\"old_record\":null"),
                 422, "invalid_field", "record.id");
    expect_error("/webhooks/supabase", supabase,
                 DELIVERY("INSERT", "\"record\":{\"id\":7,\"service_schema\":"
                                    "\"${{Postgres.PGPASSWORD}}\"},\"old_record\":null"),
                 422, "invalid_field", "record.service_schema");
    expect_error("/webhooks/supabase", supabase,
                 DELIVERY("INSERT", "\"record\":{\"id\":\"a b\",\"service_schema\":\"billing\"},"
                                    "\"old_record\":null"),
                 422, "invalid_field", "record.id");
    expect_error("/webhooks/supabase", supabase,
                 DELIVERY("UPDATE", "\"record\":{\"id\":7,\"service_schema\":\"billing\"},"
                                    "\"old_record\":{\"id\":7,\"service_schema\":"
                                    "\"${{Redis.REDIS_URL}}\"}"),
                 422, "invalid_field", "old_record.service_schema");
    /* The admin API maps a job through the same checks. */
    expect_error("/jobs", admin,
                 "{\"kind\":\"provision\",\"record\":{\"id\":\"${{shared.SECRET}}\","
                 "\"service_schema\":\"billing\"}}",
                 422, "invalid_field", "record.id");
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 0);
}

Test(hostile_requests, a_key_twice_is_a_400_naming_it, .init = start, .fini = stop)
{
    /* cJSON would validate the first id, jsonb would store the second. */
    expect_error("/webhooks/supabase", supabase,
                 DELIVERY("INSERT", "\"record\":{\"id\":\"m-1\",\"service_schema\":\"billing\","
                                    "\"id\":\"${{Postgres.DATABASE_URL}}\"},\"old_record\":null"),
                 400, "duplicate_key", "record.id");
    expect_error("/webhooks/supabase", supabase,
                 "{\"type\":\"INSERT\",\"type\":\"DELETE\",\"table\":\"manifests\",\"schema\":"
                 "\"public\",\"record\":{\"id\":1,\"service_schema\":\"billing\"}}",
                 400, "duplicate_key", "type");
    expect_error("/jobs", admin,
                 "{\"kind\":\"provision\",\"record\":{\"id\":1,\"service_schema\":\"billing\","
                 "\"tags\":[{\"a\":1,\"a\":2}]}}",
                 400, "duplicate_key", "record.tags[0].a");
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 0);
}

static long get_status(const char *path, const char *authorization)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", ts.base, path);
    const char *hdrs[] = {authorization, NULL};
    struct th_response r;
    th_http(&r, "GET", url, authorization ? hdrs : NULL, NULL, 0);
    long status = r.status;
    th_response_free(&r);
    return status;
}

Test(hostile_requests, api_tokens_match_whole_entries_only, .init = start, .fini = stop)
{
    cr_assert_eq(get_status("/jobs", "Authorization: Bearer read-tok-1"), 200);
    cr_assert_eq(get_status("/jobs", "Authorization: Bearer read-tok-two"), 200);
    cr_assert_eq(get_status("/jobs", "Authorization: Bearer admin-tok"), 200);
    cr_assert_eq(get_status("/jobs", "Authorization: bearer   read-tok-1  "), 200);
    static const char *const near_misses[] = {
        "Authorization: Bearer read-tok-",
        "Authorization: Bearer read-tok-11",
        "Authorization: Bearer read-tok-tw",
        "Authorization: Bearer read-tok-1 , read-tok-two",
        "Authorization: Bearer admin-to",
        "Authorization: Bearer admin-tok2",
        "Authorization: Bearer ",
        "Authorization: read-tok-1",
    };
    for (size_t i = 0; i < sizeof(near_misses) / sizeof(near_misses[0]); i++)
        cr_assert_eq(get_status("/jobs", near_misses[i]), 401, "%s was let in", near_misses[i]);
    cr_assert_eq(get_status("/jobs", NULL), 401);
}

Test(hostile_requests, a_bad_cursor_is_a_400_naming_cursor, .init = start, .fini = stop)
{
    static const char *const cursors[] = {
        "garbage",
        "_6fa459ea-ee8a-4ca4-894e-db77e160355e",
        "12_not-a-uuid",
        "99999999999999999999_6fa459ea-ee8a-4ca4-894e-db77e160355e",
        "9223372036854775807_6fa459ea-ee8a-4ca4-894e-db77e160355e",
        "253402300800000000_6fa459ea-ee8a-4ca4-894e-db77e160355e",
    };
    for (size_t i = 0; i < sizeof(cursors) / sizeof(cursors[0]); i++) {
        char url[256];
        snprintf(url, sizeof(url), "%s/jobs?cursor=%s", ts.base, cursors[i]);
        const char *hdrs[] = {"Authorization: Bearer read-tok-1", NULL};
        struct th_response r;
        th_http(&r, "GET", url, hdrs, NULL, 0);
        cr_assert_eq(r.status, 400, "cursor %s gave %ld: %s", cursors[i], r.status, r.body);
        cr_assert_not_null(strstr(r.body, "\"code\":\"invalid_cursor\""), "%s", r.body);
        cr_assert_not_null(strstr(r.body, "cursor is malformed"), "%s", r.body);
        th_response_free(&r);
    }
    /* A real cursor still pages. */
    for (int i = 0; i < 3; i++)
        free(th_sql(db, "INSERT INTO jobs (kind, state, service_name, payload) VALUES "
                        "('provision', 'queued', 'osp-worker-c', '{}') RETURNING id"));
    char url[256];
    snprintf(url, sizeof(url), "%s/jobs?limit=2", ts.base);
    const char *hdrs[] = {"Authorization: Bearer read-tok-1", NULL};
    struct th_response r;
    th_http(&r, "GET", url, hdrs, NULL, 0);
    cr_assert_eq(r.status, 200);
    cJSON *page = cJSON_Parse(r.body);
    const cJSON *next = cJSON_GetObjectItem(page, "next_cursor");
    cr_assert(cJSON_IsString(next), "%s", r.body);
    snprintf(url, sizeof(url), "%s/jobs?limit=2&cursor=%s", ts.base, next->valuestring);
    th_response_free(&r);
    th_http(&r, "GET", url, hdrs, NULL, 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);
    cJSON_Delete(page);
}

Test(hostile_requests, readiness_failure_does_not_carry_the_database_text, .init = start,
     .fini = stop)
{
    /* The table is there but cannot be read as railhook reads it: PostgreSQL says why. */
    free(th_sql(db, "ALTER TABLE schema_migrations RENAME COLUMN version TO secret_column"));
    char url[128];
    snprintf(url, sizeof(url), "%s/readyz", ts.base);
    struct th_response r;
    th_http(&r, "GET", url, NULL, NULL, 0);
    cr_assert_eq(r.status, 503, "%s", r.body);
    cr_assert_not_null(strstr(r.body, "\"code\":\"database_unavailable\""), "%s", r.body);
    cr_assert_null(strstr(r.body, "does not exist"), "%s", r.body);
    cr_assert_null(strstr(r.body, "ERROR"), "%s", r.body);
    char *ra = th_response_header(&r, "Retry-After");
    cr_assert_not_null(ra);
    free(ra);
    th_response_free(&r);
}
