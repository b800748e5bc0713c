/* libFuzzer target: the worker variable renderer. The input is a template, a newline, and a
 * manifest row as JSON (a row {"id": "r1"} when it does not parse). Rendering must succeed or
 * fail cleanly (no output, a message naming the template); a template without a placeholder
 * renders as itself; a rendered row holds every column the templates are said to read; a
 * value taken from the row is never expanded again. */
#include "flows/variables.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("FZ_ENV", "{record.id}", 1);
    return 0;
}

/* True when s holds "{kind.NAME}": a '{' whose next '}' has a dot before it. */
static bool has_placeholder(const char *s)
{
    while ((s = strchr(s, '{')) != NULL) {
        const char *end = strchr(s, '}');
        if (!end)
            return false;
        if (memchr(s, '.', (size_t)(end - s)))
            return true;
        s = end + 1;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';
    char *nl = strchr(text, '\n');
    const char *row_text = "";
    if (nl) {
        *nl = '\0';
        row_text = nl + 1;
    }
    cJSON *record = cJSON_Parse(row_text);
    if (!cJSON_IsObject(record)) {
        cJSON_Delete(record);
        record = cJSON_Parse("{\"id\":\"r1\"}");
    }
    cJSON *templates = cJSON_CreateObject();
    cJSON_AddStringToObject(templates, "V", text);
    cJSON *out = NULL;
    char err[256] = "";
    enum rh_status st = variables_render(templates, record, &out, err, sizeof(err));
    if (st == RH_OK) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(out, "V");
        if (!cJSON_IsString(v))
            abort();
        if (!has_placeholder(text) && strcmp(v->valuestring, text) != 0) {
            fprintf(stderr, "plain template changed: '%s' -> '%s'\n", text, v->valuestring);
            abort();
        }
        cJSON *cols = variables_template_columns(templates);
        const cJSON *c;
        cJSON_ArrayForEach(c, cols)
        {
            if (!cJSON_HasObjectItem(record, c->valuestring))
                abort();
        }
        cJSON_Delete(cols);
        /* The environment value holds a placeholder: it must come out as written. */
        if (strcmp(text, "{env.FZ_ENV}") == 0 && strcmp(v->valuestring, "{record.id}") != 0)
            abort();
    } else {
        if (st != RH_INVALID || out || !strstr(err, "variable V"))
            abort();
    }
    cJSON_Delete(out);
    cJSON_Delete(templates);
    cJSON_Delete(record);
    free(text);
    return 0;
}
