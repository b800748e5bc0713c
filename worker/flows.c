/* The Railway flows: each job kind as a sequence of idempotent, recorded steps.
 *
 * Threading: one struct flows is shared by every worker thread and is read-only after
 * flows_new(), except the rate limiter, which has its own lock. Each worker thread gets its
 * own Railway client (and curl handle) through a thread-specific key, freed when the thread
 * ends. A flow's state lives in the job row (job_step_save), never in memory across runs, so
 * a run after a crash resumes where the last one stopped. */
#include "worker/flows.h"

#include "store/store.h"
#include "util/log.h"
#include "util/util.h"
#include "worker/job.h"
#include "worker/pool.h"
#include "worker/variables.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tries of one idempotent Railway call inside a run before the job is handed back. */
#define CALL_TRIES 4
/* Longest wait for the shared rate limiter inside a run. */
#define LIMITER_WAIT_MS 30000
/* How long to wait for Railway to create a new service's instance. */
#define INSTANCE_WAIT_MS 60000

struct flows {
    const struct config *cfg;
    struct railway_limiter *lim;
    cJSON *templates;
    pthread_key_t client_key;
    struct job_handler handlers[4];
};

/* One run of one job. */
struct flow {
    struct flows *fl;
    struct job_run *run;
    const struct job *job;
    struct job_result *res;
    struct railway_client *rc;
    char not_found[512]; /* Railway's message of the last quiet "not found" answer */
};

static void free_client(void *p)
{
    railway_client_free(p);
}

static struct railway_client *thread_client(struct flows *fl)
{
    struct railway_client *c = pthread_getspecific(fl->client_key);
    if (!c) {
        c = railway_client_new(fl->cfg, fl->lim);
        pthread_setspecific(fl->client_key, c);
    }
    return c;
}

static const char *payload_str(const struct job *job, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(job->payload, key);
    return cJSON_IsString(v) && *v->valuestring ? v->valuestring : NULL;
}

