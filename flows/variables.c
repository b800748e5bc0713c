/* Worker variable templates and their rendering. */
#include "flows/variables.h"

#include "util/redact.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const passthrough[] = {"SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY",
                                          "SUPABASE_ANON_KEY", "WORKER_LOG_LEVEL"};

static bool looks_secret(const char *name)
{
    return strstr(name, "KEY") || strstr(name, "SECRET") || strstr(name, "TOKEN") ||
           strstr(name, "PASSWORD");
}

/* Shorter environment values are redacted only when their name looks secret: blanking a
 * "debug" or "1" in every log line would hide more than it protects. */
#define ENV_REDACT_MIN 8

/* The template parsers' one rule: a placeholder is "{kind.NAME}"; a '{' whose '}' comes with no
 * dot before it is plain text, and the scan goes on after that '}'. Finds the first
 * placeholder at or after p: true with *open, *dot and *close on its characters. */
static bool placeholder_next(const char *p, const char **open, const char **dot, const char **close)
{
    while ((p = strchr(p, '{')) != NULL) {
        const char *end = strchr(p, '}');
        if (!end)
            return false;
        const char *d = memchr(p, '.', (size_t)(end - p));
        if (d) {
            *open = p;
            *dot = d;
            *close = end;
            return true;
        }
        p = end + 1;
    }
    return false;
}

/* Calls fn for each {kind.NAME} placeholder in tmpl; stops and returns false when fn does. */
static bool each_placeholder(const char *tmpl,
                             bool (*fn)(void *ud, const char *kind, const char *name), void *ud)
{
    const char *p = tmpl, *open, *dot, *close;
    while (placeholder_next(p, &open, &dot, &close)) {
        char kind[16], name[128];
        size_t kl = (size_t)(dot - open - 1), nl = (size_t)(close - dot - 1);
        if (kl < sizeof(kind) && nl < sizeof(name) && nl > 0) {
            memcpy(kind, open + 1, kl);
            kind[kl] = '\0';
            memcpy(name, dot + 1, nl);
            name[nl] = '\0';
            if (!fn(ud, kind, name))
                return false;
        }
        p = close + 1;
    }
    return true;
}

static bool register_env_value(void *ud, const char *kind, const char *name)
{
    (void)ud;
    const char *v = strcmp(kind, "env") == 0 ? getenv(name) : NULL;
    if (v && (strlen(v) >= ENV_REDACT_MIN || looks_secret(name)))
        redact_register(v);
    return true;
}

cJSON *variables_templates_load(const struct config *cfg, char *err, size_t errlen)
{
    cJSON *t = NULL;
    if (cfg->worker_variables_file && *cfg->worker_variables_file) {
        FILE *f = fopen(cfg->worker_variables_file, "rb");
        if (!f) {
            snprintf(err, errlen, "WORKER_VARIABLES_FILE cannot be read");
            return NULL;
        }
        struct buf b;
        buf_init(&b, 1u << 20);
        char chunk[4096];
        size_t n;
        bool ok = true;
        while (ok && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
            ok = buf_append(&b, chunk, n);
        fclose(f);
        t = ok ? cJSON_ParseWithLength(b.data ? b.data : "", b.len) : NULL;
        buf_free(&b);
        if (!cJSON_IsObject(t)) {
            cJSON_Delete(t);
            snprintf(err, errlen, "WORKER_VARIABLES_FILE must hold a JSON object NAME -> template");
            return NULL;
        }
        const cJSON *item;
        cJSON_ArrayForEach(item, t)
        {
            if (!cJSON_IsString(item)) {
                snprintf(err, errlen,
                         "WORKER_VARIABLES_FILE: the template of %.100s is not a string",
                         item->string);
                cJSON_Delete(t);
                return NULL;
            }
        }
    } else {
        t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "MANIFEST_ID", "{record.id}");
        cJSON_AddStringToObject(t, "SERVICE_SCHEMA", "{record.service_schema}");
        for (size_t i = 0; i < sizeof(passthrough) / sizeof(passthrough[0]); i++) {
            const char *v = getenv(passthrough[i]);
            if (v && *v) {
                char *tmpl = xasprintf("{env.%s}", passthrough[i]);
                cJSON_AddStringToObject(t, passthrough[i], tmpl);
                free(tmpl);
            }
        }
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, t)
    {
        each_placeholder(item->valuestring, register_env_value, NULL);
    }
    return t;
}

