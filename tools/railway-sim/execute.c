/* execute: field collection, argument values and result shaping for railway-sim. */
#include "execute.h"

#include "util/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Recursion cap through nested selections and fragment spreads. */
#define MAX_DEPTH 200
/* Distinct fragments spread into one selection level. */
#define MAX_FRAGMENTS 256

/* Whether @skip and @include keep a selection. */
static bool directives_keep(const struct exec *x, const struct graphql_directive *dirs,
                            size_t count)
{
    static const struct graphql_type boolean = {"Boolean", NULL, true};
    static const struct graphql_input_value if_arg[] = {{"if", &boolean, NULL}};
    bool keep = true;
    for (size_t i = 0; i < count; i++) {
        bool skip = strcmp(dirs[i].name, "skip") == 0;
        if (!skip && strcmp(dirs[i].name, "include") != 0)
            continue;
        cJSON *args =
            graphql_arguments_eval(x->schema, if_arg, 1, dirs[i].args, dirs[i].arg_count, x->vars);
        keep = keep && cJSON_IsTrue(cJSON_GetObjectItem(args, "if")) != skip;
        cJSON_Delete(args);
    }
    return keep;
}

/* Whether a fragment with type condition cond applies to an object of type type. */
static bool condition_applies(const struct exec *x, const char *cond,
                              const struct graphql_schema_type *type)
{
    const struct graphql_schema_type *t = cond ? graphql_schema_type_find(x->schema, cond) : NULL;
    return !cond || (t && graphql_schema_type_applies(t, type));
}

struct collector {
    const struct exec *x;
    const struct graphql_schema_type *type;
    struct exec_fields *out;
    const struct graphql_fragment *seen[MAX_FRAGMENTS];
    size_t seen_count;
};

static void collect(struct collector *c, const struct graphql_selection_set *set, int depth)
{
    for (size_t i = 0; set && depth < MAX_DEPTH && i < set->count; i++) {
        const struct graphql_selection *s = &set->items[i];
        const struct graphql_fragment *f = NULL;
        bool dup = false;
        if (!directives_keep(c->x, s->directives, s->directive_count))
            continue;
        if (s->kind == GRAPHQL_INLINE_FRAGMENT) {
            if (condition_applies(c->x, s->type_cond, c->type))
                collect(c, s->selections, depth + 1);
            continue;
        }
        if (s->kind == GRAPHQL_SPREAD) {
            f = graphql_fragment_find(c->x->doc, s->name);
            for (size_t k = 0; f && k < c->seen_count; k++)
                dup = dup || c->seen[k] == f;
            if (!f || dup || c->seen_count >= MAX_FRAGMENTS ||
                !condition_applies(c->x, f->type_cond, c->type))
                continue;
            c->seen[c->seen_count++] = f;
            collect(c, f->selections, depth + 1);
            continue;
        }
        const char *key = s->alias ? s->alias : s->name;
        struct exec_field *e = NULL;
        for (size_t k = 0; k < c->out->count && !e; k++)
            if (strcmp(c->out->items[k].key, key) == 0)
                e = &c->out->items[k];
        if (!e) {
            c->out->items = xrealloc(c->out->items, (c->out->count + 1) * sizeof(*e));
            e = &c->out->items[c->out->count++];
            *e = (struct exec_field){.key = key, .field = s};
        }
        if (s->selections) {
            e->subs = xrealloc(e->subs, (e->sub_count + 1) * sizeof(*e->subs));
            e->subs[e->sub_count++] = s->selections;
        }
    }
}

void exec_fields_collect(const struct exec *x, const struct graphql_schema_type *type,
                         const struct graphql_selection_set *const *sets, size_t set_count,
                         struct exec_fields *out)
{
    struct collector *c = xcalloc(1, sizeof(*c));
    *out = (struct exec_fields){0};
    c->x = x;
    c->type = type;
    c->out = out;
    for (size_t i = 0; i < set_count; i++)
        collect(c, sets[i], 0);
    free(c);
}

void exec_fields_cleanup(struct exec_fields *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->count; i++)
        free(f->items[i].subs);
    free(f->items);
    *f = (struct exec_fields){0};
}

cJSON *exec_arguments(const struct exec *x, const struct graphql_field *def,
                      const struct graphql_selection *field)
{
    return graphql_arguments_eval(x->schema, def->args, def->arg_count, field->args,
                                  field->arg_count, x->vars);
}

/* The position of the node whose id is the cursor, or -1. */
static int cursor_position(const cJSON *cursor, const cJSON *nodes)
{
    int k = 0;
    const cJSON *node;
    cJSON_ArrayForEach(node, nodes)
    {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(node, "id"));
        if (cJSON_IsString(cursor) && id && strcmp(id, cursor->valuestring) == 0)
            return k;
        k++;
    }
    return -1;
}

static int count_arg(const cJSON *args, const char *name)
{
    const cJSON *v = cJSON_GetObjectItem(args, name);
    return cJSON_IsNumber(v) && v->valuedouble >= 0 ? (int)v->valuedouble : -1;
}

/* An array of nodes as a connection, {edges: [{cursor, node}], pageInfo}, paged by the
 * first/after/last/before arguments; a node's cursor is its id. */
