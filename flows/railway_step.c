/* What the Railway flows share: the one prologue of every flow, the Railway call wrapper (retries,
 * events, the run's result), step helpers, the services rows and the Railway steps several flows
 * take (find a service, deploy and wait).
 *
 * Threading: one struct flows is shared by every worker thread and is read-only after
 * flows_new(), except the rate limiter, which has its own lock. Each worker thread gets its
 * own Railway client (and curl handle) through a thread-specific key, freed when the thread
 * ends. A flow's state lives in the job row (job_step_save), never in memory across runs, so
 * a run after a crash resumes where the last one stopped. */
#include "flows/flows_int.h"

#include "flows/variables.h"
#include "util/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tries of one idempotent Railway call inside a run before the job is handed back. */
#define CALL_TRIES 4
/* Longest wait for the shared rate limiter inside a run. */
#define LIMITER_WAIT_MS 30000

static struct railway_client *thread_client(struct flows *fl)
{
    struct railway_client *c = pthread_getspecific(fl->client_key);
    if (!c) {
        c = railway_client_new(fl->cfg, fl->lim);
        pthread_setspecific(fl->client_key, c);
    }
    return c;
}

const char *flow_payload_str(const struct job *job, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(job->payload, key);
    return cJSON_IsString(v) && *v->valuestring ? v->valuestring : NULL;
}

