/* The flows' shared state (the variable templates, the Railway rate limiter, each worker
 * thread's Railway client) and their registration with the queue, one handler per kind of
 * the kind table (flows/kinds.c).
 *
 * Threading: flows_new() and flows_free() run before the queue starts and after it stopped;
 * in between struct flows is read-only but for the limiter (its own lock) and the
 * thread-specific client key, whose destructor frees a worker thread's client when it ends. */
#include "flows/flows_int.h"

#include "flows/variables.h"
#include "queue/queue.h"
#include "util/util.h"

#include <stdlib.h>

static void free_client(void *p)
{
    railway_client_free(p);
}

struct flows *flows_new(const struct config *cfg, char *err, size_t errlen)
{
    cJSON *templates = variables_templates_load(cfg, err, errlen);
    if (!templates)
        return NULL;
    struct flows *fl = xcalloc(1, sizeof(*fl));
    fl->cfg = cfg;
    fl->templates = templates;
    fl->lim = railway_limiter_new(cfg->railway_max_rps, cfg->railway_hourly_budget);
    pthread_key_create(&fl->client_key, free_client);
    return fl;
}

void flows_register(struct flows *fl, struct queue *q)
{
    fl->q = q;
    for (const struct flows_kind *k = flows_kinds; k->name; k++) {
        struct job_handler h = {k->name, k->handler->run, k->handler->compensate, fl};
        queue_register(q, &h);
    }
    struct queue_watcher w = {flows_watch_run, fl};
    queue_watcher_set(q, &w);
}

struct railway_limiter *flows_limiter(const struct flows *fl)
{
    return fl->lim;
}

void flows_free(struct flows *fl)
{
    if (!fl)
        return;
    /* The calling thread's client, if it made one; worker threads freed theirs on exit. */
    free_client(pthread_getspecific(fl->client_key));
    pthread_setspecific(fl->client_key, NULL);
    pthread_key_delete(fl->client_key);
    railway_limiter_free(fl->lim);
    cJSON_Delete(fl->templates);
    free(fl);
}
