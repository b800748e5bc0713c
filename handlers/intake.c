/* The webhook intake's group commit.
 *
 * Threading: request threads (libmicrohttpd's pool) call intake_post(), which posts the
 * delivery to the store's group commit (store/group.h) and returns at once: the request's
 * connection stays suspended meanwhile, so a waiting delivery holds no thread and any number
 * of them can share a commit. The group's writer thread owns the intake's connection: it takes
 * every queued delivery at once (capped in count and bytes; a delivery whose key is in the
 * batch already waits for the next one), writes their delivery rows and jobs with one statement
 * of the store's enqueue path (store/enqueue.h: one transaction, one WAL flush), and then, for
 * each, wakes its request (the wake callback, which resumes the connection). While a batch
 * commits, newcomers queue up and form the next one. A delivery is shared between its request
 * and the group (refs, under the intake's lock): whichever lets go last frees it, so a request
 * that ends first (shutdown, intake_release_all()) never leaves the writer a dangling entry,
 * and the writer never wakes a request that has ended. The mapping rules are read-only after
 * intake_start(), so request threads read them without a lock. */
#include "handlers/intake.h"

#include "store/enqueue.h"
#include "store/group.h"
#include "store/services.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/util.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A delivery waiting for its commit (the struct intake_wait its request holds). Only the
 * writer touches its data between post and the batch's end; the fields after the data are the
 * intake's lock's. */
struct entry {
    struct store_group_item item; /* first: the group's items are entries */
    struct intake *in;
    char *source;
    char *delivery_id;
    char *event;
    struct mapping_result mapped;
    uint64_t key_hash; /* of (source, delivery id): the batch's duplicate check */
    enum rh_status status;
    struct intake_outcome out;
    bool inserted;
    bool failed;
    int64_t deadline_ms; /* still queued then: answered unavailable, not written */
    /* under in->lock */
    int refs;      /* the request's and the group's */
    bool finished; /* status and out are final */
    bool woken;    /* wake() was called (once at most) */
    bool gone;     /* the request ended */
    void (*wake)(void *transport);
    void *transport;
    struct entry *prev, *next; /* in->waiting while not woken */
};

struct intake {
    const struct config *cfg;
    struct store *store;
    struct mapping_rules rules;
    struct store_group *group;
    PGconn *conn;          /* the group's writer thread only */
    pthread_mutex_t lock;  /* entries' refs and wake-up state, and the two below */
    struct entry *waiting; /* posted, not woken yet */
    size_t nwaiting;
    bool closing; /* intake_release_all() was called: no more waiting */
    /* The key hashes of the batch being formed (open addressing, 0: free), so admitting a
     * delivery costs the same whatever the batch holds; only the group's writer touches it. */
    uint64_t batch_keys[INTAKE_MAX_BATCH * 2];
};

static void entry_free(struct entry *e)
{
    if (!e)
        return;
    free(e->source);
    free(e->delivery_id);
    free(e->event);
    mapping_result_free(&e->mapped);
    intake_outcome_free(&e->out);
    free(e);
}

void intake_outcome_free(struct intake_outcome *out)
{
    free(out->job_ids);
    out->job_ids = NULL;
    out->njobs = 0;
}

const struct mapping_rules *intake_rules(const struct intake *in)
{
    return &in->rules;
}

/* The writer's own connection: durable commits, a bounded connect time (store/store.h). NULL
 * when the database cannot be reached. */
static PGconn *writer_connect(struct intake *in)
{
    char err[256] = "";
    PGconn *c = store_conn_open(in->store, STORE_SESSION_INTAKE, err, sizeof(err));
    if (!c)
        log_error("intake cannot connect to the database", LOG_STR("error", err));
    return c;
}

/* Drops a connection that failed or whose state is unknown. */
static void writer_reset(struct intake *in)
{
    if (in->conn)
        PQfinish(in->conn);
    in->conn = NULL;
}

static bool conn_broken(PGconn *c)
{
    return !c || PQstatus(c) != CONNECTION_OK;
}

/* The names of the active services, or false when the query failed. */
static bool active_services(struct intake *in, char ***names, char ***manifests, size_t *n)
{
    char err[256] = "";
    bool ok = store_service_names_active(in->conn, names, manifests, n, err, sizeof(err)) == RH_OK;
    if (!ok)
        log_error("intake cannot read the active services", LOG_STR("error", err));
    return ok;
}

static bool eligible(const struct entry *e)
{
    return !e->failed && e->mapped.outcome == MAPPING_JOBS && e->mapped.njobs > 0;
}

/* Enqueues the jobs of entries[0..n) that have jobs, each with its delivery row, in one
 * statement; marks the new ones inserted (and sets their job ids). Returns RH_OK,
 * RH_UNAVAILABLE (connection trouble: outcome unknown) or RH_INVALID (the database refused
 * the batch; nothing was written). */
