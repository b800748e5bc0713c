/* `railhook check` end to end: the real binary against a throwaway database and the Railway
 * simulator (serving the schema snapshot, and ../shared's full introspection as an extra case
 * when present), passing, then failing item by item with its precise message, never printing a
 * secret and never spending more than ten Railway requests. */
#include "support/harness.h"

#include "store/store.h"
#include "util/util.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_RAILWAY_REQUESTS 10

/* Secret values the environment holds in these tests: none may reach the report. */
static const char *const secrets[] = {
    "sim-account-token",  "sim-workspace-token",  "sim-project-token",
    "wrong-token-4c1b",   "chk-supabase-s3cr",    "chk-github-s3cr",
    "chk-api-token-s3cr", "chk-admin-token-s3cr", "chk-db-p4ssw0rd",
};

static struct th_sim sim;
static char *db;

static void start(void)
{
    db = th_db_create();
    th_sim_start(&sim, NULL);
}

static void stop(void)
{
    th_sim_stop(&sim);
    th_db_drop(db);
}

struct run {
    int status; /* exit status */
    char *out;  /* everything the process wrote */
    cJSON *json;
};

static void run_free(struct run *r)
{
    free(r->out);
    cJSON_Delete(r->json);
}

/* Runs `railhook check [--json]` with the suite's environment plus extra ("K=V", later wins). */
static void run_check(struct run *r, bool json, const char *const *extra)
{
    const char *env[40];
    int n = 0;
    char *db_env = xasprintf("DATABASE_URL=%s", db);
    env[n++] = db_env;
    env[n++] = "SUPABASE_WEBHOOK_SECRET=chk-supabase-s3cr";
    env[n++] = "GITHUB_WEBHOOK_SECRET=chk-github-s3cr";
    env[n++] = "API_TOKEN=chk-api-token-s3cr";
    env[n++] = "API_ADMIN_TOKEN=chk-admin-token-s3cr";
    env[n++] = "LOG_LEVEL=debug";
    for (const char *const *e = extra; e && *e && n < 39; e++)
        env[n++] = *e;
    env[n] = NULL;
    char *log = xasprintf("%s/check-%d-%ld.out",
                          getenv("RAILHOOK_TEST_TMP") ? getenv("RAILHOOK_TEST_TMP") : "/tmp",
                          (int)getpid(), (long)time_mono_ms());
    const char *argv[] = {RAILHOOK_BIN_PATH, "check", json ? "--json" : NULL, NULL};
    pid_t pid = th_spawn(argv, env, log);
    int wstatus = 0;
    cr_assert_eq(waitpid(pid, &wstatus, 0), pid);
    cr_assert(WIFEXITED(wstatus), "railhook check did not exit normally");
    memset(r, 0, sizeof(*r));
    r->status = WEXITSTATUS(wstatus);
    size_t len = 0;
    r->out = th_read_file(log, &len);
    unlink(log);
    free(log);
    free(db_env);
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        cr_assert_null(strstr(r->out, secrets[i]), "the report shows the secret %s:\n%s",
                       secrets[i], r->out);
    if (json) {
        const char *brace = strchr(r->out, '{');
        cr_assert_not_null(brace, "no JSON in: %s", r->out);
        r->json = cJSON_Parse(brace);
        cr_assert_not_null(r->json, "not JSON: %s", r->out);
        const cJSON *req = cJSON_GetObjectItem(r->json, "railway_requests");
        cr_assert(cJSON_IsNumber(req));
        cr_assert_leq(req->valueint, MAX_RAILWAY_REQUESTS, "%d Railway requests", req->valueint);
        cr_assert(cJSON_IsBool(cJSON_GetObjectItem(r->json, "ok")));
        cr_assert_eq(cJSON_IsTrue(cJSON_GetObjectItem(r->json, "ok")), r->status == 0);
    }
}

static const cJSON *item(const struct run *r, const char *name)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(r->json, "items"))
    {
        const cJSON *n = cJSON_GetObjectItem(it, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
            return it;
    }
    cr_assert_fail("no item %s in %s", name, r->out);
    return NULL;
}

