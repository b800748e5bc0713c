/* The job queue's SQL once jobs are in it (they enter through store/enqueue.h): claim, the
 * guarded transitions of a running job, heartbeats, rescue of expired leases, retention, and
 * the cancel/retry operations of the API.
 *
 * Every change of a running job is a compare-and-set on (id, state 'running', attempt, lease
 * owner): a worker whose lease was taken over can never overwrite the new owner's work. Each
 * transition writes its job_events row in the same statement. */
#ifndef RAILHOOK_STORE_JOBS_H
#define RAILHOOK_STORE_JOBS_H

#include "util/status.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A job a claim handed out: the caller owns the strings (store_job_claimed_free()). */
struct store_job_claimed {
    char id[37];
    char kind[16];
    char owner[128];
    int attempt; /* counting the run just claimed */
    int max_attempts;
    int rescues;
    bool cancel_requested;
    char *payload;      /* JSON text */
    char *steps;        /* JSON text */
    char *service_name; /* NULL when unset */
};

/* Claims up to n runnable jobs (state queued, run_after due; oldest run_after, then oldest
 * creation first) in one statement with FOR UPDATE SKIP LOCKED: the i-th claimed job gets
 * owners[i] as lease owner, state running, attempt+1 and a lease of lease_s seconds, plus a
 * "claimed" event. *rows (free with store_job_claimed_free()) gets *nrows <= n entries. */
enum rh_status store_job_claim(PGconn *c, const char *const *owners, int n, int lease_s,
                               struct store_job_claimed **rows, int *nrows, char *err,
                               size_t errlen);
/* Frees what store_job_claim() returned; NULL-safe. */
void store_job_claimed_free(struct store_job_claimed *rows, int n);

/* Milliseconds until the earliest queued job is due (0 when one is due now), or -1 when no
 * job is queued. */
enum rh_status store_job_next_due(PGconn *c, int64_t *ms, char *err, size_t errlen);

/* Which running job a guarded call is about: the lease it was claimed with. */
struct store_job_guard {
    const char *id;
    int attempt;
    const char *owner;
};

enum store_job_outcome {
    STORE_JOB_SUCCEEDED, /* -> succeeded */
    STORE_JOB_FAILED,    /* -> failed, error kept */
    STORE_JOB_CANCELLED, /* -> cancelled */
    STORE_JOB_RETRY,     /* -> queued after delay_ms; the attempt counts */
    STORE_JOB_HANDBACK,  /* -> queued now; the attempt does not count (shutdown, lost DB) */
};

/* One finished run. Strings are borrowed; error and details must be redacted already. */
struct store_job_finish {
    struct store_job_guard guard;
    enum store_job_outcome outcome;
    int64_t delay_ms;    /* STORE_JOB_RETRY */
    const char *error;   /* JSON object for last_error, or NULL */
    const char *level;   /* the event's level */
    const char *message; /* the event's message ("succeeded", "retry scheduled", ...) */
    const char *details; /* the event's details JSON, or NULL */
    bool applied;        /* out: false when the guard no longer matched (lease lost) */
};

/* Applies n finishes in one statement (one transaction, one event each). RH_OK says the
 * statement ran: each entry's applied tells whether its compare-and-set matched. */
enum rh_status store_job_finish(PGconn *c, struct store_job_finish *f, int n, char *err,
                                size_t errlen);

/* One lease to extend; kept and cancel_requested are outputs. */
struct store_job_lease {
    struct store_job_guard guard;
    bool kept;             /* the row still matched: lease extended */
    bool cancel_requested; /* the API asked the job to stop */
};

/* A group of finishes and, in the same statement and transaction, a claim of up to nowners
 * jobs as store_job_claim() does: how a worker that finishes a job takes its next one with a
 * single commit. Either part may be empty (n or nowners 0; rows may then be NULL). */
enum rh_status store_job_finish_claim(PGconn *c, struct store_job_finish *f, int n,
                                      const char *const *owners, int nowners, int lease_s,
                                      struct store_job_claimed **rows, int *nrows, char *err,
                                      size_t errlen);

