/* The webhook intake: records each accepted delivery (a deliveries row) and its jobs in
 * PostgreSQL, atomically and deduplicated on (source, delivery id), sharing one commit among
 * all the deliveries that arrive together (group commit). A request hands its mapped delivery
 * to intake_post() and suspends its connection; it is woken, and answers, only after the
 * commit, so a 202 always means the jobs are in the database. Only accepted deliveries get a row
 * (outcome 'accepted'); duplicates and ignored deliveries are answered, never stored. */
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
struct intake_wait; /* a posted delivery, as its request holds it */

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
/* Writes what is queued, stops the writer thread, closes its connection and frees everything;
 * NULL-safe. Call after the HTTP server has stopped (no intake_post() running). */
void intake_stop(struct intake *in);
/* The mapping rules prepared from the configuration (valid until intake_stop()). */
const struct mapping_rules *intake_rules(const struct intake *in);

/* Records a delivery whose mapping is JOBS or FANOUT (the intake takes over mapped and leaves
 * it empty) and returns at once; size_hint (the body length) bounds batches. Once the batch
 * holding it is written, or failed, wake(transport) is called once, from the writer thread
 * (or from this call or intake_release_all()), unless intake_wait_free() came first. The
 * caller must be ready for that call before it calls this (e.g. its connection suspended).
 * Read the answer with intake_wait_result(); free with intake_wait_free(). */
struct intake_wait *intake_post(struct intake *in, const char *source, const char *delivery_id,
                                const char *event, struct mapping_result *mapped, size_t size_hint,
                                void (*wake)(void *transport), void *transport);
/* The answer, once woken: RH_OK with out filled (free with intake_outcome_free());
 * RH_UNAVAILABLE when the database could not be reached (within DB_POOL_WAIT_MS of waiting
 * in line) or the intake released it unwritten (nothing was answered as committed; a retry is
 * safe); RH_INVALID when the database refused the delivery. */
enum rh_status intake_wait_result(struct intake_wait *w, struct intake_outcome *out);
/* The request is done with w (answered or ended); the delivery may still be written. NULL-safe. */
void intake_wait_free(struct intake_wait *w);
/* Shutdown: wakes every delivery still waiting (those not written yet then answer
 * RH_UNAVAILABLE), and wakes later ones at once, so no connection stays suspended. */
void intake_release_all(struct intake *in);
/* Deliveries posted and not answered yet (their connections are suspended); 0 for NULL. */
size_t intake_waiting(struct intake *in);
/* Frees an outcome's job ids; safe twice. */
void intake_outcome_free(struct intake_outcome *out);

#endif
