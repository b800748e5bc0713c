/* Group-commit writer for webhook deliveries.
 *
 * Threading: request threads (libmicrohttpd's pool) call intake_submit(), which appends an
 * entry to the queue and sleeps on the entry's own condition variable. One writer thread owns
 * a dedicated PGconn. It takes every queued entry at once (a batch, capped in count and
 * bytes), writes all their delivery rows and jobs with a single INSERT statement (one
 * transaction, one WAL flush), and then wakes each waiting thread with its result. While a
 * batch commits, newcomers queue up and form the next batch, so concurrent deliveries share
 * commits. The intake mutex guards the queue and every entry's done/abandoned/result fields;
 * an entry taken into a batch is otherwise touched only by the writer. A requester that gives
 * up waiting (DB_POOL_WAIT_MS) unlinks its entry if it is still queued, or else marks it
 * abandoned and the writer frees it after the batch. The mapping rules are read-only after
 * intake_start(), so request threads read them without a lock. */
#include "handlers/intake.h"

#include "util/log.h"
#include "util/redact.h"
#include "util/util.h"

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct entry {
    struct entry *next;
    char *source;
    char *delivery_id;
    char *event;
    struct mapping_result mapped;
    size_t size_hint;
    pthread_cond_t cond;
    /* Guarded by the intake lock. */
    bool taken;
    bool done;
    bool abandoned;
    enum rh_status status;
    struct intake_outcome out;
    /* Writer-only while the entry is in a batch. */
    bool inserted;
    bool failed;
};

struct intake {
    const struct config *cfg;
    struct mapping_rules rules;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct entry *head;
    struct entry *tail;
    bool stopping;
    bool running;
    pthread_t thread;
    PGconn *conn; /* writer thread only */
    bool prepare; /* prepared statements (not behind a transaction pooler: QUEUE_LISTEN=off) */
    char max_attempts[16];
};

/* One statement: the batch's delivery rows (duplicates skipped) and, for each new row, its
 * jobs. Returns the 1-based positions of the deliveries that were new. */
static const char insert_sql[] =
    "WITH input AS ("
    " SELECT e.i, e.v->>'source' AS source, e.v->>'delivery_id' AS delivery_id,"
    "  e.v->>'event' AS event, e.v->'jobs' AS jobs,"
    "  ARRAY(SELECT (x.v->>'id')::uuid FROM jsonb_array_elements(e.v->'jobs')"
    "   WITH ORDINALITY AS x(v, k) ORDER BY x.k) AS job_ids"
    " FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(v, i)"
    "), d AS ("
    " INSERT INTO deliveries (source, delivery_id, event, outcome, job_ids)"
    " SELECT source, delivery_id, event, 'accepted', job_ids FROM input"
    " ORDER BY source, delivery_id"
    " ON CONFLICT (source, delivery_id) DO NOTHING"
    " RETURNING source, delivery_id"
    "), j AS ("
    " INSERT INTO jobs (id, kind, payload, dedupe_key, service_name, max_attempts)"
    " SELECT x.id, x.kind, x.payload, x.dedupe_key, x.service_name, $2::int"
    " FROM input JOIN d USING (source, delivery_id),"
    "  jsonb_to_recordset(input.jobs) AS x(id uuid, kind text, payload jsonb,"
    "   dedupe_key text, service_name text)"
    " RETURNING id"
    ")"
    " SELECT input.i FROM input JOIN d USING (source, delivery_id)";

static const char lookup_sql[] =
    "SELECT k.i, d.job_ids::text"
    " FROM jsonb_to_recordset($1::jsonb) AS k(i int, source text, delivery_id text)"
    " JOIN deliveries d ON d.source = k.source AND d.delivery_id = k.delivery_id";

static const char services_sql[] =
    "SELECT name FROM services WHERE status = 'active' ORDER BY name";

enum statement { STMT_INSERT, STMT_LOOKUP, STMT_SERVICES };
static const char *const stmt_names[] = {"intake_insert", "intake_lookup", "intake_services"};
static const char *const stmt_sqls[] = {insert_sql, lookup_sql, services_sql};
static const int stmt_nparams[] = {2, 1, 0};

static void entry_free(struct entry *e)
{
    if (!e)
        return;
    free(e->source);
    free(e->delivery_id);
    free(e->event);
    mapping_result_free(&e->mapped);
    intake_outcome_free(&e->out);
    pthread_cond_destroy(&e->cond);
    free(e);
}

void intake_outcome_free(struct intake_outcome *out)
{
    free(out->job_ids);
    out->job_ids = NULL;
    out->njobs = 0;
}

