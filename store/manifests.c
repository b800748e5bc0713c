/* The manifests table's reader (store/manifests.h). One connection per call, closed before it
 * returns: a pass every few minutes needs no pool, and Supabase's pooler counts connections. */
#include "store/manifests.h"

#include "util/redact.h"
#include "util/util.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(PGconn *c, const PGresult *r, const char *what, char *err, size_t errlen)
{
    const char *m = r ? PQresultErrorMessage(r) : c ? PQerrorMessage(c) : "out of memory";
    char *safe = redact_string(m ? m : "");
    size_t n = strlen(safe);
    while (n && (safe[n - 1] == '\n' || safe[n - 1] == ' '))
        safe[--n] = '\0';
    snprintf(err, errlen, "manifests database: %s: %s", what, safe);
    free(safe);
}

/* Appends the quoted identifier s to b; false when libpq refuses it. */
static bool ident_add(PGconn *c, struct buf *b, const char *s)
{
    char *q = PQescapeIdentifier(c, s, strlen(s));
    if (!q)
        return false;
    buf_puts(b, q);
    PQfreemem(q);
    return true;
}

/* The page statement: SELECT row_to_json(r)::text, r.id::text FROM (SELECT "id", "c"... FROM
 * "schema"."table" [WHERE "id" > $1] ORDER BY "id" LIMIT n) r. */
static char *page_sql(PGconn *c, const struct store_manifests_query *q, bool after)
{
    struct buf b;
    buf_init(&b, 0);
    bool ok = true;
    buf_puts(&b, "SELECT row_to_json(r)::text, r.id::text FROM (SELECT ");
    ok = ok && ident_add(c, &b, "id");
    for (size_t i = 0; ok && i < q->ncolumns; i++) {
        if (strcmp(q->columns[i], "id") == 0)
            continue;
        buf_puts(&b, ", ");
        ok = ident_add(c, &b, q->columns[i]);
    }
    buf_puts(&b, " FROM ");
    ok = ok && ident_add(c, &b, q->schema);
    buf_puts(&b, ".");
    ok = ok && ident_add(c, &b, q->table);
    if (after)
        buf_puts(&b, " WHERE id > $1");
    buf_printf(&b, " ORDER BY id LIMIT %d) r", q->page > 0 ? q->page : 500);
    if (!ok) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

enum rh_status store_manifests_read(const struct store_manifests_query *q, cJSON **rows, char *err,
                                    size_t errlen)
{
    enum rh_status st = RH_UNAVAILABLE;
    PGresult *r = NULL;
    char *first = NULL, *next = NULL, *cursor = NULL;
    char timeout[24];
    snprintf(timeout, sizeof(timeout), "%d", q->connect_timeout_s > 0 ? q->connect_timeout_s : 10);
    /* Parameters after the expanded URL override the URL's own. */
    const char *kw[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *val[] = {q->url, timeout, "railhook-reconcile", NULL};
    PGconn *c = PQconnectdbParams(kw, val, 1);

    *rows = NULL;
    if (!c || PQstatus(c) != CONNECTION_OK) {
        fail(c, NULL, "cannot connect", err, errlen);
        goto out;
    }
    char set[64];
    snprintf(set, sizeof(set), "SET statement_timeout = %d",
             q->statement_timeout_ms > 0 ? q->statement_timeout_ms : 10000);
    r = PQexec(c, set);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fail(c, r, "cannot set statement_timeout", err, errlen);
        goto out;
    }
    PQclear(r);
    r = NULL;
    first = page_sql(c, q, false);
    next = page_sql(c, q, true);
    if (!first || !next) {
        fail(c, NULL, "bad identifier", err, errlen);
        goto out;
    }
    *rows = cJSON_CreateArray();
    int total = 0;
    for (;;) {
        const char *p[] = {cursor};
        r = cursor ? PQexecParams(c, next, 1, NULL, p, NULL, NULL, 0)
                   : PQexecParams(c, first, 0, NULL, NULL, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fail(c, r, "cannot read the table", err, errlen);
            goto out;
        }
        int n = PQntuples(r);
        for (int i = 0; i < n; i++) {
            cJSON *row = cJSON_Parse(PQgetvalue(r, i, 0));
            if (!row) {
                snprintf(err, errlen, "manifests database: a row is not JSON");
                goto out;
            }
            cJSON_AddItemToArray(*rows, row);
        }
        total += n;
        if (q->max_rows > 0 && total > q->max_rows) {
            snprintf(err, errlen, "manifests database: more than %d rows", q->max_rows);
            goto out;
        }
        if (n < (q->page > 0 ? q->page : 500))
            break;
        free(cursor);
        cursor = xstrdup(PQgetvalue(r, n - 1, 1));
        PQclear(r);
        r = NULL;
    }
    st = RH_OK;
out:
    if (st != RH_OK) {
        cJSON_Delete(*rows);
        *rows = NULL;
    }
    PQclear(r);
    PQfinish(c);
    free(first);
    free(next);
    free(cursor);
    return st;
}
