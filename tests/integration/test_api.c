/* The status API against the real server and database: auth, job documents, ETags,
 * keyset pagination, services, CORS. */
#include "flows/flows.h"
#include "support/harness.h"
#include "util/util.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

static struct th_server ts;
static char *db;
static const char *const read_auth[] = {"Authorization: Bearer read-tok", NULL};

static void start(void)
{
    setenv("API_TOKEN", "read-tok", 1);
    setenv("API_ADMIN_TOKEN", "admin-tok", 1);
    setenv("CORS_ORIGINS", "https://dash.example", 1);
    db = th_db_create();
    th_server_start(&ts, db);
}

static void stop(void)
{
    th_server_stop(&ts);
    th_db_drop(db);
}

static char *insert_job(const char *kind, const char *state, const char *service)
{
    char *sql = xasprintf("INSERT INTO jobs (kind, state, service_name, payload) VALUES ('%s', "
                          "'%s', '%s', '{}') RETURNING id",
                          kind, state, service);
    char *id = th_sql(db, sql);
    free(sql);
    return id;
}

static cJSON *get_json(const char *path, long want_status, const char *const *hdrs)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", ts.base, path);
    struct th_response r;
    th_http(&r, "GET", url, hdrs, NULL, 0);
    cr_assert_eq(r.status, want_status, "GET %s: %ld %s", path, r.status, r.body);
    cJSON *j = cJSON_Parse(r.body);
    cr_assert_not_null(j, "GET %s: not JSON: %s", path, r.body);
    th_response_free(&r);
    return j;
}

Test(api, job_needs_a_token, .init = start, .fini = stop)
{
    char *id = insert_job("provision", "queued", "osp-worker-a");
    char path[96];
    snprintf(path, sizeof(path), "/jobs/%s", id);
    cJSON *j = get_json(path, 401, NULL);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "code")->valuestring,
                     "unauthorized");
    cJSON_Delete(j);
    const char *wrong[] = {"Authorization: Bearer nope", NULL};
    cJSON_Delete(get_json(path, 401, wrong));
    cJSON_Delete(get_json(path, 200, read_auth));
    const char *admin[] = {"Authorization: Bearer admin-tok", NULL};
    cJSON_Delete(get_json(path, 200, admin));
    free(id);
}

Test(api, job_document_has_the_fields_dashboards_use, .init = start, .fini = stop)
{
    char *id = insert_job("provision", "running", "osp-worker-b");
    char *sql = xasprintf(
        "UPDATE jobs SET step = 'connect', railway_service_id = 'svc-1', attempt = 1,"
        " last_error = '{\"code\":\"railway_problem\",\"message\":\"boom\"}' WHERE id = '%s';"
        "INSERT INTO job_events (job_id, step, level, message, details) VALUES"
        " ('%s', 'connect', 'warn', 'ServiceConnect failed', '{\"http_status\":200}')",
        id, id);
    free(th_sql(db, sql));
    free(sql);
    char path[96];
    snprintf(path, sizeof(path), "/jobs/%s", id);
    cJSON *j = get_json(path, 200, read_auth);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "id")->valuestring, id);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "kind")->valuestring, "provision");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "state")->valuestring, "running");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "step")->valuestring, "connect");
    cr_assert_eq(cJSON_GetObjectItem(j, "attempt")->valueint, 1);
    cr_assert_eq(cJSON_GetObjectItem(j, "max_attempts")->valueint, 3);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "service_name")->valuestring, "osp-worker-b");
    cJSON *rw = cJSON_GetObjectItem(j, "railway");
    cr_assert_str_eq(cJSON_GetObjectItem(rw, "service_id")->valuestring, "svc-1");
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(rw, "deployment_id")));
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "code")->valuestring,
                     "railway_problem");
    cJSON *events = cJSON_GetObjectItem(j, "events");
    cr_assert_eq(cJSON_GetArraySize(events), 1);
    cJSON *e = cJSON_GetArrayItem(events, 0);
    cr_assert_str_eq(cJSON_GetObjectItem(e, "message")->valuestring, "ServiceConnect failed");
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "details"), "http_status")->valueint,
                 200);
    cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(j, "next_poll_ms")));
    cr_assert(cJSON_IsString(cJSON_GetObjectItem(j, "created_at")));
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "finished_at")));
    cJSON_Delete(j);
    free(id);
}

Test(api, malformed_and_unknown_ids, .init = start, .fini = stop)
{
    cJSON_Delete(get_json("/jobs/not-a-uuid", 400, read_auth));
    cJSON_Delete(get_json("/jobs/6fa459ea-ee8a-4ca4-894e-db77e160355e", 404, read_auth));
}

