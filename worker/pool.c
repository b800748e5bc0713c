/* The worker pool: claims jobs from PostgreSQL, runs them through their kind's handler, and
 * records each outcome with a guarded transition.
 *
 * Threading model. WORKERS worker threads run handlers, each on its own PGconn (job_db()). A
 * dispatcher thread owns one more connection: it LISTENs on railhook_jobs (unless
 * QUEUE_LISTEN=off) and, whenever workers are idle and a notification, a full previous claim
 * or the QUEUE_POLL_MS timer says jobs may be waiting, claims up to one job per idle worker in
 * a single statement (FOR UPDATE SKIP LOCKED) with one lease owner token per worker, and hands
 * each job to its worker through the worker's condition variable. Workers wake the dispatcher
 * through an eventfd when they go idle. Finished runs are recorded by group commit: a worker
 * queues its guarded transition and the first waiting worker writes the whole queue in one
 * statement on its own connection, so every commit (each of which also NOTIFYs, and NOTIFY
 * serialises commits cluster-wide) carries as many jobs as finished meanwhile. A heartbeat
 * thread, on its own connection, extends the leases of this instance's running jobs every
 * lease/3 and flags a run as lost when its row no longer matches or the heartbeat fails;
 * it also re-queues jobs whose lease expired (dead instances) and prunes old finished jobs.
 *
 * Ownership: the pool owns its threads and the dispatcher's and heartbeat's connections; each
 * worker thread owns its connection and its running job. pool->mu guards the scheduling
 * state (idle workers, inboxes, running jobs' flags, counters); fin_mu guards the commit
 * queue. No thread holds one lock while taking the other, and no database call is made under
 * either. */
#include "worker/pool_int.h"

#include "store/store.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/redact.h"
#include "util/util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define CLAIM_MAX       64  /* jobs per claim statement */
#define FINISH_MAX      64  /* finished runs per group commit */
#define RESCUE_BATCH    100 /* expired leases re-queued per statement */
#define PRUNE_BATCH     500 /* finished jobs deleted per statement */
#define PRUNE_ROUNDS    20  /* statements per prune pass */
#define PRUNE_EVERY_MS  600000
#define STOP_JOIN_MS    2000 /* after the grace: how long a stuck handler gets before it is left */
#define FINISH_TRIES    8
#define FINISH_WAIT_US  500 /* longest a group commit waits for handlers still running */
#define FINISH_INFLIGHT 2   /* group statements in flight at once (one commits, one forms) */

struct fin_req {
    struct store_job_finish f;
    struct worker *w;
    bool want_next;                /* claim the worker's next job in the same statement */
    char token[128];               /* the lease owner token for that claim */
    struct store_job_claimed *job; /* out: the next job, or NULL */
    int64_t lease_from;            /* out: monotonic ms before the statement was sent */
    bool done;
    enum rh_status st;
    struct fin_req *next;
};

/* The kinds the service runs in production; a missing handler is worth a warning. */
static const char *const production_kinds[] = {"provision", "update", "redeploy", "deprovision"};

void worker_mono_timespec(int64_t mono_ms, struct timespec *ts)
{
    ts->tv_sec = (time_t)(mono_ms / 1000);
    ts->tv_nsec = (long)(mono_ms % 1000) * 1000000L;
}

char *worker_json_redacted(const cJSON *j)
{
    return redact_json(j);
}

int64_t worker_backoff_ceiling_ms(int attempt, int base_ms, int max_ms)
{
    int64_t ceiling = base_ms > 0 ? base_ms : 1;
    int64_t cap = max_ms > 0 ? max_ms : ceiling;
    for (int i = 1; i < attempt && ceiling < cap; i++)
        ceiling *= 2;
    return ceiling < cap ? ceiling : cap;
}

int64_t worker_backoff_ms(int attempt, int base_ms, int max_ms, int retry_after_ms, uint64_t r)
{
    int64_t ceiling = worker_backoff_ceiling_ms(attempt, base_ms, max_ms);
    int64_t delay = (int64_t)(r % (uint64_t)(ceiling + 1));
    return delay < retry_after_ms ? retry_after_ms : delay;
}

