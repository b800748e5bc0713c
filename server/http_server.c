/* libmicrohttpd front end.
 *
 * Threading: libmicrohttpd runs an internal pool of HTTP_THREADS epoll threads; each
 * connection stays on one thread, and handlers run on it. A request's context (struct
 * req_ctx) is created on the first callback for the request and freed in the completion
 * callback, so it is only touched by that connection's thread. The in-flight counter is the
 * only state shared between threads and is atomic. */
#include "server/http_server.h"

#include "util/log.h"
#include "util/metrics.h"
#include "util/util.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct http_server {
    struct MHD_Daemon *daemon;
    struct app *app;
    int port;
    size_t max_body;
    atomic_int inflight;
};

struct req_ctx {
    struct http_server *srv;
    struct buf body;
    bool too_big;
    size_t discarded;
    bool answered;
    bool parked; /* suspended for a long poll; dispatched again when resumed */
    int status;
    int64_t start_ms;
    const char *route;
    char request_id[64];
    char *method;
    char *path;
};

static const char *lookup_header(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->transport, MHD_HEADER_KIND, name);
}

static const char *lookup_query(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->transport, MHD_GET_ARGUMENT_KIND, name);
}

/* A client-chosen request id is echoed only when it is short and plain. */
static bool request_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct req_ctx *ctx,
                                     const struct http_request *req, struct http_response *res)
{
    struct MHD_Response *r = NULL;
    bool head = strcmp(ctx->method, "HEAD") == 0;
    r = MHD_create_response_from_buffer(head ? 0 : res->body.len,
                                        head             ? (void *)""
                                        : res->body.data ? res->body.data
                                                         : "",
                                        MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    if (res->status != 204 && res->status != 304)
        MHD_add_response_header(r, "Content-Type", res->content_type);
    MHD_add_response_header(r, "X-Request-Id", req->request_id);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    for (int i = 0; i < res->nheaders; i++)
        MHD_add_response_header(r, res->headers[i].name, res->headers[i].value);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned int)res->status, r);
    MHD_destroy_response(r);
    ctx->status = res->status;
    ctx->answered = true;
    return ret;
}

static void park(struct http_request *req)
{
    MHD_suspend_connection(req->transport);
}

static void resume(void *transport)
{
    MHD_resume_connection(transport);
}

static void fill_request(struct http_request *req, struct MHD_Connection *conn, struct req_ctx *ctx)
{
    memset(req, 0, sizeof(*req));
    req->method = ctx->method;
    req->path = ctx->path;
    snprintf(req->request_id, sizeof(req->request_id), "%s", ctx->request_id);
    req->body = ctx->body.data ? ctx->body.data : "";
    req->body_len = ctx->body.len;
    req->header = lookup_header;
    req->query = lookup_query;
    req->transport = conn;
    req->park = park;
    req->resume = resume;
    req->resumed = ctx->parked;
}

