/* Admin endpoints: POST /jobs (enqueue by hand), POST /jobs/{id}/retry, POST /jobs/{id}/cancel. */
#include "flows/flows.h"
#include "handlers/api.h"
#include "handlers/intake.h"
#include "handlers/jobcache.h"
#include "handlers/longpoll.h"
#include "handlers/mapping.h"
#include "handlers/webhook.h"
#include "store/jobs.h"
#include "store/services.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void state_change(struct app *app, struct http_request *req, struct http_response *res,
                         bool retry)
{
    if (!api_authorize(app, req, res, API_ADMIN))
        return;
    const char *id = req->params[0];
    if (!uuid_valid(id)) {
        http_response_error(res, req, 400, "invalid_id", "id must be a job uuid");
        return;
    }
    PGconn *c = api_conn_acquire(app, req, res);
    if (!c)
        return;
    char state[16] = "", err[256] = "";
    enum rh_status st =
        retry ? store_job_retry(c, id, app->cfg->job_max_attempts, state, err, sizeof(err))
              : store_job_cancel(c, id, state, err, sizeof(err));
    store_conn_release(app->store, c);
    /* A retried job is no longer finished: readers here must not get the cached document
     * even before the database's notification arrives. */
    if (st == RH_OK)
        jobcache_invalidate(longpoll_jobcache(app->longpoll), id);
    if (st == RH_NOT_FOUND) {
        http_response_error(res, req, 404, "not_found", "no job with id %s", id);
    } else if (st == RH_CONFLICT) {
        cJSON *root = cJSON_CreateObject();
        cJSON *e = cJSON_AddObjectToObject(root, "error");
        cJSON_AddStringToObject(e, "code", "conflict");
        char msg[128];
        snprintf(msg, sizeof(msg), "a %s job cannot be %s", state,
                 retry ? "retried (only failed or cancelled ones)" : "cancelled");
        cJSON_AddStringToObject(e, "message", msg);
        cJSON_AddStringToObject(e, "state", state);
        cJSON_AddStringToObject(e, "request_id", req->request_id);
        http_response_json(res, 409, root);
        cJSON_Delete(root);
    } else if (st != RH_OK) {
        api_database_error(req, res, err);
    } else {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "id", id);
        cJSON_AddStringToObject(root, "state", state);
        bool pending_cancel = !retry && strcmp(state, "cancelled") != 0;
        if (!retry)
            cJSON_AddBoolToObject(root, "cancel_requested", pending_cancel);
        /* A running job stops at its next step boundary: accepted, not yet done. */
        http_response_json(res, pending_cancel ? 202 : 200, root);
        cJSON_Delete(root);
    }
}

void handle_job_retry(struct app *app, struct http_request *req, struct http_response *res)
{
    state_change(app, req, res, true);
}

void handle_job_cancel(struct app *app, struct http_request *req, struct http_response *res)
{
    state_change(app, req, res, false);
}

/* A job of a kind made from a service: service_name and an optional commit_sha; manifest_id
 * (may be NULL) is the manifest the tracked service belongs to. */
static void map_service(const struct flows_kind *kind, const cJSON *body, const char *delivery_id,
                        const char *manifest_id, struct mapping_result *out)
{
    const cJSON *svc = cJSON_GetObjectItemCaseSensitive(body, "service_name");
    const cJSON *sha = cJSON_GetObjectItemCaseSensitive(body, "commit_sha");
    if (!cJSON_IsString(svc) || !*svc->valuestring || strlen(svc->valuestring) > 128) {
        out->outcome = MAPPING_INVALID;
        snprintf(out->field, sizeof(out->field), "service_name");
        snprintf(out->message, sizeof(out->message),
                 "service_name is required for a %s (at most 128 characters)", kind->name);
        return;
    }
    if (sha && (!cJSON_IsString(sha) || strlen(sha->valuestring) > 64)) {
        out->outcome = MAPPING_INVALID;
        snprintf(out->field, sizeof(out->field), "commit_sha");
        snprintf(out->message, sizeof(out->message), "commit_sha must be a commit hash");
        return;
    }
    cJSON *payload = cJSON_CreateObject();
    cJSON_AddStringToObject(payload, "service_name", svc->valuestring);
    /* The manifest's jobs run one at a time, in order: this one among them. */
    if (manifest_id)
        cJSON_AddStringToObject(payload, "manifest_id", manifest_id);
    if (sha)
        cJSON_AddStringToObject(payload, "commit_sha", sha->valuestring);
    cJSON_AddStringToObject(payload, "source", "api");
    cJSON_AddStringToObject(payload, "delivery_id", delivery_id);
    out->outcome = MAPPING_JOBS;
    out->jobs = xcalloc(1, sizeof(*out->jobs));
    out->njobs = 1;
    out->jobs[0].kind = kind->name;
    out->jobs[0].payload = payload;
    out->jobs[0].dedupe_key = xasprintf("api:%s:%s:%s", delivery_id, kind->name, svc->valuestring);
    out->jobs[0].service_name = xstrdup(svc->valuestring);
}

