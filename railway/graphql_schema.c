/* GraphQL schemas: built once from an introspection answer into name-sorted arrays in an
 * arena, then looked up by name. */
#include "railway/graphql_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deepest type reference read ([[[T!]!]!] is 6). */
#define TYPE_REF_DEPTH 16

/* The directives every GraphQL service has, for an introspection answer that leaves them out. */
static const char BUILTIN_DIRECTIVES[] =
    "[{\"name\":\"include\",\"locations\":[\"FIELD\",\"FRAGMENT_SPREAD\",\"INLINE_FRAGMENT\"],"
    "\"args\":[{\"name\":\"if\",\"type\":{\"kind\":\"NON_NULL\",\"ofType\":{\"kind\":\"SCALAR\","
    "\"name\":\"Boolean\"}}}]},"
    "{\"name\":\"skip\",\"locations\":[\"FIELD\",\"FRAGMENT_SPREAD\",\"INLINE_FRAGMENT\"],"
    "\"args\":[{\"name\":\"if\",\"type\":{\"kind\":\"NON_NULL\",\"ofType\":{\"kind\":\"SCALAR\","
    "\"name\":\"Boolean\"}}}]}]";

static const char *const kind_names[] = {
    [GRAPHQL_KIND_SCALAR] = "SCALAR",       [GRAPHQL_KIND_OBJECT] = "OBJECT",
    [GRAPHQL_KIND_INTERFACE] = "INTERFACE", [GRAPHQL_KIND_UNION] = "UNION",
    [GRAPHQL_KIND_ENUM] = "ENUM",           [GRAPHQL_KIND_INPUT_OBJECT] = "INPUT_OBJECT",
};

struct loader {
    struct graphql_arena **arena;
    char *err;
    size_t errlen;
    bool failed;
};

static void load_fail(struct loader *l, const char *what, const char *name)
{
    if (!l->failed)
        snprintf(l->err, l->errlen, "the introspection answer has %s%s%s", what, name ? " in " : "",
                 name ? name : "");
    l->failed = true;
}