Test(api, etag_gives_304_until_the_job_changes, .init = start, .fini = stop)
{
    char *id = insert_job("redeploy", "queued", "osp-worker-c");
    char url[160];
    snprintf(url, sizeof(url), "%s/jobs/%s", ts.base, id);
    struct th_response r;
    th_http(&r, "GET", url, read_auth, NULL, 0);
    char *etag = th_response_header(&r, "ETag");
    cr_assert_not_null(etag);
    th_response_free(&r);

    char inm[128];
    snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
    const char *hdrs[] = {"Authorization: Bearer read-tok", inm, NULL};
    th_http(&r, "GET", url, hdrs, NULL, 0);
    cr_assert_eq(r.status, 304);
    cr_assert_eq(r.body_len, 0);
    th_response_free(&r);

    char *sql =
        xasprintf("UPDATE jobs SET state = 'running', updated_at = now() WHERE id = '%s'", id);
    free(th_sql(db, sql));
    free(sql);
    /* The cache learns of the change from its notification, a moment after the commit. */
    int64_t deadline = time_mono_ms() + 5000;
    for (;;) {
        th_http(&r, "GET", url, hdrs, NULL, 0);
        if (r.status != 304 || time_mono_ms() > deadline)
            break;
        th_response_free(&r);
        usleep(20 * 1000);
    }
    cr_assert_eq(r.status, 200);
    char *etag2 = th_response_header(&r, "ETag");
    cr_assert_str_neq(etag, etag2);
    th_response_free(&r);
    free(etag);
    free(etag2);
    free(id);
}

Test(api, list_pages_newest_first_without_gaps_or_repeats, .init = start, .fini = stop)
{
    char *ids[7];
    for (int i = 0; i < 7; i++) {
        ids[i] = insert_job(i % 2 ? "provision" : "redeploy", i == 3 ? "failed" : "queued",
                            "osp-worker-d");
    }
    char path[256] = "/jobs?limit=3";
    int seen = 0;
    char *order[7];
    for (int page = 0; page < 5; page++) {
        cJSON *j = get_json(path, 200, read_auth);
        cJSON *jobs = cJSON_GetObjectItem(j, "jobs");
        cJSON *it;
        cJSON_ArrayForEach(it, jobs)
        {
            cr_assert_lt(seen, 7, "more jobs than inserted");
            order[seen++] = xstrdup(cJSON_GetObjectItem(it, "id")->valuestring);
        }
        cJSON *next = cJSON_GetObjectItem(j, "next_cursor");
        if (!cJSON_IsString(next)) {
            cJSON_Delete(j);
            break;
        }
        snprintf(path, sizeof(path), "/jobs?limit=3&cursor=%s", next->valuestring);
        cJSON_Delete(j);
    }
    cr_assert_eq(seen, 7);
    /* Newest first: the reverse of insertion order. */
    for (int i = 0; i < 7; i++) {
        cr_assert_str_eq(order[i], ids[6 - i], "position %d", i);
        free(order[i]);
    }
    cJSON *f = get_json("/jobs?state=failed", 200, read_auth);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(f, "jobs")), 1);
    cJSON_Delete(f);
    f = get_json("/jobs?kind=provision&service=osp-worker-d", 200, read_auth);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(f, "jobs")), 3);
    cJSON_Delete(f);
    for (int i = 0; i < 7; i++)
        free(ids[i]);
}

Test(api, list_rejects_bad_parameters_by_name, .init = start, .fini = stop)
{
    cJSON *j = get_json("/jobs?limit=0", 400, read_auth);
    cr_assert_not_null(strstr(
        cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "message")->valuestring, "limit"));
    cJSON_Delete(j);
    cJSON_Delete(get_json("/jobs?limit=201", 400, read_auth));
    cJSON_Delete(get_json("/jobs?state=sleeping", 400, read_auth));
    j = get_json("/jobs?kind=noop", 400, read_auth);
    char *kinds = flows_kind_names(false);
    char *expect = xasprintf("kind must be one of: %s", kinds);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "message")->valuestring,
                     expect, "the kinds of the table, and not the test-only one");
    cr_assert_null(strstr(kinds, "noop"));
    free(expect);
    free(kinds);
    cJSON_Delete(j);
    cJSON_Delete(get_json("/jobs?cursor=garbage", 400, read_auth));
}

