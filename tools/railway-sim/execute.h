/* execute: runs the selections of a validated operation over the simulator's JSON objects:
 * fields collected through fragments and @skip/@include, arguments evaluated, results shaped
 * by the selection sets and the schema (an array where the schema wants an object becomes a
 * connection). Reads only the document, the schema and the objects it is given. */
#ifndef RAILWAY_SIM_EXECUTE_H
#define RAILWAY_SIM_EXECUTE_H

#include "railway/graphql.h"

#include <cjson/cJSON.h>
#include <stddef.h>

/* One operation being run. */
struct exec {
    const struct graphql_schema *schema;
    const struct graphql_document *doc;
    const cJSON *vars; /* coerced variables; NULL: none */
    cJSON *errors;     /* non-null fields railway-sim cannot answer land here */
};

/* The fields selected under one response key, gathered over fragments and directives. */
struct exec_field {
    const char *key;
    const struct graphql_selection *field;     /* the first field with this key */
    const struct graphql_selection_set **subs; /* all their sub-selections */
    size_t sub_count;
};

struct exec_fields {
    struct exec_field *items;
    size_t count;
};

/* Collects the fields of the selection sets that apply to an object of type type; free with
 * exec_fields_cleanup(). */
void exec_fields_collect(const struct exec *x, const struct graphql_schema_type *type,
                         const struct graphql_selection_set *const *sets, size_t set_count,
                         struct exec_fields *out);
/* Frees a collection; NULL-safe and idempotent. */
void exec_fields_cleanup(struct exec_fields *f);
/* The arguments of field (variables substituted, defaults applied) for its definition def, as
 * a new object the caller deletes. */
cJSON *exec_arguments(const struct exec *x, const struct graphql_field *def,
                      const struct graphql_selection *field);
/* Shapes source (a resolver's full object, array or scalar; may be NULL) into the result of
 * field, whose type is type and whose arguments are args. Returns a new item the caller
 * deletes. */
cJSON *exec_value_complete(struct exec *x, const struct graphql_type *type,
                           const struct exec_field *field, const cJSON *args, const cJSON *source);

#endif
