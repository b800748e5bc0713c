/* railhook's command line: serve, migrate, check, version, --help.
 *
 * Threading: main parses the configuration and blocks SIGINT/SIGTERM before any thread
 * starts, so every thread inherits the mask; main then waits for a signal with sigwait() and
 * runs the orderly shutdown itself. */
#include "handlers/api.h"
#include "handlers/handlers.h"
#include "handlers/intake.h"
#include "handlers/longpoll.h"
#include "handlers/webhook.h"
#include "server/check.h"
#include "server/http_server.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "worker/flows.h"
#include "util/util.h"
#include "worker/noop.h"
#include "worker/pool.h"

#include <curl/curl.h>
#include <signal.h>
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
            "  version   print the version\n"
            "  --help    this text\n\n"
            "Configuration comes from the environment only.\n\n",
            RAILHOOK_VERSION);
    config_print_help(out);
}

static bool setup(struct config *cfg, enum config_need need)
{
    char err[256];
    if (!config_load(cfg, need, err, sizeof(err))) {
        fprintf(stderr, "railhook: configuration error: %s\n", err);
        return false;
    }
    enum log_level level = LOG_INFO;
    log_level_parse(cfg->log_level, &level);
    log_setup(level, strcmp(cfg->log_format, "json") == 0, 2);
    return true;
}

static int cmd_migrate(void)
{
    struct config cfg;
    if (!setup(&cfg, CONFIG_NEED_DATABASE))
        return 2;
    char err[512] = "";
    int applied = 0;
    enum rh_status st = store_migrate(cfg.database_url, &applied, err, sizeof(err));
    if (st != RH_OK)
        log_error("migration failed", "error=\"%s\"", err);
    else
        log_info("migrations applied", "applied=%d latest=%d", applied, store_migrations_latest());
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

static int cmd_serve(void)
{
    struct config cfg;
    if (!setup(&cfg, CONFIG_NEED_DATABASE))
        return 2;
    int rc = 1;
    struct http_server *srv = NULL;
    struct app app = {.cfg = &cfg};
    struct flows *flows = NULL;

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    char auth_err[256];
    if (!api_auth_configured(&cfg, auth_err, sizeof(auth_err))) {
        log_error("refusing to start", "error=\"%s\"", auth_err);
        goto out;
    }
    /* QUEUE_LISTEN=off says a transaction pooler sits in front: no session state. */
    app.store =
        store_open(cfg.database_url, cfg.db_pool_size, cfg.db_pool_wait_ms, cfg.queue_listen);
    app.longpoll = longpoll_start(app.store);
    char err[256] = "";
    webhook_config_warn(&cfg);
    app.intake = intake_start(&cfg, app.store, err, sizeof(err));
    if (!app.intake) {
        log_error("cannot start the webhook intake", "error=\"%s\"", err);
        goto out;
    }
    if (cfg.workers > 0) {
        /* Created before the HTTP threads can read app, started once the server is up. */
        flows = flows_new(&cfg, err, sizeof(err));
        if (!flows) {
            log_error("cannot load the worker variable templates", "error=\"%s\"", err);
            goto out;
        }
        if (!railway_client_has_token(&cfg))
            log_warn("RAILWAY_TOKEN and RAILWAY_PROJECT_TOKEN are empty: Railway jobs will fail",
                     "%s", "");
        app.workers = worker_pool_create(&cfg);
        flows_register(flows, app.workers);
        const char *test_handlers = getenv("RAILHOOK_TEST_HANDLERS");
        if (test_handlers && strcmp(test_handlers, "on") == 0)
            worker_noop_register(app.workers);
    }
    srv = http_server_start(&app, err, sizeof(err));
    if (!srv) {
        log_error("cannot start HTTP server", "error=\"%s\"", err);
        goto out;
    }
    log_info("railhook listening", "address=%s port=%d instance=%s version=%s", cfg.bind_address,
             http_server_port(srv), cfg.instance_id, RAILHOOK_VERSION);
    if (app.workers && worker_pool_start(app.workers, err, sizeof(err)) != RH_OK) {
        log_error("cannot start the worker pool", "error=\"%s\"", err);
        goto out;
    }

    int sig = 0;
    sigwait(&sigs, &sig);
    log_info("shutting down", "signal=%s grace_s=%d", sig == SIGTERM ? "SIGTERM" : "SIGINT",
             cfg.shutdown_grace_s);
    longpoll_release_all(app.longpoll);
    int64_t stop_by = time_mono_ms() + (int64_t)cfg.shutdown_grace_s * 1000;
    http_server_stop(srv, cfg.shutdown_grace_s * 1000);
    srv = NULL;
    int64_t grace_left = stop_by - time_mono_ms();
    worker_pool_stop(app.workers, grace_left > 0 ? (int)grace_left : 0);
    app.workers = NULL;
    rc = 0;
    log_info("stopped", "%s", "");
out:
    longpoll_release_all(app.longpoll);
    http_server_stop(srv, 0);
    worker_pool_stop(app.workers, 0);
    flows_free(flows);
    intake_stop(app.intake);
    longpoll_stop(app.longpoll);
    store_close(app.store);
    curl_global_cleanup();
    config_free(&cfg);
    return rc;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "--help";
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve();
    if (strcmp(cmd, "migrate") == 0)
        return cmd_migrate();
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc, argv);
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
