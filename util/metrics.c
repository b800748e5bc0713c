/* Prometheus metrics registry.
 *
 * Threading: one mutex guards the series table; every update is a short critical section
 * (a hash lookup and an add), and rendering copies under the same lock. */
#include "util/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

struct metric_def {
    const char *name;
    enum metric_type type;
    const char *help;
    const double *buckets; /* histograms: upper bounds, ascending, ending with 0 */
};

static const double latency_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,  0.5,    1,     2.5,  5,     10,   0};
static const double job_buckets[] = {0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 0};

static const struct metric_def defs[] = {
    {"railhook_http_requests_total", METRIC_COUNTER, "HTTP requests by route, method and status.",
     NULL},
    {"railhook_http_request_duration_seconds", METRIC_HISTOGRAM, "HTTP request latency by route.",
     latency_buckets},
    {"railhook_http_deadline_closed_total", METRIC_COUNTER,
     "Connections closed because a request was not in within HTTP_REQUEST_DEADLINE_S.", NULL},
    {"railhook_job_reads_total", METRIC_COUNTER,
     "GET /jobs/{id} documents by source (cache, database).", NULL},
    {"railhook_intake_batches_total", METRIC_COUNTER,
     "Commits of the webhook intake (each carries every delivery waiting then).", NULL},
    {"railhook_webhook_deliveries_total", METRIC_COUNTER,
     "Webhook deliveries by source and outcome (accepted, duplicate, ignored, rejected).", NULL},
    {"railhook_jobs_finished_total", METRIC_COUNTER,
     "Jobs that reached a final state, by kind "
     "and state.",
     NULL},
    {"railhook_job_duration_seconds", METRIC_HISTOGRAM,
     "How long the final run of a finished job took, by kind.", job_buckets},
    {"railhook_railway_requests_total", METRIC_COUNTER,
     "Railway GraphQL requests by operation and outcome (ok, transient, permanent).", NULL},
    {"railhook_railway_rate_limited_total", METRIC_COUNTER,
     "Railway answers with HTTP 429, by operation.", NULL},
    {"railhook_railway_limiter_wait_seconds_total", METRIC_COUNTER,
     "Time Railway calls waited for railhook's own rate limiter.", NULL},
    {"railhook_notify_attempts_total", METRIC_COUNTER,
     "Notification attempts by sink (url, manifest: the write-back) and outcome (delivered, "
     "failed: to be retried, gave_up).",
     NULL},
    {"railhook_reconcile_passes_total", METRIC_COUNTER,
     "Reconciliation passes this instance ran, by outcome (ok, error, skipped).", NULL},
    {"railhook_reconcile_changes_total", METRIC_COUNTER,
     "Changes reconciliation passes found, enqueued and refused, by action and outcome.", NULL},
    {"railhook_reconcile_railway_requests_total", METRIC_COUNTER,
     "Railway requests reconciliation passes sent.", NULL},
    {"railhook_railway_budget_remaining", METRIC_GAUGE,
     "Railway requests this instance's hourly budget (RAILWAY_HOURLY_BUDGET) has left, as of its "
     "last request.",
     NULL},
};

#define NDEFS       (sizeof(defs) / sizeof(defs[0]))
#define MAX_BUCKETS 16
#define TABLE_SIZE  1024

struct series {
    const struct metric_def *def;
    char *labels;
    double value; /* counter value, or histogram sum */
    double count; /* histogram: observations */
    double buckets[MAX_BUCKETS];
    struct series *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct series *table[TABLE_SIZE];

static const struct metric_def *find_def(const char *name)
{
    for (size_t i = 0; i < NDEFS; i++)
        if (strcmp(defs[i].name, name) == 0)
            return &defs[i];
    return NULL;
}

static unsigned hash(const char *a, const char *b)
{
    unsigned h = 2166136261u;
    for (; *a; a++)
        h = (h ^ (unsigned char)*a) * 16777619u;
    for (; *b; b++)
        h = (h ^ (unsigned char)*b) * 16777619u;
    return h % TABLE_SIZE;
}

/* The series for name{labels}, created on first use; NULL for an undeclared name. Lock held. */
static struct series *get(const char *name, const char *labels)
{
    const struct metric_def *def = find_def(name);
    if (!def)
        return NULL;
    unsigned h = hash(name, labels);
    for (struct series *s = table[h]; s; s = s->next)
        if (s->def == def && strcmp(s->labels, labels) == 0)
            return s;
    struct series *s = xcalloc(1, sizeof(*s));
    s->def = def;
    s->labels = xstrdup(labels);
    s->next = table[h];
    table[h] = s;
    return s;
}

void metrics_count(const char *name, const char *labels, double v)
{
    pthread_mutex_lock(&lock);
    struct series *s = get(name, labels ? labels : "");
    if (s)
        s->value += v;
    pthread_mutex_unlock(&lock);
}

void metrics_set(const char *name, const char *labels, double v)
{
    pthread_mutex_lock(&lock);
    struct series *s = get(name, labels ? labels : "");
    if (s && s->def->type == METRIC_GAUGE)
        s->value = v;
    pthread_mutex_unlock(&lock);
}

void metrics_observe(const char *name, const char *labels, double v)
{
    pthread_mutex_lock(&lock);
    struct series *s = get(name, labels ? labels : "");
    if (s && s->def->buckets) {
        s->value += v;
        s->count += 1;
        for (int i = 0; s->def->buckets[i] != 0 && i < MAX_BUCKETS; i++)
            if (v <= s->def->buckets[i])
                s->buckets[i] += 1;
    }
    pthread_mutex_unlock(&lock);
}

static void sample(struct buf *out, const char *name, const char *suffix, const char *labels,
                   const char *extra, double v)
{
    bool any = (labels && *labels) || (extra && *extra);
    buf_printf(out, "%s%s%s%s%s%s%s %.17g\n", name, suffix, any ? "{" : "", labels ? labels : "",
               labels && *labels && extra && *extra ? "," : "", extra ? extra : "", any ? "}" : "",
               v);
}

void metrics_render(struct buf *out)
{
    pthread_mutex_lock(&lock);
    for (size_t d = 0; d < NDEFS; d++) {
        const struct metric_def *def = &defs[d];
        buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", def->name, def->help, def->name,
                   def->type == METRIC_COUNTER ? "counter"
                   : def->type == METRIC_GAUGE ? "gauge"
                                               : "histogram");
        for (size_t i = 0; i < TABLE_SIZE; i++) {
            for (struct series *s = table[i]; s; s = s->next) {
                if (s->def != def)
                    continue;
                if (def->type != METRIC_HISTOGRAM) {
                    sample(out, def->name, "", s->labels, NULL, s->value);
                    continue;
                }
                for (int b = 0; def->buckets[b] != 0 && b < MAX_BUCKETS; b++) {
                    char le[48];
                    snprintf(le, sizeof(le), "le=\"%g\"", def->buckets[b]);
                    sample(out, def->name, "_bucket", s->labels, le, s->buckets[b]);
                }
                sample(out, def->name, "_bucket", s->labels, "le=\"+Inf\"", s->count);
                sample(out, def->name, "_sum", s->labels, NULL, s->value);
                sample(out, def->name, "_count", s->labels, NULL, s->count);
            }
        }
    }
    pthread_mutex_unlock(&lock);
}

void metrics_gauge_header(struct buf *out, const char *name, const char *help)
{
    buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

void metrics_gauge_sample(struct buf *out, const char *name, const char *labels, double v)
{
    sample(out, name, "", labels, NULL, v);
}
