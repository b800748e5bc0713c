/* The status page's summaries against the real server and database: GET /jobs/counts,
 * GET /railway/budget and the Railway ids GET /services carries for dashboard links. */
#include "support/harness.h"
#include "railway/railway.h"
#include "util/util.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static struct th_server ts;
static char *db;
static const char *const read_auth[] = {"Authorization: Bearer read-tok", NULL};

static void start(void)
{
    setenv("API_TOKEN", "read-tok", 1);
    setenv("API_ADMIN_TOKEN", "admin-tok", 1);
    setenv("RAILWAY_PROJECT_ID", "proj-dash", 1);
    setenv("RAILWAY_ENVIRONMENT_ID", "env-dash", 1);
    setenv("RAILWAY_HOURLY_BUDGET", "120", 1);
    db = th_db_create();
    th_server_start(&ts, db);
}

static void stop(void)
{
    th_server_stop(&ts);
    th_db_drop(db);
    unsetenv("RAILWAY_PROJECT_ID");
    unsetenv("RAILWAY_ENVIRONMENT_ID");
    unsetenv("RAILWAY_HOURLY_BUDGET");
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

static long num(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(j, key);
    cr_assert(cJSON_IsNumber(v), "%s is not a number", key);
    return (long)v->valuedouble;
}

Test(dashboard_api, counts_by_state, .init = start, .fini = stop)
{
    cJSON *j = get_json("/jobs/counts", 200, read_auth);
    cr_assert_eq(num(j, "queued") + num(j, "running") + num(j, "succeeded") + num(j, "failed") +
                     num(j, "cancelled"),
                 0);
    cJSON_Delete(j);
    free(th_sql(db, "INSERT INTO jobs (kind, state, service_name, payload) VALUES"
                    " ('provision', 'queued', 'a', '{}'), ('provision', 'queued', 'b', '{}'),"
                    " ('update', 'running', 'c', '{}'), ('redeploy', 'succeeded', 'd', '{}'),"
                    " ('redeploy', 'succeeded', 'e', '{}'), ('redeploy', 'succeeded', 'f', '{}'),"
                    " ('deprovision', 'failed', 'g', '{}')"));
    j = get_json("/jobs/counts", 200, read_auth);
    cr_assert_eq(num(j, "queued"), 2);
    cr_assert_eq(num(j, "running"), 1);
    cr_assert_eq(num(j, "succeeded"), 3);
    cr_assert_eq(num(j, "failed"), 1);
    cr_assert_eq(num(j, "cancelled"), 0);
    cJSON_Delete(j);
    /* Read access like the rest of the status API. */
    cJSON_Delete(get_json("/jobs/counts", 401, NULL));
}

Test(dashboard_api, budget_follows_the_limiter, .init = start, .fini = stop)
{
    cJSON *j = get_json("/railway/budget", 200, read_auth);
    cr_assert_eq(num(j, "hourly_budget"), 120);
    cr_assert_eq(num(j, "remaining"), 120);
    cr_assert_eq(num(j, "spent_last_hour"), 0);
    cr_assert_eq(num(j, "resets_in_s"), 0);
    cJSON_Delete(j);
    /* Three requests' worth taken: an hourly bucket of 120 earns one back every 30 s. */
    for (int i = 0; i < 3; i++)
        cr_assert_geq(railway_limiter_acquire(ts.app.limiter, 5000, NULL), 0);
    j = get_json("/railway/budget", 200, read_auth);
    cr_assert_eq(num(j, "remaining"), 117);
    cr_assert_eq(num(j, "spent_last_hour"), 3);
    cr_assert(num(j, "resets_in_s") > 60 && num(j, "resets_in_s") <= 90, "resets_in_s %ld",
              num(j, "resets_in_s"));
    cJSON_Delete(j);
    /* Railway saying nothing is left pauses everything: nothing remains until the reset. */
    railway_limiter_observe(ts.app.limiter, 0, 600000, 0);
    j = get_json("/railway/budget", 200, read_auth);
    cr_assert_eq(num(j, "remaining"), 0);
    cr_assert_eq(num(j, "spent_last_hour"), 120);
    cr_assert(num(j, "resets_in_s") >= 3590, "resets_in_s %ld", num(j, "resets_in_s"));
    cJSON_Delete(j);
    cJSON_Delete(get_json("/railway/budget", 401, NULL));
}

Test(dashboard_api, services_list_says_where_they_live, .init = start, .fini = stop)
{
    free(th_sql(db, "INSERT INTO services (name, manifest_id, railway_service_id, status,"
                    " last_deployment_status) VALUES ('osp-worker-z', 'm-z', 'svc-z', 'active',"
                    " 'SUCCESS')"));
    cJSON *j = get_json("/services", 200, read_auth);
    cJSON *railway = cJSON_GetObjectItem(j, "railway");
    cr_assert_str_eq(cJSON_GetObjectItem(railway, "project_id")->valuestring, "proj-dash");
    cr_assert_str_eq(cJSON_GetObjectItem(railway, "environment_id")->valuestring, "env-dash");
    cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "services"), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(first, "railway_service_id")->valuestring, "svc-z");
    cJSON_Delete(j);
    /* One service keeps its shape: no ids there. */
    j = get_json("/services/osp-worker-z", 200, read_auth);
    cr_assert_null(cJSON_GetObjectItem(j, "railway"));
    cJSON_Delete(j);
}
