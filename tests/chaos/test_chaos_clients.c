/* Hostile clients on raw sockets against a real `railhook serve`: hundreds of idle
 * connections (below HTTP_CONNECTION_LIMIT), slowloris requests that send their headers a byte
 * at a time, bodies shorter than their Content-Length, bodies over MAX_BODY_BYTES (declared
 * and streamed), and an oversized header. Meanwhile a well-behaved client keeps getting 200
 * from /healthz within a bound and 202 for real deliveries; afterwards the server has closed
 * the idle and lying connections on its own (HTTP_CONNECTION_TIMEOUT_S). */
#include "chaos/chaos.h"

#include "util/util.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CONN_LIMIT   512
#define IDLE_CONNS   360
#define SLOW_CONNS   40
#define LIAR_CONNS   20
#define BIG_CONNS    8
#define STREAM_CONNS 4
#define MAX_BODY     65536
#define HEALTH_BOUND 2000 /* ms: the longest a /healthz may take (sanitizer builds too) */

static int open_conn(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "connect: %s", strerror(errno));
    return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return; /* the server may close a hostile connection: that is allowed */
        s += w;
        n -= (size_t)w;
    }
}

/* Reads what the server sends within timeout_ms: >0 bytes, 0 closed, -1 nothing yet. */
static ssize_t read_some(int fd, char *out, size_t cap, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) <= 0)
        return -1;
    ssize_t n = recv(fd, out, cap - 1, 0);
    if (n < 0)
        return errno == ECONNRESET ? 0 : -1;
    out[n] = '\0';
    return n;
}

/* True when the server has closed fd (EOF or reset), after draining any answer. */
static bool closed_by_server(int fd, int timeout_ms)
{
    char tmp[4096];
    int64_t end = time_mono_ms() + timeout_ms;
    while (time_mono_ms() < end) {
        ssize_t n = read_some(fd, tmp, sizeof(tmp), 200);
        if (n == 0)
            return true;
    }
    return false;
}

struct health {
    int port;
    atomic_bool stop;
    long requests, failures, slowest_ms, deliveries, delivered;
    char tag[8];
};

static void *well_behaved(void *arg)
{
    struct health *h = arg;
    CURL *c = curl_easy_init();
    char url[96];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", h->port);
    int i = 0;
    while (!atomic_load(&h->stop)) {
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        /* A fresh connection each time: new connections must still get a slot. */
        curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
        int64_t t0 = time_mono_ms();
        long status = 0;
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        long ms = (long)(time_mono_ms() - t0);
        h->requests++;
        if (status != 200)
            h->failures++;
        if (ms > h->slowest_ms)
            h->slowest_ms = ms;
        if (++i % 10 == 0) {
            h->deliveries++;
            if (chaos_post_insert(c, h->port, h->tag, i, NULL, 5000) == 202)
                h->delivered++;
        }
        usleep(50 * 1000);
    }
    curl_easy_cleanup(c);
    return NULL;
}

