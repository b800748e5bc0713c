/* Deployments: listing a service's deployments, following the one Railway starts by itself,
 * starting one only when it will not (never two), waiting until it ends (parked, holding no
 * worker: the watcher of flows/watch.c wakes the job), and the build or deploy log's tail of a
 * failed one. Runs on worker threads, with nothing shared beyond the struct flow of one run;
 * short waits sleep through job_sleep(), so a stop or lease loss ends them. */
#include "flows/flows_int.h"

#include "util/redact.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- deployments: follow the one Railway starts, start one only when it will not ---- */

/* Lines of a failed deployment's log kept with the failure. */
#define LOG_TAIL_LINES 30
/* Deployments read to find a new one (Railway lists the newest first). */
#define LOOKUP_FIRST 10
/* Longest pause between two look-ups for a deployment Railway is expected to start. */
#define LOOKUP_MAX_PAUSE_MS 30000
/* How long to look for the deployment a deploy mutation whose answer was lost created. */
#define LOST_ANSWER_LOOKUP_S 8
/* Sends of the deploy mutation inside a run (each after a look-up found nothing). */
#define DEPLOY_SENDS 3

/* How railhook reads a deployment status (docs/operations.md has the table). */
enum deploy_class {
    DEPLOY_PENDING, /* INITIALIZING, QUEUED, WAITING, NEEDS_APPROVAL, BUILDING, DEPLOYING, ... */
    DEPLOY_HEALTHY, /* SUCCESS, SLEEPING */
    DEPLOY_FAILED,  /* FAILED, CRASHED */
    DEPLOY_SKIPPED, /* SKIPPED: Railway decided not to deploy the change */
    DEPLOY_REMOVED, /* REMOVING, REMOVED: superseded, cancelled or removed */
};

static enum deploy_class deploy_status_class(const char *s)
{
    if (strcmp(s, "SUCCESS") == 0 || strcmp(s, "SLEEPING") == 0)
        return DEPLOY_HEALTHY;
    if (strcmp(s, "FAILED") == 0 || strcmp(s, "CRASHED") == 0)
        return DEPLOY_FAILED;
    if (strcmp(s, "SKIPPED") == 0)
        return DEPLOY_SKIPPED;
    if (strcmp(s, "REMOVED") == 0 || strcmp(s, "REMOVING") == 0)
        return DEPLOY_REMOVED;
    return DEPLOY_PENDING;
}

/* Why a deployment in status s is not done yet, for the event that says so. */
static const char *deploy_pending_reason(const char *s)
{
    if (strcmp(s, "WAITING") == 0)
        return "Railway waits for the commit's CI checks before building";
    if (strcmp(s, "QUEUED") == 0)
        return "Railway queued the deployment";
    if (strcmp(s, "NEEDS_APPROVAL") == 0)
        return "a member of the Railway project must approve the deployment";
    if (strcmp(s, "INITIALIZING") == 0 || strcmp(s, "BUILDING") == 0 || strcmp(s, "DEPLOYING") == 0)
        return "in progress";
    return "status railhook does not know; still waiting";
}

