/* The enqueue statement and the deliveries table. A batch travels as one JSON parameter,
 * read with jsonb_to_recordset, so it costs one round trip whatever its size. */
#include "store/enqueue.h"

#include "store/store_int.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* $1: [{source, delivery_id, event, jobs: [{id, kind, payload, ...}]}]. Delivery rows come
 * first (a duplicate is skipped, and its jobs with it); then the jobs of the groups that go
 * in, and one event per job. Returns the 1-based positions of the groups that went in. */
static const struct store_stmt enqueue_stmt = {
    "railhook_enqueue",
    "WITH g AS ("
    " SELECT e.i, e.v->>'source' AS source, e.v->>'delivery_id' AS delivery_id,"
    "  e.v->>'event' AS event, e.v->'jobs' AS jobs"
    " FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(v, i)"
    "), d AS ("
    " INSERT INTO deliveries (source, delivery_id, event, outcome, job_ids)"
    " SELECT source, delivery_id, event, 'accepted',"
    "  ARRAY(SELECT (x.v->>'id')::uuid FROM jsonb_array_elements(g.jobs)"
    "   WITH ORDINALITY AS x(v, k) ORDER BY x.k)"
    " FROM g WHERE source IS NOT NULL"
    " ORDER BY source, delivery_id"
    " ON CONFLICT (source, delivery_id) DO NOTHING"
    " RETURNING source, delivery_id"
    "), go AS ("
    " SELECT g.i, g.jobs FROM g WHERE g.source IS NULL"
    " UNION ALL SELECT g.i, g.jobs FROM g JOIN d USING (source, delivery_id)"
    "), ins AS ("
    " INSERT INTO jobs (id, kind, payload, service_name, dedupe_key, max_attempts, run_after)"
    " SELECT x.id, x.kind, coalesce(x.payload, '{}'::jsonb), x.service_name, x.dedupe_key,"
    "  coalesce(x.max_attempts, 3), now() + coalesce(x.delay_ms, 0) * interval '1 millisecond'"
    " FROM go, jsonb_to_recordset(go.jobs) AS x(id uuid, kind text, payload jsonb,"
    "  service_name text, dedupe_key text, max_attempts int, delay_ms bigint)"
    " RETURNING id, kind, run_after"
    "), ev AS ("
    " INSERT INTO job_events (job_id, level, message, details)"
    " SELECT id, 'info', 'enqueued', jsonb_build_object('kind', kind, 'run_after', run_after)"
    " FROM ins"
    ")"
    " SELECT i FROM go",
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
        int64_t i = 0;
        if (parse_i64(PQgetvalue(r, row, 0), 1, (int64_t)n, &i))
            groups[i - 1].enqueued = true;
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
