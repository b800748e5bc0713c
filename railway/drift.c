/* Schema drift between the embedded documents and an introspection answer: a small parser for
 * executable GraphQL documents (ours use operations, fragments, variables, arguments, aliases
 * and directives) into cJSON trees, and a walk of those trees over the live types. */
#include "railway/drift.h"

#include "railway/railway.h"
#include "util/util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TYPE_TEXT_MAX 160
#define MAX_DEPTH     48
#define ANNOTATION    "input-fields:"

/* ---- lexer ---- */

enum tok { TOK_END, TOK_NAME, TOK_PUNCT, TOK_SPREAD, TOK_STRING, TOK_NUMBER, TOK_ERROR };

struct lexer {
    const char *p;
    int line;
    enum tok kind;
    const char *start; /* the token's text, len bytes */
    size_t len;
    int tok_line;
    cJSON *annotations; /* texts after "# input-fields:", or NULL: not collected */
};

/* Skips a comment, keeping the text of an "input-fields:" annotation. */
static void lex_comment(struct lexer *lx)
{
    const char *s = lx->p + 1;
    size_t n = strcspn(s, "\n");
    const char *t = s;
    while (t < s + n && (*t == ' ' || *t == '\t'))
        t++;
    size_t alen = strlen(ANNOTATION);
    if (lx->annotations && (size_t)(s + n - t) >= alen && strncmp(t, ANNOTATION, alen) == 0) {
        char *text = xstrndup(t + alen, (size_t)(s + n - t - (ptrdiff_t)alen));
        cJSON *item = cJSON_CreateObject();
        cJSON_AddStringToObject(item, "text", text);
        cJSON_AddNumberToObject(item, "line", lx->line);
        cJSON_AddItemToArray(lx->annotations, item);
        free(text);
    }
    lx->p = s + n;
}

static void lex_string(struct lexer *lx)
{
    const char *q = lx->p;
    if (strncmp(q, "\"\"\"", 3) == 0) {
        const char *end = strstr(q + 3, "\"\"\"");
        if (!end) {
            lx->kind = TOK_ERROR;
            return;
        }
        for (const char *c = q; c < end; c++)
            lx->line += *c == '\n';
        lx->p = end + 3;
    } else {
        q++;
        while (*q && *q != '"' && *q != '\n')
            q += (*q == '\\' && q[1]) ? 2 : 1;
        if (*q != '"') {
            lx->kind = TOK_ERROR;
            return;
        }
        lx->p = q + 1;
    }
    lx->kind = TOK_STRING;
}

static void lex_next(struct lexer *lx)
{
    for (;;) {
        char c = *lx->p;
        if (c == '\n') {
            lx->line++;
            lx->p++;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == ',') {
            lx->p++;
        } else if (c == '#') {
            lex_comment(lx);
        } else {
            break;
        }
    }
    lx->start = lx->p;
    lx->tok_line = lx->line;
    unsigned char c = (unsigned char)*lx->p;
    if (c == '\0') {
        lx->kind = TOK_END;
    } else if (isalpha(c) || c == '_') {
        while (isalnum((unsigned char)*lx->p) || *lx->p == '_')
            lx->p++;
        lx->kind = TOK_NAME;
    } else if (isdigit(c) || c == '-') {
        lx->p++;
        while (isalnum((unsigned char)*lx->p) || *lx->p == '.' || *lx->p == '+' || *lx->p == '-')
            lx->p++;
        lx->kind = TOK_NUMBER;
    } else if (c == '"') {
        lex_string(lx);
    } else if (strncmp(lx->p, "...", 3) == 0) {
        lx->p += 3;
        lx->kind = TOK_SPREAD;
    } else if (strchr("!$():=@[]{}|&", c)) {
        lx->p++;
        lx->kind = TOK_PUNCT;
    } else {
        lx->kind = TOK_ERROR;
    }
    lx->len = (size_t)(lx->p - lx->start);
}

/* ---- parser: documents into cJSON trees ---- */