static void wake_dispatcher(struct worker_pool *p)
{
    uint64_t one = 1;
    ssize_t n = write(p->wake_fd, &one, sizeof(one));
    (void)n; /* a full counter already wakes it */
}

/* A new connection for the pool, with the queue's statements prepared; NULL with err set. */
static PGconn *pool_connect(struct worker_pool *p, char *err, size_t errlen)
{
    PGconn *c = store_connect(p->conninfo, err, errlen);
    if (c && store_job_prepare(c, err, errlen) != RH_OK) {
        PQfinish(c);
        c = NULL;
    }
    return c;
}

static bool ensure_conn(struct worker_pool *p, PGconn **c, char *err, size_t errlen)
{
    if (*c && PQstatus(*c) == CONNECTION_OK)
        return true;
    if (*c)
        PQfinish(*c);
    *c = pool_connect(p, err, errlen);
    return *c != NULL;
}

static const struct job_handler *handler_for(const struct worker_pool *p, const char *kind)
{
    for (int i = 0; i < p->nhandlers; i++)
        if (strcmp(p->handlers[i].kind, kind) == 0)
            return &p->handlers[i];
    return NULL;
}

struct worker_pool *worker_pool_create(const struct config *cfg)
{
    struct worker_pool *p = xcalloc(1, sizeof(*p));
    p->conninfo = xstrdup(cfg->database_url);
    p->instance = xstrdup(cfg->instance_id);
    p->nworkers = cfg->workers;
    p->poll_ms = cfg->queue_poll_ms;
    p->listen = cfg->queue_listen;
    p->lease_s = cfg->job_lease_s;
    p->max_rescues = cfg->job_max_rescues;
    p->retry_base_ms = cfg->retry_base_ms;
    p->retry_max_ms = cfg->retry_max_ms;
    p->retention_days = cfg->job_retention_days;
    p->wake_fd = -1;
    store_job_prepared_set(cfg->queue_listen);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->changed, &attr);
    pthread_cond_init(&p->hb_cv, &attr);
    pthread_mutex_init(&p->fin_mu, NULL);
    pthread_cond_init(&p->fin_cv, &attr);
    p->workers = xcalloc((size_t)(p->nworkers > 0 ? p->nworkers : 1), sizeof(*p->workers));
    for (int i = 0; i < p->nworkers; i++) {
        p->workers[i].pool = p;
        p->workers[i].index = i;
        pthread_cond_init(&p->workers[i].cv, &attr);
    }
    pthread_condattr_destroy(&attr);
    return p;
}

enum rh_status worker_pool_register(struct worker_pool *p, const struct job_handler *h)
{
    enum rh_status st = RH_INVALID;
    pthread_mutex_lock(&p->mu);
    bool started = p->started;
    pthread_mutex_unlock(&p->mu);
    if (started || !h || !h->kind || !h->run)
        goto out;
    st = RH_CONFLICT;
    if (handler_for(p, h->kind))
        goto out;
    p->handlers = xrealloc(p->handlers, (size_t)(p->nhandlers + 1) * sizeof(*p->handlers));
    p->handlers[p->nhandlers++] = *h;
    st = RH_OK;
out:
    return st;
}

/* ---- finishing runs: guarded transitions by group commit ---- */

/* Writes a group of finishes in one statement on w's connection, claiming in the same
 * statement one next job for each request that wants one (unless the pool is stopping). */
