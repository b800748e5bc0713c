/* The Railway flows end to end: the real worker pool and PostgreSQL against the Railway
 * simulator. */
#include "flows_jobs.h"
#include "support/harness.h"

#include "util/log.h"
#include "util/metrics.h"
#include "flows/flows.h"
#include "queue/queue.h"
#include "railway/railway.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static struct th_sim sim;
static char *db;
static struct tf_pool tp;

/* Fast timings for tests: short polls, short backoffs. */
static void test_env(void)
{
    setenv("DEPLOY_POLL_MIN_MS", "100", 1);
    setenv("DEPLOY_POLL_MAX_MS", "300", 1);
    setenv("RETRY_BASE_MS", "100", 1);
    setenv("RETRY_MAX_MS", "500", 1);
    setenv("PUSH_DEPLOY_GRACE_S", "1", 1);
    setenv("RAILWAY_MAX_RPS", "200", 1);
    setenv("QUEUE_POLL_MS", "100", 1);
    setenv("LOG_LEVEL", "error", 1);
}

static void start_with(const char *const *sim_flags)
{
    test_env();
    th_sim_start(&sim, sim_flags);
    db = th_db_create();
    setenv("DATABASE_URL", db, 1);
    tf_pool_start(&tp, 1);
}

static void start(void)
{
    const char *flags[] = {"--build-ms", "400", "--instance-delay-ms", "200", NULL};
    start_with(flags);
}

static void start_failing(void)
{
    const char *flags[] = {"--build-ms", "400", "--instance-delay-ms", "200", "--fail-builds",
                           "broken",     NULL};
    start_with(flags);
}

static void stop(void)
{
    tf_pool_stop(&tp);
    th_sim_stop(&sim);
    th_db_drop(db);
}

static const cJSON *sim_service(cJSON *state, const char *name)
{
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(state, "services"))
    {
        if (strcmp(cJSON_GetObjectItem(s, "name")->valuestring, name) == 0 &&
            !cJSON_IsTrue(cJSON_GetObjectItem(s, "deleted")))
            return s;
    }
    return NULL;
}

Test(flows, provision_creates_configures_connects_and_deploys, .init = start, .fini = stop,
     .timeout = 60)
{
    char *id = tf_provision(db, "m-1", "acme");
    char *state = tf_wait_done(db, id, 45000);
    cr_assert_str_eq(state, "succeeded");

    cJSON *st = th_sim_state(&sim);
    const cJSON *svc = sim_service(st, "osp-worker-acme");
    cr_assert_not_null(svc, "no service osp-worker-acme in the simulator");
    cr_assert_str_eq(cJSON_GetObjectItem(svc, "rootDirectory")->valuestring, "/workers");
    const cJSON *src = cJSON_GetObjectItem(svc, "source");
    cr_assert_str_eq(cJSON_GetObjectItem(src, "repo")->valuestring, "acme/osp");
    cr_assert_str_eq(cJSON_GetObjectItem(src, "branch")->valuestring, "main");
    const cJSON *vars = cJSON_GetObjectItem(svc, "variables");
    cr_assert_str_eq(cJSON_GetObjectItem(vars, "MANIFEST_ID")->valuestring, "m-1");
    cr_assert_str_eq(cJSON_GetObjectItem(vars, "SERVICE_SCHEMA")->valuestring, "acme");
    const cJSON *dep = cJSON_GetArrayItem(cJSON_GetObjectItem(svc, "deployments"), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(dep, "status")->valuestring, "SUCCESS");
    /* Thrift: the whole provision fits in a handful of requests. */
    long requests =
        (long)cJSON_GetObjectItem(cJSON_GetObjectItem(st, "counts"), "requests")->valuedouble;
    cr_assert_leq(requests, 15, "a provision cost %ld Railway requests", requests);
    cJSON_Delete(st);

    char *sql = xasprintf("SELECT status || ' ' || railway_service_id || ' ' || "
                          "last_deployment_status FROM services WHERE name = 'osp-worker-acme'");
    char *row = th_sql(db, sql);
    cr_assert_not_null(strstr(row, "active "), "%s", row);
    cr_assert_not_null(strstr(row, " SUCCESS"), "%s", row);
    free(row);
    free(sql);
    for (const char *const *step =
             (const char *const[]){"find_service", "create_service", "configure", "deploy",
                                   "wait_deploy", NULL};
         *step; step++) {
        char *q = xasprintf("SELECT count(*) FROM job_events WHERE job_id = '%s' AND step = '%s'",
                            id, *step);
        cr_assert_gt(th_sql_long(db, q), 0, "no event for step %s", *step);
        free(q);
    }
    cr_assert(tf_has_event(db, id,
                           "set the root directory and connected to acme/osp@main in one request"));
    /* The pool counted the job and its Railway calls. */
    struct buf m;
    buf_init(&m, 0);
    metrics_render(&m);
    cr_assert_not_null(
        strstr(m.data, "railhook_jobs_finished_total{kind=\"provision\",state=\"succeeded\"} 1\n"),
        "%s", m.data);
    cr_assert_not_null(strstr(m.data, "railhook_railway_requests_total{operation=\"ServiceCreate\","
                                      "outcome=\"ok\"} 1\n"));
    buf_free(&m);
    free(state);
    free(id);
}

