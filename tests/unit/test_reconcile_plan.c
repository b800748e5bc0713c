/* Reconciliation's plan (flows/reconcile_plan.c) without a database or Railway: every action
 * and every fail-safe rule, from hand-made desired rows, services rows and snapshots. */
#include "flows/reconcile_plan.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <string.h>

static struct reconcile_target target(void)
{
    struct reconcile_target t = {.repo = "acme/osp",
                                 .branch = "main",
                                 .root_dir = "/workers",
                                 .name_template = "osp-worker-{service_schema}",
                                 .self_service_id = "svc-self",
                                 .desired_is_truth = true,
                                 .delete_enabled = true,
                                 .max_delete = 5};
    return t;
}

/* A healthy live instance of id named name, as provision leaves it. */
static struct reconcile_instance healthy(const char *id, const char *name)
{
    struct reconcile_instance in = {.service_id = id,
                                    .service_name = name,
                                    .root_directory = "workers",
                                    .repo = "acme/osp",
                                    .branch = "main",
                                    .latest_status = "SUCCESS",
                                    .running = true};
    return in;
}

static struct reconcile_plan plan;

static void teardown(void)
{
    reconcile_plan_free(&plan);
}

TestSuite(reconcile_plan, .fini = teardown);

Test(reconcile_plan, converged_state_plans_nothing)
{
    struct reconcile_target t = target();
    struct reconcile_desired d[] = {{"m1", "osp-worker-a", NULL}};
    struct reconcile_owned o[] = {{"m1", "osp-worker-a", "s1", NULL}};
    struct reconcile_instance in[] = {healthy("s1", "osp-worker-a"),
                                      healthy("svc-self", "osp-worker-railhook")};
    reconcile_plan_make(&t, d, 1, o, 1, in, 2, &plan);
    cr_assert_eq(plan.n, 0, "railhook's own service is never listed, even matching the pattern");
}

Test(reconcile_plan, lost_webhook_creates)
{
    struct reconcile_target t = target();
    struct reconcile_desired d[] = {{"m1", "osp-worker-a", NULL}};
    reconcile_plan_make(&t, d, 1, NULL, 0, NULL, 0, &plan);
    cr_assert_eq(plan.n, 1);
    cr_assert_eq(plan.changes[0].action, RECONCILE_CREATE);
    cr_assert_str_eq(plan.changes[0].kind, "provision");
    cr_assert_str_eq(plan.changes[0].manifest_id, "m1");
    cr_assert_eq(plan.changes[0].desired, 0);
    cr_assert(strstr(plan.changes[0].reason, "lost webhook"));
}

Test(reconcile_plan, deleted_by_hand_creates_whether_listed_deleted_or_missing)
{
    struct reconcile_target t = target();
    struct reconcile_desired d[] = {{"m1", "osp-worker-a", NULL}, {"m2", "osp-worker-b", NULL}};
    struct reconcile_owned o[] = {{"m1", "osp-worker-a", "s1", NULL},
                                  {"m2", "osp-worker-b", "s2", NULL}};
    struct reconcile_instance in[] = {healthy("s1", "osp-worker-a")};
    in[0].deleted = true;
    reconcile_plan_make(&t, d, 2, o, 2, in, 1, &plan);
    cr_assert_eq(plan.n, 2);
    for (size_t i = 0; i < 2; i++) {
        cr_assert_eq(plan.changes[i].action, RECONCILE_CREATE);
        cr_assert(strstr(plan.changes[i].reason, "gone from Railway"));
    }
    cr_assert_str_eq(plan.changes[1].service_name, "osp-worker-b");
}

Test(reconcile_plan, rename_is_an_update_job_with_the_old_name)
{
    struct reconcile_target t = target();
    struct reconcile_desired d[] = {{"m1", "osp-worker-new", NULL}};
    struct reconcile_owned o[] = {{"m1", "osp-worker-old", "s1", NULL}};
    struct reconcile_instance in[] = {healthy("s1", "osp-worker-old")};
    reconcile_plan_make(&t, d, 1, o, 1, in, 1, &plan);
    cr_assert_eq(plan.n, 1);
    cr_assert_eq(plan.changes[0].action, RECONCILE_UPDATE);
    cr_assert_str_eq(plan.changes[0].kind, "update");
    cr_assert_str_eq(plan.changes[0].old_service_name, "osp-worker-old");
    cr_assert_str_eq(plan.changes[0].service_id, "s1");
}

