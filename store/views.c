/* Read models for the status API, built as JSON by PostgreSQL. */
#include "store/views.h"

#include "store/store_int.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One job as JSON; $1 is the job id. The error keeps Railway's excerpt (stored redacted).
 * Planning it costs more than running it: where the store allows, a session keeps its plan. */
static const struct store_stmt job_stmt = {
    "railhook_view_job",
    "SELECT json_build_object("
    " 'id', j.id, 'kind', j.kind, 'state', j.state, 'attempt', j.attempt,"
    " 'max_attempts', j.max_attempts, 'step', j.step, 'service_name', j.service_name,"
    " 'cancel_requested', j.cancel_requested,"
    " 'railway', json_build_object('service_id', j.railway_service_id,"
    "   'deployment_id', j.railway_deployment_id,"
    "   'deployment_status', j.railway_deployment_status),"
    " 'error', j.last_error,"
    " 'events', coalesce((SELECT json_agg(json_build_object('time', e.at, 'step', e.step,"
    "   'level', e.level, 'message', e.message, 'details', e.details) ORDER BY e.id)"
    "   FROM (SELECT * FROM job_events WHERE job_id = j.id ORDER BY id DESC LIMIT 500) e),"
    "   '[]'::json),"
    " 'run_after', j.run_after, 'created_at', j.created_at, 'updated_at', j.updated_at,"
    " 'finished_at', j.finished_at,"
    " 'next_poll_ms', CASE WHEN j.state IN ('succeeded', 'failed', 'cancelled') THEN NULL"
    "   WHEN j.state = 'queued' THEN greatest(1000, least(30000,"
    "     (extract(epoch FROM j.run_after - now()) * 1000)::int))"
    "   ELSE 2000 END"
    ")::text, j.state IN ('succeeded', 'failed', 'cancelled')"
    " FROM jobs j WHERE j.id = $1",
    1,
};

enum rh_status store_view_job(PGconn *c, const char *id, char **json, bool *terminal, char *err,
                              size_t errlen)
{
    const char *p[] = {id};
    PGresult *r = NULL;
    if (store_run(c, &job_stmt, p, &r, err, errlen) != RH_OK)
        return RH_UNAVAILABLE;
    enum rh_status st = RH_NOT_FOUND;
    if (PQntuples(r) == 1) {
        *json = xstrdup(PQgetvalue(r, 0, 0));
        *terminal = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
        st = RH_OK;
    }
    PQclear(r);
    return st;
}

/* Cursor: "<created_at as epoch microseconds>_<uuid>", opaque to clients. The time must be one
 * PostgreSQL can hold (before the year 10000), or the query would fail like an outage. */
static bool cursor_parse(const char *cursor, char *micros, size_t mlen, char *id)
{
    const char *us = strchr(cursor, '_');
    if (!us || us == cursor || (size_t)(us - cursor) >= mlen)
        return false;
    int64_t n;
    memcpy(micros, cursor, (size_t)(us - cursor));
    micros[us - cursor] = '\0';
    if (micros[0] < '0' || micros[0] > '9' || !parse_i64(micros, 0, 253402300799999999, &n))
        return false;
    if (!uuid_valid(us + 1))
        return false;
    memcpy(id, us + 1, 37);
    return true;
}

enum rh_status store_view_jobs(PGconn *c, const struct job_filter *f, char **json, char *err,
                               size_t errlen)
{
    char micros[24] = "", id[37] = "", limit[16];
    if (f->cursor && !cursor_parse(f->cursor, micros, sizeof(micros), id)) {
        snprintf(err, errlen, "cursor is malformed or out of range");
        return RH_INVALID;
    }
    snprintf(limit, sizeof(limit), "%d", f->limit);
    const char *p[] = {
        f->state, f->kind, f->service, f->cursor ? micros : NULL, f->cursor ? id : NULL, limit};
    static const char sql[] =
        "WITH page AS ("
        " SELECT j.id, j.created_at, railhook_job_summary(j) AS doc FROM jobs j"
        " WHERE ($1::text IS NULL OR j.state = $1) AND ($2::text IS NULL OR j.kind = $2)"
        "  AND ($3::text IS NULL OR j.service_name = $3)"
        "  AND ($4::bigint IS NULL OR (j.created_at, j.id) <"
        "   ('epoch'::timestamptz + $4::bigint * interval '1 microsecond', $5::uuid))"
        " ORDER BY j.created_at DESC, j.id DESC LIMIT $6::int + 1)"
        "SELECT json_build_object("
        " 'jobs', coalesce((SELECT json_agg(x.doc ORDER BY x.created_at DESC, x.id DESC)"
        "   FROM (SELECT * FROM page ORDER BY created_at DESC, id DESC LIMIT $6::int) x), '[]'),"
        " 'next_cursor', CASE WHEN (SELECT count(*) FROM page) > $6::int THEN"
        "   (SELECT ((extract(epoch FROM created_at) * 1000000)::numeric)::bigint || '_' || id"
        "    FROM (SELECT * FROM page ORDER BY created_at DESC, id DESC"
        "     OFFSET $6::int - 1 LIMIT 1) l) END)::text";
    /* Unnamed: the best plan depends on which filters are set. */
    const struct store_stmt st = {NULL, sql, 6};
    PGresult *r = NULL;
    if (store_run(c, &st, p, &r, err, errlen) != RH_OK)
        return RH_UNAVAILABLE;
    *json = xstrdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return RH_OK;
}

