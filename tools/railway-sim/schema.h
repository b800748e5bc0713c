/* schema: the slice of Railway's public GraphQL schema that railway-sim serves, document
 * validation against it, variable coercion, and shaping of results by selection sets. */
#ifndef RAILWAY_SIM_SCHEMA_H
#define RAILWAY_SIM_SCHEMA_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "gql.h"

enum schema_kind {
    SCHEMA_SCALAR,
    SCHEMA_ENUM,
    SCHEMA_INPUT,
    SCHEMA_OBJECT,
};

/* An argument or an input-object field; type as GraphQL spells it ("[String!]!"). */
struct schema_input_value {
    const char *name;
    const char *type;
    const char *default_json; /* NULL: no default */
};

/* An output field. type NULL marks a field Railway has that railway-sim does not simulate. */
struct schema_field {
    const char *name;
    const char *type;
    const struct schema_input_value *args;
    const char *fallback_json; /* answered when the resolver's object lacks the field */
};

struct schema_type {
    const char *name;
    enum schema_kind kind;
    const struct schema_field *fields;             /* SCHEMA_OBJECT */
    const struct schema_input_value *input_fields; /* SCHEMA_INPUT */
    const char *const *values;                     /* SCHEMA_ENUM, NULL-terminated */
};

/* Looks a type up by name; NULL when railway-sim does not know it. */
const struct schema_type *schema_type_find(const char *name);

/* The Query or Mutation type; NULL for subscriptions. */
const struct schema_type *schema_root_type(enum gql_operation_type type);

/* Looks a field of an object type up by name; NULL when absent. */
const struct schema_field *schema_field_find(const struct schema_type *type, const char *name);

/* Appends one GraphQL error object {message, locations?, extensions.code} to the array. */
void schema_error_add(cJSON *errors, const char *code, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Validates every operation and fragment of doc; appends errors (code
 * GRAPHQL_VALIDATION_FAILED) and returns their count. */
int schema_document_validate(const struct gql_document *doc, cJSON *errors);

/* Picks the operation to run (by name, or the only one); NULL with an error appended. */
const struct gql_operation *schema_operation_select(const struct gql_document *doc,
                                                    const char *name, cJSON *errors);

/* Coerces the request's variables (an object, or NULL) for op. On success *out is a new object
 * the caller frees with cJSON_Delete(); returns the number of errors appended. */
int schema_variables_coerce(const struct gql_operation *op, const cJSON *values, cJSON **out,
                            cJSON *errors);

/* The fields selected under one response key, gathered over fragments and directives. */
struct schema_collected {
    const char *key;
    const struct gql_selection *field;     /* the first field with this key */
    const struct gql_selection_set **subs; /* all their sub-selections */
    size_t sub_count;
};

struct schema_collection {
    struct schema_collected *items;
    size_t count;
};

/* Collects the fields to execute from the selection sets; free with
 * schema_collection_cleanup(). */
void schema_fields_collect(const struct gql_document *doc,
                           const struct gql_selection_set *const *sets, size_t set_count,
                           const cJSON *vars, struct schema_collection *out);

/* Frees a collection; NULL-safe and idempotent. */
void schema_collection_cleanup(struct schema_collection *c);

/* Evaluates a field's arguments (variables substituted, defaults applied) into a new object the
 * caller frees with cJSON_Delete(). Absent optional arguments are absent from the object. */
cJSON *schema_arguments_eval(const struct schema_field *def, const struct gql_selection *field,
                             const cJSON *vars);

/* Shapes `source` (a resolver's full object, array or scalar; may be NULL) into the result for
 * a field of the given type and selection. Returns a new item the caller frees. */
cJSON *schema_value_complete(const struct gql_document *doc, const char *type,
                             const struct schema_collected *field, const cJSON *source,
                             const cJSON *vars);

#endif
