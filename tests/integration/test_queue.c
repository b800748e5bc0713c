/* The durable job queue against a real PostgreSQL: the backoff function, the store's claim and
 * guarded transitions, and worker pools running test handlers in this process. */
#include "support/harness.h"

#include "store/enqueue.h"
#include "store/jobs.h"
#include "store/store.h"
#include "util/log.h"
#include "util/redact.h"
#include "util/util.h"
#include "queue/queue.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------- helpers ---------- */

/* The stores this test opened (closed by its teardown): one for its connections, and one per
 * pool, with the policy the pool's configuration asks for as `railhook serve` does. */
static struct store *stores[16];
static int nstores;

static struct store *store_for(const char *db, bool prepared)
{
    cr_assert_lt(nstores, 16);
    stores[nstores] = store_open(db, 1, 2000, prepared);
    return stores[nstores++];
}

static void stores_close(void)
{
    while (nstores > 0)
        store_close(stores[--nstores]);
}

static PGconn *conn_of(const char *db)
{
    char err[256] = "";
    PGconn *c = store_conn_open(nstores ? stores[0] : store_for(db, true), STORE_SESSION_DEFAULT,
                                err, sizeof(err));
    cr_assert_not_null(c, "%s", err);
    return c;
}

/* Enqueues jobs of their own (no delivery) through the one enqueue path. */
static enum rh_status enqueue(PGconn *c, const struct store_job_new *jobs, size_t n,
                              char (*ids)[37])
{
    struct store_enqueue g = {.jobs = jobs, .njobs = n, .ids = ids};
    char err[256] = "";
    enum rh_status st = store_job_enqueue(c, &g, 1, err, sizeof(err));
    cr_assert(st != RH_OK || g.enqueued);
    return st;
}

static void enqueue_one(PGconn *c, const char *kind, const char *payload, int max_attempts,
                        int64_t delay_ms, char id[37])
{
    cJSON *p = payload ? cJSON_Parse(payload) : NULL;
    cr_assert(!payload || p, "test payload is JSON");
    struct store_job_new j = {
        .kind = kind, .payload = p, .max_attempts = max_attempts, .delay_ms = delay_ms};
    char ids[1][37];
    cr_assert_eq(enqueue(c, &j, 1, ids), RH_OK);
    memcpy(id, ids[0], 37);
    cJSON_Delete(p);
}

