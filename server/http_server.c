/* libmicrohttpd front end.
 *
 * Threading: libmicrohttpd runs an internal pool of HTTP_THREADS epoll threads; each
 * connection stays on one thread, and handlers run on it. A request's context (struct
 * req_ctx) is created on the first callback for the request and freed in the completion
 * callback, so it is only touched by that connection's thread. Shared between threads: the
 * in-flight counter and the bytes reserved for bodies in flight (atomics), and the table of
 * open connections (struct conn, under conns_lock), which one watchdog thread scans to shut
 * down every connection whose request is not in by HTTP_REQUEST_DEADLINE_S. libmicrohttpd
 * reports a connection's end (on_connection, CLOSED) before it closes the socket, and the
 * entry leaves the table then, so the watchdog never touches a socket that is not the
 * connection's own.
 *
 * A streamed response (GET /events, struct http_stream) is read on its connection's thread;
 * when it has nothing to send it suspends the connection, and its producer resumes it from
 * another thread, so an idle stream holds no thread.
 *
 * What one client can hold: HTTP_PER_CLIENT_LIMIT connections (libmicrohttpd refuses more at
 * accept), each for HTTP_REQUEST_DEADLINE_S until its request is in, and bodies only on routes
 * that read one, within HTTP_BODY_BUDGET_BYTES shared by all connections. */
#include "server/http_server.h"

#include "util/log.h"
#include "util/metrics.h"
#include "util/util.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn;

struct http_server {
    struct MHD_Daemon *daemon;
    struct app *app;
    int port;
    size_t max_body;
    atomic_int inflight;
    size_t body_budget;
    atomic_size_t body_reserved; /* bytes reserved by the bodies in flight */
    int64_t deadline_ms;
    pthread_mutex_t conns_lock;
    pthread_cond_t conns_wake;
    struct conn *conns; /* open connections (under conns_lock) */
    bool stopping;      /* under conns_lock */
    bool watchdog_on;
    pthread_t watchdog;
};

/* One open connection, from accept to close. */
struct conn {
    MHD_socket fd;
    int64_t since_ms; /* the current request's clock: from accept or the previous answer */
    bool received;    /* the request is in (or answered): the deadline no longer applies */
    bool cut;         /* shut down by the watchdog */
    struct conn *prev, *next;
};

struct req_ctx {
    struct http_server *srv;
    struct conn *conn;
    struct buf body;
    size_t reserved; /* of srv->body_reserved */
    bool too_big;
    size_t discarded;
    bool answered;
    bool parked; /* suspended (a long poll, a delivery waiting for its commit); dispatched
                  * again when resumed */
    struct http_hold hold;
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

/* libmicrohttpd's side of a streamed body (struct http_stream). */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    const struct http_stream *st = cls;
    long n = st->read(st->cls, buf, max);
    return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void stream_close(void *cls)
{
    struct http_stream *st = cls;
    if (st->close)
        st->close(st->cls);
    free(st);
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct req_ctx *ctx,
                                     const struct http_request *req, struct http_response *res)
{
    struct MHD_Response *r = NULL;
    bool head = strcmp(ctx->method, "HEAD") == 0;
    if (res->stream.read && !head) {
        /* The stream is the response's now: closed when libmicrohttpd is done with it. */
        struct http_stream *st = xmalloc(sizeof(*st));
        *st = res->stream;
        memset(&res->stream, 0, sizeof(res->stream));
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, st,
                                              stream_close);
        if (!r) {
            stream_close(st);
            return MHD_NO;
        }
    } else {
        r = MHD_create_response_from_buffer(head ? 0 : res->body.len,
                                            head             ? (void *)""
                                            : res->body.data ? res->body.data
                                                             : "",
                                            MHD_RESPMEM_MUST_COPY);
    }
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

/* The request is in (or being answered): its deadline no longer applies. */
static void mark_received(struct req_ctx *ctx)
{
    if (!ctx->conn)
        return;
    pthread_mutex_lock(&ctx->srv->conns_lock);
    ctx->conn->received = true;
    pthread_mutex_unlock(&ctx->srv->conns_lock);
}

/* Reserves n bytes of the body budget; false (nothing reserved) when it would be exceeded. */
static bool budget_take(struct http_server *srv, size_t n)
{
    size_t used = atomic_load(&srv->body_reserved);
    do {
        if (n > srv->body_budget - used)
            return false;
    } while (!atomic_compare_exchange_weak(&srv->body_reserved, &used, used + n));
    return true;
}

static void park(struct http_request *req)
{
    MHD_suspend_connection(req->transport);
}

static void resume(void *transport)
{
    MHD_resume_connection(transport);
}

static void suspend(void *transport)
{
    MHD_suspend_connection(transport);
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
    req->suspend = suspend;
    req->resumed = ctx->parked;
    req->hold = &ctx->hold;
}

/* Sends res before the body (if any) is read; the connection closes after it. */
static enum MHD_Result answer_early(struct MHD_Connection *conn, struct req_ctx *ctx,
                                    const struct http_request *req, struct http_response *res)
{
    http_response_header(res, "Connection", "close");
    mark_received(ctx);
    return send_response(conn, ctx, req, res);
}

static enum MHD_Result reject(struct MHD_Connection *conn, struct req_ctx *ctx, int status,
                              const char *code, const char *msg)
{
    struct http_request req;
    struct http_response res;
    fill_request(&req, conn, ctx);
    http_response_init(&res);
    http_response_error(&res, &req, status, code, "%s", msg);
    if (status == 503)
        http_response_header(&res, "Retry-After", "2");
    enum MHD_Result ret = answer_early(conn, ctx, &req, &res);
    http_response_free(&res);
    return ret;
}

/* The first callback of a request, its headers in: decides whether its body may be read
 * (route, credentials, size, budget) before a byte of it is. */
static enum MHD_Result on_headers(struct MHD_Connection *conn, struct req_ctx *ctx)
{
    struct http_server *srv = ctx->srv;
    struct http_request req;
    struct http_response res;
    enum MHD_Result ret = MHD_YES;
    size_t cap = 0;

