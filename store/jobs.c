/* The job queue's SQL. Batches travel as one JSON parameter (jsonb_to_recordset), so a claim,
 * a group of finishes or a heartbeat is a single round trip and a single transaction. Every
 * statement runs in autocommit unless the caller opened a transaction on the connection. */
#include "store/jobs.h"

#include "store/store_int.h"
#include "util/util.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The compare-and-set every change of a running job carries: $1 id, $2 attempt, $3 owner. */
#define GUARD "id = $1 AND state = 'running' AND attempt = $2::int AND lease_owner = $3"

static char *json_text(cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);
    if (!s)
        abort(); /* cJSON only fails when memory is exhausted */
    char *out = xstrdup(s);
    cJSON_free(s);
    return out;
}

static void add_raw_or_null(cJSON *o, const char *key, const char *json)
{
    if (json)
        cJSON_AddRawToObject(o, key, json);
    else
        cJSON_AddNullToObject(o, key);
}

/* Runs sql (unnamed statement); on failure keeps libpq's message, redacted, in err. */
static enum rh_status run(PGconn *c, const char *sql, int n, const char *const *p, PGresult **out,
                          char *err, size_t errlen)
{
    const struct store_stmt st = {NULL, sql, n};
    return store_run(c, &st, p, out, err, errlen);
}

/* Claims up to N queued, due jobs, oldest first, skipping rows another claimer holds; the
 * i-th gets the i-th owner of the JSON array O and a lease of L seconds. Jobs of one manifest
 * (payload manifest_id) run one at a time and in order: a job waits while its manifest has a
 * running job or an older unfinished one, unless DONE (SQL over that job, e) says it is being
 * finished by this very statement. */
#define CLAIM_CTES(O, L, N, DONE)                                                                  \
    "o AS ("                                                                                       \
    " SELECT owner, n FROM jsonb_array_elements_text(" O "::jsonb) WITH ORDINALITY AS t(owner, n)" \
    "), picked AS ("                                                                               \
    " SELECT id, row_number() OVER () AS n FROM ("                                                 \
    "  SELECT id FROM jobs q"                                                                      \
    "  WHERE state = 'queued' AND run_after <= now()"                                              \
    "  AND NOT EXISTS (SELECT 1 FROM jobs e"                                                       \
    "   WHERE q.payload ? 'manifest_id' AND e.state IN ('queued', 'running')"                      \
    "   AND (e.payload->>'manifest_id') = (q.payload->>'manifest_id') AND e.id <> q.id"            \
    "   AND (e.state = 'running' OR (e.created_at, e.id) < (q.created_at, q.id))"                  \
    "   AND NOT (" DONE "))"                                                                       \
    "  ORDER BY run_after, created_at"                                                             \
    "  LIMIT " N "::int"                                                                           \
    "  FOR UPDATE SKIP LOCKED"                                                                     \
    " ) s"                                                                                         \
    "), claimed AS ("                                                                              \
    " UPDATE jobs j SET state = 'running', attempt = j.attempt + 1, lease_owner = o.owner,"        \
    "   lease_expires_at = now() + make_interval(secs => " L "::int),"                             \
    "   started_at = now(), updated_at = now()"                                                    \
    " FROM picked p JOIN o ON o.n = p.n"                                                           \
    " WHERE j.id = p.id"                                                                           \
    " RETURNING j.id, j.kind, j.attempt, j.max_attempts, j.rescues, j.cancel_requested,"           \
    "   j.lease_owner, j.payload, j.steps, j.service_name, railhook_job_summary(j) AS summary"     \
    "), cev AS ("                                                                                  \
    " INSERT INTO job_events (job_id, level, message, details, summary)"                           \
    " SELECT id, 'info', 'claimed',"                                                               \
    "   jsonb_build_object('attempt', attempt, 'owner', lease_owner, 'rescues', rescues), summary" \
    " FROM claimed"                                                                                \
    ")"

