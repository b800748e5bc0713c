/* Reconciliation (flows/reconcile.c, `railhook reconcile`) against the Railway simulator and a
 * second database of the test cluster standing in for Supabase (a manifests table read by a
 * read-only role), with the real worker pool running the jobs a pass enqueues: every case of
 * issue 14 converges, or is refused, as the plan says. */
#include "flows_jobs.h"
#include "supabase_standin.h"
#include "support/harness.h"

#include "flows/flows.h"
#include "flows/reconcile.h"
#include "handlers/mapping_reconcile.h"
#include "queue/queue.h"
#include "railway/railway.h"
#include "util/log.h"
#include "util/util.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static struct th_sim sim;
static char *db; /* railhook's database */
static struct supabase_standin supa;
static struct config cfg;
static struct store *store;
static struct queue *pool;
static struct flows *fl;
static struct mapping_reconciler mr;

static void manifest_insert(const char *id, const char *schema)
{
    char *sql = xasprintf("INSERT INTO manifests (id, service_schema, status) VALUES ('%s', '%s', "
                          "'pending')",
                          id, schema);
    PQclear(th_query(supa.owner_url, sql));
    free(sql);
}

/* Loads the configuration (after the test's setenv) and starts the pool. */
static void start_with(const char *manifests)
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
    setenv("DATABASE_URL", db, 1);
    char err[256];
    cr_assert(config_load(&cfg, CONFIG_NEED_DATABASE, err, sizeof(err)), "%s", err);
    log_setup(LOG_ERROR, false, 2);
    store = store_open(cfg.database_url, 2, cfg.db_pool_wait_ms, cfg.queue_listen);
    pool = queue_create(&cfg, store);
    fl = flows_new(&cfg, err, sizeof(err));
    cr_assert_not_null(fl, "%s", err);
    flows_register(fl, pool);
    cr_assert_eq(mapping_reconciler_init(&mr, &cfg, err, sizeof(err)), RH_OK, "%s", err);
    cr_assert_eq(queue_start(pool, err, sizeof(err)), RH_OK, "%s", err);
}

static void stop_pool(void)
{
    queue_stop(pool, 2000);
    mapping_reconciler_free(&mr);
    store_close(store);
    flows_free(fl);
    config_free(&cfg);
    pool = NULL;
}

static void setup(void)
{
    const char *flags[] = {"--build-ms", "300", "--instance-delay-ms", "100", NULL};
    th_sim_start(&sim, flags);
    db = th_db_create();
    supabase_standin_create(&supa);
    unsetenv("RECONCILE_DELETE");
    unsetenv("RECONCILE_MAX_DELETE");
}

static void teardown(void)
{
    if (pool)
        stop_pool();
    th_sim_stop(&sim);
    th_db_drop(db);
    supabase_standin_drop(&supa);
}

TestSuite(reconcile, .init = setup, .fini = teardown, .timeout = 120);

/* One pass; asserts it ran. */
static void pass(bool apply, struct reconcile_report *rep)
{
    const struct reconcile_options o = {.mode = apply ? "apply" : "plan", .apply = apply};
    cr_assert_eq(reconcile_pass(fl, store, &mr.mapper, &o, rep), RH_OK, "%s", rep->error);
    cr_assert(rep->ok, "pass failed: %s", rep->error);
}

/* Waits until no job is queued or running, then asserts every job succeeded. */
static void jobs_settle(void)
{
    int64_t deadline = time_mono_ms() + 60000;
    while (th_sql_long(db, "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')") > 0) {
        cr_assert(time_mono_ms() < deadline, "jobs did not finish");
        usleep(50 * 1000);
    }
    char *bad = th_sql(db, "SELECT string_agg(kind || ' ' || state || ' ' || "
                           "coalesce(last_error::text, ''), '; ') FROM jobs WHERE state <> "
                           "'succeeded'");
    cr_assert_null(bad, "jobs that did not succeed: %s", bad);
}

/* The plan's change for service name, or NULL. */
static const struct reconcile_change *change_of(const struct reconcile_report *rep,
                                                const char *name)
{
    for (size_t i = 0; i < rep->plan.n; i++)
        if (strcmp(rep->plan.changes[i].service_name, name) == 0)
            return &rep->plan.changes[i];
    return NULL;
}

