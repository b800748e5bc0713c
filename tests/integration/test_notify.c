/* Signed notifications and the manifest write-back across real processes: the test binary's
 * `serve` (noop jobs, support/noop.h) sends to tests/js/notify-receiver.mjs, which verifies
 * every notification with the `standardwebhooks` npm library and logs each request. Retries
 * are shortened with NOTIFY_RETRY_BASE_S=1. */
#include "flows_jobs.h"
#include "support/harness.h"

#include "store/notifications.h"
#include "store/store.h"
#include "util/util.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

struct proc {
    pid_t pid;
    int port;
    char log[512];
};

static void tmp_path(char *out, size_t cap, const char *name)
{
    const char *tmp = getenv("RAILHOOK_TEST_TMP");
    snprintf(out, cap, "%s/notify-%s-%d.log", tmp ? tmp : "/tmp", name, (int)getpid());
    unlink(out);
}

/* Starts the node receiver on port in mode; its request log goes to r->log. */
static void receiver_start_keep(struct proc *r, int port, const char *mode, bool keep)
{
    char ports[16], url[64], out[512];
    r->port = port;
    snprintf(ports, sizeof(ports), "%d", port);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    tmp_path(r->log, sizeof(r->log), mode[0] == 'f' ? "fail" : mode);
    tmp_path(out, sizeof(out), "receiver-out");
    const char *argv[] = {
        "/usr/bin/env", "node", RAILHOOK_SOURCE_DIR "/tests/js/notify-receiver.mjs", ports, r->log,
        mode,           NULL};
    const char *env[] = {"NOTIFY_SIGNING_SECRET=" SECRET, keep ? "NOTIFY_RECEIVER_KEEP=1" : NULL,
                         NULL};
    r->pid = th_spawn(argv, env, out);
    cr_assert(th_wait_http(url, 15000), "the receiver did not start (%s)", out);
}

static void receiver_start(struct proc *r, int port, const char *mode)
{
    receiver_start_keep(r, port, mode, false);
}

static void proc_stop(struct proc *p, int sig)
{
    int status = 0;
    if (p->pid <= 0)
        return;
    kill(p->pid, sig);
    waitpid(p->pid, &status, 0);
    p->pid = 0;
}

/* Starts railhook (the test binary's serve) on db with the extra environment entries. */
static void railhook_start(struct proc *p, const char *db, const char *name,
                           const char *const *extra)
{
    char env_db[512], env_port[32], env_inst[64], url[96];
    const char *env[24];
    int n = 0;
    p->port = th_free_port();
    snprintf(env_db, sizeof(env_db), "DATABASE_URL=%s", db);
    snprintf(env_port, sizeof(env_port), "PORT=%d", p->port);
    snprintf(env_inst, sizeof(env_inst), "INSTANCE_ID=%s", name);
    tmp_path(p->log, sizeof(p->log), name);
    env[n++] = env_db;
    env[n++] = env_port;
    env[n++] = env_inst;
    env[n++] = "BIND_ADDRESS=127.0.0.1";
    env[n++] = "WORKERS=2";
    env[n++] = "QUEUE_POLL_MS=200";
    env[n++] = "LOG_LEVEL=info";
    env[n++] = "API_AUTH=none";
    env[n++] = "NOTIFY_SIGNING_SECRET=" SECRET;
    env[n++] = "NOTIFY_RETRY_BASE_S=1";
    env[n++] = "SHUTDOWN_GRACE_S=2";
    for (; extra && *extra; extra++)
        env[n++] = *extra;
    env[n] = NULL;
    const char *argv[] = {th_test_server_bin(), "serve", NULL};
    p->pid = th_spawn(argv, env, p->log);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", p->port);
    cr_assert(th_wait_http(url, 15000), "railhook did not become healthy (log: %s)", p->log);
}

/* Enqueues n jobs of kind with the payload JSON text. */
static void enqueue(const char *db, const char *kind, int n, const char *payload)
{
    for (int i = 0; i < n; i++)
        free(tf_enqueue(db, kind, "notify-test", payload ? payload : "{}"));
}

/* The receiver's log lines as a JSON array (cJSON_Delete). */
static cJSON *receiver_log(const struct proc *r)
{
    cJSON *all = cJSON_CreateArray();
    FILE *f = fopen(r->log, "r");
    char line[2048];
    while (f && fgets(line, sizeof(line), f)) {
        cJSON *one = cJSON_Parse(line);
        cr_assert_not_null(one, "receiver log line is JSON: %s", line);
        cJSON_AddItemToArray(all, one);
    }
    if (f)
        fclose(f);
    return all;
}

