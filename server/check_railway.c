/* `railhook check`: the Railway items (endpoint, token kind, project, environment, the worker
 * repo and branch, schema drift, rate limit), with the 429 waiting they share. Single-threaded,
 * like the check. */
#include "server/check_int.h"
#include "railway/drift.h"
#include "railway/railway.h"
#include "util/redact.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define RAILWAY_WAIT_MS    10000 /* longest wait for railhook's own rate limiter per request */
#define BUSY_WAIT_TOTAL_MS 30000 /* longest the check waits out Railway's 429s, all together */
#define BUSY_RETRIES       8     /* and how many times it asks again, all together */

/* Whether res says "not now" (a 429, an edge block, a busy Railway) rather than "no". */
static bool busy(const struct railway_result *res)
{
    return res->status == RH_TRANSIENT &&
           (res->error == RAILWAY_ERR_RATE_LIMITED || res->error == RAILWAY_ERR_EDGE ||
            res->error == RAILWAY_ERR_BUDGET || res->error == RAILWAY_ERR_PROBLEM);
}

/* One Railway request, remembering what the answer says about the endpoint and the budget.
 * A busy answer is waited out (Retry-After) and asked again, within one budget for the whole
 * check; once that is spent nothing more is sent and every later call answers busy. */
static enum rh_status call(struct check *ck, enum railway_op op, const cJSON *vars,
                           struct railway_result *res)
{
    enum rh_status st;
    for (;;) {
        if (ck->busy_gave_up) {
            memset(res, 0, sizeof(*res));
            railway_result_fail(res, RH_TRANSIENT, RAILWAY_ERR_RATE_LIMITED,
                                "Railway kept answering 429 Too Many Requests");
            return res->status;
        }
        int64_t start = time_mono_ms();
        st = railway_call(ck->rc, op, vars, RAILWAY_WAIT_MS, res);
        if (res->http_status > 0 && !ck->reached) {
            ck->reached = true;
            ck->first_ms = time_mono_ms() - start;
        }
        if (res->rate_remaining >= 0) {
            ck->rate_remaining = res->rate_remaining;
            ck->rate_limit = res->rate_limit;
            ck->rate_reset_in_ms = res->rate_reset_in_ms;
        }
        if (st == RH_TRANSIENT && (res->http_status == 0 || res->http_status >= 500)) {
            ck->unreachable = true;
            snprintf(ck->transport, sizeof(ck->transport), "%s", res->message);
        }
        if (!busy(res))
            return st;
        int64_t wait = res->retry_after_ms > 0 ? res->retry_after_ms : 1000;
        if (ck->busy_retries >= BUSY_RETRIES || ck->busy_waited_ms + wait > BUSY_WAIT_TOTAL_MS) {
            ck->busy_gave_up = true;
            return st;
        }
        ck->busy_retries++;
        ck->busy_waited_ms += wait;
        railway_result_free(res);
        struct timespec ts = {.tv_sec = wait / 1000, .tv_nsec = (wait % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0)
            ;
    }
}

/* When res is a busy answer that outlasted the wait budget: reports item name as failed
 * (an item that could not be checked never passes) and returns true. */
static bool busy_fail(struct check *ck, const char *name, const struct railway_result *res)
{
    if (!busy(res))
        return false;
    check_item_add(ck, name, ITEM_FAIL,
                   "Railway is rate-limiting this token (or its edge is blocking this host): run "
                   "`railhook check` again once the window resets (rate_limit says when), and stop "
                   "whatever else spends this token's budget",
                   "not checked: %s (after waiting %lld s and asking %d more time%s)", res->message,
                   (long long)(ck->busy_waited_ms / 1000), ck->busy_retries,
                   ck->busy_retries == 1 ? "" : "s");
    return true;
}

static const char *str_at(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItem(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void not_checked(struct check *ck, const char *name, const char *why)
{
    check_item_add(ck, name, ITEM_WARN, NULL, "not checked: %s", why);
}

/* CheckProject, once: its answer serves the token and the project items. */
static enum rh_status project_fetch(struct check *ck)
{
    if (!ck->project_tried) {
        ck->project_tried = true;
        cJSON *vars = cJSON_CreateObject();
        cJSON_AddStringToObject(vars, "id", ck->cfg.railway_project_id);
        if (call(ck, RAILWAY_OP_CHECK_PROJECT, vars, &ck->project_res) == RH_OK)
            ck->project = cJSON_GetObjectItem(ck->project_res.data, "project");
        cJSON_Delete(vars);
    }
    return ck->project_res.status;
}

static const char *token_hint(void)
{
    return "create a token at railway.com (Account Settings → Tokens; a workspace token works "
           "too) and set RAILWAY_API_TOKEN, or set RAILWAY_TOKEN to a project token of "
           "RAILWAY_PROJECT_ID's environment";
}

/* ", sent as ... (it is of the other kind than ...)" when the token had to be swapped, and
 * the variables ignored because a stronger one is set. */
static void token_note(const struct check *ck, char *out, size_t len)
{
    const struct config *c = &ck->cfg;
    const char *var = NULL;
    railway_token_pick(c, &var);
    size_t n = 0;
    out[0] = '\0';
    if (ck->token_swapped)
        n += (size_t)snprintf(
            out, len, "; %s holds a token of the other kind: railhook sends it as %s", var,
            railway_client_bearer(ck->rc) ? "Authorization: Bearer" : "Project-Access-Token");
    const char *names[] = {"RAILWAY_API_TOKEN", "RAILWAY_TOKEN", "RAILWAY_PROJECT_TOKEN"};
    const char *values[] = {c->railway_api_token, c->railway_token, c->railway_project_token};
    for (size_t i = 0; i < 3 && n < len; i++)
        if (check_is_set(values[i]) && strcmp(names[i], var) != 0)
            n += (size_t)snprintf(out + n, len - n, " (%s is ignored while %s is set)", names[i],
                                  var);
}

/* The token as a project token (Project-Access-Token): `projectToken`. When !last, a refusal
 * is not reported (the caller tries the other header); returns whether an item was added. */
static bool check_token_project_kind(struct check *ck, bool last)
{
    const char *var = NULL;
    railway_token_pick(&ck->cfg, &var);
    char note[300];
    token_note(ck, note, sizeof(note));
    struct railway_result res;
    call(ck, RAILWAY_OP_CHECK_PROJECT_TOKEN, NULL, &res);
    const cJSON *pt = cJSON_GetObjectItem(res.data, "projectToken");
    bool reported = true;
    if (ck->unreachable || busy_fail(ck, "railway_token", &res)) {
        /* reported by the endpoint item, or just now */
    } else if (res.status != RH_OK) {
        ck->kind = TOKEN_REFUSED;
        if (last || res.error != RAILWAY_ERR_NOT_AUTHORIZED)
            check_item_add(
                ck, "railway_token", ITEM_FAIL, token_hint(), "Railway refused %s (%s): %s", var,
                ck->token_swapped ? "as Authorization: Bearer and as Project-Access-Token"
                                  : "Project-Access-Token",
                res.message);
        else
            reported = false;
    } else {
        const char *pid = str_at(pt, "projectId"), *eid = str_at(pt, "environmentId");
        ck->kind = TOKEN_PROJECT;
        if (check_is_set(ck->cfg.railway_project_id) && pid &&
            strcmp(pid, ck->cfg.railway_project_id))
            check_item_add(ck, "railway_token", ITEM_FAIL,
                           "use a project token of RAILWAY_PROJECT_ID, or fix RAILWAY_PROJECT_ID",
                           "the project token belongs to project %s, not RAILWAY_PROJECT_ID=%s",
                           pid, ck->cfg.railway_project_id);
        else if (check_is_set(ck->cfg.railway_environment_id) && eid &&
                 strcmp(eid, ck->cfg.railway_environment_id))
            check_item_add(
                ck, "railway_token", ITEM_FAIL,
                "create the project token in RAILWAY_ENVIRONMENT_ID's environment, or fix "
                "RAILWAY_ENVIRONMENT_ID",
                "the project token belongs to environment %s, not "
                "RAILWAY_ENVIRONMENT_ID=%s",
                eid, ck->cfg.railway_environment_id);
        else
            check_item_add(ck, "railway_token", ITEM_OK, NULL,
                           "project token (Project-Access-Token) of project %s, environment %s%s",
                           pid ? pid : "?", eid ? eid : "?", note);
    }
    railway_result_free(&res);
    return reported;
}

/* The token as an account or workspace token (Authorization: Bearer): `me`, else the
 * project. When !last, a refusal is not reported; returns whether an item was added. */
static bool check_token_bearer(struct check *ck, bool last)
{
    const char *var = NULL;
    railway_token_pick(&ck->cfg, &var);
    char note[300];
    token_note(ck, note, sizeof(note));
    bool reported = true;
    struct railway_result me;
    call(ck, RAILWAY_OP_CHECK_ME, NULL, &me);
    const cJSON *user = cJSON_GetObjectItem(me.data, "me");
    if (ck->unreachable || busy_fail(ck, "railway_token", &me)) {
        /* reported by the endpoint item, or just now */
    } else if (me.status == RH_OK) {
        ck->kind = TOKEN_ACCOUNT;
        check_item_add(ck, "railway_token", ITEM_OK, NULL, "account token of %s <%s>%s",
                       str_at(user, "name") ? str_at(user, "name") : "?",
                       str_at(user, "email") ? str_at(user, "email") : "?", note);
    } else if (me.error != RAILWAY_ERR_NOT_AUTHORIZED) {
        ck->kind = TOKEN_REFUSED;
        check_item_add(ck, "railway_token", ITEM_FAIL, token_hint(), "`me` failed: %s", me.message);
    } else if (!check_is_set(ck->cfg.railway_project_id)) {
        ck->kind = TOKEN_UNKNOWN;
        if (last)
            check_item_add(
                ck, "railway_token", ITEM_WARN, "set RAILWAY_PROJECT_ID",
                "not an account token (`me` is Not Authorized); without RAILWAY_PROJECT_ID "
                "railhook cannot tell a workspace token from a bad one");
        else
            reported = false;
    } else if (project_fetch(ck) == RH_OK) {
        ck->kind = TOKEN_WORKSPACE;
        check_item_add(ck, "railway_token", ITEM_OK, NULL,
                       "workspace token (Authorization: Bearer; `me` is not available to workspace "
                       "tokens, the project is)%s",
                       note);
    } else if (busy_fail(ck, "railway_token", &ck->project_res)) {
        /* reported just now */
    } else if (ck->project_res.error == RAILWAY_ERR_NOT_AUTHORIZED) {
        ck->kind = TOKEN_REFUSED;
        if (last)
            check_item_add(
                ck, "railway_token", ITEM_FAIL, token_hint(),
                "Railway refused %s%s: `me` and the project both answer \"%s\"", var,
                ck->token_swapped ? " as Project-Access-Token and as Authorization: Bearer" : "",
                ck->project_res.message);
        else
            reported = false;
    } else if (!ck->unreachable) {
        ck->kind = TOKEN_UNKNOWN;
        check_item_add(
            ck, "railway_token", ITEM_WARN, token_hint(),
            "not an account token (`me` is Not Authorized) and the project lookup failed "
            "(%s): a workspace token of another workspace, or a bad token",
            ck->project_res.message);
    }
    railway_result_free(&me);
    return reported;
}

/* The token in the header its variable says; when Railway refuses it there, in the other
 * (a project token in RAILWAY_TOKEN, as Railway's CLI names it, or the reverse). */
static void check_token(struct check *ck)
{
    bool bearer = railway_client_bearer(ck->rc);
    if (bearer ? check_token_bearer(ck, false) : check_token_project_kind(ck, false))
        return;
    railway_client_token_swap(ck->rc);
    ck->token_swapped = true;
    /* The project was read with the refused header: read it again with the other. */
    railway_result_free(&ck->project_res);
    memset(&ck->project_res, 0, sizeof(ck->project_res));
    ck->project = NULL;
    ck->project_tried = false;
    if (bearer ? check_token_project_kind(ck, true) : check_token_bearer(ck, true))
        return;
}

static void env_names(const cJSON *project, struct buf *out)
{
    const cJSON *edge;
    cJSON_ArrayForEach(edge,
                       cJSON_GetObjectItem(cJSON_GetObjectItem(project, "environments"), "edges"))
    {
        const cJSON *node = cJSON_GetObjectItem(edge, "node");
        buf_printf(out, "%s%s (%s)", out->len ? ", " : "", str_at(node, "name"),
                   str_at(node, "id"));
    }
}

static void check_project(struct check *ck)
{
    if (!check_is_set(ck->cfg.railway_project_id)) {
        not_checked(ck, "railway_project", "RAILWAY_PROJECT_ID is not set");
        return;
    }
    if (ck->kind == TOKEN_REFUSED) {
        not_checked(ck, "railway_project", "Railway refused the token");
        return;
    }
    if (project_fetch(ck) != RH_OK) {
        if (ck->unreachable || busy_fail(ck, "railway_project", &ck->project_res))
            return;
        bool missing = ck->project_res.error == RAILWAY_ERR_NOT_FOUND;
        check_item_add(ck, "railway_project", ITEM_FAIL,
                       missing ? "copy the project id from Railway (Project Settings → General → "
                                 "Project ID, or `railway status --json`); a workspace token must "
                                 "belong to the project's workspace"
                               : "use a token that may read the project (see railway_token)",
                       "RAILWAY_PROJECT_ID=%s: %s", ck->cfg.railway_project_id,
                       ck->project_res.message);
        return;
    }
    struct buf envs;
    buf_init(&envs, 2048);
    env_names(ck->project, &envs);
    check_item_add(ck, "railway_project", ITEM_OK, NULL, "%s (%s); environments: %s",
                   str_at(ck->project, "name") ? str_at(ck->project, "name") : "?",
                   ck->cfg.railway_project_id, envs.len ? envs.data : "none");
    buf_free(&envs);
}

static void check_environment(struct check *ck)
{
    const struct config *c = &ck->cfg;
    if (!check_is_set(c->railway_environment_id)) {
        not_checked(ck, "railway_environment", "RAILWAY_ENVIRONMENT_ID is not set");
        return;
    }
    if (ck->kind == TOKEN_REFUSED) {
        not_checked(ck, "railway_environment", "Railway refused the token");
        return;
    }
    if (ck->project_tried && !ck->project) {
        not_checked(ck, "railway_environment", "the project was not found");
        return;
    }
    struct railway_result res;
    cJSON *vars = cJSON_CreateObject();
    cJSON_AddStringToObject(vars, "id", c->railway_environment_id);
    if (check_is_set(c->railway_project_id))
        cJSON_AddStringToObject(vars, "projectId", c->railway_project_id);
    enum rh_status st = call(ck, RAILWAY_OP_CHECK_ENVIRONMENT, vars, &res);
    const cJSON *env = cJSON_GetObjectItem(res.data, "environment");
    struct buf envs;
    buf_init(&envs, 2048);
    env_names(ck->project, &envs);
    if (ck->unreachable || busy_fail(ck, "railway_environment", &res)) {
        /* reported by the endpoint item, or just now */
    } else if (st != RH_OK) {
        check_item_add(ck, "railway_environment", ITEM_FAIL,
                       "set RAILWAY_ENVIRONMENT_ID to one of the project's environments (Railway: "
                       "environment menu → Settings → Environment ID)",
                       "RAILWAY_ENVIRONMENT_ID=%s: %s%s%s", c->railway_environment_id, res.message,
                       envs.len ? "; the project has: " : "", envs.len ? envs.data : "");
    } else if (check_is_set(c->railway_project_id) && str_at(env, "projectId") &&
               strcmp(str_at(env, "projectId"), c->railway_project_id) != 0) {
        check_item_add(ck, "railway_environment", ITEM_FAIL,
                       "set RAILWAY_ENVIRONMENT_ID to one of RAILWAY_PROJECT_ID's environments",
                       "environment %s belongs to project %s, not RAILWAY_PROJECT_ID=%s",
                       c->railway_environment_id, str_at(env, "projectId"), c->railway_project_id);
    } else {
        check_item_add(ck, "railway_environment", ITEM_OK, NULL, "%s (%s)",
                       str_at(env, "name") ? str_at(env, "name") : "?", c->railway_environment_id);
    }
    buf_free(&envs);
    cJSON_Delete(vars);
    railway_result_free(&res);
}

/* Whether WORKER_REPO is among Railway's GitHub repos; false after reporting otherwise. */
static bool check_repo(struct check *ck)
{
    const struct config *c = &ck->cfg;
    bool visible = false;
    struct railway_result res;
    memset(&res, 0, sizeof(res));
    if (!check_is_set(c->worker_repo)) {
        not_checked(ck, "github_repo", "WORKER_REPO is not set");
        goto out;
    }
    if (ck->kind == TOKEN_REFUSED) {
        not_checked(ck, "github_repo", "Railway refused the token");
        goto out;
    }
    enum rh_status st = call(ck, RAILWAY_OP_CHECK_GITHUB_REPOS, NULL, &res);
    if (ck->unreachable || busy_fail(ck, "github_repo", &res))
        goto out;
    if (st != RH_OK) {
        if (res.error == RAILWAY_ERR_NOT_AUTHORIZED)
            check_item_add(
                ck, "github_repo", ITEM_WARN,
                "an account token (RAILWAY_API_TOKEN) can list them; otherwise the first "
                "provision shows whether Railway can reach the repo",
                "not checked: this %s token cannot list GitHub repos (%s)",
                ck->kind == TOKEN_PROJECT     ? "project"
                : ck->kind == TOKEN_WORKSPACE ? "workspace"
                                              : "kind of",
                res.message);
        else
            check_item_add(ck, "github_repo", ITEM_FAIL,
                           "run `railhook check` again; if it persists, see status.railway.com",
                           "not checked: %s", res.message);
        goto out;
    }
    const cJSON *repos = cJSON_GetObjectItem(res.data, "githubRepos");
    const cJSON *r, *found = NULL;
    cJSON_ArrayForEach(r, repos)
    {
        const char *full = str_at(r, "fullName");
        if (full && strcasecmp(full, c->worker_repo) == 0)
            found = r;
    }
    if (!found) {
        check_item_add(
            ck, "github_repo", ITEM_FAIL,
            "give Railway's GitHub app access to the repo (GitHub → Settings → "
            "Applications → Railway → Configure → Repository access), or fix WORKER_REPO",
            "%s is not visible to Railway's GitHub app (it sees %d repo%s)", c->worker_repo,
            cJSON_GetArraySize(repos), cJSON_GetArraySize(repos) == 1 ? "" : "s");
        goto out;
    }
    visible = true;
    check_item_add(ck, "github_repo", ITEM_OK, NULL,
                   "%s is visible to Railway's GitHub app (default branch %s)", c->worker_repo,
                   str_at(found, "defaultBranch") ? str_at(found, "defaultBranch") : "?");
out:
    railway_result_free(&res);
    return visible;
}

static void check_branch(struct check *ck, bool repo_visible)
{
    const struct config *c = &ck->cfg;
    if (!repo_visible) {
        if (!ck->unreachable && ck->busy_gave_up)
            check_item_add(ck, "github_branch", ITEM_FAIL,
                           "run `railhook check` again once Railway's rate window resets",
                           "not checked: Railway kept answering 429 Too Many Requests");
        else if (!ck->unreachable)
            not_checked(ck, "github_branch", "the repo could not be checked");
        return;
    }
    const char *slash = strchr(c->worker_repo, '/');
    char *owner = xstrndup(c->worker_repo, (size_t)(slash - c->worker_repo));
    cJSON *vars = cJSON_CreateObject();
    cJSON_AddStringToObject(vars, "owner", owner);
    cJSON_AddStringToObject(vars, "repo", slash + 1);
    struct railway_result res;
    enum rh_status st = call(ck, RAILWAY_OP_CHECK_GITHUB_BRANCHES, vars, &res);
    struct buf names;
    buf_init(&names, 1024);
    bool found = false;
    const cJSON *b;
    int n = 0;
    cJSON_ArrayForEach(b, cJSON_GetObjectItem(res.data, "githubRepoBranches"))
    {
        const char *name = str_at(b, "name");
        if (!name)
            continue;
        found = found || strcmp(name, c->worker_branch) == 0;
        if (n++ < 10)
            buf_printf(&names, "%s%s", names.len ? ", " : "", name);
    }
    if (ck->unreachable || busy_fail(ck, "github_branch", &res)) {
        /* reported by the endpoint item, or just now */
    } else if (st != RH_OK) {
        check_item_add(ck, "github_branch", ITEM_FAIL,
                       "run `railhook check` again; if it persists, see status.railway.com",
                       "not checked: %s", res.message);
    } else if (!found) {
        check_item_add(ck, "github_branch", ITEM_FAIL,
                       "push the branch to the repo, or set WORKER_BRANCH to an existing branch",
                       "branch %s not found in %s (branches: %s%s)", c->worker_branch,
                       c->worker_repo, names.len ? names.data : "none", n > 10 ? ", ..." : "");
    } else {
        check_item_add(ck, "github_branch", ITEM_OK, NULL, "branch %s exists in %s",
                       c->worker_branch, c->worker_repo);
    }
    buf_free(&names);
    railway_result_free(&res);
    cJSON_Delete(vars);
    free(owner);
}

static void check_drift(struct check *ck)
{
    struct railway_result res;
    cJSON *findings = cJSON_CreateArray();
    struct buf errors, warnings;
    buf_init(&errors, DETAIL_MAX);
    buf_init(&warnings, DETAIL_MAX);
    char err[512] = "";
    int documents = 0, nerr = 0, nwarn = 0;
    enum rh_status st = call(ck, RAILWAY_OP_CHECK_SCHEMA, NULL, &res);
    if (ck->unreachable || busy_fail(ck, "schema_drift", &res))
        goto out;
    if (st != RH_OK) {
        check_item_add(ck, "schema_drift", ITEM_WARN, NULL,
                       "not checked: Railway did not answer the introspection query (%s)",
                       res.message);
        goto out;
    }
    const cJSON *schema = cJSON_GetObjectItem(res.data, "__schema");
    if (railway_drift_all(schema, findings, &documents, err, sizeof(err)) != RH_OK) {
        check_item_add(ck, "schema_drift", ITEM_WARN, NULL, "not checked: %s", err);
        goto out;
    }
    const cJSON *f;
    cJSON_ArrayForEach(f, findings)
    {
        bool is_error = strcmp(str_at(f, "severity"), "error") == 0;
        struct buf *to = is_error ? &errors : &warnings;
        /* One line per finding, naming the operation and its file. */
        buf_printf(to, "%s%s (%s): %s: %s", to->len ? "; " : "", str_at(f, "operation"),
                   str_at(f, "document"), str_at(f, "path"), str_at(f, "problem"));
        nerr += is_error;
        nwarn += !is_error;
    }
    if (nerr)
        check_item_add(
            ck, "schema_drift", ITEM_FAIL,
            "Railway's API changed under railhook: the named documents will be refused "
            "with HTTP 400; update railway/ops/ (and the code that fills their inputs) or "
            "upgrade railhook",
            "%d problem%s in railhook's documents against Railway's live schema: %s%s%s", nerr,
            nerr == 1 ? "" : "s", errors.data, nwarn ? "; also: " : "", nwarn ? warnings.data : "");
    else if (nwarn)
        check_item_add(ck, "schema_drift", ITEM_WARN,
                       "plan to move off the deprecated fields before Railway removes them",
                       "%d documents match Railway's live schema, with warnings: %s", documents,
                       warnings.data);
    else
        check_item_add(ck, "schema_drift", ITEM_OK, NULL,
                       "%d documents match Railway's live schema (%d types)", documents,
                       cJSON_GetArraySize(cJSON_GetObjectItem(schema, "types")));
out:
    buf_free(&errors);
    buf_free(&warnings);
    cJSON_Delete(findings);
    railway_result_free(&res);
}

static void check_rate_limit(struct check *ck, long requests)
{
    const struct config *c = &ck->cfg;
    if (ck->rate_remaining < 0) {
        check_item_add(ck, "rate_limit", ITEM_WARN, NULL,
                       "Railway sent no X-RateLimit headers; railhook paces itself at "
                       "RAILWAY_MAX_RPS=%d and RAILWAY_HOURLY_BUDGET=%d",
                       c->railway_max_rps, c->railway_hourly_budget);
        return;
    }
    long minutes = (long)((ck->rate_reset_in_ms + 30000) / 60000);
    if (ck->rate_remaining == 0)
        check_item_add(
            ck, "rate_limit", ITEM_FAIL,
            "wait for the window to reset, or stop whatever else uses this token",
            "Railway's hourly budget for this token is used up (limit %ld, resets in %ld "
            "min): every job waits until then",
            ck->rate_limit, minutes);
    else if (ck->rate_limit > 0 && ck->rate_remaining < ck->rate_limit / 10)
        check_item_add(ck, "rate_limit", ITEM_WARN,
                       "find what else uses this token, or lower RAILWAY_HOURLY_BUDGET",
                       "only %ld of %ld Railway requests left this hour (resets in %ld min)",
                       ck->rate_remaining, ck->rate_limit, minutes);
    else if (ck->rate_limit > 0 && c->railway_hourly_budget > ck->rate_limit)
        check_item_add(ck, "rate_limit", ITEM_WARN,
                       "set RAILWAY_HOURLY_BUDGET at or below Railway's limit so railhook's own "
                       "limiter paces the workers",
                       "RAILWAY_HOURLY_BUDGET=%d is above Railway's hourly limit of %ld (%ld left, "
                       "resets in %ld min)",
                       c->railway_hourly_budget, ck->rate_limit, ck->rate_remaining, minutes);
    else
        check_item_add(ck, "rate_limit", ITEM_OK, NULL,
                       "%ld of %ld Railway requests left this hour (resets in %ld min; this check "
                       "used %ld); railhook's own budget: %d/h at %d/s",
                       ck->rate_remaining, ck->rate_limit, minutes, requests,
                       c->railway_hourly_budget, c->railway_max_rps);
}

void check_railway(struct check *ck)
{
    const struct config *c = &ck->cfg;
    static const char *const later[] = {"railway_token", "railway_project", "railway_environment",
                                        "github_repo",   "github_branch",   "schema_drift",
                                        "rate_limit"};
    if (!railway_client_has_token(c)) {
        not_checked(ck, "railway_endpoint", "no Railway token to call it with");
        check_item_add(ck, "railway_token", ITEM_FAIL, token_hint(),
                       "none of RAILWAY_API_TOKEN, RAILWAY_TOKEN and RAILWAY_PROJECT_TOKEN is set");
        for (size_t i = 1; i < sizeof(later) / sizeof(later[0]); i++)
            not_checked(ck, later[i], "no Railway token");
        return;
    }
    ck->lim = railway_limiter_new(c->railway_max_rps, c->railway_hourly_budget);
    ck->rc = railway_client_new(c, ck->lim);
    /* The endpoint item goes first but is known only after the first answer. */
    size_t endpoint_at = ck->nitems;
    check_item_add(ck, "railway_endpoint", ITEM_OK, NULL, "%s", "");
    check_token(ck);
    bool repo = false;
    if (!ck->unreachable) {
        check_project(ck);
        check_environment(ck);
    }
    if (!ck->unreachable)
        repo = check_repo(ck);
    if (!ck->unreachable)
        check_branch(ck, repo);
    if (!ck->unreachable)
        check_drift(ck);
    long requests = railway_client_requests(ck->rc);
    if (!ck->unreachable)
        check_rate_limit(ck, requests);

    /* Fill in the endpoint item before adding more: adding may move the array. */
    struct item *ep = &ck->items[endpoint_at];
    char detail[DETAIL_MAX];
    if (ck->unreachable)
        snprintf(detail, sizeof(detail), "%s: %s", c->railway_api_url, ck->transport);
    else
        snprintf(detail, sizeof(detail), "%s answered (first answer in %lld ms)",
                 c->railway_api_url, (long long)ck->first_ms);
    free(ep->detail);
    ep->detail = redact_string(detail);
    if (!ck->unreachable)
        return;
    ep->status = ITEM_FAIL;
    ep->hint = xstrdup("check RAILWAY_API_URL and this host's outbound HTTPS (proxy, firewall, "
                       "DNS); Railway's status: status.railway.com");
    for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
        bool done = false;
        for (size_t k = 0; k < ck->nitems; k++)
            done = done || strcmp(ck->items[k].name, later[i]) == 0;
        if (!done)
            not_checked(ck, later[i], "Railway's API could not be reached");
    }
}
