/* The GraphQL module's memory and tokens: the arena that holds documents and schemas, and the
 * lexer, with graphql-js 16's syntax-error messages. */
#include "railway/graphql_int.h"

#include "util/util.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A cap for remote input: graphql-js's maxTokens, with its message. */
#define MAX_TOKENS  20000
#define ARENA_BLOCK 16384

struct graphql_arena {
    struct graphql_arena *next;
    size_t used, size;
    max_align_t data[];
};

void *graphql_arena_alloc(struct graphql_arena **arena, size_t size)
{
    size_t need = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    struct graphql_arena *b = *arena;
    if (need == 0)
        need = sizeof(max_align_t);
    if (b == NULL || b->size - b->used < need) {
        size_t bsize = need > ARENA_BLOCK ? need : ARENA_BLOCK;
        b = xmalloc(sizeof(*b) + bsize);
        b->size = bsize;
        b->used = 0;
        b->next = *arena;
        *arena = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += need;
    memset(p, 0, need);
    return p;
}

char *graphql_arena_strndup(struct graphql_arena **arena, const char *s, size_t len)
{
    char *p = graphql_arena_alloc(arena, len + 1);
    memcpy(p, s, len);
    return p;
}

void graphql_arena_free(struct graphql_arena **arena)
{
    while (*arena) {
        struct graphql_arena *next = (*arena)->next;
        free(*arena);
        *arena = next;
    }
}

/* ---- lexer ---- */

/* graphql-js's names of the tokens, by enum graphql_tok. */
static const char *const tok_names[] = {
    "<EOF>", "\"!\"", "\"$\"", "\"&\"", "\"(\"",  "\")\"",       "\"...\"",
    "\":\"", "\"=\"", "\"@\"", "\"[\"", "\"]\"",  "\"{\"",       "\"|\"",
    "\"}\"", "Name",  "Int",   "Float", "String", "BlockString",
};
/* The one-character punctuators, in enum graphql_tok order from its "!". */
static const char punctuators[] = "!$&()\x01:=@[]{|}";

void graphql_lex_fail(struct graphql_lexer *p, int line, int column, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    if (!p->doc)
        return;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(p->doc->error, sizeof(p->doc->error), "Syntax Error: %s", msg);
    p->doc->error_line = line;
    p->doc->error_column = column;
}

static int column_of(const struct graphql_lexer *p, const char *at)
{
    return (int)(at - p->line_start) + 1;
}

static bool is_name_start(int c)
{
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_name_char(int c)
{
    return is_name_start(c) || is_digit(c);
}

/* Steps over a line terminator at s (\n, \r\n or \r) and counts the line. */
static const char *newline(struct graphql_lexer *p, const char *s)
{
    s += (*s == '\r' && s + 1 < p->end && s[1] == '\n') ? 2 : 1;
    p->line++;
    p->line_start = s;
    return s;
}

static void skip_ignored(struct graphql_lexer *p)
{
    while (p->pos < p->end) {
        unsigned char c = (unsigned char)*p->pos;
        if (c == ' ' || c == '\t' || c == ',') {
            p->pos++;
        } else if (c == '\n' || c == '\r') {
            p->pos = newline(p, p->pos);
        } else if (c == 0xEF && p->end - p->pos >= 3 && (unsigned char)p->pos[1] == 0xBB &&
                   (unsigned char)p->pos[2] == 0xBF) {
            p->pos += 3; /* byte order mark */
        } else if (c == '#') {
            while (p->pos < p->end && *p->pos != '\n' && *p->pos != '\r')
                p->pos++;
        } else {
            break;
        }
    }
}

static void put_utf8(struct buf *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    buf_append(b, u, n);
}

static bool hex4(const char *s, const char *end, uint32_t *out)
{
    uint32_t v = 0;
    if (end - s < 4)
        return false;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = is_digit(c)              ? c - '0'
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                         : -1;
        if (d < 0)
            return false;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return true;
}

/* One escape sequence at s (a backslash) into b; the bytes it took, or 0 after failing. */
static size_t lex_escape(struct graphql_lexer *p, const char *s, struct buf *b)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *hit = s + 1 < p->end && s[1] ? strchr(from, s[1]) : NULL;
    uint32_t cp, lo;
    if (s + 1 >= p->end) {
        graphql_lex_fail(p, p->line, column_of(p, s), "Unterminated string.");
        return 0;
    }
    if (hit) {
        buf_append(b, &to[hit - from], 1);
        return 2;
    }
    if (s + 1 >= p->end || s[1] != 'u') {
        graphql_lex_fail(p, p->line, column_of(p, s),
                         "Invalid character escape sequence: \"\\%c\".", s[1]);
        return 0;
    }
    if (!hex4(s + 2, p->end, &cp)) {
        graphql_lex_fail(p, p->line, column_of(p, s), "Invalid Unicode escape sequence.");
        return 0;
    }
    if (cp >= 0xD800 && cp <= 0xDBFF && p->end - s >= 12 && s[6] == '\\' && s[7] == 'u' &&
        hex4(s + 8, p->end, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
        put_utf8(b, 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
        return 12;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) {
        graphql_lex_fail(p, p->line, column_of(p, s), "Invalid Unicode escape sequence.");
        return 0;
    }
    put_utf8(b, cp);
    return 6;
}

static void lex_string(struct graphql_lexer *p, struct graphql_token *t)
{
    struct buf b;
    buf_init(&b, 0);
    const char *s = p->pos + 1;
    while (s < p->end && *s != '"' && *s != '\n' && *s != '\r') {
        size_t n = 1;
        if (*s == '\\')
            n = lex_escape(p, s, &b);
        else
            buf_append(&b, s, 1);
        if (n == 0)
            goto out;
        s += n;
    }
    if (s >= p->end || *s != '"') {
        graphql_lex_fail(p, p->line, column_of(p, s), "Unterminated string.");
        goto out;
    }
    t->kind = GRAPHQL_TOK_STRING;
    t->value = graphql_arena_strndup(p->arena, b.data ? b.data : "", b.len);
    p->pos = s + 1;
out:
    buf_free(&b);
}

static bool blank(const char *s, const char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    return s == end;
}

static const char *line_end(const char *s, const char *end)
{
    while (s < end && *s != '\n' && *s != '\r')
        s++;
    return s;
}

static const char *next_line(const char *eol, const char *end)
{
    return eol + ((*eol == '\r' && eol + 1 < end && eol[1] == '\n') ? 2 : 1);
}

/* The spec's BlockStringValue(): the common indentation of all lines but the first removed,
 * leading and trailing blank lines dropped, lines joined with \n. */
static const char *block_string_value(struct graphql_lexer *p, const char *raw, size_t len)
{
    const char *end = raw + len, *first = NULL, *last = NULL;
    size_t common = SIZE_MAX;
    for (const char *line = raw;; line = next_line(line_end(line, end), end)) {
        const char *eol = line_end(line, end);
        size_t indent = 0;
        while (line + indent < eol && (line[indent] == ' ' || line[indent] == '\t'))
            indent++;
        if (line != raw && line + indent < eol && indent < common)
            common = indent;
        if (!blank(line, eol)) {
            first = first ? first : line;
            last = line;
        }
        if (eol >= end)
            break;
    }
    struct buf b;
    buf_init(&b, 0);
    for (const char *line = first; line && line <= last;) {
        const char *eol = line_end(line, end), *text = line;
        if (line != raw && common != SIZE_MAX)
            text += common < (size_t)(eol - line) ? common : (size_t)(eol - line);
        if (line != first)
            buf_append(&b, "\n", 1);
        buf_append(&b, text, (size_t)(eol - text));
        if (eol >= end)
            break;
        line = next_line(eol, end);
    }
    char *out = graphql_arena_strndup(p->arena, b.data ? b.data : "", b.len);
    buf_free(&b);
    return out;
}

static void lex_block_string(struct graphql_lexer *p, struct graphql_token *t)
{
    struct buf raw;
    buf_init(&raw, 0);
    const char *s = p->pos + 3;
    for (;;) {
        if (s >= p->end) {
            graphql_lex_fail(p, p->line, column_of(p, s), "Unterminated string.");
            goto out;
        }
        if (p->end - s >= 3 && strncmp(s, "\"\"\"", 3) == 0) {
            s += 3;
            break;
        }
        if (p->end - s >= 4 && strncmp(s, "\\\"\"\"", 4) == 0) {
            buf_append(&raw, "\"\"\"", 3);
            s += 4;
        } else if (*s == '\n' || *s == '\r') {
            const char *nl = s;
            s = newline(p, s);
            buf_append(&raw, nl, (size_t)(s - nl));
        } else {
            buf_append(&raw, s++, 1);
        }
    }
    t->kind = GRAPHQL_TOK_BLOCK_STRING;
    t->value = block_string_value(p, raw.data ? raw.data : "", raw.len);
    p->pos = s;
out:
    buf_free(&raw);
}

/* Digits at s; fails unless there is at least one. */
static const char *lex_digits(struct graphql_lexer *p, const char *s)
{
    if (s >= p->end || !is_digit((unsigned char)*s)) {
        graphql_lex_fail(p, p->line, column_of(p, s), "Invalid number, expected digit but got: %s.",
                         s < p->end ? "a non-digit" : "<EOF>");
        return s;
    }
    while (s < p->end && is_digit((unsigned char)*s))
        s++;
    return s;
}

static void lex_number(struct graphql_lexer *p, struct graphql_token *t)
{
    const char *s = p->pos + (*p->pos == '-');
    bool is_float = false;
    if (s < p->end && *s == '0') {
        if (++s < p->end && is_digit((unsigned char)*s)) {
            graphql_lex_fail(p, p->line, column_of(p, s),
                             "Invalid number, unexpected digit after 0: \"%c\".", *s);
            return;
        }
    } else {
        s = lex_digits(p, s);
    }
    if (!p->failed && s < p->end && *s == '.') {
        is_float = true;
        s = lex_digits(p, s + 1);
    }
    if (!p->failed && s < p->end && (*s == 'e' || *s == 'E')) {
        is_float = true;
        s++;
        if (s < p->end && (*s == '+' || *s == '-'))
            s++;
        s = lex_digits(p, s);
    }
    if (!p->failed && s < p->end && (*s == '.' || is_name_start((unsigned char)*s)))
        graphql_lex_fail(p, p->line, column_of(p, s),
                         "Invalid number, expected digit but got: \"%c\".", *s);
    if (p->failed)
        return;
    t->kind = is_float ? GRAPHQL_TOK_FLOAT : GRAPHQL_TOK_INT;
    t->value = graphql_arena_strndup(p->arena, p->pos, (size_t)(s - p->pos));
    p->pos = s;
}

void graphql_lex_next(struct graphql_lexer *p)
{
    struct graphql_token *t = &p->tok;
    memset(t, 0, sizeof(*t));
    if (p->failed)
        return;
    skip_ignored(p);
    t->start = p->pos;
    t->line = p->line;
    t->column = column_of(p, p->pos);
    if (++p->tokens > MAX_TOKENS) {
        graphql_lex_fail(p, t->line, t->column,
                         "Document contains more than %d tokens. Parsing aborted.", MAX_TOKENS);
        return;
    }
    if (p->pos >= p->end)
        return;
    unsigned char c = (unsigned char)*p->pos;
    const char *punct = c > 1 ? strchr(punctuators, c) : NULL;
    if (punct) {
        t->kind = (enum graphql_tok)(GRAPHQL_TOK_BANG + (punct - punctuators));
        p->pos++;
    } else if (c == '.' && p->end - p->pos >= 3 && p->pos[1] == '.' && p->pos[2] == '.') {
        t->kind = GRAPHQL_TOK_SPREAD;
        p->pos += 3;
    } else if (c == '"') {
        if (p->end - p->pos >= 3 && p->pos[1] == '"' && p->pos[2] == '"')
            lex_block_string(p, t);
        else
            lex_string(p, t);
    } else if (is_name_start(c)) {
        const char *s = p->pos;
        while (s < p->end && is_name_char((unsigned char)*s))
            s++;
        t->kind = GRAPHQL_TOK_NAME;
        t->value = graphql_arena_strndup(p->arena, p->pos, (size_t)(s - p->pos));
        p->pos = s;
    } else if (c == '-' || is_digit(c)) {
        lex_number(p, t);
    } else if (c < 0x20 && c != '\t') {
        graphql_lex_fail(p, t->line, t->column, "Invalid character: U+%04X.", (unsigned)c);
    } else if (c < 0x80) {
        graphql_lex_fail(p, t->line, t->column, "Unexpected character: \"%c\".", c);
    } else {
        graphql_lex_fail(p, t->line, t->column, "Unexpected character: U+%02X.", (unsigned)c);
    }
    if (p->failed)
        t->kind = GRAPHQL_TOK_EOF;
}

const char *graphql_tok_name(enum graphql_tok k)
{
    return tok_names[k];
}

void graphql_token_desc(const struct graphql_token *t, char *buf, size_t size)
{
    if (t->kind >= GRAPHQL_TOK_NAME)
        snprintf(buf, size, "%s \"%.40s\"", tok_names[t->kind], t->value ? t->value : "");
    else
        snprintf(buf, size, "%s", tok_names[t->kind]);
}

void graphql_lex_unexpected(struct graphql_lexer *p)
{
    char desc[64];
    graphql_token_desc(&p->tok, desc, sizeof(desc));
    graphql_lex_fail(p, p->tok.line, p->tok.column, "Unexpected %s.", desc);
}

void graphql_lex_init(struct graphql_lexer *p, struct graphql_document *doc,
                      struct graphql_arena **arena, const char *text, size_t len)
{
    memset(p, 0, sizeof(*p));
    p->doc = doc;
    p->arena = arena;
    p->pos = p->line_start = text;
    p->end = text + len;
    p->line = 1;
    if (memchr(text, '\0', len))
        graphql_lex_fail(p, 1, 1, "Invalid character: U+0000.");
    graphql_lex_next(p);
}