Test(api, services_list_and_one, .init = start, .fini = stop)
{
    char *job = insert_job("provision", "succeeded", "osp-worker-e");
    char *sql = xasprintf("INSERT INTO services (name, manifest_id, railway_service_id, status,"
                          " last_job_id, last_deployment_status) VALUES ('osp-worker-e', 'm-1',"
                          " 'svc-9', 'active', '%s', 'SUCCESS')",
                          job);
    free(th_sql(db, sql));
    free(sql);
    cJSON *j = get_json("/services", 200, read_auth);
    cJSON *list = cJSON_GetObjectItem(j, "services");
    cr_assert_eq(cJSON_GetArraySize(list), 1);
    cJSON_Delete(j);
    j = get_json("/services/osp-worker-e", 200, read_auth);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "status")->valuestring, "active");
    cJSON *last = cJSON_GetObjectItem(j, "last_job");
    cr_assert_str_eq(cJSON_GetObjectItem(last, "id")->valuestring, job);
    cr_assert_str_eq(cJSON_GetObjectItem(last, "state")->valuestring, "succeeded");
    cr_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(j, "last_deployment"), "status")->valuestring,
        "SUCCESS");
    cJSON_Delete(j);
    cJSON_Delete(get_json("/services/nope", 404, read_auth));
    free(job);
}

Test(api, cors_preflight_and_headers, .init = start, .fini = stop)
{
    char url[128];
    snprintf(url, sizeof(url), "%s/jobs", ts.base);
    const char *pre[] = {"Origin: https://dash.example", "Access-Control-Request-Method: GET",
                         NULL};
    struct th_response r;
    th_http(&r, "OPTIONS", url, pre, NULL, 0);
    cr_assert_eq(r.status, 204);
    char *allow = th_response_header(&r, "Access-Control-Allow-Origin");
    cr_assert_str_eq(allow, "https://dash.example");
    free(allow);
    th_response_free(&r);

    const char *other[] = {"Origin: https://evil.example", "Authorization: Bearer read-tok", NULL};
    th_http(&r, "GET", url, other, NULL, 0);
    cr_assert_eq(r.status, 200);
    cr_assert_null(th_response_header(&r, "Access-Control-Allow-Origin"));
    th_response_free(&r);
}

struct later_update {
    const char *db;
    char sql[256];
    int delay_ms;
};

static void *update_later(void *arg)
{
    struct later_update *u = arg;
    usleep((useconds_t)u->delay_ms * 1000);
    free(th_sql(u->db, u->sql));
    return NULL;
}

static char *etag_for(const char *url)
{
    struct th_response r;
    th_http(&r, "GET", url, read_auth, NULL, 0);
    char *etag = th_response_header(&r, "ETag");
    th_response_free(&r);
    return etag;
}

Test(api, long_poll_answers_when_the_job_changes, .init = start, .fini = stop, .timeout = 30)
{
    char *id = insert_job("provision", "queued", "osp-worker-lp");
    char url[192];
    snprintf(url, sizeof(url), "%s/jobs/%s?wait=20", ts.base, id);
    char *etag = etag_for(url);
    struct later_update u = {.db = db, .delay_ms = 300};
    snprintf(u.sql, sizeof(u.sql),
             "UPDATE jobs SET state = 'running', updated_at = now() WHERE id = '%s'", id);
    pthread_t t;
    pthread_create(&t, NULL, update_later, &u);
    char inm[96];
    snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
    const char *hdrs[] = {"Authorization: Bearer read-tok", inm, NULL};
    int64_t t0 = time_mono_ms();
    struct th_response r;
    th_http(&r, "GET", url, hdrs, NULL, 0);
    int64_t took = time_mono_ms() - t0;
    pthread_join(t, NULL);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_assert_not_null(strstr(r.body, "\"state\" : \"running\""), "%s", r.body);
    /* Woken by the change, not by the 20 s deadline. */
    cr_assert_lt(took, 15000, "took %lld ms", (long long)took);
    th_response_free(&r);
    free(etag);
    free(id);
}

Test(api, long_poll_answers_304_when_nothing_changes, .init = start, .fini = stop, .timeout = 30)
{
    char *id = insert_job("provision", "queued", "osp-worker-lp2");
    char url[192];
    snprintf(url, sizeof(url), "%s/jobs/%s?wait=1", ts.base, id);
    char *etag = etag_for(url);
    char inm[96];
    snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
    const char *hdrs[] = {"Authorization: Bearer read-tok", inm, NULL};
    int64_t t0 = time_mono_ms();
    struct th_response r;
    th_http(&r, "GET", url, hdrs, NULL, 0);
    cr_assert_eq(r.status, 304);
    /* It did wait for the deadline before answering. */
    cr_assert_geq(time_mono_ms() - t0, 900);
    th_response_free(&r);
    free(etag);
    free(id);
}

