/* Read models for the status API: a job with its events, pages of jobs, tracked services.
 * PostgreSQL builds the JSON, so a read is one round trip and no re-encoding. */
#ifndef RAILHOOK_STORE_VIEWS_H
#define RAILHOOK_STORE_VIEWS_H

#include "util/status.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* The job's JSON document (free()) and whether the job is finished; RH_NOT_FOUND when no
 * such job, RH_UNAVAILABLE on a database failure (err set). With prepared, the query runs as a
 * named prepared statement of c's session (prepared there the first time): only for
 * connections that keep session state, i.e. not behind a transaction-mode pooler. */
enum rh_status store_view_job(PGconn *c, const char *id, bool prepared, char **json, bool *terminal,
                              char *err, size_t errlen);

struct job_filter {
    const char *state;   /* NULL: any */
    const char *kind;    /* NULL: any */
    const char *service; /* NULL: any */
    int limit;           /* 1..200 */
    const char *cursor;  /* NULL: newest first; else from an earlier page's next_cursor */
};

/* A page {"jobs":[...],"next_cursor":...} (free()); RH_INVALID for a malformed cursor. */
enum rh_status store_view_jobs(PGconn *c, const struct job_filter *f, char **json, char *err,
                               size_t errlen);
/* {"services":[...]} or, with name, one service object (RH_NOT_FOUND when unknown). */
enum rh_status store_view_services(PGconn *c, const char *name, char **json, char *err,
                                   size_t errlen);

#endif
