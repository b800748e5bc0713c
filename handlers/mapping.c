/* Webhook payloads to queue jobs: the rules, the shared helpers and the Supabase mapping
 * (handlers/mapping_github.c maps GitHub pushes). */
#include "handlers/mapping_int.h"

#include "flows/variables.h"
#include "util/util.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_COLUMN        128
#define MAX_EXACT_INTEGER 9007199254740992.0 /* 2^53: beyond it a JSON number loses digits */

void mapping_set_invalid(struct mapping_result *res, const char *field, const char *fmt, ...)
{
    va_list ap;
    res->outcome = MAPPING_INVALID;
    snprintf(res->field, sizeof(res->field), "%s", field);
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof(res->message), fmt, ap);
    va_end(ap);
}

void mapping_set_ignored(struct mapping_result *res, const char *fmt, ...)
{
    va_list ap;
    res->outcome = MAPPING_IGNORED;
    va_start(ap, fmt);
    vsnprintf(res->reason, sizeof(res->reason), fmt, ap);
    va_end(ap);
}

void mapping_result_init(struct mapping_result *res)
{
    memset(res, 0, sizeof(*res));
    res->outcome = MAPPING_IGNORED;
}

void mapping_result_free(struct mapping_result *res)
{
    for (size_t i = 0; i < res->njobs; i++) {
        cJSON_Delete(res->jobs[i].payload);
        free(res->jobs[i].dedupe_key);
        free(res->jobs[i].active_key);
        free(res->jobs[i].service_name);
    }
    free(res->jobs);
    res->jobs = NULL;
    res->njobs = 0;
    cJSON_Delete(res->redeploy);
    res->redeploy = NULL;
}

void mapping_columns_free(char **columns, size_t n)
{
    for (size_t i = 0; columns && i < n; i++)
        free(columns[i]);
    free(columns);
}

static void column_add(char ***cols, size_t *n, const char *name, size_t len)
{
    for (size_t i = 0; i < *n; i++)
        if (strlen((*cols)[i]) == len && memcmp((*cols)[i], name, len) == 0)
            return;
    *cols = xrealloc(*cols, (*n + 1) * sizeof(**cols));
    (*cols)[(*n)++] = xstrndup(name, len);
}

/* Walks the {column} placeholders of a service name template; false on an unclosed or empty
 * placeholder. fn (may be NULL) sees each column name. */
static bool name_placeholders(const char *tmpl, void (*fn)(void *ud, const char *name, size_t len),
                              void *ud)
{
    const char *p = tmpl;
    while ((p = strchr(p, '{')) != NULL) {
        const char *end = strchr(p, '}');
        size_t len = end ? (size_t)(end - p - 1) : 0;
        if (!end || len == 0 || len > MAX_COLUMN || memchr(p + 1, '{', len))
            return false;
        if (fn)
            fn(ud, p + 1, len);
        p = end + 1;
    }
    return true;
}

struct column_list {
    char ***cols;
    size_t *n;
};

static void on_name_column(void *ud, const char *name, size_t len)
{
    struct column_list *l = ud;
    column_add(l->cols, l->n, name, len);
}

enum rh_status mapping_template_columns(const struct config *cfg, char ***columns, size_t *n,
                                        char *err, size_t errlen)
{
    enum rh_status st = RH_INVALID;
    cJSON *templates = NULL;
    cJSON *names = NULL;
    const cJSON *c;
    struct column_list list = {columns, n};

    *columns = NULL;
    *n = 0;
    templates = variables_templates_load(cfg, err, errlen);
    if (!templates)
        goto out;
    names = variables_template_columns(templates);
    cJSON_ArrayForEach(c, names)
    {
        if (cJSON_IsString(c))
            column_add(columns, n, c->valuestring, strlen(c->valuestring));
    }
    column_add(columns, n, "service_schema", strlen("service_schema"));
    if (!name_placeholders(cfg->service_name_template, on_name_column, &list)) {
        snprintf(err, errlen, "SERVICE_NAME_TEMPLATE has an empty or unclosed {column}");
        goto out;
    }
    st = RH_OK;
out:
    if (st != RH_OK) {
        mapping_columns_free(*columns, *n);
        *columns = NULL;
        *n = 0;
    }
    cJSON_Delete(names);
    cJSON_Delete(templates);
    return st;
}

