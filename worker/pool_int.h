/* Private to worker/pool.c and worker/job.c: the pool, its workers and the running job's
 * handle. Fields marked "mu" are guarded by worker_pool.mu. */
#ifndef RAILHOOK_WORKER_POOL_INT_H
#define RAILHOOK_WORKER_POOL_INT_H

#include "store/jobs.h"
#include "worker/pool.h"

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct worker;

struct job_run {
    struct worker_pool *pool;
    struct worker *w;
    struct job job;
    char owner[128];
    struct store_job_guard guard; /* points into job.id and owner */
    cJSON *payload;
    cJSON *steps;
    char step[64]; /* the current step, for events */
    /* mu */
    bool lost;           /* the lease is gone (or cannot be confirmed): stop now */
    bool cancel;         /* the API asked the job to stop */
    bool compensating;   /* running the compensation: only a lost lease interrupts it */
    int64_t lease_until; /* monotonic ms up to which the lease is known to hold */
};

struct worker {
    struct worker_pool *pool;
    int index;
    pthread_t thread;
    bool started;
    PGconn *conn;      /* owned by the worker thread */
    pthread_cond_t cv; /* with pool->mu: a job was assigned, or the running job's flags changed */
    /* mu */
    bool idle;                       /* waiting for a job */
    bool exited;                     /* the thread has left its loop */
    struct store_job_claimed *inbox; /* a job the dispatcher handed over */
    int64_t inbox_lease_from;        /* monotonic ms just before the claim was sent */
    struct job_run *run;             /* the job running now, or NULL */
};

struct fin_req;

struct worker_pool {
    /* copied from the configuration */
    char *conninfo;
    char *instance;
    int nworkers;
    int poll_ms;
    bool listen;
    int lease_s;
    int max_rescues;
    int retry_base_ms;
    int retry_max_ms;
    int retention_days;

    struct job_handler *handlers; /* read-only once started */
    int nhandlers;
    struct worker *workers;
    pthread_t dispatcher, heartbeat;
    bool dispatcher_started, heartbeat_started;
    int wake_fd; /* eventfd: wakes the dispatcher (a worker went idle, or stop) */

    pthread_mutex_t mu;
    pthread_cond_t changed; /* mu: a worker exited (stop waits on it) */
    pthread_cond_t hb_cv;   /* mu: wakes the heartbeat thread to exit */
    bool started;           /* mu */
    bool stopping;          /* mu: no more claims; running jobs stop at their next boundary */
    bool hb_stop;           /* mu */
    int idle_count;         /* mu */
    uint64_t seq;           /* mu: lease owner token counter */
    struct worker_pool_stats stats; /* mu */

    /* Group commit of finished runs (see finish_group() in pool.c). */
    pthread_mutex_t fin_mu;
    pthread_cond_t fin_cv;
    int fin_busy;     /* group statements in flight (forming or running) */
    bool fin_forming; /* a leader is waiting for stragglers before taking its group */
    struct fin_req *fin_head, *fin_tail;
    atomic_int running; /* jobs handed to workers whose outcome is not queued yet */
};

/* An absolute CLOCK_MONOTONIC time for pthread_cond_timedwait() from monotonic ms. */
void worker_mono_timespec(int64_t mono_ms, struct timespec *ts);
/* A JSON tree's text with every string value passed through the redactor (free()). */
char *worker_json_redacted(const cJSON *j);

#endif
