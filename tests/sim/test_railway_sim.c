/* Tests of railway-sim: each test starts the simulator binary on an ephemeral loopback port and
 * drives it over HTTP with libcurl. The binary is $RAILWAY_SIM, else RAILWAY_SIM_PATH (set at
 * compile time); with neither the tests are skipped. It answers from the schema snapshot in
 * railway/schema/, and from ../shared's full introspection as an extra case when present. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <curl/curl.h>

#include "sim_client.h"

static struct sim_proc the_sim = {-1, 0};

static void sim_fini(void)
{
    sim_stop(&the_sim, false);
    curl_global_cleanup();
}

static void sim_init_fixture(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

TestSuite(railway_sim, .init = sim_init_fixture, .fini = sim_fini, .timeout = 60);

Test(railway_sim, service_connect_valid_passes_and_historical_broken_document_gets_400)
{
    struct http_reply r;
    char sid[64], vars[256];
    cJSON *state;

    sim_start(&the_sim, (const char *const[]){"--instance-delay-ms", "0", NULL});
    service_create(&the_sim, "web", NULL, sid, sizeof(sid));

    snprintf(vars, sizeof(vars),
             "{\"id\":\"%s\",\"input\":{\"repo\":\"acme/osp\",\"branch\":\"main\"}}", sid);
    gql(&the_sim, DOC_SERVICE_CONNECT, vars, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(jstr(r.json, "data.serviceConnect.id"), sid);
    cr_assert_str_not_empty(r.rl_limit, "X-RateLimit-Limit missing");
    reply_free(&r);

    snprintf(vars, sizeof(vars), "{\"serviceId\":\"%s\",\"repo\":\"acme/osp\"}", sid);
    gql(&the_sim, DOC_SERVICE_CONNECT_BROKEN, vars, &r);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert_null(cJSON_GetObjectItem(r.json, "data"));
    cr_assert(strstr(r.body, "Field \\\"serviceId\\\" is not defined by type "
                             "\\\"ServiceConnectInput\\\"") != NULL,
              "%s", r.body);
    cr_assert(strstr(r.body, "argument \\\"id\\\" of type \\\"String!\\\" is required") != NULL,
              "%s", r.body);
    cr_assert(strstr(r.body, "must have a selection of subfields") != NULL, "%s", r.body);
    cr_assert(strstr(r.body, "GRAPHQL_VALIDATION_FAILED") != NULL, "%s", r.body);
    reply_free(&r);

    /* The right document with serviceId smuggled into the input variable. */
    snprintf(vars, sizeof(vars),
             "{\"id\":\"%s\",\"input\":{\"serviceId\":\"%s\",\"repo\":\"acme/osp\"}}", sid, sid);
    gql(&the_sim, DOC_SERVICE_CONNECT, vars, &r);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(first_error(&r), "Field \"serviceId\" is not defined by type "
                                      "\"ServiceConnectInput\"") != NULL,
              "%s", r.body);
    reply_free(&r);

    /* Business errors are HTTP 200. */
    snprintf(vars, sizeof(vars), "{\"id\":\"%s\",\"input\":{\"repo\":\"acme/secret\"}}", sid);
    gql(&the_sim, DOC_SERVICE_CONNECT, vars, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(first_error(&r),
                     "Repository not found or not accessible by Railway's GitHub app");
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(r.json, "data")));
    reply_free(&r);
    snprintf(vars, sizeof(vars),
             "{\"id\":\"%s\",\"input\":{\"repo\":\"acme/osp\",\"branch\":"
             "\"nope\"}}",
             sid);
    gql(&the_sim, DOC_SERVICE_CONNECT, vars, &r);
    cr_assert_str_eq(first_error(&r), "Branch not found");
    reply_free(&r);

    state = sim_state(&the_sim);
    cr_assert_str_eq(
        jstr(cJSON_GetArrayItem(cJSON_GetObjectItem(state, "services"), 0), "source.repo"),
        "acme/osp");
    cr_assert_eq(state_count(state, "counts.status_400"), 2);
    cr_assert_eq(state_count(state, "counts.by_operation.ServiceConnect"), 5);
    cJSON_Delete(state);
    sim_stop(&the_sim, true);
}

