/* GET /: the built-in status page, served from the binary with no external assets. */
#include "flows/flows.h"
#include "handlers/handlers.h"

#include <string.h>

/* Where the page's kind filter takes its options, one per kind of the kind table. */
#define KINDS_MARK "<!--job-kinds-->"

struct embedded_file {
    const char *name;
    const char *data;
    size_t len;
};
extern const struct embedded_file embedded_web[];

void handle_status_page(struct app *app, struct http_request *req, struct http_response *res)
{
    (void)app;
    for (const struct embedded_file *f = embedded_web; f->name; f++) {
        if (strcmp(f->name, "index.html") != 0)
            continue;
        res->status = 200;
        res->content_type = "text/html; charset=utf-8";
        buf_reset(&res->body);
        const char *mark = memmem(f->data, f->len, KINDS_MARK, strlen(KINDS_MARK));
        size_t head = mark ? (size_t)(mark - f->data) : f->len;
        buf_append(&res->body, f->data, head);
        if (mark) {
            /* Kind names are plain lowercase words: nothing to escape. */
            for (const struct flows_kind *k = flows_kinds; k->name; k++)
                buf_printf(&res->body, "<option>%s</option>", k->name);
            head += strlen(KINDS_MARK);
            buf_append(&res->body, f->data + head, f->len - head);
        }
        http_response_header(res, "Content-Security-Policy",
                             "default-src 'none'; script-src 'unsafe-inline'; "
                             "style-src 'unsafe-inline'; connect-src 'self'; "
                             "frame-ancestors 'none'");
        http_response_header(res, "X-Content-Type-Options", "nosniff");
        return;
    }
    http_response_error(res, req, 404, "not_found", "the status page is not built in");
}