Test(flows, failing_build_rolls_back_and_fails, .init = start_failing, .fini = stop, .timeout = 60)
{
    char *id = tf_provision(db, "m-2", "broken");
    char *state = tf_wait_done(db, id, 45000);
    cr_assert_str_eq(state, "failed");
    char *sql = xasprintf("SELECT last_error->>'code' FROM jobs WHERE id = '%s'", id);
    char *code = th_sql(db, sql);
    cr_assert_str_eq(code, "deploy_failed");
    cr_assert(tf_has_event(db, id, "rolled_back"));
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-broken"), 0, "orphaned service");
    free(code);
    free(sql);
    free(state);
    free(id);
}

Test(flows, a_second_provision_reuses_the_service, .init = start, .fini = stop, .timeout = 90)
{
    char *a = tf_provision(db, "m-3", "twin");
    char *sa = tf_wait_done(db, a, 45000);
    cr_assert_str_eq(sa, "succeeded");
    char *b = tf_provision(db, "m-3", "twin");
    char *sb = tf_wait_done(db, b, 45000);
    cr_assert_str_eq(sb, "succeeded");
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-twin"), 1);
    cr_assert(tf_has_event(db, b, "reusing the service this manifest owns"));
    free(sa);
    free(sb);
    free(a);
    free(b);
}

/* A service belongs to the manifest that created it: another manifest asking for the same
 * name is refused with name_taken and changes nothing; deleting that manifest deletes nothing
 * of the first one's. */
Test(flows, a_name_another_manifest_owns_is_name_taken, .init = start, .fini = stop, .timeout = 90)
{
    char *a = tf_provision(db, "m-own-1", "owned");
    char *sa = tf_wait_done(db, a, 45000);
    cr_assert_str_eq(sa, "succeeded");
    char *b = tf_provision(db, "m-own-2", "owned");
    char *sb = tf_wait_done(db, b, 45000);
    cr_assert_str_eq(sb, "failed");
    char *sql = xasprintf("SELECT last_error->>'code' FROM jobs WHERE id = '%s'", b);
    char *code = th_sql(db, sql);
    cr_assert_str_eq(code, "name_taken");
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM services WHERE name = 'osp-worker-owned'"
                                 " AND manifest_id = 'm-own-1' AND status = 'active'"),
                 1, "the first manifest's row is untouched");
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-owned"), 1);
    cJSON *st = th_sim_state(&sim);
    const cJSON *svc = sim_service(st, "osp-worker-owned");
    const cJSON *marker =
        cJSON_GetObjectItem(cJSON_GetObjectItem(svc, "variables"), "RAILHOOK_MANIFEST_ID");
    cr_assert(cJSON_IsString(marker) && strcmp(marker->valuestring, "m-own-1") == 0,
              "the service carries its manifest's mark");
    cJSON_Delete(st);

    char *c = tf_enqueue(db, "deprovision", "osp-worker-owned", "{\"manifest_id\":\"m-own-2\"}");
    char *sc = tf_wait_done(db, c, 45000);
    cr_assert_str_eq(sc, "succeeded");
    cr_assert(
        tf_has_event(db, c, "railhook tracks no service of this manifest; nothing to delete"));
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-owned"), 1);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM services WHERE name = 'osp-worker-owned'"
                                 " AND status = 'active'"),
                 1);
    free(sql);
    free(code);
    free(sa);
    free(sb);
    free(sc);
    free(a);
    free(b);
    free(c);
}

