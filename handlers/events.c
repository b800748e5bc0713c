/* The live event stream's hub: the reader thread, the ring of recent events and the streams.
 *
 * Threading: one reader thread owns its database connection. It sleeps on `wake` until a job
 * changes (events_wake(), from the long-poll listener), at most a second while streams are
 * open (20 ms while a horizon waits for transactions in flight), then reads the events that
 * became final (store/events.h) in id order, keeps them in the ring and appends each to the
 * output of every stream whose filters match. Everything else is under `lock`: the ring, the
 * position `upto`, and the streams, which HTTP threads open (events_stream_open), read from
 * (the response's read callback, on the connection's thread) and close (when libmicrohttpd is
 * done with the response). A stream with nothing to send suspends its connection under the
 * lock; whoever gives it output (the reader, the keepalive, shutdown) resumes it under the
 * lock, so a wake-up is never lost and an idle stream holds no HTTP thread. */
#include "handlers/events.h"

#include "store/events.h"
#include "util/log.h"
#include "util/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RING         4096      /* events kept in memory for resuming streams */
#define BATCH        500       /* events read per statement */
#define KEEPALIVE_MS 15000     /* a comment line this often keeps proxies from closing */
#define PENDING_MAX  (1 << 20) /* a client this far behind is cut off; it resumes */
#define OPEN_WAIT_MS 3000      /* how long an opening stream waits for the reader */
#define READ_GAP_MS  50        /* least time between two reads of the database */
#define RESET_FMT    "id: %lld\nevent: reset\ndata: {\"reason\":\"%s\"}\n\n"

struct entry {
    int64_t id;
    char job_id[37];
    char kind[32];
    char state[16];
    char *text; /* the whole event, "id: ...\n\n" */
};

struct stream {
    struct events *ev;
    struct events_filter f;
    int64_t last_id; /* the last event id this stream has passed (sent or filtered out) */
    struct buf out;  /* bytes not yet taken by the connection */
    size_t off;
    bool suspended;
    bool ended;
    int64_t keepalive_at;
    void *transport;
    void (*suspend)(void *transport);
    void (*resume)(void *transport);
    struct stream *prev, *next;
};

struct events {
    struct store *store;
    int max_streams;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;  /* the reader's */
    pthread_cond_t ready; /* openers waiting for the reader to be current */
    bool woken;
    bool closing;
    struct entry ring[RING];
    int ring_start, ring_len;
    int64_t ring_from; /* every final event with ring_from < id <= upto is in the ring */
    int64_t upto;      /* the last id read and sent; -1 before the first read */
    bool fresh;        /* upto follows the database (false while nobody listens) */
    int openers;       /* streams waiting for fresh */
    struct stream *streams;
    int nstreams;
};

static bool matches(const struct events_filter *f, const char *job, const char *kind,
                    const char *state)
{
    return (!*f->job || strcmp(f->job, job) == 0) && (!*f->kind || strcmp(f->kind, kind) == 0) &&
           (!*f->state || strcmp(f->state, state) == 0);
}

/* Under lock: gives s more output, or ends it when its client is too far behind. */
static void stream_put(struct stream *s, const char *text)
{
    if (s->ended)
        return;
    if (!buf_puts(&s->out, text)) {
        /* It resumes from its Last-Event-ID through the ring or the database. */
        s->ended = true;
        buf_reset(&s->out);
        s->off = 0;
    }
}

/* Under lock: lets a suspended stream's connection take its output. */
static void stream_kick(struct stream *s)
{
    if (s->suspended && (s->out.len > s->off || s->ended || s->ev->closing)) {
        s->suspended = false;
        s->resume(s->transport);
    }
}

