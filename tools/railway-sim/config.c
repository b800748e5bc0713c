/* config: the simulator's settings: parsing the flag syntaxes, applying a POST /_sim/config
 * patch atomically, and the config as JSON. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "state.h"
#include "util/util.h"

static const char *const reset_formats[SIM_RESET_FORMAT_COUNT] = {
    "epoch", "epoch-ms", "delta", "http-date", "iso",
};
static const char *const retry_formats[SIM_RETRY_FORMAT_COUNT] = {"seconds", "http-date"};
static const char *const hold_statuses[] = {"WAITING", "QUEUED", "NEEDS_APPROVAL"};

/* ---- config -------------------------------------------------------------------------------- */

static void repos_free(struct sim_repo *repos, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        for (size_t j = 0; j < repos[i].branch_count; j++)
            free(repos[i].branches[j]);
        free(repos[i].branches);
        free(repos[i].name);
    }
    free(repos);
}

static void forced_free(struct sim_forced_error *f, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(f[i].field);
        free(f[i].message);
    }
    free(f);
}

static void drops_free(char **drops, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(drops[i]);
    free(drops);
}

void sim_config_cleanup(struct sim_config *c)
{
    if (c == NULL)
        return;
    free(c->project_id);
    free(c->environment_id);
    free(c->fail_builds);
    free(c->fail_log);
    free(c->schema_path);
    repos_free(c->repos, c->repo_count);
    forced_free(c->forced, c->forced_count);
    drops_free(c->drop_schema, c->drop_count);
    c->project_id = c->environment_id = c->fail_builds = c->fail_log = c->schema_path = NULL;
    c->drop_schema = NULL;
    c->drop_count = 0;
    c->repos = NULL;
    c->repo_count = 0;
    c->forced = NULL;
    c->forced_count = 0;
}

void sim_config_copy(struct sim_config *dst, const struct sim_config *src)
{
    *dst = *src;
    dst->project_id = sim_strdup_or_null(src->project_id);
    dst->environment_id = sim_strdup_or_null(src->environment_id);
    dst->fail_builds = sim_strdup_or_null(src->fail_builds);
    dst->fail_log = sim_strdup_or_null(src->fail_log);
    dst->schema_path = sim_strdup_or_null(src->schema_path);
    dst->drop_schema = src->drop_count ? xmalloc(src->drop_count * sizeof(char *)) : NULL;
    for (size_t i = 0; i < src->drop_count; i++)
        dst->drop_schema[i] = xstrdup(src->drop_schema[i]);
    dst->repos = src->repo_count ? xmalloc(src->repo_count * sizeof(*dst->repos)) : NULL;
    for (size_t i = 0; i < src->repo_count; i++) {
        const struct sim_repo *r = &src->repos[i];

        dst->repos[i].name = xstrdup(r->name);
        dst->repos[i].branch_count = r->branch_count;
        dst->repos[i].branches = xmalloc((r->branch_count ? r->branch_count : 1) * sizeof(char *));
        for (size_t j = 0; j < r->branch_count; j++)
            dst->repos[i].branches[j] = xstrdup(r->branches[j]);
    }
    dst->forced = src->forced_count ? xmalloc(src->forced_count * sizeof(*dst->forced)) : NULL;
    for (size_t i = 0; i < src->forced_count; i++) {
        dst->forced[i].field = xstrdup(src->forced[i].field);
        dst->forced[i].message = xstrdup(src->forced[i].message);
        dst->forced[i].count = src->forced[i].count;
    }
}

/* Splits s at sep into a trimmed piece [*start, *end) and advances *s past it. */
static bool next_piece(const char **s, char sep, const char **start, const char **end)
{
    const char *p = *s, *e;

    if (p == NULL)
        return false;
    e = strchr(p, sep);
    if (e == NULL)
        e = p + strlen(p);
    *start = p;
    *end = e;
    while (*start < *end && (**start == ' ' || **start == '\t'))
        (*start)++;
    while (*end > *start && ((*end)[-1] == ' ' || (*end)[-1] == '\t'))
        (*end)--;
    *s = *e ? e + 1 : NULL;
    return true;
}

static char *piece_dup(const char *start, const char *end)
{
    char *p = xmalloc((size_t)(end - start) + 1);

    memcpy(p, start, (size_t)(end - start));
    p[end - start] = '\0';
    return p;
}

