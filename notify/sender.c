/* The notification senders (notify/notify.h): claim a due delivery of the outbox, POST it
 * signed (notify/post.c) or write it to the manifest row, record the attempt, retry with
 * backoff, give up after NOTIFY_RETRY_FOR_S; the first sender also prunes old notifications.
 *
 * Threading: NOTIFY_SENDERS threads, each with its own curl handle and its own connections
 * (the outbox's database and the manifests database); they share only the read-only
 * configuration and key, and n->stop (atomic) with n->mu/n->cv, which notify_stop() uses to
 * wake them from their idle wait. n->settings_written is set by notify_start before any thread
 * starts, and afterwards only by the first sender. Several instances share the outbox through FOR
 * UPDATE SKIP LOCKED and a lease (store/notifications.c). */
#include "notify/notify_int.h"

#include "store/notifications.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDLE_WAIT_MS   1000   /* nothing due: look again after this */
#define LEASE_MARGIN_S 30     /* a claim's lease: the request timeout plus this */
#define PRUNE_EVERY_MS 600000 /* the first sender prunes this often */
#define PRUNE_BATCH    500

struct notify {
    const struct config *cfg;
    struct store *store;
    unsigned char key[SWH_MAX_KEY];
    size_t keylen;
    bool urls;     /* this instance signs: NOTIFY_URLS and a secret */
    bool manifest; /* this instance writes back */
    char **urls_list;
    int nurls;
    bool settings_written; /* by notify_start, or else by the first sender */
    bool settings_warned;  /* the failure to write them was logged */
    pthread_t *threads;
    int nthreads;
    atomic_bool stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

/* One sender thread's own state. */
struct sender {
    struct notify *n;
    int index;
    char owner[96];
    CURL *curl;
    PGconn *db;
    PGconn *manifests;
};

/* The host of a URL, for logs (a URL's path or query may carry what is not for logs). */
static void url_host(const char *url, char *out, size_t cap)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    const char *at = memchr(h, '@', strcspn(h, "/?#"));
    if (at)
        h = at + 1;
    snprintf(out, cap, "%.*s", (int)strcspn(h, "/?#"), h);
}

/* Writes a claim to the manifest row; fills the answer as an HTTP attempt would. */
static void write_back(struct sender *s, const struct store_notify_claim *cl,
                       struct notify_answer *a)
{
    char err[256] = "";
    int rows = 0;
    enum rh_status st = RH_UNAVAILABLE;
    memset(a, 0, sizeof(*a));
    if (s->manifests && PQstatus(s->manifests) != CONNECTION_OK) {
        PQfinish(s->manifests);
        s->manifests = NULL;
    }
    if (!s->manifests)
        s->manifests = store_manifest_open(s->n->cfg->manifests_database_url, err, sizeof(err));
    if (s->manifests)
        st = store_manifest_status_write(s->manifests, s->n->cfg, cl->status, &rows, err,
                                         sizeof(err));
    if (st == RH_OK) {
        a->http_status = 200; /* recorded as delivered */
        if (rows == 0)
            log_debug("manifest row gone or newer; nothing written", LOG_STR("id", cl->id));
        return;
    }
    snprintf(a->excerpt, sizeof(a->excerpt), "%.*s", (int)sizeof(a->excerpt) - 1, err);
}