static bool add_column(void *ud, const char *kind, const char *name)
{
    cJSON *cols = ud;
    if (strcmp(kind, "record") != 0)
        return true;
    const cJSON *c;
    cJSON_ArrayForEach(c, cols)
    {
        if (strcmp(c->valuestring, name) == 0)
            return true;
    }
    cJSON_AddItemToArray(cols, cJSON_CreateString(name));
    return true;
}

cJSON *variables_template_columns(const cJSON *templates)
{
    cJSON *cols = cJSON_CreateArray();
    const cJSON *item;
    cJSON_ArrayForEach(item, templates)
    {
        if (cJSON_IsString(item))
            each_placeholder(item->valuestring, add_column, cols);
    }
    return cols;
}

/* Appends the text of one JSON value as a variable's value. */
static void append_value(struct buf *out, const cJSON *v)
{
    if (cJSON_IsString(v)) {
        buf_puts(out, v->valuestring);
    } else if (cJSON_IsNull(v)) {
        /* A NULL column renders as empty. */
    } else {
        char *s = cJSON_PrintUnformatted(v);
        buf_puts(out, s ? s : "");
        cJSON_free(s);
    }
}

enum rh_status variables_render(const cJSON *templates, const cJSON *record, cJSON **out, char *err,
                                size_t errlen)
{
    *out = cJSON_CreateObject();
    const cJSON *item;
    cJSON_ArrayForEach(item, templates)
    {
        const char *p = item->valuestring;
        struct buf val;
        buf_init(&val, 64 * 1024);
        const char *open, *dot, *close;
        while (*p) {
            if (!placeholder_next(p, &open, &dot, &close)) {
                buf_puts(&val, p);
                break;
            }
            buf_append(&val, p, (size_t)(open - p));
            size_t kl = (size_t)(dot - open - 1);
            char *name = xstrndup(dot + 1, (size_t)(close - dot - 1));
            bool ok = true;
            if (kl == 6 && strncmp(open + 1, "record", 6) == 0) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(record, name);
                if (!v) {
                    snprintf(err, errlen, "variable %.100s: the manifest row has no column %.100s",
                             item->string, name);
                    ok = false;
                } else {
                    append_value(&val, v);
                }
            } else if (kl == 3 && strncmp(open + 1, "env", 3) == 0) {
                const char *v = getenv(name);
                if (!v) {
                    snprintf(err, errlen, "variable %.100s: environment variable %.100s is not set",
                             item->string, name);
                    ok = false;
                } else {
                    buf_puts(&val, v);
                }
            } else {
                buf_append(&val, open, (size_t)(close - open + 1));
            }
            free(name);
            if (!ok) {
                buf_free(&val);
                cJSON_Delete(*out);
                *out = NULL;
                return RH_INVALID;
            }
            p = close + 1;
        }
        cJSON_AddStringToObject(*out, item->string, val.data ? val.data : "");
        buf_free(&val);
    }
    return RH_OK;
}

cJSON *variables_digests(const cJSON *values)
{
    cJSON *d = cJSON_CreateObject();
    const cJSON *item;
    cJSON_ArrayForEach(item, values)
    {
        unsigned char md[32];
        const char *v = cJSON_IsString(item) ? item->valuestring : "";
        sha256(v, strlen(v), md);
        char hex[65];
        hex_encode(md, sizeof(md), hex);
        cJSON_AddStringToObject(d, item->string, hex);
    }
    return d;
}