/* Asserts a plan pass finds nothing: converged. */
static void assert_converged(void)
{
    struct reconcile_report rep;
    pass(false, &rep);
    cJSON *j = reconcile_plan_json(&rep.plan);
    char *s = cJSON_PrintUnformatted(j);
    cr_assert_eq(rep.plan.n, 0, "not converged: %s", s);
    cJSON_free(s);
    cJSON_Delete(j);
    reconcile_report_free(&rep);
}

/* Rows inserted while railhook was down (no webhook) get their services: plan, apply, run. */
static void converge_two(void)
{
    manifest_insert("m-a", "alpha");
    manifest_insert("m-b", "beta");
    struct reconcile_report rep;
    pass(false, &rep);
    cr_assert_eq(rep.plan.n, 2);
    cr_assert_eq(change_of(&rep, "osp-worker-alpha")->action, RECONCILE_CREATE);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 0, "a plan enqueues nothing");
    reconcile_report_free(&rep);
    pass(true, &rep);
    cr_assert_eq(rep.enqueued, 2);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs WHERE kind = 'provision' AND "
                                 "payload->>'source' = 'reconcile'"),
                 2);
    reconcile_report_free(&rep);
    /* Applied again while they are queued or running: nothing twice. */
    pass(true, &rep);
    cr_assert_eq(rep.enqueued, 0);
    reconcile_report_free(&rep);
    jobs_settle();
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-alpha"), 1);
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-beta"), 1);
    assert_converged();
}

Test(reconcile, rows_inserted_while_stopped_get_their_services)
{
    start_with(supa.reader_url);
    converge_two();
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM reconcile_passes WHERE ok AND "
                                 "finished_at IS NOT NULL"),
                 4);
}

/* The Railway id of the live service name (free()). */
static char *live_id(const char *name)
{
    char *sql = xasprintf("SELECT railway_service_id FROM services WHERE name = '%s'", name);
    char *id = th_sql(db, sql);
    free(sql);
    return id;
}

/* POSTs json to the simulator's control endpoint path; asserts it was accepted. */
static void sim_post(const char *path, const char *json)
{
    struct th_response r;
    char *url = xasprintf("%s%s", sim.base, path);
    th_http(&r, "POST", url, NULL, json, strlen(json));
    cr_assert_eq(r.status, 200, "%s", r.body);
    th_response_free(&r);
    free(url);
}

/* A change made by hand in Railway's dashboard. */
static void drift(const char *json)
{
    sim_post("/_sim/drift", json);
}

Test(reconcile, changes_by_hand_are_repaired)
{
    start_with(supa.reader_url);
    converge_two();
    char *a = live_id("osp-worker-alpha"), *b = live_id("osp-worker-beta");
    char *body = xasprintf("{\"id\":\"%s\",\"delete\":true}", a);
    drift(body);
    free(body);
    body = xasprintf("{\"id\":\"%s\",\"root_directory\":\"/elsewhere\",\"disconnect\":true}", b);
    drift(body);
    free(body);

    struct reconcile_report rep;
    pass(true, &rep);
    const struct reconcile_change *ca = change_of(&rep, "osp-worker-alpha");
    const struct reconcile_change *cb = change_of(&rep, "osp-worker-beta");
    cr_assert(ca && ca->action == RECONCILE_CREATE && strstr(ca->reason, "gone"));
    cr_assert(cb && cb->action == RECONCILE_UPDATE && strstr(cb->reason, "root directory"));
    cr_assert_eq(rep.enqueued, 2);
    reconcile_report_free(&rep);
    jobs_settle();
    char *a2 = live_id("osp-worker-alpha");
    cr_assert_str_neq(a2, a, "a new service replaces the deleted one");
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-alpha"), 1);
    assert_converged();
    free(a);
    free(a2);
    free(b);
}

