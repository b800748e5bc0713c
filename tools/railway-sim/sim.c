/* sim: state and behaviour of the simulated Railway project.
 *
 * Threading: none of its own. main.c serialises every call with sim->lock, so the functions
 * here never lock. Deployment status is derived from the clock on each read, so nothing runs
 * in the background. */
#include "sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"

#define MAX_BUCKETS      1024
#define MAX_SERVICES     10000
#define MAX_DEPLOYMENTS  100000
#define QUEUED_PERCENT   20
#define BUILDING_PERCENT 50

struct sim_service {
    char id[40];
    char instance_id[40];
    char *name;
    char *icon;
    bool deleted;
    int64_t created_wall, updated_wall, deleted_wall;
    int64_t instance_ready_mono; /* the instance exists from this time on */
    int64_t instance_ready_wall;
    cJSON *variables;
    char *root_directory;
    char *repo, *branch, *image;
    cJSON *settings; /* other ServiceInstanceUpdateInput fields */
};

struct sim_deployment {
    char id[40];
    struct sim_service *service;
    char *commit_hash;
    char *repo, *branch, *image, *root_directory;
    const char *reason;
    int64_t created_mono, created_wall;
    long build_ms;
    bool fail;
    bool removed; /* its service was deleted */
    int64_t removed_wall;
};

struct sim_bucket {
    char *key;
    double tokens;
    int64_t last_mono;
    long hour_count;
    int64_t window_start_wall;
};

static const char *const fault_names[SIM_FAULT_COUNT] = {
    "none", "500", "502", "503", "reset", "delay", "generic", "429",
};

const char *sim_fault_name(enum sim_fault kind)
{
    if ((int)kind < 0 || kind >= SIM_FAULT_COUNT)
        return "?";
    return fault_names[kind];
}

/* ---- random numbers, ids, hashes ----------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double rng_unit(uint64_t *state)
{
    return (double)(splitmix64(state) >> 11) * (1.0 / 9007199254740992.0);
}

/* A uuid-like id (version 4 layout) from the id stream, so ids repeat under the same seed. */
static void id_new(struct sim *s, char *buf, size_t size)
{
    uint64_t a = splitmix64(&s->id_rng), b = splitmix64(&s->id_rng);

    snprintf(buf, size, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32),
             (unsigned)((a >> 16) & 0xFFFF), (unsigned)(a & 0x0FFF),
             (unsigned)(0x8000 | ((b >> 48) & 0x3FFF)),
             (unsigned long long)(b & 0xFFFFFFFFFFFFULL));
}

static uint64_t fnv1a(const char *s, uint64_t h)
{
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001B3ULL;
    }
    return h;
}

/* The head commit of a branch: a stable 40-hex digest of "repo@branch". */
static char *branch_head(const char *repo, const char *branch)
{
    uint64_t h = fnv1a(branch, fnv1a("@", fnv1a(repo, 0xCBF29CE484222325ULL)));
    uint64_t st = h;
    char out[41];

    snprintf(out, sizeof(out), "%016llx%016llx%08x", (unsigned long long)splitmix64(&st),
             (unsigned long long)splitmix64(&st), (unsigned)(splitmix64(&st) >> 32));
    return xstrdup(out);
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static void set_str(char **slot, const char *value)
{
    free(*slot);
    *slot = dup_or_null(value);
}

static void add_time(cJSON *obj, const char *key, int64_t wall_ms)
{
    char buf[32];

    if (wall_ms <= 0) {
        cJSON_AddNullToObject(obj, key);
        return;
    }
    time_format_utc(buf, wall_ms);
    cJSON_AddStringToObject(obj, key, buf);
}

static void add_str_or_null(cJSON *obj, const char *key, const char *value)
{
    if (value)
        cJSON_AddStringToObject(obj, key, value);
    else
        cJSON_AddNullToObject(obj, key);
}

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
    free(c->schema_path);
    repos_free(c->repos, c->repo_count);
    forced_free(c->forced, c->forced_count);
    drops_free(c->drop_schema, c->drop_count);
    c->project_id = c->environment_id = c->fail_builds = c->schema_path = NULL;
    c->drop_schema = NULL;
    c->drop_count = 0;
    c->repos = NULL;
    c->repo_count = 0;
    c->forced = NULL;
    c->forced_count = 0;
}