static const char *node_str(const cJSON *node, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(node, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *meta_str(const cJSON *node, const char *key)
{
    return node_str(cJSON_GetObjectItemCaseSensitive(node, "meta"), key);
}

/* True when id is one of the comma-separated ids of list. */
static bool id_listed(const char *list, const char *id)
{
    size_t n = strlen(id);
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && strncmp(p, id, n) == 0)
            return true;
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

enum rh_status flow_deployment_baseline(struct flow *f, const char *service_id, char **ids)
{
    cJSON *nodes = NULL;
    struct buf b;
    buf_init(&b, 0);
    enum rh_status st = flow_deployments_list(f, service_id, LOOKUP_FIRST, &nodes);
    const cJSON *n;
    cJSON_ArrayForEach(n, nodes)
    {
        buf_printf(&b, "%s%s", b.len ? "," : "", node_str(n, "id"));
    }
    cJSON_Delete(nodes);
    *ids = xstrdup(b.len ? b.data : "");
    buf_free(&b);
    return st;
}

/* The newest of nodes that is not in baseline (NULL: any) and of commit sha (NULL: any); with
 * after (a deployment's createdAt), only one created later than it. NULL when none is. */
static const cJSON *deployment_pick(const cJSON *nodes, const char *baseline, const char *sha,
                                    const char *after)
{
    const cJSON *best = NULL, *n;
    cJSON_ArrayForEach(n, nodes)
    {
        const char *id = node_str(n, "id"), *created = node_str(n, "createdAt");
        const char *hash = meta_str(n, "commitHash");
        if (baseline && id_listed(baseline, id))
            continue;
        if (sha && (!hash || strcmp(hash, sha) != 0))
            continue;
        /* Railway's order is undocumented: compare the server's createdAt (ISO 8601, UTC). */
        if (after && (!created || strcmp(created, after) <= 0))
            continue;
        const char *bc = best ? node_str(best, "createdAt") : NULL;
        if (!best || (created && bc && strcmp(created, bc) > 0))
            best = n;
    }
    return best;
}

enum rh_status flow_deployment_await(struct flow *f, const char *service_id, const char *baseline,
                                     const char *sha, int64_t since_ms, int wait_s, char **id)
{
    *id = NULL;
    int64_t deadline = since_ms + (int64_t)wait_s * 1000;
    int pause = 1000;
    for (;;) {
        cJSON *nodes = NULL;
        enum rh_status st = flow_deployments_list(f, service_id, LOOKUP_FIRST, &nodes);
        const cJSON *n = st == RH_OK ? deployment_pick(nodes, baseline, sha, NULL) : NULL;
        if (n)
            *id = xstrdup(node_str(n, "id"));
        cJSON_Delete(nodes);
        if (st != RH_OK || *id)
            return st;
        int64_t left = deadline - time_wall_ms();
        if (left <= 0)
            return RH_OK;
        int nap = pause < left ? pause : (int)left;
        if ((st = flow_stop_with(f, job_sleep(f->run, nap))) != RH_OK)
            return st;
        pause = pause * 2 > LOOKUP_MAX_PAUSE_MS ? LOOKUP_MAX_PAUSE_MS : pause * 2;
    }
}

/* Sends the deploy mutation once; RH_TRANSIENT when its answer was lost (it may have worked). */
static enum rh_status deploy_send(struct flow *f, const char *service_id, const char *commit_sha,
                                  char **deployment_id)
{
    cJSON *vars = cJSON_CreateObject();
    cJSON_AddStringToObject(vars, "serviceId", service_id);
    cJSON_AddStringToObject(vars, "environmentId", f->fl->cfg->railway_environment_id);
    if (commit_sha)
        cJSON_AddStringToObject(vars, "commitSha", commit_sha);
    cJSON *data = NULL;
    enum rh_status st =
        flow_call(f, RAILWAY_OP_SERVICE_INSTANCE_DEPLOY, vars, FLOW_CALL_ONCE, &data);
    if (st != RH_OK)
        return st;
    const cJSON *id = cJSON_GetObjectItem(data, "serviceInstanceDeployV2");
    if (cJSON_IsString(id))
        *deployment_id = xstrdup(id->valuestring);
    else
        st = job_result_fail(f->res, RH_TRANSIENT, railway_error_name(RAILWAY_ERR_BAD_RESPONSE),
                             "serviceInstanceDeployV2 returned no deployment id");
    cJSON_Delete(data);
    return st;
}

/* Starts a deployment, never two: the ids Railway listed before are saved ("deploy_sent")
 * before the mutation is sent, and when an answer is lost (now or in an earlier run) a
 * deployment that is not among them is adopted instead of sending again. */
static enum rh_status deploy_start(struct flow *f, const char *service_id, const char *commit_sha,
                                   char **deployment_id)
{
    *deployment_id = NULL;
    enum rh_status st = RH_OK;
    char *baseline = NULL;
    const char *saved = flow_step_str(f, "deploy_sent", "baseline");
    if (saved) {
        /* An earlier run sent the mutation and lost the answer: look before sending again. */
        baseline = xstrdup(saved);
        st = flow_deployment_await(f, service_id, baseline, commit_sha, time_wall_ms(), 0,
                                   deployment_id);
        if (st != RH_OK || *deployment_id)
            goto adopted;
    } else {
        if ((st = flow_deployment_baseline(f, service_id, &baseline)) != RH_OK)
            goto out;
        st = flow_step_save(f, "deploy_sent", "baseline", baseline, NULL);
        if (st != RH_OK) {
            flow_stop_with(f, st);
            goto out;
        }
    }
    for (int send = 1; send <= DEPLOY_SENDS; send++) {
        st = deploy_send(f, service_id, commit_sha, deployment_id);
        if (st != RH_TRANSIENT)
            goto out;
        /* The deployment may exist all the same: adopt it rather than build twice. */
        st = flow_deployment_await(f, service_id, baseline, commit_sha, time_wall_ms(),
                                   LOST_ANSWER_LOOKUP_S, deployment_id);
        if (st != RH_OK || *deployment_id)
            goto adopted;
    }
    st = f->res->status == RH_OK ? job_result_fail(f->res, RH_TRANSIENT, "deploy_unanswered",
                                                   "the deploy mutation got no answer")
                                 : f->res->status;
    goto out;
adopted:
    if (st == RH_OK && *deployment_id) {
        /* The lost answer's failure is not the run's result. */
        f->res->status = RH_OK;
        f->res->code[0] = '\0';
        f->res->message[0] = '\0';
        cJSON_Delete(f->res->details);
        f->res->details = NULL;
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "deployment_id", *deployment_id);
        job_event(f->run, "info",
                  "adopting the deployment a deploy request with a lost answer created", d);
        cJSON_Delete(d);
    }
out:
    free(baseline);
    return st;
}

/* The tail of a failed deployment's build log (its runtime log when it crashed), redacted, as
 * an array of lines; NULL when Railway did not give it. One request, never retried. */
static cJSON *deployment_log_tail(struct flow *f, const char *deployment_id, bool crashed)
{
    cJSON *vars = cJSON_CreateObject();
    cJSON_AddStringToObject(vars, "deploymentId", deployment_id);
    cJSON_AddNumberToObject(vars, "limit", LOG_TAIL_LINES);
    cJSON *data = NULL;
    enum railway_op op = crashed ? RAILWAY_OP_DEPLOYMENT_LOGS : RAILWAY_OP_BUILD_LOGS;
    if (flow_call(f, op, vars, FLOW_CALL_ONCE, &data) != RH_OK)
        return NULL;
    const cJSON *logs = cJSON_GetObjectItem(data, crashed ? "deploymentLogs" : "buildLogs");
    int n = cJSON_GetArraySize(logs);
    cJSON *lines = cJSON_CreateArray();
    /* Railway may answer one line more than the limit: keep the newest LOG_TAIL_LINES. */
    for (int i = n > LOG_TAIL_LINES ? n - LOG_TAIL_LINES : 0; i < n; i++) {
        const char *m = node_str(cJSON_GetArrayItem(logs, i), "message");
        if (!m)
            continue;
        char *clean = redact_string(m);
        cJSON_AddItemToArray(lines, cJSON_CreateString(clean));
        free(clean);
    }
    cJSON_Delete(data);
    return lines;
}

/* Fails the run for a deployment that ended FAILED or CRASHED, with its log tail. */
static enum rh_status deploy_failed(struct flow *f, const char *deployment_id, const char *status)
{
    cJSON *lines = deployment_log_tail(f, deployment_id, strcmp(status, "CRASHED") == 0);
    job_result_fail(f->res, RH_PERMANENT, "deploy_failed", "deployment %s ended %s%s",
                    deployment_id, status, lines ? "; the log's tail is in the details" : "");
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "deployment_id", deployment_id);
    cJSON_AddStringToObject(d, "status", status);
    cJSON_AddStringToObject(d, "log_kind", strcmp(status, "CRASHED") == 0 ? "deploy" : "build");
    if (lines)
        cJSON_AddItemToObject(d, "log", lines);
    cJSON_Delete(f->res->details);
    f->res->details = d;
    return RH_PERMANENT;
}

