/* The stalling TCP proxy of the tests (stall_proxy.h).
 *
 * Threading: one thread polls the listening socket and every pair of sockets; the stall flag
 * is the only state other threads touch (atomic). */
#include "support/stall_proxy.h"

#include "util/util.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PAIRS_MAX 256

struct stall_proxy {
    int listen_fd;
    int port;
    int target_port;
    char *db_url;
    atomic_bool stall;
    atomic_bool stop;
    pthread_t thread;
    int fds[PAIRS_MAX * 2]; /* client, server; -1 when free */
};

static int dial(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static void pair_close(struct stall_proxy *p, int i)
{
    close(p->fds[i * 2]);
    close(p->fds[i * 2 + 1]);
    p->fds[i * 2] = p->fds[i * 2 + 1] = -1;
}

static void *run(void *arg)
{
    struct stall_proxy *p = arg;
    struct pollfd pfd[PAIRS_MAX * 2 + 1];
    char buf[16384];
    while (!atomic_load(&p->stop)) {
        pfd[0] = (struct pollfd){.fd = p->listen_fd, .events = POLLIN};
        for (int i = 0; i < PAIRS_MAX * 2; i++)
            pfd[i + 1] = (struct pollfd){.fd = p->fds[i], .events = POLLIN};
        if (poll(pfd, PAIRS_MAX * 2 + 1, 50) <= 0)
            continue;
        if (pfd[0].revents & POLLIN) {
            int c = accept(p->listen_fd, NULL, NULL);
            int s = c >= 0 ? dial(p->target_port) : -1;
            int slot = -1;
            for (int i = 0; i < PAIRS_MAX && slot < 0; i++)
                if (p->fds[i * 2] < 0)
                    slot = i;
            if (c >= 0 && s >= 0 && slot >= 0) {
                p->fds[slot * 2] = c;
                p->fds[slot * 2 + 1] = s;
            } else {
                if (c >= 0)
                    close(c);
                if (s >= 0)
                    close(s);
            }
        }
        bool stall = atomic_load(&p->stall);
        for (int i = 0; i < PAIRS_MAX * 2; i++) {
            if (p->fds[i] < 0 || !(pfd[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(p->fds[i], buf, sizeof(buf));
            if (n <= 0) {
                pair_close(p, i / 2);
                continue;
            }
            /* Stalled: what arrives is read and dropped, nothing answers. */
            if (!stall && write(p->fds[i ^ 1], buf, (size_t)n) != n)
                pair_close(p, i / 2);
        }
    }
    return NULL;
}

/* The value of keyword in conninfo (a URL or key=value), or NULL (free()). */
static char *conninfo_value(const char *conninfo, const char *keyword)
{
    char *v = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, keyword) == 0 && o->val)
            v = xstrdup(o->val);
    PQconninfoFree(opts);
    return v;
}

struct stall_proxy *stall_proxy_start(const char *db_url)
{
    struct stall_proxy *p = xcalloc(1, sizeof(*p));
    for (int i = 0; i < PAIRS_MAX * 2; i++)
        p->fds[i] = -1;
    char *port = conninfo_value(db_url, "port");
    p->target_port = port ? (int)strtol(port, NULL, 10) : 5432;
    free(port);
    p->db_url = xstrdup(db_url);
    p->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(p->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (bind(p->listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(p->listen_fd, 64) != 0 ||
        getsockname(p->listen_fd, (struct sockaddr *)&a, &len) != 0)
        abort();
    p->port = ntohs(a.sin_port);
    pthread_create(&p->thread, NULL, run, p);
    return p;
}

char *stall_proxy_conninfo(const struct stall_proxy *p)
{
    char *user = conninfo_value(p->db_url, "user");
    char *dbname = conninfo_value(p->db_url, "dbname");
    char *s = xasprintf("host=127.0.0.1 port=%d user=%s dbname=%s", p->port, user ? user : "",
                        dbname ? dbname : "");
    free(user);
    free(dbname);
    return s;
}

void stall_proxy_set(struct stall_proxy *p, bool stall)
{
    atomic_store(&p->stall, stall);
}

void stall_proxy_stop(struct stall_proxy *p)
{
    if (!p)
        return;
    atomic_store(&p->stop, true);
    pthread_join(p->thread, NULL);
    for (int i = 0; i < PAIRS_MAX; i++)
        if (p->fds[i * 2] >= 0)
            pair_close(p, i);
    close(p->listen_fd);
    free(p->db_url);
    free(p);
}