static void attempt(struct sender *s, const struct store_notify_claim *cl)
{
    const struct config *cfg = s->n->cfg;
    bool manifest = strcmp(cl->sink, STORE_NOTIFY_SINK_MANIFEST) == 0;
    struct notify_answer a;
    int64_t t0 = time_mono_ms();
    if (manifest)
        write_back(s, cl, &a);
    else
        notify_post(s->curl, cl->sink, cl->id, s->n->key, s->n->keylen, cl->payload,
                    cfg->notify_timeout_s, &s->n->stop, &a);
    if (atomic_load(&s->n->stop) && a.http_status == 0)
        return; /* abandoned at shutdown: the lease ends and another attempt follows */
    enum notify_verdict v = manifest ? (a.http_status == 200 ? NOTIFY_DELIVERED : NOTIFY_RETRY)
                                     : notify_http_verdict(a.http_status);
    int64_t delay = 0;
    if (v == NOTIFY_RETRY) {
        delay = notify_retry_delay_ms(cl->attempt, cfg->notify_retry_base_s, a.retry_after_s,
                                      (double)random_below(1000000) / 1e6);
        if (cl->age_s + (double)delay / 1000 > cfg->notify_retry_for_s)
            v = NOTIFY_GIVE_UP;
    }
    static const enum store_notify_result results[] = {
        [NOTIFY_DELIVERED] = STORE_NOTIFY_DELIVERED,
        [NOTIFY_RETRY] = STORE_NOTIFY_RETRY,
        [NOTIFY_GIVE_UP] = STORE_NOTIFY_GAVE_UP,
    };
    static const char *const outcomes[] = {
        [NOTIFY_DELIVERED] = "delivered", [NOTIFY_RETRY] = "failed", [NOTIFY_GIVE_UP] = "gave_up"};
    struct store_notify_outcome o = {
        .claim = cl,
        .owner = s->owner,
        .result = results[v],
        .retry_in_ms = (long)delay,
        .duration_ms = (long)(time_mono_ms() - t0),
        .http_status = manifest ? 0 : (int)a.http_status,
        .error = *a.excerpt ? a.excerpt : NULL,
    };
    char labels[64], err[256] = "", host[128];
    snprintf(labels, sizeof(labels), "sink=\"%s\",outcome=\"%s\"", manifest ? "manifest" : "url",
             outcomes[v]);
    metrics_count("railhook_notify_attempts_total", labels, 1);
    url_host(cl->sink, host, sizeof(host));
    if (v == NOTIFY_GIVE_UP)
        log_warn("notification given up", LOG_STR("id", cl->id), LOG_STR("sink", host),
                 LOG_INT("attempts", cl->attempt), LOG_INT("status", a.http_status),
                 LOG_STR("error", a.excerpt));
    else if (v == NOTIFY_RETRY)
        log_info("notification attempt failed; retrying", LOG_STR("id", cl->id),
                 LOG_STR("sink", host), LOG_INT("attempt", cl->attempt),
                 LOG_INT("status", a.http_status), LOG_INT("retry_in_ms", delay),
                 LOG_STR("error", a.excerpt));
    if (store_notify_record(s->db, &o, err, sizeof(err)) != RH_OK)
        log_warn("cannot record a notification attempt; it is sent again when its lease ends",
                 LOG_STR("id", cl->id), LOG_STR("error", err));
}

static void prune(struct sender *s)
{
    long n = 0;
    char err[256] = "";
    if (store_notify_prune(s->db, s->n->cfg->job_retention_days, PRUNE_BATCH, &n, err,
                           sizeof(err)) != RH_OK)
        log_warn("cannot prune old notifications", LOG_STR("error", err));
    else if (n > 0)
        log_info("pruned old notifications", LOG_INT("notifications", n));
}

static void idle_wait(struct notify *n, int ms)
{
    struct timespec ts;
    time_mono_timespec(time_mono_ms() + ms, &ts);
    pthread_mutex_lock(&n->mu);
    if (!atomic_load(&n->stop))
        pthread_cond_timedwait(&n->cv, &n->mu, &ts);
    pthread_mutex_unlock(&n->mu);
}

