/* The redeploy flow: a push to the worker repo's branch deploys the service again, following
 * the deployment Railway started by itself for the pushed commit when there is one. */
#include "flows/flows_int.h"

#include "util/util.h"

#include <stdlib.h>
#include <string.h>

/* A deployment of commit sha among the service's newest ones, or NULL (free()). */
static enum rh_status find_commit_deployment(struct flow *f, const char *service_id,
                                             const char *sha, char **id)
{
    *id = NULL;
    cJSON *nodes = NULL;
    enum rh_status st = flow_deployments_list(f, service_id, 5, &nodes);
    const cJSON *n;
    cJSON_ArrayForEach(n, nodes)
    {
        const cJSON *meta = cJSON_GetObjectItem(n, "meta");
        const cJSON *hash = cJSON_GetObjectItem(meta, "commitHash");
        if (cJSON_IsString(hash) && strcmp(hash->valuestring, sha) == 0) {
            *id = xstrdup(cJSON_GetObjectItem(n, "id")->valuestring);
            break;
        }
    }
    cJSON_Delete(nodes);
    return st;
}

enum rh_status flows_redeploy_run(void *ctx, struct job_run *run, const struct job *job,
                                  struct job_result *res)
{
    struct flow fw;
    struct flow *f = &fw;
    char *service_id = NULL, *dep = NULL;
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

    if (!flow_step_done(f, "deploy") && sha) {
        /* Railway may deploy the pushed commit by itself: follow that one instead. */
        if ((st = flow_stop_with(f, job_checkpoint(run, "find_autodeploy"))) != RH_OK)
            goto out;
        int grace_ms = f->fl->cfg->autodeploy_grace_s * 1000;
        int64_t until = time_mono_ms() + grace_ms;
        for (int check = 0;; check++) {
            if ((st = find_commit_deployment(f, service_id, sha, &dep)) != RH_OK)
                goto out;
            if (dep || time_mono_ms() >= until || check == 2)
                break;
            int nap = grace_ms / 2 > 0 ? grace_ms / 2 : 1;
            if ((st = flow_stop_with(f, job_sleep(run, nap))) != RH_OK)
                goto out;
        }
        if (dep) {
            job_event(run, "info", "following Railway's own deployment of the pushed commit", NULL);
            if ((st = flow_stop_with(f, flow_step_save(f, "deploy", "deployment_id", dep, "auto",
                                                       "true", NULL))) != RH_OK)
                goto out;
        }
    }
    st = flow_deploy_and_wait(f, name, service_id, false, sha, NULL);
    if (st == RH_OK)
        job_event(run, "info", "redeployed", NULL);
out:
    flow_end(f);
    free(service_id);
    free(dep);
    return st;
}