static void write_group(struct worker *w, struct fin_req **batch, int n)
{
    struct worker_pool *p = w->pool;
    struct store_job_finish arr[FINISH_MAX];
    const char *owners[FINISH_MAX];
    struct fin_req *claimers[FINISH_MAX];
    int k = 0;
    pthread_mutex_lock(&p->mu);
    bool stopping = p->stopping;
    for (int i = 0; i < n; i++) {
        arr[i] = batch[i]->f;
        batch[i]->job = NULL;
        if (!batch[i]->want_next || stopping)
            continue;
        snprintf(batch[i]->token, sizeof(batch[i]->token), "%s/w%d/%llu", p->instance,
                 batch[i]->w->index, (unsigned long long)++p->seq);
        owners[k] = batch[i]->token;
        claimers[k++] = batch[i];
    }
    pthread_mutex_unlock(&p->mu);

    char err[256] = "";
    enum rh_status st = RH_UNAVAILABLE;
    struct store_job_claimed *rows = NULL;
    int nrows = 0;
    int64_t t0 = time_mono_ms();
    if (ensure_conn(p, &w->conn, err, sizeof(err)))
        st = store_job_finish_claim(w->conn, arr, n, owners, k, p->lease_s, &rows, &nrows, err,
                                    sizeof(err));
    if (st != RH_OK)
        log_warn("cannot record finished jobs", LOG_INT("jobs", n), LOG_STR("error", err));
    for (int i = 0; i < n; i++) {
        batch[i]->f.applied = arr[i].applied;
        batch[i]->st = st;
        batch[i]->lease_from = t0;
    }
    for (int r = 0; r < nrows; r++) {
        for (int i = 0; i < k; i++) {
            if (claimers[i]->job || strcmp(claimers[i]->token, rows[r].owner) != 0)
                continue;
            atomic_fetch_add(&p->running, 1); /* before its worker is released */
            claimers[i]->job = xmalloc(sizeof(*claimers[i]->job));
            *claimers[i]->job = rows[r];
            rows[r].payload = NULL;
            rows[r].steps = NULL;
            rows[r].service_name = NULL;
        }
    }
    pthread_mutex_lock(&p->mu);
    p->stats.claimed += nrows;
    p->stats.commits += st == RH_OK;
    pthread_mutex_unlock(&p->mu);
    store_job_claimed_free(rows, nrows);
}

/* Queues req and waits until some worker (maybe this one) has written it. The first waiter
 * that finds no write in progress writes everything queued, on its own connection. */
static enum rh_status finish_group(struct worker *w, struct fin_req *req)
{
    struct worker_pool *p = w->pool;
    req->done = false;
    req->next = NULL;
    pthread_mutex_lock(&p->fin_mu);
    if (p->fin_tail)
        p->fin_tail->next = req;
    else
        p->fin_head = req;
    p->fin_tail = req;
    pthread_cond_broadcast(&p->fin_cv); /* a leader may be waiting for this one */
    while (!req->done) {
        if (p->fin_busy >= FINISH_INFLIGHT || p->fin_forming || !p->fin_head) {
            pthread_cond_wait(&p->fin_cv, &p->fin_mu);
            continue;
        }
        p->fin_busy++;
        p->fin_forming = true; /* one group forms at a time */
        /* Like PostgreSQL's commit_delay with commit_siblings: while other handlers are still
         * running, wait a moment for their outcomes so one commit carries them all. Short
         * jobs finishing together then share a commit; a lone job does not wait. */
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += FINISH_WAIT_US * 1000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (atomic_load(&p->running) > 0 &&
               pthread_cond_timedwait(&p->fin_cv, &p->fin_mu, &until) == 0)
            ;
        struct fin_req *batch[FINISH_MAX];
        int n = 0;
        while (p->fin_head && n < FINISH_MAX) {
            batch[n++] = p->fin_head;
            p->fin_head = p->fin_head->next;
        }
        if (!p->fin_head)
            p->fin_tail = NULL;
        p->fin_forming = false;
        pthread_cond_broadcast(&p->fin_cv); /* the next group may form now */
        pthread_mutex_unlock(&p->fin_mu);

        write_group(w, batch, n);

        pthread_mutex_lock(&p->fin_mu);
        for (int i = 0; i < n; i++)
            batch[i]->done = true;
        p->fin_busy--;
        pthread_cond_broadcast(&p->fin_cv);
    }
    pthread_mutex_unlock(&p->fin_mu);
    return req->st;
}

/* ---- running one job ---- */

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
    PGTransactionStatusType ts = PQtransactionStatus(w->conn);
    if (ts == PQTRANS_IDLE || ts == PQTRANS_UNKNOWN)
        return;
    log_error("a job handler left a transaction open; rolled back", LOG_STR("job", id));
    PQclear(PQexec(w->conn, "ROLLBACK"));
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

