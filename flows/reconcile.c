/* One reconciliation pass (flows/reconcile.h): lock, read the desired state, read the actual
 * state, plan, and in apply mode enqueue the plan's jobs through store/enqueue.c, deduplicated
 * against the jobs already queued or running for the same manifest; the pass is recorded in
 * reconcile_passes whatever happens. The periodic thread runs one every RECONCILE_INTERVAL_S.
 *
 * Threading: a pass runs on its caller's thread with a session and a Railway client of its own;
 * it shares only struct flows (read-only templates, the limiter under its own lock). The
 * periodic thread owns struct reconcile_periodic; reconcile_periodic_stop() sets its stop flag
 * under its mutex and signals its condition variable. */
#include "flows/reconcile.h"

#include "flows/flows_int.h"
#include "flows/reconcile_int.h"
#include "flows/variables.h"
#include "store/enqueue.h"
#include "store/manifests.h"
#include "store/reconcile.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MANIFESTS_PAGE       500
#define MANIFESTS_MAX_ROWS   100000
#define MANIFESTS_TIMEOUT_MS 10000

/* The desired state: rows and what the plan needs of each. */
struct desired_state {
    cJSON *rows; /* the manifest records */
    struct reconcile_desired *d;
    char **ids;     /* manifest ids, per row */
    char **names;   /* service names, per row (NULL for an unusable row) */
    cJSON *digests; /* array, one per row (null when unknown) */
    size_t n;
};

static void desired_free(struct desired_state *ds)
{
    for (size_t i = 0; i < ds->n; i++) {
        free(ds->names[i]);
        free(ds->ids[i]);
    }
    free(ds->ids);
    free(ds->names);
    free(ds->d);
    cJSON_Delete(ds->digests);
    cJSON_Delete(ds->rows);
    memset(ds, 0, sizeof(*ds));
}

/* Maps each row as an INSERT would (its manifest id and service name) and digests its rendered
 * variables. A row the mapping refuses is kept with no name: the plan does nothing for it, but
 * its manifest still counts as present (its service is not deleted). */
static void desired_map(struct flows *fl, const struct reconcile_mapper *m, const char *pass_id,
                        struct desired_state *ds)
{
    size_t n = (size_t)cJSON_GetArraySize(ds->rows);
    ds->d = xcalloc(n ? n : 1, sizeof(*ds->d));
    ds->names = xcalloc(n ? n : 1, sizeof(*ds->names));
    ds->ids = xcalloc(n ? n : 1, sizeof(*ds->ids));
    ds->digests = cJSON_CreateArray();
    const cJSON *row;
    cJSON_ArrayForEach(row, ds->rows)
    {
        size_t i = ds->n++;
        cJSON *payload = NULL, *values = NULL, *dig = NULL;
        char why[256];
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(row, "id");
        char *idtext = cJSON_IsString(id)   ? xstrdup(id->valuestring)
                       : cJSON_IsNumber(id) ? xasprintf("%.0f", id->valuedouble)
                                            : xstrdup("");
        if (m->map(m->ud, "provision", row, pass_id, &payload, &ds->names[i], why, sizeof(why)) ==
            RH_OK) {
            const cJSON *mid = cJSON_GetObjectItemCaseSensitive(payload, "manifest_id");
            if (cJSON_IsString(mid)) {
                free(idtext);
                idtext = xstrdup(mid->valuestring);
            }
            if (variables_render(fl->templates, row, &values, why, sizeof(why)) == RH_OK)
                dig = variables_digests(values);
        } else {
            log_warn("reconcile: a manifest row is unusable; it is left alone",
                     LOG_STR("manifest_id", idtext), LOG_STR("why", why));
        }
        ds->ids[i] = idtext;
        ds->d[i].manifest_id = idtext;
        ds->d[i].service_name = ds->names[i];
        ds->d[i].invalid = ds->names[i] == NULL;
        cJSON_AddItemToArray(ds->digests, dig ? dig : cJSON_CreateNull());
        ds->d[i].digests = dig;
        cJSON_Delete(payload);
        cJSON_Delete(values);
    }
}

