/* The configuration table and its parser. */
#include "util/config.h"

#include "util/redact.h"
#include "util/swh.h"
#include "util/util.h"

#include <arpa/inet.h>
#include <limits.h>
#include <libpq-fe.h>
#include <regex.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum cfg_type { CFG_STR, CFG_INT, CFG_BOOL };

#define CFG_REQUIRED_DB 1u /* required by commands that use the database */
#define CFG_SECRET      2u /* never printed */
#define CFG_URL_SECRET  4u /* a connection URL whose password is secret */

#define INSTANCE_ID_MAX 64 /* lease owner tokens "<instance>/w<thread>/<n>" must stay unique */
#define BODY_BUDGET_MAX 64 /* the default body budget, in MAX_BODY_BYTES */

struct cfg_entry {
    const char *name;
    enum cfg_type type;
    size_t offset;
    const char *def;
    long min, max;
    unsigned flags;
    const char *choices; /* for strings: "a|b|c", or NULL for free text */
    const char *help;
};

#define S(f) CFG_STR, offsetof(struct config, f)
#define I(f) CFG_INT, offsetof(struct config, f)
#define B(f) CFG_BOOL, offsetof(struct config, f)

static const struct cfg_entry table[] = {
    {"BIND_ADDRESS", S(bind_address), "0.0.0.0", 0, 0, 0, NULL,
     "address the HTTP server listens on"},
    {"PORT", I(port), "8080", 0, 65535, 0, NULL, "HTTP port (0 picks a free one)"},
    {"HTTP_THREADS", I(http_threads), "16", 1, 256, 0, NULL,
     "HTTP server threads (a delivery waiting for its commit holds none)"},
    {"HTTP_CONNECTION_LIMIT", I(http_connection_limit), "1024", 1, 100000, 0, NULL,
     "most open HTTP connections"},
    {"HTTP_CONNECTION_TIMEOUT_S", I(http_connection_timeout_s), "30", 1, 3600, 0, NULL,
     "idle HTTP connection timeout, seconds"},
    {"HTTP_PER_CLIENT_LIMIT", I(http_per_client_limit), "64", 0, 100000, 0, NULL,
     "most open HTTP connections from one client address (0: no limit; behind a proxy every "
     "client has the proxy's address)"},
    {"HTTP_REQUEST_DEADLINE_S", I(http_request_deadline_s), "30", 1, 3600, 0, NULL,
     "longest time to receive a whole request, headers and body, seconds"},
    {"MAX_BODY_BYTES", I(max_body_bytes), "1048576", 1024, 67108864, 0, NULL,
     "largest request body accepted (413 beyond)"},
    {"HTTP_BODY_BUDGET_BYTES", I(http_body_budget_bytes), "0", 0, INT_MAX, 0, NULL,
     "request bodies in flight, all connections together (503 beyond; 0: 64 x MAX_BODY_BYTES)"},
    {"SHUTDOWN_GRACE_S", I(shutdown_grace_s), "20", 0, 3600, 0, NULL,
     "seconds to finish requests and jobs on SIGTERM"},
    {"LOG_FORMAT", S(log_format), "logfmt", 0, 0, 0, "logfmt|json", "log line format"},
    {"LOG_LEVEL", S(log_level), "info", 0, 0, 0, "debug|info|warn|error",
     "least severe level logged"},
    {"DATABASE_URL", S(database_url), NULL, 0, 0, CFG_REQUIRED_DB | CFG_URL_SECRET, NULL,
     "PostgreSQL connection URL or conninfo (password is never logged)"},
    {"DB_POOL_SIZE", I(db_pool_size), "16", 1, 256, 0, NULL,
     "database connections for HTTP requests (at least HTTP_THREADS)"},
    {"DB_POOL_WAIT_MS", I(db_pool_wait_ms), "5000", 1, 600000, 0, NULL,
     "longest wait for a pooled connection, or of a delivery in line for its commit"},
    {"DB_CONNECT_TIMEOUT_S", I(db_connect_timeout_s), "5", 2, 600, 0, NULL,
     "longest wait to connect to the database, seconds (DATABASE_URL's connect_timeout wins)"},
    {"DB_STATEMENT_TIMEOUT_MS", I(db_statement_timeout_ms), "5000", 0, 3600000, 0, NULL,
     "statement_timeout of the HTTP pool's sessions (0: none)"},
    {"DB_WORKER_STATEMENT_TIMEOUT_MS", I(db_worker_statement_timeout_ms), "30000", 0, 3600000, 0,
     NULL, "statement_timeout of workers, dispatcher, intake and long poll (0: none)"},
    {"GITHUB_WEBHOOK_SECRET", S(github_webhook_secret), "", 0, 0, CFG_SECRET, NULL,
     "GitHub webhook secrets, comma-separated (empty: endpoint answers 503)"},
    {"SUPABASE_WEBHOOK_SECRET", S(supabase_webhook_secret), "", 0, 0, CFG_SECRET, NULL,
     "Supabase bearer secrets, comma-separated"},
    {"SUPABASE_WEBHOOK_SIGNING_SECRET", S(supabase_webhook_signing_secret), "", 0, 0, CFG_SECRET,
     NULL, "Standard Webhooks secrets (whsec_...), comma-separated"},
    {"SUPABASE_TABLE", S(supabase_table), "manifests", 0, 0, 0, NULL,
     "table whose rows are workers"},
    {"SUPABASE_SCHEMA", S(supabase_schema), "public", 0, 0, 0, NULL, "schema of SUPABASE_TABLE"},
    {"MANIFESTS_DATABASE_URL", S(manifests_database_url), "", 0, 0, CFG_URL_SECRET, NULL,
     "PostgreSQL URL of the database holding SUPABASE_SCHEMA.SUPABASE_TABLE (Supabase's direct "
     "or pooled connection), for reconciliation and status write-back (empty: neither)"},
    {"SERVICE_SCHEMA_PATTERN", S(service_schema_pattern), "^[a-z][a-z0-9_]{0,47}$", 0, 0, 0, NULL,
     "regular expression record.service_schema must match"},
    {"MANIFEST_ID_PATTERN", S(manifest_id_pattern), "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$", 0, 0, 0,
     NULL, "regular expression a string record.id must match (a UUID or an integer always does)"},
    {"MAX_JOBS_PER_DELIVERY", I(max_jobs_per_delivery), "1000", 1, 100000, 0, NULL,
     "most jobs one delivery may queue (a push's redeploys count one per active service)"},
    {"WORKER_REPO", S(worker_repo), "", 0, 0, 0, NULL, "GitHub repo of the workers (owner/repo)"},
    {"WORKER_BRANCH", S(worker_branch), "main", 0, 0, 0, NULL, "branch the workers deploy from"},
    {"WORKER_ROOT_DIR", S(worker_root_dir), "/workers", 0, 0, 0, NULL,
     "folder of the repo the workers build from"},
    {"WORKER_PATHS_FILTER", B(worker_paths_filter), "on", 0, 0, 0, NULL,
     "ignore pushes that touch nothing under WORKER_ROOT_DIR"},
    {"WORKER_VARIABLES_FILE", S(worker_variables_file), "", 0, 0, 0, NULL,
     "JSON file of worker variable templates (empty: built-in defaults)"},
    {"INSTANCE_ID", S(instance_id), "", 0, 0, 0, NULL,
     "name of this instance, up to 64 of A-Z a-z 0-9 . _ - (default host-pid)"},
    {"WORKERS", I(workers), "4", 0, 256, 0, NULL,
     "worker threads: concurrent job runs and Railway calls, not builds (0: intake only)"},
    {"QUEUE_POLL_MS", I(queue_poll_ms), "1000", 10, 600000, 0, NULL, "queue polling interval"},
    {"QUEUE_LISTEN", B(queue_listen), "on", 0, 0, 0, NULL,
     "wake workers with LISTEN/NOTIFY (off for transaction poolers)"},
    {"JOB_LEASE_S", I(job_lease_s), "30", 2, 3600, 0, NULL, "lease of a running job, seconds"},
    {"JOB_MAX_RESCUES", I(job_max_rescues), "5", 0, 1000, 0, NULL,
     "lease expiries before a job fails as poisoned"},
    {"JOB_MAX_ATTEMPTS", I(job_max_attempts), "3", 1, 100, 0, NULL, "attempts per job"},
    {"RETRY_BASE_MS", I(retry_base_ms), "1000", 1, 3600000, 0, NULL, "first retry backoff"},
    {"RETRY_MAX_MS", I(retry_max_ms), "300000", 1, 86400000, 0, NULL, "longest retry backoff"},
    {"JOB_RETENTION_DAYS", I(job_retention_days), "30", 1, 3650, 0, NULL,
     "finished jobs and events older than this are pruned"},
    {"RAILWAY_API_URL", S(railway_api_url), "https://backboard.railway.com/graphql/v2", 0, 0, 0,
     NULL, "Railway GraphQL endpoint (https://, or http:// to a loopback host)"},
    {"RAILWAY_API_ALLOW_INSECURE", B(railway_api_allow_insecure), "off", 0, 0, 0, NULL,
     "allow RAILWAY_API_URL over plain http:// to another host (the token travels in clear)"},
    {"RAILWAY_API_TOKEN", S(railway_api_token), "", 0, 0, CFG_SECRET, NULL,
     "Railway account or workspace token (Authorization: Bearer), as Railway's CLI names it; "
     "wins over RAILWAY_TOKEN and RAILWAY_PROJECT_TOKEN"},
    {"RAILWAY_TOKEN", S(railway_token), "", 0, 0, CFG_SECRET, NULL,
     "Railway token, used when RAILWAY_API_TOKEN is empty: sent as Bearer (account or "
     "workspace token), or as Project-Access-Token when Railway says it is a project token"},
    {"RAILWAY_PROJECT_TOKEN", S(railway_project_token), "", 0, 0, CFG_SECRET, NULL,
     "Railway project token (Project-Access-Token), used when both of the above are empty"},
    {"RAILWAY_PROJECT_ID", S(railway_project_id), "", 0, 0, 0, NULL,
     "Railway project id (Railway sets it to railhook's own when railhook runs there)"},
    {"RAILWAY_ENVIRONMENT_ID", S(railway_environment_id), "", 0, 0, 0, NULL,
     "Railway environment id (Railway sets it to railhook's own when railhook runs there)"},
    {"RAILWAY_SERVICE_ID", S(railway_service_id), "", 0, 0, 0, NULL,
     "railhook's own Railway service (Railway sets it when railhook runs there); never touched"},
    {"RECONCILE_INTERVAL_S", I(reconcile_interval_s), "600", 0, 86400, 0, NULL,
     "seconds between reconciliation passes in serve (0: no periodic pass)"},
    {"RECONCILE_MODE", S(reconcile_mode), "repair", 0, 0, 0, "repair|report",
     "what a periodic pass does with its plan: enqueue the jobs (repair) or only record it"},
    {"RECONCILE_DELETE", B(reconcile_delete), "off", 0, 0, 0, NULL,
     "reconciliation may delete services whose manifest is gone (off: report them)"},
    {"RECONCILE_MAX_DELETE", I(reconcile_max_delete), "5", 0, 10000, 0, NULL,
     "a pass that would delete more services than this deletes none"},
    {"RECONCILE_BUDGET", I(reconcile_budget), "20", 1, 10000, 0, NULL,
     "most Railway requests one reconciliation pass sends"},
    {"RAILWAY_TIMEOUT_S", I(railway_timeout_s), "30", 1, 600, 0, NULL, "Railway request timeout"},
    {"RAILWAY_MAX_RPS", I(railway_max_rps), "5", 1, 1000, 0, NULL,
     "Railway requests per second, all workers together"},
    {"RAILWAY_HOURLY_BUDGET", I(railway_hourly_budget), "1000", 1, 1000000, 0, NULL,
     "Railway requests per hour, all workers together"},
    {"SERVICE_NAME_TEMPLATE", S(service_name_template), "osp-worker-{service_schema}", 0, 0, 0,
     NULL, "name of a worker's Railway service ({column} from the manifest row)"},
    {"CONNECT_STRATEGY", S(connect_strategy), "connect", 0, 0, 0,
     "connect|create-with-source|deploy-trigger", "how a service is connected to the repo"},
    {"CONNECT_FALLBACK", B(connect_fallback), "on", 0, 0, 0, NULL,
     "try the next connect strategy after a permanent failure"},
    {"DEPLOY_TIMEOUT_S", I(deploy_timeout_s), "900", 5, 86400, 0, NULL,
     "longest wait for a deployment's outcome"},
    {"CONNECT_DEPLOY_WAIT_S", I(connect_deploy_wait_s), "30", 0, 600, 0, NULL,
     "wait for the deployment connecting the repo starts before starting one"},
    {"PUSH_DEPLOY_GRACE_S", I(push_deploy_grace_s), "120", 0, 7200, 0, NULL,
     "wait for Railway's own deploy of a pushed commit before starting one"},
    {"DEPLOY_POLL_MIN_MS", I(deploy_poll_min_ms), "10000", 10, 600000, 0, NULL,
     "shortest pause between two deployment watcher ticks (many deployments in flight)"},
    {"DEPLOY_POLL_MAX_MS", I(deploy_poll_max_ms), "30000", 10, 600000, 0, NULL,
     "first look at a new deployment; a lone one is read every 2x this"},
    {"API_TOKEN", S(api_token), "", 0, 0, CFG_SECRET, NULL,
     "read API bearer tokens, comma-separated"},
    {"API_ADMIN_TOKEN", S(api_admin_token), "", 0, 0, CFG_SECRET, NULL,
     "admin (write) API bearer tokens, comma-separated"},
    {"API_AUTH", S(api_auth), "token", 0, 0, 0, "token|none", "none: serve the API without tokens"},
    {"CORS_ORIGINS", S(cors_origins), "", 0, 0, 0, NULL,
     "origins allowed to call the API, comma-separated"},
    {"EVENTS_MAX_STREAMS", I(events_max_streams), "256", 1, 100000, 0, NULL,
     "most open GET /events streams on this instance (503 beyond)"},
    {"METRICS_PUBLIC", B(metrics_public), "off", 0, 0, 0, NULL, "serve /metrics without a token"},
    {"NOTIFY_URLS", S(notify_urls), "", 0, 0, CFG_SECRET, NULL,
     "URLs that receive signed job notifications, comma-separated (https://, or http:// to "
     "loopback; empty: none)"},
    {"NOTIFY_SIGNING_SECRET", S(notify_signing_secret), "", 0, 0, CFG_SECRET, NULL,
     "Standard Webhooks secret (whsec_<base64>) notifications are signed with"},
    {"NOTIFY_EVENTS", S(notify_events), "final", 0, 0, 0, "final|all",
     "notify final states only, or every state change"},
    {"NOTIFY_SENDERS", I(notify_senders), "2", 1, 64, 0, NULL,
     "notification sender threads (each has its own database connections)"},
    {"NOTIFY_TIMEOUT_S", I(notify_timeout_s), "10", 1, 300, 0, NULL,
     "longest notification request, seconds"},
    {"NOTIFY_RETRY_BASE_S", I(notify_retry_base_s), "5", 1, 3600, 0, NULL,
     "first retry delay of a notification (doubles, with jitter, up to an hour)"},
    {"NOTIFY_RETRY_FOR_S", I(notify_retry_for_s), "90000", 1, 2592000, 0, NULL,
     "how long a notification is retried before it is given up, seconds"},
    {"MANIFEST_STATUS_COLUMNS", S(manifest_status_columns), "", 0, 0, 0, NULL,
     "manifest columns the job status is written back to, column=field comma-separated "
     "(fields: service_id state deployment_status error updated_at job_id kind; empty: no "
     "write-back)"},
};

