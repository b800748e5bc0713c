/* gql: a small GraphQL executable-document parser (operations, fragments, values, types). */
#ifndef RAILWAY_SIM_GQL_H
#define RAILWAY_SIM_GQL_H

#include <stdbool.h>
#include <stddef.h>

enum gql_value_kind {
    GQL_VALUE_VARIABLE,
    GQL_VALUE_INT,
    GQL_VALUE_FLOAT,
    GQL_VALUE_STRING,
    GQL_VALUE_BOOLEAN,
    GQL_VALUE_NULL,
    GQL_VALUE_ENUM,
    GQL_VALUE_LIST,
    GQL_VALUE_OBJECT,
};

struct gql_value;

/* One entry of an object value; name is NULL for list items. */
struct gql_value_item {
    const char *name;
    struct gql_value *value;
    int line, column;
};

struct gql_value {
    enum gql_value_kind kind;
    /* Variable name (without '$'), literal text of numbers, decoded string, enum name. */
    const char *text;
    bool boolean;
    struct gql_value_item *items;
    size_t count;
    int line, column;
};

/* A type reference: a named type, or a list of `of`; either may be non-null. */
struct gql_type {
    const char *name;
    struct gql_type *of;
    bool non_null;
};

struct gql_argument {
    const char *name;
    struct gql_value *value;
    int line, column;
};

struct gql_directive {
    const char *name;
    struct gql_argument *args;
    size_t arg_count;
    int line, column;
};

enum gql_selection_kind {
    GQL_SELECTION_FIELD,
    GQL_SELECTION_SPREAD,
    GQL_SELECTION_INLINE,
};

struct gql_selection_set;

struct gql_selection {
    enum gql_selection_kind kind;
    const char *alias;     /* field only, may be NULL */
    const char *name;      /* field name or spread fragment name */
    const char *type_cond; /* inline fragment, may be NULL */
    struct gql_argument *args;
    size_t arg_count;
    struct gql_directive *directives;
    size_t directive_count;
    struct gql_selection_set *selections; /* NULL for a leaf field or a spread */
    int line, column;
};

struct gql_selection_set {
    struct gql_selection *items;
    size_t count;
    int line, column;
};

struct gql_variable_definition {
    const char *name;
    struct gql_type *type;
    struct gql_value *default_value; /* NULL when absent */
    int line, column;
};

enum gql_operation_type {
    GQL_OPERATION_QUERY,
    GQL_OPERATION_MUTATION,
    GQL_OPERATION_SUBSCRIPTION,
};

struct gql_operation {
    enum gql_operation_type type;
    const char *name; /* NULL for an anonymous operation */
    struct gql_variable_definition *variables;
    size_t variable_count;
    struct gql_directive *directives;
    size_t directive_count;
    struct gql_selection_set *selections;
    int line, column;
};

struct gql_fragment {
    const char *name;
    const char *type_cond;
    struct gql_directive *directives;
    size_t directive_count;
    struct gql_selection_set *selections;
    int line, column;
};

struct gql_arena_block;

/* A parsed document; every node lives in its arena and goes with gql_document_cleanup(). */
struct gql_document {
    struct gql_operation *operations;
    size_t operation_count;
    struct gql_fragment *fragments;
    size_t fragment_count;
    struct gql_arena_block *arena;
    /* On a parse failure: a graphql-js style message and its position. */
    char error[256];
    int error_line, error_column;
};

/* Parses `len` bytes of `src` into `doc` (caller-owned, zeroed by this call). Returns 0, or -1
 * with doc->error set. Release with gql_document_cleanup() on both paths. */
int gql_document_parse(struct gql_document *doc, const char *src, size_t len);

/* Frees everything gql_document_parse() allocated; NULL-safe and idempotent. */
void gql_document_cleanup(struct gql_document *doc);

/* Writes the type as GraphQL spells it ("[String!]!") into buf; truncates to fit. */
void gql_type_print(const struct gql_type *type, char *buf, size_t size);

/* Finds a fragment definition by name, or NULL. */
const struct gql_fragment *gql_document_fragment_find(const struct gql_document *doc,
                                                      const char *name);

#endif
