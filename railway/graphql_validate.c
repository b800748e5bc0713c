/* Validation of GraphQL documents against a schema: graphql-js 16's rules and messages, checked
 * in one walk of each operation through the fragments it spreads (which is why they all live in
 * this one file). Interfaces and unions count through their possible types; overlapping fields
 * are compared by name only. */
#include "railway/graphql_int.h"

#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH  200 /* nested selections, fragments included */
#define TYPE_TEXT  128
#define VALUE_TEXT 256

/* A value as graphql-js prints it in messages, cut to fit buf. */
static void value_print(const struct graphql_value *v, struct buf *b)
{
    if (!v || v->kind == GRAPHQL_NULL) {
        buf_puts(b, "null");
    } else if (v->kind == GRAPHQL_VARIABLE) {
        buf_printf(b, "$%s", v->text);
    } else if (v->kind == GRAPHQL_STRING) {
        cJSON *s = cJSON_CreateString(v->text);
        char *p = cJSON_PrintUnformatted(s);
        buf_puts(b, p ? p : "\"\"");
        cJSON_free(p);
        cJSON_Delete(s);
    } else if (v->kind == GRAPHQL_BOOLEAN) {
        buf_puts(b, v->boolean ? "true" : "false");
    } else if (v->kind == GRAPHQL_LIST || v->kind == GRAPHQL_OBJECT) {
        bool list = v->kind == GRAPHQL_LIST;
        buf_puts(b, list ? "[" : "{");
        for (size_t i = 0; i < v->count; i++) {
            buf_printf(b, "%s%s%s", i ? ", " : "", list ? "" : v->items[i].name, list ? "" : ": ");
            value_print(v->items[i].value, b);
        }
        buf_puts(b, list ? "]" : "}");
    } else {
        buf_puts(b, v->text);
    }
}

static const char *value_text(const struct graphql_value *v, char out[VALUE_TEXT])
{
    struct buf b;
    buf_init(&b, 0);
    value_print(v, &b);
    snprintf(out, VALUE_TEXT, "%s", b.data ? b.data : "");
    buf_free(&b);
    return out;
}

static const char *type_text(const struct graphql_type *t, char out[TYPE_TEXT])
{
    graphql_type_print(t, out, TYPE_TEXT);
    return out;
}

/* Whether a variable of type vt may be used where lt is expected. */
static bool type_fits(const struct graphql_type *vt, const struct graphql_type *lt)
{
    if (!vt || !lt || (lt->non_null && !vt->non_null) || !vt->of != !lt->of)
        return false;
    if (vt->of)
        return type_fits(vt->of, lt->of);
    return vt->name && lt->name && strcmp(vt->name, lt->name) == 0;
}

static bool kind_composite(const struct graphql_schema_type *t)
{
    return t->kind == GRAPHQL_KIND_OBJECT || t->kind == GRAPHQL_KIND_INTERFACE ||
           t->kind == GRAPHQL_KIND_UNION;
}

static bool kind_input(const struct graphql_schema_type *t)
{
    return t->kind == GRAPHQL_KIND_SCALAR || t->kind == GRAPHQL_KIND_ENUM ||
           t->kind == GRAPHQL_KIND_INPUT_OBJECT;
}

/* Whether some object could be of both types. */
static bool types_overlap(const struct graphql_schema_type *a, const struct graphql_schema_type *b)
{
    if (a->kind == GRAPHQL_KIND_OBJECT || b->kind == GRAPHQL_KIND_OBJECT)
        return a->kind == GRAPHQL_KIND_OBJECT ? graphql_schema_type_applies(b, a)
                                              : graphql_schema_type_applies(a, b);
    for (size_t i = 0; i < a->possible_type_count; i++)
        for (size_t j = 0; j < b->possible_type_count; j++)
            if (strcmp(a->possible_types[i], b->possible_types[j]) == 0)
                return true;
    return false;
}

/* ---- the walk ---- */

/* A variable used somewhere, with the type expected there when it is known. */
struct usage {
    const char *name;
    struct graphql_type type; /* a shallow copy; its `of` lives in the document or the schema */
    bool typed, location_has_default;
    int line, column;
};

