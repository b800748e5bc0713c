/* libFuzzer target: the signature header parsers and checks. Input: four lines (signature
 * header, webhook-timestamp, a secret list or Authorization value, webhook-id) and then the
 * body. Nothing may crash, leak or read out of bounds, whatever the bytes. */
#include "handlers/verify.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Cuts the next line (up to '\n') off *p as a new NUL-terminated string. */
static char *next_line(const uint8_t **p, size_t *left)
{
    const uint8_t *nl = memchr(*p, '\n', *left);
    size_t n = nl ? (size_t)(nl - *p) : *left;
    char *s = malloc(n + 1);
    memcpy(s, *p, n);
    s[n] = '\0';
    *p += n + (nl ? 1 : 0);
    *left -= n + (nl ? 1 : 0);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data;
    size_t left = size;
    char *header = next_line(&p, &left);
    char *timestamp = next_line(&p, &left);
    char *secrets = next_line(&p, &left);
    char *id = next_line(&p, &left);
    const char *reason = NULL;

    unsigned char mac[VERIFY_MAC_LEN];
    verify_github_header_parse(header, mac);
    verify_github(secrets, header, p, left, &reason);
    verify_github("It's a Secret to Everybody", header, p, left, &reason);
    verify_bearer(secrets, header, &reason);

    unsigned char macs[VERIFY_MAX_SIGNATURES][VERIFY_MAC_LEN];
    size_t n = 0;
    verify_swh_signatures_parse(header, macs, VERIFY_MAX_SIGNATURES, &n);
    unsigned char key[SWH_MAX_KEY];
    size_t keylen = 0;
    swh_key_decode(secrets, strlen(secrets), key, &keylen);
    unsigned char raw[512];
    swh_base64_decode(header, strlen(header), raw, sizeof(raw), &n);

    struct verify_swh_input in = {
        .id = id,
        .timestamp = timestamp,
        .signature = header,
        .body = p,
        .len = left,
        .now_s = 1614265330,
        .tolerance_s = VERIFY_SWH_TOLERANCE_S,
    };
    verify_swh(secrets, &in, &reason);
    verify_swh("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &in, &reason);

    free(header);
    free(timestamp);
    free(secrets);
    free(id);
    return 0;
}
