/* Embedded SQL migrations (store/migrations/NNN_name.sql), applied in order under an
 * advisory lock, each in its own transaction, recorded in schema_migrations. */
#include "store/store_int.h"

#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct embedded_file {
    const char *name;
    const char *data;
    size_t len;
};
extern const struct embedded_file embedded_migrations[];

/* Arbitrary constant naming railhook's migration lock ("rhmigr" in ASCII). */
#define MIGRATION_LOCK_KEY "114104109105103114"

static int migration_version(const char *name)
{
    int64_t v = 0;
    char digits[8] = {0};
    size_t n = strspn(name, "0123456789");
    if (n == 0 || n >= sizeof(digits))
        return -1;
    memcpy(digits, name, n);
    if (!parse_i64(digits, 1, 9999999, &v))
        return -1;
    return (int)v;
}

int store_migrations_latest(void)
{
    int latest = 0;
    for (const struct embedded_file *f = embedded_migrations; f->name; f++) {
        int v = migration_version(f->name);
        if (v > latest)
            latest = v;
    }
    return latest;
}

/* Runs a one-off command; RH_OK or a failure status with err set. */
static enum rh_status command(PGconn *c, const char *sql, int n, const char *const *p, char *err,
                              size_t errlen)
{
    const struct store_stmt st = {NULL, sql, n};
    return store_run(c, &st, p, NULL, err, errlen);
}

/* Runs a one-off statement: its result, or NULL with err set. */
static PGresult *query(PGconn *c, const char *sql, int n, const char *const *p, char *err,
                       size_t errlen)
{
    const struct store_stmt st = {NULL, sql, n};
    PGresult *r = NULL;
    store_run(c, &st, p, &r, err, errlen);
    return r;
}

/* After a failed read of schema_migrations: 1 when the table does not exist yet (nothing is
 * applied), 0 when it does (the read failed for another reason), -1 with err set. */
static int migrations_table_missing(PGconn *c, char *err, size_t errlen)
{
    PGresult *t = query(c, "SELECT to_regclass('schema_migrations') IS NULL", 0, NULL, err, errlen);
    if (!t)
        return -1;
    int missing = strcmp(PQgetvalue(t, 0, 0), "t") == 0;
    PQclear(t);
    return missing;
}

int store_migrations_applied(PGconn *c, char *err, size_t errlen)
{
    PGresult *r =
        query(c, "SELECT coalesce(max(version), 0) FROM schema_migrations", 0, NULL, err, errlen);
    if (!r)
        return migrations_table_missing(c, err, errlen) == 1 ? 0 : -1;
    int64_t v = -1;
    if (!parse_i64(PQgetvalue(r, 0, 0), 0, 9999999, &v))
        snprintf(err, errlen, "schema_migrations holds an unexpected version");
    PQclear(r);
    return (int)v;
}

int store_migrations_pending(PGconn *c, char *err, size_t errlen)
{
    PGresult *r = query(c, "SELECT coalesce(array_agg(version), '{}') FROM schema_migrations", 0,
                        NULL, err, errlen);
    if (!r) {
        /* The table does not exist yet: everything is pending. */
        if (migrations_table_missing(c, err, errlen) != 1)
            return -1;
        int n = 0;
        for (const struct embedded_file *f = embedded_migrations; f->name; f++)
            n++;
        return n;
    }
    const char *applied = PQgetvalue(r, 0, 0);
    int pending = 0;
    for (const struct embedded_file *f = embedded_migrations; f->name; f++) {
        char needle[16];
        snprintf(needle, sizeof(needle), "%d", migration_version(f->name));
        /* applied looks like {1,2,3}: match whole numbers only. */
        bool found = false;
        const char *p = applied;
        while ((p = strstr(p, needle)) != NULL) {
            char before = p == applied ? '{' : p[-1];
            char after = p[strlen(needle)];
            if ((before == '{' || before == ',') && (after == '}' || after == ',')) {
                found = true;
                break;
            }
            p++;
        }
        pending += !found;
    }
    PQclear(r);
    return pending;
}

enum rh_status store_migrate(const char *conninfo, int *applied, char *err, size_t errlen)
{
    enum rh_status st = RH_UNAVAILABLE;
    *applied = 0;
    PGconn *c = store_session_open(conninfo, false, STORE_SESSION_MIGRATE, err, errlen);
    if (!c)
        return RH_UNAVAILABLE;
    if (command(c, "SELECT pg_advisory_lock(" MIGRATION_LOCK_KEY ")", 0, NULL, err, errlen) !=
        RH_OK)
        goto out;
    st = command(c,
                 "CREATE TABLE IF NOT EXISTS schema_migrations ("
                 " version integer PRIMARY KEY, name text NOT NULL,"
                 " applied_at timestamptz NOT NULL DEFAULT now())",
                 0, NULL, err, errlen);
    if (st != RH_OK)
        goto unlock;
    for (const struct embedded_file *f = embedded_migrations; f->name; f++) {
        int v = migration_version(f->name);
        if (v < 0) {
            snprintf(err, errlen, "migration %s: name must start with its version", f->name);
            st = RH_INVALID;
            goto unlock;
        }
        char vs[16];
        snprintf(vs, sizeof(vs), "%d", v);
        const char *p1[] = {vs};
        PGresult *r =
            query(c, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, p1, err, errlen);
        if (!r) {
            st = RH_UNAVAILABLE;
            goto unlock;
        }
        bool done = PQntuples(r) > 0;
        PQclear(r);
        if (done)
            continue;
        char emsg[512] = "";
        if ((st = command(c, "BEGIN", 0, NULL, err, errlen)) != RH_OK)
            goto unlock;
        /* The migration text may hold several statements: simple query protocol. */
        PGresult *m = PQexec(c, f->data);
        bool ok = PQresultStatus(m) == PGRES_COMMAND_OK || PQresultStatus(m) == PGRES_TUPLES_OK;
        if (!ok)
            snprintf(emsg, sizeof(emsg), "%s", PQerrorMessage(c));
        PQclear(m);
        const char *p2[] = {vs, f->name};
        if (ok)
            ok = command(c, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2, p2,
                         emsg, sizeof(emsg)) == RH_OK;
        if (ok)
            ok = command(c, "COMMIT", 0, NULL, emsg, sizeof(emsg)) == RH_OK;
        if (!ok) {
            store_conn_rollback(c);
            size_t n = strlen(emsg);
            while (n && emsg[n - 1] == '\n')
                emsg[--n] = '\0';
            snprintf(err, errlen, "migration %s failed: %s", f->name, emsg);
            st = RH_INVALID;
            goto unlock;
        }
        (*applied)++;
    }
    st = RH_OK;
unlock:
    PQclear(PQexec(c, "SELECT pg_advisory_unlock(" MIGRATION_LOCK_KEY ")"));
out:
    PQfinish(c);
    return st;
}
