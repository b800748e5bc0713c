/* deploy: deployments and their lifecycle as Railway runs them: listed late when Railway starts
 * them itself (connect, push), held (WAITING, QUEUED, NEEDS_APPROVAL), SKIPPED (watch paths,
 * failed checks), QUEUED -> BUILDING -> DEPLOYING -> SUCCESS or FAILED, SLEEPING after a while,
 * REMOVED when a newer one supersedes them; GitHub pushes; build and deploy logs. Status is
 * derived from the clock on each read, so nothing runs in the background. */
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "state.h"
#include "util/util.h"

#define QUEUED_PERCENT   20
#define BUILDING_PERCENT 50
#define LOG_LIMIT_MAX    5000
#define LOG_LIMIT        100
#define LOG_LINES_MAX    64

#define NO_BUILD "Deployment does not have an associated build"

/* Whether status is one of a, b, c (c may be NULL). */
static bool status_is(const char *status, const char *a, const char *b, const char *c)
{
    return strcmp(status, a) == 0 || strcmp(status, b) == 0 || (c && strcmp(status, c) == 0);
}

/* When the build clock starts: after the hold. */
static int64_t build_start(const struct sim_deployment *d)
{
    return d->created_mono + (d->hold_status ? d->hold_ms : 0);
}

/* The status by the clock alone (no supersession, no sleep); *since_mono: since when. */
static const char *status_base(const struct sim_deployment *d, int64_t now, int64_t *since_mono)
{
    int64_t start = build_start(d), t = now - start;
    int64_t q = d->build_ms * QUEUED_PERCENT / 100;
    int64_t b = d->build_ms * (QUEUED_PERCENT + BUILDING_PERCENT) / 100;

    *since_mono = d->created_mono;
    if (d->hold_status && (d->hold_ms == 0 || now < start))
        return d->hold_status;
    *since_mono = start;
    if (d->skipped_reason)
        return "SKIPPED";
    if (t < q)
        return "QUEUED";
    if (t < b) {
        *since_mono = start + q;
        return "BUILDING";
    }
    *since_mono = start + b;
    if (d->fail)
        return "FAILED";
    if (t < d->build_ms)
        return "DEPLOYING";
    *since_mono = start + d->build_ms;
    return "SUCCESS";
}

bool sim_deployment_visible(const struct sim_deployment *d, int64_t now_mono)
{
    return now_mono >= d->created_mono;
}

/* When (monotonic) d stopped being live: its service deleted, or superseded by a newer
 * deployment of the same service (listed and not skipped) that succeeded, or, with
 * supersede_unfinished, that was created while d was unfinished. 0: not removed. */
static int64_t removed_at(const struct sim *s, const struct sim_deployment *d, int64_t now)
{
    int64_t since, own_since, own_end;
    const char *own = status_base(d, now, &own_since);
    bool newer = false;

    if (d->removed)
        return now - (time_wall_ms() - d->removed_wall);
    if (status_is(own, "FAILED", "SKIPPED", NULL))
        return 0;
    /* When d finished (succeeded), as a monotonic time; INT64_MAX while unfinished. */
    own_end = strcmp(own, "SUCCESS") == 0 ? own_since : INT64_MAX;
    /* The list is in order of listing: entries after d are newer. */
    for (size_t i = 0; i < s->deployment_count; i++) {
        const struct sim_deployment *e = s->deployments[i];
        const char *st;

        if (e == d) {
            newer = true;
            continue;
        }
        if (!newer || e->service != d->service || !sim_deployment_visible(e, now) ||
            e->skipped_reason)
            continue;
        if (s->config.supersede_unfinished && e->created_mono < own_end)
            return e->created_mono;
        st = status_base(e, now, &since);
        if (strcmp(st, "SUCCESS") == 0)
            return since;
    }
    return 0;
}

