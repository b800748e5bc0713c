/* intro: __schema and __type, answered from the schema snapshot less the fields the drop list
 * (drop_schema_field) hides, to show schema drift. */
#include <stdio.h>
#include <string.h>

#include "sim.h"
#include "state.h"

static void list_drop_named(cJSON *list, const char *name)
{
    cJSON *it = list ? list->child : NULL;

    while (it != NULL) {
        cJSON *next = it->next;
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");

        if (cJSON_IsString(nm) && strcmp(nm->valuestring, name) == 0)
            cJSON_Delete(cJSON_DetachItemViaPointer(list, it));
        it = next;
    }
}

/* Applies the drop list to one type of the schema (a copy the caller owns). */
static void type_apply_drops(const struct sim *s, cJSON *type)
{
    const cJSON *tn = cJSON_GetObjectItemCaseSensitive(type, "name");

    if (!cJSON_IsString(tn))
        return;
    for (size_t i = 0; i < s->config.drop_count; i++) {
        const char *spec = s->config.drop_schema[i];
        size_t tl = strcspn(spec, ".");
        char field[256], arg[256];
        const char *rest;

        if (strlen(tn->valuestring) != tl || strncmp(spec, tn->valuestring, tl) != 0 ||
            spec[tl] != '.')
            continue;
        rest = spec + tl + 1;
        snprintf(field, sizeof(field), "%.*s", (int)strcspn(rest, "."), rest);
        if (rest[strlen(field)] == '\0') {
            list_drop_named(cJSON_GetObjectItemCaseSensitive(type, "fields"), field);
            list_drop_named(cJSON_GetObjectItemCaseSensitive(type, "inputFields"), field);
            list_drop_named(cJSON_GetObjectItemCaseSensitive(type, "enumValues"), field);
            continue;
        }
        snprintf(arg, sizeof(arg), "%s", rest + strlen(field) + 1);
        cJSON *fields = cJSON_GetObjectItemCaseSensitive(type, "fields");
        cJSON *f;

        cJSON_ArrayForEach(f, fields)
        {
            const cJSON *fn = cJSON_GetObjectItemCaseSensitive(f, "name");

            if (cJSON_IsString(fn) && strcmp(fn->valuestring, field) == 0)
                list_drop_named(cJSON_GetObjectItemCaseSensitive(f, "args"), arg);
        }
    }
}

/* Whether the drop list removes the whole type. */
static bool type_dropped(const struct sim *s, const char *name)
{
    for (size_t i = 0; i < s->config.drop_count; i++)
        if (strcmp(s->config.drop_schema[i], name) == 0)
            return true;
    return false;
}

int sim_intro_schema_resolve(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    cJSON *copy, *types, *t;

    (void)args;
    (void)err;
    (void)n;
    copy = cJSON_Duplicate(s->schema, true);
    types = cJSON_GetObjectItemCaseSensitive(copy, "types");
    t = types ? types->child : NULL;
    while (t != NULL) {
        cJSON *next = t->next;
        const cJSON *tn = cJSON_GetObjectItemCaseSensitive(t, "name");

        if (cJSON_IsString(tn) && type_dropped(s, tn->valuestring))
            cJSON_Delete(cJSON_DetachItemViaPointer(types, t));
        else
            type_apply_drops(s, t);
        t = next;
    }
    *out = copy;
    return 0;
}

int sim_intro_type_resolve(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    const char *name = sim_arg_str(args, "name");
    const cJSON *t;

    (void)err;
    (void)n;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(s->schema, "types"))
    {
        const cJSON *tn = cJSON_GetObjectItemCaseSensitive(t, "name");

        if (name != NULL && cJSON_IsString(tn) && strcmp(tn->valuestring, name) == 0) {
            if (!type_dropped(s, name)) {
                *out = cJSON_Duplicate(t, true);
                type_apply_drops(s, *out);
            }
            return 0;
        }
    }
    return 0; /* an unknown type is null, not an error */
}
