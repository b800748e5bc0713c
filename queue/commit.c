/* Group commit of finished runs, through the store's group commit (store/group.h): a worker
 * submits its run's guarded transition, and a waiting worker leads each group, writing it in
 * one statement on its own connection and claiming in the same statement each submitter's
 * next job.
 *
 * Threading: any worker thread may lead a group, two groups at most at once (one commits, the
 * next forms); the group's own mutex is never held with mu or during a database call. Every
 * commit also NOTIFYs (and NOTIFY serialises commits cluster-wide), so each carries as many
 * jobs as finished meanwhile. */
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
    if (store_conn_ensure(p->store, STORE_SESSION_DEFAULT, &w->conn, err, sizeof(err)))
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

static void on_write(void *ctx, void *writer, struct store_group_item **items, size_t n)
{
    (void)ctx;
    struct fin_req *batch[FINISH_MAX];
    for (size_t i = 0; i < n; i++)
        batch[i] = (struct fin_req *)items[i];
    write_group(writer, batch, (int)n);
}

/* Like PostgreSQL's commit_delay with commit_siblings: while other handlers are still running,
 * a group waits a moment for their outcomes so one commit carries them all. Short jobs
 * finishing together then share a commit; a lone job does not wait. */
static bool on_expect_more(void *ctx)
{
    struct queue *p = ctx;
    return atomic_load(&p->running) > 0;
}

struct store_group *queue_commits_new(struct queue *q)
{
    static const struct store_group_ops ops = {.write = on_write, .expect_more = on_expect_more};
    static const struct store_group_limits limits = {
        .max_items = FINISH_MAX, .max_writers = FINISH_INFLIGHT, .linger_us = FINISH_WAIT_US};
    return store_group_new(&ops, &limits, q);
}

enum rh_status queue_outcome_commit(struct worker *w, struct fin_req *req)
{
    store_group_submit(w->pool->commits, &req->item, w);
    return req->st;
}