Test(reconcile_plan, variables_changed_in_the_manifest_or_on_railway_update)
{
    struct reconcile_target t = target();
    cJSON *applied = cJSON_Parse("{\"A\":\"d1\"}"), *now = cJSON_Parse("{\"A\":\"d2\"}");
    struct reconcile_desired d[] = {{"m1", "osp-worker-a", now}, {"m2", "osp-worker-b", applied}};
    struct reconcile_owned o[] = {{"m1", "osp-worker-a", "s1", applied},
                                  {"m2", "osp-worker-b", "s2", applied}};
    struct reconcile_instance in[] = {healthy("s1", "osp-worker-a"), healthy("s2", "osp-worker-b")};
    in[1].var_digests = now; /* a deep pass read other values on Railway */
    reconcile_plan_make(&t, d, 2, o, 2, in, 2, &plan);
    cr_assert_eq(plan.n, 2);
    cr_assert_str_eq(plan.changes[0].kind, "update");
    cr_assert(strstr(plan.changes[0].reason, "manifest's variables"));
    cr_assert_str_eq(plan.changes[1].kind, "provision", "update would set only what it changed");
    cr_assert(strstr(plan.changes[1].reason, "on Railway"));
    cJSON_Delete(applied);
    cJSON_Delete(now);
}

Test(reconcile_plan, source_drift_is_an_update_by_provision)
{
    struct reconcile_target t = target();
    struct reconcile_desired d[] = {
        {"m1", "osp-worker-a", NULL}, {"m2", "osp-worker-b", NULL}, {"m3", "osp-worker-c", NULL}};
    struct reconcile_owned o[] = {{"m1", "osp-worker-a", "s1", NULL},
                                  {"m2", "osp-worker-b", "s2", NULL},
                                  {"m3", "osp-worker-c", "s3", NULL}};
    struct reconcile_instance in[] = {healthy("s1", "osp-worker-a"), healthy("s2", "osp-worker-b"),
                                      healthy("s3", "osp-worker-c")};
    in[0].root_directory = "/elsewhere";
    in[1].repo = NULL; /* disconnected */
    in[2].branch = "dev";
    reconcile_plan_make(&t, d, 3, o, 3, in, 3, &plan);
    cr_assert_eq(plan.n, 3);
    cr_assert(strstr(plan.changes[0].reason, "root directory is /elsewhere"));
    cr_assert(strstr(plan.changes[1].reason, "disconnected"));
    cr_assert(strstr(plan.changes[2].reason, "branch is dev"));
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq(plan.changes[i].action, RECONCILE_UPDATE);
        cr_assert_str_eq(plan.changes[i].kind, "provision");
    }
}

Test(reconcile_plan, failed_deployment_with_nothing_running_redeploys)
{
    struct reconcile_target t = target();
    struct reconcile_desired d[] = {
        {"m1", "osp-worker-a", NULL}, {"m2", "osp-worker-b", NULL}, {"m3", "osp-worker-c", NULL}};
    struct reconcile_owned o[] = {{"m1", "osp-worker-a", "s1", NULL},
                                  {"m2", "osp-worker-b", "s2", NULL},
                                  {"m3", "osp-worker-c", "s3", NULL}};
    struct reconcile_instance in[] = {healthy("s1", "osp-worker-a"), healthy("s2", "osp-worker-b"),
                                      healthy("s3", "osp-worker-c")};
    in[0].latest_status = "FAILED";
    in[0].running = false;
    in[1].latest_status = "FAILED"; /* an older deployment still runs: nothing to do */
    in[2].latest_status = NULL;
    in[2].running = false;
    reconcile_plan_make(&t, d, 3, o, 3, in, 3, &plan);
    cr_assert_eq(plan.n, 2);
    cr_assert_eq(plan.changes[0].action, RECONCILE_REDEPLOY);
    cr_assert_str_eq(plan.changes[0].manifest_id, "m1");
    cr_assert_eq(plan.changes[1].action, RECONCILE_REDEPLOY);
    cr_assert_str_eq(plan.changes[1].manifest_id, "m3");
}

Test(reconcile_plan, gone_manifest_deletes_when_enabled)
{
    struct reconcile_target t = target();
    struct reconcile_desired d[] = {{"m1", "osp-worker-a", NULL}};
    struct reconcile_owned o[] = {{"m1", "osp-worker-a", "s1", NULL},
                                  {"m2", "osp-worker-b", "s2", NULL},
                                  {NULL, "osp-worker-legacy", "s9", NULL}};
    struct reconcile_instance in[] = {healthy("s1", "osp-worker-a"), healthy("s2", "osp-worker-b")};
    reconcile_plan_make(&t, d, 1, o, 3, in, 2, &plan);
    cr_assert_eq(plan.n, 1, "a row without a manifest id is never planned against");
    cr_assert_eq(plan.changes[0].action, RECONCILE_DELETE);
    cr_assert_str_eq(plan.changes[0].kind, "deprovision");
    cr_assert_str_eq(plan.changes[0].service_id, "s2");
    cr_assert_not(plan.changes[0].refused);
    cr_assert_eq(plan.refused, 0);
}

Test(reconcile_plan, deletes_are_reported_only_when_disabled)
{
    struct reconcile_target t = target();
    t.delete_enabled = false;
    struct reconcile_desired d[] = {{"m1", "osp-worker-a", NULL}};
    struct reconcile_owned o[] = {{"m1", "osp-worker-a", "s1", NULL},
                                  {"m2", "osp-worker-b", "s2", NULL}};
    struct reconcile_instance in[] = {healthy("s1", "osp-worker-a"), healthy("s2", "osp-worker-b")};
    reconcile_plan_make(&t, d, 1, o, 2, in, 2, &plan);
    cr_assert_eq(plan.n, 1);
    cr_assert(plan.changes[0].refused);
    cr_assert_eq(plan.refused, 1);
    cr_assert(strstr(plan.refusal, "RECONCILE_DELETE"));
}