/* "/workers/" and "./workers" become "workers"; "/" and "" become "" (the whole repo). */
static char *normalize_root(const char *dir)
{
    const char *s = dir;
    for (;;) {
        if (*s == '/')
            s++;
        else if (s[0] == '.' && s[1] == '/')
            s += 2;
        else
            break;
    }
    size_t n = strlen(s);
    while (n && s[n - 1] == '/')
        n--;
    if (n == 1 && s[0] == '.')
        n = 0;
    return xstrndup(s, n);
}

enum rh_status mapping_rules_load(struct mapping_rules *rules, const struct config *cfg,
                                  const struct flows_kind *kinds, char *err, size_t errlen)
{
    enum rh_status st = RH_INVALID;

    memset(rules, 0, sizeof(*rules));
    rules->cfg = cfg;
    rules->kinds = kinds;
    if (regcomp(&rules->schema_re, cfg->service_schema_pattern, REG_EXTENDED | REG_NOSUB) != 0) {
        snprintf(err, errlen, "SERVICE_SCHEMA_PATTERN is not a valid regular expression");
        goto out;
    }
    rules->schema_re_ready = true;
    if (regcomp(&rules->id_re, cfg->manifest_id_pattern, REG_EXTENDED | REG_NOSUB) != 0) {
        snprintf(err, errlen, "MANIFEST_ID_PATTERN is not a valid regular expression");
        goto out;
    }
    rules->id_re_ready = true;
    if (mapping_template_columns(cfg, &rules->columns, &rules->ncolumns, err, errlen) != RH_OK)
        goto out;
    rules->root_dir = normalize_root(cfg->worker_root_dir);
    st = RH_OK;
out:
    if (st != RH_OK)
        mapping_rules_free(rules);
    return st;
}

void mapping_rules_free(struct mapping_rules *rules)
{
    if (rules->schema_re_ready)
        regfree(&rules->schema_re);
    rules->schema_re_ready = false;
    if (rules->id_re_ready)
        regfree(&rules->id_re);
    rules->id_re_ready = false;
    mapping_columns_free(rules->columns, rules->ncolumns);
    rules->columns = NULL;
    rules->ncolumns = 0;
    free(rules->root_dir);
    rules->root_dir = NULL;
}

/* Text of a scalar column for names and ids; false for null, missing, objects, arrays and
 * numbers that JSON cannot carry exactly. */
static bool scalar_text(const cJSON *v, char *out, size_t cap)
{
    if (cJSON_IsString(v)) {
        snprintf(out, cap, "%s", v->valuestring);
        return strlen(v->valuestring) < cap;
    }
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (!isfinite(d) || fabs(d) > MAX_EXACT_INTEGER)
            return false;
        if (floor(d) == d)
            snprintf(out, cap, "%.0f", d);
        else
            snprintf(out, cap, "%.17g", d);
        return true;
    }
    if (cJSON_IsBool(v)) {
        snprintf(out, cap, "%s", cJSON_IsTrue(v) ? "true" : "false");
        return true;
    }
    return false;
}

/* Renders tmpl for record; on failure names the failing column in bad (empty when the name
 * itself is unusable). */
static enum rh_status render_name(const char *tmpl, const cJSON *record, char **out, char *bad,
                                  size_t badlen)
{
    enum rh_status st = RH_INVALID;
    struct buf b;
    const char *p = tmpl;

    buf_init(&b, MAPPING_MAX_SERVICE_NAME);
    *out = NULL;
    bad[0] = '\0';
    while (*p) {
        const char *open = strchr(p, '{');
        if (!open) {
            if (!buf_puts(&b, p))
                goto out;
            break;
        }
        const char *close = strchr(open, '}');
        size_t len = close ? (size_t)(close - open - 1) : 0;
        if (!close || len == 0 || len > MAX_COLUMN)
            goto out;
        if (!buf_append(&b, p, (size_t)(open - p)))
            goto out;
        char col[MAX_COLUMN + 1];
        memcpy(col, open + 1, len);
        col[len] = '\0';
        char val[MAPPING_MAX_SERVICE_NAME + 1];
        const cJSON *v =
            cJSON_IsObject(record) ? cJSON_GetObjectItemCaseSensitive(record, col) : NULL;
        if (!scalar_text(v, val, sizeof(val)) || !buf_puts(&b, val)) {
            snprintf(bad, badlen, "%s", col);
            goto out;
        }
        p = close + 1;
    }
    if (b.len == 0)
        goto out;
    for (size_t i = 0; i < b.len; i++)
        if ((unsigned char)b.data[i] < 0x20 || b.data[i] == 0x7f)
            goto out;
    *out = buf_steal(&b);
    st = RH_OK;
out:
    buf_free(&b);
    return st;
}

