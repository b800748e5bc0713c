/* mutate: the mutations railway-sim answers (services, instances, variables, connects, deploys,
 * deletes) and the control calls that change a service's deploy triggers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "state.h"
#include "util/util.h"

static void variables_merge(cJSON *dst, const cJSON *src)
{
    const cJSON *v;

    cJSON_ArrayForEach(v, src)
    {
        cJSON *copy = cJSON_Duplicate(v, true);

        if (cJSON_GetObjectItemCaseSensitive(dst, v->string) != NULL)
            cJSON_ReplaceItemInObjectCaseSensitive(dst, v->string, copy);
        else
            cJSON_AddItemToObject(dst, v->string, copy);
    }
}

int sim_service_create_resolve(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(args, "input");
    const cJSON *source = cJSON_GetObjectItemCaseSensitive(input, "source");
    const cJSON *vars = cJSON_GetObjectItemCaseSensitive(input, "variables");
    const char *repo = sim_arg_str(source, "repo"), *image = sim_arg_str(source, "image");
    const char *name = sim_arg_str(input, "name"), *branch = NULL;
    struct sim_service *svc;
    int64_t mono = time_mono_ms(), wall = time_wall_ms();
    char generated[32];

    if (sim_project_check(s, sim_arg_str(input, "projectId"), err, n) < 0 ||
        sim_environment_check(s, sim_arg_str(input, "environmentId"), err, n) < 0)
        return -1;
    if (repo != NULL && sim_repo_check(s, repo, sim_arg_str(input, "branch"), &branch, err, n) < 0)
        return -1;
    if (s->service_count >= SIM_MAX_SERVICES)
        return sim_fail(err, n, "Service limit reached");
    svc = xmalloc(sizeof(*svc));
    memset(svc, 0, sizeof(*svc));
    sim_id_new(s, svc->id, sizeof(svc->id));
    sim_id_new(s, svc->instance_id, sizeof(svc->instance_id));
    if (name == NULL || name[0] == '\0') {
        snprintf(generated, sizeof(generated), "service-%.6s", svc->id);
        name = generated;
    }
    svc->name = xstrdup(name);
    svc->icon = sim_strdup_or_null(sim_arg_str(input, "icon"));
    svc->created_wall = svc->updated_wall = wall;
    svc->instance_ready_mono = mono + s->config.instance_delay_ms;
    svc->instance_ready_wall = wall + s->config.instance_delay_ms;
    svc->variables = cJSON_IsObject(vars) ? cJSON_Duplicate(vars, true) : cJSON_CreateObject();
    svc->settings = cJSON_CreateObject();
    if (repo != NULL) {
        svc->repo = xstrdup(repo);
        svc->branch = xstrdup(branch);
    } else if (image != NULL) {
        svc->image = xstrdup(image);
    }
    s->services = xrealloc(s->services, (s->service_count + 1) * sizeof(*s->services));
    s->services[s->service_count++] = svc;
    svc->auto_deploys = true;
    if (svc->repo != NULL || svc->image != NULL)
        sim_deployment_start(s, svc, NULL, "deploy", s->config.connect_deploy_delay_ms);
    *out = sim_service_json(s, svc, true);
    return 0;
}

int sim_service_instance_update_resolve(struct sim *s, const cJSON *args, cJSON **out, char *err,
                                        size_t n)
{
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(args, "input");
    const cJSON *v;
    struct sim_service *svc;
    const char *branch = NULL;

    if (sim_environment_check(s, sim_arg_str(args, "environmentId"), err, n) < 0)
        return -1;
    svc = sim_service_find(s, sim_arg_str(args, "serviceId"));
    if (svc == NULL || !sim_instance_ready(svc))
        return sim_fail(err, n, "ServiceInstance not found");
    v = cJSON_GetObjectItemCaseSensitive(input, "source");
    if (cJSON_IsObject(v) && sim_arg_str(v, "repo") != NULL &&
        sim_repo_check(s, sim_arg_str(v, "repo"), NULL, &branch, err, n) < 0)
        return -1;
    cJSON_ArrayForEach(v, input)
    {
        if (strcmp(v->string, "rootDirectory") == 0) {
            sim_str_set(&svc->root_directory, cJSON_IsString(v) ? v->valuestring : NULL);
        } else if (strcmp(v->string, "source") == 0) {
            const char *repo = sim_arg_str(v, "repo"), *image = sim_arg_str(v, "image");

            if (repo != NULL) {
                if (svc->repo == NULL || strcmp(svc->repo, repo) != 0)
                    sim_str_set(&svc->branch, branch);
                sim_str_set(&svc->repo, repo);
                sim_str_set(&svc->image, NULL);
            } else if (image != NULL) {
                sim_str_set(&svc->image, image);
                sim_str_set(&svc->repo, NULL);
                sim_str_set(&svc->branch, NULL);
            } else if (cJSON_IsNull(v)) {
                sim_str_set(&svc->repo, NULL);
                sim_str_set(&svc->branch, NULL);
                sim_str_set(&svc->image, NULL);
            }
        } else if (strcmp(v->string, "registryCredentials") == 0 ||
                   strcmp(v->string, "multiRegionConfig") == 0) {
            continue; /* write-only */
        } else {
            cJSON_DeleteItemFromObjectCaseSensitive(svc->settings, v->string);
            if (!cJSON_IsNull(v))
                cJSON_AddItemToObject(svc->settings, v->string, cJSON_Duplicate(v, true));
        }
    }
    svc->updated_wall = time_wall_ms();
    *out = cJSON_CreateTrue();
    return 0;
}

