/* The live event stream's hub (GET /events): one reader per instance follows job_events in id
 * order, keeps the latest events in memory and feeds every open stream whose filters match. */
#ifndef RAILHOOK_HANDLERS_EVENTS_H
#define RAILHOOK_HANDLERS_EVENTS_H

#include "handlers/http.h"
#include "store/store.h"

#include <stdint.h>

struct events;

/* What a stream wants; an empty field matches anything. */
struct events_filter {
    char job[37];
    char kind[32];
    char state[16];
};

/* Starts the reader thread (its own connection of store, opened while streams are open);
 * store must outlive it. At most max_streams streams are open at once. */
struct events *events_start(struct store *store, int max_streams);
/* Tells the reader that jobs changed (the long-poll listener's notifications); NULL-safe and
 * cheap, from any thread. */
void events_wake(struct events *ev);

/* Where a new stream starts. */
struct events_from {
    bool resume;     /* false: from now on */
    int64_t last_id; /* resume: the last event id the client has */
};

/* Opens a stream for a request whose connection is transport (suspend and resume as in
 * struct http_request): fills out with the body's reader, starting with "retry: 2000", then
 * the stored events after from->last_id that match (or a reset event when they are no longer
 * all available), then live events and a keepalive comment every 15 s. RH_CONFLICT when
 * EVENTS_MAX_STREAMS streams are open, RH_UNAVAILABLE when the hub cannot follow the database
 * now or is shutting down (err says which). Runs on an HTTP thread; may wait a moment for the
 * reader to catch up. */
enum rh_status events_stream_open(struct events *ev, const struct events_filter *f,
                                  const struct events_from *from, void *transport,
                                  void (*suspend)(void *transport), void (*resume)(void *transport),
                                  struct http_stream *out, char *err, size_t errlen);
/* The number of streams open now. */
int events_stream_count(struct events *ev);
/* Ends every stream (each sends what it has, then its body ends) and refuses new ones
 * (shutdown); NULL-safe. */
void events_close_all(struct events *ev);
/* Ends the streams, stops the reader and frees; call after the HTTP server stopped; NULL-safe. */
void events_stop(struct events *ev);

#endif
