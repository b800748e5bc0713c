/* Reconciliation's plan, a pure function. The rules, in order:
 *
 * For each manifest of the desired state (but an invalid one, which only counts as present), its
 * service is the services row of that manifest:
 * - no row, or a row without a Railway id, or a Railway id the snapshot does not list live
 *   (missing, or deletedAt set): create (a provision job, which re-creates a gone service and
 *   adopts one of that name only when it carries the manifest's marker);
 * - the row's name differs from the rendered one: update (rename, an update job);
 * - the variables' digests differ from those railhook applied: update (an update job);
 * - in a deep pass, the digests of the values Railway holds differ from those railhook applied:
 *   update (a provision job, which sets every variable again);
 * - the root directory, repo or branch differ from WORKER_ROOT_DIR, WORKER_REPO and
 *   WORKER_BRANCH: update (a provision job, which sets all three again on the service);
 * - the latest deployment failed, crashed or was removed (or there is none) and nothing runs:
 *   redeploy.
 * For each row railhook owns (with a manifest id and a Railway id) whose manifest is not in
 * the desired state: delete, only when the desired state is the manifests table. Deletes are
 * refused when RECONCILE_DELETE is off, when there would be more than RECONCILE_MAX_DELETE of
 * them (all are refused), or when the desired state is empty (an emptied or wrongly pointed
 * table).
 * Each live instance that no row owns, that no manifest claims by name, that is not railhook's
 * own service and whose name matches SERVICE_NAME_TEMPLATE's fixed prefix and suffix: foreign. */
#include "flows/reconcile_plan.h"

#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Compares two root directories without their leading and trailing slashes. */
static bool dir_eq(const char *a, const char *b)
{
    a = a ? a : "";
    b = b ? b : "";
    while (*a == '/')
        a++;
    while (*b == '/')
        b++;
    size_t la = strlen(a), lb = strlen(b);
    while (la && a[la - 1] == '/')
        la--;
    while (lb && b[lb - 1] == '/')
        lb--;
    return la == lb && memcmp(a, b, la) == 0;
}

/* True when two digest objects hold the same names and digests. */
static bool digests_eq(const cJSON *a, const cJSON *b)
{
    return cJSON_Compare(a, b, true);
}

static const struct reconcile_instance *instance_by_id(const struct reconcile_instance *inst,
                                                       size_t ni, const char *id)
{
    for (size_t i = 0; id && i < ni; i++)
        if (!inst[i].deleted && str_eq(inst[i].service_id, id))
            return &inst[i];
    return NULL;
}

static const struct reconcile_owned *owned_by_manifest(const struct reconcile_owned *owned,
                                                       size_t no, const char *manifest_id)
{
    for (size_t i = 0; i < no; i++)
        if (owned[i].manifest_id && str_eq(owned[i].manifest_id, manifest_id))
            return &owned[i];
    return NULL;
}

/* Whether name fits the template's text before its first '{' and after its last '}'. */
static bool name_matches(const char *tmpl, const char *name)
{
    const char *open = strchr(tmpl, '{'), *close = strrchr(tmpl, '}');
    if (!open || !close || close < open)
        return strcmp(tmpl, name) == 0;
    size_t pre = (size_t)(open - tmpl), suf = strlen(close + 1), n = strlen(name);
    return n > pre + suf && strncmp(name, tmpl, pre) == 0 && strcmp(name + n - suf, close + 1) == 0;
}

static struct reconcile_change *change_add(struct reconcile_plan *p, enum reconcile_action a,
                                           const char *kind, const char *manifest_id,
                                           const char *name, const char *service_id)
{
    p->changes = xrealloc(p->changes, (p->n + 1) * sizeof(*p->changes));
    struct reconcile_change *c = &p->changes[p->n++];
    memset(c, 0, sizeof(*c));
    c->action = a;
    c->kind = kind;
    c->desired = -1;
    snprintf(c->manifest_id, sizeof(c->manifest_id), "%s", manifest_id ? manifest_id : "");
    snprintf(c->service_name, sizeof(c->service_name), "%s", name ? name : "");
    snprintf(c->service_id, sizeof(c->service_id), "%s", service_id ? service_id : "");
    return c;
}

