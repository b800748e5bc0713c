/* The status API's shared pieces: bearer-token authorization and CORS. */
#ifndef RAILHOOK_HANDLERS_API_H
#define RAILHOOK_HANDLERS_API_H

#include "handlers/handlers.h"

enum api_access { API_READ, API_ADMIN };

/* Checks the request's bearer token for the access level; on refusal writes 401 or 403 into
 * res and returns false. API_AUTH=none lets everything through. */
bool api_authorize(struct app *app, const struct http_request *req, struct http_response *res,
                   enum api_access need);
/* The admit check of admin routes: api_authorize(API_ADMIN) on the headers, so a request
 * without an admin token is refused before its body is read. */
bool api_admit_admin(struct app *app, const struct http_request *req, struct http_response *res);
/* False when the configuration leaves the API open without API_AUTH=none (err says why). */
bool api_auth_configured(const struct config *cfg, char *err, size_t errlen);
/* A pooled database connection (store_conn_release() it), or NULL after answering 503
 * database_unavailable with Retry-After when none can be had. */
PGconn *api_conn_acquire(struct app *app, const struct http_request *req,
                         struct http_response *res);
/* Answers 503 database_unavailable with Retry-After and a fixed message; the store's own
 * words (err) go to the log with the request id, never to the caller. */
void api_database_error(const struct http_request *req, struct http_response *res, const char *err);
/* Adds CORS headers when the request's Origin is listed in CORS_ORIGINS. */
void api_cors(struct app *app, const struct http_request *req, struct http_response *res);

#endif
