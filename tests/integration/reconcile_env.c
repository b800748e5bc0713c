/* The reconciliation suites' shared environment (reconcile_env.h). */
#include "reconcile_env.h"

#include "queue/queue.h"
#include "util/log.h"
#include "util/util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct th_sim rc_sim;
char *rc_db; /* railhook's database */
struct supabase_standin rc_supa;
struct tf_pool rc_tp;
struct mapping_reconciler rc_mr;

void rc_manifest_insert(const char *id, const char *schema)
{
    char *sql = xasprintf("INSERT INTO manifests (id, service_schema, status) VALUES ('%s', '%s', "
                          "'pending')",
                          id, schema);
    PQclear(th_query(rc_supa.owner_url, sql));
    free(sql);
}

/* Loads the configuration (after the test's setenv) and starts the pool. */
void rc_start(const char *manifests)
{
    setenv("DEPLOY_POLL_MIN_MS", "100", 1);
    setenv("DEPLOY_POLL_MAX_MS", "300", 1);
    setenv("RETRY_BASE_MS", "100", 1);
    setenv("RETRY_MAX_MS", "500", 1);
    setenv("CONNECT_DEPLOY_WAIT_S", "2", 1);
    setenv("RAILWAY_MAX_RPS", "200", 1);
    setenv("QUEUE_POLL_MS", "100", 1);
    setenv("LOG_LEVEL", "error", 1);
    setenv("MANIFESTS_DATABASE_URL", manifests ? manifests : "", 1);
    setenv("DATABASE_URL", rc_db, 1);
    tf_pool_start(&rc_tp, 2);
    char err[256];
    cr_assert_eq(mapping_reconciler_init(&rc_mr, &rc_tp.cfg, err, sizeof(err)), RH_OK, "%s", err);
}

void rc_stop_pool(void)
{
    tf_pool_stop(&rc_tp);
    mapping_reconciler_free(&rc_mr);
}

void rc_setup(void)
{
    const char *flags[] = {"--build-ms", "300", "--instance-delay-ms", "100", NULL};
    th_sim_start(&rc_sim, flags);
    rc_db = th_db_create();
    supabase_standin_create(&rc_supa);
    unsetenv("RECONCILE_DELETE");
    unsetenv("RECONCILE_MAX_DELETE");
}

void rc_teardown(void)
{
    if (rc_tp.pool)
        rc_stop_pool();
    th_sim_stop(&rc_sim);
    th_db_drop(rc_db);
    supabase_standin_drop(&rc_supa);
}

/* One pass; asserts it ran. */
void rc_pass(bool apply, struct reconcile_report *rep)
{
    const struct reconcile_options o = {.mode = apply ? "apply" : "plan", .apply = apply};
    cr_assert_eq(reconcile_pass(rc_tp.fl, rc_tp.store, &rc_mr.mapper, &o, rep), RH_OK, "%s",
                 rep->error);
    cr_assert(rep->ok, "pass failed: %s", rep->error);
}

/* Waits until no job is queued or running, then asserts every job succeeded. */
void rc_jobs_settle(void)
{
    int64_t deadline = time_mono_ms() + 60000;
    while (th_sql_long(rc_db, "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')") >
           0) {
        cr_assert(time_mono_ms() < deadline, "jobs did not finish");
        usleep(50 * 1000);
    }
    char *bad = th_sql(rc_db, "SELECT string_agg(kind || ' ' || state || ' ' || "
                              "coalesce(last_error::text, ''), '; ') FROM jobs WHERE state <> "
                              "'succeeded'");
    cr_assert_null(bad, "jobs that did not succeed: %s", bad);
}

/* The plan's change for service name, or NULL. */
const struct reconcile_change *rc_change_of(const struct reconcile_report *rep, const char *name)
{
    for (size_t i = 0; i < rep->plan.n; i++)
        if (strcmp(rep->plan.changes[i].service_name, name) == 0)
            return &rep->plan.changes[i];
    return NULL;
}

/* Asserts a plan pass finds nothing: converged. */
void rc_assert_converged(void)
{
    struct reconcile_report rep;
    rc_pass(false, &rep);
    cJSON *j = reconcile_plan_json(&rep.plan);
    char *s = cJSON_PrintUnformatted(j);
    cr_assert_eq(rep.plan.n, 0, "not converged: %s", s);
    cJSON_free(s);
    cJSON_Delete(j);
    reconcile_report_free(&rep);
}

/* Rows inserted while railhook was down (no webhook) get their services: plan, apply, run. */
void rc_converge_two(void)
{
    rc_manifest_insert("m-a", "alpha");
    rc_manifest_insert("m-b", "beta");
    struct reconcile_report rep;
    rc_pass(false, &rep);
    cr_assert_eq(rep.plan.n, 2);
    cr_assert_eq(rc_change_of(&rep, "osp-worker-alpha")->action, RECONCILE_CREATE);
    cr_assert_eq(th_sql_long(rc_db, "SELECT count(*) FROM jobs"), 0, "a plan enqueues nothing");
    reconcile_report_free(&rep);
    rc_pass(true, &rep);
    cr_assert_eq(rep.enqueued, 2);
    cr_assert_eq(th_sql_long(rc_db, "SELECT count(*) FROM jobs WHERE kind = 'provision' AND "
                                    "payload->>'source' = 'reconcile'"),
                 2);
    reconcile_report_free(&rep);
    /* Applied again while they are queued or running: nothing twice. */
    rc_pass(true, &rep);
    cr_assert_eq(rep.enqueued, 0);
    reconcile_report_free(&rep);
    rc_jobs_settle();
    cr_assert_eq(th_sim_count_services(&rc_sim, "osp-worker-alpha"), 1);
    cr_assert_eq(th_sim_count_services(&rc_sim, "osp-worker-beta"), 1);
    rc_assert_converged();
}

/* The Railway id of the live service name (free()). */
char *rc_live_id(const char *name)
{
    char *sql = xasprintf("SELECT railway_service_id FROM services WHERE name = '%s'", name);
    char *id = th_sql(rc_db, sql);
    free(sql);
    return id;
}

/* POSTs json to the simulator's control endpoint path; asserts it was accepted. */
void rc_sim_post(const char *path, const char *json)
{
    struct th_response r;
    char *url = xasprintf("%s%s", rc_sim.base, path);
    th_http(&r, "POST", url, NULL, json, strlen(json));
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);
    free(url);
}

/* A change made by hand in Railway's dashboard. */
void rc_drift(const char *json)
{
    rc_sim_post("/_sim/drift", json);
}