/* Extends the leases of n running jobs to now() + lease_s without touching updated_at. */
enum rh_status store_job_heartbeat(PGconn *c, struct store_job_lease *l, int n, int lease_s,
                                   char *err, size_t errlen);

/* Re-queues up to limit running jobs whose lease expired (rescues+1, attempt not burned, a
 * "rescued" event); a job rescued more than max_rescues times fails with code "poisoned". */
enum rh_status store_job_rescue(PGconn *c, int max_rescues, int limit, int *rescued, int *poisoned,
                                char *err, size_t errlen);

/* Deletes up to limit finished jobs (and, by cascade, their events) that finished more than
 * days ago; *deleted tells how many. Call again while it deletes a full batch. */
enum rh_status store_job_prune(PGconn *c, int days, int limit, long *deleted, char *err,
                               size_t errlen);

/* A step boundary: sets the job's current step (an event and updated_at when it changes).
 * RH_OK with *cancel_requested, RH_LEASE_LOST when the guard or the lease no longer holds. */
enum rh_status store_job_checkpoint(PGconn *c, const struct store_job_guard *g, const char *step,
                                    bool *cancel_requested, char *err, size_t errlen);
/* Confirms the guard and the lease without changing anything (a step the attempt recorded
 * before): RH_OK with *cancel_requested, RH_LEASE_LOST when they no longer hold. */
enum rh_status store_job_confirm(PGconn *c, const struct store_job_guard *g, bool *cancel_requested,
                                 char *err, size_t errlen);
/* Sets steps[key] = value (JSON text; NULL removes the key) under the guard; RH_LEASE_LOST
 * when it no longer holds. */
enum rh_status store_job_step_save(PGconn *c, const struct store_job_guard *g, const char *key,
                                   const char *value, char *err, size_t errlen);
/* Sets the railway_* columns that are not NULL, under the guard. When the deployment status
 * changes, or message is given, an event is written in the same statement: message (default
 * "deployment <status>") and details (JSON text, redacted; default {deployment_id, status}). */
enum rh_status store_job_railway_set(PGconn *c, const struct store_job_guard *g,
                                     const char *service_id, const char *deployment_id,
                                     const char *deployment_status, const char *message,
                                     const char *details, char *err, size_t errlen);
/* Appends an event and moves the job's updated_at (its document changed, which
 * railhook_job_changed announces); step and details (JSON text, redacted) may be NULL. Not
 * guarded. */
enum rh_status store_job_event_add(PGconn *c, const char *id, const char *step, const char *level,
                                   const char *message, const char *details, char *err,
                                   size_t errlen);

/* Cancels a job: a queued job that never saved a step ends cancelled at once; a running job
 * (or a queued one with saved steps, which needs its compensation) gets cancel_requested and
 * ends cancelled after its handler stops at a step boundary and compensates. state (16 bytes)
 * gets the state after the call. RH_NOT_FOUND for an unknown id, RH_CONFLICT (state = the
 * current one) for a finished job. */
enum rh_status store_job_cancel(PGconn *c, const char *id, char *state, char *err, size_t errlen);
/* Re-queues a failed or cancelled job with a fresh set of attempts (attempt 0, rescues 0,
 * max_attempts when > 0); saved steps are kept so the run resumes. RH_NOT_FOUND, or
 * RH_CONFLICT with the current state in state (16 bytes). */
enum rh_status store_job_retry(PGconn *c, const char *id, int max_attempts, char *state, char *err,
                               size_t errlen);

/* Deletes every job and event at once (TRUNCATE): for benchmarks that start from an empty
 * queue, never for the service. */
enum rh_status store_job_purge(PGconn *c, char *err, size_t errlen);
/* Refreshes the jobs table's visibility map and planner statistics (VACUUM ANALYZE), as after
 * a bulk load. */
enum rh_status store_job_analyze(PGconn *c, char *err, size_t errlen);

#endif
