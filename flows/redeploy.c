/* The redeploy flow: a push to the worker repo's branch deploys the service again. Railway
 * deploys a connected service's pushes by itself, sometimes minutes later (CI checks,
 * queueing): the flow follows Railway's deployment of the pushed commit, and starts one only
 * when Railway will not (auto-deploys off, or none after PUSH_DEPLOY_GRACE_S), never twice. */
#include "flows/flows_int.h"

#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "on", "off" or "unknown": whether Railway deploys the service's pushes by itself. */
static const char *autodeploy_state(struct flow *f, const char *service_id)
{
    const struct config *cfg = f->fl->cfg;
    cJSON *vars = cJSON_CreateObject();
    cJSON_AddStringToObject(vars, "projectId", cfg->railway_project_id);
    cJSON_AddStringToObject(vars, "environmentId", cfg->railway_environment_id);
    cJSON_AddStringToObject(vars, "serviceId", service_id);
    cJSON *data = NULL;
    enum rh_status st =
        flow_call(f, RAILWAY_OP_SERVICE_INSTANCE_AUTO_DEPLOY_STATUS, vars, FLOW_CALL_ONCE, &data);
    const char *state = "unknown";
    if (st == RH_OK) {
        const cJSON *enabled = cJSON_GetObjectItem(
            cJSON_GetObjectItem(data, "serviceInstanceAutoDeployStatus"), "enabled");
        if (cJSON_IsBool(enabled))
            state = cJSON_IsTrue(enabled) ? "on" : "off";
    } else {
        /* Older tokens or accounts may not answer it: then the grace decides. */
        f->res->status = RH_OK;
        f->res->code[0] = '\0';
        f->res->message[0] = '\0';
        cJSON_Delete(f->res->details);
        f->res->details = NULL;
    }
    cJSON_Delete(data);
    return state;
}

/* Saves Railway's own deployment of commit sha as the one to follow, waiting for it up to
 * PUSH_DEPLOY_GRACE_S from the first run's look-up unless auto-deploys are off. */
static enum rh_status redeploy_find_own(struct flow *f, const char *service_id, const char *sha)
{
    enum rh_status st = flow_stop_with(f, job_checkpoint(f->run, "find_autodeploy"));
    if (st != RH_OK)
        return st;
    if (!flow_step_done(f, "autodeploy")) {
        const char *state = autodeploy_state(f, service_id);
        if ((st = flow_stop_with(f, flow_step_save(f, "autodeploy", "state", state, NULL))) !=
            RH_OK)
            return st;
    }
    const char *state = flow_step_str(f, "autodeploy", "state");
    int grace_s = f->fl->cfg->push_deploy_grace_s;
    if (state && strcmp(state, "off") == 0)
        grace_s = 0; /* one look for a deployment already there, then deploy */
    const cJSON *at = cJSON_GetObjectItem(job_step_get(f->run, "autodeploy"), "at_ms");
    int64_t since = cJSON_IsNumber(at) ? (int64_t)at->valuedouble : time_wall_ms();
    char *dep = NULL;
    if ((st = flow_deployment_await(f, service_id, NULL, sha, since, grace_s, &dep)) != RH_OK)
        return st;
    if (!dep) {
        char msg[200];
        if (grace_s == 0)
            snprintf(msg, sizeof(msg), "auto-deploys are %s; deploying the pushed commit",
                     state && strcmp(state, "off") == 0 ? "off for the service"
                                                        : "not awaited (PUSH_DEPLOY_GRACE_S=0)");
        else
            snprintf(msg, sizeof(msg),
                     "Railway started no deployment of the pushed commit within "
                     "PUSH_DEPLOY_GRACE_S=%d s; deploying it",
                     grace_s);
        job_event(f->run, "info", msg, NULL);
        return RH_OK;
    }
    st = flow_stop_with(f, flow_step_save(f, "deploy", "deployment_id", dep, "auto", "true", NULL));
    if (st == RH_OK)
        job_event(f->run, "info", "following Railway's own deployment of the pushed commit", NULL);
    free(dep);
    return st;
}

static enum rh_status redeploy_run(void *ctx, struct job_run *run, const struct job *job,
                                   struct job_result *res)
{
    struct flow fw;
    struct flow *f = &fw;
    char *service_id = NULL;
    const char *name = job->service_name;
    const char *sha = flow_payload_str(job, "commit_sha");
    enum rh_status st = flow_begin(f, ctx, run, job, res, "find_service", false);
    if (st != RH_OK)
        goto out;
    const char *saved = flow_step_str(f, "service", "id");
    if (saved) {
        service_id = xstrdup(saved);
    } else {
        if ((st = flow_service_resolve(f, name, &service_id)) != RH_OK)
            goto out;
        if (!service_id) {
            st = job_result_fail(res, RH_PERMANENT, "service_not_found",
                                 "no Railway service named %s to redeploy", name);
            goto out;
        }
        if ((st = flow_stop_with(f, flow_step_save(f, "service", "id", service_id, NULL))) != RH_OK)
            goto out;
    }
    job_set_railway(run, service_id, NULL, NULL);

    if (!flow_step_done(f, "deploy") && !flow_step_done(f, "deploy_sent") && sha &&
        (st = redeploy_find_own(f, service_id, sha)) != RH_OK)
        goto out;
    st = flow_deploy_and_wait(f, name, service_id, sha, NULL);
    if (st == RH_OK && strcmp(f->deploy_status, "SKIPPED") != 0)
        job_event(run, "info", "redeployed", NULL);
out:
    flow_end(f);
    free(service_id);
    return st;
}

/* The redeploy kind's handler, for the kind table (flows/kinds.c). */
const struct flows_handler flows_redeploy = {.run = redeploy_run};
