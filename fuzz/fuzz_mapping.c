/* libFuzzer target: payload-to-job mapping. The input is a request body; it goes through the
 * same steps as a delivery (UTF-8 check, bounded JSON parse) and then through both mappers
 * and the redeploy fan-out. Every job must come out with a kind, a payload, a dedupe key and
 * a service name; an invalid result must name its field. */
#include "handlers/mapping.h"
#include "util/config.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static struct config cfg;
static struct mapping_rules rules;

/* The kind table's triggers and inputs without the flows (the target links the mapper only);
 * the mapper reads nothing else of a kind. */
static const struct flows_kind kinds[] = {
    {"provision", NULL, true, FLOWS_TRIGGER_SUPABASE_INSERT, FLOWS_INPUT_ROW},
    {"update", NULL, true, FLOWS_TRIGGER_SUPABASE_UPDATE, FLOWS_INPUT_ROW_CHANGE},
    {"redeploy", NULL, true, FLOWS_TRIGGER_GITHUB_PUSH, FLOWS_INPUT_SERVICE},
    {"deprovision", NULL, true, FLOWS_TRIGGER_SUPABASE_DELETE, FLOWS_INPUT_ROW},
    {NULL, NULL, false, FLOWS_TRIGGER_NONE, FLOWS_INPUT_ROW},
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[256];
    setenv("WORKER_REPO", "baxterthehacker/public-repo", 1);
    setenv("WORKER_BRANCH", "changes", 1);
    setenv("WORKER_ROOT_DIR", "/workers", 1);
    if (!config_load(&cfg, CONFIG_NEED_NOTHING, err, sizeof(err)) ||
        mapping_rules_load(&rules, &cfg, kinds, err, sizeof(err)) != RH_OK) {
        fprintf(stderr, "fuzz_mapping: %s\n", err);
        abort();
    }
    return 0;
}

static void check(const struct mapping_result *res)
{
    for (size_t i = 0; i < res->njobs; i++)
        if (!res->jobs[i].kind || !cJSON_IsObject(res->jobs[i].payload) ||
            !res->jobs[i].dedupe_key || !res->jobs[i].service_name)
            abort();
    if (res->outcome == MAPPING_INVALID && !res->field[0])
        abort();
    if (res->outcome == MAPPING_IGNORED && !res->reason[0])
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!mapping_utf8_valid(data, size))
        return 0;
    cJSON *body = cJSON_ParseWithLength((const char *)data, size);
    if (!body)
        return 0;
    char id[320];
    mapping_supabase_delivery_id(body, data, size, id, sizeof(id));

    struct mapping_result res;
    mapping_result_init(&res);
    mapping_supabase(&rules, body, id, &res);
    check(&res);
    mapping_result_free(&res);

    const char *services[] = {"osp-worker-a", "osp-worker-b"};
    const char *events[] = {"push", "ping", "issues"};
    for (size_t e = 0; e < 3; e++) {
        mapping_result_init(&res);
        mapping_github(&rules, events[e], body, "1:fuzz", &res);
        if (res.outcome == MAPPING_FANOUT && !cJSON_IsObject(res.redeploy))
            abort();
        mapping_redeploy_jobs(&res, services, NULL, e == 0 ? 2 : 0, 1000);
        check(&res);
        mapping_result_free(&res);
    }

    char *name = NULL;
    char err[256];
    if (mapping_service_name(cfg.service_name_template, body, &name, err, sizeof(err)) == RH_OK &&
        !name)
        abort();
    free(name);
    cJSON_Delete(body);
    return 0;
}
