/* Unit tests for logging: typed fields escaped for logfmt and JSON, whole values that read
 * back, invalid UTF-8 replaced, secrets blanked, one line per event. */
#include "util/log.h"
#include "util/redact.h"
#include "util/util.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <iconv.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FFFD "\xef\xbf\xbd"

/* Runs emit with the logger writing lines of at least min to a temporary file in the given
 * format, and returns everything written (free()). */
static char *capture_at(enum log_level min, bool json, void (*emit)(void))
{
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    log_setup(min, json, fileno(f));
    emit();
    log_setup(LOG_INFO, false, 2);
    off_t len = lseek(fileno(f), 0, SEEK_END);
    cr_assert_geq(len, 0);
    char *text = xmalloc((size_t)len + 1);
    cr_assert_eq(pread(fileno(f), text, (size_t)len, 0), len);
    text[len] = '\0';
    fclose(f);
    return text;
}

static char *capture(bool json, void (*emit)(void))
{
    return capture_at(LOG_DEBUG, json, emit);
}

/* Splits text into lines in place; returns how many (at most max). */
static size_t split_lines(char *text, char **lines, size_t max)
{
    size_t n = 0;
    for (char *p = text; *p && n < max;) {
        char *nl = strchr(p, '\n');
        cr_assert_not_null(nl, "a line does not end with a newline: %s", p);
        *nl = '\0';
        lines[n++] = p;
        p = nl + 1;
    }
    return n;
}

/* True when the n bytes at s are valid UTF-8, judged by iconv rather than the logger. */
static bool utf8_valid(const char *s, size_t n)
{
    iconv_t cd = iconv_open("UTF-8", "UTF-8");
    cr_assert_neq(cd, (iconv_t)-1);
    char *in = (char *)(uintptr_t)s;
    size_t inleft = n;
    char *out = xmalloc(n + 1);
    char *o = out;
    size_t outleft = n + 1;
    size_t r = iconv(cd, &in, &inleft, &o, &outleft);
    iconv_close(cd);
    free(out);
    return r != (size_t)-1 && inleft == 0;
}

/* Parses one JSON line, asserting that it is valid UTF-8 and JSON. */
static cJSON *json_line(const char *line)
{
    cr_assert(utf8_valid(line, strlen(line)), "not UTF-8: %s", line);
    cJSON *j = cJSON_Parse(line);
    cr_assert_not_null(j, "not JSON: %s", line);
    return j;
}

/* The value of key in a logfmt line (free()), decoded: a quoted value is read as a JSON
 * string. NULL when the key is absent. */
static char *logfmt_get(const char *line, const char *key)
{
    const char *p = line;
    while (*p) {
        const char *eq = strchr(p, '=');
        cr_assert_not_null(eq, "no '=' in %s", p);
        bool match = (size_t)(eq - p) == strlen(key) && strncmp(p, key, strlen(key)) == 0;
        const char *v = eq + 1;
        const char *end;
        char *value;
        if (*v == '"') {
            end = v + 1;
            while (*end && *end != '"')
                end += *end == '\\' ? 2 : 1;
            cr_assert_eq(*end, '"', "unterminated value in %s", line);
            end++;
            char *quoted = xstrndup(v, (size_t)(end - v));
            cJSON *s = cJSON_Parse(quoted);
            cr_assert(cJSON_IsString(s), "not a JSON string: %s", quoted);
            value = xstrdup(s->valuestring);
            cJSON_Delete(s);
            free(quoted);
        } else {
            end = v + strcspn(v, " ");
            value = xstrndup(v, (size_t)(end - v));
        }
        if (match)
            return value;
        free(value);
        cr_assert(*end == ' ' || *end == '\0', "junk after a value: %s", end);
        p = *end ? end + 1 : end;
    }
    return NULL;
}