static enum MHD_Result reject(struct MHD_Connection *conn, struct req_ctx *ctx, int status,
                              const char *code, const char *msg)
{
    struct http_request req;
    struct http_response res;
    fill_request(&req, conn, ctx);
    http_response_init(&res);
    http_response_error(&res, &req, status, code, "%s", msg);
    http_response_header(&res, "Connection", "close");
    ctx->route = "rejected";
    enum MHD_Result ret = send_response(conn, ctx, &req, &res);
    http_response_free(&res);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct http_server *srv = cls;
    struct req_ctx *ctx = *con_cls;

    if (!ctx) {
        ctx = xcalloc(1, sizeof(*ctx));
        ctx->srv = srv;
        ctx->start_ms = time_mono_ms();
        ctx->method = xstrdup(method);
        ctx->path = xstrdup(url);
        ctx->route = "unmatched";
        buf_init(&ctx->body, srv->max_body);
        const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
        if (rid && request_id_ok(rid))
            snprintf(ctx->request_id, sizeof(ctx->request_id), "%s", rid);
        else
            uuid_v4(ctx->request_id);
        atomic_fetch_add(&srv->inflight, 1);
        *con_cls = ctx;

        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        int64_t declared = 0;
        if (cl && (!parse_i64(cl, 0, INT64_MAX, &declared) || declared > (int64_t)srv->max_body))
            return reject(conn, ctx, 413, "payload_too_large",
                          "request body exceeds MAX_BODY_BYTES");
        return MHD_YES;
    }

    if (*upload_data_size) {
        /* A streamed body over the cap is read and dropped so the client can see the 413;
         * one that goes on far past it is cut off. */
        if (!ctx->too_big && !buf_append(&ctx->body, upload_data, *upload_data_size))
            ctx->too_big = true;
        if (ctx->too_big) {
            ctx->discarded += *upload_data_size;
            if (ctx->discarded > 8 * srv->max_body)
                return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (ctx->answered)
        return MHD_YES;
    if (ctx->too_big)
        return reject(conn, ctx, 413, "payload_too_large", "request body exceeds MAX_BODY_BYTES");

    struct http_request req;
    struct http_response res;
    fill_request(&req, conn, ctx);
    http_response_init(&res);
    bool was_parked = ctx->parked;
    ctx->parked = false;
    handlers_dispatch(srv->app, &req, &res);
    ctx->route = req.route;
    if (res.status == 0 && !was_parked) {
        /* The handler parked the connection; it answers when resumed. */
        ctx->parked = true;
        http_response_free(&res);
        return MHD_YES;
    }
    enum MHD_Result ret = send_response(conn, ctx, &req, &res);
    http_response_free(&res);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    struct http_server *srv = cls;
    struct req_ctx *ctx = *con_cls;
    if (!ctx)
        return;
    /* Label values stay few: route patterns, and the methods railhook serves. */
    static const char *const methods[] = {"GET", "HEAD", "POST", "OPTIONS", "PUT", "DELETE"};
    const char *method = "OTHER";
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(ctx->method, methods[i]) == 0)
            method = methods[i];
    char labels[192];
    snprintf(labels, sizeof(labels), "route=\"%s\",method=\"%s\",status=\"%d\"", ctx->route, method,
             ctx->answered ? ctx->status : 0);
    metrics_count("railhook_http_requests_total", labels, 1);
    snprintf(labels, sizeof(labels), "route=\"%s\"", ctx->route);
    metrics_observe("railhook_http_request_duration_seconds", labels,
                    (double)(time_mono_ms() - ctx->start_ms) / 1000.0);
    log_info("request", LOG_STR("method", ctx->method), LOG_STR("path", ctx->path),
             LOG_STR("route", ctx->route), LOG_INT("status", ctx->answered ? ctx->status : 0),
             LOG_INT("duration_ms", time_mono_ms() - ctx->start_ms),
             LOG_INT("bytes_in", (long long)ctx->body.len), LOG_STR("request_id", ctx->request_id),
             LOG_BOOL("aborted", toe != MHD_REQUEST_TERMINATED_COMPLETED_OK));
    buf_free(&ctx->body);
    free(ctx->method);
    free(ctx->path);
    free(ctx);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->inflight, 1);
}

/* libmicrohttpd's messages: fmt is its printf format for ap. */
__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    log_debug("http server", LOG_STR("detail", msg));
}

struct http_server *http_server_start(struct app *app, char *err, size_t errlen)
{
    const struct config *cfg = app->cfg;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)cfg->port);
    if (inet_pton(AF_INET, cfg->bind_address, &addr.sin_addr) != 1) {
        snprintf(err, errlen, "BIND_ADDRESS is not an IPv4 address");
        return NULL;
    }
    struct http_server *srv = xcalloc(1, sizeof(*srv));
    srv->app = app;
    srv->max_body = (size_t)cfg->max_body_bytes;
    atomic_init(&srv->inflight, 0);
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                         MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)cfg->http_threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->http_connection_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->http_connection_limit,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
        NULL, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1U, MHD_OPTION_END);
    if (!srv->daemon) {
        snprintf(err, errlen, "cannot listen on %s:%d", cfg->bind_address, cfg->port);
        free(srv);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : cfg->port;
    return srv;
}

int http_server_port(const struct http_server *s)
{
    return s->port;
}

void http_server_stop(struct http_server *s, int grace_ms)
{
    if (!s)
        return;
    /* The listening socket is ours to close once the daemon's threads are gone. */
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    int64_t deadline = time_mono_ms() + grace_ms;
    while (atomic_load(&s->inflight) > 0 && time_mono_ms() < deadline)
        usleep(10 * 1000);
    if (atomic_load(&s->inflight) > 0)
        log_warn("shutdown grace over, dropping requests",
                 LOG_INT("inflight", atomic_load(&s->inflight)));
    MHD_stop_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    free(s);
}