static const char *field(const cJSON *it, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(it, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

/* Asserts the item's status, that its detail contains want, and that a failure has a hint. */
static void expect_item(const struct run *r, const char *name, const char *status, const char *want)
{
    const cJSON *it = item(r, name);
    cr_assert_str_eq(field(it, "status"), status, "%s is %s: %s", name, field(it, "status"),
                     field(it, "detail"));
    cr_assert_not_null(strstr(field(it, "detail"), want), "%s says \"%s\", not \"%s\"", name,
                       field(it, "detail"), want);
    if (strcmp(status, "fail") == 0)
        cr_assert_gt(strlen(field(it, "hint")), 10, "%s has no hint", name);
}

/* Every item other than the named ones is ok or warn. */
static void expect_only_failure(const struct run *r, const char *name)
{
    cr_assert_eq(r->status, 1, "exit %d: %s", r->status, r->out);
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(r->json, "items"))
    {
        if (strcmp(field(it, "name"), name) != 0)
            cr_assert_str_neq(field(it, "status"), "fail", "%s fails too: %s", field(it, "name"),
                              field(it, "detail"));
    }
}

TestSuite(check, .init = start, .fini = stop, .timeout = 60);

Test(check, passes_against_the_simulator_within_ten_requests)
{
    struct run r;
    run_check(&r, true, NULL);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.out);
    const char *names[] = {"config",           "webhook_secrets", "api_auth",
                           "worker_variables", "queue",           "database",
                           "migrations",       "db_pool",         "railway_endpoint",
                           "railway_token",    "railway_project", "railway_environment",
                           "github_repo",      "github_branch",   "schema_drift",
                           "rate_limit",       "notifications",   "write_back"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        expect_item(&r, names[i], "ok", "");
    expect_item(&r, "railway_token", "ok", "account token");
    expect_item(&r, "railway_project", "ok", "production (env-sim)");
    expect_item(&r, "github_repo", "ok", "acme/osp is visible");
    expect_item(&r, "schema_drift", "ok", "documents match Railway's live schema");
    expect_item(&r, "migrations", "ok", "schema current");
    expect_item(&r, "rate_limit", "ok", "of 10000 Railway requests left");
    /* Railway's own count agrees with railhook's. */
    cJSON *st = th_sim_state(&sim);
    const cJSON *counted = cJSON_GetObjectItem(cJSON_GetObjectItem(st, "counts"), "requests");
    cr_assert_eq(counted->valueint, cJSON_GetObjectItem(r.json, "railway_requests")->valueint);
    cr_assert_leq(counted->valueint, MAX_RAILWAY_REQUESTS);
    const cJSON *by_op = cJSON_GetObjectItem(cJSON_GetObjectItem(st, "counts"), "by_operation");
    cr_assert_eq(cJSON_GetObjectItem(by_op, "CheckSchema")->valueint, 1);
    cJSON_Delete(st);
    run_free(&r);

    /* The human-readable form says the same. */
    run_check(&r, false, NULL);
    cr_assert_eq(r.status, 0, "%s", r.out);
    cr_assert_not_null(strstr(r.out, "ok    railway_token: account token"), "%s", r.out);
    cr_assert_not_null(strstr(r.out, "railhook check: passed"), "%s", r.out);
    run_free(&r);

    /* Railway's full introspection as the live schema, when it is beside the checkout. */
    char *shared = xasprintf("%s/../shared/railway/railway-public-schema.introspection.json",
                             RAILHOOK_SOURCE_DIR);
    if (access(shared, R_OK) == 0) {
        struct th_sim full;
        th_sim_start(&full, (const char *const[]){"--schema", shared, NULL});
        run_check(&r, true, NULL);
        expect_item(&r, "schema_drift", "ok", "documents match Railway's live schema");
        run_free(&r);
        th_sim_stop(&full);
    }
    free(shared);
}

Test(check, workspace_and_project_tokens_are_recognised)
{
    struct run r;
    const char *workspace[] = {"RAILWAY_TOKEN=sim-workspace-token", NULL};
    run_check(&r, true, workspace);
    cr_assert_eq(r.status, 0, "%s", r.out);
    expect_item(&r, "railway_token", "ok", "workspace token");
    /* GitHub repos belong to a user: a workspace token cannot list them. */
    expect_item(&r, "github_repo", "warn", "cannot list GitHub repos");
    run_free(&r);

    const char *project[] = {"RAILWAY_TOKEN=", "RAILWAY_PROJECT_TOKEN=sim-project-token", NULL};
    run_check(&r, true, project);
    cr_assert_eq(r.status, 0, "%s", r.out);
    expect_item(&r, "railway_token", "ok",
                "project token (Project-Access-Token) of project proj-sim, environment env-sim");
    expect_item(&r, "railway_environment", "ok", "production (env-sim)");
    run_free(&r);
}

Test(check, bad_token_fails_with_what_to_do)
{
    struct run r;
    const char *env[] = {"RAILWAY_TOKEN=wrong-token-4c1b", NULL};
    run_check(&r, false, env);
    cr_assert_eq(r.status, 1);
    cr_assert_not_null(strstr(r.out, "FAIL  railway_token: Railway refused RAILWAY_TOKEN"), "%s",
                       r.out);
    cr_assert_not_null(strstr(r.out, "  -> create a token at railway.com"), "%s", r.out);
    run_free(&r);

    run_check(&r, true, env);
    expect_only_failure(&r, "railway_token");
    expect_item(&r, "railway_token", "fail", "Railway refused RAILWAY_TOKEN");
    expect_item(&r, "railway_project", "warn", "not checked: Railway refused the token");
    run_free(&r);

    const char *project[] = {"RAILWAY_TOKEN=", "RAILWAY_PROJECT_TOKEN=wrong-token-4c1b", NULL};
    run_check(&r, true, project);
    expect_only_failure(&r, "railway_token");
    expect_item(&r, "railway_token", "fail", "Railway refused RAILWAY_PROJECT_TOKEN");
    run_free(&r);
}

Test(check, unknown_project)
{
    struct run r;
    const char *env[] = {"RAILWAY_PROJECT_ID=proj-gone", NULL};
    run_check(&r, true, env);
    expect_only_failure(&r, "railway_project");
    expect_item(&r, "railway_project", "fail", "RAILWAY_PROJECT_ID=proj-gone: Project not found");
    run_free(&r);
}

Test(check, unknown_environment_lists_the_project_s_environments)
{
    struct run r;
    const char *env[] = {"RAILWAY_ENVIRONMENT_ID=env-gone", NULL};
    run_check(&r, true, env);
    expect_only_failure(&r, "railway_environment");
    expect_item(&r, "railway_environment", "fail",
                "RAILWAY_ENVIRONMENT_ID=env-gone: Environment not found; the project has: "
                "production (env-sim)");
    run_free(&r);
}

Test(check, repo_not_visible_to_railway)
{
    struct run r;
    const char *env[] = {"WORKER_REPO=acme/private-workers", NULL};
    run_check(&r, true, env);
    expect_only_failure(&r, "github_repo");
    expect_item(&r, "github_repo", "fail",
                "acme/private-workers is not visible to Railway's GitHub app");
    run_free(&r);
}

Test(check, branch_missing)
{
    struct run r;
    th_sim_config(&sim, "{\"repos\":\"acme/osp:main,dev\"}");
    const char *env[] = {"WORKER_BRANCH=release", NULL};
    run_check(&r, true, env);
    expect_only_failure(&r, "github_branch");
    expect_item(&r, "github_branch", "fail",
                "branch release not found in acme/osp (branches: main, dev)");
    run_free(&r);
}

Test(check, drifted_field_names_the_document)
{
    struct run r;
    th_sim_config(&sim, "{\"drop_schema_field\":\"ServiceConnectInput.repo\"}");
    run_check(&r, true, NULL);
    expect_only_failure(&r, "schema_drift");
    expect_item(&r, "schema_drift", "fail",
                "2 problems in railhook's documents against Railway's live schema: "
                "ServiceConfigure (service_configure.graphql): line 6: Field \"repo\" is not "
                "defined by type \"ServiceConnectInput\".; ServiceConnect "
                "(service_connect.graphql): line 2: Field \"repo\" is not defined by type "
                "\"ServiceConnectInput\".");
    run_free(&r);

    /* A removed argument names every document that passes it. */
    th_sim_config(&sim, "{\"drop_schema_field\":[\"Query.deployment.id\",\"Deployment.status\"]}");
    run_check(&r, true, NULL);
    expect_only_failure(&r, "schema_drift");
    expect_item(&r, "schema_drift", "fail",
                "Deployment (deployment.graphql): line 3: Unknown argument \"id\" on field "
                "\"Query.deployment\".");
    expect_item(&r, "schema_drift", "fail",
                "ServiceDeployments (service_deployments.graphql): line 8: Cannot query field "
                "\"status\" on type \"Deployment\".");
    expect_item(&r, "schema_drift", "fail",
                "ServiceInstance (service_instance.graphql): line 12: Cannot query field "
                "\"status\" on type \"Deployment\".");
    run_free(&r);
}

Test(check, database_unreachable)
{
    struct run r;
    char *url = xasprintf("DATABASE_URL=postgresql://railhook:chk-db-p4ssw0rd@127.0.0.1:%d/none",
                          th_free_port());
    const char *env[] = {url, NULL};
    run_check(&r, true, env);
    expect_only_failure(&r, "database");
    expect_item(&r, "database", "fail", "cannot connect");
    run_free(&r);
    free(url);
}

Test(check, pending_migrations)
{
    struct run r;
    /* The newest migration is pending. */
    free(th_sql(db, "DELETE FROM schema_migrations WHERE version = "
                    "(SELECT max(version) FROM schema_migrations)"));
    /* The version before it (numbers may have gaps while branches are merged). */
    long at = th_sql_long(db, "SELECT max(version) FROM schema_migrations");
    run_check(&r, true, NULL);
    expect_only_failure(&r, "migrations");
    char *want = xasprintf("1 migration pending: the database is at version %ld", at);
    expect_item(&r, "migrations", "fail", want);
    free(want);
    cr_assert_not_null(strstr(field(item(&r, "migrations"), "hint"), "railhook migrate"));
    run_free(&r);
}

Test(check, missing_required_variable)
{
    struct run r;
    const char *env[] = {"RAILWAY_ENVIRONMENT_ID=", NULL};
    run_check(&r, true, env);
    expect_only_failure(&r, "config");
    expect_item(&r, "config", "fail", "not set: RAILWAY_ENVIRONMENT_ID");
    expect_item(&r, "railway_environment", "warn", "RAILWAY_ENVIRONMENT_ID is not set");
    run_free(&r);

    const char *nosecret[] = {"SUPABASE_WEBHOOK_SECRET=", NULL};
    run_check(&r, true, nosecret);
    expect_only_failure(&r, "webhook_secrets");
    expect_item(&r, "webhook_secrets", "fail", "no Supabase secret");
    run_free(&r);

    /* A malformed value stops everything else: the configuration cannot be read. */
    const char *bad[] = {"DB_POOL_SIZE=lots", NULL};
    run_check(&r, true, bad);
    cr_assert_eq(r.status, 1);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "items")), 1);
    expect_item(&r, "config", "fail", "DB_POOL_SIZE must be an integer");
    run_free(&r);
}

