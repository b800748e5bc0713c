/* How the flows follow Railway's deployments: one build per change (the connect's deployment,
 * a push's deployment, a deploy whose answer was lost), timeouts that keep the service, and
 * what a failed build leaves in the job; the real worker pool and PostgreSQL against the
 * Railway simulator. */
#include "flows_jobs.h"
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
static struct tf_pool tp;

#define SHA "5b0e1c4a9f3d2e8b7a6c5d4e3f2a1b0c9d8e7f6a"

/* Starts the simulator with sim_flags and the pool with fast timings and these waits. */
static void start_opts(const char *connect_wait_s, const char *grace_s, const char *timeout_s,
                       const char *const *sim_flags)
{
    setenv("DEPLOY_POLL_MIN_MS", "100", 1);
    setenv("DEPLOY_POLL_MAX_MS", "300", 1);
    setenv("RETRY_BASE_MS", "100", 1);
    setenv("RETRY_MAX_MS", "500", 1);
    setenv("RAILWAY_MAX_RPS", "200", 1);
    setenv("QUEUE_POLL_MS", "100", 1);
    setenv("LOG_LEVEL", "error", 1);
    setenv("CONNECT_DEPLOY_WAIT_S", connect_wait_s, 1);
    setenv("PUSH_DEPLOY_GRACE_S", grace_s, 1);
    setenv("DEPLOY_TIMEOUT_S", timeout_s, 1);
    th_sim_start(&sim, sim_flags);
    db = th_db_create();
    setenv("DATABASE_URL", db, 1);
    tf_pool_start(&tp, 1);
}

#define SIM_FLAGS(...) ((const char *const[]){"--instance-delay-ms", "200", __VA_ARGS__, NULL})

static void start(void)
{
    start_opts("5", "1", "900", SIM_FLAGS("--build-ms", "400"));
}

/* serviceConnect starts no deployment: railhook must deploy once after its look-up. */
static void start_no_connect_deploy(void)
{
    start_opts("2", "1", "900", SIM_FLAGS("--build-ms", "400", "--no-autodeploy-on-connect"));
}

/* Builds outlast DEPLOY_TIMEOUT_S once, not twice. */
static void start_slow(void)
{
    start_opts("5", "1", "5", SIM_FLAGS("--build-ms", "9000"));
}

static void start_failing(void)
{
    start_opts("5", "1", "900", SIM_FLAGS("--build-ms", "400", "--fail-builds", "broken"));
}

static void stop(void)
{
    tf_pool_stop(&tp);
    th_sim_stop(&sim);
    th_db_drop(db);
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
    char *id = tf_provision(db, "d-1", "follow");
    char *state = tf_wait_done(db, id, 45000);
    cr_assert_str_eq(state, "succeeded");
    cr_assert(tf_has_event(db, id, "following the deployment that connecting started"));
    cr_assert_eq(deployments_of("osp-worker-follow", NULL), 1, "more than one build");
    free(state);
    free(id);
}

Test(flows_deploy, without_a_connect_deployment_railhook_deploys_once_after_looking,
     .init = start_no_connect_deploy, .fini = stop, .timeout = 60)
{
    char *id = tf_provision(db, "d-2", "quiet");
    char *state = tf_wait_done(db, id, 45000);
    cr_assert_str_eq(state, "succeeded");
    cr_assert(
        tf_has_event(db, id, "Railway started no deployment within CONNECT_DEPLOY_WAIT_S=2 s%"));
    cr_assert_eq(deployments_of("osp-worker-quiet", NULL), 1);
    free(state);
    free(id);
}

Test(flows_deploy, a_deploy_whose_answer_failed_is_looked_for_before_sending_again,
     .init = start_no_connect_deploy, .fini = stop, .timeout = 90)
{
    th_sim_config(&sim, "{\"forced_errors\":{\"serviceInstanceDeployV2\":{\"message\":"
                        "\"Problem processing request\",\"count\":1}}}");
    char *id = tf_provision(db, "d-3", "lost");
    char *state = tf_wait_done(db, id, 60000);
    cr_assert_str_eq(state, "succeeded");
    cr_assert(tf_has_event(db, id, "ServiceInstanceDeploy failed%"));
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
    char *id = tf_provision(db, "d-4", "slow");
    char *state = tf_wait_done(db, id, 45000);
    cr_assert_str_eq(state, "failed");
    char *sql = xasprintf("SELECT last_error->>'code' FROM jobs WHERE id = '%s'", id);
    char *code = th_sql(db, sql);
    cr_assert_str_eq(code, "deploy_timeout");
    cr_assert(tf_has_event(db, id, "rollback: the deployment did not fail; the service is kept"));
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-slow"), 1, "a timeout deleted it");

    PGconn *c = PQconnectdb(db);
    char st[16], err[256];
    cr_assert_eq(store_job_retry(c, id, 0, st, err, sizeof(err)), RH_OK, "%s", err);
    PQfinish(c);
    free(state);
    state = tf_wait_done(db, id, 45000);
    cr_assert_str_eq(state, "succeeded");
    cr_assert(tf_has_event(db, id, "following the deployment that timed out before"));
    cr_assert_eq(deployments_of("osp-worker-slow", NULL), 1, "the retry built again");
    free(code);
    free(sql);
    free(state);
    free(id);
}

