/* What the Railway flows share: the one prologue of every flow, the Railway call wrapper (retries,
 * events, the run's result) and the step helpers. The services a manifest owns are in
 * flows/service.c, deployments in flows/deploy.c.
 *
 * Threading: one struct flows is shared by every worker thread and is read-only after
 * flows_new(), except the rate limiter, which has its own lock. Each worker thread gets its
 * own Railway client (and curl handle) through a thread-specific key, freed when the thread
 * ends. A flow's state lives in the job row (job_step_save), never in memory across runs, so
 * a run after a crash resumes where the last one stopped. */
#include "flows/flows_int.h"

#include "flows/variables.h"
#include "queue/queue.h"
#include "util/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Tries of one idempotent Railway call inside a run before the job is handed back. */
#define CALL_TRIES 4

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

/* Parks the job until the hourly budget should cover its next request: its place is behind
 * the jobs of this instance already waiting. RH_PARKED (or a stop status, set as the run's
 * result), or RH_INVALID when the job cannot park (a compensation). */
static enum rh_status budget_park(struct flow *f)
{
    int ahead = 0;
    if (!f->fl->q)
        return RH_INVALID;
    free(queue_parked_list(f->fl->q, FLOWS_BUDGET_WAIT, &ahead));
    int64_t eta = railway_limiter_budget_eta_ms(f->fl->lim, ahead);
    int64_t at = time_wall_ms() + eta;
    char when[32], step[160];
    time_t secs = (time_t)(at / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(step, sizeof(step),
             "waiting for Railway budget: expected to start at %s (in %lld s, %d waiting ahead)",
             when, (long long)((eta + 999) / 1000), ahead);
    enum rh_status st = job_park(f->run, FLOWS_BUDGET_WAIT, "", step, at);
    if (st != RH_INVALID)
        flow_stop_with(f, st);
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
        st = railway_call(f->rc, op, vars, FLOW_LIMITER_WAIT_MS, &r);
        if (st == RH_OK) {
            if (data)
                *data = cJSON_Duplicate(r.data, 1);
            railway_result_free(&r);
            break;
        }
        if (r.error == RAILWAY_ERR_BUDGET) {
            /* A compensation cannot park (RH_INVALID): it fails transiently below. */
            enum rh_status parked = budget_park(f);
            if (parked != RH_INVALID) {
                railway_result_free(&r);
                st = parked;
                break;
            }
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

/* ---- store calls on the worker's own connection ---- */

enum rh_status flow_db(struct flow *f, enum rh_status st, const char *err)
{
    if (st != RH_OK)
        return job_result_fail(f->res, RH_TRANSIENT, "database", "%s", err);
    return RH_OK;
}

/* ---- Railway steps shared by the flows ---- */

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