static char *vsql(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
static char *vsql(const char *fmt, va_list ap)
{
    char buf[4096];
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    cr_assert(n > 0 && (size_t)n < sizeof(buf));
    return xstrdup(buf);
}

static long q_long(const char *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static long q_long(const char *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *sql = vsql(fmt, ap);
    va_end(ap);
    long v = th_sql_long(db, sql);
    free(sql);
    return v;
}

static char *q_str(const char *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *q_str(const char *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *sql = vsql(fmt, ap);
    va_end(ap);
    char *v = th_sql(db, sql);
    free(sql);
    return v;
}

/* Polls until the query returns want, at most timeout_ms. */
static bool wait_long(const char *db, long want, int timeout_ms, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool wait_long(const char *db, long want, int timeout_ms, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *sql = vsql(fmt, ap);
    va_end(ap);
    int64_t end = time_mono_ms() + timeout_ms;
    bool ok = false;
    for (;;) {
        if (th_sql_long(db, sql) == want) {
            ok = true;
            break;
        }
        if (time_mono_ms() > end)
            break;
        usleep(20 * 1000);
    }
    free(sql);
    return ok;
}

static char *state_of(const char *db, const char *id)
{
    return q_str(db, "SELECT state FROM jobs WHERE id = '%s'", id);
}

static void claim_one(PGconn *c, const char *owner, int lease_s, struct store_job_claimed *out,
                      bool want)
{
    struct store_job_claimed *rows = NULL;
    int n = 0;
    char err[256] = "";
    const char *owners[] = {owner};
    cr_assert_eq(store_job_claim(c, owners, 1, lease_s, &rows, &n, err, sizeof(err)), RH_OK, "%s",
                 err);
    cr_assert_eq(n, want ? 1 : 0);
    if (n == 1) {
        *out = rows[0];
        rows[0].payload = rows[0].steps = rows[0].service_name = NULL;
    }
    store_job_claimed_free(rows, n);
}

static void claimed_clear(struct store_job_claimed *j)
{
    free(j->payload);
    free(j->steps);
    free(j->service_name);
    memset(j, 0, sizeof(*j));
}

static bool finish(PGconn *c, const char *id, int attempt, const char *owner,
                   enum store_job_outcome o, const char *error)
{
    struct store_job_finish f = {.guard = {id, attempt, owner},
                                 .outcome = o,
                                 .error = error,
                                 .level = "info",
                                 .message = "test"};
    char err[256] = "";
    cr_assert_eq(store_job_finish(c, &f, 1, err, sizeof(err)), RH_OK, "%s", err);
    return f.applied;
}

/* ---------- queue_backoff: the pure backoff function ---------- */

Test(queue_backoff, ceiling_doubles_and_is_capped)
{
    cr_assert_eq(queue_backoff_ceiling_ms(1, 100, 1000), 100);
    cr_assert_eq(queue_backoff_ceiling_ms(2, 100, 1000), 200);
    cr_assert_eq(queue_backoff_ceiling_ms(3, 100, 1000), 400);
    cr_assert_eq(queue_backoff_ceiling_ms(4, 100, 1000), 800);
    cr_assert_eq(queue_backoff_ceiling_ms(5, 100, 1000), 1000);
    cr_assert_eq(queue_backoff_ceiling_ms(100, 100, 1000), 1000);
    cr_assert_eq(queue_backoff_ceiling_ms(0, 100, 1000), 100);
    cr_assert_eq(queue_backoff_ceiling_ms(1000, 1000, 86400000), 86400000);
}

Test(queue_backoff, full_jitter_spans_zero_to_the_ceiling)
{
    const int samples = 20000;
    int64_t lo = INT64_MAX, hi = -1;
    double sum = 0;
    for (int i = 0; i < samples; i++) {
        uint64_t r;
        random_bytes(&r, sizeof(r));
        int64_t d = queue_backoff_ms(3, 100, 10000, 0, r);
        cr_assert(d >= 0 && d <= 400, "delay %lld out of [0, 400]", (long long)d);
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
        sum += (double)d;
    }
    cr_assert_lt(lo, 10, "full jitter reaches near zero (min %lld)", (long long)lo);
    cr_assert_gt(hi, 390, "full jitter reaches near the ceiling (max %lld)", (long long)hi);
    double mean = sum / samples;
    cr_assert(mean > 180 && mean < 220, "uniform over [0, 400]: mean %.1f", mean);
    cr_assert_eq(queue_backoff_ms(3, 100, 10000, 0, 0), 0);
    cr_assert_leq(queue_backoff_ms(3, 100, 10000, 0, UINT64_MAX), 400);
    cr_assert_leq(queue_backoff_ms(40, 100, 1000, 0, UINT64_MAX), 1000);
}

Test(queue_backoff, retry_after_is_a_floor)
{
    for (int i = 0; i < 1000; i++) {
        uint64_t r;
        random_bytes(&r, sizeof(r));
        cr_assert_eq(queue_backoff_ms(2, 100, 1000, 5000, r), 5000);
        cr_assert_geq(queue_backoff_ms(2, 100, 1000, 150, r), 150);
        cr_assert_leq(queue_backoff_ms(2, 100, 1000, 150, r), 200);
    }
}

/* ---------- queue_store: claim and transitions ---------- */

static char *db;
static PGconn *conn;

static void store_setup(void)
{
    db = th_db_create();
    conn = conn_of(db);
}

static void store_teardown(void)
{
    PQfinish(conn);
    stores_close();
    th_db_drop(db);
}

Test(queue_store, enqueue_batch_dedupe_and_validation, .init = store_setup, .fini = store_teardown)
{
    cJSON *n1 = cJSON_Parse("{\"n\":1}"), *n2 = cJSON_Parse("{\"n\":2}");
    cJSON *list = cJSON_Parse("[1]");
    struct store_job_new jobs[3] = {
        {.kind = "noop", .payload = n1, .dedupe_key = "k1"},
        {.kind = "noop", .payload = n2, .service_name = "osp-worker-a"},
        {.kind = "provision", .max_attempts = 7},
    };
    char ids[3][37];
    cr_assert_eq(enqueue(conn, jobs, 3, ids), RH_OK);
    cr_assert(uuid_valid(ids[0]) && uuid_valid(ids[1]) && uuid_valid(ids[2]));
    cr_assert_eq(q_long(db, "SELECT (payload->>'n')::int FROM jobs WHERE id = '%s'", ids[1]), 2);
    cr_assert_eq(q_long(db, "SELECT max_attempts FROM jobs WHERE id = '%s'", ids[2]), 7);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM job_events WHERE message = 'enqueued'"), 3);

    struct store_job_new dup = {.kind = "noop", .dedupe_key = "k1"};
    cr_assert_eq(enqueue(conn, &dup, 1, NULL), RH_CONFLICT);
    struct store_job_new bad_payload = {.kind = "noop", .payload = list};
    cr_assert_eq(enqueue(conn, &bad_payload, 1, NULL), RH_INVALID);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 3);
    cJSON_Delete(n1);
    cJSON_Delete(n2);
    cJSON_Delete(list);
}

/* How often this session's named statement was planned for any parameters (generic) and for
 * its parameters' values (custom); pg_prepared_statements is per session. */
static void plans_of(PGconn *c, const char *name, long *generic, long *custom)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = '%s'",
             name);
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    cr_assert_eq(PQntuples(r), 1, "%s is prepared in this session", name);
    *generic = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    *custom = strtol(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
}

Test(queue_store, claims_of_one_size_are_planned_once_not_per_execution, .init = store_setup,
     .fini = store_teardown)
{
    /* 30 rounds of: claim 2 (finishing the 2 claimed before), then a claim of 100 (past the
     * sizes written into the statement's text) that finds nothing. */
    struct store_job_new j = {.kind = "noop"};
    struct store_job_new batch[60];
    for (int i = 0; i < 60; i++)
        batch[i] = j;
    cr_assert_eq(enqueue(conn, batch, 60, NULL), RH_OK);
    const char *owners[100];
    for (int i = 0; i < 100; i++)
        owners[i] = i % 2 ? "w-b" : "w-a";
    struct store_job_claimed *rows = NULL;
    int n = 0;
    char err[256] = "";
    cr_assert_eq(store_job_claim(conn, owners, 2, 30, &rows, &n, err, sizeof(err)), RH_OK, "%s",
                 err);
    cr_assert_eq(n, 2);
    for (int round = 1; round < 30; round++) {
        struct store_job_finish f[2];
        for (int k = 0; k < 2; k++)
            f[k] = (struct store_job_finish){.guard = {rows[k].id, rows[k].attempt, rows[k].owner},
                                             .outcome = STORE_JOB_SUCCEEDED,
                                             .level = "info",
                                             .message = "succeeded"};
        struct store_job_claimed *next = NULL;
        int nnext = 0;
        cr_assert_eq(
            store_job_finish_claim(conn, f, 2, owners, 2, 30, &next, &nnext, err, sizeof(err)),
            RH_OK, "%s", err);
        cr_assert(f[0].applied && f[1].applied, "round %d", round);
        cr_assert_eq(nnext, 2, "round %d", round);
        store_job_claimed_free(rows, n);
        rows = next;
        n = nnext;
    }
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs WHERE state = 'succeeded'"), 58);
    struct store_job_claimed *none = NULL;
    int nnone = -1;
    /* Jobs of their own have no manifest, so the last two wait for nobody: the wide claim
     * takes exactly them, the statement with the limit as a parameter. */
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs WHERE state = 'running'"), 2);
    cr_assert_eq(store_job_claim(conn, owners, 100, 30, &none, &nnone, err, sizeof(err)), RH_OK,
                 "%s", err);
    cr_assert_eq(nnone, 0);
    store_job_claimed_free(none, nnone);
    store_job_claimed_free(rows, n);

    long generic = 0, custom = 0;
    plans_of(conn, "railhook_finish_claim_2", &generic, &custom);
    cr_assert_eq(generic + custom, 29);
    cr_assert_leq(custom, 5, "PostgreSQL settles on a plan for any values after five");
    cr_assert_geq(generic, 24);
}

Test(queue_store, each_event_keeps_its_job_as_the_change_left_it, .init = store_setup,
     .fini = store_teardown)
{
    /* The enqueue, the claim and the finish pass the summary from the row they changed; any
     * other writer leaves it to the trigger. Either way it is the job right after the change. */
    char id[37];
    enqueue_one(conn, "noop", NULL, 0, 0, id);
    struct store_job_claimed j = {0};
    claim_one(conn, "w-1", 30, &j, true);
    cr_assert(finish(conn, id, j.attempt, "w-1", STORE_JOB_SUCCEEDED, NULL));
    claimed_clear(&j);
    cr_assert_eq(q_long(db,
                        "INSERT INTO job_events (job_id, level, message) VALUES ('%s', 'info',"
                        " 'by hand') RETURNING 1",
                        id),
                 1);
    const char *states[][2] = {{"enqueued", "queued"},
                               {"claimed", "running"},
                               {"test", "succeeded"},
                               {"by hand", "succeeded"}};
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        char *state = q_str(db,
                            "SELECT summary->>'state' FROM job_events WHERE job_id = '%s'"
                            " AND message = '%s'",
                            id, states[i][0]);
        cr_assert_str_eq(state, states[i][1], "the %s event", states[i][0]);
        free(state);
    }
    /* Nothing changed the job after it finished: both later summaries are its document now. */
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM job_events e, jobs j WHERE j.id = e.job_id"
                        " AND j.id = '%s' AND e.message IN ('test', 'by hand')"
                        " AND e.summary::jsonb = railhook_job_summary(j)::jsonb",
                        id),
                 2);
    cr_assert_eq(q_long(db,
                        "SELECT (summary->>'attempt')::int FROM job_events WHERE job_id = '%s'"
                        " AND message = 'claimed'",
                        id),
                 1);
}

Test(queue_store, claim_takes_due_jobs_oldest_first, .init = store_setup, .fini = store_teardown)
{
    char a[37], b[37], later[37];
    enqueue_one(conn, "noop", NULL, 0, 0, a);
    enqueue_one(conn, "noop", NULL, 0, 0, b);
    enqueue_one(conn, "noop", NULL, 0, 60000, later);

    struct store_job_claimed j;
    claim_one(conn, "me/w0/1", 30, &j, true);
    cr_assert_str_eq(j.id, a);
    cr_assert_eq(j.attempt, 1);
    cr_assert_str_eq(j.owner, "me/w0/1");
    cr_assert_str_eq(j.payload, "{}");
    claimed_clear(&j);
    claim_one(conn, "me/w0/2", 30, &j, true);
    cr_assert_str_eq(j.id, b);
    claimed_clear(&j);
    claim_one(conn, "me/w0/3", 30, &j, false); /* the third is not due yet */

    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'running' AND "
                        "attempt = 1 AND lease_owner = 'me/w0/1' AND started_at IS NOT NULL AND "
                        "lease_expires_at BETWEEN now() + interval '29 s' AND now() + "
                        "interval '31 s'",
                        a),
                 1);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM job_events WHERE job_id = '%s' AND "
                        "message = 'claimed' AND details->>'owner' = 'me/w0/1'",
                        a),
                 1);
    int64_t due = -2;
    char err[256];
    cr_assert_eq(store_job_next_due(conn, &due, err, sizeof(err)), RH_OK);
    cr_assert(due > 50000 && due <= 60000, "next due in %lld ms", (long long)due);
}

