/* Authentication of webhook deliveries: GitHub's X-Hub-Signature-256, bearer shared secrets
 * and Standard Webhooks signatures. Pure functions (no I/O, no globals, the clock is passed
 * in), safe from any thread. Every comparison of secret material is constant-time, and every
 * configured secret is tried so the time taken does not depend on which one matched.
 *
 * Secret lists are comma-separated (rotation: old and new side by side); blanks around each
 * secret are ignored, and so are empty entries. */
#ifndef RAILHOOK_HANDLERS_VERIFY_H
#define RAILHOOK_HANDLERS_VERIFY_H

#include "util/status.h"
#include "util/swh.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VERIFY_MAC_LEN         SWH_MAC_LEN /* HMAC-SHA256 */
#define VERIFY_MAX_SIGNATURES  16 /* v1 entries of one webhook-signature header looked at */
#define VERIFY_SWH_TOLERANCE_S 300

/* True when the comma-separated list holds at least one non-empty secret. */
bool verify_secrets_configured(const char *csv);

/* Parses an X-Hub-Signature-256 value ("sha256=" + 64 lowercase hex digits) into mac;
 * RH_INVALID for anything else (uppercase hex, another prefix, a wrong length). */
enum rh_status verify_github_header_parse(const char *header, unsigned char mac[VERIFY_MAC_LEN]);

/* Checks header (may be NULL) against the HMAC-SHA256 of the raw body under every secret in
 * csv. RH_OK when one matches; otherwise RH_INVALID with *reason set to a static code
 * ("no_secret", "missing_signature", "malformed_signature", "signature_mismatch"). */
enum rh_status verify_github(const char *csv, const char *header, const void *body, size_t len,
                             const char **reason);

/* Checks an Authorization header ("Bearer <token>", scheme case-insensitive; may be NULL)
 * against every secret in csv. RH_OK on a match, else RH_INVALID with *reason set. */
enum rh_status verify_bearer(const char *csv, const char *authorization, const char **reason);

/* Parses a webhook-signature header (space-separated "<version>,<base64>" entries) into the
 * MACs of its well-formed "v1" entries, at most max of them; other versions and malformed
 * entries are skipped. RH_INVALID when no v1 entry is usable. */
enum rh_status verify_swh_signatures_parse(const char *header,
                                           unsigned char (*macs)[VERIFY_MAC_LEN], size_t max,
                                           size_t *n);

/* One Standard Webhooks delivery: its three headers (each may be NULL), the raw body, the
 * current time in Unix seconds and the accepted clock skew either way. */
struct verify_swh_input {
    const char *id;
    const char *timestamp;
    const char *signature;
    const void *body;
    size_t len;
    int64_t now_s;
    int tolerance_s;
};

/* Verifies a Standard Webhooks delivery against every secret in csv ("v1,whsec_..." entries
 * may be written with their comma). RH_OK when a v1 signature matches within the timestamp
 * window; otherwise RH_INVALID with *reason one of "no_secret", "missing_id", "malformed_id",
 * "missing_timestamp", "malformed_timestamp", "timestamp_too_old", "timestamp_too_new",
 * "missing_signature", "malformed_signature", "signature_mismatch". */
enum rh_status verify_swh(const char *csv, const struct verify_swh_input *in, const char **reason);

/* How many entries of a comma-separated Standard Webhooks secret list do not decode as
 * whsec_<base64> ("v1" alone, the front of a split "v1,whsec_..." value, is skipped). */
int verify_swh_secrets_undecodable(const char *csv);

#endif