/* Result rows are tagged: 'c' + these columns for a claimed job, 'f' + id for a finish. */
#define CLAIM_COLUMNS                                                                              \
    "'c', id::text, kind, attempt::text, max_attempts::text, rescues::text,"                       \
    " cancel_requested::text, lease_owner, payload::text, steps::text, service_name"

/* Applies the finishes of the JSON array F, each guarded by (id, running, attempt, owner).
 * Here and in the claim, each event carries its job's summary from the row the statement
 * changed, so the event trigger does not look the job up (migration 009). */
#define FINISH_CTES(F)                                                                             \
    "i AS ("                                                                                       \
    " SELECT * FROM jsonb_to_recordset(" F "::jsonb) AS x(id uuid, attempt int, owner text,"       \
    "   outcome text, delay_ms bigint, error jsonb, level text, message text, details jsonb)"      \
    "), u AS ("                                                                                    \
    " UPDATE jobs j SET"                                                                           \
    "  state = CASE WHEN i.outcome IN ('retry', 'handback') THEN 'queued' ELSE i.outcome END,"     \
    "  attempt = CASE WHEN i.outcome = 'handback' THEN greatest(j.attempt - 1, 0)"                 \
    "            ELSE j.attempt END,"                                                              \
    "  run_after = CASE WHEN i.outcome = 'retry'"                                                  \
    "              THEN now() + i.delay_ms * interval '1 millisecond'"                             \
    "              WHEN i.outcome = 'handback' THEN now() ELSE j.run_after END,"                   \
    "  lease_owner = NULL, lease_expires_at = NULL,"                                               \
    "  last_error = CASE WHEN i.outcome = 'succeeded' THEN NULL"                                   \
    "               WHEN i.error IS NULL THEN j.last_error ELSE i.error END,"                      \
    "  finished_at = CASE WHEN i.outcome IN ('succeeded', 'failed', 'cancelled') THEN now()"       \
    "                END,"                                                                         \
    "  updated_at = now()"                                                                         \
    " FROM i"                                                                                      \
    " WHERE j.id = i.id AND j.state = 'running' AND j.attempt = i.attempt"                         \
    "   AND j.lease_owner = i.owner"                                                               \
    " RETURNING j.id, j.step, railhook_job_summary(j) AS summary"                                  \
    "), ev AS ("                                                                                   \
    " INSERT INTO job_events (job_id, step, level, message, details, summary)"                     \
    " SELECT i.id, u.step, i.level, i.message, i.details, u.summary FROM i JOIN u ON u.id = i.id"  \
    ")"

/* A job (e) this statement's finish ends for good: its manifest's next job may be claimed. */
#define FINISHED_HERE                                                                              \
    "e.id IN (SELECT u.id FROM u JOIN i ON i.id = u.id"                                            \
    " WHERE i.outcome IN ('succeeded', 'failed', 'cancelled'))"

/* The claim alone ($1 owners, $2 lease) and the finishes with the claim ($1 finishes,
 * $2 owners, $3 lease), each with its LIMIT N: a parameter, or a number written in. Both in
 * one statement: the snapshot is shared, so a job finished here (still running in it) can
 * never be claimed by the same statement. */
#define CLAIM_SQL(N)                                                                               \
    "WITH " CLAIM_CTES("$1", "$2", N, "false") " SELECT " CLAIM_COLUMNS " FROM claimed"
#define FINISH_CLAIM_SQL(N)                                                                        \
    "WITH " FINISH_CTES("$1") ", " CLAIM_CTES(                                                     \
        "$2", "$3", N, FINISHED_HERE) " SELECT 'f', id::text, NULL, NULL, NULL, NULL, NULL, "      \
                                      "NULL, NULL, NULL, NULL FROM u"                              \
                                      " UNION ALL SELECT " CLAIM_COLUMNS " FROM claimed"

/* The hot statements are named: prepared once per session where the store allows. */
static const struct store_stmt claim_stmt = {"railhook_claim", CLAIM_SQL("$3"), 3};
static const struct store_stmt finish_stmt = {
    "railhook_finish", "WITH " FINISH_CTES("$1") " SELECT 'f', id::text FROM u", 1};