int sim_config_repos_parse(struct sim_config *c, const char *spec)
{
    struct sim_repo *repos = NULL;
    size_t count = 0;
    const char *s = spec, *a, *b;
    int rc = -1;

    while (next_piece(&s, ';', &a, &b)) {
        const char *colon = memchr(a, ':', (size_t)(b - a));
        const char *slash;
        struct sim_repo *r;

        if (a == b)
            continue;
        if (colon == NULL || colon == a)
            goto out;
        slash = memchr(a, '/', (size_t)(colon - a));
        if (slash == NULL || slash == a || slash + 1 == colon)
            goto out;
        repos = xrealloc(repos, (count + 1) * sizeof(*repos));
        r = &repos[count++];
        r->name = piece_dup(a, colon);
        r->branches = NULL;
        r->branch_count = 0;
        {
            char *list = piece_dup(colon + 1, b);
            const char *ls = list, *x, *y;

            while (next_piece(&ls, ',', &x, &y)) {
                if (x == y)
                    continue;
                r->branches = xrealloc(r->branches, (r->branch_count + 1) * sizeof(char *));
                r->branches[r->branch_count++] = piece_dup(x, y);
            }
            free(list);
        }
        if (r->branch_count == 0)
            goto out;
    }
    repos_free(c->repos, c->repo_count);
    c->repos = repos;
    c->repo_count = count;
    repos = NULL;
    count = 0;
    rc = 0;
out:
    repos_free(repos, count);
    return rc;
}

int sim_fault_kinds_parse(const char *spec, unsigned *mask)
{
    const char *s = spec, *a, *b;
    unsigned m = 0;

    while (next_piece(&s, ',', &a, &b)) {
        bool found = false;

        if (a == b)
            continue;
        for (int k = 1; k < SIM_FAULT_COUNT; k++) {
            if (strlen(sim_fault_name((enum sim_fault)k)) == (size_t)(b - a) &&
                strncmp(sim_fault_name((enum sim_fault)k), a, (size_t)(b - a)) == 0) {
                m |= 1u << k;
                found = true;
            }
        }
        if (!found)
            return -1;
    }
    *mask = m;
    return 0;
}

static cJSON *fault_kinds_json(unsigned mask)
{
    cJSON *a = cJSON_CreateArray();

    for (int k = 1; k < SIM_FAULT_COUNT; k++)
        if (mask & (1u << k))
            cJSON_AddItemToArray(a, cJSON_CreateString(sim_fault_name((enum sim_fault)k)));
    return a;
}

cJSON *sim_config_json(const struct sim *s)
{
    const struct sim_config *c = &s->config;
    cJSON *o = cJSON_CreateObject();
    cJSON *repos, *forced, *drops;

    cJSON_AddStringToObject(o, "project_id", c->project_id);
    cJSON_AddStringToObject(o, "environment_id", c->environment_id);
    cJSON_AddNumberToObject(o, "build_ms", (double)c->build_ms);
    cJSON_AddNumberToObject(o, "instance_delay_ms", (double)c->instance_delay_ms);
    sim_json_str_add(o, "fail_builds", c->fail_builds);
    cJSON_AddNumberToObject(o, "fault_rate", c->fault_rate);
    cJSON_AddItemToObject(o, "fault_kinds", fault_kinds_json(c->fault_kinds));
    cJSON_AddNumberToObject(o, "fault_delay_ms", (double)c->fault_delay_ms);
    cJSON_AddNumberToObject(o, "rps", (double)c->rps);
    cJSON_AddNumberToObject(o, "hourly", (double)c->hourly);
    cJSON_AddNumberToObject(o, "seed", (double)c->seed);
    cJSON_AddBoolToObject(o, "autodeploy_on_connect", c->autodeploy_on_connect);
    sim_json_str_add(o, "fail_log", c->fail_log);
    cJSON_AddNumberToObject(o, "connect_deploy_delay_ms", (double)c->connect_deploy_delay_ms);
    cJSON_AddNumberToObject(o, "push_deploy_delay_ms", (double)c->push_deploy_delay_ms);
    cJSON_AddNumberToObject(o, "sleep_after_ms", (double)c->sleep_after_ms);
    cJSON_AddBoolToObject(o, "supersede_unfinished", c->supersede_unfinished);
    sim_json_str_add(o, "hold_status", c->hold_status);
    cJSON_AddNumberToObject(o, "hold_ms", (double)c->hold_ms);
    cJSON_AddBoolToObject(o, "list_deleted_services", c->list_deleted_services);
    cJSON_AddStringToObject(o, "rate_reset_format", reset_formats[c->reset_format]);
    cJSON_AddStringToObject(o, "retry_after_format", retry_formats[c->retry_format]);
    cJSON_AddNumberToObject(o, "slow_deploy_ms", (double)c->slow_deploy_ms);
    repos = cJSON_AddObjectToObject(o, "repos");
    for (size_t i = 0; i < c->repo_count; i++) {
        cJSON *b = cJSON_CreateArray();

        for (size_t j = 0; j < c->repos[i].branch_count; j++)
            cJSON_AddItemToArray(b, cJSON_CreateString(c->repos[i].branches[j]));
        cJSON_AddItemToObject(repos, c->repos[i].name, b);
    }
    sim_json_str_add(o, "schema", c->schema_path);
    drops = cJSON_AddArrayToObject(o, "drop_schema_field");
    for (size_t i = 0; i < c->drop_count; i++)
        cJSON_AddItemToArray(drops, cJSON_CreateString(c->drop_schema[i]));
    forced = cJSON_AddObjectToObject(o, "forced_errors");
    for (size_t i = 0; i < c->forced_count; i++) {
        cJSON *f = cJSON_CreateObject();

        cJSON_AddStringToObject(f, "message", c->forced[i].message);
        cJSON_AddNumberToObject(f, "count", (double)c->forced[i].count);
        cJSON_AddItemToObject(forced, c->forced[i].field, f);
    }
    return o;
}

