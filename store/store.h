/* The database layer: a bounded pool of libpq connections, dedicated connections for
 * long-lived users (workers, listeners), and the embedded versioned migrations.
 * A PGconn is used by one thread at a time: the pool hands each out exclusively. */
#ifndef RAILHOOK_STORE_H
#define RAILHOOK_STORE_H

#include "util/status.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

struct store;

/* Creates a pool of at most size connections to conninfo, opened lazily. A caller waits at
 * most wait_ms for a free connection. Free with store_close(). */
struct store *store_open(const char *conninfo, int size, int wait_ms);
/* Closes every connection and frees the pool; NULL-safe. */
void store_close(struct store *s);
/* Takes a healthy connection (reconnecting a broken one); NULL when none is free within the
 * wait or the database is unreachable. Give it back with store_conn_release(). */
PGconn *store_conn_acquire(struct store *s);
/* Returns a connection to the pool, rolling back a transaction left open or failed. */
void store_conn_release(struct store *s, PGconn *c);
/* Connections in use and callers waiting right now (metrics). */
void store_pool_stats(struct store *s, int *in_use, int *waiting, int *size);

/* Opens a dedicated connection (caller owns it, PQfinish); NULL with a redacted message in err. */
PGconn *store_connect(const char *conninfo, char *err, size_t errlen);
/* Runs a statement with text parameters; returns its result (PQclear it) or NULL after
 * writing a redacted message into err. ok is PGRES_COMMAND_OK or PGRES_TUPLES_OK. */
PGresult *store_exec(PGconn *c, const char *sql, int nparams, const char *const *params, char *err,
                     size_t errlen);
/* Runs a statement that returns nothing; RH_OK or RH_UNAVAILABLE/RH_INVALID with err set. */
enum rh_status store_exec_cmd(PGconn *c, const char *sql, int nparams, const char *const *params,
                              char *err, size_t errlen);
/* Classifies a failed result or connection: RH_UNAVAILABLE for connection trouble,
 * RH_CONFLICT for unique violations, RH_INVALID otherwise. */
enum rh_status store_error_status(PGconn *c, const PGresult *r);

/* Applies every embedded migration not yet recorded in schema_migrations, each in its own
 * transaction, under an advisory lock so concurrent callers are safe. */
enum rh_status store_migrate(const char *conninfo, int *applied, char *err, size_t errlen);
/* Number of embedded migrations not yet applied on c, or -1 with err set. */
int store_migrations_pending(PGconn *c, char *err, size_t errlen);
/* Newest embedded migration version. */
int store_migrations_latest(void);

#endif
