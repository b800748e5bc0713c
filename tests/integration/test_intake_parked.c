/* A delivery waiting for its commit holds no HTTP thread (handlers/intake.c): with two HTTP
 * threads, forty deliveries wait at once and share a couple of commits; a client that leaves
 * while its delivery waits loses nothing; shutdown answers the deliveries still waiting. The
 * database is held back by a table lock the test takes, never by sleeping. */
#include "handlers/intake.h"
#include "support/deliveries.h"
#include "support/harness.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SECRET "gh-parked-Secret-77"

static struct th_server ts;
static char *db;
static char *body;
static size_t body_len;
static char sig[TD_GITHUB_SIG_CAP];

static void start(void)
{
    setenv("GITHUB_WEBHOOK_SECRET", SECRET, 1);
    setenv("WORKER_REPO", TD_REPO, 1);
    setenv("WORKER_BRANCH", TD_BRANCH, 1);
    setenv("WORKER_ROOT_DIR", "/", 1);
    setenv("HTTP_THREADS", "2", 1);
    setenv("API_TOKEN", "parked-read", 1);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    db = th_db_create();
    free(th_sql(db, "INSERT INTO services (name, status) VALUES ('osp-worker-parked', 'active')"));
    th_server_start(&ts, db);
    body = td_github(TD_GITHUB_PUSH, &body_len);
    td_github_sign(SECRET, body, body_len, sig);
}

static void stop(void)
{
    if (ts.srv)
        th_server_stop(&ts);
    th_db_drop(db);
    free(body);
    unsetenv("HTTP_THREADS");
}

/* Posts the push under a fresh delivery id; returns the status (0: no answer). */
static long post_one(void)
{
    char delivery[37], h_del[96], h_sig[128], url[128];
    uuid_v4(delivery);
    snprintf(h_del, sizeof(h_del), "X-GitHub-Delivery: %s", delivery);
    snprintf(h_sig, sizeof(h_sig), "X-Hub-Signature-256: %s", sig);
    snprintf(url, sizeof(url), "%s/webhooks/github", ts.base);
    CURL *h = curl_easy_init();
    struct curl_slist *list = NULL;
    list = curl_slist_append(list, "Content-Type: application/json");
    list = curl_slist_append(list, "X-GitHub-Event: push");
    list = curl_slist_append(list, h_del);
    list = curl_slist_append(list, h_sig);
    list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)body_len);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(h, CURLOPT_WRITEDATA, devnull);
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    fclose(devnull);
    curl_slist_free_all(list);
    curl_easy_cleanup(h);
    return status;
}

static void *poster(void *arg)
{
    *(long *)arg = post_one();
    return NULL;
}

/* A session holding a lock that makes the intake's inserts wait; COMMIT it to let them go. */
static PGconn *hold_deliveries(void)
{
    PGconn *c = PQconnectdb(db);
    cr_assert_eq(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, "BEGIN; LOCK TABLE deliveries IN SHARE ROW EXCLUSIVE MODE");
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
    PQclear(r);
    return c;
}

static void release_deliveries(PGconn *c)
{
    PGresult *r = PQexec(c, "COMMIT");
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
}

static void wait_waiting(size_t want)
{
    int64_t deadline = time_mono_ms() + 20000;
    while (intake_waiting(ts.app.intake) != want) {
        cr_assert_lt(time_mono_ms(), deadline, "%zu deliveries waiting, not %zu",
                     intake_waiting(ts.app.intake), want);
        usleep(5 * 1000);
    }
}

/* railhook_intake_batches_total from GET /metrics. */
static double batches(void)
{
    char url[128];
    snprintf(url, sizeof(url), "%s/metrics", ts.base);
    const char *auth[] = {"Authorization: Bearer parked-read", NULL};
    struct th_response r;
    th_http(&r, "GET", url, auth, NULL, 0);
    cr_assert_eq(r.status, 200);
    const char *line = strstr(r.body, "\nrailhook_intake_batches_total ");
    double v = line ? strtod(line + strlen("\nrailhook_intake_batches_total "), NULL) : 0;
    th_response_free(&r);
    return v;
}