const struct mapping_rules *intake_rules(const struct intake *in)
{
    return &in->rules;
}

static void ignore_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static void log_db_error(const char *what, PGconn *c)
{
    char *clean = redact_string(c ? PQerrorMessage(c) : "no connection");
    /* One line: blanks collapse to one space, quotes become single quotes. */
    char *w = clean;
    for (const char *p = clean; *p; p++) {
        char ch = *p == '"' ? '\'' : (*p == '\n' || *p == '\t' || *p == '\r') ? ' ' : *p;
        if (ch == ' ' && (w == clean || w[-1] == ' '))
            continue;
        *w++ = ch;
    }
    while (w > clean && w[-1] == ' ')
        w--;
    *w = '\0';
    log_error(what, LOG_STR("error", clean));
    free(clean);
}

/* A dedicated connection with a bounded connect time, durable commits, and the statements
 * prepared. NULL when the database cannot be reached. */
static PGconn *writer_connect(const char *conninfo, bool prepare)
{
    PGconn *c = NULL;
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &msg);
    const char *kw[64];
    const char *val[64];
    size_t n = 0;
    bool has_timeout = false;
    bool ok = false;

    if (!opts) {
        log_error("intake cannot parse DATABASE_URL");
        goto out;
    }
    for (PQconninfoOption *o = opts; o->keyword && n < 60; o++) {
        if (!o->val)
            continue;
        has_timeout |= strcmp(o->keyword, "connect_timeout") == 0;
        kw[n] = o->keyword;
        val[n++] = o->val;
    }
    if (!has_timeout) {
        kw[n] = "connect_timeout";
        val[n++] = INTAKE_CONNECT_TIMEOUT_S;
    }
    kw[n] = NULL;
    val[n] = NULL;
    c = PQconnectdbParams(kw, val, 0);
    if (PQstatus(c) != CONNECTION_OK) {
        log_db_error("intake cannot connect to the database", c);
        goto out;
    }
    PQsetNoticeProcessor(c, ignore_notice, NULL);
    /* A 202 promises the delivery survives a crash: never let this session commit async. */
    PGresult *r = PQexec(c, "SET application_name = 'railhook-intake'; SET TIME ZONE 'UTC';"
                            " SELECT set_config('synchronous_commit', 'on', false)"
                            " WHERE current_setting('synchronous_commit') = 'off'");
    ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    for (size_t i = 0; ok && prepare && i < 3; i++) {
        r = PQprepare(c, stmt_names[i], stmt_sqls[i], stmt_nparams[i], NULL);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
    }
    if (!ok)
        log_db_error("intake cannot prepare its statements", c);
out:
    if (!ok && c) {
        PQfinish(c);
        c = NULL;
    }
    PQconninfoFree(opts);
    PQfreemem(msg);
    return c;
}

/* Runs one of the intake's statements, prepared unless a transaction pooler forbids it. */
static PGresult *run(struct intake *in, enum statement stmt, const char *const *params)
{
    PGresult *r = in->prepare ? PQexecPrepared(in->conn, stmt_names[stmt], stmt_nparams[stmt],
                                               params, NULL, NULL, 0)
                              : PQexecParams(in->conn, stmt_sqls[stmt], stmt_nparams[stmt], NULL,
                                             params, NULL, NULL, 0);
    return r;
}

/* Drops a connection that failed or whose state is unknown. */
static void writer_reset(struct intake *in)
{
    if (in->conn)
        PQfinish(in->conn);
    in->conn = NULL;
}

static bool conn_broken(PGconn *c)
{
    return !c || PQstatus(c) != CONNECTION_OK;
}

/* The names of the active services, or false when the query failed. */
static bool active_services(struct intake *in, char ***names, size_t *n)
{
    PGresult *r = run(in, STMT_SERVICES, NULL);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    *names = NULL;
    *n = 0;
    if (ok) {
        *n = (size_t)PQntuples(r);
        *names = xcalloc(*n ? *n : 1, sizeof(**names));
        for (size_t i = 0; i < *n; i++)
            (*names)[i] = xstrdup(PQgetvalue(r, (int)i, 0));
    } else {
        log_db_error("intake cannot read the active services", in->conn);
    }
    PQclear(r);
    return ok;
}

