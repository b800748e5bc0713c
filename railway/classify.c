/* The classification of Railway's answers (HTTP status, headers, body) into success,
 * transient or permanent failure: pure functions, no I/O, so the fuzzer can drive them. */
#include "railway/railway.h"

#include "util/redact.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define EXCERPT_LEN     2000
#define HEADER_LINE_MAX 256
#define EDGE_WAIT_S     60 /* an edge block without Retry-After: back off this long */

#define RATE_WINDOW_S 3600 /* Railway's rate window: no pause is ever longer */

void railway_answer_init(struct railway_answer *a, int64_t now_ms)
{
    memset(a, 0, sizeof(*a));
    a->now_ms = now_ms;
    a->rate_limit = -1;
    a->rate_remaining = -1;
}

static const char *const reset_format_names[] = {
    [RAILWAY_RESET_NONE] = "none",
    [RAILWAY_RESET_EPOCH_S] = "epoch_seconds",
    [RAILWAY_RESET_EPOCH_MS] = "epoch_milliseconds",
    [RAILWAY_RESET_DELTA_S] = "seconds_until_reset",
    [RAILWAY_RESET_HTTP_DATE] = "http_date",
    [RAILWAY_RESET_ISO_DATE] = "iso8601_date",
    [RAILWAY_RESET_UNREADABLE] = "unreadable",
};

const char *railway_reset_format_name(enum railway_reset_format f)
{
    return (unsigned)f <= RAILWAY_RESET_UNREADABLE ? reset_format_names[f] : "unreadable";
}

/* "Wed, 21 Oct 2026 07:28:00 GMT" (RFC 9110's IMF-fixdate) to epoch ms; -1 when it is not. */
static int64_t http_date_ms(const char *v)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char mon[4] = "";
    struct tm tm = {0};
    int n = 0;
    if (sscanf(v, "%*3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", &tm.tm_mday, mon,
               &tm.tm_year, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
        n == 0 || strlen(mon) != 3)
        return -1;
    const char *m = strcasestr(months, mon);
    if (!m || (m - months) % 3)
        return -1;
    tm.tm_mon = (int)((m - months) / 3);
    tm.tm_year -= 1900;
    return (int64_t)timegm(&tm) * 1000;
}

/* "2026-10-21T07:28:00Z", "2026-10-21T07:28:00.250+02:00" (ISO 8601 / RFC 3339) to epoch
 * ms; -1 when it is not. */
static int64_t iso_date_ms(const char *v)
{
    struct tm tm = {0};
    int n = 0;
    if (sscanf(v, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int64_t ms = (int64_t)timegm(&tm) * 1000;
    const char *p = v + n;
    if (*p == '.' || *p == ',') {
        int64_t scale = 100;
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
            ms += (*p - '0') * scale;
    }
    int oh = 0, om = 0;
    if (*p == 'Z' || *p == 'z' || *p == '\0')
        return ms;
    if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &oh, &om) == 2)
        return ms - (*p == '+' ? 1 : -1) * ((int64_t)oh * 3600 + om * 60) * 1000;
    return -1;
}

/* Milliseconds from now_ms until at_ms, within [0, the rate window]. */
static int64_t until_ms(int64_t at_ms, int64_t now_ms)
{
    int64_t d = at_ms - now_ms;
    return d < 0 ? 0 : d > RATE_WINDOW_S * 1000LL ? RATE_WINDOW_S * 1000LL : d;
}

static void read_reset(struct railway_answer *a, const char *v)
{
    snprintf(a->reset_raw, sizeof(a->reset_raw), "%s", v);
    char *end = NULL;
    double num = strtod(v, &end);
    int64_t at = -1;
    /* Beyond 1e15 (year 33658 in epoch ms) a number is no time at all, and would not fit. */
    if (end != v && (*end == '\0' || *end == ' ') && num >= 0 && num <= 1e15) {
        if (num > 1e12) {
            a->reset_format = RAILWAY_RESET_EPOCH_MS;
            at = (int64_t)num;
        } else if (num > 1e9) {
            a->reset_format = RAILWAY_RESET_EPOCH_S;
            at = (int64_t)(num * 1000);
        } else {
            a->reset_format = RAILWAY_RESET_DELTA_S;
            at = a->now_ms + (int64_t)(num > RATE_WINDOW_S ? RATE_WINDOW_S : num) * 1000;
        }
    } else if ((at = http_date_ms(v)) >= 0) {
        a->reset_format = RAILWAY_RESET_HTTP_DATE;
    } else if ((at = iso_date_ms(v)) >= 0) {
        a->reset_format = RAILWAY_RESET_ISO_DATE;
    } else {
        a->reset_format = RAILWAY_RESET_UNREADABLE;
    }
    a->rate_reset_in_ms = at >= 0 ? until_ms(at, a->now_ms) : 0;
}

