/* Reconciliation's statements (store/reconcile.h). */
#include "store/reconcile.h"

#include "store/store_int.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>

/* The advisory lock's key: one for every instance sharing the database. */
#define RECONCILE_LOCK_SQL "hashtext('railhook_reconcile')"

static enum rh_status run(PGconn *c, const char *sql, int n, const char *const *p, PGresult **out,
                          char *err, size_t errlen)
{
    const struct store_stmt st = {NULL, sql, n};
    return store_run(c, &st, p, out, err, errlen);
}

enum rh_status store_reconcile_lock(PGconn *c, bool *got, char *err, size_t errlen)
{
    PGresult *r = NULL;
    *got = false;
    enum rh_status st =
        run(c, "SELECT pg_try_advisory_lock(" RECONCILE_LOCK_SQL ")", 0, NULL, &r, err, errlen);
    if (st == RH_OK)
        *got = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return st;
}

enum rh_status store_reconcile_unlock(PGconn *c, char *err, size_t errlen)
{
    return run(c, "SELECT pg_advisory_unlock(" RECONCILE_LOCK_SQL ")", 0, NULL, NULL, err, errlen);
}

static const struct store_stmt owned_stmt = {
    "railhook_reconcile_owned",
    "SELECT name, manifest_id, railway_service_id, variables::text FROM services "
    "WHERE status <> 'removed' ORDER BY name",
    0,
};

enum rh_status store_owned_services(PGconn *c, struct store_owned_service **rows, size_t *n,
                                    char *err, size_t errlen)
{
    PGresult *r = NULL;
    *rows = NULL;
    *n = 0;
    enum rh_status st = store_run(c, &owned_stmt, NULL, &r, err, errlen);
    if (st != RH_OK)
        goto out;
    *n = (size_t)PQntuples(r);
    *rows = xcalloc(*n ? *n : 1, sizeof(**rows));
    for (size_t i = 0; i < *n; i++) {
        struct store_owned_service *o = &(*rows)[i];
        int row = (int)i;
        o->name = xstrdup(PQgetvalue(r, row, 0));
        o->manifest_id = PQgetisnull(r, row, 1) ? NULL : xstrdup(PQgetvalue(r, row, 1));
        o->service_id = PQgetisnull(r, row, 2) ? NULL : xstrdup(PQgetvalue(r, row, 2));
        o->digests = cJSON_Parse(PQgetvalue(r, row, 3));
        /* {} means none recorded: nothing to compare with. */
        if (o->digests && !o->digests->child) {
            cJSON_Delete(o->digests);
            o->digests = NULL;
        }
    }
out:
    PQclear(r);
    return st;
}

void store_owned_services_free(struct store_owned_service *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        free(rows[i].name);
        free(rows[i].manifest_id);
        free(rows[i].service_id);
        cJSON_Delete(rows[i].digests);
    }
    free(rows);
}

enum rh_status store_recorded_manifests(PGconn *c, cJSON **rows, char *err, size_t errlen)
{
    PGresult *r = NULL;
    *rows = NULL;
    enum rh_status st =
        run(c,
            "SELECT DISTINCT ON (j.payload->>'manifest_id') (j.payload->'record')::text "
            "FROM jobs j JOIN services s ON s.manifest_id = j.payload->>'manifest_id' "
            "WHERE s.status <> 'removed' AND j.kind IN ('provision', 'update') "
            "AND jsonb_typeof(j.payload->'record') = 'object' "
            "ORDER BY j.payload->>'manifest_id', j.created_at DESC",
            0, NULL, &r, err, errlen);
    if (st == RH_OK) {
        *rows = cJSON_CreateArray();
        for (int i = 0; i < PQntuples(r); i++) {
            cJSON *row = cJSON_Parse(PQgetvalue(r, i, 0));
            if (row)
                cJSON_AddItemToArray(*rows, row);
        }
    }
    PQclear(r);
    return st;
}

enum rh_status store_manifests_busy(PGconn *c, const cJSON *ids, cJSON **busy, char *err,
                                    size_t errlen)
{
    PGresult *r = NULL;
    char *text = cJSON_PrintUnformatted(ids);
    const char *p[] = {text};
    *busy = NULL;
    /* Uses jobs_manifest_unfinished_idx (migration 003). */
    enum rh_status st = run(c,
                            "SELECT DISTINCT payload->>'manifest_id' FROM jobs "
                            "WHERE state IN ('queued', 'running') AND payload->>'manifest_id' = "
                            "ANY (ARRAY(SELECT jsonb_array_elements_text($1::jsonb)))",
                            1, p, &r, err, errlen);
    if (st == RH_OK) {
        *busy = cJSON_CreateArray();
        for (int i = 0; i < PQntuples(r); i++)
            cJSON_AddItemToArray(*busy, cJSON_CreateString(PQgetvalue(r, i, 0)));
    }
    PQclear(r);
    cJSON_free(text);
    return st;
}

