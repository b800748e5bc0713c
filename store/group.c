/* Group commit (store/group.h).
 *
 * Threading: the group's mutex guards the queue of waiting items, every item's flags and the
 * leadership state; each submitter sleeps on its own item's condition variable, so a finished
 * batch wakes exactly its own submitters. A batch may start when none is forming and fewer
 * than max_writers are being written. Then, with a writer thread, that thread is woken to lead
 * it; otherwise a submitter that finds it so leads at once, or the thread of the first queued
 * item not leading already is woken to lead (hand_over()). A leader lingers while
 * expect_more() says so (each newcomer wakes it), takes queued items from the head in order
 * within the limits, and writes them with the mutex released; then it marks them done and
 * wakes their threads, and hands posted items (store_group_post(), nobody waits on them) to
 * ops->done. write, admit and done run without the mutex; expect_more runs with it held, so it
 * must be quick and take no lock. */
#include "store/group.h"

#include "util/util.h"

#include <stdlib.h>
#include <time.h>

struct store_group {
    struct store_group_ops ops;
    struct store_group_limits lim;
    void *ctx;
    pthread_condattr_t monotonic;
    pthread_mutex_t mu;
    pthread_cond_t more;                  /* a forming leader waits here for newcomers */
    pthread_cond_t work;                  /* the writer thread waits here for a batch */
    struct store_group_item *head, *tail; /* queued, not taken yet */
    int writers;                          /* batches forming or being written */
    bool forming;
    bool stopping; /* the writer thread leaves once the queue is empty */
    pthread_t thread;
};

static void lead(struct store_group *g, struct store_group_item *me, void *writer);

static bool can_lead(const struct store_group *g)
{
    return !g->forming && g->writers < g->lim.max_writers && g->head;
}