struct parser {
    struct lexer lx;
    const char *file;
    char *err;
    size_t errlen;
    bool failed;
};

static void parse_fail(struct parser *p, const char *what)
{
    if (!p->failed)
        snprintf(p->err, p->errlen, "%s:%d: %s", p->file, p->lx.tok_line, what);
    p->failed = true;
}

static bool at_punct(const struct parser *p, char ch)
{
    return p->lx.kind == TOK_PUNCT && p->lx.start[0] == ch;
}

static bool at_name(const struct parser *p, const char *kw)
{
    return p->lx.kind == TOK_NAME && p->lx.len == strlen(kw) &&
           strncmp(p->lx.start, kw, p->lx.len) == 0;
}

static bool expect_punct(struct parser *p, char ch)
{
    if (!at_punct(p, ch)) {
        char msg[32];
        snprintf(msg, sizeof(msg), "expected '%c'", ch);
        parse_fail(p, msg);
        return false;
    }
    lex_next(&p->lx);
    return true;
}

/* The current name token as a new string (free()), or NULL after failing. */
static char *take_name(struct parser *p)
{
    if (p->lx.kind != TOK_NAME) {
        parse_fail(p, "expected a name");
        return NULL;
    }
    char *s = xstrndup(p->lx.start, p->lx.len);
    lex_next(&p->lx);
    return s;
}

static cJSON *parse_value(struct parser *p, int depth);

/* {"name": value, ...} between the given brackets. */
static cJSON *parse_value_object(struct parser *p, int depth)
{
    cJSON *obj = cJSON_CreateObject();
    lex_next(&p->lx);
    while (!p->failed && !at_punct(p, '}')) {
        char *name = take_name(p);
        if (!name || !expect_punct(p, ':')) {
            free(name);
            break;
        }
        cJSON *v = parse_value(p, depth + 1);
        if (v)
            cJSON_AddItemToObject(obj, name, v);
        free(name);
    }
    if (!p->failed)
        lex_next(&p->lx);
    return obj;
}

/* A value: {"var": name}, {"object": {...}}, {"list": [...]} or {"literal": true}. */
static cJSON *parse_value(struct parser *p, int depth)
{
    cJSON *v = cJSON_CreateObject();
    if (depth > MAX_DEPTH) {
        parse_fail(p, "values nest too deeply");
    } else if (at_punct(p, '$')) {
        lex_next(&p->lx);
        char *name = take_name(p);
        if (name)
            cJSON_AddStringToObject(v, "var", name);
        free(name);
    } else if (at_punct(p, '{')) {
        cJSON_AddItemToObject(v, "object", parse_value_object(p, depth));
    } else if (at_punct(p, '[')) {
        cJSON *list = cJSON_AddArrayToObject(v, "list");
        lex_next(&p->lx);
        while (!p->failed && !at_punct(p, ']')) {
            if (p->lx.kind == TOK_END) {
                parse_fail(p, "unterminated list");
                break;
            }
            cJSON *item = parse_value(p, depth + 1);
            cJSON_AddItemToArray(list, item);
        }
        if (!p->failed)
            lex_next(&p->lx);
    } else if (p->lx.kind == TOK_NAME || p->lx.kind == TOK_STRING || p->lx.kind == TOK_NUMBER) {
        cJSON_AddTrueToObject(v, "literal");
        lex_next(&p->lx);
    } else {
        parse_fail(p, "expected a value");
    }
    return v;
}

/* Arguments "(name: value ...)" into {"name": value}; NULL when there are none. */
static cJSON *parse_args(struct parser *p)
{
    if (!at_punct(p, '('))
        return NULL;
    cJSON *args = cJSON_CreateObject();
    lex_next(&p->lx);
    while (!p->failed && !at_punct(p, ')')) {
        char *name = take_name(p);
        if (!name || !expect_punct(p, ':')) {
            free(name);
            break;
        }
        cJSON_AddItemToObject(args, name, parse_value(p, 0));
        free(name);
    }
    if (!p->failed)
        lex_next(&p->lx);
    return args;
}

