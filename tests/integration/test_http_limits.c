/* What one client can hold, on raw loopback sockets against the in-process server: connections
 * per client address (127.0.0.2 is the other client), the deadline for a whole request, the
 * budget for bodies in flight, and bodies refused before they are read where no route reads
 * them or the headers already fail. Every wait is bounded. */
#include "support/harness.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SUPABASE_SECRET "sb-limits-3e9a7c51"
#define ADMIN_TOKEN     "admin-limits-8d2f"
#define READ_TOKEN      "read-limits-41c7"

static struct th_server ts;
static char *db;

static void start(void)
{
    setenv("SUPABASE_WEBHOOK_SECRET", SUPABASE_SECRET, 1);
    setenv("GITHUB_WEBHOOK_SECRET", "gh-limits-6b0e", 1);
    setenv("API_TOKEN", READ_TOKEN, 1);
    setenv("API_ADMIN_TOKEN", ADMIN_TOKEN, 1);
    /* Only the limits under test may close a connection. */
    setenv("HTTP_CONNECTION_TIMEOUT_S", "60", 1);
    db = th_db_create();
    th_server_start(&ts, db);
}

static void stop(void)
{
    th_server_stop(&ts);
    th_db_drop(db);
}

static void start_per_client_4(void)
{
    setenv("HTTP_PER_CLIENT_LIMIT", "4", 1);
    start();
}

static void start_deadline_2(void)
{
    setenv("HTTP_REQUEST_DEADLINE_S", "2", 1);
    start();
}

static void start_deadline_1(void)
{
    setenv("HTTP_REQUEST_DEADLINE_S", "1", 1);
    start();
}

static void start_budget(void)
{
    setenv("MAX_BODY_BYTES", "65536", 1);
    /* Room for two full bodies and a small one. */
    setenv("HTTP_BODY_BUDGET_BYTES", "140000", 1);
    start();
}

/* A connection from source address src to the server. */
static int conn_from(const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    inet_pton(AF_INET, src, &a.sin_addr);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0, "bind %s: %s", src,
                 strerror(errno));
    a.sin_port = htons((uint16_t)ts.port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "connect: %s", strerror(errno));
    return fd;
}

/* Sends what it can; false once the server has closed the connection. */
static bool send_all(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Reads until the server closes, the answer's body is complete or timeout_ms passes; returns
 * what came (NUL-terminated in out). *closed says whether the server closed. */
static size_t read_answer(int fd, char *out, size_t cap, int timeout_ms, bool *closed)
{
    size_t got = 0;
    int64_t end = time_mono_ms() + timeout_ms;
    *closed = false;
    out[0] = '\0';
    while (got + 1 < cap) {
        int left = (int)(end - time_mono_ms());
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, left) <= 0)
            break;
        ssize_t n = recv(fd, out + got, cap - 1 - got, 0);
        if (n <= 0) {
            *closed = true;
            break;
        }
        got += (size_t)n;
        out[got] = '\0';
        const char *eoh = strstr(out, "\r\n\r\n");
        const char *cl = strstr(out, "Content-Length: ");
        if (eoh && cl && out + got >= eoh + 4 + atol(cl + 16))
            break;
    }
    return got;
}

/* The status code of an answer ("HTTP/1.1 413 ..."), 0 when there is none. */
static int status_of(const char *answer)
{
    return strncmp(answer, "HTTP/1.", 7) == 0 ? (int)strtol(answer + 9, NULL, 10) : 0;
}

/* GET /healthz on a fresh connection from src; the status (0: no answer). */
static int healthz_from(const char *src)
{
    int fd = conn_from(src);
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char ans[2048];
    bool closed;
    int status = 0;
    if (send_all(fd, req, sizeof(req) - 1)) {
        read_answer(fd, ans, sizeof(ans), 3000, &closed);
        status = status_of(ans);
    }
    close(fd);
    return status;
}

/* Milliseconds until the server closes fd while one byte of text goes out every step_ms
 * (wrapping around); -1 when it is still open after limit_ms. */
