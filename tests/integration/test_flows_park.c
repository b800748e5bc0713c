/* Parking: a job waiting for its deployment holds no worker (one worker keeps several builds
 * in flight), one watcher request per tick reads every deployment in flight, and a parked job
 * can be cancelled; the real worker pool and PostgreSQL against the Railway simulator. */
#include "flows_jobs.h"
#include "support/harness.h"

#include "flows/flows.h"
#include "queue/queue.h"
#include "store/jobs.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/util.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct th_sim sim;
static char *db;
static struct tf_pool tp;

/* One worker, builds of build_ms, the watcher's first look after 300 ms and ticks of 200 ms
 * or more. */
static void start_with(const char *build_ms)
{
    setenv("WORKERS", "1", 1);
    setenv("DEPLOY_POLL_MIN_MS", "200", 1);
    setenv("DEPLOY_POLL_MAX_MS", "300", 1);
    setenv("RETRY_BASE_MS", "100", 1);
    setenv("RETRY_MAX_MS", "500", 1);
    setenv("RAILWAY_MAX_RPS", "200", 1);
    setenv("QUEUE_POLL_MS", "100", 1);
    setenv("JOB_LEASE_S", "3", 1);
    setenv("LOG_LEVEL", "error", 1);
    setenv("CONNECT_DEPLOY_WAIT_S", "5", 1);
    setenv("DEPLOY_TIMEOUT_S", "900", 1);
    const char *flags[] = {"--instance-delay-ms", "200", "--build-ms", build_ms, NULL};
    th_sim_start(&sim, flags);
    db = th_db_create();
    setenv("DATABASE_URL", db, 1);
    tf_pool_start(&tp, 1);
}

static void start(void)
{
    start_with("6000");
}

static void stop(void)
{
    tf_pool_stop(&tp);
    th_sim_stop(&sim);
    th_db_drop(db);
    unsetenv("WORKERS");
    unsetenv("JOB_LEASE_S");
}

/* How many of the simulator's live services have a deployment still building or deploying. */
static int builds_in_flight(void)
{
    cJSON *st = th_sim_state(&sim);
    int n = 0;
    const cJSON *s, *d;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(st, "services"))
    {
        if (cJSON_IsTrue(cJSON_GetObjectItem(s, "deleted")))
            continue;
        bool building = false;
        cJSON_ArrayForEach(d, cJSON_GetObjectItem(s, "deployments"))
        {
            const char *v = cJSON_GetObjectItem(d, "status")->valuestring;
            if (strcmp(v, "SUCCESS") != 0 && strcmp(v, "FAILED") != 0 &&
                strcmp(v, "REMOVED") != 0 && strcmp(v, "CRASHED") != 0)
                building = true;
        }
        n += building;
    }
    cJSON_Delete(st);
    return n;
}

/* A counter of the simulator: counts.<group>.<name> (0 when absent). */
static long sim_count(const char *group, const char *name)
{
    cJSON *st = th_sim_state(&sim);
    const cJSON *v =
        cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(st, "counts"), group), name);
    long n = cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
    cJSON_Delete(st);
    return n;
}

/* Waits up to timeout_ms for the job's step to be LIKE like. */
static bool wait_step(const char *id, const char *like, int timeout_ms)
{
    char *sql = xasprintf("SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'running' AND "
                          "step LIKE '%s'",
                          id, like);
    int64_t deadline = time_mono_ms() + timeout_ms;
    bool ok = false;
    while (!ok && time_mono_ms() < deadline) {
        ok = th_sql_long(db, sql) == 1;
        if (!ok)
            usleep(50 * 1000);
    }
    free(sql);
    return ok;
}

