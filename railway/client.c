/* The Railway GraphQL client over libcurl (railway/classify.c classifies its answers).
 *
 * Threading: a client (and its CURL handle) belongs to one thread; only the limiter is
 * shared, and the format X-RateLimit-Reset was last read in (an atomic, so the log says it
 * once per change, not per request). curl_global_init() is main's job, before threads
 * start. */
#include "railway/railway.h"

#include "util/log.h"
#include "util/metrics.h"
#include "util/util.h"

#include <assert.h>
#include <stdatomic.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESPONSE_CAP (4u << 20)

struct railway_client {
    CURL *curl;
    struct railway_limiter *lim;
    char *url;
    char *token;  /* the token railway_token_pick() chose, or NULL */
    bool bearer;  /* sent as Authorization: Bearer, else as Project-Access-Token */
    bool swapped; /* bearer is the other header than the token's variable says */
    char *auth_header;
    long timeout_s;
    long requests;
    long rate_limited;
    struct buf body;
    struct railway_answer answer; /* the answer being received (headers, then body) */
    char errbuf[CURL_ERROR_SIZE];
};

const char *railway_token_pick(const struct config *cfg, const char **var)
{
    const struct {
        const char *name, *value;
    } order[] = {
        {"RAILWAY_API_TOKEN", cfg->railway_api_token},
        {"RAILWAY_TOKEN", cfg->railway_token},
        {"RAILWAY_PROJECT_TOKEN", cfg->railway_project_token},
    };
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        if (order[i].value && *order[i].value) {
            if (var)
                *var = order[i].name;
            return order[i].value;
        }
    if (var)
        *var = NULL;
    return NULL;
}

bool railway_client_has_token(const struct config *cfg)
{
    return railway_token_pick(cfg, NULL) != NULL;
}

static void auth_header_set(struct railway_client *c)
{
    free(c->auth_header);
    c->auth_header = NULL;
    if (c->token)
        c->auth_header = c->bearer ? xasprintf("Authorization: Bearer %s", c->token)
                                   : xasprintf("Project-Access-Token: %s", c->token);
}

bool railway_client_bearer(const struct railway_client *c)
{
    return c->bearer;
}

void railway_client_token_swap(struct railway_client *c)
{
    c->bearer = !c->bearer;
    c->swapped = !c->swapped;
    auth_header_set(c);
}

struct railway_client *railway_client_new(const struct config *cfg, struct railway_limiter *lim)
{
    struct railway_client *c = xcalloc(1, sizeof(*c));
    c->curl = curl_easy_init();
    if (!c->curl)
        abort();
    c->lim = lim;
    c->url = xstrdup(cfg->railway_api_url);
    const char *var = NULL;
    const char *token = railway_token_pick(cfg, &var);
    if (token) {
        c->token = xstrdup(token);
        c->bearer = strcmp(var, "RAILWAY_PROJECT_TOKEN") != 0;
        if (cfg->railway_token_swapped)
            c->bearer = !c->bearer;
        c->swapped = cfg->railway_token_swapped;
        auth_header_set(c);
    }
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
    free(c->token);
    free(c);
}

long railway_client_requests(const struct railway_client *c)
{
    return c->requests;
}

static _Atomic int last_reset_format = RAILWAY_RESET_NONE;

/* Logs how X-RateLimit-Reset was read when its format differs from the last one seen. */
static void reset_format_note(const struct railway_answer *a)
{
    if (a->reset_format == RAILWAY_RESET_NONE)
        return;
    int prev = atomic_exchange(&last_reset_format, (int)a->reset_format);
    if (prev == (int)a->reset_format)
        return;
    log_info("Railway X-RateLimit-Reset read",
             LOG_STR("format", railway_reset_format_name(a->reset_format)),
             LOG_STR("value", a->reset_raw), LOG_INT("reset_in_s", a->rate_reset_in_ms / 1000));
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
    railway_answer_header(&c->answer, ptr, size * n);
    return size * n;
}