/* Retry-After: delay seconds or an HTTP date, as 1..3600 seconds; junk still means "wait a
 * little". */
static void read_retry_after(struct railway_answer *a, const char *v)
{
    char *end = NULL;
    long long num = strtoll(v, &end, 10);
    int64_t ms;
    if (end != v && (*end == '\0' || *end == ' ' || *end == '.'))
        ms = (num > RATE_WINDOW_S ? RATE_WINDOW_S : num) * 1000LL;
    else if ((ms = http_date_ms(v)) >= 0)
        ms = until_ms(ms, a->now_ms);
    else
        ms = 1000;
    int64_t s = (ms + 999) / 1000;
    a->retry_after_s = (int)(s < 1 ? 1 : s > RATE_WINDOW_S ? RATE_WINDOW_S : s);
}

void railway_answer_header(struct railway_answer *a, const char *line, size_t len)
{
    char copy[HEADER_LINE_MAX];
    /* The headers railhook reads are short; a longer line is none of them. */
    if (len >= sizeof(copy))
        return;
    memcpy(copy, line, len);
    copy[len] = '\0';
    char *colon = strchr(copy, ':');
    if (!colon)
        return;
    *colon = '\0';
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t vl = strlen(v);
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        v[--vl] = '\0';
    if (strcasecmp(copy, "x-ratelimit-remaining") == 0)
        a->rate_remaining = strtol(v, NULL, 10);
    else if (strcasecmp(copy, "x-ratelimit-limit") == 0)
        a->rate_limit = strtol(v, NULL, 10);
    else if (strcasecmp(copy, "x-ratelimit-reset") == 0)
        read_reset(a, v);
    else if (strcasecmp(copy, "retry-after") == 0)
        read_retry_after(a, v);
}

static const char *const error_names[] = {
    [RAILWAY_ERR_NONE] = "ok",
    [RAILWAY_ERR_INVALID_REQUEST] = "railway_invalid_request",
    [RAILWAY_ERR_NOT_AUTHORIZED] = "railway_not_authorized",
    [RAILWAY_ERR_NOT_FOUND] = "railway_not_found",
    [RAILWAY_ERR_PROBLEM] = "railway_problem",
    [RAILWAY_ERR_RATE_LIMITED] = "railway_rate_limited",
    [RAILWAY_ERR_ERROR] = "railway_error",
    [RAILWAY_ERR_UNAVAILABLE] = "railway_unavailable",
    [RAILWAY_ERR_HTTP_ERROR] = "railway_http_error",
    [RAILWAY_ERR_BAD_RESPONSE] = "railway_bad_response",
    [RAILWAY_ERR_NOT_CONFIGURED] = "railway_not_configured",
    [RAILWAY_ERR_BUDGET] = "railway_budget",
    [RAILWAY_ERR_RESPONSE_TOO_LARGE] = "railway_response_too_large",
    [RAILWAY_ERR_TIMEOUT] = "railway_timeout",
    [RAILWAY_ERR_NETWORK] = "railway_network",
    [RAILWAY_ERR_EDGE] = "railway_edge",
};

_Static_assert(sizeof(error_names) / sizeof(error_names[0]) == RAILWAY_ERR_EDGE + 1,
               "every railway_error has a name");

const char *railway_error_name(enum railway_error e)
{
    size_t n = sizeof(error_names) / sizeof(error_names[0]);
    return (size_t)e < n && error_names[e] ? error_names[e] : "railway_error";
}

static void set_result(struct railway_result *res, enum rh_status st, enum railway_error error,
                       const char *msg)
{
    res->status = st;
    res->error = error;
    /* Redact before truncating, so a secret cut at the edge cannot leave its head behind. */
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
        set_result(res, RH_PERMANENT, RAILWAY_ERR_NOT_AUTHORIZED, msg);
    else if (contains(msg, "not found"))
        set_result(res, RH_PERMANENT, RAILWAY_ERR_NOT_FOUND, msg);
    else if (contains(msg, "problem processing request") || contains(msg, "try again") ||
             contains(msg, "timeout") || contains(msg, "temporarily"))
        set_result(res, RH_TRANSIENT, RAILWAY_ERR_PROBLEM, msg);
    else if (contains(msg, "rate limit"))
        set_result(res, RH_TRANSIENT, RAILWAY_ERR_RATE_LIMITED, msg);
    else
        set_result(res, RH_PERMANENT, RAILWAY_ERR_ERROR, msg);
}

