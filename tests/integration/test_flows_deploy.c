/* How the flows follow Railway's deployments: one build per change (the connect's deployment,
 * a push's deployment, a deploy whose answer was lost), timeouts that keep the service, and
 * what a failed build leaves in the job; the real worker pool and PostgreSQL against the
 * Railway simulator. */
#include "support/harness.h"

#include "util/log.h"
#include "flows/flows.h"
#include "queue/queue.h"
#include "store/jobs.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct th_sim sim;
static char *db;
static struct config cfg;
static struct store *store;
static struct queue *pool;
static struct flows *fl;

#define SHA "5b0e1c4a9f3d2e8b7a6c5d4e3f2a1b0c9d8e7f6a"

/* Starts the simulator with sim_flags and the pool with fast timings. */
static void start_with(const char *const *sim_flags)
{
    setenv("DEPLOY_POLL_MIN_MS", "100", 1);
    setenv("DEPLOY_POLL_MAX_MS", "300", 1);
    setenv("RETRY_BASE_MS", "100", 1);
    setenv("RETRY_MAX_MS", "500", 1);
    setenv("RAILWAY_MAX_RPS", "200", 1);
    setenv("QUEUE_POLL_MS", "100", 1);
    setenv("LOG_LEVEL", "error", 1);
    th_sim_start(&sim, sim_flags);
    db = th_db_create();
    setenv("DATABASE_URL", db, 1);
    char err[256];
    cr_assert(config_load(&cfg, CONFIG_NEED_DATABASE, err, sizeof(err)), "%s", err);
    log_setup(LOG_ERROR, false, 2);
    store = store_open(cfg.database_url, 1, cfg.db_pool_wait_ms, cfg.queue_listen);
    pool = queue_create(&cfg, store);
    fl = flows_new(&cfg, err, sizeof(err));
    cr_assert_not_null(fl, "%s", err);
    flows_register(fl, pool);
    cr_assert_eq(queue_start(pool, err, sizeof(err)), RH_OK, "%s", err);
}

static void start(void)
{
    setenv("CONNECT_DEPLOY_WAIT_S", "5", 1);
    setenv("PUSH_DEPLOY_GRACE_S", "1", 1);
    setenv("DEPLOY_TIMEOUT_S", "900", 1);
    start_with((const char *const[]){"--build-ms", "400", "--instance-delay-ms", "200", NULL});
}

/* serviceConnect starts no deployment: railhook must deploy once after its look-up. */
static void start_no_connect_deploy(void)
{
    setenv("CONNECT_DEPLOY_WAIT_S", "2", 1);
    setenv("PUSH_DEPLOY_GRACE_S", "1", 1);
    setenv("DEPLOY_TIMEOUT_S", "900", 1);
    start_with((const char *const[]){"--build-ms", "400", "--instance-delay-ms", "200",
                                     "--no-autodeploy-on-connect", NULL});
}

/* Builds outlast DEPLOY_TIMEOUT_S once, not twice. */
static void start_slow(void)
{
    setenv("CONNECT_DEPLOY_WAIT_S", "5", 1);
    setenv("PUSH_DEPLOY_GRACE_S", "1", 1);
    setenv("DEPLOY_TIMEOUT_S", "5", 1);
    start_with((const char *const[]){"--build-ms", "9000", "--instance-delay-ms", "200", NULL});
}

static void start_failing(void)
{
    setenv("CONNECT_DEPLOY_WAIT_S", "5", 1);
    setenv("PUSH_DEPLOY_GRACE_S", "1", 1);
    setenv("DEPLOY_TIMEOUT_S", "900", 1);
    start_with((const char *const[]){"--build-ms", "400", "--instance-delay-ms", "200",
                                     "--fail-builds", "broken", NULL});
}

static void stop(void)
{
    queue_stop(pool, 2000);
    store_close(store);
    flows_free(fl);
    config_free(&cfg);
    th_sim_stop(&sim);
    th_db_drop(db);
}

