/* Connection pool, dedicated connections and query helpers.
 *
 * Threading: the pool is shared by every HTTP thread; one mutex guards the slot table and a
 * condition variable wakes waiters when a connection is released. A connection is owned by
 * exactly one thread between acquire and release. Connections are opened lazily outside the
 * lock so a slow or dead database never blocks callers that could use an idle connection. */
#include "store/store.h"

#include "util/redact.h"
#include "util/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct slot {
    PGconn *conn;
    bool busy;
};

struct store {
    char *conninfo;
    int size;
    int wait_ms;
    int waiting;
    pthread_mutex_t lock;
    pthread_cond_t freed;
    struct slot *slots;
};

static void copy_err(char *err, size_t errlen, const char *what, const char *msg)
{
    if (!err || !errlen)
        return;
    char *clean = redact_string(msg ? msg : "");
    size_t n = strlen(clean);
    while (n && (clean[n - 1] == '\n' || clean[n - 1] == ' '))
        clean[--n] = '\0';
    snprintf(err, errlen, "%s%s%s", what, *clean ? ": " : "", clean);
    free(clean);
}

struct store *store_open(const char *conninfo, int size, int wait_ms)
{
    struct store *s = xcalloc(1, sizeof(*s));
    s->conninfo = xstrdup(conninfo);
    s->size = size;
    s->wait_ms = wait_ms;
    s->slots = xcalloc((size_t)size, sizeof(*s->slots));
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->freed, &attr);
    pthread_condattr_destroy(&attr);
    return s;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->size; i++)
        if (s->slots[i].conn)
            PQfinish(s->slots[i].conn);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->freed);
    free(s->slots);
    free(s->conninfo);
    free(s);
}

static void ignore_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

PGconn *store_connect(const char *conninfo, char *err, size_t errlen)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        copy_err(err, errlen, "database connection failed", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    /* Notices (e.g. "relation already exists, skipping") are not worth a log line. */
    PQsetNoticeProcessor(c, ignore_notice, NULL);
    PGresult *r = PQexec(c, "SET application_name = 'railhook'; SET TIME ZONE 'UTC'");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        copy_err(err, errlen, "database session setup failed", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

PGconn *store_conn_acquire(struct store *s)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += s->wait_ms / 1000;
    deadline.tv_nsec += (long)(s->wait_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }

    pthread_mutex_lock(&s->lock);
    int idx = -1;
    for (;;) {
        /* Prefer an idle open connection, then an empty slot. */
        for (int i = 0; i < s->size && idx < 0; i++)
            if (!s->slots[i].busy && s->slots[i].conn)
                idx = i;
        for (int i = 0; i < s->size && idx < 0; i++)
            if (!s->slots[i].busy)
                idx = i;
        if (idx >= 0)
            break;
        s->waiting++;
        int rc = pthread_cond_timedwait(&s->freed, &s->lock, &deadline);
        s->waiting--;
        if (rc == ETIMEDOUT) {
            pthread_mutex_unlock(&s->lock);
            return NULL;
        }
    }
    s->slots[idx].busy = true;
    PGconn *c = s->slots[idx].conn;
    pthread_mutex_unlock(&s->lock);

    if (c && PQstatus(c) != CONNECTION_OK) {
        PQfinish(c);
        c = NULL;
    }
    if (!c) {
        c = store_connect(s->conninfo, NULL, 0);
    }
    pthread_mutex_lock(&s->lock);
    s->slots[idx].conn = c;
    if (!c) {
        s->slots[idx].busy = false;
        pthread_cond_signal(&s->freed);
    }
    pthread_mutex_unlock(&s->lock);
    return c;
}

void store_conn_release(struct store *s, PGconn *c)
{
    if (!c)
        return;
    if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE) {
        PGresult *r = PQexec(c, "ROLLBACK");
        PQclear(r);
    }
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->size; i++) {
        if (s->slots[i].conn == c) {
            if (PQstatus(c) != CONNECTION_OK) {
                PQfinish(c);
                s->slots[i].conn = NULL;
            }
            s->slots[i].busy = false;
            break;
        }
    }
    pthread_cond_signal(&s->freed);
    pthread_mutex_unlock(&s->lock);
}

void store_pool_stats(struct store *s, int *in_use, int *waiting, int *size)
{
    pthread_mutex_lock(&s->lock);
    int n = 0;
    for (int i = 0; i < s->size; i++)
        n += s->slots[i].busy;
    *in_use = n;
    *waiting = s->waiting;
    *size = s->size;
    pthread_mutex_unlock(&s->lock);
}

PGresult *store_exec(PGconn *c, const char *sql, int nparams, const char *const *params, char *err,
                     size_t errlen)
{
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    copy_err(err, errlen, "database error", PQerrorMessage(c));
    PQclear(r);
    return NULL;
}

enum rh_status store_error_status(PGconn *c, const PGresult *r)
{
    if (!c || PQstatus(c) != CONNECTION_OK)
        return RH_UNAVAILABLE;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (!state)
        return RH_UNAVAILABLE;
    if (strcmp(state, "23505") == 0)
        return RH_CONFLICT;
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57", 2) == 0 ||
        strncmp(state, "53", 2) == 0 || strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
        return RH_UNAVAILABLE;
    return RH_INVALID;
}

enum rh_status store_exec_cmd(PGconn *c, const char *sql, int nparams, const char *const *params,
                              char *err, size_t errlen)
{
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    enum rh_status out = RH_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        out = store_error_status(c, r);
        copy_err(err, errlen, "database error", PQerrorMessage(c));
    }
    PQclear(r);
    return out;
}
