/* The handler side of the queue (queue/job.h): step boundaries, saved step results, events,
 * Railway ids and interruptible sleeps for the job a worker thread is running.
 *
 * Threading: a struct job_run belongs to the worker thread running the job; its flags (lost,
 * cancel, compensating, lease_until) are also written by the heartbeat thread and by
 * queue_stop(), so they are read and written under pool->mu, and changes are signalled
 * on the worker's condition variable so job_sleep() wakes up. The database calls use the
 * worker's own connection. */
#include "queue/queue_int.h"

#include "util/log.h"
#include "util/redact.h"
#include "util/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum rh_status job_result_fail(struct job_result *res, enum rh_status status, const char *code,
                               const char *fmt, ...)
{
    va_list ap;
    res->status = status;
    snprintf(res->code, sizeof(res->code), "%s", code ? code : "");
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof(res->message), fmt, ap);
    va_end(ap);
    return status;
}

/* What a boundary should answer before touching the database (caller holds mu). */
static enum rh_status local_state(struct job_run *run, bool *cancel)
{
    struct queue *p = run->pool;
    if (!run->lost && time_mono_ms() >= run->lease_until) {
        /* The heartbeat has not confirmed the lease in time: someone may own it now. */
        run->lost = true;
    }
    if (run->lost)
        return RH_LEASE_LOST;
    if (run->compensating)
        return RH_OK;
    if (p->stopping)
        return RH_STOPPING;
    *cancel = run->cancel;
    return RH_OK;
}

static void mark_lost(struct job_run *run)
{
    pthread_mutex_lock(&run->pool->mu);
    run->lost = true;
    pthread_mutex_unlock(&run->pool->mu);
}

/* Whether this attempt recorded step before. */
static bool step_recorded(const struct job_run *run, const char *step)
{
    size_t n = strlen(step);
    for (const char *p = run->recorded; p && *p;) {
        const char *end = strchr(p, '\n');
        if ((size_t)(end - p) == n && memcmp(p, step, n) == 0)
            return true;
        p = end + 1;
    }
    return false;
}

static void step_remember(struct job_run *run, const char *step)
{
    if (strchr(step, '\n'))
        return; /* never the case for railhook's steps; such a step is simply recorded again */
    size_t have = run->recorded ? strlen(run->recorded) : 0;
    size_t n = strlen(step);
    run->recorded = xrealloc(run->recorded, have + n + 2);
    memcpy(run->recorded + have, step, n);
    run->recorded[have + n] = '\n';
    run->recorded[have + n + 1] = '\0';
}

enum rh_status job_checkpoint(struct job_run *run, const char *step)
{
    struct queue *p = run->pool;
    char err[256] = "";
    bool cancel = false;
    pthread_mutex_lock(&p->mu);
    enum rh_status st = local_state(run, &cancel);
    bool compensating = run->compensating;
    pthread_mutex_unlock(&p->mu);
    if (st != RH_OK)
        goto out;
    if (cancel && !compensating) {
        st = RH_CANCELLED;
        goto out;
    }
    bool requested = false;
    bool again = run->replaying && !compensating && step_recorded(run, step);
    if (!again)
        run->replaying = false;
    st = again
             ? store_job_confirm(run->w->conn, &run->guard, &requested, err, sizeof(err))
             : store_job_checkpoint(run->w->conn, &run->guard, step, &requested, err, sizeof(err));
    if (st != RH_OK) {
        if (st != RH_LEASE_LOST)
            log_warn("checkpoint failed", LOG_STR("job", run->job.id), LOG_STR("step", step),
                     LOG_STR("error", err));
        /* Without a confirmed lease no more external work may start. */
        mark_lost(run);
        st = RH_LEASE_LOST;
        goto out;
    }
    if (requested && !compensating) {
        pthread_mutex_lock(&p->mu);
        run->cancel = true;
        pthread_mutex_unlock(&p->mu);
        st = RH_CANCELLED;
        goto out;
    }
    snprintf(run->step, sizeof(run->step), "%s", step);
    if (!again && !compensating)
        step_remember(run, step);
out:
    return st;
}

const cJSON *job_step_get(struct job_run *run, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(run->steps, key);
}