int sim_variable_collection_upsert_resolve(struct sim *s, const cJSON *args, cJSON **out, char *err,
                                           size_t n)
{
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(args, "input");
    const char *sid = sim_arg_str(input, "serviceId");
    struct sim_service *svc = NULL;
    cJSON *target;

    if (sim_project_check(s, sim_arg_str(input, "projectId"), err, n) < 0 ||
        sim_environment_check(s, sim_arg_str(input, "environmentId"), err, n) < 0)
        return -1;
    if (sid != NULL) {
        svc = sim_service_find(s, sid);
        if (svc == NULL)
            return sim_fail(err, n, "Service not found");
    }
    target = svc ? svc->variables : s->shared_variables;
    if (sim_arg_true(input, "replace")) {
        cJSON *fresh = cJSON_CreateObject();

        if (svc) {
            cJSON_Delete(svc->variables);
            svc->variables = fresh;
        } else {
            cJSON_Delete(s->shared_variables);
            s->shared_variables = fresh;
        }
        target = fresh;
    }
    variables_merge(target, cJSON_GetObjectItemCaseSensitive(input, "variables"));
    if (svc != NULL) {
        svc->updated_wall = time_wall_ms();
        if (!sim_arg_true(input, "skipDeploys") && (svc->repo != NULL || svc->image != NULL))
            sim_deployment_start(s, svc, NULL, "variables", 0);
    }
    *out = cJSON_CreateTrue();
    return 0;
}

int sim_service_connect_resolve(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(args, "input");
    const char *repo = sim_arg_str(input, "repo"), *image = sim_arg_str(input, "image");
    const char *branch = NULL;
    struct sim_service *svc = sim_service_find(s, sim_arg_str(args, "id"));

    if (svc == NULL)
        return sim_fail(err, n, "Service not found");
    if (repo == NULL && image == NULL)
        return sim_fail(err, n, "Either repo or image must be provided");
    if (repo != NULL) {
        if (sim_repo_check(s, repo, sim_arg_str(input, "branch"), &branch, err, n) < 0)
            return -1;
        sim_str_set(&svc->repo, repo);
        sim_str_set(&svc->branch, branch);
        sim_str_set(&svc->image, NULL);
    } else {
        sim_str_set(&svc->image, image);
        sim_str_set(&svc->repo, NULL);
        sim_str_set(&svc->branch, NULL);
    }
    svc->updated_wall = time_wall_ms();
    if (s->config.autodeploy_on_connect)
        sim_deployment_start(s, svc, NULL, "connect", s->config.connect_deploy_delay_ms);
    *out = sim_service_json(s, svc, true);
    return 0;
}