/* Reads the rows: from the manifests table when MANIFESTS_DATABASE_URL is set, else the last
 * record railhook's jobs carried for each manifest it keeps a service for. */
static enum rh_status desired_read(struct flows *fl, PGconn *c, const struct reconcile_mapper *m,
                                   struct desired_state *ds, char *err, size_t errlen)
{
    const struct config *cfg = fl->cfg;
    if (cfg->manifests_database_url && *cfg->manifests_database_url) {
        const struct store_manifests_query q = {.url = cfg->manifests_database_url,
                                                .schema = cfg->supabase_schema,
                                                .table = cfg->supabase_table,
                                                .columns = m->columns,
                                                .ncolumns = m->ncolumns,
                                                .connect_timeout_s = cfg->db_connect_timeout_s,
                                                .statement_timeout_ms = MANIFESTS_TIMEOUT_MS,
                                                .page = MANIFESTS_PAGE,
                                                .max_rows = MANIFESTS_MAX_ROWS};
        return store_manifests_read(&q, &ds->rows, err, errlen);
    }
    return store_recorded_manifests(c, &ds->rows, err, errlen);
}

/* The payload and service name of the job that makes change ch. */
static enum rh_status change_job(const struct reconcile_mapper *m, const struct desired_state *ds,
                                 const struct reconcile_change *ch, const char *delivery_id,
                                 cJSON **payload, char **name, char *why, size_t whylen)
{
    *payload = NULL;
    *name = NULL;
    if (ch->action == RECONCILE_REDEPLOY || ch->action == RECONCILE_DELETE) {
        *payload = cJSON_CreateObject();
        cJSON_AddStringToObject(*payload, "manifest_id", ch->manifest_id);
        cJSON_AddStringToObject(*payload, "service_name", ch->service_name);
        cJSON_AddStringToObject(*payload, "source", "reconcile");
        cJSON_AddStringToObject(*payload, "delivery_id", delivery_id);
        *name = xstrdup(ch->service_name);
        return RH_OK;
    }
    const cJSON *row = cJSON_GetArrayItem(ds->rows, ch->desired);
    enum rh_status st = m->map(m->ud, ch->kind, row, delivery_id, payload, name, why, whylen);
    if (st == RH_OK && ch->old_service_name[0])
        cJSON_AddStringToObject(*payload, "old_service_name", ch->old_service_name);
    return st;
}

static void held_add(struct reconcile_report *rep, const struct reconcile_change *ch,
                     const char *reason)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "action", reconcile_action_name(ch->action));
    cJSON_AddStringToObject(o, "manifest_id", ch->manifest_id);
    cJSON_AddStringToObject(o, "service_name", ch->service_name);
    cJSON_AddStringToObject(o, "reason", reason);
    cJSON_AddItemToArray(rep->held, o);
}

/* Enqueues the jobs of the plan's changes that are neither refused nor foreign, except for
 * manifests that have a job queued or running: one statement for all of them. */