static void judge(struct worker_pool *p, const struct job *job, enum rh_status st,
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
            v->delay_ms = worker_backoff_ms(job->attempt, p->retry_base_ms, p->retry_max_ms,
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

static void count_outcome(struct worker_pool *p, enum store_job_outcome o, bool applied)
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
    struct worker_pool *p = w->pool;
    char *error = v->error ? worker_json_redacted(v->error) : NULL;
    char *details = v->details ? worker_json_redacted(v->details) : NULL;
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
        st = finish_group(w, &req);
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
                    struct store_job_claimed **next, int64_t *next_lease_from)
{
    struct worker_pool *p = w->pool;
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
    int64_t t0 = time_mono_ms();

    if (!ensure_conn(p, &w->conn, err, sizeof(err))) {
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

    const struct job_handler *h = handler_for(p, row->kind);
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
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct worker_pool *p = w->pool;
    char err[256];
    w->conn = pool_connect(p, err, sizeof(err)); /* retried per job when NULL */
    struct store_job_claimed *job = NULL;
    int64_t lease_from = 0;
    for (;;) {
        if (!job) {
            pthread_mutex_lock(&p->mu);
            w->idle = true;
            p->idle_count++;
            wake_dispatcher(p);
            while (!w->inbox && !p->stopping)
                pthread_cond_wait(&w->cv, &p->mu);
            job = w->inbox;
            lease_from = w->inbox_lease_from;
            w->inbox = NULL;
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
        run_job(w, job, lease_from, &next, &next_from);
        store_job_claimed_free(job, 1);
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

/* ---- the dispatcher: LISTEN, claim, hand out ---- */

static void handback_rows(struct worker_pool *p, PGconn *c, struct store_job_claimed *rows,
                          const int *idx, int n)
{
    struct store_job_finish back[CLAIM_MAX];
    memset(back, 0, sizeof(back));
    for (int i = 0; i < n; i++) {
        const struct store_job_claimed *r = &rows[idx[i]];
        back[i].guard.id = r->id;
        back[i].guard.attempt = r->attempt;
        back[i].guard.owner = r->owner;
        back[i].outcome = STORE_JOB_HANDBACK;
        back[i].level = "info";
        back[i].message = "handed back";
        back[i].details = "{\"reason\":\"shutdown\"}";
    }
    char err[256] = "";
    if (store_job_finish(c, back, n, err, sizeof(err)) != RH_OK) {
        log_warn("cannot hand back jobs claimed during shutdown; they will be rescued",
                 LOG_INT("jobs", n), LOG_STR("error", err));
        return;
    }
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < n; i++)
        p->stats.handed_back += back[i].applied;
    pthread_mutex_unlock(&p->mu);
}

/* Claims one job per idle worker (at most CLAIM_MAX) and hands them out. */
static enum rh_status claim_batch(struct worker_pool *p, PGconn *c, int *asked, int *got)
{
    struct worker *targets[CLAIM_MAX];
    char tokens[CLAIM_MAX][128];
    const char *owners[CLAIM_MAX];
    int n = 0;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->nworkers && n < CLAIM_MAX; i++) {
        struct worker *w = &p->workers[i];
        if (!w->idle)
            continue;
        snprintf(tokens[n], sizeof(tokens[n]), "%s/w%d/%llu", p->instance, w->index,
                 (unsigned long long)++p->seq);
        owners[n] = tokens[n];
        targets[n] = w;
        n++;
    }
    pthread_mutex_unlock(&p->mu);
    *asked = n;
    *got = 0;
    if (n == 0)
        return RH_OK;

    struct store_job_claimed *rows = NULL;
    int nrows = 0;
    char err[256] = "";
    int64_t t0 = time_mono_ms();
    enum rh_status st = store_job_claim(c, owners, n, p->lease_s, &rows, &nrows, err, sizeof(err));
    if (st != RH_OK) {
        log_warn("cannot claim jobs", LOG_STR("error", err));
        return st;
    }
    *got = nrows;
    int back[CLAIM_MAX];
    int nback = 0;
    pthread_mutex_lock(&p->mu);
    p->stats.claimed += nrows;
    p->stats.dispatches++;
    for (int r = 0; r < nrows; r++) {
        struct worker *w = NULL;
        for (int k = 0; k < n && !w; k++)
            if (strcmp(owners[k], rows[r].owner) == 0)
                w = targets[k];
        /* Idle workers only leave the idle state through the dispatcher, or on stop. */
        if (!p->stopping && w && w->idle) {
            struct store_job_claimed *one = xmalloc(sizeof(*one));
            *one = rows[r];
            rows[r].payload = NULL;
            rows[r].steps = NULL;
            rows[r].service_name = NULL;
            atomic_fetch_add(&p->running, 1);
            w->inbox = one;
            w->inbox_lease_from = t0;
            w->idle = false;
            p->idle_count--;
            pthread_cond_signal(&w->cv);
        } else {
            back[nback++] = r;
        }
    }
    pthread_mutex_unlock(&p->mu);
    if (nback)
        handback_rows(p, c, rows, back, nback);
    store_job_claimed_free(rows, nrows);
    return RH_OK;
}

static PGconn *connect_dispatcher(struct worker_pool *p, char *err, size_t errlen)
{
    PGconn *c = pool_connect(p, err, errlen);
    if (!c || !p->listen)
        return c;
    /* Named so operators (and tests) can see which session listens. */
    PGresult *r = PQexec(c, "SET application_name = 'railhook-listen'; LISTEN railhook_jobs");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        char *clean = redact_string(PQerrorMessage(c));
        snprintf(err, errlen, "LISTEN failed: %s", clean);
        free(clean);
        PQfinish(c);
        c = NULL;
    }
    return c;
}

static void drain_notifies(PGconn *c, bool *hint)
{
    PGnotify *n;
    while ((n = PQnotifies(c)) != NULL) {
        *hint = true;
        PQfreemem(n);
    }
}

static int clamp_timeout(int64_t ms)
{
    if (ms < 0)
        return 0;
    return ms > 60000 ? 60000 : (int)ms;
}

static void *dispatcher_main(void *arg)
{
    struct worker_pool *p = arg;
    PGconn *c = NULL;
    bool hint = true;
    int64_t next_poll = 0, retry_at = 0;
    int failures = 0;
    char err[256] = "";
    for (;;) {
        int64_t now = time_mono_ms();
        if (!c && now >= retry_at) {
            c = connect_dispatcher(p, err, sizeof(err));
            if (!c) {
                if (failures++ == 0)
                    log_warn("job dispatcher cannot reach the database; retrying",
                             LOG_STR("error", err));
                retry_at = now + 1000;
            } else {
                if (failures)
                    log_info("job dispatcher reconnected",
                             LOG_STR("listen", p->listen ? "on" : "off"));
                failures = 0;
                hint = true; /* notifications may have been missed */
            }
        }
        pthread_mutex_lock(&p->mu);
        bool stopping = p->stopping;
        int idle = p->idle_count;
        pthread_mutex_unlock(&p->mu);
        if (stopping)
            break;

        if (c && idle > 0 && (hint || now >= next_poll)) {
            int asked = 0, got = 0;
            hint = false;
            if (claim_batch(p, c, &asked, &got) != RH_OK) {
                if (PQstatus(c) != CONNECTION_OK) {
                    PQfinish(c);
                    c = NULL;
                    retry_at = now + 1000;
                }
                next_poll = now + (p->poll_ms < 1000 ? p->poll_ms : 1000);
                continue;
            }
            if (asked > 0 && got == asked) {
                hint = true; /* there may be more */
            } else {
                /* Sleep until the poll timer or the next scheduled job, whichever is first. */
                next_poll = now + p->poll_ms;
                int64_t due = -1;
                if (store_job_next_due(c, &due, err, sizeof(err)) == RH_OK && due >= 0 &&
                    due < p->poll_ms)
                    next_poll = now + (due > 25 ? due : 25);
            }
            drain_notifies(c, &hint);
            continue;
        }

        int timeout = -1;
        if (c && idle > 0)
            timeout = clamp_timeout(next_poll - now);
        if (!c)
            timeout = clamp_timeout(retry_at - now);
        struct pollfd fds[2];
        nfds_t nfds = 1;
        fds[0].fd = p->wake_fd;
        fds[0].events = POLLIN;
        fds[0].revents = 0;
        if (c && p->listen) {
            fds[1].fd = PQsocket(c);
            fds[1].events = POLLIN;
            fds[1].revents = 0;
            nfds = 2;
        }
        int rc = poll(fds, nfds, timeout);
        if (rc > 0 && (fds[0].revents & POLLIN)) {
            uint64_t v;
            ssize_t got = read(p->wake_fd, &v, sizeof(v));
            (void)got;
        }
        if (rc > 0 && nfds == 2 && fds[1].revents) {
            if (!PQconsumeInput(c)) {
                log_warn("job dispatcher lost its database connection");
                PQfinish(c);
                c = NULL;
                retry_at = time_mono_ms();
            } else {
                drain_notifies(c, &hint);
            }
        }
    }
    PQfinish(c);
    return NULL;
}

/* ---- the heartbeat: leases, rescue of expired ones, retention ---- */

struct lease_copy {
    char id[37];
    char owner[128];
    int attempt;
};

static void beat(struct worker_pool *p, PGconn **c)
{
    struct lease_copy *copies = xcalloc((size_t)p->nworkers, sizeof(*copies));
    struct store_job_lease *leases = xcalloc((size_t)p->nworkers, sizeof(*leases));
    int n = 0;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->nworkers; i++) {
        struct job_run *run = p->workers[i].run;
        if (!run || run->lost)
            continue;
        snprintf(copies[n].id, sizeof(copies[n].id), "%s", run->job.id);
        snprintf(copies[n].owner, sizeof(copies[n].owner), "%s", run->owner);
        copies[n].attempt = run->job.attempt;
        n++;
    }
    pthread_mutex_unlock(&p->mu);
    if (n == 0)
        goto out;
    for (int i = 0; i < n; i++) {
        leases[i].guard.id = copies[i].id;
        leases[i].guard.attempt = copies[i].attempt;
        leases[i].guard.owner = copies[i].owner;
    }
    char err[256] = "";
    int64_t t0 = time_mono_ms();
    enum rh_status st = RH_UNAVAILABLE;
    if (ensure_conn(p, c, err, sizeof(err)))
        st = store_job_heartbeat(*c, leases, n, p->lease_s, err, sizeof(err));
    if (st != RH_OK)
        log_warn("heartbeat failed; running jobs stop at their next step", LOG_INT("jobs", n),
                 LOG_STR("error", err));
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->nworkers; i++) {
        struct worker *w = &p->workers[i];
        if (!w->run)
            continue;
        for (int k = 0; k < n; k++) {
            if (strcmp(copies[k].owner, w->run->owner) != 0)
                continue;
            if (st != RH_OK || !leases[k].kept) {
                w->run->lost = true;
                pthread_cond_signal(&w->cv);
            } else {
                w->run->lease_until = t0 + (int64_t)p->lease_s * 1000;
                if (leases[k].cancel_requested && !w->run->cancel) {
                    w->run->cancel = true;
                    pthread_cond_signal(&w->cv);
                }
            }
        }
    }
    pthread_mutex_unlock(&p->mu);
out:
    free(leases);
    free(copies);
}

