/* The one way jobs enter the queue, the same for webhook deliveries, the admin API, tests and
 * tools: a batch of groups of jobs goes in with one statement (one transaction, one commit),
 * and every job gets its "enqueued" event in it. A group may come from a delivery: the store
 * records each delivery once per (source, delivery id) in the deliveries table, with the ids
 * of its jobs, and enqueues a delivery's jobs only with its first recording. */
#ifndef RAILHOOK_STORE_ENQUEUE_H
#define RAILHOOK_STORE_ENQUEUE_H

#include "util/status.h"

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A job to enqueue. Everything is borrowed; NULL and 0 fields take the defaults. */
struct store_job_new {
    const char *kind;
    cJSON *payload;           /* a JSON object (read, not modified), NULL: {} */
    const char *service_name; /* may be NULL */
    const char *dedupe_key;   /* unique among all jobs, or NULL */
    const char *active_key;   /* at most one queued or running job per key, or NULL: a job
                               * whose key is taken is not added, and its id becomes the
                               * holder's */
    int max_attempts;         /* 0: 3 */
    int64_t delay_ms;         /* run_after = now() + delay_ms */
};

/* Jobs that go in together: those of one delivery, or jobs of their own. */
struct store_enqueue {
    const char *source;      /* the delivery's source ("github", "api"...), or NULL for jobs
                              * of their own, which always go in */
    const char *delivery_id; /* with a source: the delivery's id, unique per source */
    const char *event;       /* with a source: the delivery's event, or NULL */
    const struct store_job_new *jobs;
    size_t njobs;
    char (*ids)[37]; /* out: the jobs' ids, in job order (njobs entries), or NULL; a job
                      * whose active key was taken gets the holder's id */
    bool enqueued;   /* out: the jobs went in; false when the delivery was recorded before */
};

/* Enqueues n groups in one statement. Ids are assigned before it runs, so they are set even
 * when it fails. RH_CONFLICT when a dedupe_key exists already, RH_INVALID for a bad kind or
 * payload (nothing is enqueued then), RH_UNAVAILABLE with err set when the database cannot
 * be reached (whether it committed is then unknown). No two groups may name one delivery. */
enum rh_status store_job_enqueue(PGconn *c, struct store_enqueue *groups, size_t n, char *err,
                                 size_t errlen);

/* A delivery that may have been recorded before, and what it enqueued then. */
struct store_delivery_prior {
    const char *source;
    const char *delivery_id;
    bool found;          /* out */
    char (*job_ids)[37]; /* out: its jobs' ids in job order (free()), NULL when none */
    size_t njobs;        /* out */
};

/* Looks n deliveries up in one statement; RH_UNAVAILABLE with err set when it fails (then
 * nothing was allocated). */
enum rh_status store_delivery_find(PGconn *c, struct store_delivery_prior *d, size_t n, char *err,
                                   size_t errlen);

#endif