static void skip_directives(struct parser *p)
{
    while (!p->failed && at_punct(p, '@')) {
        lex_next(&p->lx);
        free(take_name(p));
        cJSON_Delete(parse_args(p));
    }
}

/* A type reference, printed the way GraphQL spells it ("[String!]!"), into out. */
static void parse_type(struct parser *p, struct buf *out, int depth)
{
    if (depth > MAX_DEPTH) {
        parse_fail(p, "type nests too deeply");
        return;
    }
    if (at_punct(p, '[')) {
        lex_next(&p->lx);
        buf_puts(out, "[");
        parse_type(p, out, depth + 1);
        if (p->failed || !expect_punct(p, ']'))
            return;
        buf_puts(out, "]");
    } else {
        char *name = take_name(p);
        if (!name)
            return;
        buf_puts(out, name);
        free(name);
    }
    if (at_punct(p, '!')) {
        lex_next(&p->lx);
        buf_puts(out, "!");
    }
}

static cJSON *parse_selection_set(struct parser *p, int depth);

/* One selection: a field {"name","alias"?,"args"?,"sel"?,"line"}, a spread {"spread"} or an
 * inline fragment {"on"?,"sel"}. */
static cJSON *parse_selection(struct parser *p, int depth)
{
    cJSON *s = cJSON_CreateObject();
    if (p->lx.kind == TOK_SPREAD) {
        lex_next(&p->lx);
        if (p->lx.kind == TOK_NAME && !at_name(p, "on")) {
            char *name = take_name(p);
            cJSON_AddStringToObject(s, "spread", name);
            free(name);
            skip_directives(p);
            return s;
        }
        if (at_name(p, "on")) {
            lex_next(&p->lx);
            char *on = take_name(p);
            if (on)
                cJSON_AddStringToObject(s, "on", on);
            free(on);
        }
        skip_directives(p);
        cJSON_AddItemToObject(s, "sel", parse_selection_set(p, depth + 1));
        return s;
    }
    cJSON_AddNumberToObject(s, "line", p->lx.tok_line);
    char *name = take_name(p);
    if (!name)
        return s;
    if (at_punct(p, ':')) {
        lex_next(&p->lx);
        cJSON_AddStringToObject(s, "alias", name);
        free(name);
        name = take_name(p);
        if (!name)
            return s;
    }
    cJSON_AddStringToObject(s, "name", name);
    free(name);
    cJSON *args = parse_args(p);
    if (args)
        cJSON_AddItemToObject(s, "args", args);
    skip_directives(p);
    if (at_punct(p, '{'))
        cJSON_AddItemToObject(s, "sel", parse_selection_set(p, depth + 1));
    return s;
}

static cJSON *parse_selection_set(struct parser *p, int depth)
{
    cJSON *set = cJSON_CreateArray();
    if (depth > MAX_DEPTH) {
        parse_fail(p, "selections nest too deeply");
        return set;
    }
    if (!expect_punct(p, '{'))
        return set;
    while (!p->failed && !at_punct(p, '}')) {
        if (p->lx.kind == TOK_END || p->lx.kind == TOK_ERROR) {
            parse_fail(p, "unterminated selection set");
            break;
        }
        cJSON_AddItemToArray(set, parse_selection(p, depth));
    }
    if (!p->failed)
        lex_next(&p->lx);
    return set;
}

/* Variable definitions "($a: T = default ...)" into {"a": "T"}. */
static cJSON *parse_variables(struct parser *p)
{
    cJSON *vars = cJSON_CreateObject();
    if (!at_punct(p, '('))
        return vars;
    lex_next(&p->lx);
    while (!p->failed && !at_punct(p, ')')) {
        if (!expect_punct(p, '$'))
            break;
        char *name = take_name(p);
        if (!name || !expect_punct(p, ':')) {
            free(name);
            break;
        }
        struct buf type;
        buf_init(&type, TYPE_TEXT_MAX);
        parse_type(p, &type, 0);
        cJSON_AddStringToObject(vars, name, type.data ? type.data : "");
        buf_free(&type);
        free(name);
        if (at_punct(p, '=')) {
            lex_next(&p->lx);
            cJSON_Delete(parse_value(p, 0));
        }
        skip_directives(p);
    }
    if (!p->failed)
        lex_next(&p->lx);
    return vars;
}