/* Requests of the receiver's log with the given answer status. */
static int log_count(const struct proc *r, int status)
{
    cJSON *all = receiver_log(r);
    int n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, all)
    {
        if (cJSON_GetObjectItem(e, "status")->valueint == status)
            n++;
    }
    cJSON_Delete(all);
    return n;
}

static bool wait_log(const struct proc *r, int status, int want, int timeout_ms)
{
    int64_t end = time_mono_ms() + timeout_ms;
    while (log_count(r, status) < want) {
        if (time_mono_ms() > end)
            return false;
        usleep(50 * 1000);
    }
    return true;
}

/* A socket bound to a loopback port without listening: connections to the port are refused,
 * and no other test (they run in parallel) can take the port until it is closed. */
static int port_hold(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static const char *url_env(char *buf, size_t cap, int port)
{
    snprintf(buf, cap, "NOTIFY_URLS=http://127.0.0.1:%d/hook", port);
    return buf;
}

Test(notify, receiver_failing_for_a_while_gets_each_notification_once, .timeout = 120)
{
    enum { JOBS = 3 };
    char *db = th_db_create();
    struct proc r, a;
    char urls[96];
    receiver_start(&r, th_free_port(), "fail:4");
    const char *extra[] = {url_env(urls, sizeof(urls), r.port), NULL};
    railhook_start(&a, db, "a", extra);
    enqueue(db, "noop", JOBS, NULL);
    cr_assert(
        th_wait_sql_long(db, "SELECT count(*) FROM jobs WHERE state = 'succeeded'", JOBS, 30000));
    cr_assert(th_wait_sql_long(
                  db, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered'",
                  JOBS, 60000),
              "every notification is delivered (log %s)", a.log);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM notifications"), JOBS,
                 "final states only (NOTIFY_EVENTS=final)");

    /* Every request verified by the library; each id answered 200 exactly once; the failed
     * attempts carried the ids that later succeeded. */
    cJSON *all = receiver_log(&r);
    int fails = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, all)
    {
        cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(e, "verified")), "verified: %s",
                  cJSON_PrintUnformatted(e));
        cr_assert_str_eq(cJSON_GetObjectItem(e, "type")->valuestring, "job.succeeded");
        const char *id = cJSON_GetObjectItem(e, "id")->valuestring;
        char sql[256];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE id = '%s'", id);
        cr_assert_eq(th_sql_long(db, sql), 1, "the id %s is a notification's", id);
        if (cJSON_GetObjectItem(e, "status")->valueint == 500)
            fails++;
    }
    cr_assert_eq(fails, 4);
    cr_assert_eq(log_count(&r, 200), JOBS, "each notification received once");
    cr_assert_eq(th_sql_long(db, "SELECT count(DISTINCT id) FROM notifications"), JOBS);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM notification_attempts"), JOBS + 4,
                 "every attempt recorded");
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM notification_attempts WHERE "
                                 "http_status = 500 AND error LIKE 'no (500)%'"),
                 4, "with the receiver's status and a body excerpt");
    cJSON_Delete(all);

    char url[160];
    struct th_response res;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/notifications?job=nope", a.port);
    th_http(&res, "GET", url, NULL, NULL, 0);
    cr_assert_eq(res.status, 400);
    th_response_free(&res);

    proc_stop(&a, SIGTERM);
    proc_stop(&r, SIGTERM);
    th_db_drop(db);
}

Test(notify, a_4xx_answer_gives_up_after_one_attempt, .timeout = 60)
{
    char *db = th_db_create();
    struct proc r, a;
    char urls[96];
    receiver_start(&r, th_free_port(), "reject");
    const char *extra[] = {url_env(urls, sizeof(urls), r.port), NULL};
    railhook_start(&a, db, "a", extra);
    enqueue(db, "noop", 1, NULL);
    cr_assert(th_wait_sql_long(
        db, "SELECT count(*) FROM notification_deliveries WHERE state = 'gave_up'", 1, 30000));
    cr_assert_eq(th_sql_long(db, "SELECT attempts FROM notification_deliveries"), 1);
    cr_assert_eq(th_sql_long(db, "SELECT last_status FROM notification_deliveries"), 400);
    cr_assert_eq(log_count(&r, 400), 1);
    proc_stop(&a, SIGTERM);
    proc_stop(&r, SIGTERM);
    th_db_drop(db);
}

