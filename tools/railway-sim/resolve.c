/* resolve: the root fields railway-sim answers: lookups, the queries, and the table that maps
 * each root field to its resolver (mutations are in mutate.c, deployments in deploy.c). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sim.h"
#include "state.h"
#include "util/util.h"

struct sim_service *sim_service_find(struct sim *s, const char *id)
{
    if (id == NULL)
        return NULL;
    for (size_t i = 0; i < s->service_count; i++)
        if (!s->services[i]->deleted && strcmp(s->services[i]->id, id) == 0)
            return s->services[i];
    return NULL;
}

int sim_project_check(struct sim *s, const char *id, char *err, size_t errsize)
{
    if (id == NULL || strcmp(id, s->config.project_id) != 0)
        return sim_fail(err, errsize, "Project not found");
    return 0;
}

/* environmentId may be absent (optional arguments); a given one must match. */
int sim_environment_check(struct sim *s, const char *id, char *err, size_t errsize)
{
    if (id != NULL && strcmp(id, s->config.environment_id) != 0)
        return sim_fail(err, errsize, "Environment not found");
    return 0;
}

/* Resolves repo and branch against the repos Railway's GitHub app can see; *branch_out is the
 * given branch or the default one. */
int sim_repo_check(struct sim *s, const char *repo, const char *branch, const char **branch_out,
                   char *err, size_t errsize)
{
    for (size_t i = 0; i < s->config.repo_count; i++) {
        const struct sim_repo *r = &s->config.repos[i];

        if (strcmp(r->name, repo) != 0)
            continue;
        if (branch == NULL) {
            *branch_out = r->branches[0];
            return 0;
        }
        for (size_t j = 0; j < r->branch_count; j++) {
            if (strcmp(r->branches[j], branch) == 0) {
                *branch_out = r->branches[j];
                return 0;
            }
        }
        return sim_fail(err, errsize, "Branch not found");
    }
    return sim_fail(err, errsize, "Repository not found or not accessible by Railway's GitHub app");
}

/* ---- resolvers --------------------------------------------------------------------------------
 */

static cJSON *environment_json(const struct sim *s)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "id", s->config.environment_id);
    cJSON_AddStringToObject(o, "name", "production");
    cJSON_AddStringToObject(o, "projectId", s->config.project_id);
    cJSON_AddBoolToObject(o, "isEphemeral", false);
    cJSON_AddBoolToObject(o, "canAccess", true);
    sim_json_time_add(o, "createdAt", 1735689600000LL);
    sim_json_time_add(o, "updatedAt", 1735689600000LL);
    sim_json_time_add(o, "deletedAt", 0);
    return o;
}

static int resolve_project(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    cJSON *o, *services, *envs;

    if (sim_project_check(s, sim_arg_str(args, "id"), err, n) < 0)
        return -1;
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", s->config.project_id);
    cJSON_AddStringToObject(o, "name", "railway-sim");
    cJSON_AddStringToObject(o, "primaryEnvironmentId", s->config.environment_id);
    cJSON_AddStringToObject(o, "baseEnvironmentId", s->config.environment_id);
    sim_json_time_add(o, "createdAt", 1735689600000LL);
    sim_json_time_add(o, "updatedAt", 1735689600000LL);
    services = cJSON_AddArrayToObject(o, "services");
    for (size_t i = 0; i < s->service_count; i++)
        if (!s->services[i]->deleted || s->config.list_deleted_services)
            cJSON_AddItemToArray(services, sim_service_json(s, s->services[i], true));
    envs = cJSON_AddArrayToObject(o, "environments");
    cJSON_AddItemToArray(envs, environment_json(s));
    *out = o;
    return 0;
}

static int resolve_environment(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    const char *project = sim_arg_str(args, "projectId");

    if (project != NULL && sim_project_check(s, project, err, n) < 0)
        return -1;
    if (strcmp(sim_arg_str(args, "id") ? sim_arg_str(args, "id") : "", s->config.environment_id) !=
        0)
        return sim_fail(err, n, "Environment not found");
    *out = environment_json(s);
    sim_environment_snapshot_add(s, *out);
    return 0;
}

/* me: the user behind an account token; workspace and project tokens have none. */
static int resolve_me(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    cJSON *o;

    (void)args;
    if (s->caller != SIM_CALLER_ACCOUNT)
        return sim_fail(err, n, "Not Authorized");
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", "user-sim");
    cJSON_AddStringToObject(o, "email", "sim@railway-sim.invalid");
    cJSON_AddStringToObject(o, "name", "Railway Sim");
    cJSON_AddStringToObject(o, "username", "railway-sim");
    sim_json_time_add(o, "createdAt", 1735689600000LL);
    sim_json_time_add(o, "lastLogin", 1735689600000LL);
    *out = o;
    return 0;
}

