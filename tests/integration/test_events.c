/* GET /events against the real server and database: a job followed from queued to succeeded
 * while another railhook instance runs it, a disconnect resumed with Last-Event-ID losing
 * nothing, filters, tickets and tokens, bad parameters, ids never sent out of order while an
 * earlier id is still in flight, and idle streams that hold no HTTP thread. The stream is read
 * over a raw HTTP/1.0 socket, as curl -N would. */
#include "handlers/ticket.h"
#include "store/enqueue.h"
#include "support/harness.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct th_server ts;
static bool running;
static char *db;

static void start_with(const char *threads, const char *max_streams)
{
    setenv("API_TOKEN", "events-read", 1);
    setenv("API_ADMIN_TOKEN", "events-admin", 1);
    setenv("QUEUE_LISTEN", "on", 1);
    setenv("HTTP_THREADS", threads, 1);
    setenv("EVENTS_MAX_STREAMS", max_streams, 1);
    db = th_db_create();
    th_server_start(&ts, db);
    running = true;
}

static void start(void)
{
    start_with("4", "256");
}

static void stop(void)
{
    if (running)
        th_server_stop(&ts);
    running = false;
    unsetenv("HTTP_THREADS");
    unsetenv("EVENTS_MAX_STREAMS");
    th_db_drop(db);
}

/* One open stream: a socket and what has been read from it past the headers. */
struct sse {
    int fd;
    int status;
    struct buf in;
};

struct sse_event {
    long long id; /* -1 when the event carried none */
    char type[16];
    char *data; /* free() */
};