/* 429 is retried, no sooner than its Retry-After (2 s; the backoff alone would wait 1 s at
 * most with NOTIFY_RETRY_BASE_S=1). */
Test(notify, a_429_is_retried_after_its_retry_after, .timeout = 60)
{
    char *db = th_db_create();
    struct proc r, a;
    char urls[96];
    receiver_start(&r, th_free_port(), "busy:2");
    const char *extra[] = {url_env(urls, sizeof(urls), r.port), NULL};
    railhook_start(&a, db, "a", extra);
    enqueue(db, "noop", 1, NULL);
    cr_assert(th_wait_sql_long(
        db, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered'", 1, 30000));
    cr_assert_eq(log_count(&r, 429), 2);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM notification_attempts"), 3);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM (SELECT at - lag(at) OVER (ORDER BY id) "
                                 "AS gap FROM notification_attempts) g WHERE gap < interval "
                                 "'1900 ms'"),
                 0, "each retry waited for Retry-After");
    proc_stop(&a, SIGTERM);
    proc_stop(&r, SIGTERM);
    th_db_drop(db);
}

Test(notify, a_stalled_receiver_never_delays_jobs, .timeout = 90)
{
    enum { JOBS = 10 };
    char *db = th_db_create();
    struct proc r, a;
    char urls[96];
    receiver_start(&r, th_free_port(), "stall");
    const char *extra[] = {url_env(urls, sizeof(urls), r.port), "NOTIFY_EVENTS=all",
                           "NOTIFY_TIMEOUT_S=60", NULL};
    railhook_start(&a, db, "a", extra);
    enqueue(db, "noop", JOBS, NULL);
    /* Both senders are stuck in a request the receiver never answers, while every job runs
     * to its end. */
    cr_assert(wait_log(&r, 200, 2, 20000), "both senders reached the receiver");
    cr_assert(
        th_wait_sql_long(db, "SELECT count(*) FROM jobs WHERE state = 'succeeded'", JOBS, 20000),
        "jobs finish while the senders are stuck");
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM notification_deliveries WHERE state = "
                                 "'delivered'"),
                 0);
    cr_assert_geq(th_sql_long(db, "SELECT count(*) FROM notifications"), JOBS * 2,
                  "queued, running and final states each notified (NOTIFY_EVENTS=all)");
    proc_stop(&a, SIGTERM);
    proc_stop(&r, SIGTERM);
    th_db_drop(db);
}

