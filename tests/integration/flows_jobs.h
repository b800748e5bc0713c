/* Jobs for the flows suites (test_flows*.c): enqueued straight into the suite's database db,
 * and read back from it. */
#ifndef RAILHOOK_TESTS_FLOWS_JOBS_H
#define RAILHOOK_TESTS_FLOWS_JOBS_H

#include "util/config.h"

#include <stdbool.h>

/* A worker pool running the flows, as `railhook serve` runs them. */
struct tf_pool {
    struct config cfg;
    struct store *store;
    struct queue *pool;
    struct flows *fl;
};

/* Loads the configuration from the environment the suite has set (DATABASE_URL included), opens
 * a store of store_size connections and starts the worker pool with every flow registered;
 * fails the test on any error. */
void tf_pool_start(struct tf_pool *p, int store_size);
/* Stops the pool (2 s grace) and frees all tf_pool_start made. */
void tf_pool_stop(struct tf_pool *p);

/* Enqueues a job of kind for service with the payload JSON text; returns its id (free()). */
char *tf_enqueue(const char *db, const char *kind, const char *service, const char *payload);
/* The payload of a provision of manifest_id whose row holds schema (free()). */
char *tf_provision_payload(const char *manifest_id, const char *schema);
/* Enqueues that provision, for service "osp-worker-<schema>"; returns its id (free()). */
char *tf_provision(const char *db, const char *manifest_id, const char *schema);
/* Waits up to timeout_ms for the job to finish; returns its last state (free()). */
char *tf_wait_done(const char *db, const char *id, int timeout_ms);
/* Whether the job has an event whose message is LIKE like. */
bool tf_has_event(const char *db, const char *id, const char *like);

#endif