static void config_copy(struct sim_config *dst, const struct sim_config *src)
{
    *dst = *src;
    dst->project_id = dup_or_null(src->project_id);
    dst->environment_id = dup_or_null(src->environment_id);
    dst->fail_builds = dup_or_null(src->fail_builds);
    dst->schema_path = dup_or_null(src->schema_path);
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
            if (strlen(fault_names[k]) == (size_t)(b - a) &&
                strncmp(fault_names[k], a, (size_t)(b - a)) == 0) {
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
            cJSON_AddItemToArray(a, cJSON_CreateString(fault_names[k]));
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
    add_str_or_null(o, "fail_builds", c->fail_builds);
    cJSON_AddNumberToObject(o, "fault_rate", c->fault_rate);
    cJSON_AddItemToObject(o, "fault_kinds", fault_kinds_json(c->fault_kinds));
    cJSON_AddNumberToObject(o, "fault_delay_ms", (double)c->fault_delay_ms);
    cJSON_AddNumberToObject(o, "rps", (double)c->rps);
    cJSON_AddNumberToObject(o, "hourly", (double)c->hourly);
    cJSON_AddNumberToObject(o, "seed", (double)c->seed);
    cJSON_AddBoolToObject(o, "autodeploy_on_connect", c->autodeploy_on_connect);
    repos = cJSON_AddObjectToObject(o, "repos");
    for (size_t i = 0; i < c->repo_count; i++) {
        cJSON *b = cJSON_CreateArray();

        for (size_t j = 0; j < c->repos[i].branch_count; j++)
            cJSON_AddItemToArray(b, cJSON_CreateString(c->repos[i].branches[j]));
        cJSON_AddItemToObject(repos, c->repos[i].name, b);
    }
    add_str_or_null(o, "schema", c->schema_path);
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
        set_str(&c->forced[i].message, message);
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
    if (strcmp(k, "fail_builds") == 0) {
        if (!cJSON_IsNull(v) && !cJSON_IsString(v)) {
            snprintf(err, errsize, "fail_builds must be a string or null");
            return -1;
        }
        set_str(&c->fail_builds, cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL);
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
                 "fault_kinds must be a list of 500, 502, 503, reset, delay, generic, 429");
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
    if (strcmp(k, "autodeploy_on_connect") == 0) {
        if (!cJSON_IsBool(v)) {
            snprintf(err, errsize, "autodeploy_on_connect must be a boolean");
            return -1;
        }
        c->autodeploy_on_connect = cJSON_IsTrue(v);
        return 0;
    }
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
    config_copy(&next, &s->config);
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

/* ---- lifecycle --------------------------------------------------------------------------------
 */

static void service_free(struct sim_service *svc)
{
    if (svc == NULL)
        return;
    free(svc->name);
    free(svc->icon);
    cJSON_Delete(svc->variables);
    free(svc->root_directory);
    free(svc->repo);
    free(svc->branch);
    free(svc->image);
    cJSON_Delete(svc->settings);
    free(svc);
}

static void deployment_free(struct sim_deployment *d)
{
    if (d == NULL)
        return;
    free(d->commit_hash);
    free(d->repo);
    free(d->branch);
    free(d->image);
    free(d->root_directory);
    free(d);
}

static void state_clear(struct sim *s)
{
    for (size_t i = 0; i < s->service_count; i++)
        service_free(s->services[i]);
    free(s->services);
    s->services = NULL;
    s->service_count = 0;
    for (size_t i = 0; i < s->deployment_count; i++)
        deployment_free(s->deployments[i]);
    free(s->deployments);
    s->deployments = NULL;
    s->deployment_count = 0;
    for (size_t i = 0; i < s->bucket_count; i++)
        free(s->buckets[i].key);
    free(s->buckets);
    s->buckets = NULL;
    s->bucket_count = 0;
    cJSON_Delete(s->shared_variables);
    cJSON_Delete(s->by_operation);
    cJSON_Delete(s->by_root_field);
    s->shared_variables = cJSON_CreateObject();
    s->by_operation = cJSON_CreateObject();
    s->by_root_field = cJSON_CreateObject();
    s->requests = s->status_400 = s->status_413 = s->status_429 = 0;
    s->faults = s->not_authorized = s->forced_errors = 0;
    memset(s->faults_by_kind, 0, sizeof(s->faults_by_kind));
    s->fault_rng = s->config.seed;
    s->id_rng = s->config.seed ^ 0x5DEECE66DULL;
}

void sim_init(struct sim *s, const struct sim_config *config)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    config_copy(&s->initial, config);
    config_copy(&s->config, config);
    state_clear(s);
}

void sim_reset(struct sim *s)
{
    sim_config_cleanup(&s->config);
    config_copy(&s->config, &s->initial);
    state_clear(s);
}

void sim_cleanup(struct sim *s)
{
    if (s == NULL || s->by_operation == NULL)
        return;
    state_clear(s);
    cJSON_Delete(s->shared_variables);
    cJSON_Delete(s->by_operation);
    cJSON_Delete(s->by_root_field);
    s->shared_variables = s->by_operation = s->by_root_field = NULL;
    sim_config_cleanup(&s->config);
    sim_config_cleanup(&s->initial);
    pthread_mutex_destroy(&s->lock);
}

/* ---- rate limits, faults, counters ----------------------------------------------------------- */

void sim_rate_take(struct sim *s, const char *key, struct sim_rate *out)
{
    int64_t mono = time_mono_ms(), wall = time_wall_ms();
    struct sim_bucket *b = NULL;
    double rps = (double)s->config.rps;

    for (size_t i = 0; i < s->bucket_count; i++)
        if (strcmp(s->buckets[i].key, key) == 0)
            b = &s->buckets[i];
    if (b == NULL && s->bucket_count >= MAX_BUCKETS) {
        /* Too many distinct tokens: they share the last bucket. */
        b = &s->buckets[s->bucket_count - 1];
    }
    if (b == NULL) {
        s->buckets = xrealloc(s->buckets, (s->bucket_count + 1) * sizeof(*s->buckets));
        b = &s->buckets[s->bucket_count++];
        b->key = xstrdup(key);
        b->tokens = rps;
        b->last_mono = mono;
        b->hour_count = 0;
        b->window_start_wall = wall;
    }
    b->tokens += (double)(mono - b->last_mono) * rps / 1000.0;
    if (b->tokens > rps)
        b->tokens = rps;
    b->last_mono = mono;
    if (wall - b->window_start_wall >= 3600 * 1000) {
        b->window_start_wall = wall;
        b->hour_count = 0;
    }
    out->limit = s->config.hourly;
    out->reset_epoch = (b->window_start_wall + 3600 * 1000 + 999) / 1000;
    out->limited = false;
    out->retry_after = 0;
    if (b->hour_count >= s->config.hourly) {
        out->limited = true;
        out->retry_after = (long)(out->reset_epoch - wall / 1000);
    } else if (b->tokens < 1.0) {
        out->limited = true;
        out->retry_after = (long)ceil((1.0 - b->tokens) / rps);
    } else {
        b->tokens -= 1.0;
        b->hour_count++;
    }
    if (out->retry_after < 1)
        out->retry_after = 1;
    out->remaining = s->config.hourly - b->hour_count;
    if (out->remaining < 0)
        out->remaining = 0;
}

enum sim_fault sim_fault_draw(struct sim *s)
{
    enum sim_fault kinds[SIM_FAULT_COUNT];
    int n = 0;
    double u;

    if (s->config.fault_rate <= 0.0)
        return SIM_FAULT_NONE;
    u = rng_unit(&s->fault_rng);
    if (u >= s->config.fault_rate)
        return SIM_FAULT_NONE;
    for (int k = 1; k < SIM_FAULT_COUNT; k++)
        if (s->config.fault_kinds & (1u << k))
            kinds[n++] = (enum sim_fault)k;
    if (n == 0)
        return SIM_FAULT_NONE;
    return kinds[splitmix64(&s->fault_rng) % (uint64_t)n];
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

static void count_in(cJSON *obj, const char *key)
{
    cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (n == NULL)
        cJSON_AddNumberToObject(obj, key, 1);
    else
        cJSON_SetNumberValue(n, n->valuedouble + 1);
}

void sim_count_operation(struct sim *s, const char *operation)
{
    count_in(s->by_operation, operation ? operation : "(anonymous)");
}

void sim_count_root_field(struct sim *s, const char *field)
{
    count_in(s->by_root_field, field);
}

/* ---- deployments ------------------------------------------------------------------------------
 */

static const char *status_base(const struct sim_deployment *d, int64_t now, int64_t *since_mono)
{
    int64_t t = now - d->created_mono;
    int64_t q = d->build_ms * QUEUED_PERCENT / 100;
    int64_t b = d->build_ms * (QUEUED_PERCENT + BUILDING_PERCENT) / 100;

    if (t < q) {
        *since_mono = d->created_mono;
        return "QUEUED";
    }
    if (t < b) {
        *since_mono = d->created_mono + q;
        return "BUILDING";
    }
    if (d->fail) {
        *since_mono = d->created_mono + b;
        return "FAILED";
    }
    if (t < d->build_ms) {
        *since_mono = d->created_mono + b;
        return "DEPLOYING";
    }
    *since_mono = d->created_mono + d->build_ms;
    return "SUCCESS";
}

/* The status now: removed with its service, or superseded once a newer deployment of the same
 * service succeeds; otherwise by the time since it started. */
static const char *deployment_status(const struct sim *s, const struct sim_deployment *d,
                                     int64_t *status_wall)
{
    int64_t now = time_mono_ms(), since = 0, other_since = 0;
    const char *st = status_base(d, now, &since);
    bool newer = false;

    *status_wall = d->created_wall + (since - d->created_mono);
    if (d->removed) {
        *status_wall = d->removed_wall;
        return "REMOVED";
    }
    if (strcmp(st, "FAILED") == 0)
        return st;
    /* The list is in creation order: entries after d are newer. */
    for (size_t i = 0; i < s->deployment_count; i++) {
        const struct sim_deployment *e = s->deployments[i];

        if (e == d) {
            newer = true;
            continue;
        }
        if (!newer || e->service != d->service)
            continue;
        if (strcmp(status_base(e, now, &other_since), "SUCCESS") == 0) {
            *status_wall = e->created_wall + (other_since - e->created_mono);
            return "REMOVED";
        }
    }
    return st;
}

static struct sim_deployment *deployment_start(struct sim *s, struct sim_service *svc,
                                               const char *commit, const char *reason)
{
    struct sim_deployment *d;

    if (s->deployment_count >= MAX_DEPLOYMENTS)
        return NULL;
    d = xmalloc(sizeof(*d));
    memset(d, 0, sizeof(*d));
    id_new(s, d->id, sizeof(d->id));
    d->service = svc;
    d->repo = dup_or_null(svc->repo);
    d->branch = dup_or_null(svc->branch);
    d->image = dup_or_null(svc->image);
    d->root_directory = dup_or_null(svc->root_directory);
    if (commit != NULL)
        d->commit_hash = xstrdup(commit);
    else if (svc->repo != NULL && svc->branch != NULL)
        d->commit_hash = branch_head(svc->repo, svc->branch);
    d->reason = reason;
    d->created_mono = time_mono_ms();
    d->created_wall = time_wall_ms();
    d->build_ms = s->config.build_ms;
    d->fail = (s->config.fail_builds != NULL && strstr(svc->name, s->config.fail_builds)) ||
              (svc->repo == NULL && svc->image == NULL); /* nothing to build */
    s->deployments = xrealloc(s->deployments, (s->deployment_count + 1) * sizeof(*s->deployments));
    s->deployments[s->deployment_count++] = d;
    return d;
}

static cJSON *service_json(const struct sim *s, const struct sim_service *svc, bool nested);

static cJSON *deployment_json(const struct sim *s, const struct sim_deployment *d, bool nested)
{
    cJSON *o = cJSON_CreateObject(), *meta;
    int64_t status_wall = 0;
    const char *status = deployment_status(s, d, &status_wall);
    char url[160];

    cJSON_AddStringToObject(o, "id", d->id);
    cJSON_AddStringToObject(o, "status", status);
    add_time(o, "createdAt", d->created_wall);
    add_time(o, "updatedAt", status_wall);
    add_time(o, "statusUpdatedAt", status_wall);
    cJSON_AddStringToObject(o, "projectId", s->config.project_id);
    cJSON_AddStringToObject(o, "environmentId", s->config.environment_id);
    cJSON_AddStringToObject(o, "serviceId", d->service->id);
    cJSON_AddBoolToObject(o, "canRedeploy", true);
    cJSON_AddBoolToObject(o, "canRollback",
                          strcmp(status, "SUCCESS") == 0 || strcmp(status, "REMOVED") == 0);
    snprintf(url, sizeof(url), "%.60s-%.8s.up.railway.app", d->service->name, d->id);
    for (char *p = url; *p; p++)
        if (*p == ' ' || *p == '/' || *p == '_')
            *p = '-';
    cJSON_AddStringToObject(o, "staticUrl", url);
    meta = cJSON_AddObjectToObject(o, "meta");
    if (d->repo) {
        cJSON_AddStringToObject(meta, "repo", d->repo);
        add_str_or_null(meta, "branch", d->branch);
    }
    if (d->image)
        cJSON_AddStringToObject(meta, "image", d->image);
    if (d->commit_hash)
        cJSON_AddStringToObject(meta, "commitHash", d->commit_hash);
    if (d->root_directory)
        cJSON_AddStringToObject(meta, "rootDirectory", d->root_directory);
    cJSON_AddStringToObject(meta, "reason", d->reason);
    if (nested)
        cJSON_AddItemToObject(o, "service", service_json(s, d->service, false));
    return o;
}

/* A service's deployments, newest first. */
static cJSON *service_deployments_json(const struct sim *s, const struct sim_service *svc)
{
    cJSON *a = cJSON_CreateArray();

    for (size_t i = s->deployment_count; i-- > 0;)
        if (s->deployments[i]->service == svc)
            cJSON_AddItemToArray(a, deployment_json(s, s->deployments[i], true));
    return a;
}

/* nested: also the service's deployments (each with the service, but not its deployments). */
static cJSON *service_json(const struct sim *s, const struct sim_service *svc, bool nested)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "id", svc->id);
    cJSON_AddStringToObject(o, "name", svc->name);
    add_str_or_null(o, "icon", svc->icon);
    cJSON_AddStringToObject(o, "projectId", s->config.project_id);
    add_time(o, "createdAt", svc->created_wall);
    add_time(o, "updatedAt", svc->updated_wall);
    add_time(o, "deletedAt", svc->deleted ? svc->deleted_wall : 0);
    if (nested)
        cJSON_AddItemToObject(o, "deployments", service_deployments_json(s, svc));
    return o;
}

