/* Service ownership against Railway's listing: a service Railway still lists as deleted
 * (deletedAt set) is never reused by a provision, and railhook's own service
 * (RAILWAY_SERVICE_ID) is never touched; the real worker pool and PostgreSQL against the
 * Railway simulator with list_deleted_services on. */
#include "flows_jobs.h"
#include "support/harness.h"

#include "util/log.h"
#include "flows/flows.h"
#include "queue/queue.h"
#include "railway/railway.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct th_sim sim;
static char *db;
static struct tf_pool tp;

/* Starts the simulator (deleted services still listed) and the pool with fast timings. */
static void start(void)
{
    setenv("DEPLOY_POLL_MIN_MS", "100", 1);
    setenv("DEPLOY_POLL_MAX_MS", "300", 1);
    setenv("RETRY_BASE_MS", "100", 1);
    setenv("RETRY_MAX_MS", "500", 1);
    setenv("PUSH_DEPLOY_GRACE_S", "1", 1);
    setenv("RAILWAY_MAX_RPS", "200", 1);
    setenv("QUEUE_POLL_MS", "100", 1);
    setenv("LOG_LEVEL", "error", 1);
    const char *flags[] = {
        "--build-ms", "400", "--instance-delay-ms", "200", "--list-deleted-services", NULL};
    th_sim_start(&sim, flags);
    db = th_db_create();
    setenv("DATABASE_URL", db, 1);
    tf_pool_start(&tp, 1);
}

static void stop(void)
{
    tf_pool_stop(&tp);
    th_sim_stop(&sim);
    th_db_drop(db);
}

/* Runs job id to the end and asserts it succeeded, with its error when it did not. */
static void assert_succeeds(const char *id)
{
    char *state = tf_wait_done(db, id, 45000);
    char *sql = xasprintf("SELECT coalesce(last_error::text, '') || ' events: ' || "
                          "coalesce((SELECT string_agg(message, ' | ' ORDER BY id) FROM "
                          "job_events WHERE job_id = '%s'), '') FROM jobs WHERE id = '%s'",
                          id, id);
    char *error = th_sql(db, sql);
    cr_assert_str_eq(state, "succeeded", "job %s: %s", id, error);
    free(error);
    free(sql);
    free(state);
}

/* The Railway id of the live service name (free()), or NULL. */
static char *live_service_id(const char *name)
{
    cJSON *st = th_sim_state(&sim);
    char *id = NULL;
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(st, "services"))
    {
        if (strcmp(cJSON_GetObjectItem(s, "name")->valuestring, name) == 0 &&
            !cJSON_IsTrue(cJSON_GetObjectItem(s, "deleted")))
            id = xstrdup(cJSON_GetObjectItem(s, "id")->valuestring);
    }
    cJSON_Delete(st);
    return id;
}

/* Whether the simulator holds service id, deleted. */
static bool sim_service_deleted(const char *id)
{
    cJSON *st = th_sim_state(&sim);
    bool deleted = false;
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(st, "services"))
    {
        if (strcmp(cJSON_GetObjectItem(s, "id")->valuestring, id) == 0)
            deleted = cJSON_IsTrue(cJSON_GetObjectItem(s, "deleted"));
    }
    cJSON_Delete(st);
    return deleted;
}

/* Calls a Railway operation as a user outside railhook would (the dashboard, the CLI); takes
 * vars; returns a copy of the answer's data (caller deletes). */
static cJSON *railway_as_user(enum railway_op op, cJSON *vars)
{
    struct railway_limiter *lim = railway_limiter_new(100, 10000);
    struct railway_client *rc = railway_client_new(&tp.cfg, lim);
    struct railway_result r;
    cr_assert_eq(railway_call(rc, op, vars, 5000, &r), RH_OK, "%s", r.message);
    cJSON *data = cJSON_Duplicate(r.data, 1);
    railway_result_free(&r);
    cJSON_Delete(vars);
    railway_client_free(rc);
    railway_limiter_free(lim);
    return data;
}

