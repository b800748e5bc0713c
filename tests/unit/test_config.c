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

Test(config, secret_lists_are_registered_trimmed_like_the_verifiers_read_them)
{
    setenv("GITHUB_WEBHOOK_SECRET", " gh-front ,\tgh-back\t", 1);
    setenv("SUPABASE_WEBHOOK_SIGNING_SECRET", "v1, whsec_c2VjcmV0LXRyaW0=", 1);
    struct config cfg;
    char err[256];
    cr_assert(config_load(&cfg, CONFIG_NEED_NOTHING, err, sizeof(err)), "%s", err);
    char *out = redact_string("[gh-front][gh-back][whsec_c2VjcmV0LXRyaW0=] v1,");
    cr_assert_str_eq(out, "[[REDACTED]][[REDACTED]][[REDACTED]] v1,");
    free(out);
    config_free(&cfg);
    redact_clear();
}

Test(config, http_limits_have_defaults_and_the_budget_follows_max_body)
{
    struct config cfg;
    char err[256];
    cr_assert(config_load(&cfg, CONFIG_NEED_NOTHING, err, sizeof(err)), "%s", err);
    cr_assert_eq(cfg.http_per_client_limit, 64);
    cr_assert_eq(cfg.http_request_deadline_s, 30);
    cr_assert_eq(cfg.http_body_budget_bytes, 64 * 1048576);
    config_free(&cfg);
    setenv("MAX_BODY_BYTES", "65536", 1);
    cr_assert(config_load(&cfg, CONFIG_NEED_NOTHING, err, sizeof(err)), "%s", err);
    cr_assert_eq(cfg.http_body_budget_bytes, 64 * 65536);
    config_free(&cfg);
    setenv("HTTP_BODY_BUDGET_BYTES", "65535", 1);
    cr_assert_not(config_load(&cfg, CONFIG_NEED_NOTHING, err, sizeof(err)));
    cr_assert_not_null(strstr(err, "HTTP_BODY_BUDGET_BYTES"), "%s", err);
    setenv("HTTP_BODY_BUDGET_BYTES", "200000", 1);
    cr_assert(config_load(&cfg, CONFIG_NEED_NOTHING, err, sizeof(err)), "%s", err);
    cr_assert_eq(cfg.http_body_budget_bytes, 200000);
    config_free(&cfg);
}

Test(config, railway_api_url_in_clear_needs_loopback_or_the_override)
{
    static const struct {
        const char *url;
        bool cleartext;
    } cases[] = {
        {"https://backboard.railway.com/graphql/v2", false},
        {"http://127.0.0.1:4000/graphql/v2", false},
        {"http://127.9.8.7/graphql", false},
        {"HTTP://localhost:8080", false},
        {"http://[::1]:9/x", false},
        {"http://user:pw@127.0.0.1/x", false},
        {"http://backboard.railway.com/graphql/v2", true},
        {"http://127.0.0.1.example.com/graphql", true},
        {"http://127.0.0.1@example.com/graphql", true},
        {"http://10.0.0.5:80", true},
        {"http://[::2]/x", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_assert_eq(config_url_cleartext(cases[i].url), cases[i].cleartext, "%s", cases[i].url);

    struct config cfg;
    char err[256];
    setenv("RAILWAY_TOKEN", "rt-never-in-errors", 1);
    setenv("RAILWAY_API_URL", "http://backboard.railway.com/graphql/v2", 1);
    cr_assert_not(config_load(&cfg, CONFIG_NEED_NOTHING, err, sizeof(err)));
    cr_assert_not_null(strstr(err, "RAILWAY_API_URL"), "%s", err);
    cr_assert_not_null(strstr(err, "RAILWAY_API_ALLOW_INSECURE"), "%s", err);
    cr_assert_null(strstr(err, "rt-never"), "%s", err);
    setenv("RAILWAY_API_ALLOW_INSECURE", "on", 1);
    cr_assert(config_load(&cfg, CONFIG_NEED_NOTHING, err, sizeof(err)), "%s", err);
    config_free(&cfg);
    setenv("RAILWAY_API_URL", "ftp://backboard.railway.com/graphql/v2", 1);
    cr_assert_not(config_load(&cfg, CONFIG_NEED_NOTHING, err, sizeof(err)));
    cr_assert_not_null(strstr(err, "RAILWAY_API_URL"), "%s", err);
    redact_clear();
}

Test(config, instance_id_is_bounded_in_length_and_charset)
{
    struct config cfg;
    char err[256];
    cr_assert(config_load(&cfg, CONFIG_NEED_NOTHING, err, sizeof(err)), "%s", err);
    cr_assert_leq(strlen(cfg.instance_id), 64, "the default %s is too long", cfg.instance_id);
    cr_assert_eq(strspn(cfg.instance_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789._-"),
                 strlen(cfg.instance_id), "%s", cfg.instance_id);
    config_free(&cfg);
    setenv("INSTANCE_ID", "web-1.eu_west", 1);
    cr_assert(config_load(&cfg, CONFIG_NEED_NOTHING, err, sizeof(err)), "%s", err);
    cr_assert_str_eq(cfg.instance_id, "web-1.eu_west");
    config_free(&cfg);
    const char *bad[] = {"a/w1", "has space", "x\n",
                         "0123456789012345678901234567890123456789"
                         "0123456789012345678901234"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("INSTANCE_ID", bad[i], 1);
        cr_assert_not(config_load(&cfg, CONFIG_NEED_NOTHING, err, sizeof(err)), "%s", bad[i]);
        cr_assert_not_null(strstr(err, "INSTANCE_ID"), "%s", err);
    }
}

Test(config, manifest_id_pattern_must_compile)
{
    struct config cfg;
    char err[256];
    setenv("MANIFEST_ID_PATTERN", "^[a-", 1);
    cr_assert_not(config_load(&cfg, CONFIG_NEED_NOTHING, err, sizeof(err)));
    cr_assert_not_null(strstr(err, "MANIFEST_ID_PATTERN"), "%s", err);
}