enum rh_status mapping_service_name(const char *tmpl, const cJSON *record, char **out, char *err,
                                    size_t errlen)
{
    char bad[MAX_COLUMN + 1];
    enum rh_status st = render_name(tmpl, record, out, bad, sizeof(bad));
    if (st != RH_OK && *bad)
        snprintf(err, errlen, "service name: column %s is missing, null, not a scalar or too long",
                 bad);
    else if (st != RH_OK)
        snprintf(err, errlen,
                 "service name: the template gives an empty, too long or malformed name");
    return st;
}

bool mapping_utf8_valid(const void *s, size_t len)
{
    const unsigned char *p = s;
    size_t i = 0;
    bool ok = true;
    while (ok && i < len) {
        /* Runs of ASCII, most of any payload, are passed eight bytes at a time. */
        uint64_t word;
        while (len - i >= 8 && (memcpy(&word, p + i, 8), (word & 0x8080808080808080u) == 0))
            i += 8;
        if (i == len)
            break;
        unsigned char c = p[i];
        size_t extra = 0;
        uint32_t cp = c;
        if (c >= 0xc2 && c <= 0xdf) {
            extra = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            extra = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            extra = 3;
            cp = c & 0x07;
        } else if (c >= 0x80) {
            ok = false;
            break;
        }
        if (len - i <= extra) {
            ok = false;
            break;
        }
        for (size_t k = 1; k <= extra && ok; k++) {
            ok = (p[i + k] & 0xc0) == 0x80;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            ok = false;
        i += extra + 1;
    }
    return ok;
}

const char *mapping_str_or(const cJSON *obj, const char *key, const char *def)
{
    const cJSON *v = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : def;
}

static void printable(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            *s = '_';
}

void mapping_supabase_delivery_id(const cJSON *body, const void *raw, size_t len, char *out,
                                  size_t cap)
{
    const char *type = mapping_str_or(body, "type", "");
    const cJSON *row = cJSON_GetObjectItemCaseSensitive(
        body, strcmp(type, "DELETE") == 0 ? "old_record" : "record");
    char id[65] = "";
    if (!scalar_text(cJSON_IsObject(row) ? cJSON_GetObjectItemCaseSensitive(row, "id") : NULL, id,
                     sizeof(id)))
        id[0] = '\0';
    unsigned char md[32];
    sha256(raw, len, md);
    char hex[33];
    hex_encode(md, 16, hex);
    snprintf(out, cap, "%.16s:%.63s.%.63s:%s:%s", type, mapping_str_or(body, "schema", ""),
             mapping_str_or(body, "table", ""), id, hex);
    printable(out);
}

/* Whether the relevant columns differ between the new and the old row. */
static bool relevant_change(const struct mapping_rules *rules, const cJSON *row, const cJSON *old)
{
    if (!cJSON_IsObject(old))
        return true;
    for (size_t i = 0; i < rules->ncolumns; i++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(row, rules->columns[i]);
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(old, rules->columns[i]);
        if (!a && !b)
            continue;
        if (!a || !b || !cJSON_Compare(a, b, true))
            return true;
    }
    return false;
}

static void job_add(struct mapping_result *res, const char *kind, cJSON *payload, char *dedupe,
                    char *service)
{
    res->jobs = xrealloc(res->jobs, (res->njobs + 1) * sizeof(*res->jobs));
    res->jobs[res->njobs].kind = kind;
    res->jobs[res->njobs].payload = payload;
    res->jobs[res->njobs].dedupe_key = dedupe;
    res->jobs[res->njobs].service_name = service;
    res->jobs[res->njobs].active_key = NULL;
    res->njobs++;
    res->outcome = MAPPING_JOBS;
}

/* True when a string anywhere in v (keys too) holds "${{": Railway would resolve it as a
 * reference to another service's variable. */
static bool holds_reference(const cJSON *v)
{
    bool found = (v->string && strstr(v->string, "${{")) ||
                 (cJSON_IsString(v) && v->valuestring && strstr(v->valuestring, "${{"));
    for (const cJSON *c = v->child; c && !found; c = c->next)
        found = holds_reference(c);
    return found;
}

/* A row id is a UUID, an integer (a JSON integer or its decimal text) or a string that matches
 * MANIFEST_ID_PATTERN. */
static bool id_valid(const struct mapping_rules *rules, const cJSON *v, const char *text)
{
    int64_t n;
    if (cJSON_IsNumber(v))
        return floor(v->valuedouble) == v->valuedouble;
    return uuid_valid(text) || parse_i64(text, INT64_MIN, INT64_MAX, &n) ||
           regexec(&rules->id_re, text, 0, NULL, 0) == 0;
}

/* Checks one manifest row (record, or an update's old_record) and renders its service name
 * into *name (free()). False with res naming "<rowname>.<column>" when the row is unusable.
 * id (idcap bytes) gets the row id's text. */
static bool row_check(const struct mapping_rules *rules, const cJSON *row, const char *rowname,
                      char *id, size_t idcap, char **name, struct mapping_result *res)
{
    const struct config *cfg = rules->cfg;
    char field[sizeof(res->field)];
    char bad[MAX_COLUMN + 1];
    bool ok = false;

    *name = NULL;
    const cJSON *idv = cJSON_GetObjectItemCaseSensitive(row, "id");
    snprintf(field, sizeof(field), "%s.id", rowname);
    if ((!cJSON_IsString(idv) && !cJSON_IsNumber(idv)) || !scalar_text(idv, id, idcap) || !*id) {
        mapping_set_invalid(
            res, field, "%s is missing, empty, too long or not an exact string or number", field);
        goto out;
    }
    for (size_t i = 0; i <= rules->ncolumns; i++) {
        const char *col = i < rules->ncolumns ? rules->columns[i] : "id";
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, col);
        if (v && holds_reference(v)) {
            snprintf(field, sizeof(field), "%s.%.60s", rowname, col);
            mapping_set_invalid(
                res, field,
                "%s holds \"${{\", Railway's variable reference syntax: manifest values "
                "stay data",
                field);
            goto out;
        }
    }
    if (!id_valid(rules, idv, id)) {
        snprintf(field, sizeof(field), "%s.id", rowname);
        mapping_set_invalid(res, field, "%s must be a UUID, an integer or match %.100s", field,
                            cfg->manifest_id_pattern);
        goto out;
    }
    const cJSON *ss = cJSON_GetObjectItemCaseSensitive(row, "service_schema");
    if (!cJSON_IsString(ss) || regexec(&rules->schema_re, ss->valuestring, 0, NULL, 0) != 0) {
        snprintf(field, sizeof(field), "%s.service_schema", rowname);
        mapping_set_invalid(res, field, "%s must match %.120s", field, cfg->service_schema_pattern);
        goto out;
    }
    if (render_name(cfg->service_name_template, row, name, bad, sizeof(bad)) != RH_OK) {
        snprintf(field, sizeof(field), "%s.%.60s", rowname, *bad ? bad : "service_schema");
        mapping_set_invalid(res, field, "SERVICE_NAME_TEMPLATE gives no usable name from %s",
                            field);
        goto out;
    }
    ok = true;
out:
    return ok;
}