struct vctx {
    const struct graphql_schema *s;
    const struct graphql_document *doc;
    cJSON *errors, *warnings;
    struct usage *usages;
    size_t usage_count, usage_cap;
    const struct graphql_fragment **visited;
    size_t visited_count;
    bool *fragment_used;
    int depth;
};

#define verr(c, line, column, ...) graphql_error_add((c)->errors, line, column, __VA_ARGS__)

static void usage_add(struct vctx *c, const struct graphql_value *v, const struct graphql_type *t,
                      bool location_has_default)
{
    if (c->usage_count == c->usage_cap) {
        c->usage_cap = c->usage_cap ? c->usage_cap * 2 : 8;
        c->usages = xrealloc(c->usages, c->usage_cap * sizeof(*c->usages));
    }
    struct usage *u = &c->usages[c->usage_count++];
    *u = (struct usage){.name = v->text,
                        .typed = t != NULL,
                        .location_has_default = location_has_default,
                        .line = v->line,
                        .column = v->column};
    if (t)
        u->type = *t;
}

/* The variables in a value whose type is unknown (they count as used, unchecked). */
static void value_usages(struct vctx *c, const struct graphql_value *v)
{
    if (v && v->kind == GRAPHQL_VARIABLE)
        usage_add(c, v, NULL, false);
    for (size_t i = 0; v && i < v->count; i++)
        value_usages(c, v->items[i].value);
}

static bool fragment_visit(struct vctx *c, const struct graphql_fragment *f)
{
    for (size_t i = 0; i < c->visited_count; i++)
        if (c->visited[i] == f)
            return false;
    c->visited[c->visited_count++] = f;
    c->fragment_used[f - c->doc->fragments] = true;
    return true;
}

static void selection_usages(struct vctx *c, const struct graphql_selection_set *set);

static void args_usages(struct vctx *c, const struct graphql_argument *args, size_t n)
{
    for (size_t i = 0; i < n; i++)
        value_usages(c, args[i].value);
}

/* The variables in and below a selection whose type is unknown. */
static void one_selection_usages(struct vctx *c, const struct graphql_selection *s)
{
    args_usages(c, s->args, s->arg_count);
    for (size_t i = 0; i < s->directive_count; i++)
        args_usages(c, s->directives[i].args, s->directives[i].arg_count);
    if (s->kind == GRAPHQL_SPREAD) {
        const struct graphql_fragment *f = graphql_fragment_find(c->doc, s->name);
        if (f && fragment_visit(c, f))
            selection_usages(c, f->selections);
    } else {
        selection_usages(c, s->selections);
    }
}

static void selection_usages(struct vctx *c, const struct graphql_selection_set *set)
{
    if (!set || c->depth >= MAX_DEPTH)
        return;
    c->depth++;
    for (size_t i = 0; i < set->count; i++)
        one_selection_usages(c, &set->items[i]);
    c->depth--;
}

static bool int32_text(const char *text)
{
    char *end;
    double d = strtod(text, &end);
    return *end == '\0' && d >= -2147483648.0 && d <= 2147483647.0;
}

/* Whether a built-in scalar takes a literal; custom scalars take anything, as graphql-js's do
 * in a schema built from introspection. When it does not, msg receives graphql-js's words. */
