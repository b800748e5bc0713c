/* Logging: builds each line in memory, redacts secrets, writes it with one write(2). */
#include "util/log.h"

#include "util/redact.h"
#include "util/util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static bool use_json;
static int out_fd = 2;

static const char *level_names[] = {"debug", "info", "warn", "error"};

void log_setup(enum log_level level, bool json, int fd)
{
    min_level = level;
    use_json = json;
    out_fd = fd;
}

bool log_level_parse(const char *s, enum log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return true;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = LOG_WARN;
        return true;
    }
    return false;
}

/* Appends s as a JSON string body or a logfmt quoted value, escaping control bytes. */
static void append_escaped(struct buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            buf_append(b, "\\", 1);
            buf_append(b, &s[i], 1);
        } else if (c == '\n') {
            buf_puts(b, "\\n");
        } else if (c == '\r') {
            buf_puts(b, "\\r");
        } else if (c == '\t') {
            buf_puts(b, "\\t");
        } else if (c < 0x20 || c == 0x7f) {
            buf_printf(b, "\\u%04x", c);
        } else {
            buf_append(b, &s[i], 1);
        }
    }
}

static bool is_key_start(const char *p)
{
    const char *q = p;
    while (isalnum((unsigned char)*q) || *q == '_' || *q == '.')
        q++;
    return q > p && *q == '=';
}

/* Converts logfmt fields ("a=1 b=\"x y\"") into JSON members appended to b. */
static void fields_to_json(struct buf *b, const char *f)
{
    const char *p = f;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *eq = strchr(p, '=');
        if (!eq)
            break;
        buf_puts(b, ",\"");
        append_escaped(b, p, (size_t)(eq - p));
        buf_puts(b, "\":\"");
        const char *v = eq + 1;
        const char *end;
        if (*v == '"') {
            v++;
            end = v;
            while (*end && !(*end == '"' && end[-1] != '\\'))
                end++;
            append_escaped(b, v, (size_t)(end - v));
            p = *end ? end + 1 : end;
        } else {
            end = v;
            while (*end && !(*end == ' ' && is_key_start(end + 1)))
                end++;
            append_escaped(b, v, (size_t)(end - v));
            p = end;
        }
        buf_puts(b, "\"");
    }
}

void log_msg(enum log_level level, const char *msg, const char *fields_fmt, ...)
{
    if (level < min_level)
        return;
    char ts[32];
    time_format_utc(ts, time_wall_ms());

    struct buf fields;
    buf_init(&fields, 0);
    if (fields_fmt && *fields_fmt) {
        va_list ap;
        va_start(ap, fields_fmt);
        int n = vsnprintf(NULL, 0, fields_fmt, ap);
        va_end(ap);
        if (n > 0) {
            char *tmp = xmalloc((size_t)n + 1);
            va_start(ap, fields_fmt);
            vsnprintf(tmp, (size_t)n + 1, fields_fmt, ap);
            va_end(ap);
            buf_puts(&fields, tmp);
            free(tmp);
        }
    }

    struct buf line;
    buf_init(&line, 0);
    if (use_json) {
        buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts, level_names[level]);
        append_escaped(&line, msg, strlen(msg));
        buf_puts(&line, "\"");
        if (fields.len)
            fields_to_json(&line, fields.data);
        buf_puts(&line, "}");
    } else {
        buf_printf(&line, "ts=%s level=%s msg=\"", ts, level_names[level]);
        append_escaped(&line, msg, strlen(msg));
        buf_puts(&line, "\"");
        if (fields.len) {
            buf_puts(&line, " ");
            /* Fields keep their own quoting; only control bytes are escaped. */
            for (size_t i = 0; i < fields.len; i++) {
                unsigned char c = (unsigned char)fields.data[i];
                if (c < 0x20 || c == 0x7f)
                    buf_printf(&line, "\\x%02x", c);
                else
                    buf_append(&line, &fields.data[i], 1);
            }
        }
    }
    char *clean = redact_string(line.data);
    size_t len = strlen(clean);
    clean = xrealloc(clean, len + 2);
    clean[len] = '\n';
    ssize_t w = write(out_fd, clean, len + 1);
    (void)w;
    free(clean);
    buf_free(&line);
    buf_free(&fields);
}
