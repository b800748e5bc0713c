/* The Railway GraphQL client over libcurl and the classification of its answers.
 *
 * Threading: a client (and its CURL handle) belongs to one thread; only the limiter is
 * shared. curl_global_init() is main's job, before threads start. */
#include "railway/railway.h"

#include "util/metrics.h"
#include "util/redact.h"
#include "util/util.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RESPONSE_CAP (4u << 20)
#define EXCERPT_LEN 2000

struct railway_client {
    CURL *curl;
    struct railway_limiter *lim;
    char *url;
    char *auth_header;
    long timeout_s;
    long requests;
    long rate_limited;
    struct buf body;
    long hdr_remaining;
    long hdr_limit;
    int64_t hdr_reset;
    int hdr_retry_after;
    char errbuf[CURL_ERROR_SIZE];
};

bool railway_client_has_token(const struct config *cfg)
{
    return (cfg->railway_token && *cfg->railway_token) ||
           (cfg->railway_project_token && *cfg->railway_project_token);
}

struct railway_client *railway_client_new(const struct config *cfg, struct railway_limiter *lim)
{
    struct railway_client *c = xcalloc(1, sizeof(*c));
    c->curl = curl_easy_init();
    if (!c->curl)
        abort();
    c->lim = lim;
    c->url = xstrdup(cfg->railway_api_url);
    if (cfg->railway_token && *cfg->railway_token)
        c->auth_header = xasprintf("Authorization: Bearer %s", cfg->railway_token);
    else if (cfg->railway_project_token && *cfg->railway_project_token)
        c->auth_header = xasprintf("Project-Access-Token: %s", cfg->railway_project_token);
    c->timeout_s = cfg->railway_timeout_s;
    buf_init(&c->body, RESPONSE_CAP);
    return c;
}

void railway_client_free(struct railway_client *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->curl);
    buf_free(&c->body);
    free(c->url);
    free(c->auth_header);
    free(c);
}

long railway_client_requests(const struct railway_client *c)
{
    return c->requests;
}

static size_t on_body(char *ptr, size_t size, size_t n, void *ud)
{
    struct railway_client *c = ud;
    /* Returning less than given makes curl fail the transfer with CURLE_WRITE_ERROR. */
    return buf_append(&c->body, ptr, size * n) ? size * n : 0;
}

static size_t on_header(char *ptr, size_t size, size_t n, void *ud)
{
    struct railway_client *c = ud;
    size_t len = size * n;
    char line[256];
    if (len >= sizeof(line))
        return len;
    memcpy(line, ptr, len);
    line[len] = '\0';
    char *colon = strchr(line, ':');
    if (!colon)
        return len;
    *colon = '\0';
    const char *v = colon + 1;
    while (*v == ' ')
        v++;
    long long num = strtoll(v, NULL, 10);
    if (strcasecmp(line, "x-ratelimit-remaining") == 0)
        c->hdr_remaining = (long)num;
    else if (strcasecmp(line, "x-ratelimit-limit") == 0)
        c->hdr_limit = (long)num;
    else if (strcasecmp(line, "x-ratelimit-reset") == 0)
        c->hdr_reset = num;
    else if (strcasecmp(line, "retry-after") == 0)
        c->hdr_retry_after = num > 0 ? (int)(num > 3600 ? 3600 : num) : 1;
    return len;
}

static void set_result(struct railway_result *res, enum rh_status st, const char *code,
                       const char *msg)
{
    res->status = st;
    snprintf(res->code, sizeof(res->code), "%s", code);
    char *clean = redact_string(msg ? msg : "");
    snprintf(res->message, sizeof(res->message), "%s", clean);
    free(clean);
}

static bool contains(const char *hay, const char *needle)
{
    return strcasestr(hay, needle) != NULL;
}

