/* `railhook reconcile` (plan, apply, exit codes, JSON), the periodic pass of serve in repair
 * and report mode, GET /reconcile and the reconciliation metrics, against the Railway
 * simulator and the Supabase stand-in (reconcile_env.h). */
#include "reconcile_env.h"

#include "util/util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite(reconcile_serve, .init = rc_setup, .fini = rc_teardown, .timeout = 120);

Test(reconcile_serve, report_mode_records_the_plan_and_enqueues_nothing)
{
    setenv("RECONCILE_INTERVAL_S", "1", 1);
    setenv("RECONCILE_MODE", "report", 1);
    rc_start(rc_supa.reader_url);
    unsetenv("RECONCILE_INTERVAL_S");
    unsetenv("RECONCILE_MODE");
    rc_manifest_insert("m-g", "gimel");
    struct reconcile_periodic *p = reconcile_periodic_start(rc_tp.fl, rc_tp.store, &rc_mr.mapper);
    int64_t deadline = time_mono_ms() + 30000;
    while (th_sql_long(
               rc_db, "SELECT count(*) FROM reconcile_passes WHERE finished_at IS NOT NULL") == 0) {
        cr_assert(time_mono_ms() < deadline, "no periodic pass");
        usleep(50 * 1000);
    }
    reconcile_periodic_stop(p);
    cr_assert_eq(th_sql_long(rc_db,
                             "SELECT count(*) FROM reconcile_passes WHERE mode = 'report' AND "
                             "ok AND changes_found = 1 AND changes_enqueued = 0"),
                 th_sql_long(rc_db, "SELECT count(*) FROM reconcile_passes"));
    cr_assert_eq(th_sql_long(rc_db, "SELECT count(*) FROM jobs"), 0);
}

/* Runs `railhook reconcile` with args; returns its exit code and output (free()). */
static int cli(const char *a1, const char *a2, char **out)
{
    char *log = xasprintf("%s/reconcile-%d-%ld.log",
                          getenv("RAILHOOK_TEST_TMP") ? getenv("RAILHOOK_TEST_TMP") : "/tmp",
                          (int)getpid(), (long)time_mono_ms());
    const char *argv[] = {th_railhook_bin(), "reconcile", a1, a2, NULL};
    pid_t pid = th_spawn(argv, NULL, log);
    int wstatus = 0;
    cr_assert_eq(waitpid(pid, &wstatus, 0), pid);
    cr_assert(WIFEXITED(wstatus));
    size_t len = 0;
    *out = th_read_file(log, &len);
    unlink(log);
    free(log);
    return WEXITSTATUS(wstatus);
}

Test(reconcile_serve, the_command_plans_applies_and_exits_by_the_issue)
{
    rc_start(rc_supa.reader_url);
    char *out = NULL;
    cr_assert_eq(cli("--json", NULL, &out), 0, "nothing differs: %s", out);
    cJSON *j = cJSON_Parse(strstr(out, "{\"ok\""));
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "ok")), "%s", out);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "changes")), 0);
    cr_assert_eq(cJSON_GetObjectItem(j, "railway_requests")->valueint, 1);
    cJSON_Delete(j);
    free(out);

    rc_manifest_insert("m-c", "gamma");
    cr_assert_eq(cli(NULL, NULL, &out), 2, "%s", out);
    cr_assert(strstr(out, "+ create   osp-worker-gamma"), "%s", out);
    cr_assert(strstr(out, "Plan: 1 to create"), "%s", out);
    free(out);
    cr_assert_eq(cli("--apply", NULL, &out), 0, "%s", out);
    cr_assert(strstr(out, "enqueued "), "%s", out);
    free(out);
    rc_jobs_settle();
    cr_assert_eq(cli(NULL, NULL, &out), 0, "converged: %s", out);
    free(out);

    setenv("MANIFESTS_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none", 1);
    cr_assert_eq(cli("--json", NULL, &out), 1, "%s", out);
    cr_assert(strstr(out, "\"ok\":false"), "%s", out);
    cr_assert_null(strstr(out, "pw-"), "no password in the output");
    free(out);
}

