/* The heartbeat: extends the leases of this instance's running and parked jobs every lease/3 and
 * flags a run as lost when its row no longer matches or the heartbeat fails; re-queues jobs whose
 * lease expired (dead instances); prunes old finished jobs.
 *
 * Threading: one heartbeat thread owns its connection; it copies the running jobs' leases
 * under pool->mu, talks to the database without the lock, then sets the runs' flags under it
 * and signals their workers. */
#include "queue/queue_int.h"

#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESCUE_BATCH   100 /* expired leases re-queued per statement */
#define PRUNE_BATCH    500 /* finished jobs deleted per statement */
#define PRUNE_ROUNDS   20  /* statements per prune pass */
#define PRUNE_EVERY_MS 600000

static void beat(struct queue *p, PGconn **c)
{
    pthread_mutex_lock(&p->mu);
    int cap = p->nworkers + p->nparked + 1;
    pthread_mutex_unlock(&p->mu);
    struct lease_copy *copies = xcalloc((size_t)cap, sizeof(*copies));
    struct store_job_lease *leases = xcalloc((size_t)cap, sizeof(*leases));
    int n = 0;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->nworkers && n < cap; i++) {
        struct job_run *run = p->workers[i].run;
        if (!run || run->lost)
            continue;
        snprintf(copies[n].id, sizeof(copies[n].id), "%s", run->job.id);
        snprintf(copies[n].owner, sizeof(copies[n].owner), "%s", run->owner);
        copies[n].attempt = run->job.attempt;
        n++;
    }
    n += queue_park_leases(p, copies + n, cap - n);
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
    if (store_conn_ensure(p->store, STORE_SESSION_DEFAULT, c, err, sizeof(err)))
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
    for (int k = 0; k < n; k++)
        queue_park_beat(p, copies[k].owner, st == RH_OK && leases[k].kept,
                        leases[k].cancel_requested, t0);
    pthread_mutex_unlock(&p->mu);
out:
    free(leases);
    free(copies);
}

static void reap(struct queue *p, PGconn **c)
{
    char err[256] = "";
    if (!store_conn_ensure(p->store, STORE_SESSION_DEFAULT, c, err, sizeof(err)))
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

static void prune(struct queue *p, PGconn **c)
{
    char err[256] = "";
    long total = 0;
    if (!store_conn_ensure(p->store, STORE_SESSION_DEFAULT, c, err, sizeof(err)))
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

void *queue_heartbeat_main(void *arg)
{
    struct queue *p = arg;
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
        time_mono_timespec(wake, &ts);
        pthread_mutex_lock(&p->mu);
        while (!p->hb_stop && time_mono_ms() < wake)
            pthread_cond_timedwait(&p->hb_cv, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
    PQfinish(c);
    return NULL;
}