/* The whole document: {"operations":[{"kind","name","vars","sel"}], "fragments":{name:
 * {"on","sel"}}}. */
static cJSON *parse_document(struct parser *p)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *ops = cJSON_AddArrayToObject(doc, "operations");
    cJSON *frags = cJSON_AddObjectToObject(doc, "fragments");
    lex_next(&p->lx);
    while (!p->failed && p->lx.kind != TOK_END) {
        if (at_name(p, "fragment")) {
            lex_next(&p->lx);
            char *name = take_name(p);
            if (!name)
                break;
            cJSON *f = cJSON_CreateObject();
            cJSON_AddItemToObject(frags, name, f);
            free(name);
            if (!at_name(p, "on")) {
                parse_fail(p, "expected 'on' in a fragment definition");
                break;
            }
            lex_next(&p->lx);
            char *on = take_name(p);
            if (on)
                cJSON_AddStringToObject(f, "on", on);
            free(on);
            skip_directives(p);
            cJSON_AddItemToObject(f, "sel", parse_selection_set(p, 0));
            continue;
        }
        cJSON *op = cJSON_CreateObject();
        cJSON_AddItemToArray(ops, op);
        if (at_punct(p, '{')) {
            cJSON_AddStringToObject(op, "kind", "query");
        } else if (at_name(p, "query") || at_name(p, "mutation") || at_name(p, "subscription")) {
            char *kind = take_name(p);
            cJSON_AddStringToObject(op, "kind", kind);
            free(kind);
            if (p->lx.kind == TOK_NAME) {
                char *name = take_name(p);
                cJSON_AddStringToObject(op, "name", name);
                free(name);
            }
        } else {
            parse_fail(p, "expected an operation or a fragment");
            break;
        }
        cJSON_AddItemToObject(op, "vars", parse_variables(p));
        skip_directives(p);
        cJSON_AddItemToObject(op, "sel", parse_selection_set(p, 0));
    }
    if (p->lx.kind == TOK_ERROR)
        parse_fail(p, "unexpected character");
    return doc;
}

/* ---- the live schema ---- */

static const cJSON *named_find(const cJSON *list, const char *name)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
    {
        const cJSON *n = cJSON_GetObjectItem(it, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
            return it;
    }
    return NULL;
}