static long trickle_until_closed(int fd, const char *text, int step_ms, int limit_ms, int64_t since)
{
    size_t n = strlen(text);
    for (size_t i = 0; time_mono_ms() - since < limit_ms; i++) {
        char tmp[256];
        bool closed = false;
        if (!send_all(fd, text + i % n, 1))
            return (long)(time_mono_ms() - since);
        read_answer(fd, tmp, sizeof(tmp), step_ms, &closed);
        if (closed)
            return (long)(time_mono_ms() - since);
    }
    return -1;
}

Test(http_limits, one_address_cannot_take_every_connection, .init = start_per_client_4,
     .fini = stop, .timeout = 60)
{
    static const char partial[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    int held[4];
    for (int i = 0; i < 4; i++) {
        held[i] = conn_from("127.0.0.1");
        cr_assert(send_all(held[i], partial, sizeof(partial) - 1));
    }
    usleep(300 * 1000);

    /* A fifth connection from the same address is closed at once, unanswered. */
    int extra = conn_from("127.0.0.1");
    static const char full[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    send_all(extra, full, sizeof(full) - 1);
    char ans[2048];
    bool closed = false;
    read_answer(extra, ans, sizeof(ans), 3000, &closed);
    cr_assert(closed, "the fifth connection from 127.0.0.1 stayed open");
    cr_assert_eq(status_of(ans), 0, "the fifth connection was served: %s", ans);
    close(extra);

    /* Another address is served meanwhile, and so are the held connections. */
    cr_assert_eq(healthz_from("127.0.0.2"), 200);
    cr_assert(send_all(held[0], "\r\n", 2));
    read_answer(held[0], ans, sizeof(ans), 3000, &closed);
    cr_assert_eq(status_of(ans), 200, "a held connection was not served: %s", ans);

    /* A slot given back is usable again by the same address. */
    for (int i = 0; i < 4; i++)
        close(held[i]);
    int status = 0;
    for (int64_t end = time_mono_ms() + 3000; status != 200 && time_mono_ms() < end;)
        if ((status = healthz_from("127.0.0.1")) != 200)
            usleep(100 * 1000);
    cr_assert_eq(status, 200, "127.0.0.1 was not served again after closing its connections");
}

Test(http_limits, a_request_still_arriving_at_its_deadline_is_cut_off, .init = start_deadline_2,
     .fini = stop, .timeout = 60)
{
    /* Headers a byte at a time: every byte resets libmicrohttpd's idle timer, not the deadline. */
    int64_t t0 = time_mono_ms();
    int slow = conn_from("127.0.0.1");
    long ms = trickle_until_closed(slow, "GET /healthz HTTP/1.1\r\nX-Pad: aaaaaaaaaaaaaaaaaaaa",
                                   200, 10000, t0);
    close(slow);
    cr_assert_neq(ms, -1, "headers trickling for 10 s were never cut off");
    cr_assert_geq(ms, 1800, "cut off after %ld ms, before the 2 s deadline", ms);
    cr_assert_leq(ms, 5000, "cut off only after %ld ms", ms);

    /* A body a byte at a time, after headers that were all there at once. */
    t0 = time_mono_ms();
    slow = conn_from("127.0.0.1");
    static const char head[] = "POST /webhooks/supabase HTTP/1.1\r\nHost: x\r\nContent-Type: "
                               "application/json\r\nAuthorization: Bearer " SUPABASE_SECRET
                               "\r\nContent-Length: 1000\r\n\r\n";
    cr_assert(send_all(slow, head, sizeof(head) - 1));
    ms = trickle_until_closed(slow, "{\"type\":\"INSERT\",      ", 200, 10000, t0);
    close(slow);
    cr_assert_neq(ms, -1, "a body trickling for 10 s was never cut off");
    cr_assert_geq(ms, 1800, "cut off after %ld ms, before the 2 s deadline", ms);
    cr_assert_leq(ms, 5000, "cut off only after %ld ms", ms);

    /* Prompt requests are untouched, on the same server. */
    cr_assert_eq(healthz_from("127.0.0.1"), 200);
}

Test(http_limits, a_long_poll_outlives_the_request_deadline, .init = start_deadline_1, .fini = stop,
     .timeout = 60)
{
    char *id = th_sql(db, "INSERT INTO jobs (kind, state, service_name, payload) VALUES "
                          "('provision', 'queued', 'osp-worker-lp', '{}') RETURNING id");
    char url[192];
    const char *hdrs[] = {"Authorization: Bearer " READ_TOKEN, NULL};
    struct th_response r;
    /* The INSERT's own change notification may reach the listener after a poll has begun and
     * end it early: poll for a second until one lasts its wait, so that one has gone by. */
    snprintf(url, sizeof(url), "%s/jobs/%s?wait=1", ts.base, id);
    for (int i = 0; i < 10; i++) {
        int64_t t = time_mono_ms();
        th_http(&r, "GET", url, hdrs, NULL, 0);
        th_response_free(&r);
        if (time_mono_ms() - t >= 900)
            break;
    }
    snprintf(url, sizeof(url), "%s/jobs/%s?wait=3", ts.base, id);
    int64_t t0 = time_mono_ms();
    th_http(&r, "GET", url, hdrs, NULL, 0);
    long ms = (long)(time_mono_ms() - t0);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_assert_geq(ms, 2500, "the long poll came back after %ld ms, not after its wait", ms);
    th_response_free(&r);
    free(id);
}

/* A Supabase INSERT of manifest name padded to exactly len bytes. */
static char *delivery(const char *name, size_t len)
{
    char *head = xasprintf("{\"type\":\"INSERT\",\"table\":\"manifests\",\"schema\":\"public\","
                           "\"record\":{\"id\":\"%s\",\"service_schema\":\"%s\"},"
                           "\"old_record\":null,\"pad\":\"",
                           name, name);
    size_t n = strlen(head);
    cr_assert_lt(n + 2, len);
    char *body = xmalloc(len + 1);
    memcpy(body, head, n);
    memset(body + n, 'p', len - n - 2);
    memcpy(body + len - 2, "\"}", 3);
    free(head);
    return body;
}

static char *delivery_head(size_t len)
{
    return xasprintf("POST /webhooks/supabase HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     "application/json\r\nAuthorization: Bearer %s\r\nContent-Length: %zu\r\n\r\n",
                     SUPABASE_SECRET, len);
}

Test(http_limits, bodies_over_the_budget_get_503_at_once_and_none_is_lost, .init = start_budget,
     .fini = stop, .timeout = 60)
{
    const size_t big = 65536;
    char *head = delivery_head(big);
    char *body_a = delivery("lima", big);
    char *body_b = delivery("limb", big);
    int a = conn_from("127.0.0.1");
    int b = conn_from("127.0.0.1");
    cr_assert(send_all(a, head, strlen(head)) && send_all(a, body_a, 1000));
    cr_assert(send_all(b, head, strlen(head)) && send_all(b, body_b, 1000));
    usleep(300 * 1000);

    /* A third one over the budget: 503 with Retry-After before any of its body is sent. */
    int c = conn_from("127.0.0.1");
    cr_assert(send_all(c, head, strlen(head)));
    char ans[4096];
    bool closed;
    int64_t t0 = time_mono_ms();
    read_answer(c, ans, sizeof(ans), 3000, &closed);
    cr_assert_eq(status_of(ans), 503, "an over-budget body got: %s", ans);
    cr_assert_lt(time_mono_ms() - t0, 2000);
    cr_assert_not_null(strstr(ans, "Retry-After: "), "%s", ans);
    cr_assert_not_null(strstr(ans, "\"server_busy\""), "%s", ans);
    close(c);

    /* Small requests go on being served. */
    char *small = delivery("lims", 400);
    char url[128];
    snprintf(url, sizeof(url), "%s/webhooks/supabase", ts.base);
    const char *hdrs[] = {"Authorization: Bearer " SUPABASE_SECRET,
                          "Content-Type: application/json", NULL};
    struct th_response r;
    th_http(&r, "POST", url, hdrs, small, strlen(small));
    cr_assert_eq(r.status, 202, "%ld %s", r.status, r.body);
    th_response_free(&r);
    cr_assert_eq(healthz_from("127.0.0.1"), 200);

    /* The two in flight finish and are queued: nothing admitted is lost. */
    cr_assert(send_all(a, body_a + 1000, big - 1000));
    cr_assert(send_all(b, body_b + 1000, big - 1000));
    read_answer(a, ans, sizeof(ans), 10000, &closed);
    cr_assert_eq(status_of(ans), 202, "%s", ans);
    read_answer(b, ans, sizeof(ans), 10000, &closed);
    cr_assert_eq(status_of(ans), 202, "%s", ans);
    close(a);
    close(b);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 3);

    /* Their reservations are back: a big body is admitted again. */
    char *body_d = delivery("limd", big);
    int d = conn_from("127.0.0.1");
    cr_assert(send_all(d, head, strlen(head)) && send_all(d, body_d, big));
    read_answer(d, ans, sizeof(ans), 10000, &closed);
    cr_assert_eq(status_of(ans), 202, "%s", ans);
    close(d);
    free(body_d);
    free(small);
    free(body_a);
    free(body_b);
    free(head);
}

Test(http_limits, bodies_are_refused_unread_where_no_route_reads_them, .init = start, .fini = stop,
     .timeout = 60)
{
    static const struct {
        const char *head;
        int status;
        const char *code;
    } cases[] = {
        {"GET /healthz HTTP/1.1\r\nContent-Length: 50000\r\n", 413, "body_not_allowed"},
        {"GET /jobs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n", 413, "body_not_allowed"},
        {"POST /jobs/6fa459ea-ee8a-4ca4-894e-db77e160355e/retry HTTP/1.1\r\nAuthorization: "
         "Bearer " ADMIN_TOKEN "\r\nContent-Length: 10\r\n",
         413, "body_not_allowed"},
        {"POST /nope HTTP/1.1\r\nContent-Length: 1000\r\n", 404, "not_found"},
        {"DELETE /jobs HTTP/1.1\r\nContent-Length: 1000\r\n", 405, "method_not_allowed"},
        /* Credentials the headers carry are checked before a body is read. */
        {"POST /jobs HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n", 401,
         "unauthorized"},
        {"POST /jobs HTTP/1.1\r\nAuthorization: Bearer " READ_TOKEN
         "\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n",
         403, "forbidden"},
        {"POST /webhooks/supabase HTTP/1.1\r\nAuthorization: Bearer wrong\r\nContent-Type: "
         "application/json\r\nContent-Length: 60000\r\n",
         401, "unauthorized"},
        {"POST /webhooks/supabase HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: "
         "60000\r\n",
         401, "unauthorized"},
        {"POST /webhooks/supabase HTTP/1.1\r\nAuthorization: Bearer " SUPABASE_SECRET
         "\r\nContent-Type: text/plain\r\nContent-Length: 60000\r\n",
         415, "unsupported_media_type"},
        {"POST /webhooks/github HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: "
         "60000\r\n",
         401, "invalid_signature"},
        {"POST /webhooks/github HTTP/1.1\r\nX-Hub-Signature-256: sha256=zz\r\nContent-Type: "
         "application/json\r\nTransfer-Encoding: chunked\r\n",
         401, "invalid_signature"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int fd = conn_from("127.0.0.1");
        char *req = xasprintf("%sHost: x\r\n\r\n", cases[i].head);
        cr_assert(send_all(fd, req, strlen(req)));
        /* No body byte is ever sent: only an answer given without it can arrive. */
        char ans[4096];
        bool closed;
        read_answer(fd, ans, sizeof(ans), 3000, &closed);
        cr_assert_eq(status_of(ans), cases[i].status, "%s got: %s", cases[i].head, ans);
        char *code = xasprintf("\"code\":\"%s\"", cases[i].code);
        cr_assert_not_null(strstr(ans, code), "%s got: %s", cases[i].head, ans);
        cr_assert_not_null(strstr(ans, "Connection: close"), "%s got: %s", cases[i].head, ans);
        free(code);
        free(req);
        close(fd);
    }
    /* Nothing was queued by any of them. */
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), 0);
}