    http_response_init(&res);
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");
    int64_t declared = 0;
    if (cl && (!parse_i64(cl, 0, INT64_MAX, &declared) || declared > (int64_t)srv->max_body)) {
        ret = reject(conn, ctx, 413, "payload_too_large", "request body exceeds MAX_BODY_BYTES");
        goto out;
    }
    bool has_body = cl ? declared > 0 : te != NULL;

    fill_request(&req, conn, ctx);
    bool admitted = handlers_admit(srv->app, &req, has_body, &cap, &res);
    ctx->route = req.route;
    if (!admitted) {
        ret = answer_early(conn, ctx, &req, &res);
        goto out;
    }
    if (!has_body)
        goto out;
    /* A body of unknown length (chunked) reserves the route's whole cap. */
    size_t want = (cl ? (size_t)declared : cap) + 1;
    if (!budget_take(srv, want)) {
        ret = reject(conn, ctx, 503, "server_busy",
                     "too many request bodies in flight (HTTP_BODY_BUDGET_BYTES); retry later");
        goto out;
    }
    ctx->reserved = want;
    buf_init(&ctx->body, cap);
    if (cl)
        buf_reserve(&ctx->body, (size_t)declared);
out:
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
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        ctx->conn = ci ? ci->socket_context : NULL;
        ctx->start_ms = time_mono_ms();
        ctx->method = xstrdup(method);
        ctx->path = xstrdup(url);
        ctx->route = "unmatched";
        buf_init(&ctx->body, 0);
        const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
        if (rid && request_id_ok(rid))
            snprintf(ctx->request_id, sizeof(ctx->request_id), "%s", rid);
        else
            uuid_v4(ctx->request_id);
        atomic_fetch_add(&srv->inflight, 1);
        *con_cls = ctx;
        return on_headers(conn, ctx);
    }

    if (*upload_data_size) {
        /* A streamed body over the cap is read and dropped so the client can see the 413;
         * one that goes on far past it is cut off. */
        if (!ctx->too_big &&
            (!ctx->reserved || !buf_append(&ctx->body, upload_data, *upload_data_size)))
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
    mark_received(ctx);
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
    if (ctx->hold.free)
        ctx->hold.free(ctx->hold.data);
    buf_free(&ctx->body);
    atomic_fetch_sub(&srv->body_reserved, ctx->reserved);
    if (ctx->conn) {
        /* A kept-alive connection's next request gets a fresh deadline, counted from now. */
        pthread_mutex_lock(&srv->conns_lock);
        ctx->conn->since_ms = time_mono_ms();
        ctx->conn->received = false;
        pthread_mutex_unlock(&srv->conns_lock);
    }
    free(ctx->method);
    free(ctx->path);
    free(ctx);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->inflight, 1);
}

