/* Reconciliation (flows/reconcile.c) against the Railway simulator and a second database of the
 * test cluster standing in for Supabase (a manifests table read by a read-only role), with the
 * real worker pool running the jobs a pass enqueues: every case of issue 14 converges, or is
 * refused, as the plan says. The command, the periodic pass and GET /reconcile are in
 * test_reconcile_serve.c. */
#include "flows_jobs.h"
#include "reconcile_env.h"

#include "railway/railway.h"
#include "util/util.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TestSuite(reconcile, .init = rc_setup, .fini = rc_teardown, .timeout = 120);

Test(reconcile, rows_inserted_while_stopped_get_their_services)
{
    rc_start(rc_supa.reader_url);
    rc_converge_two();
    cr_assert_eq(th_sql_long(rc_db, "SELECT count(*) FROM reconcile_passes WHERE ok AND "
                                    "finished_at IS NOT NULL"),
                 4);
}

Test(reconcile, changes_by_hand_are_repaired)
{
    rc_start(rc_supa.reader_url);
    rc_converge_two();
    char *a = rc_live_id("osp-worker-alpha"), *b = rc_live_id("osp-worker-beta");
    char *body = xasprintf("{\"id\":\"%s\",\"delete\":true}", a);
    rc_drift(body);
    free(body);
    body = xasprintf("{\"id\":\"%s\",\"root_directory\":\"/elsewhere\",\"disconnect\":true}", b);
    rc_drift(body);
    free(body);

    struct reconcile_report rep;
    rc_pass(true, &rep);
    const struct reconcile_change *ca = rc_change_of(&rep, "osp-worker-alpha");
    const struct reconcile_change *cb = rc_change_of(&rep, "osp-worker-beta");
    cr_assert(ca && ca->action == RECONCILE_CREATE && strstr(ca->reason, "gone"));
    cr_assert(cb && cb->action == RECONCILE_UPDATE && strstr(cb->reason, "root directory"));
    cr_assert_eq(rep.enqueued, 2);
    reconcile_report_free(&rep);
    rc_jobs_settle();
    char *a2 = rc_live_id("osp-worker-alpha");
    cr_assert_str_neq(a2, a, "a new service replaces the deleted one");
    cr_assert_eq(th_sim_count_services(&rc_sim, "osp-worker-alpha"), 1);
    rc_assert_converged();
    free(a);
    free(a2);
    free(b);
}

Test(reconcile, a_deleted_row_is_reported_then_deleted_when_deletes_are_on)
{
    rc_start(rc_supa.reader_url);
    rc_converge_two();
    PQclear(th_query(rc_supa.owner_url, "DELETE FROM manifests WHERE id = 'm-b'"));
    struct reconcile_report rep;
    rc_pass(true, &rep);
    const struct reconcile_change *c = rc_change_of(&rep, "osp-worker-beta");
    cr_assert(c && c->action == RECONCILE_DELETE && c->refused, "RECONCILE_DELETE off: reported");
    cr_assert_eq(rep.enqueued, 0);
    reconcile_report_free(&rep);
    cr_assert_eq(th_sim_count_services(&rc_sim, "osp-worker-beta"), 1);
    rc_stop_pool();

    setenv("RECONCILE_DELETE", "on", 1);
    rc_start(rc_supa.reader_url);
    rc_pass(true, &rep);
    cr_assert_eq(rep.enqueued, 1);
    cr_assert_eq(th_sql_long(rc_db, "SELECT count(*) FROM jobs WHERE kind = 'deprovision'"), 1);
    reconcile_report_free(&rep);
    rc_jobs_settle();
    cr_assert_eq(th_sim_count_services(&rc_sim, "osp-worker-beta"), 0);
    cr_assert_eq(th_sim_count_services(&rc_sim, "osp-worker-alpha"), 1);
    rc_assert_converged();
}