#undef S
#undef I
#undef B

static bool parse_bool(const char *s, bool *out)
{
    static const char *yes[] = {"on", "true", "1", "yes"};
    static const char *no[] = {"off", "false", "0", "no"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool in_choices(const char *choices, const char *v)
{
    size_t n = strlen(v);
    const char *p = choices;
    while (*p) {
        size_t len = strcspn(p, "|");
        if (len == n && strncmp(p, v, n) == 0)
            return true;
        p += len;
        if (*p == '|')
            p++;
    }
    return false;
}

static void register_url_password(const char *url)
{
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &errmsg);
    if (!opts) {
        PQfreemem(errmsg);
        return;
    }
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val)
            redact_register(o->val);
    PQconninfoFree(opts);
}

/* Registers each entry of a secret list, trimmed as the verifiers trim it. */
static void split_register(const char *list)
{
    const char *cur = list;
    const char *s;
    size_t n;
    while (secret_list_next(&cur, &s, &n)) {
        /* "v1,whsec_..." lists a version tag before the secret: the tag is no secret. */
        if (s[0] == 'v' && n > 1 && strspn(s + 1, "0123456789") == n - 1)
            continue;
        char *one = xstrndup(s, n);
        redact_register(one);
        free(one);
    }
}

static bool instance_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

