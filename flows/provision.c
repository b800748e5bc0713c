/* The provision flow: find or create the worker's Railway service (never a twin), set its
 * root directory and variables, connect the repo through the configured strategy (falling
 * back to the others; a new service's root directory and connect go in one request,
 * flows/configure.c), deploy and wait (parked, holding no worker); its compensation deletes the
 * service when this job created it. */
#include "flows/flows_int.h"

#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long to wait for Railway to create a new service's instance. */
#define INSTANCE_WAIT_MS 60000

static const char *const strategies[] = {"connect", "create-with-source", "deploy-trigger"};

static bool strategy_tried(struct flow *f, const char *s)
{
    const cJSON *failed = job_step_get(f->run, "connect_failed");
    return cJSON_GetObjectItemCaseSensitive(failed, s) != NULL;
}

static enum rh_status strategy_mark_failed(struct flow *f, const char *s)
{
    const cJSON *prev = job_step_get(f->run, "connect_failed");
    cJSON *failed = prev ? cJSON_Duplicate(prev, 1) : cJSON_CreateObject();
    cJSON_AddStringToObject(failed, s, f->res->message);
    enum rh_status st = job_step_save(f->run, "connect_failed", failed);
    cJSON_Delete(failed);
    char msg[128];
    snprintf(msg, sizeof(msg), "connect strategy %s failed; trying the next", s);
    job_event(f->run, "warn", msg, NULL);
    return st;
}

/* The next connect strategy to try, starting with CONNECT_STRATEGY, or NULL. */
static const char *next_strategy(struct flow *f, bool service_exists)
{
    const char *configured = f->fl->cfg->connect_strategy;
    if (!strategy_tried(f, configured) &&
        !(service_exists && strcmp(configured, "create-with-source") == 0))
        return configured;
    if (!f->fl->cfg->connect_fallback)
        return NULL;
    for (size_t i = 0; i < 3; i++) {
        if (strategy_tried(f, strategies[i]))
            continue;
        if (service_exists && strcmp(strategies[i], "create-with-source") == 0)
            continue;
        return strategies[i];
    }
    return NULL;
}

static enum rh_status provision_create(struct flow *f, const char *name, const cJSON *vars_values,
                                       char **service_id)
{
    const struct config *cfg = f->fl->cfg;
    for (;;) {
        const char *strategy = next_strategy(f, false);
        bool with_source = strategy && strcmp(strategy, "create-with-source") == 0;
        /* Mark the attempt first: a crash after Railway created the service but before we
         * saved its id must still let rollback know this job created it. */
        enum rh_status st = flow_step_save(f, "create_started", "name", name, NULL);
        if (st != RH_OK)
            return flow_stop_with(f, st);
        cJSON *vars = cJSON_CreateObject();
        cJSON *input = cJSON_AddObjectToObject(vars, "input");
        cJSON_AddStringToObject(input, "name", name);
        cJSON_AddStringToObject(input, "projectId", cfg->railway_project_id);
        cJSON_AddStringToObject(input, "environmentId", cfg->railway_environment_id);
        cJSON *values = cJSON_Duplicate(vars_values, 1);
        /* The mark of ownership: a run after a crash adopts only a service carrying it. */
        cJSON_DeleteItemFromObjectCaseSensitive(values, FLOW_MANIFEST_MARKER);
        cJSON_AddStringToObject(values, FLOW_MANIFEST_MARKER,
                                flow_payload_str(f->job, "manifest_id"));
        cJSON_AddItemToObject(input, "variables", values);
        if (with_source) {
            cJSON *source = cJSON_AddObjectToObject(input, "source");
            cJSON_AddStringToObject(source, "repo", cfg->worker_repo);
            cJSON_AddStringToObject(input, "branch", cfg->worker_branch);
        }
        cJSON *data = NULL;
        st = flow_call(f, RAILWAY_OP_SERVICE_CREATE, vars, FLOW_CALL_ONCE, &data);
        if (st == RH_OK) {
            const cJSON *id = cJSON_GetObjectItem(cJSON_GetObjectItem(data, "serviceCreate"), "id");
            if (!cJSON_IsString(id)) {
                cJSON_Delete(data);
                return job_result_fail(f->res, RH_TRANSIENT,
                                       railway_error_name(RAILWAY_ERR_BAD_RESPONSE),
                                       "serviceCreate returned no id");
            }
            *service_id = xstrdup(id->valuestring);
            cJSON_Delete(data);
            st = flow_step_save(f, "service", "id", *service_id, "created", "true", "connected_via",
                                with_source ? "create-with-source" : NULL, NULL);
            if (st != RH_OK)
                return flow_stop_with(f, st);
            if (with_source) {
                st = flow_step_save(f, "connect", "via", "create-with-source", NULL);
                if (st != RH_OK)
                    return flow_stop_with(f, st);
                job_event(f->run, "info", "connected through create-with-source", NULL);
            }
            return RH_OK;
        }
        if (st == RH_PERMANENT && with_source && cfg->connect_fallback) {
            st = strategy_mark_failed(f, "create-with-source");
            if (st != RH_OK)
                return flow_stop_with(f, st);
            continue;
        }
        if (st == RH_TRANSIENT) {
            /* The create may have happened anyway: look before trying again. */
            enum rh_status s = job_sleep(f->run, 1000);
            if (s != RH_OK)
                return flow_stop_with(f, s);
            char *found = NULL;
            if (flow_service_find(f, name, NULL, &found) != RH_OK)
                return f->res->status;
            bool ours = false;
            if (found && flow_service_marked_ours(f, found, &ours) != RH_OK) {
                free(found);
                return f->res->status;
            }
            if (found && !ours) {
                free(found);
                return flow_name_taken(f, name);
            }
            if (found) {
                *service_id = found;
                st = flow_step_save(f, "service", "id", found, "created", "true", NULL);
                return st == RH_OK ? RH_OK : flow_stop_with(f, st);
            }
        }
        return st;
    }
}

