/* GET /healthz (the process is alive) and GET /readyz (database reachable, schema current). */
#include "handlers/api.h"
#include "handlers/handlers.h"
#include "util/log.h"

void handle_healthz(struct app *app, struct http_request *req, struct http_response *res)
{
    (void)app;
    (void)req;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "status", "ok");
    cJSON_AddStringToObject(root, "version", RAILHOOK_VERSION);
    http_response_json(res, 200, root);
    cJSON_Delete(root);
}

void handle_readyz(struct app *app, struct http_request *req, struct http_response *res)
{
    char err[256] = "";
    PGconn *c = api_conn_acquire(app, req, res);
    if (!c)
        return;
    int pending = store_migrations_pending(c, err, sizeof(err));
    store_conn_release(app->store, c);
    if (pending < 0) {
        /* The database's own words go to the log, never to the caller. */
        log_warn("readiness check failed", LOG_STR("error", err),
                 LOG_STR("request_id", req->request_id));
        http_response_header(res, "Retry-After", "5");
        http_response_error(res, req, 503, "database_unavailable",
                            "the schema version could not be read");
        return;
    }
    if (pending > 0) {
        http_response_error(res, req, 503, "migrations_pending",
                            "%d migration(s) not applied; run `railhook migrate`", pending);
        return;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "status", "ready");
    cJSON_AddNumberToObject(root, "schema_version", store_migrations_latest());
    http_response_json(res, 200, root);
    cJSON_Delete(root);
}
