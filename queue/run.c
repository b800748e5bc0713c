/* Running one job on a worker thread: the handler's run (and compensation), the verdict on
 * its status (success, retry with backoff, failure, cancel, hand-back), and the recording of
 * that verdict through the group commit (commit.c).
 *
 * Threading: each worker thread runs one job at a time on its own connection; it publishes
 * the running job (w->run) and reads the pool's flags under pool->mu, never during a handler
 * call or a database call. */
#include "queue/queue_int.h"

#include "util/log.h"
#include "util/metrics.h"
#include "util/redact.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FINISH_TRIES 8

int64_t queue_backoff_ceiling_ms(int attempt, int base_ms, int max_ms)
{
    int64_t ceiling = base_ms > 0 ? base_ms : 1;
    int64_t cap = max_ms > 0 ? max_ms : ceiling;
    for (int i = 1; i < attempt && ceiling < cap; i++)
        ceiling *= 2;
    return ceiling < cap ? ceiling : cap;
}

int64_t queue_backoff_ms(int attempt, int base_ms, int max_ms, int retry_after_ms, uint64_t r)
{
    int64_t ceiling = queue_backoff_ceiling_ms(attempt, base_ms, max_ms);
    int64_t delay = (int64_t)(r % (uint64_t)(ceiling + 1));
    return delay < retry_after_ms ? retry_after_ms : delay;
}

static cJSON *parse_object(const char *text)
{
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        j = cJSON_CreateObject();
    }
    return j;
}

static void rollback_open(struct worker *w, const char *id)
{
    if (store_conn_rollback(w->conn))
        log_error("a job handler left a transaction open; rolled back", LOG_STR("job", id));
}

static cJSON *error_json(const struct job_result *res, enum rh_status st, int attempt,
                         const char *default_code)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "code", *res->code ? res->code : default_code);
    cJSON_AddStringToObject(e, "message", *res->message ? res->message : rh_status_name(st));
    cJSON_AddStringToObject(e, "status", rh_status_name(st));
    cJSON_AddNumberToObject(e, "attempt", attempt);
    if (res->details)
        cJSON_AddItemToObject(e, "details", cJSON_Duplicate(res->details, true));
    return e;
}

/* What a handler's status turns into. */
struct verdict {
    enum store_job_outcome outcome;
    int64_t delay_ms;
    const char *level;
    const char *message;
    cJSON *error;   /* last_error, or NULL */
    cJSON *details; /* the event's details, or NULL */
    bool compensate;
};

static void judge(struct queue *p, const struct job *job, enum rh_status st,
                  const struct job_result *res, bool have_handler, struct verdict *v)
{
    memset(v, 0, sizeof(*v));
    v->level = "info";
    switch (st) {
    case RH_OK:
        v->outcome = STORE_JOB_SUCCEEDED;
        v->message = "succeeded";
        break;
    case RH_STOPPING:
    case RH_LEASE_LOST:
        /* Guarded: when another worker owns the job now, this changes nothing. */
        v->outcome = STORE_JOB_HANDBACK;
        v->message = "handed back";
        v->details = cJSON_CreateObject();
        cJSON_AddStringToObject(v->details, "reason",
                                st == RH_STOPPING ? "shutdown" : "lease not confirmed");
        break;
    case RH_CANCELLED:
        v->outcome = STORE_JOB_CANCELLED;
        v->message = "cancelled";
        v->error = error_json(res, st, job->attempt, "cancelled");
        v->compensate = have_handler;
        break;
    case RH_TRANSIENT:
    case RH_UNAVAILABLE:
        v->error = error_json(res, st, job->attempt, "transient_error");
        if (job->attempt < job->max_attempts) {
            uint64_t r = 0;
            random_bytes(&r, sizeof(r));
            v->outcome = STORE_JOB_RETRY;
            v->level = "warn";
            v->message = "retry scheduled";
            v->delay_ms = queue_backoff_ms(job->attempt, p->retry_base_ms, p->retry_max_ms,
                                           res->retry_after_ms, r);
            v->details = cJSON_CreateObject();
            cJSON_AddNumberToObject(v->details, "delay_ms", (double)v->delay_ms);
            cJSON_AddNumberToObject(v->details, "next_attempt", job->attempt + 1);
            cJSON_AddItemToObject(v->details, "error", cJSON_Duplicate(v->error, true));
            break;
        }
        cJSON_AddTrueToObject(v->error, "attempts_exhausted");
        v->outcome = STORE_JOB_FAILED;
        v->level = "error";
        v->message = "failed";
        v->details = cJSON_Duplicate(v->error, true);
        v->compensate = have_handler;
        break;
    default:
        v->error = error_json(res, st, job->attempt, "permanent_error");
        v->outcome = STORE_JOB_FAILED;
        v->level = "error";
        v->message = "failed";
        v->details = cJSON_Duplicate(v->error, true);
        v->compensate = have_handler;
        break;
    }
}

