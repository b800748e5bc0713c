/* Helpers shared by POST /webhooks/github and POST /webhooks/supabase. */
#include "handlers/webhook.h"

#include "handlers/intake.h"
#include "handlers/verify.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void webhook_config_warn(const struct config *cfg)
{
    if (!verify_secrets_configured(cfg->github_webhook_secret))
        log_warn("GITHUB_WEBHOOK_SECRET is empty: POST /webhooks/github answers 503");
    if (!verify_secrets_configured(cfg->supabase_webhook_secret) &&
        !verify_secrets_configured(cfg->supabase_webhook_signing_secret))
        log_warn("SUPABASE_WEBHOOK_SECRET and SUPABASE_WEBHOOK_SIGNING_SECRET are empty:"
                 " POST /webhooks/supabase answers 503");
    int bad = verify_swh_secrets_undecodable(cfg->supabase_webhook_signing_secret);
    if (bad)
        log_warn("SUPABASE_WEBHOOK_SIGNING_SECRET has entries that are not whsec_<base64>:"
                 " they never match",
                 LOG_INT("count", bad));
}

enum webhook_media webhook_media_type(const char *content_type)
{
    enum webhook_media media = WEBHOOK_MEDIA_OTHER;
    const char *p = content_type ? content_type : "";
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = strcspn(p, ";");
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n == strlen("application/json") && strncasecmp(p, "application/json", n) == 0)
        media = WEBHOOK_MEDIA_JSON;
    else if (n == strlen("application/x-www-form-urlencoded") &&
             strncasecmp(p, "application/x-www-form-urlencoded", n) == 0)
        media = WEBHOOK_MEDIA_FORM;
    return media;
}

bool webhook_token_ok(const char *value)
{
    size_t n = value ? strlen(value) : 0;
    bool ok = n > 0 && n <= WEBHOOK_MAX_TOKEN;
    for (size_t i = 0; ok && i < n; i++) {
        char c = value[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '-' || c == '_' || c == '.' || c == ':';
    }
    return ok;
}

void webhook_error(struct http_response *res, const struct http_request *req, int status,
                   const char *code, const char *field, const char *message)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *err = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(err, "code", code);
    cJSON_AddStringToObject(err, "message", message);
    if (field)
        cJSON_AddStringToObject(err, "field", field);
    cJSON_AddStringToObject(err, "request_id", req->request_id);
    http_response_json(res, status, root);
    cJSON_Delete(root);
}

static int key_order(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Depth-first search for a repeated key; path holds the way down to j and, on success, to the
 * repeated key. */
static bool duplicate_walk(const cJSON *j, struct buf *path)
{
    bool found = false;
    size_t mark = path->len;
    size_t n = 0;
    size_t i = 0;
    const cJSON *c;

    if (cJSON_IsObject(j)) {
        for (c = j->child; c; c = c->next)
            n++;
        /* Sorted keys put any repeat side by side: n log n for objects of any width. */
        const char **keys = n > 1 ? xmalloc(n * sizeof(*keys)) : NULL;
        for (c = j->child; c && n > 1; c = c->next)
            keys[i++] = c->string ? c->string : "";
        if (n > 1)
            qsort(keys, n, sizeof(*keys), key_order);
        for (i = 1; i < n && !found; i++) {
            if (strcmp(keys[i - 1], keys[i]) == 0) {
                buf_printf(path, "%s%s", mark ? "." : "", keys[i]);
                found = true;
            }
        }
        free(keys);
        for (c = j->child; c && !found; c = c->next) {
            buf_printf(path, "%s%s", mark ? "." : "", c->string ? c->string : "");
            found = duplicate_walk(c, path);
            if (!found)
                path->len = mark;
        }
    } else if (cJSON_IsArray(j)) {
        for (c = j->child; c && !found; c = c->next, i++) {
            buf_printf(path, "[%zu]", i);
            found = duplicate_walk(c, path);
            if (!found)
                path->len = mark;
        }
    }
    if (path->data)
        path->data[path->len] = '\0';
    return found;
}

bool webhook_json_duplicate_key(const cJSON *j, char *path, size_t cap)
{
    struct buf b;
    buf_init(&b, 0);
    bool found = duplicate_walk(j, &b);
    if (cap)
        snprintf(path, cap, "%s", found && b.data ? b.data : "");
    buf_free(&b);
    return found;
}

enum rh_status webhook_parse_json(const struct http_request *req, struct http_response *res,
                                  const char *text, size_t len, cJSON **out)
{
    enum rh_status st = RH_INVALID;
    char key[128];
    *out = NULL;
    if (len == 0) {
        webhook_error(res, req, 400, "empty_body", "body", "the payload is empty");
        goto out;
    }
    if (!mapping_utf8_valid(text, len)) {
        webhook_error(res, req, 400, "invalid_json", "body", "the payload is not valid UTF-8");
        goto out;
    }
    *out = cJSON_ParseWithLength(text, len);
    if (!*out) {
        webhook_error(res, req, 400, "invalid_json", "body", "the payload is not valid JSON");
        goto out;
    }
    if (!cJSON_IsObject(*out)) {
        webhook_error(res, req, 400, "invalid_json", "body", "the payload must be a JSON object");
        goto out;
    }
    /* A repeated key means one thing to railhook (cJSON reads the first) and another to the
     * database (jsonb keeps the last). */
    if (webhook_json_duplicate_key(*out, key, sizeof(key))) {
        webhook_error(res, req, 400, "duplicate_key", key,
                      "the payload holds this key twice in one object");
        goto out;
    }
    st = RH_OK;
out:
    if (st != RH_OK) {
        cJSON_Delete(*out);
        *out = NULL;
    }
    return st;
}

/* A copy of s cut to 200 bytes (free()): text from the sender never makes a log line long. */
static char *log_capped(const char *s)
{
    return xstrndup(s, strnlen(s, 200));
}

static void reply_ids(struct http_response *res, int status, const struct intake_outcome *out,
                      const char *ignored)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *ids = cJSON_AddArrayToObject(root, "job_ids");
    for (size_t i = 0; out && i < out->njobs; i++)
        cJSON_AddItemToArray(ids, cJSON_CreateString(out->job_ids[i]));
    if (ignored)
        cJSON_AddStringToObject(root, "ignored", ignored);
    if (out && out->duplicate)
        cJSON_AddBoolToObject(root, "duplicate", true);
    http_response_json(res, status, root);
    cJSON_Delete(root);
}

