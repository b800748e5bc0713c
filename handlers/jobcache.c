/* The job document cache behind GET /jobs/{id}.
 *
 * Threading: HTTP threads read and fill the cache, the long-poll listener thread and the
 * admin handlers invalidate it; one mutex guards everything, held only to copy a document in
 * or out.
 *
 * Why a cached document is never stale beyond a notification's delivery, for running and
 * queued jobs as for finished ones: a reader that misses notes the invalidation counter (seq)
 * before it reads the database, and its document is stored only when no invalidation of that
 * job (and no reset) came after seq. Take a change committed at time C, and a miss whose read
 * sees the database as of time R (after seq was noted). If C < R, the document read is the new
 * one. If C > R, the change's notification arrives at N > C > R; a put before N stores the old
 * document and the invalidation at N drops it; a put after N finds the invalidation newer than
 * seq and is refused. Either way the old document is gone once the notification is in, and
 * the next read is a miss. Invalidations older than the ring (RECENT) refuse every put, and a
 * reset (the listener lost or regained its connection, when notifications may have been
 * missed) refuses every put read before it. Each instance keeps its own cache, fed by its own
 * listener, so instances agree once each has the notification. */
#include "handlers/jobcache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Invalidations remembered to judge a late jobcache_put(); older ones refuse every put. */
#define RECENT 128

struct entry {
    char id[37]; /* lowercase; empty when the slot is free */
    char etag[JOBCACHE_ETAG_LEN];
    char *json;
    size_t len;
    int64_t stored_ms;
    bool refreshing; /* past its TTL, and one reader was sent to the database for it */
};

struct invalidation {
    char id[37];
    uint64_t seq;
};

struct jobcache {
    pthread_mutex_t lock;
    struct entry *slots;
    size_t nslots;
    size_t max_doc;
    int64_t ttl_ms;
    bool open;
    uint64_t seq;       /* bumped by every invalidation and reset */
    uint64_t reset_seq; /* seq of the last reset */
    struct invalidation recent[RECENT];
};

/* Job ids arrive as the client wrote them; notifications carry PostgreSQL's lowercase. */
static bool key_of(const char *job_id, char key[37])
{
    size_t n = strlen(job_id);
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = job_id[i];
        key[i] = (ch >= 'A' && ch <= 'F') ? (char)(ch - 'A' + 'a') : ch;
    }
    key[n] = '\0';
    return true;
}

/* A job's document may sit in any of WAYS slots from its hash's, so a few jobs whose hashes
 * collide do not keep evicting one another. */
#define WAYS 4

static size_t set_of(const struct jobcache *c, const char *key)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const char *p = key; *p; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ull;
    }
    return (size_t)(h % c->nslots);
}

/* The slot holding key, or NULL (lock held). */
static struct entry *slot_find(struct jobcache *c, const char *key)
{
    size_t at = set_of(c, key);
    for (size_t i = 0; i < WAYS; i++) {
        struct entry *e = &c->slots[(at + i) % c->nslots];
        if (e->json && strcmp(e->id, key) == 0)
            return e;
    }
    return NULL;
}

/* Where to store key: its slot, else a free one, else the oldest of its set (lock held). */
static struct entry *slot_for(struct jobcache *c, const char *key)
{
    struct entry *e = slot_find(c, key);
    size_t at = set_of(c, key);
    for (size_t i = 0; !e && i < WAYS; i++)
        if (!c->slots[(at + i) % c->nslots].json)
            e = &c->slots[(at + i) % c->nslots];
    for (size_t i = 0; !e && i < WAYS; i++) {
        struct entry *x = &c->slots[(at + i) % c->nslots];
        if (!e || x->stored_ms < e->stored_ms)
            e = x;
    }
    return e;
}

static void entry_clear(struct entry *e)
{
    free(e->json);
    memset(e, 0, sizeof(*e));
}

