/* The dispatcher: hands parked jobs that were woken (or whose deadline passed) to idle
 * workers first (park.c); LISTENs on railhook_jobs (unless QUEUE_LISTEN=off) and, whenever workers
 * are idle and a notification, a full previous claim or the QUEUE_POLL_MS timer says jobs may
 * be waiting, claims up to one job per idle worker in a single statement (FOR UPDATE SKIP
 * LOCKED) with one lease owner token per worker, and hands each job to its worker.
 *
 * Threading: one dispatcher thread owns its connection; it hands jobs over through each
 * worker's inbox and condition variable under pool->mu, and sleeps in poll() on the
 * connection's socket and the pool's eventfd (workers write it when they go idle). */
#include "queue/queue_int.h"

#include "util/log.h"
#include "util/util.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLAIM_MAX 64 /* jobs per claim statement */

static void handback_rows(struct queue *p, PGconn *c, struct store_job_claimed *rows,
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
static enum rh_status claim_batch(struct queue *p, PGconn *c, int *asked, int *got)
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

/* The dispatcher's connection: named railhook-listen when it LISTENs, so operators (and
 * tests) can see which session does. NULL with err set. */
static PGconn *connect_dispatcher(struct queue *p, char *err, size_t errlen)
{
    PGconn *c = store_conn_open(p->store, p->listen ? STORE_SESSION_LISTEN : STORE_SESSION_DEFAULT,
                                err, errlen);
    if (c && p->listen && store_listen(c, STORE_CHANNEL_JOBS, err, errlen) != RH_OK) {
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

void *queue_dispatcher_main(void *arg)
{
    struct queue *p = arg;
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

        /* Parked jobs that were woken (or whose deadline passed) go before new claims. */
        int64_t park_due = INT64_MAX;
        if (idle > 0 && queue_park_dispatch(p, &park_due) > 0)
            continue;

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
        if (idle > 0 && park_due != INT64_MAX && (timeout < 0 || park_due - now < timeout))
            timeout = clamp_timeout(park_due - now);
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