static void reap(struct worker_pool *p, PGconn **c)
{
    char err[256] = "";
    if (!ensure_conn(p, c, err, sizeof(err)))
        return;
    for (int round = 0; round < 10; round++) {
        int rescued = 0, poisoned = 0;
        if (store_job_rescue(*c, p->max_rescues, RESCUE_BATCH, &rescued, &poisoned, err,
                             sizeof(err)) != RH_OK) {
            log_warn("cannot rescue expired jobs", LOG_STR("error", err));
            return;
        }
        if (rescued + poisoned == 0)
            return;
        log_warn("re-queued jobs whose lease expired", LOG_INT("rescued", rescued),
                 LOG_INT("poisoned", poisoned));
        pthread_mutex_lock(&p->mu);
        p->stats.rescued += rescued;
        pthread_mutex_unlock(&p->mu);
        if (rescued + poisoned < RESCUE_BATCH)
            return;
    }
}

static void prune(struct worker_pool *p, PGconn **c)
{
    char err[256] = "";
    long total = 0;
    if (!ensure_conn(p, c, err, sizeof(err)))
        return;
    for (int round = 0; round < PRUNE_ROUNDS; round++) {
        long n = 0;
        if (store_job_prune(*c, p->retention_days, PRUNE_BATCH, &n, err, sizeof(err)) != RH_OK) {
            log_warn("cannot prune old jobs", LOG_STR("error", err));
            break;
        }
        total += n;
        if (n < PRUNE_BATCH)
            break;
    }
    if (total)
        log_info("pruned finished jobs", LOG_INT("jobs", total),
                 LOG_INT("older_than_days", p->retention_days));
}

