/* Migrations: applied once, twice is a no-op, concurrent runs are safe. */
#include "support/harness.h"
#include "store/store.h"

#include <criterion/criterion.h>
#include <glob.h>
#include <stdlib.h>
#include <sys/wait.h>

/* How many migrations the build embeds: the files, whose numbers may have gaps while the
 * branches that fill them are merged. */
static long migrations_count(void)
{
    glob_t g;
    cr_assert_eq(glob(RAILHOOK_SOURCE_DIR "/store/migrations/*.sql", 0, NULL, &g), 0);
    long n = (long)g.gl_pathc;
    globfree(&g);
    return n;
}

Test(migrate, twice_is_a_no_op)
{
    char *db = th_db_create_from("template1");
    char err[256] = "";
    int applied = -1;
    cr_assert_eq(store_migrate(db, &applied, err, sizeof(err)), RH_OK, "%s", err);
    cr_assert_eq(applied, migrations_count());
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM schema_migrations"), migrations_count());
    cr_assert_eq(store_migrate(db, &applied, err, sizeof(err)), RH_OK, "%s", err);
    cr_assert_eq(applied, 0);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM schema_migrations"), migrations_count());
    th_db_drop(db);
}

Test(migrate, pending_counts_what_is_missing)
{
    char *db = th_db_create_from("template1");
    char err[256] = "";
    struct store *s = store_open(db, 1, 1000, false);
    PGconn *c = store_conn_open(s, STORE_SESSION_DEFAULT, err, sizeof(err));
    cr_assert_not_null(c, "%s", err);
    cr_assert_eq(store_migrations_pending(c, err, sizeof(err)), migrations_count());
    cr_assert_eq(store_migrations_applied(c, err, sizeof(err)), 0);
    int applied = 0;
    cr_assert_eq(store_migrate(db, &applied, err, sizeof(err)), RH_OK, "%s", err);
    cr_assert_eq(store_migrations_pending(c, err, sizeof(err)), 0);
    cr_assert_eq(store_migrations_applied(c, err, sizeof(err)), store_migrations_latest());
    PQfinish(c);
    store_close(s);
    th_db_drop(db);
}

Test(migrate, two_processes_at_once_both_succeed, .timeout = 60)
{
    char *db = th_db_create_from("template1");
    char env_db[512];
    snprintf(env_db, sizeof(env_db), "DATABASE_URL=%s", db);
    const char *env[] = {env_db, "LOG_LEVEL=error", NULL};
    const char *argv[] = {RAILHOOK_BIN_PATH, "migrate", NULL};
    pid_t a = th_spawn(argv, env, NULL);
    pid_t b = th_spawn(argv, env, NULL);
    int sa = 0, sb = 0;
    waitpid(a, &sa, 0);
    waitpid(b, &sb, 0);
    cr_assert(WIFEXITED(sa) && WEXITSTATUS(sa) == 0);
    cr_assert(WIFEXITED(sb) && WEXITSTATUS(sb) == 0);
    cr_assert_eq(th_sql_long(db, "SELECT count(*) FROM schema_migrations"), migrations_count());
    th_db_drop(db);
}

Test(migrate, unreachable_database_fails_without_leaking_the_password)
{
    char err[256] = "";
    int applied = 0;
    char *url = xasprintf("postgresql://railhook:hunter2-pw@127.0.0.1:%d/x?connect_timeout=2",
                          th_free_port());
    setenv("DATABASE_URL", url, 1);
    struct config cfg;
    cr_assert(config_load(&cfg, CONFIG_NEED_DATABASE, err, sizeof(err)));
    cr_assert_eq(store_migrate(url, &applied, err, sizeof(err)), RH_UNAVAILABLE);
    cr_assert_null(strstr(err, "hunter2-pw"), "%s", err);
    config_free(&cfg);
    free(url);
}
