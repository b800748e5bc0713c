/* The notification outbox and the manifest write-back (store/notifications.h). */
#include "store/notifications.h"

#include "store/store_int.h"
#include "util/util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum rh_status store_notify_settings_write(PGconn *c, char *const *urls, int n, bool all_events,
                                           bool write_back, const char *instance, char *err,
                                           size_t errlen)
{
    static const struct store_stmt st = {
        NULL,
        "INSERT INTO notify_settings (id, urls, events, write_back, instance, updated_at)"
        " VALUES (true, coalesce(string_to_array(nullif($1, ''), E'\\n'), '{}'), $2,"
        "  $3::boolean, $4, now())"
        " ON CONFLICT (id) DO UPDATE SET urls = EXCLUDED.urls, events = EXCLUDED.events,"
        "  write_back = EXCLUDED.write_back, instance = EXCLUDED.instance,"
        "  updated_at = EXCLUDED.updated_at",
        4,
    };
    struct buf b;
    buf_init(&b, 0);
    for (int i = 0; i < n; i++)
        buf_printf(&b, "%s%s", i ? "\n" : "", urls[i]);
    char *list = buf_steal(&b);
    const char *p[] = {list, all_events ? "all" : "final", write_back ? "true" : "false", instance};
    enum rh_status s = store_run(c, &st, p, NULL, err, errlen);
    free(list);
    return s;
}

enum rh_status store_notify_claim(PGconn *c, const char *owner, int lease_s, bool urls,
                                  bool manifest, struct store_notify_claim *out, bool *found,
                                  char *err, size_t errlen)
{
    static const struct store_stmt st = {
        "railhook_notify_claim",
        "WITH due AS ("
        " SELECT notification_id, sink FROM notification_deliveries"
        " WHERE state = 'pending' AND next_attempt_at <= now()"
        "  AND (CASE WHEN sink = 'manifest' THEN $4::boolean ELSE $3::boolean END)"
        " ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
        "UPDATE notification_deliveries d SET attempts = d.attempts + 1, lease_owner = $1,"
        " next_attempt_at = now() + make_interval(secs => $2::int)"
        " FROM due, notifications n"
        " WHERE d.notification_id = due.notification_id AND d.sink = due.sink"
        "  AND n.id = d.notification_id"
        " RETURNING d.notification_id, d.sink, d.attempts, n.payload::text, n.status::text,"
        "  extract(epoch FROM now() - n.created_at)::float8",
        4,
    };
    char lease[16];
    snprintf(lease, sizeof(lease), "%d", lease_s);
    const char *p[] = {owner, lease, urls ? "true" : "false", manifest ? "true" : "false"};
    PGresult *r = NULL;
    memset(out, 0, sizeof(*out));
    *found = false;
    enum rh_status s = store_run(c, &st, p, &r, err, errlen);
    if (s != RH_OK)
        return s;
    if (PQntuples(r) == 1) {
        out->id = xstrdup(PQgetvalue(r, 0, 0));
        out->sink = xstrdup(PQgetvalue(r, 0, 1));
        out->attempt = (int)strtol(PQgetvalue(r, 0, 2), NULL, 10);
        out->payload = xstrdup(PQgetvalue(r, 0, 3));
        out->status = xstrdup(PQgetvalue(r, 0, 4));
        out->age_s = strtod(PQgetvalue(r, 0, 5), NULL);
        *found = true;
    }
    PQclear(r);
    return RH_OK;
}

void store_notify_claim_free(struct store_notify_claim *cl)
{
    free(cl->id);
    free(cl->sink);
    free(cl->payload);
    free(cl->status);
    memset(cl, 0, sizeof(*cl));
}

enum rh_status store_notify_record(PGconn *c, const struct store_notify_outcome *o, char *err,
                                   size_t errlen)
{
    static const struct store_stmt st = {
        "railhook_notify_record",
        "WITH d AS ("
        " UPDATE notification_deliveries SET state = $5, lease_owner = NULL,"
        "  next_attempt_at = CASE WHEN $5 = 'pending'"
        "   THEN now() + make_interval(secs => $6::float8 / 1000) ELSE next_attempt_at END,"
        "  last_status = $8::int, last_error = $9,"
        "  finished_at = CASE WHEN $5 = 'pending' THEN NULL ELSE now() END"
        " WHERE notification_id = $1 AND sink = $2 AND lease_owner = $3 AND attempts = $4::int"
        " RETURNING notification_id, sink)"
        "INSERT INTO notification_attempts (notification_id, sink, duration_ms, http_status,"
        " error) SELECT notification_id, sink, $7::int, $8::int, $9 FROM d",
        9,
    };
    static const char *const states[] = {"delivered", "pending", "gave_up"};
    char attempt[16], retry[24], duration[24], status[16];
    snprintf(attempt, sizeof(attempt), "%d", o->claim->attempt);
    snprintf(retry, sizeof(retry), "%ld", o->retry_in_ms);
    snprintf(duration, sizeof(duration), "%ld", o->duration_ms);
    snprintf(status, sizeof(status), "%d", o->http_status);
    const char *p[] = {o->claim->id,      o->claim->sink, o->owner, attempt,
                       states[o->result], retry,          duration, o->http_status ? status : NULL,
                       o->error};
    return store_run(c, &st, p, NULL, err, errlen);
}