Test(notify, pending_notifications_survive_a_crash, .timeout = 90)
{
    enum { JOBS = 3 };
    char *db = th_db_create();
    struct proc r, a, b;
    char urls[96];
    int port = 0;
    int held = port_hold(&port);
    const char *extra[] = {url_env(urls, sizeof(urls), port), NULL};
    /* Nobody listens yet: every attempt fails to connect and is retried. */
    railhook_start(&a, db, "a", extra);
    enqueue(db, "noop", JOBS, NULL);
    cr_assert(
        th_wait_sql_long(db,
                         "SELECT count(*) FROM notification_deliveries WHERE attempts >= 1 AND "
                         "state = 'pending' AND lease_owner IS NULL",
                         JOBS, 30000));
    proc_stop(&a, SIGKILL);
    close(held);
    receiver_start(&r, port, "ok");
    railhook_start(&b, db, "b", extra);
    cr_assert(th_wait_sql_long(
        db, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered'", JOBS, 30000));
    cr_assert_eq(log_count(&r, 200), JOBS, "each received once, after the restart");
    proc_stop(&b, SIGTERM);
    proc_stop(&r, SIGTERM);
    th_db_drop(db);
}

#define MANIFEST_ID "6f9a54c2-8d0e-4d36-9b1a-2b7f3f1f0a11"
#define STATUS_COLUMNS                                                                             \
    "MANIFEST_STATUS_COLUMNS=railway_service_id=service_id,railway_status=state,"                  \
    "railway_deployment_status=deployment_status,railway_error=error,"                             \
    "railway_updated_at=updated_at"

/* A second database of the cluster, standing in for Supabase: a manifests table with the
 * status columns docs/operations.md names, and one row. */
static char *manifests_db(void)
{
    char *url = th_db_create_from("template1");
    free(th_sql(url, "CREATE TABLE manifests (id uuid PRIMARY KEY, service_schema text,"
                     " railway_service_id text, railway_status text,"
                     " railway_deployment_status text, railway_error text,"
                     " railway_updated_at timestamptz)"));
    free(th_sql(url,
                "INSERT INTO manifests (id, service_schema) VALUES ('" MANIFEST_ID "', 'acme')"));
    return url;
}

/* A provision's life written straight into its row (WORKERS=0: no flow runs): queued by the
 * enqueue, then running, then succeeded with its service; NOTIFY_EVENTS=all notifies each,
 * and the write-back follows. The receiver keeps the bodies for check-responses.mjs, and GET
 * /notifications is recorded. */
Test(notify, every_state_notified_and_written_back_to_the_manifest, .timeout = 90)
{
    char *db = th_db_create();
    char *mdb = manifests_db();
    struct proc r, a;
    char urls[96], menv[512];
    snprintf(menv, sizeof(menv), "MANIFESTS_DATABASE_URL=%s", mdb);
    receiver_start_keep(&r, th_free_port(), "ok", true);
    const char *extra[] = {url_env(urls, sizeof(urls), r.port),
                           "NOTIFY_EVENTS=all",
                           menv,
                           STATUS_COLUMNS,
                           "WORKERS=0",
                           NULL};
    railhook_start(&a, db, "a", extra);
    enqueue(db, "provision", 1, "{\"manifest_id\":\"" MANIFEST_ID "\"}");
    cr_assert(th_wait_sql_long(
        db, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered'", 2, 30000));
    cr_assert(th_wait_sql_long(
                  mdb, "SELECT count(*) FROM manifests WHERE railway_status = 'queued'", 1, 10000),
              "the row follows the queued job");
    free(th_sql(db, "UPDATE jobs SET state = 'running', started_at = now(), updated_at = now(), "
                    "attempt = 1"));
    free(th_sql(db, "UPDATE jobs SET state = 'succeeded', finished_at = now(), "
                    "updated_at = now(), railway_service_id = 'svc-1', "
                    "railway_deployment_status = 'SUCCESS'"));
    cr_assert(
        th_wait_sql_long(
            db, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered'", 6, 30000),
        "three notifications, each to the URL and the manifest (log %s)", a.log);
    cr_assert_eq(th_sql_long(mdb, "SELECT count(*) FROM manifests WHERE railway_status = "
                                  "'succeeded' AND railway_service_id = 'svc-1' AND "
                                  "railway_deployment_status = 'SUCCESS' AND railway_error IS "
                                  "NULL AND service_schema = 'acme'"),
                 1, "the row holds the newest status whatever order the senders wrote in");
    char *job_updated = th_sql(db, "SELECT updated_at FROM jobs");
    char *row_updated = th_sql(mdb, "SELECT railway_updated_at FROM manifests");
    cr_assert_str_eq(row_updated, job_updated);
    free(job_updated);
    free(row_updated);
    cr_assert_eq(log_count(&r, 200), 3);
    cJSON *all = receiver_log(&r);
    const cJSON *e;
    cJSON_ArrayForEach(e, all)
    {
        cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(e, "verified")));
    }
    cJSON_Delete(all);

    char *id = th_sql(db, "SELECT id FROM jobs");
    char url[200];
    struct th_response res;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/notifications?job=%s", a.port, id);
    th_http(&res, "GET", url, NULL, NULL, 0);
    cr_assert_eq(res.status, 200);
    cJSON *doc = cJSON_Parse(res.body);
    cJSON *list = cJSON_GetObjectItem(doc, "notifications");
    cr_assert_eq(cJSON_GetArraySize(list), 3);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "type")->valuestring,
                     "job.succeeded", "newest first");
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(list, 2), "type")->valuestring,
                     "job.queued");
    cJSON *deliveries = cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "deliveries");
    cr_assert_eq(cJSON_GetArraySize(deliveries), 2, "the URL and the manifest");
    char sink[64];
    snprintf(sink, sizeof(sink), "http://127.0.0.1:%d", r.port);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(deliveries, 0), "sink")->valuestring,
                     sink, "a URL sink is shown without its path");
    cJSON *payload = cJSON_GetObjectItem(cJSON_GetArrayItem(list, 0), "payload");
    cr_assert_str_eq(
        cJSON_GetObjectItem(cJSON_GetObjectItem(payload, "data"), "state")->valuestring,
        "succeeded");
    cJSON_Delete(doc);
    th_response_free(&res);

    /* The job summary in a notification is the document GET /jobs lists. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/jobs", a.port);
    th_http(&res, "GET", url, NULL, NULL, 0);
    doc = cJSON_Parse(res.body);
    char *listed = cJSON_PrintUnformatted(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "jobs"), 0));
    char *sent = th_sql(db, "SELECT (payload->'data')::text FROM notifications WHERE type = "
                            "'job.succeeded'");
    cJSON *sent_doc = cJSON_Parse(sent);
    cJSON *listed_doc = cJSON_Parse(listed);
    cr_assert(cJSON_Compare(sent_doc, listed_doc, true), "sent %s, listed %s", sent, listed);
    cJSON_Delete(listed_doc);
    cJSON_Delete(sent_doc);
    free(sent);
    free(listed);
    cJSON_Delete(doc);
    th_response_free(&res);
    free(id);
    proc_stop(&a, SIGTERM);
    proc_stop(&r, SIGTERM);
    th_db_drop(mdb);
    th_db_drop(db);
}

/* The guard: a status older than the row's is refused, a newer one written, a missing row
 * is nothing to write. */