void webhook_count(const char *source, const char *outcome)
{
    char labels[96];
    snprintf(labels, sizeof(labels), "source=\"%s\",outcome=\"%s\"", source, outcome);
    metrics_count("railhook_webhook_deliveries_total", labels, 1);
}

/* A delivery parked until its commit: what its answer and log line need. */
struct parked {
    struct intake_wait *wait;
    const char *source; /* static */
    char *id;           /* capped for the log */
    char *ev;
};

static void parked_free(void *data)
{
    struct parked *p = data;
    intake_wait_free(p->wait);
    free(p->id);
    free(p->ev);
    free(p);
}

/* Counts and logs a delivery's outcome once (reason: why it was ignored or refused). */
static void answer(const struct http_request *req, const char *source, const char *id,
                   const char *ev, const char *outcome, enum rh_status st,
                   const struct intake_outcome *out, const char *reason)
{
    webhook_count(source, strcmp(outcome, "invalid") == 0 ? "rejected" : outcome);
    enum log_level level = st == RH_OK ? LOG_INFO : LOG_ERROR;
    log_at(level, "webhook", LOG_STR("source", source), LOG_STR("event", ev),
           LOG_STR("delivery", id), LOG_STR("outcome", outcome),
           LOG_INT("jobs", (long long)(out ? out->njobs : 0)), LOG_STR("reason", reason),
           LOG_STR("request_id", req->request_id));
}

/* The resumed request of a parked delivery: its commit is over (or the server is stopping). */
static void answer_committed(struct app *app, struct http_request *req, struct http_response *res,
                             void *data)
{
    (void)app;
    struct parked *p = data;
    struct intake_outcome out = {0};
    const char *outcome = "error";
    enum rh_status st = intake_wait_result(p->wait, &out);
    if (st == RH_OK && out.ignored) {
        reply_ids(res, 200, NULL, out.reason);
        outcome = "ignored";
    } else if (st == RH_OK && out.duplicate) {
        reply_ids(res, 200, &out, NULL);
        outcome = "duplicate";
    } else if (st == RH_OK) {
        reply_ids(res, 202, &out, NULL);
        outcome = "accepted";
    } else if (st == RH_UNAVAILABLE) {
        http_response_header(res, "Retry-After", "5");
        http_response_error(res, req, 503, "database_unavailable",
                            "the delivery could not be recorded now; retry later");
        outcome = "unavailable";
    } else {
        http_response_error(res, req, 500, "storage_rejected", "the database refused the delivery");
    }
    answer(req, p->source, p->id, p->ev, outcome, st, &out, out.ignored ? out.reason : "");
    intake_outcome_free(&out);
}

void webhook_deliver(struct app *app, struct http_request *req, struct http_response *res,
                     const char *source, const char *delivery_id, const char *event,
                     struct mapping_result *mapped)
{
    char *id = log_capped(delivery_id);
    char *ev = log_capped(event);

    switch (mapped->outcome) {
    case MAPPING_IGNORED:
        reply_ids(res, 200, NULL, mapped->reason);
        answer(req, source, id, ev, "ignored", RH_OK, NULL, mapped->reason);
        break;
    case MAPPING_INVALID:
        webhook_error(res, req, 422, "invalid_field", mapped->field, mapped->message);
        answer(req, source, id, ev, "invalid", RH_OK, NULL, mapped->field);
        break;
    case MAPPING_JOBS:
    case MAPPING_FANOUT: {
        /* Parked until the commit: the connection holds no thread meanwhile. */
        struct parked *p = xcalloc(1, sizeof(*p));
        p->source = source;
        p->id = id;
        p->ev = ev;
        id = ev = NULL;
        *req->hold = (struct http_hold){.data = p, .answer = answer_committed, .free = parked_free};
        req->park(req);
        p->wait = intake_post(app->intake, source, delivery_id, event, mapped, req->body_len,
                              req->resume, req->transport);
        res->status = 0;
        break;
    }
    }
    mapping_result_free(mapped);
    free(id);
    free(ev);
}