static int want_long(const cJSON *v, const char *key, long min, long max, long *out, char *err,
                     size_t errsize)
{
    if (!cJSON_IsNumber(v) || floor(v->valuedouble) != v->valuedouble || v->valuedouble < min ||
        v->valuedouble > max) {
        snprintf(err, errsize, "%s must be an integer in [%ld, %ld]", key, min, max);
        return -1;
    }
    *out = (long)v->valuedouble;
    return 0;
}

static int want_bool(const cJSON *v, const char *key, bool *out, char *err, size_t errsize)
{
    if (!cJSON_IsBool(v)) {
        snprintf(err, errsize, "%s must be a boolean", key);
        return -1;
    }
    *out = cJSON_IsTrue(v);
    return 0;
}

/* Finds s in names; returns its index or -1. */
static int name_index(const char *const *names, size_t count, const char *s)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

int sim_reset_format_parse(const char *s, enum sim_reset_format *out)
{
    int i = name_index(reset_formats, SIM_RESET_FORMAT_COUNT, s);

    if (i < 0)
        return -1;
    *out = (enum sim_reset_format)i;
    return 0;
}

int sim_retry_format_parse(const char *s, enum sim_retry_format *out)
{
    int i = name_index(retry_formats, SIM_RETRY_FORMAT_COUNT, s);

    if (i < 0)
        return -1;
    *out = (enum sim_retry_format)i;
    return 0;
}

int sim_hold_status_parse(const char *s, const char **out)
{
    int i = name_index(hold_statuses, sizeof(hold_statuses) / sizeof(hold_statuses[0]), s);

    if (i < 0)
        return -1;
    *out = hold_statuses[i];
    return 0;
}

static void forced_set(struct sim_config *c, const char *field, const char *message, long count)
{
    for (size_t i = 0; i < c->forced_count; i++) {
        if (strcmp(c->forced[i].field, field) != 0)
            continue;
        if (count == 0 || message == NULL) {
            free(c->forced[i].field);
            free(c->forced[i].message);
            c->forced[i] = c->forced[--c->forced_count];
            return;
        }
        sim_str_set(&c->forced[i].message, message);
        c->forced[i].count = count;
        return;
    }
    if (count == 0 || message == NULL)
        return;
    c->forced = xrealloc(c->forced, (c->forced_count + 1) * sizeof(*c->forced));
    c->forced[c->forced_count].field = xstrdup(field);
    c->forced[c->forced_count].message = xstrdup(message);
    c->forced[c->forced_count].count = count;
    c->forced_count++;
}

/* "Type", "Type.field" or "Type.field.argument": one to three non-empty dotted names. */
static bool drop_spec_valid(const char *spec)
{
    int parts = 1;
    size_t run = 0;

    for (const char *p = spec; *p; p++) {
        if (*p == '.') {
            if (run == 0)
                return false;
            parts++;
            run = 0;
        } else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                   (*p >= '0' && *p <= '9') || *p == '_') {
            run++;
        } else {
            return false;
        }
    }
    return run > 0 && parts <= 3;
}

