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

void handle_webhook_supabase(struct app *app, struct http_request *req, struct http_response *res)
{
    const struct config *cfg = app->cfg;
    struct mapping_result mapped;
    cJSON *body = NULL;
    const char *reason = NULL;
    const char *method = NULL;
    char delivery_id[320];
    char msg[160];
    bool bearer_on = verify_secrets_configured(cfg->supabase_webhook_secret);
    bool swh_on = verify_secrets_configured(cfg->supabase_webhook_signing_secret);
    bool swh_passed = false;
    int passed = 0;

    mapping_result_init(&mapped);
    if (!app->intake || (!bearer_on && !swh_on)) {
        webhook_error(res, req, 503, "not_configured", NULL,
                      "set SUPABASE_WEBHOOK_SECRET and/or SUPABASE_WEBHOOK_SIGNING_SECRET");
        goto out;
    }
    if (req->body_len == 0) {
        webhook_error(res, req, 400, "empty_body", "body", "the payload is empty");
        goto out;
    }
    if (webhook_media_type(req->header(req, "Content-Type")) != WEBHOOK_MEDIA_JSON) {
        webhook_error(res, req, 415, "unsupported_media_type", "Content-Type",
                      "send application/json");
        goto out;
    }

    /* Every configured method whose headers the request carries must pass, and at least one
     * must have been carried. */
    const char *auth = req->header(req, "Authorization");
    struct verify_swh_input swh = {
        .id = req->header(req, "webhook-id"),
        .timestamp = req->header(req, "webhook-timestamp"),
        .signature = req->header(req, "webhook-signature"),
        .body = req->body,
        .len = req->body_len,
        .now_s = time_wall_ms() / 1000,
        .tolerance_s = VERIFY_SWH_TOLERANCE_S,
    };
    if (bearer_on && auth) {
        method = "Authorization";
        if (verify_bearer(cfg->supabase_webhook_secret, auth, &reason) != RH_OK)
            goto denied;
        passed++;
    }
    if (swh_on && (swh.id || swh.timestamp || swh.signature)) {
        method = "webhook-signature";
        if (verify_swh(cfg->supabase_webhook_signing_secret, &swh, &reason) != RH_OK)
            goto denied;
        passed++;
        swh_passed = true;
    }
    if (passed == 0) {
        method = bearer_on ? "Authorization" : "webhook-signature";
        reason = "missing_credentials";
        goto denied;
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
    goto out;

denied:
    webhook_count("supabase", "rejected");
    log_warn("webhook rejected", LOG_STR("source", "supabase"), LOG_STR("reason", reason),
             LOG_STR("request_id", req->request_id));
    snprintf(msg, sizeof(msg), "authentication failed (%s)", reason);
    webhook_error(res, req, 401, "unauthorized", method, msg);
out:
    mapping_result_free(&mapped);
    cJSON_Delete(body);
}