static enum rh_status provision_connect(struct flow *f, const char *service_id)
{
    const struct config *cfg = f->fl->cfg;
    for (;;) {
        const char *strategy = next_strategy(f, true);
        if (!strategy)
            return f->res->status == RH_OK ? job_result_fail(f->res, RH_PERMANENT, "connect_failed",
                                                             "no connect strategy is left to try")
                                           : f->res->status;
        cJSON *vars = cJSON_CreateObject();
        enum railway_op op;
        if (strcmp(strategy, "connect") == 0) {
            op = RAILWAY_OP_SERVICE_CONNECT;
            cJSON_AddStringToObject(vars, "id", service_id);
            cJSON *input = cJSON_AddObjectToObject(vars, "input");
            cJSON_AddStringToObject(input, "repo", cfg->worker_repo);
            cJSON_AddStringToObject(input, "branch", cfg->worker_branch);
        } else {
            op = RAILWAY_OP_DEPLOYMENT_TRIGGER_CREATE;
            cJSON *input = cJSON_AddObjectToObject(vars, "input");
            cJSON_AddStringToObject(input, "serviceId", service_id);
            cJSON_AddStringToObject(input, "projectId", cfg->railway_project_id);
            cJSON_AddStringToObject(input, "environmentId", cfg->railway_environment_id);
            cJSON_AddStringToObject(input, "provider", "github");
            cJSON_AddStringToObject(input, "repository", cfg->worker_repo);
            cJSON_AddStringToObject(input, "branch", cfg->worker_branch);
            cJSON_AddStringToObject(input, "rootDirectory", cfg->worker_root_dir);
        }
        enum rh_status st = flow_call(f, op, vars, 0, NULL);
        if (st == RH_OK) {
            st = flow_step_save(f, "connect", "via", strategy, NULL);
            if (st != RH_OK)
                return flow_stop_with(f, st);
            char msg[128];
            snprintf(msg, sizeof(msg), "connected to %s@%s through %s", cfg->worker_repo,
                     cfg->worker_branch, strategy);
            job_event(f->run, "info", msg, NULL);
            return RH_OK;
        }
        if (st != RH_PERMANENT || !cfg->connect_fallback)
            return st;
        st = strategy_mark_failed(f, strategy);
        if (st != RH_OK)
            return flow_stop_with(f, st);
    }
}