static void *heartbeat_main(void *arg)
{
    struct worker_pool *p = arg;
    PGconn *c = NULL;
    int64_t interval = (int64_t)p->lease_s * 1000 / 3;
    int64_t next_prune = 0;
    pthread_mutex_lock(&p->mu);
    while (!p->hb_stop) {
        pthread_mutex_unlock(&p->mu);
        beat(p, &c);
        reap(p, &c);
        if (time_mono_ms() >= next_prune) {
            prune(p, &c);
            next_prune = time_mono_ms() + PRUNE_EVERY_MS;
        }
        int64_t wake = time_mono_ms() + interval;
        struct timespec ts;
        worker_mono_timespec(wake, &ts);
        pthread_mutex_lock(&p->mu);
        while (!p->hb_stop && time_mono_ms() < wake)
            pthread_cond_timedwait(&p->hb_cv, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
    PQfinish(c);
    return NULL;
}

/* ---- start, stop, stats ---- */

enum rh_status worker_pool_start(struct worker_pool *p, char *err, size_t errlen)
{
    enum rh_status st = RH_UNAVAILABLE;
    for (size_t i = 0; i < sizeof(production_kinds) / sizeof(production_kinds[0]); i++)
        if (!handler_for(p, production_kinds[i]))
            log_warn("no handler registered for a job kind; its jobs will fail",
                     LOG_STR("kind", production_kinds[i]));
    p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->wake_fd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        goto out;
    }
    pthread_mutex_lock(&p->mu);
    p->started = true;
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nworkers; i++) {
        if (pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]) != 0) {
            snprintf(err, errlen, "cannot create worker thread %d", i);
            goto out;
        }
        p->workers[i].started = true;
    }
    if (pthread_create(&p->dispatcher, NULL, dispatcher_main, p) != 0) {
        snprintf(err, errlen, "cannot create the dispatcher thread");
        goto out;
    }
    p->dispatcher_started = true;
    if (pthread_create(&p->heartbeat, NULL, heartbeat_main, p) != 0) {
        snprintf(err, errlen, "cannot create the heartbeat thread");
        goto out;
    }
    p->heartbeat_started = true;
    log_info("worker pool started", LOG_STR("instance", p->instance),
             LOG_INT("workers", p->nworkers), LOG_STR("listen", p->listen ? "on" : "off"),
             LOG_INT("poll_ms", p->poll_ms), LOG_INT("lease_s", p->lease_s),
             LOG_INT("handlers", p->nhandlers));
    st = RH_OK;
