/* The store against a real PostgreSQL: the one enqueue path (deliveries and jobs of their
 * own), the delivery look-up, the prepared-statement policy decided when the store opens, the
 * sessions it opens and their timeouts, the group commit, and the typed reads and writes of
 * services, queue stats and the server. */
#include "support/harness.h"

#include "store/enqueue.h"
#include "store/services.h"
#include "store/store.h"
#include "store/views.h"
#include "support/stall_proxy.h"
#include "util/util.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *db;
static struct store *st;
static PGconn *conn;

static void open_store(bool prepared)
{
    char err[256] = "";
    db = th_db_create();
    st = store_open(db, 2, 2000, prepared);
    conn = store_conn_open(st, STORE_SESSION_DEFAULT, err, sizeof(err));
    cr_assert_not_null(conn, "%s", err);
}

static void setup(void)
{
    open_store(true);
}

static void setup_unprepared(void)
{
    open_store(false);
}

static void teardown(void)
{
    PQfinish(conn);
    store_close(st);
    th_db_drop(db);
}

static long count(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long count(const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    cr_assert(len > 0 && (size_t)len < sizeof(sql));
    return th_sql_long(db, sql);
}

/* Named statements this session has prepared (pg_prepared_statements is per session). */
static long prepared_here(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT count(*) FROM pg_prepared_statements");
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}

static char *show(PGconn *c, const char *setting)
{
    char *sql = xasprintf("SELECT current_setting('%s')", setting);
    PGresult *r = PQexec(c, sql);
    free(sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
    char *v = xstrdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

Test(store, enqueue_records_each_delivery_once_and_every_job_gets_its_event, .init = setup,
     .fini = teardown)
{
    cJSON *payload = cJSON_Parse("{\"service_name\":\"osp-worker-a\"}");
    struct store_job_new a_jobs[2] = {
        {.kind = "provision", .payload = payload, .service_name = "osp-worker-a"},
        {.kind = "redeploy", .dedupe_key = "a:redeploy", .max_attempts = 5},
    };
    struct store_job_new own = {.kind = "noop", .delay_ms = 60000};
    struct store_job_new b_job = {.kind = "update"};
    char a_ids[2][37], own_ids[1][37], b_ids[1][37];
    struct store_enqueue groups[3] = {
        {.source = "test",
         .delivery_id = "A",
         .event = "push",
         .jobs = a_jobs,
         .njobs = 2,
         .ids = a_ids},
        {.jobs = &own, .njobs = 1, .ids = own_ids},
        {.source = "test", .delivery_id = "B", .jobs = &b_job, .njobs = 1, .ids = b_ids},
    };
    char err[256] = "";
    cr_assert_eq(store_job_enqueue(conn, groups, 3, err, sizeof(err)), RH_OK, "%s", err);
    for (int i = 0; i < 3; i++)
        cr_assert(groups[i].enqueued, "group %d went in", i);
    cr_assert(uuid_valid(a_ids[0]) && uuid_valid(a_ids[1]) && uuid_valid(own_ids[0]));
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 4);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries"), 2);
    cr_assert_eq(count("SELECT count(*) FROM deliveries WHERE delivery_id = 'A' AND event ="
                       " 'push' AND job_ids = ARRAY['%s'::uuid, '%s'::uuid]",
                       a_ids[0], a_ids[1]),
                 1, "the delivery keeps its jobs' ids in order");
    cr_assert_eq(count("SELECT count(*) FROM jobs WHERE id = '%s' AND max_attempts = 5"
                       " AND dedupe_key = 'a:redeploy'",
                       a_ids[1]),
                 1);
    cr_assert_eq(count("SELECT count(*) FROM jobs WHERE id = '%s'"
                       " AND payload->>'service_name' = 'osp-worker-a' AND max_attempts = 3",
                       a_ids[0]),
                 1);
    cr_assert_eq(count("SELECT count(*) FROM jobs WHERE id = '%s'"
                       " AND run_after > now() + interval '50 seconds'",
                       own_ids[0]),
                 1);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM job_events e JOIN jobs j ON j.id = e.job_id"
                                 " WHERE e.message = 'enqueued' AND e.details->>'kind' = j.kind"),
                 4, "one enqueued event per job, naming its kind");

    /* Redelivered A goes nowhere (whatever jobs it maps to now); new C goes in. */
    struct store_job_new c_job = {.kind = "deprovision"};
    struct store_enqueue again[2] = {
        {.source = "test", .delivery_id = "A", .jobs = &b_job, .njobs = 1},
        {.source = "test", .delivery_id = "C", .jobs = &c_job, .njobs = 1},
    };
    cr_assert_eq(store_job_enqueue(conn, again, 2, err, sizeof(err)), RH_OK, "%s", err);
    cr_assert_not(again[0].enqueued);
    cr_assert(again[1].enqueued);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 5);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM job_events WHERE message = 'enqueued'"), 5);

    struct store_delivery_prior prior[3] = {
        {.source = "test", .delivery_id = "A"},
        {.source = "test", .delivery_id = "B"},
        {.source = "other", .delivery_id = "A"},
    };
    cr_assert_eq(store_delivery_find(conn, prior, 3, err, sizeof(err)), RH_OK, "%s", err);
    cr_assert(prior[0].found && prior[1].found);
    cr_assert_not(prior[2].found);
    cr_assert_eq(prior[0].njobs, 2);
    cr_assert_str_eq(prior[0].job_ids[0], a_ids[0]);
    cr_assert_str_eq(prior[0].job_ids[1], a_ids[1]);
    cr_assert_eq(prior[1].njobs, 1);
    cr_assert_str_eq(prior[1].job_ids[0], b_ids[0]);
    cr_assert_null(prior[2].job_ids);
    for (int i = 0; i < 3; i++)
        free(prior[i].job_ids);
    cJSON_Delete(payload);
}