static void count_outcome(struct queue *p, enum store_job_outcome o, bool applied)
{
    pthread_mutex_lock(&p->mu);
    if (!applied)
        p->stats.lease_lost++;
    else if (o == STORE_JOB_SUCCEEDED)
        p->stats.succeeded++;
    else if (o == STORE_JOB_FAILED)
        p->stats.failed++;
    else if (o == STORE_JOB_CANCELLED)
        p->stats.cancelled++;
    else if (o == STORE_JOB_RETRY)
        p->stats.retried++;
    else
        p->stats.handed_back++;
    pthread_mutex_unlock(&p->mu);
}

/* Records v for run, retrying while the database is unreachable and the lease may hold; the
 * same statement claims the worker's next job, returned in *next (NULL when none). */
static void record(struct worker *w, struct job_run *run, const struct verdict *v, int64_t t0,
                   struct store_job_claimed **next, int64_t *next_lease_from)
{
    struct queue *p = w->pool;
    char *error = v->error ? redact_json(v->error) : NULL;
    char *details = v->details ? redact_json(v->details) : NULL;
    struct fin_req req;
    memset(&req, 0, sizeof(req));
    req.f.guard = run->guard;
    req.f.outcome = v->outcome;
    req.f.delay_ms = v->delay_ms;
    req.f.error = error;
    req.f.level = v->level;
    req.f.message = v->message;
    req.f.details = details;
    req.w = w;
    req.want_next = true;
    atomic_fetch_sub(&p->running, 1);
    enum rh_status st = RH_UNAVAILABLE;
    for (int tries = 0; tries < FINISH_TRIES; tries++) {
        st = queue_outcome_commit(w, &req);
        if (st == RH_OK)
            break;
        pthread_mutex_lock(&p->mu);
        bool lost = run->lost;
        pthread_mutex_unlock(&p->mu);
        if (lost)
            break;
        usleep((useconds_t)((100 << tries) < 2000 ? (100 << tries) : 2000) * 1000);
    }
    if (st != RH_OK) {
        log_error("cannot record a job's outcome; its lease will expire and it will run again",
                  LOG_STR("job", run->job.id), LOG_STR("kind", run->job.kind));
        goto out;
    }
    *next = req.job;
    *next_lease_from = req.lease_from;
    count_outcome(p, v->outcome, req.f.applied);
    long ms = (long)(time_mono_ms() - t0);
    if (!req.f.applied) {
        log_warn("job lease lost; its result was discarded", LOG_STR("job", run->job.id),
                 LOG_STR("kind", run->job.kind), LOG_STR("owner", run->owner));
        char err[256];
        if (store_job_event_add(w->conn, run->job.id, NULL, "warn",
                                "lease lost: a stale worker's result was discarded", NULL, err,
                                sizeof(err)) != RH_OK)
            log_warn("cannot record job event", LOG_STR("job", run->job.id), LOG_STR("error", err));
    } else if (v->outcome == STORE_JOB_SUCCEEDED) {
        log_info("job succeeded", LOG_STR("job", run->job.id), LOG_STR("kind", run->job.kind),
                 LOG_INT("attempt", run->job.attempt), LOG_INT("ms", ms));
    } else if (v->outcome == STORE_JOB_RETRY) {
        log_warn("job will be retried", LOG_STR("job", run->job.id), LOG_STR("kind", run->job.kind),
                 LOG_INT("attempt", run->job.attempt), LOG_INT("delay_ms", v->delay_ms));
    } else if (v->outcome == STORE_JOB_HANDBACK) {
        log_info("job handed back", LOG_STR("job", run->job.id), LOG_STR("kind", run->job.kind));
    } else {
        const cJSON *code = v->error ? cJSON_GetObjectItem(v->error, "code") : NULL;
        log_warn(v->outcome == STORE_JOB_FAILED ? "job failed" : "job cancelled",
                 LOG_STR("job", run->job.id), LOG_STR("kind", run->job.kind),
                 LOG_INT("attempt", run->job.attempt),
                 LOG_STR("code", cJSON_IsString(code) ? code->valuestring : "-"));
    }
    if (req.f.applied && (v->outcome == STORE_JOB_SUCCEEDED || v->outcome == STORE_JOB_FAILED ||
                          v->outcome == STORE_JOB_CANCELLED)) {
        char labels[96];
        snprintf(labels, sizeof(labels), "kind=\"%s\",state=\"%s\"", run->job.kind,
                 v->outcome == STORE_JOB_SUCCEEDED ? "succeeded"
                 : v->outcome == STORE_JOB_FAILED  ? "failed"
                                                   : "cancelled");
        metrics_count("railhook_jobs_finished_total", labels, 1);
        snprintf(labels, sizeof(labels), "kind=\"%s\"", run->job.kind);
        metrics_observe("railhook_job_duration_seconds", labels, (double)ms / 1000.0);
    }
out:
    free(error);
    free(details);
}