struct claimer {
    struct store *store;
    int index;
    char (*seen)[37];
    int *nseen;
    pthread_mutex_t *mu;
    int errors;
};

static void *claim_loop(void *arg)
{
    struct claimer *cl = arg;
    char err[256];
    PGconn *c = store_conn_open(cl->store, STORE_SESSION_DEFAULT, err, sizeof(err));
    if (!c) {
        cl->errors++;
        return NULL;
    }
    for (int round = 0;; round++) {
        char tokens[4][64];
        const char *owners[4];
        int n = 1 + (round + cl->index) % 4;
        for (int i = 0; i < n; i++) {
            snprintf(tokens[i], sizeof(tokens[i]), "t%d/w%d/%d", cl->index, i, round);
            owners[i] = tokens[i];
        }
        struct store_job_claimed *rows = NULL;
        int got = 0;
        if (store_job_claim(c, owners, n, 30, &rows, &got, err, sizeof(err)) != RH_OK) {
            cl->errors++;
            break;
        }
        pthread_mutex_lock(cl->mu);
        for (int i = 0; i < got; i++)
            memcpy(cl->seen[(*cl->nseen)++], rows[i].id, 37);
        pthread_mutex_unlock(cl->mu);
        store_job_claimed_free(rows, got);
        if (got == 0)
            break;
    }
    PQfinish(c);
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

Test(queue_store, claims_are_exclusive_under_contention, .init = store_setup,
     .fini = store_teardown, .timeout = 60)
{
    enum { JOBS = 400, THREADS = 8 };
    struct store_job_new jobs[JOBS];
    for (int i = 0; i < JOBS; i++)
        jobs[i] = (struct store_job_new){.kind = "noop"};
    cr_assert_eq(enqueue(conn, jobs, JOBS, NULL), RH_OK);

    static char seen[JOBS * 2][37];
    int nseen = 0;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    struct claimer cl[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        cl[i] = (struct claimer){
            .store = stores[0], .index = i, .seen = seen, .nseen = &nseen, .mu = &mu};
        pthread_create(&th[i], NULL, claim_loop, &cl[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(cl[i].errors, 0);
    }
    cr_assert_eq(nseen, JOBS, "every job claimed once: %d claims for %d jobs", nseen, JOBS);
    qsort(seen, (size_t)nseen, sizeof(seen[0]), cmp_id);
    for (int i = 1; i < nseen; i++)
        cr_assert_str_neq(seen[i - 1], seen[i], "job %s claimed twice", seen[i]);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs WHERE state = 'running' AND "
                                 "attempt = 1"),
                 JOBS);
}

Test(queue_store, a_stale_owner_cannot_touch_a_rescued_job, .init = store_setup,
     .fini = store_teardown)
{
    char id[37], err[256] = "";
    enqueue_one(conn, "noop", NULL, 0, 0, id);
    struct store_job_claimed a;
    claim_one(conn, "old/w0/1", 30, &a, true);

    /* The owner's instance dies: its lease runs out and the reaper re-queues the job. */
    free(
        q_str(db, "UPDATE jobs SET lease_expires_at = now() - interval '1 s' WHERE id = '%s'", id));
    int rescued = 0, poisoned = 0;
    cr_assert_eq(store_job_rescue(conn, 5, 100, &rescued, &poisoned, err, sizeof(err)), RH_OK);
    cr_assert_eq(rescued, 1);
    cr_assert_eq(poisoned, 0);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'queued' AND "
                        "attempt = 0 AND rescues = 1 AND lease_owner IS NULL",
                        id),
                 1, "a crash does not use up an attempt");
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM job_events WHERE job_id = '%s' AND "
                        "message = 'rescued' AND details->>'owner' = 'old/w0/1'",
                        id),
                 1);

    struct store_job_claimed b;
    claim_one(conn, "new/w3/9", 30, &b, true);
    cr_assert_eq(b.attempt, a.attempt, "same attempt number, different owner");

    /* Everything the stale owner tries is refused. */
    struct store_job_guard stale = {id, a.attempt, a.owner};
    bool cancel = false;
    cr_assert_eq(store_job_checkpoint(conn, &stale, "x", &cancel, err, sizeof(err)), RH_LEASE_LOST);
    cr_assert_eq(store_job_step_save(conn, &stale, "svc", "\"stale\"", err, sizeof(err)),
                 RH_LEASE_LOST);
    cr_assert_eq(
        store_job_railway_set(conn, &stale, "svc-stale", NULL, NULL, NULL, NULL, err, sizeof(err)),
        RH_LEASE_LOST);
    cr_assert_not(finish(conn, id, a.attempt, a.owner, STORE_JOB_FAILED, "{\"code\":\"stale\"}"));
    char *st = state_of(db, id);
    cr_assert_str_eq(st, "running");
    free(st);

    /* The new owner's work goes through. */
    struct store_job_guard fresh = {id, b.attempt, b.owner};
    cr_assert_eq(store_job_step_save(conn, &fresh, "svc", "\"new\"", err, sizeof(err)), RH_OK);
    cr_assert(finish(conn, id, b.attempt, b.owner, STORE_JOB_SUCCEEDED, NULL));
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'succeeded' "
                        "AND steps = '{\"svc\": \"new\"}' AND railway_service_id IS NULL AND "
                        "last_error IS NULL AND finished_at IS NOT NULL",
                        id),
                 1);
    claimed_clear(&a);
    claimed_clear(&b);
}

Test(queue_store, a_wrong_attempt_or_state_is_refused, .init = store_setup, .fini = store_teardown)
{
    char id[37];
    enqueue_one(conn, "noop", NULL, 0, 0, id);
    struct store_job_claimed j;
    claim_one(conn, "o/w0/1", 30, &j, true);
    cr_assert_not(finish(conn, id, j.attempt + 1, j.owner, STORE_JOB_SUCCEEDED, NULL));
    cr_assert(finish(conn, id, j.attempt, j.owner, STORE_JOB_SUCCEEDED, NULL));
    /* Finishing twice: the job is no longer running. */
    cr_assert_not(finish(conn, id, j.attempt, j.owner, STORE_JOB_FAILED, NULL));
    char *st = state_of(db, id);
    cr_assert_str_eq(st, "succeeded");
    free(st);
    claimed_clear(&j);
}