Test(flows_deploy, two_push_jobs_of_one_commit_build_it_once, .init = start, .fini = stop,
     .timeout = 90)
{
    char *a = tf_provision(db, "d-5", "push");
    char *sa = tf_wait_done(db, a, 45000);
    cr_assert_str_eq(sa, "succeeded");
    char *b = tf_enqueue(db, "redeploy", "osp-worker-push", "{\"commit_sha\":\"" SHA "\"}");
    char *sb = tf_wait_done(db, b, 45000);
    cr_assert_str_eq(sb, "succeeded");
    cr_assert(tf_has_event(db, b,
                           "Railway started no deployment of the pushed commit within "
                           "PUSH_DEPLOY_GRACE_S=1 s%"));
    char *c = tf_enqueue(db, "redeploy", "osp-worker-push", "{\"commit_sha\":\"" SHA "\"}");
    char *sc = tf_wait_done(db, c, 45000);
    cr_assert_str_eq(sc, "succeeded");
    cr_assert(tf_has_event(db, c, "following Railway''s own deployment of the pushed commit"));
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
    char *id = tf_provision(db, "d-6", "broken");
    char *state = tf_wait_done(db, id, 45000);
    cr_assert_str_eq(state, "failed");
    char *sql = xasprintf("SELECT (last_error->>'code') || ' ' || (last_error->'details'->>"
                          "'status') || ' ' || (last_error->'details'->>'log_kind') FROM jobs "
                          "WHERE id = '%s'",
                          id);
    char *row = th_sql(db, sql);
    cr_assert_str_eq(row, "deploy_failed FAILED build");
    /* A failure Railway reported is rolled back. */
    cr_assert(tf_has_event(db, id, "rolled_back"));
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-broken"), 0);
    /* The job waited parked, and the watcher's read woke it with the failure. */
    char *parked = xasprintf("SELECT count(*) FROM job_events WHERE job_id = '%s' AND step LIKE "
                             "'waiting for deployment %%'",
                             id);
    cr_assert_gt(th_sql_long(db, parked), 0, "the job never parked");
    cJSON *st = th_sim_state(&sim);
    const cJSON *ops = cJSON_GetObjectItem(cJSON_GetObjectItem(st, "counts"), "by_operation");
    cr_assert_null(cJSON_GetObjectItem(ops, "Deployment"), "the job read its deployment itself");
    cr_assert_not_null(cJSON_GetObjectItem(ops, "DeploymentsWatch"));
    cJSON_Delete(st);
    free(parked);
    free(row);
    free(sql);
    free(state);
    free(id);
}

/* ---- Railway's own behaviours (the simulator models each behind a switch) ---- */

/* Skips the test when the simulator does not model Railway's own deploys yet. */
static void need_behaviours(void)
{
    cJSON *st = th_sim_state(&sim);
    bool has = cJSON_HasObjectItem(cJSON_GetObjectItem(st, "config"), "supersede_unfinished");
    cJSON_Delete(st);
    if (!has)
        cr_skip_test("this simulator does not model Railway's own deploys");
}

/* POSTs body to the simulator's control path; fails the test unless it answers 200. */
static void sim_post(const char *path, const char *body)
{
    char url[160];
    snprintf(url, sizeof(url), "%s%s", sim.base, path);
    struct th_response r;
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    th_http(&r, "POST", url, hdrs, body, strlen(body));
    cr_assert_eq(r.status, 200, "%s refused: %s", path, r.body);
    th_response_free(&r);
}

/* A push of sha to acme/osp@main, as GitHub would send it (extra: more JSON members). */
static void sim_push(const char *sha, const char *extra)
{
    char *body = xasprintf("{\"repo\":\"acme/osp\",\"branch\":\"main\",\"sha\":\"%s\"%s%s}", sha,
                           extra ? "," : "", extra ? extra : "");
    sim_post("/_sim/push", body);
    free(body);
}

