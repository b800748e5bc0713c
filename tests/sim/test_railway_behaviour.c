/* Tests of railway-sim's models of Railway's real behaviour (docs/railway-behaviour.md): each
 * behaviour switched on by a flag or through POST /_sim/config, and driven over HTTP like a
 * client would: deployments Railway starts itself and lists late, pushes, watch paths and
 * "wait for CI", holds, SLEEPING, supersession, deleted services, edge HTML pages, rate-limit
 * header formats, slow deploy mutations, build and deploy logs. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <curl/curl.h>

#include "sim_client.h"

static const char DOC_BUILD_LOGS[] =
    "query BuildLogs($deploymentId: String!, $limit: Int) {\n"
    "  buildLogs(deploymentId: $deploymentId, limit: $limit) {\n    message\n    severity\n"
    "    timestamp\n  }\n}\n";
static const char DOC_DEPLOYMENT_LOGS[] =
    "query DeploymentLogs($deploymentId: String!, $limit: Int) {\n"
    "  deploymentLogs(deploymentId: $deploymentId, limit: $limit) {\n    message\n  }\n}\n";
static const char DOC_AUTODEPLOY_UPDATE[] =
    "mutation AutoDeploy($input: ServiceInstanceAutoDeployUpdateInput!) {\n"
    "  serviceInstanceAutoDeployUpdate(input: $input) {\n    enabled\n  }\n}\n";
static const char DOC_AUTODEPLOY_STATUS[] =
    "query AutoDeployStatus($p: String!, $e: String!, $s: String!) {\n"
    "  serviceInstanceAutoDeployStatus(projectId: $p, environmentId: $e, serviceId: $s) {\n"
    "    enabled\n    canEnable\n  }\n}\n";
static const char DOC_SERVICE_DELETE[] =
    "mutation ServiceDelete($id: String!) {\n  serviceDelete(id: $id)\n}\n";
static const char DOC_SERVICES_DELETED_AT[] =
    "query Services($projectId: String!) {\n  project(id: $projectId) {\n"
    "    services(first: 100) {\n      edges {\n        node {\n          id\n"
    "          deletedAt\n        }\n      }\n    }\n  }\n}\n";

static struct sim_proc the_sim = {-1, 0};

static void fini(void)
{
    sim_stop(&the_sim, false);
    curl_global_cleanup();
}

static void init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

TestSuite(railway_behaviour, .init = init, .fini = fini, .timeout = 60);

/* The service's listed deployments (newest first) as a new array the caller deletes. */
static cJSON *deployments_of(const char *service_id)
{
    struct http_reply r;
    char vars[256];
    cJSON *nodes = cJSON_CreateArray();
    const cJSON *edge;

    snprintf(vars, sizeof(vars),
             "{\"input\":{\"serviceId\":\"%s\",\"environmentId\":\"env-sim\"},\"first\":50}",
             service_id);
    gql(&the_sim, DOC_SERVICE_DEPLOYMENTS, vars, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_not_null(jpath(r.json, "data.deployments.edges"), "%s", r.body);
    cJSON_ArrayForEach(edge, jpath(r.json, "data.deployments.edges"))
    {
        cJSON_AddItemToArray(nodes, cJSON_Duplicate(jpath(edge, "node"), true));
    }
    reply_free(&r);
    return nodes;
}

/* The status of a deployment by id, read through deployment(id). */
static void status_of(const char *id, char *buf, size_t size)
{
    struct http_reply r;
    char vars[128];

    snprintf(vars, sizeof(vars), "{\"id\":\"%s\"}", id);
    gql(&the_sim, DOC_DEPLOYMENT, vars, &r);
    cr_assert_not_null(jstr(r.json, "data.deployment.status"), "%s", r.body);
    snprintf(buf, size, "%s", jstr(r.json, "data.deployment.status"));
    reply_free(&r);
}

/* Polls a deployment until it has status want (or 5 s pass); returns whether it did. */
static bool status_wait(const char *id, const char *want)
{
    char st[32] = "";

    for (long end = now_ms() + 5000; now_ms() < end; sleep_ms(30)) {
        status_of(id, st, sizeof(st));
        if (strcmp(st, want) == 0)
            return true;
    }
    return false;
}

/* POST a control body; asserts the HTTP status and returns the answer (caller deletes). */
static cJSON *control(const char *path, const char *body, long want_status)
{
    struct http_reply r;
    cJSON *j;

    http_do(&the_sim, path, NULL, body, &r);
    cr_assert_eq(r.status, want_status, "%s %s: HTTP %ld %s", path, body, r.status, r.body);
    j = r.json;
    r.json = NULL;
    reply_free(&r);
    cr_assert_not_null(j);
    return j;
}

static void config_set(const char *patch)
{
    cJSON_Delete(control("/_sim/config", patch, 200));
}

/* A plain GraphQL call that must succeed. */
static void gql_ok(const char *doc, const char *vars)
{
    struct http_reply r;

    gql(&the_sim, doc, vars, &r);
    cr_assert(r.status == 200 && cJSON_GetObjectItem(r.json, "errors") == NULL, "%s -> %s", vars,
              r.body);
    reply_free(&r);
}

Test(railway_behaviour, connect_and_create_deployments_are_listed_only_after_the_delay)
{
    char with_repo[64], plain[64], vars[256];
    cJSON *list;

    sim_start(&the_sim, (const char *const[]){"--instance-delay-ms", "0",
                                              "--connect-deploy-delay-ms", "400", NULL});
    service_create(&the_sim, "web", "acme/osp", with_repo, sizeof(with_repo));
    service_create(&the_sim, "api", NULL, plain, sizeof(plain));
    snprintf(vars, sizeof(vars),
             "{\"id\":\"%s\",\"input\":{\"repo\":\"acme/osp\",\"branch\":"
             "\"main\"}}",
             plain);
    gql_ok(DOC_SERVICE_CONNECT, vars);

    /* Railway started both deployments, but they are not listed yet. */
    list = deployments_of(with_repo);
    cr_assert_eq(cJSON_GetArraySize(list), 0, "listed at once after create");
    cJSON_Delete(list);
    list = deployments_of(plain);
    cr_assert_eq(cJSON_GetArraySize(list), 0, "listed at once after connect");
    cJSON_Delete(list);

    sleep_ms(550);
    list = deployments_of(with_repo);
    cr_assert_eq(cJSON_GetArraySize(list), 1);
    cJSON_Delete(list);
    list = deployments_of(plain);
    cr_assert_eq(cJSON_GetArraySize(list), 1);
    cr_assert_eq(strlen(jstr(cJSON_GetArrayItem(list, 0), "meta.commitHash")), 40);
    cJSON_Delete(list);
    sim_stop(&the_sim, true);
}

Test(railway_behaviour, a_push_deploys_connected_services_itself_unless_auto_deploys_are_off)
{
    char on[64], off[64], other[64], vars[256];
    const char sha[] = "1111111111111111111111111111111111111111";
    cJSON *ans, *list;
    struct http_reply r;

    sim_start(&the_sim, (const char *const[]){"--instance-delay-ms", "0", "--build-ms", "200",
                                              "--push-deploy-delay-ms", "300", "--repos",
                                              "acme/osp:main,dev", NULL});
    service_create(&the_sim, "web", "acme/osp", on, sizeof(on));
    service_create(&the_sim, "worker", "acme/osp", off, sizeof(off));
    service_create(&the_sim, "other", NULL, other, sizeof(other));
    snprintf(vars, sizeof(vars),
             "{\"input\":{\"enabled\":false,\"projectId\":\"proj-sim\",\"environmentId\":"
             "\"env-sim\",\"serviceId\":\"%s\"}}",
             off);
    gql_ok(DOC_AUTODEPLOY_UPDATE, vars);
    snprintf(vars, sizeof(vars), "{\"p\":\"proj-sim\",\"e\":\"env-sim\",\"s\":\"%s\"}", off);
    gql(&the_sim, DOC_AUTODEPLOY_STATUS, vars, &r);
    cr_assert(cJSON_IsFalse(jpath(r.json, "data.serviceInstanceAutoDeployStatus.enabled")), "%s",
              r.body);
    cr_assert(cJSON_IsTrue(jpath(r.json, "data.serviceInstanceAutoDeployStatus.canEnable")));
    reply_free(&r);

    ans = control("/_sim/push",
                  "{\"repo\":\"acme/osp\",\"branch\":\"main\",\"sha\":"
                  "\"1111111111111111111111111111111111111111\",\"message\":\"fix\"}",
                  200);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(ans, "deployments")), 1);
    cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(ans, "not_deployed"), 0)->valuestring,
                     off);
    cJSON_Delete(ans);

    /* Not listed yet: only the create's deployment. */
    list = deployments_of(on);
    cr_assert_eq(cJSON_GetArraySize(list), 1);
    cJSON_Delete(list);
    sleep_ms(450);
    list = deployments_of(on);
    cr_assert_eq(cJSON_GetArraySize(list), 2);
    cr_assert_str_eq(jstr(cJSON_GetArrayItem(list, 0), "meta.commitHash"), sha);
    cr_assert_str_eq(jstr(cJSON_GetArrayItem(list, 0), "meta.commitMessage"), "fix");
    cJSON_Delete(list);
    list = deployments_of(off);
    cr_assert_eq(cJSON_GetArraySize(list), 1, "auto-deploys off, yet the push deployed");
    cJSON_Delete(list);
    list = deployments_of(other);
    cr_assert_eq(cJSON_GetArraySize(list), 0);
    cJSON_Delete(list);

    /* A deploy without a commit now builds the pushed head; a push to another branch deploys
     * nothing. */
    snprintf(vars, sizeof(vars), "{\"serviceId\":\"%s\",\"environmentId\":\"env-sim\"}", off);
    gql_ok(DOC_SERVICE_INSTANCE_DEPLOY, vars);
    list = deployments_of(off);
    cr_assert_str_eq(jstr(cJSON_GetArrayItem(list, 0), "meta.commitHash"), sha);
    cJSON_Delete(list);
    ans = control("/_sim/push", "{\"repo\":\"acme/osp\",\"branch\":\"dev\",\"sha\":\"abc\"}", 200);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(ans, "deployments")), 0);
    cJSON_Delete(ans);
    cJSON_Delete(control("/_sim/push", "{\"repo\":\"acme/osp\"}", 400));
    sim_stop(&the_sim, true);
}

