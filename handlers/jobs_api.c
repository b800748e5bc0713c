/* GET /jobs/{id}, GET /jobs, GET /jobs/counts, GET /services, GET /services/{name},
 * GET /railway/budget, GET /notifications. */
#include "flows/flows.h"
#include "handlers/api.h"
#include "handlers/jobcache.h"
#include "handlers/longpoll.h"
#include "store/notifications.h"
#include "railway/railway.h"
#include "store/views.h"
#include "util/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ETAG_LEN JOBCACHE_ETAG_LEN

/* A strong ETag for a body: a quoted prefix of its SHA-256. */
static void etag_of(const char *json, char etag[ETAG_LEN])
{
    unsigned char md[32];
    sha256(json, strlen(json), md);
    char hex[33];
    hex_encode(md, 16, hex);
    snprintf(etag, ETAG_LEN, "\"%s\"", hex);
}

static bool etag_matches(const struct http_request *req, const char *etag)
{
    const char *inm = req->header(req, "If-None-Match");
    return inm && (strstr(inm, etag) || strcmp(inm, "*") == 0);
}

/* Answers with the JSON document already in res->body and its ETag; 304 when it matches. */
static void send_body(const struct http_request *req, struct http_response *res, const char *etag)
{
    http_response_header(res, "ETag", etag);
    if (etag_matches(req, etag)) {
        res->status = 304;
        buf_reset(&res->body);
        return;
    }
    res->status = 200;
    res->content_type = "application/json; charset=utf-8";
}

/* Answers with a JSON text the database built, with an ETag; 304 when it matches. */
static void send_json_text(const struct http_request *req, struct http_response *res,
                           const char *json)
{
    char etag[ETAG_LEN];
    etag_of(json, etag);
    buf_reset(&res->body);
    buf_puts(&res->body, json);
    send_body(req, res, etag);
}

void handle_job_get(struct app *app, struct http_request *req, struct http_response *res)
{
    if (!api_authorize(app, req, res, API_READ))
        return;
    const char *id = req->params[0];
    if (!uuid_valid(id)) {
        http_response_error(res, req, 400, "invalid_id", "id must be a job uuid");
        return;
    }
    int64_t wait_s = 0;
    const char *wait = req->query(req, "wait");
    if (wait && !parse_i64(wait, 0, 60, &wait_s)) {
        http_response_error(res, req, 400, "invalid_wait", "wait must be seconds from 0 to 60");
        return;
    }
    /* Every change of a job's document is announced on railhook_job_changed, which keeps the
     * cache exact (handlers/jobcache.c); QUEUE_LISTEN=off says notifications cannot be relied
     * on (transaction pooler), and then every read goes to the database. */
    struct jobcache *cache = app->cfg->queue_listen ? longpoll_jobcache(app->longpoll) : NULL;
    char etag[ETAG_LEN];
    buf_reset(&res->body);
    /* A long poll's first read goes to the database: it may have to wait for the next change. */
    bool long_poll = wait_s > 0 && !req->resumed;
    if (!long_poll && jobcache_get(cache, id, etag, &res->body)) {
        metrics_count("railhook_job_reads_total", "source=\"cache\"", 1);
        send_body(req, res, etag);
        return;
    }
    metrics_count("railhook_job_reads_total", "source=\"database\"", 1);
    uint64_t seq = jobcache_seq(cache);
    int64_t read_at = time_mono_ms();
    PGconn *c = api_conn_acquire(app, req, res);
    if (!c)
        return;
    char *json = NULL, err[256] = "";
    bool terminal = false;
    enum rh_status st = store_view_job(c, id, &json, &terminal, err, sizeof(err));
    store_conn_release(app->store, c);
    if (st == RH_NOT_FOUND) {
        jobcache_invalidate(cache, id); /* pruned: no notification says so */
        http_response_error(res, req, 404, "not_found", "no job with id %s", id);
    } else if (st != RH_OK) {
        api_database_error(req, res, err);
    } else if (wait_s > 0 && !req->resumed && !terminal && app->longpoll) {
        /* Long poll: wait for a change when the client has the current version, or when it
         * sent no version at all; a client holding an older version gets the new one now. */
        etag_of(json, etag);
        const char *inm = req->header(req, "If-None-Match");
        if (inm && !etag_matches(req, etag)) {
            send_json_text(req, res, json);
        } else {
            req->park(req);
            longpoll_wait(app->longpoll, id, read_at, time_mono_ms() + wait_s * 1000,
                          req->transport, req->resume);
            res->status = 0;
        }
    } else {
        etag_of(json, etag);
        jobcache_put(cache, id, json, etag, seq);
        buf_puts(&res->body, json);
        send_body(req, res, etag);
    }
    free(json);
}

static bool one_of(const char *v, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcmp(v, *allowed) == 0)
            return true;
    return false;
}

static const char *empty_to_null(const char *s)
{
    return s && *s ? s : NULL;
}

