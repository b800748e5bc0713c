/* Attacks the hardening answers: one signed push replayed under fresh delivery ids (one
 * redeploy per service for that commit), a PostgreSQL that stops answering behind a link that
 * stays up (health and intake answer within their timeouts, and recover), a thousand slow
 * connections from one address while clients from another are served, and hundreds of
 * connections that each send most of a 1 MiB body and stall (peak RSS bounded, the over-budget
 * ones get 503 at once). All on loopback; each prints the figures README's Resilience table
 * quotes. */
#include "chaos/chaos.h"

#include "support/deliveries.h"
#include "support/stall_proxy.h"
#include "util/util.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static size_t on_body(char *ptr, size_t size, size_t n, void *ud)
{
    if (ud)
        buf_append(ud, ptr, size * n);
    return size * n;
}

/* GETs or POSTs (body non-NULL) path on port from source address src (NULL: any); returns
 * the status (0: no answer) and the answer's body in out (may be NULL), and the time taken
 * in *ms (may be NULL). */
static long http(CURL *c, int port, const char *src, const char *path, const char *const *hdrs,
                 const char *body, size_t len, struct buf *out, long timeout_ms, long *ms)
{
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    struct curl_slist *hd = curl_slist_append(NULL, "Expect:");
    for (const char *const *h = hdrs; h && *h; h++)
        hd = curl_slist_append(hd, *h);
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (src)
        curl_easy_setopt(c, CURLOPT_INTERFACE, src);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    int64_t t0 = time_mono_ms();
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (ms)
        *ms = (long)(time_mono_ms() - t0);
    curl_slist_free_all(hd);
    return status;
}

/* ---- one signed push, replayed ---- */

struct replayer {
    int port;
    const char *body;
    size_t len;
    const char *sig;
    int first, count;
    long accepted;
    cJSON *ids; /* every job id answered (array of strings) */
};

static void *replay_main(void *arg)
{
    struct replayer *r = arg;
    CURL *c = curl_easy_init();
    char h_sig[160], h_del[96];
    snprintf(h_sig, sizeof(h_sig), "X-Hub-Signature-256: %s", r->sig);
    for (int i = r->first; i < r->first + r->count; i++) {
        snprintf(h_del, sizeof(h_del), "X-GitHub-Delivery: replay-%d", i);
        const char *hdrs[] = {"Content-Type: application/json", "X-GitHub-Event: push", h_sig,
                              h_del, NULL};
        struct buf b;
        buf_init(&b, 1u << 16);
        long st =
            http(c, r->port, NULL, "/webhooks/github", hdrs, r->body, r->len, &b, 10000, NULL);
        if (st == 202) {
            r->accepted++;
            cJSON *j = cJSON_ParseWithLength(b.data ? b.data : "", b.len);
            const cJSON *id;
            cJSON_ArrayForEach(id, cJSON_GetObjectItem(j, "job_ids"))
            {
                cJSON_AddItemToArray(r->ids, cJSON_CreateString(id->valuestring));
            }
            cJSON_Delete(j);
        }
        buf_free(&b);
    }
    curl_easy_cleanup(c);
    return NULL;
}