/* Adds one delivery with its jobs (ids assigned) to the batch document. */
static void batch_add(cJSON *arr, struct entry *e)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "source", e->source);
    cJSON_AddStringToObject(o, "delivery_id", e->delivery_id);
    cJSON_AddStringToObject(o, "event", e->event);
    cJSON *jobs = cJSON_AddArrayToObject(o, "jobs");
    for (size_t k = 0; k < e->mapped.njobs; k++) {
        const struct mapping_job *j = &e->mapped.jobs[k];
        cJSON *jo = cJSON_CreateObject();
        cJSON_AddStringToObject(jo, "id", e->out.job_ids[k]);
        cJSON_AddStringToObject(jo, "kind", j->kind);
        cJSON_AddItemReferenceToObject(jo, "payload", j->payload);
        if (j->dedupe_key)
            cJSON_AddStringToObject(jo, "dedupe_key", j->dedupe_key);
        if (j->service_name)
            cJSON_AddStringToObject(jo, "service_name", j->service_name);
        cJSON_AddItemToArray(jobs, jo);
    }
    cJSON_AddItemToArray(arr, o);
}

/* Runs the insert for entries[0..n) that have jobs; marks the new ones inserted. Returns
 * RH_OK, RH_UNAVAILABLE (connection trouble: outcome unknown) or RH_INVALID (the database
 * refused the batch; nothing was written). */
static enum rh_status insert_batch(struct intake *in, struct entry **entries, size_t n)
{
    enum rh_status st = RH_INVALID;
    cJSON *arr = cJSON_CreateArray();
    struct entry **pos = xcalloc(n ? n : 1, sizeof(*pos));
    size_t count = 0;
    char *text = NULL;
    PGresult *r = NULL;

    for (size_t i = 0; i < n; i++) {
        if (entries[i]->failed || entries[i]->mapped.outcome != MAPPING_JOBS ||
            entries[i]->mapped.njobs == 0)
            continue;
        batch_add(arr, entries[i]);
        pos[count++] = entries[i];
    }
    if (count == 0) {
        st = RH_OK;
        goto out;
    }
    text = cJSON_PrintUnformatted(arr);
    const char *params[] = {text, in->max_attempts};
    r = run(in, STMT_INSERT, params);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        bool transient = conn_broken(in->conn) || !state || strncmp(state, "08", 2) == 0 ||
                         strncmp(state, "57", 2) == 0 || strncmp(state, "53", 2) == 0 ||
                         strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0;
        log_db_error("intake batch insert failed", in->conn);
        st = transient ? RH_UNAVAILABLE : RH_INVALID;
        goto out;
    }
    for (int row = 0; row < PQntuples(r); row++) {
        int64_t i = 0;
        if (parse_i64(PQgetvalue(r, row, 0), 1, (int64_t)count, &i))
            pos[i - 1]->inserted = true;
    }
    st = RH_OK;
out:
    PQclear(r);
    cJSON_free(text);
    cJSON_Delete(arr);
    free(pos);
    return st;
}

/* Parses "{uuid,uuid}" into job ids. */
static void parse_ids(const char *text, struct intake_outcome *out)
{
    size_t len = strlen(text);
    out->job_ids = xcalloc(len / 36 + 1, sizeof(*out->job_ids));
    out->njobs = 0;
    const char *p = text;
    while (*p) {
        if (*p == '{' || *p == '}' || *p == ',') {
            p++;
            continue;
        }
        if (strlen(p) >= 36) {
            memcpy(out->job_ids[out->njobs], p, 36);
            out->job_ids[out->njobs][36] = '\0';
            out->njobs++;
        }
        p += strcspn(p, ",}");
    }
}

/* Fills the outcome of every entry that was neither inserted nor failed: a duplicate when a
 * row with its id exists, else ignored (no active services). */
static enum rh_status lookup_existing(struct intake *in, struct entry **entries, size_t n)
{
    enum rh_status st = RH_OK;
    cJSON *arr = cJSON_CreateArray();
    char *text = NULL;
    PGresult *r = NULL;
    size_t count = 0;

    for (size_t i = 0; i < n; i++) {
        if (entries[i]->inserted || entries[i]->failed)
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "i", (double)i);
        cJSON_AddStringToObject(o, "source", entries[i]->source);
        cJSON_AddStringToObject(o, "delivery_id", entries[i]->delivery_id);
        cJSON_AddItemToArray(arr, o);
        count++;
    }
    if (count == 0)
        goto out;
    text = cJSON_PrintUnformatted(arr);
    const char *params[] = {text};
    r = run(in, STMT_LOOKUP, params);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        log_db_error("intake duplicate lookup failed", in->conn);
        st = RH_UNAVAILABLE;
        goto out;
    }
    for (int row = 0; row < PQntuples(r); row++) {
        int64_t i = 0;
        if (!parse_i64(PQgetvalue(r, row, 0), 0, (int64_t)n - 1, &i))
            continue;
        struct entry *e = entries[i];
        intake_outcome_free(&e->out);
        e->out.duplicate = true;
        parse_ids(PQgetvalue(r, row, 1), &e->out);
    }