/* Inputs that once broke a line, and what each reads back as. */
static const struct {
    const char *in;
    const char *out;
} tricky[] = {
    {"database connection failed: connection to server at \"127.0.0.1\", port 1 failed",
     "database connection failed: connection to server at \"127.0.0.1\", port 1 failed"},
    {"back\\slash \\\" end\\", "back\\slash \\\" end\\"},
    {"line one\nline two\r\n", "line one\nline two\r\n"},
    {"tab\there", "tab\there"},
    {"ctl \x01 del \x7f esc \x1b", "ctl \x01 del \x7f esc \x1b"},
    {"", ""},
    {"a=b", "a=b"},
    {"plain", "plain"},
    {"caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80"},
    {"lone \xff byte", "lone " FFFD " byte"},
    {"cut \xe2\x82", "cut " FFFD FFFD},
    {"\xe2\x82x", FFFD FFFD "x"},
    {"overlong \xc0\xaf", "overlong " FFFD FFFD},
    {"surrogate \xed\xa0\x80", "surrogate " FFFD FFFD FFFD},
    {"past max \xf4\x90\x80\x80", "past max " FFFD FFFD FFFD FFFD},
    {"\xc3", FFFD},
};
#define NTRICKY (sizeof(tricky) / sizeof(tricky[0]))

static void emit_tricky(void)
{
    for (size_t i = 0; i < NTRICKY; i++)
        log_info(tricky[i].in, LOG_STR("v", tricky[i].in), LOG_INT("i", (long long)i));
}

Test(log, json_keeps_every_tricky_value_whole)
{
    char *text = capture(true, emit_tricky);
    char *lines[64];
    cr_assert_eq(split_lines(text, lines, 64), NTRICKY, "%s", text);
    for (size_t i = 0; i < NTRICKY; i++) {
        cJSON *j = json_line(lines[i]);
        cr_assert_eq(cJSON_GetObjectItem(j, "i")->valueint, (int)i);
        cr_assert_str_eq(cJSON_GetObjectItem(j, "v")->valuestring, tricky[i].out, "%s", lines[i]);
        cr_assert_str_eq(cJSON_GetObjectItem(j, "msg")->valuestring, tricky[i].out, "%s", lines[i]);
        cJSON_Delete(j);
    }
    free(text);
}

Test(log, logfmt_round_trips_every_tricky_value)
{
    char *text = capture(false, emit_tricky);
    char *lines[64];
    cr_assert_eq(split_lines(text, lines, 64), NTRICKY, "%s", text);
    for (size_t i = 0; i < NTRICKY; i++) {
        cr_assert(utf8_valid(lines[i], strlen(lines[i])), "not UTF-8: %s", lines[i]);
        for (const unsigned char *p = (const unsigned char *)lines[i]; *p; p++)
            cr_assert(*p >= 0x20 && *p != 0x7f, "raw control byte 0x%02x in %s", *p, lines[i]);
        char *v = logfmt_get(lines[i], "v");
        char *msg = logfmt_get(lines[i], "msg");
        char *n = logfmt_get(lines[i], "i");
        cr_assert_not_null(v, "%s", lines[i]);
        cr_assert_str_eq(v, tricky[i].out, "%s", lines[i]);
        cr_assert_str_eq(msg, tricky[i].out, "%s", lines[i]);
        cr_assert_not_null(n, "%s", lines[i]);
        cr_assert_eq(strtol(n, NULL, 10), (long)i, "%s", lines[i]);
        free(v);
        free(msg);
        free(n);
    }
    free(text);
}

Test(log, logfmt_quotes_only_values_that_need_it)
{
    char *text = capture(false, emit_tricky);
    cr_assert_not_null(strstr(text, " v=plain i="), "%s", text);
    cr_assert_not_null(strstr(text, " v=\"\" i="), "%s", text);
    cr_assert_not_null(strstr(text, " v=\"a=b\" i="), "%s", text);
    cr_assert_not_null(strstr(text, " v=\"tab\\there\" i="), "%s", text);
    cr_assert_not_null(strstr(text, " v=\"ctl \\u0001 del \\u007f esc \\u001b\" i="), "%s", text);
    cr_assert_not_null(strstr(text, " v=\"lone " FFFD " byte\" i="), "%s", text);
    cr_assert_not_null(strstr(text, " v=" FFFD FFFD "x i="), "%s", text);
    free(text);
}

static char *long_value;

static void emit_long(void)
{
    log_warn("long", LOG_STR("v", long_value));
}