Test(chaos, a_replayed_push_queues_one_redeploy_per_service, .timeout = 120)
{
    enum { THREADS = 4, SERVICES = 5 };
    const int copies = 100;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char *db = th_db_create();
    char *url = chaos_db_url(db);
    for (int i = 0; i < SERVICES; i++) {
        char sql[160];
        snprintf(sql, sizeof(sql),
                 "INSERT INTO services (name, status) VALUES ('osp-worker-r%d', 'active')", i);
        free(th_sql(db, sql));
    }
    char *log = chaos_path("replay", "log");
    const char *extra[] = {"WORKERS=0", "WORKER_REPO=" TD_REPO, "WORKER_BRANCH=" TD_BRANCH,
                           "WORKER_ROOT_DIR=/", NULL};
    struct chaos_proc p;
    chaos_serve(&p, "replay", url, NULL, log, extra);
    size_t len = 0;
    char *body = td_github(TD_GITHUB_PUSH, &len);
    char sig[TD_GITHUB_SIG_CAP];
    td_github_sign(CHAOS_GITHUB_SECRET, body, len, sig);
    struct replayer r[THREADS];
    pthread_t th[THREADS];
    int64_t t0 = time_mono_ms();
    for (int i = 0; i < THREADS; i++) {
        r[i] = (struct replayer){.port = p.port,
                                 .body = body,
                                 .len = len,
                                 .sig = sig,
                                 .first = i * (copies / THREADS),
                                 .count = copies / THREADS,
                                 .ids = cJSON_CreateArray()};
        pthread_create(&th[i], NULL, replay_main, &r[i]);
    }
    long accepted = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        accepted += r[i].accepted;
    }
    long took = (long)(time_mono_ms() - t0);
    cr_assert_eq(accepted, copies, "every copy is answered 202 (%ld)", accepted);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries"), copies);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM jobs"), SERVICES,
                 "one redeploy per service for the commit");
    cr_assert_eq(th_sql_long(db, "SELECT count(DISTINCT service_name) FROM jobs"), SERVICES);
    /* Every answer names one of those jobs. */
    for (int i = 0; i < THREADS; i++) {
        const cJSON *id;
        cJSON_ArrayForEach(id, r[i].ids)
        {
            char sql[160];
            snprintf(sql, sizeof(sql), "SELECT count(*) FROM jobs WHERE id = '%s'",
                     id->valuestring);
            cr_assert_eq(th_sql_long(db, sql), 1, "answered id %s is no job", id->valuestring);
        }
        cr_assert_eq(cJSON_GetArraySize(r[i].ids), (int)r[i].accepted * SERVICES);
        cJSON_Delete(r[i].ids);
    }
    printf("chaos replay: %d copies of one push, %d jobs, %ld ms\n", copies, SERVICES, took);
    chaos_signal(&p, SIGTERM);
    const char *files[] = {log, NULL};
    chaos_assert_no_secrets(db, files);
    free(body);
    free(log);
    free(url);
    th_db_drop(db);
}

/* ---- a PostgreSQL that stops answering ---- */

Test(chaos, a_database_that_stops_answering_is_answered_in_time, .timeout = 120)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char *db = th_db_create();
    struct stall_proxy *proxy = stall_proxy_start(db);
    char *via = stall_proxy_conninfo(proxy);
    char *log = chaos_path("stall", "log");
    const char *extra[] = {"WORKERS=0",
                           "DB_CONNECT_TIMEOUT_S=2",
                           "DB_STATEMENT_TIMEOUT_MS=1000",
                           "DB_WORKER_STATEMENT_TIMEOUT_MS=2000",
                           "DB_POOL_WAIT_MS=3000",
                           NULL};
    struct chaos_proc p;
    chaos_serve(&p, "stall", via, NULL, log, extra);
    CURL *c = curl_easy_init();
    char tag[8];
    chaos_tag(tag);
    cr_assert_eq(http(c, p.port, NULL, "/readyz", NULL, NULL, 0, NULL, 10000, NULL), 200);
    cr_assert_eq(chaos_post_insert(c, p.port, tag, 0, NULL, 10000), 202);

    stall_proxy_set(proxy, true);
    long ready_ms = 0, slowest_ready = 0, slowest_intake = 0;
    int64_t t0 = time_mono_ms();
    for (int i = 1; i <= 3; i++) {
        long st = http(c, p.port, NULL, "/readyz", NULL, NULL, 0, NULL, 30000, &ready_ms);
        cr_assert_eq(st, 503, "readyz during the stall: %ld after %ld ms", st, ready_ms);
        if (ready_ms > slowest_ready)
            slowest_ready = ready_ms;
        int64_t s0 = time_mono_ms();
        st = chaos_post_insert(c, p.port, tag, i, NULL, 30000);
        long ms = (long)(time_mono_ms() - s0);
        cr_assert_eq(st, 503, "a delivery during the stall: %ld after %ld ms", st, ms);
        if (ms > slowest_intake)
            slowest_intake = ms;
    }
    /* Budgets: connect 2 s, statements 1 s (+1 s before the cut), the pool wait 3 s. */
    cr_assert_leq(slowest_ready, 5000, "readyz took %ld ms", slowest_ready);
    cr_assert_leq(slowest_intake, 6000, "intake took %ld ms", slowest_intake);
    /* /healthz needs no database: served throughout. */
    long health_ms = 0;
    cr_assert_eq(http(c, p.port, NULL, "/healthz", NULL, NULL, 0, NULL, 5000, &health_ms), 200);
    long stalled_for = (long)(time_mono_ms() - t0);

    stall_proxy_set(proxy, false);
    long st = 0;
    int64_t back = time_mono_ms() + 20000;
    while (time_mono_ms() < back &&
           (st = http(c, p.port, NULL, "/readyz", NULL, NULL, 0, NULL, 10000, NULL)) != 200)
        usleep(200 * 1000);
    cr_assert_eq(st, 200, "readyz after the stall");
    st = 0;
    while (time_mono_ms() < back && (st = chaos_post_insert(c, p.port, tag, 9, NULL, 10000)) != 202)
        usleep(200 * 1000);
    cr_assert_eq(st, 202, "intake after the stall");
    printf("chaos stall: %ld ms stalled, readyz 503 within %ld ms, intake 503 within %ld ms,"
           " healthz %ld ms\n",
           stalled_for, slowest_ready, slowest_intake, health_ms);
    curl_easy_cleanup(c);
    chaos_signal(&p, SIGTERM);
    free(log);
    free(via);
    stall_proxy_stop(proxy);
    th_db_drop(db);
}