Test(notify, an_older_status_never_overwrites_a_newer_one)
{
    char *mdb = manifests_db();
    char err[256] = "";
    struct config cfg = {.supabase_schema = "public", .supabase_table = "manifests"};
    cr_assert(config_status_columns_parse(STATUS_COLUMNS + strlen("MANIFEST_STATUS_COLUMNS="),
                                          cfg.status_columns, &cfg.nstatus_columns, err,
                                          sizeof(err)),
              "%s", err);
    PGconn *c = store_manifest_open(mdb, err, sizeof(err));
    cr_assert_not_null(c, "%s", err);
    int rows = -1;
    const char *newer = "{\"manifest_id\":\"" MANIFEST_ID "\",\"state\":\"succeeded\","
                        "\"updated_at\":\"2026-01-01T10:00:02+00:00\"}";
    const char *older = "{\"manifest_id\":\"" MANIFEST_ID "\",\"state\":\"running\","
                        "\"updated_at\":\"2026-01-01T10:00:01+00:00\"}";
    const char *gone = "{\"manifest_id\":\"00000000-0000-4000-8000-000000000000\","
                       "\"state\":\"running\",\"updated_at\":\"2026-01-01T10:00:03+00:00\"}";
    cr_assert_eq(store_manifest_status_write(c, &cfg, newer, &rows, err, sizeof(err)), RH_OK, "%s",
                 err);
    cr_assert_eq(rows, 1);
    cr_assert_eq(store_manifest_status_write(c, &cfg, older, &rows, err, sizeof(err)), RH_OK);
    cr_assert_eq(rows, 0, "the older status is refused");
    cr_assert_eq(th_sql_long(mdb, "SELECT count(*) FROM manifests WHERE railway_status = "
                                  "'succeeded'"),
                 1);
    cr_assert_eq(store_manifest_status_write(c, &cfg, gone, &rows, err, sizeof(err)), RH_OK);
    cr_assert_eq(rows, 0);
    PQfinish(c);
    th_db_drop(mdb);
}

/* A manifests database that refuses connections: the job still succeeds, the write-back is
 * retried, and lands once the database is back. */