enum rh_status store_manifests_reconcile_failed(PGconn *c, const cJSON *ids, cJSON **failed,
                                                char *err, size_t errlen)
{
    PGresult *r = NULL;
    char *text = cJSON_PrintUnformatted(ids);
    const char *p[] = {text};
    *failed = NULL;
    enum rh_status st = run(c,
                            "SELECT m, id::text FROM (SELECT DISTINCT ON (payload->>'manifest_id') "
                            "payload->>'manifest_id' AS m, id, state, payload->>'source' AS source "
                            "FROM jobs WHERE payload->>'manifest_id' = "
                            "ANY (ARRAY(SELECT jsonb_array_elements_text($1::jsonb))) "
                            "ORDER BY payload->>'manifest_id', created_at DESC) newest "
                            "WHERE state = 'failed' AND source = 'reconcile'",
                            1, p, &r, err, errlen);
    if (st == RH_OK) {
        *failed = cJSON_CreateObject();
        for (int i = 0; i < PQntuples(r); i++)
            cJSON_AddStringToObject(*failed, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
    }
    PQclear(r);
    cJSON_free(text);
    return st;
}

enum rh_status store_reconcile_pass_begin(PGconn *c, const char *instance, const char *mode,
                                          char id[24], char *err, size_t errlen)
{
    PGresult *r = NULL;
    const char *p[] = {instance, mode};
    enum rh_status st = run(c,
                            "INSERT INTO reconcile_passes (instance, mode) VALUES ($1, $2) "
                            "RETURNING id::text",
                            2, p, &r, err, errlen);
    if (st == RH_OK)
        snprintf(id, 24, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return st;
}

enum rh_status store_reconcile_pass_finish(PGconn *c, const char *id,
                                           const struct store_reconcile_outcome *o, char *err,
                                           size_t errlen)
{
    char req[16], found[16], enq[16], refused[16];
    snprintf(req, sizeof(req), "%d", o->railway_requests);
    snprintf(found, sizeof(found), "%d", o->changes_found);
    snprintf(enq, sizeof(enq), "%d", o->changes_enqueued);
    snprintf(refused, sizeof(refused), "%d", o->refused);
    char *plan = o->plan ? cJSON_PrintUnformatted(o->plan) : NULL;
    const char *p[] = {id,      o->ok ? "true" : "false", o->error, req, found, enq,
                       refused, plan ? plan : "[]"};
    enum rh_status st = run(c,
                            "UPDATE reconcile_passes SET finished_at = now(), ok = $2, error = $3, "
                            "railway_requests = $4, changes_found = $5, changes_enqueued = $6, "
                            "refused = $7, plan = $8::jsonb WHERE id = $1",
                            8, p, NULL, err, errlen);
    cJSON_free(plan);
    return st;
}

enum rh_status store_reconcile_passes_json(PGconn *c, int limit, char **json, char *err,
                                           size_t errlen)
{
    PGresult *r = NULL;
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *p[] = {lim};
    *json = NULL;
    enum rh_status st =
        run(c,
            "SELECT json_build_object('passes', COALESCE(json_agg(json_build_object("
            "'id', p.id::text, 'instance', p.instance, 'started_at', p.started_at, "
            "'finished_at', p.finished_at, 'mode', p.mode, 'ok', p.ok, 'error', p.error, "
            "'railway_requests', p.railway_requests, 'changes_found', p.changes_found, "
            "'changes_enqueued', p.changes_enqueued, 'refused', p.refused, 'changes', p.plan) "
            "ORDER BY p.started_at DESC, p.id DESC), '[]'::json))::text "
            "FROM (SELECT * FROM reconcile_passes ORDER BY started_at DESC, id DESC LIMIT $1) p",
            1, p, &r, err, errlen);
    if (st == RH_OK)
        *json = xstrdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return st;
}

enum rh_status store_reconcile_last_age(PGconn *c, double *age_s, char *err, size_t errlen)
{
    PGresult *r = NULL;
    *age_s = -1;
    enum rh_status st = run(c,
                            "SELECT extract(epoch FROM now() - max(finished_at))::float8 "
                            "FROM reconcile_passes",
                            0, NULL, &r, err, errlen);
    if (st == RH_OK && !PQgetisnull(r, 0, 0))
        *age_s = strtod(PQgetvalue(r, 0, 0), NULL);
    PQclear(r);
    return st;
}
