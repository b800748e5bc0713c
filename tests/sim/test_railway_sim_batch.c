/* Several root fields in one document (docs/railway-behaviour.md section 14): aliased reads of
 * many deployments in one request, and mutations that run in order, each failing on its own
 * with its alias as the error's path. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "sim_client.h"

static struct sim_proc the_sim = {-1, 0};

static void fini(void)
{
    sim_stop(&the_sim, false);
    curl_global_cleanup();
}

static void init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    sim_start(&the_sim, (const char *const[]){"--instance-delay-ms", "0", NULL});
}

TestSuite(railway_sim_batch, .init = init, .fini = fini, .timeout = 60);

/* A new service with one deployment; its id in dep. */
static void deployed_service(const char *name, char *dep, size_t size)
{
    char sid[64], vars[256];
    struct http_reply r;
    service_create(&the_sim, name, NULL, sid, sizeof(sid));
    snprintf(vars, sizeof(vars), "{\"serviceId\":\"%s\",\"environmentId\":\"env-sim\"}", sid);
    gql(&the_sim, DOC_SERVICE_INSTANCE_DEPLOY, vars, &r);
    const char *id = jstr(r.json, "data.serviceInstanceDeployV2");
    cr_assert_not_null(id, "%s", r.body);
    snprintf(dep, size, "%s", id);
    reply_free(&r);
}

Test(railway_sim_batch, aliased_deployment_reads_answer_each_under_its_alias)
{
    char a[64], b[64], vars[256];
    deployed_service("one", a, sizeof(a));
    deployed_service("two", b, sizeof(b));
    cJSON *before = sim_state(&the_sim);
    double fields0 = state_count(before, "counts.by_root_field.deployment");
    if (fields0 < 0)
        fields0 = 0; /* -1: never counted */
    cJSON_Delete(before);

    struct http_reply r;
    snprintf(vars, sizeof(vars), "{\"d0\":\"%s\",\"d1\":\"%s\"}", a, b);
    gql(&the_sim,
        "query DeploymentsWatch($d0: String!, $d1: String!) {\n"
        "  d0: deployment(id: $d0) { id status }\n  d1: deployment(id: $d1) { id status }\n}\n",
        vars, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(jstr(r.json, "data.d0.id"), a, "%s", r.body);
    cr_assert_str_eq(jstr(r.json, "data.d1.id"), b, "%s", r.body);
    cr_assert_not_null(jstr(r.json, "data.d1.status"), "%s", r.body);
    reply_free(&r);

    cJSON *after = sim_state(&the_sim);
    cr_assert_eq(state_count(after, "counts.by_operation.DeploymentsWatch"), 1);
    cr_assert_eq(state_count(after, "counts.by_root_field.deployment") - fields0, 2);
    cJSON_Delete(after);

    /* An unknown id fails its own field; the non-null field nulls all of data. */
    snprintf(vars, sizeof(vars), "{\"d0\":\"%s\",\"d1\":\"no-such-deployment\"}", a);
    gql(&the_sim,
        "query DeploymentsWatch($d0: String!, $d1: String!) {\n"
        "  d0: deployment(id: $d0) { id }\n  d1: deployment(id: $d1) { id }\n}\n",
        vars, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(cJSON_IsNull(jpath(r.json, "data")), "%s", r.body);
    const cJSON *path =
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "errors"), 0), "path");
    cr_assert_str_eq(cJSON_GetArrayItem(path, 0)->valuestring, "d1", "%s", r.body);
    reply_free(&r);
}

Test(railway_sim_batch, folded_mutations_run_in_order_and_fail_on_their_own)
{
    char sid[64], vars[512];
    struct http_reply r;
    service_create(&the_sim, "folded", NULL, sid, sizeof(sid));
    http_do(&the_sim, "/_sim/config", NULL,
            "{\"forced_errors\":{\"serviceInstanceUpdate\":{\"message\":\"ServiceInstance not "
            "found\",\"count\":1}}}",
            &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    reply_free(&r);

    snprintf(vars, sizeof(vars),
             "{\"serviceId\":\"%s\",\"environmentId\":\"env-sim\",\"instance\":{\"rootDirectory\":"
             "\"/workers\"},\"source\":{\"repo\":\"acme/osp\",\"branch\":\"main\"}}",
             sid);
    const char *doc = "mutation ServiceConfigure($serviceId: String!, $environmentId: String, "
                      "$instance: ServiceInstanceUpdateInput!, $source: ServiceConnectInput!) {\n"
                      "  rootDirectory: serviceInstanceUpdate(serviceId: $serviceId, "
                      "environmentId: $environmentId, input: $instance)\n"
                      "  connect: serviceConnect(id: $serviceId, input: $source) { id }\n}\n";
    gql(&the_sim, doc, vars, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "errors")), 1, "%s", r.body);
    const cJSON *path =
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r.json, "errors"), 0), "path");
    cr_assert_str_eq(cJSON_GetArrayItem(path, 0)->valuestring, "rootDirectory", "%s", r.body);
    reply_free(&r);

    /* The connect after the failed field ran all the same. */
    cJSON *st = sim_state(&the_sim);
    const cJSON *svc = cJSON_GetArrayItem(cJSON_GetObjectItem(st, "services"), 0);
    cr_assert_str_eq(jstr(svc, "source.repo"), "acme/osp");
    cr_assert_eq(state_count(st, "counts.by_operation.ServiceConfigure"), 1);
    cr_assert_eq(state_count(st, "counts.by_root_field.serviceConnect"), 1);
    cJSON_Delete(st);

    /* Sent again, both succeed, in one request. */
    gql(&the_sim, doc, vars, &r);
    cr_assert(cJSON_IsTrue(jpath(r.json, "data.rootDirectory")), "%s", r.body);
    cr_assert_not_null(jstr(r.json, "data.connect.id"), "%s", r.body);
    reply_free(&r);
}
