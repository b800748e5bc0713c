/* Small leaf helpers shared by every module. */
#include "util/util.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void oom(void)
{
    static const char msg[] = "railhook: out of memory\n";
    fwrite(msg, 1, sizeof(msg) - 1, stderr);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *xcalloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom();
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom();
    char *p = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static bool fits(const struct buf *b, size_t n)
{
    return !b->max || (n <= b->max && b->len <= b->max - n);
}

bool buf_reserve(struct buf *b, size_t n)
{
    if (!fits(b, n))
        return false;
    if (b->len + n + 1 > b->cap) {
        b->data = xrealloc(b->data, b->len + n + 1);
        b->cap = b->len + n + 1;
        b->data[b->len] = '\0';
    }
    return true;
}

bool buf_append(struct buf *b, const void *data, size_t n)
{
    if (!fits(b, n))
        return false;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        /* The cap bounds memory, not only length: a full buffer holds max bytes and a NUL. */
        if (b->max && cap > b->max + 1)
            cap = b->max + 1;
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return true;
}

bool buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

bool buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return false;
    char small[256];
    char *tmp = (size_t)n < sizeof(small) ? small : xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(tmp, (size_t)n + 1, fmt, ap);
    va_end(ap);
    bool ok = buf_append(b, tmp, (size_t)n);
    if (tmp != small)
        free(tmp);
    return ok;
}

char *buf_steal(struct buf *b)
{
    char *p = b->data ? b->data : xstrdup("");
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

int64_t time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void time_mono_timespec(int64_t mono_ms, struct timespec *ts)
{
    ts->tv_sec = (time_t)(mono_ms / 1000);
    ts->tv_nsec = (long)(mono_ms % 1000) * 1000000L;
}

int64_t time_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void time_format_utc(char out[32], int64_t wall_ms)
{
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(wall_ms % 1000));
}

void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

bool ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return false;
    return CRYPTO_memcmp(a, b, alen) == 0;
}

/* SHA-256 is fetched from OpenSSL's provider once: an implicit fetch per digest (what
 * EVP_sha256() costs in OpenSSL 3) took half the time of hashing a short token. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!sha256_md)
        abort();
}

void sha256(const void *data, size_t len, unsigned char out[32])
{
    pthread_once(&sha256_once, sha256_fetch);
    unsigned int n = 0;
    if (EVP_Digest(data, len, out, &n, sha256_md, NULL) != 1)
        abort();
}

bool ct_token_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    unsigned char da[32], db[32];
    sha256(a, alen, da);
    sha256(b, blen, db);
    return ct_equal(da, sizeof(da), db, sizeof(db)) & (alen == blen);
}

bool secret_list_next(const char **cursor, const char **start, size_t *len)
{
    const char *p = *cursor;
    bool found = false;
    while (*p && !found) {
        size_t n = strcspn(p, ",");
        const char *s = p;
        const char *e = p + n;
        p += n;
        if (*p == ',')
            p++;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > s) {
            *start = s;
            *len = (size_t)(e - s);
            found = true;
        }
    }
    *cursor = p;
    return found;
}

/* Each thread draws from OpenSSL's generator a pool at a time and hands out its bytes once
 * each: one RAND_bytes call per request (for its id) cost a tenth of serving a cached job. */
#define RANDOM_POOL 512
static _Thread_local unsigned char random_pool[RANDOM_POOL];
static _Thread_local size_t random_left;

void random_bytes(void *out, size_t n)
{
    unsigned char *o = out;
    while (n > 0) {
        if (random_left == 0) {
            if (RAND_bytes(random_pool, RANDOM_POOL) != 1)
                abort();
            random_left = RANDOM_POOL;
        }
        size_t take = n < random_left ? n : random_left;
        unsigned char *from = random_pool + (RANDOM_POOL - random_left);
        memcpy(o, from, take);
        OPENSSL_cleanse(from, take); /* a byte handed out is never kept */
        random_left -= take;
        o += take;
        n -= take;
    }
}

uint64_t random_below(uint64_t bound)
{
    uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t r;
    do
        random_bytes(&r, sizeof(r));
    while (r >= limit);
    return r % bound;
}

void uuid_v4(char out[37])
{
    unsigned char b[16];
    char hex[33];
    random_bytes(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    hex_encode(b, sizeof(b), hex);
    /* 8-4-4-4-12 */
    static const unsigned char groups[] = {8, 4, 4, 4, 12};
    const char *h = hex;
    char *o = out;
    for (size_t g = 0; g < sizeof(groups); g++) {
        if (g)
            *o++ = '-';
        memcpy(o, h, groups[g]);
        o += groups[g];
        h += groups[g];
    }
    *o = '\0';
}

bool uuid_valid(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

bool parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (!s || !*s)
        return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}