Test(store, enqueue_is_all_or_nothing, .init = setup, .fini = teardown)
{
    struct store_job_new first = {.kind = "noop", .dedupe_key = "taken"};
    struct store_enqueue g = {.jobs = &first, .njobs = 1};
    char err[256] = "";
    cr_assert_eq(store_job_enqueue(conn, &g, 1, err, sizeof(err)), RH_OK, "%s", err);

    struct store_job_new fine = {.kind = "noop"};
    struct store_job_new clash = {.kind = "noop", .dedupe_key = "taken"};
    struct store_enqueue batch[2] = {
        {.source = "test", .delivery_id = "D", .jobs = &fine, .njobs = 1},
        {.jobs = &clash, .njobs = 1},
    };
    cr_assert_eq(store_job_enqueue(conn, batch, 2, err, sizeof(err)), RH_CONFLICT);
    cr_assert_not(batch[0].enqueued || batch[1].enqueued);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 1);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries"), 0);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM job_events"), 1);

    cJSON *list = cJSON_Parse("[]");
    struct store_job_new bad = {.kind = "noop", .payload = list};
    g = (struct store_enqueue){.jobs = &bad, .njobs = 1};
    cr_assert_eq(store_job_enqueue(conn, &g, 1, err, sizeof(err)), RH_INVALID);
    cr_assert_not_null(strstr(err, "payload"), "%s", err);
    cJSON_Delete(list);
}

/* Runs two of the store's named statements (the enqueue, the job view) on c. */
static void use_named_statements(PGconn *c)
{
    char err[256] = "";
    struct store_job_new j = {.kind = "noop"};
    char ids[1][37];
    char delivery[37];
    uuid_v4(delivery);
    struct store_enqueue g = {
        .source = "test", .delivery_id = delivery, .jobs = &j, .njobs = 1, .ids = ids};
    cr_assert_eq(store_job_enqueue(c, &g, 1, err, sizeof(err)), RH_OK, "%s", err);
    char *json = NULL;
    bool terminal = true;
    cr_assert_eq(store_view_job(c, ids[0], &json, &terminal, err, sizeof(err)), RH_OK, "%s", err);
    cr_assert_not(terminal);
    free(json);
    /* Twice: the second run uses what the first prepared. */
    cr_assert_eq(store_view_job(c, ids[0], &json, &terminal, err, sizeof(err)), RH_OK, "%s", err);
    free(json);
}

Test(store, prepared_statements_when_the_store_allows_them, .init = setup, .fini = teardown)
{
    use_named_statements(conn);
    cr_assert_eq(prepared_here(conn), 2, "the enqueue and the job view, each prepared once");
    PGconn *pooled = store_conn_acquire(st);
    cr_assert_not_null(pooled);
    char *json = NULL, err[256] = "";
    bool terminal = false;
    cr_assert_eq(store_view_job(pooled, "6fa459ea-ee8a-4ca4-894e-db77e160355e", &json, &terminal,
                                err, sizeof(err)),
                 RH_NOT_FOUND);
    cr_assert_eq(prepared_here(pooled), 1, "pooled sessions follow the same policy");
    store_conn_release(st, pooled);
}

Test(store, no_prepared_statements_behind_a_transaction_pooler, .init = setup_unprepared,
     .fini = teardown)
{
    use_named_statements(conn);
    cr_assert_eq(prepared_here(conn), 0);
    PGconn *pooled = store_conn_acquire(st);
    cr_assert_not_null(pooled);
    use_named_statements(pooled);
    cr_assert_eq(prepared_here(pooled), 0);
    store_conn_release(st, pooled);
}

