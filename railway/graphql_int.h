/* What the files of the GraphQL module (railway/graphql.h) share: the arena that holds a
 * document's or a schema's nodes, and the parser of a lone constant value. */
#ifndef RAILHOOK_RAILWAY_GRAPHQL_INT_H
#define RAILHOOK_RAILWAY_GRAPHQL_INT_H

#include "railway/graphql.h"

/* Zeroed memory that lives until graphql_arena_free(*arena). */
void *graphql_arena_alloc(struct graphql_arena **arena, size_t size);
/* A NUL-terminated copy of len bytes of s in the arena. */
char *graphql_arena_strndup(struct graphql_arena **arena, const char *s, size_t len);
/* Frees every block of the arena; NULL-safe and idempotent. */
void graphql_arena_free(struct graphql_arena **arena);
/* Parses text as one constant value (an introspection answer's defaultValue) into the arena;
 * NULL when it is not exactly one. */
const struct graphql_value *graphql_value_parse(struct graphql_arena **arena, const char *text);

#endif