static const struct store_stmt finish_claim_stmt = {"railhook_finish_claim", FINISH_CLAIM_SQL("$4"),
                                                    4};
/* The same two statements with the claim's LIMIT written into the text, one pair per claim
 * size, made on first use. PostgreSQL plans a prepared statement for its parameters' values
 * (a custom plan) until a plan for any values (a generic plan) costs no more. With the LIMIT a
 * parameter, the generic plan assumes a tenth of the queue is claimed and scans it whole, so
 * every execution was planned afresh: planning took a fifth of PostgreSQL's time in the queue
 * benchmark, and a generic plan forced in its place ran seven times slower. With the LIMIT in
 * the text the generic plan is the custom plan, and each session plans it a few times only. */
#define CLAIM_LITERAL_MAX 64
static struct store_stmt claim_literal[2][CLAIM_LITERAL_MAX + 1]; /* [with finishes][limit] */
static pthread_mutex_t claim_literal_lock = PTHREAD_MUTEX_INITIALIZER;

static const struct store_stmt *claim_statement(bool with_finishes, int limit)
{
    if (limit < 1 || limit > CLAIM_LITERAL_MAX)
        return with_finishes ? &finish_claim_stmt : &claim_stmt;
    pthread_mutex_lock(&claim_literal_lock);
    struct store_stmt *st = &claim_literal[with_finishes][limit];
    if (!st->sql) {
        struct buf name, sql;
        buf_init(&name, 0);
        buf_init(&sql, 0);
        buf_printf(&name, "%s_%d", with_finishes ? "railhook_finish_claim" : "railhook_claim",
                   limit);
        if (with_finishes)
            buf_printf(&sql, FINISH_CLAIM_SQL("%d"), limit);
        else
            buf_printf(&sql, CLAIM_SQL("%d"), limit);
        st->nparams = with_finishes ? 3 : 2;
        st->name = buf_steal(&name);
        st->sql = buf_steal(&sql);
    }
    pthread_mutex_unlock(&claim_literal_lock);
    return st;
}

static const struct store_stmt heartbeat_stmt = {
    "railhook_heartbeat",
    "UPDATE jobs j SET lease_expires_at = now() + make_interval(secs => $2::int)"
    " FROM jsonb_to_recordset($1::jsonb) AS g(id uuid, attempt int, owner text)"
    " WHERE j.id = g.id AND j.state = 'running' AND j.attempt = g.attempt"
    "   AND j.lease_owner = g.owner"
    " RETURNING j.id, j.lease_owner, j.cancel_requested",
    2};

static char *owners_param(const char *const *owners, int n)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(owners[i]));
    char *text = json_text(arr);
    cJSON_Delete(arr);
    return text;
}

static const char *outcome_name(enum store_job_outcome o)
{
    switch (o) {
    case STORE_JOB_SUCCEEDED:
        return "succeeded";
    case STORE_JOB_FAILED:
        return "failed";
    case STORE_JOB_CANCELLED:
        return "cancelled";
    case STORE_JOB_RETRY:
        return "retry";
    case STORE_JOB_HANDBACK:
        return "handback";
    }
    return "failed";
}

static char *finish_param(struct store_job_finish *f, int n)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", f[i].guard.id);
        cJSON_AddNumberToObject(o, "attempt", f[i].guard.attempt);
        cJSON_AddStringToObject(o, "owner", f[i].guard.owner);
        cJSON_AddStringToObject(o, "outcome", outcome_name(f[i].outcome));
        cJSON_AddNumberToObject(o, "delay_ms", (double)f[i].delay_ms);
        add_raw_or_null(o, "error", f[i].error);
        cJSON_AddStringToObject(o, "level", f[i].level ? f[i].level : "info");
        cJSON_AddStringToObject(o, "message",
                                f[i].message ? f[i].message : outcome_name(f[i].outcome));
        add_raw_or_null(o, "details", f[i].details);
        cJSON_AddItemToArray(arr, o);
        f[i].applied = false;
    }
    char *text = json_text(arr);
    cJSON_Delete(arr);
    return text;
}