Test(reconcile, a_deleted_row_is_reported_then_deleted_when_deletes_are_on)
{
    start_with(supa.reader_url);
    converge_two();
    PQclear(th_query(supa.owner_url, "DELETE FROM manifests WHERE id = 'm-b'"));
    struct reconcile_report rep;
    pass(true, &rep);
    const struct reconcile_change *c = change_of(&rep, "osp-worker-beta");
    cr_assert(c && c->action == RECONCILE_DELETE && c->refused, "RECONCILE_DELETE off: reported");
    cr_assert_eq(rep.enqueued, 0);
    reconcile_report_free(&rep);
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-beta"), 1);
    stop_pool();

    setenv("RECONCILE_DELETE", "on", 1);
    start_with(supa.reader_url);
    pass(true, &rep);
    cr_assert_eq(rep.enqueued, 1);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs WHERE kind = 'deprovision'"), 1);
    reconcile_report_free(&rep);
    jobs_settle();
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-beta"), 0);
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-alpha"), 1);
    assert_converged();
}

Test(reconcile, an_emptied_table_deletes_nothing)
{
    setenv("RECONCILE_DELETE", "on", 1);
    start_with(supa.reader_url);
    converge_two();
    PQclear(th_query(supa.owner_url, "DELETE FROM manifests"));
    struct reconcile_report rep;
    pass(true, &rep);
    cr_assert_eq(rep.plan.n, 2);
    cr_assert_eq(rep.plan.refused, 2);
    cr_assert(strstr(rep.plan.refusal, "empty"));
    cr_assert_eq(rep.enqueued, 0);
    reconcile_report_free(&rep);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs WHERE kind = 'deprovision'"), 0);
    cr_assert_eq(th_sql_long(db, "SELECT refused FROM reconcile_passes ORDER BY id DESC LIMIT 1"),
                 2);
}

Test(reconcile, a_foreign_service_is_reported_and_untouched)
{
    start_with(supa.reader_url);
    sim_post("/_sim/services",
             "{\"prefix\":\"osp-worker-stranger\",\"count\":1,\"repo\":\"acme/osp\"}");
    struct reconcile_report rep;
    pass(true, &rep);
    cr_assert_eq(rep.plan.n, 1);
    cr_assert_eq(rep.plan.changes[0].action, RECONCILE_FOREIGN);
    cr_assert_str_eq(rep.plan.changes[0].service_name, "osp-worker-stranger0");
    cr_assert_eq(rep.enqueued, 0);
    reconcile_report_free(&rep);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 0);
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-stranger0"), 1);
}

Test(reconcile, an_unreachable_manifests_database_changes_nothing)
{
    char *bad = xasprintf("postgresql://nobody@127.0.0.1:%d/none", th_free_port());
    start_with(bad);
    struct reconcile_report rep;
    const struct reconcile_options o = {.mode = "repair", .apply = true};
    cr_assert_neq(reconcile_pass(fl, store, &mr.mapper, &o, &rep), RH_OK);
    cr_assert_not(rep.ok);
    cr_assert(strstr(rep.error, "manifests database"), "%s", rep.error);
    cr_assert_eq(rep.railway_requests, 0);
    reconcile_report_free(&rep);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 0);
    char *err = th_sql(db, "SELECT error FROM reconcile_passes WHERE NOT ok");
    cr_assert(err && strstr(err, "cannot connect"), "%s", err ? err : "no pass recorded");
    free(err);
    free(bad);
}

Test(reconcile, a_missing_column_changes_nothing)
{
    PQclear(th_query(supa.owner_url, "ALTER TABLE manifests DROP COLUMN service_schema"));
    start_with(supa.reader_url);
    struct reconcile_report rep;
    const struct reconcile_options o = {.mode = "repair", .apply = true};
    cr_assert_neq(reconcile_pass(fl, store, &mr.mapper, &o, &rep), RH_OK);
    cr_assert(strstr(rep.error, "service_schema"), "%s", rep.error);
    reconcile_report_free(&rep);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 0);
}

Test(reconcile, five_hundred_services_within_budget)
{
    start_with(supa.reader_url);
    sim_post("/_sim/services", "{\"prefix\":\"osp-worker-bulk\",\"count\":500,\"repo\":"
                               "\"acme/osp\",\"root_directory\":\"/workers\"}");
    struct reconcile_report rep;
    pass(false, &rep);
    cr_assert_eq(rep.plan.n, 500, "each is foreign: railhook owns none");
    cr_assert_eq(rep.snapshot_pages, 5, "100 instances a page");
    cr_assert_leq(rep.railway_requests, cfg.reconcile_budget);
    reconcile_report_free(&rep);
}