/* A deployment of the service other than deployment_id, created after created_at (free()),
 * or NULL. */
static enum rh_status deployment_successor(struct flow *f, const char *service_id,
                                           const char *deployment_id, const char *created_at,
                                           char **newer)
{
    *newer = NULL;
    cJSON *nodes = NULL;
    enum rh_status st = flow_deployments_list(f, service_id, LOOKUP_FIRST, &nodes);
    const cJSON *n = st == RH_OK ? deployment_pick(nodes, deployment_id, NULL, created_at) : NULL;
    if (n)
        *newer = xstrdup(node_str(n, "id"));
    cJSON_Delete(nodes);
    return st;
}

/* Parks the job until the watcher (flows/watch.c) sees the deployment's status differ from
 * last ("" none yet) or the deadline passes: the worker is free meanwhile. */
static enum rh_status deployment_park(struct flow *f, const char *deployment, const char *last,
                                      int64_t deadline)
{
    char on[96], step[160];
    snprintf(on, sizeof(on), "deployment:%s", deployment);
    if (*last)
        snprintf(step, sizeof(step), "waiting for deployment %s (%s)", deployment, last);
    else
        snprintf(step, sizeof(step), "waiting for deployment %s", deployment);
    return flow_stop_with(f, job_park(f->run, on, last, step, deadline));
}