struct jobcache *jobcache_new(int entries, size_t max_doc, int64_t ttl_ms)
{
    struct jobcache *c = xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    c->nslots = entries > 0 ? (size_t)entries : 1;
    c->slots = xcalloc(c->nslots, sizeof(*c->slots));
    c->max_doc = max_doc;
    c->ttl_ms = ttl_ms;
    return c;
}

void jobcache_free(struct jobcache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nslots; i++)
        entry_clear(&c->slots[i]);
    free(c->slots);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

bool jobcache_get(struct jobcache *c, const char *job_id, char etag[JOBCACHE_ETAG_LEN],
                  struct buf *body)
{
    char key[37];
    bool hit = false;
    if (!c || !key_of(job_id, key))
        return false;
    int64_t now = time_mono_ms();
    pthread_mutex_lock(&c->lock);
    struct entry *e = slot_find(c, key);
    if (e) {
        /* Past its TTL, the first reader misses and refreshes it, and the others still get it
         * meanwhile (only a pruned job changes unannounced), for one more TTL at most: a
         * document read by many at once is not read from the database by all of them. */
        int64_t age = now - e->stored_ms;
        bool serve = age < c->ttl_ms || (e->refreshing && age < 2 * c->ttl_ms);
        if (age >= c->ttl_ms)
            e->refreshing = true;
        if (serve && buf_append(body, e->json, e->len)) {
            memcpy(etag, e->etag, JOBCACHE_ETAG_LEN);
            hit = true;
        } else if (age >= 2 * c->ttl_ms) {
            entry_clear(e);
        }
    }
    pthread_mutex_unlock(&c->lock);
    return hit;
}

uint64_t jobcache_seq(struct jobcache *c)
{
    if (!c)
        return 0;
    pthread_mutex_lock(&c->lock);
    uint64_t seq = c->seq;
    pthread_mutex_unlock(&c->lock);
    return seq;
}

/* True when nothing since seq may have changed the job: called with the lock held. */
static bool unchanged_since(const struct jobcache *c, const char *key, uint64_t seq)
{
    if (c->reset_seq > seq)
        return false;
    if (c->seq == seq)
        return true;
    if (c->seq - seq > RECENT)
        return false; /* the ring no longer covers the whole interval */
    for (int i = 0; i < RECENT; i++)
        if (c->recent[i].seq > seq && strcmp(c->recent[i].id, key) == 0)
            return false;
    return true;
}

void jobcache_put(struct jobcache *c, const char *job_id, const char *json, const char *etag,
                  uint64_t seq)
{
    char key[37];
    if (!c || !key_of(job_id, key))
        return;
    size_t len = strlen(json);
    if (len > c->max_doc)
        return;
    /* Copy outside the lock; the rare refused put just frees it again. */
    char *copy = xmalloc(len + 1);
    memcpy(copy, json, len + 1);
    pthread_mutex_lock(&c->lock);
    if (c->open && unchanged_since(c, key, seq)) {
        struct entry *e = slot_for(c, key);
        entry_clear(e);
        memcpy(e->id, key, sizeof(e->id));
        snprintf(e->etag, sizeof(e->etag), "%s", etag);
        e->json = copy;
        e->len = len;
        e->stored_ms = time_mono_ms();
        copy = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    free(copy);
}

void jobcache_invalidate(struct jobcache *c, const char *job_id)
{
    char key[37];
    if (!c || !key_of(job_id, key))
        return;
    pthread_mutex_lock(&c->lock);
    c->seq++;
    struct invalidation *r = &c->recent[c->seq % RECENT];
    memcpy(r->id, key, sizeof(r->id));
    r->seq = c->seq;
    struct entry *e = slot_find(c, key);
    if (e)
        entry_clear(e);
    pthread_mutex_unlock(&c->lock);
}

void jobcache_reset(struct jobcache *c, bool open)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->seq++;
    c->reset_seq = c->seq;
    c->open = open;
    for (size_t i = 0; i < c->nslots; i++)
        entry_clear(&c->slots[i]);
    pthread_mutex_unlock(&c->lock);
}