/* Under lock: adds one event to the ring and to every stream behind it. */
static void publish(struct events *ev, const struct store_event *e)
{
    if (ev->ring_len == RING) {
        struct entry *old = &ev->ring[ev->ring_start];
        ev->ring_from = old->id;
        free(old->text);
        ev->ring_start = (ev->ring_start + 1) % RING;
        ev->ring_len--;
    }
    struct entry *n = &ev->ring[(ev->ring_start + ev->ring_len) % RING];
    ev->ring_len++;
    n->id = e->id;
    snprintf(n->job_id, sizeof(n->job_id), "%s", e->job_id);
    snprintf(n->kind, sizeof(n->kind), "%s", e->kind);
    snprintf(n->state, sizeof(n->state), "%s", e->state);
    n->text = xasprintf("id: %lld\nevent: job\ndata: %s\n\n", (long long)e->id, e->summary);
    for (struct stream *s = ev->streams; s; s = s->next) {
        if (s->last_id >= e->id)
            continue;
        if (matches(&s->f, n->job_id, n->kind, n->state))
            stream_put(s, n->text);
        s->last_id = e->id;
    }
    ev->upto = e->id;
}

/* Under lock: forgets the ring and starts following from last_id (first read, or after an
 * idle spell too long for the ring to bridge). */
static void ring_restart(struct events *ev, int64_t last_id)
{
    for (int i = 0; i < ev->ring_len; i++)
        free(ev->ring[(ev->ring_start + i) % RING].text);
    ev->ring_start = 0;
    ev->ring_len = 0;
    ev->ring_from = last_id;
    ev->upto = last_id;
}

/* Under lock: the keepalive of every stream that has sent nothing for KEEPALIVE_MS; returns
 * when the next one is due. */
static int64_t keepalive(struct events *ev, int64_t now)
{
    int64_t next = now + KEEPALIVE_MS;
    for (struct stream *s = ev->streams; s; s = s->next) {
        if (s->keepalive_at <= now) {
            if (s->out.len == s->off)
                stream_put(s, ": keepalive\n\n");
            s->keepalive_at = now + KEEPALIVE_MS;
        }
        if (s->keepalive_at < next)
            next = s->keepalive_at;
        stream_kick(s);
    }
    return next;
}

static void stream_reset(struct stream *s, int64_t at, const char *reason);

/* Reads the events up to m->last_id (final) into the ring and the streams, in batches. */
static enum rh_status catch_up(struct events *ev, PGconn *c, const struct store_events_mark *m,
                               char *err, size_t errlen)
{
    pthread_mutex_lock(&ev->lock);
    int64_t from = ev->upto;
    if (from < 0 || m->last_id < from || (!ev->fresh && m->last_id - from > RING)) {
        /* The first read, an idle spell the ring cannot bridge (no stream was open), or a
         * sequence that went back (a restored database): start afresh. */
        for (struct stream *s = ev->streams; s; s = s->next) {
            stream_reset(s, m->last_id, "restarted");
            stream_kick(s);
        }
        ring_restart(ev, m->last_id);
        from = m->last_id;
    }
    pthread_mutex_unlock(&ev->lock);
    while (from < m->last_id) {
        struct store_event *rows = NULL;
        int n = 0;
        enum rh_status st = store_events_read(c, from, m->last_id, BATCH, &rows, &n, err, errlen);
        if (st != RH_OK)
            return st;
        pthread_mutex_lock(&ev->lock);
        for (int i = 0; i < n; i++)
            publish(ev, &rows[i]);
        from = n == BATCH ? rows[n - 1].id : m->last_id;
        ev->upto = from;
        for (struct stream *s = ev->streams; s; s = s->next) {
            if (s->last_id < from)
                s->last_id = from;
            stream_kick(s);
        }
        pthread_mutex_unlock(&ev->lock);
        store_events_free(rows, n);
    }
    pthread_mutex_lock(&ev->lock);
    ev->fresh = true;
    pthread_cond_broadcast(&ev->ready);
    pthread_mutex_unlock(&ev->lock);
    return RH_OK;
}