static char *enqueue(const char *kind, const char *service, const char *payload)
{
    char *sql = xasprintf("INSERT INTO jobs (kind, service_name, payload) VALUES ('%s', '%s', "
                          "'%s') RETURNING id",
                          kind, service, payload);
    char *id = th_sql(db, sql);
    free(sql);
    return id;
}

static char *provision(const char *manifest, const char *schema)
{
    char *payload =
        xasprintf("{\"manifest_id\":\"%s\",\"service_schema\":\"%s\",\"record\":{\"id\":\"%s\","
                  "\"service_schema\":\"%s\",\"status\":\"pending\"}}",
                  manifest, schema, manifest, schema);
    char *name = xasprintf("osp-worker-%s", schema);
    char *id = enqueue("provision", name, payload);
    free(payload);
    free(name);
    return id;
}

/* Waits for the job to finish; returns its final state (free()). */
static char *wait_done(const char *id, int timeout_ms)
{
    char *sql = xasprintf("SELECT state FROM jobs WHERE id = '%s'", id);
    int64_t deadline = time_mono_ms() + timeout_ms;
    char *state = NULL;
    while (time_mono_ms() < deadline) {
        free(state);
        state = th_sql(db, sql);
        if (strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
            strcmp(state, "cancelled") == 0)
            break;
        usleep(100 * 1000);
    }
    free(sql);
    return state;
}

static bool has_event(const char *id, const char *like)
{
    char *sql = xasprintf("SELECT count(*) FROM job_events WHERE job_id = '%s' AND message LIKE "
                          "'%s'",
                          id, like);
    long n = th_sql_long(db, sql);
    free(sql);
    return n > 0;
}

/* The simulator's deployments of the live service name (of commit sha when not NULL). */
static int deployments_of(const char *name, const char *sha)
{
    cJSON *st = th_sim_state(&sim);
    int n = -1;
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(st, "services"))
    {
        if (strcmp(cJSON_GetObjectItem(s, "name")->valuestring, name) != 0 ||
            cJSON_IsTrue(cJSON_GetObjectItem(s, "deleted")))
            continue;
        n = 0;
        const cJSON *d;
        cJSON_ArrayForEach(d, cJSON_GetObjectItem(s, "deployments"))
        {
            const cJSON *h = cJSON_GetObjectItem(d, "commitHash");
            if (!sha || (cJSON_IsString(h) && strcmp(h->valuestring, sha) == 0))
                n++;
        }
    }
    cJSON_Delete(st);
    return n;
}

Test(flows_deploy, the_connects_deployment_is_followed_not_doubled, .init = start, .fini = stop,
     .timeout = 60)
{
    char *id = provision("d-1", "follow");
    char *state = wait_done(id, 45000);
    cr_assert_str_eq(state, "succeeded");
    cr_assert(has_event(id, "following the deployment that connecting started"));
    cr_assert_eq(deployments_of("osp-worker-follow", NULL), 1, "more than one build");
    free(state);
    free(id);
}

Test(flows_deploy, without_a_connect_deployment_railhook_deploys_once_after_looking,
     .init = start_no_connect_deploy, .fini = stop, .timeout = 60)
{
    char *id = provision("d-2", "quiet");
    char *state = wait_done(id, 45000);
    cr_assert_str_eq(state, "succeeded");
    cr_assert(has_event(id, "Railway started no deployment within CONNECT_DEPLOY_WAIT_S=2 s%"));
    cr_assert_eq(deployments_of("osp-worker-quiet", NULL), 1);
    free(state);
    free(id);
}