static bool instance_ready(const struct sim_service *svc)
{
    return !svc->deleted && time_mono_ms() >= svc->instance_ready_mono;
}

static cJSON *instance_json(const struct sim *s, const struct sim_service *svc)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *active = cJSON_CreateArray();
    const cJSON *setting;
    const struct sim_deployment *latest = NULL;

    cJSON_ArrayForEach(setting, svc->settings)
    {
        cJSON_AddItemToObject(o, setting->string, cJSON_Duplicate(setting, true));
    }
    cJSON_AddStringToObject(o, "id", svc->instance_id);
    cJSON_AddStringToObject(o, "serviceId", svc->id);
    cJSON_AddStringToObject(o, "serviceName", svc->name);
    cJSON_AddStringToObject(o, "environmentId", s->config.environment_id);
    add_str_or_null(o, "rootDirectory", svc->root_directory);
    add_time(o, "createdAt", svc->instance_ready_wall);
    add_time(o, "updatedAt", svc->updated_wall);
    if (svc->repo || svc->image) {
        cJSON *src = cJSON_AddObjectToObject(o, "source");

        add_str_or_null(src, "repo", svc->repo);
        add_str_or_null(src, "image", svc->image);
    } else {
        cJSON_AddNullToObject(o, "source");
    }
    for (size_t i = s->deployment_count; i-- > 0;) {
        const struct sim_deployment *d = s->deployments[i];
        int64_t w;

        if (d->service != svc)
            continue;
        if (latest == NULL)
            latest = d;
        if (strcmp(deployment_status(s, d, &w), "SUCCESS") == 0)
            cJSON_AddItemToArray(active, deployment_json(s, d, true));
    }
    if (latest)
        cJSON_AddItemToObject(o, "latestDeployment", deployment_json(s, latest, true));
    else
        cJSON_AddNullToObject(o, "latestDeployment");
    cJSON_AddItemToObject(o, "activeDeployments", active);
    cJSON_AddItemToObject(o, "service", service_json(s, svc, true));
    return o;
}