/* A service railhook did not create (no mark) is never adopted, even by a run that may have
 * created it before a crash. */
Test(flows, a_service_railhook_did_not_create_is_never_adopted, .init = start, .fini = stop,
     .timeout = 90)
{
    struct railway_limiter *lim = railway_limiter_new(100, 10000);
    struct railway_client *rc = railway_client_new(&tp.cfg, lim);
    cJSON *vars = cJSON_Parse("{\"input\":{\"name\":\"osp-worker-foreign\"}}");
    cJSON *input = cJSON_GetObjectItem(vars, "input");
    cJSON_AddStringToObject(input, "projectId", tp.cfg.railway_project_id);
    cJSON_AddStringToObject(input, "environmentId", tp.cfg.railway_environment_id);
    struct railway_result r;
    cr_assert_eq(railway_call(rc, RAILWAY_OP_SERVICE_CREATE, vars, 5000, &r), RH_OK, "%s",
                 r.message);
    railway_result_free(&r);
    cJSON_Delete(vars);
    railway_client_free(rc);
    railway_limiter_free(lim);

    char *payload = tf_provision_payload("m-foreign", "foreign");
    /* As if an earlier run had died between its create and saving the id. */
    char *sql = xasprintf("INSERT INTO jobs (kind, service_name, payload, steps) VALUES "
                          "('provision', 'osp-worker-foreign', '%s', "
                          "'{\"create_started\":{\"name\":\"osp-worker-foreign\"}}') RETURNING id",
                          payload);
    char *id = th_sql(db, sql);
    char *state = tf_wait_done(db, id, 45000);
    cr_assert_str_eq(state, "failed");
    char *q = xasprintf("SELECT last_error->>'code' FROM jobs WHERE id = '%s'", id);
    char *code = th_sql(db, q);
    cr_assert_str_eq(code, "name_taken");
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-foreign"), 1,
                 "the rollback deleted a service that is not railhook's");
    free(q);
    free(code);
    free(state);
    free(id);
    free(sql);
    free(payload);
}

Test(flows, connect_falls_back_to_a_deployment_trigger, .init = start, .fini = stop, .timeout = 60)
{
    th_sim_config(&sim, "{\"forced_errors\":{\"serviceConnect\":{\"message\":\"Not Authorized "
                        "to connect this repo\",\"count\":-1}}}");
    char *id = tf_provision(db, "m-4", "fallback");
    char *state = tf_wait_done(db, id, 45000);
    cr_assert_str_eq(state, "succeeded");
    cr_assert(tf_has_event(db, id, "connect strategy connect failed%"));
    cr_assert(tf_has_event(db, id, "connected to acme/osp@main through deploy-trigger"));
    free(state);
    free(id);
}

Test(flows, railway_errors_reach_the_events_and_fail_for_good, .init = start, .fini = stop,
     .timeout = 60)
{
    th_sim_config(&sim, "{\"forced_errors\":{\"serviceCreate\":{\"message\":\"Not Authorized\","
                        "\"count\":-1}}}");
    char *id = tf_provision(db, "m-5", "denied");
    char *state = tf_wait_done(db, id, 45000);
    cr_assert_str_eq(state, "failed");
    char *sql = xasprintf("SELECT details->>'message' FROM job_events WHERE job_id = '%s' AND "
                          "details->>'operation' = 'ServiceCreate'",
                          id);
    char *msg = th_sql(db, sql);
    cr_assert_not_null(msg);
    cr_assert_not_null(strstr(msg, "Not Authorized"), "%s", msg);
    free(msg);
    free(sql);
    sql = xasprintf("SELECT last_error->>'code' FROM jobs WHERE id = '%s'", id);
    char *code = th_sql(db, sql);
    cr_assert_str_eq(code, "railway_not_authorized");
    /* The name the job claimed for the service it never created is free again. */
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM services WHERE name = 'osp-worker-denied'"
                                 " AND status = 'removed'"),
                 1);
    free(code);
    free(sql);
    free(state);
    free(id);
}

