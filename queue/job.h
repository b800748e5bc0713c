/* The contract between the job queue (queue/) and the code that runs a kind of job (the
 * Railway flows, test handlers). A handler runs a job as a sequence of idempotent steps:
 * at each step boundary it calls job_checkpoint(); it saves each step's result with
 * job_step_save() before starting the next, so a re-run after a crash resumes instead of
 * repeating. */
#ifndef RAILHOOK_QUEUE_JOB_H
#define RAILHOOK_QUEUE_JOB_H

#include "util/status.h"

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdint.h>

/* One claimed job as a handler sees it. Owned by the queue; valid during run/compensate. */
struct job {
    char id[37];
    char kind[16];
    int attempt; /* 1 for the first handler run, counting this one */
    int max_attempts;
    const cJSON *payload;     /* the job's payload object */
    const char *service_name; /* may be NULL */
};

/* The running job's handle for handlers (opaque). */
struct job_run;

/* What a handler run ended with. The handler fills it; the queue stores it redacted. */
struct job_result {
    enum rh_status status; /* RH_OK, RH_TRANSIENT, RH_PERMANENT, or a status a job_* call
                              returned (RH_CANCELLED, RH_LEASE_LOST, RH_STOPPING) */
    int retry_after_ms; /* RH_TRANSIENT: at least this long before the next attempt (0: backoff) */
    char code[64];      /* stable error code, e.g. "railway_invalid_request" */
    char message[512];  /* human-readable error */
    cJSON *details;     /* optional extra JSON (e.g. Railway's response); the queue frees it */
};

struct job_handler {
    const char *kind;
    /* Runs (or resumes) the job. Returns res->status. */
    enum rh_status (*run)(void *ctx, struct job_run *run, const struct job *job,
                          struct job_result *res);
    /* Optional: undoes what the job did (rollback), called once when the job fails for good
     * or is cancelled while running. Its own steps are recorded like run's. */
    void (*compensate)(void *ctx, struct job_run *run, const struct job *job,
                       const struct job_result *cause);
    void *ctx;
};

/* Sets res to a failure with a formatted message; returns status for convenience. */
enum rh_status job_result_fail(struct job_result *res, enum rh_status status, const char *code,
                               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A step boundary: records step as the job's current step (with an event), and returns
 * RH_OK to go on, RH_CANCELLED when a cancel was requested, RH_LEASE_LOST when another worker
 * owns the job now (or the heartbeat failed), RH_STOPPING when the process is shutting down. */
enum rh_status job_checkpoint(struct job_run *run, const char *step);
/* The saved result of a step (from this or an earlier run), or NULL. */
const cJSON *job_step_get(struct job_run *run, const char *key);
/* Saves a step result (value is copied) in the job row, guarded by the lease. */
enum rh_status job_step_save(struct job_run *run, const char *key, const cJSON *value);
/* Appends an event (level "debug|info|warn|error"); details (may be NULL) is copied and
 * redacted. Failures to write an event are logged, not returned. */
void job_event(struct job_run *run, const char *level, const char *message, const cJSON *details);
/* Records the Railway ids/status shown by the status API; NULL leaves a field unchanged. A
 * change of the deployment status writes its event ("deployment <status>") with it. */
enum rh_status job_set_railway(struct job_run *run, const char *service_id,
                               const char *deployment_id, const char *deployment_status);
/* The same for a deployment's status, with its event (message and details, copied and
 * redacted) written in the same statement. */
enum rh_status job_set_deployment(struct job_run *run, const char *deployment_id,
                                  const char *deployment_status, const char *message,
                                  const cJSON *details);
/* Sleeps up to ms, returning early with RH_CANCELLED/RH_LEASE_LOST/RH_STOPPING like
 * job_checkpoint() (without recording a step). */
enum rh_status job_sleep(struct job_run *run, int ms);
/* The worker's own database connection, for the handler's domain writes (e.g. services).
 * Never leave a transaction open on it. */
PGconn *job_db(struct job_run *run);

/* Added with the queue (issue 4):
 * - job_step_save() with a NULL (or JSON null) value removes the key; a compensation should
 *   remove (or overwrite) the steps it undid, because a retried job resumes from its steps.
 * - Handler statuses other than those in struct job_result count as: RH_UNAVAILABLE
 *   transient; RH_INVALID, RH_NOT_FOUND, RH_CONFLICT permanent. */

/* The lease owner token of this run ("<instance>/w<thread>/<n>"), valid during the run. */
const char *job_lease_owner(struct job_run *run);

/* Added with parking (issue 15): a job that waits on something outside railhook (a Railway
 * deployment) parks instead of sleeping, freeing its worker. job_park() records step (e.g.
 * "waiting for deployment <id> (BUILDING)") as the job's current step and returns RH_PARKED,
 * which the handler returns at once (after saving what it needs with job_step_save()). The job
 * stays running with its lease (the heartbeat keeps it) in this instance's memory, waiting on
 * `on` (e.g. "deployment:<id>") after having seen state `seen` ("" when it has seen none). It
 * is run again (the handler called again, resuming from its saved steps) as soon as a worker
 * is free after queue_parked_wake() woke it, its deadline (wall clock ms) passed, or a cancel
 * was requested. A crash loses the parked job's memory only: its lease expires and the reaper
 * re-queues it. Returns RH_CANCELLED/RH_LEASE_LOST/RH_STOPPING like job_checkpoint() instead
 * when the job cannot park; never park during a compensation. */
enum rh_status job_park(struct job_run *run, const char *on, const char *seen, const char *step,
                        int64_t until_wall_ms);
/* The value the parked job was woken with (queue_parked_wake()), or NULL when this run did not
 * follow a wake (a first run, a deadline, a cancel). Valid during the run. */
const char *job_woken_with(struct job_run *run);

#endif
