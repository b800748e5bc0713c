/* GET /jobs/{id} with the job cache, against the real server and database: jobs in every state
 * are served from memory, each change (here or from another instance, a step, an event, a
 * retry) is seen at once, deleted jobs go after the TTL, and QUEUE_LISTEN=off (a transaction
 * pooler, no reliable notifications) turns the cache off. */
#include "store/jobs.h"
#include "support/harness.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct th_server ts;
static char *db;
static const char *const read_auth[] = {"Authorization: Bearer cache-read", NULL};
static const char *const admin_auth[] = {"Authorization: Bearer cache-admin", NULL};

static void start(void)
{
    if (!getenv("QUEUE_LISTEN"))
        setenv("QUEUE_LISTEN", "on", 1);
    setenv("API_TOKEN", "cache-read", 1);
    setenv("API_ADMIN_TOKEN", "cache-admin", 1);
    db = th_db_create();
    th_server_start(&ts, db);
    /* The cache opens once the listener LISTENs; wait for its session to be there. */
    int64_t deadline = time_mono_ms() + 10000;
    while (th_sql_long(db,
                       "SELECT count(*) FROM pg_stat_activity WHERE datname ="
                       " current_database() AND query LIKE 'LISTEN railhook_job_changed%'") < 1) {
        cr_assert_lt(time_mono_ms(), deadline, "the listener did not start");
        usleep(20 * 1000);
    }
    usleep(100 * 1000);
}

static void stop(void)
{
    th_server_stop(&ts);
    th_db_drop(db);
}

static char *insert_job(const char *state)
{
    char *sql = xasprintf("WITH j AS (INSERT INTO jobs (kind, state, service_name, step,"
                          " finished_at) VALUES ('provision', '%s', 'osp-worker-cache', 'connect',"
                          " CASE WHEN '%s' = 'running' THEN NULL ELSE now() END) RETURNING id),"
                          " e AS (INSERT INTO job_events (job_id, step, level, message)"
                          " SELECT id, 'connect', 'error', 'connect failed' FROM j)"
                          " SELECT id FROM j",
                          state, state);
    char *id = th_sql(db, sql);
    free(sql);
    /* Let the insert's own notification pass, or it could drop the first cached copy. */
    usleep(300 * 1000);
    return id;
}

/* GETs the job; returns the body (free()) and the ETag in etag (free()). */
static char *get_job(const char *id, const char *const *hdrs, long want, char **etag)
{
    char url[192];
    snprintf(url, sizeof(url), "%s/jobs/%s", ts.base, id);
    struct th_response r;
    th_http(&r, "GET", url, hdrs, NULL, 0);
    cr_assert_eq(r.status, want, "GET %s: %ld %s", url, r.status, r.body);
    if (etag)
        *etag = th_response_header(&r, "ETag");
    char *body = xstrdup(r.body ? r.body : "");
    th_response_free(&r);
    return body;
}

/* Changes the row the way no railhook code does: without touching updated_at, so no
 * notification is sent and only a fresh read can show it. */
static void change_quietly(const char *id, const char *step)
{
    char *sql = xasprintf("UPDATE jobs SET step = '%s' WHERE id = '%s'", step, id);
    free(th_sql(db, sql));
    free(sql);
}

Test(jobcache_api, a_finished_job_is_served_from_memory_with_the_same_document, .init = start,
     .fini = stop)
{
    char *id = insert_job("succeeded");
    char *etag1 = NULL, *etag2 = NULL;
    char *first = get_job(id, read_auth, 200, &etag1);
    change_quietly(id, "quietly_changed");
    char *second = get_job(id, read_auth, 200, &etag2);
    cr_assert_str_eq(second, first, "the second read did not come from the cache");
    cr_assert_str_eq(etag2, etag1);
    /* The cached copy still honours If-None-Match and the token. */
    char inm[96];
    snprintf(inm, sizeof(inm), "If-None-Match: %s", etag1);
    const char *cond[] = {"Authorization: Bearer cache-read", inm, NULL};
    free(get_job(id, cond, 304, NULL));
    free(get_job(id, NULL, 401, NULL));
    free(first);
    free(second);
    free(etag1);
    free(etag2);
    free(id);
}

