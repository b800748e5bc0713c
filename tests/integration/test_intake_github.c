/* POST /webhooks/github through the real server and a real database: every delivery the tests
 * build (and the real signed files beside the checkout, when present), form and JSON bodies,
 * signatures and secret rotation, bad input, redelivery, concurrency, an unreachable
 * database, and kill -9 right after 202s. */
#include "support/deliveries.h"
#include "support/harness.h"
#include "support/webhook_helpers.h"
#include "util/util.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECRET "gh-intake-Secret-4c1f"
/* The secret the real signed files beside the checkout were signed with (GitHub's docs). */
#define SHARED_SECRET "It's a Secret to Everybody"

static struct th_server ts;
static char *db;

static void env_repo(void)
{
    setenv("GITHUB_WEBHOOK_SECRET", SECRET, 1);
    setenv("WORKER_REPO", TD_REPO, 1);
    setenv("WORKER_BRANCH", TD_BRANCH, 1);
    setenv("WORKER_ROOT_DIR", "/", 1);
}

static void start_with_service(void)
{
    db = th_db_create();
    free(th_sql(db, "INSERT INTO services (name, status) VALUES ('osp-worker-billing', 'active'),"
                    " ('osp-worker-gone', 'removed')"));
    th_server_start(&ts, db);
}

static void start(void)
{
    env_repo();
    start_with_service();
}

static void stop(void)
{
    th_server_stop(&ts);
    th_db_drop(db);
}

/* Posts body with the given event, delivery and content type, signed by sig (NULL: no
 * signature header; "auto": the right signature). */
static void post(struct th_response *r, const char *event, const char *delivery, const char *ctype,
                 const char *sig, const void *body, size_t len)
{
    char h[5][320];
    const char *hdrs[6];
    int n = 0;
    char auto_sig[TD_GITHUB_SIG_CAP];
    if (sig && strcmp(sig, "auto") == 0) {
        td_github_sign(SECRET, body, len, auto_sig);
        sig = auto_sig;
    }
    snprintf(h[n], sizeof(h[n]), "Content-Type:%s%s", ctype ? " " : "", ctype ? ctype : "");
    hdrs[n] = h[n];
    n++;
    if (event) {
        snprintf(h[n], sizeof(h[n]), "X-GitHub-Event: %s", event);
        hdrs[n] = h[n];
        n++;
    }
    if (delivery) {
        snprintf(h[n], sizeof(h[n]), "X-GitHub-Delivery: %s", delivery);
        hdrs[n] = h[n];
        n++;
        snprintf(h[n], sizeof(h[n]), "X-GitHub-Hook-ID: " TD_HOOK_ID);
        hdrs[n] = h[n];
        n++;
    }
    if (sig) {
        snprintf(h[n], sizeof(h[n]), "X-Hub-Signature-256: %s", sig);
        hdrs[n] = h[n];
        n++;
    }
    hdrs[n] = NULL;
    wh_post(r, &ts, "/webhooks/github", hdrs, body, len);
}

static void new_delivery(char out[37])
{
    uuid_v4(out);
}

static const char *ignored_of(const struct th_response *r)
{
    static char reason[160];
    cJSON *j = wh_json(r);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "ignored");
    cr_assert(cJSON_IsString(v), "no ignored reason in %s", r->body);
    snprintf(reason, sizeof(reason), "%s", v->valuestring);
    cJSON_Delete(j);
    return reason;
}

static void expect_error(const struct th_response *r, long status, const char *code)
{
    cr_assert_eq(r->status, status, "want %ld, got %ld: %s", status, r->status, r->body);
    char *got = wh_error_code(r);
    cr_assert_str_eq(got, code, "%s", r->body);
    free(got);
}

/* An accepted push: one queued redeploy of the active service, and its delivery recorded. */
static void expect_accepted(const struct th_response *r, const char *delivery, const char *sha,
                            const char *name)
{
    cr_assert_eq(r->status, 202, "%s: %ld %s", name, r->status, r->body);
    char ids[WH_MAX_IDS][37];
    cr_assert_eq(wh_job_ids(r, ids), 1, "one active service, one job: %s", r->body);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT kind || ' ' || state || ' ' || service_name || ' ' ||"
             " (payload->>'commit_sha') || ' ' || (payload->>'delivery_id')"
             " FROM jobs WHERE id = '%s'",
             ids[0]);
    char *row = th_sql(db, sql);
    char want[256];
    snprintf(want, sizeof(want), "redeploy queued osp-worker-billing %s %s:%s", sha, TD_HOOK_ID,
             delivery);
    cr_assert_str_eq(row, want, "%s", name);
    free(row);
    snprintf(sql, sizeof(sql),
             "SELECT outcome || ' ' || event || ' ' || job_ids::text FROM deliveries"
             " WHERE source = 'github' AND delivery_id = '" TD_HOOK_ID ":%s'",
             delivery);
    row = th_sql(db, sql);
    snprintf(want, sizeof(want), "accepted push {%s}", ids[0]);
    cr_assert_str_eq(row, want, "%s", name);
    free(row);
    /* Finished, so the next push of the same commit queues a redeploy of its own. */
    free(th_sql(db, "UPDATE jobs SET state = 'succeeded', finished_at = now()"));
}

