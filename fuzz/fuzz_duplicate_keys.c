/* libFuzzer target: the duplicate-key check every JSON body goes through. The input is a
 * request body; after the same UTF-8 check and bounded parse as a delivery, the sorted search
 * of webhook_json_duplicate_key() must agree with a plain pairwise search, and a path it
 * reports must fit the caller's buffer. */
#include "handlers/mapping.h"
#include "handlers/webhook.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The oracle: every pair of keys of every object, compared one by one. */
static bool repeated_somewhere(const cJSON *j)
{
    bool found = false;
    for (const cJSON *a = j ? j->child : NULL; a && !found; a = a->next) {
        if (cJSON_IsObject(j))
            for (const cJSON *b = a->next; b && !found; b = b->next)
                found = strcmp(a->string ? a->string : "", b->string ? b->string : "") == 0;
        found = found || repeated_somewhere(a);
    }
    return found;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384 || !mapping_utf8_valid(data, size))
        return 0;
    cJSON *j = cJSON_ParseWithLength((const char *)data, size);
    if (!j)
        return 0;
    char path[32];
    memset(path, 0x55, sizeof(path));
    bool found = webhook_json_duplicate_key(j, path, sizeof(path) - 8);
    if (found != repeated_somewhere(j))
        abort();
    if (memchr(path, '\0', sizeof(path) - 8) == NULL)
        abort();
    for (size_t i = sizeof(path) - 8; i < sizeof(path); i++)
        if (path[i] != 0x55)
            abort();
    if (!found && path[0] != '\0')
        abort();
    cJSON_Delete(j);
    return 0;
}