/* Opens GET path with extra header lines ("Name: value\r\n"...); returns the status. */
static int sse_open(struct sse *s, const char *path, const char *headers)
{
    memset(s, 0, sizeof(*s));
    buf_init(&s->in, 0);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ts.port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    cr_assert_eq(connect(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    char *req =
        xasprintf("GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n%s\r\n", path, headers ? headers : "");
    cr_assert_eq(write(s->fd, req, strlen(req)), (ssize_t)strlen(req));
    free(req);
    int64_t deadline = time_mono_ms() + 10000;
    char *end = NULL;
    while (!(end = strstr(s->in.data ? s->in.data : "", "\r\n\r\n"))) {
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        cr_assert_lt(time_mono_ms(), deadline, "no response headers for %s", path);
        if (poll(&p, 1, 100) <= 0)
            continue;
        char chunk[4096];
        ssize_t n = read(s->fd, chunk, sizeof(chunk));
        cr_assert_gt(n, 0, "connection closed before the headers of %s", path);
        buf_append(&s->in, chunk, (size_t)n);
    }
    s->status = (int)strtol(s->in.data + 9, NULL, 10);
    if (s->status == 200)
        cr_assert_not_null(strstr(s->in.data, "text/event-stream"), "%s", s->in.data);
    size_t rest = s->in.len - (size_t)(end + 4 - s->in.data);
    memmove(s->in.data, end + 4, rest);
    s->in.len = rest;
    s->in.data[rest] = '\0';
    return s->status;
}

static void sse_close(struct sse *s)
{
    close(s->fd);
    buf_free(&s->in);
}

/* The next event (comments and retry-only blocks skipped) within timeout_ms: true with *e
 * filled, false on timeout; *eof set when the server ended the stream. */
static bool sse_next(struct sse *s, int timeout_ms, struct sse_event *e, bool *eof)
{
    int64_t deadline = time_mono_ms() + timeout_ms;
    if (eof)
        *eof = false;
    for (;;) {
        char *sep = s->in.data ? strstr(s->in.data, "\n\n") : NULL;
        if (sep) {
            size_t len = (size_t)(sep - s->in.data);
            char *block = xstrndup(s->in.data, len);
            memmove(s->in.data, sep + 2, s->in.len - len - 2);
            s->in.len -= len + 2;
            s->in.data[s->in.len] = '\0';
            memset(e, 0, sizeof(*e));
            e->id = -1;
            bool any = false;
            char *save = NULL;
            for (char *line = strtok_r(block, "\n", &save); line;
                 line = strtok_r(NULL, "\n", &save)) {
                if (strncmp(line, "id: ", 4) == 0)
                    e->id = strtoll(line + 4, NULL, 10);
                else if (strncmp(line, "event: ", 7) == 0)
                    snprintf(e->type, sizeof(e->type), "%s", line + 7), any = true;
                else if (strncmp(line, "data: ", 6) == 0)
                    e->data = xstrdup(line + 6);
            }
            free(block);
            if (any)
                return true;
            free(e->data);
            continue;
        }
        int64_t left = deadline - time_mono_ms();
        if (left <= 0)
            return false;
        struct pollfd p = {.fd = s->fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        char chunk[8192];
        ssize_t n = read(s->fd, chunk, sizeof(chunk));
        if (n <= 0) {
            if (eof)
                *eof = true;
            return false;
        }
        buf_append(&s->in, chunk, (size_t)n);
    }
}

/* The value of "key" in an event's JSON data (free()). */
static char *data_str(const struct sse_event *e, const char *key)
{
    cJSON *j = cJSON_Parse(e->data);
    cr_assert_not_null(j, "data is not JSON: %s", e->data);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    char *out = cJSON_IsString(v) ? xstrdup(v->valuestring) : xstrdup("");
    cJSON_Delete(j);
    return out;
}

static int state_rank(const char *state)
{
    if (strcmp(state, "queued") == 0)
        return 0;
    if (strcmp(state, "running") == 0)
        return 1;
    return 2;
}

static char *enqueue_noop(const char *payload)
{
    char err[256] = "";
    struct store *s = store_open(db, 1, 1000, false);
    PGconn *c = store_conn_open(s, STORE_SESSION_DEFAULT, err, sizeof(err));
    store_close(s);
    cr_assert_not_null(c, "%s", err);
    cJSON *p = cJSON_Parse(payload);
    struct store_job_new job = {.kind = "noop", .payload = p};
    char ids[1][37];
    struct store_enqueue g = {.jobs = &job, .njobs = 1, .ids = ids};
    cr_assert_eq(store_job_enqueue(c, &g, 1, err, sizeof(err)), RH_OK, "%s", err);
    cJSON_Delete(p);
    PQfinish(c);
    return xstrdup(ids[0]);
}

/* Another railhook (the test binary's serve, which runs noop jobs) on the same database. */
static pid_t spawn_worker(void)
{
    char env_db[512], env_port[32], log[512];
    int port = th_free_port();
    snprintf(env_db, sizeof(env_db), "DATABASE_URL=%s", db);
    snprintf(env_port, sizeof(env_port), "PORT=%d", port);
    const char *tmp = getenv("RAILHOOK_TEST_TMP");
    snprintf(log, sizeof(log), "%s/events-worker-%d.log", tmp ? tmp : "/tmp", (int)getpid());
    const char *env[] = {env_db,           env_port,        "BIND_ADDRESS=127.0.0.1",
                         "INSTANCE_ID=ew", "WORKERS=1",     "QUEUE_POLL_MS=200",
                         "LOG_LEVEL=warn", "API_AUTH=none", NULL};
    const char *argv[] = {th_test_server_bin(), "serve", NULL};
    pid_t pid = th_spawn(argv, env, log);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", port);
    cr_assert(th_wait_http(url, 15000), "the worker instance did not start (log: %s)", log);
    return pid;
}

static void reap(pid_t pid)
{
    int status = 0;
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
}

#define AUTH "Authorization: Bearer events-read\r\n"

Test(events, a_job_run_by_another_instance_is_seen_in_order_and_a_resume_loses_nothing,
     .init = start, .fini = stop, .timeout = 90)
{
    struct sse live, first;
    cr_assert_eq(sse_open(&live, "/events", AUTH), 200);
    cr_assert_eq(sse_open(&first, "/events", AUTH), 200);
    char *id = enqueue_noop("{\"sleep_ms\":300}");

    /* Queued, seen by both streams; then the first client goes away. */
    struct sse_event e;
    cr_assert(sse_next(&first, 10000, &e, NULL), "no event for the new job");
    cr_assert_str_eq(e.type, "job");
    char *jid = data_str(&e, "id");
    char *state = data_str(&e, "state");
    cr_assert_str_eq(jid, id);
    cr_assert_str_eq(state, "queued");
    long long resume_from = e.id;
    free(jid);
    free(state);
    free(e.data);
    sse_close(&first);

    /* Another instance runs it; the live stream follows it to the end, never backwards. */
    pid_t worker = spawn_worker();
    long long last_id = 0;
    int rank = 0;
    bool done = false;
    bool seen[3] = {false, false, false};
    while (!done) {
        cr_assert(sse_next(&live, 20000, &e, NULL), "the live stream stalled");
        cr_assert_gt(e.id, last_id, "ids must grow");
        last_id = e.id;
        char *st = data_str(&e, "state");
        cr_assert_geq(state_rank(st), rank, "state went back to %s", st);
        rank = state_rank(st);
        seen[rank] = true;
        done = strcmp(st, "succeeded") == 0;
        cr_assert(strcmp(st, "failed") != 0 && strcmp(st, "cancelled") != 0, "%s", e.data);
        free(st);
        free(e.data);
    }
    /* Each event carries the job as it was then: every state shows, however late it is read. */
    cr_assert(seen[0] && seen[1] && seen[2], "queued %d running %d succeeded %d", seen[0], seen[1],
              seen[2]);
    sse_close(&live);
    reap(worker);

    /* Resuming after the disconnect gives every event since, in order, with none missing. */
    char *path = xasprintf("/events?job=%s", id);
    char *hdr = xasprintf(AUTH "Last-Event-ID: %lld\r\n", resume_from);
    struct sse again;
    cr_assert_eq(sse_open(&again, path, hdr), 200);
    char *sql = xasprintf("SELECT string_agg(id::text, ',' ORDER BY id) FROM job_events"
                          " WHERE job_id = '%s' AND id > %lld",
                          id, resume_from);
    char *want = th_sql(db, sql);
    struct buf got;
    buf_init(&got, 0);
    char *last_state = NULL;
    while (strcmp(got.data ? got.data : "", want) != 0) {
        cr_assert(sse_next(&again, 10000, &e, NULL), "resume gave %s, want %s", got.data, want);
        buf_printf(&got, "%s%lld", got.len ? "," : "", e.id);
        free(last_state);
        last_state = data_str(&e, "state");
        free(e.data);
    }
    cr_assert_str_eq(last_state, "succeeded");
    sse_close(&again);
    buf_free(&got);
    free(last_state);
    free(want);
    free(sql);
    free(hdr);
    free(path);
    free(id);
}

static char *insert_job(const char *kind, const char *state)
{
    char *sql = xasprintf("WITH j AS (INSERT INTO jobs (kind, state) VALUES ('%s', '%s')"
                          " RETURNING id), e AS (INSERT INTO job_events (job_id, message)"
                          " SELECT id, 'test' FROM j) SELECT id FROM j",
                          kind, state);
    char *id = th_sql(db, sql);
    free(sql);
    return id;
}

Test(events, filters_pick_jobs_by_id_kind_and_state, .init = start, .fini = stop, .timeout = 60)
{
    struct sse by_kind, by_job;
    cr_assert_eq(sse_open(&by_kind, "/events?kind=update&state=failed", AUTH), 200);
    char *a = insert_job("provision", "failed");
    char *b = insert_job("update", "running");
    char *c = insert_job("update", "failed");
    char *path = xasprintf("/events?job=%s&last_event_id=0", b);
    cr_assert_eq(sse_open(&by_job, path, AUTH), 200);

    struct sse_event e;
    cr_assert(sse_next(&by_kind, 10000, &e, NULL));
    char *id = data_str(&e, "id");
    cr_assert_str_eq(id, c, "only the failed update matches: %s", e.data);
    free(id);
    free(e.data);
    cr_assert(sse_next(&by_job, 10000, &e, NULL));
    id = data_str(&e, "id");
    cr_assert_str_eq(id, b);
    free(id);
    free(e.data);
    /* The document is the job's summary as GET /jobs lists it. */
    char url[160];
    snprintf(url, sizeof(url), "%s/jobs?kind=update&state=running", ts.base);
    const char *hdrs[] = {"Authorization: Bearer events-read", NULL};
    struct th_response r;
    th_http(&r, "GET", url, hdrs, NULL, 0);
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(strstr(r.body, b));
    th_response_free(&r);
    /* Nothing else arrives: a fourth job of another kind is not theirs. */
    free(insert_job("provision", "running"));
    cr_assert_not(sse_next(&by_kind, 1500, &e, NULL), "unexpected event %s", e.data);
    cr_assert_not(sse_next(&by_job, 500, &e, NULL), "unexpected event %s", e.data);
    sse_close(&by_kind);
    sse_close(&by_job);
    free(path);
    free(a);
    free(b);
    free(c);
}

static int status_of(const char *path, const char *headers)
{
    struct sse s;
    int st = sse_open(&s, path, headers);
    sse_close(&s);
    return st;
}

Test(events, tickets_and_tokens, .init = start, .fini = stop, .timeout = 60)
{
    char url[160];
    snprintf(url, sizeof(url), "%s/events/ticket", ts.base);
    const char *read_hdr[] = {"Authorization: Bearer events-read", NULL};
    const char *bad_hdr[] = {"Authorization: Bearer nope", NULL};
    struct th_response r;
    th_http(&r, "POST", url, NULL, NULL, 0);
    cr_assert_eq(r.status, 401, "a ticket needs the read token");
    th_response_free(&r);
    th_http(&r, "POST", url, bad_hdr, NULL, 0);
    cr_assert_eq(r.status, 401);
    th_response_free(&r);
    th_http(&r, "POST", url, read_hdr, NULL, 0);
    cr_assert_eq(r.status, 201, "%s", r.body);
    cJSON *j = cJSON_Parse(r.body);
    const char *ticket = cJSON_GetObjectItem(j, "ticket")->valuestring;
    cr_assert_eq(cJSON_GetObjectItem(j, "expires_in")->valueint, 60);
    th_response_free(&r);

    char path[256];
    snprintf(path, sizeof(path), "/events?ticket=%s", ticket);
    cr_assert_eq(status_of(path, NULL), 200, "a fresh ticket opens the stream");
    cr_assert_eq(status_of(path, NULL), 200, "and again, for EventSource's reconnects");
    /* Tampered: one character of the signature changed. */
    char tampered[256];
    snprintf(tampered, sizeof(tampered), "%s", path);
    size_t n = strlen(tampered);
    tampered[n - 1] = tampered[n - 1] == 'A' ? 'B' : 'A';
    cr_assert_eq(status_of(tampered, NULL), 401);
    /* Expired, and one signed under another token. */
    char old[TICKET_LEN], other[TICKET_LEN];
    ticket_issue(&ts.cfg, (int64_t)time(NULL) - 2 * TICKET_TTL_S, old);
    snprintf(path, sizeof(path), "/events?ticket=%s", old);
    cr_assert_eq(status_of(path, NULL), 401);
    struct config cfg = ts.cfg;
    char someone[] = "someone-else";
    cfg.api_token = someone;
    ticket_issue(&cfg, (int64_t)time(NULL), other);
    snprintf(path, sizeof(path), "/events?ticket=%s", other);
    cr_assert_eq(status_of(path, NULL), 401);
    /* No credential, a wrong token. */
    cr_assert_eq(status_of("/events", NULL), 401);
    cr_assert_eq(status_of("/events", "Authorization: Bearer nope\r\n"), 401);
    cJSON_Delete(j);

    /* Bad filters: 400 naming the field (through the recording client). */
    static const char *const bad[][2] = {{"job=nope", "invalid_job"},
                                         {"state=done", "invalid_state"},
                                         {"kind=frobnicate", "invalid_kind"},
                                         {"last_event_id=-1", "last_event_id"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char u[256];
        snprintf(u, sizeof(u), "%s/events?%s", ts.base, bad[i][0]);
        th_http(&r, "GET", u, read_hdr, NULL, 0);
        cr_assert_eq(r.status, 400, "%s: %ld", bad[i][0], r.status);
        cr_assert_not_null(strstr(r.body, bad[i][1]), "%s", r.body);
        th_response_free(&r);
    }
    const char *bad_last[] = {"Authorization: Bearer events-read", "Last-Event-ID: x1", NULL};
    snprintf(url, sizeof(url), "%s/events", ts.base);
    th_http(&r, "GET", url, bad_last, NULL, 0);
    cr_assert_eq(r.status, 400);
    cr_assert_not_null(strstr(r.body, "Last-Event-ID"), "%s", r.body);
    th_response_free(&r);
}

Test(events, a_later_id_waits_for_an_earlier_one_still_in_flight, .init = start, .fini = stop,
     .timeout = 60)
{
    char *job = insert_job("provision", "running");
    struct sse s;
    char *path = xasprintf("/events?job=%s", job);
    cr_assert_eq(sse_open(&s, path, AUTH), 200);
    PGconn *early = PQconnectdb(db);
    PGconn *late = PQconnectdb(db);
    cr_assert_eq(PQstatus(early), CONNECTION_OK);
    cr_assert_eq(PQstatus(late), CONNECTION_OK);
    char *ins = xasprintf("INSERT INTO job_events (job_id, message) VALUES ('%s', 'm')"
                          " RETURNING id",
                          job);
    PQclear(PQexec(early, "BEGIN"));
    PGresult *r1 = PQexec(early, ins);
    cr_assert_eq(PQresultStatus(r1), PGRES_TUPLES_OK, "%s", PQerrorMessage(early));
    long long id1 = strtoll(PQgetvalue(r1, 0, 0), NULL, 10);
    PGresult *r2 = PQexec(late, ins);
    cr_assert_eq(PQresultStatus(r2), PGRES_TUPLES_OK, "%s", PQerrorMessage(late));
    long long id2 = strtoll(PQgetvalue(r2, 0, 0), NULL, 10);
    cr_assert_gt(id2, id1);
    /* id2 is committed, id1 is not: the stream must hold id2 back. */
    struct sse_event e;
    cr_assert_not(sse_next(&s, 2500, &e, NULL), "sent %lld while %lld was in flight", e.id, id1);
    PQclear(PQexec(early, "COMMIT"));
    cr_assert(sse_next(&s, 10000, &e, NULL));
    cr_assert_eq(e.id, id1);
    free(e.data);
    cr_assert(sse_next(&s, 10000, &e, NULL));
    cr_assert_eq(e.id, id2);
    free(e.data);
    PQclear(r1);
    PQclear(r2);
    PQfinish(early);
    PQfinish(late);
    sse_close(&s);
    free(ins);
    free(path);
    free(job);
}

Test(events, idle_streams_hold_no_thread_and_end_at_shutdown, .fini = stop, .timeout = 60)
{
    enum { STREAMS = 6 };
    start_with("2", "6");
    struct sse s[STREAMS];
    for (int i = 0; i < STREAMS; i++)
        cr_assert_eq(sse_open(&s[i], "/events", AUTH), 200);
    /* More streams than HTTP threads, and the server still answers. */
    char url[128];
    snprintf(url, sizeof(url), "%s/healthz", ts.base);
    struct th_response r;
    th_http(&r, "GET", url, NULL, NULL, 0);
    cr_assert_eq(r.status, 200);
    th_response_free(&r);
    /* Past EVENTS_MAX_STREAMS: 503. */
    cr_assert_eq(status_of("/events", AUTH), 503);
    /* Every stream still gets a new event. */
    char *job = insert_job("provision", "queued");
    for (int i = 0; i < STREAMS; i++) {
        struct sse_event e;
        cr_assert(sse_next(&s[i], 10000, &e, NULL), "stream %d got nothing", i);
        free(e.data);
    }
    /* Shutdown ends them. */
    th_server_stop(&ts);
    running = false;
    for (int i = 0; i < STREAMS; i++) {
        struct sse_event e;
        bool eof = false;
        cr_assert_not(sse_next(&s[i], 5000, &e, &eof));
        cr_assert(eof, "stream %d did not end", i);
        sse_close(&s[i]);
    }
    free(job);
}

/* The first event of a stream opened with Last-Event-ID: last_id. */
static void expect_reset(const char *last_id, const char *reason)
{
    char *hdr = xasprintf(AUTH "Last-Event-ID: %s\r\n", last_id);
    struct sse s;
    cr_assert_eq(sse_open(&s, "/events", hdr), 200);
    struct sse_event e;
    cr_assert(sse_next(&s, 10000, &e, NULL), "no event after Last-Event-ID %s", last_id);
    cr_assert_str_eq(e.type, "reset", "%s: %s", last_id, e.data);
    cr_assert_not_null(strstr(e.data, reason), "%s", e.data);
    cr_assert_geq(e.id, 0, "a reset carries the id to go on from");
    free(e.data);
    sse_close(&s);
    free(hdr);
}

Test(events, a_client_whose_events_are_gone_or_unknown_is_told_to_reload, .init = start,
     .fini = stop, .timeout = 60)
{
    char *a = insert_job("provision", "succeeded");
    char *b = insert_job("provision", "succeeded");
    char *c = insert_job("provision", "running");
    /* Retention deleted the first two jobs with their events. */
    char *sql = xasprintf("DELETE FROM jobs WHERE id IN ('%s', '%s')", a, b);
    free(th_sql(db, sql));
    free(sql);
    char *first = th_sql(db, "SELECT min(id)::text FROM job_events");
    cr_assert_gt(strtoll(first, NULL, 10), 2);
    expect_reset("0", "events_pruned");
    expect_reset("999999", "unknown_event_id");
    free(first);
    free(a);
    free(b);
    free(c);
}

/* The case a snapshot's xmax misses: the transaction holding the earlier event id took the
 * newest transaction id, and the one that commits the later event id is older. */
Test(events, a_later_id_waits_even_when_the_earlier_ones_transaction_is_the_newest, .init = start,
     .fini = stop, .timeout = 60)
{
    char *job = insert_job("provision", "running");
    struct sse s;
    char *path = xasprintf("/events?job=%s", job);
    cr_assert_eq(sse_open(&s, path, AUTH), 200);
    PGconn *older = PQconnectdb(db);
    PGconn *newer = PQconnectdb(db);
    cr_assert_eq(PQstatus(older), CONNECTION_OK);
    cr_assert_eq(PQstatus(newer), CONNECTION_OK);
    char *ins = xasprintf("INSERT INTO job_events (job_id, message) VALUES ('%s', 'm')"
                          " RETURNING id",
                          job);
    PQclear(PQexec(older, "BEGIN"));
    PQclear(PQexec(older, "SELECT pg_current_xact_id()"));
    PQclear(PQexec(newer, "BEGIN"));
    PGresult *r1 = PQexec(newer, ins);
    cr_assert_eq(PQresultStatus(r1), PGRES_TUPLES_OK, "%s", PQerrorMessage(newer));
    long long id1 = strtoll(PQgetvalue(r1, 0, 0), NULL, 10);
    PGresult *r2 = PQexec(older, ins);
    cr_assert_eq(PQresultStatus(r2), PGRES_TUPLES_OK, "%s", PQerrorMessage(older));
    long long id2 = strtoll(PQgetvalue(r2, 0, 0), NULL, 10);
    PQclear(PQexec(older, "COMMIT"));
    cr_assert_gt(id2, id1);
    struct sse_event e;
    cr_assert_not(sse_next(&s, 2500, &e, NULL), "sent %lld while %lld was in flight", e.id, id1);
    PQclear(PQexec(newer, "COMMIT"));
    cr_assert(sse_next(&s, 10000, &e, NULL));
    cr_assert_eq(e.id, id1);
    free(e.data);
    cr_assert(sse_next(&s, 10000, &e, NULL));
    cr_assert_eq(e.id, id2);
    free(e.data);
    PQclear(r1);
    PQclear(r2);
    PQfinish(older);
    PQfinish(newer);
    sse_close(&s);
    free(ins);
    free(path);
    free(job);
}

/* A stream idle for longer than HTTP_CONNECTION_TIMEOUT_S is not an idle connection: it is
 * suspended, and still delivers the next event. */
Test(events, a_stream_outlives_the_idle_connection_timeout, .fini = stop, .timeout = 60)
{
    setenv("HTTP_CONNECTION_TIMEOUT_S", "1", 1);
    start();
    unsetenv("HTTP_CONNECTION_TIMEOUT_S");
    struct sse s;
    cr_assert_eq(sse_open(&s, "/events", AUTH), 200);
    struct sse_event e;
    bool eof = false;
    /* The scenario is the idle time itself: nothing may arrive, and the stream stays open. */
    cr_assert_not(sse_next(&s, 2500, &e, &eof));
    cr_assert_not(eof, "the idle stream was closed");
    char *job = insert_job("provision", "queued");
    cr_assert(sse_next(&s, 10000, &e, &eof), "no event after the idle spell (eof %d)", eof);
    char *id = data_str(&e, "id");
    cr_assert_str_eq(id, job);
    free(id);
    free(e.data);
    sse_close(&s);
    free(job);
}