/* Sends text (op's document, or an expansion of it) with variables; railway_call()'s body. */
static enum rh_status call_text(struct railway_client *c, enum railway_op op, const char *text,
                                const cJSON *variables, int64_t max_wait_ms,
                                struct railway_result *res)
{
    memset(res, 0, sizeof(*res));
    res->rate_limit = -1;
    res->rate_remaining = -1;
    struct curl_slist *headers = NULL;
    char *payload = NULL;
    cJSON *req = NULL;

    assert((unsigned)op < RAILWAY_OP_COUNT);
    const struct railway_op_document *doc = &railway_ops[op];
    if (!c->auth_header) {
        railway_result_fail(res, RH_PERMANENT, RAILWAY_ERR_NOT_CONFIGURED,
                            "no RAILWAY_API_TOKEN, RAILWAY_TOKEN or RAILWAY_PROJECT_TOKEN is "
                            "configured");
        goto out;
    }
    int64_t retry_in = 0;
    int64_t waited = railway_limiter_acquire(c->lim, max_wait_ms, &retry_in);
    if (waited > 0)
        metrics_count("railhook_railway_limiter_wait_seconds_total", "", (double)waited / 1000.0);
    struct railway_budget budget;
    railway_limiter_budget(c->lim, &budget);
    metrics_set("railhook_railway_budget_remaining", "", (double)budget.remaining);
    if (waited < 0) {
        railway_result_fail(res, RH_TRANSIENT, RAILWAY_ERR_BUDGET,
                            "Railway request budget exhausted for now; waiting for it to refill");
        res->retry_after_ms = (int)(retry_in > 86400000 ? 86400000 : retry_in);
        goto out;
    }

    req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "query", text);
    cJSON_AddStringToObject(req, "operationName", doc->name);
    cJSON_AddItemToObject(req, "variables",
                          variables ? cJSON_Duplicate(variables, 1) : cJSON_CreateObject());
    payload = cJSON_PrintUnformatted(req);

    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Accept: application/json");
    headers = curl_slist_append(headers, "User-Agent: railhook/" RAILHOOK_VERSION);
    headers = curl_slist_append(headers, c->auth_header);
    headers = curl_slist_append(headers, "Expect:");

    buf_reset(&c->body);
    railway_answer_init(&c->answer, time_wall_ms());
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
    struct railway_answer *a = &c->answer;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->http_status);
    a->body = c->body.data;
    a->body_len = c->body.len;
    reset_format_note(a);
    railway_limiter_observe(c->lim, a->rate_remaining, a->rate_reset_in_ms,
                            a->http_status == 429 ? (a->retry_after_s ? a->retry_after_s : 1)
                                                  : a->retry_after_s);
    if (rc == CURLE_OK) {
        if (a->http_status == 429)
            c->rate_limited++;
        railway_classify(a, res);
        goto out;
    }
    res->http_status = a->http_status;
    res->rate_limit = a->rate_limit;
    res->rate_remaining = a->rate_remaining;
    res->rate_reset_in_ms = a->rate_reset_in_ms;
    railway_result_excerpt(res, a->body, a->body_len);
    if (rc == CURLE_WRITE_ERROR && c->body.len >= RESPONSE_CAP - 65536) {
        railway_result_fail(res, RH_PERMANENT, RAILWAY_ERR_RESPONSE_TOO_LARGE,
                            "Railway's answer exceeded the response cap");
        goto out;
    }
    char msg[CURL_ERROR_SIZE + 64];
    snprintf(msg, sizeof(msg), "%s", *c->errbuf ? c->errbuf : curl_easy_strerror(rc));
    railway_result_fail(res, RH_TRANSIENT,
                        rc == CURLE_OPERATION_TIMEDOUT ? RAILWAY_ERR_TIMEOUT : RAILWAY_ERR_NETWORK,
                        msg);
