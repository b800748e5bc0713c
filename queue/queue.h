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
    int workers, busy;
};
/* A snapshot of the queue's counters since start (for metrics and the benchmark). */
void queue_stats_get(struct queue *q, struct queue_stats *out);

/* The ceiling of the backoff before the retry that follows attempt (1-based): base_ms doubled
 * per attempt, at most max_ms. */
int64_t queue_backoff_ceiling_ms(int attempt, int base_ms, int max_ms);
/* The delay before the next attempt with full jitter: r (uniform over 64 bits) picks a value
 * in [0, ceiling]; never less than retry_after_ms (a Retry-After the handler reported). */
int64_t queue_backoff_ms(int attempt, int base_ms, int max_ms, int retry_after_ms, uint64_t r);

#endif