Test(queue_store, retry_and_handback_requeue_with_the_right_attempt, .init = store_setup,
     .fini = store_teardown)
{
    char id[37];
    enqueue_one(conn, "noop", NULL, 3, 0, id);
    struct store_job_claimed j;
    claim_one(conn, "o/w0/1", 30, &j, true);
    struct store_job_finish f = {.guard = {id, 1, j.owner},
                                 .outcome = STORE_JOB_RETRY,
                                 .delay_ms = 5000,
                                 .error = "{\"code\":\"flaky\"}",
                                 .level = "warn",
                                 .message = "retry scheduled",
                                 .details = "{\"delay_ms\":5000}"};
    char err[256];
    cr_assert_eq(store_job_finish(conn, &f, 1, err, sizeof(err)), RH_OK);
    cr_assert(f.applied);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'queued' AND "
                        "attempt = 1 AND last_error->>'code' = 'flaky' AND run_after > "
                        "now() + interval '4 s' AND lease_owner IS NULL",
                        id),
                 1);
    claimed_clear(&j);
    free(q_str(db, "UPDATE jobs SET run_after = now() WHERE id = '%s'", id));
    claim_one(conn, "o/w0/2", 30, &j, true);
    cr_assert_eq(j.attempt, 2);
    cr_assert(finish(conn, id, 2, j.owner, STORE_JOB_HANDBACK, NULL));
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'queued' AND "
                        "attempt = 1 AND run_after <= now()",
                        id),
                 1, "a handed-back run does not count");
    claimed_clear(&j);
}

Test(queue_store, repeated_rescues_poison_the_job, .init = store_setup, .fini = store_teardown)
{
    char id[37], err[256];
    enqueue_one(conn, "noop", NULL, 0, 0, id);
    for (int i = 1; i <= 3; i++) {
        struct store_job_claimed j;
        claim_one(conn, "o/w0/1", 30, &j, true);
        claimed_clear(&j);
        free(q_str(db,
                   "UPDATE jobs SET lease_expires_at = now() - interval '1 s' "
                   "WHERE id = '%s'",
                   id));
        int rescued = 0, poisoned = 0;
        cr_assert_eq(store_job_rescue(conn, 2, 100, &rescued, &poisoned, err, sizeof(err)), RH_OK);
        cr_assert_eq(rescued, i <= 2 ? 1 : 0);
        cr_assert_eq(poisoned, i <= 2 ? 0 : 1);
    }
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'failed' AND "
                        "rescues = 3 AND last_error->>'code' = 'poisoned' AND finished_at "
                        "IS NOT NULL",
                        id),
                 1);
}

Test(queue_store, heartbeat_extends_leases_without_touching_updated_at, .init = store_setup,
     .fini = store_teardown)
{
    char id[37], err[256];
    enqueue_one(conn, "noop", NULL, 0, 0, id);
    struct store_job_claimed j;
    claim_one(conn, "o/w0/1", 5, &j, true);
    char *updated = q_str(db, "SELECT updated_at FROM jobs WHERE id = '%s'", id);
    struct store_job_lease l[2] = {{.guard = {id, j.attempt, j.owner}},
                                   {.guard = {id, j.attempt, "someone/else"}}};
    cr_assert_eq(store_job_heartbeat(conn, l, 2, 300, err, sizeof(err)), RH_OK, "%s", err);
    cr_assert(l[0].kept);
    cr_assert_not(l[1].kept);
    cr_assert_not(l[0].cancel_requested);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND lease_expires_at > "
                        "now() + interval '290 s'",
                        id),
                 1);
    char *after = q_str(db, "SELECT updated_at FROM jobs WHERE id = '%s'", id);
    cr_assert_str_eq(updated, after, "a heartbeat is not a change the API reports");
    char state[16];
    cr_assert_eq(store_job_cancel(conn, id, state, err, sizeof(err)), RH_OK);
    cr_assert_eq(store_job_heartbeat(conn, l, 1, 300, err, sizeof(err)), RH_OK);
    cr_assert(l[0].cancel_requested);
    free(updated);
    free(after);
    claimed_clear(&j);
}

Test(queue_store, cancel_by_state, .init = store_setup, .fini = store_teardown)
{
    char queued[37], running[37], worked[37], done[37], state[16], err[256];
    enqueue_one(conn, "noop", NULL, 0, 0, running);
    enqueue_one(conn, "noop", NULL, 0, 0, done);
    enqueue_one(conn, "noop", NULL, 0, 60000, queued);
    enqueue_one(conn, "noop", NULL, 0, 60000, worked);
    struct store_job_claimed r, d;
    claim_one(conn, "o/w0/1", 30, &r, true);
    claim_one(conn, "o/w1/1", 30, &d, true);
    cr_assert(finish(conn, done, d.attempt, d.owner, STORE_JOB_SUCCEEDED, NULL));
    free(q_str(db, "UPDATE jobs SET steps = '{\"svc\": \"s-1\"}', attempt = 1 WHERE id = '%s'",
               worked));

    cr_assert_eq(store_job_cancel(conn, queued, state, err, sizeof(err)), RH_OK);
    cr_assert_str_eq(state, "cancelled");
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND finished_at IS NOT "
                        "NULL AND last_error->>'code' = 'cancelled'",
                        queued),
                 1);

    cr_assert_eq(store_job_cancel(conn, running, state, err, sizeof(err)), RH_OK);
    cr_assert_str_eq(state, "running");
    cr_assert_eq(
        q_long(db, "SELECT count(*) FROM jobs WHERE id = '%s' AND cancel_requested", running), 1);
    bool cancel = false;
    struct store_job_guard g = {running, r.attempt, r.owner};
    cr_assert_eq(store_job_checkpoint(conn, &g, "next", &cancel, err, sizeof(err)), RH_OK);
    cr_assert(cancel, "the handler sees the request at its next step boundary");

    /* A queued job that already did work is cancelled by running its compensation. */
    cr_assert_eq(store_job_cancel(conn, worked, state, err, sizeof(err)), RH_OK);
    cr_assert_str_eq(state, "queued");
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND cancel_requested AND "
                        "run_after <= now()",
                        worked),
                 1);

    cr_assert_eq(store_job_cancel(conn, done, state, err, sizeof(err)), RH_CONFLICT);
    cr_assert_str_eq(state, "succeeded");
    cr_assert_eq(
        store_job_cancel(conn, "00000000-0000-4000-8000-000000000000", state, err, sizeof(err)),
        RH_NOT_FOUND);
    cr_assert_eq(store_job_cancel(conn, "not-a-uuid", state, err, sizeof(err)), RH_NOT_FOUND);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM job_events WHERE message IN "
                                 "('cancelled', 'cancel requested')"),
                 3);
    claimed_clear(&r);
    claimed_clear(&d);
}

Test(queue_store, retry_gives_a_fresh_set_of_attempts, .init = store_setup, .fini = store_teardown)
{
    char failed[37], queued[37], state[16], err[256];
    enqueue_one(conn, "noop", NULL, 2, 0, failed);
    enqueue_one(conn, "noop", NULL, 0, 60000, queued);
    struct store_job_claimed j;
    claim_one(conn, "o/w0/1", 30, &j, true);
    free(q_str(db, "UPDATE jobs SET steps = '{\"svc\": \"s-1\"}' WHERE id = '%s'", failed));
    cr_assert(finish(conn, failed, j.attempt, j.owner, STORE_JOB_FAILED,
                     "{\"code\":\"bad_input\",\"message\":\"nope\"}"));

    cr_assert_eq(store_job_retry(conn, failed, 5, state, err, sizeof(err)), RH_OK, "%s", err);
    cr_assert_str_eq(state, "queued");
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'queued' AND "
                        "attempt = 0 AND rescues = 0 AND max_attempts = 5 AND finished_at "
                        "IS NULL AND NOT cancel_requested AND steps ? 'svc'",
                        failed),
                 1);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM job_events WHERE job_id = '%s' AND "
                        "message = 'retried'",
                        failed),
                 1);
    cr_assert_eq(store_job_retry(conn, queued, 5, state, err, sizeof(err)), RH_CONFLICT);
    cr_assert_str_eq(state, "queued");
    cr_assert_eq(store_job_cancel(conn, queued, state, err, sizeof(err)), RH_OK);
    cr_assert_eq(store_job_retry(conn, queued, 0, state, err, sizeof(err)), RH_OK);
    cr_assert_eq(q_long(db, "SELECT max_attempts FROM jobs WHERE id = '%s'", queued), 3);
    cr_assert_eq(
        store_job_retry(conn, "00000000-0000-4000-8000-000000000000", 3, state, err, sizeof(err)),
        RH_NOT_FOUND);
    claimed_clear(&j);
}

