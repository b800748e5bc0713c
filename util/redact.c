/* Secret redaction for logs, job rows and events. */
#include "util/redact.h"

#include "util/util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REDACT_MAX 64

static char *secrets[REDACT_MAX];
static size_t secret_lens[REDACT_MAX];
static size_t nsecrets;
/* The bytes a secret or "bearer " can start with: every other byte is copied in runs, so a
 * line costs one pass, not a comparison with every secret at every byte. */
static bool starts[256] = {['b'] = true, ['B'] = true};

static void starts_rebuild(void)
{
    memset(starts, 0, sizeof(starts));
    starts['b'] = starts['B'] = true;
    for (size_t i = 0; i < nsecrets; i++)
        starts[(unsigned char)secrets[i][0]] = true;
}

void redact_register(const char *secret)
{
    if (!secret || !*secret || nsecrets == REDACT_MAX)
        return;
    for (size_t i = 0; i < nsecrets; i++)
        if (strcmp(secrets[i], secret) == 0)
            return;
    /* Longest first: when one secret holds another ("abc" and "abcdef"), the longer one is
     * blanked whole rather than its tail left in clear. */
    size_t n = strlen(secret);
    size_t at = nsecrets;
    while (at > 0 && secret_lens[at - 1] < n) {
        secrets[at] = secrets[at - 1];
        secret_lens[at] = secret_lens[at - 1];
        at--;
    }
    secrets[at] = xstrdup(secret);
    secret_lens[at] = n;
    nsecrets++;
    starts_rebuild();
}

void redact_clear(void)
{
    for (size_t i = 0; i < nsecrets; i++)
        free(secrets[i]);
    nsecrets = 0;
    starts_rebuild();
}

static const char *find_secret(const char *p, size_t *len)
{
    for (size_t i = 0; i < nsecrets; i++) {
        size_t n = secret_lens[i];
        if (strncmp(p, secrets[i], n) == 0) {
            *len = n;
            return secrets[i];
        }
    }
    return NULL;
}

char *redact_string(const char *s)
{
    struct buf out;
    buf_init(&out, 0);
    const char *p = s;
    while (*p) {
        size_t n = 0;
        if (!starts[(unsigned char)*p]) {
            const char *run = p;
            while (*p && !starts[(unsigned char)*p])
                p++;
            buf_append(&out, run, (size_t)(p - run));
        } else if (find_secret(p, &n)) {
            buf_puts(&out, "[REDACTED]");
            p += n;
        } else if (strncasecmp(p, "bearer ", 7) == 0) {
            size_t lead = 7 + strspn(p + 7, " \t"); /* "Bearer  tok" is a token too */
            buf_append(&out, p, lead);
            p += lead;
            size_t tok = strcspn(p, " \t\r\n\",;'");
            if (tok > 0)
                buf_puts(&out, "[REDACTED]");
            p += tok;
        } else {
            buf_append(&out, p, 1);
            p++;
        }
    }
    return buf_steal(&out);
}

static void redact_tree(cJSON *j)
{
    for (cJSON *it = j; it; it = it->next) {
        if (cJSON_IsString(it) && it->valuestring) {
            char *clean = redact_string(it->valuestring);
            cJSON_SetValuestring(it, clean);
            free(clean);
        }
        /* A key can carry a secret too (an echoed header map, say). cJSON owns it unless
         * flagged as a constant string. */
        if (it->string && !(it->type & cJSON_StringIsConst)) {
            char *clean = redact_string(it->string);
            size_t n = strlen(clean) + 1;
            char *key = cJSON_malloc(n);
            if (!key)
                abort();
            memcpy(key, clean, n);
            cJSON_free(it->string);
            it->string = key;
            free(clean);
        }
        if (it->child)
            redact_tree(it->child);
    }
}

char *redact_json(const cJSON *j)
{
    cJSON *copy = cJSON_Duplicate(j, true);
    redact_tree(copy);
    char *s = cJSON_PrintUnformatted(copy);
    cJSON_Delete(copy);
    if (!s)
        abort(); /* cJSON fails only when memory is exhausted */
    char *out = xstrdup(s);
    cJSON_free(s);
    return out;
}