enum rh_status store_notify_prune(PGconn *c, int days, int limit, long *deleted, char *err,
                                  size_t errlen)
{
    static const struct store_stmt st = {
        NULL,
        "WITH old AS ("
        " SELECT id FROM notifications n"
        " WHERE created_at < now() - make_interval(days => $1::int)"
        "  AND NOT EXISTS (SELECT 1 FROM notification_deliveries d"
        "   WHERE d.notification_id = n.id AND d.state = 'pending')"
        " ORDER BY created_at LIMIT $2::int FOR UPDATE SKIP LOCKED)"
        "DELETE FROM notifications n USING old WHERE n.id = old.id",
        2,
    };
    char d[16], lim[16];
    snprintf(d, sizeof(d), "%d", days);
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *p[] = {d, lim};
    PGresult *r = NULL;
    *deleted = 0;
    enum rh_status s = store_run(c, &st, p, &r, err, errlen);
    if (s != RH_OK)
        return s;
    *deleted = strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return RH_OK;
}

enum rh_status store_notify_pending(PGconn *c, long *pending, char *err, size_t errlen)
{
    static const struct store_stmt st = {
        NULL, "SELECT count(*) FROM notification_deliveries WHERE state = 'pending'", 0};
    PGresult *r = NULL;
    *pending = 0;
    enum rh_status s = store_run(c, &st, NULL, &r, err, errlen);
    if (s != RH_OK)
        return s;
    *pending = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return RH_OK;
}

enum rh_status store_view_notifications(PGconn *c, const char *job, int limit, char **json,
                                        char *err, size_t errlen)
{
    static const struct store_stmt st = {
        NULL,
        "SELECT json_build_object('notifications', coalesce(json_agg(json_build_object("
        " 'id', n.id, 'type', n.type, 'job_id', n.job_id, 'created_at', n.created_at,"
        " 'payload', n.payload,"
        " 'deliveries', (SELECT coalesce(json_agg(json_build_object('sink',"
        "   regexp_replace(d.sink, '^([A-Za-z]+://)([^/?#@]*@)?([^/?#]*).*$', '\\1\\3'),"
        "   'state', d.state, 'attempts', d.attempts, 'next_attempt_at', CASE WHEN"
        "   d.state = 'pending' THEN d.next_attempt_at END, 'last_status', d.last_status,"
        "   'last_error', d.last_error, 'finished_at', d.finished_at,"
        "   'history', (SELECT coalesce(json_agg(json_build_object('at', a.at,"
        "     'duration_ms', a.duration_ms, 'http_status', a.http_status, 'error', a.error)"
        "     ORDER BY a.id), '[]') FROM notification_attempts a"
        "     WHERE a.notification_id = d.notification_id AND a.sink = d.sink))"
        "   ORDER BY d.sink), '[]') FROM notification_deliveries d"
        "   WHERE d.notification_id = n.id))"
        " ORDER BY n.created_at DESC, n.id), '[]'))::text"
        " FROM (SELECT * FROM notifications WHERE $1::uuid IS NULL OR job_id = $1::uuid"
        "  ORDER BY created_at DESC, id LIMIT $2::int) n",
        2,
    };
    char lim[16];
    snprintf(lim, sizeof(lim), "%d", limit);
    const char *p[] = {job, lim};
    PGresult *r = NULL;
    enum rh_status s = store_run(c, &st, p, &r, err, errlen);
    if (s != RH_OK)
        return s;
    *json = xstrdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return RH_OK;
}

PGconn *store_manifest_open(const char *url, char *err, size_t errlen)
{
    return store_session_open(url, false, STORE_SESSION_DEFAULT, err, errlen);
}

