/* Parked jobs: a job that waits on something outside railhook (job_park()) leaves its worker
 * and is kept here, in this instance's memory, with its lease (the heartbeat keeps it), until
 * it is woken (queue_parked_wake()), its deadline passes or a cancel is requested; then the
 * dispatcher hands it to the next free worker before claiming new jobs, and its handler runs
 * again from its saved steps. A crash loses only this memory: the lease expires and the
 * reaper re-queues the job. Also the watcher thread the queue runs for a user of parking.
 *
 * Threading: the list (pool->parked) and every struct parked are guarded by pool->mu; they are
 * touched by the workers (parking), the dispatcher (handing out), the heartbeat (leases,
 * cancels), the watcher (listing, waking) and queue_stop() (handing back). Database calls
 * happen on the caller's own connection, without the lock. */
#include "queue/queue_int.h"

#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void parked_free(struct parked *k)
{
    free(k->row.payload);
    free(k->row.steps);
    free(k->row.service_name);
    free(k->woken);
    free(k->recorded);
    free(k);
}

void queue_park_add(struct queue *q, struct job_run *run)
{
    struct parked *k = xcalloc(1, sizeof(*k));
    snprintf(k->row.id, sizeof(k->row.id), "%s", run->job.id);
    snprintf(k->row.kind, sizeof(k->row.kind), "%s", run->job.kind);
    snprintf(k->row.owner, sizeof(k->row.owner), "%s", run->owner);
    k->row.attempt = run->job.attempt;
    k->row.max_attempts = run->job.max_attempts;
    k->row.payload = cJSON_PrintUnformatted(run->payload);
    k->row.steps = cJSON_PrintUnformatted(run->steps);
    k->row.service_name = run->job.service_name ? xstrdup(run->job.service_name) : NULL;
    snprintf(k->on, sizeof(k->on), "%s", run->park_on);
    snprintf(k->seen, sizeof(k->seen), "%s", run->park_seen);
    k->recorded = run->recorded; /* moved: the next run of this attempt goes on from it */
    run->recorded = NULL;
    k->parked_at = time_mono_ms();
    k->until = run->park_until;
    pthread_mutex_lock(&q->mu);
    k->lease_from = run->lease_until - (int64_t)q->lease_s * 1000;
    k->ready = run->cancel;
    k->next = q->parked;
    q->parked = k;
    q->nparked++;
    q->stats.parks++;
    pthread_cond_broadcast(&q->watch_cv);
    pthread_mutex_unlock(&q->mu);
    if (k->ready)
        queue_dispatcher_wake(q);
}

struct queue_wait *queue_parked_list(struct queue *q, const char *prefix, int *n)
{
    size_t plen = strlen(prefix);
    struct queue_wait *out = NULL;
    *n = 0;
    pthread_mutex_lock(&q->mu);
    if (q->nparked > 0)
        out = xcalloc((size_t)q->nparked, sizeof(*out));
    for (struct parked *k = q->parked; k; k = k->next) {
        if (strncmp(k->on, prefix, plen) != 0)
            continue;
        struct queue_wait *w = &out[(*n)++];
        snprintf(w->job_id, sizeof(w->job_id), "%s", k->row.id);
        snprintf(w->on, sizeof(w->on), "%s", k->on);
        snprintf(w->seen, sizeof(w->seen), "%s", k->seen);
        w->parked_at_ms = k->parked_at;
    }
    pthread_mutex_unlock(&q->mu);
    if (*n == 0) {
        free(out);
        out = NULL;
    }
    return out;
}

int queue_parked_wake(struct queue *q, const char *on, const char *value)
{
    int n = 0;
    pthread_mutex_lock(&q->mu);
    for (struct parked *k = q->parked; k; k = k->next) {
        if (k->ready || strcmp(k->on, on) != 0)
            continue;
        free(k->woken);
        k->woken = value ? xstrdup(value) : NULL;
        k->ready = true;
        n++;
    }
    pthread_mutex_unlock(&q->mu);
    if (n)
        queue_dispatcher_wake(q);
    return n;
}

