/* One log line per event, logfmt or JSON, with typed key/value fields that the logger escapes
 * itself. Every string passes through the secret redactor; each line is one write(2).
 *
 * Threading: log_setup() runs before any thread starts; afterwards every other call here is
 * safe from any thread (the settings are only read, and each line is written with one call).
 *
 * Usage: log_info("job succeeded", LOG_STR("job", id), LOG_INT("attempt", n));
 *        log_warn("stopped");
 *
 * Output: logfmt  ts=... level=info msg="job succeeded" job=42 attempt=1
 *         JSON    {"ts":"...","level":"info","msg":"job succeeded","job":"42","attempt":1}
 * In logfmt a value is written bare unless it is empty or holds a blank, a control byte, '=',
 * '"' or '\'; then it is quoted with the JSON string escapes, so every quoted logfmt value is
 * also a valid JSON string. Strings are redacted before they are escaped. Each byte that is
 * not part of a well-formed UTF-8 sequence becomes U+FFFD in both formats, so JSON lines are
 * always valid. A NULL string is JSON null and an empty logfmt value (key=). A double that is
 * not finite is JSON null and nan, inf or -inf in logfmt. */
#ifndef RAILHOOK_LOG_H
#define RAILHOOK_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

enum log_field_type { LOG_FIELD_STR, LOG_FIELD_INT, LOG_FIELD_DOUBLE, LOG_FIELD_BOOL };

/* One key/value pair; build it with LOG_STR, LOG_INT, LOG_DOUBLE or LOG_BOOL. A NULL key ends
 * a field list. */
struct log_field {
    const char *key;
    enum log_field_type type;
    union {
        const char *s;
        long long i;
        double d;
        bool b;
    } v;
};

/* Field builders. The name must be a string literal of [a-z0-9_] (a variable does not
 * compile); the value is converted as in an assignment, so a pointer given as a number, or a
 * number as a string, is a compile error under -Werror. A string is borrowed until the log
 * call returns. */
#define LOG_STR(name, value)                                                                       \
    ((struct log_field){.key = "" name "", .type = LOG_FIELD_STR, .v.s = (value)})
#define LOG_INT(name, value)                                                                       \
    ((struct log_field){.key = "" name "", .type = LOG_FIELD_INT, .v.i = (value)})
#define LOG_DOUBLE(name, value)                                                                    \
    ((struct log_field){.key = "" name "", .type = LOG_FIELD_DOUBLE, .v.d = (value)})
#define LOG_BOOL(name, value)                                                                      \
    ((struct log_field){.key = "" name "", .type = LOG_FIELD_BOOL, .v.b = (value)})

/* log_at(level, msg, fields...): msg is free text; zero or more fields follow. The field list
 * is a compound literal ended by a NULL key, so a call with no fields needs no empty
 * __VA_ARGS__. */
#define LOG_FIELDS_END_     ((struct log_field){.key = 0})
#define LOG_ARGS_(msg, ...) (msg), ((const struct log_field[]){__VA_ARGS__})
#define log_at(level, ...)  log_line_write((level), LOG_ARGS_(__VA_ARGS__, LOG_FIELDS_END_))
#define log_debug(...)      log_at(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)       log_at(LOG_INFO, __VA_ARGS__)
#define log_warn(...)       log_at(LOG_WARN, __VA_ARGS__)
#define log_error(...)      log_at(LOG_ERROR, __VA_ARGS__)

/* Sets the minimum level, the format (JSON or logfmt) and the output fd (2 by default). Call
 * before threads start. */
void log_setup(enum log_level min_level, bool json, int fd);
/* Parses "debug", "info", "warn" (or "warning") or "error", in any case; false for anything
 * else. */
bool log_level_parse(const char *s, enum log_level *out);
/* Writes one line for msg and the fields up to the one with a NULL key, when level is at least
 * the minimum. Borrows everything; use the log_* macros rather than calling it directly. */
void log_line_write(enum log_level level, const char *msg, const struct log_field *fields);

#endif