enum rh_status mapping_row_job(const struct mapping_rules *rules, const struct flows_kind *kind,
                               const cJSON *row, const cJSON *old, const char *rowname,
                               const char *source, const char *delivery_id,
                               struct mapping_result *res)
{
    char *name = NULL;
    char *old_name = NULL;
    char id[MAPPING_MAX_SERVICE_NAME + 1];
    char old_id[MAPPING_MAX_SERVICE_NAME + 1];
    cJSON *payload = NULL;

    if (!cJSON_IsObject(row)) {
        mapping_set_invalid(res, rowname, "%s must be an object (the row)", rowname);
        goto out;
    }
    if (!row_check(rules, row, rowname, id, sizeof(id), &name, res))
        goto out;
    if (old && !cJSON_IsNull(old)) {
        if (!cJSON_IsObject(old)) {
            mapping_set_invalid(res, "old_record",
                                "old_record must be an object (the row before) or null");
            goto out;
        }
        if (!row_check(rules, old, "old_record", old_id, sizeof(old_id), &old_name, res))
            goto out;
    }
    if (old && !relevant_change(rules, row, old)) {
        mapping_set_ignored(res, "no relevant change");
        goto out;
    }

    payload = cJSON_CreateObject();
    cJSON_AddStringToObject(payload, "manifest_id", id);
    cJSON_AddStringToObject(payload, "service_schema",
                            cJSON_GetObjectItemCaseSensitive(row, "service_schema")->valuestring);
    cJSON_AddItemToObject(payload, "record", cJSON_Duplicate(row, true));
    if (kind->input == FLOWS_INPUT_ROW_CHANGE) {
        cJSON_AddItemToObject(payload, "old_record",
                              old ? cJSON_Duplicate(old, true) : cJSON_CreateNull());
        /* The old row named another service: the update renames (or replaces) it. */
        if (old_name && strcmp(old_name, name) != 0)
            cJSON_AddStringToObject(payload, "old_service_name", old_name);
    }
    cJSON_AddStringToObject(payload, "source", source);
    cJSON_AddStringToObject(payload, "delivery_id", delivery_id);
    job_add(res, kind->name, payload, xasprintf("%s:%s:%s", source, delivery_id, kind->name), name);
    payload = NULL;
    name = NULL;
out:
    cJSON_Delete(payload);
    free(name);
    free(old_name);
    return res->outcome == MAPPING_INVALID ? RH_INVALID : RH_OK;
}