Test(railway_behaviour, watch_paths_and_failed_checks_give_skipped_deployments)
{
    char watched[64], gated[64], vars[512], waiting[64];
    cJSON *ans, *list;
    const char *dep;
    struct http_reply r;

    sim_start(&the_sim, (const char *const[]){"--instance-delay-ms", "0", "--build-ms", "200",
                                              "--push-deploy-delay-ms", "0", NULL});
    service_create(&the_sim, "web", "acme/osp", watched, sizeof(watched));
    service_create(&the_sim, "gated", "acme/osp", gated, sizeof(gated));
    snprintf(vars, sizeof(vars),
             "{\"serviceId\":\"%s\",\"environmentId\":\"env-sim\",\"input\":{\"watchPatterns\":"
             "[\"/src/**\",\"!src/**/*.md\"]}}",
             watched);
    gql_ok(DOC_SERVICE_INSTANCE_UPDATE, vars);
    snprintf(vars, sizeof(vars), "{\"id\":\"%s\",\"check_suites\":true,\"auto_deploys\":false}",
             gated);
    ans = control("/_sim/service", vars, 200);
    cJSON_Delete(ans);

    /* Only docs changed, and a markdown file the negation takes out: SKIPPED. */
    cJSON_Delete(control("/_sim/push",
                         "{\"repo\":\"acme/osp\",\"branch\":\"main\",\"sha\":\"aaa\",\"paths\":"
                         "[\"docs/intro.md\",\"src/a/notes.md\"]}",
                         200));
    list = deployments_of(watched);
    cr_assert_str_eq(jstr(cJSON_GetArrayItem(list, 0), "status"), "SKIPPED");
    cr_assert_str_eq(jstr(cJSON_GetArrayItem(list, 0), "meta.skippedReason"),
                     "No changes to watched files");
    cr_assert_str_eq(jstr(cJSON_GetArrayItem(list, 0), "meta.commitHash"), "aaa");
    dep = jstr(cJSON_GetArrayItem(list, 0), "id");
    snprintf(vars, sizeof(vars), "{\"deploymentId\":\"%s\"}", dep);
    gql(&the_sim, DOC_BUILD_LOGS, vars, &r);
    cr_assert_str_eq(first_error(&r), "Deployment does not have an associated build", "%s", r.body);
    reply_free(&r);
    cJSON_Delete(list);
    /* auto_deploys off: the gated service was not deployed at all. */
    list = deployments_of(gated);
    cr_assert_eq(cJSON_GetArraySize(list), 1);
    cJSON_Delete(list);

    /* A source file changed: it builds. The gated service waits for CI, which fails. */
    snprintf(vars, sizeof(vars), "{\"id\":\"%s\",\"auto_deploys\":\"yes\"}", gated);
    cJSON_Delete(control("/_sim/service", vars, 400));
    snprintf(vars, sizeof(vars), "{\"id\":\"%s\",\"auto_deploys\":true}", gated);
    cJSON_Delete(control("/_sim/service", vars, 200));
    cJSON_Delete(control("/_sim/push",
                         "{\"repo\":\"acme/osp\",\"branch\":\"main\",\"sha\":\"bbb\",\"paths\":"
                         "[\"src/main.c\"],\"ci\":\"failure\",\"ci_wait_ms\":300}",
                         200));
    list = deployments_of(watched);
    cr_assert_str_neq(jstr(cJSON_GetArrayItem(list, 0), "status"), "SKIPPED");
    cr_assert_str_eq(jstr(cJSON_GetArrayItem(list, 0), "meta.commitHash"), "bbb");
    cJSON_Delete(list);
    list = deployments_of(gated);
    cr_assert_str_eq(jstr(cJSON_GetArrayItem(list, 0), "status"), "WAITING");
    snprintf(waiting, sizeof(waiting), "%s", jstr(cJSON_GetArrayItem(list, 0), "id"));
    cJSON_Delete(list);
    cr_assert(status_wait(waiting, "SKIPPED"));
    list = deployments_of(gated);
    cr_assert_str_eq(jstr(cJSON_GetArrayItem(list, 0), "meta.skippedReason"),
                     "CI check suite failed");
    cJSON_Delete(list);
    sim_stop(&the_sim, true);
}