static enum rh_status set_root_directory(struct flow *f, const char *service_id)
{
    const struct config *cfg = f->fl->cfg;
    int64_t deadline = time_mono_ms() + INSTANCE_WAIT_MS;
    int wait = 1000;
    for (;;) {
        cJSON *vars = cJSON_CreateObject();
        cJSON_AddStringToObject(vars, "serviceId", service_id);
        cJSON_AddStringToObject(vars, "environmentId", cfg->railway_environment_id);
        cJSON *input = cJSON_AddObjectToObject(vars, "input");
        cJSON_AddStringToObject(input, "rootDirectory", cfg->worker_root_dir);
        enum rh_status st =
            flow_call(f, RAILWAY_OP_SERVICE_INSTANCE_UPDATE, vars, FLOW_CALL_QUIET_NOT_FOUND, NULL);
        if (st != RH_NOT_FOUND)
            return st;
        if (!strcasestr(f->not_found, "instance"))
            return job_result_fail(f->res, RH_PERMANENT, railway_error_name(RAILWAY_ERR_NOT_FOUND),
                                   "ServiceInstanceUpdate failed: %s", f->not_found);
        /* Railway creates the instance asynchronously: "ServiceInstance not found" at first. */
        if (time_mono_ms() > deadline)
            return job_result_fail(f->res, RH_TRANSIENT, "instance_not_ready",
                                   "the service instance did not appear within %d s",
                                   INSTANCE_WAIT_MS / 1000);
        enum rh_status s = job_sleep(f->run, wait);
        if (s != RH_OK)
            return flow_stop_with(f, s);
        wait = wait * 2 > 8000 ? 8000 : wait * 2;
    }
}

/* serviceConnect makes Railway deploy by itself, but the deployment may be listed only
 * seconds later: look for it (backing off, up to CONNECT_DEPLOY_WAIT_S from the connect) and
 * save it as the one to follow, so railhook deploys itself only when none appeared. With
 * create-with-source (or a folded connect whose root directory failed) the first build
 * predates the root directory, and a deployment trigger deploys nothing: these deploy anew. */
static enum rh_status provision_follow_connect(struct flow *f, const char *service_id)
{
    const char *via = flow_step_str(f, "connect", "via");
    if (flow_step_done(f, "deploy") || !via || strcmp(via, "connect") != 0 ||
        flow_step_str(f, "connect", "before_root"))
        return RH_OK;
    enum rh_status st = flow_stop_with(f, job_checkpoint(f->run, "await_deploy"));
    if (st != RH_OK)
        return st;
    const cJSON *at = cJSON_GetObjectItem(job_step_get(f->run, "connect"), "at_ms");
    int64_t since = cJSON_IsNumber(at) ? (int64_t)at->valuedouble : time_wall_ms();
    int wait_s = f->fl->cfg->connect_deploy_wait_s;
    char *dep = NULL;
    st = flow_deployment_await(f, service_id, flow_step_str(f, "connect_baseline", "ids"), NULL,
                               since, wait_s, &dep);
    if (st != RH_OK)
        return st;
    if (!dep) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "Railway started no deployment within CONNECT_DEPLOY_WAIT_S=%d s of the "
                 "connect; deploying",
                 wait_s);
        job_event(f->run, "info", msg, NULL);
        return RH_OK;
    }
    st = flow_stop_with(f, flow_step_save(f, "deploy", "deployment_id", dep, "auto", "true", NULL));
    if (st == RH_OK)
        job_event(f->run, "info", "following the deployment that connecting started", NULL);
    free(dep);
    return st;
}

static enum rh_status provision_run(void *ctx, struct job_run *run, const struct job *job,
                                    struct job_result *res)
{
    struct flow fw;
    struct flow *f = &fw;
    char *service_id = NULL;
    const char *name = job->service_name;
    enum rh_status st = flow_begin(f, ctx, run, job, res, "validate", true);
    if (st != RH_OK)
        goto out;
    if (flow_step_done(f, "rolled_back")) {
        /* A retry after a rollback: what the steps describe was deleted; start afresh. */
        static const char *const keys[] = {
            "service",        "create_started",   "root_directory", "variables",   "connect",
            "connect_failed", "connect_baseline", "deploy",         "deploy_sent", "rolled_back"};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            if ((st = flow_stop_with(f, job_step_save(run, keys[i], NULL))) != RH_OK)
                goto out;
        job_event(run, "info", "starting afresh after the earlier rollback", NULL);
    }