void handle_jobs_list(struct app *app, struct http_request *req, struct http_response *res)
{
    static const char *const states[] = {"queued", "running",   "succeeded",
                                         "failed", "cancelled", NULL};
    if (!api_authorize(app, req, res, API_READ))
        return;
    struct job_filter f = {
        .state = empty_to_null(req->query(req, "state")),
        .kind = empty_to_null(req->query(req, "kind")),
        .service = empty_to_null(req->query(req, "service")),
        .cursor = empty_to_null(req->query(req, "cursor")),
        .limit = 50,
    };
    const char *limit = req->query(req, "limit");
    int64_t n = 0;
    if (limit && !parse_i64(limit, 1, 200, &n)) {
        http_response_error(res, req, 400, "invalid_limit",
                            "limit must be an integer from 1 to 200");
        return;
    }
    if (limit)
        f.limit = (int)n;
    if (f.state && !one_of(f.state, states)) {
        http_response_error(res, req, 400, "invalid_state",
                            "state must be queued, running, succeeded, failed or cancelled");
        return;
    }
    if (f.kind && !flows_kind_find(f.kind)) {
        char *kinds = flows_kind_names(false);
        http_response_error(res, req, 400, "invalid_kind", "kind must be one of: %s", kinds);
        free(kinds);
        return;
    }
    PGconn *c = api_conn_acquire(app, req, res);
    if (!c)
        return;
    char *json = NULL, err[256] = "";
    enum rh_status st = store_view_jobs(c, &f, &json, err, sizeof(err));
    store_conn_release(app->store, c);
    if (st == RH_INVALID)
        http_response_error(res, req, 400, "invalid_cursor", "%s", err);
    else if (st != RH_OK)
        api_database_error(req, res, err);
    else
        send_json_text(req, res, json);
    free(json);
}

void handle_job_counts(struct app *app, struct http_request *req, struct http_response *res)
{
    if (!api_authorize(app, req, res, API_READ))
        return;
    PGconn *c = api_conn_acquire(app, req, res);
    if (!c)
        return;
    char *json = NULL, err[256] = "";
    enum rh_status st = store_view_job_counts(c, &json, err, sizeof(err));
    store_conn_release(app->store, c);
    if (st != RH_OK)
        api_database_error(req, res, err);
    else
        send_json_text(req, res, json);
    free(json);
}

void handle_railway_budget(struct app *app, struct http_request *req, struct http_response *res)
{
    if (!api_authorize(app, req, res, API_READ))
        return;
    /* Without workers this instance sends Railway nothing: its whole budget is left. */
    struct railway_budget b = {.hourly_budget = app->cfg->railway_hourly_budget,
                               .remaining = app->cfg->railway_hourly_budget};
    if (app->limiter)
        railway_limiter_budget(app->limiter, &b);
    buf_reset(&res->body);
    buf_printf(&res->body,
               "{\"hourly_budget\":%ld,\"spent_last_hour\":%ld,\"remaining\":%ld,"
               "\"resets_in_s\":%ld}",
               b.hourly_budget, b.spent_last_hour, b.remaining, b.resets_in_s);
    res->status = 200;
    res->content_type = "application/json; charset=utf-8";
    http_response_header(res, "Cache-Control", "no-store");
}

static void services(struct app *app, struct http_request *req, struct http_response *res,
                     const char *name)
{
    if (!api_authorize(app, req, res, API_READ))
        return;
    PGconn *c = api_conn_acquire(app, req, res);
    if (!c)
        return;
    char *json = NULL, err[256] = "";
    enum rh_status st =
        store_view_services(c, name, app->cfg->railway_project_id, app->cfg->railway_environment_id,
                            &json, err, sizeof(err));
    store_conn_release(app->store, c);
    if (st == RH_NOT_FOUND)
        http_response_error(res, req, 404, "not_found", "railhook tracks no service named %s",
                            name);
    else if (st != RH_OK)
        api_database_error(req, res, err);
    else
        send_json_text(req, res, json);
    free(json);
}

void handle_services_list(struct app *app, struct http_request *req, struct http_response *res)
{
    services(app, req, res, NULL);
}

void handle_service_get(struct app *app, struct http_request *req, struct http_response *res)
{
    services(app, req, res, req->params[0]);
}

void handle_notifications_list(struct app *app, struct http_request *req, struct http_response *res)
{
    if (!api_authorize(app, req, res, API_READ))
        return;
    const char *job = empty_to_null(req->query(req, "job"));
    const char *limit = req->query(req, "limit");
    int64_t n = 50;
    if (limit && !parse_i64(limit, 1, 200, &n)) {
        http_response_error(res, req, 400, "invalid_limit",
                            "limit must be an integer from 1 to 200");
        return;
    }
    if (job && !uuid_valid(job)) {
        http_response_error(res, req, 400, "invalid_job", "job must be a job uuid");
        return;
    }
    PGconn *c = api_conn_acquire(app, req, res);
    if (!c)
        return;
    char *json = NULL, err[256] = "";
    enum rh_status st = store_view_notifications(c, job, (int)n, &json, err, sizeof(err));
    store_conn_release(app->store, c);
    if (st != RH_OK)
        api_database_error(req, res, err);
    else
        send_json_text(req, res, json);
    free(json);
}
