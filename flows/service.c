/* The service a manifest owns: finding it in the project, telling whether railhook created it
 * for this manifest (adopting it), and recording it in the services table on the worker's own
 * connection; and the guard that keeps railhook off its own service. Runs on worker threads, with
 * nothing shared beyond the struct flow of one run. */
#include "flows/flows_int.h"

#include "util/util.h"

#include <stdlib.h>
#include <string.h>

enum rh_status flow_db_service_upsert(struct flow *f, const char *name, const char *service_id,
                                      const char *status)
{
    const struct config *cfg = f->fl->cfg;
    const struct store_service s = {.name = name,
                                    .manifest_id = flow_payload_str(f->job, "manifest_id"),
                                    .railway_service_id = service_id,
                                    .repo = cfg->worker_repo,
                                    .branch = cfg->worker_branch,
                                    .root_dir = cfg->worker_root_dir,
                                    .status = status,
                                    .last_job_id = f->job->id};
    char err[256];
    bool owned = false;
    enum rh_status st =
        flow_db(f, store_service_upsert(job_db(f->run), &s, &owned, err, sizeof(err)), err);
    if (st == RH_OK && !owned)
        return flow_name_taken(f, name);
    return st;
}

enum rh_status flow_service_marked_ours(struct flow *f, const char *service_id, bool *ours)
{
    const char *manifest = flow_payload_str(f->job, "manifest_id");
    *ours = false;
    if (!manifest)
        return RH_OK;
    cJSON *vars = cJSON_CreateObject();
    cJSON_AddStringToObject(vars, "projectId", f->fl->cfg->railway_project_id);
    cJSON_AddStringToObject(vars, "environmentId", f->fl->cfg->railway_environment_id);
    cJSON_AddStringToObject(vars, "serviceId", service_id);
    cJSON *data = NULL;
    enum rh_status st = flow_call(f, RAILWAY_OP_SERVICE_VARIABLES, vars, 0, &data);
    if (st == RH_OK) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(data, "variables"),
                                                          FLOW_MANIFEST_MARKER);
        *ours = cJSON_IsString(m) && strcmp(m->valuestring, manifest) == 0;
    }
    cJSON_Delete(data);
    return st;
}

enum rh_status flow_name_check_free(struct flow *f, const char *name, const char *own_id)
{
    char err[256];
    bool tracked = false;
    char *owner = NULL, *found = NULL;
    const char *manifest = flow_payload_str(f->job, "manifest_id");
    enum rh_status st = flow_db(
        f, store_service_tracked(job_db(f->run), name, &tracked, &owner, err, sizeof(err)), err);
    if (st != RH_OK)
        goto out;
    if (tracked && !(owner && manifest && strcmp(owner, manifest) == 0)) {
        st = flow_name_taken(f, name);
        goto out;
    }
    if ((st = flow_service_find(f, name, NULL, &found)) != RH_OK)
        goto out;
    if (found && strcmp(found, own_id) != 0)
        st = flow_name_taken(f, name);
out:
    free(owner);
    free(found);
    return st;
}

enum rh_status flow_name_taken(struct flow *f, const char *name)
{
    return job_result_fail(f->res, RH_PERMANENT, "name_taken",
                           "the service name %s is taken by a service railhook did not create "
                           "for this manifest; nothing was changed",
                           name);
}

/* The one guard that keeps railhook off its own service (RAILWAY_SERVICE_ID, set by Railway
 * when railhook runs there): every service id a flow acts on comes from flow_service_find or
 * flow_service_resolve, and both pass it through here. Fails the run for good, before any
 * change, when id is railhook's own; frees *id then. */
static enum rh_status service_not_own(struct flow *f, const char *name, char **id)
{
    const char *own = f->fl->cfg->railway_service_id;
    if (!*id || !own || !*own || strcmp(*id, own) != 0)
        return RH_OK;
    free(*id);
    *id = NULL;
    return job_result_fail(f->res, RH_PERMANENT, "own_service",
                           "the service %s is railhook's own (RAILWAY_SERVICE_ID %s): railhook "
                           "never acts on itself; nothing was changed",
                           name ? name : "found", own);
}

/* Finds a service named name in the project: *id (free()) or NULL. Reads every page: a
 * service past the first page must still be found, or a resumed provision creates a twin. */
enum rh_status flow_service_find(struct flow *f, const char *name, const char *want_id, char **id)
{
    *id = NULL;
    char *after = NULL;
    enum rh_status st = RH_OK;
    for (int page = 0; page < 200 && !*id; page++) {
        cJSON *vars = cJSON_CreateObject();
        cJSON_AddStringToObject(vars, "projectId", f->fl->cfg->railway_project_id);
        if (after)
            cJSON_AddStringToObject(vars, "after", after);
        cJSON *data = NULL;
        st = flow_call(f, RAILWAY_OP_PROJECT_SERVICES, vars, 0, &data);
        if (st != RH_OK)
            break;
        const cJSON *services =
            cJSON_GetObjectItem(cJSON_GetObjectItem(data, "project"), "services");
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItem(services, "edges"))
        {
            const cJSON *node = cJSON_GetObjectItem(e, "node");
            const cJSON *n = cJSON_GetObjectItem(node, "name");
            const cJSON *i = cJSON_GetObjectItem(node, "id");
            const cJSON *deleted = cJSON_GetObjectItem(node, "deletedAt");
            /* A deleted service Railway still lists is gone: never reused. */
            if (deleted && !cJSON_IsNull(deleted))
                continue;
            bool match = want_id ? cJSON_IsString(i) && strcmp(i->valuestring, want_id) == 0
                                 : cJSON_IsString(n) && strcmp(n->valuestring, name) == 0;
            if (match && cJSON_IsString(i)) {
                *id = xstrdup(i->valuestring);
                break;
            }
        }
        const cJSON *info = cJSON_GetObjectItem(services, "pageInfo");
        const cJSON *cursor = cJSON_GetObjectItem(info, "endCursor");
        bool more =
            cJSON_IsTrue(cJSON_GetObjectItem(info, "hasNextPage")) && cJSON_IsString(cursor);
        free(after);
        after = more ? xstrdup(cursor->valuestring) : NULL;
        cJSON_Delete(data);
        if (!more)
            break;
    }
    free(after);
    if (st == RH_OK)
        st = service_not_own(f, name, id);
    return st;
}

/* The service's id as railhook recorded it: the manifest's own service, or (a job without a
 * manifest, such as a redeploy) the tracked service of that name. Never a service looked up by
 * name in the project: railhook acts only on what it created. */
enum rh_status flow_service_resolve(struct flow *f, const char *name, char **id)
{
    char err[256];
    const char *manifest = flow_payload_str(f->job, "manifest_id");
    enum rh_status st = flow_db(
        f, store_service_railway_id(job_db(f->run), manifest, name, id, err, sizeof(err)), err);
    if (st == RH_OK)
        st = service_not_own(f, name, id);
    return st;
}