Test(flows, a_template_naming_a_missing_column_fails_before_any_railway_call, .timeout = 60)
{
    char path[] = "/tmp/railhook-vars-XXXXXX";
    int fd = mkstemp(path);
    const char *tmpl = "{\"MANIFEST_ID\":\"{record.id}\",\"REGION\":\"{record.region}\"}";
    cr_assert_eq(write(fd, tmpl, strlen(tmpl)), (ssize_t)strlen(tmpl));
    close(fd);
    setenv("WORKER_VARIABLES_FILE", path, 1);
    start();
    char *id = tf_provision(db, "m-6", "tmpl");
    char *state = tf_wait_done(db, id, 30000);
    cr_assert_str_eq(state, "failed");
    char *sql = xasprintf("SELECT last_error->>'message' FROM jobs WHERE id = '%s'", id);
    char *msg = th_sql(db, sql);
    cr_assert_not_null(strstr(msg, "region"), "%s", msg);
    cJSON *st = th_sim_state(&sim);
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(st, "counts"), "requests")->valueint, 0);
    cJSON_Delete(st);
    free(msg);
    free(sql);
    free(state);
    free(id);
    stop();
    unlink(path);
}

Test(flows, update_renames_and_sets_changed_variables, .init = start, .fini = stop, .timeout = 90)
{
    char *a = tf_provision(db, "m-7", "oldname");
    char *sa = tf_wait_done(db, a, 45000);
    cr_assert_str_eq(sa, "succeeded");
    char *b = tf_enqueue(db, "update", "osp-worker-newname",
                         "{\"manifest_id\":\"m-7\",\"service_schema\":\"newname\","
                         "\"old_service_name\":\"osp-worker-oldname\",\"record\":{\"id\":\"m-7\","
                         "\"service_schema\":\"newname\"}}");
    char *sb = tf_wait_done(db, b, 45000);
    cr_assert_str_eq(sb, "succeeded");
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-oldname"), 0);
    cJSON *st = th_sim_state(&sim);
    const cJSON *svc = sim_service(st, "osp-worker-newname");
    cr_assert_not_null(svc);
    cr_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(svc, "variables"), "SERVICE_SCHEMA")->valuestring,
        "newname");
    cJSON_Delete(st);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM services WHERE name = "
                                 "'osp-worker-newname' AND status = 'active'"),
                 1);
    free(sa);
    free(sb);
    free(a);
    free(b);
}

/* Before: a rename onto a taken name renamed the Railway service and silently skipped the
 * database. Now nothing is touched and the job fails with name_taken. */
Test(flows, a_rename_onto_another_manifests_name_is_name_taken, .init = start, .fini = stop,
     .timeout = 90)
{
    char *a = tf_provision(db, "m-r1", "first");
    char *b = tf_provision(db, "m-r2", "second");
    char *sa = tf_wait_done(db, a, 45000), *sb = tf_wait_done(db, b, 45000);
    cr_assert_str_eq(sa, "succeeded");
    cr_assert_str_eq(sb, "succeeded");
    char *c = tf_enqueue(db, "update", "osp-worker-first",
                         "{\"manifest_id\":\"m-r2\",\"service_schema\":\"first\","
                         "\"old_service_name\":\"osp-worker-second\",\"record\":{\"id\":\"m-r2\","
                         "\"service_schema\":\"first\"}}");
    char *sc = tf_wait_done(db, c, 45000);
    cr_assert_str_eq(sc, "failed");
    char *sql = xasprintf("SELECT last_error->>'code' FROM jobs WHERE id = '%s'", c);
    char *code = th_sql(db, sql);
    cr_assert_str_eq(code, "name_taken");
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-first"), 1);
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-second"), 1, "nothing was renamed");
    free(sql);
    free(code);
    free(sa);
    free(sb);
    free(sc);
    free(a);
    free(b);
    free(c);
}

Test(flows, redeploy_deploys_the_pushed_commit, .init = start, .fini = stop, .timeout = 90)
{
    char *a = tf_provision(db, "m-8", "push");
    char *sa = tf_wait_done(db, a, 45000);
    cr_assert_str_eq(sa, "succeeded");
    char *b = tf_enqueue(db, "redeploy", "osp-worker-push",
                         "{\"commit_sha\":\"0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c\"}");
    char *sb = tf_wait_done(db, b, 45000);
    cr_assert_str_eq(sb, "succeeded");
    cJSON *st = th_sim_state(&sim);
    const cJSON *svc = sim_service(st, "osp-worker-push");
    bool found = false;
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItem(svc, "deployments"))
    {
        const cJSON *h = cJSON_GetObjectItem(d, "commitHash");
        if (cJSON_IsString(h) &&
            strcmp(h->valuestring, "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c") == 0 &&
            strcmp(cJSON_GetObjectItem(d, "status")->valuestring, "SUCCESS") == 0)
            found = true;
    }
    cr_assert(found, "no successful deployment of the pushed commit");
    cJSON_Delete(st);
    free(sa);
    free(sb);
    free(a);
    free(b);
}

