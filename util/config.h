/* railhook's configuration: one table of environment variables (name, type, default,
 * bounds, required, secret), parsed once in main before any thread starts, then read-only. */
#ifndef RAILHOOK_CONFIG_H
#define RAILHOOK_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#define CONFIG_STATUS_COLUMNS_MAX 16

/* One entry of MANIFEST_STATUS_COLUMNS: a manifest column and the job field written to it
 * (service_id, state, deployment_status, error, updated_at, job_id or kind). */
struct config_status_column {
    char column[64];
    char field[24];
};

struct config {
    /* HTTP server */
    char *bind_address;
    int port;
    int http_threads;
    int http_connection_limit;
    int http_connection_timeout_s;
    int http_per_client_limit;
    int http_request_deadline_s;
    int max_body_bytes;
    int http_body_budget_bytes;
    int shutdown_grace_s;
    /* logging */
    char *log_format;
    char *log_level;
    /* database */
    char *database_url;
    int db_pool_size;
    int db_pool_wait_ms;
    int db_connect_timeout_s;
    int db_statement_timeout_ms;
    int db_worker_statement_timeout_ms;
    /* webhooks */
    char *github_webhook_secret;
    char *supabase_webhook_secret;
    char *supabase_webhook_signing_secret;
    char *supabase_table;
    char *supabase_schema;
    char *manifests_database_url;
    char *service_schema_pattern;
    char *manifest_id_pattern;
    int max_jobs_per_delivery;
    /* worker repo */
    char *worker_repo;
    char *worker_branch;
    char *worker_root_dir;
    bool worker_paths_filter;
    char *worker_variables_file;
    /* queue */
    char *instance_id;
    int workers;
    int queue_poll_ms;
    bool queue_listen;
    int job_lease_s;
    int job_max_rescues;
    int job_max_attempts;
    int retry_base_ms;
    int retry_max_ms;
    int job_retention_days;
    /* Railway */
    char *railway_api_url;
    bool railway_api_allow_insecure;
    char *railway_api_token;
    char *railway_token;
    char *railway_project_token;
    /* Not a variable: set at start when the token turned out to be of the other kind than
     * its variable says (railway_token_detect), so every client sends it the right way. */
    bool railway_token_swapped;
    char *railway_project_id;
    char *railway_environment_id;
    char *railway_service_id;
    /* reconciliation */
    int reconcile_interval_s;
    char *reconcile_mode;
    bool reconcile_delete;
    int reconcile_max_delete;
    int reconcile_budget;
    int railway_timeout_s;
    int railway_max_rps;
    int railway_hourly_budget;
    char *service_name_template;
    char *connect_strategy;
    bool connect_fallback;
    int deploy_timeout_s;
    int connect_deploy_wait_s;
    int push_deploy_grace_s;
    int deploy_poll_min_ms;
    int deploy_poll_max_ms;
    /* API */
    char *api_token;
    char *api_admin_token;
    char *api_auth;
    char *cors_origins;
    int events_max_streams;
    bool metrics_public;
    /* notifications and write-back */
    char *notify_urls;
    char *notify_signing_secret;
    char *notify_events;
    int notify_senders;
    int notify_timeout_s;
    int notify_retry_base_s;
    int notify_retry_for_s;
    char *manifest_status_columns;
    /* Not variables: MANIFEST_STATUS_COLUMNS parsed by config_load. */
    struct config_status_column status_columns[CONFIG_STATUS_COLUMNS_MAX];
    int nstatus_columns;
};

/* Which variables a command insists on. */
enum config_need { CONFIG_NEED_NOTHING = 0, CONFIG_NEED_DATABASE = 1 };

/* Fills cfg from the environment (getenv), applying defaults and bounds, and registers every
 * secret with the redactor. On a bad or missing value writes a message naming the variable
 * (never its value when secret) to err and returns false. Free with config_free(). */
bool config_load(struct config *cfg, enum config_need need, char *err, size_t errlen);
/* True when url is plain http:// to a host other than loopback (127.0.0.0/8, [::1],
 * localhost): a token sent there travels in clear. */
bool config_url_cleartext(const char *url);
/* Parses a MANIFEST_STATUS_COLUMNS value ("column=field,...") into out (at most
 * CONFIG_STATUS_COLUMNS_MAX); false with a message naming the bad entry or field in err.
 * updated_at must be mapped: it guards against writing an older status over a newer one. */
bool config_status_columns_parse(const char *spec, struct config_status_column *out, int *n,
                                 char *err, size_t errlen);
/* Frees the strings config_load() allocated; safe on a zeroed or freed config. */
void config_free(struct config *cfg);
/* Writes the table of variables (name, default, meaning) for --help. */
void config_print_help(FILE *out);

#endif
