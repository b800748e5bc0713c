/* Reconciliation's statements: the one-pass-at-a-time lock, railhook's record of the services
 * it owns, the manifests that already have a job queued or running, and the passes' records
 * (the reconcile_passes table) that GET /reconcile and /metrics read. */
#ifndef RAILHOOK_STORE_RECONCILE_H
#define RAILHOOK_STORE_RECONCILE_H

#include "util/status.h"

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* Takes the reconciliation lock for c's session if no other session holds it (*got): a
 * session-level advisory lock, so c must be a dedicated session (not behind a transaction
 * pooler) and must keep it until store_reconcile_unlock() or its end. */
enum rh_status store_reconcile_lock(PGconn *c, bool *got, char *err, size_t errlen);
/* Gives the lock back. */
enum rh_status store_reconcile_unlock(PGconn *c, char *err, size_t errlen);

/* A services row that is not removed. */
struct store_owned_service {
    char *name;
    char *manifest_id; /* NULL when none is recorded */
    char *service_id;  /* NULL when it was never created */
    cJSON *digests;    /* the digests of the variables railhook applied, or NULL */
};

/* The services rows that are not removed, by name: *rows (free with
 * store_owned_services_free()) holds *n. RH_OK, or a failure status with err set. */
enum rh_status store_owned_services(PGconn *c, struct store_owned_service **rows, size_t *n,
                                    char *err, size_t errlen);
void store_owned_services_free(struct store_owned_service *rows, size_t n);

/* Without a manifests database, the desired state is railhook's own record: the newest record
 * a provision or update job carried for each manifest whose service is not removed, as a new
 * array of objects in *rows. RH_OK, or a failure status with err set (*rows NULL). */
enum rh_status store_recorded_manifests(PGconn *c, cJSON **rows, char *err, size_t errlen);

/* Which of the manifest ids (a JSON array of strings) have a job queued or running: *busy, a
 * new array of those ids. RH_OK, or a failure status with err set (*busy NULL). */
enum rh_status store_manifests_busy(PGconn *c, const cJSON *ids, cJSON **busy, char *err,
                                    size_t errlen);

/* Which of the manifest ids (a JSON array of strings) have as their newest job one a
 * reconciliation pass enqueued that failed: *failed, a new object manifest id -> that job's
 * id. A pass holds such a change back rather than failing again every interval. RH_OK, or a
 * failure status with err set (*failed NULL). */
enum rh_status store_manifests_reconcile_failed(PGconn *c, const cJSON *ids, cJSON **failed,
                                                char *err, size_t errlen);

/* Records the start of a pass by instance in mode ("plan", "apply", "repair", "report"): its id
 * in id (a decimal string). */
enum rh_status store_reconcile_pass_begin(PGconn *c, const char *instance, const char *mode,
                                          char id[24], char *err, size_t errlen);

/* How a pass ended. */
struct store_reconcile_outcome {
    bool ok;
    const char *error; /* NULL when ok */
    int railway_requests;
    int changes_found;
    int changes_enqueued;
    int refused;
    const cJSON *plan; /* the changes (reconcile_plan_json()), NULL: [] */
};

/* Records the end of pass id. */
enum rh_status store_reconcile_pass_finish(PGconn *c, const char *id,
                                           const struct store_reconcile_outcome *o, char *err,
                                           size_t errlen);

/* The newest limit passes as GET /reconcile serves them, {"passes":[{"id","instance",
 * "started_at","finished_at","mode","ok","error","railway_requests","changes_found",
 * "changes_enqueued","refused","changes":[...]}]}: *json (free()). */
enum rh_status store_reconcile_passes_json(PGconn *c, int limit, char **json, char *err,
                                           size_t errlen);

/* Seconds since the newest finished pass (*age_s; -1 when none). */
enum rh_status store_reconcile_last_age(PGconn *c, double *age_s, char *err, size_t errlen);

#endif
