/* Event stream tickets (handlers/ticket.h). */
#include "handlers/ticket.h"

#include "util/swh.h"
#include "util/util.h"

#include <openssl/crypto.h>
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
    swh_hmac_sha256(tok, len, label, sizeof(label) - 1, key);
}

/* The ticket for expiry exp under cfg's key. */
static void ticket_make(const struct config *cfg, int64_t exp, char out[TICKET_LEN])
{
    unsigned char key[MAC_LEN], mac[MAC_LEN];
    ticket_key(cfg, key);
    char msg[48];
    int mlen = snprintf(msg, sizeof(msg), "%lld.events", (long long)exp);
    swh_hmac_sha256(key, MAC_LEN, msg, (size_t)mlen, mac);
    char sig[48];
    swh_base64url_encode(mac, MAC_LEN, sig);
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
