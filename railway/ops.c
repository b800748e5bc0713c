/* The operation table's iteration, for the schema-drift check, and the expansion of a
 * one-field document to n aliased copies (the watcher's read of many deployments). */
#include "railway/railway.h"

#include "util/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

void railway_op_each(void (*fn)(void *ud, const char *file, const char *op, const char *text),
                     void *ud)
{
    for (int i = 0; i < RAILWAY_OP_COUNT; i++)
        fn(ud, railway_ops[i].file, railway_ops[i].name, railway_ops[i].text);
}

/* Appends text[0..len) to b with every token d0 (not part of a longer name) renamed d<i>. */
static void append_renamed(struct buf *b, const char *text, size_t len, int i)
{
    for (size_t k = 0; k < len; k++) {
        bool start = k == 0 || !(isalnum((unsigned char)text[k - 1]) || text[k - 1] == '_');
        bool token = start && k + 2 <= len && text[k] == 'd' && text[k + 1] == '0' &&
                     (k + 2 == len || !(isalnum((unsigned char)text[k + 2]) || text[k + 2] == '_'));
        if (token) {
            buf_printf(b, "d%d", i);
            k++;
        } else {
            buf_append(b, &text[k], 1);
        }
    }
}

char *railway_op_expand(enum railway_op op, int n)
{
    char *out = NULL;
    if ((unsigned)op >= RAILWAY_OP_COUNT || n < 1)
        return NULL;
    const char *text = railway_ops[op].text;
    const char *kw = strstr(text, "query ");
    const char *open = kw ? strchr(kw, '(') : NULL;
    const char *close = open ? strchr(open, ')') : NULL;
    const char *body = close ? strchr(close, '{') : NULL;
    const char *end = body ? strrchr(body, '}') : NULL;
    if (!end || !strstr(open, "$d0"))
        return NULL;
    struct buf b;
    buf_init(&b, 0);
    buf_append(&b, kw, (size_t)(open - kw) + 1);
    for (int i = 0; i < n; i++) {
        buf_printf(&b, "%s", i ? ", " : "");
        append_renamed(&b, open + 1, (size_t)(close - open - 1), i);
    }
    buf_printf(&b, ") {");
    for (int i = 0; i < n; i++)
        append_renamed(&b, body + 1, (size_t)(end - body - 1), i);
    buf_printf(&b, "}\n");
    out = xstrdup(b.data);
    buf_free(&b);
    return out;
}