Test(railway_behaviour, success_turns_sleeping_and_held_statuses_hold)
{
    char svc[64], dep[64], vars[256];
    cJSON *list;
    const char *holds[] = {"WAITING", "QUEUED", "NEEDS_APPROVAL"};
    struct http_reply r;

    sim_start(&the_sim, (const char *const[]){"--instance-delay-ms", "0", "--build-ms", "200",
                                              "--sleep-after-ms", "300", NULL});
    service_create(&the_sim, "web", "acme/osp", svc, sizeof(svc));
    list = deployments_of(svc);
    snprintf(dep, sizeof(dep), "%s", jstr(cJSON_GetArrayItem(list, 0), "id"));
    cJSON_Delete(list);
    cr_assert(status_wait(dep, "SUCCESS"));
    cr_assert(status_wait(dep, "SLEEPING"));
    snprintf(vars, sizeof(vars), "{\"serviceId\":\"%s\",\"environmentId\":\"env-sim\"}", svc);
    gql(&the_sim, DOC_SERVICE_INSTANCE, vars, &r);
    cr_assert_str_eq(jstr(r.json, "data.serviceInstance.latestDeployment.status"), "SLEEPING");
    reply_free(&r);

    for (size_t i = 0; i < 3; i++) {
        char patch[128];

        snprintf(patch, sizeof(patch), "{\"hold_status\":\"%s\",\"hold_ms\":0}", holds[i]);
        config_set(patch);
        snprintf(vars, sizeof(vars), "{\"serviceId\":\"%s\",\"environmentId\":\"env-sim\"}", svc);
        gql(&the_sim, DOC_SERVICE_INSTANCE_DEPLOY, vars, &r);
        snprintf(dep, sizeof(dep), "%s", jstr(r.json, "data.serviceInstanceDeployV2"));
        reply_free(&r);
        sleep_ms(300);
        status_of(dep, vars, sizeof(vars));
        cr_assert_str_eq(vars, holds[i]);
    }
    /* A timed hold: NEEDS_APPROVAL for 200 ms, then it builds. */
    config_set("{\"hold_status\":\"NEEDS_APPROVAL\",\"hold_ms\":200,\"sleep_after_ms\":0}");
    snprintf(vars, sizeof(vars), "{\"serviceId\":\"%s\",\"environmentId\":\"env-sim\"}", svc);
    gql(&the_sim, DOC_SERVICE_INSTANCE_DEPLOY, vars, &r);
    snprintf(dep, sizeof(dep), "%s", jstr(r.json, "data.serviceInstanceDeployV2"));
    reply_free(&r);
    status_of(dep, vars, sizeof(vars));
    cr_assert_str_eq(vars, "NEEDS_APPROVAL");
    cr_assert(status_wait(dep, "SUCCESS"));
    cJSON_Delete(control("/_sim/config", "{\"hold_status\":\"BUILDING\"}", 400));
    sim_stop(&the_sim, true);
}