Test(check, railway_unreachable)
{
    struct run r;
    char *url = xasprintf("RAILWAY_API_URL=http://127.0.0.1:%d/graphql/v2", th_free_port());
    const char *env[] = {url, NULL};
    run_check(&r, true, env);
    expect_only_failure(&r, "railway_endpoint");
    expect_item(&r, "railway_endpoint", "fail", "Couldn't connect");
    expect_item(&r, "schema_drift", "warn", "Railway's API could not be reached");
    run_free(&r);
    free(url);
}

Test(check, cleartext_railway_url_is_refused_unless_allowed)
{
    struct run r;
    /* 0.0.0.0 reaches this machine but is not a loopback address. */
    char *url = xasprintf("RAILWAY_API_URL=http://0.0.0.0:%d/graphql/v2", th_free_port());
    const char *env[] = {url, NULL};
    run_check(&r, true, env);
    cr_assert_eq(r.status, 1);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "items")), 1);
    expect_item(&r, "config", "fail", "RAILWAY_API_ALLOW_INSECURE");
    run_free(&r);

    const char *allowed[] = {url, "RAILWAY_API_ALLOW_INSECURE=on", NULL};
    run_check(&r, true, allowed);
    expect_item(&r, "railway_api_url", "warn", "travels in clear");
    expect_item(&r, "config", "ok", "");
    run_free(&r);
    free(url);
}

