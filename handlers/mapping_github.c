/* GitHub deliveries to queue jobs: a push to the worker branch that touches the worker folder
 * becomes a redeploy of every active service (mapping_redeploy_jobs() expands it once the
 * intake knows them); pings, other branches, tags and other folders are ignored. */
#include "handlers/mapping_int.h"

#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_sha(const char *s)
{
    size_t n = strlen(s);
    if (n != 40 && n != 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static bool all_zero(const char *s)
{
    return strspn(s, "0") == strlen(s);
}

static bool path_under(const char *root, const char *path)
{
    size_t n = strlen(root);
    while (*path == '/')
        path++;
    return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Whether a push may change files under the root folder. When the payload cannot tell for
 * sure (new branch, force push, commit list absent, empty or possibly truncated, a commit
 * without file lists), the answer is yes. */
static bool push_touches_root(const struct mapping_rules *rules, const cJSON *body)
{
    static const char *const lists[] = {"added", "removed", "modified"};
    if (!*rules->root_dir)
        return true;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "created")) ||
        cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "forced")))
        return true;
    const cJSON *commits = cJSON_GetObjectItemCaseSensitive(body, "commits");
    if (!cJSON_IsArray(commits))
        return true;
    int count = cJSON_GetArraySize(commits);
    if (count == 0 || count >= MAPPING_MAX_LISTED_COMMITS)
        return true;
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(body, "size");
    if (cJSON_IsNumber(size) && size->valuedouble > count)
        return true;
    const cJSON *commit;
    cJSON_ArrayForEach(commit, commits)
    {
        for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
            const cJSON *files =
                cJSON_IsObject(commit) ? cJSON_GetObjectItemCaseSensitive(commit, lists[i]) : NULL;
            if (!cJSON_IsArray(files))
                return true;
            const cJSON *f;
            cJSON_ArrayForEach(f, files)
            {
                if (!cJSON_IsString(f) || path_under(rules->root_dir, f->valuestring))
                    return true;
            }
        }
    }
    return false;
}

/* Copies at most max bytes of s, cutting before an incomplete UTF-8 sequence. */
static char *utf8_prefix(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return xstrdup(s);
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return xstrndup(s, n);
}

enum rh_status mapping_github(const struct mapping_rules *rules, const char *event,
                              const cJSON *body, const char *delivery_id,
                              struct mapping_result *res)
{
    const struct config *cfg = rules->cfg;
    char *message = NULL;

