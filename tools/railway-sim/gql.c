/* gql: lexer and recursive-descent parser for GraphQL executable documents. */
#include "gql.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Caps for remote input: nesting of selection sets, values and list types, and token count
 * (graphql-js's maxTokens, with its message). */
#define MAX_DEPTH  64
#define MAX_TOKENS 20000

struct gql_arena_block {
    struct gql_arena_block *next;
    size_t used, size;
    max_align_t data[];
};

enum token_kind {
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
    TOK_NAME,
    TOK_INT,
    TOK_FLOAT,
    TOK_STRING,
    TOK_BLOCK_STRING,
};

struct token {
    enum token_kind kind;
    const char *start;
    size_t len;
    const char *value; /* names, numbers and decoded strings, in the arena */
    int line, column;
};

struct parser {
    struct gql_document *doc;
    const char *src, *end, *pos;
    const char *line_start;
    int line;
    struct token tok;
    int depth;
    long tokens;
    bool failed;
};

/* A growable array used while a list is being parsed; copied into the arena when done. */
struct vec {
    void *items;
    size_t count, cap, elem;
};

static void *arena_alloc(struct gql_document *doc, size_t size)
{
    struct gql_arena_block *b = doc->arena;
    size_t need = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    void *p;

    if (need == 0)
        need = sizeof(max_align_t);
    if (b == NULL || b->size - b->used < need) {
        size_t bsize = need > 16384 ? need : 16384;
        b = xmalloc(sizeof(*b) + bsize);
        b->size = bsize;
        b->used = 0;
        b->next = doc->arena;
        doc->arena = b;
    }
    p = (char *)b->data + b->used;
    b->used += need;
    memset(p, 0, need);
    return p;
}

static char *arena_strndup(struct gql_document *doc, const char *s, size_t len)
{
    char *p = arena_alloc(doc, len + 1);

    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

static void vec_init(struct vec *v, size_t elem)
{
    v->items = NULL;
    v->count = 0;
    v->cap = 0;
    v->elem = elem;
}

static void *vec_push(struct vec *v)
{
    void *slot;

    if (v->count == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 4;
        v->items = xrealloc(v->items, v->cap * v->elem);
    }
    slot = (char *)v->items + v->count * v->elem;
    memset(slot, 0, v->elem);
    v->count++;
    return slot;
}

/* Moves the items into the arena and frees the temporary storage. */
static void *vec_finish(struct gql_document *doc, struct vec *v, size_t *count)
{
    void *out = NULL;

    if (v->count > 0) {
        out = arena_alloc(doc, v->count * v->elem);
        memcpy(out, v->items, v->count * v->elem);
    }
    *count = v->count;
    free(v->items);
    v->items = NULL;
    v->count = v->cap = 0;
    return out;
}

static void vec_drop(struct vec *v)
{
    free(v->items);
    v->items = NULL;
    v->count = v->cap = 0;
}

static void fail_at(struct parser *p, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail_at(struct parser *p, int line, int column, const char *fmt, ...)
{
    va_list ap;
    char msg[200];

    if (p->failed)
        return;
    p->failed = true;
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

static void newline(struct parser *p, const char *after)
{
    p->line++;
    p->line_start = after;
}

static bool is_name_start(int c)
{
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_name_char(int c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static void skip_ignored(struct parser *p)
{
    while (p->pos < p->end) {
        unsigned char c = (unsigned char)*p->pos;

        if (c == ' ' || c == '\t' || c == ',') {
            p->pos++;
        } else if (c == '\n') {
            p->pos++;
            newline(p, p->pos);
        } else if (c == '\r') {
            p->pos++;
            if (p->pos < p->end && *p->pos == '\n')
                p->pos++;
            newline(p, p->pos);
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

static void put_utf8(struct strbuf *sb, uint32_t cp)
{
    char b[4];

    if (cp < 0x80) {
        b[0] = (char)cp;
        strbuf_append(sb, b, 1);
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        strbuf_append(sb, b, 2);
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        strbuf_append(sb, b, 3);
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        strbuf_append(sb, b, 4);
    }
}

static int hex4(const char *s, const char *end, uint32_t *out)
{
    uint32_t v = 0;

    if (end - s < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        char c = s[i];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static void lex_string(struct parser *p, struct token *t)
{
    struct strbuf sb;
    const char *s = p->pos + 1;

    strbuf_init(&sb, SIZE_MAX);
    while (s < p->end && *s != '"') {
        if (*s == '\n' || *s == '\r') {
            fail_at(p, p->line, column_of(p, s), "Unterminated string.");
            goto out;
        }
        if (*s != '\\') {
            strbuf_append(&sb, s, 1);
            s++;
            continue;
        }
        if (s + 1 >= p->end) {
            fail_at(p, p->line, column_of(p, s), "Unterminated string.");
            goto out;
        }
        switch (s[1]) {
        case '"':
            strbuf_append(&sb, "\"", 1);
            break;
        case '\\':
            strbuf_append(&sb, "\\", 1);
            break;
        case '/':
            strbuf_append(&sb, "/", 1);
            break;
        case 'b':
            strbuf_append(&sb, "\b", 1);
            break;
        case 'f':
            strbuf_append(&sb, "\f", 1);
            break;
        case 'n':
            strbuf_append(&sb, "\n", 1);
            break;
        case 'r':
            strbuf_append(&sb, "\r", 1);
            break;
        case 't':
            strbuf_append(&sb, "\t", 1);
            break;
        case 'u': {
            uint32_t cp, lo;

            if (hex4(s + 2, p->end, &cp) < 0) {
                fail_at(p, p->line, column_of(p, s), "Invalid Unicode escape sequence.");
                goto out;
            }
            s += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && p->end - s >= 8 && s[2] == '\\' && s[3] == 'u' &&
                hex4(s + 4, p->end, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                s += 6;
            } else if (cp >= 0xD800 && cp <= 0xDFFF) {
                fail_at(p, p->line, column_of(p, s), "Invalid Unicode escape sequence.");
                goto out;
            }
            put_utf8(&sb, cp);
            break;
        }
        default:
            fail_at(p, p->line, column_of(p, s), "Invalid character escape sequence: \"\\%c\".",
                    s[1]);
            goto out;
        }
        s += 2;
    }
    if (s >= p->end) {
        fail_at(p, p->line, column_of(p, s), "Unterminated string.");
        goto out;
    }
    t->kind = TOK_STRING;
    t->value = arena_strndup(p->doc, sb.data ? sb.data : "", sb.len);
    p->pos = s + 1;
out:
    strbuf_cleanup(&sb);
}

static bool is_blank_line(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return false;
    return true;
}

/* The spec's BlockStringValue(): common indentation removed, blank first/last lines dropped. */
static const char *block_string_value(struct parser *p, const char *raw, size_t len)
{
    struct strbuf sb;
    size_t common = SIZE_MAX;
    const char *line = raw, *end = raw + len;
    const char *first = NULL, *last = NULL;
    const char *result;
    bool first_line = true, emitted = false;

    /* Pass 1: common indentation over all lines but the first. */
    while (line <= end) {
        const char *eol = line;
        size_t indent = 0;

        while (eol < end && *eol != '\n' && *eol != '\r')
            eol++;
        while (line + indent < eol && (line[indent] == ' ' || line[indent] == '\t'))
            indent++;
        if (!first_line && line + indent < eol && indent < common)
            common = indent;
        if (!is_blank_line(line, (size_t)(eol - line))) {
            if (first == NULL)
                first = line;
            last = line;
        }
        first_line = false;
        if (eol >= end)
            break;
        line = eol + ((*eol == '\r' && eol + 1 < end && eol[1] == '\n') ? 2 : 1);
    }
    strbuf_init(&sb, SIZE_MAX);
    if (first == NULL)
        goto done;
    /* Pass 2: emit the lines from the first to the last non-blank one. */
    line = raw;
    first_line = true;
    while (line <= end) {
        const char *eol = line;
        const char *text = line;

        while (eol < end && *eol != '\n' && *eol != '\r')
            eol++;
        if (!first_line && common != SIZE_MAX) {
            size_t n = (size_t)(eol - line);

            text = line + (common < n ? common : n);
        }
        if (line >= first && line <= last) {
            if (emitted)
                strbuf_append(&sb, "\n", 1);
            strbuf_append(&sb, text, (size_t)(eol - text));
            emitted = true;
        }
        first_line = false;
        if (eol >= end)
            break;
        line = eol + ((*eol == '\r' && eol + 1 < end && eol[1] == '\n') ? 2 : 1);
    }
done:
    result = arena_strndup(p->doc, sb.data ? sb.data : "", sb.len);
    strbuf_cleanup(&sb);
    return result;
}

static void lex_block_string(struct parser *p, struct token *t)
{
    struct strbuf raw;
    const char *s = p->pos + 3;

    strbuf_init(&raw, SIZE_MAX);
    for (;;) {
        if (s >= p->end) {
            fail_at(p, p->line, column_of(p, s), "Unterminated string.");
            goto out;
        }
        if (p->end - s >= 3 && s[0] == '"' && s[1] == '"' && s[2] == '"') {
            s += 3;
            break;
        }
        if (p->end - s >= 4 && s[0] == '\\' && s[1] == '"' && s[2] == '"' && s[3] == '"') {
            strbuf_append(&raw, "\"\"\"", 3);
            s += 4;
            continue;
        }
        if (*s == '\n' || *s == '\r') {
            const char *nl = s;

            s += (*s == '\r' && s + 1 < p->end && s[1] == '\n') ? 2 : 1;
            strbuf_append(&raw, nl, (size_t)(s - nl));
            newline(p, s);
            continue;
        }
        strbuf_append(&raw, s, 1);
        s++;
    }
    t->kind = TOK_BLOCK_STRING;
    t->value = block_string_value(p, raw.data ? raw.data : "", raw.len);
    p->pos = s;
out:
    strbuf_cleanup(&raw);
}

static void lex_number(struct parser *p, struct token *t)
{
    const char *s = p->pos;
    bool is_float = false;

    if (*s == '-')
        s++;
    if (s < p->end && *s == '0') {
        s++;
        if (s < p->end && is_digit(*s)) {
            fail_at(p, p->line, column_of(p, s),
                    "Invalid number, unexpected digit after 0: \"%c\".", *s);
            return;
        }
    } else if (s < p->end && is_digit(*s)) {
        while (s < p->end && is_digit(*s))
            s++;
    } else {
        fail_at(p, p->line, column_of(p, s), "Invalid number, expected digit but got: %s.",
                s < p->end ? "a non-digit" : "<EOF>");
        return;
    }
    if (s < p->end && *s == '.') {
        is_float = true;
        s++;
        if (s >= p->end || !is_digit(*s)) {
            fail_at(p, p->line, column_of(p, s), "Invalid number, expected digit but got: %s.",
                    s < p->end ? "a non-digit" : "<EOF>");
            return;
        }
        while (s < p->end && is_digit(*s))
            s++;
    }
    if (s < p->end && (*s == 'e' || *s == 'E')) {
        is_float = true;
        s++;
        if (s < p->end && (*s == '+' || *s == '-'))
            s++;
        if (s >= p->end || !is_digit(*s)) {
            fail_at(p, p->line, column_of(p, s), "Invalid number, expected digit but got: %s.",
                    s < p->end ? "a non-digit" : "<EOF>");
            return;
        }
        while (s < p->end && is_digit(*s))
            s++;
    }
    if (s < p->end && (*s == '.' || is_name_start((unsigned char)*s))) {
        fail_at(p, p->line, column_of(p, s), "Invalid number, expected digit but got: \"%c\".", *s);
        return;
    }
    t->kind = is_float ? TOK_FLOAT : TOK_INT;
    t->value = arena_strndup(p->doc, p->pos, (size_t)(s - p->pos));
    p->pos = s;
}

/* Reads the next token into p->tok; on a lexical error p->failed is set and tok is EOF. */
static void advance(struct parser *p)
{
    struct token *t = &p->tok;
    unsigned char c;

    memset(t, 0, sizeof(*t));
    if (p->failed)
        return;
    skip_ignored(p);
    if (++p->tokens > MAX_TOKENS) {
        fail_at(p, p->line, column_of(p, p->pos),
                "Document contains more than %d tokens. Parsing aborted.", MAX_TOKENS);
        t->kind = TOK_EOF;
        return;
    }
    t->start = p->pos;
    t->line = p->line;
    t->column = column_of(p, p->pos);
    if (p->pos >= p->end) {
        t->kind = TOK_EOF;
        return;
    }
    c = (unsigned char)*p->pos;
    switch (c) {
    case '!':
        t->kind = TOK_BANG;
        break;
    case '$':
        t->kind = TOK_DOLLAR;
        break;
    case '&':
        t->kind = TOK_AMP;
        break;
    case '(':
        t->kind = TOK_PAREN_L;
        break;
    case ')':
        t->kind = TOK_PAREN_R;
        break;
    case ':':
        t->kind = TOK_COLON;
        break;
    case '=':
        t->kind = TOK_EQUALS;
        break;
    case '@':
        t->kind = TOK_AT;
        break;
    case '[':
        t->kind = TOK_BRACKET_L;
        break;
    case ']':
        t->kind = TOK_BRACKET_R;
        break;
    case '{':
        t->kind = TOK_BRACE_L;
        break;
    case '|':
        t->kind = TOK_PIPE;
        break;
    case '}':
        t->kind = TOK_BRACE_R;
        break;
    case '.':
        if (p->end - p->pos >= 3 && p->pos[1] == '.' && p->pos[2] == '.') {
            t->kind = TOK_SPREAD;
            p->pos += 3;
            t->len = 3;
            return;
        }
        fail_at(p, t->line, t->column, "Unexpected character: \".\".");
        t->kind = TOK_EOF;
        return;
    case '"':
        if (p->end - p->pos >= 3 && p->pos[1] == '"' && p->pos[2] == '"')
            lex_block_string(p, t);
        else
            lex_string(p, t);
        if (p->failed)
            t->kind = TOK_EOF;
        t->len = (size_t)(p->pos - t->start);
        return;
    default:
        if (is_name_start(c)) {
            const char *s = p->pos;

            while (s < p->end && is_name_char((unsigned char)*s))
                s++;
            t->kind = TOK_NAME;
            t->value = arena_strndup(p->doc, p->pos, (size_t)(s - p->pos));
            t->len = (size_t)(s - p->pos);
            p->pos = s;
            return;
        }
        if (c == '-' || is_digit(c)) {
            lex_number(p, t);
            if (p->failed)
                t->kind = TOK_EOF;
            t->len = (size_t)(p->pos - t->start);
            return;
        }
        if (c < 0x20 && c != '\t')
            fail_at(p, t->line, t->column, "Invalid character: U+%04X.", (unsigned)c);
        else if (c < 0x80)
            fail_at(p, t->line, t->column, "Unexpected character: \"%c\".", c);
        else
            fail_at(p, t->line, t->column, "Unexpected character: U+%02X.", (unsigned)c);
        t->kind = TOK_EOF;
        return;
    }
    p->pos++;
    t->len = 1;
}

static const char *kind_text(enum token_kind k)
{
    switch (k) {
    case TOK_EOF:
        return "<EOF>";
    case TOK_BANG:
        return "\"!\"";
    case TOK_DOLLAR:
        return "\"$\"";
    case TOK_AMP:
        return "\"&\"";
    case TOK_PAREN_L:
        return "\"(\"";
    case TOK_PAREN_R:
        return "\")\"";
    case TOK_SPREAD:
        return "\"...\"";
    case TOK_COLON:
        return "\":\"";
    case TOK_EQUALS:
        return "\"=\"";
    case TOK_AT:
        return "\"@\"";
    case TOK_BRACKET_L:
        return "\"[\"";
    case TOK_BRACKET_R:
        return "\"]\"";
    case TOK_BRACE_L:
        return "\"{\"";
    case TOK_PIPE:
        return "\"|\"";
    case TOK_BRACE_R:
        return "\"}\"";
    case TOK_NAME:
        return "Name";
    case TOK_INT:
        return "Int";
    case TOK_FLOAT:
        return "Float";
    case TOK_STRING:
        return "String";
    case TOK_BLOCK_STRING:
        return "BlockString";
    }
    return "?";
}

/* graphql-js's getTokenDesc(): punctuators quoted, values as Kind "text". */
static void token_desc(const struct token *t, char *buf, size_t size)
{
    if (t->kind >= TOK_NAME)
        snprintf(buf, size, "%s \"%.40s\"", kind_text(t->kind), t->value ? t->value : "");
    else
        snprintf(buf, size, "%s", kind_text(t->kind));
}

static void unexpected(struct parser *p)
{
    char desc[64];

    token_desc(&p->tok, desc, sizeof(desc));
    fail_at(p, p->tok.line, p->tok.column, "Unexpected %s.", desc);
}

static bool peek(const struct parser *p, enum token_kind k)
{
    return !p->failed && p->tok.kind == k;
}

static bool peek_keyword(const struct parser *p, const char *kw)
{
    return peek(p, TOK_NAME) && strcmp(p->tok.value, kw) == 0;
}

static bool expect(struct parser *p, enum token_kind k)
{
    char desc[64];

    if (p->failed)
        return false;
    if (p->tok.kind == k) {
        advance(p);
        return !p->failed;
    }
    token_desc(&p->tok, desc, sizeof(desc));
    fail_at(p, p->tok.line, p->tok.column, "Expected %s, found %s.", kind_text(k), desc);
    return false;
}

static bool skip(struct parser *p, enum token_kind k)
{
    if (peek(p, k)) {
        advance(p);
        return true;
    }
    return false;
}

static const char *parse_name(struct parser *p)
{
    const char *name;

    if (!peek(p, TOK_NAME)) {
        expect(p, TOK_NAME);
        return NULL;
    }
    name = p->tok.value;
    advance(p);
    return name;
}

static bool enter(struct parser *p)
{
    if (++p->depth > MAX_DEPTH) {
        fail_at(p, p->tok.line, p->tok.column, "Document nesting exceeds %d levels.", MAX_DEPTH);
        return false;
    }
    return true;
}

static void leave(struct parser *p)
{
    p->depth--;
}

static struct gql_value *parse_value(struct parser *p, bool is_const);

static struct gql_value *parse_list_value(struct parser *p, bool is_const, struct gql_value *v)
{
    struct vec items;

    vec_init(&items, sizeof(struct gql_value_item));
    v->kind = GQL_VALUE_LIST;
    advance(p); /* [ */
    while (!p->failed && !peek(p, TOK_BRACKET_R)) {
        struct gql_value_item *it = vec_push(&items);

        it->line = p->tok.line;
        it->column = p->tok.column;
        it->value = parse_value(p, is_const);
    }
    expect(p, TOK_BRACKET_R);
    v->items = vec_finish(p->doc, &items, &v->count);
    return v;
}

static struct gql_value *parse_object_value(struct parser *p, bool is_const, struct gql_value *v)
{
    struct vec items;

    vec_init(&items, sizeof(struct gql_value_item));
    v->kind = GQL_VALUE_OBJECT;
    advance(p); /* { */
    while (!p->failed && !peek(p, TOK_BRACE_R)) {
        struct gql_value_item *it = vec_push(&items);

        it->line = p->tok.line;
        it->column = p->tok.column;
        it->name = parse_name(p);
        if (!expect(p, TOK_COLON))
            break;
        it->value = parse_value(p, is_const);
    }
    expect(p, TOK_BRACE_R);
    v->items = vec_finish(p->doc, &items, &v->count);
    return v;
}

static struct gql_value *parse_value(struct parser *p, bool is_const)
{
    struct gql_value *v;

    if (p->failed || !enter(p))
        return NULL;
    v = arena_alloc(p->doc, sizeof(*v));
    v->line = p->tok.line;
    v->column = p->tok.column;
    switch (p->tok.kind) {
    case TOK_BRACKET_L:
        parse_list_value(p, is_const, v);
        break;
    case TOK_BRACE_L:
        parse_object_value(p, is_const, v);
        break;
    case TOK_INT:
    case TOK_FLOAT:
        v->kind = p->tok.kind == TOK_INT ? GQL_VALUE_INT : GQL_VALUE_FLOAT;
        v->text = p->tok.value;
        advance(p);
        break;
    case TOK_STRING:
    case TOK_BLOCK_STRING:
        v->kind = GQL_VALUE_STRING;
        v->text = p->tok.value;
        advance(p);
        break;
    case TOK_NAME:
        if (strcmp(p->tok.value, "true") == 0 || strcmp(p->tok.value, "false") == 0) {
            v->kind = GQL_VALUE_BOOLEAN;
            v->boolean = p->tok.value[0] == 't';
        } else if (strcmp(p->tok.value, "null") == 0) {
            v->kind = GQL_VALUE_NULL;
        } else {
            v->kind = GQL_VALUE_ENUM;
            v->text = p->tok.value;
        }
        advance(p);
        break;
    case TOK_DOLLAR:
        if (!is_const) {
            advance(p);
            v->kind = GQL_VALUE_VARIABLE;
            v->text = parse_name(p);
            break;
        }
        if (p->pos < p->end && is_name_start((unsigned char)*p->pos)) {
            const char *s = p->pos;

            while (s < p->end && is_name_char((unsigned char)*s))
                s++;
            fail_at(p, p->tok.line, p->tok.column,
                    "Unexpected variable \"$%.*s\" in constant value.", (int)(s - p->pos), p->pos);
            break;
        }
        unexpected(p);
        break;
    default:
        unexpected(p);
        break;
    }
    leave(p);
    return v;
}

static void parse_arguments(struct parser *p, bool is_const, struct gql_argument **out,
                            size_t *count)
{
    struct vec args;

    vec_init(&args, sizeof(struct gql_argument));
    if (peek(p, TOK_PAREN_L)) {
        advance(p);
        if (peek(p, TOK_PAREN_R)) {
            expect(p, TOK_NAME);
        }
        while (!p->failed && !peek(p, TOK_PAREN_R)) {
            struct gql_argument *a = vec_push(&args);

            a->line = p->tok.line;
            a->column = p->tok.column;
            a->name = parse_name(p);
            if (!expect(p, TOK_COLON))
                break;
            a->value = parse_value(p, is_const);
        }
        expect(p, TOK_PAREN_R);
    }
    *out = vec_finish(p->doc, &args, count);
}

static void parse_directives(struct parser *p, bool is_const, struct gql_directive **out,
                             size_t *count)
{
    struct vec dirs;

    vec_init(&dirs, sizeof(struct gql_directive));
    while (peek(p, TOK_AT)) {
        struct gql_directive *d = vec_push(&dirs);

        d->line = p->tok.line;
        d->column = p->tok.column;
        advance(p);
        d->name = parse_name(p);
        parse_arguments(p, is_const, &d->args, &d->arg_count);
    }
    *out = vec_finish(p->doc, &dirs, count);
}

static struct gql_type *parse_type(struct parser *p)
{
    struct gql_type *t;

    if (p->failed || !enter(p))
        return NULL;
    t = arena_alloc(p->doc, sizeof(*t));
    if (peek(p, TOK_BRACKET_L)) {
        advance(p);
        t->of = parse_type(p);
        expect(p, TOK_BRACKET_R);
    } else {
        t->name = parse_name(p);
    }
    if (skip(p, TOK_BANG))
        t->non_null = true;
    leave(p);
    return t;
}

static struct gql_selection_set *parse_selection_set(struct parser *p);

static void parse_selection(struct parser *p, struct gql_selection *s)
{
    s->line = p->tok.line;
    s->column = p->tok.column;
    if (skip(p, TOK_SPREAD)) {
        if (peek(p, TOK_NAME) && strcmp(p->tok.value, "on") != 0) {
            s->kind = GQL_SELECTION_SPREAD;
            s->name = parse_name(p);
            parse_directives(p, false, &s->directives, &s->directive_count);
            return;
        }
        s->kind = GQL_SELECTION_INLINE;
        if (peek_keyword(p, "on")) {
            advance(p);
            s->type_cond = parse_name(p);
        }
        parse_directives(p, false, &s->directives, &s->directive_count);
        s->selections = parse_selection_set(p);
        return;
    }
    s->kind = GQL_SELECTION_FIELD;
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

static struct gql_selection_set *parse_selection_set(struct parser *p)
{
    struct gql_selection_set *set;
    struct vec items;

    if (p->failed || !enter(p))
        return NULL;
    set = arena_alloc(p->doc, sizeof(*set));
    set->line = p->tok.line;
    set->column = p->tok.column;
    vec_init(&items, sizeof(struct gql_selection));
    if (expect(p, TOK_BRACE_L)) {
        do {
            parse_selection(p, vec_push(&items));
        } while (!p->failed && !peek(p, TOK_BRACE_R));
        expect(p, TOK_BRACE_R);
    }
    set->items = vec_finish(p->doc, &items, &set->count);
    leave(p);
    return set;
}

static void parse_variable_definitions(struct parser *p, struct gql_operation *op)
{
    struct vec defs;

    vec_init(&defs, sizeof(struct gql_variable_definition));
    if (peek(p, TOK_PAREN_L)) {
        advance(p);
        do {
            struct gql_variable_definition *d = vec_push(&defs);

            d->line = p->tok.line;
            d->column = p->tok.column;
            if (!expect(p, TOK_DOLLAR))
                break;
            d->name = parse_name(p);
            if (!expect(p, TOK_COLON))
                break;
            d->type = parse_type(p);
            if (skip(p, TOK_EQUALS))
                d->default_value = parse_value(p, true);
            if (peek(p, TOK_AT)) {
                struct gql_directive *ignored;
                size_t n;

                parse_directives(p, true, &ignored, &n);
            }
        } while (!p->failed && !peek(p, TOK_PAREN_R));
        expect(p, TOK_PAREN_R);
    }
    op->variables = vec_finish(p->doc, &defs, &op->variable_count);
}

static void parse_operation(struct parser *p, struct gql_operation *op)
{
    op->line = p->tok.line;
    op->column = p->tok.column;
    if (peek(p, TOK_BRACE_L)) {
        op->type = GQL_OPERATION_QUERY;
        op->selections = parse_selection_set(p);
        return;
    }
    if (strcmp(p->tok.value, "query") == 0)
        op->type = GQL_OPERATION_QUERY;
    else if (strcmp(p->tok.value, "mutation") == 0)
        op->type = GQL_OPERATION_MUTATION;
    else
        op->type = GQL_OPERATION_SUBSCRIPTION;
    advance(p);
    if (peek(p, TOK_NAME))
        op->name = parse_name(p);
    parse_variable_definitions(p, op);
    parse_directives(p, false, &op->directives, &op->directive_count);
    op->selections = parse_selection_set(p);
}

static void parse_fragment(struct parser *p, struct gql_fragment *f)
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

int gql_document_parse(struct gql_document *doc, const char *src, size_t len)
{
    struct parser p;
    struct vec ops, frags;

    memset(doc, 0, sizeof(*doc));
    memset(&p, 0, sizeof(p));
    p.doc = doc;
    p.src = p.pos = p.line_start = src;
    p.end = src + len;
    p.line = 1;
    vec_init(&ops, sizeof(struct gql_operation));
    vec_init(&frags, sizeof(struct gql_fragment));
    if (memchr(src, '\0', len) != NULL) {
        fail_at(&p, 1, 1, "Invalid character: U+0000.");
        goto out;
    }
    advance(&p);
    if (peek(&p, TOK_EOF)) {
        fail_at(&p, p.tok.line, p.tok.column, "Unexpected <EOF>.");
        goto out;
    }
    while (!p.failed && !peek(&p, TOK_EOF)) {
        if (peek(&p, TOK_BRACE_L) || peek_keyword(&p, "query") || peek_keyword(&p, "mutation") ||
            peek_keyword(&p, "subscription")) {
            parse_operation(&p, vec_push(&ops));
        } else if (peek_keyword(&p, "fragment")) {
            parse_fragment(&p, vec_push(&frags));
        } else {
            unexpected(&p);
        }
    }
out:
    if (p.failed) {
        vec_drop(&ops);
        vec_drop(&frags);
        return -1;
    }
    doc->operations = vec_finish(doc, &ops, &doc->operation_count);
    doc->fragments = vec_finish(doc, &frags, &doc->fragment_count);
    return 0;
}

void gql_document_cleanup(struct gql_document *doc)
{
    struct gql_arena_block *b, *next;

    if (doc == NULL)
        return;
    for (b = doc->arena; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    doc->arena = NULL;
    doc->operations = NULL;
    doc->operation_count = 0;
    doc->fragments = NULL;
    doc->fragment_count = 0;
}

void gql_type_print(const struct gql_type *type, char *buf, size_t size)
{
    char inner[128];

    if (size == 0)
        return;
    if (type == NULL) {
        snprintf(buf, size, "?");
        return;
    }
    if (type->of != NULL) {
        gql_type_print(type->of, inner, sizeof(inner));
        snprintf(buf, size, "[%s]%s", inner, type->non_null ? "!" : "");
    } else {
        snprintf(buf, size, "%s%s", type->name ? type->name : "?", type->non_null ? "!" : "");
    }
}

const struct gql_fragment *gql_document_fragment_find(const struct gql_document *doc,
                                                      const char *name)
{
    for (size_t i = 0; i < doc->fragment_count; i++)
        if (doc->fragments[i].name != NULL && strcmp(doc->fragments[i].name, name) == 0)
            return &doc->fragments[i];
    return NULL;
}
