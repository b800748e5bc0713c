/* Reconciliation's plan: a pure function from the desired state (the manifests, mapped as a
 * webhook maps them), the actual state (one snapshot of the Railway environment) and railhook's
 * record of its services to the changes that make them agree, each with its action and its
 * reason, and the fail-safe rules that refuse deletes. No database, no network, no clock. */
#ifndef RAILHOOK_FLOWS_RECONCILE_PLAN_H
#define RAILHOOK_FLOWS_RECONCILE_PLAN_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* One manifest of the desired state. Strings are borrowed. */
struct reconcile_desired {
    const char *manifest_id;
    const char *service_name; /* rendered from SERVICE_NAME_TEMPLATE */
    const cJSON *digests;     /* digests of its rendered worker variables, or NULL: unknown */
    bool invalid;             /* the mapping refused the row: no change, but it is present */
};

/* One row of the services table that is not removed. Strings are borrowed. */
struct reconcile_owned {
    const char *manifest_id;  /* NULL: none recorded (never planned against) */
    const char *service_name; /* the name railhook gave it */
    const char *service_id;   /* the Railway id, NULL when it was never created */
    const cJSON *digests;     /* the digests of the variables railhook applied, or NULL */
};

/* One service instance of the environment, as the snapshot read it. Strings are borrowed. */
struct reconcile_instance {
    const char *service_id;
    const char *service_name;
    bool deleted;               /* deletedAt set: gone */
    const char *root_directory; /* NULL: none */
    const char *repo;           /* source.repo, NULL: no repo connected */
    const char *branch;         /* its deployment trigger's branch, NULL: no trigger */
    const char *latest_status;  /* the latest deployment's status, NULL: none */
    bool running;               /* an active deployment is SUCCESS or SLEEPING */
    const cJSON *var_digests;   /* deep pass: digests of the variables Railway holds, else NULL */
};

/* What the plan compares against. Strings are borrowed. */
struct reconcile_target {
    const char *repo;            /* WORKER_REPO */
    const char *branch;          /* WORKER_BRANCH */
    const char *root_dir;        /* WORKER_ROOT_DIR ("/workers" and "workers/" compare equal) */
    const char *name_template;   /* SERVICE_NAME_TEMPLATE: the name pattern of foreign services */
    const char *self_service_id; /* RAILWAY_SERVICE_ID: never listed (NULL or "": none) */
    bool desired_is_truth;       /* the desired state is the manifests table (deletes possible);
                                  * false: it is railhook's own record (no deletes) */
    bool delete_enabled;         /* RECONCILE_DELETE */
    int max_delete;              /* RECONCILE_MAX_DELETE */
};

enum reconcile_action {
    RECONCILE_CREATE,   /* no service: a lost webhook, or deleted by hand (job: provision) */
    RECONCILE_UPDATE,   /* name, variables, root directory, repo or branch differ */
    RECONCILE_DELETE,   /* railhook owns a service whose manifest is gone (job: deprovision) */
    RECONCILE_REDEPLOY, /* the latest deployment failed or was removed (job: redeploy) */
    RECONCILE_FOREIGN,  /* matches the name pattern, railhook does not own it: reported only */
};

/* One change of the plan. */
struct reconcile_change {
    enum reconcile_action action;
    const char *kind;           /* the job kind that makes it (static), NULL for foreign */
    char manifest_id[160];      /* "" when none (foreign) */
    char service_name[160];     /* the name it has or gets */
    char service_id[96];        /* the Railway id, "" when there is none */
    char old_service_name[160]; /* an update that renames: the name it has now, else "" */
    char reason[256];
    bool refused; /* a fail-safe rule (or RECONCILE_DELETE off) holds it back */
    int desired;  /* index into the desired array, -1 when none */
};

/* A plan: changes in the order manifests, then owned services, then foreign ones. */
struct reconcile_plan {
    struct reconcile_change *changes;
    size_t n;
    int refused;       /* changes refused */
    char refusal[256]; /* why deletes were refused as a whole, "" when they were not */
};

/* Plans desired (nd) against owned (no) and the snapshot's instances (ni). Every rule is in
 * flows/reconcile_plan.c's top comment. Free with reconcile_plan_free(). */
void reconcile_plan_make(const struct reconcile_target *t, const struct reconcile_desired *desired,
                         size_t nd, const struct reconcile_owned *owned, size_t no,
                         const struct reconcile_instance *inst, size_t ni,
                         struct reconcile_plan *plan);
/* Frees what reconcile_plan_make() made; safe on a zeroed or freed plan. */
void reconcile_plan_free(struct reconcile_plan *plan);
/* The action's name ("create", "update", "delete", "redeploy", "foreign"): static storage. */
const char *reconcile_action_name(enum reconcile_action a);
/* The plan's changes as a JSON array of {"action","manifest_id","service_name","service_id",
 * "reason"} (and "refused": true when refused); a new array the caller deletes. */
cJSON *reconcile_plan_json(const struct reconcile_plan *plan);

#endif