int queue_park_dispatch(struct queue *q, int64_t *next_due)
{
    int handed = 0;
    int64_t now = time_mono_ms();
    *next_due = INT64_MAX;
    pthread_mutex_lock(&q->mu);
    struct parked **pp = &q->parked;
    while (*pp && !q->stopping) {
        struct parked *k = *pp;
        bool due = k->ready || now >= k->until;
        struct worker *w = NULL;
        for (int i = 0; due && i < q->nworkers && !w; i++)
            if (q->workers[i].idle)
                w = &q->workers[i];
        if (!w) {
            if (!due && k->until < *next_due)
                *next_due = k->until;
            pp = &k->next;
            continue;
        }
        *pp = k->next;
        q->nparked--;
        struct store_job_claimed *one = xmalloc(sizeof(*one));
        *one = k->row;
        w->inbox = one;
        w->inbox_lease_from = k->lease_from;
        w->inbox_woken = k->woken;
        w->inbox_recorded = k->recorded;
        w->idle = false;
        q->idle_count--;
        atomic_fetch_add(&q->running, 1);
        pthread_cond_signal(&w->cv);
        free(k); /* its strings moved to the inbox */
        handed++;
    }
    pthread_mutex_unlock(&q->mu);
    return handed;
}

int queue_park_leases(struct queue *q, struct lease_copy *l, int max)
{
    int n = 0;
    for (struct parked *k = q->parked; k && n < max; k = k->next) {
        snprintf(l[n].id, sizeof(l[n].id), "%s", k->row.id);
        snprintf(l[n].owner, sizeof(l[n].owner), "%s", k->row.owner);
        l[n].attempt = k->row.attempt;
        n++;
    }
    return n;
}

void queue_park_beat(struct queue *q, const char *owner, bool kept, bool cancel, int64_t t0)
{
    for (struct parked **pp = &q->parked; *pp; pp = &(*pp)->next) {
        struct parked *k = *pp;
        if (strcmp(k->row.owner, owner) != 0)
            continue;
        if (!kept) {
            /* Someone else owns it now, or the lease could not be confirmed: forget it. */
            log_warn("a parked job's lease was not confirmed; leaving it to its new owner or the "
                     "reaper",
                     LOG_STR("job", k->row.id));
            *pp = k->next;
            q->nparked--;
            parked_free(k);
            return;
        }
        k->lease_from = t0;
        if (cancel && !k->ready) {
            k->row.cancel_requested = true;
            k->ready = true;
            queue_dispatcher_wake(q);
        }
        return;
    }
}

void queue_park_handback(struct queue *q)
{
    pthread_mutex_lock(&q->mu);
    struct parked *list = q->parked;
    int n = q->nparked;
    q->parked = NULL;
    q->nparked = 0;
    pthread_mutex_unlock(&q->mu);
    if (!list)
        return;
    struct store_job_finish *f = xcalloc((size_t)n, sizeof(*f));
    int i = 0;
    for (struct parked *k = list; k && i < n; k = k->next, i++) {
        f[i].guard.id = k->row.id;
        f[i].guard.attempt = k->row.attempt;
        f[i].guard.owner = k->row.owner;
        f[i].outcome = STORE_JOB_HANDBACK;
        f[i].level = "info";
        f[i].message = "handed back";
        f[i].details = "{\"reason\":\"shutdown while parked\"}";
    }
    char err[256] = "";
    PGconn *c = store_conn_open(q->store, STORE_SESSION_DEFAULT, err, sizeof(err));
    if (!c || store_job_finish(c, f, i, err, sizeof(err)) != RH_OK) {
        log_warn("cannot hand back parked jobs; they will be rescued when their lease expires",
                 LOG_INT("jobs", i), LOG_STR("error", err));
    } else {
        int applied = 0;
        for (int k = 0; k < i; k++)
            applied += f[k].applied;
        log_info("handed back parked jobs", LOG_INT("jobs", applied));
        pthread_mutex_lock(&q->mu);
        q->stats.handed_back += applied;
        pthread_mutex_unlock(&q->mu);
    }
    PQfinish(c);
    free(f);
    while (list) {
        struct parked *next = list->next;
        parked_free(list);
        list = next;
    }
}

/* ---- the watcher hook ---- */

void queue_watcher_set(struct queue *q, const struct queue_watcher *w)
{
    q->watch = *w;
}

enum rh_status queue_watcher_sleep(struct queue *q, int64_t until_ms)
{
    struct timespec ts;
    time_mono_timespec(until_ms, &ts);
    pthread_mutex_lock(&q->mu);
    long parks = q->stats.parks;
    while (!q->stopping && q->stats.parks == parks && time_mono_ms() < until_ms)
        pthread_cond_timedwait(&q->watch_cv, &q->mu, &ts);
    enum rh_status st = q->stopping ? RH_STOPPING : RH_OK;
    pthread_mutex_unlock(&q->mu);
    return st;
}

void *queue_watcher_main(void *arg)
{
    struct queue *q = arg;
    q->watch.run(q->watch.ctx, q);
    return NULL;
}
