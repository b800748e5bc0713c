/* Unit tests for the configuration table. */
#include "util/config.h"
#include "util/redact.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

Test(config, defaults_apply)
{
    setenv("DATABASE_URL", "postgresql://u@127.0.0.1/db", 1);
    struct config cfg;
    char err[256];
    cr_assert(config_load(&cfg, CONFIG_NEED_DATABASE, err, sizeof(err)), "%s", err);
    cr_assert_eq(cfg.port, 8080);
    cr_assert_eq(cfg.max_body_bytes, 1048576);
    cr_assert_eq(cfg.workers, 4);
    cr_assert_eq(cfg.job_max_attempts, 3);
    cr_assert(cfg.queue_listen);
    cr_assert_str_eq(cfg.worker_root_dir, "/workers");
    cr_assert_str_eq(cfg.service_name_template, "osp-worker-{service_schema}");
    cr_assert_str_eq(cfg.railway_api_url, "https://backboard.railway.com/graphql/v2");
    cr_assert_neq(cfg.instance_id[0], '\0');
    config_free(&cfg);
    config_free(&cfg);
}

Test(config, missing_database_url_is_named)
{
    unsetenv("DATABASE_URL");
    struct config cfg;
    char err[256];
    cr_assert_not(config_load(&cfg, CONFIG_NEED_DATABASE, err, sizeof(err)));
    cr_assert_not_null(strstr(err, "DATABASE_URL"), "%s", err);
    cr_assert(config_load(&cfg, CONFIG_NEED_NOTHING, err, sizeof(err)), "%s", err);
    config_free(&cfg);
}

Test(config, out_of_bounds_number_names_the_variable)
{
    setenv("DATABASE_URL", "postgresql://u@127.0.0.1/db", 1);
    setenv("WORKERS", "100000", 1);
    struct config cfg;
    char err[256];
    cr_assert_not(config_load(&cfg, CONFIG_NEED_DATABASE, err, sizeof(err)));
    cr_assert_not_null(strstr(err, "WORKERS"), "%s", err);
    setenv("WORKERS", "four", 1);
    cr_assert_not(config_load(&cfg, CONFIG_NEED_DATABASE, err, sizeof(err)));
    cr_assert_not_null(strstr(err, "WORKERS"), "%s", err);
}

Test(config, bad_enum_and_bool_are_refused)
{
    setenv("DATABASE_URL", "postgresql://u@127.0.0.1/db", 1);
    setenv("LOG_FORMAT", "xml", 1);
    struct config cfg;
    char err[256];
    cr_assert_not(config_load(&cfg, CONFIG_NEED_DATABASE, err, sizeof(err)));
    cr_assert_not_null(strstr(err, "LOG_FORMAT"), "%s", err);
    setenv("LOG_FORMAT", "json", 1);
    setenv("QUEUE_LISTEN", "maybe", 1);
    cr_assert_not(config_load(&cfg, CONFIG_NEED_DATABASE, err, sizeof(err)));
    cr_assert_not_null(strstr(err, "QUEUE_LISTEN"), "%s", err);
    setenv("QUEUE_LISTEN", "off", 1);
    cr_assert(config_load(&cfg, CONFIG_NEED_DATABASE, err, sizeof(err)), "%s", err);
    cr_assert_not(cfg.queue_listen);
    config_free(&cfg);
}

Test(config, secrets_are_registered_for_redaction)
{
    setenv("DATABASE_URL", "postgresql://railhook:pg-pass-123@127.0.0.1:5432/db", 1);
    setenv("GITHUB_WEBHOOK_SECRET", "gh-old-secret,gh-new-secret", 1);
    setenv("RAILWAY_TOKEN", "rw-token-xyz", 1);
    struct config cfg;
    char err[256];
    cr_assert(config_load(&cfg, CONFIG_NEED_DATABASE, err, sizeof(err)), "%s", err);
    char *out = redact_string("pg-pass-123 gh-old-secret gh-new-secret rw-token-xyz");
    cr_assert_str_eq(out, "[REDACTED] [REDACTED] [REDACTED] [REDACTED]");
    free(out);
    config_free(&cfg);
}