Test(api, long_poll_on_a_finished_job_answers_at_once, .init = start, .fini = stop, .timeout = 30)
{
    char *id = insert_job("provision", "succeeded", "osp-worker-lp3");
    char url[192];
    snprintf(url, sizeof(url), "%s/jobs/%s?wait=25", ts.base, id);
    char *etag = etag_for(url);
    char inm[96];
    snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
    const char *hdrs[] = {"Authorization: Bearer read-tok", inm, NULL};
    int64_t t0 = time_mono_ms();
    struct th_response r;
    th_http(&r, "GET", url, hdrs, NULL, 0);
    cr_assert_eq(r.status, 304);
    cr_assert_lt(time_mono_ms() - t0, 20000);
    th_response_free(&r);
    snprintf(url, sizeof(url), "%s/jobs/%s?wait=61", ts.base, id);
    th_http(&r, "GET", url, read_auth, NULL, 0);
    cr_assert_eq(r.status, 400);
    th_response_free(&r);
    free(etag);
    free(id);
}

static const char *const admin_json[] = {"Authorization: Bearer admin-tok",
                                         "Content-Type: application/json", NULL};

static struct th_response post(const char *path, const char *const *hdrs, const char *body)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", ts.base, path);
    struct th_response r;
    th_http(&r, "POST", url, hdrs, body, body ? strlen(body) : 0);
    return r;
}

Test(api, retry_and_cancel_check_the_state, .init = start, .fini = stop)
{
    char *failed = insert_job("provision", "failed", "osp-worker-r");
    char *queued = insert_job("provision", "queued", "osp-worker-q");
    char path[128];

    snprintf(path, sizeof(path), "/jobs/%s/retry", failed);
    struct th_response r = post(path, read_auth, NULL);
    cr_assert_eq(r.status, 403, "a read token cannot write");
    th_response_free(&r);
    r = post(path, NULL, NULL);
    cr_assert_eq(r.status, 401);
    th_response_free(&r);
    r = post(path, admin_json, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_not_null(strstr(r.body, "\"state\":\"queued\""), "%s", r.body);
    th_response_free(&r);
    /* Queued now: a second retry is a conflict naming the state. */
    r = post(path, admin_json, NULL);
    cr_assert_eq(r.status, 409);
    cr_assert_not_null(strstr(r.body, "\"state\":\"queued\""), "%s", r.body);
    th_response_free(&r);

    snprintf(path, sizeof(path), "/jobs/%s/cancel", queued);
    r = post(path, admin_json, NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_not_null(strstr(r.body, "\"state\":\"cancelled\""), "%s", r.body);
    th_response_free(&r);
    r = post(path, admin_json, NULL);
    cr_assert_eq(r.status, 409);
    th_response_free(&r);

    snprintf(path, sizeof(path), "/jobs/%s/cancel", "6fa459ea-ee8a-4ca4-894e-db77e160355e");
    r = post(path, admin_json, NULL);
    cr_assert_eq(r.status, 404);
    th_response_free(&r);
    free(failed);
    free(queued);
}

Test(api, create_job_validates_like_the_webhooks_and_is_idempotent, .init = start, .fini = stop)
{
    const char *hdrs[] = {"Authorization: Bearer admin-tok", "Content-Type: application/json",
                          "Idempotency-Key: backfill-42", NULL};
    const char *body = "{\"kind\":\"provision\",\"record\":{\"id\":\"m-42\","
                       "\"service_schema\":\"backfill\"}}";
    struct th_response r = post("/jobs", hdrs, body);
    cr_assert_eq(r.status, 202, "%s", r.body);
    cJSON *j = cJSON_Parse(r.body);
    const char *id = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "job_ids"), 0)->valuestring;
    cr_assert(uuid_valid(id));
    th_response_free(&r);
    r = post("/jobs", hdrs, body);
    cr_assert_eq(r.status, 200, "the same key answers the same job: %s", r.body);
    cr_assert_not_null(strstr(r.body, id));
    th_response_free(&r);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs WHERE kind = 'provision' AND "
                                 "service_name = 'osp-worker-backfill'"),
                 1);
    /* Its history starts with the one "enqueued" event every enqueued job gets. */
    char path[96];
    snprintf(path, sizeof(path), "/jobs/%s", id);
    cJSON *doc = get_json(path, 200, read_auth);
    cJSON *events = cJSON_GetObjectItem(doc, "events");
    cr_assert_eq(cJSON_GetArraySize(events), 1, "one event, written once");
    cJSON *e = cJSON_GetArrayItem(events, 0);
    cr_assert_str_eq(cJSON_GetObjectItem(e, "message")->valuestring, "enqueued");
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "details"), "kind")->valuestring,
                     "provision");
    cJSON_Delete(doc);
    cJSON_Delete(j);

    r = post(
        "/jobs", admin_json,
        "{\"kind\":\"provision\",\"record\":{\"id\":\"m-43\",\"service_schema\":\"Bad-Name\"}}");
    cr_assert_eq(r.status, 422, "%s", r.body);
    cr_assert_not_null(strstr(r.body, "service_schema"), "%s", r.body);
    th_response_free(&r);
    r = post("/jobs", admin_json, "{\"kind\":\"explode\"}");
    cr_assert_eq(r.status, 422);
    cr_assert_not_null(
        strstr(r.body, "kind must be one of: provision, update, redeploy, deprovision"), "%s",
        r.body);
    th_response_free(&r);
    r = post("/jobs", admin_json, "{\"kind\":\"noop\"}");
    cr_assert_eq(r.status, 422, "the test-only kind cannot be created: %s", r.body);
    th_response_free(&r);
    r = post("/jobs", admin_json, "{\"kind\":\"redeploy\"}");
    cr_assert_eq(r.status, 422);
    cr_assert_not_null(strstr(r.body, "service_name"));
    th_response_free(&r);
    r = post("/jobs", admin_json, "{not json");
    cr_assert_eq(r.status, 400);
    th_response_free(&r);
    /* Only a service railhook tracks is redeployed. */
    r = post("/jobs", admin_json, "{\"kind\":\"redeploy\",\"service_name\":\"osp-worker-x\"}");
    cr_assert_eq(r.status, 422, "%s", r.body);
    cr_assert_not_null(strstr(r.body, "service_not_tracked"), "%s", r.body);
    th_response_free(&r);
    th_sql_long(db, "WITH i AS (INSERT INTO services (name, manifest_id, railway_service_id,"
                    " status) VALUES ('osp-worker-x', 'm-x', 'svc-x', 'active') RETURNING 1)"
                    " SELECT count(*) FROM i");
    r = post("/jobs", admin_json, "{\"kind\":\"redeploy\",\"service_name\":\"osp-worker-x\"}");
    cr_assert_eq(r.status, 202, "%s", r.body);
    th_response_free(&r);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs WHERE kind = 'redeploy' AND"
                                 " payload->>'manifest_id' = 'm-x'"),
                 1, "the redeploy is ordered with its manifest's jobs");
    r = post("/jobs", read_auth, body);
    cr_assert_eq(r.status, 403);
    th_response_free(&r);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 2, "nothing else was stored");
}