static enum rh_status insert_batch(struct intake *in, struct entry **entries, size_t n)
{
    enum rh_status st = RH_OK;
    struct store_enqueue *groups = xcalloc(n ? n : 1, sizeof(*groups));
    struct entry **pos = xcalloc(n ? n : 1, sizeof(*pos));
    struct store_job_new *jobs = NULL;
    size_t count = 0, total = 0, used = 0;
    char err[256] = "";

    for (size_t i = 0; i < n; i++)
        total += eligible(entries[i]) ? entries[i]->mapped.njobs : 0;
    if (total == 0)
        goto out;
    jobs = xcalloc(total, sizeof(*jobs));
    for (size_t i = 0; i < n; i++) {
        struct entry *e = entries[i];
        if (!eligible(e))
            continue;
        for (size_t k = 0; k < e->mapped.njobs; k++) {
            const struct mapping_job *j = &e->mapped.jobs[k];
            jobs[used + k] = (struct store_job_new){.kind = j->kind,
                                                    .payload = j->payload,
                                                    .service_name = j->service_name,
                                                    .dedupe_key = j->dedupe_key,
                                                    .active_key = j->active_key,
                                                    .max_attempts = in->cfg->job_max_attempts};
        }
        groups[count] = (struct store_enqueue){.source = e->source,
                                               .delivery_id = e->delivery_id,
                                               .event = e->event,
                                               .jobs = &jobs[used],
                                               .njobs = e->mapped.njobs,
                                               .ids = e->out.job_ids};
        used += e->mapped.njobs;
        pos[count++] = e;
    }
    st = store_job_enqueue(in->conn, groups, count, err, sizeof(err));
    if (st != RH_OK) {
        log_error("intake batch insert failed", LOG_STR("error", err));
        /* A dedupe key taken already is the database refusing this batch, like a bad row. */
        st = st == RH_UNAVAILABLE ? RH_UNAVAILABLE : RH_INVALID;
        goto out;
    }
    for (size_t i = 0; i < count; i++)
        pos[i]->inserted = groups[i].enqueued;
out:
    free(jobs);
    free(pos);
    free(groups);
    return st;
}

/* Fills the outcome of every entry that was neither inserted nor failed: a duplicate when a
 * row with its id exists, else ignored (no active services). */
static enum rh_status lookup_existing(struct intake *in, struct entry **entries, size_t n)
{
    enum rh_status st = RH_OK;
    struct store_delivery_prior *prior = xcalloc(n ? n : 1, sizeof(*prior));
    struct entry **pos = xcalloc(n ? n : 1, sizeof(*pos));
    size_t count = 0;
    char err[256] = "";

    for (size_t i = 0; i < n; i++) {
        if (entries[i]->inserted || entries[i]->failed)
            continue;
        prior[count].source = entries[i]->source;
        prior[count].delivery_id = entries[i]->delivery_id;
        pos[count++] = entries[i];
    }
    if (count == 0)
        goto out;
    st = store_delivery_find(in->conn, prior, count, err, sizeof(err));
    if (st != RH_OK) {
        log_error("intake duplicate lookup failed", LOG_STR("error", err));
        st = RH_UNAVAILABLE;
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        if (!prior[i].found)
            continue;
        struct entry *e = pos[i];
        intake_outcome_free(&e->out);
        e->out.duplicate = true;
        e->out.job_ids = prior[i].job_ids;
        e->out.njobs = prior[i].njobs;
    }
out:
    free(pos);
    free(prior);
    return st;
}

static void fail_all(struct entry **entries, size_t n, enum rh_status st)
{
    for (size_t i = 0; i < n; i++) {
        if (!entries[i]->failed) {
            entries[i]->failed = true;
            entries[i]->status = st;
        }
    }
}

