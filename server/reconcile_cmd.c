/* `railhook reconcile` (server/reconcile_cmd.h). Runs on the main thread; the pass opens its
 * own database session and Railway client. */
#include "server/reconcile_cmd.h"

#include "flows/reconcile.h"
#include "handlers/mapping_reconcile.h"
#include "railway/railway.h"
#include "server/serve.h"
#include "store/store.h"
#include "util/log.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

static const char *mark(enum reconcile_action a)
{
    switch (a) {
    case RECONCILE_CREATE:
        return "+";
    case RECONCILE_UPDATE:
        return "~";
    case RECONCILE_DELETE:
        return "-";
    case RECONCILE_REDEPLOY:
        return "^";
    case RECONCILE_FOREIGN:
        return "?";
    }
    return " ";
}

static void print_text(FILE *out, const struct reconcile_report *rep, bool apply)
{
    const struct reconcile_plan *p = &rep->plan;
    int count[RECONCILE_FOREIGN + 1] = {0};
    if (!rep->ok) {
        fprintf(out, "railhook reconcile: error: %s\n", rep->error);
        return;
    }
    for (size_t i = 0; i < p->n; i++) {
        const struct reconcile_change *c = &p->changes[i];
        count[c->action]++;
        fprintf(out, "  %s %-8s %s%s%s%s%s%s: %s%s%s\n", mark(c->action),
                reconcile_action_name(c->action), c->service_name, c->service_id[0] ? " (" : "",
                c->service_id, c->service_id[0] ? ")" : "", c->manifest_id[0] ? ", manifest " : "",
                c->manifest_id, c->reason, c->refused ? "; refused: " : "",
                c->refused ? p->refusal : "");
    }
    fprintf(out, p->n ? "\n" : "No changes: Railway matches the desired state.\n");
    fprintf(out,
            "Plan: %d to create, %d to update, %d to delete, %d to redeploy, %d foreign (left "
            "alone); %d refused. %d Railway requests.\n",
            count[RECONCILE_CREATE], count[RECONCILE_UPDATE], count[RECONCILE_DELETE],
            count[RECONCILE_REDEPLOY], count[RECONCILE_FOREIGN], p->refused, rep->railway_requests);
    if (!apply)
        return;
    const cJSON *j;
    cJSON_ArrayForEach(j, rep->jobs)
    {
        fprintf(out, "enqueued %s %s for %s (%s)\n", cJSON_GetObjectItem(j, "job_id")->valuestring,
                cJSON_GetObjectItem(j, "kind")->valuestring,
                cJSON_GetObjectItem(j, "service_name")->valuestring,
                cJSON_GetObjectItem(j, "action")->valuestring);
    }
    cJSON_ArrayForEach(j, rep->held)
    {
        fprintf(out, "not enqueued: %s %s: %s\n", cJSON_GetObjectItem(j, "action")->valuestring,
                cJSON_GetObjectItem(j, "service_name")->valuestring,
                cJSON_GetObjectItem(j, "reason")->valuestring);
    }
}

static void print_json(FILE *out, const struct reconcile_report *rep, bool apply)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", rep->ok);
    if (!rep->ok)
        cJSON_AddStringToObject(o, "error", rep->error);
    cJSON_AddItemToObject(o, "changes", reconcile_plan_json(&rep->plan));
    cJSON_AddNumberToObject(o, "railway_requests", rep->railway_requests);
    if (rep->pass_id[0])
        cJSON_AddStringToObject(o, "pass_id", rep->pass_id);
    if (apply) {
        cJSON_AddItemToObject(o, "jobs", cJSON_Duplicate(rep->jobs, true));
        cJSON_AddItemToObject(o, "refused", cJSON_Duplicate(rep->held, true));
    }
    char *s = cJSON_PrintUnformatted(o);
    fprintf(out, "%s\n", s);
    cJSON_free(s);
    cJSON_Delete(o);
}

int reconcile_cmd(int argc, char **argv)
{
    bool json = false, apply = false, deep = false;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (strcmp(argv[i], "--apply") == 0)
            apply = true;
        else if (strcmp(argv[i], "--deep") == 0)
            deep = true;
        else {
            fprintf(stderr, "railhook reconcile: unknown option '%s' (--json, --apply, --deep)\n",
                    argv[i]);
            return 2;
        }
    }
    struct config cfg;
    if (!serve_setup(&cfg, CONFIG_NEED_DATABASE))
        return 1;
    int rc = 1;
    char err[512] = "";
    struct mapping_reconciler mr;
    struct reconcile_report rep = {0};
    struct store *s = NULL;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct flows *fl = flows_new(&cfg, err, sizeof(err));
    bool mapped = fl && mapping_reconciler_init(&mr, &cfg, err, sizeof(err)) == RH_OK;
    if (!mapped) {
        snprintf(rep.error, sizeof(rep.error), "%s", err);
        goto report;
    }
    if (railway_client_has_token(&cfg))
        serve_token_detect(&cfg);
    s = store_open(cfg.database_url, 1, cfg.db_pool_wait_ms, cfg.queue_listen);
    const struct reconcile_options o = {
        .mode = apply ? "apply" : "plan", .apply = apply, .deep = deep};
    reconcile_pass(fl, s, &mr.mapper, &o, &rep);
    if (rep.ok)
        rc = apply || rep.plan.n == 0 ? 0 : 2;
report:
    if (json)
        print_json(stdout, &rep, apply);
    else
        print_text(stdout, &rep, apply);
    reconcile_report_free(&rep);
    if (mapped)
        mapping_reconciler_free(&mr);
    store_close(s);
    flows_free(fl);
    curl_global_cleanup();
    config_free(&cfg);
    return rc;
}