Test(reconcile, an_emptied_table_deletes_nothing)
{
    setenv("RECONCILE_DELETE", "on", 1);
    rc_start(rc_supa.reader_url);
    rc_converge_two();
    PQclear(th_query(rc_supa.owner_url, "DELETE FROM manifests"));
    struct reconcile_report rep;
    rc_pass(true, &rep);
    cr_assert_eq(rep.plan.n, 2);
    cr_assert_eq(rep.plan.refused, 2);
    cr_assert(strstr(rep.plan.refusal, "empty"));
    cr_assert_eq(rep.enqueued, 0);
    reconcile_report_free(&rep);
    cr_assert_eq(th_sql_long(rc_db, "SELECT count(*) FROM jobs WHERE kind = 'deprovision'"), 0);
    cr_assert_eq(
        th_sql_long(rc_db, "SELECT refused FROM reconcile_passes ORDER BY id DESC LIMIT 1"), 2);
}

Test(reconcile, a_foreign_service_is_reported_and_untouched)
{
    rc_start(rc_supa.reader_url);
    rc_sim_post("/_sim/services",
                "{\"prefix\":\"osp-worker-stranger\",\"count\":1,\"repo\":\"acme/osp\"}");
    struct reconcile_report rep;
    rc_pass(true, &rep);
    cr_assert_eq(rep.plan.n, 1);
    cr_assert_eq(rep.plan.changes[0].action, RECONCILE_FOREIGN);
    cr_assert_str_eq(rep.plan.changes[0].service_name, "osp-worker-stranger0");
    cr_assert_eq(rep.enqueued, 0);
    reconcile_report_free(&rep);
    cr_assert_eq(th_sql_long(rc_db, "SELECT count(*) FROM jobs"), 0);
    cr_assert_eq(th_sim_count_services(&rc_sim, "osp-worker-stranger0"), 1);
}

Test(reconcile, an_unreachable_manifests_database_changes_nothing)
{
    char *bad = xasprintf("postgresql://nobody@127.0.0.1:%d/none", th_free_port());
    rc_start(bad);
    struct reconcile_report rep;
    const struct reconcile_options o = {.mode = "repair", .apply = true};
    cr_assert_neq(reconcile_pass(rc_tp.fl, rc_tp.store, &rc_mr.mapper, &o, &rep), RH_OK);
    cr_assert_not(rep.ok);
    cr_assert(strstr(rep.error, "manifests database"), "%s", rep.error);
    cr_assert_eq(rep.railway_requests, 0);
    reconcile_report_free(&rep);
    cr_assert_eq(th_sql_long(rc_db, "SELECT count(*) FROM jobs"), 0);
    char *err = th_sql(rc_db, "SELECT error FROM reconcile_passes WHERE NOT ok");
    cr_assert(err && strstr(err, "cannot connect"), "%s", err ? err : "no pass recorded");
    free(err);
    free(bad);
}

Test(reconcile, a_missing_column_changes_nothing)
{
    PQclear(th_query(rc_supa.owner_url, "ALTER TABLE manifests DROP COLUMN service_schema"));
    rc_start(rc_supa.reader_url);
    struct reconcile_report rep;
    const struct reconcile_options o = {.mode = "repair", .apply = true};
    cr_assert_neq(reconcile_pass(rc_tp.fl, rc_tp.store, &rc_mr.mapper, &o, &rep), RH_OK);
    cr_assert(strstr(rep.error, "service_schema"), "%s", rep.error);
    reconcile_report_free(&rep);
    cr_assert_eq(th_sql_long(rc_db, "SELECT count(*) FROM jobs"), 0);
}

Test(reconcile, five_hundred_services_within_budget)
{
    rc_start(rc_supa.reader_url);
    rc_sim_post("/_sim/services", "{\"prefix\":\"osp-worker-bulk\",\"count\":500,\"repo\":"
                                  "\"acme/osp\",\"root_directory\":\"/workers\"}");
    struct reconcile_report rep;
    rc_pass(false, &rep);
    cr_assert_eq(rep.plan.n, 500, "each is foreign: railhook owns none");
    cr_assert_eq(rep.snapshot_pages, 5, "100 instances a page");
    cr_assert_leq(rep.railway_requests, rc_tp.cfg.reconcile_budget);
    reconcile_report_free(&rep);
}