/* Writes one batch and sets every entry's status and outcome. */
static void write_batch(struct intake *in, struct entry **entries, size_t n)
{
    char **names = NULL;
    char **manifests = NULL;
    size_t nnames = 0;
    bool fanout = false;

    int64_t now = time_mono_ms();
    for (size_t i = 0; i < n; i++) {
        if (entries[i]->deadline_ms < now) {
            entries[i]->failed = true;
            entries[i]->status = RH_UNAVAILABLE;
        }
    }
    if (conn_broken(in->conn)) {
        writer_reset(in);
        in->conn = writer_connect(in);
    }
    if (!in->conn) {
        fail_all(entries, n, RH_UNAVAILABLE);
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        fanout |= entries[i]->mapped.outcome == MAPPING_FANOUT;
    if (fanout && !active_services(in, &names, &manifests, &nnames)) {
        fail_all(entries, n, RH_UNAVAILABLE);
        writer_reset(in);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct entry *e = entries[i];
        bool fanned = e->mapped.outcome == MAPPING_FANOUT;
        mapping_redeploy_jobs(&e->mapped, (const char *const *)names,
                              (const char *const *)manifests, nnames,
                              (size_t)in->cfg->max_jobs_per_delivery);
        if (fanned && nnames > (size_t)in->cfg->max_jobs_per_delivery)
            log_error("delivery over MAX_JOBS_PER_DELIVERY ignored",
                      LOG_STR("delivery_id", e->delivery_id), LOG_INT("jobs", (long)nnames));
        if (e->mapped.outcome == MAPPING_IGNORED) {
            e->out.ignored = true;
            snprintf(e->out.reason, sizeof(e->out.reason), "%s", e->mapped.reason);
        }
        e->out.job_ids = xcalloc(e->mapped.njobs + 1, sizeof(*e->out.job_ids));
        e->out.njobs = e->mapped.njobs;
    }

    enum rh_status st = insert_batch(in, entries, n);
    if (st == RH_INVALID && n > 1) {
        /* Somebody's delivery is unacceptable to the database: isolate it, one by one. */
        for (size_t i = 0; i < n && st != RH_UNAVAILABLE; i++) {
            st = insert_batch(in, &entries[i], 1);
            if (st == RH_INVALID) {
                entries[i]->failed = true;
                entries[i]->status = RH_INVALID;
            }
        }
    } else if (st == RH_INVALID) {
        entries[0]->failed = true;
        entries[0]->status = RH_INVALID;
    }
    if (st == RH_UNAVAILABLE) {
        fail_all(entries, n, RH_UNAVAILABLE);
        writer_reset(in);
        goto out;
    }
    if (lookup_existing(in, entries, n) != RH_OK) {
        for (size_t i = 0; i < n; i++)
            if (!entries[i]->inserted && !entries[i]->out.ignored && !entries[i]->failed) {
                entries[i]->failed = true;
                entries[i]->status = RH_UNAVAILABLE;
            }
        if (conn_broken(in->conn))
            writer_reset(in);
    }
    for (size_t i = 0; i < n; i++) {
        struct entry *e = entries[i];
        if (e->failed)
            continue;
        if (e->inserted || e->out.duplicate) {
            e->out.ignored = false;
            e->status = RH_OK;
        } else if (e->out.ignored) {
            e->out.njobs = 0;
            e->status = RH_OK;
        } else {
            /* The row it collided with is gone again: let the sender retry. */
            e->status = RH_UNAVAILABLE;
        }
    }
out:
    store_service_names_free(names, manifests, nnames);
}

static bool same_key(const struct entry *a, const struct entry *b)
{
    return strcmp(a->source, b->source) == 0 && strcmp(a->delivery_id, b->delivery_id) == 0;
}

/* FNV-1a of source, a NUL and delivery_id; never 0 (the free mark). */
static uint64_t key_hash(const char *source, const char *delivery_id)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *s = source;; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
        if (!*s)
            break;
    }
    for (const char *s = delivery_id; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h ? h : 1;
}

/* The group's callbacks; its items are entries (the first member). */

static void on_write(void *ctx, void *writer, struct store_group_item **batch, size_t n)
{
    (void)writer; /* the writer thread, on the intake's connection */
    struct entry **entries = xcalloc(n ? n : 1, sizeof(*entries));
    for (size_t i = 0; i < n; i++)
        entries[i] = (struct entry *)batch[i];
    write_batch(ctx, entries, n);
    free(entries);
    metrics_count("railhook_intake_batches_total", "", 1);
}

/* A delivery arriving twice at once waits for the next batch, where it is a duplicate. The
 * batch's keys are kept hashed: a look-up is one probe or a few, and only a hash match
 * compares the keys themselves. */
static bool on_admit(void *ctx, struct store_group_item *const *batch, size_t n,
                     const struct store_group_item *candidate)
{
    struct intake *in = ctx;
    const struct entry *c = (const struct entry *)candidate;
    const size_t cap = sizeof(in->batch_keys) / sizeof(in->batch_keys[0]);
    if (n == 0)
        memset(in->batch_keys, 0, sizeof(in->batch_keys));
    size_t at = (size_t)(c->key_hash & (cap - 1));
    bool seen = false;
    for (; in->batch_keys[at]; at = (at + 1) & (cap - 1))
        seen |= in->batch_keys[at] == c->key_hash;
    if (seen)
        for (size_t i = 0; i < n; i++)
            if (same_key((const struct entry *)batch[i], c))
                return false;
    in->batch_keys[at] = c->key_hash;
    return true;
}

/* Drops one hold on e and frees it with the last (in->lock held). */
static void entry_unref(struct entry *e)
{
    if (--e->refs == 0)
        entry_free(e);
}