out:
    return st;
}

/* After the grace period: hands the still-running jobs back on a connection of its own. */
static void force_handback(struct worker_pool *p, struct lease_copy *l, int n)
{
    char err[256] = "";
    struct store_job_finish *f = xcalloc((size_t)n, sizeof(*f));
    for (int i = 0; i < n; i++) {
        f[i].guard.id = l[i].id;
        f[i].guard.attempt = l[i].attempt;
        f[i].guard.owner = l[i].owner;
        f[i].outcome = STORE_JOB_HANDBACK;
        f[i].level = "warn";
        f[i].message = "handed back";
        f[i].details = "{\"reason\":\"shutdown grace period over\"}";
    }
    PGconn *c = pool_connect(p, err, sizeof(err));
    if (!c || store_job_finish(c, f, n, err, sizeof(err)) != RH_OK) {
        log_warn("cannot hand back running jobs; they will be rescued when their lease expires",
                 LOG_INT("jobs", n), LOG_STR("error", err));
    } else {
        int applied = 0;
        for (int i = 0; i < n; i++)
            applied += f[i].applied;
        log_warn("grace period over; handed back running jobs", LOG_INT("jobs", applied));
        pthread_mutex_lock(&p->mu);
        p->stats.handed_back += applied;
        pthread_mutex_unlock(&p->mu);
    }
    PQfinish(c);
    free(f);
}

