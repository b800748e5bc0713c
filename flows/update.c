/* The update flow: find the service (by its old name when the manifest row renamed it),
 * rename it, set the variables whose digests changed, and deploy when anything changed. */
#include "flows/flows_int.h"

#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum rh_status update_run(void *ctx, struct job_run *run, const struct job *job,
                                 struct job_result *res)
{
    struct flow fw;
    struct flow *f = &fw;
    cJSON *changed = NULL;
    char *service_id = NULL;
    const char *name = job->service_name;
    const char *old_name = flow_payload_str(job, "old_service_name");
    enum rh_status st = flow_begin(f, ctx, run, job, res, "validate", true);
    if (st != RH_OK)
        goto out;

    if ((st = flow_stop_with(f, job_checkpoint(run, "find_service"))) != RH_OK)
        goto out;
    const char *saved = flow_step_str(f, "service", "id");
    if (saved) {
        service_id = xstrdup(saved);
    } else {
        bool renaming = old_name && strcmp(old_name, name) != 0;
        if ((st = flow_service_resolve(f, renaming ? old_name : name, &service_id)) != RH_OK)
            goto out;
        if (!service_id && renaming && (st = flow_service_resolve(f, name, &service_id)) != RH_OK)
            goto out;
        if (!service_id) {
            st = job_result_fail(res, RH_PERMANENT, "service_not_found",
                                 "no Railway service named %s to update",
                                 renaming ? old_name : name);
            goto out;
        }
        if ((st = flow_stop_with(f, flow_step_save(f, "service", "id", service_id, NULL))) != RH_OK)
            goto out;
    }
    job_set_railway(run, service_id, NULL, NULL);

    bool any_change = flow_step_done(f, "renamed") || flow_step_done(f, "variables");
    if (old_name && strcmp(old_name, name) != 0 && !flow_step_done(f, "renamed")) {
        if ((st = flow_stop_with(f, job_checkpoint(run, "rename"))) != RH_OK)
            goto out;
        /* Never onto a name another manifest's service, or one railhook did not create, has. */
        if ((st = flow_name_check_free(f, name, service_id)) != RH_OK)
            goto out;
        cJSON *vars = cJSON_CreateObject();
        cJSON_AddStringToObject(vars, "id", service_id);
        cJSON *input = cJSON_AddObjectToObject(vars, "input");
        cJSON_AddStringToObject(input, "name", name);
        if ((st = flow_call(f, RAILWAY_OP_SERVICE_UPDATE, vars, 0, NULL)) != RH_OK)
            goto out;
        char err[256];
        if ((st = flow_db(f, store_service_rename(job_db(run), old_name, name, err, sizeof(err)),
                          err)) != RH_OK)
            goto out;
        if ((st = flow_stop_with(
                 f, flow_step_save(f, "renamed", "from", old_name, "to", name, NULL))) != RH_OK)
            goto out;
        any_change = true;
    }

    if (!flow_step_done(f, "variables")) {
        if ((st = flow_stop_with(f, job_checkpoint(run, "set_variables"))) != RH_OK)
            goto out;
        /* Compare with what railhook last set (digests), so no read is needed. */
        /* Unreadable is as good as unknown: every value is set again. */
        char err[256];
        cJSON *known = NULL;
        store_service_digests(job_db(run), name, &known, err, sizeof(err));
        changed = cJSON_CreateObject();
        const cJSON *v;
        cJSON_ArrayForEach(v, f->values)
        {
            const cJSON *old = cJSON_GetObjectItemCaseSensitive(known, v->string);
            const cJSON *now = cJSON_GetObjectItemCaseSensitive(f->digests, v->string);
            if (!cJSON_IsString(old) || strcmp(old->valuestring, now->valuestring) != 0)
                cJSON_AddStringToObject(changed, v->string, v->valuestring);
        }
        cJSON_Delete(known);
        if (cJSON_GetArraySize(changed) > 0) {
            if ((st = flow_variables_upsert(f, service_id, changed)) != RH_OK)
                goto out;
            any_change = true;
        }
        cJSON *names = cJSON_CreateArray();
        cJSON_ArrayForEach(v, changed)
        {
            cJSON_AddItemToArray(names, cJSON_CreateString(v->string));
        }
        cJSON *step = cJSON_CreateObject();
        cJSON_AddItemToObject(step, "changed", names);
        st = job_step_save(run, "variables", step);
        cJSON_Delete(step);
        if ((st = flow_stop_with(f, st)) != RH_OK)
            goto out;
    }
    if (!any_change) {
        job_event(run, "info", "nothing changed; no deploy needed", NULL);
        res->status = RH_OK;
        st = RH_OK;
        goto out;
    }
    st = flow_deploy_and_wait(f, name, service_id, NULL, f->digests);
    if (st == RH_OK && strcmp(f->deploy_status, "SKIPPED") != 0)
        job_event(run, "info", "updated", NULL);
out:
    flow_end(f);
    cJSON_Delete(changed);
    free(service_id);
    return st;
}

/* The update kind's handler, for the kind table (flows/kinds.c). */
const struct flows_handler flows_update = {.run = update_run};
