/* Private to queue/: the queue, its workers, the running job's handle, and the functions the
 * queue's files share (one file per thread role: pool.c creates, starts and stops; dispatch.c
 * claims; run.c runs a job and records its outcome through commit.c; lease.c keeps leases;
 * job.c is the handler side). Fields marked "mu" are guarded by queue.mu. */
#ifndef RAILHOOK_QUEUE_INT_H
#define RAILHOOK_QUEUE_INT_H

#include "queue/queue.h"
#include "store/group.h"
#include "store/jobs.h"

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct worker;

struct job_run {
    struct queue *pool;
    struct worker *w;
    struct job job;
    char owner[128];
    struct store_job_guard guard; /* points into job.id and owner */
    cJSON *payload;
    cJSON *steps;
    char step[64];     /* the current step, for events */
    const char *woken; /* job_woken_with() (owned by the inbox copy it came with) */
    /* The steps this attempt has recorded, each followed by '\n' (owned; kept across parks):
     * a run that resumes a parked job passes its earlier steps again, and while it replays
     * them (until its first step not recorded before) job_checkpoint() only confirms the lease
     * instead of recording each anew. */
    char *recorded;
    bool replaying;
    /* job_park() asked to park: what on, seen, until (monotonic) */
    bool park;
    char park_on[96];
    char park_seen[48];
    int64_t park_until;
    /* mu */
    bool lost;           /* the lease is gone (or cannot be confirmed): stop now */
    bool cancel;         /* the API asked the job to stop */
    bool compensating;   /* running the compensation: only a lost lease interrupts it */
    int64_t lease_until; /* monotonic ms up to which the lease is known to hold */
};

struct worker {
    struct queue *pool;
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
    char *inbox_woken;               /* a parked job's wake value, or NULL */
    char *inbox_recorded;            /* a parked job's recorded steps, or NULL */
    struct job_run *run;             /* the job running now, or NULL */
};

/* A finished run waiting for its group commit (commit.c). */
struct fin_req {
    struct store_group_item item; /* first: the commit group's items are fin_reqs */
    struct store_job_finish f;
    struct worker *w;
    bool want_next;                /* claim the worker's next job in the same statement */
    char token[128];               /* the lease owner token for that claim */
    struct store_job_claimed *job; /* out: the next job, or NULL */
    int64_t lease_from;            /* out: monotonic ms before the statement was sent */
    enum rh_status st;             /* out: the statement's status */
};

/* A parked job (park.c): its row as claimed (payload and steps as of parking), kept in the
 * queue's list under mu until it runs again, is lost or is handed back. */
struct parked {
    struct parked *next;
    struct store_job_claimed row;
    char on[96];
    char seen[48];
    int64_t parked_at;  /* monotonic ms */
    int64_t until;      /* monotonic ms: the deadline */
    int64_t lease_from; /* monotonic ms before the last statement that confirmed the lease */
    char *woken;        /* the wake value, or NULL */
    char *recorded;     /* the run's recorded steps (struct job_run), or NULL */
    bool ready;         /* woken, cancelled: run it as soon as a worker is free */
};

/* A copy of a running job's lease, taken under mu to use without it. */
struct lease_copy {
    char id[37];
    char owner[128];
    int attempt;
};

struct queue {
    struct store *store; /* where its connections come from (borrowed) */
    /* copied from the configuration */
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
    pthread_cond_t changed;   /* mu: a worker exited (stop waits on it) */
    pthread_cond_t hb_cv;     /* mu: wakes the heartbeat thread to exit */
    bool started;             /* mu */
    bool stopping;            /* mu: no more claims; running jobs stop at their next boundary */
    bool hb_stop;             /* mu */
    int idle_count;           /* mu */
    uint64_t seq;             /* mu: lease owner token counter */
    struct queue_stats stats; /* mu */

    struct parked *parked;      /* mu: this instance's parked jobs */
    int nparked;                /* mu */
    struct queue_watcher watch; /* the watcher hook, or run NULL */
    pthread_t watcher;
    bool watcher_started;
    pthread_cond_t watch_cv; /* mu: a job parked, or the queue stops */

    struct store_group *commits; /* group commit of finished runs (commit.c) */
    atomic_int running;          /* jobs handed to workers whose outcome is not queued yet */
};

/* pool.c: the handler registered for kind, or NULL. */
const struct job_handler *queue_handler_find(const struct queue *q, const char *kind);
/* pool.c: wakes the dispatcher (a worker went idle, or the queue stops). */
void queue_dispatcher_wake(struct queue *q);

/* dispatch.c: the dispatcher thread (arg: the queue). */
void *queue_dispatcher_main(void *arg);
/* run.c: a worker thread (arg: its struct worker). */
void *queue_worker_main(void *arg);
/* lease.c: the heartbeat thread (arg: the queue). */
void *queue_heartbeat_main(void *arg);

/* park.c: keeps run's job as parked (run asked job_park()); it leaves the worker. */
void queue_park_add(struct queue *q, struct job_run *run);
/* park.c (dispatcher): hands ready and overdue parked jobs to idle workers; returns how many.
 * *next_due gets the monotonic ms of the earliest deadline (INT64_MAX: none). */
int queue_park_dispatch(struct queue *q, int64_t *next_due);
/* park.c (heartbeat, under mu): copies the parked jobs' leases into l (at most max). */
int queue_park_leases(struct queue *q, struct lease_copy *l, int max);
/* park.c (heartbeat, under mu): the heartbeat for the parked job owned by owner: kept (at t0),
 * lost (dropped from the list), or kept with a cancel request (ready). */
void queue_park_beat(struct queue *q, const char *owner, bool kept, bool cancel, int64_t t0);
/* park.c (stop): hands every parked job back as queued and empties the list. */
void queue_park_handback(struct queue *q);
/* park.c: the watcher thread (arg: the queue). */
void *queue_watcher_main(void *arg);

/* commit.c: the group commit of finished runs, for queue_create() (free with
 * store_group_free()). */
struct store_group *queue_commits_new(struct queue *q);
/* commit.c: queues req and waits until some worker (maybe this one) has written it with
 * others in one statement; returns the statement's status. */
enum rh_status queue_outcome_commit(struct worker *w, struct fin_req *req);

#endif