/* Runs one job and records its outcome; *next gets the worker's next job when the recording
 * statement claimed one. */
static void run_job(struct worker *w, const struct store_job_claimed *row, int64_t lease_from,
                    const char *woken, char *recorded, struct store_job_claimed **next,
                    int64_t *next_lease_from)
{
    struct queue *p = w->pool;
    struct job_run run;
    struct job_result res;
    struct verdict v;
    char err[256] = "";
    memset(&run, 0, sizeof(run));
    memset(&res, 0, sizeof(res));
    memset(&v, 0, sizeof(v));
    run.pool = p;
    run.w = w;
    snprintf(run.job.id, sizeof(run.job.id), "%s", row->id);
    snprintf(run.job.kind, sizeof(run.job.kind), "%s", row->kind);
    snprintf(run.owner, sizeof(run.owner), "%s", row->owner);
    run.job.attempt = row->attempt;
    run.job.max_attempts = row->max_attempts;
    run.payload = parse_object(row->payload);
    run.steps = parse_object(row->steps);
    run.job.payload = run.payload;
    run.job.service_name = row->service_name;
    run.guard.id = run.job.id;
    run.guard.attempt = run.job.attempt;
    run.guard.owner = run.owner;
    run.lease_until = lease_from + (int64_t)p->lease_s * 1000;
    run.woken = woken;
    run.recorded = recorded; /* owned by the run from here */
    run.replaying = recorded != NULL;
    int64_t t0 = time_mono_ms();

    if (!store_conn_ensure(p->store, STORE_SESSION_DEFAULT, &w->conn, err, sizeof(err))) {
        /* Not registered with the heartbeat: the lease runs out and the reaper re-queues it. */
        atomic_fetch_sub(&p->running, 1);
        log_error("worker has no database connection; the job will be rescued",
                  LOG_STR("job", run.job.id), LOG_STR("error", err));
        goto out;
    }
    pthread_mutex_lock(&p->mu);
    w->run = &run;
    bool stopping = p->stopping;
    pthread_mutex_unlock(&p->mu);

    const struct job_handler *h = queue_handler_find(p, row->kind);
    enum rh_status st;
    if (stopping) {
        st = RH_STOPPING;
    } else if (!h) {
        st = job_result_fail(&res, RH_PERMANENT, "unknown_kind",
                             "no handler for job kind '%s' in this instance", row->kind);
    } else if (row->cancel_requested) {
        st = job_result_fail(&res, RH_CANCELLED, "cancelled", "cancelled by request");
    } else {
        res.status = RH_OK;
        st = h->run(h->ctx, &run, &run.job, &res);
        rollback_open(w, run.job.id);
    }
    if (st == RH_PARKED && run.park) {
        /* It waits elsewhere, keeping its lease: the worker takes the next job. Off the worker
         * first, so one heartbeat never sees it twice. */
        pthread_mutex_lock(&p->mu);
        w->run = NULL;
        pthread_mutex_unlock(&p->mu);
        atomic_fetch_sub(&p->running, 1);
        queue_park_add(p, &run);
        goto out;
    }
    if (st == RH_PARKED)
        st = job_result_fail(&res, RH_TRANSIENT, "parked", "the handler parked without job_park()");
    res.status = st;
    judge(p, &run.job, st, &res, h != NULL, &v);
    if (v.compensate && h->compensate) {
        pthread_mutex_lock(&p->mu);
        run.compensating = true;
        pthread_mutex_unlock(&p->mu);
        h->compensate(h->ctx, &run, &run.job, &res);
        rollback_open(w, run.job.id);
    }
    record(w, &run, &v, t0, next, next_lease_from);

    pthread_mutex_lock(&p->mu);
    w->run = NULL;
    pthread_mutex_unlock(&p->mu);
out:
    cJSON_Delete(v.error);
    cJSON_Delete(v.details);
    cJSON_Delete(res.details);
    cJSON_Delete(run.payload);
    cJSON_Delete(run.steps);
    free(run.recorded);
}

