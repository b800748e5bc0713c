/* Unit tests for logging: one line per event, formats, and secrets never written. */
#include "util/log.h"
#include "util/redact.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

static char captured[8192];

static void capture(bool json, void (*emit)(void))
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    log_setup(LOG_DEBUG, json, fds[1]);
    emit();
    close(fds[1]);
    ssize_t n = read(fds[0], captured, sizeof(captured) - 1);
    captured[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    log_setup(LOG_INFO, false, 2);
}

static void emit_secret(void)
{
    log_info("calling railway", "token=%s url=%s", "tok-ABCDEF-123", "https://x");
    log_error("failed\nwith newline", "detail=\"Authorization: Bearer qwerty\"");
}

Test(log, secrets_never_reach_a_line)
{
    redact_register("tok-ABCDEF-123");
    capture(false, emit_secret);
    cr_assert_null(strstr(captured, "tok-ABCDEF-123"), "%s", captured);
    cr_assert_null(strstr(captured, "qwerty"), "%s", captured);
    cr_assert_not_null(strstr(captured, "token=[REDACTED]"), "%s", captured);
    /* Two events, two lines: the embedded newline was escaped. */
    int lines = 0;
    for (const char *p = captured; *p; p++)
        lines += *p == '\n';
    cr_assert_eq(lines, 2, "%s", captured);
    cr_assert_not_null(strstr(captured, "level=error"));
}

static void emit_fields(void)
{
    log_warn("hello \"world\"", "a=1 b=\"two words\" c=x");
    log_debug("quiet", "%s", "");
}

Test(log, json_lines_parse)
{
    capture(true, emit_fields);
    char *nl = strchr(captured, '\n');
    cr_assert_not_null(nl);
    *nl = '\0';
    cJSON *j = cJSON_Parse(captured);
    cr_assert_not_null(j, "not JSON: %s", captured);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "level")->valuestring, "warn");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "msg")->valuestring, "hello \"world\"");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "a")->valuestring, "1");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "b")->valuestring, "two words");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "c")->valuestring, "x");
    cr_assert_not_null(strstr(cJSON_GetObjectItem(j, "ts")->valuestring, "Z"));
    cJSON_Delete(j);
}

Test(log, level_parse)
{
    enum log_level l;
    cr_assert(log_level_parse("WARN", &l));
    cr_assert_eq(l, LOG_WARN);
    cr_assert_not(log_level_parse("loud", &l));
}

Test(log, below_min_level_writes_nothing)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    log_setup(LOG_WARN, false, fds[1]);
    log_info("not shown", "%s", "");
    log_warn("shown", "%s", "");
    close(fds[1]);
    char out[512];
    ssize_t n = read(fds[0], out, sizeof(out) - 1);
    out[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    cr_assert_null(strstr(out, "not shown"));
    cr_assert_not_null(strstr(out, "msg=\"shown\""), "%s", out);
}