Test(railway_behaviour, a_newer_deployment_supersedes_older_ones)
{
    char svc[64], first[64], second[64], vars[256];
    struct http_reply r;
    char st[32];

    sim_start(&the_sim, (const char *const[]){"--instance-delay-ms", "0", "--build-ms", "400",
                                              "--supersede-unfinished", NULL});
    service_create(&the_sim, "web", "acme/osp", svc, sizeof(svc));
    snprintf(vars, sizeof(vars), "{\"serviceId\":\"%s\",\"environmentId\":\"env-sim\"}", svc);
    gql(&the_sim, DOC_SERVICE_INSTANCE_DEPLOY, vars, &r);
    snprintf(first, sizeof(first), "%s", jstr(r.json, "data.serviceInstanceDeployV2"));
    reply_free(&r);
    /* The create's deployment was still building: removed at once. */
    {
        cJSON *list = deployments_of(svc);

        cr_assert_eq(cJSON_GetArraySize(list), 2);
        cr_assert_str_eq(jstr(cJSON_GetArrayItem(list, 1), "status"), "REMOVED");
        cJSON_Delete(list);
    }
    cr_assert(status_wait(first, "SUCCESS"));

    /* Switched off (the old default): a finished one is removed only when the newer one is
     * online. */
    config_set("{\"supersede_unfinished\":false}");
    gql(&the_sim, DOC_SERVICE_INSTANCE_DEPLOY, vars, &r);
    snprintf(second, sizeof(second), "%s", jstr(r.json, "data.serviceInstanceDeployV2"));
    reply_free(&r);
    status_of(first, st, sizeof(st));
    cr_assert_str_eq(st, "SUCCESS");
    cr_assert(status_wait(second, "SUCCESS"));
    status_of(first, st, sizeof(st));
    cr_assert_str_eq(st, "REMOVED");
    sim_stop(&the_sim, true);
}