out:
    PQclear(r);
    cJSON_free(text);
    cJSON_Delete(arr);
    return st;
}

static void fail_all(struct entry **entries, size_t n, enum rh_status st)
{
    for (size_t i = 0; i < n; i++) {
        if (!entries[i]->failed) {
            entries[i]->failed = true;
            entries[i]->status = st;
        }
    }
}

/* Writes one batch and sets every entry's status and outcome. */
static void write_batch(struct intake *in, struct entry **entries, size_t n)
{
    char **names = NULL;
    size_t nnames = 0;
    bool fanout = false;

    if (conn_broken(in->conn)) {
        writer_reset(in);
        in->conn = writer_connect(in->cfg->database_url, in->prepare);
    }
    if (!in->conn) {
        fail_all(entries, n, RH_UNAVAILABLE);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        fanout |= entries[i]->mapped.outcome == MAPPING_FANOUT;
    if (fanout && !active_services(in, &names, &nnames)) {
        fail_all(entries, n, RH_UNAVAILABLE);
        writer_reset(in);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct entry *e = entries[i];
        mapping_redeploy_jobs(&e->mapped, (const char *const *)names, nnames);
        if (e->mapped.outcome == MAPPING_IGNORED) {
            e->out.ignored = true;
            snprintf(e->out.reason, sizeof(e->out.reason), "%s", e->mapped.reason);
        }
        e->out.job_ids = xcalloc(e->mapped.njobs + 1, sizeof(*e->out.job_ids));
        e->out.njobs = e->mapped.njobs;
        for (size_t k = 0; k < e->mapped.njobs; k++)
            uuid_v4(e->out.job_ids[k]);
    }

    enum rh_status st = insert_batch(in, entries, n);
    if (st == RH_INVALID && n > 1) {
        /* Somebody's delivery is unacceptable to the database: isolate it, one by one. */
        for (size_t i = 0; i < n && st != RH_UNAVAILABLE; i++) {
            st = insert_batch(in, &entries[i], 1);
            if (st == RH_INVALID) {
                entries[i]->failed = true;
                entries[i]->status = RH_INVALID;
            }
        }
    } else if (st == RH_INVALID) {
        entries[0]->failed = true;
        entries[0]->status = RH_INVALID;
    }
    if (st == RH_UNAVAILABLE) {
        fail_all(entries, n, RH_UNAVAILABLE);
        writer_reset(in);
        goto out;
    }
    if (lookup_existing(in, entries, n) != RH_OK) {
        for (size_t i = 0; i < n; i++)
            if (!entries[i]->inserted && !entries[i]->out.ignored && !entries[i]->failed) {
                entries[i]->failed = true;
                entries[i]->status = RH_UNAVAILABLE;
            }
        if (conn_broken(in->conn))
            writer_reset(in);
    }
    for (size_t i = 0; i < n; i++) {
        struct entry *e = entries[i];
        if (e->failed)
            continue;
        if (e->inserted || e->out.duplicate) {
            e->out.ignored = false;
            e->status = RH_OK;
        } else if (e->out.ignored) {
            e->out.njobs = 0;
            e->status = RH_OK;
        } else {
            /* The row it collided with is gone again: let the sender retry. */
            e->status = RH_UNAVAILABLE;
        }
    }
out:
    mapping_columns_free(names, nnames);
}

static bool same_key(const struct entry *a, const struct entry *b)
{
    return strcmp(a->source, b->source) == 0 && strcmp(a->delivery_id, b->delivery_id) == 0;
}

/* Moves queued entries into batch (lock held). An entry whose key is already in the batch
 * waits for the next one, so a delivery arriving twice at once is seen as a duplicate. */
static size_t take_batch(struct intake *in, struct entry **batch)
{
    size_t n = 0;
    size_t bytes = 0;
    struct entry **link = &in->head;
    in->tail = NULL;
    while (*link) {
        struct entry *e = *link;
        bool clash = false;
        for (size_t i = 0; i < n && !clash; i++)
            clash = same_key(batch[i], e);
        bool full =
            n == INTAKE_MAX_BATCH || (n > 0 && bytes + e->size_hint > INTAKE_MAX_BATCH_BYTES);
        if (clash || full) {
            in->tail = e;
            link = &e->next;
            continue;
        }
        *link = e->next;
        e->next = NULL;
        e->taken = true;
        bytes += e->size_hint;
        batch[n++] = e;
    }
    return n;
}

static void *writer_main(void *arg)
{
    struct intake *in = arg;
    struct entry **batch = xcalloc(INTAKE_MAX_BATCH, sizeof(*batch));

    in->conn = writer_connect(in->cfg->database_url, in->prepare);
    pthread_mutex_lock(&in->lock);
    for (;;) {
        while (!in->head && !in->stopping)
            pthread_cond_wait(&in->wake, &in->lock);
        if (!in->head)
            break;
        size_t n = take_batch(in, batch);
        pthread_mutex_unlock(&in->lock);

        write_batch(in, batch, n);

        pthread_mutex_lock(&in->lock);
        for (size_t i = 0; i < n; i++) {
            struct entry *e = batch[i];
            if (e->abandoned) {
                entry_free(e);
                continue;
            }
            e->done = true;
            pthread_cond_signal(&e->cond);
        }
    }
    pthread_mutex_unlock(&in->lock);
    writer_reset(in);
    free(batch);
    return NULL;
}

struct intake *intake_start(const struct config *cfg, char *err, size_t errlen)
{
    struct intake *in = xcalloc(1, sizeof(*in));
    in->cfg = cfg;
    in->prepare = cfg->queue_listen;
    snprintf(in->max_attempts, sizeof(in->max_attempts), "%d", cfg->job_max_attempts);
    if (mapping_rules_load(&in->rules, cfg, flows_kinds, err, errlen) != RH_OK) {
        free(in);
        return NULL;
    }
    pthread_mutex_init(&in->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&in->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&in->thread, NULL, writer_main, in) != 0) {
        snprintf(err, errlen, "cannot start the intake writer thread");
        pthread_cond_destroy(&in->wake);
        pthread_mutex_destroy(&in->lock);
        mapping_rules_free(&in->rules);
        free(in);
        return NULL;
    }
    in->running = true;
    return in;
}