Test(log, very_long_values_are_written_whole)
{
    size_t n = 200000;
    long_value = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++)
        long_value[i] = "ab\"\\\n\t\x01z"[i % 8];
    long_value[n] = '\0';
    for (int json = 0; json < 2; json++) {
        char *text = capture(json, emit_long);
        char *lines[2];
        cr_assert_eq(split_lines(text, lines, 2), 1);
        char *v;
        if (json) {
            cJSON *j = json_line(lines[0]);
            v = xstrdup(cJSON_GetObjectItem(j, "v")->valuestring);
            cJSON_Delete(j);
        } else {
            v = logfmt_get(lines[0], "v");
        }
        cr_assert_eq(strlen(v), n);
        cr_assert(strcmp(v, long_value) == 0, "the value changed (%s)", json ? "json" : "logfmt");
        free(v);
        free(text);
    }
    free(long_value);
}

static void emit_typed(void)
{
    log_error("typed", LOG_INT("zero", 0), LOG_INT("neg", -42), LOG_INT("max", LLONG_MAX),
              LOG_INT("min", LLONG_MIN), LOG_DOUBLE("half", 0.5), LOG_DOUBLE("tenth", 0.1),
              LOG_DOUBLE("third", 1.0 / 3.0), LOG_DOUBLE("big", -1e300), LOG_DOUBLE("nan", NAN),
              LOG_DOUBLE("inf", INFINITY), LOG_BOOL("yes", true), LOG_BOOL("no", false),
              LOG_STR("null", NULL), LOG_STR("last", "x"));
}

Test(log, json_renders_numbers_bools_and_null_as_json)
{
    char *text = capture(true, emit_typed);
    text[strcspn(text, "\n")] = '\0';
    cJSON *j = json_line(text);
    cr_assert_eq(cJSON_GetArraySize(j), 3 + 14);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "level")->valuestring, "error");
    cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(j, "zero")));
    cr_assert_eq(cJSON_GetObjectItem(j, "neg")->valuedouble, -42);
    cr_assert_not_null(strstr(text, "\"max\":9223372036854775807,"), "%s", text);
    cr_assert_not_null(strstr(text, "\"min\":-9223372036854775808,"), "%s", text);
    cr_assert_not_null(strstr(text, "\"half\":0.5,\"tenth\":0.1,"), "%s", text);
    cr_assert_eq(cJSON_GetObjectItem(j, "third")->valuedouble, 1.0 / 3.0);
    cr_assert_eq(cJSON_GetObjectItem(j, "big")->valuedouble, -1e300);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "nan")));
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "inf")));
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "yes")));
    cr_assert(cJSON_IsFalse(cJSON_GetObjectItem(j, "no")));
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "null")));
    cr_assert_str_eq(cJSON_GetObjectItem(j, "last")->valuestring, "x");
    cJSON_Delete(j);
    free(text);
}

Test(log, logfmt_renders_numbers_bools_and_null_bare)
{
    char *text = capture(false, emit_typed);
    cr_assert_not_null(strstr(text, " level=error msg=\"typed\" zero=0 neg=-42"
                                    " max=9223372036854775807 min=-9223372036854775808"
                                    " half=0.5 tenth=0.1 third=0.3333333333333333 big=-1e+300"
                                    " nan=nan inf=inf yes=true no=false null= last=x\n"),
                       "%s", text);
    free(text);
}

static void emit_bare(void)
{
    log_info("stopped");
}

Test(log, a_line_without_fields_keeps_the_shape)
{
    char *text = capture(false, emit_bare);
    cr_assert_eq(strncmp(text, "ts=", 3), 0, "%s", text);
    cr_assert_not_null(strstr(text, "Z level=info msg=\"stopped\"\n"), "%s", text);
    free(text);
    text = capture(true, emit_bare);
    cr_assert_eq(strncmp(text, "{\"ts\":\"", 7), 0, "%s", text);
    cr_assert_not_null(strstr(text, "Z\",\"level\":\"info\",\"msg\":\"stopped\"}\n"), "%s", text);
    free(text);
}

static void emit_secret(void)
{
    log_info("calling railway with tok-ABCDEF-123", LOG_STR("token", "tok-ABCDEF-123"),
             LOG_STR("url", "https://x"));
    log_error("failed", LOG_STR("detail", "Authorization: Bearer qwerty\nnext"));
    log_warn("odd secret", LOG_STR("password", "pa\"ss\\wo\nrd"),
             LOG_STR("dsn", "user=x password=pa\"ss\\wo\nrd"));
}