Test(store, sessions_are_named_and_the_intake_commits_durably, .init = setup, .fini = teardown)
{
    /* The suite's cluster runs with synchronous_commit=off. */
    char *v = show(conn, "synchronous_commit");
    cr_assert_str_eq(v, "off");
    free(v);
    v = show(conn, "application_name");
    cr_assert_str_eq(v, "railhook");
    free(v);
    v = show(conn, "TimeZone");
    cr_assert_str_eq(v, "UTC");
    free(v);
    char err[256] = "";
    PGconn *intake = store_conn_open(st, STORE_SESSION_INTAKE, err, sizeof(err));
    cr_assert_not_null(intake, "%s", err);
    v = show(intake, "synchronous_commit");
    cr_assert_str_eq(v, "on");
    free(v);
    v = show(intake, "application_name");
    cr_assert_str_eq(v, "railhook-intake");
    free(v);
    PQfinish(intake);

    struct store *down =
        store_open("postgresql://railhook@127.0.0.1:1/x?password=hunter2-pw", 1, 100, true);
    cr_assert_null(store_conn_open(down, STORE_SESSION_INTAKE, err, sizeof(err)));
    cr_assert_not_null(strstr(err, "database connection failed"), "%s", err);
    cr_assert_null(strstr(err, "hunter2-pw"), "no secret in: %s", err);
    store_close(down);
}

Test(store, typed_reads_of_services_queue_and_server, .init = setup, .fini = teardown)
{
    free(th_sql(db, "INSERT INTO services (name, status) VALUES ('osp-worker-b', 'active'),"
                    " ('osp-worker-a', 'active'), ('osp-worker-c', 'provisioning'),"
                    " ('osp-worker-d', 'removed')"));
    char **names = NULL, **manifests = NULL, err[256] = "";
    size_t n = 0;
    cr_assert_eq(store_service_names_active(conn, &names, &manifests, &n, err, sizeof(err)), RH_OK,
                 "%s", err);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(names[0], "osp-worker-a");
    cr_assert_str_eq(names[1], "osp-worker-b");
    cr_assert_null(manifests[0], "no manifest recorded for osp-worker-a");
    store_service_names_free(names, manifests, n);

    free(th_sql(db,
                "INSERT INTO jobs (kind, state, created_at) VALUES"
                " ('noop', 'queued', now() - interval '100 seconds'), ('noop', 'queued', now()),"
                " ('provision', 'failed', now())"));
    struct store_queue_stats q;
    cr_assert_eq(store_view_queue_stats(conn, &q, err, sizeof(err)), RH_OK, "%s", err);
    cr_assert_eq(q.ncounts, 2);
    cr_assert_str_eq(q.counts[0].kind, "noop");
    cr_assert_str_eq(q.counts[0].state, "queued");
    cr_assert_eq(q.counts[0].count, 2);
    cr_assert_str_eq(q.counts[1].kind, "provision");
    cr_assert_eq(q.counts[1].count, 1);
    cr_assert_eq(q.queued, 2);
    cr_assert(q.oldest_queued_s >= 99 && q.oldest_queued_s < 200, "%f", q.oldest_queued_s);
    store_queue_stats_free(&q);

    struct store_server srv;
    cr_assert_eq(store_server_describe(conn, &srv, err, sizeof(err)), RH_OK, "%s", err);
    cr_assert(*srv.version);
    cr_assert_str_eq(srv.fsync, "off");
    cr_assert_gt(srv.max_connections, srv.reserved_connections);
}