/* ---- raw sockets ---- */

/* Raises the soft limit of open files to at least n (the hard limit permitting). */
static void fd_limit_raise(rlim_t n)
{
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < n) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= n ? n : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* A connection to 127.0.0.1:port, or -1. */
static int conn_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* 1: the server closed fd; 0: it is open with nothing to read; 2: an answer is waiting
 * (copied to ans when not NULL). */
static int conn_state(int fd, char *ans, size_t cap)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 0) <= 0)
        return 0;
    char tmp[512];
    ssize_t n = recv(fd, tmp, sizeof(tmp) - 1, MSG_DONTWAIT);
    if (n <= 0)
        return n == 0 || errno == ECONNRESET ? 1 : 0;
    tmp[n] = '\0';
    if (ans)
        snprintf(ans, cap, "%s", tmp);
    return 2;
}

/* Peak resident set of pid, in KiB (VmHWM), or -1. */
static long peak_rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

/* ---- a thousand slow connections from one address ---- */

struct other_client {
    int port;
    atomic_bool stop;
    char tag[8];
    long requests, failures, slowest_ms;
};

/* A client from 127.0.0.2: posts a delivery, then reads its job, again and again. */
static void *other_main(void *arg)
{
    struct other_client *o = arg;
    CURL *c = curl_easy_init();
    for (int i = 0; !atomic_load(&o->stop); i++) {
        char body[400];
        int n = snprintf(body, sizeof(body),
                         "{\"type\":\"INSERT\",\"table\":\"manifests\",\"schema\":\"public\","
                         "\"record\":{\"id\":\"%s-%d\",\"service_schema\":\"%s_%d\","
                         "\"status\":\"pending\"},\"old_record\":null}",
                         o->tag, i, o->tag, i);
        const char *post_hdrs[] = {"Content-Type: application/json",
                                   "Authorization: Bearer " CHAOS_SUPABASE_SECRET, NULL};
        struct buf b;
        buf_init(&b, 1u << 16);
        long ms = 0;
        long st = http(c, o->port, "127.0.0.2", "/webhooks/supabase", post_hdrs, body, (size_t)n,
                       &b, 10000, &ms);
        o->requests++;
        o->failures += st != 202;
        if (ms > o->slowest_ms)
            o->slowest_ms = ms;
        cJSON *j = cJSON_ParseWithLength(b.data ? b.data : "", b.len);
        const cJSON *id = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "job_ids"), 0);
        if (cJSON_IsString(id)) {
            char path[96];
            snprintf(path, sizeof(path), "/jobs/%s", id->valuestring);
            const char *get_hdrs[] = {"Authorization: Bearer " CHAOS_API_TOKEN, NULL};
            st = http(c, o->port, "127.0.0.2", path, get_hdrs, NULL, 0, NULL, 10000, &ms);
            o->requests++;
            o->failures += st != 200;
            if (ms > o->slowest_ms)
                o->slowest_ms = ms;
        }
        cJSON_Delete(j);
        buf_free(&b);
        usleep(20 * 1000);
    }
    curl_easy_cleanup(c);
    return NULL;
}