Test(flows_deploy, a_deploy_whose_answer_failed_is_looked_for_before_sending_again,
     .init = start_no_connect_deploy, .fini = stop, .timeout = 90)
{
    th_sim_config(&sim, "{\"forced_errors\":{\"serviceInstanceDeployV2\":{\"message\":"
                        "\"Problem processing request\",\"count\":1}}}");
    char *id = provision("d-3", "lost");
    char *state = wait_done(id, 60000);
    cr_assert_str_eq(state, "succeeded");
    cr_assert(has_event(id, "ServiceInstanceDeploy failed%"));
    cr_assert_eq(deployments_of("osp-worker-lost", NULL), 1);
    /* The baseline was recorded before the mutation was sent. */
    char *sql =
        xasprintf("SELECT count(*) FROM jobs WHERE id = '%s' AND steps ? 'deploy_sent'", id);
    cr_assert_eq(th_sql_long(db, sql), 1);
    free(sql);
    free(state);
    free(id);
}

Test(flows_deploy, a_timeout_keeps_the_service_and_a_retry_follows_the_same_deployment,
     .init = start_slow, .fini = stop, .timeout = 90)
{
    char *id = provision("d-4", "slow");
    char *state = wait_done(id, 45000);
    cr_assert_str_eq(state, "failed");
    char *sql = xasprintf("SELECT last_error->>'code' FROM jobs WHERE id = '%s'", id);
    char *code = th_sql(db, sql);
    cr_assert_str_eq(code, "deploy_timeout");
    cr_assert(has_event(id, "rollback: the deployment did not fail; the service is kept"));
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-slow"), 1, "a timeout deleted it");

    PGconn *c = PQconnectdb(db);
    char st[16], err[256];
    cr_assert_eq(store_job_retry(c, id, 0, st, err, sizeof(err)), RH_OK, "%s", err);
    PQfinish(c);
    free(state);
    state = wait_done(id, 45000);
    cr_assert_str_eq(state, "succeeded");
    cr_assert(has_event(id, "following the deployment that timed out before"));
    cr_assert_eq(deployments_of("osp-worker-slow", NULL), 1, "the retry built again");
    free(code);
    free(sql);
    free(state);
    free(id);
}

Test(flows_deploy, two_push_jobs_of_one_commit_build_it_once, .init = start, .fini = stop,
     .timeout = 90)
{
    char *a = provision("d-5", "push");
    char *sa = wait_done(a, 45000);
    cr_assert_str_eq(sa, "succeeded");
    char *b = enqueue("redeploy", "osp-worker-push", "{\"commit_sha\":\"" SHA "\"}");
    char *sb = wait_done(b, 45000);
    cr_assert_str_eq(sb, "succeeded");
    cr_assert(has_event(b, "Railway started no deployment of the pushed commit within "
                           "PUSH_DEPLOY_GRACE_S=1 s%"));
    char *c = enqueue("redeploy", "osp-worker-push", "{\"commit_sha\":\"" SHA "\"}");
    char *sc = wait_done(c, 45000);
    cr_assert_str_eq(sc, "succeeded");
    cr_assert(has_event(c, "following Railway''s own deployment of the pushed commit"));
    cr_assert_eq(deployments_of("osp-worker-push", SHA), 1);
    free(sa);
    free(sb);
    free(sc);
    free(a);
    free(b);
    free(c);
}

Test(flows_deploy, a_failed_build_says_which_deployment_and_log, .init = start_failing,
     .fini = stop, .timeout = 60)
{
    char *id = provision("d-6", "broken");
    char *state = wait_done(id, 45000);
    cr_assert_str_eq(state, "failed");
    char *sql = xasprintf("SELECT (last_error->>'code') || ' ' || (last_error->'details'->>"
                          "'status') || ' ' || (last_error->'details'->>'log_kind') FROM jobs "
                          "WHERE id = '%s'",
                          id);
    char *row = th_sql(db, sql);
    cr_assert_str_eq(row, "deploy_failed FAILED build");
    /* A failure Railway reported is rolled back. */
    cr_assert(has_event(id, "rolled_back"));
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-broken"), 0);
    free(row);
    free(sql);
    free(state);
    free(id);
}