Test(flows_park, one_worker_keeps_three_builds_in_flight_and_all_succeed, .init = start,
     .fini = stop, .timeout = 90)
{
    char *ids[3] = {tf_provision(db, "p-1", "parka"), tf_provision(db, "p-2", "parkb"),
                    tf_provision(db, "p-3", "parkc")};
    /* With WORKERS=1, the three builds run at once only if waiting holds no worker. */
    int64_t deadline = time_mono_ms() + 30000;
    int most = 0;
    while (most < 3 && time_mono_ms() < deadline) {
        int n = builds_in_flight();
        most = n > most ? n : most;
        usleep(100 * 1000);
    }
    cr_assert_eq(most, 3, "only %d builds were in flight at once", most);
    cr_assert(wait_step(ids[0], "waiting for deployment %", 10000) ||
              wait_step(ids[1], "waiting for deployment %", 10000));
    for (int i = 0; i < 3; i++) {
        char *state = tf_wait_done(db, ids[i], 45000);
        cr_assert_str_eq(state, "succeeded", "job %d", i);
        free(state);
    }
    /* A woken job passes its earlier steps again without recording them again: each step of
     * a job's timeline appears once, though each job parked on more than one status. */
    for (int i = 0; i < 3; i++) {
        char *sql = xasprintf("SELECT count(*) FROM job_events WHERE job_id = '%s' AND message"
                              " LIKE 'step waiting for deployment %%'",
                              ids[i]);
        cr_assert_geq(th_sql_long(db, sql), 2, "job %d parked on two statuses at least", i);
        free(sql);
        sql = xasprintf("SELECT count(*) FROM (SELECT message FROM job_events WHERE job_id = '%s'"
                        " AND message LIKE 'step %%' GROUP BY message HAVING count(*) > 1) r",
                        ids[i]);
        cr_assert_eq(th_sql_long(db, sql), 0, "job %d recorded a step twice", i);
        free(sql);
        sql = xasprintf("SELECT count(*) FROM job_events WHERE job_id = '%s'"
                        " AND message = 'step find_service'",
                        ids[i]);
        cr_assert_eq(th_sql_long(db, sql), 1);
        free(sql);
    }
    /* Parked for longer than JOB_LEASE_S (3 s), none lost its lease: the heartbeat kept them. */
    cr_assert_eq(th_sql_long(db, "SELECT coalesce(sum(rescues), 0) FROM jobs"), 0);
    /* The watcher read them: no job polled its own deployment, and one request carried
     * several deployments. */
    long watch = sim_count("by_operation", "DeploymentsWatch");
    long fields = sim_count("by_root_field", "deployment");
    cr_assert_eq(sim_count("by_operation", "Deployment"), 0);
    cr_assert_gt(watch, 0);
    cr_assert_gt(fields, watch, "%ld deployment fields in %ld requests", fields, watch);
    for (int i = 0; i < 3; i++)
        free(ids[i]);
}

Test(flows_park, n_parked_deployments_cost_one_request_per_tick, .init = start, .fini = stop,
     .timeout = 90)
{
    char *ids[3] = {tf_provision(db, "p-4", "ticka"), tf_provision(db, "p-5", "tickb"),
                    tf_provision(db, "p-6", "tickc")};
    for (int i = 0; i < 3; i++)
        cr_assert(wait_step(ids[i], "waiting for deployment %", 30000), "job %d never parked", i);
    /* All three parked: from now on each request reads the three. */
    long w0 = sim_count("by_operation", "DeploymentsWatch");
    long f0 = sim_count("by_root_field", "deployment");
    int64_t deadline = time_mono_ms() + 20000;
    while (sim_count("by_operation", "DeploymentsWatch") < w0 + 3 && time_mono_ms() < deadline)
        usleep(50 * 1000);
    long w1 = sim_count("by_operation", "DeploymentsWatch");
    long f1 = sim_count("by_root_field", "deployment");
    cr_assert_geq(w1 - w0, 3);
    /* A job woken between two counts may have left its tick: at least 2 per request on average,
     * and never more than 3. */
    cr_assert_leq(f1 - f0, 3 * (w1 - w0));
    cr_assert_geq(f1 - f0, 2 * (w1 - w0), "%ld fields in %ld requests", f1 - f0, w1 - w0);
    for (int i = 0; i < 3; i++) {
        char *state = tf_wait_done(db, ids[i], 45000);
        cr_assert_str_eq(state, "succeeded");
        free(state);
        free(ids[i]);
    }
}

Test(flows_park, a_parked_job_can_be_cancelled_and_compensates, .init = start, .fini = stop,
     .timeout = 90)
{
    char *id = tf_provision(db, "p-7", "cancel");
    cr_assert(wait_step(id, "waiting for deployment %", 30000));
    PGconn *c = PQconnectdb(db);
    char st[16], err[256];
    cr_assert_eq(store_job_cancel(c, id, st, err, sizeof(err)), RH_OK, "%s", err);
    PQfinish(c);
    char *state = tf_wait_done(db, id, 30000);
    cr_assert_str_eq(state, "cancelled");
    cr_assert(tf_has_event(db, id, "rolled_back"));
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-cancel"), 0, "the service was kept");
    free(state);
    free(id);
}

static void start_fast(void)
{
    start_with("400");
}

