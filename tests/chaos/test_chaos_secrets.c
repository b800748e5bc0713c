/* No secret leaks: a debug-level `railhook serve` and `railhook check` run with distinctive
 * values of every secret (Railway token, the three webhook secrets, both API tokens, the
 * database password) through accepted, refused and wrongly signed deliveries, API calls with
 * right and wrong tokens, and Railway errors that echo the token and the password back. Every
 * log line, every answer, `railhook check`'s report and a pg_dump of jobs, events and
 * deliveries are then grepped for each value. (Every other chaos test greps its own logs and
 * database for the same values.) */
#include "chaos/chaos.h"

#include "support/deliveries.h"
#include "util/util.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

static FILE *answers;

/* Sends a request and appends the whole answer (status, headers, body) to the answers file. */
static long request(const char *method, const char *url, const char *const *headers,
                    const char *body, char **out_body)
{
    struct th_response r;
    th_http(&r, method, url, headers, body, body ? strlen(body) : 0);
    fprintf(answers, "%s %s -> %ld\n%s\n%s\n\n", method, url, r.status, r.headers, r.body);
    long status = r.status;
    if (out_body)
        *out_body = xstrdup(r.body ? r.body : "");
    th_response_free(&r);
    return status;
}

static char *wait_state(const char *db, const char *job, int timeout_ms)
{
    char *sql = xasprintf("SELECT state FROM jobs WHERE id = '%s'", job);
    int64_t end = time_mono_ms() + timeout_ms;
    char *state = NULL;
    for (;;) {
        free(state);
        state = th_sql(db, sql);
        if (strcmp(state, "queued") != 0 && strcmp(state, "running") != 0)
            break;
        if (time_mono_ms() > end)
            break;
        usleep(100 * 1000);
    }
    free(sql);
    return state;
}

static char *first_job(const char *body)
{
    cJSON *j = cJSON_Parse(body);
    const cJSON *id = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "job_ids"), 0);
    cr_assert(cJSON_IsString(id), "no job id in %s", body);
    char *out = xstrdup(id->valuestring);
    cJSON_Delete(j);
    return out;
}

