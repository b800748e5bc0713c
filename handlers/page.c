/* GET /: the built-in status page, served from the binary with no external assets. */
#include "handlers/handlers.h"

#include <string.h>

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
        buf_append(&res->body, f->data, f->len);
        http_response_header(res, "Content-Security-Policy",
                             "default-src 'none'; script-src 'unsafe-inline'; "
                             "style-src 'unsafe-inline'; connect-src 'self'; "
                             "frame-ancestors 'none'");
        http_response_header(res, "X-Content-Type-Options", "nosniff");
        return;
    }
    http_response_error(res, req, 404, "not_found", "the status page is not built in");
}