const char *flow_step_str(struct flow *f, const char *step, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(job_step_get(f->run, step), key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

bool flow_step_done(struct flow *f, const char *step)
{
    return job_step_get(f->run, step) != NULL;
}

/* Saves a step result built from key/value string pairs (NULL-terminated). */
enum rh_status flow_step_save(struct flow *f, const char *step, ...)
{
    cJSON *o = cJSON_CreateObject();
    va_list ap;
    va_start(ap, step);
    const char *k;
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        if (v)
            cJSON_AddStringToObject(o, k, v);
    }
    va_end(ap);
    cJSON_AddNumberToObject(o, "at_ms", (double)time_wall_ms());
    enum rh_status st = job_step_save(f->run, step, o);
    cJSON_Delete(o);
    return st;
}

/* Turns a job_* status (cancelled, lease lost, stopping) into the run's result. */
enum rh_status flow_stop_with(struct flow *f, enum rh_status st)
{
    if (st == RH_OK)
        return RH_OK;
    f->res->status = st;
    if (!*f->res->code)
        snprintf(f->res->code, sizeof(f->res->code), "%s", rh_status_name(st));
    return st;
}

/* Sends one Railway operation; vars is consumed. On success *data (may be NULL) receives a
 * copy of the answer's data. On failure the run's result is filled and an event recorded;
 * returns RH_NOT_FOUND (quietly, with FLOW_CALL_QUIET_NOT_FOUND) for Railway's "not found". */
enum rh_status flow_call(struct flow *f, enum railway_op op, cJSON *vars, unsigned flags,
                         cJSON **data)
{
    enum rh_status st = RH_TRANSIENT;
    int backoff_ms = 1000;
    if (data)
        *data = NULL;
    for (int attempt = 1; attempt <= CALL_TRIES; attempt++) {
        struct railway_result r;
        st = railway_call(f->rc, op, vars, LIMITER_WAIT_MS, &r);
        if (st == RH_OK) {
            if (data)
                *data = cJSON_Duplicate(r.data, 1);
            railway_result_free(&r);
            break;
        }
        bool not_found = r.error == RAILWAY_ERR_NOT_FOUND;
        if (not_found && (flags & FLOW_CALL_QUIET_NOT_FOUND)) {
            snprintf(f->not_found, sizeof(f->not_found), "%s", r.message);
            railway_result_free(&r);
            st = RH_NOT_FOUND;
            break;
        }
        cJSON *details = railway_result_details(railway_ops[op].name, &r);
        cJSON_AddNumberToObject(details, "try", attempt);
        char msg[700];
        snprintf(msg, sizeof(msg), "%s failed: %s", railway_ops[op].name, r.message);
        job_event(f->run, st == RH_TRANSIENT ? "warn" : "error", msg, details);
        int wait_ms = r.retry_after_ms > backoff_ms ? r.retry_after_ms : backoff_ms;
        bool retry = st == RH_TRANSIENT && !(flags & FLOW_CALL_ONCE) && attempt < CALL_TRIES &&
                     r.error != RAILWAY_ERR_BUDGET;
        f->res->status = st;
        snprintf(f->res->code, sizeof(f->res->code), "%s", railway_error_name(r.error));
        snprintf(f->res->message, sizeof(f->res->message), "%.*s", (int)sizeof(f->res->message) - 1,
                 msg);
        f->res->retry_after_ms = r.retry_after_ms;
        cJSON_Delete(f->res->details);
        f->res->details = details;
        railway_result_free(&r);
        if (!retry)
            break;
        /* Full jitter around the backoff, never below what Railway asked for. */
        int sleep_ms = r.retry_after_ms ? wait_ms : (int)random_below((uint64_t)wait_ms) + 250;
        enum rh_status s = job_sleep(f->run, sleep_ms);
        if (s != RH_OK) {
            st = flow_stop_with(f, s);
            break;
        }
        backoff_ms *= 2;
    }
    cJSON_Delete(vars);
    if (st == RH_OK) {
        f->res->status = RH_OK;
        f->res->code[0] = '\0';
        f->res->message[0] = '\0';
        cJSON_Delete(f->res->details);
        f->res->details = NULL;
    }
    return st;
}

/* ---- services table (the worker's own connection) ---- */

enum rh_status flow_db(struct flow *f, enum rh_status st, const char *err)
{
    if (st != RH_OK)
        return job_result_fail(f->res, RH_TRANSIENT, "database", "%s", err);
    return RH_OK;
}

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
    if ((st = flow_service_find(f, name, &found)) != RH_OK)
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

/* ---- Railway steps shared by the flows ---- */

/* Finds a service named name in the project: *id (free()) or NULL. Reads every page: a
 * service past the first page must still be found, or a resumed provision creates a twin. */
enum rh_status flow_service_find(struct flow *f, const char *name, char **id)
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
            if (cJSON_IsString(n) && cJSON_IsString(i) && strcmp(n->valuestring, name) == 0) {
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
    return st;
}

static enum rh_status deploy_now(struct flow *f, const char *service_id, const char *commit_sha,
                                 char **deployment_id)
{
    cJSON *vars = cJSON_CreateObject();
    cJSON_AddStringToObject(vars, "serviceId", service_id);
    cJSON_AddStringToObject(vars, "environmentId", f->fl->cfg->railway_environment_id);
    if (commit_sha)
        cJSON_AddStringToObject(vars, "commitSha", commit_sha);
    cJSON *data = NULL;
    enum rh_status st = flow_call(f, RAILWAY_OP_SERVICE_INSTANCE_DEPLOY, vars, 0, &data);
    if (st != RH_OK)
        return st;
    const cJSON *id = cJSON_GetObjectItem(data, "serviceInstanceDeployV2");
    if (!cJSON_IsString(id)) {
        cJSON_Delete(data);
        return job_result_fail(f->res, RH_TRANSIENT, railway_error_name(RAILWAY_ERR_BAD_RESPONSE),
                               "serviceInstanceDeployV2 returned no deployment id");
    }
    *deployment_id = xstrdup(id->valuestring);
    cJSON_Delete(data);
    return RH_OK;
}

/* The newest deployments of a service (new array of nodes, caller deletes). */
enum rh_status flow_deployments_list(struct flow *f, const char *service_id, int first,
                                     cJSON **nodes)
{
    *nodes = cJSON_CreateArray();
    cJSON *vars = cJSON_CreateObject();
    cJSON *input = cJSON_AddObjectToObject(vars, "input");
    cJSON_AddStringToObject(input, "serviceId", service_id);
    cJSON_AddStringToObject(input, "environmentId", f->fl->cfg->railway_environment_id);
    cJSON_AddNumberToObject(vars, "first", first);
    cJSON *data = NULL;
    enum rh_status st = flow_call(f, RAILWAY_OP_SERVICE_DEPLOYMENTS, vars, 0, &data);
    if (st != RH_OK)
        return st;
    const cJSON *edges = cJSON_GetObjectItem(cJSON_GetObjectItem(data, "deployments"), "edges");
    const cJSON *e;
    cJSON_ArrayForEach(e, edges)
    {
        const cJSON *node = cJSON_GetObjectItem(e, "node");
        if (cJSON_IsString(cJSON_GetObjectItem(node, "id")))
            cJSON_AddItemToArray(*nodes, cJSON_Duplicate(node, 1));
    }
    cJSON_Delete(data);
    return RH_OK;
}

static bool status_is_failure(const char *s)
{
    return strcmp(s, "FAILED") == 0 || strcmp(s, "CRASHED") == 0 || strcmp(s, "REMOVED") == 0 ||
           strcmp(s, "SKIPPED") == 0;
}

/* Polls a deployment until it succeeds, fails or the deadline (saved at the deploy step, so
 * a resumed run keeps it) passes, backing off from DEPLOY_POLL_MIN_MS to DEPLOY_POLL_MAX_MS
 * with jitter. */
static enum rh_status wait_deployment(struct flow *f, const char *deploy_step,
                                      const char *deployment_id, char *final_status,
                                      size_t final_len)
{
    const struct config *cfg = f->fl->cfg;
    const cJSON *at = cJSON_GetObjectItem(job_step_get(f->run, deploy_step), "at_ms");
    int64_t started = cJSON_IsNumber(at) ? (int64_t)at->valuedouble : time_wall_ms();
    int64_t deadline = started + (int64_t)cfg->deploy_timeout_s * 1000;
    int interval = cfg->deploy_poll_min_ms;
    char last[32] = "";
    for (;;) {
        /* Sleep first: a deployment that just started is never finished yet. */
        int jittered =
            interval - interval / 5 + (int)random_below((uint64_t)(interval / 5 * 2 + 1));
        enum rh_status s = job_sleep(f->run, jittered);
        if (s != RH_OK)
            return flow_stop_with(f, s);
        cJSON *vars = cJSON_CreateObject();
        cJSON_AddStringToObject(vars, "id", deployment_id);
        cJSON *data = NULL;
        enum rh_status st = flow_call(f, RAILWAY_OP_DEPLOYMENT, vars, 0, &data);
        if (st != RH_OK)
            return st;
        const cJSON *status =
            cJSON_GetObjectItem(cJSON_GetObjectItem(data, "deployment"), "status");
        const char *sv = cJSON_IsString(status) ? status->valuestring : "UNKNOWN";
        snprintf(final_status, final_len, "%s", sv);
        if (strcmp(sv, last) != 0) {
            job_set_railway(f->run, NULL, deployment_id, sv);
            cJSON *d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "deployment_id", deployment_id);
            cJSON_AddStringToObject(d, "status", sv);
            char msg[96];
            snprintf(msg, sizeof(msg), "deployment %s", sv);
            job_event(f->run, "info", msg, d);
            cJSON_Delete(d);
            snprintf(last, sizeof(last), "%s", sv);
        }
        cJSON_Delete(data);
        if (strcmp(final_status, "SUCCESS") == 0)
            return RH_OK;
        if (status_is_failure(final_status))
            return job_result_fail(f->res, RH_PERMANENT, "deploy_failed", "deployment %s ended %s",
                                   deployment_id, final_status);
        if (time_wall_ms() > deadline)
            return job_result_fail(f->res, RH_PERMANENT, "deploy_timeout",
                                   "deployment %s still %s after DEPLOY_TIMEOUT_S=%d",
                                   deployment_id, final_status, cfg->deploy_timeout_s);
        interval = interval * 2 > cfg->deploy_poll_max_ms ? cfg->deploy_poll_max_ms : interval * 2;
    }
}