/* Whether railhook tracks the service named name, answering 422 (or 503) when it does not
 * (or cannot tell); *manifest_id (free()) is its manifest. */
static enum rh_status tracked_service(struct app *app, const struct http_request *req,
                                      struct http_response *res, const char *name,
                                      char **manifest_id)
{
    PGconn *c = api_conn_acquire(app, req, res);
    if (!c)
        return RH_UNAVAILABLE;
    bool tracked = false;
    char err[256] = "";
    enum rh_status st = store_service_tracked(c, name, &tracked, manifest_id, err, sizeof(err));
    store_conn_release(app->store, c);
    if (st != RH_OK) {
        http_response_header(res, "Retry-After", "5");
        http_response_error(res, req, 503, "database_unavailable", "database is not reachable");
        return st;
    }
    if (!tracked) {
        char *msg = xasprintf("railhook tracks no service named %.128s: it acts only on the "
                              "services it created",
                              name);
        webhook_error(res, req, 422, "service_not_tracked", "service_name", msg);
        free(msg);
        return RH_NOT_FOUND;
    }
    return RH_OK;
}

void handle_job_create(struct app *app, struct http_request *req, struct http_response *res)
{
    char *message = NULL;
    cJSON *body = NULL;
    struct mapping_result mapped;
    mapping_result_init(&mapped);
    if (!api_authorize(app, req, res, API_ADMIN))
        goto out;
    if (webhook_media_type(req->header(req, "Content-Type")) != WEBHOOK_MEDIA_JSON) {
        webhook_error(res, req, 415, "unsupported_media_type", NULL,
                      "send the job as application/json");
        goto out;
    }
    const char *key = req->header(req, "Idempotency-Key");
    char delivery_id[160];
    if (key) {
        if (!*key || strlen(key) > 128) {
            webhook_error(res, req, 400, "invalid_header", "Idempotency-Key",
                          "Idempotency-Key must be 1 to 128 characters");
            goto out;
        }
        snprintf(delivery_id, sizeof(delivery_id), "%s", key);
    } else {
        uuid_v4(delivery_id);
    }
    if (webhook_parse_json(req, res, req->body, req->body_len, &body) != RH_OK)
        goto out;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(body, "kind");
    const struct flows_kind *kind =
        cJSON_IsObject(body) && cJSON_IsString(name) ? flows_kind_find(name->valuestring) : NULL;
    if (!kind || !kind->api_create) {
        char *kinds = flows_kind_names(true);
        message = xasprintf("kind must be one of: %s", kinds);
        free(kinds);
        webhook_error(res, req, 422, "invalid_field", "kind", message);
        goto out;
    }
    if (kind->input == FLOWS_INPUT_SERVICE) {
        /* Only a service railhook tracks: never one it did not create. */
        const cJSON *svc = cJSON_GetObjectItemCaseSensitive(body, "service_name");
        char *manifest_id = NULL;
        if (cJSON_IsString(svc) &&
            tracked_service(app, req, res, svc->valuestring, &manifest_id) != RH_OK)
            goto out;
        map_service(kind, body, delivery_id, manifest_id, &mapped);
        free(manifest_id);
    } else {
        /* The same validation as a webhook delivery of that row. */
        const cJSON *old = kind->input == FLOWS_INPUT_ROW_CHANGE
                               ? cJSON_GetObjectItemCaseSensitive(body, "old_record")
                               : NULL;
        mapping_row_job(intake_rules(app->intake), kind,
                        cJSON_GetObjectItemCaseSensitive(body, "record"), old, "record", "api",
                        delivery_id, &mapped);
    }
    webhook_deliver(app, req, res, "api", delivery_id, kind->name, &mapped);
out:
    free(message);
    mapping_result_free(&mapped);
    cJSON_Delete(body);
}