Test(reconcile_plan, no_deletes_without_the_manifests_table)
{
    struct reconcile_target t = target();
    t.desired_is_truth = false;
    struct reconcile_desired d[] = {{"m1", "osp-worker-a", NULL}};
    struct reconcile_owned o[] = {{"m1", "osp-worker-a", "s1", NULL},
                                  {"m2", "osp-worker-b", "s2", NULL}};
    struct reconcile_instance in[] = {healthy("s1", "osp-worker-a"), healthy("s2", "osp-worker-b")};
    reconcile_plan_make(&t, d, 1, o, 2, in, 2, &plan);
    cr_assert_eq(plan.n, 0);
}

Test(reconcile_plan, an_empty_desired_state_deletes_nothing)
{
    struct reconcile_target t = target();
    struct reconcile_owned o[] = {{"m1", "osp-worker-a", "s1", NULL}};
    struct reconcile_instance in[] = {healthy("s1", "osp-worker-a")};
    reconcile_plan_make(&t, NULL, 0, o, 1, in, 1, &plan);
    cr_assert_eq(plan.n, 1);
    cr_assert_eq(plan.changes[0].action, RECONCILE_DELETE);
    cr_assert(plan.changes[0].refused);
    cr_assert(strstr(plan.refusal, "empty"));
}

Test(reconcile_plan, more_deletes_than_the_maximum_makes_none)
{
    struct reconcile_target t = target();
    t.max_delete = 2;
    struct reconcile_desired d[] = {{"keep", "osp-worker-keep", NULL}};
    struct reconcile_owned o[] = {{"keep", "osp-worker-keep", "s0", NULL},
                                  {"m1", "osp-worker-a", "s1", NULL},
                                  {"m2", "osp-worker-b", "s2", NULL},
                                  {"m3", "osp-worker-c", "s3", NULL}};
    struct reconcile_instance in[] = {healthy("s0", "osp-worker-keep")};
    reconcile_plan_make(&t, d, 1, o, 4, in, 1, &plan);
    cr_assert_eq(plan.n, 3);
    cr_assert_eq(plan.refused, 3);
    for (size_t i = 0; i < plan.n; i++)
        cr_assert(plan.changes[i].refused);
    cr_assert(strstr(plan.refusal, "RECONCILE_MAX_DELETE"));
    t.max_delete = 3;
    reconcile_plan_free(&plan);
    reconcile_plan_make(&t, d, 1, o, 4, in, 1, &plan);
    cr_assert_eq(plan.refused, 0, "exactly the maximum is allowed");
}

Test(reconcile_plan, foreign_services_are_reported_and_others_ignored)
{
    struct reconcile_target t = target();
    struct reconcile_desired d[] = {{"m1", "osp-worker-a", NULL}};
    struct reconcile_instance in[] = {healthy("s5", "osp-worker-stranger"),
                                      healthy("s6", "postgres"), healthy("s7", "osp-worker-a")};
    reconcile_plan_make(&t, d, 1, NULL, 0, in, 3, &plan);
    /* m1 has no row: create (provision adopts s7 only if it carries m1's marker). */
    cr_assert_eq(plan.n, 2);
    cr_assert_eq(plan.changes[0].action, RECONCILE_CREATE);
    cr_assert_eq(plan.changes[1].action, RECONCILE_FOREIGN);
    cr_assert_str_eq(plan.changes[1].service_id, "s5");
    cr_assert_null(plan.changes[1].kind);
    cr_assert_str_eq(plan.changes[1].manifest_id, "");
}

Test(reconcile_plan, json_names_every_field)
{
    struct reconcile_target t = target();
    t.delete_enabled = false;
    struct reconcile_owned o[] = {{"m1", "osp-worker-a", "s1", NULL}};
    struct reconcile_desired d[] = {{"m2", "osp-worker-b", NULL}};
    reconcile_plan_make(&t, d, 1, o, 1, NULL, 0, &plan);
    cJSON *a = reconcile_plan_json(&plan);
    char *s = cJSON_PrintUnformatted(a);
    cr_assert_str_eq(s, "[{\"action\":\"create\",\"manifest_id\":\"m2\",\"service_name\":\"osp-"
                        "worker-b\",\"service_id\":null,\"reason\":\"no service recorded for this "
                        "manifest (a lost webhook?)\"},{\"action\":\"delete\",\"manifest_id\":"
                        "\"m1\",\"service_name\":\"osp-worker-a\",\"service_id\":\"s1\","
                        "\"reason\":\"manifest m1 is gone (its service is gone too)\","
                        "\"refused\":true}]");
    cJSON_free(s);
    cJSON_Delete(a);
}