Test(jobcache_api, a_retry_through_the_api_is_seen_by_the_next_read, .init = start, .fini = stop)
{
    char *id = insert_job("failed");
    char *etag1 = NULL, *etag2 = NULL;
    char *before = get_job(id, read_auth, 200, &etag1);
    cr_assert_not_null(strstr(before, "\"state\" : \"failed\""), "%s", before);
    free(get_job(id, read_auth, 200, NULL)); /* served from the cache now */

    char url[192];
    snprintf(url, sizeof(url), "%s/jobs/%s/retry", ts.base, id);
    struct th_response r;
    th_http(&r, "POST", url, admin_auth, NULL, 0);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    th_response_free(&r);
    /* At once, without waiting for the database's notification. */
    char *after = get_job(id, read_auth, 200, &etag2);
    cr_assert_not_null(strstr(after, "\"state\" : \"queued\""), "%s", after);
    cr_assert_not_null(strstr(after, "retried"), "%s", after);
    cr_assert_str_neq(etag2, etag1);
    free(before);
    free(after);
    free(etag1);
    free(etag2);
    free(id);
}

Test(jobcache_api, a_retry_by_another_instance_arrives_through_the_notification, .init = start,
     .fini = stop, .timeout = 30)
{
    char *id = insert_job("cancelled");
    free(get_job(id, read_auth, 200, NULL));
    change_quietly(id, "quietly_changed");
    char *cached = get_job(id, read_auth, 200, NULL);
    cr_assert_null(strstr(cached, "quietly_changed"), "not cached: %s", cached);
    free(cached);
    /* Another railhook re-queues it: only the database's notification tells this one. */
    char *sql = xasprintf("UPDATE jobs SET state = 'queued', finished_at = NULL,"
                          " updated_at = now() WHERE id = '%s'",
                          id);
    free(th_sql(db, sql));
    free(sql);
    int64_t t0 = time_mono_ms();
    char *doc = NULL;
    for (;;) {
        free(doc);
        doc = get_job(id, read_auth, 200, NULL);
        if (strstr(doc, "\"state\" : \"queued\""))
            break;
        /* Well inside the 5 s TTL: the notification, not the expiry, must drop it. */
        cr_assert_lt(time_mono_ms() - t0, 2500, "still served the cancelled job: %s", doc);
        usleep(20 * 1000);
    }
    free(doc);
    free(id);
}

/* railhook_job_reads_total{source=...} of the server srv. */
static double reads(const struct th_server *srv, const char *source)
{
    char url[128], key[96];
    snprintf(url, sizeof(url), "%s/metrics", srv->base);
    struct th_response r;
    th_http(&r, "GET", url, read_auth, NULL, 0);
    cr_assert_eq(r.status, 200);
    snprintf(key, sizeof(key), "\nrailhook_job_reads_total{source=\"%s\"} ", source);
    const char *line = strstr(r.body, key);
    double v = line ? strtod(line + strlen(key), NULL) : 0;
    th_response_free(&r);
    return v;
}

/* Reads the job from srv until its document holds want, well inside the 5 s TTL: the
 * notification, not the expiry, must drop the old one. */
static void read_until(const struct th_server *srv, const char *id, const char *want)
{
    char url[192];
    snprintf(url, sizeof(url), "%s/jobs/%s", srv->base, id);
    int64_t t0 = time_mono_ms();
    for (;;) {
        struct th_response r;
        th_http(&r, "GET", url, read_auth, NULL, 0);
        cr_assert_eq(r.status, 200);
        bool found = strstr(r.body, want) != NULL;
        if (!found)
            cr_assert_lt(time_mono_ms() - t0, 2500, "no %s after 2.5 s: %s", want, r.body);
        th_response_free(&r);
        if (found)
            break;
        usleep(20 * 1000);
    }
}

