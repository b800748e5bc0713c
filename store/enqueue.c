/* The enqueue statement and the deliveries table. A batch travels as one JSON parameter,
 * read with jsonb_to_recordset, so it costs one round trip whatever its size. */
#include "store/enqueue.h"

#include "store/store_int.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* $1: [{source, delivery_id, event, jobs: [{id, kind, payload, ...}]}]. Each job first gets
 * its final id: a job whose active key a queued or running job holds already takes that job's
 * id, and one whose key an earlier job of the batch holds takes the earlier one's (only the
 * first goes in). Delivery rows come next (a duplicate is skipped, and its jobs with it), with
 * the final ids; then the jobs of the groups that go in, and one event per job. Returns the
 * 1-based positions of the groups that went in, and each job's final id when it differs. */
static const struct store_stmt enqueue_stmt = {
    "railhook_enqueue",
    "WITH g AS ("
    " SELECT e.i, e.v->>'source' AS source, e.v->>'delivery_id' AS delivery_id,"
    "  e.v->>'event' AS event, e.v->'jobs' AS jobs,"
    /* A probe of the unique index per delivery. Not EXISTS: PostgreSQL may run that as a
     * hashed subplan, one scan of the whole table per batch, which slowed each batch as the
     * table grew (jsonb_array_elements() is estimated at 100 rows whatever the batch). */
    "  (SELECT true FROM deliveries r WHERE r.source = e.v->>'source'"
    "   AND r.delivery_id = e.v->>'delivery_id' LIMIT 1) IS NOT NULL AS seen"
    " FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(v, i)"
    "), x AS ("
    " SELECT g.i, g.seen, x.*"
    " FROM g, ROWS FROM (jsonb_to_recordset(g.jobs) AS (id uuid, kind text, payload jsonb,"
    "   service_name text, dedupe_key text, max_attempts int, delay_ms bigint,"
    "   active_key text))"
    "  WITH ORDINALITY AS x(id, kind, payload, service_name, dedupe_key, max_attempts,"
    "   delay_ms, active_key, k)"
    "), f AS ("
    " SELECT x.*, CASE WHEN x.active_key IS NULL THEN x.id ELSE coalesce(h.id,"
    "   first_value(x.id) OVER (PARTITION BY x.active_key, x.seen ORDER BY x.i, x.k)) END"
    "  AS final"
    /* A probe of the partial unique index per job, as for deliveries above: a plain join was
     * planned as a hash of every unfinished job, one scan of the jobs table per batch. */
    " FROM x LEFT JOIN LATERAL (SELECT h.id FROM jobs h WHERE h.active_key = x.active_key"
    "  AND h.state IN ('queued', 'running') LIMIT 1) h ON true"
    "), d AS ("
    " INSERT INTO deliveries (source, delivery_id, event, outcome, job_ids)"
    " SELECT source, delivery_id, event, 'accepted',"
    "  ARRAY(SELECT f.final FROM f WHERE f.i = g.i ORDER BY f.k)"
    " FROM g WHERE source IS NOT NULL"
    " ORDER BY source, delivery_id"
    " ON CONFLICT (source, delivery_id) DO NOTHING"
    " RETURNING source, delivery_id"
    "), go AS ("
    " SELECT g.i FROM g WHERE g.source IS NULL"
    " UNION ALL SELECT g.i FROM g JOIN d USING (source, delivery_id)"
    "), ins AS ("
    " INSERT INTO jobs AS j (id, kind, payload, service_name, dedupe_key, max_attempts, run_after,"
    "  active_key)"
    " SELECT f.id, f.kind, coalesce(f.payload, '{}'::jsonb), f.service_name, f.dedupe_key,"
    "  coalesce(f.max_attempts, 3), now() + coalesce(f.delay_ms, 0) * interval '1 millisecond',"
    "  f.active_key"
    " FROM f JOIN go USING (i) WHERE f.final = f.id"
    " ORDER BY f.i, f.k"
    " ON CONFLICT (active_key) WHERE state IN ('queued', 'running') DO NOTHING"
    " RETURNING j.id, j.kind, j.run_after, railhook_job_summary(j) AS summary"
    "), ev AS ("
    " INSERT INTO job_events (job_id, level, message, details, summary)"
    " SELECT id, 'info', 'enqueued', jsonb_build_object('kind', kind, 'run_after', run_after),"
    "  summary"
    " FROM ins"
    ")"
    " SELECT go.i, f.k, CASE WHEN f.final <> f.id THEN f.final::text END"
    " FROM go LEFT JOIN f ON f.i = go.i AND f.final <> f.id"
    " ORDER BY go.i, f.k",
    1,
};

/* $1: [{i, source, delivery_id}]; one row per job of each recorded delivery (a NULL id for a
 * delivery without jobs), in job order. */
static const struct store_stmt find_stmt = {
    "railhook_delivery_find",
    "SELECT k.i, u.id::text"
    " FROM jsonb_to_recordset($1::jsonb) AS k(i int, source text, delivery_id text)"
    " JOIN deliveries d ON d.source = k.source AND d.delivery_id = k.delivery_id"
    " LEFT JOIN LATERAL unnest(d.job_ids) WITH ORDINALITY AS u(id, n) ON true"
    " ORDER BY k.i, u.n",
    1,
};

