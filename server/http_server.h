/* The HTTP front: libmicrohttpd with an internal epoll polling thread pool, the limits one
 * client meets (connections per address, a deadline per request, bodies read only where a
 * route takes one, within caps and a shared budget), request ids, JSON errors, access logging
 * and graceful shutdown. */
#ifndef RAILHOOK_HTTP_SERVER_H
#define RAILHOOK_HTTP_SERVER_H

#include "handlers/handlers.h"

struct http_server;

/* Starts listening on cfg's BIND_ADDRESS:PORT and serving app's routes. NULL with err set on
 * failure. The app must outlive the server. */
struct http_server *http_server_start(struct app *app, char *err, size_t errlen);
/* The port actually bound (useful with PORT=0). */
int http_server_port(const struct http_server *s);
/* Stops accepting, lets in-flight requests finish for at most grace_ms, then stops and frees. */
void http_server_stop(struct http_server *s, int grace_ms);

#endif
