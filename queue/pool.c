/* The queue's life: create, register handlers, start the threads, stop them, read the counters.
 * The queue claims jobs from PostgreSQL, runs them through their kind's handler, and records
 * each outcome with a guarded transition.
 *
 * Threading model (each role in its own file: run.c, dispatch.c, commit.c, lease.c).
 * WORKERS worker threads run handlers, each on its own PGconn (job_db()). A
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
 * state (idle workers, inboxes, running jobs' flags, counters); the commit group's own mutex
 * guards its queue. No thread holds one lock while taking the other, and no database call is
 * made under either. */
#include "queue/queue_int.h"

#include "store/store.h"
#include "util/log.h"
#include "util/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define STOP_JOIN_MS 2000 /* after the grace: how long a stuck handler gets before it is left */

void queue_dispatcher_wake(struct queue *p)
{
    uint64_t one = 1;
    ssize_t n = write(p->wake_fd, &one, sizeof(one));
    (void)n; /* a full counter already wakes it */
}

const struct job_handler *queue_handler_find(const struct queue *p, const char *kind)
{
    for (int i = 0; i < p->nhandlers; i++)
        if (strcmp(p->handlers[i].kind, kind) == 0)
            return &p->handlers[i];
    return NULL;
}

struct queue *queue_create(const struct config *cfg, struct store *store)
{
    struct queue *p = xcalloc(1, sizeof(*p));
    p->store = store;
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
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->changed, &attr);
    pthread_cond_init(&p->hb_cv, &attr);
    pthread_cond_init(&p->watch_cv, &attr);
    p->commits = queue_commits_new(p);
    p->workers = xcalloc((size_t)(p->nworkers > 0 ? p->nworkers : 1), sizeof(*p->workers));
    for (int i = 0; i < p->nworkers; i++) {
        p->workers[i].pool = p;
        p->workers[i].index = i;
        pthread_cond_init(&p->workers[i].cv, &attr);
    }
    pthread_condattr_destroy(&attr);
    return p;
}

enum rh_status queue_register(struct queue *p, const struct job_handler *h)
{
    enum rh_status st = RH_INVALID;
    pthread_mutex_lock(&p->mu);
    bool started = p->started;
    pthread_mutex_unlock(&p->mu);
    if (started || !h || !h->kind || !h->run)
        goto out;
    st = RH_CONFLICT;
    if (queue_handler_find(p, h->kind))
        goto out;
    p->handlers = xrealloc(p->handlers, (size_t)(p->nhandlers + 1) * sizeof(*p->handlers));
    p->handlers[p->nhandlers++] = *h;
    st = RH_OK;
out:
    return st;
}

/* ---- start, stop, stats ---- */

enum rh_status queue_start(struct queue *p, char *err, size_t errlen)
{
    enum rh_status st = RH_UNAVAILABLE;
    p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->wake_fd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        goto out;
    }
    pthread_mutex_lock(&p->mu);
    p->started = true;
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nworkers; i++) {
        if (pthread_create(&p->workers[i].thread, NULL, queue_worker_main, &p->workers[i]) != 0) {
            snprintf(err, errlen, "cannot create worker thread %d", i);
            goto out;
        }
        p->workers[i].started = true;
    }
    if (pthread_create(&p->dispatcher, NULL, queue_dispatcher_main, p) != 0) {
        snprintf(err, errlen, "cannot create the dispatcher thread");
        goto out;
    }
    p->dispatcher_started = true;
    if (pthread_create(&p->heartbeat, NULL, queue_heartbeat_main, p) != 0) {
        snprintf(err, errlen, "cannot create the heartbeat thread");
        goto out;
    }
    p->heartbeat_started = true;
    if (p->watch.run) {
        if (pthread_create(&p->watcher, NULL, queue_watcher_main, p) != 0) {
            snprintf(err, errlen, "cannot create the watcher thread");
            goto out;
        }
        p->watcher_started = true;
    }
    log_info("worker pool started", LOG_STR("instance", p->instance),
             LOG_INT("workers", p->nworkers), LOG_STR("listen", p->listen ? "on" : "off"),
             LOG_INT("poll_ms", p->poll_ms), LOG_INT("lease_s", p->lease_s),
             LOG_INT("handlers", p->nhandlers));
    st = RH_OK;
out:
    return st;
}

/* After the grace period: hands the still-running jobs back on a connection of its own. */
static void force_handback(struct queue *p, struct lease_copy *l, int n)
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
    PGconn *c = store_conn_open(p->store, STORE_SESSION_DEFAULT, err, sizeof(err));
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
static bool stop_workers(struct queue *p, int64_t deadline)
{
    struct lease_copy *stuck = xcalloc((size_t)(p->nworkers ? p->nworkers : 1), sizeof(*stuck));
    int n = 0;
    bool leaked = false;
    struct timespec ts;
    time_mono_timespec(deadline, &ts);
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

static void pool_free(struct queue *p)
{
    for (int i = 0; i < p->nworkers; i++)
        pthread_cond_destroy(&p->workers[i].cv);
    if (p->wake_fd >= 0)
        close(p->wake_fd);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->changed);
    pthread_cond_destroy(&p->hb_cv);
    pthread_cond_destroy(&p->watch_cv);
    store_group_free(p->commits);
    free(p->workers);
    free(p->handlers);
    free(p->instance);
    free(p);
}

void queue_stop(struct queue *p, int grace_ms)
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
    pthread_cond_broadcast(&p->watch_cv);
    pthread_mutex_unlock(&p->mu);
    if (started) {
        if (p->wake_fd >= 0)
            queue_dispatcher_wake(p);
        if (p->dispatcher_started)
            pthread_join(p->dispatcher, NULL);
        if (p->watcher_started)
            pthread_join(p->watcher, NULL);
        leaked = stop_workers(p, deadline);
        /* Jobs still parked (and any a stopping worker parked) go back to the queue. */
        queue_park_handback(p);
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

void queue_stats_get(struct queue *p, struct queue_stats *out)
{
    pthread_mutex_lock(&p->mu);
    *out = p->stats;
    out->workers = p->nworkers;
    out->busy = 0;
    for (int i = 0; i < p->nworkers; i++)
        out->busy += p->workers[i].run != NULL;
    out->parked = p->nparked;
    pthread_mutex_unlock(&p->mu);
}
