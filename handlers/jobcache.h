/* A small in-memory cache of job documents (JSON and ETag) for GET /jobs/{id}, every state.
 *
 * Every change of a job's document (its row, or a new event) moves jobs.updated_at, and the
 * database announces each on railhook_job_changed at commit (store/migrations/008); entries
 * are dropped on each notification about their job, and expire after a short TTL (which also
 * covers pruned jobs and a queued job's next_poll_ms hint): past it, one reader refreshes the
 * document while the others are still served it, for one more TTL at most. Only a miss reads
 * PostgreSQL.
 * Every call accepts a NULL cache, which stores nothing and never hits. */
#ifndef RAILHOOK_JOBCACHE_H
#define RAILHOOK_JOBCACHE_H

#include "util/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for an ETag: a quoted 32-character hex digest and its NUL. */
#define JOBCACHE_ETAG_LEN 40

struct jobcache;

/* A cache of at most entries documents of at most max_doc bytes each, each kept ttl_ms at
 * most. It starts closed (it stores nothing) until jobcache_reset(c, true). Free with
 * jobcache_free(). */
struct jobcache *jobcache_new(int entries, size_t max_doc, int64_t ttl_ms);
/* Frees the cache and every document in it. */
void jobcache_free(struct jobcache *c);

/* On a hit, appends the document to body, copies its ETag into etag and returns true. The first
 * reader after the TTL misses (it refreshes the document with jobcache_put()). */
bool jobcache_get(struct jobcache *c, const char *job_id, char etag[JOBCACHE_ETAG_LEN],
                  struct buf *body);
/* The invalidation counter to pass to jobcache_put(): read it before reading the job. */
uint64_t jobcache_seq(struct jobcache *c);
/* Stores a copy of a job's document unless the cache is closed, the document is too large, or
 * the job may have changed since seq was read (a notification came in between). */
void jobcache_put(struct jobcache *c, const char *job_id, const char *json, const char *etag,
                  uint64_t seq);
/* Drops the job's document: the database said it changed (or this process changed it). */
void jobcache_invalidate(struct jobcache *c, const char *job_id);
/* Drops every document; open says whether the cache may store again (false while no
 * notification connection listens, since changes would then go unnoticed). */
void jobcache_reset(struct jobcache *c, bool open);

#endif
