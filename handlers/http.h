/* The plain request/response pair every handler works on, independent of libmicrohttpd so
 * handlers can be driven without sockets, and the helpers that fill a response. */
#ifndef RAILHOOK_HANDLERS_HTTP_H
#define RAILHOOK_HANDLERS_HTTP_H

#include "util/util.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEADERS 16
#define HTTP_MAX_PARAMS  4

struct app;
struct http_request;
struct http_response;

/* What a parked handler keeps for its request until it is answered (the server holds one per
 * request, empty to begin with). */
struct http_hold {
    void *data;
    /* When set, the resumed request is answered by this instead of its route's handler. */
    void (*answer)(struct app *app, struct http_request *req, struct http_response *res,
                   void *data);
    void (*free)(void *data); /* when set, called with data once the request ends */
};

struct http_request {
    const char *method;
    const char *path;
    char request_id[64];
    const char *body; /* NUL-terminated copy of the raw body (may hold NULs inside) */
    size_t body_len;
    /* Case-insensitive header lookup and query argument lookup; NULL when absent. */
    const char *(*header)(const struct http_request *req, const char *name);
    const char *(*query)(const struct http_request *req, const char *name);
    void *transport;                     /* the server's connection handle, opaque to handlers */
    const char *params[HTTP_MAX_PARAMS]; /* path segments captured by the route pattern */
    int nparams;
    const char *route; /* the matched route pattern, for logs and metrics */
    /* Long polling: park() takes the connection out of the server's loop at once (the handler
     * then returns without a response); resume(transport), callable from any thread, brings it
     * back and the request is dispatched again with `resumed` set. */
    void (*park)(struct http_request *req);
    void (*resume)(void *transport);
    bool resumed;
    struct http_hold *hold; /* the request's, across parks */
    /* Streamed responses: suspend(transport) takes the connection out of the server's loop
     * from within a stream's read (see struct http_response); resume(transport) brings it
     * back. */
    void (*suspend)(void *transport);
};

/* A response body produced while it is sent (text/event-stream). read() runs on the
 * connection's thread whenever the client can take more: it returns the bytes written into
 * buf (1..max), or 0 after calling req->suspend(transport) when it has nothing yet (the server
 * calls it again once req->resume(transport) is called, from any thread), or -1 to end the
 * body. close() runs once, when the connection is done with the stream (ended, failed or
 * never sent, as for HEAD). */
struct http_stream {
    long (*read)(void *cls, char *buf, size_t max);
    void (*close)(void *cls);
    void *cls;
};

struct http_header {
    char *name;
    char *value;
};

struct http_response {
    int status;
    const char *content_type;
    struct buf body;
    struct http_header headers[HTTP_MAX_HEADERS];
    int nheaders;
    struct http_stream stream; /* read set: the body is streamed, body is ignored */
};

/* Starts a response at 500 with an empty body; free with http_response_free(). */
void http_response_init(struct http_response *res);
void http_response_free(struct http_response *res);
/* Adds a header (copied); silently ignored past HTTP_MAX_HEADERS. */
void http_response_header(struct http_response *res, const char *name, const char *value);
/* Sets status and a JSON body printed from obj (obj stays the caller's). */
void http_response_json(struct http_response *res, int status, const cJSON *obj);
/* Sets status and the error body {"error":{"code","message","request_id"}}. */
void http_response_error(struct http_response *res, const struct http_request *req, int status,
                         const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