/* Before: a 429 made an item "warn: not checked" and the check passed, so a wrong
 * WORKER_BRANCH went through whenever Railway rate-limited the preflight. */
Test(check, rate_limited_check_waits_and_still_finds_a_missing_branch, .timeout = 60)
{
    struct run r;
    th_sim_config(&sim, "{\"repos\":\"acme/osp:main,dev\",\"fault_rate\":0.4,"
                        "\"fault_kinds\":\"429\",\"seed\":7}");
    const char *env[] = {"WORKER_BRANCH=release", NULL};
    run_check(&r, false, env);
    cr_assert_eq(r.status, 1, "%s", r.out);
    cr_assert_not_null(strstr(r.out, "FAIL  github_branch: branch release not found in acme/osp"),
                       "%s", r.out);
    cr_assert_null(strstr(r.out, "not checked: Railway answered 429"), "%s", r.out);
    cJSON *st = th_sim_state(&sim);
    const cJSON *counts = cJSON_GetObjectItem(st, "counts");
    cr_assert_gt(cJSON_GetObjectItem(counts, "faults")->valueint, 0, "no 429 was drawn");
    cJSON_Delete(st);
    run_free(&r);
}

Test(check, an_item_railway_never_lets_through_fails_with_a_hint, .timeout = 60)
{
    struct run r;
    th_sim_config(&sim, "{\"fault_rate\":1,\"fault_kinds\":\"429\"}");
    int64_t start = time_mono_ms();
    run_check(&r, false, NULL);
    cr_assert_eq(r.status, 1, "%s", r.out);
    cr_assert_lt(time_mono_ms() - start, 40000, "the wait is bounded");
    cr_assert_not_null(strstr(r.out, "FAIL  railway_token: not checked: Railway answered 429"),
                       "%s", r.out);
    cr_assert_not_null(strstr(r.out, "run `railhook check` again once the window resets"), "%s",
                       r.out);
    cr_assert_null(strstr(r.out, "warn  github_branch"), "%s", r.out);
    cr_assert_null(strstr(r.out, "ok    github_branch"), "%s", r.out);
    cJSON *st = th_sim_state(&sim);
    const cJSON *counts = cJSON_GetObjectItem(st, "counts");
    cr_assert_leq(cJSON_GetObjectItem(counts, "requests")->valueint, 1 + 8 + 1,
                  "after giving up the check asks nothing more");
    cJSON_Delete(st);
    run_free(&r);
}