static const char *str_of(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *keep(struct loader *l, const char *s)
{
    return s ? graphql_arena_strndup(l->arena, s, strlen(s)) : NULL;
}

static int by_name(const void *a, const void *b)
{
    /* Every element sorted here starts with its name. */
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const struct graphql_type *load_type_ref(struct loader *l, const cJSON *t, const char *where,
                                                int depth)
{
    const char *kind = str_of(t, "kind");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(t, "ofType");
    if (!kind || depth > TYPE_REF_DEPTH) {
        load_fail(l, "a type reference without kind", where);
        return NULL;
    }
    struct graphql_type *out = graphql_arena_alloc(l->arena, sizeof(*out));
    if (strcmp(kind, "NON_NULL") == 0) {
        const struct graphql_type *inner = load_type_ref(l, of, where, depth + 1);
        if (inner)
            *out = *inner;
        out->non_null = true;
    } else if (strcmp(kind, "LIST") == 0) {
        out->of = load_type_ref(l, of, where, depth + 1);
    } else if (!(out->name = keep(l, str_of(t, "name")))) {
        load_fail(l, "a named type reference without name", where);
    }
    return out;
}

static const struct graphql_input_value *load_input_values(struct loader *l, const cJSON *list,
                                                           const char *where, size_t *count)
{
    struct graphql_input_value *out =
        graphql_arena_alloc(l->arena, sizeof(*out) * (size_t)cJSON_GetArraySize(list));
    size_t n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
    {
        struct graphql_input_value *v = &out[n++];
        const char *def = str_of(it, "defaultValue");
        if (!(v->name = keep(l, str_of(it, "name"))))
            load_fail(l, "an argument or input field without name", where);
        v->type = load_type_ref(l, cJSON_GetObjectItemCaseSensitive(it, "type"), where, 0);
        if (def && !(v->default_value = graphql_value_parse(l->arena, def)))
            load_fail(l, "a default value that is not a GraphQL value", where);
    }
    if (!l->failed)
        qsort(out, n, sizeof(*out), by_name);
    *count = n;
    return out;
}

/* The "name" of each element of list, sorted. */
static const char *const *load_names(struct loader *l, const cJSON *list, const char *key,
                                     size_t *count)
{
    const char **out =
        graphql_arena_alloc(l->arena, sizeof(*out) * (size_t)cJSON_GetArraySize(list));
    size_t n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
    {
        const char *name = key ? str_of(it, key) : cJSON_GetStringValue(it);
        if (name)
            out[n++] = keep(l, name);
    }
    qsort(out, n, sizeof(*out), by_name);
    *count = n;
    return out;
}

static void load_type(struct loader *l, const cJSON *t, struct graphql_schema_type *out)
{
    const char *kind = str_of(t, "kind");
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(t, "fields");
    out->name = keep(l, str_of(t, "name"));
    if (!out->name) {
        load_fail(l, "a type without name", NULL);
        return;
    }
    size_t k = 0;
    while (k < sizeof(kind_names) / sizeof(kind_names[0]) &&
           strcmp(kind_names[k], kind ? kind : ""))
        k++;
    if (k == sizeof(kind_names) / sizeof(kind_names[0]))
        load_fail(l, "an unknown kind of type", out->name);
    out->kind = (enum graphql_kind)k;
    struct graphql_field *f =
        graphql_arena_alloc(l->arena, sizeof(*f) * (size_t)cJSON_GetArraySize(fields));
    const cJSON *it;
    cJSON_ArrayForEach(it, fields)
    {
        struct graphql_field *d = &f[out->field_count++];
        if (!(d->name = keep(l, str_of(it, "name"))))
            load_fail(l, "a field without name", out->name);
        d->type = load_type_ref(l, cJSON_GetObjectItemCaseSensitive(it, "type"), out->name, 0);
        d->args = load_input_values(l, cJSON_GetObjectItemCaseSensitive(it, "args"), out->name,
                                    &d->arg_count);
        d->deprecated = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "isDeprecated"));
        d->deprecation_reason = keep(l, str_of(it, "deprecationReason"));
    }
    if (!l->failed)
        qsort(f, out->field_count, sizeof(*f), by_name);
    out->fields = f;
    out->input_fields = load_input_values(l, cJSON_GetObjectItemCaseSensitive(t, "inputFields"),
                                          out->name, &out->input_field_count);
    out->enum_values = load_names(l, cJSON_GetObjectItemCaseSensitive(t, "enumValues"), "name",
                                  &out->enum_value_count);
    out->possible_types = load_names(l, cJSON_GetObjectItemCaseSensitive(t, "possibleTypes"),
                                     "name", &out->possible_type_count);
}

static void load_directives(struct loader *l, struct graphql_schema *s, const cJSON *list)
{
    struct graphql_directive_def *d =
        graphql_arena_alloc(l->arena, sizeof(*d) * (size_t)cJSON_GetArraySize(list));
    const cJSON *it;
    cJSON_ArrayForEach(it, list)
    {
        struct graphql_directive_def *def = &d[s->directive_count++];
        if (!(def->name = keep(l, str_of(it, "name"))))
            load_fail(l, "a directive without name", NULL);
        def->locations = load_names(l, cJSON_GetObjectItemCaseSensitive(it, "locations"), NULL,
                                    &def->location_count);
        def->args = load_input_values(l, cJSON_GetObjectItemCaseSensitive(it, "args"), def->name,
                                      &def->arg_count);
    }
    if (!l->failed)
        qsort(d, s->directive_count, sizeof(*d), by_name);
    s->directives = d;
}

static const struct graphql_schema_type *root(const struct graphql_schema *s,
                                              const cJSON *introspection, const char *key)
{
    const char *name = str_of(cJSON_GetObjectItemCaseSensitive(introspection, key), "name");
    return name ? graphql_schema_type_find(s, name) : NULL;
}

