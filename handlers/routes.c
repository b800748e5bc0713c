/* The route table: every endpoint railhook serves, matched by method and path pattern. */
#include "handlers/api.h"
#include "handlers/handlers.h"

#include <stdlib.h>
#include <string.h>

static const struct route routes[] = {
    {"GET", "/", handle_status_page},
    {"GET", "/healthz", handle_healthz},
    {"GET", "/readyz", handle_readyz},
    {"GET", "/metrics", handle_metrics},
    {"GET", "/jobs", handle_jobs_list},
    {"POST", "/jobs", handle_job_create},
    {"GET", "/jobs/{}", handle_job_get},
    {"POST", "/jobs/{}/retry", handle_job_retry},
    {"POST", "/jobs/{}/cancel", handle_job_cancel},
    {"GET", "/services", handle_services_list},
    {"GET", "/services/{}", handle_service_get},
    {"POST", "/webhooks/github", handle_webhook_github},
    {"POST", "/webhooks/supabase", handle_webhook_supabase},
};

/* Matches path against pattern, capturing "{}" segments into req->params (pointing into
 * scratch, a copy of path whose separators are overwritten). */
static bool match(const char *pattern, const char *path, struct http_request *req, char *scratch)
{
    const char *p = pattern;
    const char *s = path;
    char *w = scratch;
    int n = 0;
    memcpy(scratch, path, strlen(path) + 1);
    while (*p && *s) {
        if (p[0] == '{' && p[1] == '}') {
            size_t len = strcspn(s, "/");
            if (len == 0 || n == HTTP_MAX_PARAMS)
                return false;
            req->params[n++] = w + (s - path);
            w[(s - path) + (long)len] = '\0';
            s += len;
            p += 2;
            continue;
        }
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    if (*p || *s)
        return false;
    req->nparams = n;
    return true;
}

void handlers_dispatch(struct app *app, struct http_request *req, struct http_response *res)
{
    size_t len = strlen(req->path);
    char *scratch = xmalloc(len + 1);
    const struct route *path_match = NULL;
    char allow[128] = "";
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const struct route *r = &routes[i];
        if (!match(r->pattern, req->path, req, scratch))
            continue;
        if (strcmp(r->method, req->method) == 0 ||
            (strcmp(req->method, "HEAD") == 0 && strcmp(r->method, "GET") == 0)) {
            req->route = r->pattern;
            r->fn(app, req, res);
            api_cors(app, req, res);
            /* Params point into scratch, which the handler no longer needs. */
            req->nparams = 0;
            free(scratch);
            return;
        }
        path_match = r;
        if (strlen(allow) + strlen(r->method) + 3 < sizeof(allow)) {
            if (*allow)
                strncat(allow, ", ", sizeof(allow) - strlen(allow) - 1);
            strncat(allow, r->method, sizeof(allow) - strlen(allow) - 1);
        }
    }
    free(scratch);
    req->nparams = 0;
    if (path_match && strcmp(req->method, "OPTIONS") == 0) {
        /* CORS preflight: the headers say whether the origin may call. */
        req->route = path_match->pattern;
        res->status = 204;
        http_response_header(res, "Allow", allow);
        api_cors(app, req, res);
        http_response_header(res, "Access-Control-Allow-Methods", allow);
        http_response_header(res, "Access-Control-Allow-Headers",
                             "Authorization, Content-Type, If-None-Match, Idempotency-Key");
        http_response_header(res, "Access-Control-Max-Age", "600");
        return;
    }
    if (path_match) {
        req->route = path_match->pattern;
        http_response_header(res, "Allow", allow);
        http_response_error(res, req, 405, "method_not_allowed", "%s is not allowed on %s",
                            req->method, req->path);
        return;
    }
    req->route = "unmatched";
    http_response_error(res, req, 404, "not_found", "no such endpoint: %s", req->path);
}
