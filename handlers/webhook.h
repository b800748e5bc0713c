/* What the webhook endpoints share: media types, header tokens, JSON parsing with 400s,
 * error bodies that name a field, and handing a mapped delivery to the intake and answering
 * from its outcome. */
#ifndef RAILHOOK_HANDLERS_WEBHOOK_H
#define RAILHOOK_HANDLERS_WEBHOOK_H

#include "handlers/handlers.h"
#include "handlers/mapping.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#define WEBHOOK_MAX_TOKEN 128 /* longest event name or delivery id header accepted */

enum webhook_media { WEBHOOK_MEDIA_OTHER, WEBHOOK_MEDIA_JSON, WEBHOOK_MEDIA_FORM };

/* Logs a warning for each webhook endpoint that will answer 503 not_configured, and for
 * Standard Webhooks secrets that cannot be decoded. Call once at start. */
void webhook_config_warn(const struct config *cfg);

/* Classifies a Content-Type value, ignoring case, blanks and parameters ("; charset=utf-8");
 * NULL or anything unknown is WEBHOOK_MEDIA_OTHER. */
enum webhook_media webhook_media_type(const char *content_type);

/* True when a header value is a plain token: 1..WEBHOOK_MAX_TOKEN bytes of letters, digits
 * and "-_.:" (what event names and delivery ids look like). */
bool webhook_token_ok(const char *value);

/* Sets status and {"error":{"code","message","field","request_id"}} (field may be NULL). */
void webhook_error(struct http_response *res, const struct http_request *req, int status,
                   const char *code, const char *field, const char *message);

/* Parses text[0..len) as UTF-8 JSON into *out (cJSON_Delete it). On failure answers 400 and
 * returns RH_INVALID: invalid UTF-8 or JSON, not an object, or an object anywhere that holds
 * a key twice (the error's field names it). Nesting is bounded by cJSON's limit, length by
 * len. */
enum rh_status webhook_parse_json(const struct http_request *req, struct http_response *res,
                                  const char *text, size_t len, cJSON **out);

/* Counts a delivery in railhook_webhook_deliveries_total (outcome: accepted, duplicate,
 * ignored, rejected, unavailable). */
void webhook_count(const char *source, const char *outcome);

/* Answers a mapped delivery: IGNORED 200 {"job_ids":[],"ignored":reason}, INVALID 422 naming
 * the field, JOBS and FANOUT through the intake: the request parks (res->status 0) and, resumed
 * after the commit, answers 202 {"job_ids":[...]}, 200 with "duplicate":true and the earlier job
 * ids for a redelivery, or 503 with Retry-After when the database is unreachable. Takes over
 * mapped. Logs the outcome once. */
void webhook_deliver(struct app *app, struct http_request *req, struct http_response *res,
                     const char *source, const char *delivery_id, const char *event,
                     struct mapping_result *mapped);

/* Looks for an object, at any depth of j, that holds the same key twice (cJSON reads the first,
 * PostgreSQL's jsonb keeps the last, so such a document means two things). True with path set
 * to where the repeated key is ("record.id", "a[2].b"; cut to cap bytes) when there is one. */
bool webhook_json_duplicate_key(const cJSON *j, char *path, size_t cap);

#endif
