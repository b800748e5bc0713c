/* GET /metrics: the output parses as Prometheus text format and the counters move. */
#include "support/harness.h"
#include "util/metrics.h"

#include <criterion/criterion.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

static struct th_server ts;
static char *db;

static void start(void)
{
    setenv("API_TOKEN", "metrics-read", 1);
    setenv("SUPABASE_WEBHOOK_SECRET", "metrics-supa", 1);
    db = th_db_create();
    th_server_start(&ts, db);
}

static void stop(void)
{
    th_server_stop(&ts);
    th_db_drop(db);
}

/* A small checker of the text exposition format: every line is a HELP, a TYPE or a sample of
 * a family whose TYPE came first, names and labels are well-formed, values are numbers. */
static void check_format(const char *text)
{
    regex_t help, type, sample;
    cr_assert_eq(regcomp(&help, "^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+$", REG_EXTENDED), 0);
    cr_assert_eq(regcomp(&type, "^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$",
                         REG_EXTENDED),
                 0);
    cr_assert_eq(
        regcomp(&sample,
                "^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{([a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\""
                "(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\")*)?\\})? "
                "(-?[0-9.eE+-]+|NaN|\\+Inf|-Inf)$",
                REG_EXTENDED),
        0);
    char *copy = xstrdup(text);
    char *save = NULL;
    char families[64][96];
    int nfam = 0;
    int samples = 0;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        regmatch_t m[3];
        if (regexec(&help, line, 0, NULL, 0) == 0)
            continue;
        if (regexec(&type, line, 3, m, 0) == 0) {
            cr_assert_lt(nfam, 64);
            snprintf(families[nfam++], sizeof(families[0]), "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
                     line + m[1].rm_so);
            continue;
        }
        cr_assert_eq(regexec(&sample, line, 2, m, 0), 0, "not a valid sample line: %s", line);
        char name[96];
        snprintf(name, sizeof(name), "%.*s", (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
        bool declared = false;
        for (int i = 0; i < nfam && !declared; i++) {
            size_t n = strlen(families[i]);
            declared = strncmp(name, families[i], n) == 0 &&
                       (name[n] == '\0' || strcmp(name + n, "_bucket") == 0 ||
                        strcmp(name + n, "_sum") == 0 || strcmp(name + n, "_count") == 0);
        }
        cr_assert(declared, "sample of an undeclared family: %s", line);
        samples++;
    }
    cr_assert_gt(samples, 0);
    free(copy);
    regfree(&help);
    regfree(&type);
    regfree(&sample);
}

/* The value of the sample whose line starts with prefix ("name{labels}"), or 0. */
static double value_of(const char *text, const char *prefix)
{
    const char *p = text;
    size_t n = strlen(prefix);
    while ((p = strstr(p, prefix)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p += n;
    }
    return 0;
}

static char *scrape(void)
{
    char url[128];
    snprintf(url, sizeof(url), "%s/metrics", ts.base);
    const char *auth[] = {"Authorization: Bearer metrics-read", NULL};
    struct th_response r;
    th_http(&r, "GET", url, auth, NULL, 0);
    cr_assert_eq(r.status, 200);
    char *ct = th_response_header(&r, "Content-Type");
    cr_assert_not_null(strstr(ct, "text/plain"));
    free(ct);
    char *body = r.body;
    r.body = NULL;
    th_response_free(&r);
    return body;
}

Test(metrics, needs_a_token_unless_public, .init = start, .fini = stop)
{
    char url[128];
    snprintf(url, sizeof(url), "%s/metrics", ts.base);
    struct th_response r;
    th_http(&r, "GET", url, NULL, NULL, 0);
    cr_assert_eq(r.status, 401);
    th_response_free(&r);
}

Test(metrics, public_metrics_need_no_token)
{
    setenv("METRICS_PUBLIC", "on", 1);
    start();
    char url[128];
    snprintf(url, sizeof(url), "%s/metrics", ts.base);
    struct th_response r;
    th_http(&r, "GET", url, NULL, NULL, 0);
    cr_assert_eq(r.status, 200);
    th_response_free(&r);
    stop();
}

Test(metrics, parses_and_counters_move, .init = start, .fini = stop)
{
    char *before = scrape();
    check_format(before);
    const char *health = "railhook_http_requests_total{route=\"/healthz\",method=\"GET\","
                         "status=\"200\"}";
    const char *accepted = "railhook_webhook_deliveries_total{source=\"supabase\","
                           "outcome=\"accepted\"}";
    const char *rejected = "railhook_webhook_deliveries_total{source=\"supabase\","
                           "outcome=\"rejected\"}";
    double h0 = value_of(before, health), a0 = value_of(before, accepted),
           r0 = value_of(before, rejected), q0 = value_of(before, "railhook_queue_depth");

    char url[128];
    struct th_response r;
    snprintf(url, sizeof(url), "%s/healthz", ts.base);
    for (int i = 0; i < 3; i++) {
        th_http(&r, "GET", url, NULL, NULL, 0);
        th_response_free(&r);
    }
    snprintf(url, sizeof(url), "%s/webhooks/supabase", ts.base);
    const char *body = "{\"type\":\"INSERT\",\"table\":\"manifests\",\"schema\":\"public\","
                       "\"record\":{\"id\":\"mm-1\",\"service_schema\":\"metrics\"},"
                       "\"old_record\":null}";
    const char *good[] = {"Authorization: Bearer metrics-supa", "Content-Type: application/json",
                          NULL};
    th_http(&r, "POST", url, good, body, strlen(body));
    cr_assert_eq(r.status, 202, "%s", r.body);
    th_response_free(&r);
    const char *bad[] = {"Authorization: Bearer wrong", "Content-Type: application/json", NULL};
    th_http(&r, "POST", url, bad, body, strlen(body));
    cr_assert_eq(r.status, 401);
    th_response_free(&r);

    char *after = scrape();
    check_format(after);
    cr_assert_eq(value_of(after, health) - h0, 3, "healthz counter moved by %g",
                 value_of(after, health) - h0);
    cr_assert_eq(value_of(after, accepted) - a0, 1);
    cr_assert_eq(value_of(after, rejected) - r0, 1);
    cr_assert_eq(value_of(after, "railhook_queue_depth") - q0, 1);
    cr_assert_eq(value_of(after, "railhook_database_up"), 1);
    cr_assert_gt(
        value_of(after, "railhook_http_request_duration_seconds_count{route=\"/healthz\"}"), 2);
    free(before);
    free(after);
}