static enum rh_status plan_apply(PGconn *c, const struct reconcile_mapper *m,
                                 const struct desired_state *ds, struct reconcile_report *rep,
                                 char *err, size_t errlen)
{
    struct reconcile_plan *p = &rep->plan;
    cJSON *ids = cJSON_CreateArray(), *busy = NULL, *failed = NULL;
    struct store_job_new *jobs = xcalloc(p->n ? p->n : 1, sizeof(*jobs));
    size_t *which = xcalloc(p->n ? p->n : 1, sizeof(*which));
    char **names = xcalloc(p->n ? p->n : 1, sizeof(*names));
    char **keys = xcalloc(p->n ? p->n : 1, sizeof(*keys));
    char(*job_ids)[37] = xcalloc(p->n ? p->n : 1, sizeof(*job_ids));
    size_t nj = 0;
    enum rh_status st = RH_OK;

    for (size_t i = 0; i < p->n; i++)
        if (p->changes[i].kind && !p->changes[i].refused)
            cJSON_AddItemToArray(ids, cJSON_CreateString(p->changes[i].manifest_id));
    if ((st = store_manifests_busy(c, ids, &busy, err, errlen)) != RH_OK ||
        (st = store_manifests_reconcile_failed(c, ids, &failed, err, errlen)) != RH_OK)
        goto out;
    for (size_t i = 0; i < p->n; i++) {
        const struct reconcile_change *ch = &p->changes[i];
        if (!ch->kind)
            continue;
        if (ch->refused) {
            held_add(rep, ch, p->refusal);
            continue;
        }
        bool is_busy = false;
        const cJSON *b;
        cJSON_ArrayForEach(b, busy)
        {
            is_busy = is_busy || strcmp(b->valuestring, ch->manifest_id) == 0;
        }
        if (is_busy) {
            held_add(rep, ch, "a job of this manifest is queued or running");
            continue;
        }
        /* Never the same failure every interval: a person looks at it first. */
        const cJSON *fj = cJSON_GetObjectItemCaseSensitive(failed, ch->manifest_id);
        if (cJSON_IsString(fj)) {
            char why[160];
            snprintf(why, sizeof(why),
                     "the job an earlier pass enqueued failed (%s): retry it (POST "
                     "/jobs/{id}/retry) once its cause is fixed",
                     fj->valuestring);
            held_add(rep, ch, why);
            continue;
        }
        char *delivery = xasprintf("pass%s:%s", rep->pass_id, ch->manifest_id);
        char why[256] = "";
        cJSON *payload = NULL;
        if (change_job(m, ds, ch, delivery, &payload, &names[nj], why, sizeof(why)) != RH_OK) {
            held_add(rep, ch, why);
            free(delivery);
            continue;
        }
        keys[nj] = xasprintf("reconcile:%s:%s", delivery, ch->kind);
        jobs[nj] = (struct store_job_new){.kind = ch->kind,
                                          .payload = payload,
                                          .service_name = names[nj],
                                          .dedupe_key = keys[nj]};
        which[nj++] = i;
        free(delivery);
    }
    if (nj > 0) {
        struct store_enqueue g = {.jobs = jobs, .njobs = nj, .ids = job_ids};
        if ((st = store_job_enqueue(c, &g, 1, err, errlen)) != RH_OK)
            goto out;
    }
    for (size_t j = 0; j < nj; j++) {
        const struct reconcile_change *ch = &p->changes[which[j]];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "action", reconcile_action_name(ch->action));
        cJSON_AddStringToObject(o, "manifest_id", ch->manifest_id);
        cJSON_AddStringToObject(o, "service_name", names[j]);
        cJSON_AddStringToObject(o, "kind", ch->kind);
        cJSON_AddStringToObject(o, "job_id", job_ids[j]);
        cJSON_AddItemToArray(rep->jobs, o);
        rep->enqueued++;
    }
out:
    for (size_t j = 0; j < nj; j++) {
        cJSON_Delete(jobs[j].payload);
        free(names[j]);
        free(keys[j]);
    }
    free(jobs);
    free(which);
    free(names);
    free(keys);
    free(job_ids);
    cJSON_Delete(ids);
    cJSON_Delete(busy);
    cJSON_Delete(failed);
    return st;
}

/* The owned rows as the plan reads them (borrowing from rows). */
static struct reconcile_owned *owned_view(const struct store_owned_service *rows, size_t n)
{
    struct reconcile_owned *o = xcalloc(n ? n : 1, sizeof(*o));
    for (size_t i = 0; i < n; i++)
        o[i] = (struct reconcile_owned){rows[i].manifest_id, rows[i].name, rows[i].service_id,
                                        rows[i].digests};
    return o;
}

/* Deep pass: reads the variables of each owned live service whose applied digests railhook
 * knows, while the budget lasts. */
static void deep_read(struct reconcile_calls *calls, const struct config *cfg,
                      const struct reconcile_owned *owned, size_t no,
                      struct reconcile_instance *inst, size_t ni)
{
    for (size_t i = 0; i < ni; i++) {
        if (inst[i].deleted)
            continue;
        for (size_t j = 0; j < no; j++) {
            if (!owned[j].digests || !owned[j].service_id ||
                strcmp(owned[j].service_id, inst[i].service_id) != 0)
                continue;
            char err[512];
            if (reconcile_variables(calls, cfg, inst[i].service_id, owned[j].digests,
                                    &inst[i].var_digests, err, sizeof(err)) != RH_OK)
                log_warn("reconcile: variables not compared",
                         LOG_STR("service", owned[j].service_name), LOG_STR("why", err));
        }
    }
}