/* A 200 answer with an "errors" array: Railway's business errors, classified by message. */
static void classify_errors(struct railway_result *res, const cJSON *errors)
{
    const cJSON *first = cJSON_GetArrayItem(errors, 0);
    const cJSON *m = cJSON_GetObjectItem(first, "message");
    const char *msg = cJSON_IsString(m) ? m->valuestring : "Railway returned an error";
    if (contains(msg, "not authorized") || contains(msg, "unauthorized") ||
        contains(msg, "forbidden") || contains(msg, "invalid token"))
        set_result(res, RH_PERMANENT, "railway_not_authorized", msg);
    else if (contains(msg, "not found"))
        set_result(res, RH_PERMANENT, "railway_not_found", msg);
    else if (contains(msg, "problem processing request") || contains(msg, "try again") ||
             contains(msg, "timeout") || contains(msg, "temporarily"))
        set_result(res, RH_TRANSIENT, "railway_problem", msg);
    else if (contains(msg, "rate limit"))
        set_result(res, RH_TRANSIENT, "railway_rate_limited", msg);
    else
        set_result(res, RH_PERMANENT, "railway_error", msg);
}

enum rh_status railway_call(struct railway_client *c, const char *op, const cJSON *variables,
                            int64_t max_wait_ms, struct railway_result *res)
{
    memset(res, 0, sizeof(*res));
    res->rate_limit = -1;
    res->rate_remaining = -1;
    struct curl_slist *headers = NULL;
    char *payload = NULL;
    cJSON *req = NULL;

    const char *doc = railway_op_document(op);
    if (!doc) {
        set_result(res, RH_PERMANENT, "railway_unknown_operation", op);
        goto out;
    }
    if (!c->auth_header) {
        set_result(res, RH_PERMANENT, "railway_not_configured",
                   "no RAILWAY_TOKEN or RAILWAY_PROJECT_TOKEN is configured");
        goto out;
    }
    int64_t retry_in = 0;
    int64_t waited = railway_limiter_acquire(c->lim, max_wait_ms, &retry_in);
    if (waited > 0)
        metrics_count("railhook_railway_limiter_wait_seconds_total", "", (double)waited / 1000.0);
    if (waited < 0) {
        set_result(res, RH_TRANSIENT, "railway_budget",
                   "Railway request budget exhausted for now; waiting for it to refill");
        res->retry_after_ms = (int)(retry_in > 86400000 ? 86400000 : retry_in);
        goto out;
    }

    req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "query", doc);
    cJSON_AddStringToObject(req, "operationName", op);
    cJSON_AddItemToObject(req, "variables",
                          variables ? cJSON_Duplicate(variables, 1) : cJSON_CreateObject());
    payload = cJSON_PrintUnformatted(req);

    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Accept: application/json");
    headers = curl_slist_append(headers, "User-Agent: railhook/" RAILHOOK_VERSION);
    headers = curl_slist_append(headers, c->auth_header);
    headers = curl_slist_append(headers, "Expect:");

    buf_reset(&c->body);
    c->hdr_remaining = -1;
    c->hdr_limit = -1;
    c->hdr_reset = 0;
    c->hdr_retry_after = 0;
    c->errbuf[0] = '\0';
    CURL *h = c->curl;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, c->timeout_s);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->timeout_s < 10 ? c->timeout_s : 10L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    c->requests++;
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->http_status);
    res->rate_limit = c->hdr_limit;
    res->rate_remaining = c->hdr_remaining;
    res->rate_reset = c->hdr_reset;
    railway_limiter_observe(c->lim, c->hdr_remaining, c->hdr_reset,
                            res->http_status == 429 ? (c->hdr_retry_after ? c->hdr_retry_after
                                                                          : 1)
                                                    : c->hdr_retry_after);
    if (c->body.len) {
        size_t n = c->body.len < EXCERPT_LEN ? c->body.len : EXCERPT_LEN;
        char *raw = xstrndup(c->body.data, n);
        res->excerpt = redact_string(raw);
        free(raw);
    }

    if (rc == CURLE_WRITE_ERROR && c->body.len >= RESPONSE_CAP - 65536) {
        set_result(res, RH_PERMANENT, "railway_response_too_large",
                   "Railway's answer exceeded the response cap");
        goto out;
    }
    if (rc != CURLE_OK) {
        char msg[CURL_ERROR_SIZE + 64];
        snprintf(msg, sizeof(msg), "%s", *c->errbuf ? c->errbuf : curl_easy_strerror(rc));
        set_result(res, RH_TRANSIENT,
                   rc == CURLE_OPERATION_TIMEDOUT ? "railway_timeout" : "railway_network", msg);
        goto out;
    }
    res->body = cJSON_ParseWithLength(c->body.data ? c->body.data : "", c->body.len);
    if (res->http_status == 429) {
        c->rate_limited++;
        set_result(res, RH_TRANSIENT, "railway_rate_limited", "Railway answered 429 Too Many Requests");
        res->retry_after_ms = (c->hdr_retry_after ? c->hdr_retry_after : 1) * 1000;
        goto out;
    }
    if (res->http_status >= 500) {
        char msg[64];
        snprintf(msg, sizeof(msg), "Railway answered HTTP %ld", res->http_status);
        set_result(res, RH_TRANSIENT, "railway_unavailable", msg);
        res->retry_after_ms = c->hdr_retry_after * 1000;
        goto out;
    }
    const cJSON *errors = cJSON_GetObjectItem(res->body, "errors");
    if (res->http_status == 400) {
        const cJSON *m = cJSON_GetObjectItem(cJSON_GetArrayItem(errors, 0), "message");
        char msg[600];
        snprintf(msg, sizeof(msg), "invalid request: %s",
                 cJSON_IsString(m) ? m->valuestring : "Railway answered HTTP 400");
        set_result(res, RH_PERMANENT, "railway_invalid_request", msg);
        goto out;
    }
    if (res->http_status == 401 || res->http_status == 403) {
        set_result(res, RH_PERMANENT, "railway_not_authorized", "Railway refused the token");
        goto out;
    }
    if (res->http_status != 200) {
        char msg[64];
        snprintf(msg, sizeof(msg), "Railway answered HTTP %ld", res->http_status);
        set_result(res, RH_PERMANENT, "railway_http_error", msg);
        goto out;
    }
    if (!cJSON_IsObject(res->body)) {
        set_result(res, RH_TRANSIENT, "railway_bad_response", "Railway's answer is not JSON");
        goto out;
    }
    if (cJSON_GetArraySize(errors) > 0) {
        classify_errors(res, errors);
        goto out;
    }
    res->data = cJSON_GetObjectItem(res->body, "data");
    if (!cJSON_IsObject(res->data)) {
        set_result(res, RH_TRANSIENT, "railway_bad_response", "Railway's answer has no data");
        goto out;
    }
    set_result(res, RH_OK, "ok", "");