void railway_result_excerpt(struct railway_result *res, const char *body, size_t len)
{
    free(res->excerpt);
    res->excerpt = NULL;
    if (!body || !len)
        return;
    /* The whole body is redacted first: a secret across the cut is still found. */
    char *raw = xstrndup(body, len);
    char *clean = redact_string(raw);
    free(raw);
    if (strlen(clean) > EXCERPT_LEN)
        clean[EXCERPT_LEN] = '\0';
    res->excerpt = clean;
}

enum rh_status railway_classify(const struct railway_answer *a, struct railway_result *res)
{
    memset(res, 0, sizeof(*res));
    res->http_status = a->http_status;
    res->rate_limit = a->rate_limit;
    res->rate_remaining = a->rate_remaining;
    res->rate_reset_in_ms = a->rate_reset_in_ms;
    const char *text = a->body && a->body_len ? a->body : "";
    res->body = cJSON_ParseWithLength(text, a->body_len);

    if (a->http_status == 429) {
        set_result(res, RH_TRANSIENT, RAILWAY_ERR_RATE_LIMITED,
                   "Railway answered 429 Too Many Requests");
        res->retry_after_ms = (a->retry_after_s ? a->retry_after_s : 1) * 1000;
        goto out;
    }
    if (a->http_status >= 500) {
        char msg[64];
        snprintf(msg, sizeof(msg), "Railway answered HTTP %ld", a->http_status);
        set_result(res, RH_TRANSIENT, RAILWAY_ERR_UNAVAILABLE, msg);
        res->retry_after_ms = a->retry_after_s * 1000;
        goto out;
    }
    const cJSON *errors = cJSON_GetObjectItem(res->body, "errors");
    if (a->http_status == 400) {
        const cJSON *m = cJSON_GetObjectItem(cJSON_GetArrayItem(errors, 0), "message");
        char *msg = xasprintf("invalid request: %s",
                              cJSON_IsString(m) ? m->valuestring : "Railway answered HTTP 400");
        set_result(res, RH_PERMANENT, RAILWAY_ERR_INVALID_REQUEST, msg);
        free(msg);
        goto out;
    }
    if ((a->http_status == 401 || a->http_status == 403) && !cJSON_IsObject(res->body)) {
        /* Not GraphQL: a page from Railway's edge (Cloudflare's "Access denied", a block for
         * too many requests), never Railway judging the token. */
        char msg[96];
        snprintf(msg, sizeof(msg),
                 "Railway's edge answered HTTP %ld with a page that is not GraphQL JSON",
                 a->http_status);
        set_result(res, RH_TRANSIENT, RAILWAY_ERR_EDGE, msg);
        res->retry_after_ms = (a->retry_after_s ? a->retry_after_s : EDGE_WAIT_S) * 1000;
        goto out;
    }
    if (a->http_status == 401 || a->http_status == 403) {
        set_result(res, RH_PERMANENT, RAILWAY_ERR_NOT_AUTHORIZED, "Railway refused the token");
        goto out;
    }
    if (a->http_status != 200) {
        char msg[64];
        snprintf(msg, sizeof(msg), "Railway answered HTTP %ld", a->http_status);
        set_result(res, RH_PERMANENT, RAILWAY_ERR_HTTP_ERROR, msg);
        goto out;
    }
    if (!cJSON_IsObject(res->body)) {
        set_result(res, RH_TRANSIENT, RAILWAY_ERR_BAD_RESPONSE, "Railway's answer is not JSON");
        goto out;
    }
    if (cJSON_GetArraySize(errors) > 0) {
        classify_errors(res, errors);
        goto out;
    }
    res->data = cJSON_GetObjectItem(res->body, "data");
    if (!cJSON_IsObject(res->data)) {
        res->data = NULL;
        set_result(res, RH_TRANSIENT, RAILWAY_ERR_BAD_RESPONSE, "Railway's answer has no data");
        goto out;
    }
    set_result(res, RH_OK, RAILWAY_ERR_NONE, "");
out:
    if (res->status != RH_OK)
        railway_result_excerpt(res, a->body, a->body_len);
    return res->status;
}

void railway_result_fail(struct railway_result *res, enum rh_status st, enum railway_error error,
                         const char *msg)
{
    set_result(res, st, error, msg);
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
    cJSON_AddStringToObject(d, "code", railway_error_name(res->error));
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