/* The service's id as railhook recorded it: the manifest's own service, or (a job without a
 * manifest, such as a redeploy) the tracked service of that name. Never a service looked up by
 * name in the project: railhook acts only on what it created. */
enum rh_status flow_service_resolve(struct flow *f, const char *name, char **id)
{
    char err[256];
    const char *manifest = flow_payload_str(f->job, "manifest_id");
    return flow_db(
        f, store_service_railway_id(job_db(f->run), manifest, name, id, err, sizeof(err)), err);
}

enum rh_status flow_variables_upsert(struct flow *f, const char *service_id, const cJSON *values)
{
    const struct config *cfg = f->fl->cfg;
    cJSON *vars = cJSON_CreateObject();
    cJSON *input = cJSON_AddObjectToObject(vars, "input");
    cJSON_AddStringToObject(input, "projectId", cfg->railway_project_id);
    cJSON_AddStringToObject(input, "environmentId", cfg->railway_environment_id);
    cJSON_AddStringToObject(input, "serviceId", service_id);
    cJSON_AddItemToObject(input, "variables", cJSON_Duplicate(values, 1));
    cJSON_AddBoolToObject(input, "skipDeploys", true);
    return flow_call(f, RAILWAY_OP_VARIABLE_COLLECTION_UPSERT, vars, 0, NULL);
}