/* The Railway id of the live service name (free()). */
static char *sim_service_id(const char *name)
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
    cr_assert_not_null(id, "no service %s", name);
    return id;
}

static void provision_ok(const char *manifest, const char *schema)
{
    char *id = tf_provision(db, manifest, schema);
    char *state = tf_wait_done(db, id, 45000);
    cr_assert_str_eq(state, "succeeded");
    free(state);
    free(id);
}

Test(flows_deploy, a_connect_deployment_listed_late_is_still_followed, .fini = stop, .timeout = 60)
{
    start_opts("10", "1", "900", SIM_FLAGS("--build-ms", "400"));
    need_behaviours();
    th_sim_config(&sim, "{\"connect_deploy_delay_ms\":3000}");
    char *id = tf_provision(db, "r-1", "late");
    char *state = tf_wait_done(db, id, 45000);
    cr_assert_str_eq(state, "succeeded");
    cr_assert(tf_has_event(db, id, "following the deployment that connecting started"));
    cr_assert_eq(deployments_of("osp-worker-late", NULL), 1, "a second build");
    free(state);
    free(id);
}

Test(flows_deploy, a_push_is_followed_even_when_railway_lists_it_late, .fini = stop, .timeout = 90)
{
    start_opts("5", "20", "900", SIM_FLAGS("--build-ms", "400"));
    need_behaviours();
    provision_ok("r-2", "pushed");
    th_sim_config(&sim, "{\"push_deploy_delay_ms\":4000}");
    sim_push(SHA, NULL);
    char *id = tf_enqueue(db, "redeploy", "osp-worker-pushed", "{\"commit_sha\":\"" SHA "\"}");
    char *state = tf_wait_done(db, id, 60000);
    cr_assert_str_eq(state, "succeeded");
    cr_assert(tf_has_event(db, id, "following Railway''s own deployment of the pushed commit"));
    cr_assert_eq(deployments_of("osp-worker-pushed", SHA), 1, "the commit was built twice");
    free(state);
    free(id);
}

Test(flows_deploy, with_auto_deploys_off_the_push_is_deployed_at_once, .fini = stop, .timeout = 90)
{
    start_opts("5", "60", "900", SIM_FLAGS("--build-ms", "400"));
    need_behaviours();
    provision_ok("r-3", "manual");
    char *sid = sim_service_id("osp-worker-manual");
    char *body = xasprintf("{\"id\":\"%s\",\"auto_deploys\":false}", sid);
    sim_post("/_sim/service", body);
    sim_push(SHA, NULL);
    int64_t t0 = time_mono_ms();
    char *id = tf_enqueue(db, "redeploy", "osp-worker-manual", "{\"commit_sha\":\"" SHA "\"}");
    char *state = tf_wait_done(db, id, 45000);
    cr_assert_str_eq(state, "succeeded");
    cr_assert_lt(time_mono_ms() - t0, 30000, "waited the grace though auto-deploys are off");
    cr_assert(tf_has_event(db, id, "auto-deploys are off for the service%"));
    cr_assert_eq(deployments_of("osp-worker-manual", SHA), 1);
    free(body);
    free(sid);
    free(state);
    free(id);
}

Test(flows_deploy, a_push_railway_skips_is_a_skip_not_a_failure, .fini = stop, .timeout = 90)
{
    start_opts("5", "20", "900", SIM_FLAGS("--build-ms", "400"));
    need_behaviours();
    provision_ok("r-4", "gated");
    char *sid = sim_service_id("osp-worker-gated");
    char *body = xasprintf("{\"id\":\"%s\",\"check_suites\":true}", sid);
    sim_post("/_sim/service", body);
    sim_push(SHA, "\"ci\":\"failure\",\"ci_wait_ms\":500");
    char *id = tf_enqueue(db, "redeploy", "osp-worker-gated", "{\"commit_sha\":\"" SHA "\"}");
    char *state = tf_wait_done(db, id, 60000);
    cr_assert_str_eq(state, "succeeded");
    char *sql = xasprintf("SELECT details->>'reason' FROM job_events WHERE job_id = '%s' AND "
                          "message LIKE 'skipped:%%'",
                          id);
    char *reason = th_sql(db, sql);
    cr_assert_str_eq(reason, "CI check suite failed");
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-gated"), 1);
    cr_assert_eq(deployments_of("osp-worker-gated", SHA), 1, "railhook built a skipped commit");
    free(reason);
    free(sql);
    free(body);
    free(sid);
    free(state);
    free(id);
}

