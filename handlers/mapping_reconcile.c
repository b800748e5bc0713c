/* Reconciliation's mapper over mapping_row_job() (handlers/mapping_reconcile.h). Pure, like
 * the rest of the mapping: safe from any thread once initialised. */
#include "handlers/mapping_reconcile.h"

#include "util/util.h"

#include <stdio.h>
#include <string.h>

static enum rh_status reconciler_map(void *ud, const char *kind, const cJSON *row,
                                     const char *delivery_id, cJSON **payload, char **service_name,
                                     char *why, size_t whylen)
{
    const struct mapping_reconciler *r = ud;
    const struct flows_kind *k = flows_kind_find(kind);
    struct mapping_result res;
    enum rh_status st = RH_INVALID;
    *payload = NULL;
    *service_name = NULL;
    mapping_result_init(&res);
    if (!k) {
        snprintf(why, whylen, "no job kind %s", kind);
        goto out;
    }
    mapping_row_job(&r->rules, k, row, NULL, "record", "reconcile", delivery_id, &res);
    if (res.outcome != MAPPING_JOBS || res.njobs != 1) {
        snprintf(why, whylen, "%s%s%s", res.outcome == MAPPING_INVALID ? res.field : res.reason,
                 res.outcome == MAPPING_INVALID ? ": " : "",
                 res.outcome == MAPPING_INVALID ? res.message : "");
        goto out;
    }
    *payload = res.jobs[0].payload;
    res.jobs[0].payload = NULL;
    *service_name = res.jobs[0].service_name;
    res.jobs[0].service_name = NULL;
    st = RH_OK;
out:
    mapping_result_free(&res);
    return st;
}

enum rh_status mapping_reconciler_init(struct mapping_reconciler *r, const struct config *cfg,
                                       char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    enum rh_status st = mapping_rules_load(&r->rules, cfg, flows_kinds, err, errlen);
    if (st != RH_OK)
        return st;
    st = mapping_template_columns(cfg, &r->columns, &r->ncolumns, err, errlen);
    if (st != RH_OK) {
        mapping_rules_free(&r->rules);
        return st;
    }
    r->mapper.map = reconciler_map;
    r->mapper.ud = r;
    r->mapper.columns = (const char *const *)r->columns;
    r->mapper.ncolumns = r->ncolumns;
    return RH_OK;
}

void mapping_reconciler_free(struct mapping_reconciler *r)
{
    mapping_rules_free(&r->rules);
    mapping_columns_free(r->columns, r->ncolumns);
    memset(r, 0, sizeof(*r));
}