void *queue_worker_main(void *arg)
{
    struct worker *w = arg;
    struct queue *p = w->pool;
    char err[256];
    w->conn = store_conn_open(p->store, STORE_SESSION_DEFAULT, err,
                              sizeof(err)); /* retried per job when NULL */
    struct store_job_claimed *job = NULL;
    char *woken = NULL;
    char *recorded = NULL;
    int64_t lease_from = 0;
    for (;;) {
        if (!job) {
            pthread_mutex_lock(&p->mu);
            w->idle = true;
            p->idle_count++;
            queue_dispatcher_wake(p);
            while (!w->inbox && !p->stopping)
                pthread_cond_wait(&w->cv, &p->mu);
            job = w->inbox;
            lease_from = w->inbox_lease_from;
            woken = w->inbox_woken;
            recorded = w->inbox_recorded;
            w->inbox = NULL;
            w->inbox_woken = NULL;
            w->inbox_recorded = NULL;
            if (w->idle) {
                w->idle = false;
                p->idle_count--;
            }
            pthread_mutex_unlock(&p->mu);
        }
        if (!job)
            break;
        struct store_job_claimed *next = NULL;
        int64_t next_from = 0;
        run_job(w, job, lease_from, woken, recorded, &next, &next_from);
        store_job_claimed_free(job, 1);
        free(woken);
        woken = NULL;
        recorded = NULL; /* the run freed it, or parked it */
        job = next;
        lease_from = next_from;
    }
    pthread_mutex_lock(&p->mu);
    w->exited = true;
    pthread_cond_broadcast(&p->changed);
    pthread_mutex_unlock(&p->mu);
    PQfinish(w->conn);
    w->conn = NULL;
    return NULL;
}
