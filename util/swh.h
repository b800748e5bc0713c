/* Standard Webhooks (standardwebhooks.com) primitives shared by the Supabase verifier
 * (handlers/verify.c) and the notification sender (notify/): base64, the "whsec_" key, and
 * the v1 signature over "<id>.<timestamp>.<body>". Pure functions, safe from any thread. */
#ifndef RAILHOOK_UTIL_SWH_H
#define RAILHOOK_UTIL_SWH_H

#include "util/status.h"

#include <stddef.h>

#define SWH_MAC_LEN 32  /* HMAC-SHA256 */
#define SWH_MAX_KEY 256 /* longest decoded key */
/* "v1," + base64 of one MAC + NUL */
#define SWH_SIGNATURE_LEN (3 + 4 * ((SWH_MAC_LEN + 2) / 3) + 1)

/* Decodes standard base64 (padding optional, no whitespace) of in[0..len) into out, at most
 * cap bytes; RH_INVALID for a bad character, a bad length or output past cap. */
enum rh_status swh_base64_decode(const char *in, size_t len, unsigned char *out, size_t cap,
                                 size_t *outlen);

/* Writes the padded standard base64 of in[0..n) and a NUL to out, which holds at least
 * 4 * ((n + 2) / 3) + 1 bytes. */
void swh_base64_encode(const unsigned char *in, size_t n, char *out);

/* Writes the unpadded base64url (RFC 4648 section 5) of in[0..n) and a NUL to out, which holds
 * at least 4 * ((n + 2) / 3) + 1 bytes. */
void swh_base64url_encode(const unsigned char *in, size_t n, char *out);

/* Turns a Standard Webhooks secret ("whsec_<base64>", Supabase's "v1,whsec_<base64>", or bare
 * base64) of len bytes into its HMAC key; RH_INVALID for an empty key or bad base64. */
enum rh_status swh_key_decode(const char *secret, size_t len, unsigned char key[SWH_MAX_KEY],
                              size_t *keylen);

/* HMAC-SHA256 of key over msg[0..len). */
void swh_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len,
                     unsigned char out[SWH_MAC_LEN]);

/* The v1 MAC of one message: HMAC-SHA256 under key of "<id>.<timestamp>.<body>". */
void swh_content_mac(const unsigned char *key, size_t keylen, const char *id, const char *timestamp,
                     const void *body, size_t len, unsigned char mac[SWH_MAC_LEN]);

/* Writes the webhook-signature header value "v1,<base64 MAC>" of one message to out. */
void swh_sign(const unsigned char *key, size_t keylen, const char *id, const char *timestamp,
              const void *body, size_t len, char out[SWH_SIGNATURE_LEN]);

#endif
