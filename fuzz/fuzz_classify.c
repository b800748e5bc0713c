/* libFuzzer target: the classification of Railway's answers (railway_classify()) and the
 * event details built from it (railway_result_details()). The input is an answer: two bytes
 * of HTTP status, header lines up to an empty line, then the body. Every answer must come out
 * as ok, transient or permanent with a code; ok only for a 200 carrying a data object; 429
 * and 5xx always transient; waits within bounds; and no registered secret may survive into
 * the message, the excerpt or the details. */
#include "railway/railway.h"
#include "util/redact.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const secrets[] = {"fz-alpha-7731", "alpha-7731-omega", "pgpass-fuzz-0042"};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        redact_register(secrets[i]);
    return 0;
}

static void no_secret(const char *text)
{
    if (!text)
        return;
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        if (strstr(text, secrets[i])) {
            fprintf(stderr, "secret %s leaked into: %s\n", secrets[i], text);
            abort();
        }
}

static void no_secret_in_tree(const cJSON *j)
{
    for (; j; j = j->next) {
        no_secret(j->string);
        if (cJSON_IsString(j))
            no_secret(j->valuestring);
        no_secret_in_tree(j->child);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    struct railway_answer a;
    railway_answer_init(&a, 1780000000000LL);
    a.http_status = (long)(((unsigned)data[0] << 8 | data[1]) % 600);
    size_t pos = 2;
    /* Header lines, each handed over with its line ending as curl does, up to a blank line. */
    while (pos < size) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t len = nl ? (size_t)(nl - (data + pos)) + 1 : size - pos;
        if (len == 1 || (len == 2 && data[pos] == '\r')) {
            pos += len;
            break;
        }
        railway_answer_header(&a, (const char *)data + pos, len);
        pos += len;
    }
    a.body = (const char *)data + pos;
    a.body_len = size - pos;
    if (a.retry_after_s < 0 || a.retry_after_s > 3600)
        abort();
    if (a.rate_reset_in_ms < 0 || a.rate_reset_in_ms > 3600 * 1000)
        abort();

    struct railway_result res;
    enum rh_status st = railway_classify(&a, &res);
    if (st != res.status || (st != RH_OK && st != RH_TRANSIENT && st != RH_PERMANENT))
        abort();
    if ((st == RH_OK) != (res.error == RAILWAY_ERR_NONE) ||
        memchr(res.message, '\0', sizeof(res.message)) == NULL)
        abort();
    if (st == RH_OK && (a.http_status != 200 || !cJSON_IsObject(res.data)))
        abort();
    if ((a.http_status == 429 || a.http_status >= 500) && st != RH_TRANSIENT)
        abort();
    if (a.http_status == 429 && res.retry_after_ms < 1000)
        abort();
    if (res.retry_after_ms < 0 || res.retry_after_ms > 3600 * 1000)
        abort();
    if (res.excerpt && strlen(res.excerpt) > 2000)
        abort();
    no_secret(res.message);
    no_secret(res.excerpt);

    /* The details' values, not their JSON text: an escape such as \u000f followed by
     * "z-alpha..." spells a secret in the text without any value holding it. */
    cJSON *details = railway_result_details("FuzzOp", &res);
    no_secret_in_tree(details);
    cJSON_Delete(details);
    railway_result_free(&res);
    return 0;
}