/* ---- lookups and checks -----------------------------------------------------------------------
 */

static const char *arg_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool arg_true(const cJSON *obj, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

static struct sim_service *service_find(struct sim *s, const char *id)
{
    if (id == NULL)
        return NULL;
    for (size_t i = 0; i < s->service_count; i++)
        if (!s->services[i]->deleted && strcmp(s->services[i]->id, id) == 0)
            return s->services[i];
    return NULL;
}

static int fail(char *err, size_t errsize, const char *msg)
{
    snprintf(err, errsize, "%s", msg);
    return -1;
}

static int check_project(struct sim *s, const char *id, char *err, size_t errsize)
{
    if (id == NULL || strcmp(id, s->config.project_id) != 0)
        return fail(err, errsize, "Project not found");
    return 0;
}

/* environmentId may be absent (optional arguments); a given one must match. */
static int check_environment(struct sim *s, const char *id, char *err, size_t errsize)
{
    if (id != NULL && strcmp(id, s->config.environment_id) != 0)
        return fail(err, errsize, "Environment not found");
    return 0;
}

/* Resolves repo and branch against the repos Railway's GitHub app can see; *branch_out is the
 * given branch or the default one. */
static int check_repo(struct sim *s, const char *repo, const char *branch, const char **branch_out,
                      char *err, size_t errsize)
{
    for (size_t i = 0; i < s->config.repo_count; i++) {
        const struct sim_repo *r = &s->config.repos[i];

        if (strcmp(r->name, repo) != 0)
            continue;
        if (branch == NULL) {
            *branch_out = r->branches[0];
            return 0;
        }
        for (size_t j = 0; j < r->branch_count; j++) {
            if (strcmp(r->branches[j], branch) == 0) {
                *branch_out = r->branches[j];
                return 0;
            }
        }
        return fail(err, errsize, "Branch not found");
    }
    return fail(err, errsize, "Repository not found or not accessible by Railway's GitHub app");
}

static void variables_merge(cJSON *dst, const cJSON *src)
{
    const cJSON *v;

    cJSON_ArrayForEach(v, src)
    {
        cJSON *copy = cJSON_Duplicate(v, true);

        if (cJSON_GetObjectItemCaseSensitive(dst, v->string) != NULL)
            cJSON_ReplaceItemInObjectCaseSensitive(dst, v->string, copy);
        else
            cJSON_AddItemToObject(dst, v->string, copy);
    }
}

/* ---- resolvers --------------------------------------------------------------------------------
 */

static cJSON *environment_json(const struct sim *s)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "id", s->config.environment_id);
    cJSON_AddStringToObject(o, "name", "production");
    cJSON_AddStringToObject(o, "projectId", s->config.project_id);
    cJSON_AddBoolToObject(o, "isEphemeral", false);
    cJSON_AddBoolToObject(o, "canAccess", true);
    add_time(o, "createdAt", 1735689600000LL);
    add_time(o, "updatedAt", 1735689600000LL);
    add_time(o, "deletedAt", 0);
    return o;
}

