/* The deprovision flow: delete the manifest's own service (the Railway id railhook recorded
 * for it, never one found by name) and mark its row removed. */
#include "flows/flows_int.h"

#include <stdlib.h>

static enum rh_status deprovision_run(void *ctx, struct job_run *run, const struct job *job,
                                      struct job_result *res)
{
    struct flow fw;
    struct flow *f = &fw;
    char *service_id = NULL;
    const char *name = job->service_name;
    enum rh_status st = flow_begin(f, ctx, run, job, res, "find_service", false);
    if (st != RH_OK)
        goto out;
    if (!flow_step_done(f, "deleted")) {
        if ((st = flow_service_resolve(f, name, &service_id)) != RH_OK)
            goto out;
        if (service_id) {
            job_set_railway(run, service_id, NULL, NULL);
            if ((st = flow_stop_with(f, job_checkpoint(run, "delete_service"))) != RH_OK)
                goto out;
            cJSON *vars = cJSON_CreateObject();
            cJSON_AddStringToObject(vars, "id", service_id);
            cJSON_AddStringToObject(vars, "environmentId", f->fl->cfg->railway_environment_id);
            st = flow_call(f, RAILWAY_OP_SERVICE_DELETE, vars, FLOW_CALL_QUIET_NOT_FOUND, NULL);
            if (st != RH_OK && st != RH_NOT_FOUND)
                goto out;
            job_event(run, "info",
                      st == RH_NOT_FOUND ? "service was already gone" : "service deleted", NULL);
        } else {
            job_event(run, "info", "railhook tracks no service of this manifest; nothing to delete",
                      NULL);
        }
        if ((st = flow_stop_with(
                 f, flow_step_save(f, "deleted", "service_id", service_id, NULL))) != RH_OK)
            goto out;
    }
    char err[256];
    /* Nothing of this manifest's: another manifest's row of the same name is left alone. */
    if (!flow_step_str(f, "deleted", "service_id"))
        goto done;
    if ((st = flow_db(
             f, store_service_status_set(job_db(run), name, "removed", job->id, err, sizeof(err)),
             err)) != RH_OK)
        goto out;
done:
    res->status = RH_OK;
    st = RH_OK;
out:
    flow_end(f);
    free(service_id);
    return st;
}

/* The deprovision kind's handler, for the kind table (flows/kinds.c). */
const struct flows_handler flows_deprovision = {.run = deprovision_run};
