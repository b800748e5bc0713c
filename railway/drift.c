/* Schema drift: each embedded document validated against the live schema with the GraphQL
 * module, and the input fields its "# input-fields:" comments name checked against the live
 * input types. */
#include "railway/drift.h"

#include "railway/graphql.h"
#include "railway/railway.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANNOTATION "# input-fields:"
#define MAX_DEPTH  16

struct drift {
    const struct graphql_schema *s;
    const char *file;
    const struct graphql_operation *op;
    cJSON *findings;
};

/* One finding per GraphQL error of the list. */
static void findings_add(const struct drift *d, const cJSON *errors, const char *severity)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, errors)
    {
        const cJSON *loc = cJSON_GetArrayItem(cJSON_GetObjectItem(e, "locations"), 0);
        char path[32] = "document";
        if (loc)
            snprintf(path, sizeof(path), "line %d",
                     (int)cJSON_GetNumberValue(cJSON_GetObjectItem(loc, "line")));
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "document", d->file);
        cJSON_AddStringToObject(f, "operation", d->op->name ? d->op->name : "(anonymous)");
        cJSON_AddStringToObject(f, "path", path);
        cJSON_AddStringToObject(f, "problem",
                                cJSON_GetStringValue(cJSON_GetObjectItem(e, "message")));
        cJSON_AddStringToObject(f, "severity", severity);
        cJSON_AddItemToArray(d->findings, f);
    }
}

/* The input fields of type t named by an annotation (a selection set of names) against the
 * live type, in graphql-js's words for the variables railhook will send. */
static void input_fields_check(const struct drift *d, const struct graphql_schema_type *t,
                               const struct graphql_selection_set *set, int line, int depth,
                               cJSON *errors)
{
    char ts[128];
    if (t->kind != GRAPHQL_KIND_INPUT_OBJECT || depth > MAX_DEPTH) {
        graphql_error_add(errors, line, 1, "Type \"%s\" is not an input object type.", t->name);
        return;
    }
    for (size_t i = 0; set && i < set->count; i++) {
        const struct graphql_selection *s = &set->items[i];
        const struct graphql_input_value *f =
            graphql_input_value_find(t->input_fields, t->input_field_count, s->name);
        const struct graphql_schema_type *ft = f ? graphql_schema_type_of(d->s, f->type) : NULL;
        if (!f)
            graphql_error_add(errors, line, 1, "Field \"%s\" is not defined by type \"%s\".",
                              s->name, t->name);
        else if (s->selections && ft)
            input_fields_check(d, ft, s->selections, line, depth + 1, errors);
    }
    for (size_t k = 0; k < t->input_field_count; k++) {
        const struct graphql_input_value *f = &t->input_fields[k];
        bool named = false;
        for (size_t i = 0; set && i < set->count; i++)
            named = named || strcmp(set->items[i].name, f->name) == 0;
        graphql_type_print(f->type, ts, sizeof(ts));
        if (!named && f->type->non_null && !f->default_value)
            graphql_error_add(errors, line, 1,
                              "Field \"%s.%s\" of required type \"%s\" was not provided.", t->name,
                              f->name, ts);
    }
}

/* One annotation, "Type { a b { c } }" (text), found on line. */
static enum rh_status annotation_check(const struct drift *d, const char *text, int line,
                                       cJSON *errors, char *err, size_t errlen)
{
    struct graphql_document fields;
    enum rh_status st = RH_INVALID;
    const char *p = text + strspn(text, " \t");
    size_t n = strcspn(p, " \t{\n");
    char *type = xstrndup(p, n);
    const char *rest = p + n;
    if (graphql_document_parse(&fields, rest, strcspn(rest, "\n")) != RH_OK || n == 0 ||
        fields.operation_count != 1 || fields.fragment_count != 0) {
        snprintf(err, errlen, "%s:%d: an input-fields comment must read \"Type { field ... }\"",
                 d->file, line);
        goto out;
    }
    bool used = false;
    for (size_t i = 0; i < d->op->variable_count; i++)
        used = used || strcmp(graphql_type_name(d->op->variables[i].type), type) == 0;
    const struct graphql_schema_type *t = graphql_schema_type_find(d->s, type);
    if (!used)
        graphql_error_add(errors, line, 1,
                          "The input-fields comment names type \"%s\", which no variable of the "
                          "operation has.",
                          type);
    else if (!t)
        graphql_error_add(errors, line, 1, "Unknown type \"%s\".", type);
    else
        input_fields_check(d, t, fields.operations[0].selections, line, 0, errors);
    st = RH_OK;
out:
    graphql_document_cleanup(&fields);
    free(type);
    return st;
}

static enum rh_status document_check(const struct graphql_schema *s, const char *file,
                                     const char *text, cJSON *findings, char *err, size_t errlen)
{
    struct graphql_document doc;
    cJSON *errors = cJSON_CreateArray(), *warnings = cJSON_CreateArray();
    enum rh_status st = RH_INVALID;
    if (graphql_document_parse(&doc, text, strlen(text)) != RH_OK) {
        snprintf(err, errlen, "%s:%d:%d: %s", file, doc.error_line, doc.error_column, doc.error);
        goto out;
    }
    if (doc.operation_count != 1) {
        snprintf(err, errlen, "%s: expected exactly one operation", file);
        goto out;
    }
    struct drift d = {.s = s, .file = file, .op = &doc.operations[0], .findings = findings};
    graphql_document_validate(s, &doc, errors, warnings);
    st = RH_OK;
    int line = 1;
    for (const char *p = text; *p && st == RH_OK; line++) {
        const char *q = p + strspn(p, " \t");
        if (strncmp(q, ANNOTATION, strlen(ANNOTATION)) == 0)
            st = annotation_check(&d, q + strlen(ANNOTATION), line, errors, err, errlen);
        p += strcspn(p, "\n");
        p += *p == '\n';
    }
    if (st == RH_OK) {
        findings_add(&d, errors, "error");
        findings_add(&d, warnings, "warning");
    }
out:
    graphql_document_cleanup(&doc);
    cJSON_Delete(errors);
    cJSON_Delete(warnings);
    return st;
}

enum rh_status railway_drift_document(const cJSON *schema, const char *file, const char *text,
                                      cJSON *findings, char *err, size_t errlen)
{
    struct graphql_schema s;
    enum rh_status st = graphql_schema_load(&s, schema, err, errlen);
    if (st == RH_OK)
        st = document_check(&s, file, text, findings, err, errlen);
    graphql_schema_cleanup(&s);
    return st;
}

struct drift_all {
    const struct graphql_schema *s;
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
    d->st = document_check(d->s, file, text, d->findings, d->err, d->errlen);
    d->documents += d->st == RH_OK;
}

enum rh_status railway_drift_all(const cJSON *schema, cJSON *findings, int *documents, char *err,
                                 size_t errlen)
{
    struct graphql_schema s;
    struct drift_all d = {.s = &s, .findings = findings, .err = err, .errlen = errlen};
    d.st = graphql_schema_load(&s, schema, err, errlen);
    if (d.st == RH_OK)
        railway_op_each(on_document, &d);
    graphql_schema_cleanup(&s);
    *documents = d.documents;
    return d.st;
}