/* The group as the statement reads it; job ids are assigned here. */
static cJSON *group_json(struct store_enqueue *g)
{
    cJSON *o = cJSON_CreateObject();
    if (g->source) {
        cJSON_AddStringToObject(o, "source", g->source);
        cJSON_AddStringToObject(o, "delivery_id", g->delivery_id);
        if (g->event)
            cJSON_AddStringToObject(o, "event", g->event);
    }
    cJSON *jobs = cJSON_AddArrayToObject(o, "jobs");
    for (size_t k = 0; k < g->njobs; k++) {
        const struct store_job_new *j = &g->jobs[k];
        char id[37];
        uuid_v4(id);
        if (g->ids)
            memcpy(g->ids[k], id, sizeof(id));
        cJSON *jo = cJSON_CreateObject();
        cJSON_AddStringToObject(jo, "id", id);
        cJSON_AddStringToObject(jo, "kind", j->kind);
        if (j->payload)
            cJSON_AddItemReferenceToObject(jo, "payload", j->payload);
        if (j->service_name)
            cJSON_AddStringToObject(jo, "service_name", j->service_name);
        if (j->dedupe_key)
            cJSON_AddStringToObject(jo, "dedupe_key", j->dedupe_key);
        if (j->max_attempts > 0)
            cJSON_AddNumberToObject(jo, "max_attempts", j->max_attempts);
        if (j->delay_ms != 0)
            cJSON_AddNumberToObject(jo, "delay_ms", (double)j->delay_ms);
        if (j->active_key)
            cJSON_AddStringToObject(jo, "active_key", j->active_key);
        cJSON_AddItemToArray(jobs, jo);
    }
    return o;
}

enum rh_status store_job_enqueue(PGconn *c, struct store_enqueue *groups, size_t n, char *err,
                                 size_t errlen)
{
    enum rh_status st = RH_INVALID;
    cJSON *arr = cJSON_CreateArray();
    char *text = NULL;
    PGresult *r = NULL;

    for (size_t i = 0; i < n; i++) {
        groups[i].enqueued = false;
        for (size_t k = 0; k < groups[i].njobs; k++) {
            const struct store_job_new *j = &groups[i].jobs[k];
            if (!j->kind || (j->payload && !cJSON_IsObject(j->payload))) {
                snprintf(err, errlen, "job %zu: %s", k,
                         j->kind ? "payload is not a JSON object" : "kind is missing");
                goto out;
            }
        }
        if (groups[i].source && !groups[i].delivery_id) {
            snprintf(err, errlen, "a delivery needs its id");
            goto out;
        }
        cJSON_AddItemToArray(arr, group_json(&groups[i]));
    }
    text = cJSON_PrintUnformatted(arr);
    if (!text)
        abort(); /* cJSON only fails when memory is exhausted */
    const char *p[] = {text};
    st = store_run(c, &enqueue_stmt, p, &r, err, errlen);
    if (st != RH_OK)
        goto out;
    for (int row = 0; row < PQntuples(r); row++) {
        int64_t i = 0, k = 0;
        if (!parse_i64(PQgetvalue(r, row, 0), 1, (int64_t)n, &i))
            continue;
        struct store_enqueue *g = &groups[i - 1];
        g->enqueued = true;
        /* A job that an active one with its key stands for: the answer names that one. */
        if (!PQgetisnull(r, row, 2) && g->ids &&
            parse_i64(PQgetvalue(r, row, 1), 1, (int64_t)g->njobs, &k))
            snprintf(g->ids[k - 1], 37, "%s", PQgetvalue(r, row, 2));
    }
out:
    PQclear(r);
    cJSON_free(text);
    cJSON_Delete(arr);
    return st;
}

enum rh_status store_delivery_find(PGconn *c, struct store_delivery_prior *d, size_t n, char *err,
                                   size_t errlen)
{
    enum rh_status st = RH_UNAVAILABLE;
    cJSON *arr = cJSON_CreateArray();
    char *text = NULL;
    PGresult *r = NULL;
    for (size_t i = 0; i < n; i++) {
        d[i].found = false;
        d[i].job_ids = NULL;
        d[i].njobs = 0;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "i", (double)i);
        cJSON_AddStringToObject(o, "source", d[i].source);
        cJSON_AddStringToObject(o, "delivery_id", d[i].delivery_id);
        cJSON_AddItemToArray(arr, o);
    }
    text = cJSON_PrintUnformatted(arr);
    if (!text)
        abort(); /* cJSON only fails when memory is exhausted */
    const char *p[] = {text};
    st = store_run(c, &find_stmt, p, &r, err, errlen);
    if (st != RH_OK)
        goto out;
    /* Rows come grouped by delivery: count, then copy. */
    int rows = PQntuples(r);
    for (int pass = 0; pass < 2; pass++) {
        for (int row = 0; row < rows; row++) {
            int64_t i = 0;
            if (!parse_i64(PQgetvalue(r, row, 0), 0, (int64_t)n - 1, &i))
                continue;
            struct store_delivery_prior *x = &d[i];
            x->found = true;
            if (PQgetisnull(r, row, 1))
                continue;
            if (pass == 0)
                x->njobs++;
            else
                snprintf(x->job_ids[x->njobs++], 37, "%s", PQgetvalue(r, row, 1));
        }
        for (size_t i = 0; pass == 0 && i < n; i++) {
            d[i].job_ids = d[i].njobs ? xcalloc(d[i].njobs, sizeof(*d[i].job_ids)) : NULL;
            d[i].njobs = 0;
        }
    }
out:
    PQclear(r);
    cJSON_free(text);
    cJSON_Delete(arr);
    return st;
}
