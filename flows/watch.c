/* The deployment watcher: the one thread per instance (the queue's watcher hook) that reads the
 * status of every deployment this instance's parked jobs wait on ("deployment:<id>", parked
 * by flows/deploy.c) in one request per tick (RAILWAY_OP_DEPLOYMENTS_WATCH expanded to one
 * aliased field per deployment, WATCH_CHUNK deployments a request), and wakes the jobs whose
 * deployment's status differs from the one they last saw, handing them the deployment.
 *
 * Schedule (docs/operations.md): a deployment is first looked at DEPLOY_POLL_MAX_MS after its
 * job parked; after that, every deployment is read at every tick, and the pause between
 * ticks while n deployments are watched is 2 x DEPLOY_POLL_MAX_MS / n, within
 * [DEPLOY_POLL_MIN_MS, 2 x DEPLOY_POLL_MAX_MS]: a lone deployment is read every minute (by
 * default), twenty every ten seconds, so a tick's cost is shared when it is frequent. A tick
 * whose request fails wakes nobody and counts as a look (the next comes one pause later); a
 * deployment Railway cannot read wakes its jobs to read it themselves, and the others of its
 * request are read again without it.
 *
 * Threading: runs on the queue's watcher thread with its own Railway client; it spends from
 * the shared rate limiter like the flows. Its table of looked-at deployments is its own. */
#include "flows/flows_int.h"

#include "queue/queue.h"
#include "util/log.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WATCH_PREFIX "deployment:"
/* Deployments read per request. */
#define WATCH_CHUNK 50
/* How long a tick waits for the shared limiter before giving up until the next one. */
#define WATCH_LIMITER_WAIT_MS 5000

/* One deployment being watched. */
struct watched {
    char id[80];
    int64_t parked_at; /* monotonic: the earliest park of a job waiting on it */
    int64_t looked_at; /* monotonic: the last tick that read it (0: never) */
    bool live;         /* still waited on (a pass's mark) */
};

struct watch {
    struct flows *fl;
    struct queue *q;
    struct railway_client *rc;
    struct watched *items;
    int count, cap;
};

static int64_t tick_pause_ms(const struct config *cfg, int n)
{
    int64_t max = 2 * (int64_t)cfg->deploy_poll_max_ms;
    int64_t pause = n > 0 ? max / n : max;
    if (pause < cfg->deploy_poll_min_ms)
        pause = cfg->deploy_poll_min_ms;
    return pause < max ? pause : max;
}

static struct watched *watched_find(struct watch *w, const char *id)
{
    for (int i = 0; i < w->count; i++)
        if (strcmp(w->items[i].id, id) == 0)
            return &w->items[i];
    return NULL;
}

/* Brings the table in line with the parked jobs' waits: adds new deployments, drops those no
 * job waits on any more. */
static void watched_sync(struct watch *w, const struct queue_wait *waits, int n)
{
    for (int i = 0; i < w->count; i++)
        w->items[i].live = false;
    for (int i = 0; i < n; i++) {
        const char *id = waits[i].on + strlen(WATCH_PREFIX);
        struct watched *d = watched_find(w, id);
        if (!d) {
            if (w->count == w->cap) {
                w->cap = w->cap ? w->cap * 2 : 16;
                w->items = xrealloc(w->items, (size_t)w->cap * sizeof(*w->items));
            }
            d = &w->items[w->count++];
            memset(d, 0, sizeof(*d));
            snprintf(d->id, sizeof(d->id), "%s", id);
            d->parked_at = waits[i].parked_at_ms;
        }
        d->live = true;
        if (waits[i].parked_at_ms < d->parked_at)
            d->parked_at = waits[i].parked_at_ms;
    }
    for (int i = 0; i < w->count;) {
        if (w->items[i].live) {
            i++;
            continue;
        }
        w->items[i] = w->items[--w->count];
    }
}

/* When the next tick is due (monotonic), or INT64_MAX when nothing is watched. */
static int64_t next_tick(const struct watch *w)
{
    const struct config *cfg = w->fl->cfg;
    int64_t pause = tick_pause_ms(cfg, w->count), due = INT64_MAX;
    for (int i = 0; i < w->count; i++) {
        const struct watched *d = &w->items[i];
        int64_t at = d->looked_at ? d->looked_at + pause : d->parked_at + cfg->deploy_poll_max_ms;
        if (at < due)
            due = at;
    }
    return due;
}

/* Wakes the jobs parked on deployment id whose last seen status is not status (NULL: the
 * watcher could not read it; the jobs read it themselves). */
