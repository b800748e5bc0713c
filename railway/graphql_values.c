/* The values a request brings: its variables coerced to the operation's definitions
 * (graphql-js 16's getVariableValues, with its messages), and the arguments of a field computed
 * from the literals written and the coerced variables. */
#include "railway/graphql_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TYPE_TEXT  128
#define VALUE_TEXT 256

struct cctx {
    const struct graphql_schema *s;
    cJSON *errors;
    const struct graphql_variable *var;
    char path[256]; /* where in the variable's value: ".input.source.repo", "[2]" */
};

/* A JSON value printed into out, cut to fit with "...". */
static const char *json_text(const cJSON *j, char out[VALUE_TEXT])
{
    char *p = cJSON_PrintUnformatted(j);
    snprintf(out, VALUE_TEXT, "%s", p ? p : "undefined");
    cJSON_free(p);
    if (strlen(out) == VALUE_TEXT - 1)
        memcpy(out + VALUE_TEXT - 4, "...", 4);
    return out;
}

static void cerr(struct cctx *c, const cJSON *bad, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void cerr(struct cctx *c, const cJSON *bad, const char *fmt, ...)
{
    char msg[512], shown[VALUE_TEXT];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    graphql_error_add(c->errors, c->var->line, c->var->column,
                      "Variable \"$%s\" got invalid value %s%s%s%s%s; %s", c->var->name,
                      json_text(bad, shown), c->path[0] ? " at \"" : "",
                      c->path[0] ? c->var->name : "", c->path, c->path[0] ? "\"" : "", msg);
}

static cJSON *coerce(struct cctx *c, const cJSON *v, const struct graphql_type *type);

/* coerce() one level down: at path + ".name", or path + "[index]" when name is NULL. */
static cJSON *coerce_at(struct cctx *c, const cJSON *v, const struct graphql_type *type,
                        const char *name, int index)
{
    size_t len = strlen(c->path);
    if (name)
        snprintf(c->path + len, sizeof(c->path) - len, ".%s", name);
    else
        snprintf(c->path + len, sizeof(c->path) - len, "[%d]", index);
    cJSON *out = coerce(c, v, type);
    c->path[len] = '\0';
    return out;
}

static cJSON *literal_json(const struct graphql_schema *s, const struct graphql_value *v,
                           const struct graphql_type *type, const cJSON *vars);

static cJSON *coerce_input_object(struct cctx *c, const cJSON *v,
                                  const struct graphql_schema_type *t)
{
    char ts[TYPE_TEXT];
    if (!cJSON_IsObject(v)) {
        cerr(c, v, "Expected type \"%s\" to be an object.", t->name);
        return NULL;
    }
    cJSON *out = cJSON_CreateObject();
    for (size_t i = 0; i < t->input_field_count; i++) {
        const struct graphql_input_value *f = &t->input_fields[i];
        const cJSON *fv = cJSON_GetObjectItemCaseSensitive(v, f->name);
        cJSON *item = NULL;
        if (fv)
            item = coerce_at(c, fv, f->type, f->name, 0);
        else if (f->default_value)
            item = literal_json(c->s, f->default_value, f->type, NULL);
        else if (f->type->non_null)
            cerr(c, v, "Field \"%s\" of required type \"%s\" was not provided.", f->name,
                 (graphql_type_print(f->type, ts, sizeof(ts)), ts));
        if (item)
            cJSON_AddItemToObject(out, f->name, item);
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        if (!graphql_input_value_find(t->input_fields, t->input_field_count, it->string))
            cerr(c, v, "Field \"%s\" is not defined by type \"%s\".", it->string, t->name);
    }
    return out;
}

static cJSON *coerce_leaf(struct cctx *c, const cJSON *v, const struct graphql_schema_type *t)
{
    char shown[VALUE_TEXT];
    const char *name = t->name;
    double d = cJSON_GetNumberValue(v);
    bool integer = cJSON_IsNumber(v) && floor(d) == d;
    json_text(v, shown);
    if (t->kind == GRAPHQL_KIND_ENUM) {
        for (size_t i = 0; cJSON_IsString(v) && i < t->enum_value_count; i++)
            if (strcmp(t->enum_values[i], v->valuestring) == 0)
                return cJSON_CreateString(v->valuestring);
        if (cJSON_IsString(v))
            cerr(c, v, "Value \"%s\" does not exist in \"%s\" enum.", v->valuestring, name);
        else
            cerr(c, v, "Enum \"%s\" cannot represent non-string value: %s.", name, shown);
    } else if (strcmp(name, "String") == 0 && !cJSON_IsString(v)) {
        cerr(c, v, "String cannot represent a non string value: %s", shown);
    } else if (strcmp(name, "Int") == 0 && !integer) {
        cerr(c, v, "Int cannot represent non-integer value: %s", shown);
    } else if (strcmp(name, "Int") == 0 && (d < -2147483648.0 || d > 2147483647.0)) {
        cerr(c, v, "Int cannot represent non 32-bit signed integer value: %s", shown);
    } else if (strcmp(name, "Float") == 0 && !cJSON_IsNumber(v)) {
        cerr(c, v, "Float cannot represent non numeric value: %s", shown);
    } else if (strcmp(name, "Boolean") == 0 && !cJSON_IsBool(v)) {
        cerr(c, v, "Boolean cannot represent a non boolean value: %s", shown);
    } else if (strcmp(name, "ID") == 0 && integer) {
        return cJSON_CreateString(shown);
    } else if (strcmp(name, "ID") == 0 && !cJSON_IsString(v)) {
        cerr(c, v, "ID cannot represent value: %s", shown);
    } else {
        return cJSON_Duplicate(v, true); /* custom scalars take any value */
    }
    return NULL;
}

static cJSON *coerce(struct cctx *c, const cJSON *v, const struct graphql_type *type)
{
    char ts[TYPE_TEXT];
    if (type->non_null && (!v || cJSON_IsNull(v))) {
        graphql_type_print(type, ts, sizeof(ts));
        cerr(c, v, "Expected non-nullable type \"%s\" not to be null.", ts);
        return NULL;
    }
    if (!v || cJSON_IsNull(v))
        return cJSON_CreateNull();
    if (type->of && !cJSON_IsArray(v)) {
        cJSON *one = coerce(c, v, type->of);
        cJSON *out = cJSON_CreateArray();
        if (one)
            cJSON_AddItemToArray(out, one);
        return out;
    }
    if (type->of) {
        cJSON *out = cJSON_CreateArray();
        int i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, v)
        {
            cJSON *x = coerce_at(c, it, type->of, NULL, i++);
            cJSON_AddItemToArray(out, x ? x : cJSON_CreateNull());
        }
        return out;
    }
    const struct graphql_schema_type *t = graphql_schema_type_find(c->s, type->name);
    if (!t)
        return cJSON_Duplicate(v, true);
    return t->kind == GRAPHQL_KIND_INPUT_OBJECT ? coerce_input_object(c, v, t)
                                                : coerce_leaf(c, v, t);
}

