/* Test helpers for the webhook suites: fixtures (skipping when absent), request signing,
 * posting to the in-process server and reading job ids out of answers. */
#ifndef RAILHOOK_TEST_WEBHOOK_HELPERS_H
#define RAILHOOK_TEST_WEBHOOK_HELPERS_H

#include "support/harness.h"

#include <cjson/cJSON.h>
#include <stddef.h>

#define WH_GITHUB_SECRET "It's a Secret to Everybody"
#define WH_MAX_IDS       64

/* A fixture's bytes (free()); skips the test when ../shared/fixtures is absent. */
char *wh_fixture(const char *rel, size_t *len);
/* A fixture parsed as JSON (cJSON_Delete); skips the test when absent. */
cJSON *wh_fixture_json(const char *rel);
/* "sha256=<hex>" of body under secret into out. */
void wh_github_sign(const char *secret, const void *body, size_t len, char out[72]);
/* "v1,<base64>" Standard Webhooks signature of id.ts.body under a whsec_ secret into out. */
void wh_swh_sign(const char *whsec, const char *id, const char *ts, const void *body, size_t len,
                 char *out, size_t cap);
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
