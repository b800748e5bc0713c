/* `railhook check`: the runner. Configuration, secrets, API auth, worker variables and queue
 * items here, the database (check_db.c) and Railway (check_railway.c), item by item, each
 * failure with what to do about it; then the report as text or JSON and the exit status.
 * Single-threaded: it runs alone in the process, before or instead of serve. */
#include "server/check.h"

#include "handlers/api.h"
#include "handlers/verify.h"
#include "server/check_int.h"
#include "util/redact.h"
#include "util/util.h"
#include "flows/variables.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- the report ---- */

static const char *status_word(enum item_status st, bool json)
{
    switch (st) {
    case ITEM_OK:
        return "ok";
    case ITEM_WARN:
        return "warn";
    case ITEM_FAIL:
        break;
    }
    return json ? "fail" : "FAIL";
}

static bool report_ok(const struct check *ck)
{
    for (size_t i = 0; i < ck->nitems; i++)
        if (ck->items[i].status == ITEM_FAIL)
            return false;
    return true;
}

static void report_write(const struct check *ck, FILE *out, bool json, long requests)
{
    if (json) {
        cJSON *doc = cJSON_CreateObject();
        cJSON_AddBoolToObject(doc, "ok", report_ok(ck));
        cJSON *items = cJSON_AddArrayToObject(doc, "items");
        for (size_t i = 0; i < ck->nitems; i++) {
            const struct item *it = &ck->items[i];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", it->name);
            cJSON_AddStringToObject(o, "status", status_word(it->status, true));
            cJSON_AddStringToObject(o, "detail", it->detail);
            if (it->hint)
                cJSON_AddStringToObject(o, "hint", it->hint);
            else
                cJSON_AddNullToObject(o, "hint");
            cJSON_AddItemToArray(items, o);
        }
        cJSON_AddNumberToObject(doc, "railway_requests", (double)requests);
        char *text = cJSON_PrintUnformatted(doc);
        fprintf(out, "%s\n", text);
        cJSON_free(text);
        cJSON_Delete(doc);
        return;
    }
    int fails = 0, warns = 0;
    for (size_t i = 0; i < ck->nitems; i++) {
        const struct item *it = &ck->items[i];
        fprintf(out, "%-4s  %s: %s\n", status_word(it->status, false), it->name, it->detail);
        if (it->hint && it->status != ITEM_OK)
            fprintf(out, "  -> %s\n", it->hint);
        fails += it->status == ITEM_FAIL;
        warns += it->status == ITEM_WARN;
    }
    fprintf(out, "\nrailhook check: %s (%d failed, %d warning%s, %ld Railway requests)\n",
            fails ? "FAILED" : "passed", fails, warns, warns == 1 ? "" : "s", requests);
}

static void items_free(struct check *ck)
{
    for (size_t i = 0; i < ck->nitems; i++) {
        free(ck->items[i].name);
        free(ck->items[i].detail);
        free(ck->items[i].hint);
    }
    free(ck->items);
    ck->items = NULL;
    ck->nitems = 0;
}

/* ---- configuration ---- */

/* The variable of the token railhook uses, or a placeholder when none is set. */
static const char *token_var(const struct config *c)
{
    const char *var = NULL;
    railway_token_pick(c, &var);
    return var ? var : "RAILWAY_API_TOKEN";
}

static void need(struct buf *missing, bool ok, const char *name)
{
    if (!ok)
        buf_printf(missing, "%s%s", missing->len ? ", " : "", name);
}