Test(railway_sim, bad_or_missing_token_is_not_authorized)
{
    struct http_reply r;

    sim_start(&the_sim,
              (const char *const[]){"--token", "good-one", "--project-token", "pt-1", NULL});
    gql_as(&the_sim, "Authorization: Bearer wrong", DOC_PROJECT_SERVICES,
           "{\"projectId\":\"proj-sim\"}", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(first_error(&r), "Not Authorized");
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(r.json, "data")));
    reply_free(&r);

    gql_as(&the_sim, NULL, DOC_PROJECT_SERVICES, "{\"projectId\":\"proj-sim\"}", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(first_error(&r), "Not Authorized");
    reply_free(&r);

    /* The default token is replaced by --token. */
    gql_as(&the_sim, "Authorization: Bearer " ACCOUNT_TOKEN, DOC_PROJECT_SERVICES,
           "{\"projectId\":\"proj-sim\"}", &r);
    cr_assert_str_eq(first_error(&r), "Not Authorized");
    reply_free(&r);

    gql_as(&the_sim, "Authorization: Bearer good-one", DOC_PROJECT_SERVICES,
           "{\"projectId\":\"proj-sim\"}", &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(jstr(r.json, "data.project.id"), "proj-sim", "%s", r.body);
    reply_free(&r);

    gql_as(&the_sim, "Project-Access-Token: pt-1", DOC_PROJECT_SERVICES,
           "{\"projectId\":\"proj-sim\"}", &r);
    cr_assert_str_eq(jstr(r.json, "data.project.id"), "proj-sim", "%s", r.body);
    reply_free(&r);

    gql_as(&the_sim, "Authorization: Bearer good-one", DOC_PROJECT_SERVICES,
           "{\"projectId\":\"other\"}", &r);
    cr_assert_str_eq(first_error(&r), "Project not found");
    reply_free(&r);
    sim_stop(&the_sim, true);
}

Test(railway_sim, service_instance_appears_only_after_the_delay)
{
    struct http_reply r;
    char sid[64], vars[256];
    long start, found_after = -1;

    sim_start(&the_sim, (const char *const[]){"--instance-delay-ms", "500", NULL});
    start = now_ms();
    service_create(&the_sim, "api", NULL, sid, sizeof(sid));
    snprintf(vars, sizeof(vars), "{\"serviceId\":\"%s\",\"environmentId\":\"env-sim\"}", sid);
    gql(&the_sim, DOC_SERVICE_INSTANCE, vars, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(first_error(&r), "ServiceInstance not found", "%s", r.body);
    reply_free(&r);

    snprintf(vars, sizeof(vars),
             "{\"serviceId\":\"%s\",\"environmentId\":\"env-sim\",\"input\":{\"rootDirectory\":"
             "\"apps/api\"}}",
             sid);
    gql(&the_sim, DOC_SERVICE_INSTANCE_UPDATE, vars, &r);
    cr_assert_str_eq(first_error(&r), "ServiceInstance not found", "%s", r.body);
    reply_free(&r);

    for (int i = 0; i < 60 && found_after < 0; i++) {
        snprintf(vars, sizeof(vars), "{\"serviceId\":\"%s\",\"environmentId\":\"env-sim\"}", sid);
        gql(&the_sim, DOC_SERVICE_INSTANCE, vars, &r);
        if (jstr(r.json, "data.serviceInstance.id") != NULL)
            found_after = now_ms() - start;
        reply_free(&r);
        if (found_after < 0)
            sleep_ms(50);
    }
    cr_assert_geq(found_after, 400, "instance found after %ld ms", found_after);

    snprintf(vars, sizeof(vars),
             "{\"serviceId\":\"%s\",\"environmentId\":\"env-sim\",\"input\":{\"rootDirectory\":"
             "\"apps/api\"}}",
             sid);
    gql(&the_sim, DOC_SERVICE_INSTANCE_UPDATE, vars, &r);
    cr_assert(cJSON_IsTrue(jpath(r.json, "data.serviceInstanceUpdate")), "%s", r.body);
    reply_free(&r);
    snprintf(vars, sizeof(vars), "{\"serviceId\":\"%s\",\"environmentId\":\"env-sim\"}", sid);
    gql(&the_sim, DOC_SERVICE_INSTANCE, vars, &r);
    cr_assert_str_eq(jstr(r.json, "data.serviceInstance.rootDirectory"), "apps/api", "%s", r.body);
    reply_free(&r);
    sim_stop(&the_sim, true);
}

/* Polls deployment(id) until it reaches a terminal status; returns it (static storage). */
static const char *deployment_wait(const struct sim_proc *p, const char *id, bool *saw_building)
{
    static char status[32];
    struct http_reply r;
    char vars[128];

    snprintf(vars, sizeof(vars), "{\"id\":\"%s\"}", id);
    for (int i = 0; i < 100; i++) {
        const char *st;

        gql(p, DOC_DEPLOYMENT, vars, &r);
        st = jstr(r.json, "data.deployment.status");
        cr_assert_not_null(st, "%s", r.body);
        snprintf(status, sizeof(status), "%s", st);
        reply_free(&r);
        if (strcmp(status, "BUILDING") == 0 && saw_building)
            *saw_building = true;
        if (strcmp(status, "SUCCESS") == 0 || strcmp(status, "FAILED") == 0)
            return status;
        sleep_ms(40);
    }
    return status;
}

Test(railway_sim, deployment_progresses_to_success_and_failing_build_to_failed)
{
    struct http_reply r;
    char ok_id[64], bad_id[64], vars[256], dep[64];
    bool saw_building = false;
    const cJSON *node;

    sim_start(&the_sim, (const char *const[]){"--build-ms", "600", "--instance-delay-ms", "0",
                                              "--fail-builds", "broken", NULL});
    service_create(&the_sim, "web", "acme/osp", ok_id, sizeof(ok_id));
    service_create(&the_sim, "broken-api", "acme/osp", bad_id, sizeof(bad_id));

    snprintf(vars, sizeof(vars),
             "{\"input\":{\"serviceId\":\"%s\",\"environmentId\":\"env-sim\"},\"first\":5}", ok_id);
    gql(&the_sim, DOC_SERVICE_DEPLOYMENTS, vars, &r);
    node = jpath(cJSON_GetArrayItem(jpath(r.json, "data.deployments.edges"), 0), "node");
    cr_assert_not_null(node, "%s", r.body);
    cr_assert_str_eq(jstr(node, "status"), "QUEUED", "%s", r.body);
    cr_assert_eq(strlen(jstr(node, "meta.commitHash")), 40, "%s", r.body);
    cr_assert_not_null(jstr(node, "createdAt"));
    snprintf(dep, sizeof(dep), "%s", jstr(node, "id"));
    reply_free(&r);

    cr_assert_str_eq(deployment_wait(&the_sim, dep, &saw_building), "SUCCESS");
    cr_assert(saw_building, "never saw BUILDING");

    snprintf(vars, sizeof(vars),
             "{\"input\":{\"serviceId\":\"%s\",\"environmentId\":\"env-sim\"},\"first\":1}",
             bad_id);
    gql(&the_sim, DOC_SERVICE_DEPLOYMENTS, vars, &r);
    node = jpath(cJSON_GetArrayItem(jpath(r.json, "data.deployments.edges"), 0), "node");
    snprintf(dep, sizeof(dep), "%s", jstr(node, "id"));
    reply_free(&r);
    cr_assert_str_eq(deployment_wait(&the_sim, dep, NULL), "FAILED");

    /* An explicit deploy of a commit: its id comes back and the commit lands in meta. */
    snprintf(vars, sizeof(vars),
             "{\"serviceId\":\"%s\",\"environmentId\":\"env-sim\",\"commitSha\":\"0123abcd\"}",
             ok_id);
    gql(&the_sim, DOC_SERVICE_INSTANCE_DEPLOY, vars, &r);
    cr_assert_not_null(jstr(r.json, "data.serviceInstanceDeployV2"), "%s", r.body);
    snprintf(dep, sizeof(dep), "%s", jstr(r.json, "data.serviceInstanceDeployV2"));
    reply_free(&r);
    snprintf(vars, sizeof(vars),
             "{\"input\":{\"serviceId\":\"%s\",\"environmentId\":\"env-sim\"},\"first\":1}", ok_id);
    gql(&the_sim, DOC_SERVICE_DEPLOYMENTS, vars, &r);
    node = jpath(cJSON_GetArrayItem(jpath(r.json, "data.deployments.edges"), 0), "node");
    cr_assert_str_eq(jstr(node, "id"), dep, "%s", r.body);
    cr_assert_str_eq(jstr(node, "meta.commitHash"), "0123abcd");
    reply_free(&r);
    sim_stop(&the_sim, true);
}

Test(railway_sim, over_rps_answers_429_with_retry_after)
{
    struct http_reply r;
    int limited = 0, ok = 0;

    sim_start(&the_sim, (const char *const[]){"--rps", "3", NULL});
    for (int i = 0; i < 12; i++) {
        gql(&the_sim, DOC_PROJECT_SERVICES, "{\"projectId\":\"proj-sim\"}", &r);
        cr_assert_str_not_empty(r.rl_limit);
        cr_assert_str_not_empty(r.rl_remaining);
        cr_assert_str_not_empty(r.rl_reset);
        cr_assert_gt(strtol(r.rl_reset, NULL, 10), (long)time(NULL) - 5);
        if (r.status == 429) {
            limited++;
            cr_assert_geq(strtol(r.retry_after, NULL, 10), 1, "Retry-After: \"%s\"", r.retry_after);
            cr_assert_not_null(cJSON_GetObjectItem(r.json, "errors"));
        } else {
            cr_assert_eq(r.status, 200);
            ok++;
        }
        reply_free(&r);
    }
    cr_assert_geq(limited, 1);
    cr_assert_geq(ok, 3);

    /* Another token has its own bucket... which is not authorized, but not limited either. */
    gql_as(&the_sim, "Authorization: Bearer someone-else", DOC_PROJECT_SERVICES,
           "{\"projectId\":\"proj-sim\"}", &r);
    cr_assert_eq(r.status, 200);
    reply_free(&r);
    sim_stop(&the_sim, true);

    /* The hourly budget. */
    sim_start(&the_sim, (const char *const[]){"--hourly", "2", NULL});
    for (int i = 0; i < 3; i++) {
        gql(&the_sim, DOC_PROJECT_SERVICES, "{\"projectId\":\"proj-sim\"}", &r);
        cr_assert_eq(r.status, i < 2 ? 200 : 429);
        cr_assert_eq(strtol(r.rl_remaining, NULL, 10), i < 2 ? 1 - i : 0);
        if (i == 2)
            cr_assert_gt(strtol(r.retry_after, NULL, 10), 60);
        reply_free(&r);
    }
    sim_stop(&the_sim, true);
}

/* Sends 24 serviceCreate requests; writes one letter per outcome into trace. */
static void fault_run(char *trace, size_t size, int *created)
{
    struct http_reply r;
    size_t n = 0;
    cJSON *state;

    *created = 0;
    for (int i = 0; i < 24 && n + 1 < size; i++) {
        char vars[160];
        char c;

        snprintf(vars, sizeof(vars), "{\"input\":{\"projectId\":\"proj-sim\",\"name\":\"svc-%d\"}}",
                 i);
        gql(&the_sim, DOC_SERVICE_CREATE, vars, &r);
        if (r.curl != CURLE_OK)
            c = 'X'; /* reset */
        else if (r.status == 200 && jstr(r.json, "data.serviceCreate.id") != NULL)
            c = 'o';
        else if (r.status == 200)
            c = strcmp(first_error(&r), "Problem processing request") == 0 ? 'g' : '?';
        else if (r.status == 429)
            c = strcmp(r.retry_after, "1") == 0 ? 'r' : '?';
        else
            c = (char)('0' + r.status % 10); /* 500 -> '0', 502 -> '2', 503 -> '3' */
        if (c == 'o')
            (*created)++;
        trace[n++] = c;
        reply_free(&r);
    }
    trace[n] = '\0';
    state = sim_state(&the_sim);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(state, "services")), *created,
                 "faulted requests changed state: trace %s", trace);
    cr_assert_eq(state_count(state, "counts.faults"), (double)(24 - *created), "trace %s", trace);
    cJSON_Delete(state);
}