Test(chaos, a_thousand_slow_connections_from_one_address_starve_no_one, .timeout = 180)
{
    enum { SLOW = 1000, PER_CLIENT = 64, OTHERS = 2 };
    const int attack_s = chaos_size(6, 30);
    fd_limit_raise(SLOW + 256);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char *db = th_db_create();
    char *url = chaos_db_url(db);
    char *log = chaos_path("slow", "log");
    const char *extra[] = {"WORKERS=0", "HTTP_PER_CLIENT_LIMIT=64", "HTTP_CONNECTION_LIMIT=1024",
                           NULL};
    struct chaos_proc p;
    chaos_serve(&p, "slow", url, NULL, log, extra);
    struct other_client o[OTHERS];
    pthread_t th[OTHERS];
    for (int i = 0; i < OTHERS; i++) {
        o[i] = (struct other_client){.port = p.port};
        chaos_tag(o[i].tag);
        pthread_create(&th[i], NULL, other_main, &o[i]);
    }
    static const char head[] = "POST /webhooks/supabase HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               "Content-Type: application/json\r\nX-Slow: ";
    int *fds = xcalloc(SLOW, sizeof(*fds));
    int opened = 0;
    for (int i = 0; i < SLOW; i++) {
        fds[i] = conn_open(p.port);
        if (fds[i] >= 0) {
            opened++;
            send(fds[i], head, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
    }
    /* A byte a second on each, for the attack's length. */
    int64_t end = time_mono_ms() + (int64_t)attack_s * 1000;
    for (size_t k = 1; time_mono_ms() < end; k++) {
        for (int i = 0; i < SLOW; i++)
            if (fds[i] >= 0 && conn_state(fds[i], NULL, 0) == 1) {
                close(fds[i]);
                fds[i] = -1;
            } else if (fds[i] >= 0) {
                send(fds[i], head + k % (sizeof(head) - 1), 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            }
        usleep(1000 * 1000);
    }
    int held = 0;
    for (int i = 0; i < SLOW; i++)
        held += fds[i] >= 0 && conn_state(fds[i], NULL, 0) == 0;
    for (int i = 0; i < OTHERS; i++)
        atomic_store(&o[i].stop, true);
    long requests = 0, failures = 0, slowest = 0;
    for (int i = 0; i < OTHERS; i++) {
        pthread_join(th[i], NULL);
        requests += o[i].requests;
        failures += o[i].failures;
        slowest = o[i].slowest_ms > slowest ? o[i].slowest_ms : slowest;
    }
    for (int i = 0; i < SLOW; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    printf("chaos slow: %d slow connections opened from 127.0.0.1, %d held by the server after "
           "%d s; 127.0.0.2: %ld requests, %ld failed, slowest %ld ms\n",
           opened, held, attack_s, requests, failures, slowest);
    cr_assert_leq(held, PER_CLIENT, "the server held %d connections of one address", held);
    cr_assert_gt(requests, 10, "the other clients made only %ld requests", requests);
    cr_assert_eq(failures, 0, "%ld of %ld requests from 127.0.0.2 failed", failures, requests);
    cr_assert_leq(slowest, 2000, "a request from 127.0.0.2 took %ld ms", slowest);
    chaos_signal(&p, SIGTERM);
    free(log);
    free(url);
    th_db_drop(db);
}

/* ---- hundreds of nearly complete 1 MiB bodies, stalled ---- */

Test(chaos, stalled_large_bodies_keep_memory_bounded, .timeout = 180)
{
    const int conns = chaos_size(200, 500);
    const int deadline_s = chaos_size(5, 10);
    const int body = 1 << 20, sent = body - 64 * 1024;
    fd_limit_raise((rlim_t)conns + 256);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char *db = th_db_create();
    char *url = chaos_db_url(db);
    char *log = chaos_path("bodies", "log");
    char deadline[48];
    snprintf(deadline, sizeof(deadline), "HTTP_REQUEST_DEADLINE_S=%d", deadline_s);
    const char *extra[] = {"WORKERS=0", "HTTP_PER_CLIENT_LIMIT=0", "HTTP_CONNECTION_LIMIT=1024",
                           deadline, NULL};
    struct chaos_proc p;
    chaos_serve(&p, "bodies", url, NULL, log, extra);
    long rss_before = peak_rss_kib(p.pid);
    char head[512];
    int hn = snprintf(head, sizeof(head),
                      "POST /webhooks/supabase HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                      "application/json\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n",
                      CHAOS_SUPABASE_SECRET, body);
    char *filler = xmalloc((size_t)sent);
    memset(filler, ' ', (size_t)sent);
    int *fds = xcalloc((size_t)conns, sizeof(*fds));
    long *done = xcalloc((size_t)conns, sizeof(*done));
    for (int i = 0; i < conns; i++) {
        fds[i] = conn_open(p.port);
        cr_assert_geq(fds[i], 0, "connection %d", i);
        send(fds[i], head, (size_t)hn, MSG_NOSIGNAL);
    }
    /* Push the bodies as far as the server takes them within a few seconds. */
    int64_t push_end = time_mono_ms() + 4000;
    bool more = true;
    while (more && time_mono_ms() < push_end) {
        more = false;
        for (int i = 0; i < conns; i++) {
            if (fds[i] < 0 || done[i] >= sent)
                continue;
            ssize_t w = send(fds[i], filler + done[i], (size_t)(sent - done[i]),
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0)
                done[i] += w;
            more |= done[i] < sent;
        }
        usleep(10 * 1000);
    }
    int refused = 0, cut = 0, waiting = 0, other = 0;
    int64_t settle = time_mono_ms() + (int64_t)(deadline_s + 5) * 1000;
    int *state = xcalloc((size_t)conns, sizeof(*state));
    long peak = 0;
    /* Every connection ends answered 503 or closed by the request deadline. */
    for (;;) {
        waiting = 0;
        for (int i = 0; i < conns; i++) {
            if (state[i])
                continue;
            char ans[512] = "";
            int s = conn_state(fds[i], ans, sizeof(ans));
            if (s == 2)
                state[i] = strstr(ans, " 503 ") ? 1 : 3;
            else if (s == 1)
                state[i] = 2;
            else
                waiting++;
        }
        long rss = peak_rss_kib(p.pid);
        peak = rss > peak ? rss : peak;
        if (!waiting || time_mono_ms() > settle)
            break;
        usleep(200 * 1000);
    }
    for (int i = 0; i < conns; i++) {
        refused += state[i] == 1;
        cut += state[i] == 2;
        other += state[i] == 3;
        close(fds[i]);
    }
    /* Served again once the stalled bodies are gone. */
    CURL *c = curl_easy_init();
    char tag[8];
    chaos_tag(tag);
    long st = chaos_post_insert(c, p.port, tag, 0, NULL, 10000);
    curl_easy_cleanup(c);
    printf("chaos bodies: %d connections each sent %d KiB of a 1 MiB body and stalled: %d got "
           "503 at once, %d held until the %d s deadline; peak RSS %ld MiB (%ld MiB before)\n",
           conns, sent / 1024, refused, cut, deadline_s, peak / 1024, rss_before / 1024);
    cr_assert_eq(waiting, 0, "%d connections neither answered nor closed", waiting);
    cr_assert_eq(other, 0, "%d connections got an answer other than 503", other);
    cr_assert_gt(refused, 0, "the body budget refused nothing");
    cr_assert_leq(cut, 64, "%d bodies were admitted past the budget", cut);
    /* What the bodies may pin: 64 MiB of budget and the server's own use, well under 256 MiB;
     * ThreadSanitizer's shadow memory (make tsan) multiplies whatever is allocated, so there
     * the bound is on the growth, scaled alike. */
    if (getenv("TSAN_OPTIONS"))
        cr_assert_lt(peak - rss_before, 8 * 256 * 1024, "peak RSS %ld KiB (%ld before), TSan", peak,
                     rss_before);
    else
        cr_assert_lt(peak, 256 * 1024, "peak RSS %ld KiB", peak);
    cr_assert_eq(st, 202, "a delivery after the attack: %ld", st);
    chaos_signal(&p, SIGTERM);
    free(state);
    free(done);
    free(fds);
    free(filler);
    free(log);
    free(url);
    th_db_drop(db);
}
