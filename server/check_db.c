/* `railhook check`: the database items (connection, migrations, connection pool room).
 * Single-threaded, like the check. */
#include "server/check_int.h"
#include "store/store.h"

#include <libpq-fe.h>
#include <stdlib.h>

#define DB_CONNECT_TIMEOUT_S "10"

/* ---- database ---- */

static void check_pool(struct check *ck, const struct store_server *srv)
{
    const struct config *cfg = &ck->cfg;
    int64_t max = srv->max_connections, reserved = srv->reserved_connections, used = srv->clients;
    /* The request pool, the long-poll listener, the event reader (while GET /events streams
     * are open), per worker pool: each worker, the dispatcher and the heartbeat; and the
     * notification senders when they run. */
    int senders =
        check_is_set(cfg->notify_urls) || cfg->nstatus_columns > 0 ? cfg->notify_senders : 0;
    int needed = cfg->db_pool_size + 2 + (cfg->workers > 0 ? cfg->workers + 2 : 0) + senders;
    int64_t room = max - reserved;
    const char *hint = "lower DB_POOL_SIZE or WORKERS, or raise PostgreSQL's max_connections "
                       "(a pooler in session mode also works)";
    if (max > 0 && needed > room)
        check_item_add(
            ck, "db_pool", ITEM_FAIL, hint,
            "railhook needs up to %d connections (DB_POOL_SIZE=%d, WORKERS=%d, 4 dedicated, %d "
            "notification senders) but the server allows %lld for clients (max_connections=%lld)",
            needed, cfg->db_pool_size, cfg->workers, senders, (long long)room, (long long)max);
    else if (max > 0 && needed > room - used)
        check_item_add(ck, "db_pool", ITEM_WARN, hint,
                       "railhook needs up to %d connections but only %lld of %lld are free now",
                       needed, (long long)(room - used), (long long)room);
    else if (cfg->db_pool_size < cfg->http_threads)
        check_item_add(
            ck, "db_pool", ITEM_WARN, "raise DB_POOL_SIZE to at least HTTP_THREADS",
            "DB_POOL_SIZE=%d is below HTTP_THREADS=%d: requests will wait for connections",
            cfg->db_pool_size, cfg->http_threads);
    else
        check_item_add(
            ck, "db_pool", ITEM_OK, NULL,
            "up to %d connections (DB_POOL_SIZE=%d, WORKERS=%d, 4 dedicated, %d notification "
            "senders); the server allows %lld, %lld in use",
            needed, cfg->db_pool_size, cfg->workers, senders, (long long)room, (long long)used);
}

static void check_migrations(struct check *ck, PGconn *c)
{
    char err[512] = "";
    int latest = store_migrations_latest();
    int pending = store_migrations_pending(c, err, sizeof(err));
    char ignored[256];
    int64_t applied = store_migrations_applied(c, ignored, sizeof(ignored));
    if (applied < 0)
        applied = 0;
    if (pending < 0)
        check_item_add(ck, "migrations", ITEM_FAIL,
                       "check that DATABASE_URL's user may read schema_migrations", "%s", err);
    else if (pending > 0)
        check_item_add(
            ck, "migrations", ITEM_FAIL, "run `railhook migrate` (safe while other instances run)",
            "%d migration%s pending: the database is at version %lld, this railhook needs "
            "version %d",
            pending, pending == 1 ? "" : "s", (long long)applied, latest);
    else if (applied > latest)
        check_item_add(ck, "migrations", ITEM_WARN, "upgrade this railhook to the newest release",
                       "the database is at version %lld, newer than this railhook (%d)",
                       (long long)applied, latest);
    else
        check_item_add(ck, "migrations", ITEM_OK, NULL, "schema current (version %d)", latest);
}

void check_database(struct check *ck)
{
    struct store *s = NULL;
    PGconn *c = NULL;
    char err[512] = "";
    if (!check_is_set(ck->cfg.database_url)) {
        check_item_add(ck, "database", ITEM_WARN, NULL, "not checked: DATABASE_URL is not set");
        goto out;
    }
    /* libpq waits for an unreachable host as long as the network does; bound it. */
    if (!getenv("PGCONNECT_TIMEOUT"))
        setenv("PGCONNECT_TIMEOUT", DB_CONNECT_TIMEOUT_S, 0);
    /* A one-off check: no session state worth preparing statements for. */
    s = store_open(ck->cfg.database_url, 1, ck->cfg.db_pool_wait_ms, false);
    c = store_conn_open(s, STORE_SESSION_DEFAULT, err, sizeof(err));
    if (!c) {
        check_item_add(ck, "database", ITEM_FAIL,
                       "check DATABASE_URL (host, port, database, user, password) and that "
                       "PostgreSQL accepts connections from this host",
                       "cannot connect: %s", err);
        goto out;
    }
    /* What the server could not tell stays empty or 0, and the pool check then skips it. */
    struct store_server srv;
    store_server_describe(c, &srv, err, sizeof(err));
    check_item_add(ck, "database", ITEM_OK, NULL,
                   "connected to PostgreSQL %s at %s:%s, database %s",
                   *srv.version ? srv.version : "?", PQhost(c), PQport(c), PQdb(c));
    check_migrations(ck, c);
    check_pool(ck, &srv);
out:
    PQfinish(c);
    store_close(s);
}
