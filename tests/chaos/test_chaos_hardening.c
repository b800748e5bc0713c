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