/* An ignored delivery: 200 with the reason and no job. */
static void expect_ignored(const struct th_response *r, const char *reason, const char *name)
{
    cr_assert_eq(r->status, 200, "%s: %ld %s", name, r->status, r->body);
    cr_assert_str_eq(ignored_of(r), reason, "%s", name);
    char ids[WH_MAX_IDS][37];
    cr_assert_eq(wh_job_ids(r, ids), 0);
}

/* What each built delivery comes to for TD_REPO@TD_BRANCH (NULL: accepted). */
static const char *const built_reasons[TD_GITHUB_CASES] = {
    [TD_GITHUB_PUSH] = NULL,
    [TD_GITHUB_PUSH_NEW_BRANCH] = NULL,
    [TD_GITHUB_PUSH_OTHER_BRANCH] = "other branch",
    [TD_GITHUB_PUSH_OTHER_REPO] = "other repository",
    [TD_GITHUB_PUSH_DELETED] = "branch deleted",
    [TD_GITHUB_PUSH_TAG_CREATED] = "tag",
    [TD_GITHUB_PUSH_TAG_DELETED] = "tag",
    [TD_GITHUB_PING] = "ping",
    [TD_GITHUB_PULL_REQUEST] = "event pull_request is not handled",
};

/* Sends every built delivery, JSON and form-encoded, with GitHub's headers. */
static void run_built(void)
{
    int accepted = 0;
    for (int form = 0; form < 2; form++) {
        for (int c = 0; c < TD_GITHUB_CASES; c++) {
            char delivery[37];
            new_delivery(delivery);
            struct td_delivery d;
            td_github_delivery(&d, (enum td_github_case)c, form, SECRET, delivery);
            const char *name = td_github_name((enum td_github_case)c);
            struct th_response r;
            wh_post(&r, &ts, "/webhooks/github", d.headers, d.body, d.len);
            if (built_reasons[c]) {
                expect_ignored(&r, built_reasons[c], name);
            } else {
                expect_accepted(&r, delivery, TD_SHA_AFTER, name);
                accepted++;
            }
            th_response_free(&r);
            td_delivery_free(&d);
        }
    }
    cr_assert_eq(accepted, 4);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries"), 4,
                 "only the accepted deliveries are recorded");
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 4);
}

/* The real files beside the checkout and what they come to for the two repositories they
 * were sent from (NULL: accepted). */
struct shared_file {
    const char *file;
    const char *reason_public_repo; /* baxterthehacker/public-repo@changes */
    const char *reason_hello_world; /* Codertocat/Hello-World@master */
};

static const struct shared_file shared_files[] = {
    {"ping/octokit-api.github.com-ping-with-app_id.payload.json", "ping", "ping"},
    {"ping/octokit-api.github.com-ping.payload.json", "ping", "ping"},
    {"pull_request/octokit-api.github.com-pull_request-opened.payload.json",
     "event pull_request is not handled", "event pull_request is not handled"},
    {"push/developer.github.com-push-branch-update-2014.payload.json", "other branch",
     "other repository"},
    {"push/developer.github.com-push-branch-update-2015.payload.json", NULL, "other repository"},
    {"push/octokit-api.github.com-push-tag-deleted.payload.json", "other repository", "tag"},
    {"push/octokit-api.github.com-push-with-installation.payload.json", "other repository", "tag"},
    {"push/octokit-api.github.com-push-with-new-branch.payload.json", "other repository", NULL},
    {"push/octokit-ghes-35-push-tag-created.payload.json", "other repository", "tag"},
};

/* Restarts the server on a fresh database for the repository the real files name, with the
 * secret they were signed with. */
static void restart_for(const char *repo, const char *branch)
{
    stop();
    setenv("GITHUB_WEBHOOK_SECRET", SHARED_SECRET, 1);
    setenv("WORKER_REPO", repo, 1);
    setenv("WORKER_BRANCH", branch, 1);
    start_with_service();
}

/* Sends every real signed file with the headers and signature recorded for it, and for the
 * public repository the form-encoded body too. */