out:
    if (payload) {
        /* A request went out: count it by operation and outcome. */
        char labels[128];
        snprintf(labels, sizeof(labels), "operation=\"%s\",outcome=\"%s\"", railway_ops[op].name,
                 res->status == RH_OK          ? "ok"
                 : res->status == RH_TRANSIENT ? "transient"
                                               : "permanent");
        metrics_count("railhook_railway_requests_total", labels, 1);
        if (res->http_status == 429) {
            snprintf(labels, sizeof(labels), "operation=\"%s\"", railway_ops[op].name);
            metrics_count("railhook_railway_rate_limited_total", labels, 1);
        }
    }
    curl_slist_free_all(headers);
    cJSON_free(payload);
    cJSON_Delete(req);
    return res->status;
}

enum rh_status railway_call(struct railway_client *c, enum railway_op op, const cJSON *variables,
                            int64_t max_wait_ms, struct railway_result *res)
{
    assert((unsigned)op < RAILWAY_OP_COUNT);
    return call_text(c, op, railway_ops[op].text, variables, max_wait_ms, res);
}

enum rh_status railway_call_expanded(struct railway_client *c, enum railway_op op, int n,
                                     const cJSON *variables, int64_t max_wait_ms,
                                     struct railway_result *res)
{
    char *text = railway_op_expand(op, n);
    if (!text) {
        memset(res, 0, sizeof(*res));
        res->rate_limit = -1;
        res->rate_remaining = -1;
        railway_result_fail(res, RH_PERMANENT, RAILWAY_ERR_INVALID_REQUEST,
                            "the operation cannot be expanded");
        return res->status;
    }
    enum rh_status st = call_text(c, op, text, variables, max_wait_ms, res);
    free(text);
    return st;
}

/* One look at whether Railway accepts c's token in its current header. */
static enum rh_status token_probe(struct railway_client *c, const struct config *cfg,
                                  struct railway_result *res)
{
    cJSON *vars = NULL;
    enum railway_op op = RAILWAY_OP_CHECK_PROJECT_TOKEN;
    if (c->bearer && cfg->railway_project_id && *cfg->railway_project_id) {
        op = RAILWAY_OP_CHECK_PROJECT;
        vars = cJSON_CreateObject();
        cJSON_AddStringToObject(vars, "id", cfg->railway_project_id);
    } else if (c->bearer) {
        op = RAILWAY_OP_CHECK_ME;
    }
    enum rh_status st = railway_call(c, op, vars, 10000, res);
    cJSON_Delete(vars);
    return st;
}

enum rh_status railway_token_detect(struct railway_client *c, const struct config *cfg,
                                    bool *swapped, char *msg, size_t msglen)
{
    const char *var = NULL;
    railway_token_pick(cfg, &var);
    struct railway_result first, second;
    memset(&second, 0, sizeof(second));
    *swapped = c->swapped;
    enum rh_status st = token_probe(c, cfg, &first);
    if (st == RH_OK) {
        snprintf(msg, msglen, "%s is accepted as %s", var,
                 c->bearer ? "Authorization: Bearer" : "Project-Access-Token");
        goto out;
    }
    if (first.error != RAILWAY_ERR_NOT_AUTHORIZED) {
        snprintf(msg, msglen, "could not tell the kind of %s: %s", var, first.message);
        goto out;
    }
    railway_client_token_swap(c);
    st = token_probe(c, cfg, &second);
    if (st == RH_OK) {
        *swapped = c->swapped;
        snprintf(msg, msglen,
                 "%s is refused as %s but accepted as %s: it is %s, and railhook sends it so", var,
                 c->bearer ? "Project-Access-Token" : "Authorization: Bearer",
                 c->bearer ? "Authorization: Bearer" : "Project-Access-Token",
                 c->bearer ? "an account or workspace token" : "a project token");
        goto out;
    }
    railway_client_token_swap(c);
    if (second.error == RAILWAY_ERR_NOT_AUTHORIZED) {
        st = RH_PERMANENT;
        snprintf(msg, msglen, "Railway refuses %s both as Bearer and as Project-Access-Token: %s",
                 var, first.message);
    } else {
        st = RH_TRANSIENT;
        snprintf(msg, msglen, "could not tell the kind of %s: %s", var, second.message);
    }
out:
    railway_result_free(&first);
    railway_result_free(&second);
    return st;
}
