/* Private to reconciliation (flows/reconcile.c): reading the actual state
 * (flows/reconcile_snapshot.c) under the pass's Railway budget. */
#ifndef RAILHOOK_FLOWS_RECONCILE_INT_H
#define RAILHOOK_FLOWS_RECONCILE_INT_H

#include "flows/reconcile_plan.h"
#include "railway/railway.h"

#include <cjson/cJSON.h>
#include <stddef.h>

/* The snapshot's page size (serviceInstances and deploymentTriggers alike). */
#define RECONCILE_PAGE 100

/* A pass's Railway calls: one client, counted against the budget. */
struct reconcile_calls {
    struct railway_client *rc;
    int budget;  /* RECONCILE_BUDGET */
    int sent;    /* requests sent so far */
    int pages;   /* EnvironmentSnapshot requests among them */
    cJSON *keep; /* the answers' data, which the instances point into (owned) */
};

/* Sends op with vars (consumed) unless the budget is spent, retrying a transient failure
 * while the budget allows: RH_OK with *data (borrowed from c->keep), else a failure status
 * with err set. */
enum rh_status reconcile_call(struct reconcile_calls *c, enum railway_op op, cJSON *vars,
                              const cJSON **data, char *err, size_t errlen);

/* Reads the environment's service instances and deployment triggers, page by page: *inst
 * (free(); strings borrowed from c->keep) holds *n, each with the branch of its trigger.
 * RH_OK, or a failure status with err set (the pass must then change nothing). */
enum rh_status reconcile_snapshot(struct reconcile_calls *c, const struct config *cfg,
                                  struct reconcile_instance **inst, size_t *n, char *err,
                                  size_t errlen);

/* Deep pass: reads the variables of the live service service_id and digests the values of the
 * names in applied (what railhook set): *digests (a new object in c->keep, borrowed), with
 * "missing" for a name Railway no longer has. */
enum rh_status reconcile_variables(struct reconcile_calls *c, const struct config *cfg,
                                   const char *service_id, const cJSON *applied,
                                   const cJSON **digests, char *err, size_t errlen);

#endif