Test(queue_store, prune_removes_old_finished_jobs_in_batches, .init = store_setup,
     .fini = store_teardown)
{
    free(th_sql(db, "INSERT INTO jobs (kind, state, finished_at) SELECT 'noop', "
                    "(ARRAY['succeeded','failed','cancelled'])[1 + g % 3], "
                    "now() - interval '40 days' FROM generate_series(1, 1200) g"));
    free(th_sql(db, "INSERT INTO job_events (job_id, message) SELECT id, 'old' FROM jobs"));
    free(th_sql(db, "INSERT INTO jobs (kind, state, finished_at) SELECT 'noop', 'succeeded', "
                    "now() - interval '5 days' FROM generate_series(1, 5)"));
    free(th_sql(db, "INSERT INTO jobs (kind, state, created_at) SELECT 'noop', 'queued', "
                    "now() - interval '90 days' FROM generate_series(1, 5)"));
    long deleted = 0, total = 0;
    char err[256];
    int rounds = 0;
    do {
        cr_assert_eq(store_job_prune(conn, 30, 500, &deleted, err, sizeof(err)), RH_OK, "%s", err);
        cr_assert_leq(deleted, 500);
        total += deleted;
        rounds++;
    } while (deleted == 500);
    cr_assert_eq(total, 1200);
    cr_assert_eq(rounds, 3);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 10);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM job_events WHERE message = 'old'"), 0);
}

/* ---------- queue_pool: worker pools with test handlers ---------- */

/* Records what a handler did in the test's runs table (on the worker's connection). */
static void note(struct job_run *run, const struct job *job, const char *what)
{
    char attempt[16];
    snprintf(attempt, sizeof(attempt), "%d", job->attempt);
    const char *p[] = {job->id, attempt, job_lease_owner(run), what};
    PQclear(PQexecParams(job_db(run),
                         "INSERT INTO runs (job_id, attempt, owner, what) VALUES ($1, $2, $3, $4)",
                         4, NULL, p, NULL, NULL, 0));
}

static const char *pstr(const struct job *job, const char *key, const char *def)
{
    const cJSON *v = cJSON_GetObjectItem(job->payload, key);
    return cJSON_IsString(v) ? v->valuestring : def;
}

static int pint(const struct job *job, const char *key, int def)
{
    const cJSON *v = cJSON_GetObjectItem(job->payload, key);
    return cJSON_IsNumber(v) ? v->valueint : def;
}

static enum rh_status t_run(void *ctx, struct job_run *run, const struct job *job,
                            struct job_result *res)
{
    (void)ctx;
    const char *mode = pstr(job, "mode", "ok");
    note(run, job, "run");
    if (strcmp(mode, "permanent") == 0) {
        res->details = cJSON_CreateObject();
        cJSON_AddStringToObject(res->details, "echo", pstr(job, "msg", ""));
        return job_result_fail(res, RH_PERMANENT, "bad_input", "nope: %s", pstr(job, "msg", ""));
    }
    if (strcmp(mode, "transient") == 0)
        return job_result_fail(res, RH_TRANSIENT, "flaky", "try again");
    if (strcmp(mode, "fail_first") == 0 && job->attempt <= pint(job, "n", 1))
        return job_result_fail(res, RH_TRANSIENT, "flaky", "try again");
    if (strcmp(mode, "retry_after") == 0 && job->attempt == 1) {
        res->retry_after_ms = pint(job, "ms", 0);
        return job_result_fail(res, RH_TRANSIENT, "rate_limited", "429");
    }
    if (strcmp(mode, "loop") == 0) {
        for (int i = 0; i < 400; i++) {
            enum rh_status st = job_checkpoint(run, i % 2 ? "odd" : "even");
            if (st == RH_OK)
                st = job_sleep(run, 50);
            if (st != RH_OK)
                return st;
        }
        return RH_OK;
    }
    if (strcmp(mode, "block") == 0)
        return job_sleep(run, pint(job, "ms", 60000));
    if (strcmp(mode, "ignore_stop") == 0) {
        usleep((useconds_t)pint(job, "ms", 1000) * 1000);
        return RH_OK;
    }
    if (strcmp(mode, "save_then_wait") == 0) {
        cJSON *v = cJSON_CreateString("svc-1");
        enum rh_status st = job_step_save(run, "service", v);
        cJSON_Delete(v);
        if (st != RH_OK)
            return st;
        res->retry_after_ms = 60000;
        return job_result_fail(res, RH_TRANSIENT, "later", "come back in a minute");
    }
    if (strcmp(mode, "resume") == 0) {
        if (job_step_get(run, "service"))
            return RH_OK;
        cJSON *v = cJSON_CreateString("svc-1");
        job_step_save(run, "service", v);
        cJSON_Delete(v);
        return job_result_fail(res, RH_PERMANENT, "broken", "fails until retried");
    }
    if (strcmp(mode, "stale") == 0) {
        usleep((useconds_t)pint(job, "ms", 1000) * 1000);
        cJSON *v = cJSON_CreateTrue();
        enum rh_status s1 = job_step_save(run, "late", v);
        cJSON_Delete(v);
        enum rh_status s2 = job_checkpoint(run, "after");
        enum rh_status s3 = job_set_railway(run, "svc-stale", NULL, NULL);
        char what[128];
        snprintf(what, sizeof(what), "save=%s checkpoint=%s railway=%s", rh_status_name(s1),
                 rh_status_name(s2), rh_status_name(s3));
        note(run, job, what);
        return RH_OK;
    }
    return RH_OK;
}

static void t_compensate(void *ctx, struct job_run *run, const struct job *job,
                         const struct job_result *cause)
{
    (void)ctx;
    char what[64];
    snprintf(what, sizeof(what), "compensate:%s", rh_status_name(cause->status));
    note(run, job, what);
    /* Compensation is not interrupted by a cancel request. */
    if (job_checkpoint(run, "rollback") != RH_OK)
        note(run, job, "compensate interrupted");
}

static struct queue *pool_start(const char *dbu, const char *instance, int workers,
                                const char *const *env)
{
    char n[16];
    snprintf(n, sizeof(n), "%d", workers);
    setenv("DATABASE_URL", dbu, 1);
    setenv("INSTANCE_ID", instance, 1);
    setenv("WORKERS", n, 1);
    setenv("LOG_LEVEL", "error", 1);
    for (const char *const *e = env; e && e[0]; e += 2)
        setenv(e[0], e[1], 1);
    struct config cfg;
    char err[256] = "";
    cr_assert(config_load(&cfg, CONFIG_NEED_DATABASE, err, sizeof(err)), "%s", err);
    log_setup(LOG_ERROR, false, 2);
    struct queue *p = queue_create(&cfg, store_for(dbu, cfg.queue_listen));
    config_free(&cfg); /* the pool keeps copies */
    struct job_handler h = {.kind = "noop", .run = t_run, .compensate = t_compensate};
    cr_assert_eq(queue_register(p, &h), RH_OK);
    cr_assert_eq(queue_register(p, &h), RH_CONFLICT);
    cr_assert_eq(queue_start(p, err, sizeof(err)), RH_OK, "%s", err);
    cr_assert_eq(queue_register(p, &h), RH_INVALID, "no registration after start");
    return p;
}