static void on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct http_server *srv = cls;
    struct conn *c = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        c = xcalloc(1, sizeof(*c));
        c->fd = ci ? ci->connect_fd : MHD_INVALID_SOCKET;
        c->since_ms = time_mono_ms();
        pthread_mutex_lock(&srv->conns_lock);
        c->next = srv->conns;
        if (srv->conns)
            srv->conns->prev = c;
        srv->conns = c;
        pthread_mutex_unlock(&srv->conns_lock);
        *socket_context = c;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && c) {
        pthread_mutex_lock(&srv->conns_lock);
        if (c->prev)
            c->prev->next = c->next;
        else
            srv->conns = c->next;
        if (c->next)
            c->next->prev = c->prev;
        pthread_mutex_unlock(&srv->conns_lock);
        free(c);
        *socket_context = NULL;
    }
}

/* Shuts down the connections whose request is late; libmicrohttpd then sees the socket end
 * and closes the connection on its own thread. */
static void *watchdog_main(void *arg)
{
    struct http_server *srv = arg;
    pthread_mutex_lock(&srv->conns_lock);
    while (!srv->stopping) {
        int64_t now = time_mono_ms();
        long cut = 0;
        for (struct conn *c = srv->conns; c; c = c->next) {
            if (c->received || c->cut || now - c->since_ms < srv->deadline_ms ||
                c->fd == MHD_INVALID_SOCKET)
                continue;
            shutdown(c->fd, SHUT_RDWR);
            c->cut = true;
            cut++;
        }
        if (cut) {
            pthread_mutex_unlock(&srv->conns_lock);
            metrics_count("railhook_http_deadline_closed_total", "", (double)cut);
            log_info("closed connections whose request was late", LOG_INT("connections", cut),
                     LOG_INT("deadline_s", (long long)(srv->deadline_ms / 1000)));
            pthread_mutex_lock(&srv->conns_lock);
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += 200L * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&srv->conns_wake, &srv->conns_lock, &until);
    }
    pthread_mutex_unlock(&srv->conns_lock);
    return NULL;
}

static void watchdog_stop(struct http_server *s)
{
    if (!s->watchdog_on)
        return;
    pthread_mutex_lock(&s->conns_lock);
    s->stopping = true;
    pthread_cond_signal(&s->conns_wake);
    pthread_mutex_unlock(&s->conns_lock);
    pthread_join(s->watchdog, NULL);
    s->watchdog_on = false;
}

static void server_free(struct http_server *s)
{
    pthread_mutex_destroy(&s->conns_lock);
    pthread_cond_destroy(&s->conns_wake);
    free(s);
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
    struct http_server *srv = NULL;
    bool ok = false;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)cfg->port);
    if (inet_pton(AF_INET, cfg->bind_address, &addr.sin_addr) != 1) {
        snprintf(err, errlen, "BIND_ADDRESS is not an IPv4 address");
        goto out;
    }
    srv = xcalloc(1, sizeof(*srv));
    srv->app = app;
    srv->max_body = (size_t)cfg->max_body_bytes;
    srv->body_budget = (size_t)cfg->http_body_budget_bytes;
    srv->deadline_ms = (int64_t)cfg->http_request_deadline_s * 1000;
    atomic_init(&srv->inflight, 0);
    atomic_init(&srv->body_reserved, 0);
    pthread_mutex_init(&srv->conns_lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&srv->conns_wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&srv->watchdog, NULL, watchdog_main, srv) != 0) {
        snprintf(err, errlen, "cannot start the request deadline thread");
        goto out;
    }
    srv->watchdog_on = true;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                         MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)cfg->http_threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->http_connection_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->http_connection_limit,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)cfg->http_per_client_limit,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION, on_connection,
        srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1U,
        MHD_OPTION_END);
    if (!srv->daemon) {
        snprintf(err, errlen, "cannot listen on %s:%d", cfg->bind_address, cfg->port);
        goto out;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : cfg->port;
    ok = true;
out:
    if (!ok && srv) {
        watchdog_stop(srv);
        server_free(srv);
        srv = NULL;
    }
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
    /* libmicrohttpd must not stop with a connection suspended: answer the parked ones now. */
    handlers_release_parked(s->app);
    deadline = time_mono_ms() + 1000;
    while (atomic_load(&s->inflight) > 0 && time_mono_ms() < deadline)
        usleep(10 * 1000);
    if (atomic_load(&s->inflight) > 0)
        log_warn("shutdown grace over, dropping requests",
                 LOG_INT("inflight", atomic_load(&s->inflight)));
    watchdog_stop(s);
    MHD_stop_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    server_free(s);
}
