/* Jobs for the flows suites (tests/integration/flows_jobs.h). */
#include "flows_jobs.h"

#include "flows/flows.h"
#include "queue/queue.h"
#include "store/store.h"
#include "support/harness.h"
#include "util/log.h"
#include "util/util.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *tf_enqueue(const char *db, const char *kind, const char *service, const char *payload)
{
    char *sql = xasprintf("INSERT INTO jobs (kind, service_name, payload) VALUES ('%s', '%s', "
                          "'%s') RETURNING id",
                          kind, service, payload);
    char *id = th_sql(db, sql);
    free(sql);
    return id;
}

char *tf_provision_payload(const char *manifest_id, const char *schema)
{
    return xasprintf("{\"manifest_id\":\"%s\",\"service_schema\":\"%s\",\"record\":{\"id\":\"%s\","
                     "\"service_schema\":\"%s\",\"status\":\"pending\"}}",
                     manifest_id, schema, manifest_id, schema);
}

char *tf_provision(const char *db, const char *manifest_id, const char *schema)
{
    char *payload = tf_provision_payload(manifest_id, schema);
    char *name = xasprintf("osp-worker-%s", schema);
    char *id = tf_enqueue(db, "provision", name, payload);
    free(payload);
    free(name);
    return id;
}

char *tf_wait_done(const char *db, const char *id, int timeout_ms)
{
    char *sql = xasprintf("SELECT state FROM jobs WHERE id = '%s'", id);
    int64_t deadline = time_mono_ms() + timeout_ms;
    char *state = NULL;
    while (time_mono_ms() < deadline) {
        free(state);
        state = th_sql(db, sql);
        if (strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
            strcmp(state, "cancelled") == 0)
            break;
        usleep(100 * 1000);
    }
    free(sql);
    return state;
}

bool tf_has_event(const char *db, const char *id, const char *like)
{
    char *sql = xasprintf("SELECT count(*) FROM job_events WHERE job_id = '%s' AND message LIKE "
                          "'%s'",
                          id, like);
    long n = th_sql_long(db, sql);
    free(sql);
    return n > 0;
}

void tf_pool_start(struct tf_pool *p, int store_size)
{
    char err[256];
    cr_assert(config_load(&p->cfg, CONFIG_NEED_DATABASE, err, sizeof(err)), "%s", err);
    log_setup(LOG_ERROR, false, 2);
    p->store =
        store_open(p->cfg.database_url, store_size, p->cfg.db_pool_wait_ms, p->cfg.queue_listen);
    p->pool = queue_create(&p->cfg, p->store);
    p->fl = flows_new(&p->cfg, err, sizeof(err));
    cr_assert_not_null(p->fl, "%s", err);
    flows_register(p->fl, p->pool);
    cr_assert_eq(queue_start(p->pool, err, sizeof(err)), RH_OK, "%s", err);
}

void tf_pool_stop(struct tf_pool *p)
{
    queue_stop(p->pool, 2000);
    p->pool = NULL;
    store_close(p->store);
    flows_free(p->fl);
    config_free(&p->cfg);
}
