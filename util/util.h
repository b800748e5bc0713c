/* Small leaf helpers: allocation that aborts on exhaustion, a capped growable buffer,
 * time, hex, random ids and constant-time comparison. Depends on nothing in railhook. */
#ifndef RAILHOOK_UTIL_H
#define RAILHOOK_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Allocation wrappers: abort the process when memory is exhausted, never return NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string the caller frees with free(). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable byte buffer with a cap; always NUL-terminated after data. */
struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* 0 = unlimited */
};

/* Initialises an empty buffer that refuses to grow past max bytes (0: no cap). */
void buf_init(struct buf *b, size_t max);
/* Frees the buffer's memory; safe to call twice. */
void buf_free(struct buf *b);
/* Makes room for n more bytes in one allocation (a body of known length, say); false (and
 * nothing allocated) when the cap would be passed. */
bool buf_reserve(struct buf *b, size_t n);
/* Appends n bytes; returns false (and appends nothing) when the cap would be passed. Growth
 * doubles but never allocates past the cap. */
bool buf_append(struct buf *b, const void *data, size_t n);
bool buf_puts(struct buf *b, const char *s);
bool buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);
/* Hands the data to the caller (free with free()) and leaves the buffer empty. */
char *buf_steal(struct buf *b);

/* Milliseconds on the monotonic clock. */
int64_t time_mono_ms(void);
/* The CLOCK_MONOTONIC time mono_ms as a timespec, for pthread_cond_timedwait() on a condition
 * variable whose clock is CLOCK_MONOTONIC. */
void time_mono_timespec(int64_t mono_ms, struct timespec *ts);
/* Milliseconds since the Unix epoch. */
int64_t time_wall_ms(void);
/* Writes an RFC 3339 UTC timestamp with milliseconds ("2026-11-27T22:19:06.123Z"). */
void time_format_utc(char out[32], int64_t wall_ms);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void hex_encode(const unsigned char *in, size_t n, char *out);
/* Constant-time comparison of two byte strings; false when lengths differ. */
bool ct_equal(const void *a, size_t alen, const void *b, size_t blen);
/* The SHA-256 of len bytes; every SHA-256 in railhook goes through here. */
void sha256(const void *data, size_t len, unsigned char out[32]);
/* Compares a presented token with a secret through the SHA-256 of each, so the time taken
 * tells nothing of either length or of where they differ. */
bool ct_token_equal(const char *a, size_t alen, const char *b, size_t blen);
/* Steps *cursor through a comma-separated secret list: the next non-empty entry, blanks
 * (spaces, tabs) around it trimmed, as start and len. False at the end of the list. Every
 * reader of a secret list (verifiers, API tokens, the redactor) walks it with this. */
bool secret_list_next(const char **cursor, const char **start, size_t *len);
/* Fills out with n cryptographically random bytes (OpenSSL's generator, drawn through a
 * per-thread pool). */
void random_bytes(void *out, size_t n);
/* A random uniform integer in [0, bound) (bound > 0). */
uint64_t random_below(uint64_t bound);
/* A random RFC 4122 version-4 uuid string (37 bytes with NUL). */
void uuid_v4(char out[37]);
/* True when s is a canonical uuid string (hex, dashes at 8-4-4-4-12). */
bool uuid_valid(const char *s);
/* Parses a base-10 integer in [min, max]; false for anything else. */
bool parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

#endif