/* Waits for the workers until deadline, hands back what still runs, joins. True when a
 * handler is still stuck (its thread is then detached and the pool must not be freed). */
static bool stop_workers(struct worker_pool *p, int64_t deadline)
{
    struct lease_copy *stuck = xcalloc((size_t)(p->nworkers ? p->nworkers : 1), sizeof(*stuck));
    int n = 0;
    bool leaked = false;
    struct timespec ts;
    worker_mono_timespec(deadline, &ts);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        bool all = true;
        for (int i = 0; i < p->nworkers; i++)
            if (p->workers[i].started && !p->workers[i].exited)
                all = false;
        if (all || time_mono_ms() >= deadline)
            break;
        pthread_cond_timedwait(&p->changed, &p->mu, &ts);
    }
    for (int i = 0; i < p->nworkers; i++) {
        struct worker *w = &p->workers[i];
        if (!w->run || w->exited)
            continue;
        snprintf(stuck[n].id, sizeof(stuck[n].id), "%s", w->run->job.id);
        snprintf(stuck[n].owner, sizeof(stuck[n].owner), "%s", w->run->owner);
        stuck[n].attempt = w->run->job.attempt;
        w->run->lost = true;
        pthread_cond_signal(&w->cv);
        n++;
    }
    pthread_mutex_unlock(&p->mu);
    if (n)
        force_handback(p, stuck, n);
    free(stuck);

    struct timespec abs;
    clock_gettime(CLOCK_REALTIME, &abs);
    abs.tv_sec += STOP_JOIN_MS / 1000;
    for (int i = 0; i < p->nworkers; i++) {
        if (!p->workers[i].started)
            continue;
        if (pthread_timedjoin_np(p->workers[i].thread, NULL, &abs) != 0) {
            log_warn("a job handler did not return after the grace period; leaving it",
                     LOG_INT("worker", i));
            pthread_detach(p->workers[i].thread);
            leaked = true;
        }
    }
    return leaked;
}

static void pool_free(struct worker_pool *p)
{
    for (int i = 0; i < p->nworkers; i++)
        pthread_cond_destroy(&p->workers[i].cv);
    if (p->wake_fd >= 0)
        close(p->wake_fd);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->changed);
    pthread_cond_destroy(&p->hb_cv);
    pthread_mutex_destroy(&p->fin_mu);
    pthread_cond_destroy(&p->fin_cv);
    free(p->workers);
    free(p->handlers);
    free(p->conninfo);
    free(p->instance);
    free(p);
}

void worker_pool_stop(struct worker_pool *p, int grace_ms)
{
    if (!p)
        return;
    bool leaked = false;
    int64_t deadline = time_mono_ms() + (grace_ms > 0 ? grace_ms : 0);
    pthread_mutex_lock(&p->mu);
    bool started = p->started;
    p->stopping = true;
    for (int i = 0; i < p->nworkers; i++)
        pthread_cond_signal(&p->workers[i].cv);
    pthread_mutex_unlock(&p->mu);
    if (started) {
        if (p->wake_fd >= 0)
            wake_dispatcher(p);
        if (p->dispatcher_started)
            pthread_join(p->dispatcher, NULL);
        leaked = stop_workers(p, deadline);
        pthread_mutex_lock(&p->mu);
        p->hb_stop = true;
        pthread_cond_broadcast(&p->hb_cv);
        pthread_mutex_unlock(&p->mu);
        if (p->heartbeat_started)
            pthread_join(p->heartbeat, NULL);
        log_info("worker pool stopped", LOG_INT("claimed", p->stats.claimed),
                 LOG_INT("succeeded", p->stats.succeeded),
                 LOG_INT("handed_back", p->stats.handed_back));
    }
    if (leaked)
        return; /* a detached handler may still touch the pool: keep it */
    pool_free(p);
}

void worker_pool_stats(struct worker_pool *p, struct worker_pool_stats *out)
{
    pthread_mutex_lock(&p->mu);
    *out = p->stats;
    out->workers = p->nworkers;
    out->busy = 0;
    for (int i = 0; i < p->nworkers; i++)
        out->busy += p->workers[i].run != NULL;
    pthread_mutex_unlock(&p->mu);
}