/* drop_schema_field: a string or a list of them replaces the list; null clears it. */
static int drops_set(struct sim_config *c, const cJSON *v, char *err, size_t errsize)
{
    char **drops = NULL;
    size_t count = 0;
    const cJSON *it;

    if (cJSON_IsString(v)) {
        if (!drop_spec_valid(v->valuestring))
            goto bad;
        drops = xmalloc(sizeof(char *));
        drops[count++] = xstrdup(v->valuestring);
    } else if (cJSON_IsArray(v)) {
        cJSON_ArrayForEach(it, v)
        {
            if (!cJSON_IsString(it) || !drop_spec_valid(it->valuestring))
                goto bad;
            drops = xrealloc(drops, (count + 1) * sizeof(char *));
            drops[count++] = xstrdup(it->valuestring);
        }
    } else if (!cJSON_IsNull(v)) {
        goto bad;
    }
    drops_free(c->drop_schema, c->drop_count);
    c->drop_schema = drops;
    c->drop_count = count;
    return 0;
bad:
    drops_free(drops, count);
    snprintf(err, errsize,
             "drop_schema_field must be \"Type\", \"Type.field\" or \"Type.field.argument\", a "
             "list of them, or null");
    return -1;
}

static int apply_key(struct sim *s, struct sim_config *c, const cJSON *v, char *err, size_t errsize)
{
    const char *k = v->string;

    if (strcmp(k, "build_ms") == 0)
        return want_long(v, k, 0, 3600000, &c->build_ms, err, errsize);
    if (strcmp(k, "instance_delay_ms") == 0)
        return want_long(v, k, 0, 3600000, &c->instance_delay_ms, err, errsize);
    if (strcmp(k, "fault_delay_ms") == 0)
        return want_long(v, k, 0, 600000, &c->fault_delay_ms, err, errsize);
    if (strcmp(k, "rps") == 0)
        return want_long(v, k, 1, 1000000, &c->rps, err, errsize);
    if (strcmp(k, "hourly") == 0)
        return want_long(v, k, 1, 1000000000, &c->hourly, err, errsize);
    if (strcmp(k, "connect_deploy_delay_ms") == 0)
        return want_long(v, k, 0, 3600000, &c->connect_deploy_delay_ms, err, errsize);
    if (strcmp(k, "push_deploy_delay_ms") == 0)
        return want_long(v, k, 0, 3600000, &c->push_deploy_delay_ms, err, errsize);
    if (strcmp(k, "sleep_after_ms") == 0)
        return want_long(v, k, 0, 3600000, &c->sleep_after_ms, err, errsize);
    if (strcmp(k, "hold_ms") == 0)
        return want_long(v, k, 0, 3600000, &c->hold_ms, err, errsize);
    if (strcmp(k, "slow_deploy_ms") == 0)
        return want_long(v, k, 0, 600000, &c->slow_deploy_ms, err, errsize);
    if (strcmp(k, "supersede_unfinished") == 0)
        return want_bool(v, k, &c->supersede_unfinished, err, errsize);
    if (strcmp(k, "list_deleted_services") == 0)
        return want_bool(v, k, &c->list_deleted_services, err, errsize);
    if (strcmp(k, "hold_status") == 0) {
        if (cJSON_IsNull(v)) {
            c->hold_status = NULL;
            return 0;
        }
        if (!cJSON_IsString(v) || sim_hold_status_parse(v->valuestring, &c->hold_status) < 0) {
            snprintf(err, errsize, "hold_status must be WAITING, QUEUED, NEEDS_APPROVAL or null");
            return -1;
        }
        return 0;
    }
    if (strcmp(k, "rate_reset_format") == 0) {
        if (!cJSON_IsString(v) || sim_reset_format_parse(v->valuestring, &c->reset_format) < 0) {
            snprintf(err, errsize,
                     "rate_reset_format must be epoch, epoch-ms, delta, http-date or iso");
            return -1;
        }
        return 0;
    }
    if (strcmp(k, "retry_after_format") == 0) {
        if (!cJSON_IsString(v) || sim_retry_format_parse(v->valuestring, &c->retry_format) < 0) {
            snprintf(err, errsize, "retry_after_format must be seconds or http-date");
            return -1;
        }
        return 0;
    }
    if (strcmp(k, "fail_log") == 0) {
        if (!cJSON_IsString(v) || v->valuestring[0] == '\0') {
            snprintf(err, errsize, "fail_log must be a non-empty string");
            return -1;
        }
        sim_str_set(&c->fail_log, v->valuestring);
        return 0;
    }
    if (strcmp(k, "fail_builds") == 0) {
        if (!cJSON_IsNull(v) && !cJSON_IsString(v)) {
            snprintf(err, errsize, "fail_builds must be a string or null");
            return -1;
        }
        sim_str_set(&c->fail_builds,
                    cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL);
        return 0;
    }
    if (strcmp(k, "fault_rate") == 0) {
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0.0 && v->valuedouble <= 1.0)) {
            snprintf(err, errsize, "fault_rate must be a number in [0, 1]");
            return -1;
        }
        c->fault_rate = v->valuedouble;
        return 0;
    }
    if (strcmp(k, "fault_kinds") == 0) {
        unsigned mask = 0;

        if (cJSON_IsString(v)) {
            if (sim_fault_kinds_parse(v->valuestring, &mask) < 0)
                goto bad_kinds;
        } else if (cJSON_IsArray(v)) {
            const cJSON *it;

            cJSON_ArrayForEach(it, v)
            {
                unsigned one;

                if (!cJSON_IsString(it) || sim_fault_kinds_parse(it->valuestring, &one) < 0)
                    goto bad_kinds;
                mask |= one;
            }
        } else {
            goto bad_kinds;
        }
        c->fault_kinds = mask;
        return 0;
    bad_kinds:
        snprintf(err, errsize,
                 "fault_kinds must be a list of 500, 502, 503, reset, delay, generic, 429, 403");
        return -1;
    }
    if (strcmp(k, "seed") == 0) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9007199254740992.0) {
            snprintf(err, errsize, "seed must be a non-negative integer");
            return -1;
        }
        c->seed = (uint64_t)v->valuedouble;
        return 0;
    }
    if (strcmp(k, "autodeploy_on_connect") == 0)
        return want_bool(v, k, &c->autodeploy_on_connect, err, errsize);
    if (strcmp(k, "repos") == 0) {
        if (!cJSON_IsString(v) || sim_config_repos_parse(c, v->valuestring) < 0) {
            snprintf(err, errsize,
                     "repos must be a string like \"owner/name:main,dev;o2/n2:main\"");
            return -1;
        }
        return 0;
    }
    if (strcmp(k, "drop_schema_field") == 0)
        return drops_set(c, v, err, errsize);
    if (strcmp(k, "forced_errors") == 0) {
        const cJSON *f;

        if (!cJSON_IsObject(v)) {
            snprintf(err, errsize, "forced_errors must be an object");
            return -1;
        }
        cJSON_ArrayForEach(f, v)
        {
            const cJSON *msg = cJSON_GetObjectItemCaseSensitive(f, "message");
            const cJSON *cnt = cJSON_GetObjectItemCaseSensitive(f, "count");
            long count = -1;

            if (cJSON_IsNull(f)) {
                forced_set(c, f->string, NULL, 0);
                continue;
            }
            if (!cJSON_IsObject(f) || !cJSON_IsString(msg) ||
                (cnt != NULL && want_long(cnt, "count", -1, 1000000000, &count, err, errsize))) {
                snprintf(err, errsize,
                         "forced_errors.%s must be {\"message\": string, \"count\": integer >= "
                         "-1} or null",
                         f->string);
                return -1;
            }
            forced_set(c, f->string, msg->valuestring, count);
        }
        return 0;
    }
    (void)s;
    snprintf(err, errsize, "unknown config key \"%s\"", k);
    return -1;
}