enum rh_status store_manifest_status_write(PGconn *c, const struct config *cfg, const char *status,
                                           int *rows, char *err, size_t errlen)
{
    enum rh_status st = RH_INVALID;
    const char *p[CONFIG_STATUS_COLUMNS_MAX + 2];
    char *ids[CONFIG_STATUS_COLUMNS_MAX + 2] = {NULL};
    int nids = 0, guard = 0;
    struct buf sql;
    PGresult *r = NULL;
    cJSON *doc = cJSON_Parse(status);
    const cJSON *mid = cJSON_GetObjectItemCaseSensitive(doc, "manifest_id");
    buf_init(&sql, 0);
    *rows = 0;
    if (!cJSON_IsString(mid)) {
        snprintf(err, errlen, "the notification names no manifest");
        goto out;
    }
    /* Identifiers quoted by libpq; values as untyped parameters, so the columns' own types
     * (uuid or bigint id, timestamptz, text) apply. */
    ids[nids++] = PQescapeIdentifier(c, cfg->supabase_schema, strlen(cfg->supabase_schema));
    ids[nids++] = PQescapeIdentifier(c, cfg->supabase_table, strlen(cfg->supabase_table));
    if (!ids[0] || !ids[1])
        goto escape_failed;
    buf_printf(&sql, "UPDATE %s.%s SET ", ids[0], ids[1]);
    p[0] = mid->valuestring;
    for (int i = 0; i < cfg->nstatus_columns; i++) {
        const struct config_status_column *col = &cfg->status_columns[i];
        char *q = PQescapeIdentifier(c, col->column, strlen(col->column));
        if (!q)
            goto escape_failed;
        ids[nids++] = q;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, col->field);
        p[i + 1] = cJSON_IsString(v) ? v->valuestring : NULL;
        buf_printf(&sql, "%s%s = $%d", i ? ", " : "", q, i + 2);
        if (strcmp(col->field, "updated_at") == 0)
            guard = i;
    }
    buf_printf(&sql, " WHERE id = $1 AND (%s IS NULL OR %s < $%d)", ids[guard + 2], ids[guard + 2],
               guard + 2);
    struct store_stmt one = {NULL, sql.data, cfg->nstatus_columns + 1};
    st = store_run(c, &one, p, &r, err, errlen);
    if (st == RH_OK)
        *rows = (int)strtol(PQcmdTuples(r), NULL, 10);
    goto out;
escape_failed:
    snprintf(err, errlen, "cannot quote the manifest table's identifiers");
out:
    PQclear(r);
    for (int i = 0; i < nids; i++)
        PQfreemem(ids[i]);
    buf_free(&sql);
    cJSON_Delete(doc);
    return st;
}

enum rh_status store_manifest_columns_check(PGconn *c, const struct config *cfg, bool *table_found,
                                            struct store_manifest_column *out, char *err,
                                            size_t errlen)
{
    static const struct store_stmt st = {
        NULL,
        "WITH t AS (SELECT to_regclass(quote_ident($1) || '.' || quote_ident($2)) AS oid)"
        "SELECT c.col, t.oid IS NOT NULL, a.attname IS NOT NULL,"
        " coalesce(a.attname IS NOT NULL AND has_column_privilege(t.oid, a.attname, 'UPDATE'),"
        "  false),"
        " coalesce(a.attname IS NOT NULL AND has_column_privilege(t.oid, a.attname, 'SELECT'),"
        "  false)"
        " FROM unnest(string_to_array($3, E'\\n')) WITH ORDINALITY c(col, i) CROSS JOIN t"
        " LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attname = c.col"
        "  AND a.attnum > 0 AND NOT a.attisdropped"
        " ORDER BY c.i",
        3,
    };
    struct buf cols;
    buf_init(&cols, 0);
    buf_puts(&cols, "id");
    for (int i = 0; i < cfg->nstatus_columns; i++)
        buf_printf(&cols, "\n%s", cfg->status_columns[i].column);
    const char *p[] = {cfg->supabase_schema, cfg->supabase_table, cols.data};
    PGresult *r = NULL;
    enum rh_status s = store_run(c, &st, p, &r, err, errlen);
    buf_free(&cols);
    if (s != RH_OK)
        return s;
    *table_found = false;
    for (int i = 0; i < PQntuples(r) && i <= cfg->nstatus_columns; i++) {
        snprintf(out[i].name, sizeof(out[i].name), "%s", PQgetvalue(r, i, 0));
        *table_found = strcmp(PQgetvalue(r, i, 1), "t") == 0;
        out[i].exists = strcmp(PQgetvalue(r, i, 2), "t") == 0;
        out[i].may_update = strcmp(PQgetvalue(r, i, 3), "t") == 0;
        out[i].may_select = strcmp(PQgetvalue(r, i, 4), "t") == 0;
    }
    PQclear(r);
    return RH_OK;
}
