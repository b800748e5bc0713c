/* The Railway flows as queue handlers, and the job-kind table (flows/kinds.c) every other
 * part of railhook derives its list of kinds from: the API's validation, the webhook
 * mappers, the queue's handlers, the status page and a test holding openapi.yaml to it. */
#ifndef RAILHOOK_FLOWS_H
#define RAILHOOK_FLOWS_H

#include "railway/railway.h"
#include "util/config.h"

#include <stdbool.h>
#include <stddef.h>

struct flows;
struct queue;

/* The webhook event that queues jobs of a kind (besides POST /jobs). */
enum flows_trigger {
    FLOWS_TRIGGER_NONE,            /* only POST /jobs creates it */
    FLOWS_TRIGGER_SUPABASE_INSERT, /* a manifest row was inserted: a job for that row */
    FLOWS_TRIGGER_SUPABASE_UPDATE, /* a manifest row changed (a relevant column) */
    FLOWS_TRIGGER_SUPABASE_DELETE, /* a manifest row was deleted */
    FLOWS_TRIGGER_GITHUB_PUSH,     /* a push to WORKER_BRANCH: a job per active service */
};

/* What a job of a kind is made from (its payload; POST /jobs takes the same fields). */
enum flows_input {
    FLOWS_INPUT_ROW,        /* a manifest row: "record" */
    FLOWS_INPUT_ROW_CHANGE, /* a manifest row and the row before it: "record", "old_record" */
    FLOWS_INPUT_SERVICE,    /* a service: "service_name" and an optional "commit_sha" */
};

struct flows_handler; /* a kind's run and compensation (private to flows/) */

struct flows_kind {
    const char *name;                    /* jobs.kind, the API's and the page's name */
    const struct flows_handler *handler; /* what the queue runs for it */
    bool api_create;                     /* POST /jobs may create it */
    enum flows_trigger trigger;
    enum flows_input input;
};

/* The job kinds, in the order lists show them, ending with an entry whose name is NULL. The
 * test-only kinds are not here: the test binary registers them itself. */
extern const struct flows_kind flows_kinds[];
/* The kind named name, or NULL when railhook has no such kind. */
const struct flows_kind *flows_kind_find(const char *name);
/* The kinds' names joined with ", " (with api_only, only those POST /jobs may create), for
 * error messages: a new string the caller frees with free(). */
char *flows_kind_names(bool api_only);

/* What a job waiting for the Railway hourly budget parks on (queue_parked_list() counts them
 * for /metrics). */
#define FLOWS_BUDGET_WAIT "railway-budget"

/* Loads the worker variable templates and makes the flows' shared state (the Railway rate
 * limiter). NULL with err set when the templates are unusable. Call before threads start;
 * free with flows_free() after the queue has stopped. */
struct flows *flows_new(const struct config *cfg, char *err, size_t errlen);
void flows_free(struct flows *fl);
/* The Railway rate limiter the flows share (it has its own lock): owned by fl. */
struct railway_limiter *flows_limiter(const struct flows *fl);
/* Registers a handler with the queue for each kind of the table, and the deployment watcher
 * (flows/watch.c) as the queue's watcher thread. */
void flows_register(struct flows *fl, struct queue *q);

#endif