static void run_shared(cJSON *sigs, bool hello_world)
{
    const cJSON *f;
    int seen = 0;
    int accepted = 0;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(sigs, "files"))
    {
        const char *file = cJSON_GetObjectItemCaseSensitive(f, "file")->valuestring;
        const struct shared_file *e = NULL;
        for (size_t i = 0; i < sizeof(shared_files) / sizeof(shared_files[0]); i++)
            if (strcmp(shared_files[i].file, file) == 0)
                e = &shared_files[i];
        cr_assert_not_null(e, "no expectation for %s", file);
        char rel[256];
        snprintf(rel, sizeof(rel), "github/%s", file);
        size_t len = 0;
        char *body = th_fixture_read(rel, &len);
        cr_assert_not_null(body, "%s is listed but absent", rel);
        char delivery[37];
        new_delivery(delivery);
        struct th_response r;
        post(&r, cJSON_GetObjectItemCaseSensitive(f, "X-GitHub-Event")->valuestring, delivery,
             cJSON_GetObjectItemCaseSensitive(f, "Content-Type")->valuestring,
             cJSON_GetObjectItemCaseSensitive(f, "X-Hub-Signature-256")->valuestring, body, len);
        const char *reason = hello_world ? e->reason_hello_world : e->reason_public_repo;
        if (reason) {
            expect_ignored(&r, reason, file);
        } else {
            cJSON *j = cJSON_ParseWithLength(body, len);
            const cJSON *after = cJSON_GetObjectItemCaseSensitive(j, "after");
            cr_assert(cJSON_IsString(after), "%s", file);
            expect_accepted(&r, delivery, after->valuestring, file);
            cJSON_Delete(j);
            accepted++;
        }
        th_response_free(&r);
        free(body);
        seen++;
    }
    cr_assert_eq(seen, 9);
    cr_assert_eq(accepted, 1);
    if (!hello_world) {
        /* The form-encoded file: refused when signed over the JSON it decodes to. */
        const cJSON *form = cJSON_GetObjectItemCaseSensitive(sigs, "form_encoded_example");
        char rel[256];
        snprintf(rel, sizeof(rel), "github/%s",
                 cJSON_GetObjectItemCaseSensitive(form, "file")->valuestring);
        size_t len = 0;
        char *body = th_fixture_read(rel, &len);
        cr_assert_not_null(body, "%s is listed but absent", rel);
        char delivery[37];
        new_delivery(delivery);
        struct th_response r;
        post(&r, "push", delivery, "application/x-www-form-urlencoded",
             cJSON_GetObjectItemCaseSensitive(form,
                                              "X-Hub-Signature-256_of_decoded_json_WRONG_if_used")
                 ->valuestring,
             body, len);
        expect_error(&r, 401, "invalid_signature");
        th_response_free(&r);
        post(&r, "push", delivery, "application/x-www-form-urlencoded",
             cJSON_GetObjectItemCaseSensitive(form, "X-Hub-Signature-256")->valuestring, body, len);
        cr_assert_eq(r.status, 202, "%s: %s", rel, r.body);
        th_response_free(&r);
        free(body);
        accepted++;
    }
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries"), accepted,
                 "only the accepted deliveries are recorded");
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), accepted);
}

Test(intake_github, every_delivery, .init = start, .fini = stop)
{
    run_built();
    cJSON *sigs = th_fixture_json("github/signatures/github-signatures.json");
    if (sigs) {
        restart_for("baxterthehacker/public-repo", "changes");
        run_shared(sigs, false);
        restart_for("Codertocat/Hello-World", "master");
        run_shared(sigs, true);
        cJSON_Delete(sigs);
    }
}

Test(intake_github, redelivery_returns_the_same_job_ids, .init = start, .fini = stop)
{
    size_t len = 0;
    char *body = td_github(TD_GITHUB_PUSH, &len);
    char delivery[37];
    new_delivery(delivery);
    struct th_response r;
    char first[WH_MAX_IDS][37], again[WH_MAX_IDS][37];

    post(&r, "push", delivery, "application/json", "auto", body, len);
    cr_assert_eq(r.status, 202, "%s", r.body);
    cr_assert_eq(wh_job_ids(&r, first), 1);
    th_response_free(&r);

    for (int i = 0; i < 2; i++) {
        post(&r, "push", delivery, "application/json", "auto", body, len);
        cr_assert_eq(r.status, 200, "%s", r.body);
        cr_assert_eq(wh_job_ids(&r, again), 1);
        cr_assert_str_eq(again[0], first[0]);
        cr_assert_not_null(strstr(r.body, "\"duplicate\":true"), "%s", r.body);
        th_response_free(&r);
    }
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 1);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries"), 1);

    /* The same delivery id reaching another hook is another delivery, of a commit whose
     * redeploy is queued already: it names that job and adds none. */
    const char *hdrs[5];
    char sig[TD_GITHUB_SIG_CAP], h_del[128], h_sig[128];
    td_github_sign(SECRET, body, len, sig);
    snprintf(h_del, sizeof(h_del), "X-GitHub-Delivery: %s", delivery);
    snprintf(h_sig, sizeof(h_sig), "X-Hub-Signature-256: %s", sig);
    hdrs[0] = "Content-Type: application/json";
    hdrs[1] = "X-GitHub-Event: push";
    hdrs[2] = h_del;
    hdrs[3] = h_sig;
    hdrs[4] = NULL;
    wh_post(&r, &ts, "/webhooks/github", hdrs, body, len);
    cr_assert_eq(r.status, 202, "%s", r.body);
    cr_assert_eq(wh_job_ids(&r, again), 1);
    cr_assert_str_eq(again[0], first[0]);
    th_response_free(&r);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 1);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries"), 2);
    free(body);
}

Test(intake_github, works_without_session_state_behind_a_pooler, .fini = stop)
{
    env_repo();
    setenv("QUEUE_LISTEN", "off", 1);
    start_with_service();
    size_t len = 0;
    char *body = td_github(TD_GITHUB_PUSH, &len);
    char delivery[37];
    new_delivery(delivery);
    struct th_response r;
    char first[WH_MAX_IDS][37], again[WH_MAX_IDS][37];
    post(&r, "push", delivery, "application/json", "auto", body, len);
    cr_assert_eq(r.status, 202, "%s", r.body);
    cr_assert_eq(wh_job_ids(&r, first), 1);
    th_response_free(&r);
    post(&r, "push", delivery, "application/json", "auto", body, len);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(wh_job_ids(&r, again), 1);
    cr_assert_str_eq(again[0], first[0]);
    th_response_free(&r);
    free(body);
}