Test(railway_behaviour, deleted_services_are_listed_with_deleted_at_when_switched_on)
{
    char keep[64], gone[64], vars[128];
    struct http_reply r;
    const cJSON *edge;
    int seen = 0;

    sim_start(&the_sim, (const char *const[]){"--instance-delay-ms", "0", NULL});
    service_create(&the_sim, "keep", NULL, keep, sizeof(keep));
    service_create(&the_sim, "gone", NULL, gone, sizeof(gone));
    snprintf(vars, sizeof(vars), "{\"id\":\"%s\"}", gone);
    gql_ok(DOC_SERVICE_DELETE, vars);

    gql(&the_sim, DOC_SERVICES_DELETED_AT, "{\"projectId\":\"proj-sim\"}", &r);
    cr_assert_eq(cJSON_GetArraySize(jpath(r.json, "data.project.services.edges")), 1, "%s", r.body);
    reply_free(&r);

    config_set("{\"list_deleted_services\":true}");
    gql(&the_sim, DOC_SERVICES_DELETED_AT, "{\"projectId\":\"proj-sim\"}", &r);
    cJSON_ArrayForEach(edge, jpath(r.json, "data.project.services.edges"))
    {
        const char *id = jstr(edge, "node.id");

        seen++;
        if (strcmp(id, gone) == 0)
            cr_assert_not_null(jstr(edge, "node.deletedAt"), "%s", r.body);
        else
            cr_assert(cJSON_IsNull(jpath(edge, "node.deletedAt")), "%s", r.body);
    }
    cr_assert_eq(seen, 2);
    reply_free(&r);
    /* Still gone for everything else. */
    gql(&the_sim, DOC_SERVICE_DELETE, vars, &r);
    cr_assert_str_eq(first_error(&r), "Service not found");
    reply_free(&r);
    sim_stop(&the_sim, true);
}