Test(chaos, hostile_clients_do_not_starve_others, .timeout = 600)
{
    const int attack_s = chaos_size(5, 20);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char *db = th_db_create();
    char *url = chaos_db_url(db);
    char *log = chaos_path("clients", "log");
    char limit[48], body[48], timeout[48];
    snprintf(limit, sizeof(limit), "HTTP_CONNECTION_LIMIT=%d", CONN_LIMIT);
    snprintf(body, sizeof(body), "MAX_BODY_BYTES=%d", MAX_BODY);
    /* The idle timeout just outlasts the attack: the idle connections hold their slots
     * throughout, and the server must reclaim them on its own right after. */
    const int idle_timeout = attack_s + 2;
    snprintf(timeout, sizeof(timeout), "HTTP_CONNECTION_TIMEOUT_S=%d", idle_timeout);
    /* Every client here is 127.0.0.1: the per-client limit is test_http_limits.c's subject. */
    const char *extra[] = {
        "WORKERS=0", "HTTP_THREADS=8", "HTTP_PER_CLIENT_LIMIT=0", limit, body, timeout, NULL};
    struct chaos_proc p;
    chaos_serve(&p, "clients", url, NULL, log, extra);

    struct health h = {.port = p.port};
    chaos_tag(h.tag);
    pthread_t th;
    pthread_create(&th, NULL, well_behaved, &h);

    int idle[IDLE_CONNS], slow[SLOW_CONNS], liar[LIAR_CONNS], big[BIG_CONNS], stream[STREAM_CONNS];
    for (int i = 0; i < IDLE_CONNS; i++)
        idle[i] = open_conn(p.port);
    static const char slow_head[] = "POST /webhooks/supabase HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                    "Content-Type: application/json\r\nX-Padding: ";
    for (int i = 0; i < SLOW_CONNS; i++) {
        slow[i] = open_conn(p.port);
        send_all(slow[i], slow_head, 1);
    }
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "POST /webhooks/supabase HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                     "application/json\r\nAuthorization: Bearer %s\r\nContent-Length: 60000"
                     "\r\n\r\n{\"type\":\"INSERT\"",
                     CHAOS_SUPABASE_SECRET);
    for (int i = 0; i < LIAR_CONNS; i++) {
        liar[i] = open_conn(p.port);
        send_all(liar[i], head, (size_t)n);
    }
    /* Declared over the cap: answered 413 at once, before any body. */
    n = snprintf(head, sizeof(head),
                 "POST /webhooks/supabase HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                 "application/json\r\nContent-Length: %d\r\n\r\n",
                 MAX_BODY * 4);
    int got_413 = 0;
    for (int i = 0; i < BIG_CONNS; i++) {
        big[i] = open_conn(p.port);
        send_all(big[i], head, (size_t)n);
        char ans[512];
        if (read_some(big[i], ans, sizeof(ans), 3000) > 0 && strstr(ans, " 413 "))
            got_413++;
    }
    cr_assert_eq(got_413, BIG_CONNS, "a declared oversized body was not refused with 413");
    /* Streamed (chunked) bodies that go on past the cap. */
    static const char chunked[] = "POST /webhooks/supabase HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                  "Content-Type: application/json\r\nTransfer-Encoding: "
                                  "chunked\r\n\r\n";
    for (int i = 0; i < STREAM_CONNS; i++) {
        stream[i] = open_conn(p.port);
        send_all(stream[i], chunked, sizeof(chunked) - 1);
    }
    /* One header far over any sane size. */
    int huge = open_conn(p.port);
    struct buf hb;
    buf_init(&hb, 0);
    buf_puts(&hb, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Huge: ");
    for (int i = 0; i < 256 * 1024; i++)
        buf_append(&hb, "a", 1);
    buf_puts(&hb, "\r\n\r\n");
    send_all(huge, hb.data, hb.len);
    buf_free(&hb);
    char ans[1024];
    ssize_t huge_n = read_some(huge, ans, sizeof(ans), 3000);
    cr_assert(huge_n == 0 || (huge_n > 0 && strstr(ans, " 200 ") == NULL),
              "a 256 KiB header was served: %s", ans);
    close(huge);

    /* The attack: slowloris bytes every 100 ms, streamed chunks as fast as they go. */
    char chunk[4096 + 16];
    int clen = snprintf(chunk, sizeof(chunk), "1000\r\n");
    memset(chunk + clen, 'x', 4096);
    memcpy(chunk + clen + 4096, "\r\n", 2);
    clen += 4096 + 2;
    long streamed[STREAM_CONNS] = {0};
    int streams_refused = 0;
    int64_t end = time_mono_ms() + (int64_t)attack_s * 1000;
    int byte = 1;
    while (time_mono_ms() < end) {
        for (int i = 0; i < SLOW_CONNS; i++)
            send_all(slow[i], slow_head + (byte % (int)(sizeof(slow_head) - 1)), 1);
        byte++;
        for (int i = 0; i < STREAM_CONNS; i++) {
            if (stream[i] < 0)
                continue;
            for (int k = 0; k < 8; k++) {
                ssize_t w = send(stream[i], chunk, (size_t)clen, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (w < 0 && errno != EAGAIN) {
                    /* Refused or cut off past the cap: what the server should do. */
                    close(stream[i]);
                    stream[i] = -1;
                    streams_refused++;
                    break;
                }
                if (w > 0)
                    streamed[i] += w;
            }
        }
        usleep(100 * 1000);
    }
    atomic_store(&h.stop, true);
    pthread_join(th, NULL);
    long most_streamed = 0;
    for (int i = 0; i < STREAM_CONNS; i++)
        most_streamed = streamed[i] > most_streamed ? streamed[i] : most_streamed;

    cr_assert_gt(h.requests, 10);
    cr_assert_eq(h.failures, 0, "%ld of %ld /healthz requests failed during the attack", h.failures,
                 h.requests);
    cr_assert_leq(h.slowest_ms, HEALTH_BOUND, "a /healthz took %ld ms during the attack",
                  h.slowest_ms);
    cr_assert_eq(h.delivered, h.deliveries, "%ld of %ld deliveries accepted during the attack",
                 h.delivered, h.deliveries);
    /* A streamed body is cut off once it is far over the cap (8x, then the socket closes). */
    for (int i = 0; i < STREAM_CONNS; i++)
        if (stream[i] >= 0)
            cr_assert(closed_by_server(stream[i], 5000) || streamed[i] < 8 * MAX_BODY,
                      "a body streamed %ld bytes past a %d-byte cap", streamed[i], MAX_BODY);

    /* The server reclaims idle and lying connections on its own. */
    int64_t t_wait = time_mono_ms();
    int idle_closed = 0, liar_closed = 0;
    for (int i = 0; i < LIAR_CONNS; i++)
        liar_closed += closed_by_server(liar[i], (idle_timeout + 5) * 1000);
    for (int i = 0; i < IDLE_CONNS; i++)
        idle_closed += closed_by_server(idle[i], 100);
    long reclaim_ms = (long)(time_mono_ms() - t_wait);
    cr_assert_eq(liar_closed, LIAR_CONNS, "only %d of %d short-bodied connections were closed",
                 liar_closed, LIAR_CONNS);
    cr_assert_eq(idle_closed, IDLE_CONNS, "only %d of %d idle connections were closed", idle_closed,
                 IDLE_CONNS);
    int slow_open = 0;
    for (int i = 0; i < SLOW_CONNS; i++)
        slow_open += !closed_by_server(slow[i], 50);

    for (int i = 0; i < IDLE_CONNS; i++)
        close(idle[i]);
    for (int i = 0; i < SLOW_CONNS; i++)
        close(slow[i]);
    for (int i = 0; i < LIAR_CONNS; i++)
        close(liar[i]);
    for (int i = 0; i < BIG_CONNS; i++)
        close(big[i]);
    for (int i = 0; i < STREAM_CONNS; i++)
        if (stream[i] >= 0)
            close(stream[i]);
    char hz[96];
    snprintf(hz, sizeof(hz), "%s/healthz", p.base);
    cr_assert(th_wait_http(hz, 2000));
    cr_assert_eq(WEXITSTATUS(chaos_signal(&p, SIGTERM)), 0);

    const char *files[] = {log, NULL};
    chaos_assert_no_secrets(db, files);
    fprintf(stderr,
            "chaos clients: %d s attack by %d idle, %d slowloris, %d short-bodied, %d "
            "declared-oversized (all 413), %d streamed-oversized (most %ld bytes sent, %d cut "
            "off) connections and a 256 KiB header, HTTP_CONNECTION_LIMIT=%d; healthz %ld/%ld "
            "ok, slowest %ld ms; deliveries %ld/%ld accepted; idle and short-bodied closed by "
            "the server within %ld ms after the attack; slowloris still open: %d\n",
            attack_s, IDLE_CONNS, SLOW_CONNS, LIAR_CONNS, BIG_CONNS, STREAM_CONNS, most_streamed,
            streams_refused, CONN_LIMIT, h.requests - h.failures, h.requests, h.slowest_ms,
            h.delivered, h.deliveries, reclaim_ms, slow_open);
    free(log);
    free(url);
    th_db_drop(db);
}