/* Takes e off the waiting list for good (in->lock held); true when it was on it. */
static bool entry_unlink(struct intake *in, struct entry *e)
{
    if (e->woken || e->gone)
        return false;
    e->woken = true;
    if (e->prev)
        e->prev->next = e->next;
    else
        in->waiting = e->next;
    if (e->next)
        e->next->prev = e->prev;
    e->prev = e->next = NULL;
    in->nwaiting--;
    return true;
}

/* Wakes e's request unless it was woken or has ended (in->lock held). */
static void entry_wake(struct intake *in, struct entry *e)
{
    if (entry_unlink(in, e))
        e->wake(e->transport);
}

static void on_done(void *ctx, struct store_group_item *item)
{
    struct intake *in = ctx;
    struct entry *e = (struct entry *)item;
    pthread_mutex_lock(&in->lock);
    e->finished = true;
    entry_wake(in, e);
    entry_unref(e);
    pthread_mutex_unlock(&in->lock);
}

struct intake *intake_start(const struct config *cfg, struct store *store, char *err, size_t errlen)
{
    static const struct store_group_ops ops = {
        .write = on_write, .admit = on_admit, .done = on_done};
    static const struct store_group_limits limits = {
        .max_items = INTAKE_MAX_BATCH, .max_bytes = INTAKE_MAX_BATCH_BYTES, .writer_thread = true};
    struct intake *in = xcalloc(1, sizeof(*in));
    in->cfg = cfg;
    in->store = store;
    if (mapping_rules_load(&in->rules, cfg, flows_kinds, err, errlen) != RH_OK) {
        free(in);
        return NULL;
    }
    pthread_mutex_init(&in->lock, NULL);
    in->group = store_group_new(&ops, &limits, in);
    if (!in->group) {
        snprintf(err, errlen, "cannot start the intake writer thread");
        mapping_rules_free(&in->rules);
        pthread_mutex_destroy(&in->lock);
        free(in);
        in = NULL;
    }
    return in;
}

void intake_stop(struct intake *in)
{
    if (!in)
        return;
    store_group_free(in->group);
    writer_reset(in);
    mapping_rules_free(&in->rules);
    pthread_mutex_destroy(&in->lock);
    free(in);
}

struct intake_wait *intake_post(struct intake *in, const char *source, const char *delivery_id,
                                const char *event, struct mapping_result *mapped, size_t size_hint,
                                void (*wake)(void *transport), void *transport)
{
    struct entry *e = xcalloc(1, sizeof(*e));
    e->in = in;
    e->source = xstrdup(source);
    e->delivery_id = xstrdup(delivery_id);
    e->key_hash = key_hash(source, delivery_id);
    e->event = xstrdup(event ? event : "");
    e->mapped = *mapped;
    mapping_result_init(mapped);
    e->item.size = size_hint;
    e->status = RH_UNAVAILABLE;
    e->deadline_ms = time_mono_ms() + in->cfg->db_pool_wait_ms;
    e->wake = wake;
    e->transport = transport;
    pthread_mutex_lock(&in->lock);
    bool closing = in->closing;
    e->refs = closing ? 1 : 2;
    if (closing) {
        e->finished = e->woken = true;
    } else {
        e->next = in->waiting;
        if (in->waiting)
            in->waiting->prev = e;
        in->waiting = e;
        in->nwaiting++;
    }
    pthread_mutex_unlock(&in->lock);
    if (closing)
        wake(transport);
    else
        store_group_post(in->group, &e->item);
    return (struct intake_wait *)e;
}

enum rh_status intake_wait_result(struct intake_wait *w, struct intake_outcome *out)
{
    struct entry *e = (struct entry *)w;
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&e->in->lock);
    enum rh_status st = e->finished ? e->status : RH_UNAVAILABLE;
    if (e->finished && st == RH_OK) {
        *out = e->out;
        memset(&e->out, 0, sizeof(e->out));
    }
    pthread_mutex_unlock(&e->in->lock);
    return st;
}

void intake_wait_free(struct intake_wait *w)
{
    struct entry *e = (struct entry *)w;
    if (!e)
        return;
    struct intake *in = e->in;
    pthread_mutex_lock(&in->lock);
    entry_unlink(in, e);
    e->gone = true;
    entry_unref(e);
    pthread_mutex_unlock(&in->lock);
}

void intake_release_all(struct intake *in)
{
    if (!in)
        return;
    pthread_mutex_lock(&in->lock);
    in->closing = true;
    while (in->waiting)
        entry_wake(in, in->waiting);
    pthread_mutex_unlock(&in->lock);
}

size_t intake_waiting(struct intake *in)
{
    if (!in)
        return 0;
    pthread_mutex_lock(&in->lock);
    size_t n = in->nwaiting;
    pthread_mutex_unlock(&in->lock);
    return n;
}
