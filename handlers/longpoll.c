/* Long-poll waiters and the LISTEN thread that wakes them.
 *
 * Threading: HTTP threads add waiters under the mutex; one listener thread owns the
 * PGconn that LISTENs on railhook_job_changed, sleeps in poll() on that socket and on a pipe
 * (written when a waiter with an earlier deadline arrives, or at stop), and resumes waiters
 * whose job changed or whose deadline passed. A waiter is resumed exactly once. The same
 * notifications keep the job cache (handlers/jobcache.h) exact: the listener drops a job's
 * document on each one, and empties and closes the cache whenever it is not listening. One
 * notification carries the ids a statement changed (store/migrations/008). */
#include "handlers/longpoll.h"

#include "handlers/events.h"
#include "handlers/jobcache.h"
#include "store/store.h"
#include "util/log.h"
#include "util/util.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct waiter {
    char job_id[37];
    int64_t deadline_ms;
    void *transport;
    void (*resume)(void *transport);
    struct waiter *next;
};

/* Recently changed jobs, so a change that lands between a handler's read and its wait is not
 * missed. */
#define RECENT 256

/* The job cache: documents kept, the largest one kept, and how long. */
#define CACHE_ENTRIES 1024
#define CACHE_MAX_DOC (64 * 1024)
#define CACHE_TTL_MS  5000

struct recent {
    char job_id[37];
    int64_t at_ms;
};

struct longpoll {
    struct store *store;
    struct recent recent[RECENT];
    int recent_next;
    pthread_t thread;
    pthread_mutex_t lock;
    struct waiter *waiters;
    bool closing;
    int wake[2];
    struct jobcache *cache;
    struct events *events; /* the event stream's reader, woken on each notification */
};

static void wake(struct longpoll *lp)
{
    ssize_t w = write(lp->wake[1], "x", 1);
    (void)w;
}

/* Resumes (and frees) waiters for job_id, or all expired ones when job_id is NULL, or all
 * when everything is set. Returns the earliest remaining deadline (INT64_MAX when none). */
static int64_t resume_matching(struct longpoll *lp, const char *job_id, bool everything)
{
    int64_t now = time_mono_ms();
    int64_t next = INT64_MAX;
    pthread_mutex_lock(&lp->lock);
    struct waiter **pp = &lp->waiters;
    while (*pp) {
        struct waiter *w = *pp;
        bool go = everything || (job_id ? strcmp(w->job_id, job_id) == 0 : w->deadline_ms <= now);
        if (go) {
            *pp = w->next;
            w->resume(w->transport);
            free(w);
            continue;
        }
        if (w->deadline_ms < next)
            next = w->deadline_ms;
        pp = &w->next;
    }
    pthread_mutex_unlock(&lp->lock);
    return next;
}

