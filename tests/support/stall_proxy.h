/* A TCP proxy on loopback that forwards to a server (the suite's PostgreSQL) until told to
 * stall: from then on it accepts connections and reads what clients send, but forwards
 * nothing either way, like a host that stopped answering behind a link that stays up. */
#ifndef RAILHOOK_TESTS_STALL_PROXY_H
#define RAILHOOK_TESTS_STALL_PROXY_H

#include <stdbool.h>

struct stall_proxy;

/* Starts a proxy on 127.0.0.1 (a free port) forwarding to the loopback server of db_url (a
 * PostgreSQL URL or conninfo), in a thread of its own. Stop it with stall_proxy_stop(). */
struct stall_proxy *stall_proxy_start(const char *db_url);
/* db_url leading through the proxy (a conninfo; free()). */
char *stall_proxy_conninfo(const struct stall_proxy *p);
/* stall true: forward nothing from now on (connections stay open); false: forward again. */
void stall_proxy_set(struct stall_proxy *p, bool stall);
/* Closes every connection, stops the thread and frees p; NULL-safe. */
void stall_proxy_stop(struct stall_proxy *p);

#endif