Test(reconcile, a_pass_over_budget_stops_and_changes_nothing)
{
    setenv("RECONCILE_BUDGET", "2", 1);
    rc_start(rc_supa.reader_url);
    unsetenv("RECONCILE_BUDGET");
    rc_sim_post("/_sim/services", "{\"prefix\":\"osp-worker-bulk\",\"count\":250}");
    rc_manifest_insert("m-f", "phi");
    struct reconcile_report rep;
    const struct reconcile_options o = {.mode = "repair", .apply = true};
    cr_assert_neq(reconcile_pass(rc_tp.fl, rc_tp.store, &rc_mr.mapper, &o, &rep), RH_OK);
    cr_assert(strstr(rep.error, "RECONCILE_BUDGET"), "%s", rep.error);
    cr_assert_eq(rep.railway_requests, 2);
    reconcile_report_free(&rep);
    cr_assert_eq(th_sql_long(rc_db, "SELECT count(*) FROM jobs"), 0);
}

Test(reconcile, two_instances_never_reconcile_at_once)
{
    rc_start(rc_supa.reader_url);
    /* Another instance holds the lock: this one skips its pass and records nothing. */
    PGconn *other = PQconnectdb(rc_db);
    PGresult *res = PQexec(other, "SELECT pg_try_advisory_lock(hashtext('railhook_reconcile'))");
    cr_assert_str_eq(PQgetvalue(res, 0, 0), "t");
    PQclear(res);
    struct reconcile_report rep;
    const struct reconcile_options o = {.mode = "repair", .apply = true};
    cr_assert_eq(reconcile_pass(rc_tp.fl, rc_tp.store, &rc_mr.mapper, &o, &rep), RH_OK);
    cr_assert(rep.skipped);
    cr_assert_eq(rep.railway_requests, 0);
    reconcile_report_free(&rep);
    cr_assert_eq(th_sql_long(rc_db, "SELECT count(*) FROM reconcile_passes"), 0);
    PQfinish(other); /* its session ends: the lock is free */
    rc_pass(false, &rep);
    cr_assert_not(rep.skipped);
    reconcile_report_free(&rep);
}

static pthread_barrier_t both_ready;

/* One pass on a thread of its own, started together with the other (the two instances). */
static void *pass_thread(void *arg)
{
    struct reconcile_report *rep = arg;
    const struct reconcile_options o = {.mode = "repair", .apply = true};
    pthread_barrier_wait(&both_ready);
    reconcile_pass(rc_tp.fl, rc_tp.store, &rc_mr.mapper, &o, rep);
    return NULL;
}

Test(reconcile, two_passes_started_together_one_skips)
{
    rc_start(rc_supa.reader_url);
    /* Every Railway answer takes a second: the first pass holds the lock meanwhile. */
    th_sim_config(&rc_sim, "{\"fault_rate\":1,\"fault_kinds\":\"delay\",\"fault_delay_ms\":1000}");
    struct reconcile_report a, b;
    pthread_t ta, tb;
    pthread_barrier_init(&both_ready, NULL, 2);
    pthread_create(&ta, NULL, pass_thread, &a);
    pthread_create(&tb, NULL, pass_thread, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&both_ready);
    cr_assert(a.skipped != b.skipped, "exactly one pass runs (a: %s, b: %s)",
              a.skipped ? "skipped" : a.error, b.skipped ? "skipped" : b.error);
    cr_assert(a.ok || b.ok);
    cr_assert_eq(th_sql_long(rc_db, "SELECT count(*) FROM reconcile_passes"), 1);
    reconcile_report_free(&a);
    reconcile_report_free(&b);
}

Test(reconcile, without_a_manifests_database_railway_drift_is_still_found)
{
    rc_start(NULL);
    char *id = tf_provision(rc_db, "m-d", "delta");
    char *state = tf_wait_done(rc_db, id, 45000);
    cr_assert_str_eq(state, "succeeded");
    free(state);
    free(id);
    rc_assert_converged();
    char *sid = rc_live_id("osp-worker-delta");
    char *body = xasprintf("{\"id\":\"%s\",\"delete\":true}", sid);
    rc_drift(body);
    free(body);
    struct reconcile_report rep;
    rc_pass(true, &rep);
    cr_assert_eq(rep.plan.n, 1);
    cr_assert_eq(rep.plan.changes[0].action, RECONCILE_CREATE);
    cr_assert_eq(rep.enqueued, 1);
    reconcile_report_free(&rep);
    rc_jobs_settle();
    rc_assert_converged();
    free(sid);
}