/* The change one manifest needs, if any. */
static void plan_manifest(const struct reconcile_target *t, const struct reconcile_desired *d,
                          const struct reconcile_owned *o, const struct reconcile_instance *inst,
                          size_t ni, int index, struct reconcile_plan *p)
{
    const struct reconcile_instance *in = o ? instance_by_id(inst, ni, o->service_id) : NULL;
    struct reconcile_change *c = NULL;

    if (!o || !o->service_id) {
        c = change_add(p, RECONCILE_CREATE, "provision", d->manifest_id, d->service_name, NULL);
        snprintf(c->reason, sizeof(c->reason),
                 "no service recorded for this manifest (a lost "
                 "webhook?)");
    } else if (!in) {
        c = change_add(p, RECONCILE_CREATE, "provision", d->manifest_id, d->service_name, NULL);
        snprintf(c->reason, sizeof(c->reason), "service %s is gone from Railway (deleted by hand?)",
                 o->service_id);
    } else if (!str_eq(o->service_name, d->service_name)) {
        c = change_add(p, RECONCILE_UPDATE, "update", d->manifest_id, d->service_name,
                       o->service_id);
        snprintf(c->old_service_name, sizeof(c->old_service_name), "%s", o->service_name);
        snprintf(c->reason, sizeof(c->reason), "name is %s, the manifest says %s", o->service_name,
                 d->service_name);
    } else if (d->digests && o->digests && !digests_eq(d->digests, o->digests)) {
        c = change_add(p, RECONCILE_UPDATE, "update", d->manifest_id, d->service_name,
                       o->service_id);
        snprintf(c->reason, sizeof(c->reason),
                 "the manifest's variables changed since railhook "
                 "applied them");
    } else if (in->var_digests && o->digests && !digests_eq(in->var_digests, o->digests)) {
        /* update sets only what differs from railhook's record; provision sets them all. */
        c = change_add(p, RECONCILE_UPDATE, "provision", d->manifest_id, d->service_name,
                       o->service_id);
        snprintf(c->reason, sizeof(c->reason),
                 "variables on Railway differ from those railhook "
                 "applied");
    } else if (!dir_eq(in->root_directory, t->root_dir)) {
        c = change_add(p, RECONCILE_UPDATE, "provision", d->manifest_id, d->service_name,
                       o->service_id);
        snprintf(c->reason, sizeof(c->reason), "root directory is %s, want %s",
                 in->root_directory ? in->root_directory : "(none)", t->root_dir);
    } else if (!str_eq(in->repo, t->repo)) {
        c = change_add(p, RECONCILE_UPDATE, "provision", d->manifest_id, d->service_name,
                       o->service_id);
        snprintf(c->reason, sizeof(c->reason), "repo is %s, want %s",
                 in->repo ? in->repo : "(disconnected)", t->repo);
    } else if (!str_eq(in->branch, t->branch)) {
        c = change_add(p, RECONCILE_UPDATE, "provision", d->manifest_id, d->service_name,
                       o->service_id);
        snprintf(c->reason, sizeof(c->reason), "branch is %s, want %s",
                 in->branch ? in->branch : "(no trigger)", t->branch);
    } else if (!in->running && (!in->latest_status || strcmp(in->latest_status, "FAILED") == 0 ||
                                strcmp(in->latest_status, "CRASHED") == 0 ||
                                strcmp(in->latest_status, "REMOVED") == 0)) {
        c = change_add(p, RECONCILE_REDEPLOY, "redeploy", d->manifest_id, d->service_name,
                       o->service_id);
        snprintf(c->reason, sizeof(c->reason), "latest deployment is %s and nothing runs",
                 in->latest_status ? in->latest_status : "missing");
    }
    if (c)
        c->desired = index;
}