Test(flows_deploy, a_sleeping_deployment_is_healthy, .fini = stop, .timeout = 60)
{
    start_opts("5", "1", "900", SIM_FLAGS("--build-ms", "400"));
    need_behaviours();
    th_sim_config(&sim, "{\"sleep_after_ms\":1}");
    provision_ok("r-5", "sleepy");
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM services WHERE name = 'osp-worker-sleepy' "
                                 "AND status = 'active'"),
                 1);
}

Test(flows_deploy, a_superseded_deployment_hands_over_to_the_newer_one, .fini = stop, .timeout = 90)
{
    start_opts("5", "1", "900", SIM_FLAGS("--build-ms", "4000"));
    need_behaviours();
    th_sim_config(&sim, "{\"supersede_unfinished\":true,\"push_deploy_delay_ms\":0}");
    char *id = tf_provision(db, "r-6", "newer");
    /* Once railhook follows the connect's build, a push starts a newer one. */
    char *sql = xasprintf("SELECT count(*) FROM jobs WHERE id = '%s' AND steps ? 'deploy'", id);
    int64_t deadline = time_mono_ms() + 30000;
    while (th_sql_long(db, sql) == 0 && time_mono_ms() < deadline)
        usleep(100 * 1000);
    sim_push(SHA, NULL);
    char *state = tf_wait_done(db, id, 60000);
    cr_assert_str_eq(state, "succeeded");
    cr_assert(tf_has_event(db, id, "deployment superseded; following the newer one"));
    cr_assert(!tf_has_event(db, id, "rolled_back"));
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-newer"), 1);
    free(sql);
    free(state);
    free(id);
}

Test(flows_deploy, a_deploy_answered_too_late_is_adopted_not_sent_again, .fini = stop,
     .timeout = 90)
{
    setenv("RAILWAY_TIMEOUT_S", "1", 1);
    start_opts("5", "1", "900", SIM_FLAGS("--build-ms", "400"));
    unsetenv("RAILWAY_TIMEOUT_S");
    need_behaviours();
    provision_ok("r-7", "tardy");
    th_sim_config(&sim, "{\"slow_deploy_ms\":2500}");
    char *id = tf_enqueue(db, "redeploy", "osp-worker-tardy", "{\"commit_sha\":\"" SHA "\"}");
    char *state = tf_wait_done(db, id, 60000);
    cr_assert_str_eq(state, "succeeded");
    cr_assert(tf_has_event(db, id, "adopting the deployment a deploy request with a lost answer%"));
    cr_assert_eq(deployments_of("osp-worker-tardy", SHA), 1, "the deploy was sent twice");
    free(state);
    free(id);
}

Test(flows_deploy, a_failed_build_keeps_its_log_tail_in_the_job, .fini = stop, .timeout = 60)
{
    start_opts("5", "1", "900", SIM_FLAGS("--build-ms", "400", "--fail-builds", "broken"));
    need_behaviours();
    th_sim_config(&sim, "{\"fail_log\":\"npm ERR! Missing script: \\\"start\\\"\"}");
    char *id = tf_provision(db, "r-8", "broken");
    char *state = tf_wait_done(db, id, 45000);
    cr_assert_str_eq(state, "failed");
    char *sql = xasprintf("SELECT last_error->'details'->>'log' FROM jobs WHERE id = '%s'", id);
    char *log = th_sql(db, sql);
    cr_assert_not_null(strstr(log, "Missing script"), "%s", log);
    free(sql);
    /* The failure event carries it too, for GET /jobs/{id}'s events. */
    sql = xasprintf("SELECT count(*) FROM job_events WHERE job_id = '%s' AND details->'details' "
                    "? 'log'",
                    id);
    cr_assert_geq(th_sql_long(db, sql), 1);
    free(log);
    free(sql);
    free(state);
    free(id);
}

Test(flows_deploy, a_deployment_held_for_approval_times_out_and_keeps_the_service, .fini = stop,
     .timeout = 60)
{
    start_opts("5", "1", "5", SIM_FLAGS("--build-ms", "400"));
    need_behaviours();
    th_sim_config(&sim, "{\"hold_status\":\"NEEDS_APPROVAL\",\"hold_ms\":0}");
    char *id = tf_provision(db, "r-9", "held");
    char *state = tf_wait_done(db, id, 45000);
    cr_assert_str_eq(state, "failed");
    cr_assert(tf_has_event(db, id, "deployment NEEDS_APPROVAL: a member of the Railway project%"));
    cr_assert_eq(th_sim_count_services(&sim, "osp-worker-held"), 1, "a timeout deleted it");
    free(state);
    free(id);
}
