/* The application context handlers share, the route table and its dispatcher. */
#ifndef RAILHOOK_HANDLERS_H
#define RAILHOOK_HANDLERS_H

#include "handlers/http.h"
#include "store/store.h"
#include "util/config.h"

struct intake;
struct queue;
struct longpoll;
struct railway_limiter;
struct events;

struct app {
    const struct config *cfg;
    struct store *store;
    struct intake *intake;     /* webhook delivery writer (handlers/intake.h) */
    struct queue *queue;       /* the job queue; may be NULL (WORKERS=0, tests) */
    struct longpoll *longpoll; /* GET /jobs/{id}?wait=N; may be NULL (then no waiting) */

    /* The workers' Railway limiter (GET /railway/budget); NULL without workers. */
    struct railway_limiter *limiter;
    struct events *events; /* GET /events (handlers/events.h); may be NULL (then 503) */
};

typedef void (*handler_fn)(struct app *app, struct http_request *req, struct http_response *res);
/* A check on the request line and headers alone, run before any body byte is read: true to go
 * on, false with the refusal written into res. */
typedef bool (*admit_fn)(struct app *app, const struct http_request *req,
                         struct http_response *res);

struct route {
    const char *method;
    const char *pattern; /* literal path; "{}" matches one non-empty segment */
    handler_fn fn;
    bool takes_body; /* reads a request body (up to MAX_BODY_BYTES); the others refuse one */
    admit_fn admit;  /* may be NULL */
};

/* Finds the route for req (filling req->params and req->route) and runs it; answers 404 for
 * an unknown path and 405 (with Allow) for a known path with another method. */
void handlers_dispatch(struct app *app, struct http_request *req, struct http_response *res);
/* Shutdown: resumes every parked request (long polls, deliveries waiting for their commit) so
 * that each is answered, and any parked later is resumed at once. */
void handlers_release_parked(struct app *app);
/* Decides from req's request line and headers (no body yet; has_body says whether one
 * follows) whether its body may be read. True with *body_cap the most bytes the route reads
 * (0: it takes none). False with the answer in res, to send before any body byte is read: a
 * body on a route that takes none (413), or on an unknown path or method (404, 405), or the
 * route's admit check refused (401, 403, 415, 503). Sets req->route. */
bool handlers_admit(struct app *app, struct http_request *req, bool has_body, size_t *body_cap,
                    struct http_response *res);

/* Health endpoints (handlers/health.c). */
void handle_healthz(struct app *app, struct http_request *req, struct http_response *res);
void handle_readyz(struct app *app, struct http_request *req, struct http_response *res);

/* Status API (handlers/jobs_api.c). */
void handle_job_get(struct app *app, struct http_request *req, struct http_response *res);
void handle_jobs_list(struct app *app, struct http_request *req, struct http_response *res);
void handle_services_list(struct app *app, struct http_request *req, struct http_response *res);
void handle_service_get(struct app *app, struct http_request *req, struct http_response *res);
/* GET /notifications: recent notifications, newest first, with deliveries and attempts
 * (?limit=1..200, default 50; ?job=<uuid>). */
void handle_notifications_list(struct app *app, struct http_request *req,
                               struct http_response *res);
/* The status page's summaries (handlers/jobs_api.c): jobs by state, the Railway budget. */
void handle_job_counts(struct app *app, struct http_request *req, struct http_response *res);
void handle_railway_budget(struct app *app, struct http_request *req, struct http_response *res);
/* The live event stream (handlers/events_api.c). */
void handle_events(struct app *app, struct http_request *req, struct http_response *res);
void handle_events_ticket(struct app *app, struct http_request *req, struct http_response *res);
/* Admin API (handlers/jobs_admin.c). */
void handle_job_create(struct app *app, struct http_request *req, struct http_response *res);
void handle_job_retry(struct app *app, struct http_request *req, struct http_response *res);
void handle_job_cancel(struct app *app, struct http_request *req, struct http_response *res);
/* Reconciliation passes (handlers/reconcile_api.c). */
void handle_reconcile_passes(struct app *app, struct http_request *req, struct http_response *res);
/* Prometheus metrics (handlers/metrics.c). */
void handle_metrics(struct app *app, struct http_request *req, struct http_response *res);
/* The status page (handlers/page.c). */
void handle_status_page(struct app *app, struct http_request *req, struct http_response *res);
/* Webhook intake (handlers/webhook_github.c, handlers/webhook_supabase.c). */
void handle_webhook_github(struct app *app, struct http_request *req, struct http_response *res);
void handle_webhook_supabase(struct app *app, struct http_request *req, struct http_response *res);
/* What the headers of a delivery decide before its body is read, and the handlers check first:
 * the endpoint is configured (else 503), the media type is one it reads (415), and credentials
 * that need no body are carried and right (401): GitHub's signature header is present and well
 * formed; a Supabase bearer token, when carried, matches, and some credential is carried. */
bool webhook_github_admit(struct app *app, const struct http_request *req,
                          struct http_response *res);
bool webhook_supabase_admit(struct app *app, const struct http_request *req,
                            struct http_response *res);

#endif