const char *sim_deployment_status(const struct sim *s, const struct sim_deployment *d,
                                  int64_t *status_wall)
{
    int64_t now = time_mono_ms(), since = 0, removed = removed_at(s, d, now);
    const char *st = status_base(d, now, &since);

    if (removed != 0) {
        *status_wall = d->created_wall + (removed - d->created_mono);
        return "REMOVED";
    }
    if (strcmp(st, "SUCCESS") == 0 && d->sleep_after_ms > 0 && now - since >= d->sleep_after_ms) {
        since += d->sleep_after_ms;
        st = "SLEEPING";
    }
    *status_wall = d->created_wall + (since - d->created_mono);
    return st;
}

struct sim_deployment *sim_deployment_start(struct sim *s, struct sim_service *svc,
                                            const char *commit, const char *reason, long delay_ms)
{
    struct sim_deployment *d;
    size_t at;

    if (s->deployment_count >= SIM_MAX_DEPLOYMENTS)
        return NULL;
    d = xcalloc(1, sizeof(*d));
    sim_id_new(s, d->id, sizeof(d->id));
    d->service = svc;
    d->repo = sim_strdup_or_null(svc->repo);
    d->branch = sim_strdup_or_null(svc->branch);
    d->image = sim_strdup_or_null(svc->image);
    d->root_directory = sim_strdup_or_null(svc->root_directory);
    if (commit != NULL)
        d->commit_hash = xstrdup(commit);
    else if (svc->repo != NULL && svc->branch != NULL)
        d->commit_hash = sim_branch_head(s, svc->repo, svc->branch);
    d->reason = reason;
    d->created_mono = time_mono_ms() + delay_ms;
    d->created_wall = time_wall_ms() + delay_ms;
    d->hold_status = s->config.hold_status;
    d->hold_ms = s->config.hold_ms;
    d->build_ms = s->config.build_ms;
    d->sleep_after_ms = s->config.sleep_after_ms;
    d->fail = (s->config.fail_builds != NULL && strstr(svc->name, s->config.fail_builds)) ||
              (svc->repo == NULL && svc->image == NULL); /* nothing to build */
    /* Kept in order of listing time: a late one goes after every one listed before it. */
    s->deployments = xrealloc(s->deployments, (s->deployment_count + 1) * sizeof(*s->deployments));
    at = s->deployment_count;
    while (at > 0 && s->deployments[at - 1]->created_mono > d->created_mono) {
        s->deployments[at] = s->deployments[at - 1];
        at--;
    }
    s->deployments[at] = d;
    s->deployment_count++;
    return d;
}

cJSON *sim_deployment_json(const struct sim *s, const struct sim_deployment *d, bool nested)
{
    cJSON *o = cJSON_CreateObject(), *meta;
    int64_t status_wall = 0;
    const char *status = sim_deployment_status(s, d, &status_wall);
    char url[160];

    cJSON_AddStringToObject(o, "id", d->id);
    cJSON_AddStringToObject(o, "status", status);
    sim_json_time_add(o, "createdAt", d->created_wall);
    sim_json_time_add(o, "updatedAt", status_wall);
    sim_json_time_add(o, "statusUpdatedAt", status_wall);
    cJSON_AddStringToObject(o, "projectId", s->config.project_id);
    cJSON_AddStringToObject(o, "environmentId", s->config.environment_id);
    cJSON_AddStringToObject(o, "serviceId", d->service->id);
    /* Railway refuses a redeploy while it builds or deploys, and of a removed one. */
    cJSON_AddBoolToObject(o, "canRedeploy",
                          status_is(status, "SUCCESS", "SLEEPING", "FAILED") ||
                              status_is(status, "CRASHED", "SKIPPED", NULL));
    cJSON_AddBoolToObject(o, "canRollback", status_is(status, "SUCCESS", "SLEEPING", "REMOVED"));
    cJSON_AddBoolToObject(o, "deploymentStopped", false);
    cJSON_AddNullToObject(o, "diagnosis");
    snprintf(url, sizeof(url), "%.60s-%.8s.up.railway.app", d->service->name, d->id);
    for (char *p = url; *p; p++)
        if (*p == ' ' || *p == '/' || *p == '_')
            *p = '-';
    cJSON_AddStringToObject(o, "staticUrl", url);
    meta = cJSON_AddObjectToObject(o, "meta");
    if (d->repo) {
        cJSON_AddStringToObject(meta, "repo", d->repo);
        sim_json_str_add(meta, "branch", d->branch);
    }
    if (d->image)
        cJSON_AddStringToObject(meta, "image", d->image);
    if (d->commit_hash)
        cJSON_AddStringToObject(meta, "commitHash", d->commit_hash);
    if (d->commit_message)
        cJSON_AddStringToObject(meta, "commitMessage", d->commit_message);
    if (d->skipped_reason)
        cJSON_AddStringToObject(meta, "skippedReason", d->skipped_reason);
    if (d->root_directory)
        cJSON_AddStringToObject(meta, "rootDirectory", d->root_directory);
    cJSON_AddStringToObject(meta, "reason", d->reason);
    if (nested)
        cJSON_AddItemToObject(o, "service", sim_service_json(s, d->service, false));
    return o;
}