static const char *step_str(struct flow *f, const char *step, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(job_step_get(f->run, step), key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool step_done(struct flow *f, const char *step)
{
    return job_step_get(f->run, step) != NULL;
}

/* Saves a step result built from key/value string pairs (NULL-terminated). */
static enum rh_status save_step(struct flow *f, const char *step, ...)
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
static enum rh_status stop_with(struct flow *f, enum rh_status st)
{
    if (st == RH_OK)
        return RH_OK;
    f->res->status = st;
    if (!*f->res->code)
        snprintf(f->res->code, sizeof(f->res->code), "%s", rh_status_name(st));
    return st;
}

#define CALL_QUIET_NOT_FOUND 1u /* "not found" is an answer the caller handles */
#define CALL_ONCE            2u /* not idempotent: never retried inside the run */

/* Sends one Railway operation; vars is consumed. On success *data (may be NULL) receives a
 * copy of the answer's data. On failure the run's result is filled and an event recorded;
 * returns RH_NOT_FOUND (quietly, with CALL_QUIET_NOT_FOUND) for Railway's "not found". */
static enum rh_status call(struct flow *f, const char *op, cJSON *vars, unsigned flags,
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
        bool not_found = strcmp(r.code, "railway_not_found") == 0;
        if (not_found && (flags & CALL_QUIET_NOT_FOUND)) {
            snprintf(f->not_found, sizeof(f->not_found), "%s", r.message);
            railway_result_free(&r);
            st = RH_NOT_FOUND;
            break;
        }
        cJSON *details = railway_result_details(op, &r);
        cJSON_AddNumberToObject(details, "try", attempt);
        char msg[700];
        snprintf(msg, sizeof(msg), "%s failed: %s", op, r.message);
        job_event(f->run, st == RH_TRANSIENT ? "warn" : "error", msg, details);
        int wait_ms = r.retry_after_ms > backoff_ms ? r.retry_after_ms : backoff_ms;
        bool retry = st == RH_TRANSIENT && !(flags & CALL_ONCE) && attempt < CALL_TRIES &&
                     strcmp(r.code, "railway_budget") != 0;
        f->res->status = st;
        snprintf(f->res->code, sizeof(f->res->code), "%s", r.code);
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
            st = stop_with(f, s);
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

static enum rh_status db_exec(struct flow *f, const char *sql, int n, const char *const *params)
{
    char err[256];
    enum rh_status st = store_exec_cmd(job_db(f->run), sql, n, params, err, sizeof(err));
    if (st != RH_OK)
        return job_result_fail(f->res, RH_TRANSIENT, "database", "%s", err);
    return RH_OK;
}

/* The Railway id railhook recorded for service name, or NULL (free()). */
static char *db_service_id(struct flow *f, const char *name)
{
    const char *p[] = {name};
    char err[256];
    PGresult *r = store_exec(job_db(f->run),
                             "SELECT railway_service_id FROM services "
                             "WHERE name = $1 AND status <> 'removed'",
                             1, p, err, sizeof(err));
    char *id = NULL;
    if (r && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        id = xstrdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return id;
}

static enum rh_status db_service_upsert(struct flow *f, const char *name, const char *service_id,
                                        const char *status)
{
    const struct config *cfg = f->fl->cfg;
    const char *p[] = {name,
                       payload_str(f->job, "manifest_id"),
                       service_id,
                       cfg->worker_repo,
                       cfg->worker_branch,
                       cfg->worker_root_dir,
                       status,
                       f->job->id};
    return db_exec(f,
                   "INSERT INTO services (name, manifest_id, railway_service_id, repo, branch,"
                   " root_dir, status, last_job_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                   " ON CONFLICT (name) DO UPDATE SET manifest_id = coalesce(EXCLUDED.manifest_id,"
                   " services.manifest_id), railway_service_id = EXCLUDED.railway_service_id,"
                   " repo = EXCLUDED.repo, branch = EXCLUDED.branch, root_dir = EXCLUDED.root_dir,"
                   " status = EXCLUDED.status, last_job_id = EXCLUDED.last_job_id,"
                   " updated_at = now()",
                   8, p);
}

static enum rh_status db_service_deployed(struct flow *f, const char *name,
                                          const char *deployment_id, const char *status,
                                          const cJSON *digests)
{
    char *vars = digests ? cJSON_PrintUnformatted(digests) : NULL;
    const char *p[] = {name, deployment_id, status, f->job->id, vars};
    enum rh_status st = db_exec(
        f,
        "UPDATE services SET last_deployment_id = $2, last_deployment_status = $3,"
        " last_job_id = $4, status = CASE WHEN $3 = 'SUCCESS' THEN 'active' ELSE status END,"
        " variables = coalesce($5::jsonb, variables), updated_at = now() WHERE name = $1",
        5, p);
    cJSON_free(vars);
    return st;
}

/* ---- Railway steps shared by the flows ---- */

/* Finds a service named name in the project: *id (free()) or NULL. Reads every page: a
 * service past the first page must still be found, or a resumed provision creates a twin. */
static enum rh_status find_service(struct flow *f, const char *name, char **id)
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
        st = call(f, "ProjectServices", vars, 0, &data);
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
    enum rh_status st = call(f, "ServiceInstanceDeploy", vars, 0, &data);
    if (st != RH_OK)
        return st;
    const cJSON *id = cJSON_GetObjectItem(data, "serviceInstanceDeployV2");
    if (!cJSON_IsString(id)) {
        cJSON_Delete(data);
        return job_result_fail(f->res, RH_TRANSIENT, "railway_bad_response",
                               "serviceInstanceDeployV2 returned no deployment id");
    }
    *deployment_id = xstrdup(id->valuestring);
    cJSON_Delete(data);
    return RH_OK;
}

/* The newest deployments of a service (new array of nodes, caller deletes). */
static enum rh_status list_deployments(struct flow *f, const char *service_id, int first,
                                       cJSON **nodes)
{
    *nodes = cJSON_CreateArray();
    cJSON *vars = cJSON_CreateObject();
    cJSON *input = cJSON_AddObjectToObject(vars, "input");
    cJSON_AddStringToObject(input, "serviceId", service_id);
    cJSON_AddStringToObject(input, "environmentId", f->fl->cfg->railway_environment_id);
    cJSON_AddNumberToObject(vars, "first", first);
    cJSON *data = NULL;
    enum rh_status st = call(f, "ServiceDeployments", vars, 0, &data);
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
            return stop_with(f, s);
        cJSON *vars = cJSON_CreateObject();
        cJSON_AddStringToObject(vars, "id", deployment_id);
        cJSON *data = NULL;
        enum rh_status st = call(f, "Deployment", vars, 0, &data);
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

/* ---- provision ---- */

static const char *const strategies[] = {"connect", "create-with-source", "deploy-trigger"};

static bool strategy_tried(struct flow *f, const char *s)
{
    const cJSON *failed = job_step_get(f->run, "connect_failed");
    return cJSON_GetObjectItemCaseSensitive(failed, s) != NULL;
}

static enum rh_status strategy_mark_failed(struct flow *f, const char *s)
{
    const cJSON *prev = job_step_get(f->run, "connect_failed");
    cJSON *failed = prev ? cJSON_Duplicate(prev, 1) : cJSON_CreateObject();
    cJSON_AddStringToObject(failed, s, f->res->message);
    enum rh_status st = job_step_save(f->run, "connect_failed", failed);
    cJSON_Delete(failed);
    char msg[128];
    snprintf(msg, sizeof(msg), "connect strategy %s failed; trying the next", s);
    job_event(f->run, "warn", msg, NULL);
    return st;
}

/* The next connect strategy to try, starting with CONNECT_STRATEGY, or NULL. */
static const char *next_strategy(struct flow *f, bool service_exists)
{
    const char *configured = f->fl->cfg->connect_strategy;
    if (!strategy_tried(f, configured) &&
        !(service_exists && strcmp(configured, "create-with-source") == 0))
        return configured;
    if (!f->fl->cfg->connect_fallback)
        return NULL;
    for (size_t i = 0; i < 3; i++) {
        if (strategy_tried(f, strategies[i]))
            continue;
        if (service_exists && strcmp(strategies[i], "create-with-source") == 0)
            continue;
        return strategies[i];
    }
    return NULL;
}

static enum rh_status provision_create(struct flow *f, const char *name, const cJSON *vars_values,
                                       char **service_id)
{
    const struct config *cfg = f->fl->cfg;
    for (;;) {
        const char *strategy = next_strategy(f, false);
        bool with_source = strategy && strcmp(strategy, "create-with-source") == 0;
        /* Mark the attempt first: a crash after Railway created the service but before we
         * saved its id must still let rollback know this job created it. */
        enum rh_status st = save_step(f, "create_started", "name", name, NULL);
        if (st != RH_OK)
            return stop_with(f, st);
        cJSON *vars = cJSON_CreateObject();
        cJSON *input = cJSON_AddObjectToObject(vars, "input");
        cJSON_AddStringToObject(input, "name", name);
        cJSON_AddStringToObject(input, "projectId", cfg->railway_project_id);
        cJSON_AddStringToObject(input, "environmentId", cfg->railway_environment_id);
        cJSON_AddItemToObject(input, "variables", cJSON_Duplicate(vars_values, 1));
        if (with_source) {
            cJSON *source = cJSON_AddObjectToObject(input, "source");
            cJSON_AddStringToObject(source, "repo", cfg->worker_repo);
            cJSON_AddStringToObject(input, "branch", cfg->worker_branch);
        }
        cJSON *data = NULL;
        st = call(f, "ServiceCreate", vars, CALL_ONCE, &data);
        if (st == RH_OK) {
            const cJSON *id = cJSON_GetObjectItem(cJSON_GetObjectItem(data, "serviceCreate"), "id");
            if (!cJSON_IsString(id)) {
                cJSON_Delete(data);
                return job_result_fail(f->res, RH_TRANSIENT, "railway_bad_response",
                                       "serviceCreate returned no id");
            }
            *service_id = xstrdup(id->valuestring);
            cJSON_Delete(data);
            st = save_step(f, "service", "id", *service_id, "created", "true", "connected_via",
                           with_source ? "create-with-source" : NULL, NULL);
            if (st != RH_OK)
                return stop_with(f, st);
            if (with_source) {
                st = save_step(f, "connect", "via", "create-with-source", NULL);
                if (st != RH_OK)
                    return stop_with(f, st);
                job_event(f->run, "info", "connected through create-with-source", NULL);
            }
            return RH_OK;
        }
        if (st == RH_PERMANENT && with_source && cfg->connect_fallback) {
            st = strategy_mark_failed(f, "create-with-source");
            if (st != RH_OK)
                return stop_with(f, st);
            continue;
        }
        if (st == RH_TRANSIENT) {
            /* The create may have happened anyway: look before trying again. */
            enum rh_status s = job_sleep(f->run, 1000);
            if (s != RH_OK)
                return stop_with(f, s);
            char *found = NULL;
            if (find_service(f, name, &found) != RH_OK)
                return f->res->status;
            if (found) {
                *service_id = found;
                st = save_step(f, "service", "id", found, "created", "true", NULL);
                return st == RH_OK ? RH_OK : stop_with(f, st);
            }
        }
        return st;
    }
}

static enum rh_status provision_connect(struct flow *f, const char *service_id)
{
    const struct config *cfg = f->fl->cfg;
    for (;;) {
        const char *strategy = next_strategy(f, true);
        if (!strategy)
            return f->res->status == RH_OK ? job_result_fail(f->res, RH_PERMANENT, "connect_failed",
                                                             "no connect strategy is left to try")
                                           : f->res->status;
        cJSON *vars = cJSON_CreateObject();
        const char *op;
        if (strcmp(strategy, "connect") == 0) {
            op = "ServiceConnect";
            cJSON_AddStringToObject(vars, "id", service_id);
            cJSON *input = cJSON_AddObjectToObject(vars, "input");
            cJSON_AddStringToObject(input, "repo", cfg->worker_repo);
            cJSON_AddStringToObject(input, "branch", cfg->worker_branch);
        } else {
            op = "DeploymentTriggerCreate";
            cJSON *input = cJSON_AddObjectToObject(vars, "input");
            cJSON_AddStringToObject(input, "serviceId", service_id);
            cJSON_AddStringToObject(input, "projectId", cfg->railway_project_id);
            cJSON_AddStringToObject(input, "environmentId", cfg->railway_environment_id);
            cJSON_AddStringToObject(input, "provider", "github");
            cJSON_AddStringToObject(input, "repository", cfg->worker_repo);
            cJSON_AddStringToObject(input, "branch", cfg->worker_branch);
            cJSON_AddStringToObject(input, "rootDirectory", cfg->worker_root_dir);
        }
        enum rh_status st = call(f, op, vars, 0, NULL);
        if (st == RH_OK) {
            st = save_step(f, "connect", "via", strategy, NULL);
            if (st != RH_OK)
                return stop_with(f, st);
            char msg[128];
            snprintf(msg, sizeof(msg), "connected to %s@%s through %s", cfg->worker_repo,
                     cfg->worker_branch, strategy);
            job_event(f->run, "info", msg, NULL);
            return RH_OK;
        }
        if (st != RH_PERMANENT || !cfg->connect_fallback)
            return st;
        st = strategy_mark_failed(f, strategy);
        if (st != RH_OK)
            return stop_with(f, st);
    }
}

static enum rh_status set_root_directory(struct flow *f, const char *service_id)
{
    const struct config *cfg = f->fl->cfg;
    int64_t deadline = time_mono_ms() + INSTANCE_WAIT_MS;
    int wait = 1000;
    for (;;) {
        cJSON *vars = cJSON_CreateObject();
        cJSON_AddStringToObject(vars, "serviceId", service_id);
        cJSON_AddStringToObject(vars, "environmentId", cfg->railway_environment_id);
        cJSON *input = cJSON_AddObjectToObject(vars, "input");
        cJSON_AddStringToObject(input, "rootDirectory", cfg->worker_root_dir);
        enum rh_status st = call(f, "ServiceInstanceUpdate", vars, CALL_QUIET_NOT_FOUND, NULL);
        if (st != RH_NOT_FOUND)
            return st;
        if (!strcasestr(f->not_found, "instance"))
            return job_result_fail(f->res, RH_PERMANENT, "railway_not_found",
                                   "ServiceInstanceUpdate failed: %s", f->not_found);
        /* Railway creates the instance asynchronously: "ServiceInstance not found" at first. */
        if (time_mono_ms() > deadline)
            return job_result_fail(f->res, RH_TRANSIENT, "instance_not_ready",
                                   "the service instance did not appear within %d s",
                                   INSTANCE_WAIT_MS / 1000);
        enum rh_status s = job_sleep(f->run, wait);
        if (s != RH_OK)
            return stop_with(f, s);
        wait = wait * 2 > 8000 ? 8000 : wait * 2;
    }
}

static enum rh_status upsert_variables(struct flow *f, const char *service_id, const cJSON *values)
{
    const struct config *cfg = f->fl->cfg;
    cJSON *vars = cJSON_CreateObject();
    cJSON *input = cJSON_AddObjectToObject(vars, "input");
    cJSON_AddStringToObject(input, "projectId", cfg->railway_project_id);
    cJSON_AddStringToObject(input, "environmentId", cfg->railway_environment_id);
    cJSON_AddStringToObject(input, "serviceId", service_id);
    cJSON_AddItemToObject(input, "variables", cJSON_Duplicate(values, 1));
    cJSON_AddBoolToObject(input, "skipDeploys", true);
    return call(f, "VariableCollectionUpsert", vars, 0, NULL);
}

/* Follows the deployment a fresh connection started, or starts one. */
static enum rh_status start_deployment(struct flow *f, const char *service_id, bool fresh,
                                       const char *commit_sha, char **deployment_id)
{
    *deployment_id = NULL;
    const char *via = step_str(f, "connect", "via");
    if (fresh && via && strcmp(via, "connect") == 0) {
        cJSON *nodes = NULL;
        enum rh_status st = list_deployments(f, service_id, 1, &nodes);
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

static enum rh_status render_variables(struct flow *f, const cJSON *record, cJSON **values)
{
    char err[300];
    if (variables_render(f->fl->templates, record, values, err, sizeof(err)) != RH_OK)
        return job_result_fail(f->res, RH_PERMANENT, "invalid_variables", "%s", err);
    return RH_OK;
}

static enum rh_status deploy_and_wait(struct flow *f, const char *name, const char *service_id,
                                      bool fresh, const char *commit_sha, const cJSON *digests)
{
    enum rh_status st = stop_with(f, job_checkpoint(f->run, "deploy"));
    if (st != RH_OK)
        return st;
    const char *dep = step_str(f, "deploy", "deployment_id");
    char *owned = NULL;
    if (!dep) {
        st = start_deployment(f, service_id, fresh, commit_sha, &owned);
        if (st != RH_OK)
            return st;
        st = save_step(f, "deploy", "deployment_id", owned, NULL);
        if (st != RH_OK) {
            free(owned);
            return stop_with(f, st);
        }
        job_set_railway(f->run, service_id, owned, "QUEUED");
        dep = owned;
    }
    char *dep_copy = xstrdup(dep);
    free(owned);
    st = stop_with(f, job_checkpoint(f->run, "wait_deploy"));
    char final[32] = "";
    if (st == RH_OK)
        st = wait_deployment(f, "deploy", dep_copy, final, sizeof(final));
    if (st == RH_PERMANENT) {
        /* A retry of this job deploys anew instead of watching the failed deployment. */
        job_step_save(f->run, "deploy", NULL);
    }
    if (st == RH_OK || f->res->status == RH_PERMANENT) {
        enum rh_status s = db_service_deployed(f, name, dep_copy, final, digests);
        if (st == RH_OK)
            st = s;
    }
    free(dep_copy);
    return st;
}

static enum rh_status provision_run(void *ctx, struct job_run *run, const struct job *job,
                                    struct job_result *res)
{
    struct flow fw = {.fl = ctx, .run = run, .job = job, .res = res};
    struct flow *f = &fw;
    f->rc = thread_client(f->fl);
    cJSON *values = NULL, *digests = NULL;
    char *service_id = NULL;
    const char *name = job->service_name;
    enum rh_status st;

    if ((st = stop_with(f, job_checkpoint(run, "validate"))) != RH_OK)
        goto out;
    const cJSON *record = cJSON_GetObjectItem(job->payload, "record");
    if (!name || !cJSON_IsObject(record)) {
        st = job_result_fail(res, RH_PERMANENT, "invalid_payload",
                             "provision job needs a service name and a record");
        goto out;
    }
    if (step_done(f, "rolled_back")) {
        /* A retry after a rollback: what the steps describe was deleted; start afresh. */
        static const char *const keys[] = {"service",   "create_started", "root_directory",
                                           "variables", "connect",        "connect_failed",
                                           "deploy",    "rolled_back"};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            if ((st = stop_with(f, job_step_save(run, keys[i], NULL))) != RH_OK)
                goto out;
        job_event(run, "info", "starting afresh after the earlier rollback", NULL);
    }
    if ((st = render_variables(f, record, &values)) != RH_OK)
        goto out;
    digests = variables_digests(values);

    /* Find or create the service: never a twin. */
    if ((st = stop_with(f, job_checkpoint(run, "find_service"))) != RH_OK)
        goto out;
    const char *saved = step_str(f, "service", "id");
    bool created = false;
    if (saved) {
        service_id = xstrdup(saved);
        const char *c = step_str(f, "service", "created");
        created = c && strcmp(c, "true") == 0;
    } else {
        if ((st = find_service(f, name, &service_id)) != RH_OK)
            goto out;
        if (service_id) {
            /* Created by an earlier run of this job that died before saving the id? */
            created = step_done(f, "create_started");
            st = save_step(f, "service", "id", service_id, "created", created ? "true" : "false",
                           NULL);
            if (st != RH_OK) {
                stop_with(f, st);
                goto out;
            }
            job_event(run, "info",
                      created ? "found the service an earlier run created"
                              : "service already exists; reusing it",
                      NULL);
        } else {
            if ((st = stop_with(f, job_checkpoint(run, "create_service"))) != RH_OK)
                goto out;
            if ((st = provision_create(f, name, values, &service_id)) != RH_OK)
                goto out;
            created = true;
        }
    }
    job_set_railway(run, service_id, NULL, NULL);
    if ((st = db_service_upsert(f, name, service_id, "provisioning")) != RH_OK)
        goto out;

    if (!step_done(f, "root_directory")) {
        if ((st = stop_with(f, job_checkpoint(run, "set_root_directory"))) != RH_OK)
            goto out;
        if (created) {
            /* A new service's instance takes a moment to exist; waiting once saves a call. */
            if ((st = stop_with(f, job_sleep(run, 1000))) != RH_OK)
                goto out;
        }
        if ((st = set_root_directory(f, service_id)) != RH_OK)
            goto out;
        if ((st = stop_with(f, save_step(f, "root_directory", "path", f->fl->cfg->worker_root_dir,
                                         NULL))) != RH_OK)
            goto out;
    }
    if (!created && !step_done(f, "variables")) {
        if ((st = stop_with(f, job_checkpoint(run, "set_variables"))) != RH_OK)
            goto out;
        if ((st = upsert_variables(f, service_id, values)) != RH_OK)
            goto out;
        if ((st = stop_with(f, save_step(f, "variables", "mode", "upsert", NULL))) != RH_OK)
            goto out;
    }
    if (!step_done(f, "connect")) {
        if ((st = stop_with(f, job_checkpoint(run, "connect"))) != RH_OK)
            goto out;
        if ((st = provision_connect(f, service_id)) != RH_OK)
            goto out;
    }
    /* With create-with-source the first build may predate the root directory: deploy anew. */
    const char *via = step_str(f, "connect", "via");
    bool follow = created && via && strcmp(via, "connect") == 0;
    st = deploy_and_wait(f, name, service_id, follow, NULL, digests);
    if (st == RH_OK) {
        job_event(run, "info", "provisioned", NULL);
        res->status = RH_OK;
    }
out:
    cJSON_Delete(values);
    cJSON_Delete(digests);
    free(service_id);
    return st;
}

/* Rollback: delete the service only if this job created it, as its own recorded step. */
static void provision_compensate(void *ctx, struct job_run *run, const struct job *job,
                                 const struct job_result *cause)
{
    struct job_result res = {0};
    struct flow fw = {.fl = ctx, .run = run, .job = job, .res = &res};
    struct flow *f = &fw;
    f->rc = thread_client(f->fl);
    (void)cause;
    const char *id = step_str(f, "service", "id");
    const char *created = step_str(f, "service", "created");
    char *found = NULL;
    if (!id && step_done(f, "create_started") && job->service_name) {
        /* The create may have gone through without its id being saved. */
        if (find_service(f, job->service_name, &found) == RH_OK)
            id = found;
        created = "true";
    }
    if (!id || !created || strcmp(created, "true") != 0) {
        job_event(run, "info",
                  id ? "rollback: the service existed before this job; kept"
                     : "rollback: nothing was created",
                  NULL);
        goto out;
    }
    if (step_done(f, "rolled_back"))
        goto out;
    job_checkpoint(run, "rollback_delete");
    enum rh_status st = RH_TRANSIENT;
    for (int i = 0; i < 5 && st == RH_TRANSIENT; i++) {
        cJSON *vars = cJSON_CreateObject();
        cJSON_AddStringToObject(vars, "id", id);
        cJSON_AddStringToObject(vars, "environmentId", f->fl->cfg->railway_environment_id);
        st = call(f, "ServiceDelete", vars, CALL_QUIET_NOT_FOUND, NULL);
        if (st == RH_TRANSIENT && job_sleep(run, 2000 << i) != RH_OK)
            break;
    }
    if (st == RH_OK || st == RH_NOT_FOUND) {
        save_step(f, "rolled_back", "service_id", id, NULL);
        const char *p[] = {job->service_name};
        db_exec(f, "UPDATE services SET status = 'removed', updated_at = now() WHERE name = $1", 1,
                p);
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "service_id", id);
        job_event(run, "info", "rolled_back", d);
        cJSON_Delete(d);
    } else {
        job_event(run, "error", "rollback failed: the service could not be deleted", res.details);
        const char *p[] = {job->service_name};
        db_exec(f, "UPDATE services SET status = 'failed', updated_at = now() WHERE name = $1", 1,
                p);
    }
out:
    cJSON_Delete(res.details);
    free(found);
}

/* ---- update ---- */

/* The service's id: from railhook's table, else looked up by name in the project. */
static enum rh_status resolve_service(struct flow *f, const char *name, char **id)
{
    *id = db_service_id(f, name);
    if (*id)
        return RH_OK;
    return find_service(f, name, id);
}

static enum rh_status update_run(void *ctx, struct job_run *run, const struct job *job,
                                 struct job_result *res)
{
    struct flow fw = {.fl = ctx, .run = run, .job = job, .res = res};
    struct flow *f = &fw;
    f->rc = thread_client(f->fl);
    cJSON *values = NULL, *digests = NULL, *changed = NULL;
    char *service_id = NULL;
    PGresult *r = NULL;
    const char *name = job->service_name;
    const char *old_name = payload_str(job, "old_service_name");
    enum rh_status st;

    if ((st = stop_with(f, job_checkpoint(run, "validate"))) != RH_OK)
        goto out;
    const cJSON *record = cJSON_GetObjectItem(job->payload, "record");
    if (!name || !cJSON_IsObject(record)) {
        st = job_result_fail(res, RH_PERMANENT, "invalid_payload",
                             "update job needs a service name and a record");
        goto out;
    }
    if ((st = render_variables(f, record, &values)) != RH_OK)
        goto out;
    digests = variables_digests(values);

    if ((st = stop_with(f, job_checkpoint(run, "find_service"))) != RH_OK)
        goto out;
    const char *saved = step_str(f, "service", "id");
    if (saved) {
        service_id = xstrdup(saved);
    } else {
        bool renaming = old_name && strcmp(old_name, name) != 0;
        if ((st = resolve_service(f, renaming ? old_name : name, &service_id)) != RH_OK)
            goto out;
        if (!service_id && renaming && (st = resolve_service(f, name, &service_id)) != RH_OK)
            goto out;
        if (!service_id) {
            st = job_result_fail(res, RH_PERMANENT, "service_not_found",
                                 "no Railway service named %s to update",
                                 renaming ? old_name : name);
            goto out;
        }
        if ((st = stop_with(f, save_step(f, "service", "id", service_id, NULL))) != RH_OK)
            goto out;
    }
    job_set_railway(run, service_id, NULL, NULL);

    bool any_change = step_done(f, "renamed") || step_done(f, "variables");
    if (old_name && strcmp(old_name, name) != 0 && !step_done(f, "renamed")) {
        if ((st = stop_with(f, job_checkpoint(run, "rename"))) != RH_OK)
            goto out;
        cJSON *vars = cJSON_CreateObject();
        cJSON_AddStringToObject(vars, "id", service_id);
        cJSON *input = cJSON_AddObjectToObject(vars, "input");
        cJSON_AddStringToObject(input, "name", name);
        if ((st = call(f, "ServiceUpdate", vars, 0, NULL)) != RH_OK)
            goto out;
        const char *p[] = {old_name, name};
        if ((st = db_exec(f,
                          "UPDATE services SET name = $2, updated_at = now() WHERE name = $1"
                          " AND NOT EXISTS (SELECT 1 FROM services WHERE name = $2)",
                          2, p)) != RH_OK)
            goto out;
        if ((st = stop_with(f, save_step(f, "renamed", "from", old_name, "to", name, NULL))) !=
            RH_OK)
            goto out;
        any_change = true;
    }

    if (!step_done(f, "variables")) {
        if ((st = stop_with(f, job_checkpoint(run, "set_variables"))) != RH_OK)
            goto out;
        /* Compare with what railhook last set (digests), so no read is needed. */
        const char *p[] = {name};
        char err[256];
        r = store_exec(job_db(run), "SELECT variables FROM services WHERE name = $1", 1, p, err,
                       sizeof(err));
        cJSON *known = r && PQntuples(r) == 1 ? cJSON_Parse(PQgetvalue(r, 0, 0)) : NULL;
        PQclear(r);
        r = NULL;
        changed = cJSON_CreateObject();
        const cJSON *v;
        cJSON_ArrayForEach(v, values)
        {
            const cJSON *old = cJSON_GetObjectItemCaseSensitive(known, v->string);
            const cJSON *now = cJSON_GetObjectItemCaseSensitive(digests, v->string);
            if (!cJSON_IsString(old) || strcmp(old->valuestring, now->valuestring) != 0)
                cJSON_AddStringToObject(changed, v->string, v->valuestring);
        }
        cJSON_Delete(known);
        if (cJSON_GetArraySize(changed) > 0) {
            if ((st = upsert_variables(f, service_id, changed)) != RH_OK)
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
        if ((st = stop_with(f, st)) != RH_OK)
            goto out;
    }
    if (!any_change) {
        job_event(run, "info", "nothing changed; no deploy needed", NULL);
        res->status = RH_OK;
        st = RH_OK;
        goto out;
    }
    st = deploy_and_wait(f, name, service_id, false, NULL, digests);
    if (st == RH_OK)
        job_event(run, "info", "updated", NULL);
out:
    PQclear(r);
    cJSON_Delete(values);
    cJSON_Delete(digests);
    cJSON_Delete(changed);
    free(service_id);
    return st;
}

/* ---- redeploy ---- */

/* A deployment of commit sha among the service's newest ones, or NULL (free()). */
static enum rh_status find_commit_deployment(struct flow *f, const char *service_id,
                                             const char *sha, char **id)
{
    *id = NULL;
    cJSON *nodes = NULL;
    enum rh_status st = list_deployments(f, service_id, 5, &nodes);
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

static enum rh_status redeploy_run(void *ctx, struct job_run *run, const struct job *job,
                                   struct job_result *res)
{
    struct flow fw = {.fl = ctx, .run = run, .job = job, .res = res};
    struct flow *f = &fw;
    f->rc = thread_client(f->fl);
    char *service_id = NULL, *dep = NULL;
    const char *name = job->service_name;
    const char *sha = payload_str(job, "commit_sha");
    enum rh_status st;

    if ((st = stop_with(f, job_checkpoint(run, "find_service"))) != RH_OK)
        goto out;
    if (!name) {
        st = job_result_fail(res, RH_PERMANENT, "invalid_payload", "redeploy needs a service");
        goto out;
    }
    const char *saved = step_str(f, "service", "id");
    if (saved) {
        service_id = xstrdup(saved);
    } else {
        if ((st = resolve_service(f, name, &service_id)) != RH_OK)
            goto out;
        if (!service_id) {
            st = job_result_fail(res, RH_PERMANENT, "service_not_found",
                                 "no Railway service named %s to redeploy", name);
            goto out;
        }
        if ((st = stop_with(f, save_step(f, "service", "id", service_id, NULL))) != RH_OK)
            goto out;
    }
    job_set_railway(run, service_id, NULL, NULL);

    if (!step_done(f, "deploy") && sha) {
        /* Railway may deploy the pushed commit by itself: follow that one instead. */
        if ((st = stop_with(f, job_checkpoint(run, "find_autodeploy"))) != RH_OK)
            goto out;
        int grace_ms = f->fl->cfg->autodeploy_grace_s * 1000;
        int64_t until = time_mono_ms() + grace_ms;
        for (int check = 0;; check++) {
            if ((st = find_commit_deployment(f, service_id, sha, &dep)) != RH_OK)
                goto out;
            if (dep || time_mono_ms() >= until || check == 2)
                break;
            int nap = grace_ms / 2 > 0 ? grace_ms / 2 : 1;
            if ((st = stop_with(f, job_sleep(run, nap))) != RH_OK)
                goto out;
        }
        if (dep) {
            job_event(run, "info", "following Railway's own deployment of the pushed commit", NULL);
            if ((st = stop_with(f, save_step(f, "deploy", "deployment_id", dep, "auto", "true",
                                             NULL))) != RH_OK)
                goto out;
        }
    }
    st = deploy_and_wait(f, name, service_id, false, sha, NULL);
    if (st == RH_OK)
        job_event(run, "info", "redeployed", NULL);
out:
    free(service_id);
    free(dep);
    return st;
}

/* ---- deprovision ---- */

static enum rh_status deprovision_run(void *ctx, struct job_run *run, const struct job *job,
                                      struct job_result *res)
{
    struct flow fw = {.fl = ctx, .run = run, .job = job, .res = res};
    struct flow *f = &fw;
    f->rc = thread_client(f->fl);
    char *service_id = NULL;
    const char *name = job->service_name;
    enum rh_status st;

    if ((st = stop_with(f, job_checkpoint(run, "find_service"))) != RH_OK)
        goto out;
    if (!name) {
        st = job_result_fail(res, RH_PERMANENT, "invalid_payload", "deprovision needs a service");
        goto out;
    }
    if (!step_done(f, "deleted")) {
        if ((st = resolve_service(f, name, &service_id)) != RH_OK)
            goto out;
        if (service_id) {
            job_set_railway(run, service_id, NULL, NULL);
            if ((st = stop_with(f, job_checkpoint(run, "delete_service"))) != RH_OK)
                goto out;
            cJSON *vars = cJSON_CreateObject();
            cJSON_AddStringToObject(vars, "id", service_id);
            cJSON_AddStringToObject(vars, "environmentId", f->fl->cfg->railway_environment_id);
            st = call(f, "ServiceDelete", vars, CALL_QUIET_NOT_FOUND, NULL);
            if (st != RH_OK && st != RH_NOT_FOUND)
                goto out;
            job_event(run, "info",
                      st == RH_NOT_FOUND ? "service was already gone" : "service deleted", NULL);
        } else {
            job_event(run, "info", "no such service; nothing to delete", NULL);
        }
        if ((st = stop_with(f, save_step(f, "deleted", "service_id", service_id, NULL))) != RH_OK)
            goto out;
    }
    const char *p[] = {name, job->id};
    if ((st = db_exec(f,
                      "UPDATE services SET status = 'removed', last_job_id = $2, updated_at = now()"
                      " WHERE name = $1",
                      2, p)) != RH_OK)
        goto out;
    res->status = RH_OK;
    st = RH_OK;
out:
    free(service_id);
    return st;
}

/* ---- registration ---- */

struct flows *flows_new(const struct config *cfg, char *err, size_t errlen)
{
    cJSON *templates = variables_templates_load(cfg, err, errlen);
    if (!templates)
        return NULL;
    struct flows *fl = xcalloc(1, sizeof(*fl));
    fl->cfg = cfg;
    fl->templates = templates;
    fl->lim = railway_limiter_new(cfg->railway_max_rps, cfg->railway_hourly_budget);
    pthread_key_create(&fl->client_key, free_client);
    fl->handlers[0] = (struct job_handler){"provision", provision_run, provision_compensate, fl};
    fl->handlers[1] = (struct job_handler){"update", update_run, NULL, fl};
    fl->handlers[2] = (struct job_handler){"redeploy", redeploy_run, NULL, fl};
    fl->handlers[3] = (struct job_handler){"deprovision", deprovision_run, NULL, fl};
    return fl;
}

void flows_register(struct flows *fl, struct worker_pool *pool)
{
    for (size_t i = 0; i < 4; i++)
        worker_pool_register(pool, &fl->handlers[i]);
}

void flows_free(struct flows *fl)
{
    if (!fl)
        return;
    /* The calling thread's client, if it made one; worker threads freed theirs on exit. */
    free_client(pthread_getspecific(fl->client_key));
    pthread_setspecific(fl->client_key, NULL);
    pthread_key_delete(fl->client_key);
    railway_limiter_free(fl->lim);
    cJSON_Delete(fl->templates);
    free(fl);
}
