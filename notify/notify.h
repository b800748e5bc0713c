/* Job notifications out: the senders that deliver the outbox (migration 006) to NOTIFY_URLS,
 * signed the Standard Webhooks way, and to the manifest row (MANIFEST_STATUS_COLUMNS). They
 * have their own threads and database connections, so a slow or dead receiver never delays
 * jobs or intake. */
#ifndef RAILHOOK_NOTIFY_NOTIFY_H
#define RAILHOOK_NOTIFY_NOTIFY_H

#include "store/store.h"
#include "util/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct notify;

/* Writes the settings the outbox trigger follows (which sinks each job change gets) and starts
 * NOTIFY_SENDERS threads when this instance has something to send (NOTIFY_URLS, or the
 * write-back). When the database does not answer, a thread keeps trying to write the settings.
 * cfg and store outlive the handle. */
struct notify *notify_start(const struct config *cfg, struct store *store);
/* Stops the senders (an attempt in flight is abandoned: its lease ends and it is sent again)
 * and frees the handle; NULL-safe. */
void notify_stop(struct notify *n);

/* What to do after an attempt. */
enum notify_verdict { NOTIFY_DELIVERED, NOTIFY_RETRY, NOTIFY_GIVE_UP };

/* Judges an HTTP answer: 2xx delivered; 5xx, 429 and no answer at all (http_status 0: a
 * timeout or connection error) retried; anything else (other 4xx, a redirect) given up. */
enum notify_verdict notify_http_verdict(long http_status);

/* The delay before attempt number attempt + 1, in milliseconds: base_s doubled per attempt,
 * with jitter (75 % to 100 %) from rand01 in [0, 1), at least retry_after_s (the receiver's
 * Retry-After, 0: none), never beyond an hour. */
int64_t notify_retry_delay_ms(int attempt, int base_s, int retry_after_s, double rand01);

#endif
