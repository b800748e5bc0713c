/* reply: railway-sim's HTTP answers (JSON, text, GraphQL errors, rate headers, resets) and its
 * per-request log line. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server.h"

/* ---- replies ----------------------------------------------------------------------------------
 */

void reply_json(struct reply *r, unsigned status, cJSON *doc)
{
    r->status = status;
    r->body = cJSON_PrintUnformatted(doc);
    r->body_free = cJSON_free;
    r->content_type = "application/json; charset=utf-8";
    cJSON_Delete(doc);
}

void reply_text(struct reply *r, unsigned status, const char *content_type, const char *text)
{
    r->status = status;
    r->body = xstrdup(text);
    r->body_free = free;
    r->content_type = content_type;
}

void reply_errors_code(cJSON *errors, const char *code)
{
    cJSON *e;

    cJSON_ArrayForEach(e, errors)
    {
        if (cJSON_GetObjectItemCaseSensitive(e, "extensions") == NULL)
            cJSON_AddStringToObject(cJSON_AddObjectToObject(e, "extensions"), "code", code);
    }
}

void reply_error(struct reply *r, unsigned status, const char *code, bool with_data,
                 const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    cJSON *doc = cJSON_CreateObject();
    cJSON *errors = cJSON_AddArrayToObject(doc, "errors");

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    graphql_error_add(errors, 0, 0, "%s", msg);
    reply_errors_code(errors, code);
    if (with_data)
        cJSON_AddNullToObject(doc, "data");
    r->error_count = 1;
    reply_json(r, status, doc);
}

static void header_add(struct MHD_Response *resp, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void header_add(struct MHD_Response *resp, const char *name, const char *fmt, ...)
{
    char value[64];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    MHD_add_response_header(resp, name, value);
}

/* A hard close: SO_LINGER 0 makes the kernel send RST instead of FIN. */
static void connection_abort(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct linger lg = {1, 0};

    if (info != NULL)
        setsockopt(info->connect_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

enum MHD_Result reply_send(struct MHD_Connection *conn, struct reply *r)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    if (r->reset) {
        connection_abort(conn);
        return MHD_NO;
    }
    resp = MHD_create_response_from_buffer_with_free_callback(
        r->body ? strlen(r->body) : 0, r->body, r->body_free ? r->body_free : free);
    if (resp == NULL) {
        if (r->body_free)
            r->body_free(r->body);
        r->body = NULL;
        return MHD_NO;
    }
    r->body = NULL; /* the response owns it now */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    if (r->has_rate) {
        header_add(resp, "X-RateLimit-Limit", "%ld", r->rate.limit);
        header_add(resp, "X-RateLimit-Remaining", "%ld", r->rate.remaining);
        MHD_add_response_header(resp, "X-RateLimit-Reset", r->reset_value);
    }
    if (r->retry_after > 0)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, r->retry_value);
    if (r->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    ret = MHD_queue_response(conn, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ---- logging ----------------------------------------------------------------------------------
 */

void reply_log(const struct server *srv, const char *method, const char *url, const struct reply *r,
               int64_t start_ms)
{
    char line[640], ts[32];
    int n;

    if (srv->quiet)
        return;
    time_format_utc(ts, time_wall_ms());
    n = snprintf(line, sizeof(line),
                 "%s railway-sim: method=%s path=%.64s op=%s fields=%s status=%u errors=%d%s%s "
                 "ms=%lld\n",
                 ts, method, url, r->op[0] ? r->op : "-", r->fields[0] ? r->fields : "-",
                 r->reset ? 0u : r->status, r->error_count, r->note[0] ? " note=" : "", r->note,
                 (long long)(time_mono_ms() - start_ms));
    if (n > 0) {
        size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
        ssize_t w = write(STDERR_FILENO, line, len);

        (void)w;
    }
}
