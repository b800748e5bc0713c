/* The group commit (store/group.c) with test callbacks and no database: every item written
 * once, batches within their limits and writers, order kept, admit(), lingering, posted items. */
#include "store/group.h"
#include "util/util.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct item {
    struct store_group_item item; /* first */
    int submitter;
    int seq;
    int key;
    int written; /* times a batch held it */
    int batch;   /* which batch */
    int batch_size;
    void *writer; /* what its batch's leader passed */
};

struct ctx {
    pthread_mutex_t mu;
    int batches;
    int writers_now, writers_max;
    int last_seq[64]; /* per submitter: the last seq written, to check order */
    bool order_broken;
    int write_us;
    atomic_int expect; /* expect_more() */
    atomic_int done;   /* posted items handed back */
    bool gated;        /* writes wait for a permit (mu) */
    int permits;       /* mu */
    int at_gate;       /* mu: writes waiting for a permit */
    pthread_cond_t permit;
};

/* Lets n more writes through a gated group. */
static void permit(struct ctx *x, int n)
{
    pthread_mutex_lock(&x->mu);
    x->permits += n;
    pthread_cond_broadcast(&x->permit);
    pthread_mutex_unlock(&x->mu);
}

static void on_write(void *c, void *writer, struct store_group_item **batch, size_t n)
{
    struct ctx *x = c;
    pthread_mutex_lock(&x->mu);
    x->at_gate++;
    while (x->gated && x->permits == 0)
        pthread_cond_wait(&x->permit, &x->mu);
    x->at_gate--;
    if (x->gated)
        x->permits--;
    int id = ++x->batches;
    if (++x->writers_now > x->writers_max)
        x->writers_max = x->writers_now;
    pthread_mutex_unlock(&x->mu);
    if (x->write_us)
        usleep((useconds_t)x->write_us);
    pthread_mutex_lock(&x->mu);
    for (size_t i = 0; i < n; i++) {
        struct item *it = (struct item *)batch[i];
        it->written++;
        it->batch = id;
        it->batch_size = (int)n;
        it->writer = writer;
        if (it->seq <= x->last_seq[it->submitter])
            x->order_broken = true;
        x->last_seq[it->submitter] = it->seq;
    }
    x->writers_now--;
    pthread_mutex_unlock(&x->mu);
}

static bool on_admit(void *c, struct store_group_item *const *batch, size_t n,
                     const struct store_group_item *candidate)
{
    (void)c;
    for (size_t i = 0; i < n; i++)
        if (((const struct item *)batch[i])->key == ((const struct item *)candidate)->key)
            return false;
    return true;
}

static bool on_expect_more(void *c)
{
    return atomic_load(&((struct ctx *)c)->expect) > 0;
}

static void on_done(void *c, struct store_group_item *it)
{
    cr_assert_eq(((struct item *)it)->written, 1, "handed back after its batch was written");
    atomic_fetch_add(&((struct ctx *)c)->done, 1);
    free(it);
}

static void ctx_init(struct ctx *x)
{
    memset(x, 0, sizeof(*x));
    pthread_mutex_init(&x->mu, NULL);
    pthread_cond_init(&x->permit, NULL);
}

struct submitter {
    struct store_group *g;
    struct ctx *x;
    int index;
    int count;
    struct item *items;
};

static void *submit_many(void *arg)
{
    struct submitter *s = arg;
    for (int i = 0; i < s->count; i++) {
        struct item *it = &s->items[i];
        it->submitter = s->index;
        it->seq = i + 1;
        it->key = s->index * 100000 + i;
        store_group_submit(s->g, &it->item, s);
        cr_assert_eq(it->written, 1, "written once before its submitter returns");
    }
    return NULL;
}

