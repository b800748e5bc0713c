/* railhook's command line: serve, migrate, check, reconcile, version, --help.
 *
 * Threading: `serve` runs on the main thread (server/serve.c), which starts the others. */
#include "server/check.h"
#include "server/reconcile_cmd.h"
#include "server/serve.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "railhook %s: signed webhooks in, Railway services out.\n\n"
            "Usage: railhook <command>\n\n"
            "Commands:\n"
            "  serve     run the HTTP server and the worker pool\n"
            "  migrate   apply pending database migrations and exit\n"
            "  check     preflight: configuration, database, Railway token, project,\n"
            "            environment, repo, branch, schema drift (--json for scripts)\n"
            "  reconcile compare the manifests with Railway and print the plan (exit 0: nothing\n"
            "            differs, 2: changes, 1: error); --apply enqueues the jobs, --deep\n"
            "            also compares variables, --json for scripts\n"
            "  version   print the version\n"
            "  --help    this text\n\n"
            "Configuration comes from the environment only.\n\n",
            RAILHOOK_VERSION);
    config_print_help(out);
}

static int cmd_migrate(void)
{
    struct config cfg;
    if (!serve_setup(&cfg, CONFIG_NEED_DATABASE))
        return 2;
    char err[512] = "";
    int applied = 0;
    enum rh_status st = store_migrate(cfg.database_url, &applied, err, sizeof(err));
    if (st != RH_OK)
        log_error("migration failed", LOG_STR("error", err));
    else
        log_info("migrations applied", LOG_INT("applied", applied),
                 LOG_INT("latest", store_migrations_latest()));
    config_free(&cfg);
    return st == RH_OK ? 0 : 1;
}

static int cmd_check(int argc, char **argv)
{
    bool json = false;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") != 0) {
            fprintf(stderr, "railhook check: unknown option '%s' (only --json)\n", argv[i]);
            return 2;
        }
        json = true;
    }
    /* Only the report goes to stdout; errors alone reach the log. */
    log_setup(LOG_ERROR, false, 2);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = check_run(stdout, json);
    curl_global_cleanup();
    return rc;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "--help";
    if (strcmp(cmd, "serve") == 0)
        return serve_run(NULL, 0);
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate();
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc, argv);
    if (strcmp(cmd, "reconcile") == 0)
        return reconcile_cmd(argc, argv);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("railhook %s\n", RAILHOOK_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "railhook: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