static void check_config(struct check *ck)
{
    const struct config *c = &ck->cfg;
    struct buf missing, bad;
    buf_init(&missing, 1024);
    buf_init(&bad, 1024);
    need(&missing, check_is_set(c->database_url), "DATABASE_URL");
    need(&missing, railway_client_has_token(c),
         "RAILWAY_API_TOKEN (or RAILWAY_TOKEN, or RAILWAY_PROJECT_TOKEN)");
    need(&missing, check_is_set(c->railway_project_id), "RAILWAY_PROJECT_ID");
    need(&missing, check_is_set(c->railway_environment_id), "RAILWAY_ENVIRONMENT_ID");
    need(&missing, check_is_set(c->worker_repo), "WORKER_REPO");
    need(&missing, check_is_set(c->worker_branch), "WORKER_BRANCH");
    /* config_load() refuses it unless RAILWAY_API_ALLOW_INSECURE says otherwise. */
    if (config_url_cleartext(c->railway_api_url))
        check_item_add(
            ck, "railway_api_url", ITEM_WARN, "use the https:// URL of Railway's API",
            "RAILWAY_API_URL is plain http:// to a host other than loopback: the Railway "
            "token travels in clear (allowed by RAILWAY_API_ALLOW_INSECURE)");
    if (check_is_set(c->worker_repo)) {
        const char *slash = strchr(c->worker_repo, '/');
        if (!slash || slash == c->worker_repo || !slash[1] || strchr(slash + 1, '/'))
            buf_printf(&bad, "%sWORKER_REPO must be owner/repo", bad.len ? "; " : "");
    }
    if (check_is_set(c->database_url)) {
        char *perr = NULL;
        PQconninfoOption *opts = PQconninfoParse(c->database_url, &perr);
        if (!opts)
            buf_printf(&bad, "%sDATABASE_URL is not a PostgreSQL URL or conninfo string",
                       bad.len ? "; " : "");
        PQconninfoFree(opts);
        PQfreemem(perr);
    }
    if (c->worker_root_dir[0] != '/')
        buf_printf(&bad, "%sWORKER_ROOT_DIR must start with / (a folder of the repo)",
                   bad.len ? "; " : "");
    if (missing.len || bad.len)
        check_item_add(ck, "config", ITEM_FAIL,
                       "set the variables in railhook's environment; `railhook --help` lists every "
                       "variable with its meaning",
                       "%s%s%s%s", missing.len ? "not set: " : "", missing.len ? missing.data : "",
                       missing.len && bad.len ? "; " : "", bad.len ? bad.data : "");
    else
        check_item_add(
            ck, "config", ITEM_OK, NULL,
            "required variables set and well-formed (DATABASE_URL, %s, RAILWAY_PROJECT_ID, "
            "RAILWAY_ENVIRONMENT_ID, WORKER_REPO=%s, WORKER_BRANCH=%s, WORKER_ROOT_DIR=%s)",
            token_var(c), c->worker_repo, c->worker_branch, c->worker_root_dir);
    buf_free(&missing);
    buf_free(&bad);
}

static void check_secrets(struct check *ck)
{
    const struct config *c = &ck->cfg;
    bool github = verify_secrets_configured(c->github_webhook_secret);
    bool bearer = verify_secrets_configured(c->supabase_webhook_secret);
    bool signing = verify_secrets_configured(c->supabase_webhook_signing_secret);
    int bad = verify_swh_secrets_undecodable(c->supabase_webhook_signing_secret);
    struct buf names;
    buf_init(&names, 512);
    const struct {
        const char *name;
        bool on;
    } secrets[] = {
        {"RAILWAY_API_TOKEN", check_is_set(c->railway_api_token)},
        {"RAILWAY_TOKEN", check_is_set(c->railway_token)},
        {"RAILWAY_PROJECT_TOKEN", check_is_set(c->railway_project_token)},
        {"GITHUB_WEBHOOK_SECRET", github},
        {"SUPABASE_WEBHOOK_SECRET", bearer},
        {"SUPABASE_WEBHOOK_SIGNING_SECRET", signing},
        {"API_TOKEN", check_is_set(c->api_token)},
        {"API_ADMIN_TOKEN", check_is_set(c->api_admin_token)},
    };
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        if (secrets[i].on)
            buf_printf(&names, "%s%s", names.len ? ", " : "", secrets[i].name);
    const char *present = names.len ? names.data : "none";
    if (!bearer && !signing)
        check_item_add(
            ck, "webhook_secrets", ITEM_FAIL,
            "set SUPABASE_WEBHOOK_SECRET (the Authorization: Bearer value of the Supabase "
            "webhook) or SUPABASE_WEBHOOK_SIGNING_SECRET (whsec_...)",
            "no Supabase secret: POST /webhooks/supabase answers 503 and no service is ever "
            "provisioned (secrets set: %s; values are never shown)",
            present);
    else if (bad)
        check_item_add(
            ck, "webhook_secrets", ITEM_FAIL,
            "copy the secret again from Supabase; each entry must be whsec_<base64> (or "
            "v1,whsec_<base64>)",
            "%d SUPABASE_WEBHOOK_SIGNING_SECRET entr%s not whsec_<base64> and never match "
            "(secrets set: %s; values are never shown)",
            bad, bad == 1 ? "y is" : "ies are", present);
    else if (!github)
        check_item_add(
            ck, "webhook_secrets", ITEM_WARN,
            "set GITHUB_WEBHOOK_SECRET to the secret of the repository's webhook",
            "no GITHUB_WEBHOOK_SECRET: pushes to %s will not redeploy the workers (secrets "
            "set: %s; values are never shown)",
            check_is_set(c->worker_repo) ? c->worker_repo : "WORKER_REPO", present);
    else
        check_item_add(ck, "webhook_secrets", ITEM_OK, NULL, "set: %s (values are never shown)",
                       present);
    buf_free(&names);
}