/* Follows the deployment a fresh connection started, or starts one. */
static enum rh_status start_deployment(struct flow *f, const char *service_id, bool fresh,
                                       const char *commit_sha, char **deployment_id)
{
    *deployment_id = NULL;
    const char *via = flow_step_str(f, "connect", "via");
    if (fresh && via && strcmp(via, "connect") == 0) {
        cJSON *nodes = NULL;
        enum rh_status st = flow_deployments_list(f, service_id, 1, &nodes);
        if (st != RH_OK) {
            cJSON_Delete(nodes);
            return st;
        }
        const cJSON *id = cJSON_GetObjectItem(cJSON_GetArrayItem(nodes, 0), "id");
        if (cJSON_IsString(id)) {
            *deployment_id = xstrdup(id->valuestring);
            job_event(f->run, "info", "following the deployment that connecting started", NULL);
        }
        cJSON_Delete(nodes);
        if (*deployment_id)
            return RH_OK;
    }
    return deploy_now(f, service_id, commit_sha, deployment_id);
}

enum rh_status flow_deploy_and_wait(struct flow *f, const char *name, const char *service_id,
                                    bool fresh, const char *commit_sha, const cJSON *digests)
{
    enum rh_status st = flow_stop_with(f, job_checkpoint(f->run, "deploy"));
    if (st != RH_OK)
        return st;
    const char *dep = flow_step_str(f, "deploy", "deployment_id");
    char *owned = NULL;
    if (!dep) {
        st = start_deployment(f, service_id, fresh, commit_sha, &owned);
        if (st != RH_OK)
            return st;
        st = flow_step_save(f, "deploy", "deployment_id", owned, NULL);
        if (st != RH_OK) {
            free(owned);
            return flow_stop_with(f, st);
        }
        job_set_railway(f->run, service_id, owned, "QUEUED");
        dep = owned;
    }
    char *dep_copy = xstrdup(dep);
    free(owned);
    st = flow_stop_with(f, job_checkpoint(f->run, "wait_deploy"));
    char final[32] = "";
    if (st == RH_OK)
        st = wait_deployment(f, "deploy", dep_copy, final, sizeof(final));
    if (st == RH_PERMANENT) {
        /* A retry of this job deploys anew instead of watching the failed deployment. */
        job_step_save(f->run, "deploy", NULL);
    }
    if (st == RH_OK || f->res->status == RH_PERMANENT) {
        char err[256];
        enum rh_status s = flow_db(f,
                                   store_service_deployed(job_db(f->run), name, dep_copy, final,
                                                          f->job->id, digests, err, sizeof(err)),
                                   err);
        if (st == RH_OK)
            st = s;
    }
    free(dep_copy);
    return st;
}

/* ---- the prologue ---- */

void flow_init(struct flow *f, void *ctx, struct job_run *run, const struct job *job,
               struct job_result *res)
{
    memset(f, 0, sizeof(*f));
    f->fl = ctx;
    f->run = run;
    f->job = job;
    f->res = res;
    f->rc = thread_client(f->fl);
}

enum rh_status flow_begin(struct flow *f, void *ctx, struct job_run *run, const struct job *job,
                          struct job_result *res, const char *first_step, bool with_record)
{
    char err[300];
    flow_init(f, ctx, run, job, res);
    enum rh_status st = flow_stop_with(f, job_checkpoint(run, first_step));
    if (st != RH_OK)
        goto out;
    const cJSON *record = cJSON_GetObjectItem(job->payload, "record");
    if (!job->service_name || (with_record && !cJSON_IsObject(record))) {
        st = job_result_fail(res, RH_PERMANENT, "invalid_payload", "%s job needs a service name%s",
                             job->kind, with_record ? " and a record" : "");
        goto out;
    }
    if (!with_record)
        goto out;
    if (variables_render(f->fl->templates, record, &f->values, err, sizeof(err)) != RH_OK) {
        st = job_result_fail(res, RH_PERMANENT, "invalid_variables", "%s", err);
        goto out;
    }
    f->digests = variables_digests(f->values);
out:
    return st;
}

void flow_end(struct flow *f)
{
    cJSON_Delete(f->values);
    cJSON_Delete(f->digests);
    f->values = NULL;
    f->digests = NULL;
}
