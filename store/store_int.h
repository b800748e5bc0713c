/* Private to store/: how the store's modules run their statements. */
#ifndef RAILHOOK_STORE_INT_H
#define RAILHOOK_STORE_INT_H

#include "store/store.h"

/* A statement of the store. A named one runs as a prepared statement of its session when the
 * store allows them (store_open()), prepared there on first use; an unnamed one is planned on
 * every run (one-off statements, and those whose best plan depends on the parameters). */
struct store_stmt {
    const char *name; /* unique among the store's statements, or NULL */
    const char *sql;
    int nparams;
};

/* Runs st with text parameters on c. RH_OK with the result in *out (PQclear it; when out is
 * NULL the result is freed here); otherwise the status store_error_status() gives and
 * libpq's message, redacted, in err. */
enum rh_status store_run(PGconn *c, const struct store_stmt *st, const char *const *params,
                         PGresult **out, char *err, size_t errlen);
/* Classifies a failed result or connection: RH_UNAVAILABLE for connection trouble,
 * RH_CONFLICT for unique violations, RH_INVALID otherwise. */
enum rh_status store_error_status(PGconn *c, const PGresult *r);
/* Takes r (NULL: out of memory or no connection): RH_OK with *out = r (or r freed when out is
 * NULL) when it succeeded, else r is freed and the failure classified and described in err. */
enum rh_status store_settle(PGconn *c, PGresult *r, PGresult **out, char *err, size_t errlen);

/* Connects to conninfo and sets the session up (store_conn_open() does it for a store, whose
 * conninfo and policy it passes); NULL with a redacted message in err. */
PGconn *store_session_open(const char *conninfo, bool prepared, enum store_session session,
                           char *err, size_t errlen);

#endif