Test(store_group, every_item_is_written_once_in_order_by_at_most_max_writers, .timeout = 60)
{
    enum { THREADS = 12, EACH = 300 };
    struct ctx x;
    ctx_init(&x);
    x.write_us = 300;
    const struct store_group_ops ops = {.write = on_write};
    const struct store_group_limits lim = {.max_items = 16, .max_writers = 2};
    struct store_group *g = store_group_new(&ops, &lim, &x);
    pthread_t th[THREADS];
    struct submitter s[THREADS];
    for (int i = 0; i < THREADS; i++) {
        s[i] = (struct submitter){g, &x, i, EACH, xcalloc(EACH, sizeof(struct item))};
        pthread_create(&th[i], NULL, submit_many, &s[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    int total = 0;
    bool some_led_for_others = false;
    for (int i = 0; i < THREADS; i++) {
        for (int k = 0; k < EACH; k++) {
            struct item *it = &s[i].items[k];
            cr_assert_eq(it->written, 1);
            cr_assert_leq(it->batch_size, 16);
            some_led_for_others |= it->writer != &s[i];
            total++;
        }
        free(s[i].items);
    }
    cr_assert_eq(total, THREADS * EACH);
    cr_assert_not(x.order_broken, "a submitter's items are written in its order");
    cr_assert_leq(x.writers_max, 2);
    cr_assert_eq(x.writers_max, 2, "two batches were written at once");
    cr_assert_lt(x.batches, total / 2, "items share batches (%d batches)", x.batches);
    cr_assert(some_led_for_others, "a leader writes other submitters' items");
    store_group_free(g);
}

Test(store_group, a_writer_thread_writes_every_batch, .timeout = 60)
{
    enum { THREADS = 8, EACH = 200 };
    struct ctx x;
    ctx_init(&x);
    x.write_us = 200;
    const struct store_group_ops ops = {.write = on_write};
    const struct store_group_limits lim = {.max_items = 16, .writer_thread = true};
    struct store_group *g = store_group_new(&ops, &lim, &x);
    cr_assert_not_null(g);
    pthread_t th[THREADS];
    struct submitter s[THREADS];
    for (int i = 0; i < THREADS; i++) {
        s[i] = (struct submitter){g, &x, i, EACH, xcalloc(EACH, sizeof(struct item))};
        pthread_create(&th[i], NULL, submit_many, &s[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < THREADS; i++) {
        for (int k = 0; k < EACH; k++) {
            cr_assert_eq(s[i].items[k].written, 1);
            cr_assert_null(s[i].items[k].writer, "the writer thread, not a submitter, wrote it");
        }
        free(s[i].items);
    }
    cr_assert_not(x.order_broken);
    cr_assert_eq(x.writers_max, 1);
    cr_assert_lt(x.batches, THREADS * EACH / 2, "items share batches (%d batches)", x.batches);
    store_group_free(g);
}

/* One item per thread, with the key and size set by the test. */
struct one {
    struct store_group *g;
    struct item *it;
    int64_t took_ms;
};

static void *submit_one(void *arg)
{
    struct one *o = arg;
    int64_t t0 = time_mono_ms();
    store_group_submit(o->g, &o->it->item, o);
    o->took_ms = time_mono_ms() - t0;
    return NULL;
}

/* Starts a submitter, then gives it time to queue its item. */
static void start_one(pthread_t *th, struct one *o)
{
    pthread_create(th, NULL, submit_one, o);
    usleep(60 * 1000);
}

Test(store_group, admit_and_the_byte_cap_shape_batches, .timeout = 30)
{
    enum { N = 7 };
    struct ctx x;
    ctx_init(&x);
    x.gated = true;
    const struct store_group_ops ops = {.write = on_write, .admit = on_admit};
    const struct store_group_limits lim = {.max_items = 8, .max_bytes = 100, .max_writers = 1};
    struct store_group *g = store_group_new(&ops, &lim, &x);
    /* The first leads a batch of its own and stalls at the gate while the others queue. */
    const int keys[N] = {9, 1, 1, 2, 3, 4, 5};
    const size_t sizes[N] = {1, 30, 30, 30, 30, 500, 10};
    struct item items[N];
    struct one o[N];
    pthread_t th[N];
    memset(items, 0, sizeof(items));
    for (int i = 0; i < N; i++) {
        items[i] = (struct item){.item.size = sizes[i], .submitter = i, .seq = 1, .key = keys[i]};
        o[i] = (struct one){.g = g, .it = &items[i]};
        start_one(&th[i], &o[i]);
    }
    permit(&x, N);
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(items[i].written, 1);
    }
    cr_assert_eq(items[0].batch_size, 1);
    /* In queue order within 100 bytes; the second key-1 delivery and the big one wait. */
    cr_assert_eq(items[1].batch, items[3].batch);
    cr_assert_eq(items[1].batch, items[4].batch);
    cr_assert_eq(items[1].batch, items[6].batch);
    cr_assert_eq(items[1].batch_size, 4);
    cr_assert_gt(items[2].batch, items[1].batch, "the same key never shares a batch");
    cr_assert_eq(items[5].batch_size, 1, "an item over the byte cap goes alone");
    cr_assert_eq(x.batches, 4);
    store_group_free(g);
}

Test(store_group, posted_items_are_written_by_the_writer_thread_and_handed_back, .timeout = 30)
{
    enum { N = 40 };
    struct ctx x;
    ctx_init(&x);
    x.gated = true;
    const struct store_group_ops ops = {.write = on_write, .done = on_done};
    const struct store_group_limits lim = {.max_items = 16, .writer_thread = true};
    struct store_group *g = store_group_new(&ops, &lim, &x);
    /* The first batch stalls at the gate; everything posted meanwhile waits, with no thread. */
    struct item *first = xcalloc(1, sizeof(*first));
    first->seq = 1;
    store_group_post(g, &first->item);
    int64_t deadline = time_mono_ms() + 5000;
    for (;;) {
        pthread_mutex_lock(&x.mu);
        int b = x.at_gate;
        pthread_mutex_unlock(&x.mu);
        if (b == 1)
            break;
        cr_assert_lt(time_mono_ms(), deadline, "the writer never took the first item");
        usleep(1000);
    }
    for (int i = 0; i < N; i++) {
        struct item *it = xcalloc(1, sizeof(*it));
        it->submitter = 1;
        it->seq = i + 1;
        store_group_post(g, &it->item);
    }
    cr_assert_eq(atomic_load(&x.done), 0, "nothing handed back before its batch");
    /* The first batch and two full ones; the last waits at the gate until free(), which
     * writes it before it returns. */
    permit(&x, 3);
    deadline = time_mono_ms() + 5000;
    while (atomic_load(&x.done) < 1 + 2 * 16) {
        cr_assert_lt(time_mono_ms(), deadline, "handed back: %d", atomic_load(&x.done));
        usleep(1000);
    }
    permit(&x, 100);
    store_group_free(g);
    cr_assert_eq(atomic_load(&x.done), 1 + N, "every posted item was written and handed back");
    cr_assert_not(x.order_broken);
    cr_assert_eq(x.batches, 4);
}

Test(store_group, a_batch_lingers_only_while_more_items_are_expected, .timeout = 30)
{
    struct ctx x;
    ctx_init(&x);
    const struct store_group_ops ops = {.write = on_write, .expect_more = on_expect_more};
    const struct store_group_limits lim = {.max_items = 8, .max_writers = 1, .linger_us = 400000};
    struct store_group *g = store_group_new(&ops, &lim, &x);
    struct item a = {.submitter = 0, .seq = 1}, b = {.submitter = 1, .seq = 1};
    struct one oa = {.g = g, .it = &a}, ob = {.g = g, .it = &b};
    pthread_t ta, tb;
    /* a's batch waits for b, which says nothing more is coming when it arrives. */
    atomic_store(&x.expect, 1);
    start_one(&ta, &oa);
    atomic_store(&x.expect, 0);
    pthread_create(&tb, NULL, submit_one, &ob);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    cr_assert_eq(a.batch, b.batch);
    cr_assert_eq(a.batch_size, 2);
    cr_assert_lt(oa.took_ms, 300, "it stopped lingering when b came (%lld ms)",
                 (long long)oa.took_ms);

    /* Nothing expected: no waiting at all. */
    struct item c = {.submitter = 2, .seq = 1};
    int64_t t0 = time_mono_ms();
    store_group_submit(g, &c.item, NULL);
    cr_assert_lt(time_mono_ms() - t0, 200);
    cr_assert_eq(c.batch_size, 1);
    store_group_free(g);
}