static const char *str_of(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Prints an introspection type reference as GraphQL spells it. */
static void typeref_print(const cJSON *t, struct buf *out, int depth)
{
    const char *kind = str_of(t, "kind");
    if (!kind || depth > 8) {
        buf_puts(out, "?");
    } else if (strcmp(kind, "NON_NULL") == 0) {
        typeref_print(cJSON_GetObjectItem(t, "ofType"), out, depth + 1);
        buf_puts(out, "!");
    } else if (strcmp(kind, "LIST") == 0) {
        buf_puts(out, "[");
        typeref_print(cJSON_GetObjectItem(t, "ofType"), out, depth + 1);
        buf_puts(out, "]");
    } else {
        buf_puts(out, str_of(t, "name") ? str_of(t, "name") : "?");
    }
}

static void typeref_text(const cJSON *t, char out[TYPE_TEXT_MAX])
{
    struct buf b;
    buf_init(&b, TYPE_TEXT_MAX - 1);
    typeref_print(t, &b, 0);
    snprintf(out, TYPE_TEXT_MAX, "%s", b.data ? b.data : "?");
    buf_free(&b);
}

/* The named type under list and non-null wrappers, or NULL. */
static const char *typeref_named(const cJSON *t)
{
    for (int i = 0; t && i < 8; i++) {
        const char *name = str_of(t, "name");
        if (name)
            return name;
        t = cJSON_GetObjectItem(t, "ofType");
    }
    return NULL;
}

/* The named type of a printed type ("[Foo!]!" -> "Foo"). */
static void text_named(const char *t, char out[TYPE_TEXT_MAX])
{
    size_t n = 0;
    for (; *t && n + 1 < TYPE_TEXT_MAX; t++)
        if (*t != '[' && *t != ']' && *t != '!')
            out[n++] = *t;
    out[n] = '\0';
}

static bool text_non_null(const char *t)
{
    size_t n = strlen(t);
    return n > 0 && t[n - 1] == '!';
}

static void text_strip(const char *t, char out[TYPE_TEXT_MAX])
{
    snprintf(out, TYPE_TEXT_MAX, "%s", t);
    size_t n = strlen(out);
    if (n > 0 && out[n - 1] == '!')
        out[n - 1] = '\0';
}

/* "[X]" -> "X" (after the non-null mark is gone). */
static void text_item(const char *t, char out[TYPE_TEXT_MAX])
{
    size_t n = strlen(t);
    if (n < 2) {
        out[0] = '\0';
        return;
    }
    snprintf(out, TYPE_TEXT_MAX, "%.*s", (int)(n - 2), t + 1);
}

/* Whether a variable of type vt may be passed where lt is expected (GraphQL's rule). */
static bool type_fits(const char *vt, const char *lt)
{
    char a[TYPE_TEXT_MAX], b[TYPE_TEXT_MAX];
    if (text_non_null(lt)) {
        if (!text_non_null(vt))
            return false;
        text_strip(vt, a);
        text_strip(lt, b);
        return type_fits(a, b);
    }
    if (text_non_null(vt)) {
        text_strip(vt, a);
        return type_fits(a, lt);
    }
    if (lt[0] == '[' || vt[0] == '[') {
        if (lt[0] != '[' || vt[0] != '[')
            return false;
        text_item(vt, a);
        text_item(lt, b);
        return type_fits(a, b);
    }
    return strcmp(vt, lt) == 0;
}

static bool kind_composite(const char *kind)
{
    return kind && (strcmp(kind, "OBJECT") == 0 || strcmp(kind, "INTERFACE") == 0 ||
                    strcmp(kind, "UNION") == 0);
}

static bool kind_input(const char *kind)
{
    return kind && (strcmp(kind, "SCALAR") == 0 || strcmp(kind, "ENUM") == 0 ||
                    strcmp(kind, "INPUT_OBJECT") == 0);
}

/* A required argument or input field: non-null without a default. */
static bool value_required(const cJSON *iv)
{
    const char *kind = str_of(cJSON_GetObjectItem(iv, "type"), "kind");
    const cJSON *def = cJSON_GetObjectItem(iv, "defaultValue");
    return kind && strcmp(kind, "NON_NULL") == 0 && (!def || cJSON_IsNull(def));
}

/* ---- the walk ---- */

struct walk {
    const cJSON *types;
    const cJSON *fragments;
    const cJSON *vars;
    const char *file;
    const char *op;
    cJSON *findings;
    int depth;
};

static void finding(struct walk *w, const char *severity, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void finding(struct walk *w, const char *severity, const char *path, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "document", w->file);
    cJSON_AddStringToObject(f, "operation", w->op);
    cJSON_AddStringToObject(f, "path", path);
    cJSON_AddStringToObject(f, "problem", msg);
    cJSON_AddStringToObject(f, "severity", severity);
    cJSON_AddItemToArray(w->findings, f);
}

static void walk_input(struct walk *w, const char *type_name, const cJSON *fields);

/* An argument's value against its live type: variables must fit, object literals must name
 * existing input fields. */
static void walk_arg_value(struct walk *w, const char *coord, const cJSON *live_arg,
                           const cJSON *value)
{
    char lt[TYPE_TEXT_MAX];
    typeref_text(cJSON_GetObjectItem(live_arg, "type"), lt);
    const char *var = str_of(value, "var");
    const cJSON *obj = cJSON_GetObjectItem(value, "object");
    if (var) {
        const char *vt = str_of(w->vars, var);
        if (!vt || type_fits(vt, lt))
            return;
        char stripped[TYPE_TEXT_MAX];
        text_strip(lt, stripped);
        const cJSON *def = cJSON_GetObjectItem(live_arg, "defaultValue");
        if (def && !cJSON_IsNull(def) && type_fits(vt, stripped))
            return;
        finding(w, "error", coord, "argument is now %s; the document sends $%s as %s", lt, var, vt);
    } else if (cJSON_IsObject(obj)) {
        /* A literal input object: its keys are the input fields it uses. */
        cJSON *fields = cJSON_CreateArray();
        const cJSON *it;
        cJSON_ArrayForEach(it, obj)
        {
            cJSON *f = cJSON_CreateObject();
            cJSON_AddStringToObject(f, "name", it->string);
            cJSON_AddItemToArray(fields, f);
        }
        walk_input(w, typeref_named(cJSON_GetObjectItem(live_arg, "type")), fields);
        cJSON_Delete(fields);
    }
}

/* Input fields (a selection-like list of {"name","sel"?}) of an input type. */
static void walk_input(struct walk *w, const char *type_name, const cJSON *fields)
{
    if (!type_name || w->depth > MAX_DEPTH)
        return;
    const cJSON *t = named_find(w->types, type_name);
    if (!t) {
        finding(w, "error", type_name, "input type is gone");
        return;
    }
    const char *kind = str_of(t, "kind");
    if (!kind || strcmp(kind, "INPUT_OBJECT") != 0) {
        finding(w, "error", type_name, "is no longer an input object (now %s)", kind ? kind : "?");
        return;
    }
    const cJSON *live = cJSON_GetObjectItem(t, "inputFields");
    const cJSON *f;
    w->depth++;
    cJSON_ArrayForEach(f, fields)
    {
        const char *name = str_of(f, "name");
        if (!name)
            continue;
        char coord[300];
        snprintf(coord, sizeof(coord), "%s.%s", type_name, name);
        const cJSON *lf = named_find(live, name);
        if (!lf) {
            finding(w, "error", coord, "input field is gone");
            continue;
        }
        const cJSON *sub = cJSON_GetObjectItem(f, "sel");
        if (sub)
            walk_input(w, typeref_named(cJSON_GetObjectItem(lf, "type")), sub);
    }
    cJSON_ArrayForEach(f, live)
    {
        const char *name = str_of(f, "name");
        if (name && value_required(f) && !named_find(fields, name)) {
            char coord[300], lt[TYPE_TEXT_MAX];
            snprintf(coord, sizeof(coord), "%s.%s", type_name, name);
            typeref_text(cJSON_GetObjectItem(f, "type"), lt);
            finding(w, "error", coord,
                    "input field is now required (%s) and railhook does not set it", lt);
        }
    }
    w->depth--;
}

static void walk_selection(struct walk *w, const cJSON *type, const cJSON *sel);

/* One selected field of type (named tn) against the live field list. */
static void walk_field(struct walk *w, const cJSON *type, const cJSON *s)
{
    const char *tn = str_of(type, "name");
    const char *name = str_of(s, "name");
    char coord[300];
    snprintf(coord, sizeof(coord), "%s.%s", tn, name);
    const cJSON *lf = named_find(cJSON_GetObjectItem(type, "fields"), name);
    if (!lf) {
        finding(w, "error", coord, "field is gone");
        return;
    }
    const cJSON *args = cJSON_GetObjectItem(s, "args");
    const cJSON *live_args = cJSON_GetObjectItem(lf, "args");
    const cJSON *a;
    cJSON_ArrayForEach(a, args)
    {
        char acoord[400];
        snprintf(acoord, sizeof(acoord), "%s(%s:)", coord, a->string);
        const cJSON *la = named_find(live_args, a->string);
        if (!la)
            finding(w, "error", acoord, "argument is gone");
        else
            walk_arg_value(w, acoord, la, a);
    }
    cJSON_ArrayForEach(a, live_args)
    {
        const char *an = str_of(a, "name");
        if (an && value_required(a) && !cJSON_GetObjectItem(args, an)) {
            char acoord[400], lt[TYPE_TEXT_MAX];
            snprintf(acoord, sizeof(acoord), "%s(%s:)", coord, an);
            typeref_text(cJSON_GetObjectItem(a, "type"), lt);
            finding(w, "error", acoord,
                    "argument is now required (%s) and the document does not pass it", lt);
        }
    }
    if (cJSON_IsTrue(cJSON_GetObjectItem(lf, "isDeprecated"))) {
        const char *why = str_of(lf, "deprecationReason");
        finding(w, "warning", coord, "field is deprecated%s%s", why ? ": " : "", why ? why : "");
    }
    const char *nt = typeref_named(cJSON_GetObjectItem(lf, "type"));
    const cJSON *sub_type = nt ? named_find(w->types, nt) : NULL;
    const cJSON *sel = cJSON_GetObjectItem(s, "sel");
    char lt[TYPE_TEXT_MAX];
    typeref_text(cJSON_GetObjectItem(lf, "type"), lt);
    if (!sub_type) {
        finding(w, "error", coord, "its type %s is gone", nt ? nt : "?");
    } else if (sel && !kind_composite(str_of(sub_type, "kind"))) {
        finding(w, "error", coord, "is now %s, which has no fields to select", lt);
    } else if (!sel && kind_composite(str_of(sub_type, "kind"))) {
        finding(w, "error", coord, "is now %s, which needs a selection of fields", lt);
    } else if (sel) {
        walk_selection(w, sub_type, sel);
    }
}

static void walk_selection(struct walk *w, const cJSON *type, const cJSON *sel)
{
    if (w->depth > MAX_DEPTH)
        return;
    w->depth++;
    const cJSON *s;
    cJSON_ArrayForEach(s, sel)
    {
        const char *spread = str_of(s, "spread");
        const char *name = str_of(s, "name");
        const cJSON *sub = cJSON_GetObjectItem(s, "sel");
        const char *on = str_of(s, "on");
        if (spread) {
            const cJSON *frag = cJSON_GetObjectItem(w->fragments, spread);
            if (!frag) {
                finding(w, "error", spread, "the document spreads an unknown fragment");
                continue;
            }
            on = str_of(frag, "on");
            sub = cJSON_GetObjectItem(frag, "sel");
        }
        if (spread || !name) {
            const cJSON *t = on ? named_find(w->types, on) : type;
            if (!t)
                finding(w, "error", on, "type is gone (fragment type condition)");
            else
                walk_selection(w, t, sub);
            continue;
        }
        /* Meta-fields (__typename, __schema, __type) are GraphQL's own, not Railway's. */
        if (strncmp(name, "__", 2) == 0)
            continue;
        walk_field(w, type, s);
    }
    w->depth--;
}

/* Variables' types must still exist and be input types. */
static void walk_variables(struct walk *w)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, w->vars)
    {
        char named[TYPE_TEXT_MAX];
        text_named(cJSON_IsString(v) ? v->valuestring : "", named);
        const cJSON *t = named_find(w->types, named);
        if (!t)
            finding(w, "error", named, "type is gone (variable $%s)", v->string);
        else if (!kind_input(str_of(t, "kind")))
            finding(w, "error", named, "is no longer an input type (variable $%s)", v->string);
    }
}