/* Railway's CLI names an account or workspace token RAILWAY_API_TOKEN and a project token
 * RAILWAY_TOKEN: both are taken, and a token in the "wrong" variable is sent the right way. */
Test(check, token_variables_and_kinds)
{
    struct run r;
    const char *api[] = {"RAILWAY_API_TOKEN=sim-account-token", "RAILWAY_TOKEN=wrong-token-4c1b",
                         NULL};
    run_check(&r, true, api);
    cr_assert_eq(r.status, 0, "%s", r.out);
    expect_item(&r, "railway_token", "ok", "account token of");
    expect_item(&r, "railway_token", "ok",
                "(RAILWAY_TOKEN is ignored while RAILWAY_API_TOKEN is set)");
    run_free(&r);

    const char *cli_project[] = {"RAILWAY_TOKEN=sim-project-token", NULL};
    run_check(&r, true, cli_project);
    cr_assert_eq(r.status, 0, "%s", r.out);
    expect_item(&r, "railway_token", "ok",
                "project token (Project-Access-Token) of project proj-sim, environment env-sim; "
                "RAILWAY_TOKEN holds a token of the other kind: railhook sends it as "
                "Project-Access-Token");
    run_free(&r);

    const char *account_as_project[] = {
        "RAILWAY_TOKEN=", "RAILWAY_PROJECT_TOKEN=sim-workspace-token", NULL};
    run_check(&r, true, account_as_project);
    cr_assert_eq(r.status, 0, "%s", r.out);
    expect_item(&r, "railway_token", "ok", "workspace token");
    expect_item(&r, "railway_token", "ok",
                "RAILWAY_PROJECT_TOKEN holds a token of the other kind: railhook sends it as "
                "Authorization: Bearer");
    run_free(&r);
}