static void pool_setup(void)
{
    db = th_db_create();
    conn = conn_of(db);
    free(th_sql(db, "CREATE TABLE runs (id bigserial, job_id uuid, attempt int, owner text, "
                    "what text, at timestamptz DEFAULT clock_timestamp())"));
}

Test(queue_pool, every_job_runs_exactly_once_across_pools, .init = pool_setup,
     .fini = store_teardown, .timeout = 120)
{
    enum { JOBS = 500, POOLS = 4 };
    struct store_job_new jobs[JOBS];
    for (int i = 0; i < JOBS; i++)
        jobs[i] = (struct store_job_new){.kind = "noop"};
    struct queue *pools[POOLS];
    const char *env[] = {"QUEUE_POLL_MS", "100", NULL};
    for (int i = 0; i < POOLS; i++) {
        char inst[16];
        snprintf(inst, sizeof(inst), "p%d", i);
        pools[i] = pool_start(db, inst, 4, env);
    }
    /* Enqueued while the pools are already competing, in a few batches. */
    for (int b = 0; b < 5; b++)
        cr_assert_eq(enqueue(conn, jobs, JOBS / 5, NULL), RH_OK);
    cr_assert(wait_long(db, JOBS, 60000, "SELECT count(*) FROM jobs WHERE state = 'succeeded'"),
              "all jobs succeed");
    /* A worker counts its job once the commit has returned to it, so the counters may trail
     * the rows by a moment: they are read until they add up (or 5 s pass). */
    long succeeded = 0;
    for (int64_t until = time_mono_ms() + 5000; time_mono_ms() < until; usleep(10000)) {
        succeeded = 0;
        for (int i = 0; i < POOLS; i++) {
            struct queue_stats s;
            queue_stats_get(pools[i], &s);
            succeeded += s.succeeded;
            cr_assert_eq(s.lease_lost, 0);
        }
        if (succeeded >= JOBS)
            break;
    }
    cr_assert_eq(succeeded, JOBS);
    for (int i = 0; i < POOLS; i++)
        queue_stop(pools[i], 1000);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM runs"), JOBS);
    cr_assert_eq(th_sql_long(db, "SELECT count(DISTINCT job_id) FROM runs"), JOBS);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs WHERE attempt = 1 AND rescues = 0 AND "
                                 "lease_owner IS NULL"),
                 JOBS);
    cr_assert_gt(th_sql_long(db, "SELECT count(DISTINCT split_part(owner, '/', 1)) FROM runs"), 1,
                 "the pools shared the work");
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM job_events WHERE message = 'succeeded'"),
                 JOBS);
}

Test(queue_pool, transient_failures_retry_with_bounded_backoff, .init = pool_setup,
     .fini = store_teardown, .timeout = 60)
{
    const char *env[] = {"RETRY_BASE_MS", "200", "RETRY_MAX_MS", "300", NULL};
    struct queue *p = pool_start(db, "a", 2, env);
    char id[37];
    enqueue_one(conn, "noop", "{\"mode\":\"fail_first\",\"n\":2}", 3, 0, id);
    cr_assert(wait_long(db, 1, 10000,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'succeeded'", id));
    queue_stop(p, 1000);
    cr_assert_eq(q_long(db, "SELECT attempt FROM jobs WHERE id = '%s'", id), 3);
    cr_assert_eq(q_long(db, "SELECT count(*) FROM runs WHERE job_id = '%s'", id), 3);
    /* Delays are within [0, ceiling] and each retry waited at least its delay. */
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM job_events WHERE job_id = '%s' AND message = "
                        "'retry scheduled' AND (details->>'delay_ms')::int BETWEEN 0 AND "
                        "(CASE details->>'next_attempt' WHEN '2' THEN 200 ELSE 300 END)",
                        id),
                 2);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM (SELECT at - lag(at) OVER (ORDER BY id) AS gap, "
                        "attempt FROM runs WHERE job_id = '%s') g WHERE attempt > 1 AND gap < "
                        "interval '0 ms'",
                        id),
                 0);
    cr_assert_eq(q_long(db, "SELECT count(*) FROM jobs WHERE id = '%s' AND last_error IS NULL", id),
                 1, "success clears the last error");
}

Test(queue_pool, retry_after_is_honoured, .init = pool_setup, .fini = store_teardown, .timeout = 60)
{
    const char *env[] = {"RETRY_BASE_MS", "1", "RETRY_MAX_MS", "5", NULL};
    struct queue *p = pool_start(db, "a", 2, env);
    char id[37];
    enqueue_one(conn, "noop", "{\"mode\":\"retry_after\",\"ms\":900}", 3, 0, id);
    cr_assert(wait_long(db, 1, 10000,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'succeeded'", id));
    queue_stop(p, 1000);
    long gap = q_long(db,
                      "SELECT (extract(epoch FROM max(at) - min(at)) * 1000)::bigint FROM runs "
                      "WHERE job_id = '%s'",
                      id);
    cr_assert_geq(gap, 900, "the second run started %ld ms after the first", gap);
    cr_assert_lt(gap, 2500, "and not much later (%ld ms): the dispatcher wakes when it is due",
                 gap);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM job_events WHERE job_id = '%s' AND message = "
                        "'retry scheduled' AND (details->>'delay_ms')::int = 900",
                        id),
                 1);
}

Test(queue_pool, permanent_failure_compensates_once_and_keeps_the_error, .init = pool_setup,
     .fini = store_teardown, .timeout = 60)
{
    struct queue *p = pool_start(db, "a", 2, NULL);
    char id[37];
    enqueue_one(conn, "noop", "{\"mode\":\"permanent\",\"msg\":\"bad schema\"}", 3, 0, id);
    cr_assert(wait_long(db, 1, 10000,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'failed'", id));
    queue_stop(p, 1000);
    cr_assert_eq(q_long(db, "SELECT count(*) FROM runs WHERE job_id = '%s' AND what = 'run'", id),
                 1);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM runs WHERE job_id = '%s' AND what = "
                        "'compensate:permanent'",
                        id),
                 1);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM runs WHERE job_id = '%s' AND what LIKE "
                        "'%%interrupted'",
                        id),
                 0);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND attempt = 1 AND "
                        "last_error->>'code' = 'bad_input' AND last_error->>'message' = "
                        "'nope: bad schema' AND last_error->'details'->>'echo' = "
                        "'bad schema' AND finished_at IS NOT NULL",
                        id),
                 1);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM job_events WHERE job_id = '%s' AND message = "
                        "'failed' AND level = 'error'",
                        id),
                 1);
}

Test(queue_pool, exhausted_attempts_compensate_once_then_fail, .init = pool_setup,
     .fini = store_teardown, .timeout = 60)
{
    const char *env[] = {"RETRY_BASE_MS", "20", "RETRY_MAX_MS", "40", NULL};
    struct queue *p = pool_start(db, "a", 2, env);
    char id[37];
    enqueue_one(conn, "noop", "{\"mode\":\"transient\"}", 3, 0, id);
    cr_assert(wait_long(db, 1, 10000,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'failed'", id));
    queue_stop(p, 1000);
    cr_assert_eq(q_long(db, "SELECT count(*) FROM runs WHERE job_id = '%s' AND what = 'run'", id),
                 3);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM runs WHERE job_id = '%s' AND what = "
                        "'compensate:transient'",
                        id),
                 1);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND attempt = 3 AND "
                        "last_error->>'code' = 'flaky' AND "
                        "(last_error->>'attempts_exhausted')::bool",
                        id),
                 1);
}

