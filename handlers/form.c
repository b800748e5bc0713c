/* x-www-form-urlencoded decoding. */
#include "handlers/form.h"

#include "util/util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FORM_MAX_NAME 256

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

enum rh_status form_decode(const char *in, size_t len, size_t max, char **out, size_t *outlen)
{
    enum rh_status st = RH_INVALID;
    /* Decoding never grows the text, so the smaller of len and max bounds the output. */
    size_t cap = len < max ? len : max;
    char *dst = xmalloc(cap + 1);
    size_t o = 0;

    *out = NULL;
    *outlen = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            if (len - i < 3)
                goto out;
            int hi = hex_digit(in[i + 1]);
            int lo = hex_digit(in[i + 2]);
            if (hi < 0 || lo < 0)
                goto out;
            c = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (o == cap)
            goto out;
        dst[o++] = c;
    }
    dst[o] = '\0';
    *out = dst;
    *outlen = o;
    dst = NULL;
    st = RH_OK;
out:
    free(dst);
    return st;
}

enum rh_status form_field_get(const char *body, size_t len, const char *name, size_t max,
                              char **out, size_t *outlen)
{
    enum rh_status st = RH_NOT_FOUND;
    size_t pos = 0;
    size_t want = strlen(name);

    *out = NULL;
    *outlen = 0;
    while (pos < len && st == RH_NOT_FOUND) {
        const char *field = body + pos;
        const char *amp = memchr(field, '&', len - pos);
        size_t flen = amp ? (size_t)(amp - field) : len - pos;
        pos += flen + (amp ? 1 : 0);
        const char *eq = memchr(field, '=', flen);
        size_t nlen = eq ? (size_t)(eq - field) : flen;
        char *key = NULL;
        size_t keylen = 0;
        if (form_decode(field, nlen, FORM_MAX_NAME, &key, &keylen) != RH_OK) {
            st = RH_INVALID;
            break;
        }
        bool hit = flen > 0 && keylen == want && memcmp(key, name, want) == 0;
        free(key);
        if (hit && eq)
            st = form_decode(eq + 1, flen - nlen - 1, max, out, outlen);
        else if (hit)
            st = form_decode("", 0, max, out, outlen);
    }
    return st;
}
