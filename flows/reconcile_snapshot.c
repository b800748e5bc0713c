/* Reconciliation's reads of the actual state: the EnvironmentSnapshot pages and, in a deep
 * pass, each owned service's variables, every request counted against RECONCILE_BUDGET and
 * taken from the shared rate limiter like the flows' own. Runs on the pass's thread only. */
#include "flows/reconcile_int.h"

#include "flows/variables.h"
#include "util/util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define CALL_TRIES   3
#define LIMITER_WAIT 10000 /* ms a request waits for the shared limiter: running jobs go first */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

enum rh_status reconcile_call(struct reconcile_calls *c, enum railway_op op, cJSON *vars,
                              const cJSON **data, char *err, size_t errlen)
{
    enum rh_status st = RH_TRANSIENT;
    *data = NULL;
    for (int attempt = 1; attempt <= CALL_TRIES; attempt++) {
        if (c->sent >= c->budget) {
            snprintf(err, errlen, "RECONCILE_BUDGET (%d Railway requests) spent", c->budget);
            st = RH_TRANSIENT;
            break;
        }
        struct railway_result r;
        c->sent++;
        if (op == RAILWAY_OP_ENVIRONMENT_SNAPSHOT)
            c->pages++;
        st = railway_call(c->rc, op, vars, LIMITER_WAIT, &r);
        if (st == RH_OK) {
            cJSON *copy = cJSON_Duplicate(r.data, true);
            cJSON_AddItemToArray(c->keep, copy);
            *data = copy;
            railway_result_free(&r);
            break;
        }
        snprintf(err, errlen, "%s: %s (%s)", railway_ops[op].name, r.message,
                 railway_error_name(r.error));
        int wait = r.retry_after_ms > 0 && r.retry_after_ms < 5000 ? r.retry_after_ms : 1000;
        bool again = st == RH_TRANSIENT && r.error != RAILWAY_ERR_BUDGET;
        railway_result_free(&r);
        if (!again)
            break;
        if (attempt < CALL_TRIES)
            sleep_ms(wait);
    }
    cJSON_Delete(vars);
    return st;
}

static const char *str_at(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Adds the instances of one page to *inst. */
static void instances_add(const cJSON *conn, struct reconcile_instance **inst, size_t *n)
{
    const cJSON *edge;
    cJSON_ArrayForEach(edge, cJSON_GetObjectItemCaseSensitive(conn, "edges"))
    {
        const cJSON *node = cJSON_GetObjectItemCaseSensitive(edge, "node");
        if (!str_at(node, "serviceId"))
            continue;
        *inst = xrealloc(*inst, (*n + 1) * sizeof(**inst));
        struct reconcile_instance *in = &(*inst)[(*n)++];
        memset(in, 0, sizeof(*in));
        in->service_id = str_at(node, "serviceId");
        in->service_name = str_at(node, "serviceName");
        in->deleted = str_at(node, "deletedAt") != NULL;
        in->root_directory = str_at(node, "rootDirectory");
        in->repo = str_at(cJSON_GetObjectItemCaseSensitive(node, "source"), "repo");
        in->latest_status =
            str_at(cJSON_GetObjectItemCaseSensitive(node, "latestDeployment"), "status");
        const cJSON *d;
        cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(node, "activeDeployments"))
        {
            const char *s = str_at(d, "status");
            if (s && (strcmp(s, "SUCCESS") == 0 || strcmp(s, "SLEEPING") == 0))
                in->running = true;
        }
    }
}

/* Whether a connection has another page, and its cursor. */
static bool page_next(const cJSON *conn, const char **cursor)
{
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(conn, "pageInfo");
    *cursor = str_at(info, "endCursor");
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(info, "hasNextPage")) && *cursor;
}