/* Refuses every delete of the plan, saying why. */
static void deletes_refuse(struct reconcile_plan *p, const char *why)
{
    for (size_t i = 0; i < p->n; i++) {
        if (p->changes[i].action != RECONCILE_DELETE)
            continue;
        p->changes[i].refused = true;
        p->refused++;
    }
    snprintf(p->refusal, sizeof(p->refusal), "%s", why);
}

void reconcile_plan_make(const struct reconcile_target *t, const struct reconcile_desired *desired,
                         size_t nd, const struct reconcile_owned *owned, size_t no,
                         const struct reconcile_instance *inst, size_t ni, struct reconcile_plan *p)
{
    memset(p, 0, sizeof(*p));
    for (size_t i = 0; i < nd; i++)
        if (!desired[i].invalid)
            plan_manifest(t, &desired[i], owned_by_manifest(owned, no, desired[i].manifest_id),
                          inst, ni, (int)i, p);

    int deletes = 0;
    for (size_t i = 0; t->desired_is_truth && i < no; i++) {
        const struct reconcile_owned *o = &owned[i];
        if (!o->manifest_id || !o->service_id)
            continue;
        bool wanted = false;
        for (size_t j = 0; j < nd && !wanted; j++)
            wanted = str_eq(desired[j].manifest_id, o->manifest_id);
        if (wanted)
            continue;
        struct reconcile_change *c = change_add(p, RECONCILE_DELETE, "deprovision", o->manifest_id,
                                                o->service_name, o->service_id);
        snprintf(c->reason, sizeof(c->reason), "manifest %s is gone%s", o->manifest_id,
                 instance_by_id(inst, ni, o->service_id) ? "" : " (its service is gone too)");
        deletes++;
    }
    if (deletes > 0 && nd == 0)
        deletes_refuse(p, "the desired state is empty while railhook owns services: an emptied "
                          "or wrongly pointed table? no delete");
    else if (deletes > t->max_delete)
        deletes_refuse(p, "more deletes than RECONCILE_MAX_DELETE: none is made");
    else if (deletes > 0 && !t->delete_enabled)
        deletes_refuse(p, "RECONCILE_DELETE is off: deletes are reported only");

    for (size_t i = 0; i < ni; i++) {
        const struct reconcile_instance *in = &inst[i];
        if (in->deleted || str_eq(in->service_id, t->self_service_id) ||
            !name_matches(t->name_template, in->service_name ? in->service_name : ""))
            continue;
        bool known = false;
        for (size_t j = 0; j < no && !known; j++)
            known = str_eq(owned[j].service_id, in->service_id);
        for (size_t j = 0; j < nd && !known; j++)
            known = desired[j].service_name && str_eq(desired[j].service_name, in->service_name);
        if (known)
            continue;
        struct reconcile_change *c =
            change_add(p, RECONCILE_FOREIGN, NULL, NULL, in->service_name, in->service_id);
        snprintf(c->reason, sizeof(c->reason),
                 "matches %s but railhook does not own it; left "
                 "alone",
                 t->name_template);
    }
}

void reconcile_plan_free(struct reconcile_plan *p)
{
    free(p->changes);
    p->changes = NULL;
    p->n = 0;
}

const char *reconcile_action_name(enum reconcile_action a)
{
    switch (a) {
    case RECONCILE_CREATE:
        return "create";
    case RECONCILE_UPDATE:
        return "update";
    case RECONCILE_DELETE:
        return "delete";
    case RECONCILE_REDEPLOY:
        return "redeploy";
    case RECONCILE_FOREIGN:
        return "foreign";
    }
    return "unknown";
}

static void add_or_null(cJSON *o, const char *key, const char *v)
{
    if (v && *v)
        cJSON_AddStringToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

cJSON *reconcile_plan_json(const struct reconcile_plan *p)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < p->n; i++) {
        const struct reconcile_change *c = &p->changes[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "action", reconcile_action_name(c->action));
        add_or_null(o, "manifest_id", c->manifest_id);
        add_or_null(o, "service_name", c->service_name);
        add_or_null(o, "service_id", c->service_id);
        cJSON_AddStringToObject(o, "reason", c->reason);
        if (c->refused)
            cJSON_AddBoolToObject(o, "refused", true);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}
