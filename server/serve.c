/* `railhook serve` (server/serve.h).
 *
 * Threading: serve_run() parses the configuration and blocks SIGINT/SIGTERM before any thread
 * starts, so every thread inherits the mask; it then waits for a signal with sigwait() and
 * runs the orderly shutdown itself. */
#include "server/serve.h"

#include "flows/flows.h"
#include "flows/reconcile.h"
#include "handlers/api.h"
#include "handlers/events.h"
#include "handlers/handlers.h"
#include "handlers/intake.h"
#include "handlers/longpoll.h"
#include "handlers/mapping_reconcile.h"
#include "handlers/webhook.h"
#include "notify/notify.h"
#include "queue/queue.h"
#include "railway/railway.h"
#include "server/http_server.h"
#include "store/store.h"
#include "util/log.h"
#include "util/util.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

bool serve_setup(struct config *cfg, enum config_need need)
{
    char err[256];
    if (!config_load(cfg, need, err, sizeof(err))) {
        fprintf(stderr, "railhook: configuration error: %s\n", err);
        return false;
    }
    enum log_level level = LOG_INFO;
    log_level_parse(cfg->log_level, &level);
    log_setup(level, strcmp(cfg->log_format, "json") == 0, 2);
    store_limits_set(&(struct store_limits){
        .connect_timeout_s = cfg->db_connect_timeout_s,
        .http_statement_ms = cfg->db_statement_timeout_ms,
        .worker_statement_ms = cfg->db_worker_statement_timeout_ms,
    });
    return true;
}

void serve_token_detect(struct config *cfg)
{
    struct railway_limiter *lim = railway_limiter_new(1, 10);
    struct railway_client *c = railway_client_new(cfg, lim);
    const char *var = NULL;
    railway_token_pick(cfg, &var);
    bool swapped = false;
    char msg[600];
    enum rh_status st = railway_token_detect(c, cfg, &swapped, msg, sizeof(msg));
    cfg->railway_token_swapped = swapped;
    if (st == RH_OK && swapped)
        log_warn("Railway token of the other kind", LOG_STR("variable", var),
                 LOG_STR("header", railway_client_bearer(c) ? "Authorization: Bearer"
                                                            : "Project-Access-Token"),
                 LOG_STR("detail", msg));
    else if (st == RH_OK)
        log_info("Railway token", LOG_STR("variable", var),
                 LOG_STR("header", railway_client_bearer(c) ? "Authorization: Bearer"
                                                            : "Project-Access-Token"));
    else
        log_warn("Railway token not confirmed", LOG_STR("variable", var), LOG_STR("detail", msg));
    railway_client_free(c);
    railway_limiter_free(lim);
}

int serve_run(const struct job_handler *extra, size_t nextra)
{
    struct config cfg;
    if (!serve_setup(&cfg, CONFIG_NEED_DATABASE))
        return 2;
    int rc = 1;
    struct http_server *srv = NULL;
    struct app app = {.cfg = &cfg};
    struct flows *flows = NULL;
    struct notify *notify = NULL;
    struct mapping_reconciler reconciler;
    bool reconciler_ready = false;
    struct reconcile_periodic *periodic = NULL;

    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    if (cfg.railway_service_id[0])
        log_info("running on Railway", LOG_STR("project", cfg.railway_project_id),
                 LOG_STR("environment", cfg.railway_environment_id),
                 LOG_STR("service", cfg.railway_service_id));
    char auth_err[256];
    if (!api_auth_configured(&cfg, auth_err, sizeof(auth_err))) {
        log_error("refusing to start", LOG_STR("error", auth_err));
        goto out;
    }
    /* QUEUE_LISTEN=off says a transaction pooler sits in front: no session state. */
    app.store =
        store_open(cfg.database_url, cfg.db_pool_size, cfg.db_pool_wait_ms, cfg.queue_listen);
    app.longpoll = longpoll_start(app.store);
    app.events = events_start(app.store, cfg.events_max_streams);
    longpoll_events_set(app.longpoll, app.events);
    char err[256] = "";
    webhook_config_warn(&cfg);
    app.intake = intake_start(&cfg, app.store, err, sizeof(err));
    if (!app.intake) {
        log_error("cannot start the webhook intake", LOG_STR("error", err));
        goto out;
    }
    if (cfg.workers > 0) {
        /* Created before the HTTP threads can read app, started once the server is up. */
        flows = flows_new(&cfg, err, sizeof(err));
        if (!flows) {
            log_error("cannot load the worker variable templates", LOG_STR("error", err));
            goto out;
        }
        if (!railway_client_has_token(&cfg))
            log_warn("RAILWAY_API_TOKEN, RAILWAY_TOKEN and RAILWAY_PROJECT_TOKEN are empty: "
                     "Railway jobs will fail");
        else
            serve_token_detect(&cfg);
        app.limiter = flows_limiter(flows);
        app.queue = queue_create(&cfg, app.store);
        flows_register(flows, app.queue);
        for (size_t i = 0; i < nextra; i++)
            queue_register(app.queue, &extra[i]);
    }
    srv = http_server_start(&app, err, sizeof(err));
    if (!srv) {
        log_error("cannot start HTTP server", LOG_STR("error", err));
        goto out;
    }
    log_info("railhook listening", LOG_STR("address", cfg.bind_address),
             LOG_INT("port", http_server_port(srv)), LOG_STR("instance", cfg.instance_id),
             LOG_STR("version", RAILHOOK_VERSION));
    if (app.queue && queue_start(app.queue, err, sizeof(err)) != RH_OK) {
        log_error("cannot start the job queue", LOG_STR("error", err));
        goto out;
    }
    notify = notify_start(&cfg, app.store);
    /* The periodic reconciliation needs the flows' templates and limiter: instances with
     * workers run it, one at a time across them all. */
    if (flows && cfg.reconcile_interval_s > 0) {
        if (mapping_reconciler_init(&reconciler, &cfg, err, sizeof(err)) != RH_OK) {
            log_error("cannot start reconciliation", LOG_STR("error", err));
            goto out;
        }
        reconciler_ready = true;
        periodic = reconcile_periodic_start(flows, app.store, &reconciler.mapper);
    }

    int sig = 0;
    sigwait(&sigs, &sig);
    log_info("shutting down", LOG_STR("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"),
             LOG_INT("grace_s", cfg.shutdown_grace_s));
    longpoll_release_all(app.longpoll);
    reconcile_periodic_stop(periodic);
    periodic = NULL;
    events_close_all(app.events);
    int64_t stop_by = time_mono_ms() + (int64_t)cfg.shutdown_grace_s * 1000;
    http_server_stop(srv, cfg.shutdown_grace_s * 1000);
    srv = NULL;
    int64_t grace_left = stop_by - time_mono_ms();
    queue_stop(app.queue, grace_left > 0 ? (int)grace_left : 0);
    app.queue = NULL;
    notify_stop(notify);
    notify = NULL;
    rc = 0;
    log_info("stopped");
out:
    reconcile_periodic_stop(periodic);
    if (reconciler_ready)
        mapping_reconciler_free(&reconciler);
    longpoll_release_all(app.longpoll);
    events_close_all(app.events);
    http_server_stop(srv, 0);
    queue_stop(app.queue, 0);
    notify_stop(notify);
    flows_free(flows);
    intake_stop(app.intake);
    longpoll_events_set(app.longpoll, NULL);
    longpoll_stop(app.longpoll);
    events_stop(app.events);
    store_close(app.store);
    curl_global_cleanup();
    config_free(&cfg);
    return rc;
}
