/* The database layer: a bounded pool of libpq connections, dedicated connections for
 * long-lived users (workers, listeners, the intake writer), and the embedded versioned
 * migrations. Every SQL statement of railhook lives in store/; the rest of the program calls
 * typed functions. A PGconn is used by one thread at a time: the pool hands each out
 * exclusively. */
#ifndef RAILHOOK_STORE_H
#define RAILHOOK_STORE_H

#include "util/status.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

struct store;

/* Creates a pool of at most size connections to conninfo, opened lazily. A caller waits at
 * most wait_ms for a free connection. prepared says whether the store may keep named
 * prepared statements in its sessions (not behind a transaction-mode pooler, which does not
 * keep session state): every connection the store opens follows it. Free with
 * store_close(). */
struct store *store_open(const char *conninfo, int size, int wait_ms, bool prepared);
/* Closes every pooled connection and frees the pool; NULL-safe. */
void store_close(struct store *s);
/* Takes a healthy connection (reconnecting a broken one); NULL when none is free within the
 * wait or the database is unreachable. Give it back with store_conn_release(). */
PGconn *store_conn_acquire(struct store *s);
/* Returns a connection to the pool, rolling back a transaction left open or failed. */
void store_conn_release(struct store *s, PGconn *c);
/* Connections in use and callers waiting right now (metrics). */
void store_pool_stats(struct store *s, int *in_use, int *waiting, int *size);

/* The timeouts of the process's database sessions. Every connection waits at most
 * connect_timeout_s to connect (unless DATABASE_URL sets connect_timeout); each session gets
 * the statement_timeout of its role (0: none), and the store cuts a connection whose server
 * has not answered a statement within that timeout plus a second (a partition, a stalled
 * proxy), so no caller waits longer. */
struct store_limits {
    int connect_timeout_s;
    int http_statement_ms;   /* the pool's sessions, which serve HTTP requests */
    int worker_statement_ms; /* dedicated sessions: workers, dispatcher, intake, long poll */
};

/* Sets the limits every session opened afterwards follows; call once before any thread
 * starts (the defaults are the configuration's). */
void store_limits_set(const struct store_limits *l);

/* What a connection is for: it names the session (application_name) and sets its guarantees
 * and statement timeout. */
enum store_session {
    STORE_SESSION_DEFAULT, /* "railhook": a worker's or other dedicated connection */
    STORE_SESSION_INTAKE,  /* "railhook-intake": commits always durable */
    STORE_SESSION_LISTEN,  /* "railhook-listen": the queue's dispatcher, which LISTENs */
    STORE_SESSION_POOL,    /* "railhook-http": the pool's sessions (store_conn_acquire) */
    STORE_SESSION_MIGRATE, /* "railhook-migrate": no statement timeout */
};

/* Opens a dedicated connection outside the pool, following the store's statement policy; the
 * caller owns it (PQfinish), and it does not need the store afterwards. NULL with a redacted
 * message in err. */
PGconn *store_conn_open(struct store *s, enum store_session session, char *err, size_t errlen);
/* Keeps a dedicated connection open: *c as it is when healthy, else (a broken one finished) a
 * new one from store_conn_open(). False with err set when none can be had. */
bool store_conn_ensure(struct store *s, enum store_session session, PGconn **c, char *err,
                       size_t errlen);
/* Rolls back the transaction left open (or failed) on c, if any; true when there was one. */
bool store_conn_rollback(PGconn *c);

/* What the schema notifies (its triggers call pg_notify at commit). */
enum store_channel {
    STORE_CHANNEL_JOBS,        /* railhook_jobs: a job became runnable */
    STORE_CHANNEL_JOB_CHANGED, /* railhook_job_changed: jobs changed; the payload is their ids,
                                * comma-separated (one notification per statement) */
};

/* Subscribes c's session to channel (LISTEN); notifications then arrive through
 * PQconsumeInput() and PQnotifies() on c. RH_OK, or a failure status with err set. */
enum rh_status store_listen(PGconn *c, enum store_channel channel, char *err, size_t errlen);

/* What the server says about itself; zero/empty where it could not tell. */
struct store_server {
    char version[64];
    char fsync[16];
    char synchronous_commit[16];
    long max_connections;
    long reserved_connections; /* superuser_reserved_connections */
    long clients;              /* client sessions other than c's, now */
};

/* Fills *out from c's server in one query; RH_OK, or a failure status with err set. */
enum rh_status store_server_describe(PGconn *c, struct store_server *out, char *err, size_t errlen);

/* Applies every embedded migration not yet recorded in schema_migrations, each in its own
 * transaction, under an advisory lock so concurrent callers are safe. It runs before any
 * store is open, on a connection of its own to conninfo. */
enum rh_status store_migrate(const char *conninfo, int *applied, char *err, size_t errlen);
/* Number of embedded migrations not yet applied on c, or -1 with err set. */
int store_migrations_pending(PGconn *c, char *err, size_t errlen);
/* Newest migration version applied on c (0 when none), or -1 with err set. */
int store_migrations_applied(PGconn *c, char *err, size_t errlen);
/* Newest embedded migration version. */
int store_migrations_latest(void);

#endif
