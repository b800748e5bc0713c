/* sim: the simulated project's lifecycle (init, reset, state dump), rate limits, fault draws,
 * counters, and the helpers the other files share.
 *
 * Threading: none of its own. main.c serialises every call with sim->lock, so the functions
 * here never lock. Deployment status is derived from the clock on each read, so nothing runs
 * in the background. */
#include "sim.h"
#include "state.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "util/util.h"

#define MAX_BUCKETS 1024

static const char *const fault_names[SIM_FAULT_COUNT] = {
    "none", "500", "502", "503", "reset", "delay", "generic", "429", "403",
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
void sim_id_new(struct sim *s, char *buf, size_t size)
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

char *sim_branch_head(const struct sim *s, const char *repo, const char *branch)
{
    uint64_t h = fnv1a(branch, fnv1a("@", fnv1a(repo, 0xCBF29CE484222325ULL)));
    uint64_t st = h;
    char out[41];

    for (size_t i = s->head_count; i-- > 0;)
        if (strcmp(s->heads[i].repo, repo) == 0 && strcmp(s->heads[i].branch, branch) == 0)
            return xstrdup(s->heads[i].sha);
    snprintf(out, sizeof(out), "%016llx%016llx%08x", (unsigned long long)splitmix64(&st),
             (unsigned long long)splitmix64(&st), (unsigned)(splitmix64(&st) >> 32));
    return xstrdup(out);
}

char *sim_strdup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

void sim_str_set(char **slot, const char *value)
{
    free(*slot);
    *slot = sim_strdup_or_null(value);
}

void sim_json_time_add(cJSON *obj, const char *key, int64_t wall_ms)
{
    char buf[32];

    if (wall_ms <= 0) {
        cJSON_AddNullToObject(obj, key);
        return;
    }
    time_format_utc(buf, wall_ms);
    cJSON_AddStringToObject(obj, key, buf);
}

void sim_json_str_add(cJSON *obj, const char *key, const char *value)
{
    if (value)
        cJSON_AddStringToObject(obj, key, value);
    else
        cJSON_AddNullToObject(obj, key);
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
    free(d->commit_message);
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
    for (size_t i = 0; i < s->head_count; i++) {
        free(s->heads[i].repo);
        free(s->heads[i].branch);
        free(s->heads[i].sha);
    }
    free(s->heads);
    s->heads = NULL;
    s->head_count = 0;
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
    sim_config_copy(&s->initial, config);
    sim_config_copy(&s->config, config);
    state_clear(s);
}

void sim_reset(struct sim *s)
{
    sim_config_cleanup(&s->config);
    sim_config_copy(&s->config, &s->initial);
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

/* An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") of an epoch time. */
static void http_date(char *buf, size_t size, int64_t epoch)
{
    time_t t = (time_t)epoch;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, size, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

void sim_rate_format(const struct sim *s, const struct sim_rate *rate, char *reset,
                     size_t reset_size, char *retry, size_t retry_size)
{
    int64_t now = time_wall_ms() / 1000;

    switch (s->config.reset_format) {
    case SIM_RESET_EPOCH_MS:
        snprintf(reset, reset_size, "%lld", (long long)rate->reset_epoch * 1000);
        break;
    case SIM_RESET_DELTA:
        snprintf(reset, reset_size, "%lld", (long long)(rate->reset_epoch - now));
        break;
    case SIM_RESET_HTTP_DATE:
        http_date(reset, reset_size, rate->reset_epoch);
        break;
    case SIM_RESET_ISO:
        time_format_utc(reset, rate->reset_epoch * 1000);
        break;
    case SIM_RESET_EPOCH:
    case SIM_RESET_FORMAT_COUNT:
        snprintf(reset, reset_size, "%lld", (long long)rate->reset_epoch);
        break;
    }
    if (s->config.retry_format == SIM_RETRY_HTTP_DATE)
        http_date(retry, retry_size, now + rate->retry_after);
    else
        snprintf(retry, retry_size, "%ld", rate->retry_after);
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
        cJSON_AddBoolToObject(j, "instanceReady", sim_instance_ready(svc));
        cJSON_AddItemToObject(j, "variables", cJSON_Duplicate(svc->variables, true));
        sim_json_str_add(j, "rootDirectory", svc->root_directory);
        src = cJSON_AddObjectToObject(j, "source");
        sim_json_str_add(src, "repo", svc->repo);
        sim_json_str_add(src, "branch", svc->branch);
        sim_json_str_add(src, "image", svc->image);
        cJSON_AddItemToObject(j, "settings", cJSON_Duplicate(svc->settings, true));
        cJSON_AddBoolToObject(j, "autoDeploys", svc->auto_deploys);
        cJSON_AddBoolToObject(j, "checkSuites", svc->check_suites);
        deps = cJSON_AddArrayToObject(j, "deployments");
        for (size_t k = s->deployment_count; k-- > 0;) {
            const struct sim_deployment *d = s->deployments[k];
            cJSON *dj;
            int64_t w;

            if (d->service != svc)
                continue;
            dj = cJSON_CreateObject();
            cJSON_AddStringToObject(dj, "id", d->id);
            cJSON_AddStringToObject(dj, "status", sim_deployment_status(s, d, &w));
            cJSON_AddBoolToObject(dj, "listed", sim_deployment_visible(d, time_mono_ms()));
            sim_json_str_add(dj, "commitHash", d->commit_hash);
            cJSON_AddStringToObject(dj, "reason", d->reason);
            sim_json_time_add(dj, "createdAt", d->created_wall);
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
