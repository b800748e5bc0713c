/* The process-wide list of secret values (tokens, webhook secrets, the database password)
 * and the filter that blanks them out of any text before it is logged or stored. */
#ifndef RAILHOOK_REDACT_H
#define RAILHOOK_REDACT_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Adds a secret; empty strings are ignored. Call before threads start (the list is then
 * read-only and safe to read from any thread). */
void redact_register(const char *secret);
/* Forgets every secret (tests). */
void redact_clear(void);
/* Returns a new string (free with free()) equal to s with every secret replaced by
 * "[REDACTED]" (where secrets overlap, the longest one wins), and any "Bearer <token>" value
 * blanked too. */
char *redact_string(const char *s);
/* The unformatted JSON text of j (free with free()) with every string value and every object
 * key passed through redact_string(); j is not changed. */
char *redact_json(const cJSON *j);

#endif