/* Creates a service named name as a user would (no railhook mark); returns its id (free()). */
static char *user_service_create(const char *name)
{
    cJSON *vars = cJSON_CreateObject();
    cJSON *input = cJSON_AddObjectToObject(vars, "input");
    cJSON_AddStringToObject(input, "name", name);
    cJSON_AddStringToObject(input, "projectId", tp.cfg.railway_project_id);
    cJSON_AddStringToObject(input, "environmentId", tp.cfg.railway_environment_id);
    cJSON *data = railway_as_user(RAILWAY_OP_SERVICE_CREATE, vars);
    const cJSON *id = cJSON_GetObjectItem(cJSON_GetObjectItem(data, "serviceCreate"), "id");
    cr_assert(cJSON_IsString(id));
    char *out = xstrdup(id->valuestring);
    cJSON_Delete(data);
    return out;
}

/* Deletes service id as a user would, behind railhook's back. */
static void user_service_delete(const char *id)
{
    cJSON *vars = cJSON_CreateObject();
    cJSON_AddStringToObject(vars, "id", id);
    cJSON_AddStringToObject(vars, "environmentId", tp.cfg.railway_environment_id);
    cJSON_Delete(railway_as_user(RAILWAY_OP_SERVICE_DELETE, vars));
}

/* Whether Railway's project.services listing (as railhook reads it) shows id with deletedAt. */
static bool listed_as_deleted(const char *id)
{
    cJSON *vars = cJSON_CreateObject();
    cJSON_AddStringToObject(vars, "projectId", tp.cfg.railway_project_id);
    cJSON *data = railway_as_user(RAILWAY_OP_PROJECT_SERVICES, vars);
    bool listed = false;
    const cJSON *services = cJSON_GetObjectItem(cJSON_GetObjectItem(data, "project"), "services");
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(services, "edges"))
    {
        const cJSON *node = cJSON_GetObjectItem(e, "node");
        const cJSON *i = cJSON_GetObjectItem(node, "id");
        const cJSON *d = cJSON_GetObjectItem(node, "deletedAt");
        if (cJSON_IsString(i) && strcmp(i->valuestring, id) == 0 && cJSON_IsString(d))
            listed = true;
    }
    cJSON_Delete(data);
    return listed;
}

/* The Railway id railhook records for manifest's active service ("" when none; free()). */
static char *recorded_id(const char *manifest)
{
    char *sql = xasprintf("SELECT coalesce(max(railway_service_id), '') FROM services WHERE "
                          "manifest_id = '%s' AND status = 'active'",
                          manifest);
    char *id = th_sql(db, sql);
    free(sql);
    return id;
}

/* A provision after the manifest's service was deleted (deprovisioned, then the manifest sent
 * again) creates a new service; the deleted one, still listed, stays deleted. */
Test(flows_owner, a_deprovisioned_service_still_listed_is_not_reused, .init = start, .fini = stop,
     .timeout = 120)
{
    char *a = tf_provision(db, "m-del-1", "again");
    assert_succeeds(a);
    char *old = live_service_id("osp-worker-again");
    cr_assert_not_null(old);
    char *b = tf_enqueue(db, "deprovision", "osp-worker-again", "{\"manifest_id\":\"m-del-1\"}");
    assert_succeeds(b);
    cr_assert(listed_as_deleted(old), "the simulator does not list the deleted service");

    char *c = tf_provision(db, "m-del-1", "again");
    assert_succeeds(c);
    char *now = live_service_id("osp-worker-again");
    cr_assert_not_null(now, "no live service after the provision");
    cr_assert_str_neq(now, old, "the deleted service was reused");
    cr_assert(sim_service_deleted(old), "the deleted service came back");
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-again"), 1);
    char *rec = recorded_id("m-del-1");
    cr_assert_str_eq(rec, now, "railhook records the deleted id");
    free(rec);
    free(now);
    free(old);
    free(a);
    free(b);
    free(c);
}

/* A service that is not railhook's, deleted and still listed under the name, neither blocks
 * the name (name_taken) nor is adopted: the provision creates its own. */
