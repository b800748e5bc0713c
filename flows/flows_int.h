/* Private to flows/: the flows' shared state, one run of one flow, and the Railway call and
 * step helpers every flow uses (flows/railway_step.c), the service a manifest owns
 * (flows/service.c) and its deployments (flows/deploy.c). */
#ifndef RAILHOOK_FLOWS_INT_H
#define RAILHOOK_FLOWS_INT_H

#include "flows/flows.h"
#include "queue/job.h"
#include "railway/railway.h"
#include "store/services.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct flows {
    const struct config *cfg;
    struct railway_limiter *lim;
    struct queue *q; /* flows_register(): where jobs waiting for budget are counted */
    cJSON *templates;
    pthread_key_t client_key;
};

/* A kind's handler (see struct job_handler): each flow's file defines one for the kind table
 * (flows/kinds.c). */
struct flows_handler {
    enum rh_status (*run)(void *ctx, struct job_run *run, const struct job *job,
                          struct job_result *res);
    void (*compensate)(void *ctx, struct job_run *run, const struct job *job,
                       const struct job_result *cause);
};

/* One run of one job. */
struct flow {
    struct flows *fl;
    struct job_run *run;
    const struct job *job;
    struct job_result *res;
    struct railway_client *rc;
    cJSON *values;           /* flow_begin() with a record: the rendered worker variables */
    cJSON *digests;          /* and their digests (what railhook remembers of them) */
    char not_found[512];     /* Railway's message of the last quiet "not found" answer */
    char deploy_status[32];  /* flow_deploy_and_wait(): how the deployment ended (SKIPPED...) */
    char deploy_reason[256]; /* and Railway's reason (meta.skippedReason), when it gave one */
};

/* Binds f to this run (ctx is the struct flows) with the thread's Railway client; for a
 * compensation, which has no prologue. */
void flow_init(struct flow *f, void *ctx, struct job_run *run, const struct job *job,
               struct job_result *res);
/* The prologue every flow shares: flow_init(), then the first step boundary (first_step), then
 * the payload check: a service name, and with with_record a manifest record whose variables
 * are rendered into f->values and f->digests. Release with flow_end() whatever it returns. */
enum rh_status flow_begin(struct flow *f, void *ctx, struct job_run *run, const struct job *job,
                          struct job_result *res, const char *first_step, bool with_record);
/* Frees what flow_begin() made. */
void flow_end(struct flow *f);

/* A non-empty string field of the job's payload, or NULL. */
const char *flow_payload_str(const struct job *job, const char *key);
/* A string field of a saved step's result, or NULL. */
const char *flow_step_str(struct flow *f, const char *step, const char *key);
/* True when the step's result was saved (by this or an earlier run). */
bool flow_step_done(struct flow *f, const char *step);
/* Saves a step result built from key/value string pairs (NULL-terminated; a NULL value is
 * left out) with the time it was saved (at_ms). */
enum rh_status flow_step_save(struct flow *f, const char *step, ...);
/* Turns a job_* status (cancelled, lease lost, stopping) into the run's result; returns st. */
enum rh_status flow_stop_with(struct flow *f, enum rh_status st);

/* Longest wait for the shared rate limiter inside a run. */
#define FLOW_LIMITER_WAIT_MS 30000

#define FLOW_CALL_QUIET_NOT_FOUND 1u /* "not found" is an answer the caller handles */
#define FLOW_CALL_ONCE            2u /* not idempotent: never retried inside the run */

/* Sends one Railway operation; vars is consumed. When the hourly budget cannot cover it within
 * FLOW_LIMITER_WAIT_MS, the job parks (RH_PARKED) with the step "waiting for Railway budget"
 * and the estimated time it starts, and runs again then (a compensation fails transiently
 * instead). On success *data (may be NULL) receives a
 * copy of the answer's data (caller deletes). On failure the run's result is filled and an
 * event recorded; returns RH_NOT_FOUND (quietly, with FLOW_CALL_QUIET_NOT_FOUND, the message
 * in f->not_found) for Railway's "not found". */
enum rh_status flow_call(struct flow *f, enum railway_op op, cJSON *vars, unsigned flags,
                         cJSON **data);

/* The status st of a store call on the worker's connection (job_db()), err its message: a
 * failure fills the run's result (transient); returns st. */
enum rh_status flow_db(struct flow *f, enum rh_status st, const char *err);
/* Records the service row (name, manifest id, Railway id, source, status) for this job;
 * fails the run with "name_taken" when another manifest's service holds the name. */