/* A service's deployments, newest first. */
static cJSON *service_deployments_json(const struct sim *s, const struct sim_service *svc)
{
    cJSON *a = cJSON_CreateArray();

    int64_t now = time_mono_ms();

    for (size_t i = s->deployment_count; i-- > 0;)
        if (s->deployments[i]->service == svc && sim_deployment_visible(s->deployments[i], now))
            cJSON_AddItemToArray(a, sim_deployment_json(s, s->deployments[i], true));
    return a;
}

/* nested: also the service's deployments (each with the service, but not its deployments). */
cJSON *sim_service_json(const struct sim *s, const struct sim_service *svc, bool nested)
{
    cJSON *o = cJSON_CreateObject();

    cJSON_AddStringToObject(o, "id", svc->id);
    cJSON_AddStringToObject(o, "name", svc->name);
    sim_json_str_add(o, "icon", svc->icon);
    cJSON_AddStringToObject(o, "projectId", s->config.project_id);
    sim_json_time_add(o, "createdAt", svc->created_wall);
    sim_json_time_add(o, "updatedAt", svc->updated_wall);
    sim_json_time_add(o, "deletedAt", svc->deleted ? svc->deleted_wall : 0);
    if (nested)
        cJSON_AddItemToObject(o, "deployments", service_deployments_json(s, svc));
    return o;
}

bool sim_instance_ready(const struct sim_service *svc)
{
    return !svc->deleted && time_mono_ms() >= svc->instance_ready_mono;
}

cJSON *sim_instance_json(const struct sim *s, const struct sim_service *svc)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *active = cJSON_CreateArray();
    const cJSON *setting;
    const struct sim_deployment *latest = NULL;
    int64_t now = time_mono_ms();

    cJSON_ArrayForEach(setting, svc->settings)
    {
        cJSON_AddItemToObject(o, setting->string, cJSON_Duplicate(setting, true));
    }
    cJSON_AddStringToObject(o, "id", svc->instance_id);
    cJSON_AddStringToObject(o, "serviceId", svc->id);
    cJSON_AddStringToObject(o, "serviceName", svc->name);
    cJSON_AddStringToObject(o, "environmentId", s->config.environment_id);
    sim_json_str_add(o, "rootDirectory", svc->root_directory);
    sim_json_time_add(o, "deletedAt", svc->deleted ? svc->deleted_wall : 0);
    sim_json_time_add(o, "createdAt", svc->instance_ready_wall);
    sim_json_time_add(o, "updatedAt", svc->updated_wall);
    if (svc->repo || svc->image) {
        cJSON *src = cJSON_AddObjectToObject(o, "source");

        sim_json_str_add(src, "repo", svc->repo);
        sim_json_str_add(src, "image", svc->image);
    } else {
        cJSON_AddNullToObject(o, "source");
    }
    for (size_t i = s->deployment_count; i-- > 0;) {
        const struct sim_deployment *d = s->deployments[i];
        int64_t w;

        if (d->service != svc || !sim_deployment_visible(d, now))
            continue;
        if (latest == NULL)
            latest = d;
        if (status_is(sim_deployment_status(s, d, &w), "SUCCESS", "SLEEPING", NULL))
            cJSON_AddItemToArray(active, sim_deployment_json(s, d, true));
    }
    if (latest)
        cJSON_AddItemToObject(o, "latestDeployment", sim_deployment_json(s, latest, true));
    else
        cJSON_AddNullToObject(o, "latestDeployment");
    cJSON_AddItemToObject(o, "activeDeployments", active);
    cJSON_AddItemToObject(o, "service", sim_service_json(s, svc, true));
    return o;
}