/* Under lock: sleeps until a wake-up or until (monotonic ms). */
static void cond_wait_until(struct events *ev, int64_t until)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ms = until - time_mono_ms();
    if (ms < 0)
        ms = 0;
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&ev->wake, &ev->lock, &ts);
}

static void *reader_main(void *arg)
{
    struct events *ev = arg;
    PGconn *c = NULL;
    struct store_events_mark mark;
    bool pending = false;
    bool db_down = false;
    int64_t last_read = 0;
    pthread_mutex_lock(&ev->lock);
    while (!ev->closing) {
        int64_t now = time_mono_ms();
        int64_t next = keepalive(ev, now);
        bool busy = ev->nstreams > 0 || ev->openers > 0;
        if (!busy) {
            /* Nobody listens: stop following (and let the connection go) until someone does. */
            ev->fresh = false;
            pending = false;
            ev->woken = false;
            if (c) {
                pthread_mutex_unlock(&ev->lock);
                PQfinish(c);
                c = NULL;
                pthread_mutex_lock(&ev->lock);
                continue;
            }
        }
        /* Woken at once on a change, but reading at most every READ_GAP_MS: each read of a
         * horizon uses up a transaction id. */
        int64_t earliest = last_read + READ_GAP_MS;
        int64_t until = ev->woken           ? earliest
                        : !busy             ? now + 3600 * 1000
                        : pending           ? now + 20
                        : next < now + 1000 ? next
                                            : now + 1000;
        if (until < earliest)
            until = earliest;
        if (until > now)
            cond_wait_until(ev, until);
        if (ev->closing || !(ev->nstreams > 0 || ev->openers > 0) || time_mono_ms() < earliest)
            continue;
        ev->woken = false;
        last_read = time_mono_ms();
        int64_t known = ev->upto;
        pthread_mutex_unlock(&ev->lock);

        char err[256] = "";
        enum rh_status st = RH_OK;
        if (!store_conn_ensure(ev->store, STORE_SESSION_DEFAULT, &c, err, sizeof(err)))
            st = RH_UNAVAILABLE;
        else if (!pending)
            st = store_events_mark_take(c, known, &mark, err, sizeof(err));
        else
            st = store_events_mark_check(c, &mark, err, sizeof(err));
        if (st == RH_OK) {
            pending = !mark.final;
            if (mark.final)
                st = catch_up(ev, c, &mark, err, sizeof(err));
        }
        if (st != RH_OK) {
            pending = false;
            if (!db_down)
                log_warn("event stream cannot read job events", LOG_STR("error", err));
            db_down = true;
        } else if (db_down && !pending) {
            log_info("event stream reads job events again");
            db_down = false;
        }
        pthread_mutex_lock(&ev->lock);
    }
    pthread_mutex_unlock(&ev->lock);
    if (c)
        PQfinish(c);
    return NULL;
}

struct events *events_start(struct store *store, int max_streams)
{
    struct events *ev = xcalloc(1, sizeof(*ev));
    ev->store = store;
    ev->max_streams = max_streams;
    ev->upto = -1;
    pthread_mutex_init(&ev->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&ev->wake, &attr);
    pthread_cond_init(&ev->ready, &attr);
    pthread_condattr_destroy(&attr);
    pthread_create(&ev->thread, NULL, reader_main, ev);
    return ev;
}

void events_wake(struct events *ev)
{
    if (!ev)
        return;
    pthread_mutex_lock(&ev->lock);
    ev->woken = true;
    pthread_cond_signal(&ev->wake);
    pthread_mutex_unlock(&ev->lock);
}