Test(flows_park, a_folded_configure_takes_each_field_on_its_own, .init = start_fast, .fini = stop,
     .timeout = 60)
{
    /* The root directory fails inside the folded request; the connect in it still ran. */
    th_sim_config(&sim, "{\"forced_errors\":{\"serviceInstanceUpdate\":{\"message\":"
                        "\"ServiceInstance not found\",\"count\":1}}}");
    char *id = tf_provision(db, "p-8", "fold");
    char *state = tf_wait_done(db, id, 45000);
    cr_assert_str_eq(state, "succeeded");
    cr_assert(tf_has_event(db, id, "ServiceConfigure: rootDirectory failed%"));
    cr_assert_eq(sim_count("by_operation", "ServiceConfigure"), 1);
    /* The root directory got its own step; the connect was not sent again, and its build
     * (without the root directory) was not the one followed. */
    cr_assert_eq(sim_count("by_operation", "ServiceInstanceUpdate"), 1);
    cr_assert_eq(sim_count("by_operation", "ServiceConnect"), 0);
    cr_assert(!tf_has_event(db, id, "following the deployment that connecting started"));
    cJSON *st = th_sim_state(&sim);
    const cJSON *svc = cJSON_GetArrayItem(cJSON_GetObjectItem(st, "services"), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(svc, "rootDirectory")->valuestring, "/workers");
    cJSON_Delete(st);
    free(state);
    free(id);
}

/* Three requests an hour: a provision spends them and waits for the fourth. */
static void start_budget(void)
{
    setenv("RAILWAY_HOURLY_BUDGET", "3", 1);
    start_with("400");
}

static void stop_budget(void)
{
    stop();
    unsetenv("RAILWAY_HOURLY_BUDGET");
}

Test(flows_park, an_exhausted_budget_shows_in_the_job_with_an_estimate, .init = start_budget,
     .fini = stop_budget, .timeout = 60)
{
    char *id = tf_provision(db, "p-9", "budget");
    cr_assert(wait_step(id, "waiting for Railway budget: expected to start at %", 30000),
              "the job does not say it waits for the budget");
    /* The estimate is the limiter's: one request refills in 20 minutes. */
    char *sql = xasprintf("SELECT step FROM jobs WHERE id = '%s'", id);
    char *step = th_sql(db, sql);
    long in_s = -1;
    const char *in = strstr(step, "(in ");
    if (in)
        in_s = strtol(in + 4, NULL, 10);
    cr_assert(in_s > 600 && in_s <= 1200, "%s", step);
    /* The job holds no worker while it waits: it stays running, parked. */
    struct queue_stats qs;
    queue_stats_get(tp.pool, &qs);
    cr_assert_eq(qs.parked, 1);
    cr_assert_eq(qs.busy, 0);
    /* What /metrics reports: one job waiting for budget, none left. */
    int waiting = 0;
    free(queue_parked_list(tp.pool, FLOWS_BUDGET_WAIT, &waiting));
    cr_assert_eq(waiting, 1);
    struct buf m;
    buf_init(&m, 0);
    metrics_render(&m);
    cr_assert_not_null(strstr(m.data, "# TYPE railhook_railway_budget_remaining gauge\n"));
    const char *left = strstr(m.data, "\nrailhook_railway_budget_remaining ");
    cr_assert_not_null(left, "%s", m.data);
    cr_assert_lt(strtod(left + strlen("\nrailhook_railway_budget_remaining "), NULL), 1.0);
    buf_free(&m);
    free(step);
    free(sql);
    free(id);
}

Test(flows_park, a_deployment_railway_cannot_read_costs_the_others_nothing, .init = start,
     .fini = stop, .timeout = 90)
{
    char *ids[3] = {tf_provision(db, "p-10", "unreada"), tf_provision(db, "p-11", "unreadb"),
                    tf_provision(db, "p-12", "unreadc")};
    for (int i = 0; i < 3; i++)
        cr_assert(wait_step(ids[i], "waiting for deployment %", 30000), "job %d never parked", i);
    /* The next read fails one deployment's field (which nulls the request's data). */
    th_sim_config(&sim, "{\"forced_errors\":{\"deployment\":{\"message\":\"Problem processing "
                        "request\",\"count\":1}}}");
    for (int i = 0; i < 3; i++) {
        char *state = tf_wait_done(db, ids[i], 45000);
        cr_assert_str_eq(state, "succeeded", "job %d", i);
        free(state);
    }
    /* Only that deployment's job read it itself; the others were read again together. */
    cr_assert_eq(sim_count("by_operation", "Deployment"), 1);
}