/* ---- pushes -----------------------------------------------------------------------------------
 */

/* A gitignore-like pattern against a changed path: a leading '/' anchors at the root (the
 * same here), '*' also crosses '/', a leading "**" + "/" also matches at the root. */
static bool pattern_match(const char *pattern, const char *path)
{
    if (pattern[0] == '/')
        pattern++;
    if (fnmatch(pattern, path, 0) == 0)
        return true;
    return strncmp(pattern, "**/", 3) == 0 && fnmatch(pattern + 3, path, 0) == 0;
}

/* Whether a push that changed paths concerns a service with these watch patterns (none: every
 * push does); a later "!pattern" takes a path back out. */
static bool watch_paths_match(const cJSON *patterns, const cJSON *paths)
{
    const cJSON *path, *p;

    if (cJSON_GetArraySize(patterns) == 0 || !cJSON_IsArray(paths))
        return true;
    cJSON_ArrayForEach(path, paths)
    {
        bool matched = false;

        if (!cJSON_IsString(path))
            continue;
        cJSON_ArrayForEach(p, patterns)
        {
            bool negated;

            if (!cJSON_IsString(p) || p->valuestring[0] == '\0')
                continue;
            negated = p->valuestring[0] == '!';
            if (pattern_match(p->valuestring + negated, path->valuestring))
                matched = !negated;
        }
        if (matched)
            return true;
    }
    return false;
}

/* Records sha as the head of repo@branch. */
static void head_set(struct sim *s, const char *repo, const char *branch, const char *sha)
{
    for (size_t i = 0; i < s->head_count; i++) {
        if (strcmp(s->heads[i].repo, repo) == 0 && strcmp(s->heads[i].branch, branch) == 0) {
            sim_str_set(&s->heads[i].sha, sha);
            return;
        }
    }
    s->heads = xrealloc(s->heads, (s->head_count + 1) * sizeof(*s->heads));
    s->heads[s->head_count].repo = xstrdup(repo);
    s->heads[s->head_count].branch = xstrdup(branch);
    s->heads[s->head_count].sha = xstrdup(sha);
    s->head_count++;
}

