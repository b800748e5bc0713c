/* Private to notify/: one HTTP attempt of a notification. */
#ifndef RAILHOOK_NOTIFY_INT_H
#define RAILHOOK_NOTIFY_INT_H

#include "notify/notify.h"
#include "util/swh.h"

#include <curl/curl.h>
#include <stdatomic.h>

/* The answer to one POST. */
struct notify_answer {
    long http_status;  /* 0: no answer (timeout, connection error, aborted) */
    int retry_after_s; /* the Retry-After header in seconds, 0 when absent */
    char excerpt[160]; /* a redacted excerpt of the body or of the error, for the record */
};

/* POSTs body to url signed with key under the id webhook_id and a fresh timestamp, with curl
 * handle h (reset here), within timeout_s, following no redirect; stop aborts it early. */
void notify_post(CURL *h, const char *url, const char *webhook_id, const unsigned char *key,
                 size_t keylen, const char *body, int timeout_s, const atomic_bool *stop,
                 struct notify_answer *out);

#endif