Test(flows, deprovision_deletes_and_tolerates_a_missing_service, .init = start, .fini = stop,
     .timeout = 90)
{
    char *a = tf_provision(db, "m-9", "gone");
    char *sa = tf_wait_done(db, a, 45000);
    cr_assert_str_eq(sa, "succeeded");
    char *b = tf_enqueue(db, "deprovision", "osp-worker-gone", "{\"manifest_id\":\"m-9\"}");
    char *sb = tf_wait_done(db, b, 45000);
    cr_assert_str_eq(sb, "succeeded");
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-gone"), 0);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM services WHERE name = 'osp-worker-gone' "
                                 "AND status = 'removed'"),
                 1);
    char *c = tf_enqueue(db, "deprovision", "osp-worker-never", "{\"manifest_id\":\"m-10\"}");
    char *sc = tf_wait_done(db, c, 45000);
    cr_assert_str_eq(sc, "succeeded");
    free(sa);
    free(sb);
    free(sc);
    free(a);
    free(b);
    free(c);
}

Test(flows, injected_faults_still_converge_without_orphans, .init = start, .fini = stop,
     .timeout = 120)
{
    th_sim_config(&sim, "{\"fault_rate\":0.2,\"fault_kinds\":\"500,502,503,reset,generic,429\","
                        "\"seed\":7}");
    char *ids[6];
    char name[32];
    for (int i = 0; i < 6; i++) {
        char manifest[16];
        snprintf(manifest, sizeof(manifest), "f-%d", i);
        snprintf(name, sizeof(name), "fault%d", i);
        ids[i] = tf_provision(db, manifest, name);
    }
    int succeeded = 0;
    for (int i = 0; i < 6; i++) {
        char *s = tf_wait_done(db, ids[i], 100000);
        snprintf(name, sizeof(name), "osp-worker-fault%d", i);
        int live = th_sim_count_services(&sim, name);
        if (strcmp(s, "succeeded") == 0) {
            succeeded++;
            cr_assert_eq(live, 1, "%s: %d services", name, live);
        } else {
            cr_assert_str_eq(s, "failed");
            cr_assert_eq(live, 0, "%s failed but left %d services", name, live);
        }
        free(s);
        free(ids[i]);
    }
    cr_assert_geq(succeeded, 5, "only %d of 6 provisions succeeded under 20%% faults", succeeded);
}

Test(flows, twenty_concurrent_provisions_never_earn_a_429, .timeout = 180)
{
    /* Railway allows 10 requests/s per token here; railhook is told 8. */
    const char *flags[] = {"--build-ms", "300", "--instance-delay-ms", "100", "--rps", "10", NULL};
    setenv("WORKERS", "20", 1);
    test_env();
    setenv("RAILWAY_MAX_RPS", "8", 1);
    th_sim_start(&sim, flags);
    db = th_db_create();
    setenv("DATABASE_URL", db, 1);
    char err[256];
    cr_assert(config_load(&tp.cfg, CONFIG_NEED_DATABASE, err, sizeof(err)), "%s", err);
    log_setup(LOG_ERROR, false, 2);
    tp.store = store_open(tp.cfg.database_url, 1, tp.cfg.db_pool_wait_ms, tp.cfg.queue_listen);
    tp.pool = queue_create(&tp.cfg, tp.store);
    tp.fl = flows_new(&tp.cfg, err, sizeof(err));
    flows_register(tp.fl, tp.pool);
    char *ids[20];
    for (int i = 0; i < 20; i++) {
        char manifest[16], schema[16];
        snprintf(manifest, sizeof(manifest), "r-%d", i);
        snprintf(schema, sizeof(schema), "rate%d", i);
        ids[i] = tf_provision(db, manifest, schema);
    }
    cr_assert_eq(queue_start(tp.pool, err, sizeof(err)), RH_OK, "%s", err);
    for (int i = 0; i < 20; i++) {
        char *s = tf_wait_done(db, ids[i], 150000);
        cr_assert_str_eq(s, "succeeded", "job %d", i);
        free(s);
        free(ids[i]);
    }
    cJSON *st = th_sim_state(&sim);
    cJSON *counts = cJSON_GetObjectItem(st, "counts");
    cr_assert_eq(cJSON_GetObjectItem(counts, "status_429")->valueint, 0, "railhook earned %d 429s",
                 cJSON_GetObjectItem(counts, "status_429")->valueint);
    /* At least four requests a provision (find, create, configure, look for the deployment). */
    cr_assert_geq(cJSON_GetObjectItem(counts, "requests")->valueint, 80);
    cJSON_Delete(st);
    stop();
}