/* "# input-fields: Type { a b c { d } }" comments: the input fields railhook sets. */
static enum rh_status walk_annotations(struct walk *w, const cJSON *annotations, char *err,
                                       size_t errlen)
{
    enum rh_status st = RH_OK;
    const cJSON *a;
    cJSON_ArrayForEach(a, annotations)
    {
        struct parser p = {.file = w->file, .err = err, .errlen = errlen};
        p.lx.p = str_of(a, "text");
        p.lx.line = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(a, "line"));
        lex_next(&p.lx);
        char *type = take_name(&p);
        cJSON *sel = type ? parse_selection_set(&p, 0) : NULL;
        if (!p.failed && p.lx.kind != TOK_END)
            parse_fail(&p, "unexpected text after an input-fields annotation");
        if (p.failed) {
            st = RH_INVALID;
        } else {
            bool used = false;
            const cJSON *v;
            cJSON_ArrayForEach(v, w->vars)
            {
                char named[TYPE_TEXT_MAX];
                text_named(v->valuestring, named);
                used = used || strcmp(named, type) == 0;
            }
            if (!used)
                finding(w, "error", type,
                        "the input-fields comment names a type no variable of the document has");
            else
                walk_input(w, type, sel);
        }
        cJSON_Delete(sel);
        free(type);
        if (st != RH_OK)
            break;
    }
    return st;
}

