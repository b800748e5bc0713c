/* GraphQL as railhook and its simulator need it: executable documents parsed into a tree, a
 * schema loaded from an introspection answer, validation of a document against that schema and
 * coercion of a request's variables, with graphql-js 16's messages. Documents and schemas are
 * read-only once built: threads may share them. */
#ifndef RAILHOOK_RAILWAY_GRAPHQL_H
#define RAILHOOK_RAILWAY_GRAPHQL_H

#include "util/status.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* ---- documents ---- */

enum graphql_value_kind {
    GRAPHQL_VARIABLE,
    GRAPHQL_INT,
    GRAPHQL_FLOAT,
    GRAPHQL_STRING,
    GRAPHQL_BOOLEAN,
    GRAPHQL_NULL,
    GRAPHQL_ENUM,
    GRAPHQL_LIST,
    GRAPHQL_OBJECT,
};

struct graphql_value;

/* One item of a list value (name NULL) or one field of an object value. */
struct graphql_value_item {
    const char *name;
    struct graphql_value *value;
    int line, column;
};

struct graphql_value {
    enum graphql_value_kind kind;
    const char *text; /* variable name (no '$'), number as written, decoded string, enum name */
    bool boolean;
    struct graphql_value_item *items;
    size_t count;
    int line, column;
};

/* A type reference: a named type, or a list of `of`; either may be non-null. */
struct graphql_type {
    const char *name;
    const struct graphql_type *of;
    bool non_null;
};

struct graphql_argument {
    const char *name;
    struct graphql_value *value;
    int line, column;
};

struct graphql_directive {
    const char *name;
    struct graphql_argument *args;
    size_t arg_count;
    int line, column;
};

enum graphql_selection_kind {
    GRAPHQL_FIELD,
    GRAPHQL_SPREAD,
    GRAPHQL_INLINE_FRAGMENT,
};

struct graphql_selection_set;

struct graphql_selection {
    enum graphql_selection_kind kind;
    const char *alias;     /* a field's alias, or NULL */
    const char *name;      /* the field's name, or the spread fragment's */
    const char *type_cond; /* an inline fragment's type condition, or NULL */
    struct graphql_argument *args;
    size_t arg_count;
    struct graphql_directive *directives;
    size_t directive_count;
    struct graphql_selection_set *selections; /* NULL for a leaf field and a spread */
    int line, column;
};

struct graphql_selection_set {
    struct graphql_selection *items;
    size_t count;
    int line, column;
};

struct graphql_variable {
    const char *name;
    const struct graphql_type *type;
    struct graphql_value *default_value; /* NULL when there is none */
    int line, column;
};

enum graphql_operation_kind {
    GRAPHQL_QUERY,
    GRAPHQL_MUTATION,
    GRAPHQL_SUBSCRIPTION,
};

struct graphql_operation {
    enum graphql_operation_kind kind;
    const char *name; /* NULL for an anonymous operation */
    struct graphql_variable *variables;
    size_t variable_count;
    struct graphql_directive *directives;
    size_t directive_count;
    struct graphql_selection_set *selections;
    int line, column;
};

struct graphql_fragment {
    const char *name;
    const char *type_cond;
    struct graphql_directive *directives;
    size_t directive_count;
    struct graphql_selection_set *selections;
    int line, column;
};

struct graphql_arena;

struct graphql_document {
    struct graphql_operation *operations;
    size_t operation_count;
    struct graphql_fragment *fragments;
    size_t fragment_count;
    struct graphql_arena *arena; /* every node above */
    char error[256];             /* a parse failure, as graphql-js words it */
    int error_line, error_column;
};

/* Parses len bytes of text (at most 20000 tokens, nesting at most 64 deep) into doc, which
 * this call zeroes first. RH_OK, or RH_INVALID with doc->error and its position set. Release
 * doc with graphql_document_cleanup() after either. */
enum rh_status graphql_document_parse(struct graphql_document *doc, const char *text, size_t len);
/* Frees what graphql_document_parse() allocated; NULL-safe and idempotent. */
void graphql_document_cleanup(struct graphql_document *doc);
/* The document's fragment named name, or NULL. */
const struct graphql_fragment *graphql_fragment_find(const struct graphql_document *doc,
                                                     const char *name);
/* The operation to run: the one named name, or the only one when name is NULL or empty. NULL,
 * with one error appended to errors, when there is no such operation. */
const struct graphql_operation *graphql_operation_pick(const struct graphql_document *doc,
                                                       const char *name, cJSON *errors);
/* Writes t as GraphQL spells it ("[String!]!") into buf, cut to fit. */
void graphql_type_print(const struct graphql_type *t, char *buf, size_t size);
/* The name of the named type under t's list and non-null wrappers ("" for none). */
const char *graphql_type_name(const struct graphql_type *t);

/* ---- schemas ---- */

