/* GraphQL executable documents: lexer and recursive-descent parser into trees held in an
 * arena, with graphql-js 16's syntax-error messages. */
#include "railway/graphql_int.h"

#include "util/util.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Caps for remote input: nesting of selection sets, values and list types, and tokens
 * (graphql-js's maxTokens, with its message). */
#define MAX_DEPTH   64
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

enum tok {
    TOK_EOF,
    TOK_BANG,
    TOK_DOLLAR,
    TOK_AMP,
    TOK_PAREN_L,
    TOK_PAREN_R,
    TOK_SPREAD,
    TOK_COLON,
    TOK_EQUALS,
    TOK_AT,
    TOK_BRACKET_L,
    TOK_BRACKET_R,
    TOK_BRACE_L,
    TOK_PIPE,
    TOK_BRACE_R,
    TOK_NAME, /* from here on, tokens with a value */
    TOK_INT,
    TOK_FLOAT,
    TOK_STRING,
    TOK_BLOCK_STRING,
};

/* graphql-js's names of the tokens, by enum tok. */
static const char *const tok_names[] = {
    "<EOF>", "\"!\"", "\"$\"", "\"&\"", "\"(\"",  "\")\"",       "\"...\"",
    "\":\"", "\"=\"", "\"@\"", "\"[\"", "\"]\"",  "\"{\"",       "\"|\"",
    "\"}\"", "Name",  "Int",   "Float", "String", "BlockString",
};
/* The one-character punctuators, in enum tok order from TOK_BANG. */
static const char punctuators[] = "!$&()\x01:=@[]{|}";

struct token {
    enum tok kind;
    const char *start;
    const char *value; /* names, numbers and decoded strings, in the arena */
    int line, column;
};

struct parser {
    struct graphql_document *doc;
    struct graphql_arena **arena;
    const char *pos, *end, *line_start;
    int line;
    struct token tok;
    int depth;
    long tokens;
    bool failed;
};

static void fail_at(struct parser *p, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail_at(struct parser *p, int line, int column, const char *fmt, ...)
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

static int column_of(const struct parser *p, const char *at)
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
static const char *newline(struct parser *p, const char *s)
{
    s += (*s == '\r' && s + 1 < p->end && s[1] == '\n') ? 2 : 1;
    p->line++;
    p->line_start = s;
    return s;
}

static void skip_ignored(struct parser *p)
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
static size_t lex_escape(struct parser *p, const char *s, struct buf *b)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *hit = s + 1 < p->end && s[1] ? strchr(from, s[1]) : NULL;
    uint32_t cp, lo;
    if (s + 1 >= p->end) {
        fail_at(p, p->line, column_of(p, s), "Unterminated string.");
        return 0;
    }
    if (hit) {
        buf_append(b, &to[hit - from], 1);
        return 2;
    }
    if (s + 1 >= p->end || s[1] != 'u') {
        fail_at(p, p->line, column_of(p, s), "Invalid character escape sequence: \"\\%c\".", s[1]);
        return 0;
    }
    if (!hex4(s + 2, p->end, &cp)) {
        fail_at(p, p->line, column_of(p, s), "Invalid Unicode escape sequence.");
        return 0;
    }
    if (cp >= 0xD800 && cp <= 0xDBFF && p->end - s >= 12 && s[6] == '\\' && s[7] == 'u' &&
        hex4(s + 8, p->end, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
        put_utf8(b, 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00));
        return 12;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) {
        fail_at(p, p->line, column_of(p, s), "Invalid Unicode escape sequence.");
        return 0;
    }
    put_utf8(b, cp);
    return 6;
}

static void lex_string(struct parser *p, struct token *t)
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
        fail_at(p, p->line, column_of(p, s), "Unterminated string.");
        goto out;
    }
    t->kind = TOK_STRING;
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
static const char *block_string_value(struct parser *p, const char *raw, size_t len)
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