/* Reads the tagged rows of the statements above: 'f' marks a finish applied, 'c' is a job
 * claimed (appended to *rows, allocated for up to max_claims). */
static void read_tagged(PGresult *r, struct store_job_finish *f, int n, int max_claims,
                        struct store_job_claimed **rows, int *nrows)
{
    struct store_job_claimed *out = NULL;
    int got = 0;
    if (rows && max_claims > 0)
        out = xcalloc((size_t)max_claims, sizeof(*out));
    for (int row = 0; row < PQntuples(r); row++) {
        const char *tag = PQgetvalue(r, row, 0);
        if (tag[0] == 'f') {
            for (int i = 0; i < n; i++)
                if (strcmp(f[i].guard.id, PQgetvalue(r, row, 1)) == 0)
                    f[i].applied = true;
            continue;
        }
        if (!out || got == max_claims)
            continue; /* cannot happen: the claim's LIMIT is max_claims */
        struct store_job_claimed *j = &out[got++];
        snprintf(j->id, sizeof(j->id), "%s", PQgetvalue(r, row, 1));
        snprintf(j->kind, sizeof(j->kind), "%s", PQgetvalue(r, row, 2));
        j->attempt = (int)strtol(PQgetvalue(r, row, 3), NULL, 10);
        j->max_attempts = (int)strtol(PQgetvalue(r, row, 4), NULL, 10);
        j->rescues = (int)strtol(PQgetvalue(r, row, 5), NULL, 10);
        j->cancel_requested = strcmp(PQgetvalue(r, row, 6), "true") == 0;
        snprintf(j->owner, sizeof(j->owner), "%s", PQgetvalue(r, row, 7));
        j->payload = xstrdup(PQgetvalue(r, row, 8));
        j->steps = xstrdup(PQgetvalue(r, row, 9));
        j->service_name = PQgetisnull(r, row, 10) ? NULL : xstrdup(PQgetvalue(r, row, 10));
    }
    if (rows) {
        *rows = out;
        *nrows = got;
    }
}

enum rh_status store_job_claim(PGconn *c, const char *const *owners, int n, int lease_s,
                               struct store_job_claimed **rows, int *nrows, char *err,
                               size_t errlen)
{
    return store_job_finish_claim(c, NULL, 0, owners, n, lease_s, rows, nrows, err, errlen);
}

enum rh_status store_job_finish(PGconn *c, struct store_job_finish *f, int n, char *err,
                                size_t errlen)
{
    return store_job_finish_claim(c, f, n, NULL, 0, 0, NULL, NULL, err, errlen);
}

enum rh_status store_job_finish_claim(PGconn *c, struct store_job_finish *f, int n,
                                      const char *const *owners, int nowners, int lease_s,
                                      struct store_job_claimed **rows, int *nrows, char *err,
                                      size_t errlen)
{
    PGresult *r = NULL;
    char *fin = n > 0 ? finish_param(f, n) : NULL;
    char *own = nowners > 0 ? owners_param(owners, nowners) : NULL;
    char lease[16], lim[16];
    snprintf(lease, sizeof(lease), "%d", lease_s);
    snprintf(lim, sizeof(lim), "%d", nowners);
    enum rh_status st = RH_OK;
    if (rows) {
        *rows = NULL;
        *nrows = 0;
    }
    if (n > 0 && nowners > 0) {
        const char *p[] = {fin, own, lease, lim}; /* the limit, when not in the text */
        st = store_run(c, claim_statement(true, nowners), p, &r, err, errlen);
    } else if (n > 0) {
        const char *p[] = {fin};
        st = store_run(c, &finish_stmt, p, &r, err, errlen);
    } else if (nowners > 0) {
        const char *p[] = {own, lease, lim};
        st = store_run(c, claim_statement(false, nowners), p, &r, err, errlen);
    }
    if (st == RH_OK && r)
        read_tagged(r, f, n, nowners, rows, nrows);
    PQclear(r);
    free(fin);
    free(own);
    return st;
}