static int resolve_project(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    cJSON *o, *services, *envs;

    if (check_project(s, arg_str(args, "id"), err, n) < 0)
        return -1;
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", s->config.project_id);
    cJSON_AddStringToObject(o, "name", "railway-sim");
    cJSON_AddStringToObject(o, "primaryEnvironmentId", s->config.environment_id);
    cJSON_AddStringToObject(o, "baseEnvironmentId", s->config.environment_id);
    add_time(o, "createdAt", 1735689600000LL);
    add_time(o, "updatedAt", 1735689600000LL);
    services = cJSON_AddArrayToObject(o, "services");
    for (size_t i = 0; i < s->service_count; i++)
        if (!s->services[i]->deleted)
            cJSON_AddItemToArray(services, service_json(s, s->services[i], true));
    envs = cJSON_AddArrayToObject(o, "environments");
    cJSON_AddItemToArray(envs, environment_json(s));
    *out = o;
    return 0;
}

static int resolve_environment(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    const char *project = arg_str(args, "projectId");

    if (project != NULL && check_project(s, project, err, n) < 0)
        return -1;
    if (strcmp(arg_str(args, "id") ? arg_str(args, "id") : "", s->config.environment_id) != 0)
        return fail(err, n, "Environment not found");
    *out = environment_json(s);
    return 0;
}

/* me: the user behind an account token; workspace and project tokens have none. */
static int resolve_me(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    cJSON *o;

    (void)args;
    if (s->caller != SIM_CALLER_ACCOUNT)
        return fail(err, n, "Not Authorized");
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", "user-sim");
    cJSON_AddStringToObject(o, "email", "sim@railway-sim.invalid");
    cJSON_AddStringToObject(o, "name", "Railway Sim");
    cJSON_AddStringToObject(o, "username", "railway-sim");
    add_time(o, "createdAt", 1735689600000LL);
    add_time(o, "lastLogin", 1735689600000LL);
    *out = o;
    return 0;
}

/* projectToken: the project and environment a Project-Access-Token belongs to. */
static int resolve_project_token(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    cJSON *o;

    (void)args;
    if (s->caller != SIM_CALLER_PROJECT)
        return fail(err, n, "Not Authorized");
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", "project-token-sim");
    cJSON_AddStringToObject(o, "name", "railway-sim");
    cJSON_AddStringToObject(o, "displayToken", "********");
    cJSON_AddStringToObject(o, "projectId", s->config.project_id);
    cJSON_AddStringToObject(o, "environmentId", s->config.environment_id);
    add_time(o, "createdAt", 1735689600000LL);
    *out = o;
    return 0;
}

/* GitHub access belongs to a user: only account tokens list repos and branches. */
static int resolve_github_repos(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    cJSON *a;

    (void)args;
    if (s->caller != SIM_CALLER_ACCOUNT)
        return fail(err, n, "Not Authorized");
    a = cJSON_CreateArray();
    for (size_t i = 0; i < s->config.repo_count; i++) {
        const struct sim_repo *r = &s->config.repos[i];
        const char *slash = strchr(r->name, '/');
        cJSON *o = cJSON_CreateObject();

        cJSON_AddNumberToObject(o, "id", (double)(1000 + i));
        cJSON_AddStringToObject(o, "fullName", r->name);
        cJSON_AddStringToObject(o, "name", slash ? slash + 1 : r->name);
        cJSON_AddStringToObject(o, "defaultBranch", r->branches[0]);
        cJSON_AddStringToObject(o, "installationId", "sim-installation");
        cJSON_AddBoolToObject(o, "isPrivate", true);
        cJSON_AddNullToObject(o, "description");
        cJSON_AddItemToArray(a, o);
    }
    *out = a;
    return 0;
}

static int resolve_github_repo_branches(struct sim *s, const cJSON *args, cJSON **out, char *err,
                                        size_t n)
{
    const char *owner = arg_str(args, "owner"), *repo = arg_str(args, "repo");
    char full[512];

    if (s->caller != SIM_CALLER_ACCOUNT)
        return fail(err, n, "Not Authorized");
    snprintf(full, sizeof(full), "%s/%s", owner ? owner : "", repo ? repo : "");
    for (size_t i = 0; i < s->config.repo_count; i++) {
        const struct sim_repo *r = &s->config.repos[i];
        cJSON *a;

        if (strcasecmp(r->name, full) != 0)
            continue;
        a = cJSON_CreateArray();
        for (size_t j = 0; j < r->branch_count; j++) {
            cJSON *b = cJSON_CreateObject();

            cJSON_AddStringToObject(b, "name", r->branches[j]);
            cJSON_AddItemToArray(a, b);
        }
        *out = a;
        return 0;
    }
    return fail(err, n, "Repository not found or not accessible by Railway's GitHub app");
}

/* ---- introspection ----------------------------------------------------------------------------
 */

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