Test(api, create_job_builds_each_kind_from_its_input, .init = start, .fini = stop)
{
    struct th_response r = post("/jobs", admin_json,
                                "{\"kind\":\"update\",\"record\":{\"id\":\"m-1\","
                                "\"service_schema\":\"newname\"},\"old_record\":{\"id\":\"m-1\","
                                "\"service_schema\":\"oldname\"}}");
    cr_assert_eq(r.status, 202, "%s", r.body);
    th_response_free(&r);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs WHERE kind = 'update' AND "
                                 "service_name = 'osp-worker-newname' AND "
                                 "payload->>'old_service_name' = 'osp-worker-oldname' AND "
                                 "payload->>'source' = 'api'"),
                 1);
    r = post("/jobs", admin_json,
             "{\"kind\":\"update\",\"record\":{\"id\":\"m-1\",\"service_schema\":\"same\"},"
             "\"old_record\":{\"id\":\"m-1\",\"service_schema\":\"same\"}}");
    cr_assert_eq(r.status, 200, "no relevant change: %s", r.body);
    cr_assert_not_null(strstr(r.body, "\"ignored\""), "%s", r.body);
    th_response_free(&r);
    r = post("/jobs", admin_json,
             "{\"kind\":\"deprovision\",\"record\":{\"id\":\"m-2\",\"service_schema\":\"gone\"}}");
    cr_assert_eq(r.status, 202, "%s", r.body);
    th_response_free(&r);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs WHERE kind = 'deprovision' AND "
                                 "service_name = 'osp-worker-gone'"),
                 1);
    r = post("/jobs", admin_json, "{\"kind\":\"deprovision\",\"record\":{\"id\":\"m-3\"}}");
    cr_assert_eq(r.status, 422, "%s", r.body);
    cr_assert_not_null(strstr(r.body, "\"record.service_schema\""), "names the field sent: %s",
                       r.body);
    th_response_free(&r);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 2);
}
