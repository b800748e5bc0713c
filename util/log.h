/* One log line per event, logfmt or JSON, written with a single write(2) so lines from
 * different threads never interleave. Every line passes through the secret redactor. */
#ifndef RAILHOOK_LOG_H
#define RAILHOOK_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Sets the minimum level, the format and the output fd (2 by default). Call before threads. */
void log_setup(enum log_level min_level, bool json, int fd);
/* Parses "debug", "info", "warn" or "error"; false for anything else. */
bool log_level_parse(const char *s, enum log_level *out);
/* Logs msg (free text, quoted as needed) and key=value fields formatted from fields_fmt.
 * Field values must not contain spaces unless written as key="..." by the caller. */
void log_msg(enum log_level level, const char *msg, const char *fields_fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(msg, ...) log_msg(LOG_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...)  log_msg(LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...)  log_msg(LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_msg(LOG_ERROR, msg, __VA_ARGS__)

#endif