Test(chaos, no_secret_in_logs_answers_or_database, .timeout = 300)
{
    char *answers_path = chaos_path("secrets-answers", "txt");
    answers = fopen(answers_path, "w");
    cr_assert_not_null(answers);
    struct th_sim sim;
    chaos_sim_start(&sim, NULL);
    char *db = th_db_create();
    char *url = chaos_db_url(db);
    char *log = chaos_path("secrets", "log");
    const char *extra[] = {"LOG_LEVEL=debug", "WORKERS=2", NULL};
    struct chaos_proc p;
    chaos_serve(&p, "secrets", url, &sim, log, extra);
    char target[128];
    const char *json = "Content-Type: application/json";

    /* Supabase, bearer: accepted, then refused with near-miss and wrong-kind secrets. */
    const char *insert = "{\"type\":\"INSERT\",\"table\":\"manifests\",\"schema\":\"public\","
                         "\"record\":{\"id\":\"s-1\",\"service_schema\":\"leaky\"},"
                         "\"old_record\":null}";
    snprintf(target, sizeof(target), "%s/webhooks/supabase", p.base);
    const char *ok_bearer[] = {json, "Authorization: Bearer " CHAOS_SUPABASE_SECRET, NULL};
    char *body = NULL;
    cr_assert_eq(request("POST", target, ok_bearer, insert, &body), 202, "%s", body);
    char *job_ok = first_job(body);
    free(body);
    char *s1 = wait_state(db, job_ok, 60000);
    cr_assert_str_eq(s1, "succeeded");
    const char *near[] = {json, "Authorization: Bearer " CHAOS_SUPABASE_SECRET "x", NULL};
    cr_assert_eq(request("POST", target, near, insert, NULL), 401);
    const char *wrong_kind[] = {json, "Authorization: Bearer " CHAOS_GITHUB_SECRET, NULL};
    cr_assert_eq(request("POST", target, wrong_kind, insert, NULL), 401);

    /* Supabase, Standard Webhooks: a signed delivery, then one signed with a wrong secret. */
    const char *insert2 = "{\"type\":\"INSERT\",\"table\":\"manifests\",\"schema\":\"public\","
                          "\"record\":{\"id\":\"s-2\",\"service_schema\":\"echoed\"},"
                          "\"old_record\":null}";
    char ts[32], sig[TD_SWH_SIG_CAP], h_ts[64], h_sig[200];
    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
    cr_assert(td_swh_sign(CHAOS_SIGNING_SECRET, "msg_chaos_1", ts, insert2, strlen(insert2), sig));
    snprintf(h_ts, sizeof(h_ts), "webhook-timestamp: %s", ts);
    snprintf(h_sig, sizeof(h_sig), "webhook-signature: %s", sig);
    /* Railway will echo the token and the database password in its error for this one. */
    th_sim_config(&sim,
                  "{\"forced_errors\":{\"serviceCreate\":{\"message\":\"Not Authorized: "
                  "token " CHAOS_RAILWAY_TOKEN
                  " cannot reach postgresql://railhook:" CHAOS_DB_PASSWORD "@db\",\"count\":1}}}");
    const char *signed_hdrs[] = {json, "webhook-id: msg_chaos_1", h_ts, h_sig, NULL};
    cr_assert_eq(request("POST", target, signed_hdrs, insert2, &body), 202, "%s", body);
    char *job_echo = first_job(body);
    free(body);
    cr_assert(td_swh_sign("whsec_d3JvbmctY2hhb3Mtc2VjcmV0LXZhbHVl", "msg_chaos_2", ts, insert2,
                          strlen(insert2), sig));
    snprintf(h_sig, sizeof(h_sig), "webhook-signature: %s", sig);
    const char *bad_signed[] = {json, "webhook-id: msg_chaos_2", h_ts, h_sig, NULL};
    cr_assert_eq(request("POST", target, bad_signed, insert2, NULL), 401);

    /* GitHub: a signed ping, then a push signed with the Supabase secret. */
    snprintf(target, sizeof(target), "%s/webhooks/github", p.base);
    const char *ping = "{\"zen\":\"Keep it logically awesome.\",\"hook_id\":42}";
    char gsig[TD_GITHUB_SIG_CAP], h_gsig[100];
    td_github_sign(CHAOS_GITHUB_SECRET, ping, strlen(ping), gsig);
    snprintf(h_gsig, sizeof(h_gsig), "X-Hub-Signature-256: %s", gsig);
    const char *gh[] = {
        json, "X-GitHub-Event: ping", "X-GitHub-Delivery: chaos-1", "X-GitHub-Hook-ID: 42", h_gsig,
        NULL};
    cr_assert_eq(request("POST", target, gh, ping, NULL), 200);
    td_github_sign(CHAOS_SUPABASE_SECRET, ping, strlen(ping), gsig);
    snprintf(h_gsig, sizeof(h_gsig), "X-Hub-Signature-256: %s", gsig);
    const char *gh_bad[] = {
        json, "X-GitHub-Event: push", "X-GitHub-Delivery: chaos-2", "X-GitHub-Hook-ID: 42", h_gsig,
        NULL};
    cr_assert_eq(request("POST", target, gh_bad, ping, NULL), 401);

    /* The second job fails on the echoed error. */
    char *s2 = wait_state(db, job_echo, 60000);
    cr_assert_str_eq(s2, "failed");
    char *sql = xasprintf("SELECT last_error->>'message' FROM jobs WHERE id = '%s'", job_echo);
    char *msg = th_sql(db, sql);
    cr_assert_not_null(strstr(msg, "[REDACTED]"), "the echoed secrets were not blanked: %s", msg);
    free(msg);
    free(sql);

    /* The API with right, wrong and near-miss tokens. */
    snprintf(target, sizeof(target), "%s/jobs/%s", p.base, job_echo);
    const char *read_tok[] = {"Authorization: Bearer " CHAOS_API_TOKEN, NULL};
    cr_assert_eq(request("GET", target, read_tok, NULL, NULL), 200);
    const char *near_admin[] = {"Authorization: Bearer " CHAOS_ADMIN_TOKEN "0", NULL};
    cr_assert_eq(request("GET", target, near_admin, NULL, NULL), 401);
    snprintf(target, sizeof(target), "%s/jobs/%s/retry", p.base, job_echo);
    cr_assert_eq(request("POST", target, read_tok, "", NULL), 403);
    const char *admin_tok[] = {"Authorization: Bearer " CHAOS_ADMIN_TOKEN, NULL};
    long retried = request("POST", target, admin_tok, "", NULL);
    cr_assert(retried == 200 || retried == 202, "retry answered %ld", retried);
    char *s3 = wait_state(db, job_echo, 60000);
    cr_assert_str_eq(s3, "succeeded", "the retried job ended %s", s3);
    snprintf(target, sizeof(target), "%s/metrics", p.base);
    cr_assert_eq(request("GET", target, admin_tok, NULL, NULL), 200);
    snprintf(target, sizeof(target), "%s/jobs?limit=50", p.base);
    cr_assert_eq(request("GET", target, read_tok, NULL, NULL), 200);
    cr_assert_eq(WEXITSTATUS(chaos_signal(&p, SIGTERM)), 0);
    fclose(answers);

    /* railhook check with the same secrets, and a start against an unreachable database. */
    char *check_out = chaos_path("secrets-check", "txt");
    char *env_db = xasprintf("DATABASE_URL=%s", url);
    char *env_api = xasprintf("RAILWAY_API_URL=%s", sim.url);
    const char *cenv[] = {env_db,
                          env_api,
                          "RAILWAY_TOKEN=" CHAOS_RAILWAY_TOKEN,
                          "RAILWAY_PROJECT_ID=proj-sim",
                          "RAILWAY_ENVIRONMENT_ID=env-sim",
                          "WORKER_REPO=acme/osp",
                          "SUPABASE_WEBHOOK_SECRET=" CHAOS_SUPABASE_SECRET,
                          "SUPABASE_WEBHOOK_SIGNING_SECRET=" CHAOS_SIGNING_SECRET,
                          "GITHUB_WEBHOOK_SECRET=" CHAOS_GITHUB_SECRET,
                          "API_TOKEN=" CHAOS_API_TOKEN,
                          "API_ADMIN_TOKEN=" CHAOS_ADMIN_TOKEN,
                          NULL};
    const char *cargv[] = {RAILHOOK_BIN_PATH, "check", NULL};
    int status = 0;
    waitpid(th_spawn(cargv, cenv, check_out), &status, 0);
    cr_assert(WIFEXITED(status), "railhook check crashed");
    char *dead = xasprintf("DATABASE_URL=postgresql://railhook:%s@127.0.0.1:%d/none"
                           "?connect_timeout=2",
                           CHAOS_DB_PASSWORD, th_free_port());
    const char *denv[] = {dead,
                          "PORT=0",
                          "BIND_ADDRESS=127.0.0.1",
                          "API_AUTH=none",
                          "LOG_LEVEL=debug",
                          "WORKERS=1",
                          "DB_POOL_WAIT_MS=500",
                          NULL};
    const char *margv[] = {RAILHOOK_BIN_PATH, "migrate", NULL};
    waitpid(th_spawn(margv, denv, log), &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0, "migrate reached no database");

    const char *files[] = {log, answers_path, check_out, NULL};
    chaos_assert_no_secrets(db, files);
    long events = th_sql_long(db, "SELECT count(*) FROM job_events");
    fprintf(stderr,
            "chaos secrets: 7 secret values; grepped a debug log, %s, railhook check's report, "
            "and a pg_dump with %ld events: none found; Railway's echo of the token and "
            "password stored as [REDACTED]\n",
            "every answer", events);
    free(s1);
    free(s2);
    free(s3);
    free(dead);
    free(env_db);
    free(env_api);
    free(check_out);
    free(job_ok);
    free(job_echo);
    th_sim_stop(&sim);
    free(log);
    free(url);
    free(answers_path);
    th_db_drop(db);
}
