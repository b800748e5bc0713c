/* What the reconciliation suites (test_reconcile*.c) share: the Railway simulator, railhook's
 * database, the Supabase stand-in, the worker pool running the jobs a pass enqueues, and the
 * helpers that run passes and wait for convergence. One suite process uses it at a time. */
#ifndef RAILHOOK_TESTS_RECONCILE_ENV_H
#define RAILHOOK_TESTS_RECONCILE_ENV_H

#include "flows_jobs.h"
#include "supabase_standin.h"
#include "support/harness.h"

#include "flows/flows.h"
#include "flows/reconcile.h"
#include "handlers/mapping_reconcile.h"

#include <stdbool.h>

extern struct th_sim rc_sim;
extern char *rc_db; /* railhook's database */
extern struct supabase_standin rc_supa;
extern struct tf_pool rc_tp; /* rc_tp.pool is NULL when stopped */
extern struct mapping_reconciler rc_mr;

/* The suite's .init and .fini: the simulator and both databases. */
void rc_setup(void);
void rc_teardown(void);
/* Loads the configuration (after the test's setenv) with MANIFESTS_DATABASE_URL=manifests
 * (NULL: none) and starts the pool; rc_stop_pool() stops it (rc_teardown() does too). */
void rc_start(const char *manifests);
void rc_stop_pool(void);
/* Inserts a manifest row into the stand-in, as its owner (no webhook). */
void rc_manifest_insert(const char *id, const char *schema);
/* One pass (apply: enqueue); asserts it ran. */
void rc_pass(bool apply, struct reconcile_report *rep);
/* Waits until no job is queued or running, then asserts every job succeeded. */
void rc_jobs_settle(void);
/* The plan's change for service name, or NULL. */
const struct reconcile_change *rc_change_of(const struct reconcile_report *rep, const char *name);
/* Asserts a plan pass finds nothing: converged. */
void rc_assert_converged(void);
/* Rows m-a (alpha) and m-b (beta) inserted without webhooks get their services: asserts the
 * plan, the apply (once), the jobs and the convergence. */
void rc_converge_two(void);
/* The Railway id railhook recorded for service name (free()). */
char *rc_live_id(const char *name);
/* POSTs json to the simulator's control endpoint path; asserts it was accepted. */
void rc_sim_post(const char *path, const char *json);
/* A change made by hand in Railway's dashboard (POST /_sim/drift). */
void rc_drift(const char *json);

#endif