/* projectToken: the project and environment a Project-Access-Token belongs to. */
static int resolve_project_token(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    cJSON *o;

    (void)args;
    if (s->caller != SIM_CALLER_PROJECT)
        return sim_fail(err, n, "Not Authorized");
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", "project-token-sim");
    cJSON_AddStringToObject(o, "name", "railway-sim");
    cJSON_AddStringToObject(o, "displayToken", "********");
    cJSON_AddStringToObject(o, "projectId", s->config.project_id);
    cJSON_AddStringToObject(o, "environmentId", s->config.environment_id);
    sim_json_time_add(o, "createdAt", 1735689600000LL);
    *out = o;
    return 0;
}

/* GitHub access belongs to a user: only account tokens list repos and branches. */
static int resolve_github_repos(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    cJSON *a;

    (void)args;
    if (s->caller != SIM_CALLER_ACCOUNT)
        return sim_fail(err, n, "Not Authorized");
    a = cJSON_CreateArray();
    for (size_t i = 0; i < s->config.repo_count; i++) {
        const struct sim_repo *r = &s->config.repos[i];
        const char *slash = strchr(r->name, '/');
        cJSON *o = cJSON_CreateObject();

        cJSON_AddNumberToObject(o, "id", (double)(1000 + i));
        cJSON_AddStringToObject(o, "fullName", r->name);
        cJSON_AddStringToObject(o, "name", slash ? slash + 1 : r->name);
        cJSON_AddStringToObject(o, "defaultBranch", r->branches[0]);
        cJSON_AddStringToObject(o, "installationId", "sim-installation");
        cJSON_AddBoolToObject(o, "isPrivate", true);
        cJSON_AddNullToObject(o, "description");
        cJSON_AddItemToArray(a, o);
    }
    *out = a;
    return 0;
}

static int resolve_github_repo_branches(struct sim *s, const cJSON *args, cJSON **out, char *err,
                                        size_t n)
{
    const char *owner = sim_arg_str(args, "owner"), *repo = sim_arg_str(args, "repo");
    char full[512];

    if (s->caller != SIM_CALLER_ACCOUNT)
        return sim_fail(err, n, "Not Authorized");
    snprintf(full, sizeof(full), "%s/%s", owner ? owner : "", repo ? repo : "");
    for (size_t i = 0; i < s->config.repo_count; i++) {
        const struct sim_repo *r = &s->config.repos[i];
        cJSON *a;

        if (strcasecmp(r->name, full) != 0)
            continue;
        a = cJSON_CreateArray();
        for (size_t j = 0; j < r->branch_count; j++) {
            cJSON *b = cJSON_CreateObject();

            cJSON_AddStringToObject(b, "name", r->branches[j]);
            cJSON_AddItemToArray(a, b);
        }
        *out = a;
        return 0;
    }
    return sim_fail(err, n, "Repository not found or not accessible by Railway's GitHub app");
}

static int resolve_service(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    struct sim_service *svc = sim_service_find(s, sim_arg_str(args, "id"));

    if (svc == NULL)
        return sim_fail(err, n, "Service not found");
    *out = sim_service_json(s, svc, true);
    return 0;
}

static int resolve_service_instance(struct sim *s, const cJSON *args, cJSON **out, char *err,
                                    size_t n)
{
    struct sim_service *svc;

    if (sim_environment_check(s, sim_arg_str(args, "environmentId"), err, n) < 0)
        return -1;
    svc = sim_service_find(s, sim_arg_str(args, "serviceId"));
    if (svc == NULL || !sim_instance_ready(svc))
        return sim_fail(err, n, "ServiceInstance not found");
    *out = sim_instance_json(s, svc);
    return 0;
}

static int resolve_variables(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    const char *sid = sim_arg_str(args, "serviceId");
    struct sim_service *svc = NULL;
    cJSON *o;

    if (sim_project_check(s, sim_arg_str(args, "projectId"), err, n) < 0 ||
        sim_environment_check(s, sim_arg_str(args, "environmentId"), err, n) < 0)
        return -1;
    if (sid != NULL) {
        svc = sim_service_find(s, sid);
        if (svc == NULL)
            return sim_fail(err, n, "Service not found");
    }
    o = cJSON_Duplicate(svc ? svc->variables : s->shared_variables, true);
    if (!sim_arg_true(args, "unrendered")) {
        /* Rendered variables carry the ones Railway provides. */
        cJSON_AddStringToObject(o, "RAILWAY_PROJECT_ID", s->config.project_id);
        cJSON_AddStringToObject(o, "RAILWAY_ENVIRONMENT_ID", s->config.environment_id);
        if (svc != NULL) {
            cJSON_AddStringToObject(o, "RAILWAY_SERVICE_ID", svc->id);
            cJSON_AddStringToObject(o, "RAILWAY_SERVICE_NAME", svc->name);
        }
    }
    *out = o;
    return 0;
}

