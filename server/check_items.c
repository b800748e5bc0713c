/* `railhook check`: the report's items, which every part of the check adds to. */
#include "server/check_int.h"

#include "util/redact.h"
#include "util/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void check_item_add(struct check *ck, const char *name, enum item_status st, const char *hint,
                    const char *fmt, ...)
{
    char detail[DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    ck->items = xrealloc(ck->items, (ck->nitems + 1) * sizeof(*ck->items));
    struct item *it = &ck->items[ck->nitems++];
    it->name = xstrdup(name);
    it->status = st;
    /* One line per item: libpq's and curl's messages may hold newlines and tabs. */
    for (char *p = detail; *p; p++)
        if (*p == '\n' || *p == '\t' || *p == '\r')
            *p = ' ';
    size_t n = strlen(detail);
    while (n && detail[n - 1] == ' ')
        detail[--n] = '\0';
    /* Nothing here formats a secret; the redactor is the second line of defence. */
    it->detail = redact_string(detail);
    it->hint = hint ? redact_string(hint) : NULL;
}

bool check_is_set(const char *s)
{
    return s && *s;
}