Test(intake_github, a_replayed_push_adds_nothing_until_its_redeploy_finishes, .init = start,
     .fini = stop)
{
    size_t len = 0;
    char *body = td_github(TD_GITHUB_PUSH, &len);
    char delivery[37], first[WH_MAX_IDS][37], again[WH_MAX_IDS][37];
    struct th_response r;
    new_delivery(delivery);
    post(&r, "push", delivery, "application/json", "auto", body, len);
    cr_assert_eq(r.status, 202, "%s", r.body);
    cr_assert_eq(wh_job_ids(&r, first), 1);
    th_response_free(&r);
    for (int i = 0; i < 5; i++) {
        new_delivery(delivery);
        post(&r, "push", delivery, "application/json", "auto", body, len);
        cr_assert_eq(r.status, 202, "%s", r.body);
        cr_assert_eq(wh_job_ids(&r, again), 1);
        cr_assert_str_eq(again[0], first[0]);
        th_response_free(&r);
    }
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 1);
    free(th_sql(db, "UPDATE jobs SET state = 'running'"));
    new_delivery(delivery);
    post(&r, "push", delivery, "application/json", "auto", body, len);
    cr_assert_eq(wh_job_ids(&r, again), 1);
    cr_assert_str_eq(again[0], first[0]);
    th_response_free(&r);
    /* Once it finished, the same commit may be deployed again. */
    free(th_sql(db, "UPDATE jobs SET state = 'succeeded', finished_at = now()"));
    new_delivery(delivery);
    post(&r, "push", delivery, "application/json", "auto", body, len);
    cr_assert_eq(r.status, 202, "%s", r.body);
    cr_assert_eq(wh_job_ids(&r, again), 1);
    cr_assert_str_neq(again[0], first[0]);
    th_response_free(&r);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 2);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries"), 8);
    free(body);
}

Test(intake_github, one_job_per_active_service, .init = start, .fini = stop)
{
    free(th_sql(db, "INSERT INTO services (name, status) VALUES ('osp-worker-zeta', 'active'),"
                    " ('osp-worker-new', 'provisioning')"));
    size_t len = 0;
    char *body = td_github(TD_GITHUB_PUSH, &len);
    char delivery[37];
    new_delivery(delivery);
    struct th_response r;
    post(&r, "push", delivery, "application/json", "auto", body, len);
    cr_assert_eq(r.status, 202, "%s", r.body);
    char ids[WH_MAX_IDS][37];
    cr_assert_eq(wh_job_ids(&r, ids), 2);
    th_response_free(&r);
    char *names = th_sql(db, "SELECT string_agg(service_name, ',' ORDER BY service_name) FROM jobs"
                             " WHERE kind = 'redeploy'");
    cr_assert_str_eq(names, "osp-worker-billing,osp-worker-zeta");
    free(names);
    free(body);
}

Test(intake_github, no_active_services_is_ignored, .fini = stop)
{
    env_repo();
    db = th_db_create();
    th_server_start(&ts, db);
    size_t len = 0;
    char *body = td_github(TD_GITHUB_PUSH, &len);
    char delivery[37];
    new_delivery(delivery);
    struct th_response r;
    post(&r, "push", delivery, "application/json", "auto", body, len);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(r.body, "{\"job_ids\":[],\"ignored\":\"no active services\"}");
    th_response_free(&r);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries"), 0);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 0);
    free(body);
}

Test(intake_github, ping_answer_is_exact, .init = start, .fini = stop)
{
    size_t len = 0;
    char *body = td_github(TD_GITHUB_PING, &len);
    char delivery[37];
    new_delivery(delivery);
    struct th_response r;
    post(&r, "ping", delivery, "application/json", "auto", body, len);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "{\"job_ids\":[],\"ignored\":\"ping\"}");
    th_response_free(&r);
    free(body);
}

Test(intake_github, form_encoded_delivery, .init = start, .fini = stop)
{
    char delivery[37];
    new_delivery(delivery);
    struct td_delivery d;
    td_github_delivery(&d, TD_GITHUB_PUSH, true, SECRET, delivery);
    size_t jlen = 0;
    char *json = td_github(TD_GITHUB_PUSH, &jlen);
    char over_json[TD_GITHUB_SIG_CAP];
    td_github_sign(SECRET, json, jlen, over_json);
    struct th_response r;

    /* Signed over the decoded JSON: refused. */
    post(&r, "push", delivery, "application/x-www-form-urlencoded", over_json, d.body, d.len);
    expect_error(&r, 401, "invalid_signature");
    th_response_free(&r);

    post(&r, "push", delivery, "application/x-www-form-urlencoded",
         td_delivery_header_value(&d, "X-Hub-Signature-256"), d.body, d.len);
    cr_assert_eq(r.status, 202, "%s", r.body);
    char ids[WH_MAX_IDS][37];
    cr_assert_eq(wh_job_ids(&r, ids), 1);
    th_response_free(&r);
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT payload->>'commit_sha' FROM jobs WHERE id = '%s'", ids[0]);
    char *sha = th_sql(db, sql);
    cr_assert_str_eq(sha, TD_SHA_AFTER);
    free(sha);

    /* A form without a payload field, and a malformed one. */
    new_delivery(delivery);
    post(&r, "push", delivery, "application/x-www-form-urlencoded", "auto", "other=1", 7);
    expect_error(&r, 400, "invalid_form");
    th_response_free(&r);
    post(&r, "push", delivery, "application/x-www-form-urlencoded; charset=utf-8", "auto",
         "payload=%7", 10);
    expect_error(&r, 400, "invalid_form");
    th_response_free(&r);
    free(json);
    td_delivery_free(&d);
}