static int resolve_deployment(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    const char *id = sim_arg_str(args, "id");

    for (size_t i = 0; id != NULL && i < s->deployment_count; i++) {
        if (strcmp(s->deployments[i]->id, id) == 0 &&
            sim_deployment_visible(s->deployments[i], time_mono_ms())) {
            *out = sim_deployment_json(s, s->deployments[i], true);
            return 0;
        }
    }
    return sim_fail(err, n, "Deployment not found");
}

static bool status_listed(const cJSON *list, const char *status)
{
    const cJSON *it;

    cJSON_ArrayForEach(it, list)
    {
        if (cJSON_IsString(it) && strcmp(it->valuestring, status) == 0)
            return true;
    }
    return false;
}

static int resolve_deployments(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(args, "input");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(input, "status");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(status, "in");
    const cJSON *not_in = cJSON_GetObjectItemCaseSensitive(status, "notIn");
    const char *pid = sim_arg_str(input, "projectId");
    const char *sid = sim_arg_str(input, "serviceId");
    cJSON *a;

    if ((pid != NULL && sim_project_check(s, pid, err, n) < 0) ||
        sim_environment_check(s, sim_arg_str(input, "environmentId"), err, n) < 0)
        return -1;
    a = cJSON_CreateArray();
    for (size_t i = s->deployment_count; i-- > 0;) {
        const struct sim_deployment *d = s->deployments[i];
        int64_t w;
        const char *st;

        if (!sim_deployment_visible(d, time_mono_ms()))
            continue;
        if (sid != NULL && strcmp(d->service->id, sid) != 0)
            continue;
        if (d->service->deleted && sid == NULL && !sim_arg_true(input, "includeDeleted"))
            continue;
        st = sim_deployment_status(s, d, &w);
        if (cJSON_IsArray(in) && !status_listed(in, st))
            continue;
        if (cJSON_IsArray(not_in) && status_listed(not_in, st))
            continue;
        cJSON_AddItemToArray(a, sim_deployment_json(s, d, true));
    }
    *out = a;
    return 0;
}

static const struct {
    const char *field;
    int (*fn)(struct sim *, const cJSON *, cJSON **, char *, size_t);
} resolvers[] = {
    {"__schema", sim_intro_schema_resolve},
    {"__type", sim_intro_type_resolve},
    {"buildLogs", sim_build_logs_resolve},
    {"deployment", resolve_deployment},
    {"deploymentLogs", sim_deployment_logs_resolve},
    {"deployments", resolve_deployments},
    {"environment", resolve_environment},
    {"githubRepoBranches", resolve_github_repo_branches},
    {"githubRepos", resolve_github_repos},
    {"me", resolve_me},
    {"project", resolve_project},
    {"projectToken", resolve_project_token},
    {"service", resolve_service},
    {"serviceInstance", resolve_service_instance},
    {"serviceInstanceAutoDeployStatus", sim_service_instance_auto_deploy_status_resolve},
    {"variables", resolve_variables},
    {"deploymentTriggerCreate", sim_deployment_trigger_create_resolve},
    {"serviceConnect", sim_service_connect_resolve},
    {"serviceCreate", sim_service_create_resolve},
    {"serviceDelete", sim_service_delete_resolve},
    {"serviceInstanceAutoDeployUpdate", sim_service_instance_auto_deploy_update_resolve},
    {"serviceInstanceDeployV2", sim_service_instance_deploy_v2_resolve},
    {"serviceInstanceUpdate", sim_service_instance_update_resolve},
    {"serviceUpdate", sim_service_update_resolve},
    {"variableCollectionUpsert", sim_variable_collection_upsert_resolve},
};

bool sim_field_slow(const char *field)
{
    return strcmp(field, "serviceInstanceDeployV2") == 0 ||
           strcmp(field, "deploymentTriggerCreate") == 0 || strcmp(field, "serviceConnect") == 0;
}

bool sim_field_simulated(const char *field)
{
    for (size_t i = 0; i < sizeof(resolvers) / sizeof(resolvers[0]); i++)
        if (strcmp(resolvers[i].field, field) == 0)
            return true;
    return false;
}

int sim_field_resolve(struct sim *s, const char *field, const cJSON *args, cJSON **out, char *err,
                      size_t errsize)
{
    *out = NULL;
    for (size_t i = 0; i < sizeof(resolvers) / sizeof(resolvers[0]); i++)
        if (strcmp(resolvers[i].field, field) == 0)
            return resolvers[i].fn(s, args, out, err, errsize);
    return sim_fail(err, errsize, "Problem processing request");
}
