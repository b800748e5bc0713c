/* application/x-www-form-urlencoded decoding, as GitHub sends with content type "form"
 * (payload=<url-encoded JSON>). Pure functions with a cap on everything they produce. */
#ifndef RAILHOOK_HANDLERS_FORM_H
#define RAILHOOK_HANDLERS_FORM_H

#include "util/status.h"

#include <stddef.h>

/* Decodes one component of in[0..len) ('+' is a space, %XX a byte) into a new NUL-terminated
 * string (free()) of at most max bytes. RH_INVALID for a malformed escape or output past max;
 * *out is then NULL. The output may hold NUL bytes; *outlen counts them. */
enum rh_status form_decode(const char *in, size_t len, size_t max, char **out, size_t *outlen);

/* Finds the first field of body[0..len) whose decoded name is name and decodes its value like
 * form_decode(). RH_NOT_FOUND when there is no such field, RH_INVALID when the body or the
 * value is malformed or too long. */
enum rh_status form_field_get(const char *body, size_t len, const char *name, size_t max,
                              char **out, size_t *outlen);

#endif