enum graphql_kind {
    GRAPHQL_KIND_SCALAR,
    GRAPHQL_KIND_OBJECT,
    GRAPHQL_KIND_INTERFACE,
    GRAPHQL_KIND_UNION,
    GRAPHQL_KIND_ENUM,
    GRAPHQL_KIND_INPUT_OBJECT,
};

/* An argument or an input field. */
struct graphql_input_value {
    const char *name;
    const struct graphql_type *type;
    const struct graphql_value *default_value; /* NULL when there is none */
};

struct graphql_field {
    const char *name;
    const struct graphql_type *type;
    const struct graphql_input_value *args;
    size_t arg_count;
    bool deprecated;
    const char *deprecation_reason; /* NULL when none is given */
};

/* A named type. Every list is sorted by name. */
struct graphql_schema_type {
    const char *name;
    enum graphql_kind kind;
    const struct graphql_field *fields; /* OBJECT, INTERFACE */
    size_t field_count;
    const struct graphql_input_value *input_fields; /* INPUT_OBJECT */
    size_t input_field_count;
    const char *const *enum_values; /* ENUM */
    size_t enum_value_count;
    const char *const *possible_types; /* INTERFACE, UNION: the object types it may be */
    size_t possible_type_count;
};

struct graphql_directive_def {
    const char *name;
    const char *const *locations; /* "FIELD", "QUERY", ... */
    size_t location_count;
    const struct graphql_input_value *args;
    size_t arg_count;
};

struct graphql_schema {
    const struct graphql_schema_type *types; /* sorted by name */
    size_t type_count;
    const struct graphql_directive_def *directives;
    size_t directive_count;
    const struct graphql_schema_type *query, *mutation, *subscription; /* NULL when absent */
    struct graphql_arena *arena;                                       /* everything above */
};

/* Builds s (zeroed by this call) from introspection, the "__schema" object of an introspection
 * answer; members left out count as null, and without "directives" the schema has @skip and
 * @include. RH_OK, or RH_INVALID with err when it is not such an object. Release s with
 * graphql_schema_cleanup() after either. */
enum rh_status graphql_schema_load(struct graphql_schema *s, const cJSON *introspection, char *err,
                                   size_t errlen);
/* Frees what graphql_schema_load() allocated; NULL-safe and idempotent. */
void graphql_schema_cleanup(struct graphql_schema *s);
/* The named type called name, or NULL. */
const struct graphql_schema_type *graphql_schema_type_find(const struct graphql_schema *s,
                                                           const char *name);
/* The named type under t's list and non-null wrappers, or NULL when the schema lacks it. */
const struct graphql_schema_type *graphql_schema_type_of(const struct graphql_schema *s,
                                                         const struct graphql_type *t);
/* The root type of operations of the given kind, or NULL. */
const struct graphql_schema_type *graphql_schema_root(const struct graphql_schema *s,
                                                      enum graphql_operation_kind kind);
/* The field name of type t, including the meta-fields __typename (any composite type) and
 * __schema and __type (the query root); NULL when there is none. */
const struct graphql_field *graphql_schema_field_find(const struct graphql_schema *s,
                                                      const struct graphql_schema_type *t,
                                                      const char *name);
/* The argument or input field called name in list (sorted, count long), or NULL. */
const struct graphql_input_value *graphql_input_value_find(const struct graphql_input_value *list,
                                                           size_t count, const char *name);
/* Whether an object of type object may appear where type cond is expected (the same type, or
 * one of an interface's or union's possible types). */
bool graphql_schema_type_applies(const struct graphql_schema_type *cond,
                                 const struct graphql_schema_type *object);

/* ---- validation and values ---- */

/* Appends the error {"message", "locations": [{"line", "column"}]} (no locations when line is
 * 0) to errors, unless the same one is there already. Past 100 errors, appends graphql-js's
 * "Too many validation errors" once and then nothing. */
void graphql_error_add(cJSON *errors, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Validates every operation and fragment of doc against s with graphql-js 16's rules and
 * messages, appending errors with graphql_error_add(); uses of deprecated fields go to
 * warnings the same way when it is not NULL. Returns the number of errors appended. */
int graphql_document_validate(const struct graphql_schema *s, const struct graphql_document *doc,
                              cJSON *errors, cJSON *warnings);
/* Coerces values (a request's "variables" object, or NULL) to op's variable definitions:
 * defaults applied, enums and scalars checked, input objects and lists followed. *out receives
 * a new object (caller deletes) even when errors are appended; returns their number. op must
 * have passed graphql_document_validate(). */
int graphql_variables_coerce(const struct graphql_schema *s, const struct graphql_operation *op,
                             const cJSON *values, cJSON **out, cJSON *errors);
/* The values of the arguments args (as written) for the definitions defs: variables taken from
 * vars (coerced), defaults applied, an argument without value or default left out. Returns a
 * new object the caller deletes. */
cJSON *graphql_arguments_eval(const struct graphql_schema *s,
                              const struct graphql_input_value *defs, size_t def_count,
                              const struct graphql_argument *args, size_t arg_count,
                              const cJSON *vars);

#endif
