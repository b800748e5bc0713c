/* The job events the live stream (GET /events) sends: which ids are final, and the events in
 * an id range with their job's summary. */
#ifndef RAILHOOK_STORE_EVENTS_H
#define RAILHOOK_STORE_EVENTS_H

#include "util/status.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A candidate horizon: every event id <= last_id is final (committed, or never will be) once
 * final is true. Taken with store_events_mark_take(), confirmed with store_events_mark_check()
 * (migration 007 says why this is exact). */
struct store_events_mark {
    int64_t last_id; /* the sequence's last value when taken (0: no id handed out yet) */
    char xid[24];    /* a transaction id taken (and committed) right after */
    bool final;
};

/* Reads the sequence's last value; when it is above known (the last id already final), takes
 * a transaction id of its own and checks once (final already when no older transaction is
 * still running). Each such call uses up one transaction id; it writes nothing. At or below
 * known, the mark is final at once. */
enum rh_status store_events_mark_take(PGconn *c, int64_t known, struct store_events_mark *m,
                                      char *err, size_t errlen);
/* Sets m->final when every transaction older than m's transaction id has ended. */
enum rh_status store_events_mark_check(PGconn *c, struct store_events_mark *m, char *err,
                                       size_t errlen);

/* One event with its job as the stream sends it: the job's summary as it was right after the
 * change the event records. */
struct store_event {
    int64_t id;
    char job_id[37];
    char kind[32];
    char state[16];
    char *summary; /* the job's summary document then, one line of JSON */
};

/* The events with after < id <= upto, in id order, at most limit of them (*rows: free with
 * store_events_free()). Events of deleted jobs are gone with them. */
enum rh_status store_events_read(PGconn *c, int64_t after, int64_t upto, int limit,
                                 struct store_event **rows, int *nrows, char *err, size_t errlen);
/* Frees what store_events_read() returned; NULL-safe. */
void store_events_free(struct store_event *rows, int n);
/* The smallest stored event id, 0 when none is stored. */
enum rh_status store_events_first_id(PGconn *c, int64_t *id, char *err, size_t errlen);

#endif
