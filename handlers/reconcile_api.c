/* GET /reconcile: the newest reconciliation passes (read token), from reconcile_passes. Runs on
 * libmicrohttpd's threads with a pooled connection per request, like the rest of the API. */
#include "handlers/api.h"
#include "handlers/handlers.h"
#include "store/reconcile.h"
#include "util/util.h"

#include <stdlib.h>

#define PASSES_DEFAULT 10
#define PASSES_MAX     100

void handle_reconcile_passes(struct app *app, struct http_request *req, struct http_response *res)
{
    if (!api_authorize(app, req, res, API_READ))
        return;
    const char *limit = req->query(req, "limit");
    int64_t n = PASSES_DEFAULT;
    if (limit && !parse_i64(limit, 1, PASSES_MAX, &n)) {
        http_response_error(res, req, 400, "invalid_limit",
                            "limit must be an integer from 1 to 100");
        return;
    }
    PGconn *c = api_conn_acquire(app, req, res);
    if (!c)
        return;
    char *json = NULL, err[256] = "";
    enum rh_status st = store_reconcile_passes_json(c, (int)n, &json, err, sizeof(err));
    store_conn_release(app->store, c);
    if (st != RH_OK) {
        api_database_error(req, res, err);
        return;
    }
    res->status = 200;
    res->content_type = "application/json";
    buf_reset(&res->body);
    buf_puts(&res->body, json);
    free(json);
}