out:
    if (payload) {
        /* A request went out: count it by operation and outcome. */
        char labels[128];
        snprintf(labels, sizeof(labels), "operation=\"%s\",outcome=\"%s\"", op,
                 res->status == RH_OK ? "ok" : res->status == RH_TRANSIENT ? "transient"
                                                                          : "permanent");
        metrics_count("railhook_railway_requests_total", labels, 1);
        if (res->http_status == 429) {
            snprintf(labels, sizeof(labels), "operation=\"%s\"", op);
            metrics_count("railhook_railway_rate_limited_total", labels, 1);
        }
    }
    curl_slist_free_all(headers);
    cJSON_free(payload);
    cJSON_Delete(req);
    return res->status;
}

void railway_result_free(struct railway_result *res)
{
    cJSON_Delete(res->body);
    free(res->excerpt);
    res->body = NULL;
    res->data = NULL;
    res->excerpt = NULL;
}

cJSON *railway_result_details(const char *op, const struct railway_result *res)
{
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "operation", op);
    cJSON_AddNumberToObject(d, "http_status", (double)res->http_status);
    cJSON_AddStringToObject(d, "code", res->code);
    if (*res->message)
        cJSON_AddStringToObject(d, "message", res->message);
    const cJSON *errors = cJSON_GetObjectItem(res->body, "errors");
    if (cJSON_IsArray(errors)) {
        /* Railway's own messages, redacted one by one. */
        cJSON *msgs = cJSON_AddArrayToObject(d, "errors");
        const cJSON *e;
        cJSON_ArrayForEach(e, errors)
        {
            const cJSON *m = cJSON_GetObjectItem(e, "message");
            if (!cJSON_IsString(m))
                continue;
            char *clean = redact_string(m->valuestring);
            cJSON_AddItemToArray(msgs, cJSON_CreateString(clean));
            free(clean);
        }
    }
    if (res->excerpt && res->status != RH_OK)
        cJSON_AddStringToObject(d, "response_excerpt", res->excerpt);
    if (res->retry_after_ms)
        cJSON_AddNumberToObject(d, "retry_after_ms", res->retry_after_ms);
    return d;
}
