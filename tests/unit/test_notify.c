/* Unit tests for the notification settings (util/config.c) and the senders' policy
 * (notify/post.c): which answers are retried, the backoff, MANIFEST_STATUS_COLUMNS. */
#include "notify/notify.h"
#include "util/config.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

Test(notify, verdict_by_answer)
{
    cr_assert_eq(notify_http_verdict(200), NOTIFY_DELIVERED);
    cr_assert_eq(notify_http_verdict(204), NOTIFY_DELIVERED);
    cr_assert_eq(notify_http_verdict(0), NOTIFY_RETRY, "timeout or connection error");
    cr_assert_eq(notify_http_verdict(429), NOTIFY_RETRY);
    cr_assert_eq(notify_http_verdict(500), NOTIFY_RETRY);
    cr_assert_eq(notify_http_verdict(503), NOTIFY_RETRY);
    cr_assert_eq(notify_http_verdict(400), NOTIFY_GIVE_UP);
    cr_assert_eq(notify_http_verdict(404), NOTIFY_GIVE_UP);
    cr_assert_eq(notify_http_verdict(410), NOTIFY_GIVE_UP);
    cr_assert_eq(notify_http_verdict(301), NOTIFY_GIVE_UP, "redirects are not followed");
}

Test(notify, backoff_doubles_with_jitter_up_to_an_hour)
{
    cr_assert_eq(notify_retry_delay_ms(1, 5, 0, 0.999999), 5000 * 3 / 4 + 1249);
    cr_assert_eq(notify_retry_delay_ms(1, 5, 0, 0), 3750);
    cr_assert_eq(notify_retry_delay_ms(2, 5, 0, 0), 7500);
    cr_assert_eq(notify_retry_delay_ms(3, 5, 0, 0), 15000);
    for (int a = 1; a < 200; a++) {
        int64_t d = notify_retry_delay_ms(a, 5, 0, 0.5);
        cr_assert_leq(d, 3600000);
        cr_assert_geq(d, notify_retry_delay_ms(a > 1 ? a - 1 : 1, 5, 0, 0.5), "never shrinks");
    }
    cr_assert_eq(notify_retry_delay_ms(30, 5, 0, 0), 2700000, "jitter below the cap");
}

Test(notify, retry_after_is_honoured)
{
    cr_assert_eq(notify_retry_delay_ms(1, 5, 120, 0), 120000);
    cr_assert_eq(notify_retry_delay_ms(1, 5, 2, 0), 3750, "a shorter Retry-After keeps backoff");
    cr_assert_eq(notify_retry_delay_ms(1, 5, 999999, 0), 3600000, "capped at an hour");
}

Test(notify, status_columns_parse)
{
    struct config_status_column cols[CONFIG_STATUS_COLUMNS_MAX];
    int n = 0;
    char err[256] = "";
    cr_assert(config_status_columns_parse(
                  "railway_service_id=service_id,railway_status=state,railway_deployment_status="
                  "deployment_status,railway_error=error,railway_updated_at=updated_at",
                  cols, &n, err, sizeof(err)),
              "%s", err);
    cr_assert_eq(n, 5);
    cr_assert_str_eq(cols[1].column, "railway_status");
    cr_assert_str_eq(cols[1].field, "state");
    cr_assert(config_status_columns_parse("", cols, &n, err, sizeof(err)));
    cr_assert_eq(n, 0);
    cr_assert_not(
        config_status_columns_parse("a=state,b=colour,c=updated_at", cols, &n, err, sizeof(err)));
    cr_assert_not_null(strstr(err, "unknown field 'colour'"), "%s", err);
    cr_assert_not(config_status_columns_parse("a=state", cols, &n, err, sizeof(err)));
    cr_assert_not_null(strstr(err, "updated_at"), "%s", err);
    cr_assert_not(config_status_columns_parse("a,b=updated_at", cols, &n, err, sizeof(err)));
    cr_assert_not_null(strstr(err, "'a'"), "%s", err);
}

static bool load(const char *urls, const char *secret, const char *columns, const char *murl,
                 char *err, size_t errlen)
{
    setenv("NOTIFY_URLS", urls, 1);
    setenv("NOTIFY_SIGNING_SECRET", secret, 1);
    setenv("MANIFEST_STATUS_COLUMNS", columns, 1);
    setenv("MANIFESTS_DATABASE_URL", murl, 1);
    struct config cfg;
    bool ok = config_load(&cfg, CONFIG_NEED_NOTHING, err, errlen);
    if (ok)
        config_free(&cfg);
    return ok;
}

Test(notify, settings_are_checked_at_load)
{
    char err[256] = "";
    cr_assert(
        load("https://a.example/hook, http://127.0.0.1:9/x", SECRET, "", "", err, sizeof(err)),
        "%s", err);
    cr_assert(load("", "", "", "", err, sizeof(err)), "nothing configured is fine");
    cr_assert_not(load("http://a.example/hook", SECRET, "", "", err, sizeof(err)));
    cr_assert_not_null(strstr(err, "NOTIFY_URLS: entry 1"), "%s", err);
    cr_assert_not(load("https://a.example/hook,ftp://x", SECRET, "", "", err, sizeof(err)));
    cr_assert_not_null(strstr(err, "entry 2"), "%s", err);
    cr_assert_not(load("https://a.example/hook", "", "", "", err, sizeof(err)));
    cr_assert_not_null(strstr(err, "NOTIFY_SIGNING_SECRET"), "%s", err);
    cr_assert_not(load("https://a.example/hook", "whsec_***", "", "", err, sizeof(err)));
    cr_assert_null(strstr(err, "***"), "the secret is never echoed: %s", err);
    cr_assert_not(load("", "", "s=state,u=updated_at", "", err, sizeof(err)));
    cr_assert_not_null(strstr(err, "MANIFESTS_DATABASE_URL"), "%s", err);
    cr_assert(load("", "", "s=state,u=updated_at", "postgresql://u@h/db", err, sizeof(err)), "%s",
              err);
    unsetenv("NOTIFY_URLS");
    unsetenv("NOTIFY_SIGNING_SECRET");
    unsetenv("MANIFEST_STATUS_COLUMNS");
    unsetenv("MANIFESTS_DATABASE_URL");
}