Test(reconcile, a_deep_pass_finds_variables_changed_on_railway)
{
    rc_start(rc_supa.reader_url);
    rc_converge_two();
    /* Someone edits a worker's variable in the dashboard. */
    char *sid = rc_live_id("osp-worker-alpha");
    cJSON *vars = cJSON_CreateObject();
    cJSON *input = cJSON_AddObjectToObject(vars, "input");
    cJSON_AddStringToObject(input, "projectId", rc_tp.cfg.railway_project_id);
    cJSON_AddStringToObject(input, "environmentId", rc_tp.cfg.railway_environment_id);
    cJSON_AddStringToObject(input, "serviceId", sid);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(input, "variables"), "SERVICE_SCHEMA",
                            "edited-by-hand");
    cJSON_AddBoolToObject(input, "skipDeploys", true);
    struct railway_limiter *lim = railway_limiter_new(100, 10000);
    struct railway_client *rc = railway_client_new(&rc_tp.cfg, lim);
    struct railway_result r;
    cr_assert_eq(railway_call(rc, RAILWAY_OP_VARIABLE_COLLECTION_UPSERT, vars, 5000, &r), RH_OK,
                 "%s", r.message);
    railway_result_free(&r);
    railway_client_free(rc);
    railway_limiter_free(lim);
    cJSON_Delete(vars);

    rc_assert_converged(); /* a plain pass reads no variables: it cannot see this */
    struct reconcile_report rep;
    const struct reconcile_options deep = {.mode = "apply", .apply = true, .deep = true};
    cr_assert_eq(reconcile_pass(rc_tp.fl, rc_tp.store, &rc_mr.mapper, &deep, &rep), RH_OK, "%s",
                 rep.error);
    cr_assert_eq(rep.plan.n, 1);
    cr_assert_eq(rep.plan.changes[0].action, RECONCILE_UPDATE);
    cr_assert(strstr(rep.plan.changes[0].reason, "on Railway"), "%s", rep.plan.changes[0].reason);
    cr_assert_eq(rep.railway_requests, 3, "the snapshot and one read per owned service");
    cr_assert_eq(rep.enqueued, 1);
    reconcile_report_free(&rep);
    rc_jobs_settle();
    const struct reconcile_options deep_plan = {.mode = "plan", .deep = true};
    cr_assert_eq(reconcile_pass(rc_tp.fl, rc_tp.store, &rc_mr.mapper, &deep_plan, &rep), RH_OK);
    cr_assert_eq(rep.plan.n, 0, "the deep pass converged");
    reconcile_report_free(&rep);
    free(sid);
}

Test(reconcile, a_failed_repair_is_held_not_repeated)
{
    rc_start(rc_supa.reader_url);
    th_sim_config(&rc_sim, "{\"fail_builds\":\"zeta\"}");
    rc_manifest_insert("m-z", "zeta");
    struct reconcile_report rep;
    rc_pass(true, &rep);
    cr_assert_eq(rep.enqueued, 1);
    char *id = xstrdup(cJSON_GetObjectItem(cJSON_GetArrayItem(rep.jobs, 0), "job_id")->valuestring);
    reconcile_report_free(&rep);
    char *state = tf_wait_done(rc_db, id, 60000);
    cr_assert_str_eq(state, "failed", "the build fails");
    free(state);

    rc_pass(true, &rep);
    cr_assert_eq(rep.plan.n, 1, "still differs");
    cr_assert_eq(rep.enqueued, 0, "but the failure is not repeated");
    const cJSON *held = cJSON_GetArrayItem(rep.held, 0);
    cr_assert(held && strstr(cJSON_GetObjectItem(held, "reason")->valuestring, id));
    reconcile_report_free(&rep);
    cr_assert_eq(th_sql_long(rc_db, "SELECT count(*) FROM jobs"), 1);
    free(id);
}