Test(log, secrets_are_blanked_in_values_and_message_in_both_formats)
{
    redact_register("tok-ABCDEF-123");
    redact_register("pa\"ss\\wo\nrd");
    for (int json = 0; json < 2; json++) {
        char *text = capture(json, emit_secret);
        cr_assert_null(strstr(text, "tok-ABCDEF"), "%s", text);
        cr_assert_null(strstr(text, "qwerty"), "%s", text);
        cr_assert_null(strstr(text, "ss\\\\wo"), "escaped secret: %s", text);
        cr_assert_null(strstr(text, "wo\\nrd"), "escaped secret: %s", text);
        char *lines[4];
        cr_assert_eq(split_lines(text, lines, 4), 3, "%s", text);
        char *token, *msg, *password, *dsn;
        if (json) {
            cJSON *a = json_line(lines[0]);
            cJSON *c = json_line(lines[2]);
            token = xstrdup(cJSON_GetObjectItem(a, "token")->valuestring);
            msg = xstrdup(cJSON_GetObjectItem(a, "msg")->valuestring);
            password = xstrdup(cJSON_GetObjectItem(c, "password")->valuestring);
            dsn = xstrdup(cJSON_GetObjectItem(c, "dsn")->valuestring);
            cJSON_Delete(a);
            cJSON_Delete(c);
        } else {
            token = logfmt_get(lines[0], "token");
            msg = logfmt_get(lines[0], "msg");
            password = logfmt_get(lines[2], "password");
            dsn = logfmt_get(lines[2], "dsn");
        }
        cr_assert_str_eq(token, "[REDACTED]");
        cr_assert_str_eq(msg, "calling railway with [REDACTED]");
        cr_assert_str_eq(password, "[REDACTED]");
        cr_assert_str_eq(dsn, "user=x password=[REDACTED]");
        cr_assert_not_null(strstr(lines[1], "Bearer [REDACTED]"), "%s", lines[1]);
        free(token);
        free(msg);
        free(password);
        free(dsn);
        free(text);
    }
}

#define THREADS    4
#define PER_THREAD 300

static void *log_many(void *arg)
{
    long t = (long)(intptr_t)arg;
    char value[600];
    memset(value, 'a' + (int)t, sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    for (int i = 0; i < PER_THREAD; i++)
        log_info("concurrent", LOG_INT("thread", t), LOG_INT("n", i), LOG_STR("v", value));
    return NULL;
}

static void emit_concurrently(void)
{
    pthread_t th[THREADS];
    for (long t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, log_many, (void *)(intptr_t)t);
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
}

Test(log, lines_from_threads_never_interleave)
{
    char *text = capture(true, emit_concurrently);
    static char *lines[THREADS * PER_THREAD + 1];
    cr_assert_eq(split_lines(text, lines, THREADS * PER_THREAD + 1), THREADS * PER_THREAD);
    for (size_t i = 0; i < THREADS * PER_THREAD; i++) {
        cJSON *j = json_line(lines[i]);
        int t = cJSON_GetObjectItem(j, "thread")->valueint;
        const char *v = cJSON_GetObjectItem(j, "v")->valuestring;
        cr_assert_eq(strspn(v, (char[]){(char)('a' + t), '\0'}), 599, "%s", lines[i]);
        cJSON_Delete(j);
    }
    free(text);
}

Test(log, level_parse)
{
    enum log_level l;
    cr_assert(log_level_parse("WARN", &l));
    cr_assert_eq(l, LOG_WARN);
    cr_assert(log_level_parse("warning", &l));
    cr_assert_eq(l, LOG_WARN);
    cr_assert(log_level_parse("debug", &l));
    cr_assert_eq(l, LOG_DEBUG);
    cr_assert_not(log_level_parse("loud", &l));
}

static void emit_levels(void)
{
    log_debug("not shown");
    log_info("not shown either", LOG_INT("n", 1));
    log_warn("shown");
    log_error("shown too");
}

Test(log, below_min_level_writes_nothing)
{
    char *text = capture_at(LOG_WARN, false, emit_levels);
    cr_assert_null(strstr(text, "not shown"), "%s", text);
    cr_assert_not_null(strstr(text, "level=warn msg=\"shown\"\n"), "%s", text);
    cr_assert_not_null(strstr(text, "level=error msg=\"shown too\"\n"), "%s", text);
    free(text);
}