Test(intake_github, signatures_are_enforced_and_nothing_is_stored, .init = start, .fini = stop)
{
    size_t len = 0;
    char *body = td_github(TD_GITHUB_PUSH, &len);
    char delivery[37];
    new_delivery(delivery);
    struct th_response r;
    char sig[TD_GITHUB_SIG_CAP];

    post(&r, "push", delivery, "application/json", NULL, body, len);
    expect_error(&r, 401, "invalid_signature");
    cr_assert_not_null(strstr(r.body, "missing_signature"));
    th_response_free(&r);

    td_github_sign("not the secret", body, len, sig);
    post(&r, "push", delivery, "application/json", sig, body, len);
    expect_error(&r, 401, "invalid_signature");
    cr_assert_not_null(strstr(r.body, "signature_mismatch"));
    cr_assert_null(strstr(r.body, SECRET), "the secret never leaks");
    th_response_free(&r);

    /* Tampered body with the original signature. */
    td_github_sign(SECRET, body, len, sig);
    body[20] ^= 0x01;
    post(&r, "push", delivery, "application/json", sig, body, len);
    expect_error(&r, 401, "invalid_signature");
    th_response_free(&r);
    body[20] ^= 0x01;

    /* Uppercase hex is not what GitHub sends. */
    for (char *p = sig + 7; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    post(&r, "push", delivery, "application/json", sig, body, len);
    expect_error(&r, 401, "invalid_signature");
    th_response_free(&r);

    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries"), 0);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 0);
    free(body);
}

Test(intake_github, rotated_secrets_both_verify, .fini = stop)
{
    env_repo();
    setenv("GITHUB_WEBHOOK_SECRET", "brand-new-secret, " SECRET, 1);
    start_with_service();
    size_t len = 0;
    char *body = td_github(TD_GITHUB_PUSH, &len);
    const char *secrets[] = {"brand-new-secret", SECRET};
    for (int i = 0; i < 2; i++) {
        char delivery[37], sig[TD_GITHUB_SIG_CAP];
        new_delivery(delivery);
        td_github_sign(secrets[i], body, len, sig);
        struct th_response r;
        post(&r, "push", delivery, "application/json", sig, body, len);
        cr_assert_eq(r.status, 202, "secret %d: %s", i, r.body);
        th_response_free(&r);
    }
    /* Two deliveries of one push: one redeploy. */
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries"), 2);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 1);
    free(body);
}

Test(intake_github, without_a_secret_the_endpoint_is_not_configured, .fini = stop)
{
    env_repo();
    setenv("GITHUB_WEBHOOK_SECRET", "", 1);
    start_with_service();
    size_t len = 0;
    char *body = td_github(TD_GITHUB_PUSH, &len);
    char delivery[37];
    new_delivery(delivery);
    struct th_response r;
    post(&r, "push", delivery, "application/json", "auto", body, len);
    expect_error(&r, 503, "not_configured");
    th_response_free(&r);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries"), 0);
    free(body);
}

Test(intake_github, content_types, .init = start, .fini = stop)
{
    size_t len = 0;
    char *body = td_github(TD_GITHUB_PUSH, &len);
    char delivery[37];
    struct th_response r;

    new_delivery(delivery);
    post(&r, "push", delivery, "text/plain", "auto", body, len);
    expect_error(&r, 415, "unsupported_media_type");
    th_response_free(&r);
    post(&r, "push", delivery, NULL, "auto", body, len);
    expect_error(&r, 415, "unsupported_media_type");
    th_response_free(&r);
    post(&r, "push", delivery, "application/json", "auto", body, len);
    cr_assert_eq(r.status, 202, "%s", r.body);
    th_response_free(&r);

    new_delivery(delivery);
    post(&r, "push", delivery, "Application/JSON ; charset=utf-8", "auto", body, len);
    cr_assert_eq(r.status, 202, "%s", r.body);
    th_response_free(&r);
    free(body);
}

Test(intake_github, bad_input_gets_clear_json_errors, .init = start, .fini = stop)
{
    char delivery[37];
    new_delivery(delivery);
    struct th_response r;
    char url[128];

    post(&r, "push", delivery, "application/json", "auto", "", 0);
    expect_error(&r, 400, "empty_body");
    th_response_free(&r);
    post(&r, "push", delivery, "application/json", "auto", "{\"ref\":", 7);
    expect_error(&r, 400, "invalid_json");
    cr_assert_not_null(strstr(r.body, "\"field\":\"body\""));
    th_response_free(&r);
    post(&r, "push", delivery, "application/json", "auto", "[1,2]", 5);
    expect_error(&r, 400, "invalid_json");
    th_response_free(&r);
    post(&r, "push", delivery, "application/json", "auto", "{\"a\":\"\xff\"}", 9);
    expect_error(&r, 400, "invalid_json");
    th_response_free(&r);
    /* Deep nesting is refused by the parser's bound, never a crash. */
    size_t depth = 5000;
    char *deep = xmalloc(2 * depth + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    post(&r, "push", delivery, "application/json", "auto", deep, 2 * depth);
    expect_error(&r, 400, "invalid_json");
    th_response_free(&r);
    free(deep);

    post(&r, NULL, delivery, "application/json", "auto", "{}", 2);
    expect_error(&r, 400, "missing_header");
    cr_assert_not_null(strstr(r.body, "\"field\":\"X-GitHub-Event\""));
    th_response_free(&r);
    post(&r, "push", NULL, "application/json", "auto", "{}", 2);
    expect_error(&r, 400, "missing_header");
    cr_assert_not_null(strstr(r.body, "\"field\":\"X-GitHub-Delivery\""));
    th_response_free(&r);

    /* A push this service should act on but that lacks what a job needs: 422. */
    size_t len = 0;
    char *body = td_github(TD_GITHUB_PUSH, &len);
    cJSON *j = cJSON_ParseWithLength(body, len);
    cJSON_ReplaceItemInObjectCaseSensitive(j, "after", cJSON_CreateString("xyz"));
    char *bad = cJSON_PrintUnformatted(j);
    post(&r, "push", delivery, "application/json", "auto", bad, strlen(bad));
    expect_error(&r, 422, "invalid_field");
    cr_assert_not_null(strstr(r.body, "\"field\":\"after\""), "%s", r.body);
    th_response_free(&r);
    cJSON_free(bad);
    cJSON_Delete(j);

    /* Over MAX_BODY_BYTES: refused from Content-Length before the body is read. */
    size_t big = (size_t)ts.cfg.max_body_bytes + 1;
    char *huge = xcalloc(1, big);
    memset(huge, ' ', big);
    post(&r, "push", delivery, "application/json", "auto", huge, big);
    expect_error(&r, 413, "payload_too_large");
    th_response_free(&r);
    free(huge);

    snprintf(url, sizeof(url), "%s/webhooks/github", ts.base);
    th_http(&r, "GET", url, NULL, NULL, 0);
    expect_error(&r, 405, "method_not_allowed");
    char *allow = th_response_header(&r, "Allow");
    cr_assert_str_eq(allow, "POST");
    free(allow);
    th_response_free(&r);
    snprintf(url, sizeof(url), "%s/webhooks/gitlab", ts.base);
    th_http(&r, "POST", url, NULL, "{}", 2);
    expect_error(&r, 404, "not_found");
    th_response_free(&r);

    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries"), 0);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 0);
    free(body);
}

static void expect_unavailable(const struct th_response *r)
{
    expect_error(r, 503, "database_unavailable");
    char *ra = th_response_header(r, "Retry-After");
    cr_assert_not_null(ra, "503 without Retry-After");
    free(ra);
}

Test(intake_github, unreachable_database_is_503_with_retry_after, .timeout = 60)
{
    env_repo();
    setenv("DB_POOL_WAIT_MS", "3000", 1);
    char *url_db =
        xasprintf("postgresql://railhook@127.0.0.1:%d/none?connect_timeout=2", th_free_port());
    th_server_start(&ts, url_db);
    size_t len = 0;
    char *body = td_github(TD_GITHUB_PUSH, &len);
    for (int i = 0; i < 3; i++) {
        char delivery[37];
        new_delivery(delivery);
        struct th_response r;
        int64_t t0 = time_mono_ms();
        post(&r, "push", delivery, "application/json", "auto", body, len);
        expect_unavailable(&r);
        cr_assert_lt(time_mono_ms() - t0, 2500, "a refused connection answers fast");
        th_response_free(&r);
    }
    th_server_stop(&ts);
    free(body);
    free(url_db);
}

Test(intake_github, database_going_away_is_503_then_recovers, .init = start, .fini = stop,
     .timeout = 60)
{
    size_t len = 0;
    char *body = td_github(TD_GITHUB_PUSH, &len);
    char *admin = wh_admin_url();
    const char *name = strrchr(db, '/') + 1;
    char sql[512];
    struct th_response r;
    char delivery[37];

    /* Warm the intake's connection, then take the database away under it. */
    new_delivery(delivery);
    post(&r, "push", delivery, "application/json", "auto", body, len);
    cr_assert_eq(r.status, 202, "%s", r.body);
    th_response_free(&r);
    snprintf(sql, sizeof(sql), "ALTER DATABASE %s ALLOW_CONNECTIONS false", name);
    free(th_sql(admin, sql));
    snprintf(sql, sizeof(sql),
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '%s'",
             name);
    free(th_sql(admin, sql));

    new_delivery(delivery);
    post(&r, "push", delivery, "application/json", "auto", body, len);
    expect_unavailable(&r);
    th_response_free(&r);
    post(&r, "push", delivery, "application/json", "auto", body, len);
    expect_unavailable(&r);
    th_response_free(&r);

    snprintf(sql, sizeof(sql), "ALTER DATABASE %s ALLOW_CONNECTIONS true", name);
    free(th_sql(admin, sql));
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries"), 1, "nothing half-written");
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 1);

    /* The same delivery, retried once the database is back, is recorded once. */
    post(&r, "push", delivery, "application/json", "auto", body, len);
    cr_assert_eq(r.status, 202, "%s", r.body);
    th_response_free(&r);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries"), 2);
    free(admin);
    free(body);
}

/* A client thread that posts signed pushes with fresh delivery ids. */
struct poster {
    const char *url;
    const char *body;
    size_t len;
    const char *sig;
    int count; /* requests to send; 0: until *stop */
    atomic_bool *stop;
    pthread_mutex_t *lock;
    char (*ids)[37]; /* job ids of 202 answers (shared, guarded by lock) */
    int *nids;
    int max_ids;
    int accepted;
    int other;
    char dup_delivery[40]; /* when set, every request uses this delivery id */
};

static size_t collect(char *ptr, size_t size, size_t n, void *ud)
{
    buf_append(ud, ptr, size * n);
    return size * n;
}

static void *poster_main(void *arg)
{
    struct poster *p = arg;
    CURL *h = curl_easy_init();
    struct buf b;
    buf_init(&b, 0);
    for (int i = 0; p->count == 0 || i < p->count; i++) {
        if (p->stop && atomic_load(p->stop))
            break;
        char delivery[40], h_del[96], h_sig[128];
        if (*p->dup_delivery)
            snprintf(delivery, sizeof(delivery), "%s", p->dup_delivery);
        else
            uuid_v4(delivery);
        snprintf(h_del, sizeof(h_del), "X-GitHub-Delivery: %s", delivery);
        snprintf(h_sig, sizeof(h_sig), "X-Hub-Signature-256: %s", p->sig);
        struct curl_slist *list = NULL;
        list = curl_slist_append(list, "Content-Type: application/json");
        list = curl_slist_append(list, "X-GitHub-Event: push");
        list = curl_slist_append(list, h_del);
        list = curl_slist_append(list, h_sig);
        list = curl_slist_append(list, "Expect:");
        buf_reset(&b);
        curl_easy_setopt(h, CURLOPT_URL, p->url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, p->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)p->len);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
        CURLcode rc = curl_easy_perform(h);
        curl_slist_free_all(list);
        long status = 0;
        if (rc == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (status != 202) {
            p->other++;
            if (rc != CURLE_OK)
                break;
            continue;
        }
        p->accepted++;
        cJSON *j = cJSON_ParseWithLength(b.data, b.len);
        const cJSON *id;
        pthread_mutex_lock(p->lock);
        cJSON_ArrayForEach(id, cJSON_GetObjectItemCaseSensitive(j, "job_ids"))
        {
            if (cJSON_IsString(id) && *p->nids < p->max_ids)
                snprintf(p->ids[(*p->nids)++], 37, "%s", id->valuestring);
        }
        pthread_mutex_unlock(p->lock);
        cJSON_Delete(j);
    }
    buf_free(&b);
    curl_easy_cleanup(h);
    return NULL;
}

/* How many of ids[0..n) are queued jobs of a recorded delivery in url's database. */
static long recorded(const char *url, char (*ids)[37], int n)
{
    struct buf sql;
    buf_init(&sql, 0);
    /* Each answer's id counts, even where several answers name one job. */
    buf_puts(&sql, "SELECT count(*) FROM unnest(ARRAY[");
    for (int i = 0; i < n; i++)
        buf_printf(&sql, "%s'%s'", i ? "," : "", ids[i]);
    buf_puts(&sql, "]::uuid[]) AS t(id) WHERE EXISTS (SELECT 1 FROM jobs j WHERE j.id = t.id)"
                   " AND EXISTS (SELECT 1 FROM deliveries d WHERE t.id = ANY (d.job_ids))");
    long count = n ? th_sql_long(url, sql.data) : 0;
    buf_free(&sql);
    return count;
}

#define THREADS    16
#define PER_THREAD 20

Test(intake_github, concurrent_deliveries_are_all_committed, .init = start, .fini = stop,
     .timeout = 120)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    size_t len = 0;
    char *body = td_github(TD_GITHUB_PUSH, &len);
    char sig[TD_GITHUB_SIG_CAP];
    td_github_sign(SECRET, body, len, sig);
    char url[128];
    snprintf(url, sizeof(url), "%s/webhooks/github", ts.base);
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    char(*ids)[37] = xcalloc(THREADS * PER_THREAD, 37);
    int nids = 0;
    struct poster p[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        p[i] = (struct poster){.url = url,
                               .body = body,
                               .len = len,
                               .sig = sig,
                               .count = PER_THREAD,
                               .lock = &lock,
                               .ids = ids,
                               .nids = &nids,
                               .max_ids = THREADS * PER_THREAD};
        pthread_create(&th[i], NULL, poster_main, &p[i]);
    }
    int accepted = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        accepted += p[i].accepted;
        cr_assert_eq(p[i].other, 0, "thread %d got %d answers other than 202", i, p[i].other);
    }
    cr_assert_eq(accepted, THREADS * PER_THREAD);
    cr_assert_eq(nids, THREADS * PER_THREAD);
    cr_assert_eq(recorded(db, ids, nids), THREADS * PER_THREAD, "every 202's job is stored");
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries"), THREADS * PER_THREAD);
    /* One push under fresh delivery ids: one redeploy, which every answer names. */
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 1);
    for (int i = 1; i < nids; i++)
        cr_assert_str_eq(ids[i], ids[0]);
    free(ids);
    free(body);
}