enum rh_status flow_db_service_upsert(struct flow *f, const char *name, const char *service_id,
                                      const char *status);

/* The variable railhook sets on a service when it creates one: the manifest id it belongs to. */
#define FLOW_MANIFEST_MARKER "RAILHOOK_MANIFEST_ID"

/* Finds a live service in the project (one Railway lists with deletedAt set is gone): the one
 * whose id is want_id when want_id is given, else the one named name. *id (free()) or NULL
 * when there is none. Fails the run for good with "own_service" when it is railhook's own
 * service (RAILWAY_SERVICE_ID). */
enum rh_status flow_service_find(struct flow *f, const char *name, const char *want_id, char **id);
/* Whether the service carries this job's manifest id in FLOW_MANIFEST_MARKER (*ours): railhook
 * created it for this manifest. A failed look fills the run's result and returns its status. */
enum rh_status flow_service_marked_ours(struct flow *f, const char *service_id, bool *ours);
/* RH_OK when name may become the name of this manifest's service own_id: no other manifest's
 * row holds it and no other live service in the project has it; else fails the run with
 * "name_taken" (or a transient failure). */
enum rh_status flow_name_check_free(struct flow *f, const char *name, const char *own_id);
/* Fails the run for good with "name_taken": name is another manifest's, or not railhook's. */
enum rh_status flow_name_taken(struct flow *f, const char *name);
/* The service's id (free()) as railhook recorded it: the job's manifest's service (by the
 * payload's manifest_id), or for a job without one the tracked service named name; NULL when
 * there is none. Never looked up in the project by name. Fails the run for good with
 * "own_service" when it is railhook's own service (RAILWAY_SERVICE_ID). */
enum rh_status flow_service_resolve(struct flow *f, const char *name, char **id);
/* The newest deployments of a service (new array of nodes, caller deletes, even on failure). */
enum rh_status flow_deployments_list(struct flow *f, const char *service_id, int first,
                                     cJSON **nodes);
/* Sets the service's variables (values: NAME -> value) without deploying. */
enum rh_status flow_variables_upsert(struct flow *f, const char *service_id, const cJSON *values);
/* The ids of the service's newest deployments, comma-separated (free()): what existed before a
 * step that makes Railway deploy by itself. */
enum rh_status flow_deployment_baseline(struct flow *f, const char *service_id, char **ids);
/* Looks for a deployment of the service Railway started by itself: one not among the
 * comma-separated ids of baseline (NULL: any) and of commit sha (NULL: any), listing the
 * newest deployments at once and then after pauses of 1, 2, 4... s (at most 30 s) until
 * wait_s after since_ms (wall clock). *id (free()) is NULL when none appeared. */
enum rh_status flow_deployment_await(struct flow *f, const char *service_id, const char *baseline,
                                     const char *sha, int64_t since_ms, int wait_s, char **id);
/* The "deploy" and "wait_deploy" steps: follows the deployment saved in the "deploy" step,
 * else starts one (of commit_sha when given; never two: a lost answer is looked for before
 * sending again), and waits until Railway says how it ended: SUCCESS or SLEEPING (healthy),
 * SKIPPED (RH_OK, with a "skipped: ..." event; f->deploy_status says so), FAILED or CRASHED
 * (deploy_failed, with the log's tail in the details), REMOVED with no newer deployment
 * (deploy_removed), or the DEPLOY_TIMEOUT_S deadline (deploy_timeout; a retry follows the same
 * deployment). A deployment superseded by a newer one hands over to it. Records the outcome in the
 * service row with digests (may be NULL). */
enum rh_status flow_deploy_and_wait(struct flow *f, const char *name, const char *service_id,
                                    const char *commit_sha, const cJSON *digests);

/* Sets the root directory of the service railhook just created and connects it to the worker
 * repo and branch in one request (flows/configure.c), saving the "root_directory" and
 * "connect" steps of the fields that succeeded (a connect that ran while the root directory
 * failed is saved with before_root, so its deployment is not followed); a field that failed
 * is left to its own step. RH_OK unless the run must stop. */
enum rh_status flow_service_configure(struct flow *f, const char *service_id);

/* The deployment watcher (flows/watch.c): the queue's watcher hook (ctx: the struct flows). */
void flows_watch_run(void *ctx, struct queue *q);

#endif