Test(queue_pool, cancel_stops_a_running_job_at_its_next_step, .init = pool_setup,
     .fini = store_teardown, .timeout = 60)
{
    struct queue *p = pool_start(db, "a", 2, NULL);
    char id[37], state[16], err[256];
    enqueue_one(conn, "noop", "{\"mode\":\"loop\"}", 3, 0, id);
    cr_assert(wait_long(db, 1, 10000,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND step IS NOT NULL", id));
    cr_assert_eq(store_job_cancel(conn, id, state, err, sizeof(err)), RH_OK);
    cr_assert_str_eq(state, "running");
    cr_assert(wait_long(db, 1, 5000,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'cancelled'", id));
    queue_stop(p, 1000);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM runs WHERE job_id = '%s' AND what = "
                        "'compensate:cancelled'",
                        id),
                 1);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM runs WHERE job_id = '%s' AND what LIKE "
                        "'%%interrupted'",
                        id),
                 0, "the compensation itself is not cancelled");
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND "
                        "last_error->>'code' = 'cancelled' AND finished_at IS NOT NULL",
                        id),
                 1);
}

Test(queue_pool, cancelling_a_queued_job_that_did_work_runs_its_compensation, .init = pool_setup,
     .fini = store_teardown, .timeout = 60)
{
    struct queue *p = pool_start(db, "a", 2, NULL);
    char id[37], state[16], err[256];
    enqueue_one(conn, "noop", "{\"mode\":\"save_then_wait\"}", 3, 0, id);
    cr_assert(wait_long(db, 1, 10000,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'queued' AND "
                        "attempt = 1",
                        id));
    cr_assert_eq(store_job_cancel(conn, id, state, err, sizeof(err)), RH_OK);
    cr_assert_str_eq(state, "queued");
    cr_assert(wait_long(db, 1, 5000,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'cancelled'", id));
    queue_stop(p, 1000);
    cr_assert_eq(q_long(db, "SELECT count(*) FROM runs WHERE job_id = '%s' AND what = 'run'", id),
                 1, "the handler's run is not repeated");
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM runs WHERE job_id = '%s' AND what = "
                        "'compensate:cancelled'",
                        id),
                 1);
}

Test(queue_pool, a_retried_job_resumes_from_its_steps, .init = pool_setup, .fini = store_teardown,
     .timeout = 60)
{
    struct queue *p = pool_start(db, "a", 2, NULL);
    char id[37], state[16], err[256];
    enqueue_one(conn, "noop", "{\"mode\":\"resume\"}", 3, 0, id);
    cr_assert(wait_long(db, 1, 10000,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'failed'", id));
    cr_assert_eq(store_job_retry(conn, id, 3, state, err, sizeof(err)), RH_OK);
    cr_assert(wait_long(db, 1, 10000,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'succeeded'", id));
    queue_stop(p, 1000);
    cr_assert_eq(q_long(db, "SELECT attempt FROM jobs WHERE id = '%s'", id), 1);
    cr_assert_eq(q_long(db, "SELECT count(*) FROM runs WHERE job_id = '%s' AND what = 'run'", id),
                 2);
}

Test(queue_pool, shutdown_hands_a_running_job_back_without_burning_an_attempt, .init = pool_setup,
     .fini = store_teardown, .timeout = 60)
{
    struct queue *p = pool_start(db, "a", 2, NULL);
    char id[37];
    enqueue_one(conn, "noop", "{\"mode\":\"block\",\"ms\":60000}", 3, 0, id);
    cr_assert(wait_long(db, 1, 10000, "SELECT count(*) FROM runs WHERE job_id = '%s'", id));
    int64_t t0 = time_mono_ms();
    queue_stop(p, 5000);
    int64_t took = time_mono_ms() - t0;
    cr_assert_lt(took, 2000, "a sleeping handler stops at once (%lld ms)", (long long)took);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'queued' AND "
                        "attempt = 0 AND rescues = 0 AND lease_owner IS NULL",
                        id),
                 1);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM job_events WHERE job_id = '%s' AND message = "
                        "'handed back' AND details->>'reason' = 'shutdown'",
                        id),
                 1);
}

Test(queue_pool, after_the_grace_period_a_stuck_job_is_handed_back, .init = pool_setup,
     .fini = store_teardown, .timeout = 60)
{
    struct queue *p = pool_start(db, "a", 1, NULL);
    char id[37];
    enqueue_one(conn, "noop", "{\"mode\":\"ignore_stop\",\"ms\":1200}", 3, 0, id);
    cr_assert(wait_long(db, 1, 10000, "SELECT count(*) FROM runs WHERE job_id = '%s'", id));
    int64_t t0 = time_mono_ms();
    queue_stop(p, 300);
    int64_t took = time_mono_ms() - t0;
    cr_assert_geq(took, 300);
    cr_assert_lt(took, 4000);
    /* The handler's late success lost to the hand-back. */
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'queued' AND "
                        "attempt = 0",
                        id),
                 1);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM job_events WHERE job_id = '%s' AND message = "
                        "'handed back'",
                        id),
                 1);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM job_events WHERE job_id = '%s' AND message "
                        "LIKE 'lease lost%%'",
                        id),
                 1);
}

Test(queue_pool, polling_alone_runs_jobs_without_listen, .init = pool_setup, .fini = store_teardown,
     .timeout = 60)
{
    const char *env[] = {"QUEUE_LISTEN", "off", "QUEUE_POLL_MS", "200", NULL};
    struct queue *p = pool_start(db, "a", 2, env);
    usleep(400 * 1000); /* idle: the first polls find nothing */
    char id[37];
    enqueue_one(conn, "noop", NULL, 3, 0, id);
    int64_t t0 = time_mono_ms();
    cr_assert(wait_long(db, 1, 5000,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'succeeded'", id));
    cr_assert_lt(time_mono_ms() - t0, 1500);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                 "current_database() AND application_name = 'railhook-listen'"),
                 0, "no connection listens");
    queue_stop(p, 1000);
}

Test(queue_pool, notify_wakes_idle_workers_long_before_the_poll, .init = pool_setup,
     .fini = store_teardown, .timeout = 60)
{
    const char *env[] = {"QUEUE_POLL_MS", "60000", NULL};
    struct queue *p = pool_start(db, "a", 2, env);
    usleep(300 * 1000);
    for (int i = 0; i < 3; i++) {
        char id[37];
        enqueue_one(conn, "noop", NULL, 3, 0, id);
        cr_assert(wait_long(db, 1, 2000,
                            "SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'succeeded'",
                            id),
                  "woken by NOTIFY, not by the 60 s poll");
    }
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                 "current_database() AND application_name = 'railhook-listen'"),
                 1);
    queue_stop(p, 1000);
}

Test(queue_pool, heartbeats_keep_a_long_job_leased, .init = pool_setup, .fini = store_teardown,
     .timeout = 60)
{
    const char *env[] = {"JOB_LEASE_S", "2", NULL};
    struct queue *p = pool_start(db, "a", 1, env);
    char id[37];
    enqueue_one(conn, "noop", "{\"mode\":\"block\",\"ms\":4500}", 3, 0, id);
    cr_assert(wait_long(db, 1, 15000,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'succeeded'", id));
    queue_stop(p, 1000);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND rescues = 0 AND "
                        "attempt = 1",
                        id),
                 1);
}