    if (strcmp(event, "ping") == 0) {
        mapping_set_ignored(res, "ping");
        goto out;
    }
    if (strcmp(event, "push") != 0) {
        mapping_set_ignored(res, "event %.60s is not handled", event);
        goto out;
    }
    const struct flows_kind *kind = mapping_kind_for(rules, FLOWS_TRIGGER_GITHUB_PUSH);
    if (!kind) {
        mapping_set_ignored(res, "no job kind for a push");
        goto out;
    }
    if (!cJSON_IsObject(body)) {
        mapping_set_invalid(res, "body", "the body must be a JSON object");
        goto out;
    }
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(body, "ref");
    const cJSON *repo = cJSON_GetObjectItemCaseSensitive(body, "repository");
    const cJSON *full =
        cJSON_IsObject(repo) ? cJSON_GetObjectItemCaseSensitive(repo, "full_name") : NULL;
    const cJSON *after = cJSON_GetObjectItemCaseSensitive(body, "after");
    if (!cJSON_IsString(ref)) {
        mapping_set_invalid(res, "ref", "a push needs ref (a string)");
        goto out;
    }
    if (!cJSON_IsString(full)) {
        mapping_set_invalid(res, "repository.full_name", "a push needs repository.full_name");
        goto out;
    }
    if (!*cfg->worker_repo) {
        mapping_set_ignored(res, "WORKER_REPO is not set");
        goto out;
    }
    if (strcasecmp(full->valuestring, cfg->worker_repo) != 0) {
        mapping_set_ignored(res, "other repository");
        goto out;
    }
    if (strncmp(ref->valuestring, "refs/tags/", 10) == 0) {
        mapping_set_ignored(res, "tag");
        goto out;
    }
    if (strncmp(ref->valuestring, "refs/heads/", 11) != 0) {
        mapping_set_ignored(res, "not a branch");
        goto out;
    }
    if (strcmp(ref->valuestring + 11, cfg->worker_branch) != 0) {
        mapping_set_ignored(res, "other branch");
        goto out;
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(body, "deleted")) ||
        (cJSON_IsString(after) && all_zero(after->valuestring))) {
        mapping_set_ignored(res, "branch deleted");
        goto out;
    }
    if (!cJSON_IsString(after) || !is_sha(after->valuestring)) {
        mapping_set_invalid(res, "after", "after must be a commit sha (lowercase hex)");
        goto out;
    }
    if (cfg->worker_paths_filter && !push_touches_root(rules, body)) {
        mapping_set_ignored(res, "no changes under WORKER_ROOT_DIR");
        goto out;
    }
    const cJSON *pusher = cJSON_GetObjectItemCaseSensitive(body, "pusher");
    const cJSON *head = cJSON_GetObjectItemCaseSensitive(body, "head_commit");
    message = utf8_prefix(mapping_str_or(head, "message", ""), MAPPING_MAX_MESSAGE);

    res->redeploy = cJSON_CreateObject();
    cJSON_AddStringToObject(res->redeploy, "commit_sha", after->valuestring);
    cJSON_AddStringToObject(res->redeploy, "pusher",
                            mapping_str_or(pusher, "name", mapping_str_or(pusher, "email", "")));
    cJSON_AddStringToObject(res->redeploy, "head_commit_message", message);
    cJSON_AddStringToObject(res->redeploy, "repo", full->valuestring);
    cJSON_AddStringToObject(res->redeploy, "branch", cfg->worker_branch);
    cJSON_AddStringToObject(res->redeploy, "source", "github");
    cJSON_AddStringToObject(res->redeploy, "delivery_id", delivery_id);
    res->fanout_kind = kind->name;
    res->outcome = MAPPING_FANOUT;
out:
    free(message);
    return res->outcome == MAPPING_INVALID ? RH_INVALID : RH_OK;
}

void mapping_redeploy_jobs(struct mapping_result *res, const char *const *services,
                           const char *const *manifests, size_t n, size_t max_jobs)
{
    if (res->outcome == MAPPING_FANOUT && n == 0)
        mapping_set_ignored(res, "no active services");
    if (res->outcome == MAPPING_FANOUT && n > max_jobs)
        mapping_set_ignored(res, "the push would queue %zu jobs, over MAX_JOBS_PER_DELIVERY (%zu)",
                            n, max_jobs);
    if (res->outcome != MAPPING_FANOUT)
        goto out;
    const char *delivery = mapping_str_or(res->redeploy, "delivery_id", "");
    const char *commit = mapping_str_or(res->redeploy, "commit_sha", "");
    /* One allocation for the whole fan-out: the jobs array grows once, not per service. */
    res->jobs = xrealloc(res->jobs, (res->njobs + n) * sizeof(*res->jobs));
    for (size_t i = 0; i < n; i++) {
        cJSON *payload = cJSON_Duplicate(res->redeploy, true);
        cJSON_AddStringToObject(payload, "service_name", services[i]);
        if (manifests && manifests[i])
            cJSON_AddStringToObject(payload, "manifest_id", manifests[i]);
        res->jobs[res->njobs++] = (struct mapping_job){
            .kind = res->fanout_kind,
            .payload = payload,
            .dedupe_key = xasprintf("github:%s:%s:%s", delivery, res->fanout_kind, services[i]),
            .active_key = xasprintf("%s:%s:%s", res->fanout_kind, services[i], commit),
            .service_name = xstrdup(services[i]),
        };
    }
    res->outcome = MAPPING_JOBS;
out:
    return;
}