Test(railway_sim, fault_injection_is_reproducible_and_does_not_change_state)
{
    const char *const flags[] = {
        "--seed", "42", "--fault-rate", "0.5", "--fault-kinds", "500,502,503,reset,generic,429",
        NULL};
    char first[32], second[32];
    int created1, created2;

    sim_start(&the_sim, flags);
    fault_run(first, sizeof(first), &created1);
    sim_stop(&the_sim, true);
    sim_start(&the_sim, flags);
    fault_run(second, sizeof(second), &created2);
    sim_stop(&the_sim, true);

    cr_assert_str_eq(first, second, "same seed, different faults");
    cr_assert(strchr(first, '?') == NULL, "unexpected outcome in %s", first);
    cr_assert_gt(created1, 0, "%s", first);
    cr_assert_lt(created1, 24, "%s", first);
    cr_log_info("fault trace: %s", first);
}

Test(railway_sim, delay_fault_answers_late_but_normally)
{
    struct http_reply r;
    long start;
    cJSON *state;

    sim_start(&the_sim, (const char *const[]){"--fault-rate", "1", "--fault-kinds", "delay",
                                              "--fault-delay-ms", "400", NULL});
    start = now_ms();
    gql(&the_sim, DOC_SERVICE_CREATE, "{\"input\":{\"projectId\":\"proj-sim\",\"name\":\"slow\"}}",
        &r);
    cr_assert_geq(now_ms() - start, 380);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(jstr(r.json, "data.serviceCreate.name"), "slow", "%s", r.body);
    reply_free(&r);
    state = sim_state(&the_sim);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(state, "services")), 1);
    cr_assert_eq(state_count(state, "counts.faults_by_kind.delay"), 1);
    cJSON_Delete(state);
    sim_stop(&the_sim, true);
}