Test(reconcile, two_instances_never_reconcile_at_once)
{
    start_with(supa.reader_url);
    /* Another instance holds the lock: this one skips its pass and records nothing. */
    PGconn *other = PQconnectdb(db);
    PGresult *res = PQexec(other, "SELECT pg_try_advisory_lock(hashtext('railhook_reconcile'))");
    cr_assert_str_eq(PQgetvalue(res, 0, 0), "t");
    PQclear(res);
    struct reconcile_report rep;
    const struct reconcile_options o = {.mode = "repair", .apply = true};
    cr_assert_eq(reconcile_pass(fl, store, &mr.mapper, &o, &rep), RH_OK);
    cr_assert(rep.skipped);
    cr_assert_eq(rep.railway_requests, 0);
    reconcile_report_free(&rep);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM reconcile_passes"), 0);
    PQfinish(other); /* its session ends: the lock is free */
    pass(false, &rep);
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
    reconcile_pass(fl, store, &mr.mapper, &o, rep);
    return NULL;
}

Test(reconcile, two_passes_started_together_one_skips)
{
    start_with(supa.reader_url);
    /* Every Railway answer takes a second: the first pass holds the lock meanwhile. */
    th_sim_config(&sim, "{\"fault_rate\":1,\"fault_kinds\":\"delay\",\"fault_delay_ms\":1000}");
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
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM reconcile_passes"), 1);
    reconcile_report_free(&a);
    reconcile_report_free(&b);
}

/* Runs `railhook reconcile` with args; returns its exit code and output (free()). */
static int cli(const char *a1, const char *a2, char **out)
{
    char *log = xasprintf("%s/reconcile-%d-%ld.log",
                          getenv("RAILHOOK_TEST_TMP") ? getenv("RAILHOOK_TEST_TMP") : "/tmp",
                          (int)getpid(), (long)time_mono_ms());
    const char *argv[] = {th_railhook_bin(), "reconcile", a1, a2, NULL};
    pid_t pid = th_spawn(argv, NULL, log);
    int wstatus = 0;
    cr_assert_eq(waitpid(pid, &wstatus, 0), pid);
    cr_assert(WIFEXITED(wstatus));
    size_t len = 0;
    *out = th_read_file(log, &len);
    unlink(log);
    free(log);
    return WEXITSTATUS(wstatus);
}

Test(reconcile, the_command_plans_applies_and_exits_by_the_issue)
{
    start_with(supa.reader_url);
    char *out = NULL;
    cr_assert_eq(cli("--json", NULL, &out), 0, "nothing differs: %s", out);
    cJSON *j = cJSON_Parse(strstr(out, "{\"ok\""));
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "ok")), "%s", out);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "changes")), 0);
    cr_assert_eq(cJSON_GetObjectItem(j, "railway_requests")->valueint, 1);
    cJSON_Delete(j);
    free(out);

    manifest_insert("m-c", "gamma");
    cr_assert_eq(cli(NULL, NULL, &out), 2, "%s", out);
    cr_assert(strstr(out, "+ create   osp-worker-gamma"), "%s", out);
    cr_assert(strstr(out, "Plan: 1 to create"), "%s", out);
    free(out);
    cr_assert_eq(cli("--apply", NULL, &out), 0, "%s", out);
    cr_assert(strstr(out, "enqueued "), "%s", out);
    free(out);
    jobs_settle();
    cr_assert_eq(cli(NULL, NULL, &out), 0, "converged: %s", out);
    free(out);

    setenv("MANIFESTS_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none", 1);
    cr_assert_eq(cli("--json", NULL, &out), 1, "%s", out);
    cr_assert(strstr(out, "\"ok\":false"), "%s", out);
    cr_assert_null(strstr(out, "pw-"), "no password in the output");
    free(out);
}