static void wake(struct watch *w, const struct queue_wait *waits, int n, const char *id,
                 const cJSON *node)
{
    const char *status = NULL;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(node, "status");
    if (cJSON_IsString(s))
        status = s->valuestring;
    char on[96];
    snprintf(on, sizeof(on), WATCH_PREFIX "%s", id);
    bool differs = false;
    for (int i = 0; i < n && !differs; i++)
        if (strcmp(waits[i].on, on) == 0 && (!status || strcmp(waits[i].seen, status) != 0))
            differs = true;
    if (!differs)
        return;
    char *value = NULL;
    if (status) {
        value = cJSON_PrintUnformatted(node);
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", id);
        value = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
    }
    queue_parked_wake(w->q, on, value);
    cJSON_free(value);
}

/* The index k of the alias "d<k>" (< n) the error's path starts with, or -1. */
static int error_alias(const cJSON *err, int n)
{
    const cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(err, "path"), 0);
    if (!cJSON_IsString(p) || p->valuestring[0] != 'd')
        return -1;
    char *end = NULL;
    long k = strtol(p->valuestring + 1, &end, 10);
    return end && *end == '\0' && end != p->valuestring + 1 && k >= 0 && k < n ? (int)k : -1;
}

/* Reads the deployments idx[0..n) of the table in one request and wakes their jobs. A field
 * Railway fails (a deployment it cannot read: its job reads it itself) nulls all data of a
 * non-null field's request, so the others are read again without it, in one more request. */
static void read_chunk(struct watch *w, int *idx, int n, const struct queue_wait *waits, int nwaits)
{
    for (int attempt = 0; attempt < 2 && n > 0; attempt++) {
        cJSON *vars = cJSON_CreateObject();
        char key[16];
        for (int i = 0; i < n; i++) {
            snprintf(key, sizeof(key), "d%d", i);
            cJSON_AddStringToObject(vars, key, w->items[idx[i]].id);
        }
        struct railway_result r;
        enum rh_status st = railway_call_expanded(w->rc, RAILWAY_OP_DEPLOYMENTS_WATCH, n, vars,
                                                  WATCH_LIMITER_WAIT_MS, &r);
        cJSON_Delete(vars);
        const cJSON *data = cJSON_GetObjectItem(r.body, "data");
        const cJSON *errors = cJSON_GetObjectItem(r.body, "errors");
        int failed = 0;
        if (st == RH_OK || (r.http_status == 200 && cJSON_IsArray(errors))) {
            bool *bad = xcalloc((size_t)n, sizeof(*bad));
            const cJSON *e;
            cJSON_ArrayForEach(e, errors)
            {
                int k = error_alias(e, n);
                if (k >= 0 && !bad[k]) {
                    bad[k] = true;
                    failed++;
                    wake(w, waits, nwaits, w->items[idx[k]].id, NULL);
                }
            }
            int kept = 0;
            for (int i = 0; i < n; i++) {
                snprintf(key, sizeof(key), "d%d", i);
                const cJSON *node = cJSON_GetObjectItem(data, key);
                if (cJSON_IsObject(node))
                    wake(w, waits, nwaits, w->items[idx[i]].id, node);
                else if (!bad[i])
                    idx[kept++] = idx[i];
            }
            free(bad);
            if (st != RH_OK && failed == 0)
                log_warn("the deployment watcher's read failed; trying again next tick",
                         LOG_INT("deployments", n), LOG_STR("error", r.message));
            n = failed > 0 ? kept : 0;
        } else {
            log_warn("the deployment watcher's read failed; trying again next tick",
                     LOG_INT("deployments", n), LOG_STR("code", railway_error_name(r.error)),
                     LOG_STR("error", r.message));
            n = 0;
        }
        railway_result_free(&r);
    }
}

static void tick(struct watch *w, const struct queue_wait *waits, int n)
{
    int64_t now = time_mono_ms();
    int idx[WATCH_CHUNK];
    for (int from = 0; from < w->count; from += WATCH_CHUNK) {
        int k = w->count - from < WATCH_CHUNK ? w->count - from : WATCH_CHUNK;
        for (int i = 0; i < k; i++)
            idx[i] = from + i;
        read_chunk(w, idx, k, waits, n);
    }
    for (int i = 0; i < w->count; i++)
        w->items[i].looked_at = now;
}

void flows_watch_run(void *ctx, struct queue *q)
{
    struct watch w;
    memset(&w, 0, sizeof(w));
    w.fl = ctx;
    w.q = q;
    w.rc = railway_client_new(w.fl->cfg, w.fl->lim);
    for (;;) {
        int n = 0;
        struct queue_wait *waits = queue_parked_list(q, WATCH_PREFIX, &n);
        watched_sync(&w, waits, n);
        int64_t due = next_tick(&w);
        if (due <= time_mono_ms()) {
            tick(&w, waits, n);
            free(waits);
            continue;
        }
        free(waits);
        int64_t until = due == INT64_MAX ? time_mono_ms() + 60000 : due;
        if (queue_watcher_sleep(q, until) == RH_STOPPING)
            break;
    }
    free(w.items);
    railway_client_free(w.rc);
}