Test(railway_sim, control_endpoints_state_config_forced_errors_reset)
{
    struct http_reply r;
    char sid[64], vars[256];
    cJSON *state, *svc;

    sim_start(&the_sim, (const char *const[]){"--instance-delay-ms", "0", NULL});
    service_create(&the_sim, "web", "acme/osp", sid, sizeof(sid));

    http_do(&the_sim, "/_sim/config", NULL,
            "{\"forced_errors\":{\"serviceConnect\":{\"message\":\"Problem processing request\","
            "\"count\":2}},\"build_ms\":200,\"fail_builds\":null}",
            &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(state_count(r.json, "config.build_ms"), 200);
    cr_assert_eq(state_count(r.json, "config.forced_errors.serviceConnect.count"), 2);
    reply_free(&r);

    snprintf(vars, sizeof(vars), "{\"id\":\"%s\",\"input\":{\"repo\":\"acme/osp\"}}", sid);
    for (int i = 0; i < 3; i++) {
        gql(&the_sim, DOC_SERVICE_CONNECT, vars, &r);
        cr_assert_eq(r.status, 200);
        if (i < 2)
            cr_assert_str_eq(first_error(&r), "Problem processing request", "%s", r.body);
        else
            cr_assert_str_eq(jstr(r.json, "data.serviceConnect.id"), sid, "%s", r.body);
        reply_free(&r);
    }

    http_do(&the_sim, "/_sim/config", NULL,
            "{\"forced_errors\":{\"serviceCreate\":{\"message\":\"Not Authorized\",\"count\":-1}}}",
            &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    reply_free(&r);
    for (int i = 0; i < 3; i++) {
        gql(&the_sim, DOC_SERVICE_CREATE, "{\"input\":{\"projectId\":\"proj-sim\"}}", &r);
        cr_assert_str_eq(first_error(&r), "Not Authorized");
        reply_free(&r);
    }

    http_do(&the_sim, "/_sim/config", NULL, "{\"no_such_key\":1}", &r);
    cr_assert_eq(r.status, 400);
    cr_assert(strstr(r.body, "no_such_key") != NULL, "%s", r.body);
    reply_free(&r);

    state = sim_state(&the_sim);
    svc = cJSON_GetArrayItem(cJSON_GetObjectItem(state, "services"), 0);
    cr_assert_str_eq(jstr(svc, "id"), sid);
    cr_assert_str_eq(jstr(svc, "name"), "web");
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(svc, "deleted")));
    cr_assert_str_eq(jstr(svc, "variables.PORT"), "8080");
    cr_assert_str_eq(jstr(svc, "source.branch"), "main");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(svc, "deployments")), 2,
                 "create and connect each deploy");
    cr_assert_not_null(
        jstr(cJSON_GetArrayItem(cJSON_GetObjectItem(svc, "deployments"), 0), "commitHash"));
    cr_assert_eq(state_count(state, "counts.by_operation.ServiceConnect"), 3);
    cr_assert_eq(state_count(state, "counts.by_root_field.serviceConnect"), 3);
    cr_assert_eq(state_count(state, "counts.by_root_field.serviceCreate"), 4);
    cr_assert_eq(state_count(state, "counts.forced_errors"), 5);
    cr_assert_eq(state_count(state, "counts.status_429"), 0);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(state, "services")), 1);
    cJSON_Delete(state);

    http_do(&the_sim, "/_sim/reset", NULL, "{}", &r);
    cr_assert_eq(r.status, 200);
    reply_free(&r);
    state = sim_state(&the_sim);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(state, "services")), 0);
    cr_assert_eq(state_count(state, "counts.requests"), 0);
    cr_assert_eq(state_count(state, "config.build_ms"), 1500, "reset restores the flags");
    cr_assert_eq(cJSON_GetArraySize(jpath(state, "config.forced_errors")), 0);
    cJSON_Delete(state);

    http_do(&the_sim, "/_sim/nothing", NULL, NULL, &r);
    cr_assert_eq(r.status, 404);
    reply_free(&r);
    sim_stop(&the_sim, true);
}