static void check_api_auth(struct check *ck)
{
    char err[256] = "";
    if (!api_auth_configured(&ck->cfg, err, sizeof(err)))
        check_item_add(ck, "api_auth", ITEM_FAIL,
                       "set API_TOKEN (read) and API_ADMIN_TOKEN (retry, cancel), or API_AUTH=none "
                       "behind a private network",
                       "%s; `railhook serve` refuses to start", err);
    else if (strcmp(ck->cfg.api_auth, "none") == 0)
        check_item_add(
            ck, "api_auth", ITEM_WARN,
            "set API_AUTH=token with API_TOKEN/API_ADMIN_TOKEN unless the API is private",
            "API_AUTH=none: anyone who reaches railhook can read jobs and retry or cancel "
            "them");
    else
        check_item_add(
            ck, "api_auth", ITEM_OK, NULL, "bearer tokens required (%s%s%s)",
            check_is_set(ck->cfg.api_token) ? "API_TOKEN" : "",
            check_is_set(ck->cfg.api_token) && check_is_set(ck->cfg.api_admin_token) ? ", " : "",
            check_is_set(ck->cfg.api_admin_token) ? "API_ADMIN_TOKEN" : "");
}

/* Names read as {env.NAME} by the templates that are not set in this environment. */
static void unset_env_placeholders(const cJSON *templates, struct buf *out)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, templates)
    {
        const char *p = cJSON_IsString(t) ? t->valuestring : "";
        while ((p = strstr(p, "{env.")) != NULL) {
            p += 5;
            size_t n = strcspn(p, "}");
            char *name = xstrndup(p, n);
            if (!getenv(name) || !*getenv(name))
                buf_printf(out, "%s%s (in %s)", out->len ? ", " : "", name, t->string);
            free(name);
            p += n;
        }
    }
}

static void check_worker_variables(struct check *ck)
{
    char err[256] = "";
    cJSON *templates = variables_templates_load(&ck->cfg, err, sizeof(err));
    cJSON *columns = NULL;
    struct buf cols, unset;
    buf_init(&cols, 1024);
    buf_init(&unset, 1024);
    if (!templates) {
        check_item_add(
            ck, "worker_variables", ITEM_FAIL,
            "fix WORKER_VARIABLES_FILE: a JSON object NAME -> template with {record.COLUMN} "
            "and {env.NAME} placeholders",
            "%s", err);
        goto out;
    }
    columns = variables_template_columns(templates);
    const cJSON *col;
    cJSON_ArrayForEach(col, columns)
    {
        buf_printf(&cols, "%s%s", cols.len ? ", " : "", col->valuestring);
    }
    unset_env_placeholders(templates, &unset);
    const char *from =
        check_is_set(ck->cfg.worker_variables_file) ? "WORKER_VARIABLES_FILE" : "built-in";
    if (unset.len)
        check_item_add(
            ck, "worker_variables", ITEM_FAIL,
            "set those variables in railhook's environment or drop them from the templates",
            "%d templates (%s) read unset variables: %s", cJSON_GetArraySize(templates), from,
            unset.data);
    else
        check_item_add(ck, "worker_variables", ITEM_OK, NULL,
                       "%d templates (%s); manifest columns used: %s",
                       cJSON_GetArraySize(templates), from, cols.len ? cols.data : "none");
out:
    buf_free(&cols);
    buf_free(&unset);
    cJSON_Delete(columns);
    cJSON_Delete(templates);
}

