/* Reconciliation: one pass compares the desired state (the manifests table, or without
 * MANIFESTS_DATABASE_URL railhook's own record of the manifests it has seen) with the actual
 * state (one paged snapshot of the Railway environment), plans the changes
 * (flows/reconcile_plan.h) and, when asked, enqueues the jobs a webhook would have queued.
 * One pass at a time across every instance sharing the database. */
#ifndef RAILHOOK_FLOWS_RECONCILE_H
#define RAILHOOK_FLOWS_RECONCILE_H

#include "flows/flows.h"
#include "flows/reconcile_plan.h"
#include "store/store.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* How a manifest row becomes a job: the webhook mapping (handlers/mapping.c), which lives
 * above flows/ and is handed in by the caller. */
struct reconcile_mapper {
    /* Maps row to the job a webhook would queue for kind: RH_OK with *payload (a new object
     * holding "manifest_id") and *service_name (free()); RH_INVALID with why set. The job's
     * source is "reconcile" and its delivery id delivery_id. */
    enum rh_status (*map)(void *ud, const char *kind, const cJSON *row, const char *delivery_id,
                          cJSON **payload, char **service_name, char *why, size_t whylen);
    void *ud;
    const char *const *columns; /* the manifest columns the templates read */
    size_t ncolumns;
};

/* What one pass does. */
struct reconcile_options {
    const char *mode; /* recorded: "plan" or "apply" (the CLI), "repair" or "report" (serve) */
    bool apply;       /* enqueue the plan's jobs */
    bool deep;        /* also compare each owned service's variables (a request each) */
};

/* What a pass found and did. */
struct reconcile_report {
    bool ok;              /* the pass ran to the end */
    bool skipped;         /* another instance holds the reconciliation lock: nothing ran */
    char error[512];      /* why it failed (or was skipped) */
    char pass_id[24];     /* its row in reconcile_passes, "" when none was recorded */
    int railway_requests; /* Railway requests it sent */
    int snapshot_pages;   /* EnvironmentSnapshot requests among them */
    struct reconcile_plan plan;
    cJSON *jobs;  /* apply: [{"action","manifest_id","service_name","kind","job_id"}] */
    cJSON *held;  /* apply: [{"action","manifest_id","service_name","reason"}] not enqueued */
    int enqueued; /* jobs enqueued */
};

/* Runs one pass with fl's templates and rate limiter, on a session of s's own, mapping rows
 * with m. RH_OK when it ran (rep->ok) or was skipped (rep->skipped); otherwise rep->error says
 * why and nothing was enqueued. Free rep with reconcile_report_free(). */
enum rh_status reconcile_pass(struct flows *fl, struct store *s, const struct reconcile_mapper *m,
                              const struct reconcile_options *o, struct reconcile_report *rep);
/* Frees what reconcile_pass() filled; safe on a zeroed report. */
void reconcile_report_free(struct reconcile_report *rep);

/* Runs reconcile_pass() every RECONCILE_INTERVAL_S (RECONCILE_MODE: repair applies the plan,
 * report only records it) on a thread of its own until reconcile_periodic_stop(). NULL when
 * the interval is 0. */
struct reconcile_periodic;
struct reconcile_periodic *reconcile_periodic_start(struct flows *fl, struct store *s,
                                                    const struct reconcile_mapper *m);
/* Stops the thread (waiting for a pass under way) and frees it; NULL-safe. */
void reconcile_periodic_stop(struct reconcile_periodic *p);

#endif