int sim_deployment_trigger_create_resolve(struct sim *s, const cJSON *args, cJSON **out, char *err,
                                          size_t n)
{
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(args, "input");
    const char *provider = sim_arg_str(input, "provider");
    const char *repo = sim_arg_str(input, "repository");
    const char *root = sim_arg_str(input, "rootDirectory");
    const char *branch = NULL;
    struct sim_service *svc;
    cJSON *o;
    char id[40];

    if (sim_project_check(s, sim_arg_str(input, "projectId"), err, n) < 0 ||
        sim_environment_check(s, sim_arg_str(input, "environmentId"), err, n) < 0)
        return -1;
    if (provider == NULL || strcmp(provider, "github") != 0)
        return sim_fail(err, n, "Invalid provider: only \"github\" is supported");
    svc = sim_service_find(s, sim_arg_str(input, "serviceId"));
    if (svc == NULL)
        return sim_fail(err, n, "Service not found");
    if (sim_repo_check(s, repo, sim_arg_str(input, "branch"), &branch, err, n) < 0)
        return -1;
    sim_str_set(&svc->repo, repo);
    sim_str_set(&svc->branch, branch);
    sim_str_set(&svc->image, NULL);
    if (root != NULL)
        sim_str_set(&svc->root_directory, root);
    svc->updated_wall = time_wall_ms();
    svc->check_suites = sim_arg_true(input, "checkSuites");
    sim_deployment_start(s, svc, NULL, "trigger", s->config.connect_deploy_delay_ms);
    sim_id_new(s, id, sizeof(id));
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "branch", branch);
    cJSON_AddBoolToObject(o, "checkSuites", sim_arg_true(input, "checkSuites"));
    cJSON_AddStringToObject(o, "environmentId", s->config.environment_id);
    cJSON_AddStringToObject(o, "projectId", s->config.project_id);
    cJSON_AddStringToObject(o, "provider", provider);
    cJSON_AddStringToObject(o, "repository", repo);
    cJSON_AddStringToObject(o, "serviceId", svc->id);
    cJSON_AddNumberToObject(o, "validCheckSuites", 0);
    *out = o;
    return 0;
}

int sim_service_instance_deploy_v2_resolve(struct sim *s, const cJSON *args, cJSON **out, char *err,
                                           size_t n)
{
    struct sim_service *svc;
    struct sim_deployment *d;

    if (sim_environment_check(s, sim_arg_str(args, "environmentId"), err, n) < 0)
        return -1;
    svc = sim_service_find(s, sim_arg_str(args, "serviceId"));
    if (svc == NULL)
        return sim_fail(err, n, "Service not found");
    if (!sim_instance_ready(svc))
        return sim_fail(err, n, "ServiceInstance not found");
    d = sim_deployment_start(s, svc, sim_arg_str(args, "commitSha"), "deploy", 0);
    if (d == NULL)
        return sim_fail(err, n, "Deployment limit reached");
    *out = cJSON_CreateString(d->id);
    return 0;
}

int sim_service_update_resolve(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(args, "input");
    struct sim_service *svc = sim_service_find(s, sim_arg_str(args, "id"));
    const char *name = sim_arg_str(input, "name");

    if (svc == NULL)
        return sim_fail(err, n, "Service not found");
    if (name != NULL) {
        if (name[0] == '\0')
            return sim_fail(err, n, "Service name cannot be empty");
        sim_str_set(&svc->name, name);
    }
    if (cJSON_GetObjectItemCaseSensitive(input, "icon") != NULL)
        sim_str_set(&svc->icon, sim_arg_str(input, "icon"));
    svc->updated_wall = time_wall_ms();
    *out = sim_service_json(s, svc, true);
    return 0;
}

