/* Connection pool, dedicated sessions, and how every statement of the store runs: the
 * prepared-statement policy is the store's, decided at store_open(), and each connection the
 * store opens carries it with the statements prepared in its session (libpq instance data).
 *
 * Threading: the pool is shared by every HTTP thread; one mutex guards the slot table and a
 * condition variable wakes waiters when a connection is released. A connection is owned by
 * exactly one thread between acquire and release, and so is its session state. Connections
 * are opened lazily outside the lock so a slow or dead database never blocks callers that
 * could use an idle connection. The limits (store_limits_set) are written once before any
 * thread starts, then only read. */
#include "store/store_int.h"

#include "util/redact.h"
#include "util/util.h"

#include <errno.h>
#include <libpq-events.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

struct slot {
    PGconn *conn;
    bool busy;
};

struct store {
    char *conninfo;
    int size;
    int wait_ms;
    bool prepared; /* named prepared statements allowed in this store's sessions */
    int waiting;
    pthread_mutex_t lock;
    pthread_cond_t freed;
    struct slot *slots;
};

/* The timeouts of every session the process opens; the defaults are the configuration's. */
static struct store_limits limits = {
    .connect_timeout_s = 5,
    .http_statement_ms = 5000,
    .worker_statement_ms = 30000,
};

/* A statement the server has cancelled answers at once; past its timeout plus this grace, the
 * server is taken for gone (a partition, a proxy that stopped forwarding) and the connection
 * is cut. */
#define ANSWER_GRACE_MS 1000

/* How each kind of session is named and set up. */
enum role { ROLE_HTTP, ROLE_WORKER, ROLE_NONE };
static const struct {
    const char *name; /* application_name */
    enum role role;   /* which statement timeout it gets */
    bool durable;     /* commits wait for the WAL flush even if the server says not */
} sessions[] = {
    [STORE_SESSION_DEFAULT] = {"railhook", ROLE_WORKER, false},
    [STORE_SESSION_INTAKE] = {"railhook-intake", ROLE_WORKER, true},
    /* The dispatcher claims jobs on its LISTEN connection: those statements are bounded. */
    [STORE_SESSION_LISTEN] = {"railhook-listen", ROLE_WORKER, false},
    [STORE_SESSION_POOL] = {"railhook-http", ROLE_HTTP, false},
    [STORE_SESSION_MIGRATE] = {"railhook-migrate", ROLE_NONE, false},
};

/* The most named statements one session prepares; past it, statements run unnamed. */
#define SESSION_STATEMENTS 160