int graphql_variables_coerce(const struct graphql_schema *s, const struct graphql_operation *op,
                             const cJSON *values, cJSON **out, cJSON *errors)
{
    int before = cJSON_GetArraySize(errors);
    char ts[TYPE_TEXT];
    *out = cJSON_CreateObject();
    for (size_t i = 0; i < op->variable_count; i++) {
        const struct graphql_variable *d = &op->variables[i];
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(values, d->name);
        struct cctx c = {.s = s, .errors = errors, .var = d};
        cJSON *x = NULL;
        graphql_type_print(d->type, ts, sizeof(ts));
        if (!v && d->default_value)
            x = literal_json(s, d->default_value, d->type, NULL);
        else if (!v && d->type->non_null)
            graphql_error_add(errors, d->line, d->column,
                              "Variable \"$%s\" of required type \"%s\" was not provided.", d->name,
                              ts);
        else if (cJSON_IsNull(v) && d->type->non_null)
            graphql_error_add(errors, d->line, d->column,
                              "Variable \"$%s\" of non-null type \"%s\" must not be null.", d->name,
                              ts);
        else if (v)
            x = coerce(&c, v, d->type);
        if (x)
            cJSON_AddItemToObject(*out, d->name, x);
    }
    return cJSON_GetArraySize(errors) - before;
}