static void lex_block_string(struct parser *p, struct token *t)
{
    struct buf raw;
    buf_init(&raw, 0);
    const char *s = p->pos + 3;
    for (;;) {
        if (s >= p->end) {
            fail_at(p, p->line, column_of(p, s), "Unterminated string.");
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
    t->kind = TOK_BLOCK_STRING;
    t->value = block_string_value(p, raw.data ? raw.data : "", raw.len);
    p->pos = s;
out:
    buf_free(&raw);
}

/* Digits at s; fails unless there is at least one. */
static const char *lex_digits(struct parser *p, const char *s)
{
    if (s >= p->end || !is_digit((unsigned char)*s)) {
        fail_at(p, p->line, column_of(p, s), "Invalid number, expected digit but got: %s.",
                s < p->end ? "a non-digit" : "<EOF>");
        return s;
    }
    while (s < p->end && is_digit((unsigned char)*s))
        s++;
    return s;
}

static void lex_number(struct parser *p, struct token *t)
{
    const char *s = p->pos + (*p->pos == '-');
    bool is_float = false;
    if (s < p->end && *s == '0') {
        if (++s < p->end && is_digit((unsigned char)*s)) {
            fail_at(p, p->line, column_of(p, s),
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
        fail_at(p, p->line, column_of(p, s), "Invalid number, expected digit but got: \"%c\".", *s);
    if (p->failed)
        return;
    t->kind = is_float ? TOK_FLOAT : TOK_INT;
    t->value = graphql_arena_strndup(p->arena, p->pos, (size_t)(s - p->pos));
    p->pos = s;
}

/* Reads the next token into p->tok; after a lexical error p->failed is set and it is EOF. */
static void advance(struct parser *p)
{
    struct token *t = &p->tok;
    memset(t, 0, sizeof(*t));
    if (p->failed)
        return;
    skip_ignored(p);
    t->start = p->pos;
    t->line = p->line;
    t->column = column_of(p, p->pos);
    if (++p->tokens > MAX_TOKENS) {
        fail_at(p, t->line, t->column, "Document contains more than %d tokens. Parsing aborted.",
                MAX_TOKENS);
        return;
    }
    if (p->pos >= p->end)
        return;
    unsigned char c = (unsigned char)*p->pos;
    const char *punct = c > 1 ? strchr(punctuators, c) : NULL;
    if (punct) {
        t->kind = (enum tok)(TOK_BANG + (punct - punctuators));
        p->pos++;
    } else if (c == '.' && p->end - p->pos >= 3 && p->pos[1] == '.' && p->pos[2] == '.') {
        t->kind = TOK_SPREAD;
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
        t->kind = TOK_NAME;
        t->value = graphql_arena_strndup(p->arena, p->pos, (size_t)(s - p->pos));
        p->pos = s;
    } else if (c == '-' || is_digit(c)) {
        lex_number(p, t);
    } else if (c < 0x20 && c != '\t') {
        fail_at(p, t->line, t->column, "Invalid character: U+%04X.", (unsigned)c);
    } else if (c < 0x80) {
        fail_at(p, t->line, t->column, "Unexpected character: \"%c\".", c);
    } else {
        fail_at(p, t->line, t->column, "Unexpected character: U+%02X.", (unsigned)c);
    }
    if (p->failed)
        t->kind = TOK_EOF;
}

/* graphql-js's getTokenDesc(): punctuators quoted, other tokens as Kind "value". */
static void token_desc(const struct token *t, char *buf, size_t size)
{
    if (t->kind >= TOK_NAME)
        snprintf(buf, size, "%s \"%.40s\"", tok_names[t->kind], t->value ? t->value : "");
    else
        snprintf(buf, size, "%s", tok_names[t->kind]);
}

static void unexpected(struct parser *p)
{
    char desc[64];
    token_desc(&p->tok, desc, sizeof(desc));
    fail_at(p, p->tok.line, p->tok.column, "Unexpected %s.", desc);
}

/* ---- parser ---- */

static bool peek(const struct parser *p, enum tok k)
{
    return !p->failed && p->tok.kind == k;
}

static bool peek_keyword(const struct parser *p, const char *kw)
{
    return peek(p, TOK_NAME) && strcmp(p->tok.value, kw) == 0;
}

static bool expect(struct parser *p, enum tok k)
{
    if (p->failed)
        return false;
    if (p->tok.kind == k) {
        advance(p);
        return !p->failed;
    }
    char desc[64];
    token_desc(&p->tok, desc, sizeof(desc));
    fail_at(p, p->tok.line, p->tok.column, "Expected %s, found %s.", tok_names[k], desc);
    return false;
}

static bool skip(struct parser *p, enum tok k)
{
    if (!peek(p, k))
        return false;
    advance(p);
    return true;
}

static const char *parse_name(struct parser *p)
{
    if (!peek(p, TOK_NAME)) {
        expect(p, TOK_NAME);
        return NULL;
    }
    const char *name = p->tok.value;
    advance(p);
    return name;
}

static bool enter(struct parser *p)
{
    if (++p->depth <= MAX_DEPTH)
        return true;
    fail_at(p, p->tok.line, p->tok.column, "Document nesting exceeds %d levels.", MAX_DEPTH);
    return false;
}

/* A list being parsed, moved into the arena when done. */
struct vec {
    void *items;
    size_t count, cap, elem;
};

static void *vec_push(struct vec *v)
{
    if (v->count == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 4;
        v->items = xrealloc(v->items, v->cap * v->elem);
    }
    void *slot = (char *)v->items + v->count++ * v->elem;
    memset(slot, 0, v->elem);
    return slot;
}

static void *vec_finish(struct parser *p, struct vec *v, size_t *count)
{
    void *out = NULL;
    if (v->count > 0 && !p->failed) {
        out = graphql_arena_alloc(p->arena, v->count * v->elem);
        memcpy(out, v->items, v->count * v->elem);
    }
    *count = out ? v->count : 0;
    free(v->items);
    return out;
}

static struct graphql_value *parse_value(struct parser *p, bool is_const);

/* [items] or {name: value ...}, after the opening bracket's token. */
static void parse_compound(struct parser *p, bool is_const, struct graphql_value *v)
{
    bool object = p->tok.kind == TOK_BRACE_L;
    enum tok close = object ? TOK_BRACE_R : TOK_BRACKET_R;
    struct vec items = {.elem = sizeof(struct graphql_value_item)};
    v->kind = object ? GRAPHQL_OBJECT : GRAPHQL_LIST;
    advance(p);
    while (!p->failed && !peek(p, close)) {
        struct graphql_value_item *it = vec_push(&items);
        it->line = p->tok.line;
        it->column = p->tok.column;
        if (object && (!(it->name = parse_name(p)) || !expect(p, TOK_COLON)))
            break;
        it->value = parse_value(p, is_const);
    }
    expect(p, close);
    v->items = vec_finish(p, &items, &v->count);
}

static struct graphql_value *parse_value(struct parser *p, bool is_const)
{
    if (p->failed || !enter(p))
        return NULL;
    struct graphql_value *v = graphql_arena_alloc(p->arena, sizeof(*v));
    v->line = p->tok.line;
    v->column = p->tok.column;
    v->text = p->tok.value;
    switch (p->tok.kind) {
    case TOK_BRACKET_L:
    case TOK_BRACE_L:
        parse_compound(p, is_const, v);
        break;
    case TOK_INT:
    case TOK_FLOAT:
        v->kind = p->tok.kind == TOK_INT ? GRAPHQL_INT : GRAPHQL_FLOAT;
        advance(p);
        break;
    case TOK_STRING:
    case TOK_BLOCK_STRING:
        v->kind = GRAPHQL_STRING;
        advance(p);
        break;
    case TOK_NAME:
        if (strcmp(v->text, "true") == 0 || strcmp(v->text, "false") == 0) {
            v->kind = GRAPHQL_BOOLEAN;
            v->boolean = v->text[0] == 't';
        } else {
            v->kind = strcmp(v->text, "null") == 0 ? GRAPHQL_NULL : GRAPHQL_ENUM;
        }
        advance(p);
        break;
    case TOK_DOLLAR:
        if (!is_const) {
            advance(p);
            v->kind = GRAPHQL_VARIABLE;
            v->text = parse_name(p);
        } else if (p->pos < p->end && is_name_start((unsigned char)*p->pos)) {
            const char *s = p->pos;
            while (s < p->end && is_name_char((unsigned char)*s))
                s++;
            fail_at(p, p->tok.line, p->tok.column,
                    "Unexpected variable \"$%.*s\" in constant value.", (int)(s - p->pos), p->pos);
        } else {
            unexpected(p);
        }
        break;
    default:
        unexpected(p);
        break;
    }
    p->depth--;
    return v;
}

static void parse_arguments(struct parser *p, bool is_const, struct graphql_argument **out,
                            size_t *count)
{
    struct vec args = {.elem = sizeof(struct graphql_argument)};
    if (skip(p, TOK_PAREN_L)) {
        if (peek(p, TOK_PAREN_R))
            expect(p, TOK_NAME);
        while (!p->failed && !peek(p, TOK_PAREN_R)) {
            struct graphql_argument *a = vec_push(&args);
            a->line = p->tok.line;
            a->column = p->tok.column;
            if (!(a->name = parse_name(p)) || !expect(p, TOK_COLON))
                break;
            a->value = parse_value(p, is_const);
        }
        expect(p, TOK_PAREN_R);
    }
    *out = vec_finish(p, &args, count);
}

static void parse_directives(struct parser *p, bool is_const, struct graphql_directive **out,
                             size_t *count)
{
    struct vec dirs = {.elem = sizeof(struct graphql_directive)};
    while (peek(p, TOK_AT)) {
        struct graphql_directive *d = vec_push(&dirs);
        d->line = p->tok.line;
        d->column = p->tok.column;
        advance(p);
        d->name = parse_name(p);
        parse_arguments(p, is_const, &d->args, &d->arg_count);
    }
    *out = vec_finish(p, &dirs, count);
}

static struct graphql_type *parse_type(struct parser *p)
{
    if (p->failed || !enter(p))
        return NULL;
    struct graphql_type *t = graphql_arena_alloc(p->arena, sizeof(*t));
    if (skip(p, TOK_BRACKET_L)) {
        t->of = parse_type(p);
        expect(p, TOK_BRACKET_R);
    } else {
        t->name = parse_name(p);
    }
    t->non_null = skip(p, TOK_BANG);
    p->depth--;
    return t;
}

static struct graphql_selection_set *parse_selection_set(struct parser *p);

static void parse_selection(struct parser *p, struct graphql_selection *s)
{
    s->line = p->tok.line;
    s->column = p->tok.column;
    if (skip(p, TOK_SPREAD)) {
        if (peek(p, TOK_NAME) && strcmp(p->tok.value, "on") != 0) {
            s->kind = GRAPHQL_SPREAD;
            s->name = parse_name(p);
            parse_directives(p, false, &s->directives, &s->directive_count);
            return;
        }
        s->kind = GRAPHQL_INLINE_FRAGMENT;
        if (skip(p, TOK_NAME)) /* "on" */
            s->type_cond = parse_name(p);
        parse_directives(p, false, &s->directives, &s->directive_count);
        s->selections = parse_selection_set(p);
        return;
    }
    s->kind = GRAPHQL_FIELD;
    s->name = parse_name(p);
    if (skip(p, TOK_COLON)) {
        s->alias = s->name;
        s->name = parse_name(p);
    }
    parse_arguments(p, false, &s->args, &s->arg_count);
    parse_directives(p, false, &s->directives, &s->directive_count);
    if (peek(p, TOK_BRACE_L))
        s->selections = parse_selection_set(p);
}

static struct graphql_selection_set *parse_selection_set(struct parser *p)
{
    if (p->failed || !enter(p))
        return NULL;
    struct graphql_selection_set *set = graphql_arena_alloc(p->arena, sizeof(*set));
    struct vec items = {.elem = sizeof(struct graphql_selection)};
    set->line = p->tok.line;
    set->column = p->tok.column;
    if (expect(p, TOK_BRACE_L)) {
        do {
            parse_selection(p, vec_push(&items));
        } while (!p->failed && !peek(p, TOK_BRACE_R));
        expect(p, TOK_BRACE_R);
    }
    set->items = vec_finish(p, &items, &set->count);
    p->depth--;
    return set;
}

static void parse_variables(struct parser *p, struct graphql_operation *op)
{
    struct vec defs = {.elem = sizeof(struct graphql_variable)};
    if (skip(p, TOK_PAREN_L)) {
        do {
            struct graphql_variable *d = vec_push(&defs);
            d->line = p->tok.line;
            d->column = p->tok.column;
            if (!expect(p, TOK_DOLLAR) || !(d->name = parse_name(p)) || !expect(p, TOK_COLON))
                break;
            d->type = parse_type(p);
            if (skip(p, TOK_EQUALS))
                d->default_value = parse_value(p, true);
            struct graphql_directive *ignored;
            size_t n;
            parse_directives(p, true, &ignored, &n);
        } while (!p->failed && !peek(p, TOK_PAREN_R));
        expect(p, TOK_PAREN_R);
    }
    op->variables = vec_finish(p, &defs, &op->variable_count);
}

static void parse_operation(struct parser *p, struct graphql_operation *op)
{
    op->line = p->tok.line;
    op->column = p->tok.column;
    if (!peek(p, TOK_BRACE_L)) {
        op->kind = strcmp(p->tok.value, "query") == 0      ? GRAPHQL_QUERY
                   : strcmp(p->tok.value, "mutation") == 0 ? GRAPHQL_MUTATION
                                                           : GRAPHQL_SUBSCRIPTION;
        advance(p);
        if (peek(p, TOK_NAME))
            op->name = parse_name(p);
        parse_variables(p, op);
        parse_directives(p, false, &op->directives, &op->directive_count);
    }
    op->selections = parse_selection_set(p);
}

static void parse_fragment(struct parser *p, struct graphql_fragment *f)
{
    f->line = p->tok.line;
    f->column = p->tok.column;
    advance(p); /* fragment */
    if (peek_keyword(p, "on")) {
        unexpected(p);
        return;
    }
    f->name = parse_name(p);
    if (!peek_keyword(p, "on")) {
        char desc[64];
        token_desc(&p->tok, desc, sizeof(desc));
        fail_at(p, p->tok.line, p->tok.column, "Expected \"on\", found %s.", desc);
        return;
    }
    advance(p);
    f->type_cond = parse_name(p);
    parse_directives(p, false, &f->directives, &f->directive_count);
    f->selections = parse_selection_set(p);
}

static void parser_init(struct parser *p, struct graphql_document *doc,
                        struct graphql_arena **arena, const char *text, size_t len)
{
    memset(p, 0, sizeof(*p));
    p->doc = doc;
    p->arena = arena;
    p->pos = p->line_start = text;
    p->end = text + len;
    p->line = 1;
    if (memchr(text, '\0', len))
        fail_at(p, 1, 1, "Invalid character: U+0000.");
    advance(p);
}

enum rh_status graphql_document_parse(struct graphql_document *doc, const char *text, size_t len)
{
    struct parser p;
    memset(doc, 0, sizeof(*doc));
    parser_init(&p, doc, &doc->arena, text, len);
    struct vec ops = {.elem = sizeof(struct graphql_operation)};
    struct vec frags = {.elem = sizeof(struct graphql_fragment)};
    if (peek(&p, TOK_EOF))
        unexpected(&p);
    while (!p.failed && !peek(&p, TOK_EOF)) {
        if (peek(&p, TOK_BRACE_L) || peek_keyword(&p, "query") || peek_keyword(&p, "mutation") ||
            peek_keyword(&p, "subscription"))
            parse_operation(&p, vec_push(&ops));
        else if (peek_keyword(&p, "fragment"))
            parse_fragment(&p, vec_push(&frags));
        else
            unexpected(&p);
    }
    doc->operations = vec_finish(&p, &ops, &doc->operation_count);
    doc->fragments = vec_finish(&p, &frags, &doc->fragment_count);
    return p.failed ? RH_INVALID : RH_OK;
}

const struct graphql_value *graphql_value_parse(struct graphql_arena **arena, const char *text)
{
    struct parser p;
    parser_init(&p, NULL, arena, text, strlen(text));
    const struct graphql_value *v = parse_value(&p, true);
    return p.failed || !peek(&p, TOK_EOF) ? NULL : v;
}

void graphql_document_cleanup(struct graphql_document *doc)
{
    if (!doc)
        return;
    graphql_arena_free(&doc->arena);
    doc->operations = NULL;
    doc->fragments = NULL;
    doc->operation_count = doc->fragment_count = 0;
}

const struct graphql_fragment *graphql_fragment_find(const struct graphql_document *doc,
                                                     const char *name)
{
    for (size_t i = 0; i < doc->fragment_count; i++)
        if (strcmp(doc->fragments[i].name, name) == 0)
            return &doc->fragments[i];
    return NULL;
}

const struct graphql_operation *graphql_operation_pick(const struct graphql_document *doc,
                                                       const char *name, cJSON *errors)
{
    if (name && name[0]) {
        for (size_t i = 0; i < doc->operation_count; i++)
            if (doc->operations[i].name && strcmp(doc->operations[i].name, name) == 0)
                return &doc->operations[i];
        graphql_error_add(errors, 0, 0, "Unknown operation named \"%s\".", name);
    } else if (doc->operation_count == 1) {
        return &doc->operations[0];
    } else if (doc->operation_count == 0) {
        graphql_error_add(errors, 0, 0, "Must provide an operation.");
    } else {
        graphql_error_add(errors, 0, 0,
                          "Must provide operation name if query contains multiple operations.");
    }
    return NULL;
}

void graphql_type_print(const struct graphql_type *t, char *buf, size_t size)
{
    char inner[128];
    if (!t) {
        snprintf(buf, size, "?");
    } else if (t->of) {
        graphql_type_print(t->of, inner, sizeof(inner));
        snprintf(buf, size, "[%s]%s", inner, t->non_null ? "!" : "");
    } else {
        snprintf(buf, size, "%s%s", t->name ? t->name : "?", t->non_null ? "!" : "");
    }
}

const char *graphql_type_name(const struct graphql_type *t)
{
    while (t && t->of)
        t = t->of;
    return t && t->name ? t->name : "";
}