Test(railway_behaviour, edge_pages_are_html_not_graphql)
{
    struct http_reply r;

    sim_start(&the_sim, NULL);
    config_set("{\"fault_rate\":1,\"fault_kinds\":[\"403\"]}");
    gql(&the_sim, DOC_PROJECT_SERVICES, "{\"projectId\":\"proj-sim\"}", &r);
    cr_assert_eq(r.status, 403);
    cr_assert(strncmp(r.content_type, "text/html", 9) == 0, "%s", r.content_type);
    cr_assert_null(r.json, "a 403 edge page parsed as JSON");
    cr_assert_not_null(strstr(r.body, "Access denied"));
    reply_free(&r);
    config_set("{\"fault_kinds\":[\"502\"]}");
    gql(&the_sim, DOC_PROJECT_SERVICES, "{\"projectId\":\"proj-sim\"}", &r);
    cr_assert_eq(r.status, 502);
    cr_assert(strncmp(r.content_type, "text/html", 9) == 0, "%s", r.content_type);
    reply_free(&r);
    sim_stop(&the_sim, true);
}

/* Whether s is all digits and as long as want_len (0: any length). */
static bool digits(const char *s, size_t want_len)
{
    size_t n = strspn(s, "0123456789");

    return n > 0 && s[n] == '\0' && (want_len == 0 || n == want_len);
}

/* Whether s is an IMF-fixdate ("Thu, 03 Dec 2026 10:19:30 GMT"). */
static bool http_date(const char *s)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return end != NULL && *end == '\0';
}

Test(railway_behaviour, rate_limit_headers_come_in_each_format)
{
    struct http_reply r;
    const char *formats[] = {"epoch", "epoch-ms", "delta", "http-date", "iso"};
    long now = (long)time(NULL);

    sim_start(&the_sim, (const char *const[]){"--rps", "2", NULL});
    for (size_t i = 0; i < 5; i++) {
        char patch[64];

        snprintf(patch, sizeof(patch), "{\"rate_reset_format\":\"%s\"}", formats[i]);
        config_set(patch);
        sleep_ms(600);
        gql(&the_sim, DOC_PROJECT_SERVICES, "{\"projectId\":\"proj-sim\"}", &r);
        cr_assert_eq(r.status, 200, "%s", r.body);
        switch (i) {
        case 0:
            cr_assert(digits(r.rl_reset, 10), "%s", r.rl_reset);
            cr_assert(labs(atol(r.rl_reset) - now) <= 3700, "%s", r.rl_reset);
            break;
        case 1:
            cr_assert(digits(r.rl_reset, 13), "%s", r.rl_reset);
            break;
        case 2:
            cr_assert(digits(r.rl_reset, 0) && atol(r.rl_reset) <= 3600, "%s", r.rl_reset);
            break;
        case 3:
            cr_assert(http_date(r.rl_reset), "%s", r.rl_reset);
            break;
        default:
            cr_assert(strlen(r.rl_reset) >= 20 && r.rl_reset[10] == 'T' &&
                          r.rl_reset[strlen(r.rl_reset) - 1] == 'Z',
                      "%s", r.rl_reset);
        }
        reply_free(&r);
    }

    /* Retry-After in seconds, then as an HTTP date. */
    for (int k = 0; k < 2; k++) {
        bool limited = false;

        config_set(k == 0 ? "{\"retry_after_format\":\"seconds\"}"
                          : "{\"retry_after_format\":\"http-date\"}");
        for (int i = 0; i < 8 && !limited; i++) {
            gql(&the_sim, DOC_PROJECT_SERVICES, "{\"projectId\":\"proj-sim\"}", &r);
            if (r.status == 429) {
                limited = true;
                cr_assert(k == 0 ? digits(r.retry_after, 0) : http_date(r.retry_after), "%s",
                          r.retry_after);
            }
            reply_free(&r);
        }
        cr_assert(limited, "never rate-limited");
        sleep_ms(1100);
    }
    cJSON_Delete(control("/_sim/config", "{\"rate_reset_format\":\"rfc\"}", 400));
    sim_stop(&the_sim, true);
}

