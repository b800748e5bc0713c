/* SQL of the live event stream: horizons over job_events' sequence and range reads. */
#include "store/events.h"

#include "store/store_int.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum rh_status run(PGconn *c, const char *sql, int n, const char *const *p, PGresult **out,
                          char *err, size_t errlen)
{
    const struct store_stmt st = {NULL, sql, n};
    return store_run(c, &st, p, out, err, errlen);
}

enum rh_status store_events_mark_take(PGconn *c, int64_t known, struct store_events_mark *m,
                                      char *err, size_t errlen)
{
    PGresult *r = NULL;
    memset(m, 0, sizeof(*m));
    /* Three statements, three transactions, in this order: the sequence's value, then a new
     * transaction id (greater than every id handed out before it), then the check. */
    enum rh_status st = run(c, "SELECT coalesce(pg_sequence_last_value('job_events_id_seq'), 0)", 0,
                            NULL, &r, err, errlen);
    if (st != RH_OK)
        return st;
    m->last_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    r = NULL;
    if (m->last_id <= known) {
        /* Nothing handed out since: no transaction id needed. */
        m->final = true;
        return RH_OK;
    }
    if ((st = run(c, "SELECT pg_current_xact_id()::text", 0, NULL, &r, err, errlen)) != RH_OK)
        return st;
    snprintf(m->xid, sizeof(m->xid), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return store_events_mark_check(c, m, err, errlen);
}

enum rh_status store_events_mark_check(PGconn *c, struct store_events_mark *m, char *err,
                                       size_t errlen)
{
    if (m->final)
        return RH_OK;
    const char *p[] = {m->xid};
    PGresult *r = NULL;
    enum rh_status st =
        run(c, "SELECT pg_snapshot_xmin(pg_current_snapshot()) > $1::xid8", 1, p, &r, err, errlen);
    if (st != RH_OK)
        return st;
    m->final = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return RH_OK;
}

enum rh_status store_events_read(PGconn *c, int64_t after, int64_t upto, int limit,
                                 struct store_event **rows, int *nrows, char *err, size_t errlen)
{
    char a[24], u[24], l[16];
    snprintf(a, sizeof(a), "%lld", (long long)after);
    snprintf(u, sizeof(u), "%lld", (long long)upto);
    snprintf(l, sizeof(l), "%d", limit);
    const char *p[] = {a, u, l};
    PGresult *r = NULL;
    *rows = NULL;
    *nrows = 0;
    enum rh_status st = run(c,
                            "SELECT e.id, x.s->>'id', x.s->>'kind', x.s->>'state', x.s::text"
                            " FROM job_events e JOIN jobs j ON j.id = e.job_id"
                            /* Events from before migration 007 have no summary of their own. */
                            " CROSS JOIN LATERAL"
                            " (SELECT coalesce(e.summary, railhook_job_summary(j)) AS s) x"
                            " WHERE e.id > $1::bigint AND e.id <= $2::bigint"
                            " ORDER BY e.id LIMIT $3::int",
                            3, p, &r, err, errlen);
    if (st != RH_OK)
        return st;
    int n = PQntuples(r);
    struct store_event *out = n ? xcalloc((size_t)n, sizeof(*out)) : NULL;
    for (int i = 0; i < n; i++) {
        out[i].id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        snprintf(out[i].job_id, sizeof(out[i].job_id), "%s", PQgetvalue(r, i, 1));
        snprintf(out[i].kind, sizeof(out[i].kind), "%s", PQgetvalue(r, i, 2));
        snprintf(out[i].state, sizeof(out[i].state), "%s", PQgetvalue(r, i, 3));
        out[i].summary = xstrdup(PQgetvalue(r, i, 4));
    }
    PQclear(r);
    *rows = out;
    *nrows = n;
    return RH_OK;
}

void store_events_free(struct store_event *rows, int n)
{
    if (!rows)
        return;
    for (int i = 0; i < n; i++)
        free(rows[i].summary);
    free(rows);
}

enum rh_status store_events_first_id(PGconn *c, int64_t *id, char *err, size_t errlen)
{
    PGresult *r = NULL;
    enum rh_status st =
        run(c, "SELECT coalesce(min(id), 0) FROM job_events", 0, NULL, &r, err, errlen);
    if (st != RH_OK)
        return st;
    *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return RH_OK;
}
