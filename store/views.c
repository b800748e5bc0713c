/* Read models for the status API, built as JSON by PostgreSQL. */
#include "store/views.h"

#include "store/store.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One job as JSON; $1 is the job id. The error keeps Railway's excerpt (stored redacted). */
static const char job_sql[] =
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
    " FROM jobs j WHERE j.id = $1";

/* Runs sql as the prepared statement name, preparing it when the session lacks it (SQLSTATE
 * 26000). Any other failure is left to a plain run of the same read-only statement, which
 * reports it as store_exec() does. */
static PGresult *exec_prepared(PGconn *c, const char *name, const char *sql, int n,
                               const char *const *p, char *err, size_t errlen)
{
    PGresult *r = PQexecPrepared(c, name, n, p, NULL, NULL, 0);
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (PQresultStatus(r) == PGRES_FATAL_ERROR && state && strcmp(state, "26000") == 0) {
        PQclear(r);
        r = PQprepare(c, name, sql, n, NULL);
        bool prepared = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        r = prepared ? PQexecPrepared(c, name, n, p, NULL, NULL, 0) : NULL;
    }
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        return r;
    PQclear(r);
    return store_exec(c, sql, n, p, err, errlen);
}

enum rh_status store_view_job(PGconn *c, const char *id, bool prepared, char **json, bool *terminal,
                              char *err, size_t errlen)
{
    /* Planning this statement costs more than running it: a session keeps its plan. */
    const char *p[] = {id};
    PGresult *r = prepared ? exec_prepared(c, "railhook_view_job", job_sql, 1, p, err, errlen)
                           : store_exec(c, job_sql, 1, p, err, errlen);
    if (!r)
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

/* Cursor: "<created_at as epoch microseconds>_<uuid>", opaque to clients. */
static bool cursor_parse(const char *cursor, char *micros, size_t mlen, char *id)
{
    const char *us = strchr(cursor, '_');
    if (!us || us == cursor || (size_t)(us - cursor) >= mlen)
        return false;
    for (const char *q = cursor; q < us; q++)
        if (*q < '0' || *q > '9')
            return false;
    memcpy(micros, cursor, (size_t)(us - cursor));
    micros[us - cursor] = '\0';
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
        snprintf(err, errlen, "cursor is malformed");
        return RH_INVALID;
    }
    snprintf(limit, sizeof(limit), "%d", f->limit);
    const char *p[] = {
        f->state, f->kind, f->service, f->cursor ? micros : NULL, f->cursor ? id : NULL, limit};
    static const char sql[] =
        "WITH page AS ("
        " SELECT j.id, j.kind, j.state, j.attempt, j.max_attempts, j.step, j.service_name,"
        "  j.railway_deployment_status, j.last_error->>'code' AS error_code,"
        "  j.created_at, j.updated_at, j.finished_at"
        " FROM jobs j"
        " WHERE ($1::text IS NULL OR j.state = $1) AND ($2::text IS NULL OR j.kind = $2)"
        "  AND ($3::text IS NULL OR j.service_name = $3)"
        "  AND ($4::bigint IS NULL OR (j.created_at, j.id) <"
        "   ('epoch'::timestamptz + $4::bigint * interval '1 microsecond', $5::uuid))"
        " ORDER BY j.created_at DESC, j.id DESC LIMIT $6::int + 1)"
        "SELECT json_build_object("
        " 'jobs', coalesce((SELECT json_agg(row_to_json(x) ORDER BY x.created_at DESC, x.id DESC)"
        "   FROM (SELECT * FROM page ORDER BY created_at DESC, id DESC LIMIT $6::int) x), '[]'),"
        " 'next_cursor', CASE WHEN (SELECT count(*) FROM page) > $6::int THEN"
        "   (SELECT ((extract(epoch FROM created_at) * 1000000)::numeric)::bigint || '_' || id"
        "    FROM (SELECT * FROM page ORDER BY created_at DESC, id DESC"
        "     OFFSET $6::int - 1 LIMIT 1) l) END)::text";
    PGresult *r = store_exec(c, sql, 6, p, err, errlen);
    if (!r)
        return RH_UNAVAILABLE;
    *json = xstrdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return RH_OK;
}

enum rh_status store_view_services(PGconn *c, const char *name, char **json, char *err,
                                   size_t errlen)
{
    static const char row[] =
        "json_build_object('name', s.name, 'manifest_id', s.manifest_id,"
        " 'railway_service_id', s.railway_service_id, 'repo', s.repo, 'branch', s.branch,"
        " 'root_dir', s.root_dir, 'status', s.status,"
        " 'last_deployment', json_build_object('id', s.last_deployment_id,"
        "   'status', s.last_deployment_status),"
        " 'last_job', CASE WHEN j.id IS NULL THEN NULL ELSE json_build_object('id', j.id,"
        "   'kind', j.kind, 'state', j.state, 'updated_at', j.updated_at) END,"
        " 'created_at', s.created_at, 'updated_at', s.updated_at)";
    char *sql;
    const char *p[] = {name};
    if (name)
        sql = xasprintf("SELECT %s::text FROM services s LEFT JOIN jobs j ON j.id = s.last_job_id"
                        " WHERE s.name = $1",
                        row);
    else
        sql = xasprintf("SELECT json_build_object('services', coalesce(json_agg(%s ORDER BY"
                        " s.name), '[]'))::text FROM services s"
                        " LEFT JOIN jobs j ON j.id = s.last_job_id",
                        row);
    PGresult *r = store_exec(c, sql, name ? 1 : 0, name ? p : NULL, err, errlen);
    free(sql);
    if (!r)
        return RH_UNAVAILABLE;
    enum rh_status st = RH_NOT_FOUND;
    if (PQntuples(r) == 1) {
        *json = xstrdup(PQgetvalue(r, 0, 0));
        st = RH_OK;
    }
    PQclear(r);
    return st;
}
