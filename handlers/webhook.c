/* Helpers shared by POST /webhooks/github and POST /webhooks/supabase. */
#include "handlers/webhook.h"

#include "handlers/intake.h"
#include "handlers/verify.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/util.h"

#include <stdint.h>
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

/* FNV-1a of a key. */
static uint32_t key_hash(const char *k)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)k; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

/* The key of obj that appears twice, or NULL. */
static const char *repeated_key(const cJSON *obj)
{
    const char *dup = NULL;
    size_t n = 0;
    const cJSON *c;
    for (c = obj->child; c; c = c->next)
        n++;
    if (n <= 16) {
        /* Narrow objects, nearly all of them: compared pairwise, nothing allocated. */
        for (const cJSON *a = obj->child; a && !dup; a = a->next)
            for (const cJSON *b = a->next; b && !dup; b = b->next)
                if (strcmp(a->string ? a->string : "", b->string ? b->string : "") == 0)
                    dup = b->string ? b->string : "";
        return dup;
    }
    /* Wider ones go through an open-addressing set of at least twice their width: linear in
     * the keys, whatever the width. */
    size_t cap = 64;
    while (cap < 2 * n)
        cap *= 2;
    const char **set = xcalloc(cap, sizeof(*set));
    for (c = obj->child; c && !dup; c = c->next) {
        const char *k = c->string ? c->string : "";
        size_t at = key_hash(k) & (cap - 1);
        while (set[at] && strcmp(set[at], k) != 0)
            at = (at + 1) & (cap - 1);
        if (set[at])
            dup = k;
        set[at] = k;
    }
    free(set);
    return dup;
}

/* Depth-first search for a repeated key. The way down is kept as the nodes passed through
 * (down[0] is the root) and written out as a path only once a repeat is found, so a clean
 * payload costs no formatting. */
static bool duplicate_walk(const cJSON *j, const cJSON **down, size_t depth, struct buf *path)
{
    bool found = false;
    const char *dup = cJSON_IsObject(j) ? repeated_key(j) : NULL;
    if (dup) {
        for (size_t d = 1; d <= depth; d++) {
            if (cJSON_IsArray(down[d - 1])) {
                size_t index = 0;
                for (const cJSON *c = down[d - 1]->child; c != down[d]; c = c->next)
                    index++;
                buf_printf(path, "[%zu]", index);
            } else {
                buf_printf(path, "%s%s", path->len ? "." : "",
                           down[d]->string ? down[d]->string : "");
            }
        }
        buf_printf(path, "%s%s", path->len ? "." : "", dup);
        return true;
    }
    bool nested = (cJSON_IsObject(j) || cJSON_IsArray(j)) && depth < CJSON_NESTING_LIMIT;
    for (const cJSON *c = nested ? j->child : NULL; c && !found; c = c->next) {
        down[depth + 1] = c;
        found = duplicate_walk(c, down, depth + 1, path);
    }
    return found;
}

bool webhook_json_duplicate_key(const cJSON *j, char *path, size_t cap)
{
    /* cJSON nests at most CJSON_NESTING_LIMIT deep, so the way down fits. */
    const cJSON **down = xmalloc((CJSON_NESTING_LIMIT + 2) * sizeof(*down));
    struct buf b;
    buf_init(&b, 0);
    down[0] = j;
    bool found = duplicate_walk(j, down, 0, &b);
    if (cap)
        snprintf(path, cap, "%s", found && b.data ? b.data : "");
    buf_free(&b);
    free(down);
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
