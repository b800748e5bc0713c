/* The webhook intake: records each accepted delivery (a deliveries row) and its jobs in
 * PostgreSQL, atomically and deduplicated on (source, delivery id), sharing one commit among
 * all the deliveries that arrive together (group commit). A request thread hands its mapped
 * delivery to intake_submit() and gets the answer only after the commit, so a 202 always
 * means the jobs are in the database. Only accepted deliveries get a row (outcome
 * 'accepted'); duplicates and ignored deliveries are answered, never stored. */
#ifndef RAILHOOK_HANDLERS_INTAKE_H
#define RAILHOOK_HANDLERS_INTAKE_H

#include "handlers/mapping.h"
#include "store/store.h"
#include "util/config.h"
#include "util/status.h"

#include <stdbool.h>
#include <stddef.h>

#define INTAKE_MAX_BATCH       256        /* deliveries per commit */
#define INTAKE_MAX_BATCH_BYTES (8u << 20) /* payload bytes per commit (one delivery may pass) */

struct intake;

/* What became of a submitted delivery. */
struct intake_outcome {
    bool duplicate; /* recorded before: job_ids are the earlier delivery's */
    bool ignored;   /* nothing recorded; reason says why (e.g. "no active services") */
    char reason[160];
    char (*job_ids)[37]; /* the jobs' uuids, in job order */
    size_t njobs;
};

/* Prepares the mapping rules and starts the writer thread (it connects lazily, with its
 * first batch, so a database that is down delays nothing here). cfg and store must outlive the
 * intake. NULL with err naming the variable when the configuration is unusable. Stop with
 * intake_stop(). */
struct intake *intake_start(const struct config *cfg, struct store *store, char *err,
                            size_t errlen);
/* Stops the writer thread, closes its connection and frees everything; NULL-safe. Call after
 * the HTTP server has stopped (no intake_submit() running). */
void intake_stop(struct intake *in);
/* The mapping rules prepared from the configuration (valid until intake_stop()). */
const struct mapping_rules *intake_rules(const struct intake *in);

/* Records a delivery whose mapping is JOBS or FANOUT (the intake takes over mapped and leaves
 * it empty) and blocks until it is committed. size_hint (the body length) bounds batches.
 * RH_OK with out filled (free with intake_outcome_free()); RH_UNAVAILABLE when the database
 * cannot be reached within DB_POOL_WAIT_MS or the intake is stopping (nothing was answered
 * as committed; a retry is safe); RH_INVALID when the database refused the delivery. */
enum rh_status intake_submit(struct intake *in, const char *source, const char *delivery_id,
                             const char *event, struct mapping_result *mapped, size_t size_hint,
                             struct intake_outcome *out);
/* Frees an outcome's job ids; safe twice. */
void intake_outcome_free(struct intake_outcome *out);

#endif