/* The body's reader (struct http_stream), on the connection's thread. */
static long stream_read(void *cls, char *buf, size_t max)
{
    struct stream *s = cls;
    struct events *ev = s->ev;
    long n = 0;
    pthread_mutex_lock(&ev->lock);
    size_t have = s->out.len - s->off;
    if (have) {
        n = (long)(have < max ? have : max);
        memcpy(buf, s->out.data + s->off, (size_t)n);
        s->off += (size_t)n;
        if (s->off == s->out.len) {
            buf_reset(&s->out);
            s->off = 0;
        }
        s->keepalive_at = time_mono_ms() + KEEPALIVE_MS;
    } else if (s->ended || ev->closing) {
        n = -1;
    } else {
        s->suspended = true;
        s->suspend(s->transport);
    }
    pthread_mutex_unlock(&ev->lock);
    return n;
}

static void stream_close(void *cls)
{
    struct stream *s = cls;
    struct events *ev = s->ev;
    pthread_mutex_lock(&ev->lock);
    if (s->prev)
        s->prev->next = s->next;
    else if (ev->streams == s)
        ev->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    ev->nstreams--;
    pthread_mutex_unlock(&ev->lock);
    buf_free(&s->out);
    free(s);
}

/* Under lock: the ring's events after s->last_id that match, into s. */
static void backfill_ring(struct events *ev, struct stream *s)
{
    for (int i = 0; i < ev->ring_len; i++) {
        const struct entry *e = &ev->ring[(ev->ring_start + i) % RING];
        if (e->id <= s->last_id)
            continue;
        if (matches(&s->f, e->job_id, e->kind, e->state))
            stream_put(s, e->text);
    }
    if (s->last_id < ev->upto)
        s->last_id = ev->upto;
}

/* Under lock (or before s is shared): tells the client to reload, and goes on from at. */
static void stream_reset(struct stream *s, int64_t at, const char *reason)
{
    char text[160];
    snprintf(text, sizeof(text), RESET_FMT, (long long)at, reason);
    stream_put(s, text);
    s->last_id = at;
}

/* Without the lock: puts into s the stored events in (last_id, upto] that match, or a reset
 * when they are no longer all there or last_id is unknown. RH_UNAVAILABLE when the database
 * cannot tell. */
static enum rh_status backfill_db(struct events *ev, struct stream *s, int64_t last_id,
                                  int64_t upto, char *err, size_t errlen)
{
    enum rh_status st = RH_UNAVAILABLE;
    struct store_event *rows = NULL;
    int n = 0;
    PGconn *c = store_conn_acquire(ev->store);
    if (!c) {
        snprintf(err, errlen, "database not reachable");
        return RH_UNAVAILABLE;
    }
    if (last_id > upto) {
        /* Ahead of this instance: fine while it is an id the database handed out. */
        struct store_events_mark m;
        if ((st = store_events_mark_take(c, INT64_MAX, &m, err, errlen)) != RH_OK)
            goto out;
        if (last_id > m.last_id)
            stream_reset(s, upto, "unknown_event_id");
        else
            s->last_id = last_id;
        goto out;
    }
    int64_t first = 0;
    if ((st = store_events_first_id(c, &first, err, errlen)) != RH_OK)
        goto out;
    if (first > 0 && last_id < first - 1) {
        stream_reset(s, upto, "events_pruned");
        goto out;
    }
    if ((st = store_events_read(c, last_id, upto, RING + 1, &rows, &n, err, errlen)) != RH_OK)
        goto out;
    if (n > RING) {
        stream_reset(s, upto, "too_far_behind");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        if (matches(&s->f, rows[i].job_id, rows[i].kind, rows[i].state)) {
            char *text = xasprintf("id: %lld\nevent: job\ndata: %s\n\n", (long long)rows[i].id,
                                   rows[i].summary);
            stream_put(s, text);
            free(text);
        }
    }
    s->last_id = upto;
out:
    store_events_free(rows, n);
    store_conn_release(ev->store, c);
    return st;
}

