/* POST /webhooks/supabase: Supabase database webhooks on the manifests table, authenticated
 * by a bearer secret and/or Standard Webhooks signatures, mapped to provision, update and
 * deprovision jobs. */
#include "handlers/handlers.h"
#include "handlers/intake.h"
#include "handlers/verify.h"
#include "handlers/webhook.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Answers 401 for a delivery whose credentials do not pass, counting and logging it. */
static void deny(const struct http_request *req, struct http_response *res, const char *method,
                 const char *reason)
{
    char msg[160];
    webhook_count("supabase", "rejected");
    log_warn("webhook rejected", LOG_STR("source", "supabase"), LOG_STR("reason", reason),
             LOG_STR("request_id", req->request_id));
    snprintf(msg, sizeof(msg), "authentication failed (%s)", reason);
    webhook_error(res, req, 401, "unauthorized", method, msg);
}

static bool swh_carried(const struct http_request *req)
{
    return req->header(req, "webhook-id") || req->header(req, "webhook-timestamp") ||
           req->header(req, "webhook-signature");
}

/* Every configured method whose headers the request carries must pass, and at least one must
 * have been carried: the bearer token is checked here, the signature (over the body) by the
 * handler. */
bool webhook_supabase_admit(struct app *app, const struct http_request *req,
                            struct http_response *res)
{
    const struct config *cfg = app->cfg;
    bool bearer_on = verify_secrets_configured(cfg->supabase_webhook_secret);
    bool swh_on = verify_secrets_configured(cfg->supabase_webhook_signing_secret);
    const char *auth = req->header(req, "Authorization");
    const char *reason = NULL;
    bool ok = false;

    if (!app->intake || (!bearer_on && !swh_on)) {
        webhook_error(res, req, 503, "not_configured", NULL,
                      "set SUPABASE_WEBHOOK_SECRET and/or SUPABASE_WEBHOOK_SIGNING_SECRET");
        goto out;
    }
    if (webhook_media_type(req->header(req, "Content-Type")) != WEBHOOK_MEDIA_JSON) {
        webhook_error(res, req, 415, "unsupported_media_type", "Content-Type",
                      "send application/json");
        goto out;
    }
    if (bearer_on && auth && verify_bearer(cfg->supabase_webhook_secret, auth, &reason) != RH_OK) {
        deny(req, res, "Authorization", reason);
        goto out;
    }
    if (!(bearer_on && auth) && !(swh_on && swh_carried(req))) {
        deny(req, res, bearer_on ? "Authorization" : "webhook-signature", "missing_credentials");
        goto out;
    }
    ok = true;
out:
    return ok;
}

void handle_webhook_supabase(struct app *app, struct http_request *req, struct http_response *res)
{
    const struct config *cfg = app->cfg;
    struct mapping_result mapped;
    cJSON *body = NULL;
    const char *reason = NULL;
    char delivery_id[320];
    bool swh_passed = false;

    mapping_result_init(&mapped);
    if (!webhook_supabase_admit(app, req, res))
        goto out;
    if (req->body_len == 0) {
        webhook_error(res, req, 400, "empty_body", "body", "the payload is empty");
        goto out;
    }
    struct verify_swh_input swh = {
        .id = req->header(req, "webhook-id"),
        .timestamp = req->header(req, "webhook-timestamp"),
        .signature = req->header(req, "webhook-signature"),
        .body = req->body,
        .len = req->body_len,
        .now_s = time_wall_ms() / 1000,
        .tolerance_s = VERIFY_SWH_TOLERANCE_S,
    };
    if (verify_secrets_configured(cfg->supabase_webhook_signing_secret) && swh_carried(req)) {
        if (verify_swh(cfg->supabase_webhook_signing_secret, &swh, &reason) != RH_OK) {
            deny(req, res, "webhook-signature", reason);
            goto out;
        }
        swh_passed = true;
    }

    if (webhook_parse_json(req, res, req->body, req->body_len, &body) != RH_OK)
        goto out;
    if (swh_passed)
        snprintf(delivery_id, sizeof(delivery_id), "%s", swh.id);
    else
        mapping_supabase_delivery_id(body, req->body, req->body_len, delivery_id,
                                     sizeof(delivery_id));
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(body, "type");
    mapping_supabase(intake_rules(app->intake), body, delivery_id, &mapped);
    webhook_deliver(app, req, res, "supabase", delivery_id,
                    cJSON_IsString(type) ? type->valuestring : "", &mapped);
out:
    mapping_result_free(&mapped);
    cJSON_Delete(body);
}
