/* The application context handlers share, the route table and its dispatcher. */
#ifndef RAILHOOK_HANDLERS_H
#define RAILHOOK_HANDLERS_H

#include "handlers/http.h"
#include "store/store.h"
#include "util/config.h"

struct intake;
struct queue;
struct longpoll;

struct app {
    const struct config *cfg;
    struct store *store;
    struct intake *intake;     /* webhook delivery writer (handlers/intake.h) */
    struct queue *queue;       /* the job queue; may be NULL (WORKERS=0, tests) */
    struct longpoll *longpoll; /* GET /jobs/{id}?wait=N; may be NULL (then no waiting) */
};

typedef void (*handler_fn)(struct app *app, struct http_request *req, struct http_response *res);

struct route {
    const char *method;
    const char *pattern; /* literal path; "{}" matches one non-empty segment */
    handler_fn fn;
};

/* Finds the route for req (filling req->params and req->route) and runs it; answers 404 for
 * an unknown path and 405 (with Allow) for a known path with another method. */
void handlers_dispatch(struct app *app, struct http_request *req, struct http_response *res);

/* Health endpoints (handlers/health.c). */
void handle_healthz(struct app *app, struct http_request *req, struct http_response *res);
void handle_readyz(struct app *app, struct http_request *req, struct http_response *res);

/* Status API (handlers/jobs_api.c). */
void handle_job_get(struct app *app, struct http_request *req, struct http_response *res);
void handle_jobs_list(struct app *app, struct http_request *req, struct http_response *res);
void handle_services_list(struct app *app, struct http_request *req, struct http_response *res);
void handle_service_get(struct app *app, struct http_request *req, struct http_response *res);
/* Admin API (handlers/jobs_admin.c). */
void handle_job_create(struct app *app, struct http_request *req, struct http_response *res);
void handle_job_retry(struct app *app, struct http_request *req, struct http_response *res);
void handle_job_cancel(struct app *app, struct http_request *req, struct http_response *res);
/* Prometheus metrics (handlers/metrics.c). */
void handle_metrics(struct app *app, struct http_request *req, struct http_response *res);
/* The status page (handlers/page.c). */
void handle_status_page(struct app *app, struct http_request *req, struct http_response *res);
/* Webhook intake (handlers/webhook_github.c, handlers/webhook_supabase.c). */
void handle_webhook_github(struct app *app, struct http_request *req, struct http_response *res);
void handle_webhook_supabase(struct app *app, struct http_request *req, struct http_response *res);

#endif
