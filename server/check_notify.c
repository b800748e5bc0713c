/* `railhook check`: the notification items (NOTIFY_URLS and their signing secret) and the
 * write-back items (the manifest table's status columns exist and railhook's role may update
 * them). Single-threaded, like the check. */
#include "server/check_int.h"
#include "store/notifications.h"
#include "util/util.h"

#include <libpq-fe.h>
#include <string.h>

static void check_urls(struct check *ck)
{
    const struct config *cfg = &ck->cfg;
    const char *cur = cfg->notify_urls;
    const char *u;
    size_t len;
    int n = 0;
    while (secret_list_next(&cur, &u, &len))
        n++;
    /* config_load() refused malformed URLs and a malformed secret before any item ran. */
    if (n == 0)
        check_item_add(ck, "notifications", ITEM_OK, NULL,
                       "off: NOTIFY_URLS is empty (GET /notifications lists write-backs only)");
    else
        check_item_add(ck, "notifications", ITEM_OK, NULL,
                       "%d URL%s (https://, or http:// to loopback), signed with a well-formed "
                       "whsec_ NOTIFY_SIGNING_SECRET; NOTIFY_EVENTS=%s",
                       n, n == 1 ? "" : "s", cfg->notify_events);
}

static void check_write_back(struct check *ck)
{
    const struct config *cfg = &ck->cfg;
    struct store_manifest_column cols[CONFIG_STATUS_COLUMNS_MAX + 1];
    char err[512] = "";
    bool found = false;
    PGconn *c = NULL;
    struct buf missing, denied;
    buf_init(&missing, 0);
    buf_init(&denied, 0);
    if (cfg->nstatus_columns == 0) {
        check_item_add(ck, "write_back", ITEM_OK, NULL, "off: MANIFEST_STATUS_COLUMNS is empty");
        goto out;
    }
    c = store_manifest_open(cfg->manifests_database_url, err, sizeof(err));
    if (!c) {
        check_item_add(ck, "write_back", ITEM_FAIL,
                       "check MANIFESTS_DATABASE_URL (host, port, user, password, sslmode)",
                       "cannot connect to MANIFESTS_DATABASE_URL: %s", err);
        goto out;
    }
    if (store_manifest_columns_check(c, cfg, &found, cols, err, sizeof(err)) != RH_OK) {
        check_item_add(ck, "write_back", ITEM_FAIL, "check the role's rights on the catalogs",
                       "cannot read the manifest table's columns: %s", err);
        goto out;
    }
    if (!found) {
        check_item_add(ck, "write_back", ITEM_FAIL,
                       "set SUPABASE_SCHEMA and SUPABASE_TABLE to the manifests table, or grant "
                       "the role USAGE on its schema",
                       "no table %s.%s on MANIFESTS_DATABASE_URL", cfg->supabase_schema,
                       cfg->supabase_table);
        goto out;
    }
    /* The UPDATE reads id and the updated_at column (its guard) and writes every mapped one. */
    for (int i = 0; i <= cfg->nstatus_columns; i++) {
        bool guard = i > 0 && strcmp(cfg->status_columns[i - 1].field, "updated_at") == 0;
        if (!cols[i].exists)
            buf_printf(&missing, "%s%s", missing.len ? ", " : "", cols[i].name);
        else if ((i > 0 && !cols[i].may_update) || ((i == 0 || guard) && !cols[i].may_select))
            buf_printf(&denied, "%s%s (%s)", denied.len ? ", " : "", cols[i].name,
                       i > 0 && !cols[i].may_update ? "UPDATE" : "SELECT");
    }
    if (missing.len)
        check_item_add(ck, "write_back", ITEM_FAIL,
                       "add the columns (docs/operations.md gives the SQL) or fix "
                       "MANIFEST_STATUS_COLUMNS",
                       "%s.%s has no column %s", cfg->supabase_schema, cfg->supabase_table,
                       missing.data);
    else if (denied.len)
        check_item_add(ck, "write_back", ITEM_FAIL,
                       "GRANT the role UPDATE on the status columns and SELECT on id and the "
                       "updated_at column (docs/operations.md)",
                       "the role may not use %s on %s.%s", denied.data, cfg->supabase_schema,
                       cfg->supabase_table);
    else
        check_item_add(ck, "write_back", ITEM_OK, NULL,
                       "%d status column%s of %s.%s exist and the role may update them",
                       cfg->nstatus_columns, cfg->nstatus_columns == 1 ? "" : "s",
                       cfg->supabase_schema, cfg->supabase_table);
out:
    if (c)
        PQfinish(c);
    buf_free(&missing);
    buf_free(&denied);
}

void check_notify(struct check *ck)
{
    check_urls(ck);
    check_write_back(ck);
}
