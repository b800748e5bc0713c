/* Read models for the status API: a job with its events, pages of jobs, tracked services.
 * PostgreSQL builds the JSON, so a read is one round trip and no re-encoding. */
#ifndef RAILHOOK_STORE_VIEWS_H
#define RAILHOOK_STORE_VIEWS_H

#include "util/status.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* The job's JSON document (free()) and whether the job is finished; RH_NOT_FOUND when no
 * such job, RH_UNAVAILABLE on a database failure (err set). */
enum rh_status store_view_job(PGconn *c, const char *id, char **json, bool *terminal, char *err,
                              size_t errlen);

struct job_filter {
    const char *state;   /* NULL: any */
    const char *kind;    /* NULL: any */
    const char *service; /* NULL: any */
    int limit;           /* 1..200 */
    const char *cursor;  /* NULL: newest first; else from an earlier page's next_cursor */
};

/* A page {"jobs":[...],"next_cursor":...} (free()); RH_INVALID for a malformed or out-of-range
 * cursor. */
enum rh_status store_view_jobs(PGconn *c, const struct job_filter *f, char **json, char *err,
                               size_t errlen);
/* {"railway":{"project_id","environment_id"},"services":[...]}, the ids (NULL or "" give
 * null) being where the services live, for links to Railway's dashboard; or, with name, one
 * service object (RH_NOT_FOUND when unknown), the ids unused. */
enum rh_status store_view_services(PGconn *c, const char *name, const char *project_id,
                                   const char *environment_id, char **json, char *err,
                                   size_t errlen);
/* {"queued":N,"running":N,"succeeded":N,"failed":N,"cancelled":N}: the jobs the table holds
 * (JOB_RETENTION_DAYS of them) by state, in one aggregate (free()). */
enum rh_status store_view_job_counts(PGconn *c, char **json, char *err, size_t errlen);

/* How many jobs of one kind are in one state. */
struct store_job_count {
    char kind[32];
    char state[16];
    long count;
};

/* The queue at a glance, for the metrics gauges. */
struct store_queue_stats {
    struct store_job_count *counts; /* every (kind, state) present, sorted */
    size_t ncounts;
    long queued;            /* jobs waiting to run */
    double oldest_queued_s; /* age of the oldest queued job, 0 when none */
};

/* Fills *out (free with store_queue_stats_free()); RH_UNAVAILABLE with err set on failure. */
enum rh_status store_view_queue_stats(PGconn *c, struct store_queue_stats *out, char *err,
                                      size_t errlen);
/* Frees what store_view_queue_stats() filled; safe twice. */
void store_queue_stats_free(struct store_queue_stats *s);

#endif