void store_job_claimed_free(struct store_job_claimed *rows, int n)
{
    if (!rows)
        return;
    for (int i = 0; i < n; i++) {
        free(rows[i].payload);
        free(rows[i].steps);
        free(rows[i].service_name);
    }
    free(rows);
}

enum rh_status store_job_next_due(PGconn *c, int64_t *ms, char *err, size_t errlen)
{
    PGresult *r = NULL;
    enum rh_status st =
        run(c,
            "SELECT greatest(0, ceil(extract(epoch FROM min(run_after) - now()) * 1000))::bigint"
            " FROM jobs WHERE state = 'queued'",
            0, NULL, &r, err, errlen);
    if (st != RH_OK)
        return st;
    *ms = PQgetisnull(r, 0, 0) ? -1 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return RH_OK;
}

enum rh_status store_job_heartbeat(PGconn *c, struct store_job_lease *l, int n, int lease_s,
                                   char *err, size_t errlen)
{
    PGresult *r = NULL;
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", l[i].guard.id);
        cJSON_AddNumberToObject(o, "attempt", l[i].guard.attempt);
        cJSON_AddStringToObject(o, "owner", l[i].guard.owner);
        cJSON_AddItemToArray(arr, o);
        l[i].kept = false;
        l[i].cancel_requested = false;
    }
    char *param = json_text(arr);
    char lease[16];
    snprintf(lease, sizeof(lease), "%d", lease_s);
    const char *p[] = {param, lease};
    enum rh_status st = store_run(c, &heartbeat_stmt, p, &r, err, errlen);
    if (st == RH_OK) {
        for (int row = 0; row < PQntuples(r); row++) {
            const char *id = PQgetvalue(r, row, 0);
            const char *owner = PQgetvalue(r, row, 1);
            for (int i = 0; i < n; i++) {
                if (strcmp(l[i].guard.id, id) == 0 && strcmp(l[i].guard.owner, owner) == 0) {
                    l[i].kept = true;
                    l[i].cancel_requested = strcmp(PQgetvalue(r, row, 2), "t") == 0;
                }
            }
        }
    }
    PQclear(r);
    free(param);
    cJSON_Delete(arr);
    return st;
}

static const char rescue_sql[] =
    "WITH x AS ("
    " SELECT id, lease_owner, rescues FROM jobs"
    " WHERE state = 'running' AND lease_expires_at < now()"
    " ORDER BY lease_expires_at LIMIT $2::int"
    " FOR UPDATE SKIP LOCKED"
    "), u AS ("
    " UPDATE jobs j SET"
    "  state = CASE WHEN x.rescues + 1 > $1::int THEN 'failed' ELSE 'queued' END,"
    "  rescues = x.rescues + 1,"
    "  attempt = greatest(j.attempt - 1, 0),"
    "  lease_owner = NULL, lease_expires_at = NULL, run_after = now(),"
    "  finished_at = CASE WHEN x.rescues + 1 > $1::int THEN now() END,"
    "  last_error = CASE WHEN x.rescues + 1 > $1::int THEN jsonb_build_object("
    "    'code', 'poisoned', 'status', 'permanent', 'message',"
    "    format('the job''s lease expired %s times (its worker died each time)',"
    "           x.rescues + 1)) ELSE j.last_error END,"
    "  updated_at = now()"
    " FROM x WHERE j.id = x.id"
    " RETURNING j.id, j.state, j.rescues, j.step, x.lease_owner AS old_owner"
    "), ev AS ("
    " INSERT INTO job_events (job_id, step, level, message, details)"
    " SELECT id, step, CASE WHEN state = 'failed' THEN 'error' ELSE 'warn' END,"
    "   CASE WHEN state = 'failed' THEN 'failed' ELSE 'rescued' END,"
    "   jsonb_build_object('owner', old_owner, 'rescues', rescues, 'code',"
    "     CASE WHEN state = 'failed' THEN 'poisoned' ELSE 'lease_expired' END)"
    " FROM u"
    ")"
    "SELECT count(*) FILTER (WHERE state = 'queued'), count(*) FILTER (WHERE state = 'failed')"
    " FROM u";

