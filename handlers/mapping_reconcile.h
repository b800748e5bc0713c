/* Reconciliation's mapper (struct reconcile_mapper, flows/reconcile.h) over the webhook
 * mapping: a manifest row read by a pass becomes exactly the job a Supabase delivery of that
 * row would have queued. */
#ifndef RAILHOOK_HANDLERS_MAPPING_RECONCILE_H
#define RAILHOOK_HANDLERS_MAPPING_RECONCILE_H

#include "flows/reconcile.h"
#include "handlers/mapping.h"

/* The rules, the template columns and the mapper that reads them. */
struct mapping_reconciler {
    struct mapping_rules rules;
    char **columns;
    size_t ncolumns;
    struct reconcile_mapper mapper; /* points into this struct: do not copy it */
};

/* Prepares r from cfg (which must outlive it). RH_INVALID with err set on a bad pattern or
 * template. Free with mapping_reconciler_free(). Call before threads start. */
enum rh_status mapping_reconciler_init(struct mapping_reconciler *r, const struct config *cfg,
                                       char *err, size_t errlen);
/* Frees what mapping_reconciler_init() made; safe on a zeroed struct. */
void mapping_reconciler_free(struct mapping_reconciler *r);

#endif
