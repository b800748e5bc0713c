/* Test helpers for the webhook suites: posting to the in-process server and reading job ids
 * and errors out of answers. The deliveries themselves come from support/deliveries.h. */
#ifndef RAILHOOK_TEST_WEBHOOK_HELPERS_H
#define RAILHOOK_TEST_WEBHOOK_HELPERS_H

#include "support/harness.h"

#include <cjson/cJSON.h>
#include <stddef.h>

#define WH_MAX_IDS 64

/* POSTs body to ts's path with the given extra headers (NULL-terminated). */
void wh_post(struct th_response *r, const struct th_server *ts, const char *path,
             const char *const *headers, const void *body, size_t len);
/* The answer's JSON body; fails the test when it is not JSON. */
cJSON *wh_json(const struct th_response *r);
/* The "job_ids" of an answer (fails the test without the array); returns how many. */
size_t wh_job_ids(const struct th_response *r, char ids[WH_MAX_IDS][37]);
/* The error code of an error answer, checking the error body's shape (free()). */
char *wh_error_code(const struct th_response *r);
/* The admin URL of the suite's cluster ("postgres" database; free()). */
char *wh_admin_url(void);

#endif