int sim_push(struct sim *s, const cJSON *body, cJSON **out, char *err, size_t errsize)
{
    const char *repo = sim_arg_str(body, "repo"), *branch = sim_arg_str(body, "branch");
    const char *sha = sim_arg_str(body, "sha"), *message = sim_arg_str(body, "message");
    const char *ci = sim_arg_str(body, "ci");
    const cJSON *paths = cJSON_GetObjectItemCaseSensitive(body, "paths");
    const cJSON *ci_wait = cJSON_GetObjectItemCaseSensitive(body, "ci_wait_ms");
    long wait_ms = cJSON_IsNumber(ci_wait) ? (long)ci_wait->valuedouble : 0;
    const char *skip;
    cJSON *o, *started, *untouched;

    if (!cJSON_IsObject(body) || repo == NULL || branch == NULL || sha == NULL || sha[0] == '\0')
        return sim_fail(err, errsize, "a push needs \"repo\", \"branch\" and \"sha\"");
    if (paths != NULL && !cJSON_IsArray(paths))
        return sim_fail(err, errsize, "\"paths\" must be a list of changed file paths");
    if (ci != NULL && strcmp(ci, "success") != 0 && strcmp(ci, "failure") != 0)
        return sim_fail(err, errsize, "\"ci\" must be \"success\" or \"failure\"");
    if (ci_wait != NULL && (!cJSON_IsNumber(ci_wait) || wait_ms < 0 || wait_ms > 3600000))
        return sim_fail(err, errsize, "\"ci_wait_ms\" must be an integer in [0, 3600000]");
    head_set(s, repo, branch, sha);
    o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", true);
    started = cJSON_AddArrayToObject(o, "deployments");
    untouched = cJSON_AddArrayToObject(o, "not_deployed");
    for (size_t i = 0; i < s->service_count; i++) {
        struct sim_service *svc = s->services[i];
        struct sim_deployment *d;
        cJSON *one;

        if (svc->deleted || svc->repo == NULL || svc->branch == NULL ||
            strcmp(svc->repo, repo) != 0 || strcmp(svc->branch, branch) != 0)
            continue;
        if (!svc->auto_deploys) {
            cJSON_AddItemToArray(untouched, cJSON_CreateString(svc->id));
            continue;
        }
        d = sim_deployment_start(s, svc, sha, "push", s->config.push_deploy_delay_ms);
        if (d == NULL)
            break;
        d->commit_message = sim_strdup_or_null(message);
        skip = NULL;
        if (!watch_paths_match(cJSON_GetObjectItemCaseSensitive(svc->settings, "watchPatterns"),
                               paths)) {
            skip = "No changes to watched files";
        } else if (svc->check_suites) {
            /* "Wait for CI": WAITING while the checks run, SKIPPED when one fails. */
            if (wait_ms > 0) {
                d->hold_status = "WAITING";
                d->hold_ms = wait_ms;
            }
            if (ci != NULL && strcmp(ci, "failure") == 0)
                skip = "CI check suite failed";
        }
        d->skipped_reason = skip;
        one = cJSON_CreateObject();
        cJSON_AddStringToObject(one, "service", svc->id);
        cJSON_AddStringToObject(one, "deployment", d->id);
        cJSON_AddItemToArray(started, one);
    }
    *out = o;
    return 0;
}

/* ---- logs -------------------------------------------------------------------------------------
 */

struct log_line {
    int64_t mono;
    const char *severity;
    char message[256];
};

struct log_lines {
    struct log_line items[LOG_LINES_MAX];
    size_t count;
};

