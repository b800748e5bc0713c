/* GET /events (Server-Sent Events of job changes) and POST /events/ticket. */
#include "flows/flows.h"
#include "handlers/api.h"
#include "handlers/events.h"
#include "handlers/ticket.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void handle_events_ticket(struct app *app, struct http_request *req, struct http_response *res)
{
    if (!api_authorize(app, req, res, API_READ))
        return;
    char ticket[TICKET_LEN];
    ticket_issue(app->cfg, (int64_t)time(NULL), ticket);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "ticket", ticket);
    cJSON_AddNumberToObject(o, "expires_in", TICKET_TTL_S);
    http_response_json(res, 201, o);
    cJSON_Delete(o);
}

/* The read token, or a valid ticket in the query (which never reaches a log). */
static bool events_authorize(struct app *app, struct http_request *req, struct http_response *res)
{
    const char *ticket = req->query(req, "ticket");
    if (strcmp(app->cfg->api_auth, "none") == 0)
        return true;
    if (req->header(req, "Authorization") || !ticket || !*ticket)
        return api_authorize(app, req, res, API_READ);
    if (ticket_valid(app->cfg, ticket, (int64_t)time(NULL)))
        return true;
    http_response_error(res, req, 401, "invalid_ticket",
                        "the ticket is not valid or has expired; get a new one from "
                        "POST /events/ticket");
    return false;
}

/* Copies an optional query value into dst (cap bytes); false when it does not fit. */
static bool query_copy(struct http_request *req, const char *name, char *dst, size_t cap)
{
    const char *v = req->query(req, name);
    if (!v || !*v)
        return true;
    if (strlen(v) >= cap)
        return false;
    memcpy(dst, v, strlen(v) + 1);
    return true;
}

/* Reads the filters and the resume point; false with a 400 naming the field in res. */
static bool events_params(struct http_request *req, struct http_response *res,
                          struct events_filter *f, struct events_from *from)
{
    static const char *const states[] = {"queued", "running", "succeeded", "failed", "cancelled"};
    memset(f, 0, sizeof(*f));
    memset(from, 0, sizeof(*from));
    if (!query_copy(req, "job", f->job, sizeof(f->job)) || (*f->job && !uuid_valid(f->job))) {
        http_response_error(res, req, 400, "invalid_job", "job must be a job id (a UUID)");
        return false;
    }
    if (!query_copy(req, "kind", f->kind, sizeof(f->kind)) ||
        (*f->kind && !flows_kind_find(f->kind))) {
        char *kinds = flows_kind_names(false);
        http_response_error(res, req, 400, "invalid_kind", "kind must be one of: %s", kinds);
        free(kinds);
        return false;
    }
    bool state_ok = query_copy(req, "state", f->state, sizeof(f->state));
    bool known = !*f->state;
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]) && !known; i++)
        known = strcmp(f->state, states[i]) == 0;
    if (!state_ok || !known) {
        http_response_error(res, req, 400, "invalid_state",
                            "state must be queued, running, succeeded, failed or cancelled");
        return false;
    }
    /* EventSource sends the header on reconnecting, with the URL it first used: it wins. */
    const char *name = "Last-Event-ID";
    const char *v = req->header(req, name);
    if (!v || !*v) {
        name = "last_event_id";
        v = req->query(req, name);
    }
    if (v && *v) {
        if (v[0] < '0' || v[0] > '9' || !parse_i64(v, 0, INT64_MAX, &from->last_id)) {
            http_response_error(res, req, 400, "invalid_last_event_id",
                                "%s must be an event id (a non-negative integer)", name);
            return false;
        }
        from->resume = true;
    }
    return true;
}

void handle_events(struct app *app, struct http_request *req, struct http_response *res)
{
    struct events_filter f;
    struct events_from from;
    if (!events_authorize(app, req, res) || !events_params(req, res, &f, &from))
        return;
    if (!app->events) {
        http_response_error(res, req, 503, "unavailable", "the event stream is not running");
        return;
    }
    char err[160] = "";
    struct http_stream stream;
    enum rh_status st = events_stream_open(app->events, &f, &from, req->transport, req->suspend,
                                           req->resume, &stream, err, sizeof(err));
    if (st == RH_CONFLICT) {
        http_response_header(res, "Retry-After", "5");
        http_response_error(res, req, 503, "too_many_streams", "%s", err);
        return;
    }
    if (st != RH_OK) {
        http_response_header(res, "Retry-After", "2");
        http_response_error(res, req, 503, "unavailable", "%s", err);
        return;
    }
    res->status = 200;
    res->content_type = "text/event-stream";
    http_response_header(res, "X-Accel-Buffering", "no");
    res->stream = stream;
}