Test(flows_owner, a_deleted_service_of_that_name_neither_blocks_nor_is_adopted, .init = start,
     .fini = stop, .timeout = 90)
{
    char *old = user_service_create("osp-worker-freed");
    user_service_delete(old);
    cr_assert(listed_as_deleted(old), "the simulator does not list the deleted service");

    char *a = tf_provision(db, "m-del-2", "freed");
    assert_succeeds(a);
    char *now = live_service_id("osp-worker-freed");
    cr_assert_not_null(now, "no live service after the provision");
    cr_assert_str_neq(now, old, "the deleted service was adopted");
    cr_assert(sim_service_deleted(old), "the deleted service came back");
    char *rec = recorded_id("m-del-2");
    cr_assert_str_eq(rec, now);
    free(rec);
    free(now);
    free(old);
    free(a);
}

/* The manifest's own service deleted in Railway behind railhook's back (dashboard, CLI): the
 * next provision of that manifest must not act on the recorded, deleted id (acting on it,
 * ServiceInstanceUpdate answers "ServiceInstance not found" and the provision never ends); it
 * checks that Railway still lists the recorded service, and creates a new one. */
Test(flows_owner, a_service_deleted_behind_railhooks_back_is_not_reused, .init = start,
     .fini = stop, .timeout = 120)
{
    char *a = tf_provision(db, "m-del-3", "vanished");
    assert_succeeds(a);
    char *old = live_service_id("osp-worker-vanished");
    cr_assert_not_null(old);
    user_service_delete(old);
    cr_assert(listed_as_deleted(old), "the simulator does not list the deleted service");

    char *b = tf_provision(db, "m-del-3", "vanished");
    assert_succeeds(b);
    char *now = live_service_id("osp-worker-vanished");
    cr_assert_not_null(now, "no live service after the provision");
    cr_assert_str_neq(now, old, "the deleted service was reused");
    cr_assert(sim_service_deleted(old), "the deleted service came back");
    char *rec = recorded_id("m-del-3");
    cr_assert_str_eq(rec, now, "railhook still records the deleted id");
    free(rec);
    free(now);
    free(old);
    free(a);
    free(b);
}

/* The job's error code ("" when none; free()). */
static char *error_code(const char *id)
{
    char *sql = xasprintf("SELECT coalesce(last_error->>'code', '') FROM jobs WHERE id = '%s'", id);
    char *code = th_sql(db, sql);
    free(sql);
    return code;
}

/* railhook running on Railway as a service of the project it manages: a manifest whose name is
 * that service's, or a services row that records its id, fails for good with own_service;
 * the service stays as it was and railhook records nothing for it. */
Test(flows_owner, railhooks_own_service_is_never_touched, .init = start, .fini = stop,
     .timeout = 120)
{
    char *own = user_service_create("osp-worker-self");
    free(tp.cfg.railway_service_id);
    tp.cfg.railway_service_id = xstrdup(own);

    /* Found by name: neither adopted nor reported as merely taken. */
    char *a = tf_provision(db, "m-self-1", "self");
    char *state = tf_wait_done(db, a, 45000);
    cr_assert_str_eq(state, "failed");
    char *code = error_code(a);
    cr_assert_str_eq(code, "own_service");
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM services WHERE name = 'osp-worker-self'"), 0,
                 "railhook recorded its own service as a worker");

    /* Recorded by id (a row pointing at railhook's service): a deprovision deletes nothing. */
    char *ins = xasprintf("INSERT INTO services (name, manifest_id, railway_service_id, status) "
                          "VALUES ('osp-worker-mine', 'm-self-2', '%s', 'active')",
                          own);
    free(th_sql(db, ins));
    char *b = tf_enqueue(db, "deprovision", "osp-worker-mine", "{\"manifest_id\":\"m-self-2\"}");
    char *state_b = tf_wait_done(db, b, 45000);
    cr_assert_str_eq(state_b, "failed");
    char *code_b = error_code(b);
    cr_assert_str_eq(code_b, "own_service");

    /* A manifest of another name goes on as usual. */
    char *c = tf_provision(db, "m-self-3", "other");
    assert_succeeds(c);

    cr_assert_not(sim_service_deleted(own), "railhook deleted its own service");
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-self"), 1);
    free(ins);
    free(code_b);
    free(state_b);
    free(b);
    free(code);
    free(state);
    free(a);
    free(own);
}
