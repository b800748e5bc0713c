/* Private to the mappers (handlers/mapping.c, handlers/mapping_github.c): the helpers both use. */
#ifndef RAILHOOK_HANDLERS_MAPPING_INT_H
#define RAILHOOK_HANDLERS_MAPPING_INT_H

#include "handlers/mapping.h"

/* Sets res to INVALID naming field, with a formatted message. */
void mapping_set_invalid(struct mapping_result *res, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sets res to IGNORED with a formatted reason. */
void mapping_set_ignored(struct mapping_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* obj's string member key, or def when obj is no object or the member no string. */
const char *mapping_str_or(const cJSON *obj, const char *key, const char *def);
/* The kind of rules' table that a webhook event queues, or NULL. */
const struct flows_kind *mapping_kind_for(const struct mapping_rules *rules,
                                          enum flows_trigger trigger);

#endif