    /* Find or create the service: never a twin. */
    if ((st = flow_stop_with(f, job_checkpoint(run, "find_service"))) != RH_OK)
        goto out;
    const char *saved = flow_step_str(f, "service", "id");
    bool created = false;
    if (saved) {
        service_id = xstrdup(saved);
        const char *c = flow_step_str(f, "service", "created");
        created = c && strcmp(c, "true") == 0;
    } else {
        /* The manifest's own service, as recorded; else one of that name only when it carries
         * this manifest's mark (a run that died between create and save); else create. */
        if ((st = flow_service_resolve(f, name, &service_id)) != RH_OK)
            goto out;
        bool recorded = service_id != NULL;
        if (recorded) {
            /* Someone may have deleted it in Railway's dashboard: never reuse a gone service. */
            char *live = NULL;
            if ((st = flow_service_find(f, NULL, service_id, &live)) != RH_OK)
                goto out;
            if (!live) {
                job_event(run, "warn",
                          "the service this manifest owned is gone from Railway; making a new one",
                          NULL);
                free(service_id);
                service_id = NULL;
                recorded = false;
            }
            free(live);
        }
        if (!service_id && (st = flow_service_find(f, name, NULL, &service_id)) != RH_OK)
            goto out;
        if (service_id && !recorded) {
            bool ours = false;
            if ((st = flow_service_marked_ours(f, service_id, &ours)) != RH_OK)
                goto out;
            if (!ours) {
                st = flow_name_taken(f, name);
                goto out;
            }
        }
        if (service_id) {
            /* Created by an earlier run of this job that died before saving the id? */
            created = flow_step_done(f, "create_started");
            st = flow_step_save(f, "service", "id", service_id, "created",
                                created ? "true" : "false", NULL);
            if (st != RH_OK) {
                flow_stop_with(f, st);
                goto out;
            }
            job_event(run, "info",
                      created ? "found the service an earlier run created"
                              : "reusing the service this manifest owns",
                      NULL);
        } else {
            /* Claim the name first: another manifest's service keeps it, untouched. */
            if ((st = flow_db_service_upsert(f, name, NULL, "provisioning")) != RH_OK)
                goto out;
            if ((st = flow_stop_with(f, job_checkpoint(run, "create_service"))) != RH_OK)
                goto out;
            if ((st = provision_create(f, name, f->values, &service_id)) != RH_OK)
                goto out;
            created = true;
        }
    }
    job_set_railway(run, service_id, NULL, NULL);
    if ((st = flow_db_service_upsert(f, name, service_id, "provisioning")) != RH_OK)
        goto out;

    bool folded = false;
    if (created && !flow_step_done(f, "root_directory") && !flow_step_done(f, "connect") &&
        next_strategy(f, true) && strcmp(next_strategy(f, true), "connect") == 0) {
        /* Root directory and repo in one request; a field that fails gets its own step. */
        if ((st = flow_stop_with(f, job_checkpoint(run, "configure"))) != RH_OK)
            goto out;
        /* A new service's instance takes a moment to exist; waiting once saves a call. */
        if ((st = flow_stop_with(f, job_sleep(run, 1000))) != RH_OK)
            goto out;
        if ((st = flow_service_configure(f, service_id)) != RH_OK)
            goto out;
        folded = true;
    }
    if (!flow_step_done(f, "root_directory")) {
        if ((st = flow_stop_with(f, job_checkpoint(run, "set_root_directory"))) != RH_OK)
            goto out;
        if (created && !folded) {
            /* A new service's instance takes a moment to exist; waiting once saves a call. */
            if ((st = flow_stop_with(f, job_sleep(run, 1000))) != RH_OK)
                goto out;
        }
        if ((st = set_root_directory(f, service_id)) != RH_OK)
            goto out;
        if ((st = flow_stop_with(f, flow_step_save(f, "root_directory", "path",
                                                   f->fl->cfg->worker_root_dir, NULL))) != RH_OK)
            goto out;
    }
    if (!created && !flow_step_done(f, "variables")) {
        if ((st = flow_stop_with(f, job_checkpoint(run, "set_variables"))) != RH_OK)
            goto out;
        if ((st = flow_variables_upsert(f, service_id, f->values)) != RH_OK)
            goto out;
        if ((st = flow_stop_with(f, flow_step_save(f, "variables", "mode", "upsert", NULL))) !=
            RH_OK)
            goto out;
    }
    if (!flow_step_done(f, "connect")) {
        if ((st = flow_stop_with(f, job_checkpoint(run, "connect"))) != RH_OK)
            goto out;
        if (!created && !flow_step_done(f, "connect_baseline")) {
            /* Connecting deploys: what was there before is not the connect's deployment. */
            char *ids = NULL;
            st = flow_deployment_baseline(f, service_id, &ids);
            if (st == RH_OK)
                st = flow_stop_with(f, flow_step_save(f, "connect_baseline", "ids", ids, NULL));
            free(ids);
            if (st != RH_OK)
                goto out;
        }
        if ((st = provision_connect(f, service_id)) != RH_OK)
            goto out;
    }
    if ((st = provision_follow_connect(f, service_id)) != RH_OK)
        goto out;
    st = flow_deploy_and_wait(f, name, service_id, NULL, f->digests);
    if (st == RH_OK) {
        if (strcmp(f->deploy_status, "SKIPPED") != 0)
            job_event(run, "info", "provisioned", NULL);
        res->status = RH_OK;
    }
out:
    flow_end(f);
    free(service_id);
    return st;
}

