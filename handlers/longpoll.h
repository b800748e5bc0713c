/* Long polling for GET /jobs/{id}?wait=N: parked requests wait for the database's
 * railhook_job_changed notification about their job (or their deadline), then are resumed. */
#ifndef RAILHOOK_LONGPOLL_H
#define RAILHOOK_LONGPOLL_H

#include "store/store.h"

#include <stdint.h>

struct longpoll;
struct jobcache;
struct events;

/* Starts the listener thread on its own connection of store (reconnecting as needed); store
 * must outlive it. Free with longpoll_stop(). */
struct longpoll *longpoll_start(struct store *store);
/* Registers a parked request: resume(transport) is called once, when job_id changes (or
 * changed after since_ms, monotonic, while the handler was reading it) or at deadline_ms,
 * whichever comes first. */
void longpoll_wait(struct longpoll *lp, const char *job_id, int64_t since_ms, int64_t deadline_ms,
                   void *transport, void (*resume)(void *transport));
/* Wakes ev's reader (handlers/events.h) on every job change notification from now on. */
void longpoll_events_set(struct longpoll *lp, struct events *ev);
/* The job cache the listener keeps exact (owned by lp; NULL when lp is NULL). */
struct jobcache *longpoll_jobcache(struct longpoll *lp);
/* Resumes every parked request now and refuses to park more (shutdown). */
void longpoll_release_all(struct longpoll *lp);
/* Releases everyone, stops the thread and frees; NULL-safe. */
void longpoll_stop(struct longpoll *lp);

#endif
