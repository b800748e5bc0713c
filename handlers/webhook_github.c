/* POST /webhooks/github: GitHub push deliveries (JSON or form-encoded), verified with
 * X-Hub-Signature-256, mapped to one redeploy job per active service. */
#include "handlers/form.h"
#include "handlers/handlers.h"
#include "handlers/intake.h"
#include "handlers/verify.h"
#include "handlers/webhook.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Answers 401 for a delivery whose signature does not pass, counting and logging it. */
static void deny(const struct http_request *req, struct http_response *res, const char *reason)
{
    char msg[160];
    webhook_count("github", "rejected");
    log_warn("webhook rejected", LOG_STR("source", "github"), LOG_STR("reason", reason),
             LOG_STR("request_id", req->request_id));
    snprintf(msg, sizeof(msg), "X-Hub-Signature-256 does not verify (%s)", reason);
    webhook_error(res, req, 401, "invalid_signature", "X-Hub-Signature-256", msg);
}

bool webhook_github_admit(struct app *app, const struct http_request *req,
                          struct http_response *res)
{
    unsigned char mac[VERIFY_MAC_LEN];
    const char *sig = req->header(req, "X-Hub-Signature-256");
    bool ok = false;

    if (!app->intake || !verify_secrets_configured(app->cfg->github_webhook_secret)) {
        webhook_error(res, req, 503, "not_configured", NULL,
                      "GITHUB_WEBHOOK_SECRET is not set: unsigned deliveries are never accepted");
        goto out;
    }
    if (webhook_media_type(req->header(req, "Content-Type")) == WEBHOOK_MEDIA_OTHER) {
        webhook_error(res, req, 415, "unsupported_media_type", "Content-Type",
                      "send application/json or application/x-www-form-urlencoded");
        goto out;
    }
    if (!sig || !*sig) {
        deny(req, res, "missing_signature");
        goto out;
    }
    if (verify_github_header_parse(sig, mac) != RH_OK) {
        deny(req, res, "malformed_signature");
        goto out;
    }
    ok = true;
out:
    return ok;
}

void handle_webhook_github(struct app *app, struct http_request *req, struct http_response *res)
{
    const struct config *cfg = app->cfg;
    struct mapping_result mapped;
    cJSON *body = NULL;
    char *form = NULL;
    const char *text = req->body;
    size_t len = req->body_len;
    const char *reason = NULL;
    char delivery_id[2 * WEBHOOK_MAX_TOKEN + 2];

    mapping_result_init(&mapped);
    if (!webhook_github_admit(app, req, res))
        goto out;
    if (req->body_len == 0) {
        webhook_error(res, req, 400, "empty_body", "body", "the payload is empty");
        goto out;
    }
    enum webhook_media media = webhook_media_type(req->header(req, "Content-Type"));
    if (verify_github(cfg->github_webhook_secret, req->header(req, "X-Hub-Signature-256"),
                      req->body, req->body_len, &reason) != RH_OK) {
        deny(req, res, reason);
        goto out;
    }
    const char *event = req->header(req, "X-GitHub-Event");
    const char *delivery = req->header(req, "X-GitHub-Delivery");
    const char *hook = req->header(req, "X-GitHub-Hook-ID");
    if (!webhook_token_ok(event)) {
        webhook_error(res, req, 400, "missing_header", "X-GitHub-Event",
                      "X-GitHub-Event is missing or malformed");
        goto out;
    }
    if (!webhook_token_ok(delivery)) {
        webhook_error(res, req, 400, "missing_header", "X-GitHub-Delivery",
                      "X-GitHub-Delivery is missing or malformed");
        goto out;
    }
    if (hook && !webhook_token_ok(hook)) {
        webhook_error(res, req, 400, "invalid_header", "X-GitHub-Hook-ID",
                      "X-GitHub-Hook-ID is malformed");
        goto out;
    }
    /* A delivery id is unique per hook; the same push reaches each hook with its own id. */
    snprintf(delivery_id, sizeof(delivery_id), "%s:%s", hook ? hook : "-", delivery);

    if (media == WEBHOOK_MEDIA_FORM) {
        enum rh_status st = form_field_get(req->body, req->body_len, "payload",
                                           (size_t)cfg->max_body_bytes, &form, &len);
        if (st != RH_OK) {
            webhook_error(res, req, 400, "invalid_form", "payload",
                          st == RH_NOT_FOUND ? "the form has no payload field"
                                             : "the form body is malformed");
            goto out;
        }
        text = form;
    }
    if (webhook_parse_json(req, res, text, len, &body) != RH_OK)
        goto out;
    mapping_github(intake_rules(app->intake), event, body, delivery_id, &mapped);
    webhook_deliver(app, req, res, "github", delivery_id, event, &mapped);
out:
    mapping_result_free(&mapped);
    cJSON_Delete(body);
    free(form);
}