Test(railway_sim, body_over_one_mebibyte_is_413)
{
    struct http_reply r;
    size_t n = 1024 * 1024 + 100;
    char *big = malloc(n + 1);

    cr_assert_not_null(big);
    memset(big, ' ', n);
    memcpy(big, "{\"query\":\"", 10);
    big[n - 2] = '"';
    big[n - 1] = '}';
    big[n] = '\0';
    sim_start(&the_sim, NULL);
    http_do(&the_sim, "/graphql/v2", "Authorization: Bearer " ACCOUNT_TOKEN, big, &r);
    cr_assert_eq(r.status, 413);
    reply_free(&r);
    free(big);
    sim_stop(&the_sim, true);
}

/* ---- what `railhook check` asks ------------------------------------------------------------- */

static const char DOC_CHECK_ME[] = "query CheckMe {\n  me {\n    id\n    email\n    name\n  }\n}\n";
static const char DOC_CHECK_PROJECT_TOKEN[] =
    "query CheckProjectToken {\n  projectToken {\n    projectId\n    environmentId\n  }\n}\n";
static const char DOC_CHECK_PROJECT[] =
    "query CheckProject($id: String!) {\n  project(id: $id) {\n    id\n    name\n"
    "    environments(first: 100) {\n      edges {\n        node {\n          id\n"
    "          name\n        }\n      }\n    }\n  }\n}\n";
