/* The durable job queue: WORKERS threads that claim jobs from PostgreSQL and run them through
 * the handler registered for their kind, with leases kept alive by a heartbeat, a reaper for
 * the leases of dead instances, retries with backoff, and graceful shutdown. The queue knows
 * no job kind: its users register a handler per kind (queue/job.h). */
#ifndef RAILHOOK_QUEUE_H
#define RAILHOOK_QUEUE_H

#include "queue/job.h"
#include "store/store.h"
#include "util/config.h"
#include "util/status.h"

#include <stddef.h>
#include <stdint.h>

struct queue;

/* Creates a stopped queue from cfg (values are copied; cfg may go away) whose threads open
 * their connections from store (which must outlive the queue). Register handlers, then
 * queue_start(). Free with queue_stop(). */
struct queue *queue_create(const struct config *cfg, struct store *store);
/* Registers the handler for h->kind (h is copied; h->ctx must outlive the queue). Call before
 * queue_start(). RH_CONFLICT when the kind has a handler, RH_INVALID after start. */
enum rh_status queue_register(struct queue *q, const struct job_handler *h);
/* Starts the worker, dispatcher and heartbeat threads. Database trouble is not an error here:
 * the threads connect (and reconnect) on their own. RH_UNAVAILABLE with err set when a thread
 * cannot be created. */
enum rh_status queue_start(struct queue *q, char *err, size_t errlen);
/* Stops claiming, lets running jobs reach their next step boundary for at most grace_ms, hands
 * the unfinished ones back as queued (without burning an attempt), joins the threads and frees
 * the queue. NULL-safe; works on a queue that was never started. */
void queue_stop(struct queue *q, int grace_ms);

struct queue_stats {
    long claimed, succeeded, failed, cancelled, retried, handed_back, lease_lost, rescued;
    long commits;    /* group statements: outcomes recorded (and next jobs claimed) together */
    long dispatches; /* claim statements of the dispatcher, for idle workers */
    long parks;      /* times a job parked (job_park()) */
    int workers, busy;
    int parked; /* jobs parked in this instance now */
};
/* A snapshot of the queue's counters since start (for metrics and the benchmark). */
void queue_stats_get(struct queue *q, struct queue_stats *out);

/* ---- parked jobs (queue/park.c) ---- */

/* What one parked job waits on. */
struct queue_wait {
    char job_id[37];
    char on[96];          /* what job_park() was given, e.g. "deployment:<id>" */
    char seen[48];        /* the state the job last saw ("" none) */
    int64_t parked_at_ms; /* monotonic time it parked */
};
/* The waits of this instance's parked jobs (woken ones too, until they run) whose `on` starts
 * with prefix: a new array (free())
 * of *n entries (NULL when none). */
struct queue_wait *queue_parked_list(struct queue *q, const char *prefix, int *n);
/* Wakes the parked jobs waiting on `on` with value (copied; what job_woken_with() answers in
 * their next run): they run again as soon as a worker is free. Returns how many it woke. */
int queue_parked_wake(struct queue *q, const char *on, const char *value);

/* A thread the queue runs beside its workers for a user of parking (the Railway flows' watcher):
 * run() is called once on it after queue_start() and must return soon after
 * queue_watcher_sleep() answers RH_STOPPING. */
struct queue_watcher {
    void (*run)(void *ctx, struct queue *q);
    void *ctx;
};
/* Sets the watcher (copied; ctx must outlive the queue). Call before queue_start(). */
void queue_watcher_set(struct queue *q, const struct queue_watcher *w);
/* For the watcher's thread: sleeps until the monotonic time until_ms, or until a job parks
 * (RH_OK either way), or the queue stops (RH_STOPPING). */
enum rh_status queue_watcher_sleep(struct queue *q, int64_t until_ms);

/* The ceiling of the backoff before the retry that follows attempt (1-based): base_ms doubled
 * per attempt, at most max_ms. */
int64_t queue_backoff_ceiling_ms(int attempt, int base_ms, int max_ms);
/* The delay before the next attempt with full jitter: r (uniform over 64 bits) picks a value
 * in [0, ceiling]; never less than retry_after_ms (a Retry-After the handler reported). */
int64_t queue_backoff_ms(int attempt, int base_ms, int max_ms, int retry_after_ms, uint64_t r);

#endif