Test(railway_behaviour, a_slow_deploy_mutation_times_out_but_the_deployment_exists)
{
    char svc[64], vars[256];
    struct http_reply r;
    cJSON *list;
    long t0;

    sim_start(&the_sim,
              (const char *const[]){"--instance-delay-ms", "0", "--slow-deploy-ms", "1500", NULL});
    service_create(&the_sim, "web", NULL, svc, sizeof(svc));
    snprintf(vars, sizeof(vars),
             "{\"query\":\"mutation D($s: String!) { serviceInstanceDeployV2(serviceId: $s, "
             "environmentId: \\\"env-sim\\\", commitSha: \\\"feed\\\") }\",\"variables\":{\"s\":"
             "\"%s\"}}",
             svc);
    t0 = now_ms();
    http_do_timeout(&the_sim, "/graphql/v2", "Authorization: Bearer " ACCOUNT_TOKEN, vars, 400, &r);
    cr_assert_eq(r.curl, CURLE_OPERATION_TIMEDOUT, "curl %d status %ld", (int)r.curl, r.status);
    cr_assert_lt(now_ms() - t0, 1400);
    reply_free(&r);
    list = deployments_of(svc);
    cr_assert_eq(cJSON_GetArraySize(list), 1, "the timed-out deploy created nothing");
    cr_assert_str_eq(jstr(cJSON_GetArrayItem(list, 0), "meta.commitHash"), "feed");
    cJSON_Delete(list);

    /* Queries are not slowed. */
    t0 = now_ms();
    gql_ok(DOC_PROJECT_SERVICES, "{\"projectId\":\"proj-sim\"}");
    cr_assert_lt(now_ms() - t0, 1000);
    sim_stop(&the_sim, true);
}