static const char DOC_CHECK_ENVIRONMENT[] =
    "query CheckEnvironment($id: String!, $projectId: String) {\n"
    "  environment(id: $id, projectId: $projectId) {\n    id\n    name\n    projectId\n  }\n}\n";
static const char DOC_CHECK_GITHUB_REPOS[] =
    "query CheckGithubRepos {\n  githubRepos {\n    fullName\n    defaultBranch\n  }\n}\n";
static const char DOC_CHECK_GITHUB_BRANCHES[] =
    "query CheckGithubBranches($owner: String!, $repo: String!) {\n"
    "  githubRepoBranches(owner: $owner, repo: $repo) {\n    name\n  }\n}\n";
static const char DOC_TYPE_INPUT_FIELDS[] =
    "query T($name: String!) {\n  __type(name: $name) {\n    kind\n    name\n"
    "    inputFields {\n      name\n      type {\n        kind\n        name\n"
    "        ofType {\n          name\n        }\n      }\n    }\n  }\n}\n";
static const char DOC_SCHEMA_TYPES[] =
    "query S {\n  __schema {\n    queryType {\n      name\n    }\n    types {\n      ...T\n"
    "    }\n  }\n}\nfragment T on __Type {\n  name\n  kind\n}\n";

/* Whether an array of {"name"} objects holds name. */
static bool names_have(const cJSON *list, const char *name)
{
    const cJSON *it;

    cJSON_ArrayForEach(it, list)
    {
        const char *n = jstr(it, "name");

        if (n != NULL && strcmp(n, name) == 0)
            return true;
    }
    return false;
}

