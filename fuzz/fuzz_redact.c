/* libFuzzer target: what railhook renders around jobs before storing it, namely redact_json()
 * (the queue's redaction of a step's result, an event's details, a job's error) and
 * redact_string() (log lines, messages). The input is any text; as JSON it must come out as
 * JSON of the same shape, and no registered secret may survive in either output, whether it
 * sat in a value, a key or plain text. */
#include "util/redact.h"

#include <cjson/cJSON.h>
#include <math.h>
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
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        if (strstr(text, secrets[i])) {
            fprintf(stderr, "secret %s survived in: %s\n", secrets[i], text);
            abort();
        }
}

static void no_secret_in_tree(const cJSON *j)
{
    for (; j; j = j->next) {
        if (j->string)
            no_secret(j->string);
        if (cJSON_IsString(j))
            no_secret(j->valuestring);
        no_secret_in_tree(j->child);
    }
}

/* Same type and, for arrays and objects, the same number of members, all the way down. */
static void same_shape(const cJSON *a, const cJSON *b)
{
    if (!a || !b)
        abort();
    /* JSON has no infinity: cJSON prints an overflowing number as null. */
    if (cJSON_IsNumber(a) && cJSON_IsNull(b) && !isfinite(a->valuedouble))
        return;
    if ((a->type & 0xff) != (b->type & 0xff))
        abort();
    if (cJSON_IsArray(a) || cJSON_IsObject(a)) {
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b))
            abort();
        const cJSON *x = a->child, *y = b->child;
        for (; x && y; x = x->next, y = y->next)
            same_shape(x, y);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    char *clean = redact_string(text);
    no_secret(clean);
    free(clean);

    cJSON *tree = cJSON_ParseWithLength(text, size);
    if (tree) {
        char *out = redact_json(tree);
        cJSON *back = cJSON_Parse(out);
        if (!back) {
            fprintf(stderr, "redact_json printed what cJSON cannot read: %s\n", out);
            abort();
        }
        /* The values and keys, not the text: an escape like \u000f before "z-alpha..."
         * spells a secret in the text without any value holding it. */
        no_secret_in_tree(back);
        same_shape(tree, back);
        cJSON_Delete(back);
        free(out);
        cJSON_Delete(tree);
    }
    free(text);
    return 0;
}