Test(reconcile, without_a_manifests_database_railway_drift_is_still_found)
{
    start_with(NULL);
    char *id = tf_provision(db, "m-d", "delta");
    char *state = tf_wait_done(db, id, 45000);
    cr_assert_str_eq(state, "succeeded");
    free(state);
    free(id);
    assert_converged();
    char *sid = live_id("osp-worker-delta");
    char *body = xasprintf("{\"id\":\"%s\",\"delete\":true}", sid);
    drift(body);
    free(body);
    struct reconcile_report rep;
    pass(true, &rep);
    cr_assert_eq(rep.plan.n, 1);
    cr_assert_eq(rep.plan.changes[0].action, RECONCILE_CREATE);
    cr_assert_eq(rep.enqueued, 1);
    reconcile_report_free(&rep);
    jobs_settle();
    assert_converged();
    free(sid);
}

Test(reconcile, the_periodic_pass_repairs_and_get_reconcile_shows_it)
{
    setenv("RECONCILE_INTERVAL_S", "1", 1);
    start_with(supa.reader_url);
    unsetenv("RECONCILE_INTERVAL_S");
    manifest_insert("m-e", "epsilon");
    struct reconcile_periodic *p = reconcile_periodic_start(fl, store, &mr.mapper);
    cr_assert_not_null(p);
    int64_t deadline = time_mono_ms() + 60000;
    while (th_sim_count_services(&sim, "osp-worker-epsilon") == 0 ||
           th_sql_long(db, "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')") > 0) {
        cr_assert(time_mono_ms() < deadline, "the periodic pass did not repair");
        usleep(50 * 1000);
    }
    reconcile_periodic_stop(p);
    jobs_settle();
    cr_assert_geq(th_sql_long(db, "SELECT count(*) FROM reconcile_passes WHERE mode = 'repair' "
                                  "AND changes_enqueued = 1"),
                  1);
    assert_converged();

    setenv("API_TOKEN", "read-tok", 1);
    struct th_server ts;
    th_server_start(&ts, db);
    char *url = xasprintf("%s/reconcile?limit=2", ts.base);
    const char *auth[] = {"Authorization: Bearer read-tok", NULL};
    struct th_response r;
    th_http(&r, "GET", url, NULL, NULL, 0);
    cr_assert_eq(r.status, 401);
    th_response_free(&r);
    th_http(&r, "GET", url, auth, NULL, 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cJSON *j = cJSON_Parse(r.body);
    const cJSON *passes = cJSON_GetObjectItem(j, "passes");
    cr_assert_eq(cJSON_GetArraySize(passes), 2, "%s", r.body);
    const cJSON *newest = cJSON_GetArrayItem(passes, 0);
    cr_assert_str_eq(cJSON_GetObjectItem(newest, "mode")->valuestring, "plan", "newest first");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(newest, "changes")), 0);
    const char *keys[] = {
        "id",    "instance",         "started_at",    "finished_at",      "mode",    "ok",
        "error", "railway_requests", "changes_found", "changes_enqueued", "refused", "changes"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        cr_assert(cJSON_HasObjectItem(newest, keys[i]), "no %s in %s", keys[i], r.body);
    cJSON_Delete(j);
    th_response_free(&r);
    free(url);
    url = xasprintf("%s/reconcile?limit=0", ts.base);
    th_http(&r, "GET", url, auth, NULL, 0);
    cr_assert_eq(r.status, 400);
    th_response_free(&r);
    free(url);
    url = xasprintf("%s/reconcile", ts.base);
    th_http(&r, "GET", url, auth, NULL, 0);
    j = cJSON_Parse(r.body);
    passes = cJSON_GetObjectItem(j, "passes");
    cr_assert_geq(cJSON_GetArraySize(passes), 2);
    /* The repair pass lists the change it made. */
    bool seen = false;
    const cJSON *ps;
    cJSON_ArrayForEach(ps, passes)
    {
        const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(ps, "changes"), 0);
        seen =
            seen || (ch && strcmp(cJSON_GetObjectItem(ch, "action")->valuestring, "create") == 0 &&
                     strcmp(cJSON_GetObjectItem(ch, "service_name")->valuestring,
                            "osp-worker-epsilon") == 0);
    }
    cr_assert(seen, "%s", r.body);
    cJSON_Delete(j);
    th_response_free(&r);
    free(url);
    url = xasprintf("%s/metrics", ts.base);
    th_http(&r, "GET", url, auth, NULL, 0);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "railhook_reconcile_passes_total{outcome=\"ok\"}"), "%s", r.body);
    cr_assert(strstr(r.body, "railhook_reconcile_changes_total{action=\"create\","
                             "outcome=\"found\"} 1"),
              "%s", r.body);
    cr_assert(strstr(r.body, "railhook_reconcile_last_pass_age_seconds "), "%s", r.body);
    cr_assert_null(strstr(r.body, "railhook_reconcile_last_pass_age_seconds -1"));
    th_response_free(&r);
    free(url);
    th_server_stop(&ts);
    unsetenv("API_TOKEN");
}