static cJSON *connection_build(const cJSON *args, const cJSON *nodes)
{
    int n = cJSON_GetArraySize(nodes), start = 0, end = n;
    int first = count_arg(args, "first"), last = count_arg(args, "last");
    int after = cursor_position(cJSON_GetObjectItem(args, "after"), nodes);
    int before = cursor_position(cJSON_GetObjectItem(args, "before"), nodes);
    cJSON *out = cJSON_CreateObject();
    cJSON *edges = cJSON_AddArrayToObject(out, "edges");
    cJSON *page = cJSON_AddObjectToObject(out, "pageInfo");
    const char *startc = NULL, *endc = NULL;
    if (after >= 0)
        start = after + 1;
    if (before >= 0 && before < end)
        end = before;
    end = end < start ? start : end;
    bool has_prev = start > 0, has_next = false;
    if (first >= 0 && end - start > first) {
        end = start + first;
        has_next = true;
    }
    if (last >= 0 && end - start > last) {
        start = end - last;
        has_prev = true;
    }
    for (int i = start; i < end; i++) {
        const cJSON *node = cJSON_GetArrayItem(nodes, i);
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(node, "id"));
        cJSON *edge = cJSON_CreateObject();
        cJSON_AddStringToObject(edge, "cursor", id ? id : "");
        cJSON_AddItemToObject(edge, "node", cJSON_Duplicate(node, true));
        cJSON_AddItemToArray(edges, edge);
        startc = startc ? startc : id;
        endc = id;
    }
    cJSON_AddBoolToObject(page, "hasNextPage", has_next);
    cJSON_AddBoolToObject(page, "hasPreviousPage", has_prev);
    cJSON_AddItemToObject(page, "startCursor",
                          startc ? cJSON_CreateString(startc) : cJSON_CreateNull());
    cJSON_AddItemToObject(page, "endCursor", endc ? cJSON_CreateString(endc) : cJSON_CreateNull());
    return out;
}

/* Introspection lists (fields, args, enumValues, inputFields) leave out deprecated entries
 * unless includeDeprecated is true: a new array of references to the kept items. */
static cJSON *deprecated_filter(const cJSON *args, const cJSON *list)
{
    bool all = cJSON_IsTrue(cJSON_GetObjectItem(args, "includeDeprecated"));
    cJSON *out = cJSON_CreateArray();
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
    {
        if (all || !cJSON_IsTrue(cJSON_GetObjectItem(it, "isDeprecated")))
            cJSON_AddItemReferenceToArray(out, (cJSON *)(uintptr_t)it);
    }
    return out;
}

static cJSON *complete(struct exec *x, const struct graphql_type *type,
                       const struct exec_field *field, const cJSON *args, const cJSON *src);

static cJSON *object_complete(struct exec *x, const struct graphql_schema_type *t,
                              const struct exec_field *field, const cJSON *src)
{
    struct exec_fields sub;
    cJSON *out = cJSON_CreateObject();
    exec_fields_collect(x, t, field->subs, field->sub_count, &sub);
    for (size_t i = 0; i < sub.count; i++) {
        const struct exec_field *f = &sub.items[i];
        const struct graphql_field *def = graphql_schema_field_find(x->schema, t, f->field->name);
        const cJSON *v = cJSON_GetObjectItem(src, f->field->name);
        cJSON *owned = NULL, *args = def ? exec_arguments(x, def, f->field) : NULL;
        if (strcmp(f->field->name, "__typename") == 0) {
            cJSON_AddItemToObject(out, f->key, cJSON_CreateString(t->name));
        } else if (!def || (!v && def->type->non_null)) {
            graphql_error_add(x->errors, f->field->line, f->field->column,
                              "railway-sim does not simulate %s.%s", t->name, f->field->name);
            cJSON_AddItemToObject(out, f->key, cJSON_CreateNull());
        } else {
            if (cJSON_IsArray(v) &&
                graphql_input_value_find(def->args, def->arg_count, "includeDeprecated"))
                v = owned = deprecated_filter(args, v);
            cJSON_AddItemToObject(out, f->key, complete(x, def->type, f, args, v));
        }
        cJSON_Delete(owned);
        cJSON_Delete(args);
    }
    exec_fields_cleanup(&sub);
    return out;
}

static cJSON *complete(struct exec *x, const struct graphql_type *type,
                       const struct exec_field *field, const cJSON *args, const cJSON *src)
{
    if (!src || cJSON_IsNull(src))
        return cJSON_CreateNull();
    if (type->of) {
        cJSON *out = cJSON_CreateArray();
        const cJSON *it;
        cJSON_ArrayForEach(it, src)
        {
            cJSON_AddItemToArray(out, complete(x, type->of, field, args, it));
        }
        return out;
    }
    const struct graphql_schema_type *t = graphql_schema_type_find(x->schema, type->name);
    if (!t || t->kind == GRAPHQL_KIND_SCALAR || t->kind == GRAPHQL_KIND_ENUM ||
        (!cJSON_IsObject(src) && !cJSON_IsArray(src)))
        return cJSON_Duplicate(src, true);
    if (cJSON_IsArray(src)) {
        /* An array where the schema wants an object: a connection, paged by the arguments. */
        cJSON *conn = connection_build(args, src);
        cJSON *out = object_complete(x, t, field, conn);
        cJSON_Delete(conn);
        return out;
    }
    /* An interface or a union: the object says what it is, else it is taken as the type. */
    const struct graphql_schema_type *runtime = graphql_schema_type_find(
        x->schema, cJSON_GetStringValue(cJSON_GetObjectItem(src, "__typename")));
    return object_complete(x, runtime ? runtime : t, field, src);
}

cJSON *exec_value_complete(struct exec *x, const struct graphql_type *type,
                           const struct exec_field *field, const cJSON *args, const cJSON *source)
{
    return complete(x, type, field, args, source);
}