enum rh_status job_step_save(struct job_run *run, const char *key, const cJSON *value)
{
    char err[256] = "";
    char *text = NULL;
    pthread_mutex_lock(&run->pool->mu);
    bool lost = run->lost;
    pthread_mutex_unlock(&run->pool->mu);
    if (lost)
        return RH_LEASE_LOST;
    bool remove = !value || cJSON_IsNull(value);
    if (!remove)
        text = redact_json(value);
    enum rh_status st = store_job_step_save(run->w->conn, &run->guard, key, text, err, sizeof(err));
    if (st == RH_OK) {
        cJSON_DeleteItemFromObjectCaseSensitive(run->steps, key);
        if (!remove)
            cJSON_AddItemToObject(run->steps, key, cJSON_Duplicate(value, true));
    } else if (st == RH_LEASE_LOST) {
        mark_lost(run);
    } else {
        log_warn("step save failed", LOG_STR("job", run->job.id), LOG_STR("key", key),
                 LOG_STR("error", err));
        st = RH_UNAVAILABLE;
    }
    free(text);
    return st;
}

void job_event(struct job_run *run, const char *level, const char *message, const cJSON *details)
{
    static const char *levels[] = {"debug", "info", "warn", "error"};
    const char *lv = "info";
    for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
        if (level && strcmp(level, levels[i]) == 0)
            lv = levels[i];
    char err[256] = "";
    char *msg = redact_string(message ? message : "");
    char *det = details ? redact_json(details) : NULL;
    enum rh_status st = store_job_event_add(
        run->w->conn, run->job.id, *run->step ? run->step : NULL, lv, msg, det, err, sizeof(err));
    if (st != RH_OK)
        log_warn("cannot record job event", LOG_STR("job", run->job.id), LOG_STR("error", err));
    free(det);
    free(msg);
}

/* Both setters: the ids and status, with the status change's event (message and details
 * redacted here) in the same statement. */
static enum rh_status railway_record(struct job_run *run, const char *service_id,
                                     const char *deployment_id, const char *deployment_status,
                                     const char *message, const cJSON *details)
{
    char err[256] = "";
    char *msg = message ? redact_string(message) : NULL;
    char *det = details ? redact_json(details) : NULL;
    enum rh_status st = store_job_railway_set(run->w->conn, &run->guard, service_id, deployment_id,
                                              deployment_status, msg, det, err, sizeof(err));
    if (st == RH_LEASE_LOST) {
        mark_lost(run);
    } else if (st != RH_OK) {
        log_warn("cannot record Railway ids", LOG_STR("job", run->job.id), LOG_STR("error", err));
        st = RH_UNAVAILABLE;
    }
    free(det);
    free(msg);
    return st;
}

enum rh_status job_set_railway(struct job_run *run, const char *service_id,
                               const char *deployment_id, const char *deployment_status)
{
    return railway_record(run, service_id, deployment_id, deployment_status, NULL, NULL);
}

enum rh_status job_set_deployment(struct job_run *run, const char *deployment_id,
                                  const char *deployment_status, const char *message,
                                  const cJSON *details)
{
    return railway_record(run, NULL, deployment_id, deployment_status, message, details);
}

enum rh_status job_sleep(struct job_run *run, int ms)
{
    struct queue *p = run->pool;
    int64_t deadline = time_mono_ms() + (ms > 0 ? ms : 0);
    bool cancel = false;
    enum rh_status st;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        cancel = false;
        st = local_state(run, &cancel);
        if (st == RH_OK && cancel)
            st = RH_CANCELLED;
        if (st != RH_OK)
            break;
        int64_t now = time_mono_ms();
        if (now >= deadline)
            break;
        /* Wake up at the lease horizon too, so an unconfirmed lease is noticed. */
        int64_t until = deadline < run->lease_until ? deadline : run->lease_until;
        struct timespec ts;
        time_mono_timespec(until, &ts);
        pthread_cond_timedwait(&run->w->cv, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
    return st;
}

PGconn *job_db(struct job_run *run)
{
    return run->w->conn;
}

const char *job_lease_owner(struct job_run *run)
{
    return run->owner;
}

enum rh_status job_park(struct job_run *run, const char *on, const char *seen, const char *step,
                        int64_t until_wall_ms)
{
    struct queue *p = run->pool;
    pthread_mutex_lock(&p->mu);
    bool compensating = run->compensating;
    pthread_mutex_unlock(&p->mu);
    if (compensating)
        return RH_INVALID;
    enum rh_status st = job_checkpoint(run, step);
    if (st != RH_OK)
        return st;
    snprintf(run->park_on, sizeof(run->park_on), "%s", on);
    snprintf(run->park_seen, sizeof(run->park_seen), "%s", seen ? seen : "");
    run->park_until = time_mono_ms() + (until_wall_ms - time_wall_ms());
    run->park = true;
    return RH_PARKED;
}

const char *job_woken_with(struct job_run *run)
{
    return run->woken;
}
