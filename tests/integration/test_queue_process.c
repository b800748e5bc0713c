/* The queue across real railhook processes: several instances on one database, one killed
 * with SIGKILL mid-job, and SIGTERM handing a running job back. The instances are the test
 * binary's `serve` mode, whose test-only "noop" handler (support/noop.h) sleeps and records
 * each run in noop_runs. */
#include "support/harness.h"

#include "store/enqueue.h"
#include "store/store.h"
#include "util/util.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct instance {
    pid_t pid;
    int port;
};

static void spawn(struct instance *in, const char *db, const char *name, const char *lease_s,
                  const char *grace_s)
{
    char env_db[512], env_port[32], env_inst[64], env_lease[32], env_grace[32], log[512];
    in->port = th_free_port();
    snprintf(env_db, sizeof(env_db), "DATABASE_URL=%s", db);
    snprintf(env_port, sizeof(env_port), "PORT=%d", in->port);
    snprintf(env_inst, sizeof(env_inst), "INSTANCE_ID=%s", name);
    snprintf(env_lease, sizeof(env_lease), "JOB_LEASE_S=%s", lease_s);
    snprintf(env_grace, sizeof(env_grace), "SHUTDOWN_GRACE_S=%s", grace_s);
    const char *tmp = getenv("RAILHOOK_TEST_TMP");
    snprintf(log, sizeof(log), "%s/queue-%s-%d.log", tmp ? tmp : "/tmp", name, (int)getpid());
    const char *env[] = {env_db,
                         env_port,
                         env_inst,
                         env_lease,
                         env_grace,
                         "BIND_ADDRESS=127.0.0.1",
                         "WORKERS=2",
                         "QUEUE_POLL_MS=200",
                         "LOG_LEVEL=warn",
                         "API_AUTH=none",
                         NULL};
    const char *argv[] = {th_test_server_bin(), "serve", NULL};
    in->pid = th_spawn(argv, env, log);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", in->port);
    cr_assert(th_wait_http(url, 15000), "instance %s did not become healthy (log: %s)", name, log);
}

static int stop(struct instance *in, int sig)
{
    int status = 0;
    kill(in->pid, sig);
    cr_assert_eq(waitpid(in->pid, &status, 0), in->pid);
    return status;
}

static void enqueue_noops(const char *db, int n, const char *payload)
{
    char err[256] = "";
    struct store *s = store_open(db, 1, 1000, false);
    PGconn *c = store_conn_open(s, STORE_SESSION_DEFAULT, err, sizeof(err));
    store_close(s); /* the connection does not need it */
    cr_assert_not_null(c, "%s", err);
    cJSON *p = payload ? cJSON_Parse(payload) : NULL;
    struct store_job_new *jobs = xcalloc((size_t)n, sizeof(*jobs));
    for (int i = 0; i < n; i++)
        jobs[i] = (struct store_job_new){.kind = "noop", .payload = p};
    struct store_enqueue g = {.jobs = jobs, .njobs = (size_t)n};
    cr_assert_eq(store_job_enqueue(c, &g, 1, err, sizeof(err)), RH_OK, "%s", err);
    free(jobs);
    cJSON_Delete(p);
    PQfinish(c);
}

Test(queue_process, sigkill_mid_job_loses_and_duplicates_nothing, .timeout = 120)
{
    enum { JOBS = 24 };
    char *db = th_db_create();
    free(th_sql(db, "CREATE TABLE noop_runs (job_id uuid, owner text, attempt int, "
                    "at timestamptz DEFAULT clock_timestamp())"));
    struct instance a, b, c;
    spawn(&a, db, "a", "2", "5");
    spawn(&b, db, "b", "2", "5");
    spawn(&c, db, "c", "2", "5");
    enqueue_noops(db, JOBS, "{\"sleep_ms\":1500,\"record\":true}");

    /* Kill b while it is in the middle of jobs it has just started. */
    const char *on_b = "SELECT count(*) FROM jobs WHERE state = 'running' AND lease_owner LIKE "
                       "'b/%' AND started_at > now() - interval '600 ms'";
    int64_t end = time_mono_ms() + 20000;
    while (th_sql_long(db, on_b) == 0) {
        cr_assert_lt(time_mono_ms(), end, "instance b never ran a job");
        usleep(20 * 1000);
    }
    free(th_sql(db, "CREATE TABLE killed AS SELECT id FROM jobs WHERE state = 'running' AND "
                    "lease_owner LIKE 'b/%' AND started_at > now() - interval '600 ms'"));
    int status = stop(&b, SIGKILL);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    long killed = th_sql_long(db, "SELECT count(*) FROM killed");
    cr_assert_geq(killed, 1);

    cr_assert(
        th_wait_sql_long(db, "SELECT count(*) FROM jobs WHERE state = 'succeeded'", JOBS, 60000),
        "every job succeeds (%ld did)",
        th_sql_long(db, "SELECT count(*) FROM jobs WHERE state = 'succeeded'"));
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM noop_runs"), JOBS, "no run recorded twice");
    cr_assert_eq(th_sql_long(db, "SELECT count(DISTINCT job_id) FROM noop_runs"), JOBS);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs WHERE attempt <> 1"), 0,
                 "the killed runs did not use up an attempt");
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs j JOIN killed k ON k.id = j.id "
                                 "WHERE j.rescues >= 1"),
                 killed, "the killed jobs were rescued");
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM noop_runs r JOIN killed k ON k.id = "
                                 "r.job_id WHERE r.owner NOT LIKE 'b/%'"),
                 killed, "and completed on another instance");
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM job_events e JOIN killed k ON k.id = "
                                 "e.job_id WHERE e.message = 'rescued'"),
                 killed);

    cr_assert_eq(WEXITSTATUS(stop(&a, SIGTERM)), 0);
    cr_assert_eq(WEXITSTATUS(stop(&c, SIGTERM)), 0);
    th_db_drop(db);
}

Test(queue_process, sigterm_hands_a_running_job_back, .timeout = 60)
{
    char *db = th_db_create();
    struct instance a;
    spawn(&a, db, "solo", "30", "3");
    enqueue_noops(db, 1, "{\"sleep_ms\":60000}");
    cr_assert(th_wait_sql_long(
        db, "SELECT count(*) FROM jobs WHERE state = 'running' AND step = 'sleep'", 1, 15000));
    int64_t t0 = time_mono_ms();
    int status = stop(&a, SIGTERM);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_lt(time_mono_ms() - t0, 5000);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs WHERE state = 'queued' AND attempt = "
                                 "0 AND rescues = 0 AND lease_owner IS NULL"),
                 1);
    /* Every claim was given back: the worker's, and any the dispatcher made while the stop
     * reached it (it claims the handed-back job again and gives that back too). */
    long back = th_sql_long(db, "SELECT count(*) FROM job_events WHERE message = 'handed back'");
    cr_assert_geq(back, 1);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM job_events WHERE message = 'claimed'"),
                 back);
    th_db_drop(db);
}