const struct flows_kind *mapping_kind_for(const struct mapping_rules *rules,
                                          enum flows_trigger trigger)
{
    for (const struct flows_kind *k = rules->kinds; k && k->name; k++)
        if (k->trigger == trigger)
            return k;
    return NULL;
}

enum rh_status mapping_supabase(const struct mapping_rules *rules, const cJSON *body,
                                const char *delivery_id, struct mapping_result *res)
{
    const struct config *cfg = rules->cfg;
    enum flows_trigger trigger;
    const char *rowname = "record";
    const cJSON *old = NULL;

    if (!cJSON_IsObject(body)) {
        mapping_set_invalid(res, "body", "the body must be a JSON object");
        goto out;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(body, "type");
    const cJSON *table = cJSON_GetObjectItemCaseSensitive(body, "table");
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(body, "schema");
    if (!cJSON_IsString(type)) {
        mapping_set_invalid(res, "type", "type must be INSERT, UPDATE or DELETE");
        goto out;
    }
    if (!cJSON_IsString(table)) {
        mapping_set_invalid(res, "table", "table must be a string");
        goto out;
    }
    if (!cJSON_IsString(schema)) {
        mapping_set_invalid(res, "schema", "schema must be a string");
        goto out;
    }
    if (strcmp(table->valuestring, cfg->supabase_table) != 0 ||
        strcmp(schema->valuestring, cfg->supabase_schema) != 0) {
        mapping_set_ignored(res, "table %.60s.%.60s is not tracked", schema->valuestring,
                            table->valuestring);
        goto out;
    }
    if (strcmp(type->valuestring, "INSERT") == 0) {
        trigger = FLOWS_TRIGGER_SUPABASE_INSERT;
    } else if (strcmp(type->valuestring, "UPDATE") == 0) {
        trigger = FLOWS_TRIGGER_SUPABASE_UPDATE;
        old = cJSON_GetObjectItemCaseSensitive(body, "old_record");
    } else if (strcmp(type->valuestring, "DELETE") == 0) {
        /* A deleted row comes as old_record. */
        trigger = FLOWS_TRIGGER_SUPABASE_DELETE;
        rowname = "old_record";
    } else {
        mapping_set_invalid(res, "type", "type must be INSERT, UPDATE or DELETE");
        goto out;
    }
    const struct flows_kind *kind = mapping_kind_for(rules, trigger);
    if (!kind) {
        mapping_set_ignored(res, "no job kind for %.16s", type->valuestring);
        goto out;
    }
    mapping_row_job(rules, kind, cJSON_GetObjectItemCaseSensitive(body, rowname), old, rowname,
                    "supabase", delivery_id, res);
out:
    return res->outcome == MAPPING_INVALID ? RH_INVALID : RH_OK;
}