int sim_service_delete_resolve(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    struct sim_service *svc;
    int64_t wall = time_wall_ms();

    if (sim_environment_check(s, sim_arg_str(args, "environmentId"), err, n) < 0)
        return -1;
    svc = sim_service_find(s, sim_arg_str(args, "id"));
    if (svc == NULL)
        return sim_fail(err, n, "Service not found");
    svc->deleted = true;
    svc->deleted_wall = svc->updated_wall = wall;
    for (size_t i = 0; i < s->deployment_count; i++) {
        if (s->deployments[i]->service == svc && !s->deployments[i]->removed) {
            s->deployments[i]->removed = true;
            s->deployments[i]->removed_wall = wall;
        }
    }
    *out = cJSON_CreateTrue();
    return 0;
}

/* The service of an autodeploy input or arguments, after the project and environment checks. */
static struct sim_service *autodeploy_service(struct sim *s, const cJSON *in, char *err, size_t n)
{
    struct sim_service *svc;

    if (sim_project_check(s, sim_arg_str(in, "projectId"), err, n) < 0 ||
        sim_environment_check(s, sim_arg_str(in, "environmentId"), err, n) < 0)
        return NULL;
    svc = sim_service_find(s, sim_arg_str(in, "serviceId"));
    if (svc == NULL)
        sim_fail(err, n, "Service not found");
    return svc;
}

int sim_service_instance_auto_deploy_status_resolve(struct sim *s, const cJSON *args, cJSON **out,
                                                    char *err, size_t n)
{
    struct sim_service *svc = autodeploy_service(s, args, err, n);
    cJSON *o;

    if (svc == NULL)
        return -1;
    o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "enabled", svc->auto_deploys && svc->repo != NULL);
    cJSON_AddBoolToObject(o, "canEnable", svc->repo != NULL);
    sim_json_str_add(o, "reason", svc->repo ? NULL : "The service has no connected repository");
    *out = o;
    return 0;
}

int sim_service_instance_auto_deploy_update_resolve(struct sim *s, const cJSON *args, cJSON **out,
                                                    char *err, size_t n)
{
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(args, "input");
    struct sim_service *svc = autodeploy_service(s, input, err, n);

    if (svc == NULL)
        return -1;
    svc->auto_deploys = sim_arg_true(input, "enabled");
    svc->updated_wall = time_wall_ms();
    *out = cJSON_CreateObject();
    cJSON_AddBoolToObject(*out, "enabled", svc->auto_deploys);
    return 0;
}

int sim_service_control(struct sim *s, const cJSON *body, cJSON **out, char *err, size_t errsize)
{
    struct sim_service *svc = sim_service_find(s, sim_arg_str(body, "id"));
    const cJSON *auto_deploys = cJSON_GetObjectItemCaseSensitive(body, "auto_deploys");
    const cJSON *check_suites = cJSON_GetObjectItemCaseSensitive(body, "check_suites");
    cJSON *o;

    if (svc == NULL)
        return sim_fail(err, errsize, "no live service with that id");
    if ((auto_deploys != NULL && !cJSON_IsBool(auto_deploys)) ||
        (check_suites != NULL && !cJSON_IsBool(check_suites)))
        return sim_fail(err, errsize, "auto_deploys and check_suites must be booleans");
    if (auto_deploys != NULL)
        svc->auto_deploys = cJSON_IsTrue(auto_deploys);
    if (check_suites != NULL)
        svc->check_suites = cJSON_IsTrue(check_suites);
    o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", true);
    cJSON_AddBoolToObject(o, "auto_deploys", svc->auto_deploys);
    cJSON_AddBoolToObject(o, "check_suites", svc->check_suites);
    *out = o;
    return 0;
}