Test(railway_sim, token_kinds_me_and_project_token)
{
    struct http_reply r;

    sim_start(&the_sim, (const char *const[]){"--workspace-token", "ws-1", NULL});
    gql(&the_sim, DOC_CHECK_ME, NULL, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(jstr(r.json, "data.me.email"), "sim@railway-sim.invalid", "%s", r.body);
    reply_free(&r);

    /* me is not available to workspace and project tokens. */
    gql_as(&the_sim, "Authorization: Bearer ws-1", DOC_CHECK_ME, NULL, &r);
    cr_assert_str_eq(first_error(&r), "Not Authorized", "%s", r.body);
    reply_free(&r);
    gql_as(&the_sim, "Project-Access-Token: sim-project-token", DOC_CHECK_ME, NULL, &r);
    cr_assert_str_eq(first_error(&r), "Not Authorized", "%s", r.body);
    reply_free(&r);

    /* A workspace token reaches the project like an account token. */
    gql_as(&the_sim, "Authorization: Bearer ws-1", DOC_CHECK_PROJECT, "{\"id\":\"proj-sim\"}", &r);
    cr_assert_str_eq(jstr(r.json, "data.project.id"), "proj-sim", "%s", r.body);
    reply_free(&r);
    /* The default workspace token is replaced by --workspace-token. */
    gql_as(&the_sim, "Authorization: Bearer sim-workspace-token", DOC_CHECK_PROJECT,
           "{\"id\":\"proj-sim\"}", &r);
    cr_assert_str_eq(first_error(&r), "Not Authorized", "%s", r.body);
    reply_free(&r);

    gql_as(&the_sim, "Project-Access-Token: sim-project-token", DOC_CHECK_PROJECT_TOKEN, NULL, &r);
    cr_assert_str_eq(jstr(r.json, "data.projectToken.projectId"), "proj-sim", "%s", r.body);
    cr_assert_str_eq(jstr(r.json, "data.projectToken.environmentId"), "env-sim", "%s", r.body);
    reply_free(&r);
    gql(&the_sim, DOC_CHECK_PROJECT_TOKEN, NULL, &r);
    cr_assert_str_eq(first_error(&r), "Not Authorized", "%s", r.body);
    reply_free(&r);
    sim_stop(&the_sim, true);
}

Test(railway_sim, project_environments_and_environment_lookup)
{
    struct http_reply r;
    const cJSON *edges;

    sim_start(&the_sim, (const char *const[]){"--environment-id", "env-1", NULL});
    gql(&the_sim, DOC_CHECK_PROJECT, "{\"id\":\"proj-sim\"}", &r);
    edges = jpath(r.json, "data.project.environments.edges");
    cr_assert_eq(cJSON_GetArraySize(edges), 1, "%s", r.body);
    cr_assert_str_eq(jstr(cJSON_GetArrayItem(edges, 0), "node.id"), "env-1");
    cr_assert_str_eq(jstr(cJSON_GetArrayItem(edges, 0), "node.name"), "production");
    reply_free(&r);

    gql(&the_sim, DOC_CHECK_ENVIRONMENT, "{\"id\":\"env-1\",\"projectId\":\"proj-sim\"}", &r);
    cr_assert_str_eq(jstr(r.json, "data.environment.projectId"), "proj-sim", "%s", r.body);
    reply_free(&r);
    gql(&the_sim, DOC_CHECK_ENVIRONMENT, "{\"id\":\"env-2\"}", &r);
    cr_assert_str_eq(first_error(&r), "Environment not found", "%s", r.body);
    reply_free(&r);
    gql(&the_sim, DOC_CHECK_ENVIRONMENT, "{\"id\":\"env-1\",\"projectId\":\"proj-x\"}", &r);
    cr_assert_str_eq(first_error(&r), "Project not found", "%s", r.body);
    reply_free(&r);
    sim_stop(&the_sim, true);
}

Test(railway_sim, github_repos_and_branches_come_from_repos_flag)
{
    struct http_reply r;
    const cJSON *repos, *branches;

    sim_start(&the_sim, (const char *const[]){"--repos", "acme/osp:main,dev;acme/web:trunk", NULL});
    gql(&the_sim, DOC_CHECK_GITHUB_REPOS, NULL, &r);
    repos = jpath(r.json, "data.githubRepos");
    cr_assert_eq(cJSON_GetArraySize(repos), 2, "%s", r.body);
    cr_assert_str_eq(jstr(cJSON_GetArrayItem(repos, 1), "fullName"), "acme/web");
    cr_assert_str_eq(jstr(cJSON_GetArrayItem(repos, 1), "defaultBranch"), "trunk");
    reply_free(&r);

    gql(&the_sim, DOC_CHECK_GITHUB_BRANCHES, "{\"owner\":\"acme\",\"repo\":\"osp\"}", &r);
    branches = jpath(r.json, "data.githubRepoBranches");
    cr_assert_eq(cJSON_GetArraySize(branches), 2, "%s", r.body);
    cr_assert(names_have(branches, "main") && names_have(branches, "dev"));
    reply_free(&r);

    gql(&the_sim, DOC_CHECK_GITHUB_BRANCHES, "{\"owner\":\"acme\",\"repo\":\"secret\"}", &r);
    cr_assert(strstr(first_error(&r), "not accessible by Railway's GitHub app") != NULL, "%s",
              r.body);
    reply_free(&r);

    /* GitHub access is a user's: workspace tokens cannot list repos. */
    gql_as(&the_sim, "Authorization: Bearer sim-workspace-token", DOC_CHECK_GITHUB_REPOS, NULL, &r);
    cr_assert_str_eq(first_error(&r), "Not Authorized", "%s", r.body);
    reply_free(&r);
    sim_stop(&the_sim, true);
}

Test(railway_sim, introspection_serves_railway_schema_and_drops_on_request)
{
    struct http_reply r;
    const cJSON *fields;

    sim_start(&the_sim, NULL);
    gql_as(&the_sim, NULL, DOC_SCHEMA_TYPES, NULL, &r);
    /* Introspection needs no token, as on Railway. */
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(jstr(r.json, "data.__schema.queryType.name"), "Query");
    cr_assert_gt(cJSON_GetArraySize(jpath(r.json, "data.__schema.types")), 500);
    cr_assert(names_have(jpath(r.json, "data.__schema.types"), "ServiceConnectInput"));
    reply_free(&r);

    gql(&the_sim, DOC_TYPE_INPUT_FIELDS, "{\"name\":\"ServiceConnectInput\"}", &r);
    cr_assert_str_eq(jstr(r.json, "data.__type.kind"), "INPUT_OBJECT", "%s", r.body);
    fields = jpath(r.json, "data.__type.inputFields");
    cr_assert(names_have(fields, "repo") && names_have(fields, "branch"), "%s", r.body);
    reply_free(&r);
    gql(&the_sim, DOC_TYPE_INPUT_FIELDS, "{\"name\":\"NoSuchType\"}", &r);
    cr_assert_eq(r.status, 200);
    cr_assert(cJSON_IsNull(jpath(r.json, "data.__type")), "%s", r.body);
    reply_free(&r);

    /* Deprecated fields only with includeDeprecated: true. */
    gql(&the_sim,
        "{ a: __type(name: \"User\") { fields { name } } "
        "b: __type(name: \"User\") { fields(includeDeprecated: true) { name } } }",
        NULL, &r);
    cr_assert(!names_have(jpath(r.json, "data.a.fields"), "banReason"), "%s", r.body);
    cr_assert(names_have(jpath(r.json, "data.b.fields"), "banReason"), "%s", r.body);
    reply_free(&r);

    http_do(&the_sim, "/_sim/config", NULL,
            "{\"drop_schema_field\":[\"ServiceConnectInput.repo\",\"ServiceInstanceUpdateInput\"]}",
            &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(cJSON_GetArraySize(jpath(r.json, "config.drop_schema_field")), 2);
    reply_free(&r);
    gql(&the_sim, DOC_TYPE_INPUT_FIELDS, "{\"name\":\"ServiceConnectInput\"}", &r);
    fields = jpath(r.json, "data.__type.inputFields");
    cr_assert(!names_have(fields, "repo") && names_have(fields, "branch"), "%s", r.body);
    reply_free(&r);
    gql(&the_sim, DOC_SCHEMA_TYPES, NULL, &r);
    cr_assert(!names_have(jpath(r.json, "data.__schema.types"), "ServiceInstanceUpdateInput"));
    reply_free(&r);
    /* Only the served schema drifts: documents still validate against the simulated one. */
    gql(&the_sim, DOC_SERVICE_CONNECT, "{\"id\":\"x\",\"input\":{\"repo\":\"acme/osp\"}}", &r);
    cr_assert_str_eq(first_error(&r), "Service not found", "%s", r.body);
    reply_free(&r);

    http_do(&the_sim, "/_sim/config", NULL, "{\"drop_schema_field\":\"Bad Spec\"}", &r);
    cr_assert_eq(r.status, 400, "%s", r.body);
    reply_free(&r);
    http_do(&the_sim, "/_sim/reset", NULL, "{}", &r);
    reply_free(&r);
    gql(&the_sim, DOC_TYPE_INPUT_FIELDS, "{\"name\":\"ServiceConnectInput\"}", &r);
    cr_assert(names_have(jpath(r.json, "data.__type.inputFields"), "repo"), "reset restores");
    reply_free(&r);

    /* Introspection fields are validated like any other. */
    gql(&the_sim, "{ __schema { nope } }", NULL, &r);
    cr_assert_eq(r.status, 400);
    cr_assert(strstr(first_error(&r), "Cannot query field \"nope\" on type \"__Schema\".") != NULL,
              "%s", r.body);
    reply_free(&r);
    sim_stop(&the_sim, true);

    /* Railway's full introspection, descriptions included, when it is beside the checkout. */
    char shared[512];
    snprintf(shared, sizeof(shared),
             "%s/../shared/railway/railway-public-schema.introspection.json", RAILHOOK_SOURCE_DIR);
    if (access(shared, R_OK) != 0)
        return;
    sim_start(&the_sim, (const char *const[]){"--schema", shared, NULL});
    gql(&the_sim, "{ __type(name: \"ServiceConnectInput\") { inputFields { name description } } }",
        NULL, &r);
    fields = jpath(r.json, "data.__type.inputFields");
    cr_assert(names_have(fields, "repo"), "%s", r.body);
    cr_assert_not_null(jstr(cJSON_GetArrayItem(fields, 2), "description"), "%s", r.body);
    reply_free(&r);
    gql(&the_sim, DOC_SERVICE_CONNECT, "{\"id\":\"x\",\"input\":{\"repo\":\"acme/osp\"}}", &r);
    cr_assert_str_eq(first_error(&r), "Service not found", "%s", r.body);
    reply_free(&r);
    sim_stop(&the_sim, true);
}

Test(railway_sim, fields_railway_has_but_the_simulator_does_not_answer)
{
    struct http_reply r;

    sim_start(&the_sim, NULL);
    /* A root field: refused before anything runs. */
    gql(&the_sim, "{ regions { name } }", NULL, &r);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert_str_eq(first_error(&r), "Cannot query field \"regions\" on type \"Query\": it "
                                      "exists in Railway's schema but railway-sim does not "
                                      "simulate it.");
    reply_free(&r);
    /* A non-null field the simulated object does not carry: an error, no data. */
    gql(&the_sim, "{ project(id: \"proj-sim\") { id isPublic } }", NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(first_error(&r), "railway-sim does not simulate Project.isPublic");
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(r.json, "data")), "%s", r.body);
    reply_free(&r);
    /* A nullable one is null. */
    gql(&the_sim, "{ project(id: \"proj-sim\") { id description } }", NULL, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(cJSON_IsNull(jpath(r.json, "data.project.description")), "%s", r.body);
    reply_free(&r);
    sim_stop(&the_sim, true);
}