static pid_t spawn_serve(const char *log_path)
{
    static char env_db[512], env_port[32], env_url[160];
    snprintf(env_db, sizeof(env_db), "DATABASE_URL=%s", db);
    snprintf(env_port, sizeof(env_port), "PORT=%d", th_free_port());
    snprintf(env_url, sizeof(env_url), "RAILWAY_API_URL=%s", sim.url);
    const char *env[] = {env_db,
                         env_port,
                         env_url,
                         "BIND_ADDRESS=127.0.0.1",
                         "LOG_LEVEL=info",
                         "WORKERS=2",
                         "JOB_LEASE_S=2",
                         "API_AUTH=none",
                         "QUEUE_POLL_MS=100",
                         "RAILWAY_TOKEN=sim-account-token",
                         "RAILWAY_PROJECT_ID=proj-sim",
                         "RAILWAY_ENVIRONMENT_ID=env-sim",
                         "WORKER_REPO=acme/osp",
                         "DEPLOY_POLL_MIN_MS=100",
                         "DEPLOY_POLL_MAX_MS=300",
                         "RETRY_BASE_MS=100",
                         "RETRY_MAX_MS=500",
                         NULL};
    const char *argv[] = {RAILHOOK_BIN_PATH, "serve", NULL};
    return th_spawn(argv, env, log_path);
}

Test(flows, kill_9_between_steps_resumes_without_a_second_service, .timeout = 120)
{
    const char *flags[] = {"--build-ms", "3000", "--instance-delay-ms", "100", NULL};
    th_sim_start(&sim, flags);
    db = th_db_create();
    char log_path[] = "/tmp/railhook-kill9-XXXXXX";
    close(mkstemp(log_path));
    pid_t first = spawn_serve(log_path);
    char *id = tf_provision(db, "k-1", "killed");
    /* Wait until the service exists and the job is watching its deployment, then kill. */
    char *sql = xasprintf("SELECT count(*) FROM jobs WHERE id = '%s' AND steps ? 'deploy'", id);
    int64_t deadline = time_mono_ms() + 60000;
    while (th_sql_long(db, sql) == 0 && time_mono_ms() < deadline)
        usleep(50 * 1000);
    cr_assert_eq(th_sql_long(db, sql), 1, "the job never reached its deploy step");
    kill(first, SIGKILL);
    waitpid(first, NULL, 0);

    pid_t second = spawn_serve(log_path);
    char *state = tf_wait_done(db, id, 60000);
    cr_assert_str_eq(state, "succeeded");
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-killed"), 1, "a twin was created");
    char *q = xasprintf("SELECT attempt || ' ' || rescues FROM jobs WHERE id = '%s'", id);
    char *ar = th_sql(db, q);
    cr_assert_str_eq(ar, "1 1", "the crash must not burn an attempt (attempt rescues: %s)", ar);
    cJSON *st = th_sim_state(&sim);
    cJSON *by_op = cJSON_GetObjectItem(cJSON_GetObjectItem(st, "counts"), "by_operation");
    cr_assert_eq(cJSON_GetObjectItem(by_op, "ServiceCreate")->valueint, 1,
                 "the service was created more than once");
    cJSON_Delete(st);
    kill(second, SIGTERM);
    int status = 0;
    waitpid(second, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free(ar);
    free(q);
    free(state);
    free(sql);
    free(id);
    th_sim_stop(&sim);
    th_db_drop(db);
    unlink(log_path);
}