Test(intake_github, the_same_delivery_at_once_is_recorded_once, .init = start, .fini = stop,
     .timeout = 60)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    size_t len = 0;
    char *body = td_github(TD_GITHUB_PUSH, &len);
    char sig[TD_GITHUB_SIG_CAP];
    td_github_sign(SECRET, body, len, sig);
    char url[128];
    snprintf(url, sizeof(url), "%s/webhooks/github", ts.base);
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    char ids[8][37];
    int nids = 0;
    struct poster p[8];
    pthread_t th[8];
    char delivery[37];
    uuid_v4(delivery);
    for (int i = 0; i < 8; i++) {
        p[i] = (struct poster){.url = url,
                               .body = body,
                               .len = len,
                               .sig = sig,
                               .count = 1,
                               .lock = &lock,
                               .ids = ids,
                               .nids = &nids,
                               .max_ids = 8};
        snprintf(p[i].dup_delivery, sizeof(p[i].dup_delivery), "%s", delivery);
        pthread_create(&th[i], NULL, poster_main, &p[i]);
    }
    int accepted = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        accepted += p[i].accepted;
    }
    cr_assert_eq(accepted, 1, "exactly one 202, the rest are duplicates");
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 1);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries"), 1);
    free(body);
}

Test(intake_github, kill_9_right_after_202s_loses_nothing, .timeout = 120)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    db = th_db_create();
    free(th_sql(db, "INSERT INTO services (name, status) VALUES ('osp-worker-billing', 'active')"));
    int port = th_free_port();
    char env_db[512], env_port[32], log_path[256];
    snprintf(env_db, sizeof(env_db), "DATABASE_URL=%s", db);
    snprintf(env_port, sizeof(env_port), "PORT=%d", port);
    snprintf(log_path, sizeof(log_path), "%s/kill9-%d.log",
             getenv("RAILHOOK_TEST_TMP") ? getenv("RAILHOOK_TEST_TMP") : "/tmp", port);
    const char *env[] = {env_db,
                         env_port,
                         "BIND_ADDRESS=127.0.0.1",
                         "LOG_LEVEL=warn",
                         "WORKERS=0",
                         "API_AUTH=none",
                         "HTTP_THREADS=8",
                         "GITHUB_WEBHOOK_SECRET=" SECRET,
                         "WORKER_REPO=" TD_REPO,
                         "WORKER_BRANCH=" TD_BRANCH,
                         "WORKER_ROOT_DIR=/",
                         NULL};
    const char *argv[] = {RAILHOOK_BIN_PATH, "serve", NULL};
    pid_t pid = th_spawn(argv, env, log_path);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", port);
    cr_assert(th_wait_http(url, 15000), "railhook did not become healthy");
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/webhooks/github", port);

    size_t len = 0;
    char *body = td_github(TD_GITHUB_PUSH, &len);
    char sig[TD_GITHUB_SIG_CAP];
    td_github_sign(SECRET, body, len, sig);
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    enum { MAX = 100000 };
    char(*ids)[37] = xcalloc(MAX, 37);
    int nids = 0;
    atomic_bool halt = false;
    struct poster p[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        p[i] = (struct poster){.url = url,
                               .body = body,
                               .len = len,
                               .sig = sig,
                               .count = 0,
                               .stop = &halt,
                               .lock = &lock,
                               .ids = ids,
                               .nids = &nids,
                               .max_ids = MAX};
        pthread_create(&th[i], NULL, poster_main, &p[i]);
    }
    /* Kill the process while deliveries are streaming in, right after a 202. */
    int64_t deadline = time_mono_ms() + 30000;
    for (;;) {
        pthread_mutex_lock(&lock);
        int n = nids;
        pthread_mutex_unlock(&lock);
        if (n >= 200 || time_mono_ms() > deadline)
            break;
        usleep(1000);
    }
    kill(pid, SIGKILL);
    atomic_store(&halt, true);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    cr_assert_geq(nids, 200, "only %d deliveries were accepted before the deadline", nids);
    cr_assert_eq(recorded(db, ids, nids), nids, "a 202'd delivery was lost");
    char *log = th_read_file(log_path, NULL);
    cr_assert_null(strstr(log, SECRET), "the secret reached a log line");
    free(log);
    free(ids);
    free(body);
    th_db_drop(db);
}