Test(store, service_rows_as_the_flows_keep_them, .init = setup, .fini = teardown)
{
    char err[256] = "", job[37], *id = NULL;
    uuid_v4(job);
    struct store_service s = {.name = "osp-worker-a",
                              .manifest_id = "m-1",
                              .railway_service_id = "svc-1",
                              .repo = "o/r",
                              .branch = "main",
                              .root_dir = "/",
                              .status = "provisioning",
                              .last_job_id = job};
    bool owned = false;
    cr_assert_eq(store_service_upsert(conn, &s, &owned, err, sizeof(err)), RH_OK, "%s", err);
    cr_assert(owned);
    s.manifest_id = NULL; /* keeps m-1 */
    s.railway_service_id = "svc-2";
    cr_assert_eq(store_service_upsert(conn, &s, &owned, err, sizeof(err)), RH_OK, "%s", err);
    cr_assert(owned);
    /* Another manifest cannot take the name over while the service lives. */
    s.manifest_id = "m-other";
    s.railway_service_id = "svc-other";
    cr_assert_eq(store_service_upsert(conn, &s, &owned, err, sizeof(err)), RH_OK, "%s", err);
    cr_assert(!owned, "another manifest's service was taken over");
    s.manifest_id = NULL;
    s.railway_service_id = "svc-2";
    cr_assert_eq(store_service_railway_id(conn, "m-1", NULL, &id, err, sizeof(err)), RH_OK);
    cr_assert_str_eq(id, "svc-2");
    free(id);
    cr_assert_eq(store_service_railway_id(conn, "m-other", NULL, &id, err, sizeof(err)), RH_OK);
    cr_assert_null(id, "only the manifest's own service is found");
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM services WHERE manifest_id = 'm-1'"
                                 " AND railway_service_id = 'svc-2'"),
                 1);
    cr_assert_eq(store_service_railway_id(conn, NULL, "osp-worker-a", &id, err, sizeof(err)),
                 RH_OK);
    cr_assert_str_eq(id, "svc-2");
    free(id);

    cJSON *digests = cJSON_Parse("{\"A\":\"d1\"}");
    cr_assert_eq(store_service_deployed(conn, "osp-worker-a", "dep-1", "SUCCESS", job, digests, err,
                                        sizeof(err)),
                 RH_OK, "%s", err);
    cJSON_Delete(digests);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM services WHERE status = 'active'"
                                 " AND last_deployment_id = 'dep-1'"),
                 1);
    cr_assert_eq(store_service_digests(conn, "osp-worker-a", &digests, err, sizeof(err)), RH_OK);
    cr_assert_str_eq(cJSON_GetObjectItem(digests, "A")->valuestring, "d1");
    cJSON_Delete(digests);

    s.name = "osp-worker-b";
    cr_assert_eq(store_service_upsert(conn, &s, &owned, err, sizeof(err)), RH_OK, "%s", err);
    cr_assert_eq(store_service_rename(conn, "osp-worker-a", "osp-worker-b", err, sizeof(err)),
                 RH_OK);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM services WHERE name = 'osp-worker-a'"), 1,
                 "no rename onto a taken name");
    cr_assert_eq(store_service_rename(conn, "osp-worker-a", "osp-worker-c", err, sizeof(err)),
                 RH_OK);
    cr_assert_eq(store_service_status_set(conn, "osp-worker-c", "removed", NULL, err, sizeof(err)),
                 RH_OK);
    cr_assert_eq(store_service_railway_id(conn, NULL, "osp-worker-c", &id, err, sizeof(err)),
                 RH_OK);
    cr_assert_null(id, "a removed service has no id to reuse");
    cr_assert_eq(store_service_digests(conn, "nobody", &digests, err, sizeof(err)), RH_OK);
    cr_assert_null(digests);
}

Test(store, sessions_get_their_timeouts_and_a_silent_server_is_cut, .init = setup, .fini = teardown)
{
    char *v = show(conn, "statement_timeout");
    cr_assert_str_eq(v, "30s");
    free(v);
    PGconn *pooled = store_conn_acquire(st);
    cr_assert_not_null(pooled);
    v = show(pooled, "statement_timeout");
    cr_assert_str_eq(v, "5s");
    free(v);
    v = show(pooled, "application_name");
    cr_assert_str_eq(v, "railhook-http");
    free(v);
    store_conn_release(st, pooled);

    /* Through a proxy that stops forwarding: the server neither answers nor hangs up. */
    store_limits_set(&(struct store_limits){2, 300, 300});
    struct stall_proxy *proxy = stall_proxy_start(db);
    char *via = stall_proxy_conninfo(proxy);
    struct store *s = store_open(via, 1, 1000, true);
    char err[256] = "";
    PGconn *c = store_conn_open(s, STORE_SESSION_DEFAULT, err, sizeof(err));
    cr_assert_not_null(c, "%s", err);
    struct store_server server;
    cr_assert_eq(store_server_describe(c, &server, err, sizeof(err)), RH_OK, "%s", err);
    stall_proxy_set(proxy, true);
    int64_t t0 = time_mono_ms();
    cr_assert_eq(store_server_describe(c, &server, err, sizeof(err)), RH_UNAVAILABLE);
    int64_t took = time_mono_ms() - t0;
    cr_assert(took >= 1000 && took < 3000, "a silent server held the caller %lld ms",
              (long long)took);
    cr_assert_neq(PQstatus(c), CONNECTION_OK, "the silent connection is cut");
    PQfinish(c);
    /* A new connection gives up after the connect timeout. */
    t0 = time_mono_ms();
    cr_assert_null(store_conn_acquire(s));
    took = time_mono_ms() - t0;
    cr_assert(took < 4500, "connecting to a silent server took %lld ms", (long long)took);
    store_close(s);
    free(via);
    stall_proxy_stop(proxy);
    store_limits_set(&(struct store_limits){5, 5000, 30000});
}
