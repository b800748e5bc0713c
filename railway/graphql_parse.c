/* GraphQL executable documents: a recursive-descent parser into trees held in an arena, over
 * the lexer of graphql_lex.c, with graphql-js 16's syntax-error messages; and the lists of
 * GraphQL errors every part of the module reports into. */
#include "railway/graphql_int.h"

#include "util/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A cap for remote input: nesting of selection sets, values and list types. */
#define MAX_DEPTH 64
/* graphql-js stops validating after as many errors. */
#define MAX_ERRORS 100

struct parser {
    struct graphql_lexer lx;
    int depth;
};

static bool peek(const struct parser *p, enum graphql_tok k)
{
    return !p->lx.failed && p->lx.tok.kind == k;
}

static bool peek_keyword(const struct parser *p, const char *kw)
{
    return peek(p, GRAPHQL_TOK_NAME) && strcmp(p->lx.tok.value, kw) == 0;
}

static bool expect(struct parser *p, enum graphql_tok k)
{
    if (p->lx.failed)
        return false;
    if (p->lx.tok.kind == k) {
        graphql_lex_next(&p->lx);
        return !p->lx.failed;
    }
    char desc[64];
    graphql_token_desc(&p->lx.tok, desc, sizeof(desc));
    graphql_lex_fail(&p->lx, p->lx.tok.line, p->lx.tok.column, "Expected %s, found %s.",
                     graphql_tok_name(k), desc);
    return false;
}

static bool skip(struct parser *p, enum graphql_tok k)
{
    if (!peek(p, k))
        return false;
    graphql_lex_next(&p->lx);
    return true;
}

static const char *parse_name(struct parser *p)
{
    if (!peek(p, GRAPHQL_TOK_NAME)) {
        expect(p, GRAPHQL_TOK_NAME);
        return NULL;
    }
    const char *name = p->lx.tok.value;
    graphql_lex_next(&p->lx);
    return name;
}