/* Writes the settings the outbox trigger follows; true once written. */
static bool settings_write(struct notify *n, PGconn *c)
{
    char err[256] = "";
    if (store_notify_settings_write(c, n->urls_list, n->urls ? n->nurls : 0,
                                    strcmp(n->cfg->notify_events, "all") == 0, n->manifest,
                                    n->cfg->instance_id, err, sizeof(err)) != RH_OK) {
        if (!n->settings_warned)
            log_warn("cannot write the notification settings yet; retrying every second",
                     LOG_STR("error", err));
        n->settings_warned = true;
        return false;
    }
    return true;
}

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    struct notify *n = s->n;
    int lease_s = n->cfg->notify_timeout_s + LEASE_MARGIN_S;
    int64_t next_prune = 0;
    char err[256];
    while (!atomic_load(&n->stop)) {
        struct store_notify_claim cl;
        bool found = false;
        if (!store_conn_ensure(n->store, STORE_SESSION_DEFAULT, &s->db, err, sizeof(err))) {
            idle_wait(n, IDLE_WAIT_MS);
            continue;
        }
        if (s->index == 0 && !n->settings_written) {
            n->settings_written = settings_write(n, s->db);
            if (!n->settings_written) {
                idle_wait(n, IDLE_WAIT_MS);
                continue;
            }
            if (!n->urls && !n->manifest)
                break; /* only the settings were to be written */
        }
        if (s->index == 0 && time_mono_ms() >= next_prune) {
            prune(s);
            next_prune = time_mono_ms() + PRUNE_EVERY_MS;
        }
        if (store_notify_claim(s->db, s->owner, lease_s, n->urls, n->manifest, &cl, &found, err,
                               sizeof(err)) != RH_OK) {
            log_warn("cannot claim notifications", LOG_STR("error", err));
            idle_wait(n, IDLE_WAIT_MS);
            continue;
        }
        if (!found) {
            idle_wait(n, IDLE_WAIT_MS);
            continue;
        }
        attempt(s, &cl);
        store_notify_claim_free(&cl);
    }
    curl_easy_cleanup(s->curl);
    if (s->db)
        PQfinish(s->db);
    if (s->manifests)
        PQfinish(s->manifests);
    free(s);
    return NULL;
}

/* The NOTIFY_URLS entries, trimmed, as an array (free each and the array). */
static char **urls_split(const char *csv, int *count)
{
    const char *cur = csv;
    const char *u;
    size_t len;
    char **out = NULL;
    *count = 0;
    while (secret_list_next(&cur, &u, &len)) {
        out = xrealloc(out, sizeof(*out) * (size_t)(*count + 1));
        out[(*count)++] = xstrndup(u, len);
    }
    return out;
}

struct notify *notify_start(const struct config *cfg, struct store *store)
{
    struct notify *n = xcalloc(1, sizeof(*n));
    char err[256] = "";
    n->cfg = cfg;
    n->store = store;
    n->urls_list = urls_split(cfg->notify_urls, &n->nurls);
    n->urls = n->nurls > 0 &&
              swh_key_decode(cfg->notify_signing_secret, strlen(cfg->notify_signing_secret), n->key,
                             &n->keylen) == RH_OK;
    n->manifest = cfg->nstatus_columns > 0 && *cfg->manifests_database_url;
    atomic_init(&n->stop, false);
    pthread_mutex_init(&n->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&n->cv, &attr);
    pthread_condattr_destroy(&attr);
    /* Written now when the database answers; else the first sender keeps trying (a database
     * that is down at start must not stop `serve`). */
    PGconn *c = store_conn_open(store, STORE_SESSION_DEFAULT, err, sizeof(err));
    n->settings_written = c && settings_write(n, c);
    if (c)
        PQfinish(c);
    int want = n->urls || n->manifest ? cfg->notify_senders : n->settings_written ? 0 : 1;
    n->threads = xcalloc((size_t)(want > 0 ? want : 1), sizeof(*n->threads));
    for (int i = 0; i < want; i++) {
        struct sender *s = xcalloc(1, sizeof(*s));
        s->n = n;
        s->index = i;
        snprintf(s->owner, sizeof(s->owner), "%s/n%d", cfg->instance_id, i);
        s->curl = curl_easy_init();
        if (pthread_create(&n->threads[i], NULL, sender_main, s) != 0) {
            curl_easy_cleanup(s->curl);
            free(s);
            log_error("cannot start a notification sender");
            break;
        }
        n->nthreads++;
    }
    if (n->urls || n->manifest)
        log_info("notification senders started", LOG_INT("senders", n->nthreads),
                 LOG_INT("urls", n->urls ? n->nurls : 0), LOG_BOOL("write_back", n->manifest),
                 LOG_STR("events", cfg->notify_events));
    return n;
}

void notify_stop(struct notify *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    atomic_store(&n->stop, true);
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    for (int i = 0; i < n->nthreads; i++)
        pthread_join(n->threads[i], NULL);
    free(n->threads);
    for (int i = 0; i < n->nurls; i++)
        free(n->urls_list[i]);
    free(n->urls_list);
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->mu);
    free(n);
}