/* What the store knows of one of its sessions, kept on the PGconn (libpq instance data). */
struct session_state {
    bool prepared; /* the store's policy */
    int answer_ms; /* longest wait for an answer before the connection is cut; 0: none */
    int nready;
    const struct store_stmt *ready[SESSION_STATEMENTS]; /* prepared in this session */
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

/* libpq calls this on the events of the store's connections: the session state goes with
 * the connection, and a reset session has no prepared statements left. */
static int on_conn_event(PGEventId id, void *info, void *pass)
{
    (void)pass;
    if (id == PGEVT_CONNRESET) {
        struct session_state *ss = PQinstanceData(((PGEventConnReset *)info)->conn, on_conn_event);
        if (ss)
            ss->nready = 0;
    } else if (id == PGEVT_CONNDESTROY) {
        free(PQinstanceData(((PGEventConnDestroy *)info)->conn, on_conn_event));
    }
    return 1;
}

static void ignore_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

void store_limits_set(const struct store_limits *l)
{
    limits = *l;
}

static int statement_ms(enum role role)
{
    return role == ROLE_HTTP     ? limits.http_statement_ms
           : role == ROLE_WORKER ? limits.worker_statement_ms
                                 : 0;
}

/* Cuts c's socket: libpq then reads end of file, the connection turns bad and whoever holds it
 * drops it (the pool, on release). */
static void conn_cut(PGconn *c)
{
    int fd = PQsocket(c);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
    PQconsumeInput(c);
}

/* Collects the results of the query sent on c, as PQexec would (the first failed result, or
 * the last one), waiting at most answer_ms (0: no limit). NULL when the wait ran out (the
 * connection is then cut) or the connection failed. */
static PGresult *result_wait(PGconn *c, int answer_ms)
{
    PGresult *keep = NULL, *r;
    int64_t deadline = answer_ms > 0 ? time_mono_ms() + answer_ms : 0;
    for (;;) {
        while (PQisBusy(c)) {
            int left = -1;
            if (deadline) {
                int64_t ms = deadline - time_mono_ms();
                if (ms <= 0) {
                    conn_cut(c);
                    PQclear(keep);
                    keep = NULL;
                    goto out;
                }
                left = (int)ms;
            }
            struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
            if (poll(&pfd, 1, left) < 0 && errno != EINTR)
                conn_cut(c);
            if (!PQconsumeInput(c))
                break;
        }
        r = PQgetResult(c);
        if (!r)
            break;
        ExecStatusType rs = PQresultStatus(r);
        bool failed = rs == PGRES_FATAL_ERROR || rs == PGRES_BAD_RESPONSE;
        if (keep && PQresultStatus(keep) == PGRES_FATAL_ERROR && !failed) {
            PQclear(r);
        } else {
            PQclear(keep);
            keep = r;
        }
        if (PQstatus(c) != CONNECTION_OK)
            break;
    }
out:
    return keep;
}

/* Runs sql (one or more statements, no parameters) on c within answer_ms. */
static PGresult *exec_within(PGconn *c, const char *sql, int answer_ms)
{
    return PQsendQuery(c, sql) ? result_wait(c, answer_ms) : NULL;
}

PGconn *store_session_open(const char *conninfo, bool prepared, enum store_session session,
                           char *err, size_t errlen)
{
    const char *kw[4], *val[4];
    char connect_s[16], setup[256];
    bool ok = false;
    struct session_state *ss = NULL;
    PGresult *r = NULL;
    int stmt_ms = statement_ms(sessions[session].role);
    /* Keywords after dbname override the conninfo's, those before it are only defaults: a
     * connect_timeout in DATABASE_URL wins. */
    snprintf(connect_s, sizeof(connect_s), "%d", limits.connect_timeout_s);
    kw[0] = "connect_timeout";
    val[0] = connect_s;
    kw[1] = "dbname";
    val[1] = conninfo;
    kw[2] = "application_name";
    val[2] = sessions[session].name;
    kw[3] = NULL;
    val[3] = NULL;
    PGconn *c = PQconnectdbParams(kw, val, 1);
    if (PQstatus(c) != CONNECTION_OK) {
        copy_err(err, errlen, "database connection failed", PQerrorMessage(c));
        goto out;
    }
    /* Notices (e.g. "relation already exists, skipping") are not worth a log line. */
    PQsetNoticeProcessor(c, ignore_notice, NULL);
    ss = xcalloc(1, sizeof(*ss));
    ss->prepared = prepared;
    ss->answer_ms = stmt_ms > 0 ? stmt_ms + ANSWER_GRACE_MS : 0;
    /* Once registered, the state is freed with the connection (on_conn_event). */
    if (!PQregisterEventProc(c, on_conn_event, "railhook store", NULL) ||
        !PQsetInstanceData(c, on_conn_event, ss)) {
        copy_err(err, errlen, "database session setup failed", "cannot keep session state");
        free(ss);
        goto out;
    }
    /* A durable session keeps a stronger setting (remote_apply...) but never runs without.
     * The setup itself must answer as soon as a connection does. */
    snprintf(setup, sizeof(setup), "SET TIME ZONE 'UTC'; SET statement_timeout = %d%s", stmt_ms,
             sessions[session].durable ? "; SELECT set_config('synchronous_commit', 'on', false)"
                                         " WHERE current_setting('synchronous_commit') = 'off'"
                                       : "");
    r = exec_within(c, setup, limits.connect_timeout_s * 1000);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        copy_err(err, errlen, "database session setup failed", PQerrorMessage(c));
out:
    PQclear(r);
    if (!ok) {
        PQfinish(c);
        c = NULL;
    }
    return c;
}

struct store *store_open(const char *conninfo, int size, int wait_ms, bool prepared)
{
    struct store *s = xcalloc(1, sizeof(*s));
    s->conninfo = xstrdup(conninfo);
    s->size = size;
    s->wait_ms = wait_ms;
    s->prepared = prepared;
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

PGconn *store_conn_open(struct store *s, enum store_session session, char *err, size_t errlen)
{
    return store_session_open(s->conninfo, s->prepared, session, err, errlen);
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
        c = store_session_open(s->conninfo, s->prepared, STORE_SESSION_POOL, NULL, 0);
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
    store_conn_rollback(c);
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

enum rh_status store_settle(PGconn *c, PGresult *r, PGresult **out, char *err, size_t errlen)
{
    enum rh_status st = RH_OK;
    ExecStatusType rs = PQresultStatus(r);
    if (out)
        *out = NULL;
    if (r && (rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK)) {
        if (out) {
            *out = r;
            r = NULL;
        }
    } else {
        st = store_error_status(c, r);
        copy_err(err, errlen, "database error", PQerrorMessage(c));
    }
    PQclear(r);
    return st;
}

enum rh_status store_run(PGconn *c, const struct store_stmt *st, const char *const *params,
                         PGresult **out, char *err, size_t errlen)
{
    struct session_state *ss = PQinstanceData(c, on_conn_event);
    int answer_ms = ss ? ss->answer_ms : 0;
    bool named = false;
    PGresult *r = NULL;
    if (st->name && ss && ss->prepared) {
        for (int i = 0; i < ss->nready && !named; i++)
            named = ss->ready[i] == st;
        if (!named && ss->nready < SESSION_STATEMENTS) {
            if (PQsendPrepare(c, st->name, st->sql, st->nparams, NULL))
                r = result_wait(c, answer_ms);
            if (PQresultStatus(r) != PGRES_COMMAND_OK)
                goto out; /* r (or the connection) tells why */
            PQclear(r);
            r = NULL;
            ss->ready[ss->nready++] = st;
            named = true;
        }
    }
    if (named ? PQsendQueryPrepared(c, st->name, st->nparams, params, NULL, NULL, 0)
              : PQsendQueryParams(c, st->sql, st->nparams, NULL, params, NULL, NULL, 0))
        r = result_wait(c, answer_ms);
out:
    return store_settle(c, r, out, err, errlen);
}

bool store_conn_ensure(struct store *s, enum store_session session, PGconn **c, char *err,
                       size_t errlen)
{
    if (*c && PQstatus(*c) == CONNECTION_OK)
        return true;
    if (*c)
        PQfinish(*c);
    *c = store_conn_open(s, session, err, errlen);
    return *c != NULL;
}

bool store_conn_rollback(PGconn *c)
{
    PGTransactionStatusType ts = PQtransactionStatus(c);
    bool open = PQstatus(c) == CONNECTION_OK && ts != PQTRANS_IDLE && ts != PQTRANS_UNKNOWN;
    const struct session_state *ss = PQinstanceData(c, on_conn_event);
    if (open)
        PQclear(exec_within(c, "ROLLBACK", ss ? ss->answer_ms : 0));
    return open;
}

enum rh_status store_listen(PGconn *c, enum store_channel channel, char *err, size_t errlen)
{
    static const struct store_stmt listen[] = {
        [STORE_CHANNEL_JOBS] = {NULL, "LISTEN railhook_jobs", 0},
        [STORE_CHANNEL_JOB_CHANGED] = {NULL, "LISTEN railhook_job_changed", 0},
    };
    return store_run(c, &listen[channel], NULL, NULL, err, errlen);
}

enum rh_status store_server_describe(PGconn *c, struct store_server *out, char *err, size_t errlen)
{
    static const struct store_stmt describe = {
        NULL,
        "SELECT current_setting('server_version'), current_setting('fsync'),"
        " current_setting('synchronous_commit'), current_setting('max_connections'),"
        " current_setting('superuser_reserved_connections'),"
        " (SELECT count(*) FROM pg_stat_activity"
        "  WHERE backend_type = 'client backend' AND pid <> pg_backend_pid())",
        0,
    };
    PGresult *r = NULL;
    memset(out, 0, sizeof(*out));
    enum rh_status st = store_run(c, &describe, NULL, &r, err, errlen);
    if (st != RH_OK)
        return st;
    snprintf(out->version, sizeof(out->version), "%s", PQgetvalue(r, 0, 0));
    snprintf(out->fsync, sizeof(out->fsync), "%s", PQgetvalue(r, 0, 1));
    snprintf(out->synchronous_commit, sizeof(out->synchronous_commit), "%s", PQgetvalue(r, 0, 2));
    out->max_connections = strtol(PQgetvalue(r, 0, 3), NULL, 10);
    out->reserved_connections = strtol(PQgetvalue(r, 0, 4), NULL, 10);
    out->clients = strtol(PQgetvalue(r, 0, 5), NULL, 10);
    PQclear(r);
    return RH_OK;
}
