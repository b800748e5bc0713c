/* snapshot: what reconciliation reads and changes it must notice. The environment's
 * serviceInstances and deploymentTriggers connections (EnvironmentSnapshot), and the control
 * calls that stand for changes made by hand in Railway's dashboard (/_sim/drift) or for a big
 * project made cheaply (/_sim/services).
 *
 * Threading: called with sim.lock held, like every resolver and control call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "state.h"
#include "util/util.h"

/* A service's deployment trigger: Railway keeps one per connected repo and branch. */
static cJSON *trigger_json(const struct sim *s, const struct sim_service *svc)
{
    cJSON *o = cJSON_CreateObject();
    char id[64];

    snprintf(id, sizeof(id), "trigger-%s", svc->id);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "serviceId", svc->id);
    cJSON_AddStringToObject(o, "projectId", s->config.project_id);
    cJSON_AddStringToObject(o, "environmentId", s->config.environment_id);
    cJSON_AddStringToObject(o, "provider", "github");
    cJSON_AddStringToObject(o, "repository", svc->repo);
    cJSON_AddStringToObject(o, "branch", svc->branch);
    cJSON_AddBoolToObject(o, "checkSuites", svc->check_suites);
    cJSON_AddNumberToObject(o, "validCheckSuites", 0);
    return o;
}

void sim_environment_snapshot_add(struct sim *s, cJSON *env)
{
    cJSON *instances = cJSON_AddArrayToObject(env, "serviceInstances");
    cJSON *triggers = cJSON_AddArrayToObject(env, "deploymentTriggers");

    for (size_t i = 0; i < s->service_count; i++) {
        const struct sim_service *svc = s->services[i];

        /* A deleted one is listed (with deletedAt) only under --list-deleted-services. */
        if (svc->deleted ? !s->config.list_deleted_services : !sim_instance_ready(svc))
            continue;
        cJSON_AddItemToArray(instances, sim_instance_json(s, svc));
        if (!svc->deleted && svc->repo != NULL && svc->branch != NULL)
            cJSON_AddItemToArray(triggers, trigger_json(s, svc));
    }
}

static int drift_fail(char *err, size_t n, const char *msg)
{
    snprintf(err, n, "%s", msg);
    return -1;
}

int sim_drift(struct sim *s, const cJSON *body, cJSON **out, char *err, size_t n)
{
    struct sim_service *svc = sim_service_find(s, sim_arg_str(body, "id"));
    const cJSON *disconnect = cJSON_GetObjectItemCaseSensitive(body, "disconnect");
    const cJSON *del = cJSON_GetObjectItemCaseSensitive(body, "delete");
    const cJSON *root = cJSON_GetObjectItemCaseSensitive(body, "root_directory");

    if (svc == NULL)
        return drift_fail(err, n, "no live service with that id");
    if ((disconnect && !cJSON_IsBool(disconnect)) || (del && !cJSON_IsBool(del)) ||
        (root && !cJSON_IsString(root) && !cJSON_IsNull(root)))
        return drift_fail(err, n,
                          "disconnect and delete must be booleans, root_directory a "
                          "string or null");
    if (cJSON_IsTrue(disconnect)) {
        free(svc->repo);
        free(svc->branch);
        svc->repo = svc->branch = NULL;
    }
    if (root) {
        free(svc->root_directory);
        svc->root_directory = cJSON_IsString(root) ? xstrdup(root->valuestring) : NULL;
    }
    if (cJSON_IsTrue(del)) {
        cJSON *args = cJSON_CreateObject(), *res = NULL;
        int rc;

        cJSON_AddStringToObject(args, "id", svc->id);
        rc = sim_service_delete_resolve(s, args, &res, err, n);
        cJSON_Delete(args);
        cJSON_Delete(res);
        if (rc < 0)
            return rc;
    }
    svc->updated_wall = time_wall_ms();
    *out = cJSON_CreateObject();
    cJSON_AddBoolToObject(*out, "ok", true);
    return 0;
}

int sim_services_bulk(struct sim *s, const cJSON *body, cJSON **out, char *err, size_t n)
{
    const char *prefix = sim_arg_str(body, "prefix");
    const char *repo = sim_arg_str(body, "repo"), *root = sim_arg_str(body, "root_directory");
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(body, "count");
    cJSON *ids;

    if (prefix == NULL || !cJSON_IsNumber(count) || count->valueint < 1 ||
        count->valueint > SIM_MAX_SERVICES)
        return drift_fail(err, n, "prefix (a string) and count (1..10000) are required");
    ids = cJSON_CreateArray();
    for (int i = 0; i < count->valueint; i++) {
        cJSON *args = cJSON_CreateObject(), *input = cJSON_AddObjectToObject(args, "input");
        cJSON *res = NULL;
        char name[160];
        int rc;

        snprintf(name, sizeof(name), "%s%d", prefix, i);
        cJSON_AddStringToObject(input, "name", name);
        cJSON_AddStringToObject(input, "projectId", s->config.project_id);
        cJSON_AddStringToObject(input, "environmentId", s->config.environment_id);
        if (repo != NULL) {
            cJSON_AddStringToObject(cJSON_AddObjectToObject(input, "source"), "repo", repo);
            if (sim_arg_str(body, "branch") != NULL)
                cJSON_AddStringToObject(input, "branch", sim_arg_str(body, "branch"));
        }
        rc = sim_service_create_resolve(s, args, &res, err, n);
        cJSON_Delete(args);
        cJSON_Delete(res);
        if (rc < 0) {
            cJSON_Delete(ids);
            return rc;
        }
        struct sim_service *svc = s->services[s->service_count - 1];
        svc->instance_ready_mono = time_mono_ms(); /* listed at once */
        svc->instance_ready_wall = time_wall_ms();
        if (root != NULL)
            svc->root_directory = xstrdup(root);
        cJSON_AddItemToArray(ids, cJSON_CreateString(svc->id));
    }
    *out = cJSON_CreateObject();
    cJSON_AddBoolToObject(*out, "ok", true);
    cJSON_AddItemToObject(*out, "ids", ids);
    return 0;
}
