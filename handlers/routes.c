/* The route table: every endpoint railhook serves, matched by method and path pattern. */
#include "handlers/api.h"
#include "handlers/handlers.h"
#include "handlers/intake.h"
#include "handlers/longpoll.h"

#include <stdlib.h>
#include <string.h>

static const struct route routes[] = {
    {"GET", "/", handle_status_page, false, NULL},
    {"GET", "/healthz", handle_healthz, false, NULL},
    {"GET", "/readyz", handle_readyz, false, NULL},
    {"GET", "/metrics", handle_metrics, false, NULL},
    {"GET", "/jobs", handle_jobs_list, false, NULL},
    {"POST", "/jobs", handle_job_create, true, api_admit_admin},
    {"GET", "/jobs/counts", handle_job_counts, false, NULL}, /* before /jobs/{} */
    {"GET", "/jobs/{}", handle_job_get, false, NULL},
    {"POST", "/jobs/{}/retry", handle_job_retry, false, api_admit_admin},
    {"POST", "/jobs/{}/cancel", handle_job_cancel, false, api_admit_admin},
    {"GET", "/events", handle_events, false, NULL},
    {"POST", "/events/ticket", handle_events_ticket, false, NULL},
    {"GET", "/services", handle_services_list, false, NULL},
    {"GET", "/reconcile", handle_reconcile_passes, false, NULL},
    {"GET", "/services/{}", handle_service_get, false, NULL},
    {"GET", "/notifications", handle_notifications_list, false, NULL},
    {"GET", "/railway/budget", handle_railway_budget, false, NULL},
    {"POST", "/webhooks/github", handle_webhook_github, true, webhook_github_admit},
    {"POST", "/webhooks/supabase", handle_webhook_supabase, true, webhook_supabase_admit},
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

/* The route for req's method and path (HEAD is served as GET), with req->params pointing into
 * scratch (strlen(path) + 1 bytes); NULL when there is none. Then *other is a route of that
 * path under another method (or NULL) and allow lists the path's methods. */
static const struct route *route_find(struct http_request *req, char *scratch,
                                      const struct route **other, char *allow, size_t allowlen)
{
    *other = NULL;
    allow[0] = '\0';
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const struct route *r = &routes[i];
        if (!match(r->pattern, req->path, req, scratch))
            continue;
        if (strcmp(r->method, req->method) == 0 ||
            (strcmp(req->method, "HEAD") == 0 && strcmp(r->method, "GET") == 0))
            return r;
        *other = r;
        if (strlen(allow) + strlen(r->method) + 3 < allowlen) {
            if (*allow)
                strncat(allow, ", ", allowlen - strlen(allow) - 1);
            strncat(allow, r->method, allowlen - strlen(allow) - 1);
        }
    }
    return NULL;
}

void handlers_dispatch(struct app *app, struct http_request *req, struct http_response *res)
{
    char *scratch = xmalloc(strlen(req->path) + 1);
    const struct route *path_match = NULL;
    char allow[128];
    const struct route *r = route_find(req, scratch, &path_match, allow, sizeof(allow));
    if (r) {
        req->route = r->pattern;
        if (req->resumed && req->hold && req->hold->answer)
            req->hold->answer(app, req, res, req->hold->data);
        else
            r->fn(app, req, res);
        api_cors(app, req, res);
    }
    /* Params point into scratch, which no handler needs any more. */
    req->nparams = 0;
    free(scratch);
    if (r)
        return;
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

void handlers_release_parked(struct app *app)
{
    intake_release_all(app->intake);
    longpoll_release_all(app->longpoll);
}

bool handlers_admit(struct app *app, struct http_request *req, bool has_body, size_t *body_cap,
                    struct http_response *res)
{
    char *scratch = xmalloc(strlen(req->path) + 1);
    const struct route *other = NULL;
    char allow[128];
    const struct route *r = route_find(req, scratch, &other, allow, sizeof(allow));
    bool ok = false;

    *body_cap = 0;
    req->route = r ? r->pattern : other ? other->pattern : "unmatched";
    if (!r && has_body) {
        /* Nothing here reads a body: answer now and leave it unread. */
        handlers_dispatch(app, req, res);
        goto out;
    }
    if (r && has_body && !r->takes_body) {
        http_response_error(res, req, 413, "body_not_allowed", "%s %s takes no request body",
                            r->method, r->pattern);
        api_cors(app, req, res);
        goto out;
    }
    if (r && r->admit && !r->admit(app, req, res)) {
        api_cors(app, req, res);
        goto out;
    }
    *body_cap = r && r->takes_body ? (size_t)app->cfg->max_body_bytes : 0;
    ok = true;
out:
    req->nparams = 0;
    free(scratch);
    return ok;
}