/* Rollback: delete the service only if this job created it, as its own recorded step. */
static void provision_compensate(void *ctx, struct job_run *run, const struct job *job,
                                 const struct job_result *cause)
{
    struct job_result res = {0};
    struct flow fw;
    struct flow *f = &fw;
    char *found = NULL;
    flow_init(f, ctx, run, job, &res);
    const char *id = flow_step_str(f, "service", "id");
    if (strcmp(cause->code, "deploy_timeout") == 0 || strcmp(cause->code, "deploy_removed") == 0) {
        /* Railway never said the deployment failed: the service may still come up. */
        job_event(run, "info", "rollback: the deployment did not fail; the service is kept", NULL);
        goto out;
    }
    const char *created = flow_step_str(f, "service", "created");
    if (!id && flow_step_done(f, "create_started") && job->service_name) {
        /* The create may have gone through without its id being saved: only a service
         * carrying this manifest's mark is this job's. */
        bool ours = false;
        if (flow_service_find(f, job->service_name, NULL, &found) == RH_OK && found &&
            flow_service_marked_ours(f, found, &ours) == RH_OK && ours)
            id = found;
        created = "true";
    }
    if (!id || !created || strcmp(created, "true") != 0) {
        job_event(run, "info",
                  id ? "rollback: the service existed before this job; kept"
                     : "rollback: nothing was created",
                  NULL);
        const char *manifest = flow_payload_str(job, "manifest_id");
        if (!id && manifest && job->service_name) {
            /* The name this job claimed for a service it never created is free again. */
            char err[256];
            flow_db(
                f,
                store_service_release(job_db(run), job->service_name, manifest, err, sizeof(err)),
                err);
        }
        goto out;
    }
    if (flow_step_done(f, "rolled_back"))
        goto out;
    job_checkpoint(run, "rollback_delete");
    enum rh_status st = RH_TRANSIENT;
    for (int i = 0; i < 5 && st == RH_TRANSIENT; i++) {
        cJSON *vars = cJSON_CreateObject();
        cJSON_AddStringToObject(vars, "id", id);
        cJSON_AddStringToObject(vars, "environmentId", f->fl->cfg->railway_environment_id);
        st = flow_call(f, RAILWAY_OP_SERVICE_DELETE, vars, FLOW_CALL_QUIET_NOT_FOUND, NULL);
        if (st == RH_TRANSIENT && job_sleep(run, 2000 << i) != RH_OK)
            break;
    }
    if (st == RH_OK || st == RH_NOT_FOUND) {
        flow_step_save(f, "rolled_back", "service_id", id, NULL);
        char err[256];
        flow_db(f,
                store_service_status_set(job_db(run), job->service_name, "removed", NULL, err,
                                         sizeof(err)),
                err);
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "service_id", id);
        job_event(run, "info", "rolled_back", d);
        cJSON_Delete(d);
    } else {
        job_event(run, "error", "rollback failed: the service could not be deleted", res.details);
        char err[256];
        flow_db(f,
                store_service_status_set(job_db(run), job->service_name, "failed", NULL, err,
                                         sizeof(err)),
                err);
    }
out:
    cJSON_Delete(res.details);
    free(found);
}

/* The provision kind's handler, for the kind table (flows/kinds.c). */
const struct flows_handler flows_provision = {.run = provision_run,
                                              .compensate = provision_compensate};