Test(notify, a_manifests_database_down_delays_only_the_write_back, .timeout = 90)
{
    char *db = th_db_create();
    char *mdb = manifests_db();
    const char *name = strrchr(mdb, '/') + 1;
    char sql[160], menv[512];
    snprintf(sql, sizeof(sql), "ALTER DATABASE %s WITH ALLOW_CONNECTIONS false", name);
    free(th_sql(db, sql));
    snprintf(menv, sizeof(menv), "MANIFESTS_DATABASE_URL=%s", mdb);
    struct proc a;
    const char *extra[] = {menv, STATUS_COLUMNS, NULL};
    railhook_start(&a, db, "a", extra);
    enqueue(db, "noop", 1, "{\"manifest_id\":\"" MANIFEST_ID "\"}");
    cr_assert(th_wait_sql_long(db, "SELECT count(*) FROM jobs WHERE state = 'succeeded'", 1, 20000),
              "the job succeeds while its write-back cannot");
    cr_assert(
        th_wait_sql_long(db,
                         "SELECT count(*) FROM notification_deliveries WHERE state = 'pending' "
                         "AND attempts >= 2 AND last_error IS NOT NULL",
                         3, 20000),
        "queued, running and succeeded are retried (log %s)", a.log);
    snprintf(sql, sizeof(sql), "ALTER DATABASE %s WITH ALLOW_CONNECTIONS true", name);
    free(th_sql(db, sql));
    cr_assert(th_wait_sql_long(
        db, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered'", 3, 30000));
    cr_assert_eq(th_sql_long(mdb, "SELECT count(*) FROM manifests WHERE railway_status = "
                                  "'succeeded'"),
                 1);
    proc_stop(&a, SIGTERM);
    th_db_drop(mdb);
    th_db_drop(db);
}

/* A real provision against the Railway simulator: the manifest row follows it from queued
 * through running to succeeded with its Railway service and deployment status. */
Test(notify, the_manifest_row_follows_a_provision, .timeout = 120)
{
    struct th_sim sim;
    th_sim_start(&sim, NULL);
    char *db = th_db_create();
    char *mdb = manifests_db();
    char menv[512];
    snprintf(menv, sizeof(menv), "MANIFESTS_DATABASE_URL=%s", mdb);
    struct proc a;
    const char *extra[] = {menv, STATUS_COLUMNS, "DEPLOY_POLL_MIN_MS=100", "DEPLOY_POLL_MAX_MS=300",
                           NULL};
    railhook_start(&a, db, "a", extra);
    char *id = tf_provision(db, MANIFEST_ID, "acme");
    char *state = tf_wait_done(db, id, 60000);
    cr_assert_str_eq(state, "succeeded", "log %s", a.log);
    free(state);
    cr_assert(th_wait_sql_long(db,
                               "SELECT count(*) FROM notification_deliveries WHERE state <> "
                               "'delivered'",
                               0, 30000));
    cr_assert_geq(th_sql_long(db, "SELECT count(*) FROM notifications WHERE type = "
                                  "'job.running'"),
                  1, "the running state was written back too");
    char *want = th_sql(db, "SELECT railway_service_id || '/' || railway_deployment_status || "
                            "'/' || updated_at FROM jobs");
    char *got = th_sql(mdb, "SELECT railway_service_id || '/' || railway_deployment_status || "
                            "'/' || railway_updated_at FROM manifests WHERE railway_status = "
                            "'succeeded' AND railway_error IS NULL");
    cr_assert_not_null(got, "the row's status is succeeded");
    cr_assert_str_eq(got, want);
    free(want);
    free(got);
    free(id);
    proc_stop(&a, SIGTERM);
    th_sim_stop(&sim);
    th_db_drop(mdb);
    th_db_drop(db);
}

/* Retention: notifications older than JOB_RETENTION_DAYS go once none of their deliveries is
 * pending; a pending one stays however old. */
Test(notify, prune_keeps_pending_notifications)
{
    char *db = th_db_create();
    char *job = tf_enqueue(db, "noop", "prune-test", "{}");
    char *sql = xasprintf(
        "INSERT INTO notifications (id, type, job_id, payload, status, created_at) VALUES"
        " ('msg_old_done', 'job.succeeded', '%s', '{}', '{}', now() - interval '40 days'),"
        " ('msg_old_pending', 'job.succeeded', '%s', '{}', '{}', now() - interval '40 days'),"
        " ('msg_new_done', 'job.succeeded', '%s', '{}', '{}', now())",
        job, job, job);
    free(th_sql(db, sql));
    free(sql);
    free(th_sql(db, "INSERT INTO notification_deliveries (notification_id, sink, state) VALUES"
                    " ('msg_old_done', 'manifest', 'delivered'),"
                    " ('msg_old_pending', 'manifest', 'pending'),"
                    " ('msg_new_done', 'manifest', 'gave_up')"));
    char err[256] = "";
    struct store *s = store_open(db, 1, 1000, false);
    PGconn *c = store_conn_open(s, STORE_SESSION_DEFAULT, err, sizeof(err));
    cr_assert_not_null(c, "%s", err);
    long deleted = -1;
    cr_assert_eq(store_notify_prune(c, 30, 100, &deleted, err, sizeof(err)), RH_OK, "%s", err);
    cr_assert_eq(deleted, 1);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM notifications WHERE id = 'msg_old_done'"),
                 0);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM notifications"), 2);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM notification_deliveries"), 2,
                 "its deliveries went with it");
    long pending = 0;
    cr_assert_eq(store_notify_pending(c, &pending, err, sizeof(err)), RH_OK);
    cr_assert_eq(pending, 1);
    PQfinish(c);
    store_close(s);
    free(job);
    th_db_drop(db);
}