Test(reconcile, a_deep_pass_finds_variables_changed_on_railway)
{
    start_with(supa.reader_url);
    converge_two();
    /* Someone edits a worker's variable in the dashboard. */
    char *sid = live_id("osp-worker-alpha");
    cJSON *vars = cJSON_CreateObject();
    cJSON *input = cJSON_AddObjectToObject(vars, "input");
    cJSON_AddStringToObject(input, "projectId", cfg.railway_project_id);
    cJSON_AddStringToObject(input, "environmentId", cfg.railway_environment_id);
    cJSON_AddStringToObject(input, "serviceId", sid);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(input, "variables"), "SERVICE_SCHEMA",
                            "edited-by-hand");
    cJSON_AddBoolToObject(input, "skipDeploys", true);
    struct railway_limiter *lim = railway_limiter_new(100, 10000);
    struct railway_client *rc = railway_client_new(&cfg, lim);
    struct railway_result r;
    cr_assert_eq(railway_call(rc, RAILWAY_OP_VARIABLE_COLLECTION_UPSERT, vars, 5000, &r), RH_OK,
                 "%s", r.message);
    railway_result_free(&r);
    railway_client_free(rc);
    railway_limiter_free(lim);
    cJSON_Delete(vars);

    assert_converged(); /* a plain pass reads no variables: it cannot see this */
    struct reconcile_report rep;
    const struct reconcile_options deep = {.mode = "apply", .apply = true, .deep = true};
    cr_assert_eq(reconcile_pass(fl, store, &mr.mapper, &deep, &rep), RH_OK, "%s", rep.error);
    cr_assert_eq(rep.plan.n, 1);
    cr_assert_eq(rep.plan.changes[0].action, RECONCILE_UPDATE);
    cr_assert(strstr(rep.plan.changes[0].reason, "on Railway"), "%s", rep.plan.changes[0].reason);
    cr_assert_eq(rep.railway_requests, 3, "the snapshot and one read per owned service");
    cr_assert_eq(rep.enqueued, 1);
    reconcile_report_free(&rep);
    jobs_settle();
    const struct reconcile_options deep_plan = {.mode = "plan", .deep = true};
    cr_assert_eq(reconcile_pass(fl, store, &mr.mapper, &deep_plan, &rep), RH_OK);
    cr_assert_eq(rep.plan.n, 0, "the deep pass converged");
    reconcile_report_free(&rep);
    free(sid);
}

Test(reconcile, a_failed_repair_is_held_not_repeated)
{
    start_with(supa.reader_url);
    th_sim_config(&sim, "{\"fail_builds\":\"zeta\"}");
    manifest_insert("m-z", "zeta");
    struct reconcile_report rep;
    pass(true, &rep);
    cr_assert_eq(rep.enqueued, 1);
    char *id = xstrdup(cJSON_GetObjectItem(cJSON_GetArrayItem(rep.jobs, 0), "job_id")->valuestring);
    reconcile_report_free(&rep);
    char *state = tf_wait_done(db, id, 60000);
    cr_assert_str_eq(state, "failed", "the build fails");
    free(state);

    pass(true, &rep);
    cr_assert_eq(rep.plan.n, 1, "still differs");
    cr_assert_eq(rep.enqueued, 0, "but the failure is not repeated");
    const cJSON *held = cJSON_GetArrayItem(rep.held, 0);
    cr_assert(held && strstr(cJSON_GetObjectItem(held, "reason")->valuestring, id));
    reconcile_report_free(&rep);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 1);
    free(id);
}
