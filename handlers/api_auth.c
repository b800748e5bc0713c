/* Bearer tokens for the status API (API_TOKEN for reads, API_ADMIN_TOKEN for writes), CORS, and
 * the API's database-failure answer. */
#include "handlers/api.h"

#include "util/log.h"

#include <string.h>
#include <strings.h>

/* True when token equals one entry of the comma-separated list. Every entry is compared, each
 * through the hashes of both sides, so the time taken tells nothing of the entries' lengths
 * or of which one matched. */
static bool in_list(const char *list, const char *token, size_t tlen)
{
    bool found = false;
    const char *cur = list;
    const char *s;
    size_t n;
    while (secret_list_next(&cur, &s, &n))
        found |= ct_token_equal(s, n, token, tlen);
    return found;
}

bool api_auth_configured(const struct config *cfg, char *err, size_t errlen)
{
    if (strcmp(cfg->api_auth, "none") == 0)
        return true;
    if (*cfg->api_token || *cfg->api_admin_token)
        return true;
    snprintf(err, errlen,
             "API_TOKEN and API_ADMIN_TOKEN are empty: set a token, or API_AUTH=none "
             "to serve the API without authentication");
    return false;
}

bool api_authorize(struct app *app, const struct http_request *req, struct http_response *res,
                   enum api_access need)
{
    const struct config *cfg = app->cfg;
    if (strcmp(cfg->api_auth, "none") == 0)
        return true;
    const char *h = req->header(req, "Authorization");
    const char *token = NULL;
    size_t tlen = 0;
    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        token = h + 7;
        while (*token == ' ' || *token == '\t')
            token++;
        tlen = strlen(token);
        while (tlen && (token[tlen - 1] == ' ' || token[tlen - 1] == '\t'))
            tlen--;
    }
    bool admin = tlen && in_list(cfg->api_admin_token, token, tlen);
    bool reader = admin || (tlen && in_list(cfg->api_token, token, tlen));
    if (!reader) {
        http_response_header(res, "WWW-Authenticate", "Bearer realm=\"railhook\"");
        http_response_error(res, req, 401, "unauthorized",
                            token ? "the bearer token is not valid"
                                  : "an Authorization: Bearer token is required");
        return false;
    }
    if (need == API_ADMIN && !admin) {
        http_response_error(res, req, 403, "forbidden", "this endpoint needs an admin token");
        return false;
    }
    return true;
}

bool api_admit_admin(struct app *app, const struct http_request *req, struct http_response *res)
{
    return api_authorize(app, req, res, API_ADMIN);
}

void api_cors(struct app *app, const struct http_request *req, struct http_response *res)
{
    const char *origin = req->header(req, "Origin");
    if (!origin || !*app->cfg->cors_origins ||
        !in_list(app->cfg->cors_origins, origin, strlen(origin)))
        return;
    http_response_header(res, "Access-Control-Allow-Origin", origin);
    http_response_header(res, "Vary", "Origin");
    http_response_header(res, "Access-Control-Expose-Headers", "ETag, X-Request-Id, Retry-After");
}

PGconn *api_conn_acquire(struct app *app, const struct http_request *req, struct http_response *res)
{
    PGconn *c = store_conn_acquire(app->store);
    if (!c) {
        http_response_header(res, "Retry-After", "5");
        http_response_error(res, req, 503, "database_unavailable", "database is not reachable");
    }
    return c;
}

void api_database_error(const struct http_request *req, struct http_response *res, const char *err)
{
    log_warn("database request failed", LOG_STR("error", err),
             LOG_STR("request_id", req->request_id));
    http_response_header(res, "Retry-After", "5");
    http_response_error(res, req, 503, "database_unavailable", "database is not reachable");
}
