/* Logging: builds each line in memory from typed fields, redacting and escaping every string,
 * and writes it with one write(2).
 *
 * Threading: the settings are written by log_setup() before threads start and only read
 * afterwards; each line is built in a buffer of its own. */
#include "util/log.h"

#include "util/redact.h"
#include "util/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static bool use_json;
static int out_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

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

/* The length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms, no surrogates,
 * nothing past U+10FFFF) that starts at p, or 0 when p does not start one. */
static size_t utf8_len(const unsigned char *p)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        lo = p[0] == 0xe0 ? 0xa0 : 0x80;
        hi = p[0] == 0xed ? 0x9f : 0xbf;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        lo = p[0] == 0xf0 ? 0x90 : 0x80;
        hi = p[0] == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

/* Appends s as the inside of a JSON string: '"', '\' and control bytes escaped, valid UTF-8
 * kept, each other byte replaced by U+FFFD. */
static void append_escaped(struct buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *run = p; /* start of bytes still to copy as they are */
    while (*p) {
        size_t n = utf8_len(p);
        bool plain = n > 1 || (n == 1 && *p >= 0x20 && *p != 0x7f && *p != '"' && *p != '\\');
        if (plain) {
            p += n;
            continue;
        }
        buf_append(b, run, (size_t)(p - run));
        if (n == 0)
            buf_puts(b, "\xef\xbf\xbd");
        else if (*p == '"' || *p == '\\')
            buf_printf(b, "\\%c", *p);
        else if (*p == '\n')
            buf_puts(b, "\\n");
        else if (*p == '\r')
            buf_puts(b, "\\r");
        else if (*p == '\t')
            buf_puts(b, "\\t");
        else
            buf_printf(b, "\\u%04x", *p);
        p++;
        run = p;
    }
    buf_append(b, run, (size_t)(p - run));
}

/* True when a logfmt value can be written without quotes. */
static bool logfmt_bare(const char *s)
{
    if (!*s)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == 0x7f || *p == '=' || *p == '"' || *p == '\\')
            return false;
    return true;
}

/* Appends a redacted string value: always quoted in JSON, quoted when needed in logfmt. */
static void append_string(struct buf *b, const char *s)
{
    char *clean = redact_string(s);
    if (use_json || !logfmt_bare(clean)) {
        buf_puts(b, "\"");
        append_escaped(b, clean);
        buf_puts(b, "\"");
    } else {
        append_escaped(b, clean); /* only replaces invalid UTF-8 here */
    }
    free(clean);
}

/* Appends d in the fewest digits that read back as the same double. */
static void append_double(struct buf *b, double d)
{
    char text[32];
    if (!isfinite(d)) {
        buf_puts(b, use_json ? "null" : isnan(d) ? "nan" : d > 0 ? "inf" : "-inf");
        return;
    }
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(text, sizeof(text), "%.*g", digits, d);
        if (strtod(text, NULL) == d)
            break;
    }
    buf_puts(b, text);
}

static void append_field(struct buf *b, const struct log_field *f)
{
    buf_puts(b, use_json ? ",\"" : " ");
    buf_puts(b, f->key);
    buf_puts(b, use_json ? "\":" : "=");
    switch (f->type) {
    case LOG_FIELD_STR:
        if (f->v.s)
            append_string(b, f->v.s);
        else if (use_json)
            buf_puts(b, "null");
        break;
    case LOG_FIELD_INT:
        buf_printf(b, "%lld", f->v.i);
        break;
    case LOG_FIELD_DOUBLE:
        append_double(b, f->v.d);
        break;
    case LOG_FIELD_BOOL:
        buf_puts(b, f->v.b ? "true" : "false");
        break;
    }
}

/* Writes all of data, retrying when a signal or a full pipe cuts the write short. */
static void write_all(const char *data, size_t len)
{
    while (len > 0) {
        ssize_t w = write(out_fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere left to report it */
        data += w;
        len -= (size_t)w;
    }
}

void log_line_write(enum log_level level, const char *msg, const struct log_field *fields)
{
    if (level < min_level)
        return;
    char ts[32];
    time_format_utc(ts, time_wall_ms());

    struct buf line;
    buf_init(&line, 0);
    buf_reserve(&line, 256);
    buf_puts(&line, use_json ? "{\"ts\":\"" : "ts=");
    buf_puts(&line, ts);
    buf_puts(&line, use_json ? "\",\"level\":\"" : " level=");
    buf_puts(&line, level_names[level]);
    buf_puts(&line, use_json ? "\",\"msg\":" : " msg=");
    /* The message is always quoted, as it mostly holds blanks. */
    char *clean = redact_string(msg);
    buf_puts(&line, "\"");
    append_escaped(&line, clean);
    buf_puts(&line, "\"");
    free(clean);
    for (const struct log_field *f = fields; f && f->key; f++)
        append_field(&line, f);
    buf_puts(&line, use_json ? "}\n" : "\n");
    write_all(line.data, line.len);
    buf_free(&line);
}