enum rh_status store_job_rescue(PGconn *c, int max_rescues, int limit, int *rescued, int *poisoned,
                                char *err, size_t errlen)
{
    char mr[16], lim[16];
    snprintf(mr, sizeof(mr), "%d", max_rescues);
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *p[] = {mr, lim};
    PGresult *r = NULL;
    *rescued = 0;
    *poisoned = 0;
    enum rh_status st = run(c, rescue_sql, 2, p, &r, err, errlen);
    if (st != RH_OK)
        return st;
    *rescued = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    *poisoned = (int)strtol(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    return RH_OK;
}

enum rh_status store_job_prune(PGconn *c, int days, int limit, long *deleted, char *err,
                               size_t errlen)
{
    char d[16], lim[16];
    snprintf(d, sizeof(d), "%d", days);
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *p[] = {d, lim};
    PGresult *r = NULL;
    *deleted = 0;
    enum rh_status st = run(c,
                            "WITH d AS ("
                            " SELECT id FROM jobs"
                            " WHERE finished_at < now() - make_interval(days => $1::int)"
                            "   AND state IN ('succeeded', 'failed', 'cancelled')"
                            " ORDER BY finished_at LIMIT $2::int"
                            " FOR UPDATE SKIP LOCKED"
                            ")"
                            "DELETE FROM jobs j USING d WHERE j.id = d.id",
                            2, p, &r, err, errlen);
    if (st != RH_OK)
        return st;
    *deleted = strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return RH_OK;
}

static void guard_params(const struct store_job_guard *g, char attempt[16], const char **p)
{
    snprintf(attempt, 16, "%d", g->attempt);
    p[0] = g->id;
    p[1] = attempt;
    p[2] = g->owner;
}

static const char checkpoint_sql[] =
    "WITH cur AS (SELECT step AS old_step FROM jobs WHERE id = $1),"
    " u AS ("
    " UPDATE jobs SET"
    "  step = CASE WHEN cancel_requested THEN step ELSE $4 END,"
    "  updated_at = CASE WHEN cancel_requested OR step IS NOT DISTINCT FROM $4 THEN updated_at"
    "               ELSE now() END"
    " WHERE " GUARD " AND lease_expires_at > now()"
    " RETURNING id, cancel_requested"
    "), ev AS ("
    " INSERT INTO job_events (job_id, step, level, message)"
    " SELECT u.id, $4, 'info', 'step ' || $4 FROM u, cur"
    " WHERE NOT u.cancel_requested AND cur.old_step IS DISTINCT FROM $4"
    ")"
    "SELECT cancel_requested FROM u";

/* Runs a guarded statement whose one row says whether a cancel was requested; no row means
 * the guard or the lease no longer holds. */
static enum rh_status guarded_cancel(PGconn *c, const char *sql, int n, const char *const *p,
                                     bool *cancel_requested, char *err, size_t errlen)
{
    PGresult *r = NULL;
    *cancel_requested = false;
    enum rh_status st = run(c, sql, n, p, &r, err, errlen);
    if (st != RH_OK)
        return st;
    if (PQntuples(r) == 0)
        st = RH_LEASE_LOST;
    else
        *cancel_requested = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return st;
}

enum rh_status store_job_checkpoint(PGconn *c, const struct store_job_guard *g, const char *step,
                                    bool *cancel_requested, char *err, size_t errlen)
{
    char attempt[16];
    const char *p[4];
    guard_params(g, attempt, p);
    p[3] = step;
    return guarded_cancel(c, checkpoint_sql, 4, p, cancel_requested, err, errlen);
}

enum rh_status store_job_confirm(PGconn *c, const struct store_job_guard *g, bool *cancel_requested,
                                 char *err, size_t errlen)
{
    char attempt[16];
    const char *p[3];
    guard_params(g, attempt, p);
    return guarded_cancel(
        c, "SELECT cancel_requested FROM jobs WHERE " GUARD " AND lease_expires_at > now()", 3, p,
        cancel_requested, err, errlen);
}

enum rh_status store_job_step_save(PGconn *c, const struct store_job_guard *g, const char *key,
                                   const char *value, char *err, size_t errlen)
{
    char attempt[16];
    const char *p[5];
    guard_params(g, attempt, p);
    p[3] = key;
    p[4] = value;
    PGresult *r = NULL;
    enum rh_status st = run(c,
                            "UPDATE jobs SET steps = CASE WHEN $5::jsonb IS NULL THEN steps - $4"
                            "  ELSE jsonb_set(steps, ARRAY[$4], $5::jsonb) END, updated_at = now()"
                            " WHERE " GUARD " AND lease_expires_at > now()",
                            5, p, &r, err, errlen);
    if (st != RH_OK)
        return st;
    if (strcmp(PQcmdTuples(r), "1") != 0)
        st = RH_LEASE_LOST;
    PQclear(r);
    return st;
}

/* The update and, when the deployment status changes (or the caller words an event), its
 * event, in one statement. */
static const char railway_set_sql[] =
    "WITH cur AS (SELECT railway_deployment_status AS old FROM jobs WHERE id = $1),"
    " u AS ("
    " UPDATE jobs SET railway_service_id = coalesce($4, railway_service_id),"
    " railway_deployment_id = coalesce($5, railway_deployment_id),"
    " railway_deployment_status = coalesce($6, railway_deployment_status),"
    " updated_at = now()"
    " WHERE " GUARD " RETURNING id, step, railway_deployment_id, railway_deployment_status"
    "), ev AS ("
    " INSERT INTO job_events (job_id, step, level, message, details)"
    " SELECT u.id, u.step, 'info', coalesce($7, 'deployment ' || u.railway_deployment_status),"
    "  coalesce($8::jsonb, jsonb_build_object('deployment_id', u.railway_deployment_id,"
    "   'status', u.railway_deployment_status))"
    " FROM u, cur WHERE u.railway_deployment_status IS DISTINCT FROM cur.old OR $7 IS NOT NULL"
    ")"
    "SELECT count(*) FROM u";

enum rh_status store_job_railway_set(PGconn *c, const struct store_job_guard *g,
                                     const char *service_id, const char *deployment_id,
                                     const char *deployment_status, const char *message,
                                     const char *details, char *err, size_t errlen)
{
    char attempt[16];
    const char *p[8];
    guard_params(g, attempt, p);
    p[3] = service_id;
    p[4] = deployment_id;
    p[5] = deployment_status;
    p[6] = message;
    p[7] = details;
    PGresult *r = NULL;
    enum rh_status st = run(c, railway_set_sql, 8, p, &r, err, errlen);
    if (st != RH_OK)
        return st;
    if (strcmp(PQgetvalue(r, 0, 0), "1") != 0)
        st = RH_LEASE_LOST;
    PQclear(r);
    return st;
}

enum rh_status store_job_event_add(PGconn *c, const char *id, const char *step, const char *level,
                                   const char *message, const char *details, char *err,
                                   size_t errlen)
{
    const char *p[] = {id, step, level, message, details};
    PGresult *r = NULL;
    /* An event changes the job's document: updated_at moves, so the change is announced. */
    enum rh_status st =
        run(c,
            "WITH e AS (INSERT INTO job_events (job_id, step, level, message, details)"
            " VALUES ($1, $2, $3, $4, $5::jsonb) RETURNING job_id)"
            " UPDATE jobs SET updated_at = now() WHERE id = (SELECT job_id FROM e)",
            5, p, &r, err, errlen);
    PQclear(r);
    return st;
}

/* Runs an API operation whose statement returns (state before, state after or NULL). */
static enum rh_status state_op(PGconn *c, const char *sql, int n, const char *const *p, char *state,
                               char *err, size_t errlen)
{
    PGresult *r = NULL;
    enum rh_status st = run(c, sql, n, p, &r, err, errlen);
    if (st != RH_OK)
        return st;
    if (PQntuples(r) == 0) {
        st = RH_NOT_FOUND;
    } else if (PQgetisnull(r, 0, 1)) {
        snprintf(state, 16, "%s", PQgetvalue(r, 0, 0));
        st = RH_CONFLICT;
    } else {
        snprintf(state, 16, "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
    return st;
}

static const char cancel_sql[] =
    "WITH cur AS ("
    " SELECT id, state, (state = 'queued' AND steps = '{}'::jsonb) AS at_once"
    " FROM jobs WHERE id = $1 FOR UPDATE"
    "), u AS ("
    " UPDATE jobs j SET"
    "  state = CASE WHEN cur.at_once THEN 'cancelled' ELSE j.state END,"
    "  cancel_requested = true,"
    "  run_after = CASE WHEN cur.state = 'queued' THEN now() ELSE j.run_after END,"
    "  finished_at = CASE WHEN cur.at_once THEN now() ELSE j.finished_at END,"
    "  last_error = CASE WHEN cur.at_once THEN jsonb_build_object('code', 'cancelled',"
    "    'status', 'cancelled', 'message', 'cancelled before it ran') ELSE j.last_error END,"
    "  updated_at = now()"
    " FROM cur WHERE j.id = cur.id AND cur.state IN ('queued', 'running')"
    " RETURNING j.id, j.state, j.step"
    "), ev AS ("
    " INSERT INTO job_events (job_id, step, level, message)"
    " SELECT id, step, 'info', CASE WHEN state = 'cancelled' THEN 'cancelled'"
    "   ELSE 'cancel requested' END FROM u"
    ")"
    "SELECT cur.state, u.state FROM cur LEFT JOIN u ON u.id = cur.id";

enum rh_status store_job_cancel(PGconn *c, const char *id, char *state, char *err, size_t errlen)
{
    if (!uuid_valid(id))
        return RH_NOT_FOUND;
    const char *p[] = {id};
    return state_op(c, cancel_sql, 1, p, state, err, errlen);
}

static const char retry_sql[] =
    "WITH cur AS (SELECT id, state FROM jobs WHERE id = $1 FOR UPDATE),"
    " u AS ("
    " UPDATE jobs j SET state = 'queued', attempt = 0, rescues = 0,"
    "  max_attempts = CASE WHEN $2::int > 0 THEN $2::int ELSE j.max_attempts END,"
    "  cancel_requested = false, run_after = now(), lease_owner = NULL,"
    "  lease_expires_at = NULL, finished_at = NULL, updated_at = now()"
    " FROM cur WHERE j.id = cur.id AND cur.state IN ('failed', 'cancelled')"
    " RETURNING j.id, j.state, j.step, j.max_attempts"
    "), ev AS ("
    " INSERT INTO job_events (job_id, step, level, message, details)"
    " SELECT id, step, 'info', 'retried', jsonb_build_object('max_attempts', max_attempts)"
    " FROM u"
    ")"
    "SELECT cur.state, u.state FROM cur LEFT JOIN u ON u.id = cur.id";

enum rh_status store_job_retry(PGconn *c, const char *id, int max_attempts, char *state, char *err,
                               size_t errlen)
{
    if (!uuid_valid(id))
        return RH_NOT_FOUND;
    char ma[16];
    snprintf(ma, sizeof(ma), "%d", max_attempts);
    const char *p[] = {id, ma};
    return state_op(c, retry_sql, 2, p, state, err, errlen);
}

enum rh_status store_job_purge(PGconn *c, char *err, size_t errlen)
{
    return run(c, "TRUNCATE jobs CASCADE", 0, NULL, NULL, err, errlen);
}

enum rh_status store_job_analyze(PGconn *c, char *err, size_t errlen)
{
    return run(c, "VACUUM ANALYZE jobs", 0, NULL, NULL, err, errlen);
}