static int resolve_intro_schema(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
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

static int resolve_intro_type(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    const char *name = arg_str(args, "name");
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

static int resolve_service(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    struct sim_service *svc = service_find(s, arg_str(args, "id"));

    if (svc == NULL)
        return fail(err, n, "Service not found");
    *out = service_json(s, svc, true);
    return 0;
}

static int resolve_service_instance(struct sim *s, const cJSON *args, cJSON **out, char *err,
                                    size_t n)
{
    struct sim_service *svc;

    if (check_environment(s, arg_str(args, "environmentId"), err, n) < 0)
        return -1;
    svc = service_find(s, arg_str(args, "serviceId"));
    if (svc == NULL || !instance_ready(svc))
        return fail(err, n, "ServiceInstance not found");
    *out = instance_json(s, svc);
    return 0;
}

static int resolve_variables(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    const char *sid = arg_str(args, "serviceId");
    struct sim_service *svc = NULL;
    cJSON *o;

    if (check_project(s, arg_str(args, "projectId"), err, n) < 0 ||
        check_environment(s, arg_str(args, "environmentId"), err, n) < 0)
        return -1;
    if (sid != NULL) {
        svc = service_find(s, sid);
        if (svc == NULL)
            return fail(err, n, "Service not found");
    }
    o = cJSON_Duplicate(svc ? svc->variables : s->shared_variables, true);
    if (!arg_true(args, "unrendered")) {
        /* Rendered variables carry the ones Railway provides. */
        cJSON_AddStringToObject(o, "RAILWAY_PROJECT_ID", s->config.project_id);
        cJSON_AddStringToObject(o, "RAILWAY_ENVIRONMENT_ID", s->config.environment_id);
        if (svc != NULL) {
            cJSON_AddStringToObject(o, "RAILWAY_SERVICE_ID", svc->id);
            cJSON_AddStringToObject(o, "RAILWAY_SERVICE_NAME", svc->name);
        }
    }
    *out = o;
    return 0;
}

static int resolve_deployment(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    const char *id = arg_str(args, "id");

    for (size_t i = 0; id != NULL && i < s->deployment_count; i++) {
        if (strcmp(s->deployments[i]->id, id) == 0) {
            *out = deployment_json(s, s->deployments[i], true);
            return 0;
        }
    }
    return fail(err, n, "Deployment not found");
}

static bool status_listed(const cJSON *list, const char *status)
{
    const cJSON *it;

    cJSON_ArrayForEach(it, list)
    {
        if (cJSON_IsString(it) && strcmp(it->valuestring, status) == 0)
            return true;
    }
    return false;
}

static int resolve_deployments(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(args, "input");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(input, "status");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(status, "in");
    const cJSON *not_in = cJSON_GetObjectItemCaseSensitive(status, "notIn");
    const char *pid = arg_str(input, "projectId");
    const char *sid = arg_str(input, "serviceId");
    cJSON *a;

    if ((pid != NULL && check_project(s, pid, err, n) < 0) ||
        check_environment(s, arg_str(input, "environmentId"), err, n) < 0)
        return -1;
    a = cJSON_CreateArray();
    for (size_t i = s->deployment_count; i-- > 0;) {
        const struct sim_deployment *d = s->deployments[i];
        int64_t w;
        const char *st;

        if (sid != NULL && strcmp(d->service->id, sid) != 0)
            continue;
        if (d->service->deleted && sid == NULL && !arg_true(input, "includeDeleted"))
            continue;
        st = deployment_status(s, d, &w);
        if (cJSON_IsArray(in) && !status_listed(in, st))
            continue;
        if (cJSON_IsArray(not_in) && status_listed(not_in, st))
            continue;
        cJSON_AddItemToArray(a, deployment_json(s, d, true));
    }
    *out = a;
    return 0;
}

static int resolve_service_create(struct sim *s, const cJSON *args, cJSON **out, char *err,
                                  size_t n)
{
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(args, "input");
    const cJSON *source = cJSON_GetObjectItemCaseSensitive(input, "source");
    const cJSON *vars = cJSON_GetObjectItemCaseSensitive(input, "variables");
    const char *repo = arg_str(source, "repo"), *image = arg_str(source, "image");
    const char *name = arg_str(input, "name"), *branch = NULL;
    struct sim_service *svc;
    int64_t mono = time_mono_ms(), wall = time_wall_ms();
    char generated[32];

    if (check_project(s, arg_str(input, "projectId"), err, n) < 0 ||
        check_environment(s, arg_str(input, "environmentId"), err, n) < 0)
        return -1;
    if (repo != NULL && check_repo(s, repo, arg_str(input, "branch"), &branch, err, n) < 0)
        return -1;
    if (s->service_count >= MAX_SERVICES)
        return fail(err, n, "Service limit reached");
    svc = xmalloc(sizeof(*svc));
    memset(svc, 0, sizeof(*svc));
    id_new(s, svc->id, sizeof(svc->id));
    id_new(s, svc->instance_id, sizeof(svc->instance_id));
    if (name == NULL || name[0] == '\0') {
        snprintf(generated, sizeof(generated), "service-%.6s", svc->id);
        name = generated;
    }
    svc->name = xstrdup(name);
    svc->icon = dup_or_null(arg_str(input, "icon"));
    svc->created_wall = svc->updated_wall = wall;
    svc->instance_ready_mono = mono + s->config.instance_delay_ms;
    svc->instance_ready_wall = wall + s->config.instance_delay_ms;
    svc->variables = cJSON_IsObject(vars) ? cJSON_Duplicate(vars, true) : cJSON_CreateObject();
    svc->settings = cJSON_CreateObject();
    if (repo != NULL) {
        svc->repo = xstrdup(repo);
        svc->branch = xstrdup(branch);
    } else if (image != NULL) {
        svc->image = xstrdup(image);
    }
    s->services = xrealloc(s->services, (s->service_count + 1) * sizeof(*s->services));
    s->services[s->service_count++] = svc;
    if (svc->repo != NULL || svc->image != NULL)
        deployment_start(s, svc, NULL, "deploy");
    *out = service_json(s, svc, true);
    return 0;
}

static int resolve_service_instance_update(struct sim *s, const cJSON *args, cJSON **out, char *err,
                                           size_t n)
{
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(args, "input");
    const cJSON *v;
    struct sim_service *svc;
    const char *branch = NULL;

    if (check_environment(s, arg_str(args, "environmentId"), err, n) < 0)
        return -1;
    svc = service_find(s, arg_str(args, "serviceId"));
    if (svc == NULL || !instance_ready(svc))
        return fail(err, n, "ServiceInstance not found");
    v = cJSON_GetObjectItemCaseSensitive(input, "source");
    if (cJSON_IsObject(v) && arg_str(v, "repo") != NULL &&
        check_repo(s, arg_str(v, "repo"), NULL, &branch, err, n) < 0)
        return -1;
    cJSON_ArrayForEach(v, input)
    {
        if (strcmp(v->string, "rootDirectory") == 0) {
            set_str(&svc->root_directory, cJSON_IsString(v) ? v->valuestring : NULL);
        } else if (strcmp(v->string, "source") == 0) {
            const char *repo = arg_str(v, "repo"), *image = arg_str(v, "image");

            if (repo != NULL) {
                if (svc->repo == NULL || strcmp(svc->repo, repo) != 0)
                    set_str(&svc->branch, branch);
                set_str(&svc->repo, repo);
                set_str(&svc->image, NULL);
            } else if (image != NULL) {
                set_str(&svc->image, image);
                set_str(&svc->repo, NULL);
                set_str(&svc->branch, NULL);
            } else if (cJSON_IsNull(v)) {
                set_str(&svc->repo, NULL);
                set_str(&svc->branch, NULL);
                set_str(&svc->image, NULL);
            }
        } else if (strcmp(v->string, "registryCredentials") == 0 ||
                   strcmp(v->string, "multiRegionConfig") == 0) {
            continue; /* write-only */
        } else {
            cJSON_DeleteItemFromObjectCaseSensitive(svc->settings, v->string);
            if (!cJSON_IsNull(v))
                cJSON_AddItemToObject(svc->settings, v->string, cJSON_Duplicate(v, true));
        }
    }
    svc->updated_wall = time_wall_ms();
    *out = cJSON_CreateTrue();
    return 0;
}

static int resolve_variable_collection_upsert(struct sim *s, const cJSON *args, cJSON **out,
                                              char *err, size_t n)
{
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(args, "input");
    const char *sid = arg_str(input, "serviceId");
    struct sim_service *svc = NULL;
    cJSON *target;

    if (check_project(s, arg_str(input, "projectId"), err, n) < 0 ||
        check_environment(s, arg_str(input, "environmentId"), err, n) < 0)
        return -1;
    if (sid != NULL) {
        svc = service_find(s, sid);
        if (svc == NULL)
            return fail(err, n, "Service not found");
    }
    target = svc ? svc->variables : s->shared_variables;
    if (arg_true(input, "replace")) {
        cJSON *fresh = cJSON_CreateObject();

        if (svc) {
            cJSON_Delete(svc->variables);
            svc->variables = fresh;
        } else {
            cJSON_Delete(s->shared_variables);
            s->shared_variables = fresh;
        }
        target = fresh;
    }
    variables_merge(target, cJSON_GetObjectItemCaseSensitive(input, "variables"));
    if (svc != NULL) {
        svc->updated_wall = time_wall_ms();
        if (!arg_true(input, "skipDeploys") && (svc->repo != NULL || svc->image != NULL))
            deployment_start(s, svc, NULL, "variables");
    }
    *out = cJSON_CreateTrue();
    return 0;
}

static int resolve_service_connect(struct sim *s, const cJSON *args, cJSON **out, char *err,
                                   size_t n)
{
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(args, "input");
    const char *repo = arg_str(input, "repo"), *image = arg_str(input, "image");
    const char *branch = NULL;
    struct sim_service *svc = service_find(s, arg_str(args, "id"));

    if (svc == NULL)
        return fail(err, n, "Service not found");
    if (repo == NULL && image == NULL)
        return fail(err, n, "Either repo or image must be provided");
    if (repo != NULL) {
        if (check_repo(s, repo, arg_str(input, "branch"), &branch, err, n) < 0)
            return -1;
        set_str(&svc->repo, repo);
        set_str(&svc->branch, branch);
        set_str(&svc->image, NULL);
    } else {
        set_str(&svc->image, image);
        set_str(&svc->repo, NULL);
        set_str(&svc->branch, NULL);
    }
    svc->updated_wall = time_wall_ms();
    if (s->config.autodeploy_on_connect)
        deployment_start(s, svc, NULL, "connect");
    *out = service_json(s, svc, true);
    return 0;
}

static int resolve_deployment_trigger_create(struct sim *s, const cJSON *args, cJSON **out,
                                             char *err, size_t n)
{
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(args, "input");
    const char *provider = arg_str(input, "provider");
    const char *repo = arg_str(input, "repository");
    const char *root = arg_str(input, "rootDirectory");
    const char *branch = NULL;
    struct sim_service *svc;
    cJSON *o;
    char id[40];

    if (check_project(s, arg_str(input, "projectId"), err, n) < 0 ||
        check_environment(s, arg_str(input, "environmentId"), err, n) < 0)
        return -1;
    if (provider == NULL || strcmp(provider, "github") != 0)
        return fail(err, n, "Invalid provider: only \"github\" is supported");
    svc = service_find(s, arg_str(input, "serviceId"));
    if (svc == NULL)
        return fail(err, n, "Service not found");
    if (check_repo(s, repo, arg_str(input, "branch"), &branch, err, n) < 0)
        return -1;
    set_str(&svc->repo, repo);
    set_str(&svc->branch, branch);
    set_str(&svc->image, NULL);
    if (root != NULL)
        set_str(&svc->root_directory, root);
    svc->updated_wall = time_wall_ms();
    deployment_start(s, svc, NULL, "trigger");
    id_new(s, id, sizeof(id));
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "branch", branch);
    cJSON_AddBoolToObject(o, "checkSuites", arg_true(input, "checkSuites"));
    cJSON_AddStringToObject(o, "environmentId", s->config.environment_id);
    cJSON_AddStringToObject(o, "projectId", s->config.project_id);
    cJSON_AddStringToObject(o, "provider", provider);
    cJSON_AddStringToObject(o, "repository", repo);
    cJSON_AddStringToObject(o, "serviceId", svc->id);
    cJSON_AddNumberToObject(o, "validCheckSuites", 0);
    *out = o;
    return 0;
}

static int resolve_service_instance_deploy_v2(struct sim *s, const cJSON *args, cJSON **out,
                                              char *err, size_t n)
{
    struct sim_service *svc;
    struct sim_deployment *d;

    if (check_environment(s, arg_str(args, "environmentId"), err, n) < 0)
        return -1;
    svc = service_find(s, arg_str(args, "serviceId"));
    if (svc == NULL)
        return fail(err, n, "Service not found");
    if (!instance_ready(svc))
        return fail(err, n, "ServiceInstance not found");
    d = deployment_start(s, svc, arg_str(args, "commitSha"), "deploy");
    if (d == NULL)
        return fail(err, n, "Deployment limit reached");
    *out = cJSON_CreateString(d->id);
    return 0;
}

static int resolve_service_update(struct sim *s, const cJSON *args, cJSON **out, char *err,
                                  size_t n)
{
    const cJSON *input = cJSON_GetObjectItemCaseSensitive(args, "input");
    struct sim_service *svc = service_find(s, arg_str(args, "id"));
    const char *name = arg_str(input, "name");

    if (svc == NULL)
        return fail(err, n, "Service not found");
    if (name != NULL) {
        if (name[0] == '\0')
            return fail(err, n, "Service name cannot be empty");
        set_str(&svc->name, name);
    }
    if (cJSON_GetObjectItemCaseSensitive(input, "icon") != NULL)
        set_str(&svc->icon, arg_str(input, "icon"));
    svc->updated_wall = time_wall_ms();
    *out = service_json(s, svc, true);
    return 0;
}

static int resolve_service_delete(struct sim *s, const cJSON *args, cJSON **out, char *err,
                                  size_t n)
{
    struct sim_service *svc;
    int64_t wall = time_wall_ms();

    if (check_environment(s, arg_str(args, "environmentId"), err, n) < 0)
        return -1;
    svc = service_find(s, arg_str(args, "id"));
    if (svc == NULL)
        return fail(err, n, "Service not found");
    svc->deleted = true;
    svc->deleted_wall = svc->updated_wall = wall;
    for (size_t i = 0; i < s->deployment_count; i++) {
        if (s->deployments[i]->service == svc && !s->deployments[i]->removed) {
            s->deployments[i]->removed = true;
            s->deployments[i]->removed_wall = wall;
        }
    }
    *out = cJSON_CreateTrue();
    return 0;
}

static const struct {
    const char *field;
    int (*fn)(struct sim *, const cJSON *, cJSON **, char *, size_t);
} resolvers[] = {
    {"__schema", resolve_intro_schema},
    {"__type", resolve_intro_type},
    {"deployment", resolve_deployment},
    {"deployments", resolve_deployments},
    {"environment", resolve_environment},
    {"githubRepoBranches", resolve_github_repo_branches},
    {"githubRepos", resolve_github_repos},
    {"me", resolve_me},
    {"project", resolve_project},
    {"projectToken", resolve_project_token},
    {"service", resolve_service},
    {"serviceInstance", resolve_service_instance},
    {"variables", resolve_variables},
    {"deploymentTriggerCreate", resolve_deployment_trigger_create},
    {"serviceConnect", resolve_service_connect},
    {"serviceCreate", resolve_service_create},
    {"serviceDelete", resolve_service_delete},
    {"serviceInstanceDeployV2", resolve_service_instance_deploy_v2},
    {"serviceInstanceUpdate", resolve_service_instance_update},
    {"serviceUpdate", resolve_service_update},
    {"variableCollectionUpsert", resolve_variable_collection_upsert},
};

bool sim_field_simulated(const char *field)
{
    for (size_t i = 0; i < sizeof(resolvers) / sizeof(resolvers[0]); i++)
        if (strcmp(resolvers[i].field, field) == 0)
            return true;
    return false;
}

int sim_field_resolve(struct sim *s, const char *field, const cJSON *args, cJSON **out, char *err,
                      size_t errsize)
{
    *out = NULL;
    for (size_t i = 0; i < sizeof(resolvers) / sizeof(resolvers[0]); i++)
        if (strcmp(resolvers[i].field, field) == 0)
            return resolvers[i].fn(s, args, out, err, errsize);
    return fail(err, errsize, "Problem processing request");
}

/* ---- state dump -------------------------------------------------------------------------------
 */

cJSON *sim_state_json(struct sim *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *services = cJSON_AddArrayToObject(o, "services");
    cJSON *counts, *kinds;

    cJSON_AddStringToObject(o, "project_id", s->config.project_id);
    cJSON_AddStringToObject(o, "environment_id", s->config.environment_id);
    for (size_t i = 0; i < s->service_count; i++) {
        const struct sim_service *svc = s->services[i];
        cJSON *j = cJSON_CreateObject(), *src, *deps;

        cJSON_AddStringToObject(j, "id", svc->id);
        cJSON_AddStringToObject(j, "name", svc->name);
        cJSON_AddBoolToObject(j, "deleted", svc->deleted);
        cJSON_AddBoolToObject(j, "instanceReady", instance_ready(svc));
        cJSON_AddItemToObject(j, "variables", cJSON_Duplicate(svc->variables, true));
        add_str_or_null(j, "rootDirectory", svc->root_directory);
        src = cJSON_AddObjectToObject(j, "source");
        add_str_or_null(src, "repo", svc->repo);
        add_str_or_null(src, "branch", svc->branch);
        add_str_or_null(src, "image", svc->image);
        cJSON_AddItemToObject(j, "settings", cJSON_Duplicate(svc->settings, true));
        deps = cJSON_AddArrayToObject(j, "deployments");
        for (size_t k = s->deployment_count; k-- > 0;) {
            const struct sim_deployment *d = s->deployments[k];
            cJSON *dj;
            int64_t w;

            if (d->service != svc)
                continue;
            dj = cJSON_CreateObject();
            cJSON_AddStringToObject(dj, "id", d->id);
            cJSON_AddStringToObject(dj, "status", deployment_status(s, d, &w));
            add_str_or_null(dj, "commitHash", d->commit_hash);
            cJSON_AddStringToObject(dj, "reason", d->reason);
            add_time(dj, "createdAt", d->created_wall);
            cJSON_AddItemToArray(deps, dj);
        }
        cJSON_AddItemToArray(services, j);
    }
    cJSON_AddItemToObject(o, "shared_variables", cJSON_Duplicate(s->shared_variables, true));
    counts = cJSON_AddObjectToObject(o, "counts");
    cJSON_AddNumberToObject(counts, "requests", (double)s->requests);
    cJSON_AddItemToObject(counts, "by_operation", cJSON_Duplicate(s->by_operation, true));
    cJSON_AddItemToObject(counts, "by_root_field", cJSON_Duplicate(s->by_root_field, true));
    cJSON_AddNumberToObject(counts, "status_400", (double)s->status_400);
    cJSON_AddNumberToObject(counts, "status_413", (double)s->status_413);
    cJSON_AddNumberToObject(counts, "status_429", (double)s->status_429);
    cJSON_AddNumberToObject(counts, "not_authorized", (double)s->not_authorized);
    cJSON_AddNumberToObject(counts, "forced_errors", (double)s->forced_errors);
    cJSON_AddNumberToObject(counts, "faults", (double)s->faults);
    kinds = cJSON_AddObjectToObject(counts, "faults_by_kind");
    for (int k = 1; k < SIM_FAULT_COUNT; k++)
        cJSON_AddNumberToObject(kinds, fault_names[k], (double)s->faults_by_kind[k]);
    cJSON_AddItemToObject(o, "config", sim_config_json(s));
    return o;
}
