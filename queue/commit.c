/* Group commit of finished runs: a worker queues its run's guarded transition, and the first
 * waiting worker writes the whole queue in one statement on its own connection, claiming in
 * the same statement each writer's next job.
 *
 * Threading: any worker thread may lead a group; fin_mu guards the commit queue and is never
 * held with mu or during a database call. Every commit also NOTIFYs (and NOTIFY serialises
 * commits cluster-wide), so each carries as many jobs as finished meanwhile. */
#include "queue/queue_int.h"

#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <string.h>

#define FINISH_MAX      64  /* finished runs per group commit */
#define FINISH_WAIT_US  500 /* longest a group commit waits for handlers still running */
#define FINISH_INFLIGHT 2   /* group statements in flight at once (one commits, one forms) */

/* Writes a group of finishes in one statement on w's connection, claiming in the same
 * statement one next job for each request that wants one (unless the pool is stopping). */
static void write_group(struct worker *w, struct fin_req **batch, int n)
{
    struct queue *p = w->pool;
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
    if (queue_conn_ensure(p, &w->conn, err, sizeof(err)))
        st = store_job_finish_claim(w->conn, arr, n, owners, k, p->lease_s, &rows, &nrows, err,
                                    sizeof(err));
    if (st != RH_OK)
        log_warn("cannot record finished jobs", "jobs=%d error=\"%s\"", n, err);
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
enum rh_status queue_outcome_commit(struct worker *w, struct fin_req *req)
{
    struct queue *p = w->pool;
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