Test(reconcile_serve, the_periodic_pass_repairs_and_get_reconcile_shows_it)
{
    setenv("RECONCILE_INTERVAL_S", "1", 1);
    rc_start(rc_supa.reader_url);
    unsetenv("RECONCILE_INTERVAL_S");
    rc_manifest_insert("m-e", "epsilon");
    struct reconcile_periodic *p = reconcile_periodic_start(rc_tp.fl, rc_tp.store, &rc_mr.mapper);
    cr_assert_not_null(p);
    int64_t deadline = time_mono_ms() + 60000;
    while (th_sim_count_services(&rc_sim, "osp-worker-epsilon") == 0 ||
           th_sql_long(rc_db, "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')") >
               0) {
        cr_assert(time_mono_ms() < deadline, "the periodic pass did not repair");
        usleep(50 * 1000);
    }
    reconcile_periodic_stop(p);
    rc_jobs_settle();
    cr_assert_geq(th_sql_long(rc_db, "SELECT count(*) FROM reconcile_passes WHERE mode = 'repair' "
                                     "AND changes_enqueued = 1"),
                  1);
    rc_assert_converged();

    setenv("API_TOKEN", "read-tok", 1);
    struct th_server ts;
    th_server_start(&ts, rc_db);
    char *url = xasprintf("%s/reconcile?limit=2", ts.base);
    const char *auth[] = {"Authorization: Bearer read-tok", NULL};
    struct th_response r;
    th_http(&r, "GET", url, NULL, NULL, 0);
    cr_assert_eq(r.status, 401);
    th_response_free(&r);
    th_http(&r, "GET", url, auth, NULL, 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cJSON *j = cJSON_Parse(r.body);
    const cJSON *passes = cJSON_GetObjectItem(j, "passes");
    cr_assert_eq(cJSON_GetArraySize(passes), 2, "%s", r.body);
    const cJSON *newest = cJSON_GetArrayItem(passes, 0);
    cr_assert_str_eq(cJSON_GetObjectItem(newest, "mode")->valuestring, "plan", "newest first");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(newest, "changes")), 0);
    const char *keys[] = {
        "id",    "instance",         "started_at",    "finished_at",      "mode",    "ok",
        "error", "railway_requests", "changes_found", "changes_enqueued", "refused", "changes"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        cr_assert(cJSON_HasObjectItem(newest, keys[i]), "no %s in %s", keys[i], r.body);
    cJSON_Delete(j);
    th_response_free(&r);
    free(url);
    url = xasprintf("%s/reconcile?limit=0", ts.base);
    th_http(&r, "GET", url, auth, NULL, 0);
    cr_assert_eq(r.status, 400);
    th_response_free(&r);
    free(url);
    url = xasprintf("%s/reconcile", ts.base);
    th_http(&r, "GET", url, auth, NULL, 0);
    j = cJSON_Parse(r.body);
    passes = cJSON_GetObjectItem(j, "passes");
    cr_assert_geq(cJSON_GetArraySize(passes), 2);
    /* The repair pass lists the change it made. */
    bool seen = false;
    const cJSON *ps;
    cJSON_ArrayForEach(ps, passes)
    {
        const cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(ps, "changes"), 0);
        seen =
            seen || (ch && strcmp(cJSON_GetObjectItem(ch, "action")->valuestring, "create") == 0 &&
                     strcmp(cJSON_GetObjectItem(ch, "service_name")->valuestring,
                            "osp-worker-epsilon") == 0);
    }
    cr_assert(seen, "%s", r.body);
    cJSON_Delete(j);
    th_response_free(&r);
    free(url);
    url = xasprintf("%s/metrics", ts.base);
    th_http(&r, "GET", url, auth, NULL, 0);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "railhook_reconcile_passes_total{outcome=\"ok\"}"), "%s", r.body);
    cr_assert(strstr(r.body, "railhook_reconcile_changes_total{action=\"create\","
                             "outcome=\"found\"} 1"),
              "%s", r.body);
    cr_assert(strstr(r.body, "railhook_reconcile_last_pass_age_seconds "), "%s", r.body);
    cr_assert_null(strstr(r.body, "railhook_reconcile_last_pass_age_seconds -1"));
    th_response_free(&r);
    free(url);
    th_server_stop(&ts);
    unsetenv("API_TOKEN");
}