static void count_changes(const struct reconcile_report *rep)
{
    for (size_t i = 0; i < rep->plan.n; i++) {
        char labels[96];
        const struct reconcile_change *ch = &rep->plan.changes[i];
        snprintf(labels, sizeof(labels), "action=\"%s\",outcome=\"%s\"",
                 reconcile_action_name(ch->action), ch->refused ? "refused" : "found");
        metrics_count("railhook_reconcile_changes_total", labels, 1);
    }
    if (rep->enqueued > 0)
        metrics_count("railhook_reconcile_changes_total", "action=\"any\",outcome=\"enqueued\"",
                      rep->enqueued);
    metrics_count("railhook_reconcile_railway_requests_total", "", rep->railway_requests);
}

enum rh_status reconcile_pass(struct flows *fl, struct store *s, const struct reconcile_mapper *m,
                              const struct reconcile_options *o, struct reconcile_report *rep)
{
    const struct config *cfg = fl->cfg;
    enum rh_status st = RH_UNAVAILABLE;
    bool locked = false;
    struct desired_state ds = {0};
    struct store_owned_service *rows = NULL;
    struct reconcile_owned *owned = NULL;
    struct reconcile_instance *inst = NULL;
    size_t nrows = 0, ni = 0;
    struct reconcile_calls calls = {.budget = cfg->reconcile_budget, .keep = cJSON_CreateArray()};
    char err[512] = "";
    memset(rep, 0, sizeof(*rep));
    rep->jobs = cJSON_CreateArray();
    rep->held = cJSON_CreateArray();

    PGconn *c = store_conn_open(s, STORE_SESSION_DEFAULT, err, sizeof(err));
    if (!c)
        goto out;
    if ((st = store_reconcile_lock(c, &locked, err, sizeof(err))) != RH_OK)
        goto out;
    if (!locked) {
        rep->skipped = true;
        snprintf(rep->error, sizeof(rep->error), "another instance is reconciling");
        log_debug("reconcile: another instance holds the lock; this pass is skipped");
        metrics_count("railhook_reconcile_passes_total", "outcome=\"skipped\"", 1);
        st = RH_OK;
        goto out;
    }
    if ((st = store_reconcile_pass_begin(c, cfg->instance_id, o->mode, rep->pass_id, err,
                                         sizeof(err))) != RH_OK)
        goto out;
    /* Nothing below changes anything until every read succeeded. */
    if ((st = desired_read(fl, c, m, &ds, err, sizeof(err))) != RH_OK)
        goto out;
    desired_map(fl, m, rep->pass_id, &ds);
    if ((st = store_owned_services(c, &rows, &nrows, err, sizeof(err))) != RH_OK)
        goto out;
    owned = owned_view(rows, nrows);
    calls.rc = railway_client_new(cfg, fl->lim);
    if ((st = reconcile_snapshot(&calls, cfg, &inst, &ni, err, sizeof(err))) != RH_OK)
        goto out;
    if (o->deep)
        deep_read(&calls, cfg, owned, nrows, inst, ni);

    const struct reconcile_target t = {
        .repo = cfg->worker_repo,
        .branch = cfg->worker_branch,
        .root_dir = cfg->worker_root_dir,
        .name_template = cfg->service_name_template,
        .self_service_id = cfg->railway_service_id,
        .desired_is_truth = cfg->manifests_database_url && *cfg->manifests_database_url,
        .delete_enabled = cfg->reconcile_delete,
        .max_delete = cfg->reconcile_max_delete,
    };
    reconcile_plan_make(&t, ds.d, ds.n, owned, nrows, inst, ni, &rep->plan);
    if (o->apply && (st = plan_apply(c, m, &ds, rep, err, sizeof(err))) != RH_OK)
        goto out;
    rep->ok = true;
    st = RH_OK;
out:
    rep->railway_requests = calls.sent;
    rep->snapshot_pages = calls.pages;
    if (!rep->ok && !rep->skipped)
        snprintf(rep->error, sizeof(rep->error), "%s", err[0] ? err : "failed");
    if (rep->pass_id[0]) {
        cJSON *plan = reconcile_plan_json(&rep->plan);
        const struct store_reconcile_outcome out = {.ok = rep->ok,
                                                    .error = rep->ok ? NULL : rep->error,
                                                    .railway_requests = rep->railway_requests,
                                                    .changes_found = (int)rep->plan.n,
                                                    .changes_enqueued = rep->enqueued,
                                                    .refused = rep->plan.refused,
                                                    .plan = plan};
        char ferr[256];
        if (store_reconcile_pass_finish(c, rep->pass_id, &out, ferr, sizeof(ferr)) != RH_OK)
            log_warn("reconcile: the pass was not recorded", LOG_STR("error", ferr));
        cJSON_Delete(plan);
        metrics_count("railhook_reconcile_passes_total",
                      rep->ok ? "outcome=\"ok\"" : "outcome=\"error\"", 1);
        count_changes(rep);
    }
    if (locked) {
        char uerr[256];
        store_reconcile_unlock(c, uerr, sizeof(uerr));
    }
    if (c)
        PQfinish(c);
    railway_client_free(calls.rc);
    cJSON_Delete(calls.keep);
    free(inst);
    free(owned);
    store_owned_services_free(rows, nrows);
    desired_free(&ds);
    return st;
}