/* One service as JSON: s is the services row, j its last job (LEFT JOIN). */
#define SERVICE_JSON                                                                               \
    "json_build_object('name', s.name, 'manifest_id', s.manifest_id,"                              \
    " 'railway_service_id', s.railway_service_id, 'repo', s.repo, 'branch', s.branch,"             \
    " 'root_dir', s.root_dir, 'status', s.status,"                                                 \
    " 'last_deployment', json_build_object('id', s.last_deployment_id,"                            \
    "   'status', s.last_deployment_status),"                                                      \
    " 'last_job', CASE WHEN j.id IS NULL THEN NULL ELSE json_build_object('id', j.id,"             \
    "   'kind', j.kind, 'state', j.state, 'updated_at', j.updated_at) END,"                        \
    " 'created_at', s.created_at, 'updated_at', s.updated_at)"

enum rh_status store_view_services(PGconn *c, const char *name, char **json, char *err,
                                   size_t errlen)
{
    static const struct store_stmt one = {
        NULL,
        "SELECT " SERVICE_JSON "::text FROM services s LEFT JOIN jobs j ON j.id = s.last_job_id"
        " WHERE s.name = $1",
        1,
    };
    static const struct store_stmt all = {
        NULL,
        "SELECT json_build_object('services', coalesce(json_agg(" SERVICE_JSON
        " ORDER BY s.name), '[]'))::text FROM services s LEFT JOIN jobs j ON j.id = s.last_job_id",
        0,
    };
    const char *p[] = {name};
    PGresult *r = NULL;
    if (store_run(c, name ? &one : &all, name ? p : NULL, &r, err, errlen) != RH_OK)
        return RH_UNAVAILABLE;
    enum rh_status st = RH_NOT_FOUND;
    if (PQntuples(r) == 1) {
        *json = xstrdup(PQgetvalue(r, 0, 0));
        st = RH_OK;
    }
    PQclear(r);
    return st;
}

enum rh_status store_view_queue_stats(PGconn *c, struct store_queue_stats *out, char *err,
                                      size_t errlen)
{
    /* Rows tagged 'c': a (kind, state) count; the one row tagged 'q': the queued jobs. */
    static const struct store_stmt stats = {
        NULL,
        "SELECT 'c', kind, state, count(*), 0::float8 FROM jobs GROUP BY kind, state"
        " UNION ALL SELECT 'q', NULL, NULL, count(*),"
        "  coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8"
        " FROM jobs WHERE state = 'queued'"
        " ORDER BY 1, 2, 3",
        0,
    };
    PGresult *r = NULL;
    memset(out, 0, sizeof(*out));
    if (store_run(c, &stats, NULL, &r, err, errlen) != RH_OK)
        return RH_UNAVAILABLE;
    int rows = PQntuples(r);
    out->counts = xcalloc((size_t)(rows > 0 ? rows : 1), sizeof(*out->counts));
    for (int i = 0; i < rows; i++) {
        if (strcmp(PQgetvalue(r, i, 0), "q") == 0) {
            out->queued = strtol(PQgetvalue(r, i, 3), NULL, 10);
            out->oldest_queued_s = strtod(PQgetvalue(r, i, 4), NULL);
            continue;
        }
        struct store_job_count *n = &out->counts[out->ncounts++];
        snprintf(n->kind, sizeof(n->kind), "%s", PQgetvalue(r, i, 1));
        snprintf(n->state, sizeof(n->state), "%s", PQgetvalue(r, i, 2));
        n->count = strtol(PQgetvalue(r, i, 3), NULL, 10);
    }
    PQclear(r);
    return RH_OK;
}

void store_queue_stats_free(struct store_queue_stats *s)
{
    free(s->counts);
    s->counts = NULL;
    s->ncounts = 0;
}