/* Under lock: waits until the reader follows the database, at most OPEN_WAIT_MS. */
static bool wait_fresh(struct events *ev)
{
    if (ev->fresh)
        return true;
    ev->openers++;
    ev->woken = true;
    pthread_cond_signal(&ev->wake);
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += OPEN_WAIT_MS / 1000;
    while (!ev->fresh && !ev->closing)
        if (pthread_cond_timedwait(&ev->ready, &ev->lock, &until) != 0)
            break;
    ev->openers--;
    return ev->fresh && !ev->closing;
}

enum rh_status events_stream_open(struct events *ev, const struct events_filter *f,
                                  const struct events_from *from, void *transport,
                                  void (*suspend)(void *transport), void (*resume)(void *transport),
                                  struct http_stream *out, char *err, size_t errlen)
{
    enum rh_status st = RH_OK;
    struct stream *s = xcalloc(1, sizeof(*s));
    s->ev = ev;
    s->f = *f;
    s->transport = transport;
    s->suspend = suspend;
    s->resume = resume;
    buf_init(&s->out, PENDING_MAX);
    buf_puts(&s->out, "retry: 2000\n\n");

    pthread_mutex_lock(&ev->lock);
    if (ev->closing) {
        snprintf(err, errlen, "shutting down");
        st = RH_UNAVAILABLE;
        goto unlock;
    }
    if (ev->nstreams + ev->openers >= ev->max_streams) {
        snprintf(err, errlen, "too many open event streams (EVENTS_MAX_STREAMS)");
        st = RH_CONFLICT;
        goto unlock;
    }
    if (!wait_fresh(ev)) {
        snprintf(err, errlen, "the event stream cannot follow the database now");
        st = RH_UNAVAILABLE;
        goto unlock;
    }
    s->last_id = ev->upto;
    if (from->resume && from->last_id >= ev->ring_from && from->last_id <= ev->upto) {
        s->last_id = from->last_id;
    } else if (from->resume) {
        /* Older than the ring, or ahead of this instance: ask the database. */
        int64_t upto = ev->upto;
        ev->openers++;
        pthread_mutex_unlock(&ev->lock);
        st = backfill_db(ev, s, from->last_id, upto, err, errlen);
        pthread_mutex_lock(&ev->lock);
        ev->openers--;
        if (st != RH_OK)
            goto unlock;
        if (ev->ring_from > upto || ev->closing)
            /* The reader went so far meanwhile that the ring no longer joins up. */
            stream_reset(s, ev->upto, "too_far_behind");
    }
    backfill_ring(ev, s);
    s->keepalive_at = time_mono_ms() + KEEPALIVE_MS;
    s->next = ev->streams;
    if (ev->streams)
        ev->streams->prev = s;
    ev->streams = s;
    ev->nstreams++;
unlock:
    pthread_mutex_unlock(&ev->lock);
    if (st != RH_OK) {
        buf_free(&s->out);
        free(s);
        return st;
    }
    *out = (struct http_stream){.read = stream_read, .close = stream_close, .cls = s};
    return RH_OK;
}

int events_stream_count(struct events *ev)
{
    pthread_mutex_lock(&ev->lock);
    int n = ev->nstreams;
    pthread_mutex_unlock(&ev->lock);
    return n;
}

void events_close_all(struct events *ev)
{
    if (!ev)
        return;
    pthread_mutex_lock(&ev->lock);
    ev->closing = true;
    for (struct stream *s = ev->streams; s; s = s->next) {
        s->ended = true;
        stream_kick(s);
    }
    pthread_cond_broadcast(&ev->ready);
    pthread_cond_signal(&ev->wake);
    pthread_mutex_unlock(&ev->lock);
}

void events_stop(struct events *ev)
{
    if (!ev)
        return;
    events_close_all(ev);
    pthread_join(ev->thread, NULL);
    ring_restart(ev, 0);
    pthread_cond_destroy(&ev->wake);
    pthread_cond_destroy(&ev->ready);
    pthread_mutex_destroy(&ev->lock);
    free(ev);
}