/* The JSON of a literal where type (NULL: unknown) is expected, variables taken from vars;
 * NULL for a variable vars lacks. */
static cJSON *literal_json(const struct graphql_schema *s, const struct graphql_value *v,
                           const struct graphql_type *type, const cJSON *vars)
{
    const struct graphql_schema_type *t =
        type && !type->of ? graphql_schema_type_find(s, type->name) : NULL;
    cJSON *out = NULL;
    if (!v)
        return NULL;
    if (v->kind == GRAPHQL_VARIABLE) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(vars, v->text);
        return x ? cJSON_Duplicate(x, true) : NULL;
    }
    if (type && type->of && v->kind != GRAPHQL_LIST && v->kind != GRAPHQL_NULL) {
        cJSON *one = literal_json(s, v, type->of, vars);
        out = cJSON_CreateArray();
        cJSON_AddItemToArray(out, one ? one : cJSON_CreateNull());
        return out;
    }
    switch (v->kind) {
    case GRAPHQL_INT:
        return t && strcmp(t->name, "ID") == 0 ? cJSON_CreateString(v->text)
                                               : cJSON_CreateNumber(strtod(v->text, NULL));
    case GRAPHQL_FLOAT:
        return cJSON_CreateNumber(strtod(v->text, NULL));
    case GRAPHQL_STRING:
    case GRAPHQL_ENUM:
        return cJSON_CreateString(v->text);
    case GRAPHQL_BOOLEAN:
        return cJSON_CreateBool(v->boolean);
    case GRAPHQL_LIST:
        out = cJSON_CreateArray();
        for (size_t i = 0; i < v->count; i++) {
            cJSON *x = literal_json(s, v->items[i].value, type ? type->of : NULL, vars);
            cJSON_AddItemToArray(out, x ? x : cJSON_CreateNull());
        }
        return out;
    case GRAPHQL_OBJECT:
        out = cJSON_CreateObject();
        for (size_t i = 0; t && t->kind == GRAPHQL_KIND_INPUT_OBJECT && i < t->input_field_count;
             i++) {
            const struct graphql_input_value *f = &t->input_fields[i];
            cJSON *x = NULL;
            for (size_t k = 0; k < v->count && !x; k++)
                if (strcmp(v->items[k].name, f->name) == 0)
                    x = literal_json(s, v->items[k].value, f->type, vars);
            if (!x && f->default_value)
                x = literal_json(s, f->default_value, f->type, NULL);
            if (x)
                cJSON_AddItemToObject(out, f->name, x);
        }
        for (size_t k = 0; (!t || t->kind != GRAPHQL_KIND_INPUT_OBJECT) && k < v->count; k++) {
            cJSON *x = literal_json(s, v->items[k].value, NULL, vars);
            cJSON_AddItemToObject(out, v->items[k].name, x ? x : cJSON_CreateNull());
        }
        return out;
    case GRAPHQL_NULL:
    case GRAPHQL_VARIABLE:
        break;
    }
    return cJSON_CreateNull();
}

cJSON *graphql_arguments_eval(const struct graphql_schema *s,
                              const struct graphql_input_value *defs, size_t def_count,
                              const struct graphql_argument *args, size_t arg_count,
                              const cJSON *vars)
{
    cJSON *out = cJSON_CreateObject();
    for (size_t i = 0; i < def_count; i++) {
        const struct graphql_input_value *d = &defs[i];
        cJSON *x = NULL;
        for (size_t k = 0; k < arg_count && !x; k++)
            if (strcmp(args[k].name, d->name) == 0)
                x = literal_json(s, args[k].value, d->type, vars);
        if (!x && d->default_value)
            x = literal_json(s, d->default_value, d->type, NULL);
        if (x)
            cJSON_AddItemToObject(out, d->name, x);
    }
    return out;
}
