/* The embedded GraphQL documents (railway/ops/NAME.graphql), looked up by operation name. */
#include "railway/railway.h"

#include <ctype.h>
#include <string.h>

struct embedded_file {
    const char *name;
    const char *data;
    size_t len;
};
extern const struct embedded_file embedded_ops[];

/* Finds the operation name after the first "query"/"mutation" keyword outside comments. */
static bool op_name(const char *text, char *out, size_t outlen)
{
    const char *p = text;
    while (*p) {
        if (*p == '#') {
            p += strcspn(p, "\n");
            continue;
        }
        if ((strncmp(p, "query", 5) == 0 && isspace((unsigned char)p[5])) ||
            (strncmp(p, "mutation", 8) == 0 && isspace((unsigned char)p[8]))) {
            p += *p == 'q' ? 5 : 8;
            while (isspace((unsigned char)*p))
                p++;
            size_t n = 0;
            while ((isalnum((unsigned char)p[n]) || p[n] == '_') && n + 1 < outlen)
                n++;
            memcpy(out, p, n);
            out[n] = '\0';
            return n > 0;
        }
        p++;
    }
    return false;
}

const char *railway_op_document(const char *op)
{
    char name[64];
    for (const struct embedded_file *f = embedded_ops; f->name; f++)
        if (op_name(f->data, name, sizeof(name)) && strcmp(name, op) == 0)
            return f->data;
    return NULL;
}

void railway_op_each(void (*fn)(void *ud, const char *file, const char *op, const char *text),
                     void *ud)
{
    char name[64];
    for (const struct embedded_file *f = embedded_ops; f->name; f++)
        fn(ud, f->name, op_name(f->data, name, sizeof(name)) ? name : "", f->data);
}