/* The deployment as the watcher woke the job with it (new object), or NULL when this run did
 * not follow a wake about it, or the watcher could not read it (the run reads it itself). */
static cJSON *deployment_woken(struct flow *f, const char *deployment)
{
    const char *woken = job_woken_with(f->run);
    cJSON *v = woken ? cJSON_Parse(woken) : NULL;
    const char *id = node_str(v, "id");
    if (!id || strcmp(id, deployment) != 0 || !node_str(v, "status")) {
        cJSON_Delete(v);
        return NULL;
    }
    return v;
}

/* Follows the deployment saved in the "deploy" step until Railway says how it ended or the
 * deadline (from when that step was saved, so a resumed run keeps it) passes. Between looks
 * the job parks on "deployment:<id>" (job_park()), holding no worker; the watcher wakes it
 * with the deployment's new status, or the deadline does (then this run reads it once). A
 * deployment superseded by a newer one of the same service hands over to that one. final
 * receives the last status. */
static enum rh_status wait_deployment(struct flow *f, const char *service_id, char **deployment,
                                      char *final_status, size_t final_len)
{
    const struct config *cfg = f->fl->cfg;
    char last[32] = "";
    bool woken = job_woken_with(f->run) != NULL;
    for (;;) {
        const cJSON *at = cJSON_GetObjectItem(job_step_get(f->run, "deploy"), "at_ms");
        int64_t started = cJSON_IsNumber(at) ? (int64_t)at->valuedouble : time_wall_ms();
        int64_t deadline = started + (int64_t)cfg->deploy_timeout_s * 1000;
        cJSON *data = woken ? deployment_woken(f, *deployment) : NULL;
        const cJSON *node = data;
        enum rh_status st;
        if (!node && !woken && time_wall_ms() <= deadline)
            return deployment_park(f, *deployment, last, deadline);
        woken = false;
        if (!node) {
            /* The deadline passed, or the watcher could not read it: look once. */
            cJSON *vars = cJSON_CreateObject();
            cJSON_AddStringToObject(vars, "id", *deployment);
            if ((st = flow_call(f, RAILWAY_OP_DEPLOYMENT, vars, 0, &data)) != RH_OK)
                return st;
            node = cJSON_GetObjectItem(data, "deployment");
        }
        const char *sv = node_str(node, "status") ? node_str(node, "status") : "UNKNOWN";
        snprintf(final_status, final_len, "%s", sv);
        char created[64];
        snprintf(created, sizeof(created), "%s",
                 node_str(node, "createdAt") ? node_str(node, "createdAt") : "");
        enum deploy_class cls = deploy_status_class(sv);
        if (strcmp(sv, last) != 0) {
            cJSON *d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "deployment_id", *deployment);
            cJSON_AddStringToObject(d, "status", sv);
            const char *why =
                meta_str(node, strcmp(sv, "SKIPPED") == 0 ? "skippedReason" : "queuedReason");
            if (why)
                cJSON_AddStringToObject(d, "reason", why);
            snprintf(f->deploy_reason, sizeof(f->deploy_reason), "%s", why ? why : "");
            char msg[160];
            if (cls == DEPLOY_PENDING)
                snprintf(msg, sizeof(msg), "deployment %s: %s", sv, deploy_pending_reason(sv));
            else
                snprintf(msg, sizeof(msg), "deployment %s", sv);
            job_set_deployment(f->run, *deployment, sv, msg, d);
            cJSON_Delete(d);
            snprintf(last, sizeof(last), "%s", sv);
        }
        cJSON_Delete(data);
        if (cls == DEPLOY_HEALTHY || cls == DEPLOY_SKIPPED)
            return RH_OK;
        if (cls == DEPLOY_FAILED)
            return deploy_failed(f, *deployment, final_status);
        if (cls == DEPLOY_REMOVED) {
            /* Superseded by a newer deployment of the service: that one carries the change. */
            char *newer = NULL;
            if ((st = deployment_successor(f, service_id, *deployment, created, &newer)) != RH_OK)
                return st;
            if (newer) {
                cJSON *d = cJSON_CreateObject();
                cJSON_AddStringToObject(d, "deployment_id", *deployment);
                cJSON_AddStringToObject(d, "superseded_by", newer);
                job_event(f->run, "info", "deployment superseded; following the newer one", d);
                cJSON_Delete(d);
                free(*deployment);
                *deployment = newer;
                if ((st = flow_stop_with(
                         f, flow_step_save(f, "deploy", "deployment_id", newer, NULL))) != RH_OK)
                    return st;
                last[0] = '\0';
                continue;
            }
            if (strcmp(final_status, "REMOVED") == 0)
                return job_result_fail(f->res, RH_PERMANENT, "deploy_removed",
                                       "deployment %s was removed in Railway before it succeeded, "
                                       "and no newer one replaced it; the service is kept",
                                       *deployment);
        }
        if (time_wall_ms() > deadline) {
            /* Railway may still bring it up: keep the service and let a retry follow it. */
            flow_step_save(f, "deploy", "deployment_id", *deployment, "timed_out", "true", NULL);
            return job_result_fail(f->res, RH_PERMANENT, "deploy_timeout",
                                   "deployment %s still %s after DEPLOY_TIMEOUT_S=%d; the service "
                                   "is kept and a retry follows the same deployment",
                                   *deployment, final_status, cfg->deploy_timeout_s);
        }
    }
}