Test(intake_github, serve_warns_about_missing_secrets_and_never_logs_one, .timeout = 60)
{
    db = th_db_create();
    int port = th_free_port();
    char env_db[512], env_port[32], log_path[256];
    snprintf(env_db, sizeof(env_db), "DATABASE_URL=%s", db);
    snprintf(env_port, sizeof(env_port), "PORT=%d", port);
    snprintf(log_path, sizeof(log_path), "%s/warn-%d.log",
             getenv("RAILHOOK_TEST_TMP") ? getenv("RAILHOOK_TEST_TMP") : "/tmp", port);
    const char *env[] = {env_db,
                         env_port,
                         "BIND_ADDRESS=127.0.0.1",
                         "LOG_LEVEL=info",
                         "WORKERS=0",
                         "API_AUTH=none",
                         "GITHUB_WEBHOOK_SECRET=",
                         "SUPABASE_WEBHOOK_SECRET=",
                         "SUPABASE_WEBHOOK_SIGNING_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw,"
                         "not*base64",
                         NULL};
    const char *argv[] = {RAILHOOK_BIN_PATH, "serve", NULL};
    pid_t pid = th_spawn(argv, env, log_path);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", port);
    cr_assert(th_wait_http(url, 15000), "railhook did not become healthy");

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/webhooks/github", port);
    struct th_response r;
    th_http(&r, "POST", url, NULL, "{}", 2);
    cr_assert_eq(r.status, 503);
    th_response_free(&r);
    kill(pid, SIGTERM);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    char *log = th_read_file(log_path, NULL);
    cr_assert_not_null(strstr(log, "GITHUB_WEBHOOK_SECRET is empty"), "%s", log);
    cr_assert_not_null(strstr(log, "not whsec_<base64>"), "%s", log);
    cr_assert_null(strstr(log, "SUPABASE_WEBHOOK_SECRET and"), "a signing secret is set: %s", log);
    cr_assert_null(strstr(log, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "a secret was logged: %s", log);
    free(log);
    th_db_drop(db);
}