void reconcile_report_free(struct reconcile_report *rep)
{
    reconcile_plan_free(&rep->plan);
    cJSON_Delete(rep->jobs);
    cJSON_Delete(rep->held);
    rep->jobs = rep->held = NULL;
}

/* ---- the periodic pass ---- */

struct reconcile_periodic {
    struct flows *fl;
    struct store *s;
    const struct reconcile_mapper *m;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
};

static void *periodic_main(void *arg)
{
    struct reconcile_periodic *p = arg;
    const struct config *cfg = p->fl->cfg;
    bool repair = strcmp(cfg->reconcile_mode, "repair") == 0;
    const struct reconcile_options o = {.mode = cfg->reconcile_mode, .apply = repair};
    /* One pass every interval, the first one interval after the start: instances restarted
     * together do not all pass at once, and a short-lived serve (tests, one-off runs) sends
     * Railway nothing it did not ask for. */
    const int64_t wait_ms = (int64_t)cfg->reconcile_interval_s * 1000;
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        struct timespec until;
        time_mono_timespec(time_mono_ms() + wait_ms, &until);
        while (!p->stop && pthread_cond_timedwait(&p->cond, &p->lock, &until) == 0)
            ;
        if (p->stop)
            break;
        pthread_mutex_unlock(&p->lock);
        struct reconcile_report rep;
        reconcile_pass(p->fl, p->s, p->m, &o, &rep);
        if (!rep.skipped)
            log_info("reconcile: pass done", LOG_STR("pass", rep.pass_id), LOG_BOOL("ok", rep.ok),
                     LOG_STR("error", rep.ok ? NULL : rep.error),
                     LOG_INT("changes", (long)rep.plan.n), LOG_INT("enqueued", rep.enqueued),
                     LOG_INT("refused", rep.plan.refused),
                     LOG_INT("railway_requests", rep.railway_requests));
        reconcile_report_free(&rep);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

struct reconcile_periodic *reconcile_periodic_start(struct flows *fl, struct store *s,
                                                    const struct reconcile_mapper *m)
{
    if (fl->cfg->reconcile_interval_s <= 0)
        return NULL;
    struct reconcile_periodic *p = xcalloc(1, sizeof(*p));
    p->fl = fl;
    p->s = s;
    p->m = m;
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&p->thread, NULL, periodic_main, p) != 0) {
        log_warn("reconcile: cannot start the periodic thread");
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
    }
    return p;
}

void reconcile_periodic_stop(struct reconcile_periodic *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