static void *writer_main(void *arg)
{
    struct store_group *g = arg;
    pthread_mutex_lock(&g->mu);
    for (;;) {
        if (can_lead(g))
            lead(g, NULL, NULL);
        else if (g->stopping)
            break;
        else
            pthread_cond_wait(&g->work, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

struct store_group *store_group_new(const struct store_group_ops *ops,
                                    const struct store_group_limits *limits, void *ctx)
{
    struct store_group *g = xcalloc(1, sizeof(*g));
    g->ops = *ops;
    g->lim = *limits;
    if (g->lim.max_items == 0)
        g->lim.max_items = 1;
    if (g->lim.max_writers <= 0 || g->lim.writer_thread)
        g->lim.max_writers = 1;
    g->ctx = ctx;
    pthread_condattr_init(&g->monotonic);
    pthread_condattr_setclock(&g->monotonic, CLOCK_MONOTONIC);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->more, &g->monotonic);
    pthread_cond_init(&g->work, NULL);
    if (g->lim.writer_thread && pthread_create(&g->thread, NULL, writer_main, g) != 0) {
        g->lim.writer_thread = false; /* nothing to join */
        store_group_free(g);
        g = NULL;
    }
    return g;
}

void store_group_free(struct store_group *g)
{
    if (!g)
        return;
    if (g->lim.writer_thread) {
        pthread_mutex_lock(&g->mu);
        g->stopping = true;
        pthread_cond_signal(&g->work);
        pthread_mutex_unlock(&g->mu);
        pthread_join(g->thread, NULL);
    }
    pthread_cond_destroy(&g->work);
    pthread_cond_destroy(&g->more);
    pthread_mutex_destroy(&g->mu);
    pthread_condattr_destroy(&g->monotonic);
    free(g);
}

/* Wakes the writer thread, or else a queued submitter, to lead the next batch when one may
 * start (mu held). */
static void hand_over(struct store_group *g)
{
    if (!can_lead(g))
        return;
    if (g->lim.writer_thread) {
        pthread_cond_signal(&g->work);
        return;
    }
    for (struct store_group_item *it = g->head; it; it = it->next) {
        if (!it->leading) {
            pthread_cond_signal(&it->cond);
            return;
        }
    }
}

/* Moves queued items into batch, in order, within the limits and as admit() allows (mu
 * held); returns how many. Items left out stay queued in their order. */
static size_t take(struct store_group *g, struct store_group_item **batch)
{
    size_t n = 0, bytes = 0;
    struct store_group_item *keep = NULL, *keep_tail = NULL;
    struct store_group_item *it = g->head;
    while (it) {
        struct store_group_item *next = it->next;
        bool full = n == g->lim.max_items ||
                    (n > 0 && g->lim.max_bytes && bytes + it->size > g->lim.max_bytes);
        bool in = !full && (!g->ops.admit || g->ops.admit(g->ctx, batch, n, it));
        it->next = NULL;
        if (in) {
            it->taken = true;
            bytes += it->size;
            batch[n++] = it;
        } else if (keep_tail) {
            keep_tail->next = it;
            keep_tail = it;
        } else {
            keep = keep_tail = it;
        }
        it = next;
    }
    g->head = keep;
    g->tail = keep_tail;
    return n;
}

/* Leads one batch on writer, for me (NULL: the writer thread) (mu held on entry and on
 * return). */
static void lead(struct store_group *g, struct store_group_item *me, void *writer)
{
    struct store_group_item **batch = xcalloc(g->lim.max_items, sizeof(*batch));
    struct store_group_item *posted = NULL;
    g->writers++;
    g->forming = true;
    if (me)
        me->leading = true;
    if (g->ops.expect_more && g->lim.linger_us > 0) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += (long)g->lim.linger_us * 1000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        while (g->ops.expect_more(g->ctx) && pthread_cond_timedwait(&g->more, &g->mu, &until) == 0)
            ;
    }
    size_t n = take(g, batch);
    g->forming = false;
    hand_over(g); /* the next batch may form while this one is written */
    pthread_mutex_unlock(&g->mu);

    g->ops.write(g->ctx, writer, batch, n);

    pthread_mutex_lock(&g->mu);
    for (size_t i = 0; i < n; i++) {
        struct store_group_item *it = batch[i];
        if (it->posted) {
            it->next = posted;
            posted = it;
            continue;
        }
        it->done = true;
        pthread_cond_signal(&it->cond);
    }
    if (me)
        me->leading = false;
    g->writers--;
    hand_over(g);
    if (posted) {
        pthread_mutex_unlock(&g->mu);
        while (posted) {
            struct store_group_item *it = posted;
            posted = it->next; /* done() may free it */
            it->next = NULL;
            g->ops.done(g->ctx, it);
        }
        pthread_mutex_lock(&g->mu);
    }
    free(batch);
}

/* Queues item at the tail and wakes whoever must know (mu held). */
static void enqueue(struct store_group *g, struct store_group_item *item)
{
    item->next = NULL;
    if (g->tail)
        g->tail->next = item;
    else
        g->head = item;
    g->tail = item;
    if (g->forming)
        pthread_cond_signal(&g->more);
    if (g->lim.writer_thread)
        hand_over(g);
}

void store_group_submit(struct store_group *g, struct store_group_item *item, void *writer)
{
    item->taken = item->leading = item->done = item->posted = false;
    pthread_cond_init(&item->cond, &g->monotonic);
    pthread_mutex_lock(&g->mu);
    enqueue(g, item);
    while (!item->done) {
        if (!item->taken && !g->lim.writer_thread && can_lead(g))
            lead(g, item, writer);
        else
            pthread_cond_wait(&item->cond, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    pthread_cond_destroy(&item->cond);
}

void store_group_post(struct store_group *g, struct store_group_item *item)
{
    item->taken = item->leading = item->done = false;
    item->posted = true;
    pthread_mutex_lock(&g->mu);
    enqueue(g, item);
    pthread_mutex_unlock(&g->mu);
}