enum rh_status railway_drift_document(const cJSON *schema, const char *file, const char *text,
                                      cJSON *findings, char *err, size_t errlen)
{
    enum rh_status st = RH_INVALID;
    struct parser p = {.file = file, .err = err, .errlen = errlen};
    p.lx.p = text;
    p.lx.line = 1;
    p.lx.annotations = cJSON_CreateArray();
    cJSON *doc = parse_document(&p);
    if (p.failed)
        goto out;
    const cJSON *types = cJSON_GetObjectItem(schema, "types");
    if (!cJSON_IsArray(types)) {
        snprintf(err, errlen, "the introspection answer has no types");
        goto out;
    }
    const cJSON *ops = cJSON_GetObjectItem(doc, "operations");
    if (cJSON_GetArraySize(ops) != 1) {
        snprintf(err, errlen, "%s: expected exactly one operation", file);
        goto out;
    }
    const cJSON *op = cJSON_GetArrayItem(ops, 0);
    const char *kind = str_of(op, "kind");
    const char *root_name =
        str_of(cJSON_GetObjectItem(schema, strcmp(kind, "mutation") == 0       ? "mutationType"
                                           : strcmp(kind, "subscription") == 0 ? "subscriptionType"
                                                                               : "queryType"),
               "name");
    struct walk w = {
        .types = types,
        .fragments = cJSON_GetObjectItem(doc, "fragments"),
        .vars = cJSON_GetObjectItem(op, "vars"),
        .file = file,
        .op = str_of(op, "name") ? str_of(op, "name") : "(anonymous)",
        .findings = findings,
    };
    const cJSON *root = root_name ? named_find(types, root_name) : NULL;
    if (!root) {
        finding(&w, "error", kind, "Railway's schema has no %s type", kind);
        st = RH_OK;
        goto out;
    }
    walk_variables(&w);
    walk_selection(&w, root, cJSON_GetObjectItem(op, "sel"));
    st = walk_annotations(&w, p.lx.annotations, err, errlen);
out:
    cJSON_Delete(doc);
    cJSON_Delete(p.lx.annotations);
    return st;
}

struct drift_all {
    const cJSON *schema;
    cJSON *findings;
    int documents;
    enum rh_status st;
    char *err;
    size_t errlen;
};

static void on_document(void *ud, const char *file, const char *op, const char *text)
{
    struct drift_all *d = ud;
    (void)op;
    if (d->st != RH_OK)
        return;
    d->st = railway_drift_document(d->schema, file, text, d->findings, d->err, d->errlen);
    d->documents += d->st == RH_OK;
}

enum rh_status railway_drift_all(const cJSON *schema, cJSON *findings, int *documents, char *err,
                                 size_t errlen)
{
    struct drift_all d = {
        .schema = schema, .findings = findings, .st = RH_OK, .err = err, .errlen = errlen};
    if (cJSON_IsArray(cJSON_GetObjectItem(schema, "types"))) {
        railway_op_each(on_document, &d);
    } else {
        snprintf(err, errlen, "the introspection answer has no types");
        d.st = RH_INVALID;
    }
    *documents = d.documents;
    return d.st;
}
