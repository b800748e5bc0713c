/* Helpers shared by the webhook intake suites. */
#include "support/webhook_helpers.h"

#include "util/util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wh_post(struct th_response *r, const struct th_server *ts, const char *path,
             const char *const *headers, const void *body, size_t len)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", ts->base, path);
    th_http(r, "POST", url, headers, body ? body : "", len);
}

cJSON *wh_json(const struct th_response *r)
{
    cJSON *j = cJSON_ParseWithLength(r->body, r->body_len);
    cr_assert_not_null(j, "answer is not JSON: %s", r->body);
    return j;
}

size_t wh_job_ids(const struct th_response *r, char ids[WH_MAX_IDS][37])
{
    cJSON *j = wh_json(r);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "job_ids");
    cr_assert(cJSON_IsArray(arr), "no job_ids in %s", r->body);
    size_t n = 0;
    const cJSON *id;
    cJSON_ArrayForEach(id, arr)
    {
        cr_assert(cJSON_IsString(id) && uuid_valid(id->valuestring), "bad job id in %s", r->body);
        cr_assert_lt(n, WH_MAX_IDS);
        snprintf(ids[n++], 37, "%s", id->valuestring);
    }
    cJSON_Delete(j);
    return n;
}

char *wh_error_code(const struct th_response *r)
{
    cJSON *j = wh_json(r);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    cr_assert(cJSON_IsObject(e), "no error object: %s", r->body);
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
    cr_assert(cJSON_IsString(code), "no error code: %s", r->body);
    cr_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "message")));
    cr_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "request_id")));
    char *out = xstrdup(code->valuestring);
    cJSON_Delete(j);
    return out;
}

char *wh_admin_url(void)
{
    const char *base = getenv("RAILHOOK_TEST_PGURL");
    cr_assert(base && *base, "RAILHOOK_TEST_PGURL is not set: run the suite through `make test`");
    return xasprintf("%s/postgres", base);
}
