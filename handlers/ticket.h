/* Short-lived tickets for GET /events: a browser's EventSource cannot send an Authorization
 * header, so the page trades its read token for a ticket that goes in the URL instead. A
 * ticket is stateless ("<expiry>.<base64url HMAC-SHA256>"), so every instance that shares the
 * tokens verifies it. Pure functions, safe from any thread. */
#ifndef RAILHOOK_HANDLERS_TICKET_H
#define RAILHOOK_HANDLERS_TICKET_H

#include "util/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TICKET_TTL_S 60
#define TICKET_LEN   80 /* enough for any ticket and its NUL */

/* Writes the ticket valid until now_s + TICKET_TTL_S into out (TICKET_LEN bytes). The key is
 * derived from the first API_TOKEN (else the first API_ADMIN_TOKEN) of cfg. */
void ticket_issue(const struct config *cfg, int64_t now_s, char out[TICKET_LEN]);
/* True when ticket was issued under cfg's key and has not expired at now_s; the comparison is
 * constant-time. */
bool ticket_valid(const struct config *cfg, const char *ticket, int64_t now_s);

#endif
