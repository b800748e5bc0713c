/* Webhook authentication: GitHub HMAC signatures, bearer secrets, Standard Webhooks. */
#include "handlers/verify.h"

#include "util/swh.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SWH_MAX_ID        256
#define SWH_MAX_TIMESTAMP 19

bool verify_secrets_configured(const char *csv)
{
    const char *cur = csv ? csv : "";
    const char *s;
    size_t n;
    return secret_list_next(&cur, &s, &n);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

enum rh_status verify_github_header_parse(const char *header, unsigned char mac[VERIFY_MAC_LEN])
{
    static const char prefix[] = "sha256=";
    const size_t plen = sizeof(prefix) - 1;
    enum rh_status st = RH_INVALID;
    if (!header || strncmp(header, prefix, plen) != 0 ||
        strlen(header) != plen + 2 * VERIFY_MAC_LEN)
        goto out;
    const char *hex = header + plen;
    for (size_t i = 0; i < VERIFY_MAC_LEN; i++) {
        int hi = hex_value(hex[2 * i]);
        int lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            goto out;
        mac[i] = (unsigned char)(hi << 4 | lo);
    }
    st = RH_OK;
out:
    return st;
}

enum rh_status verify_github(const char *csv, const char *header, const void *body, size_t len,
                             const char **reason)
{
    enum rh_status st = RH_INVALID;
    const char *why = "no_secret";
    unsigned char want[VERIFY_MAC_LEN];
    bool match = false;
    const char *cur = csv;
    const char *s;
    size_t n;

    if (!verify_secrets_configured(csv))
        goto out;
    why = "missing_signature";
    if (!header || !*header)
        goto out;
    why = "malformed_signature";
    if (verify_github_header_parse(header, want) != RH_OK)
        goto out;
    while (secret_list_next(&cur, &s, &n)) {
        unsigned char mac[VERIFY_MAC_LEN];
        swh_hmac_sha256(s, n, body, len, mac);
        match |= ct_equal(mac, sizeof(mac), want, sizeof(want));
    }
    why = "signature_mismatch";
    if (match) {
        why = NULL;
        st = RH_OK;
    }
out:
    if (reason)
        *reason = why;
    return st;
}

enum rh_status verify_bearer(const char *csv, const char *authorization, const char **reason)
{
    enum rh_status st = RH_INVALID;
    const char *why = "no_secret";
    bool match = false;
    const char *cur = csv;
    const char *s;
    size_t n;
    const char *tok;
    size_t toklen;

    if (!verify_secrets_configured(csv))
        goto out;
    why = "missing_token";
    if (!authorization || !*authorization)
        goto out;
    why = "malformed_token";
    if (strncasecmp(authorization, "bearer ", 7) != 0)
        goto out;
    tok = authorization + 7;
    while (*tok == ' ')
        tok++;
    toklen = strlen(tok);
    while (toklen && (tok[toklen - 1] == ' ' || tok[toklen - 1] == '\t'))
        toklen--;
    if (toklen == 0)
        goto out;
    while (secret_list_next(&cur, &s, &n))
        match |= ct_token_equal(tok, toklen, s, n);
    why = "token_mismatch";
    if (match) {
        why = NULL;
        st = RH_OK;
    }
out:
    if (reason)
        *reason = why;
    return st;
}

enum rh_status verify_swh_signatures_parse(const char *header,
                                           unsigned char (*macs)[VERIFY_MAC_LEN], size_t max,
                                           size_t *n)
{
    *n = 0;
    const char *p = header ? header : "";
    while (*p && *n < max) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        const char *comma = memchr(p, ',', len);
        if (comma && comma - p == 2 && memcmp(p, "v1", 2) == 0) {
            size_t got = 0;
            const char *sig = comma + 1;
            size_t siglen = len - 3;
            if (swh_base64_decode(sig, siglen, macs[*n], VERIFY_MAC_LEN, &got) == RH_OK &&
                got == VERIFY_MAC_LEN)
                (*n)++;
        }
        p += len;
    }
    return *n > 0 ? RH_OK : RH_INVALID;
}

static bool id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > SWH_MAX_ID)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)id[i] <= 0x20 || (unsigned char)id[i] >= 0x7f)
            return false;
    return true;
}

static bool timestamp_parse(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > SWH_MAX_TIMESTAMP)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return parse_i64(s, 0, INT64_MAX / 2, out);
}

enum rh_status verify_swh(const char *csv, const struct verify_swh_input *in, const char **reason)
{
    enum rh_status st = RH_INVALID;
    const char *why = "no_secret";
    unsigned char(*sigs)[VERIFY_MAC_LEN] = NULL;
    size_t nsigs = 0;
    int64_t ts = 0;
    bool match = false;
    const char *cur = csv;
    const char *s;
    size_t n;

    if (!verify_secrets_configured(csv))
        goto out;
    why = "missing_id";
    if (!in->id || !*in->id)
        goto out;
    why = "malformed_id";
    if (!id_ok(in->id))
        goto out;
    why = "missing_timestamp";
    if (!in->timestamp || !*in->timestamp)
        goto out;
    why = "malformed_timestamp";
    if (!timestamp_parse(in->timestamp, &ts))
        goto out;
    why = "timestamp_too_old";
    if (in->now_s - ts > in->tolerance_s)
        goto out;
    why = "timestamp_too_new";
    if (ts - in->now_s > in->tolerance_s)
        goto out;
    why = "missing_signature";
    if (!in->signature || !*in->signature)
        goto out;
    why = "malformed_signature";
    sigs = xcalloc(VERIFY_MAX_SIGNATURES, sizeof(*sigs));
    if (verify_swh_signatures_parse(in->signature, sigs, VERIFY_MAX_SIGNATURES, &nsigs) != RH_OK)
        goto out;

    while (secret_list_next(&cur, &s, &n)) {
        unsigned char key[SWH_MAX_KEY];
        size_t keylen = 0;
        /* "v1,whsec_..." written in a comma-separated list splits into "v1" and "whsec_...". */
        if (n == 2 && memcmp(s, "v1", 2) == 0)
            continue;
        if (swh_key_decode(s, n, key, &keylen) != RH_OK)
            continue;
        unsigned char mac[VERIFY_MAC_LEN];
        /* The signed content is "<id>.<timestamp>.<raw body>". */
        swh_content_mac(key, keylen, in->id, in->timestamp, in->body, in->len, mac);
        for (size_t i = 0; i < nsigs; i++)
            match |= ct_equal(mac, sizeof(mac), sigs[i], sizeof(sigs[i]));
    }
    why = "signature_mismatch";
    if (match) {
        why = NULL;
        st = RH_OK;
    }
out:
    free(sigs);
    if (reason)
        *reason = why;
    return st;
}

int verify_swh_secrets_undecodable(const char *csv)
{
    const char *cur = csv;
    const char *t;
    size_t n;
    int bad = 0;
    while (secret_list_next(&cur, &t, &n)) {
        unsigned char key[SWH_MAX_KEY];
        size_t keylen = 0;
        /* "v1" alone is the front half of Supabase's "v1,whsec_..." split at its comma. */
        if (!(n == 2 && memcmp(t, "v1", 2) == 0) && swh_key_decode(t, n, key, &keylen) != RH_OK)
            bad++;
    }
    return bad;
}
