/* What the files of the GraphQL module (railway/graphql.h) share: the arena that holds a
 * document's or a schema's nodes, the lexer, and the parser of a lone constant value. */
#ifndef RAILHOOK_RAILWAY_GRAPHQL_INT_H
#define RAILHOOK_RAILWAY_GRAPHQL_INT_H

#include "railway/graphql.h"

/* Zeroed memory that lives until graphql_arena_free(*arena). */
void *graphql_arena_alloc(struct graphql_arena **arena, size_t size);
/* A NUL-terminated copy of len bytes of s in the arena. */
char *graphql_arena_strndup(struct graphql_arena **arena, const char *s, size_t len);
/* Frees every block of the arena; NULL-safe and idempotent. */
void graphql_arena_free(struct graphql_arena **arena);
/* Token kinds; from GRAPHQL_TOK_NAME on, tokens carry a value. */
enum graphql_tok {
    GRAPHQL_TOK_EOF,
    GRAPHQL_TOK_BANG,
    GRAPHQL_TOK_DOLLAR,
    GRAPHQL_TOK_AMP,
    GRAPHQL_TOK_PAREN_L,
    GRAPHQL_TOK_PAREN_R,
    GRAPHQL_TOK_SPREAD,
    GRAPHQL_TOK_COLON,
    GRAPHQL_TOK_EQUALS,
    GRAPHQL_TOK_AT,
    GRAPHQL_TOK_BRACKET_L,
    GRAPHQL_TOK_BRACKET_R,
    GRAPHQL_TOK_BRACE_L,
    GRAPHQL_TOK_PIPE,
    GRAPHQL_TOK_BRACE_R,
    GRAPHQL_TOK_NAME,
    GRAPHQL_TOK_INT,
    GRAPHQL_TOK_FLOAT,
    GRAPHQL_TOK_STRING,
    GRAPHQL_TOK_BLOCK_STRING,
};

struct graphql_token {
    enum graphql_tok kind;
    const char *start;
    const char *value; /* names, numbers and decoded strings, in the arena */
    int line, column;
};

/* A lexer over one text. Its first error, in graphql-js's words, goes to doc (when not NULL);
 * after it, failed is set and every token is EOF. */
struct graphql_lexer {
    struct graphql_document *doc;
    struct graphql_arena **arena;
    const char *pos, *end, *line_start;
    int line;
    struct graphql_token tok;
    long tokens;
    bool failed;
};

/* Starts lx on len bytes of text and reads the first token into lx->tok. */
void graphql_lex_init(struct graphql_lexer *lx, struct graphql_document *doc,
                      struct graphql_arena **arena, const char *text, size_t len);
/* Reads the next token into lx->tok. */
void graphql_lex_next(struct graphql_lexer *lx);
/* Records a syntax error at line and column, unless one is recorded already. */
void graphql_lex_fail(struct graphql_lexer *lx, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Fails with "Unexpected <the current token>." */
void graphql_lex_unexpected(struct graphql_lexer *lx);
/* graphql-js's name of a kind of token ("Name", "\"{\"", "<EOF>"). */
const char *graphql_tok_name(enum graphql_tok k);
/* graphql-js's getTokenDesc(): punctuators quoted, other tokens as Kind "value". */
void graphql_token_desc(const struct graphql_token *t, char *buf, size_t size);
/* Parses text as one constant value (an introspection answer's defaultValue) into the arena;
 * NULL when it is not exactly one. */
const struct graphql_value *graphql_value_parse(struct graphql_arena **arena, const char *text);

#endif