/* Updates the job: UPDATE jobs SET <set> WHERE id = <id>. */
static void update_job(const char *set, const char *id)
{
    char *sql = xasprintf("UPDATE jobs SET %s WHERE id = '%s'", set, id);
    free(th_sql(db, sql));
    free(sql);
}

Test(jobcache_api, a_running_job_is_served_from_memory_and_exact_after_each_change_in_two_instances,
     .init = start, .fini = stop, .timeout = 60)
{
    struct th_server other;
    th_server_start(&other, db);
    const struct th_server *both[] = {&ts, &other};
    char *id = insert_job("running");
    for (int i = 0; i < 2; i++)
        read_until(both[i], id, "\"step\" : \"connect\"");
    /* Served from memory: a change no notification announces is not seen, and no read
     * reaches the database. */
    change_quietly(id, "quietly_changed");
    for (int i = 0; i < 2; i++) {
        double db_reads = reads(both[i], "database"), cached = reads(both[i], "cache");
        for (int k = 0; k < 5; k++)
            read_until(both[i], id, "\"step\" : \"connect\"");
        cr_assert_eq(reads(both[i], "database"), db_reads, "instance %d read the database", i);
        cr_assert_eq(reads(both[i], "cache") - cached, 5);
    }
    /* Each change the way railhook makes them reaches both instances: a step, an event (the
     * store's own call), the end. */
    update_job("step = 'deploy', updated_at = now()", id);
    for (int i = 0; i < 2; i++)
        read_until(both[i], id, "\"step\" : \"deploy\"");
    PGconn *c = PQconnectdb(db);
    char err[256] = "";
    cr_assert_eq(
        store_job_event_add(c, id, "deploy", "info", "build 42 started", NULL, err, sizeof(err)),
        RH_OK, "%s", err);
    PQfinish(c);
    for (int i = 0; i < 2; i++)
        read_until(both[i], id, "build 42 started");
    update_job("state = 'succeeded', finished_at = now(), updated_at = now()", id);
    for (int i = 0; i < 2; i++)
        read_until(both[i], id, "\"state\" : \"succeeded\"");
    th_server_stop(&other);
    free(id);
}

Test(jobcache_api, a_pruned_job_disappears_after_the_ttl, .init = start, .fini = stop,
     .timeout = 30)
{
    char *id = insert_job("succeeded");
    free(get_job(id, read_auth, 200, NULL));
    char *sql = xasprintf("DELETE FROM jobs WHERE id = '%s'", id);
    free(th_sql(db, sql));
    free(sql);
    int64_t t0 = time_mono_ms();
    /* Pruning sends no notification: the cached copy lives on until the TTL. */
    free(get_job(id, read_auth, 200, NULL));
    char url[192];
    snprintf(url, sizeof(url), "%s/jobs/%s", ts.base, id);
    long status = 0;
    while (status != 404) {
        struct th_response r;
        th_http(&r, "GET", url, read_auth, NULL, 0);
        status = r.status;
        th_response_free(&r);
        cr_assert(status == 200 || status == 404, "status %ld", status);
        cr_assert_lt(time_mono_ms() - t0, 8000, "a deleted job was served past the TTL");
        if (status != 404)
            usleep(200 * 1000);
    }
    free(id);
}

static void start_without_listen(void)
{
    setenv("QUEUE_LISTEN", "off", 1);
    start();
}

Test(jobcache_api, with_queue_listen_off_finished_jobs_are_read_afresh,
     .init = start_without_listen, .fini = stop)
{
    char *id = insert_job("succeeded");
    free(get_job(id, read_auth, 200, NULL));
    change_quietly(id, "quietly_changed");
    char *doc = get_job(id, read_auth, 200, NULL);
    cr_assert_not_null(strstr(doc, "\"step\" : \"quietly_changed\""), "cached: %s", doc);
    free(doc);
    free(id);
}