void intake_stop(struct intake *in)
{
    if (!in)
        return;
    pthread_mutex_lock(&in->lock);
    in->stopping = true;
    pthread_cond_broadcast(&in->wake);
    pthread_mutex_unlock(&in->lock);
    if (in->running)
        pthread_join(in->thread, NULL);
    pthread_cond_destroy(&in->wake);
    pthread_mutex_destroy(&in->lock);
    mapping_rules_free(&in->rules);
    free(in);
}

/* Removes e from the queue if it is still there (lock held). */
static void unlink_entry(struct intake *in, struct entry *e)
{
    struct entry *prev = NULL;
    for (struct entry *p = in->head; p; prev = p, p = p->next) {
        if (p != e)
            continue;
        if (prev)
            prev->next = p->next;
        else
            in->head = p->next;
        if (in->tail == p)
            in->tail = prev;
        return;
    }
}

enum rh_status intake_submit(struct intake *in, const char *source, const char *delivery_id,
                             const char *event, struct mapping_result *mapped, size_t size_hint,
                             struct intake_outcome *out)
{
    enum rh_status st = RH_UNAVAILABLE;
    struct entry *e = xcalloc(1, sizeof(*e));
    struct timespec deadline;

    memset(out, 0, sizeof(*out));
    e->source = xstrdup(source);
    e->delivery_id = xstrdup(delivery_id);
    e->event = xstrdup(event ? event : "");
    e->mapped = *mapped;
    mapping_result_init(mapped);
    e->size_hint = size_hint;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&e->cond, &attr);
    pthread_condattr_destroy(&attr);

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    int wait_ms = in->cfg->db_pool_wait_ms;
    deadline.tv_sec += wait_ms / 1000;
    deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }

    pthread_mutex_lock(&in->lock);
    if (in->stopping) {
        pthread_mutex_unlock(&in->lock);
        goto out;
    }
    if (in->tail)
        in->tail->next = e;
    else
        in->head = e;
    in->tail = e;
    pthread_cond_signal(&in->wake);
    while (!e->done) {
        if (pthread_cond_timedwait(&e->cond, &in->lock, &deadline) == ETIMEDOUT && !e->done)
            break;
    }
    if (!e->done) {
        /* Gave up: the entry may still be committed later, but it was never answered 202. */
        if (e->taken) {
            e->abandoned = true;
            e = NULL;
        } else {
            unlink_entry(in, e);
        }
        pthread_mutex_unlock(&in->lock);
        goto out;
    }
    pthread_mutex_unlock(&in->lock);
    st = e->status;
    if (st == RH_OK) {
        *out = e->out;
        memset(&e->out, 0, sizeof(e->out));
    }
out:
    entry_free(e);
    return st;
}