/* On Railway (RAILWAY_SERVICE_ID set by Railway) the report names railhook's own service, the
 * one the flows never touch; elsewhere it says railhook does not run there. */
Test(check, says_whether_it_runs_on_railway)
{
    struct run r;
    run_check(&r, true, NULL);
    expect_item(&r, "railway_runtime", "ok", "not running on Railway");
    run_free(&r);
    const char *on_railway[] = {"RAILWAY_SERVICE_ID=svc-railhook-self", NULL};
    run_check(&r, true, on_railway);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.out);
    expect_item(&r, "railway_runtime", "ok", "running on Railway as service svc-railhook-self");
    run_free(&r);
}

/* A manifests database for the write-back items: the table with the status columns, and a
 * role that may update only some of them. */
#define CHECK_COLUMNS                                                                              \
    "MANIFEST_STATUS_COLUMNS=railway_service_id=service_id,railway_status=state,"                  \
    "railway_updated_at=updated_at"

static char *write_back_db(const char *role)
{
    char *url = th_db_create_from("template1");
    free(th_sql(url, "CREATE TABLE manifests (id uuid PRIMARY KEY, railway_service_id text,"
                     " railway_status text, railway_updated_at timestamptz)"));
    char *sql = xasprintf("DO $$ BEGIN CREATE ROLE %s LOGIN; EXCEPTION WHEN duplicate_object "
                          "THEN NULL; END $$",
                          role);
    free(th_sql(url, sql));
    free(sql);
    sql = xasprintf("GRANT SELECT (id, railway_updated_at), UPDATE (railway_status, "
                    "railway_updated_at) ON manifests TO %s",
                    role);
    free(th_sql(url, sql));
    free(sql);
    return url;
}

Test(check, write_back_columns_exist_and_are_writable)
{
    char *mdb = write_back_db("chk_wb_writer");
    char *menv = xasprintf("MANIFESTS_DATABASE_URL=%s", mdb);
    struct run r;
    const char *env[] = {menv, CHECK_COLUMNS, NULL};
    run_check(&r, true, env);
    expect_item(&r, "write_back", "ok", "3 status columns of public.manifests exist");
    expect_item(&r, "notifications", "ok", "off");
    run_free(&r);

    /* A missing column is named. */
    const char *missing[] = {menv,
                             "MANIFEST_STATUS_COLUMNS=railway_status=state,railway_colour=kind,"
                             "railway_updated_at=updated_at",
                             NULL};
    run_check(&r, true, missing);
    expect_only_failure(&r, "write_back");
    expect_item(&r, "write_back", "fail", "has no column railway_colour");
    run_free(&r);

    /* A role that may not update railway_service_id. */
    char *limited = xasprintf("MANIFESTS_DATABASE_URL=%s?user=chk_wb_writer", mdb);
    const char *denied[] = {limited, CHECK_COLUMNS, NULL};
    run_check(&r, true, denied);
    expect_only_failure(&r, "write_back");
    expect_item(&r, "write_back", "fail", "may not use railway_service_id (UPDATE)");
    run_free(&r);
    free(limited);
    free(menv);
    th_db_drop(mdb);
}

Test(check, notification_urls_and_secret)
{
    struct run r;
    const char *ok[] = {"NOTIFY_URLS=https://hooks.example/a,http://127.0.0.1:9/b",
                        "NOTIFY_SIGNING_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", NULL};
    run_check(&r, true, ok);
    expect_item(&r, "notifications", "ok", "2 URLs");
    run_free(&r);
    const char *bad_url[] = {"NOTIFY_URLS=http://hooks.example/a",
                             "NOTIFY_SIGNING_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", NULL};
    run_check(&r, true, bad_url);
    expect_item(&r, "config", "fail", "NOTIFY_URLS: entry 1 is not an https:// URL");
    run_free(&r);
    const char *bad_secret[] = {"NOTIFY_URLS=https://hooks.example/a",
                                "NOTIFY_SIGNING_SECRET=not-a-whsec", NULL};
    run_check(&r, true, bad_secret);
    expect_item(&r, "config", "fail", "NOTIFY_SIGNING_SECRET must be whsec_");
    run_free(&r);
}