static void check_queue(struct check *ck)
{
    const struct config *c = &ck->cfg;
    struct buf warn;
    buf_init(&warn, 2048);
    if (c->workers == 0)
        buf_printf(&warn, "%sWORKERS=0: this instance records jobs but never runs them",
                   warn.len ? "; " : "");
    if ((int64_t)c->deploy_poll_max_ms > (int64_t)c->deploy_timeout_s * 1000)
        buf_printf(&warn, "%sDEPLOY_POLL_MAX_MS=%d is longer than DEPLOY_TIMEOUT_S=%d",
                   warn.len ? "; " : "", c->deploy_poll_max_ms, c->deploy_timeout_s);
    if (c->push_deploy_grace_s >= c->deploy_timeout_s)
        buf_printf(&warn, "%sPUSH_DEPLOY_GRACE_S=%d is not below DEPLOY_TIMEOUT_S=%d",
                   warn.len ? "; " : "", c->push_deploy_grace_s, c->deploy_timeout_s);
    if (!strchr(c->service_name_template, '{'))
        buf_printf(&warn,
                   "%sSERVICE_NAME_TEMPLATE has no {column}: every manifest maps to the same "
                   "service",
                   warn.len ? "; " : "");
    if (c->railway_hourly_budget < c->railway_max_rps)
        buf_printf(&warn, "%sRAILWAY_HOURLY_BUDGET=%d is below RAILWAY_MAX_RPS=%d",
                   warn.len ? "; " : "", c->railway_hourly_budget, c->railway_max_rps);
    if (warn.len)
        check_item_add(ck, "queue", ITEM_WARN,
                       "adjust the named settings (`railhook --help` explains each)", "%s",
                       warn.data);
    else
        check_item_add(ck, "queue", ITEM_OK, NULL,
                       "WORKERS=%d, JOB_LEASE_S=%d, JOB_MAX_ATTEMPTS=%d, DEPLOY_TIMEOUT_S=%d, "
                       "CONNECT_STRATEGY=%s%s",
                       c->workers, c->job_lease_s, c->job_max_attempts, c->deploy_timeout_s,
                       c->connect_strategy, c->connect_fallback ? " (with fallback)" : "");
    buf_free(&warn);
}

/* Whether railhook runs on Railway (Railway sets RAILWAY_SERVICE_ID in each service), and so
 * which service the flows must never touch. */
static void check_railway_runtime(struct check *ck)
{
    const struct config *c = &ck->cfg;
    if (check_is_set(c->railway_service_id))
        check_item_add(ck, "railway_runtime", ITEM_OK, NULL,
                       "running on Railway as service %s (project %s, environment %s); the flows "
                       "never touch that service",
                       c->railway_service_id,
                       check_is_set(c->railway_project_id) ? c->railway_project_id : "unset",
                       check_is_set(c->railway_environment_id) ? c->railway_environment_id
                                                               : "unset");
    else
        check_item_add(ck, "railway_runtime", ITEM_OK, NULL,
                       "not running on Railway (RAILWAY_SERVICE_ID is unset)");
}

int check_run(FILE *out, bool json)
{
    struct check ck;
    memset(&ck, 0, sizeof(ck));
    ck.rate_remaining = -1;
    ck.rate_limit = -1;
    char err[256] = "";
    long requests = 0;
    bool loaded = config_load(&ck.cfg, CONFIG_NEED_NOTHING, err, sizeof(err));
    if (!loaded) {
        check_item_add(
            &ck, "config", ITEM_FAIL,
            "fix the variable named here; `railhook --help` shows every variable and its "
            "allowed values",
            "%s (nothing else was checked)", err);
        goto out;
    }
    check_config(&ck);
    check_railway_runtime(&ck);
    check_secrets(&ck);
    check_api_auth(&ck);
    check_worker_variables(&ck);
    check_queue(&ck);
    check_database(&ck);
    check_notify(&ck);
    check_railway(&ck);
    requests = ck.rc ? railway_client_requests(ck.rc) : 0;
out:
    report_write(&ck, out, json, requests);
    int rc = report_ok(&ck) ? 0 : 1;
    railway_result_free(&ck.project_res);
    railway_client_free(ck.rc);
    railway_limiter_free(ck.lim);
    items_free(&ck);
    config_free(&ck.cfg);
    return rc;
}