int sim_config_apply(struct sim *s, const cJSON *patch, char *err, size_t errsize)
{
    struct sim_config next;
    const cJSON *v;
    bool reseed = false;

    if (!cJSON_IsObject(patch)) {
        snprintf(err, errsize, "the body must be a JSON object");
        return -1;
    }
    sim_config_copy(&next, &s->config);
    cJSON_ArrayForEach(v, patch)
    {
        if (apply_key(s, &next, v, err, errsize) < 0) {
            sim_config_cleanup(&next);
            return -1;
        }
        if (strcmp(v->string, "seed") == 0)
            reseed = true;
    }
    sim_config_cleanup(&s->config);
    s->config = next;
    if (reseed) {
        s->fault_rng = s->config.seed;
        s->id_rng = s->config.seed ^ 0x5DEECE66DULL;
    }
    for (size_t i = 0; i < s->bucket_count; i++)
        if (s->buckets[i].tokens > (double)s->config.rps)
            s->buckets[i].tokens = (double)s->config.rps;
    return 0;
}

bool sim_forced_error_take(struct sim *s, const char *field, char *msg, size_t msgsize)
{
    struct sim_config *c = &s->config;

    for (size_t i = 0; i < c->forced_count; i++) {
        if (strcmp(c->forced[i].field, field) != 0)
            continue;
        snprintf(msg, msgsize, "%s", c->forced[i].message);
        if (c->forced[i].count > 0 && --c->forced[i].count == 0)
            forced_set(c, field, NULL, 0);
        s->forced_errors++;
        return true;
    }
    return false;
}