enum rh_status graphql_schema_load(struct graphql_schema *s, const cJSON *introspection, char *err,
                                   size_t errlen)
{
    struct loader l = {.arena = &s->arena, .err = err, .errlen = errlen};
    const cJSON *types = cJSON_GetObjectItemCaseSensitive(introspection, "types");
    const cJSON *directives = cJSON_GetObjectItemCaseSensitive(introspection, "directives");
    cJSON *builtin = NULL;
    memset(s, 0, sizeof(*s));
    if (!cJSON_IsArray(types)) {
        load_fail(&l, "no types", NULL);
        goto out;
    }
    struct graphql_schema_type *t =
        graphql_arena_alloc(&s->arena, sizeof(*t) * (size_t)cJSON_GetArraySize(types));
    const cJSON *it;
    cJSON_ArrayForEach(it, types)
    {
        load_type(&l, it, &t[s->type_count++]);
    }
    if (l.failed)
        goto out;
    qsort(t, s->type_count, sizeof(*t), by_name);
    s->types = t;
    if (!cJSON_IsArray(directives))
        directives = builtin = cJSON_Parse(BUILTIN_DIRECTIVES);
    load_directives(&l, s, directives);
    s->query = root(s, introspection, "queryType");
    s->mutation = root(s, introspection, "mutationType");
    s->subscription = root(s, introspection, "subscriptionType");
out:
    cJSON_Delete(builtin);
    return l.failed ? RH_INVALID : RH_OK;
}

void graphql_schema_cleanup(struct graphql_schema *s)
{
    if (!s)
        return;
    graphql_arena_free(&s->arena);
    memset(s, 0, sizeof(*s));
}

const struct graphql_schema_type *graphql_schema_type_find(const struct graphql_schema *s,
                                                           const char *name)
{
    if (!name || !s->types)
        return NULL;
    return bsearch(&name, s->types, s->type_count, sizeof(*s->types), by_name);
}

const struct graphql_schema_type *graphql_schema_type_of(const struct graphql_schema *s,
                                                         const struct graphql_type *t)
{
    return graphql_schema_type_find(s, graphql_type_name(t));
}

const struct graphql_schema_type *graphql_schema_root(const struct graphql_schema *s,
                                                      enum graphql_operation_kind kind)
{
    return kind == GRAPHQL_QUERY      ? s->query
           : kind == GRAPHQL_MUTATION ? s->mutation
                                      : s->subscription;
}

const struct graphql_input_value *graphql_input_value_find(const struct graphql_input_value *list,
                                                           size_t count, const char *name)
{
    return list ? bsearch(&name, list, count, sizeof(*list), by_name) : NULL;
}

/* The meta-fields GraphQL adds to every composite type (__typename) and to the query root. */
static const struct graphql_type string_nn = {"String", NULL, true};
static const struct graphql_type schema_nn = {"__Schema", NULL, true};
static const struct graphql_type type_ref = {"__Type", NULL, false};
static const struct graphql_input_value type_args[] = {{"name", &string_nn, NULL}};
static const struct graphql_field meta_typename = {"__typename", &string_nn, NULL, 0, false, NULL};
static const struct graphql_field meta_schema = {"__schema", &schema_nn, NULL, 0, false, NULL};
static const struct graphql_field meta_type = {"__type", &type_ref, type_args, 1, false, NULL};

const struct graphql_field *graphql_schema_field_find(const struct graphql_schema *s,
                                                      const struct graphql_schema_type *t,
                                                      const char *name)
{
    if (strcmp(name, "__typename") == 0)
        return &meta_typename;
    if (t == s->query && strcmp(name, "__schema") == 0)
        return &meta_schema;
    if (t == s->query && strcmp(name, "__type") == 0)
        return &meta_type;
    if (!t->fields)
        return NULL;
    return bsearch(&name, t->fields, t->field_count, sizeof(*t->fields), by_name);
}

bool graphql_schema_type_applies(const struct graphql_schema_type *cond,
                                 const struct graphql_schema_type *object)
{
    return cond == object ||
           (cond->possible_types &&
            bsearch(&object->name, cond->possible_types, cond->possible_type_count,
                    sizeof(*cond->possible_types), by_name));
}