Test(queue_pool, a_worker_whose_lease_was_taken_cannot_write, .init = pool_setup,
     .fini = store_teardown, .timeout = 60)
{
    struct queue *p = pool_start(db, "a", 1, NULL);
    char id[37];
    enqueue_one(conn, "noop", "{\"mode\":\"stale\",\"ms\":800}", 3, 0, id);
    cr_assert(wait_long(db, 1, 10000, "SELECT count(*) FROM runs WHERE job_id = '%s'", id));
    /* Another owner takes over (as after a rescue and a new claim). */
    free(q_str(db, "UPDATE jobs SET lease_owner = 'intruder/w0/1' WHERE id = '%s'", id));
    cr_assert(wait_long(db, 1, 10000,
                        "SELECT count(*) FROM runs WHERE job_id = '%s' AND what LIKE "
                        "'save=%%'",
                        id));
    usleep(200 * 1000);
    queue_stop(p, 1000);
    char *what = q_str(db, "SELECT what FROM runs WHERE job_id = '%s' AND what LIKE 'save=%%'", id);
    cr_assert_str_eq(what, "save=lease_lost checkpoint=lease_lost railway=lease_lost");
    free(what);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'running' AND "
                        "lease_owner = 'intruder/w0/1' AND NOT steps ? 'late' AND "
                        "railway_service_id IS NULL",
                        id),
                 1, "the new owner's row is untouched");
}

Test(queue_pool, the_reaper_rescues_a_dead_instances_job, .init = pool_setup,
     .fini = store_teardown, .timeout = 60)
{
    free(th_sql(db, "INSERT INTO jobs (kind, state, attempt, lease_owner, lease_expires_at, "
                    "started_at) VALUES ('noop', 'running', 1, 'dead/w0/1', now() - interval "
                    "'1 s', now() - interval '40 s')"));
    const char *env[] = {"JOB_LEASE_S", "2", NULL};
    struct queue *p = pool_start(db, "a", 1, env);
    cr_assert(wait_long(db, 1, 10000, "SELECT count(*) FROM jobs WHERE state = 'succeeded'"));
    struct queue_stats s;
    queue_stats_get(p, &s);
    queue_stop(p, 1000);
    cr_assert_eq(s.rescued, 1);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs WHERE rescues = 1 AND attempt = 1"), 1);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM runs WHERE owner LIKE 'a/%'"), 1);
}

Test(queue_pool, unknown_kinds_fail_permanently, .init = pool_setup, .fini = store_teardown,
     .timeout = 60)
{
    struct queue *p = pool_start(db, "a", 1, NULL);
    char id[37];
    enqueue_one(conn, "redeploy", NULL, 3, 0, id);
    cr_assert(wait_long(db, 1, 10000,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'failed'", id));
    queue_stop(p, 1000);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND attempt = 1 AND "
                        "last_error->>'code' = 'unknown_kind'",
                        id),
                 1);
}

Test(queue_pool, secrets_never_reach_the_job_row_or_events, .init = pool_setup,
     .fini = store_teardown, .timeout = 60)
{
    redact_register("sk-live-7d1f0c2a9b");
    struct queue *p = pool_start(db, "a", 1, NULL);
    char id[37];
    enqueue_one(conn, "noop",
                "{\"mode\":\"permanent\",\"msg\":\"token sk-live-7d1f0c2a9b refused\"}", 3, 0, id);
    cr_assert(wait_long(db, 1, 10000,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND state = 'failed'", id));
    queue_stop(p, 1000);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND last_error::text LIKE "
                        "'%%sk-live%%'",
                        id),
                 0);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM job_events WHERE job_id = '%s' AND (details::text "
                        "LIKE '%%sk-live%%' OR message LIKE '%%sk-live%%')",
                        id),
                 0);
    cr_assert_eq(q_long(db,
                        "SELECT count(*) FROM jobs WHERE id = '%s' AND last_error->>'message' "
                        "= 'nope: token [REDACTED] refused'",
                        id),
                 1);
}

Test(queue_pool, old_finished_jobs_are_pruned, .init = pool_setup, .fini = store_teardown,
     .timeout = 60)
{
    free(th_sql(db, "INSERT INTO jobs (kind, state, finished_at) SELECT 'noop', 'succeeded', "
                    "now() - interval '31 days' FROM generate_series(1, 700)"));
    free(th_sql(db, "INSERT INTO jobs (kind, state, finished_at) VALUES ('noop', 'failed', now() - "
                    "interval '29 days')"));
    struct queue *p = pool_start(db, "a", 1, NULL);
    cr_assert(wait_long(db, 1, 10000, "SELECT count(*) FROM jobs"));
    queue_stop(p, 1000);
}

/* At most one job per manifest runs at a time, and a manifest's jobs run in order: a job waits
 * while its manifest has a running job or an older unfinished one (a retry keeps its place). */
Test(queue_store, one_job_per_manifest_at_a_time_in_order, .init = store_setup,
     .fini = store_teardown)
{
    char m1a[37], m1b[37], m2[37], none[37];
    enqueue_one(conn, "noop", "{\"manifest_id\":\"m1\"}", 3, 0, m1a);
    enqueue_one(conn, "noop", "{\"manifest_id\":\"m1\"}", 3, 0, m1b);
    enqueue_one(conn, "noop", "{\"manifest_id\":\"m2\"}", 3, 0, m2);
    enqueue_one(conn, "noop", NULL, 3, 0, none);

    struct store_job_claimed *rows = NULL;
    int n = 0;
    char err[256] = "";
    const char *owners[] = {"me/w0/1", "me/w0/2", "me/w0/3", "me/w0/4"};
    cr_assert_eq(store_job_claim(conn, owners, 4, 30, &rows, &n, err, sizeof(err)), RH_OK, "%s",
                 err);
    cr_assert_eq(n, 3, "m1's second job waits for its first");
    for (int i = 0; i < n; i++)
        cr_assert_str_neq(rows[i].id, m1b);
    store_job_claimed_free(rows, n);

    /* A retry puts m1's first job back in the queue, due later: the second still waits. */
    cr_assert(finish(conn, m1a, 1, "me/w0/1", STORE_JOB_RETRY, NULL));
    cr_assert_eq(q_long(db,
                        "UPDATE jobs SET run_after = now() + interval '1 hour' WHERE id = "
                        "'%s' RETURNING 1",
                        m1a),
                 1);
    struct store_job_claimed j;
    claim_one(conn, "me/w0/5", 30, &j, false);

    /* Once the first ends, the second runs; finishing and claiming in one statement too. */
    cr_assert_eq(q_long(db, "UPDATE jobs SET run_after = now() WHERE id = '%s' RETURNING 1", m1a),
                 1);
    claim_one(conn, "me/w0/6", 30, &j, true);
    cr_assert_str_eq(j.id, m1a);
    struct store_job_finish f = {.guard = {m1a, j.attempt, "me/w0/6"},
                                 .outcome = STORE_JOB_SUCCEEDED,
                                 .level = "info",
                                 .message = "test"};
    claimed_clear(&j);
    const char *next[] = {"me/w0/7"};
    rows = NULL;
    n = 0;
    cr_assert_eq(store_job_finish_claim(conn, &f, 1, next, 1, 30, &rows, &n, err, sizeof(err)),
                 RH_OK, "%s", err);
    cr_assert(f.applied);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(rows[0].id, m1b);
    store_job_claimed_free(rows, n);
}