static PGconn *listen_conn(struct longpoll *lp)
{
    char err[256];
    PGconn *c = store_conn_open(lp->store, STORE_SESSION_DEFAULT, err, sizeof(err));
    if (!c)
        return NULL;
    if (store_listen(c, STORE_CHANNEL_JOB_CHANGED, err, sizeof(err)) != RH_OK) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* One job changed (the listener thread): remember it, drop its cached document, wake its long
 * polls. */
static void job_changed(struct longpoll *lp, const char *job_id)
{
    pthread_mutex_lock(&lp->lock);
    struct recent *r = &lp->recent[lp->recent_next];
    lp->recent_next = (lp->recent_next + 1) % RECENT;
    snprintf(r->job_id, sizeof(r->job_id), "%s", job_id);
    r->at_ms = time_mono_ms();
    pthread_mutex_unlock(&lp->lock);
    jobcache_invalidate(lp->cache, job_id);
    resume_matching(lp, job_id, false);
}

static void *on_listen(void *arg)
{
    struct longpoll *lp = arg;
    PGconn *c = NULL;
    int64_t retry_at = 0;
    for (;;) {
        pthread_mutex_lock(&lp->lock);
        bool closing = lp->closing;
        pthread_mutex_unlock(&lp->lock);
        if (closing)
            break;
        if (!c && time_mono_ms() >= retry_at) {
            c = listen_conn(lp);
            if (!c)
                retry_at = time_mono_ms() + 1000;
            else
                jobcache_reset(lp->cache, true);
        }
        int64_t next = resume_matching(lp, NULL, false);
        int64_t now = time_mono_ms();
        int timeout = next == INT64_MAX ? 1000 : (int)(next - now < 0 ? 0 : next - now);
        if (timeout > 1000)
            timeout = 1000;
        struct pollfd fds[2] = {{.fd = lp->wake[0], .events = POLLIN},
                                {.fd = c ? PQsocket(c) : -1, .events = POLLIN}};
        if (poll(fds, 2, timeout) < 0)
            continue;
        if (fds[0].revents & POLLIN) {
            char drain[64];
            while (read(lp->wake[0], drain, sizeof(drain)) > 0)
                ;
        }
        if (c && (fds[1].revents & (POLLIN | POLLERR | POLLHUP))) {
            if (!PQconsumeInput(c)) {
                jobcache_reset(lp->cache, false);
                PQfinish(c);
                c = NULL;
                retry_at = time_mono_ms() + 1000;
                continue;
            }
            PGnotify *n;
            while ((n = PQnotifies(c)) != NULL) {
                /* One notification per statement: the ids it changed, comma-separated. */
                char *save = NULL;
                for (char *id = strtok_r(n->extra, ",", &save); id; id = strtok_r(NULL, ",", &save))
                    job_changed(lp, id);
                pthread_mutex_lock(&lp->lock);
                struct events *ev = lp->events;
                pthread_mutex_unlock(&lp->lock);
                events_wake(ev);
                PQfreemem(n);
            }
        }
    }
    jobcache_reset(lp->cache, false);
    if (c)
        PQfinish(c);
    return NULL;
}

struct longpoll *longpoll_start(struct store *store)
{
    struct longpoll *lp = xcalloc(1, sizeof(*lp));
    lp->store = store;
    lp->cache = jobcache_new(CACHE_ENTRIES, CACHE_MAX_DOC, CACHE_TTL_MS);
    pthread_mutex_init(&lp->lock, NULL);
    if (pipe2(lp->wake, O_NONBLOCK | O_CLOEXEC) != 0)
        abort();
    pthread_create(&lp->thread, NULL, on_listen, lp);
    return lp;
}

void longpoll_wait(struct longpoll *lp, const char *job_id, int64_t since_ms, int64_t deadline_ms,
                   void *transport, void (*resume)(void *transport))
{
    struct waiter *w = xcalloc(1, sizeof(*w));
    snprintf(w->job_id, sizeof(w->job_id), "%s", job_id);
    w->deadline_ms = deadline_ms;
    w->transport = transport;
    w->resume = resume;
    pthread_mutex_lock(&lp->lock);
    /* Answer at once when shutting down, or when the job changed while it was being read. */
    bool answer_now = lp->closing;
    for (int i = 0; i < RECENT && !answer_now; i++)
        if (lp->recent[i].at_ms >= since_ms && strcmp(lp->recent[i].job_id, job_id) == 0)
            answer_now = true;
    if (!answer_now) {
        w->next = lp->waiters;
        lp->waiters = w;
    }
    pthread_mutex_unlock(&lp->lock);
    if (answer_now) {
        resume(transport);
        free(w);
        return;
    }
    wake(lp);
}

void longpoll_events_set(struct longpoll *lp, struct events *ev)
{
    pthread_mutex_lock(&lp->lock);
    lp->events = ev;
    pthread_mutex_unlock(&lp->lock);
}

struct jobcache *longpoll_jobcache(struct longpoll *lp)
{
    return lp ? lp->cache : NULL;
}

void longpoll_release_all(struct longpoll *lp)
{
    if (!lp)
        return;
    pthread_mutex_lock(&lp->lock);
    lp->closing = true;
    pthread_mutex_unlock(&lp->lock);
    resume_matching(lp, NULL, true);
    wake(lp);
}

void longpoll_stop(struct longpoll *lp)
{
    if (!lp)
        return;
    longpoll_release_all(lp);
    pthread_join(lp->thread, NULL);
    resume_matching(lp, NULL, true);
    close(lp->wake[0]);
    close(lp->wake[1]);
    pthread_mutex_destroy(&lp->lock);
    jobcache_free(lp->cache);
    free(lp);
}
