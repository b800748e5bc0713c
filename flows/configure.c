/* The folded configuration of a service railhook just created: its root directory and its
 * repo and branch in one request (railway/ops/service_configure.graphql), each field's result
 * taken on its own (docs/railway-behaviour.md: several mutations in one document run in order
 * with no rollback). A field that failed is left to its own step of the provision flow.
 * Runs on worker threads with the run's struct flow only. */
#include "flows/flows_int.h"

#include "util/util.h"

#include <stdio.h>
#include <string.h>

/* The first error of the answer whose path starts with alias, or NULL. */
static const cJSON *field_error(const cJSON *body, const char *alias)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(body, "errors"))
    {
        const cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(e, "path"), 0);
        if (cJSON_IsString(p) && strcmp(p->valuestring, alias) == 0)
            return e;
    }
    return NULL;
}

/* Records a failed field as a warning event (its step then runs on its own). */
static void field_failed(struct flow *f, const char *alias, const cJSON *err)
{
    const cJSON *m = cJSON_GetObjectItem(err, "message");
    char msg[600];
    snprintf(msg, sizeof(msg), "ServiceConfigure: %s failed: %s; doing that step on its own", alias,
             cJSON_IsString(m) ? m->valuestring : "no message");
    job_event(f->run, "warn", msg, NULL);
}

enum rh_status flow_service_configure(struct flow *f, const char *service_id)
{
    const struct config *cfg = f->fl->cfg;
    cJSON *vars = cJSON_CreateObject();
    cJSON_AddStringToObject(vars, "serviceId", service_id);
    cJSON_AddStringToObject(vars, "environmentId", cfg->railway_environment_id);
    cJSON *instance = cJSON_AddObjectToObject(vars, "instance");
    cJSON_AddStringToObject(instance, "rootDirectory", cfg->worker_root_dir);
    cJSON *source = cJSON_AddObjectToObject(vars, "source");
    cJSON_AddStringToObject(source, "repo", cfg->worker_repo);
    cJSON_AddStringToObject(source, "branch", cfg->worker_branch);
    struct railway_result r;
    enum rh_status st =
        railway_call(f->rc, RAILWAY_OP_SERVICE_CONFIGURE, vars, FLOW_LIMITER_WAIT_MS, &r);
    cJSON_Delete(vars);
    /* Only a GraphQL answer says what ran; anything else leaves both steps to themselves. */
    bool answered = st == RH_OK || (r.http_status == 200 && cJSON_IsObject(r.body) &&
                                    cJSON_IsArray(cJSON_GetObjectItem(r.body, "errors")));
    if (!answered) {
        cJSON *d = railway_result_details("ServiceConfigure", &r);
        job_event(f->run, "warn", "ServiceConfigure got no answer; doing its steps one by one", d);
        cJSON_Delete(d);
        st = RH_OK;
        goto out;
    }
    const cJSON *root_err = field_error(r.body, "rootDirectory");
    const cJSON *connect_err = field_error(r.body, "connect");
    st = RH_OK;
    if (root_err) {
        field_failed(f, "rootDirectory", root_err);
    } else {
        st = flow_step_save(f, "root_directory", "path", cfg->worker_root_dir, NULL);
        if (st != RH_OK)
            goto stop;
    }
    if (connect_err) {
        field_failed(f, "connect", connect_err);
    } else {
        /* Connected before its root directory was set: its deployment builds the wrong
         * folder, so the flow deploys anew instead of following it. */
        st = flow_step_save(f, "connect", "via", "connect", "before_root", root_err ? "true" : NULL,
                            NULL);
        if (st != RH_OK)
            goto stop;
        char msg[200];
        snprintf(msg, sizeof(msg), "set the root directory and connected to %s@%s in one request",
                 cfg->worker_repo, cfg->worker_branch);
        if (!root_err)
            job_event(f->run, "info", msg, NULL);
    }
    goto out;
stop:
    flow_stop_with(f, st);
out:
    railway_result_free(&r);
    return st;
}