static bool scalar_takes(const char *scalar, const struct graphql_value *v, char *msg, size_t n)
{
    enum graphql_value_kind k = v->kind;
    char shown[VALUE_TEXT];
    const char *what = NULL;
    if (strcmp(scalar, "String") == 0 && k != GRAPHQL_STRING)
        what = "String cannot represent a non string value";
    else if (strcmp(scalar, "Int") == 0 && k != GRAPHQL_INT)
        what = "Int cannot represent non-integer value";
    else if (strcmp(scalar, "Int") == 0 && !int32_text(v->text))
        what = "Int cannot represent non 32-bit signed integer value";
    else if (strcmp(scalar, "Float") == 0 && k != GRAPHQL_INT && k != GRAPHQL_FLOAT)
        what = "Float cannot represent non numeric value";
    else if (strcmp(scalar, "Boolean") == 0 && k != GRAPHQL_BOOLEAN)
        what = "Boolean cannot represent a non boolean value";
    else if (strcmp(scalar, "ID") == 0 && k != GRAPHQL_STRING && k != GRAPHQL_INT)
        what = "ID cannot represent a non-string and non-integer value";
    if (what)
        snprintf(msg, n, "%s: %s", what, value_text(v, shown));
    return what == NULL;
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void literal_check(struct vctx *c, const struct graphql_value *v,
                          const struct graphql_type *type, bool location_has_default);

static void input_object_check(struct vctx *c, const struct graphql_value *v,
                               const struct graphql_schema_type *t)
{
    for (size_t i = 0; i < v->count; i++) {
        const struct graphql_value_item *it = &v->items[i];
        const struct graphql_input_value *f =
            graphql_input_value_find(t->input_fields, t->input_field_count, it->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(v->items[j].name, it->name) == 0)
                verr(c, it->line, it->column, "There can be only one input field named \"%s\".",
                     it->name);
        if (f) {
            literal_check(c, it->value, f->type, f->default_value != NULL);
        } else {
            verr(c, it->line, it->column, "Field \"%s\" is not defined by type \"%s\".", it->name,
                 t->name);
            value_usages(c, it->value);
        }
    }
    for (size_t k = 0; k < t->input_field_count; k++) {
        const struct graphql_input_value *f = &t->input_fields[k];
        bool present = false;
        for (size_t i = 0; i < v->count; i++)
            present = present || strcmp(v->items[i].name, f->name) == 0;
        char ts[TYPE_TEXT];
        if (!present && f->type->non_null && !f->default_value)
            verr(c, v->line, v->column, "Field \"%s.%s\" of required type \"%s\" was not provided.",
                 t->name, f->name, type_text(f->type, ts));
    }
}

/* Checks a literal (or records a variable) against the type expected where it stands. */
static void literal_check(struct vctx *c, const struct graphql_value *v,
                          const struct graphql_type *type, bool location_has_default)
{
    char ts[TYPE_TEXT], shown[VALUE_TEXT];
    if (!v || !type)
        return;
    if (v->kind == GRAPHQL_VARIABLE) {
        usage_add(c, v, type, location_has_default);
        return;
    }
    if (v->kind == GRAPHQL_NULL) {
        if (type->non_null)
            verr(c, v->line, v->column, "Expected value of type \"%s\", found null.",
                 type_text(type, ts));
        return;
    }
    if (type->of) {
        for (size_t i = 0; v->kind == GRAPHQL_LIST && i < v->count; i++)
            literal_check(c, v->items[i].value, type->of, false);
        if (v->kind != GRAPHQL_LIST)
            literal_check(c, v, type->of, false);
        return;
    }
    const struct graphql_schema_type *t = graphql_schema_type_find(c->s, type->name);
    char msg[VALUE_TEXT + 64];
    if (!t || !kind_input(t)) {
        value_usages(c, v); /* an unknown or output type is reported where it is declared */
    } else if (t->kind == GRAPHQL_KIND_INPUT_OBJECT && v->kind == GRAPHQL_OBJECT) {
        input_object_check(c, v, t);
    } else if (t->kind == GRAPHQL_KIND_INPUT_OBJECT) {
        verr(c, v->line, v->column, "Expected value of type \"%s\", found %s.", type_text(type, ts),
             value_text(v, shown));
        value_usages(c, v);
    } else if (t->kind == GRAPHQL_KIND_ENUM && v->kind != GRAPHQL_ENUM) {
        verr(c, v->line, v->column, "Enum \"%s\" cannot represent non-enum value: %s.", t->name,
             value_text(v, shown));
        value_usages(c, v);
    } else if (t->kind == GRAPHQL_KIND_ENUM) {
        if (!bsearch(&v->text, t->enum_values, t->enum_value_count, sizeof(char *), by_string))
            verr(c, v->line, v->column, "Value \"%s\" does not exist in \"%s\" enum.", v->text,
                 t->name);
    } else {
        if (!scalar_takes(t->name, v, msg, sizeof(msg)))
            verr(c, v->line, v->column, "%s", msg);
        value_usages(c, v); /* a custom scalar's object or list may hold variables */
    }
}

/* Arguments of a field (parent names its type) or of a directive (parent NULL). */
static void args_check(struct vctx *c, const struct graphql_input_value *defs, size_t ndefs,
                       const struct graphql_argument *args, size_t nargs, const char *parent,
                       const char *name, int line, int column)
{
    char ts[TYPE_TEXT];
    for (size_t i = 0; i < nargs; i++) {
        const struct graphql_argument *a = &args[i];
        const struct graphql_input_value *d = graphql_input_value_find(defs, ndefs, a->name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(args[j].name, a->name) == 0)
                verr(c, a->line, a->column, "There can be only one argument named \"%s\".",
                     a->name);
        if (d) {
            literal_check(c, a->value, d->type, d->default_value != NULL);
            continue;
        }
        if (parent)
            verr(c, a->line, a->column, "Unknown argument \"%s\" on field \"%s.%s\".", a->name,
                 parent, name);
        else
            verr(c, a->line, a->column, "Unknown argument \"%s\" on directive \"@%s\".", a->name,
                 name);
        value_usages(c, a->value);
    }
    for (size_t k = 0; k < ndefs; k++) {
        const struct graphql_input_value *d = &defs[k];
        bool present = false;
        for (size_t i = 0; i < nargs; i++)
            present = present || strcmp(args[i].name, d->name) == 0;
        if (present || !d->type->non_null || d->default_value)
            continue;
        verr(c, line, column,
             parent ? "Field \"%s\" argument \"%s\" of type \"%s\" is required, but it was not "
                      "provided."
                    : "Directive \"@%s\" argument \"%s\" of type \"%s\" is required, but it was "
                      "not provided.",
             name, d->name, type_text(d->type, ts));
    }
}

static void directives_check(struct vctx *c, const struct graphql_directive *dirs, size_t count,
                             const char *location)
{
    for (size_t i = 0; i < count; i++) {
        const struct graphql_directive *d = &dirs[i];
        const struct graphql_directive_def *def =
            bsearch(&d->name, c->s->directives, c->s->directive_count, sizeof(*def), by_string);
        if (!def) {
            verr(c, d->line, d->column, "Unknown directive \"@%s\".", d->name);
            args_usages(c, d->args, d->arg_count);
            continue;
        }
        if (!bsearch(&location, def->locations, def->location_count, sizeof(char *), by_string))
            verr(c, d->line, d->column, "Directive \"@%s\" may not be used on %s.", d->name,
                 location);
        for (size_t j = 0; j < i; j++)
            if (strcmp(dirs[j].name, d->name) == 0)
                verr(c, d->line, d->column,
                     "The directive \"@%s\" can only be used once at this location.", d->name);
        args_check(c, def->args, def->arg_count, d->args, d->arg_count, NULL, d->name, d->line,
                   d->column);
    }
}

static void selection_set_check(struct vctx *c, const struct graphql_selection_set *set,
                                const struct graphql_schema_type *parent);

static void field_check(struct vctx *c, const struct graphql_selection *s,
                        const struct graphql_schema_type *parent)
{
    char ts[TYPE_TEXT];
    directives_check(c, s->directives, s->directive_count, "FIELD");
    const struct graphql_field *def = graphql_schema_field_find(c->s, parent, s->name);
    if (!def) {
        verr(c, s->line, s->column, "Cannot query field \"%s\" on type \"%s\".", s->name,
             parent->name);
        one_selection_usages(c, s);
        return;
    }
    args_check(c, def->args, def->arg_count, s->args, s->arg_count, parent->name, s->name, s->line,
               s->column);
    if (def->deprecated && c->warnings)
        graphql_error_add(c->warnings, s->line, s->column, "The field %s.%s is deprecated.%s%s",
                          parent->name, s->name, def->deprecation_reason ? " " : "",
                          def->deprecation_reason ? def->deprecation_reason : "");
    const struct graphql_schema_type *t = graphql_schema_type_of(c->s, def->type);
    if (t && kind_composite(t) && !s->selections)
        verr(c, s->line, s->column,
             "Field \"%s\" of type \"%s\" must have a selection of subfields. Did you mean \"%s "
             "{ ... }\"?",
             s->name, type_text(def->type, ts), s->name);
    else if (t && !kind_composite(t) && s->selections)
        verr(c, s->line, s->column,
             "Field \"%s\" must not have a selection since type \"%s\" has no subfields.", s->name,
             type_text(def->type, ts));
    selection_set_check(c, s->selections, t && kind_composite(t) ? t : NULL);
}

/* The same response key for two different fields of one selection set (arguments and
 * sub-selections are not compared). */
static void merge_check(struct vctx *c, const struct graphql_selection_set *set)
{
    for (size_t i = 0; i < set->count && set->count <= 1000; i++) {
        const struct graphql_selection *a = &set->items[i];
        const char *ka = a->alias ? a->alias : a->name;
        for (size_t j = 0; j < i && a->kind == GRAPHQL_FIELD; j++) {
            const struct graphql_selection *b = &set->items[j];
            if (b->kind == GRAPHQL_FIELD && strcmp(ka, b->alias ? b->alias : b->name) == 0 &&
                strcmp(a->name, b->name) != 0)
                verr(c, a->line, a->column,
                     "Fields \"%s\" conflict because \"%s\" and \"%s\" are different fields. Use "
                     "different aliases on the fields to fetch both if this was intentional.",
                     ka, b->name, a->name);
        }
    }
}

/* A fragment's type condition where it is spread into parent: the type to go on with. */
static const struct graphql_schema_type *spread_check(struct vctx *c, const char *cond,
                                                      const char *fragment,
                                                      const struct graphql_schema_type *parent,
                                                      int line, int column)
{
    const struct graphql_schema_type *t = cond ? graphql_schema_type_find(c->s, cond) : parent;
    if (!cond || !t || !kind_composite(t))
        return t && kind_composite(t) ? t : NULL;
    if (!types_overlap(parent, t))
        verr(c, line, column,
             "Fragment%s%s%s cannot be spread here as objects of type \"%s\" can never be of "
             "type \"%s\".",
             fragment ? " \"" : "", fragment ? fragment : "", fragment ? "\"" : "", parent->name,
             t->name);
    return t;
}

/* A type condition as written: it must name a composite type. */
static void condition_check(struct vctx *c, const char *cond, const char *fragment, int line,
                            int column)
{
    const struct graphql_schema_type *t = cond ? graphql_schema_type_find(c->s, cond) : NULL;
    if (cond && !t)
        verr(c, line, column, "Unknown type \"%s\".", cond);
    else if (t && !kind_composite(t))
        verr(c, line, column, "Fragment%s%s%s cannot condition on non composite type \"%s\".",
             fragment ? " \"" : "", fragment ? fragment : "", fragment ? "\"" : "", cond);
}

static void selection_set_check(struct vctx *c, const struct graphql_selection_set *set,
                                const struct graphql_schema_type *parent)
{
    if (!set || !parent) {
        selection_usages(c, set);
        return;
    }
    if (c->depth >= MAX_DEPTH) {
        verr(c, set->line, set->column, "Document nesting exceeds %d levels.", MAX_DEPTH);
        return;
    }
    c->depth++;
    merge_check(c, set);
    for (size_t i = 0; i < set->count; i++) {
        const struct graphql_selection *s = &set->items[i];
        const struct graphql_fragment *f = NULL;
        if (s->kind == GRAPHQL_FIELD) {
            field_check(c, s, parent);
        } else if (s->kind == GRAPHQL_INLINE_FRAGMENT) {
            directives_check(c, s->directives, s->directive_count, "INLINE_FRAGMENT");
            condition_check(c, s->type_cond, NULL, s->line, s->column);
            selection_set_check(c, s->selections,
                                spread_check(c, s->type_cond, NULL, parent, s->line, s->column));
        } else if (!(f = graphql_fragment_find(c->doc, s->name))) {
            directives_check(c, s->directives, s->directive_count, "FRAGMENT_SPREAD");
            verr(c, s->line, s->column, "Unknown fragment \"%s\".", s->name);
        } else {
            directives_check(c, s->directives, s->directive_count, "FRAGMENT_SPREAD");
            const struct graphql_schema_type *t =
                spread_check(c, f->type_cond, f->name, parent, s->line, s->column);
            if (fragment_visit(c, f))
                selection_set_check(c, f->selections, t);
        }
    }
    c->depth--;
}

static void variables_check(struct vctx *c, const struct graphql_operation *op)
{
    char ts[TYPE_TEXT];
    for (size_t i = 0; i < op->variable_count; i++) {
        const struct graphql_variable *d = &op->variables[i];
        const struct graphql_schema_type *t = graphql_schema_type_of(c->s, d->type);
        for (size_t j = 0; j < i; j++)
            if (strcmp(op->variables[j].name, d->name) == 0)
                verr(c, d->line, d->column, "There can be only one variable named \"$%s\".",
                     d->name);
        if (!t)
            verr(c, d->line, d->column, "Unknown type \"%s\".", graphql_type_name(d->type));
        else if (!kind_input(t))
            verr(c, d->line, d->column, "Variable \"$%s\" cannot be non-input type \"%s\".",
                 d->name, type_text(d->type, ts));
        else
            literal_check(c, d->default_value, d->type, false);
    }
}

/* Whether the use u of the variable d is allowed (graphql-js's allowedVariableUsage): a nullable
 * variable may go where a non-null value is expected when either side has a default. */
static bool usage_allowed(const struct graphql_variable *d, const struct usage *u)
{
    if (type_fits(d->type, &u->type))
        return true;
    struct graphql_type nullable = u->type;
    nullable.non_null = false;
    bool var_default = d->default_value && d->default_value->kind != GRAPHQL_NULL;
    return u->type.non_null && !d->type->non_null && (var_default || u->location_has_default) &&
           type_fits(d->type, &nullable);
}

static void usages_check(struct vctx *c, const struct graphql_operation *op)
{
    bool *used = xcalloc(op->variable_count + 1, sizeof(*used));
    char vt[TYPE_TEXT], lt[TYPE_TEXT];
    for (size_t k = 0; k < c->usage_count; k++) {
        const struct usage *u = &c->usages[k];
        size_t i = 0;
        while (i < op->variable_count && strcmp(op->variables[i].name, u->name) != 0)
            i++;
        if (i == op->variable_count) {
            verr(c, u->line, u->column,
                 op->name ? "Variable \"$%s\" is not defined by operation \"%s\"."
                          : "Variable \"$%s\" is not defined.%s",
                 u->name, op->name ? op->name : "");
            continue;
        }
        const struct graphql_variable *d = &op->variables[i];
        const struct graphql_schema_type *t = graphql_schema_type_of(c->s, d->type);
        used[i] = true;
        if (u->typed && t && kind_input(t) && !usage_allowed(d, u))
            verr(c, u->line, u->column,
                 "Variable \"$%s\" of type \"%s\" used in position expecting type \"%s\".", u->name,
                 type_text(d->type, vt), type_text(&u->type, lt));
    }
    for (size_t i = 0; i < op->variable_count; i++)
        if (!used[i])
            verr(c, op->variables[i].line, op->variables[i].column,
                 op->name ? "Variable \"$%s\" is never used in operation \"%s\"."
                          : "Variable \"$%s\" is never used.%s",
                 op->variables[i].name, op->name ? op->name : "");
    free(used);
}

static void operation_check(struct vctx *c, const struct graphql_operation *op)
{
    static const char *const locations[] = {"QUERY", "MUTATION", "SUBSCRIPTION"};
    static const char *const kinds[] = {"query", "mutation", "subscription"};
    const struct graphql_schema_type *root = graphql_schema_root(c->s, op->kind);
    c->usage_count = 0;
    c->visited_count = 0;
    directives_check(c, op->directives, op->directive_count, locations[op->kind]);
    if (!root)
        verr(c, op->line, op->column, "Schema is not configured to execute %s operation.",
             kinds[op->kind]);
    variables_check(c, op);
    selection_set_check(c, op->selections, root);
    usages_check(c, op);
}

/* Reports a fragment that spreads itself, directly or through others (path[0] is it). */
static void cycle_check(struct vctx *c, const struct graphql_selection_set *set,
                        const struct graphql_fragment **path, size_t depth)
{
    for (size_t i = 0; set && i < set->count && depth < 32; i++) {
        const struct graphql_selection *s = &set->items[i];
        const struct graphql_fragment *f =
            s->kind == GRAPHQL_SPREAD ? graphql_fragment_find(c->doc, s->name) : NULL;
        bool seen = false;
        if (s->kind != GRAPHQL_SPREAD) {
            cycle_check(c, s->selections, path, depth);
            continue;
        }
        if (f == path[0]) {
            struct buf via;
            buf_init(&via, 512);
            for (size_t k = 1; k < depth; k++)
                buf_printf(&via, "%s\"%s\"", k > 1 ? ", " : " via ", path[k]->name);
            verr(c, s->line, s->column, "Cannot spread fragment \"%s\" within itself%s.",
                 path[0]->name, via.data ? via.data : "");
            buf_free(&via);
            continue;
        }
        for (size_t k = 0; f && k < depth; k++)
            seen = seen || path[k] == f;
        if (!f || seen)
            continue;
        path[depth] = f;
        cycle_check(c, f->selections, path, depth + 1);
    }
}

static void definitions_check(struct vctx *c)
{
    const struct graphql_document *doc = c->doc;
    for (size_t i = 0; i < doc->operation_count; i++) {
        const struct graphql_operation *op = &doc->operations[i];
        if (!op->name && doc->operation_count > 1)
            verr(c, op->line, op->column,
                 "This anonymous operation must be the only defined operation.");
        for (size_t j = 0; j < i && op->name; j++)
            if (doc->operations[j].name && strcmp(doc->operations[j].name, op->name) == 0)
                verr(c, op->line, op->column, "There can be only one operation named \"%s\".",
                     op->name);
    }
    for (size_t i = 0; i < doc->fragment_count; i++) {
        const struct graphql_fragment *f = &doc->fragments[i];
        const struct graphql_fragment *path[32] = {f};
        for (size_t j = 0; j < i; j++)
            if (strcmp(doc->fragments[j].name, f->name) == 0)
                verr(c, f->line, f->column, "There can be only one fragment named \"%s\".",
                     f->name);
        directives_check(c, f->directives, f->directive_count, "FRAGMENT_DEFINITION");
        condition_check(c, f->type_cond, f->name, f->line, f->column);
        cycle_check(c, f->selections, path, 1);
    }
}

int graphql_document_validate(const struct graphql_schema *s, const struct graphql_document *doc,
                              cJSON *errors, cJSON *warnings)
{
    int before = cJSON_GetArraySize(errors);
    struct vctx c = {
        .s = s,
        .doc = doc,
        .errors = errors,
        .warnings = warnings,
        .visited = xcalloc(doc->fragment_count + 1, sizeof(*c.visited)),
        .fragment_used = xcalloc(doc->fragment_count + 1, sizeof(bool)),
    };
    definitions_check(&c);
    for (size_t i = 0; i < doc->operation_count; i++)
        operation_check(&c, &doc->operations[i]);
    for (size_t i = 0; i < doc->fragment_count; i++)
        if (!c.fragment_used[i])
            verr(&c, doc->fragments[i].line, doc->fragments[i].column,
                 "Fragment \"%s\" is never used.", doc->fragments[i].name);
    free(c.fragment_used);
    free(c.usages);
    free(c.visited);
    return cJSON_GetArraySize(errors) - before;
}
