/* util: allocation wrappers that abort on exhaustion, a capped string buffer, clocks. */
#ifndef RAILWAY_SIM_UTIL_H
#define RAILWAY_SIM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* malloc/realloc/strdup that abort the process when memory runs out; free() the result. */
void *xmalloc(size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);

/* A growable byte buffer with a size cap; data is NUL-terminated when not NULL. */
struct strbuf {
    char *data;
    size_t len, cap, max;
    bool too_big;
};

/* Starts an empty buffer that refuses to grow past max bytes; release with strbuf_cleanup(). */
void strbuf_init(struct strbuf *sb, size_t max);

/* Appends n bytes; returns -1 (and sets too_big, keeping the old contents) past the cap. */
int strbuf_append(struct strbuf *sb, const char *s, size_t n);

/* Appends printf-formatted text, with the same cap rule as strbuf_append(). */
int strbuf_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Frees the buffer's storage; NULL-safe and idempotent. */
void strbuf_cleanup(struct strbuf *sb);

/* Milliseconds on the monotonic clock. */
int64_t util_monotonic_ms(void);

/* Milliseconds since the epoch (wall clock). */
int64_t util_wall_ms(void);

/* Formats epoch milliseconds as ISO 8601 UTC ("2026-08-21T10:00:00.000Z") into buf. */
void util_iso8601(int64_t epoch_ms, char *buf, size_t size);

/* Parses a whole decimal integer in [min, max]; returns 0, or -1 on junk or range. */
int util_parse_long(const char *s, long min, long max, long *out);

/* Parses a whole decimal floating-point number in [min, max]; returns 0 or -1. */
int util_parse_double(const char *s, double min, double max, double *out);

#endif