static void line_add(struct log_lines *l, int64_t mono, const char *severity, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void line_add(struct log_lines *l, int64_t mono, const char *severity, const char *fmt, ...)
{
    va_list ap;

    if (l->count >= LOG_LINES_MAX)
        return;
    l->items[l->count].mono = mono;
    l->items[l->count].severity = severity;
    va_start(ap, fmt);
    vsnprintf(l->items[l->count].message, sizeof(l->items[l->count].message), fmt, ap);
    va_end(ap);
    l->count++;
}

/* The build's lines (build true) or the running deployment's, as far as the clock (or the
 * deployment's removal) has reached. Returns -1 with "does not have an associated build" for a
 * deployment that never started building: held, skipped, or removed first. */
static int log_lines_make(const struct sim *s, const struct sim_deployment *d, bool build,
                          struct log_lines *l, char *err, size_t n)
{
    int64_t now = time_mono_ms(), removed = removed_at(s, d, now);
    int64_t start = build_start(d);
    int64_t begin = start + d->build_ms * QUEUED_PERCENT / 100;
    int64_t end = start + d->build_ms * (QUEUED_PERCENT + BUILDING_PERCENT) / 100;
    int64_t span = end - begin, upto = removed != 0 && removed < now ? removed : now;
    char sha[8];

    l->count = 0;
    if (d->skipped_reason || (d->hold_status && d->hold_ms == 0) || upto < begin)
        return sim_fail(err, n, NO_BUILD);
    snprintf(sha, sizeof(sha), "%.7s", d->commit_hash ? d->commit_hash : "");
    if (build) {
        if (d->repo)
            line_add(l, begin, "info", "[snapshot] received the sources of %s@%s", d->repo, sha);
        else
            line_add(l, begin, "info", "[image] pulling %s", d->image ? d->image : "(none)");
        line_add(l, begin + span * 15 / 100, "info", "[setup] nixpacks: detected a Node.js app");
        line_add(l, begin + span * 30 / 100, "info", "[install] npm ci");
        line_add(l, begin + span * 60 / 100, "info", "[build] npm run build");
        if (d->fail) {
            const char *p = s->config.fail_log;

            while (p != NULL && *p) {
                size_t len = strcspn(p, "\n");

                line_add(l, end, "error", "%.*s", (int)len, p);
                p += len + (p[len] == '\n');
            }
        } else {
            line_add(l, end, "info", "[export] image built in %ld ms", (long)span);
        }
    } else if (!d->fail) {
        line_add(l, end, "info", "Starting Container");
        line_add(l, start + d->build_ms, "info", "Server listening on port 8080");
    }
    while (l->count > 0 && l->items[l->count - 1].mono > upto)
        l->count--;
    return 0;
}

/* buildLogs / deploymentLogs(deploymentId, limit, filter): the newest `limit` lines (default
 * 100, at most 5000) whose message contains filter, oldest first. */
static int logs_resolve(struct sim *s, const cJSON *args, bool build, cJSON **out, char *err,
                        size_t n)
{
    const char *id = sim_arg_str(args, "deploymentId"), *filter = sim_arg_str(args, "filter");
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive(args, "limit");
    long limit = cJSON_IsNumber(lim) ? (long)lim->valuedouble : LOG_LIMIT;
    const struct sim_deployment *d = NULL;
    struct log_lines *l = NULL;
    size_t first, kept = 0;
    cJSON *a;
    int rc = -1;

    for (size_t i = 0; id != NULL && i < s->deployment_count; i++)
        if (strcmp(s->deployments[i]->id, id) == 0 &&
            sim_deployment_visible(s->deployments[i], time_mono_ms()))
            d = s->deployments[i];
    if (d == NULL) {
        sim_fail(err, n, "Deployment not found");
        goto out;
    }
    if (limit < 0 || limit > LOG_LIMIT_MAX) {
        sim_fail(err, n, "limit must be between 0 and 5000");
        goto out;
    }
    l = xmalloc(sizeof(*l));
    if (log_lines_make(s, d, build, l, err, n) < 0)
        goto out;
    for (size_t i = 0; i < l->count; i++)
        if (filter == NULL || filter[0] == '\0' || strstr(l->items[i].message, filter))
            l->items[kept++] = l->items[i];
    first = kept > (size_t)limit ? kept - (size_t)limit : 0;
    a = cJSON_CreateArray();
    for (size_t i = first; i < kept; i++) {
        cJSON *o = cJSON_CreateObject(), *attrs, *attr, *tags;
        int64_t wall = d->created_wall + (l->items[i].mono - d->created_mono);
        char ts[32];

        time_format_utc(ts, wall);
        cJSON_AddStringToObject(o, "message", l->items[i].message);
        cJSON_AddStringToObject(o, "severity", l->items[i].severity);
        cJSON_AddStringToObject(o, "timestamp", ts);
        attrs = cJSON_AddArrayToObject(o, "attributes");
        attr = cJSON_CreateObject();
        cJSON_AddStringToObject(attr, "key", "level");
        cJSON_AddStringToObject(attr, "value", l->items[i].severity);
        cJSON_AddItemToArray(attrs, attr);
        tags = cJSON_AddObjectToObject(o, "tags");
        cJSON_AddStringToObject(tags, "deploymentId", d->id);
        cJSON_AddStringToObject(tags, "serviceId", d->service->id);
        cJSON_AddStringToObject(tags, "environmentId", s->config.environment_id);
        cJSON_AddStringToObject(tags, "projectId", s->config.project_id);
        cJSON_AddNullToObject(tags, "deploymentInstanceId");
        cJSON_AddNullToObject(tags, "snapshotId");
        cJSON_AddItemToArray(a, o);
    }
    *out = a;
    rc = 0;
out:
    free(l);
    return rc;
}

int sim_build_logs_resolve(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    return logs_resolve(s, args, true, out, err, n);
}

int sim_deployment_logs_resolve(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n)
{
    return logs_resolve(s, args, false, out, err, n);
}