enum rh_status flow_deploy_and_wait(struct flow *f, const char *name, const char *service_id,
                                    const char *commit_sha, const cJSON *digests)
{
    char *dep = NULL;
    char final[32] = "";
    f->deploy_status[0] = '\0';
    f->deploy_reason[0] = '\0';
    enum rh_status st = flow_stop_with(f, job_checkpoint(f->run, "deploy"));
    if (st != RH_OK)
        goto out;
    const char *saved = flow_step_str(f, "deploy", "deployment_id");
    if (saved) {
        dep = xstrdup(saved);
        if (flow_step_str(f, "deploy", "timed_out")) {
            /* A retry after a timeout: follow the same deployment, with a new deadline. */
            if ((st = flow_stop_with(f, flow_step_save(f, "deploy", "deployment_id", dep, NULL))) !=
                RH_OK)
                goto out;
            job_event(f->run, "info", "following the deployment that timed out before", NULL);
        }
    } else {
        if ((st = deploy_start(f, service_id, commit_sha, &dep)) != RH_OK)
            goto out;
        if ((st = flow_stop_with(f, flow_step_save(f, "deploy", "deployment_id", dep, NULL))) !=
            RH_OK)
            goto out;
        job_set_railway(f->run, service_id, dep, "QUEUED");
    }
    if ((st = flow_stop_with(f, job_checkpoint(f->run, "wait_deploy"))) != RH_OK)
        goto out;
    st = wait_deployment(f, service_id, &dep, final, sizeof(final));
    if (st == RH_PERMANENT && strcmp(f->res->code, "deploy_failed") == 0) {
        /* A retry of this job deploys anew instead of watching the failed deployment. */
        job_step_save(f->run, "deploy", NULL);
        job_step_save(f->run, "deploy_sent", NULL);
    }
    if (st == RH_OK || f->res->status == RH_PERMANENT) {
        char err[256];
        enum rh_status s = flow_db(f,
                                   store_service_deployed(job_db(f->run), name, dep, final,
                                                          f->job->id, digests, err, sizeof(err)),
                                   err);
        if (s == RH_OK && strcmp(final, "SLEEPING") == 0)
            s = flow_db(f,
                        store_service_status_set(job_db(f->run), name, "active", f->job->id, err,
                                                 sizeof(err)),
                        err);
        if (st == RH_OK)
            st = s;
    }
    if (st == RH_OK)
        snprintf(f->deploy_status, sizeof(f->deploy_status), "%s", final);
    if (st == RH_OK && strcmp(final, "SKIPPED") == 0) {
        /* Watch paths matched nothing or CI checks failed: Railway chose not to deploy. */
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "deployment_id", dep);
        cJSON_AddStringToObject(d, "outcome", "skipped");
        if (*f->deploy_reason)
            cJSON_AddStringToObject(d, "reason", f->deploy_reason);
        job_event(f->run, "info", "skipped: Railway did not deploy the change", d);
        cJSON_Delete(d);
    }
out:
    free(dep);
    return st;
}