Test(intake_parked, more_deliveries_than_http_threads_wait_together_and_share_commits,
     .init = start, .fini = stop, .timeout = 120)
{
    enum { N = 40 };
    cr_assert_eq(post_one(), 202, "warm-up delivery");
    double before = batches();
    PGconn *lock = hold_deliveries();
    pthread_t th[N];
    long status[N];
    for (int i = 0; i < N; i++)
        pthread_create(&th[i], NULL, poster, &status[i]);
    /* All forty wait at once on two HTTP threads, which still serve other requests. */
    wait_waiting(N);
    char url[128];
    snprintf(url, sizeof(url), "%s/healthz", ts.base);
    struct th_response r;
    th_http(&r, "GET", url, NULL, NULL, 0);
    cr_assert_eq(r.status, 200, "an HTTP thread is free while deliveries wait");
    th_response_free(&r);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries"), 1, "none committed yet");

    release_deliveries(lock);
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(status[i], 202, "delivery %d answered %ld", i, status[i]);
    }
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM deliveries"), N + 1);
    /* The batch held by the lock, and the rest together (two when one formed meanwhile). */
    double used = batches() - before;
    cr_assert_leq(used, 3, "%d deliveries took %.0f commits", N, used);
    cr_assert_eq(intake_waiting(ts.app.intake), 0);
}

Test(intake_parked, a_client_that_leaves_while_its_delivery_waits_loses_nothing, .init = start,
     .fini = stop, .timeout = 60)
{
    PGconn *lock = hold_deliveries();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ts.port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    char delivery[37];
    uuid_v4(delivery);
    char *head = xasprintf("POST /webhooks/github HTTP/1.1\r\nHost: x\r\n"
                           "Content-Type: application/json\r\nX-GitHub-Event: push\r\n"
                           "X-GitHub-Delivery: %s\r\nX-Hub-Signature-256: %s\r\n"
                           "Content-Length: %zu\r\n\r\n",
                           delivery, sig, body_len);
    cr_assert_eq(write(fd, head, strlen(head)), (ssize_t)strlen(head));
    cr_assert_eq(write(fd, body, body_len), (ssize_t)body_len);
    free(head);
    wait_waiting(1);
    close(fd); /* gone before its commit */

    release_deliveries(lock);
    char *sql =
        xasprintf("SELECT count(*) FROM deliveries WHERE delivery_id LIKE '%%%s'", delivery);
    int64_t deadline = time_mono_ms() + 20000;
    while (th_sql_long(db, sql) != 1)
        cr_assert_lt(time_mono_ms(), deadline, "the delivery was not committed");
    free(sql);
    wait_waiting(0);
    cr_assert_eq(post_one(), 202, "the next delivery goes through");
}

struct stopper {
    pthread_t th;
    bool done;
};

static void *stop_server(void *arg)
{
    th_server_stop(&ts);
    ((struct stopper *)arg)->done = true;
    return NULL;
}

Test(intake_parked, shutdown_answers_the_deliveries_still_waiting, .init = start, .fini = stop,
     .timeout = 60)
{
    enum { N = 5 };
    cr_assert_eq(post_one(), 202, "warm-up delivery");
    PGconn *lock = hold_deliveries();
    pthread_t th[N];
    long status[N];
    for (int i = 0; i < N; i++)
        pthread_create(&th[i], NULL, poster, &status[i]);
    wait_waiting(N);
    /* The server stops (1 s of grace) while the database still holds every delivery back:
     * each is answered 503 (retry later), none is left without an answer. */
    struct stopper s = {0};
    pthread_create(&s.th, NULL, stop_server, &s);
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(status[i], 503, "delivery %d answered %ld", i, status[i]);
    }
    /* The intake writes what it took before it stops: let the database go. */
    release_deliveries(lock);
    pthread_join(s.th, NULL);
    cr_assert(s.done);
    ts.srv = NULL;
}