static bool enter(struct parser *p)
{
    if (++p->depth <= MAX_DEPTH)
        return true;
    graphql_lex_fail(&p->lx, p->lx.tok.line, p->lx.tok.column,
                     "Document nesting exceeds %d levels.", MAX_DEPTH);
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
    if (v->count > 0 && !p->lx.failed) {
        out = graphql_arena_alloc(p->lx.arena, v->count * v->elem);
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
    bool object = p->lx.tok.kind == GRAPHQL_TOK_BRACE_L;
    enum graphql_tok close = object ? GRAPHQL_TOK_BRACE_R : GRAPHQL_TOK_BRACKET_R;
    struct vec items = {.elem = sizeof(struct graphql_value_item)};
    v->kind = object ? GRAPHQL_OBJECT : GRAPHQL_LIST;
    graphql_lex_next(&p->lx);
    while (!p->lx.failed && !peek(p, close)) {
        struct graphql_value_item *it = vec_push(&items);
        it->line = p->lx.tok.line;
        it->column = p->lx.tok.column;
        if (object && (!(it->name = parse_name(p)) || !expect(p, GRAPHQL_TOK_COLON)))
            break;
        it->value = parse_value(p, is_const);
    }
    expect(p, close);
    v->items = vec_finish(p, &items, &v->count);
}

static struct graphql_value *parse_value(struct parser *p, bool is_const)
{
    if (p->lx.failed || !enter(p))
        return NULL;
    struct graphql_value *v = graphql_arena_alloc(p->lx.arena, sizeof(*v));
    v->line = p->lx.tok.line;
    v->column = p->lx.tok.column;
    v->text = p->lx.tok.value;
    switch (p->lx.tok.kind) {
    case GRAPHQL_TOK_BRACKET_L:
    case GRAPHQL_TOK_BRACE_L:
        parse_compound(p, is_const, v);
        break;
    case GRAPHQL_TOK_INT:
    case GRAPHQL_TOK_FLOAT:
        v->kind = p->lx.tok.kind == GRAPHQL_TOK_INT ? GRAPHQL_INT : GRAPHQL_FLOAT;
        graphql_lex_next(&p->lx);
        break;
    case GRAPHQL_TOK_STRING:
    case GRAPHQL_TOK_BLOCK_STRING:
        v->kind = GRAPHQL_STRING;
        graphql_lex_next(&p->lx);
        break;
    case GRAPHQL_TOK_NAME:
        if (strcmp(v->text, "true") == 0 || strcmp(v->text, "false") == 0) {
            v->kind = GRAPHQL_BOOLEAN;
            v->boolean = v->text[0] == 't';
        } else {
            v->kind = strcmp(v->text, "null") == 0 ? GRAPHQL_NULL : GRAPHQL_ENUM;
        }
        graphql_lex_next(&p->lx);
        break;
    case GRAPHQL_TOK_DOLLAR:
        if (!is_const) {
            graphql_lex_next(&p->lx);
            v->kind = GRAPHQL_VARIABLE;
            v->text = parse_name(p);
        } else {
            /* graphql-js names the variable, at its "$". */
            struct graphql_token dollar = p->lx.tok;
            graphql_lex_next(&p->lx);
            if (peek(p, GRAPHQL_TOK_NAME))
                graphql_lex_fail(&p->lx, dollar.line, dollar.column,
                                 "Unexpected variable \"$%s\" in constant value.", p->lx.tok.value);
            p->lx.tok = dollar;
            graphql_lex_unexpected(&p->lx);
        }
        break;
    default:
        graphql_lex_unexpected(&p->lx);
        break;
    }
    p->depth--;
    return v;
}

static void parse_arguments(struct parser *p, bool is_const, struct graphql_argument **out,
                            size_t *count)
{
    struct vec args = {.elem = sizeof(struct graphql_argument)};
    if (skip(p, GRAPHQL_TOK_PAREN_L)) {
        if (peek(p, GRAPHQL_TOK_PAREN_R))
            expect(p, GRAPHQL_TOK_NAME);
        while (!p->lx.failed && !peek(p, GRAPHQL_TOK_PAREN_R)) {
            struct graphql_argument *a = vec_push(&args);
            a->line = p->lx.tok.line;
            a->column = p->lx.tok.column;
            if (!(a->name = parse_name(p)) || !expect(p, GRAPHQL_TOK_COLON))
                break;
            a->value = parse_value(p, is_const);
        }
        expect(p, GRAPHQL_TOK_PAREN_R);
    }
    *out = vec_finish(p, &args, count);
}

static void parse_directives(struct parser *p, bool is_const, struct graphql_directive **out,
                             size_t *count)
{
    struct vec dirs = {.elem = sizeof(struct graphql_directive)};
    while (peek(p, GRAPHQL_TOK_AT)) {
        struct graphql_directive *d = vec_push(&dirs);
        d->line = p->lx.tok.line;
        d->column = p->lx.tok.column;
        graphql_lex_next(&p->lx);
        d->name = parse_name(p);
        parse_arguments(p, is_const, &d->args, &d->arg_count);
    }
    *out = vec_finish(p, &dirs, count);
}

static struct graphql_type *parse_type(struct parser *p)
{
    if (p->lx.failed || !enter(p))
        return NULL;
    struct graphql_type *t = graphql_arena_alloc(p->lx.arena, sizeof(*t));
    if (skip(p, GRAPHQL_TOK_BRACKET_L)) {
        t->of = parse_type(p);
        expect(p, GRAPHQL_TOK_BRACKET_R);
    } else {
        t->name = parse_name(p);
    }
    t->non_null = skip(p, GRAPHQL_TOK_BANG);
    p->depth--;
    return t;
}

static struct graphql_selection_set *parse_selection_set(struct parser *p);

static void parse_selection(struct parser *p, struct graphql_selection *s)
{
    s->line = p->lx.tok.line;
    s->column = p->lx.tok.column;
    if (skip(p, GRAPHQL_TOK_SPREAD)) {
        if (peek(p, GRAPHQL_TOK_NAME) && strcmp(p->lx.tok.value, "on") != 0) {
            s->kind = GRAPHQL_SPREAD;
            s->name = parse_name(p);
            parse_directives(p, false, &s->directives, &s->directive_count);
            return;
        }
        s->kind = GRAPHQL_INLINE_FRAGMENT;
        if (skip(p, GRAPHQL_TOK_NAME)) /* "on" */
            s->type_cond = parse_name(p);
        parse_directives(p, false, &s->directives, &s->directive_count);
        s->selections = parse_selection_set(p);
        return;
    }
    s->kind = GRAPHQL_FIELD;
    s->name = parse_name(p);
    if (skip(p, GRAPHQL_TOK_COLON)) {
        s->alias = s->name;
        s->name = parse_name(p);
    }
    parse_arguments(p, false, &s->args, &s->arg_count);
    parse_directives(p, false, &s->directives, &s->directive_count);
    if (peek(p, GRAPHQL_TOK_BRACE_L))
        s->selections = parse_selection_set(p);
}

static struct graphql_selection_set *parse_selection_set(struct parser *p)
{
    if (p->lx.failed || !enter(p))
        return NULL;
    struct graphql_selection_set *set = graphql_arena_alloc(p->lx.arena, sizeof(*set));
    struct vec items = {.elem = sizeof(struct graphql_selection)};
    set->line = p->lx.tok.line;
    set->column = p->lx.tok.column;
    if (expect(p, GRAPHQL_TOK_BRACE_L)) {
        do {
            parse_selection(p, vec_push(&items));
        } while (!p->lx.failed && !peek(p, GRAPHQL_TOK_BRACE_R));
        expect(p, GRAPHQL_TOK_BRACE_R);
    }
    set->items = vec_finish(p, &items, &set->count);
    p->depth--;
    return set;
}

static void parse_variables(struct parser *p, struct graphql_operation *op)
{
    struct vec defs = {.elem = sizeof(struct graphql_variable)};
    if (skip(p, GRAPHQL_TOK_PAREN_L)) {
        do {
            struct graphql_variable *d = vec_push(&defs);
            d->line = p->lx.tok.line;
            d->column = p->lx.tok.column;
            if (!expect(p, GRAPHQL_TOK_DOLLAR) || !(d->name = parse_name(p)) ||
                !expect(p, GRAPHQL_TOK_COLON))
                break;
            d->type = parse_type(p);
            if (skip(p, GRAPHQL_TOK_EQUALS))
                d->default_value = parse_value(p, true);
            struct graphql_directive *ignored;
            size_t n;
            parse_directives(p, true, &ignored, &n);
        } while (!p->lx.failed && !peek(p, GRAPHQL_TOK_PAREN_R));
        expect(p, GRAPHQL_TOK_PAREN_R);
    }
    op->variables = vec_finish(p, &defs, &op->variable_count);
}

static void parse_operation(struct parser *p, struct graphql_operation *op)
{
    op->line = p->lx.tok.line;
    op->column = p->lx.tok.column;
    if (!peek(p, GRAPHQL_TOK_BRACE_L)) {
        op->kind = strcmp(p->lx.tok.value, "query") == 0      ? GRAPHQL_QUERY
                   : strcmp(p->lx.tok.value, "mutation") == 0 ? GRAPHQL_MUTATION
                                                              : GRAPHQL_SUBSCRIPTION;
        graphql_lex_next(&p->lx);
        if (peek(p, GRAPHQL_TOK_NAME))
            op->name = parse_name(p);
        parse_variables(p, op);
        parse_directives(p, false, &op->directives, &op->directive_count);
    }
    op->selections = parse_selection_set(p);
}

static void parse_fragment(struct parser *p, struct graphql_fragment *f)
{
    f->line = p->lx.tok.line;
    f->column = p->lx.tok.column;
    graphql_lex_next(&p->lx); /* fragment */
    if (peek_keyword(p, "on")) {
        graphql_lex_unexpected(&p->lx);
        return;
    }
    f->name = parse_name(p);
    if (!peek_keyword(p, "on")) {
        char desc[64];
        graphql_token_desc(&p->lx.tok, desc, sizeof(desc));
        graphql_lex_fail(&p->lx, p->lx.tok.line, p->lx.tok.column, "Expected \"on\", found %s.",
                         desc);
        return;
    }
    graphql_lex_next(&p->lx);
    f->type_cond = parse_name(p);
    parse_directives(p, false, &f->directives, &f->directive_count);
    f->selections = parse_selection_set(p);
}

enum rh_status graphql_document_parse(struct graphql_document *doc, const char *text, size_t len)
{
    struct parser p = {.depth = 0};
    memset(doc, 0, sizeof(*doc));
    graphql_lex_init(&p.lx, doc, &doc->arena, text, len);
    struct vec ops = {.elem = sizeof(struct graphql_operation)};
    struct vec frags = {.elem = sizeof(struct graphql_fragment)};
    if (peek(&p, GRAPHQL_TOK_EOF))
        graphql_lex_unexpected(&p.lx);
    while (!p.lx.failed && !peek(&p, GRAPHQL_TOK_EOF)) {
        if (peek(&p, GRAPHQL_TOK_BRACE_L) || peek_keyword(&p, "query") ||
            peek_keyword(&p, "mutation") || peek_keyword(&p, "subscription"))
            parse_operation(&p, vec_push(&ops));
        else if (peek_keyword(&p, "fragment"))
            parse_fragment(&p, vec_push(&frags));
        else
            graphql_lex_unexpected(&p.lx);
    }
    doc->operations = vec_finish(&p, &ops, &doc->operation_count);
    doc->fragments = vec_finish(&p, &frags, &doc->fragment_count);
    return p.lx.failed ? RH_INVALID : RH_OK;
}

const struct graphql_value *graphql_value_parse(struct graphql_arena **arena, const char *text)
{
    struct parser p = {.depth = 0};
    graphql_lex_init(&p.lx, NULL, arena, text, strlen(text));
    const struct graphql_value *v = parse_value(&p, true);
    return p.lx.failed || !peek(&p, GRAPHQL_TOK_EOF) ? NULL : v;
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
        /* A type deeper than the buffer is cut short: only messages print types. */
        if (snprintf(buf, size, "[%s]%s", inner, t->non_null ? "!" : "") >= (int)size)
            return;
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

/* ---- error lists ---- */

static bool error_exists(const cJSON *errors, const char *msg, int line, int column)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, errors)
    {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
        const cJSON *loc = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(e, "locations"), 0);
        int l = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(loc, "line"));
        int c = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(loc, "column"));
        if (cJSON_IsString(m) && strcmp(m->valuestring, msg) == 0 &&
            (!loc || (l == line && c == column)))
            return true;
    }
    return false;
}

void graphql_error_add(cJSON *errors, int line, int column, const char *fmt, ...)
{
    char msg[1024];
    int n = cJSON_GetArraySize(errors);
    if (n > MAX_ERRORS)
        return;
    if (n == MAX_ERRORS) {
        /* graphql-js stops at 100 errors the same way. */
        snprintf(msg, sizeof(msg),
                 "Too many validation errors, error limit reached. Validation aborted.");
        line = 0;
    } else {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (error_exists(errors, msg, line, column))
            return; /* a fragment spread by several operations reports once */
    }
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "message", msg);
    if (line > 0) {
        cJSON *loc = cJSON_CreateObject();
        cJSON_AddNumberToObject(loc, "line", line);
        cJSON_AddNumberToObject(loc, "column", column);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(e, "locations"), loc);
    }
    cJSON_AddItemToArray(errors, e);
}
