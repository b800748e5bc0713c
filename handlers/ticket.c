/* Event stream tickets (handlers/ticket.h). */
#include "handlers/ticket.h"

#include "util/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#define MAC_LEN 32

/* The tickets' key: HMAC-SHA256 of a fixed label under the first configured token, so the
 * token itself never signs anything a client sees. */
static void ticket_key(const struct config *cfg, unsigned char key[MAC_LEN])
{
    const char *cur = *cfg->api_token ? cfg->api_token : cfg->api_admin_token;
    const char *tok = "";
    size_t len = 0;
    if (!secret_list_next(&cur, &tok, &len)) {
        tok = "";
        len = 0;
    }
    static const char label[] = "railhook events ticket key v1";
    unsigned int outlen = MAC_LEN;
    HMAC(EVP_sha256(), tok, (int)len, (const unsigned char *)label, sizeof(label) - 1, key,
         &outlen);
}

/* base64url without padding of MAC_LEN bytes into out (at least 44 bytes). */
static void b64url(const unsigned char *in, size_t n, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = abc[(v >> 18) & 63];
        out[o++] = abc[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = abc[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = abc[v & 63];
    }
    out[o] = '\0';
}

/* The ticket for expiry exp under cfg's key. */
static void ticket_make(const struct config *cfg, int64_t exp, char out[TICKET_LEN])
{
    unsigned char key[MAC_LEN], mac[MAC_LEN];
    ticket_key(cfg, key);
    char msg[48];
    int mlen = snprintf(msg, sizeof(msg), "%lld.events", (long long)exp);
    unsigned int outlen = MAC_LEN;
    HMAC(EVP_sha256(), key, MAC_LEN, (const unsigned char *)msg, (size_t)mlen, mac, &outlen);
    char sig[48];
    b64url(mac, MAC_LEN, sig);
    snprintf(out, TICKET_LEN, "%lld.%s", (long long)exp, sig);
    OPENSSL_cleanse(key, sizeof(key));
}

void ticket_issue(const struct config *cfg, int64_t now_s, char out[TICKET_LEN])
{
    ticket_make(cfg, now_s + TICKET_TTL_S, out);
}

bool ticket_valid(const struct config *cfg, const char *ticket, int64_t now_s)
{
    const char *dot = ticket ? strchr(ticket, '.') : NULL;
    if (!dot || dot == ticket || dot - ticket > 19)
        return false;
    char digits[20];
    memcpy(digits, ticket, (size_t)(dot - ticket));
    digits[dot - ticket] = '\0';
    int64_t exp = 0;
    if (digits[0] < '0' || digits[0] > '9' || !parse_i64(digits, 0, INT64_MAX / 2, &exp))
        return false;
    char want[TICKET_LEN];
    ticket_make(cfg, exp, want);
    bool same = ct_token_equal(want, strlen(want), ticket, strlen(ticket));
    return same && exp >= now_s && exp <= now_s + TICKET_TTL_S;
}
