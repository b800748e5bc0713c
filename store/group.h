/* Group commit, the one way railhook shares a commit among writers: the webhook intake
 * (deliveries and their jobs) and the queue (finished runs and the next claims). A thread
 * submits an item and waits until the batch holding it is written, or posts it and hears of it
 * through a callback; a leader takes every item queued meanwhile and writes them, through a
 * callback, in one statement and transaction, so a commit (a WAL flush, and a NOTIFY, which
 * PostgreSQL serialises across the cluster) carries them all. Who leads is the user's choice:
 * - the submitters themselves (the queue): a waiting worker leads each batch on its own
 *   connection, whose next job the same statement claims, and two batches may be written at
 *   once (one commits while the next forms);
 * - a writer thread of the group (the intake): its own connection; items are posted, so no
 *   thread waits for them (a waiting delivery holds no HTTP thread), and the writer takes
 *   whatever has arrived the moment the previous batch commits. */
#ifndef RAILHOOK_STORE_GROUP_H
#define RAILHOOK_STORE_GROUP_H

#include "util/status.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a submitter hands over: make it the first member of the struct that carries the
 * item's data and result, so the callbacks can convert an item pointer back to it. */
struct store_group_item {
    size_t size; /* the caller's: counts against max_bytes */
    /* the group's */
    struct store_group_item *next;
    pthread_cond_t cond;
    bool taken;   /* in a batch being written */
    bool leading; /* its thread leads a batch right now */
    bool done;    /* its batch was written */
    bool posted;  /* nobody waits: ops->done hears of it */
};

struct store_group_ops {
    /* Writes batch[0..n) in one transaction and stores each item's result with it. writer is
     * what the leading submitter passed to store_group_submit() (e.g. its own connection). */
    void (*write)(void *ctx, void *writer, struct store_group_item **batch, size_t n);
    /* Optional: false keeps candidate out of the batch batch[0..n) forming now (it waits, in
     * order, for a later one). */
    bool (*admit)(void *ctx, struct store_group_item *const *batch, size_t n,
                  const struct store_group_item *candidate);
    /* Optional: true while more items are expected at once (e.g. handlers still running); a
     * forming batch then waits for them, at most linger_us. */
    bool (*expect_more)(void *ctx);
    /* Posted items (store_group_post()): called on the writer thread once the batch holding
     * item is written; the item is the caller's again (it may free it). */
    void (*done)(void *ctx, struct store_group_item *item);
};

struct store_group_limits {
    size_t max_items;   /* per batch */
    size_t max_bytes;   /* item sizes per batch (a batch's first item always fits); 0: none */
    int max_writers;    /* batches written at once by submitters, each on its own connection */
    int linger_us;      /* see expect_more */
    bool writer_thread; /* a thread of the group leads every batch (one at a time, writer
                         * NULL) instead of the submitters */
};

/* A group calling ops (copied) with ctx (borrowed), and starting its writer thread if asked;
 * NULL when that thread cannot be started. Free with store_group_free(). */
struct store_group *store_group_new(const struct store_group_ops *ops,
                                    const struct store_group_limits *limits, void *ctx);
/* Writes what is still queued, stops the writer thread and frees the group; NULL-safe. Call
 * when no submitter is left. */
void store_group_free(struct store_group *g);
/* Queues item and returns once the batch holding it is written (its result is where
 * ops->write put it), leading batches on writer meanwhile when nobody else does (unless the
 * group has a writer thread). */
void store_group_submit(struct store_group *g, struct store_group_item *item, void *writer);
/* Queues item and returns at once (groups with a writer thread and ops->done only): the writer
 * thread writes it with the next batch and then calls ops->done(ctx, item). A posted item is
 * written even when store_group_free() is called meanwhile. */
void store_group_post(struct store_group *g, struct store_group_item *item);

#endif
