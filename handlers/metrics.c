/* GET /metrics: Prometheus text format. Counters and histograms come from util/metrics.c;
 * queue gauges are read from the database at scrape time, so every instance reports the
 * whole queue. */
#include "handlers/api.h"
#include "store/notifications.h"
#include "store/reconcile.h"
#include "flows/flows.h"
#include "queue/queue.h"
#include "handlers/intake.h"
#include "store/views.h"
#include "util/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends the jobs-by-kind-and-state, queue depth and oldest-queued-age gauges. */
static bool queue_gauges(PGconn *c, struct buf *out)
{
    char err[256];
    struct store_queue_stats q;
    if (store_view_queue_stats(c, &q, err, sizeof(err)) != RH_OK)
        return false;
    metrics_gauge_header(out, "railhook_jobs", "Jobs in the database by kind and state.");
    for (size_t i = 0; i < q.ncounts; i++) {
        char labels[96];
        snprintf(labels, sizeof(labels), "kind=\"%s\",state=\"%s\"", q.counts[i].kind,
                 q.counts[i].state);
        metrics_gauge_sample(out, "railhook_jobs", labels, (double)q.counts[i].count);
    }
    metrics_gauge_header(out, "railhook_queue_depth", "Jobs waiting to run.");
    metrics_gauge_sample(out, "railhook_queue_depth", "", (double)q.queued);
    metrics_gauge_header(out, "railhook_queue_oldest_age_seconds",
                         "Age of the oldest queued job (0 when none).");
    metrics_gauge_sample(out, "railhook_queue_oldest_age_seconds", "", q.oldest_queued_s);
    store_queue_stats_free(&q);
    long pending = 0;
    if (store_notify_pending(c, &pending, err, sizeof(err)) != RH_OK)
        return false;
    metrics_gauge_header(out, "railhook_notify_pending",
                         "Notification deliveries (URLs and write-backs) waiting to be sent.");
    metrics_gauge_sample(out, "railhook_notify_pending", "", (double)pending);
    double age = -1;
    if (store_reconcile_last_age(c, &age, err, sizeof(err)) != RH_OK)
        return false;
    metrics_gauge_header(out, "railhook_reconcile_last_pass_age_seconds",
                         "Seconds since the newest finished reconciliation pass of any instance "
                         "(-1 when none).");
    metrics_gauge_sample(out, "railhook_reconcile_last_pass_age_seconds", "", age);
    return true;
}

void handle_metrics(struct app *app, struct http_request *req, struct http_response *res)
{
    if (!app->cfg->metrics_public && !api_authorize(app, req, res, API_READ))
        return;
    struct buf out;
    buf_init(&out, 0);
    metrics_render(&out);
    int in_use = 0, waiting = 0, size = 0;
    store_pool_stats(app->store, &in_use, &waiting, &size);
    metrics_gauge_header(&out, "railhook_db_pool_connections", "Database pool connections.");
    metrics_gauge_sample(&out, "railhook_db_pool_connections", "state=\"in_use\"", in_use);
    metrics_gauge_sample(&out, "railhook_db_pool_connections", "state=\"size\"", size);
    metrics_gauge_header(&out, "railhook_db_pool_waiting", "Callers waiting for a connection.");
    metrics_gauge_sample(&out, "railhook_db_pool_waiting", "", waiting);
    if (app->queue) {
        int waiting_budget = 0;
        free(queue_parked_list(app->queue, FLOWS_BUDGET_WAIT, &waiting_budget));
        metrics_gauge_header(&out, "railhook_jobs_waiting_for_budget",
                             "Jobs of this instance parked until the Railway hourly budget "
                             "covers their next request.");
        metrics_gauge_sample(&out, "railhook_jobs_waiting_for_budget", "", waiting_budget);
    }
    metrics_gauge_header(&out, "railhook_intake_waiting",
                         "Deliveries waiting for their commit (their connections suspended).");
    metrics_gauge_sample(&out, "railhook_intake_waiting", "", (double)intake_waiting(app->intake));
    PGconn *c = store_conn_acquire(app->store);
    bool db_ok = c && queue_gauges(c, &out);
    if (c)
        store_conn_release(app->store, c);
    metrics_gauge_header(&out, "railhook_database_up",
                         "1 when the last scrape reached the database.");
    metrics_gauge_sample(&out, "railhook_database_up", "", db_ok ? 1 : 0);
    res->status = 200;
    res->content_type = "text/plain; version=0.0.4; charset=utf-8";
    buf_reset(&res->body);
    buf_append(&res->body, out.data, out.len);
    buf_free(&out);
}