enum rh_status reconcile_snapshot(struct reconcile_calls *c, const struct config *cfg,
                                  struct reconcile_instance **inst, size_t *n, char *err,
                                  size_t errlen)
{
    enum rh_status st = RH_OK;
    const char *inst_after = NULL, *trig_after = NULL;
    bool inst_more = true, trig_more = true;
    cJSON *triggers = cJSON_CreateArray(); /* borrowed trigger nodes */
    *inst = NULL;
    *n = 0;
    while (inst_more || trig_more) {
        cJSON *vars = cJSON_CreateObject();
        cJSON_AddStringToObject(vars, "environmentId", cfg->railway_environment_id);
        cJSON_AddStringToObject(vars, "projectId", cfg->railway_project_id);
        cJSON_AddNumberToObject(vars, "first", RECONCILE_PAGE);
        if (inst_after)
            cJSON_AddStringToObject(vars, "instancesAfter", inst_after);
        if (trig_after)
            cJSON_AddStringToObject(vars, "triggersAfter", trig_after);
        const cJSON *data = NULL;
        if ((st = reconcile_call(c, RAILWAY_OP_ENVIRONMENT_SNAPSHOT, vars, &data, err, errlen)) !=
            RH_OK)
            goto out;
        const cJSON *env = cJSON_GetObjectItemCaseSensitive(data, "environment");
        const cJSON *ic = cJSON_GetObjectItemCaseSensitive(env, "serviceInstances");
        const cJSON *tc = cJSON_GetObjectItemCaseSensitive(env, "deploymentTriggers");
        if (!cJSON_IsObject(ic) || !cJSON_IsObject(tc)) {
            snprintf(err, errlen, "EnvironmentSnapshot: no serviceInstances or deploymentTriggers");
            st = RH_PERMANENT;
            goto out;
        }
        if (inst_more) {
            instances_add(ic, inst, n);
            inst_more = page_next(ic, &inst_after);
        }
        if (trig_more) {
            const cJSON *edge;
            cJSON_ArrayForEach(edge, cJSON_GetObjectItemCaseSensitive(tc, "edges"))
            {
                cJSON_AddItemReferenceToArray(triggers,
                                              cJSON_GetObjectItemCaseSensitive(edge, "node"));
            }
            trig_more = page_next(tc, &trig_after);
        }
    }
    /* Join each instance to its trigger (the branch Railway deploys it from). */
    for (size_t i = 0; i < *n; i++) {
        const cJSON *t;
        cJSON_ArrayForEach(t, triggers)
        {
            const char *sid = str_at(t, "serviceId");
            if (sid && strcmp(sid, (*inst)[i].service_id) == 0)
                (*inst)[i].branch = str_at(t, "branch");
        }
    }
out:
    cJSON_Delete(triggers);
    return st;
}

enum rh_status reconcile_variables(struct reconcile_calls *c, const struct config *cfg,
                                   const char *service_id, const cJSON *applied,
                                   const cJSON **digests, char *err, size_t errlen)
{
    *digests = NULL;
    cJSON *vars = cJSON_CreateObject();
    cJSON_AddStringToObject(vars, "projectId", cfg->railway_project_id);
    cJSON_AddStringToObject(vars, "environmentId", cfg->railway_environment_id);
    cJSON_AddStringToObject(vars, "serviceId", service_id);
    const cJSON *data = NULL;
    enum rh_status st = reconcile_call(c, RAILWAY_OP_SERVICE_VARIABLES, vars, &data, err, errlen);
    if (st != RH_OK)
        return st;
    const cJSON *have = cJSON_GetObjectItemCaseSensitive(data, "variables");
    cJSON *values = cJSON_CreateObject();
    const cJSON *a;
    cJSON_ArrayForEach(a, applied)
    {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(have, a->string);
        if (cJSON_IsString(v))
            cJSON_AddStringToObject(values, a->string, v->valuestring);
    }
    cJSON *d = variables_digests(values);
    cJSON_ArrayForEach(a, applied)
    {
        if (!cJSON_GetObjectItemCaseSensitive(d, a->string))
            cJSON_AddStringToObject(d, a->string, "missing");
    }
    cJSON_Delete(values);
    cJSON_AddItemToArray(c->keep, d);
    *digests = d;
    return RH_OK;
}