static bool pattern_ok(const char *pattern)
{
    regex_t re;
    if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
        return false;
    regfree(&re);
    return true;
}

static bool loopback_host(const char *host, size_t n)
{
    char tmp[64];
    struct in_addr a;
    if (n == 9 && strncasecmp(host, "localhost", 9) == 0)
        return true;
    if (n == 5 && memcmp(host, "[::1]", 5) == 0)
        return true;
    if (n >= sizeof(tmp))
        return false;
    memcpy(tmp, host, n);
    tmp[n] = '\0';
    return inet_pton(AF_INET, tmp, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

bool config_url_cleartext(const char *url)
{
    if (strncasecmp(url, "http://", 7) != 0)
        return false;
    const char *host = url + 7;
    size_t n = strcspn(host, "/?#");
    const char *at = memrchr(host, '@', n);
    if (at) {
        n -= (size_t)(at + 1 - host);
        host = at + 1;
    }
    const char *end = host[0] == '[' ? memchr(host, ']', n) : memchr(host, ':', n);
    if (end && host[0] == '[')
        end++;
    return !loopback_host(host, end ? (size_t)(end - host) : n);
}

bool config_status_columns_parse(const char *spec, struct config_status_column *out, int *n,
                                 char *err, size_t errlen)
{
    static const char *const fields[] = {
        "service_id", "state", "deployment_status", "error", "updated_at", "job_id", "kind"};
    bool ok = false, guarded = false;
    const char *p = spec;
    *n = 0;
    while (*p) {
        size_t len = strcspn(p, ",");
        const char *eq = memchr(p, '=', len);
        size_t clen = eq ? (size_t)(eq - p) : 0;
        size_t flen = eq ? len - clen - 1 : 0;
        if (!eq || clen == 0 || clen >= sizeof(out->column) || flen == 0) {
            snprintf(err, errlen, "MANIFEST_STATUS_COLUMNS: '%.*s' is not column=field", (int)len,
                     p);
            goto out;
        }
        if (*n == CONFIG_STATUS_COLUMNS_MAX) {
            snprintf(err, errlen, "MANIFEST_STATUS_COLUMNS: more than %d columns",
                     CONFIG_STATUS_COLUMNS_MAX);
            goto out;
        }
        const char *field = NULL;
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
            if (strlen(fields[i]) == flen && memcmp(fields[i], eq + 1, flen) == 0)
                field = fields[i];
        if (!field) {
            snprintf(err, errlen,
                     "MANIFEST_STATUS_COLUMNS: unknown field '%.*s' (service_id, state, "
                     "deployment_status, error, updated_at, job_id, kind)",
                     (int)flen, eq + 1);
            goto out;
        }
        guarded = guarded || strcmp(field, "updated_at") == 0;
        snprintf(out[*n].column, sizeof(out[*n].column), "%.*s", (int)clen, p);
        snprintf(out[*n].field, sizeof(out[*n].field), "%s", field);
        (*n)++;
        p += len;
        if (*p == ',')
            p++;
    }
    if (*n > 0 && !guarded) {
        snprintf(err, errlen,
                 "MANIFEST_STATUS_COLUMNS must map a column to updated_at (it keeps "
                 "an older status from overwriting a newer one)");
        goto out;
    }
    ok = true;
out:
    return ok;
}

/* NOTIFY_URLS, NOTIFY_SIGNING_SECRET and MANIFEST_STATUS_COLUMNS, once the table is read. */
static bool notify_config_check(struct config *cfg, char *err, size_t errlen)
{
    const char *cur = cfg->notify_urls;
    const char *u;
    size_t n;
    int entry = 0;
    while (secret_list_next(&cur, &u, &n)) {
        entry++;
        char *url = xstrndup(u, n);
        bool scheme = strncasecmp(url, "https://", 8) == 0 || strncasecmp(url, "http://", 7) == 0;
        bool ok = scheme && strcspn(url + (url[4] == ':' ? 7 : 8), "/?#") > 0 &&
                  !config_url_cleartext(url) && !strpbrk(url, " \t\r\n");
        free(url);
        if (!ok) {
            snprintf(err, errlen,
                     "NOTIFY_URLS: entry %d is not an https:// URL (http:// only to loopback)",
                     entry);
            return false;
        }
    }
    unsigned char key[SWH_MAX_KEY];
    size_t keylen = 0;
    const char *sec = cfg->notify_signing_secret;
    if (entry > 0 && (strncmp(sec, "whsec_", 6) != 0 ||
                      swh_key_decode(sec, strlen(sec), key, &keylen) != RH_OK)) {
        snprintf(err, errlen,
                 "NOTIFY_SIGNING_SECRET must be whsec_<base64> when NOTIFY_URLS is set");
        return false;
    }
    if (!config_status_columns_parse(cfg->manifest_status_columns, cfg->status_columns,
                                     &cfg->nstatus_columns, err, errlen))
        return false;
    if (cfg->nstatus_columns > 0 && !*cfg->manifests_database_url) {
        snprintf(err, errlen, "MANIFEST_STATUS_COLUMNS needs MANIFESTS_DATABASE_URL");
        return false;
    }
    return true;
}

bool config_load(struct config *cfg, enum config_need need, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        const struct cfg_entry *e = &table[i];
        const char *v = getenv(e->name);
        if (v && !*v && e->type != CFG_STR)
            v = NULL;
        if (!v)
            v = e->def;
        if (!v || (!*v && (e->flags & CFG_REQUIRED_DB))) {
            if ((e->flags & CFG_REQUIRED_DB) && (need & CONFIG_NEED_DATABASE)) {
                snprintf(err, errlen, "%s is required but not set", e->name);
                config_free(cfg);
                return false;
            }
            v = "";
        }
        char *field = (char *)cfg + e->offset;
        switch (e->type) {
        case CFG_STR:
            if (e->choices && !in_choices(e->choices, v)) {
                snprintf(err, errlen, "%s must be one of %s", e->name, e->choices);
                config_free(cfg);
                return false;
            }
            *(char **)(void *)field = xstrdup(v);
            if (e->flags & CFG_SECRET)
                split_register(v);
            if (e->flags & CFG_URL_SECRET)
                register_url_password(v);
            break;
        case CFG_INT: {
            int64_t n;
            if (!parse_i64(v, e->min, e->max, &n)) {
                snprintf(err, errlen, "%s must be an integer from %ld to %ld", e->name, e->min,
                         e->max);
                config_free(cfg);
                return false;
            }
            *(int *)(void *)field = (int)n;
            break;
        }
        case CFG_BOOL:
            if (!parse_bool(v, (bool *)(void *)field)) {
                snprintf(err, errlen, "%s must be on or off", e->name);
                config_free(cfg);
                return false;
            }
            break;
        }
    }
    if (!*cfg->instance_id) {
        char host[128] = "railhook";
        gethostname(host, sizeof(host) - 1);
        host[sizeof(host) - 1] = '\0';
        for (char *h = host; *h; h++)
            if (!instance_char(*h))
                *h = '-';
        free(cfg->instance_id);
        cfg->instance_id = xasprintf("%.*s-%d", INSTANCE_ID_MAX - 12, host, (int)getpid());
    }
    bool instance_ok = strlen(cfg->instance_id) <= INSTANCE_ID_MAX;
    for (const char *c = cfg->instance_id; *c; c++)
        instance_ok = instance_ok && instance_char(*c);
    if (!instance_ok) {
        snprintf(err, errlen, "INSTANCE_ID must be 1 to %d of A-Z a-z 0-9 . _ -", INSTANCE_ID_MAX);
        config_free(cfg);
        return false;
    }
    if (!pattern_ok(cfg->service_schema_pattern) || !pattern_ok(cfg->manifest_id_pattern)) {
        snprintf(err, errlen, "%s is not a valid regular expression",
                 pattern_ok(cfg->service_schema_pattern) ? "MANIFEST_ID_PATTERN"
                                                         : "SERVICE_SCHEMA_PATTERN");
        config_free(cfg);
        return false;
    }
    if (cfg->http_body_budget_bytes == 0)
        cfg->http_body_budget_bytes = cfg->max_body_bytes > INT_MAX / BODY_BUDGET_MAX
                                          ? INT_MAX
                                          : cfg->max_body_bytes * BODY_BUDGET_MAX;
    if (cfg->http_body_budget_bytes < cfg->max_body_bytes) {
        snprintf(err, errlen, "HTTP_BODY_BUDGET_BYTES must not be below MAX_BODY_BYTES");
        config_free(cfg);
        return false;
    }
    if (strncasecmp(cfg->railway_api_url, "https://", 8) != 0 &&
        strncasecmp(cfg->railway_api_url, "http://", 7) != 0) {
        snprintf(err, errlen, "RAILWAY_API_URL must be an https:// URL");
        config_free(cfg);
        return false;
    }
    if (config_url_cleartext(cfg->railway_api_url) && !cfg->railway_api_allow_insecure) {
        snprintf(err, errlen,
                 "RAILWAY_API_URL is plain http:// to a host other than loopback: the Railway "
                 "token would travel in clear; use https://, or set "
                 "RAILWAY_API_ALLOW_INSECURE=on to accept that");
        config_free(cfg);
        return false;
    }
    if (cfg->retry_max_ms < cfg->retry_base_ms) {
        snprintf(err, errlen, "RETRY_MAX_MS must not be below RETRY_BASE_MS");
        config_free(cfg);
        return false;
    }
    if (cfg->deploy_poll_max_ms < cfg->deploy_poll_min_ms) {
        snprintf(err, errlen, "DEPLOY_POLL_MAX_MS must not be below DEPLOY_POLL_MIN_MS");
        config_free(cfg);
        return false;
    }
    if (*cfg->worker_repo && !strchr(cfg->worker_repo, '/')) {
        snprintf(err, errlen, "WORKER_REPO must be owner/repo");
        config_free(cfg);
        return false;
    }
    if (!notify_config_check(cfg, err, errlen)) {
        config_free(cfg);
        return false;
    }
    return true;
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (table[i].type != CFG_STR)
            continue;
        char **field = (char **)(void *)((char *)cfg + table[i].offset);
        free(*field);
        *field = NULL;
    }
}

void config_print_help(FILE *out)
{
    fprintf(out, "Environment variables (name, default, meaning):\n");
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        const struct cfg_entry *e = &table[i];
        const char *def = e->def ? e->def : "(required)";
        fprintf(out, "  %-32s %-24s %s%s\n", e->name, *def ? def : "(empty)", e->help,
                (e->flags & (CFG_SECRET | CFG_URL_SECRET)) ? " [secret]" : "");
    }
}