Test(railway_behaviour, build_logs_explain_a_failed_build)
{
    char bad[64], good[64], dep[64], vars[128];
    struct http_reply r;
    cJSON *list;
    const cJSON *lines, *last;

    sim_start(&the_sim, (const char *const[]){"--instance-delay-ms", "0", "--build-ms", "300",
                                              "--fail-builds", "broken", NULL});
    service_create(&the_sim, "broken-api", "acme/osp", bad, sizeof(bad));
    service_create(&the_sim, "web", "acme/osp", good, sizeof(good));
    list = deployments_of(bad);
    snprintf(dep, sizeof(dep), "%s", jstr(cJSON_GetArrayItem(list, 0), "id"));
    cJSON_Delete(list);

    /* Queued: no build yet. */
    snprintf(vars, sizeof(vars), "{\"deploymentId\":\"%s\"}", dep);
    gql(&the_sim, DOC_BUILD_LOGS, vars, &r);
    cr_assert_str_eq(first_error(&r), "Deployment does not have an associated build", "%s", r.body);
    reply_free(&r);

    cr_assert(status_wait(dep, "FAILED"));
    snprintf(vars, sizeof(vars), "{\"deploymentId\":\"%s\",\"limit\":3}", dep);
    gql(&the_sim, DOC_BUILD_LOGS, vars, &r);
    lines = jpath(r.json, "data.buildLogs");
    cr_assert_eq(cJSON_GetArraySize(lines), 3, "%s", r.body);
    cr_assert_str_eq(jstr(cJSON_GetArrayItem(lines, 0), "message"),
                     "npm ERR! Missing script: \"start\"", "%s", r.body);
    last = cJSON_GetArrayItem(lines, 2);
    cr_assert_str_eq(jstr(last, "message"), "ERROR: process \"npm start\" exited with code 1");
    cr_assert_str_eq(jstr(last, "severity"), "error");
    cr_assert_not_null(jstr(last, "timestamp"));
    reply_free(&r);

    /* The full build log starts with the snapshot, oldest first. */
    snprintf(vars, sizeof(vars), "{\"deploymentId\":\"%s\"}", dep);
    gql(&the_sim, DOC_BUILD_LOGS, vars, &r);
    lines = jpath(r.json, "data.buildLogs");
    cr_assert_gt(cJSON_GetArraySize(lines), 3);
    cr_assert(strstr(jstr(cJSON_GetArrayItem(lines, 0), "message"), "acme/osp") != NULL);
    reply_free(&r);

    /* A configured explanation; a good build's deploy log. */
    config_set("{\"fail_log\":\"Error: Cannot find module 'express'\"}");
    snprintf(vars, sizeof(vars), "{\"serviceId\":\"%s\",\"environmentId\":\"env-sim\"}", bad);
    gql(&the_sim, DOC_SERVICE_INSTANCE_DEPLOY, vars, &r);
    snprintf(dep, sizeof(dep), "%s", jstr(r.json, "data.serviceInstanceDeployV2"));
    reply_free(&r);
    cr_assert(status_wait(dep, "FAILED"));
    snprintf(vars, sizeof(vars), "{\"deploymentId\":\"%s\",\"limit\":1}", dep);
    gql(&the_sim, DOC_BUILD_LOGS, vars, &r);
    cr_assert_str_eq(jstr(cJSON_GetArrayItem(jpath(r.json, "data.buildLogs"), 0), "message"),
                     "Error: Cannot find module 'express'", "%s", r.body);
    reply_free(&r);

    list = deployments_of(good);
    snprintf(dep, sizeof(dep), "%s", jstr(cJSON_GetArrayItem(list, 0), "id"));
    cJSON_Delete(list);
    cr_assert(status_wait(dep, "SUCCESS"));
    snprintf(vars, sizeof(vars), "{\"deploymentId\":\"%s\"}", dep);
    gql(&the_sim, DOC_DEPLOYMENT_LOGS, vars, &r);
    lines = jpath(r.json, "data.deploymentLogs");
    cr_assert_str_eq(jstr(cJSON_GetArrayItem(lines, cJSON_GetArraySize(lines) - 1), "message"),
                     "Server listening on port 8080", "%s", r.body);
    reply_free(&r);
    gql(&the_sim, DOC_BUILD_LOGS, "{\"deploymentId\":\"nope\"}", &r);
    cr_assert_str_eq(first_error(&r), "Deployment not found");
    reply_free(&r);
    sim_stop(&the_sim, true);
}

/* A switch changes only what it names: --autodeploy-on-connect after --fail-log and
 * --push-deploy-delay-ms leaves both as given. */
Test(railway_behaviour, autodeploy_on_connect_keeps_the_flags_before_it)
{
    cJSON *st;
    const cJSON *cfg;

    sim_start(&the_sim,
              (const char *const[]){"--fail-log", "boom: no start", "--push-deploy-delay-ms", "7",
                                    "--autodeploy-on-connect", NULL});
    st = sim_state(&the_sim);
    cfg = cJSON_GetObjectItem(st, "config");
    cr_assert_str_eq(jstr(cfg, "fail_log"), "boom: no start");
    cr_assert_eq(state_count(st, "config.push_deploy_delay_ms"), 7);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(cfg, "autodeploy_on_connect")));
    cJSON_Delete(st);
    sim_stop(&the_sim, true);
}
