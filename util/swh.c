/* Standard Webhooks primitives (util/swh.h). */
#include "util/swh.h"

#include "util/util.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char b64_digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(unsigned char c)
{
    const char *p = c ? strchr(b64_digits, c) : NULL;
    return p ? (int)(p - b64_digits) : -1;
}

enum rh_status swh_base64_decode(const char *in, size_t len, unsigned char *out, size_t cap,
                                 size_t *outlen)
{
    enum rh_status st = RH_INVALID;
    size_t pad = 0;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;

    while (len > 0 && pad < 2 && in[len - 1] == '=') {
        len--;
        pad++;
    }
    if ((pad && (len + pad) % 4 != 0) || len % 4 == 1)
        goto out;
    if (len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0) > cap)
        goto out;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)in[i]);
        if (v < 0)
            goto out;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    *outlen = o;
    st = RH_OK;
out:
    return st;
}

/* Base64 of in[0..n) with the alphabet abc, padded with '=' or not, and a NUL. */
static void base64_encode(const unsigned char *in, size_t n, char *out, const char *abc, bool pad)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = abc[(v >> 18) & 63];
        out[o++] = abc[(v >> 12) & 63];
        if (i + 1 < n || pad)
            out[o++] = i + 1 < n ? abc[(v >> 6) & 63] : '=';
        if (i + 2 < n || pad)
            out[o++] = i + 2 < n ? abc[v & 63] : '=';
    }
    out[o] = '\0';
}

void swh_base64_encode(const unsigned char *in, size_t n, char *out)
{
    base64_encode(in, n, out, b64_digits, true);
}

void swh_base64url_encode(const unsigned char *in, size_t n, char *out)
{
    base64_encode(in, n, out, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                  false);
}

enum rh_status swh_key_decode(const char *secret, size_t len, unsigned char key[SWH_MAX_KEY],
                              size_t *keylen)
{
    enum rh_status st = RH_INVALID;
    if (len >= 3 && memcmp(secret, "v1,", 3) == 0) {
        secret += 3;
        len -= 3;
    }
    if (len >= 6 && memcmp(secret, "whsec_", 6) == 0) {
        secret += 6;
        len -= 6;
    }
    if (len > 0 && swh_base64_decode(secret, len, key, SWH_MAX_KEY, keylen) == RH_OK && *keylen > 0)
        st = RH_OK;
    return st;
}

void swh_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len,
                     unsigned char out[SWH_MAC_LEN])
{
    unsigned int outlen = 0;
    HMAC(EVP_sha256(), key, (int)keylen, msg ? msg : "", len, out, &outlen);
}

void swh_content_mac(const unsigned char *key, size_t keylen, const char *id, const char *timestamp,
                     const void *body, size_t len, unsigned char mac[SWH_MAC_LEN])
{
    size_t idlen = strlen(id);
    size_t tslen = strlen(timestamp);
    size_t clen = idlen + 1 + tslen + 1 + len;
    char *content = xmalloc(clen);
    memcpy(content, id, idlen);
    content[idlen] = '.';
    memcpy(content + idlen + 1, timestamp, tslen);
    content[idlen + 1 + tslen] = '.';
    if (len)
        memcpy(content + idlen + tslen + 2, body, len);
    swh_hmac_sha256(key, keylen, content, clen, mac);
    free(content);
}

void swh_sign(const unsigned char *key, size_t keylen, const char *id, const char *timestamp,
              const void *body, size_t len, char out[SWH_SIGNATURE_LEN])
{
    unsigned char mac[SWH_MAC_LEN];
    swh_content_mac(key, keylen, id, timestamp, body, len, mac);
    memcpy(out, "v1,", 3);
    swh_base64_encode(mac, sizeof(mac), out + 3);
}
