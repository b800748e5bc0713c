/* Payload-to-job mapping: every Supabase and GitHub fixture, the UPDATE relevance rule, the
 * paths filter, service names, template columns and the derived Supabase delivery id. */
#include "handlers/mapping.h"
#include "support/harness.h"
#include "util/util.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct config cfg;
static struct mapping_rules rules;

static void load(void)
{
    char err[256];
    cr_assert(config_load(&cfg, CONFIG_NEED_NOTHING, err, sizeof(err)), "config: %s", err);
    cr_assert_eq(mapping_rules_load(&rules, &cfg, flows_kinds, err, sizeof(err)), RH_OK,
                 "rules: %s", err);
}

static void unload(void)
{
    mapping_rules_free(&rules);
    config_free(&cfg);
}

static cJSON *fixture(const char *rel)
{
    char *path = th_fixture_path(rel);
    if (!path)
        cr_skip_test("fixture %s is absent (../shared/fixtures)", rel);
    char *text = th_read_file(path, NULL);
    cJSON *j = cJSON_Parse(text);
    cr_assert_not_null(j, "%s", rel);
    free(text);
    free(path);
    return j;
}

static const char *pstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool has_column(const char *name)
{
    for (size_t i = 0; i < rules.ncolumns; i++)
        if (strcmp(rules.columns[i], name) == 0)
            return true;
    return false;
}

static char *write_tmp(const char *text)
{
    char *path = xstrdup("/tmp/railhook-vars-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

Test(mapping, template_columns_default_to_the_flows_templates, .fini = unload)
{
    load();
    cr_assert(has_column("id"));
    cr_assert(has_column("service_schema"));
    cr_assert_not(has_column("status"));
}

Test(mapping, template_columns_come_from_worker_variables_file, .fini = unload)
{
    char *path = write_tmp("{\"A\":\"{record.status}-{env.HOME}\",\"B\":\"{record.spec}\","
                           "\"C\":\"plain\"}");
    setenv("WORKER_VARIABLES_FILE", path, 1);
    setenv("SERVICE_NAME_TEMPLATE", "w-{service_schema}-{region}", 1);
    load();
    cr_assert(has_column("status"));
    cr_assert(has_column("spec"));
    cr_assert(has_column("service_schema"));
    cr_assert(has_column("region"));
    cr_assert_not(has_column("id"));
    cr_assert_not(has_column("HOME"));
    unlink(path);
    free(path);
}

Test(mapping, bad_templates_are_refused_at_load)
{
    char err[256] = "";
    setenv("SERVICE_NAME_TEMPLATE", "osp-{service_schema", 1);
    cr_assert(config_load(&cfg, CONFIG_NEED_NOTHING, err, sizeof(err)));
    cr_assert_eq(mapping_rules_load(&rules, &cfg, flows_kinds, err, sizeof(err)), RH_INVALID);
    cr_assert_not_null(strstr(err, "SERVICE_NAME_TEMPLATE"), "%s", err);
    config_free(&cfg);

    setenv("SERVICE_NAME_TEMPLATE", "osp-{service_schema}", 1);
    setenv("WORKER_VARIABLES_FILE", "/nonexistent/vars.json", 1);
    cr_assert(config_load(&cfg, CONFIG_NEED_NOTHING, err, sizeof(err)));
    cr_assert_eq(mapping_rules_load(&rules, &cfg, flows_kinds, err, sizeof(err)), RH_INVALID);
    cr_assert_not_null(strstr(err, "WORKER_VARIABLES_FILE"), "%s", err);
    mapping_rules_free(&rules);
    config_free(&cfg);
}

Test(mapping, service_name_renders_columns)
{
    cJSON *rec =
        cJSON_Parse("{\"service_schema\":\"billing\",\"n\":42,\"f\":1.5,\"b\":true,"
                    "\"nul\":null,\"obj\":{},\"ctl\":\"a\\nb\",\"long\":\""
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}");
    char *name = NULL;
    char err[256] = "";
    cr_assert_eq(mapping_service_name("osp-worker-{service_schema}", rec, &name, err, sizeof(err)),
                 RH_OK);
    cr_assert_str_eq(name, "osp-worker-billing");
    free(name);
    cr_assert_eq(mapping_service_name("{service_schema}-{n}-{f}-{b}", rec, &name, err, sizeof(err)),
                 RH_OK);
    cr_assert_str_eq(name, "billing-42-1.5-true");
    free(name);
    cr_assert_eq(mapping_service_name("plain", rec, &name, err, sizeof(err)), RH_OK);
    cr_assert_str_eq(name, "plain");
    free(name);
    const char *bad[] = {"w-{missing}", "w-{nul}", "w-{obj}", "w-{ctl}",
                         "w-{long}",    "w-{",     "{}",      ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        name = NULL;
        err[0] = '\0';
        cr_assert_eq(mapping_service_name(bad[i], rec, &name, err, sizeof(err)), RH_INVALID, "%s",
                     bad[i]);
        cr_assert_null(name);
        cr_assert(*err);
    }
    cr_assert_eq(mapping_service_name("w-{missing}", rec, &name, err, sizeof(err)), RH_INVALID);
    cr_assert_not_null(strstr(err, "missing"), "%s", err);
    cJSON_Delete(rec);
}

Test(mapping, supabase_insert_fixture_is_a_provision_job, .fini = unload)
{
    load();
    cJSON *body = fixture("supabase/manifests.insert.body.json");
    struct mapping_result res;
    mapping_result_init(&res);
    cr_assert_eq(mapping_supabase(&rules, body, "d1", &res), RH_OK);
    cr_assert_eq(res.outcome, MAPPING_JOBS);
    cr_assert_eq(res.njobs, 1);
    const struct mapping_job *j = &res.jobs[0];
    cr_assert_str_eq(j->kind, "provision");
    cr_assert_str_eq(j->service_name, "osp-worker-billing_v2");
    cr_assert_str_eq(j->dedupe_key, "supabase:d1:provision");
    cr_assert_str_eq(pstr(j->payload, "manifest_id"), "3f1c2b7e-9a4d-4c1e-8f2a-6b5d0e9c7a13");
    cr_assert_str_eq(pstr(j->payload, "service_schema"), "billing_v2");
    cr_assert_str_eq(pstr(j->payload, "source"), "supabase");
    cr_assert_str_eq(pstr(j->payload, "delivery_id"), "d1");
    cr_assert(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(j->payload, "record"),
                            cJSON_GetObjectItemCaseSensitive(body, "record"), true));
    cr_assert_null(cJSON_GetObjectItemCaseSensitive(j->payload, "old_record"));
    mapping_result_free(&res);
    mapping_result_free(&res);
    cJSON_Delete(body);
}

Test(mapping, supabase_update_fixture_changes_nothing_relevant, .fini = unload)
{
    load();
    cJSON *body = fixture("supabase/manifests.update.body.json");
    struct mapping_result res;
    mapping_result_init(&res);
    cr_assert_eq(mapping_supabase(&rules, body, "d2", &res), RH_OK);
    cr_assert_eq(res.outcome, MAPPING_IGNORED);
    cr_assert_str_eq(res.reason, "no relevant change");
    cr_assert_eq(res.njobs, 0);
    mapping_result_free(&res);
    cJSON_Delete(body);
}

Test(mapping, supabase_update_of_a_templated_column_is_an_update_job, .fini = unload)
{
    char *path = write_tmp("{\"STATUS\":\"{record.status}\"}");
    setenv("WORKER_VARIABLES_FILE", path, 1);
    load();
    cJSON *body = fixture("supabase/manifests.update.body.json");
    struct mapping_result res;
    mapping_result_init(&res);
    cr_assert_eq(mapping_supabase(&rules, body, "d3", &res), RH_OK);
    cr_assert_eq(res.outcome, MAPPING_JOBS);
    cr_assert_str_eq(res.jobs[0].kind, "update");
    cr_assert_str_eq(res.jobs[0].service_name, "osp-worker-billing_v2");
    const cJSON *p = res.jobs[0].payload;
    cr_assert_str_eq(pstr(cJSON_GetObjectItemCaseSensitive(p, "old_record"), "status"), "pending");
    cr_assert_null(cJSON_GetObjectItemCaseSensitive(p, "old_service_name"),
                   "same schema: no rename");
    mapping_result_free(&res);
    cJSON_Delete(body);
    unlink(path);
    free(path);
}

Test(mapping, supabase_update_of_service_schema_names_the_old_service, .fini = unload)
{
    load();
    cJSON *body = fixture("supabase/manifests.update.body.json");
    cJSON *rec = cJSON_GetObjectItemCaseSensitive(body, "record");
    cJSON_ReplaceItemInObjectCaseSensitive(rec, "service_schema", cJSON_CreateString("billing_v3"));
    struct mapping_result res;
    mapping_result_init(&res);
    cr_assert_eq(mapping_supabase(&rules, body, "d4", &res), RH_OK);
    cr_assert_eq(res.outcome, MAPPING_JOBS);
    cr_assert_str_eq(res.jobs[0].kind, "update");
    cr_assert_str_eq(res.jobs[0].service_name, "osp-worker-billing_v3");
    cr_assert_str_eq(pstr(res.jobs[0].payload, "old_service_name"), "osp-worker-billing_v2");
    mapping_result_free(&res);

    /* Without the old row nobody can tell what changed: it counts as relevant. */
    cJSON_ReplaceItemInObjectCaseSensitive(body, "old_record", cJSON_CreateNull());
    mapping_result_init(&res);
    cr_assert_eq(mapping_supabase(&rules, body, "d5", &res), RH_OK);
    cr_assert_eq(res.outcome, MAPPING_JOBS);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(res.jobs[0].payload, "old_record")));
    mapping_result_free(&res);
    cJSON_Delete(body);
}

Test(mapping, supabase_delete_fixture_is_a_deprovision_from_old_record, .fini = unload)
{
    load();
    cJSON *body = fixture("supabase/manifests.delete.body.json");
    struct mapping_result res;
    mapping_result_init(&res);
    cr_assert_eq(mapping_supabase(&rules, body, "d6", &res), RH_OK);
    cr_assert_eq(res.outcome, MAPPING_JOBS);
    cr_assert_str_eq(res.jobs[0].kind, "deprovision");
    cr_assert_str_eq(res.jobs[0].service_name, "osp-worker-billing_v2");
    cr_assert_str_eq(pstr(res.jobs[0].payload, "manifest_id"),
                     "3f1c2b7e-9a4d-4c1e-8f2a-6b5d0e9c7a13");
    mapping_result_free(&res);
    cJSON_Delete(body);
}

Test(mapping, supabase_escapes_fixture_fails_the_schema_pattern, .fini = unload)
{
    load();
    cJSON *body = fixture("supabase/manifests.insert-null-and-escapes.body.json");
    struct mapping_result res;
    mapping_result_init(&res);
    cr_assert_eq(mapping_supabase(&rules, body, "d7", &res), RH_INVALID);
    cr_assert_eq(res.outcome, MAPPING_INVALID);
    cr_assert_str_eq(res.field, "record.service_schema");
    cr_assert_eq(res.njobs, 0);
    mapping_result_free(&res);
    cJSON_Delete(body);
}

static void expect_supabase(const char *json, enum mapping_outcome outcome, const char *field)
{
    cJSON *body = cJSON_Parse(json);
    cr_assert_not_null(body, "%s", json);
    struct mapping_result res;
    mapping_result_init(&res);
    mapping_supabase(&rules, body, "dx", &res);
    cr_assert_eq(res.outcome, outcome, "%s: outcome %d (%s%s)", json, res.outcome, res.field,
                 res.reason);
    if (field)
        cr_assert_str_eq(outcome == MAPPING_INVALID ? res.field : res.reason, field, "%s", json);
    mapping_result_free(&res);
    cJSON_Delete(body);
}

Test(mapping, supabase_validation_names_the_field, .fini = unload)
{
    load();
#define ROW(id) "\"record\":{\"id\":" id ",\"service_schema\":\"ok\"}"
    expect_supabase(
        "{\"type\":\"INSERT\",\"table\":\"manifests\",\"schema\":\"public\"," ROW("7") "}",
        MAPPING_JOBS, NULL);
    expect_supabase("{\"type\":\"INSERT\",\"table\":\"other\",\"schema\":\"public\"," ROW("7") "}",
                    MAPPING_IGNORED, "table public.other is not tracked");
    expect_supabase(
        "{\"type\":\"INSERT\",\"table\":\"manifests\",\"schema\":\"private\"," ROW("7") "}",
        MAPPING_IGNORED, "table private.manifests is not tracked");
    expect_supabase("{\"type\":\"TRUNCATE\",\"table\":\"manifests\",\"schema\":\"public\"}",
                    MAPPING_INVALID, "type");
    expect_supabase("{\"table\":\"manifests\",\"schema\":\"public\"}", MAPPING_INVALID, "type");
    expect_supabase("{\"type\":\"INSERT\",\"schema\":\"public\"}", MAPPING_INVALID, "table");
    expect_supabase("{\"type\":\"INSERT\",\"table\":\"manifests\"}", MAPPING_INVALID, "schema");
    expect_supabase("{\"type\":\"INSERT\",\"table\":\"manifests\",\"schema\":\"public\","
                    "\"record\":null}",
                    MAPPING_INVALID, "record");
    expect_supabase("{\"type\":\"DELETE\",\"table\":\"manifests\",\"schema\":\"public\"," ROW(
                        "7") ",\"old_record\":null}",
                    MAPPING_INVALID, "old_record");
    expect_supabase("{\"type\":\"INSERT\",\"table\":\"manifests\",\"schema\":\"public\","
                    "\"record\":{\"service_schema\":\"ok\"}}",
                    MAPPING_INVALID, "record.id");
    expect_supabase(
        "{\"type\":\"INSERT\",\"table\":\"manifests\",\"schema\":\"public\"," ROW("\"\"") "}",
        MAPPING_INVALID, "record.id");
    expect_supabase("{\"type\":\"INSERT\",\"table\":\"manifests\",\"schema\":\"public\"," ROW(
                        "12345678901234567890") "}",
                    MAPPING_INVALID, "record.id");
    expect_supabase(
        "{\"type\":\"INSERT\",\"table\":\"manifests\",\"schema\":\"public\"," ROW("{}") "}",
        MAPPING_INVALID, "record.id");
    expect_supabase("{\"type\":\"INSERT\",\"table\":\"manifests\",\"schema\":\"public\","
                    "\"record\":{\"id\":1,\"service_schema\":\"Upper\"}}",
                    MAPPING_INVALID, "record.service_schema");
    expect_supabase("{\"type\":\"INSERT\",\"table\":\"manifests\",\"schema\":\"public\","
                    "\"record\":{\"id\":1,\"service_schema\":\"a23456789012345678901234567890"
                    "1234567890123456789\"}}",
                    MAPPING_INVALID, "record.service_schema");
    expect_supabase("{\"type\":\"INSERT\",\"table\":\"manifests\",\"schema\":\"public\","
                    "\"record\":{\"id\":1,\"service_schema\":7}}",
                    MAPPING_INVALID, "record.service_schema");
    /* user_id (documented once, never sent) is accepted when present. */
    expect_supabase("{\"type\":\"INSERT\",\"table\":\"manifests\",\"schema\":\"public\","
                    "\"user_id\":null," ROW("\"x\"") "}",
                    MAPPING_JOBS, NULL);
#undef ROW
}

Test(mapping, supabase_schema_pattern_is_configurable, .fini = unload)
{
    setenv("SERVICE_SCHEMA_PATTERN", "^[A-Z]+$", 1);
    load();
    expect_supabase("{\"type\":\"INSERT\",\"table\":\"manifests\",\"schema\":\"public\","
                    "\"record\":{\"id\":1,\"service_schema\":\"UPPER\"}}",
                    MAPPING_JOBS, NULL);
    expect_supabase("{\"type\":\"INSERT\",\"table\":\"manifests\",\"schema\":\"public\","
                    "\"record\":{\"id\":1,\"service_schema\":\"lower\"}}",
                    MAPPING_INVALID, "record.service_schema");
}

Test(mapping, supabase_derived_delivery_id_is_stable_and_body_bound)
{
    const char *a = "{\"type\":\"INSERT\",\"table\":\"manifests\",\"schema\":\"public\","
                    "\"record\":{\"id\":\"r 1\"}}";
    const char *b = "{\"type\":\"INSERT\",\"table\":\"manifests\",\"schema\":\"public\","
                    "\"record\":{\"id\":\"r 1\"} }";
    cJSON *ja = cJSON_Parse(a), *jb = cJSON_Parse(b);
    char id1[320], id2[320], id3[320];
    mapping_supabase_delivery_id(ja, a, strlen(a), id1, sizeof(id1));
    mapping_supabase_delivery_id(ja, a, strlen(a), id2, sizeof(id2));
    mapping_supabase_delivery_id(jb, b, strlen(b), id3, sizeof(id3));
    cr_assert_str_eq(id1, id2);
    cr_assert_str_neq(id1, id3);
    cr_assert_eq(strncmp(id1, "INSERT:public.manifests:r_1:", 28), 0, "%s", id1);
    for (const char *p = id1; *p; p++)
        cr_assert(*p > 0x20 && *p < 0x7f);
    cJSON_Delete(ja);
    cJSON_Delete(jb);
}

static void expect_github(const char *file, const char *event, enum mapping_outcome outcome,
                          const char *reason)
{
    cJSON *body = fixture(file);
    struct mapping_result res;
    mapping_result_init(&res);
    mapping_github(&rules, event, body, "h:d", &res);
    cr_assert_eq(res.outcome, outcome, "%s: outcome %d (%s%s)", file, res.outcome, res.reason,
                 res.field);
    if (reason)
        cr_assert_str_eq(res.reason, reason, "%s", file);
    mapping_result_free(&res);
    cJSON_Delete(body);
}

#define GH(x)     "github/" x ".payload.json"
#define PUSH2015  GH("push/developer.github.com-push-branch-update-2015")
#define PUSH2014  GH("push/developer.github.com-push-branch-update-2014")
#define NEWBRANCH GH("push/octokit-api.github.com-push-with-new-branch")
#define TAGDEL    GH("push/octokit-api.github.com-push-tag-deleted")
#define TAGINST   GH("push/octokit-api.github.com-push-with-installation")
#define TAGNEW    GH("push/octokit-ghes-35-push-tag-created")

Test(mapping, github_fixtures_for_the_public_repo, .fini = unload)
{
    setenv("WORKER_REPO", "BaxterTheHacker/Public-Repo", 1); /* case-insensitive */
    setenv("WORKER_BRANCH", "changes", 1);
    setenv("WORKER_ROOT_DIR", "/", 1);
    load();
    expect_github(GH("ping/octokit-api.github.com-ping"), "ping", MAPPING_IGNORED, "ping");
    expect_github(GH("ping/octokit-api.github.com-ping-with-app_id"), "ping", MAPPING_IGNORED,
                  "ping");
    expect_github(GH("pull_request/octokit-api.github.com-pull_request-opened"), "pull_request",
                  MAPPING_IGNORED, "event pull_request is not handled");
    expect_github(PUSH2015, "push", MAPPING_FANOUT, NULL);
    expect_github(PUSH2014, "push", MAPPING_IGNORED, "other branch");
    expect_github(NEWBRANCH, "push", MAPPING_IGNORED, "other repository");
    expect_github(TAGDEL, "push", MAPPING_IGNORED, "other repository");
}

Test(mapping, github_fixtures_for_hello_world, .fini = unload)
{
    setenv("WORKER_REPO", "Codertocat/Hello-World", 1);
    setenv("WORKER_BRANCH", "master", 1);
    load();
    /* A new branch cannot tell what changed: the paths filter lets it through. */
    expect_github(NEWBRANCH, "push", MAPPING_FANOUT, NULL);
    expect_github(TAGDEL, "push", MAPPING_IGNORED, "tag");
    expect_github(TAGINST, "push", MAPPING_IGNORED, "tag");
    expect_github(TAGNEW, "push", MAPPING_IGNORED, "tag");
    expect_github(PUSH2015, "push", MAPPING_IGNORED, "other repository");
}

Test(mapping, github_push_payload_and_redeploy_fanout, .fini = unload)
{
    setenv("WORKER_REPO", "baxterthehacker/public-repo", 1);
    setenv("WORKER_BRANCH", "changes", 1);
    setenv("WORKER_PATHS_FILTER", "off", 1);
    load();
    cJSON *body = fixture(PUSH2015);
    struct mapping_result res;
    mapping_result_init(&res);
    cr_assert_eq(mapping_github(&rules, "push", body, "42:abc", &res), RH_OK);
    cr_assert_eq(res.outcome, MAPPING_FANOUT);
    cr_assert_str_eq(pstr(res.redeploy, "commit_sha"), "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c");
    cr_assert_str_eq(pstr(res.redeploy, "pusher"), "baxterthehacker");
    cr_assert_str_eq(pstr(res.redeploy, "head_commit_message"), "Update README.md");
    cr_assert_str_eq(pstr(res.redeploy, "repo"), "baxterthehacker/public-repo");
    cr_assert_str_eq(pstr(res.redeploy, "branch"), "changes");
    cr_assert_str_eq(pstr(res.redeploy, "source"), "github");
    cr_assert_str_eq(pstr(res.redeploy, "delivery_id"), "42:abc");

    const char *services[] = {"osp-worker-a", "osp-worker-b"};
    mapping_redeploy_jobs(&res, services, 2);
    cr_assert_eq(res.outcome, MAPPING_JOBS);
    cr_assert_eq(res.njobs, 2);
    for (size_t i = 0; i < 2; i++) {
        cr_assert_str_eq(res.jobs[i].kind, "redeploy");
        cr_assert_str_eq(res.jobs[i].service_name, services[i]);
        cr_assert_str_eq(pstr(res.jobs[i].payload, "service_name"), services[i]);
        cr_assert_str_eq(pstr(res.jobs[i].payload, "commit_sha"),
                         "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c");
    }
    cr_assert_str_eq(res.jobs[1].dedupe_key, "github:42:abc:redeploy:osp-worker-b");
    mapping_result_free(&res);

    mapping_result_init(&res);
    mapping_github(&rules, "push", body, "42:abd", &res);
    mapping_redeploy_jobs(&res, NULL, 0);
    cr_assert_eq(res.outcome, MAPPING_IGNORED);
    cr_assert_str_eq(res.reason, "no active services");
    mapping_result_free(&res);
    cJSON_Delete(body);
}

/* A push to baxterthehacker/public-repo@changes whose one commit touches the given files. */
static cJSON *push_touching(const char *files_json)
{
    cJSON *body = fixture(PUSH2015);
    cJSON *commit = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(body, "commits"), 0);
    cJSON_ReplaceItemInObjectCaseSensitive(commit, "modified", cJSON_Parse(files_json));
    return body;
}

static enum mapping_outcome map_push(cJSON *body)
{
    struct mapping_result res;
    mapping_result_init(&res);
    mapping_github(&rules, "push", body, "1:2", &res);
    enum mapping_outcome out = res.outcome;
    mapping_result_free(&res);
    cJSON_Delete(body);
    return out;
}

Test(mapping, github_paths_filter, .fini = unload)
{
    setenv("WORKER_REPO", "baxterthehacker/public-repo", 1);
    setenv("WORKER_BRANCH", "changes", 1);
    setenv("WORKER_ROOT_DIR", "/workers/", 1);
    load();
    cr_assert_eq(map_push(push_touching("[\"README.md\"]")), MAPPING_IGNORED);
    cr_assert_eq(map_push(push_touching("[\"workers\"]")), MAPPING_FANOUT);
    cr_assert_eq(map_push(push_touching("[\"workers/app/main.py\"]")), MAPPING_FANOUT);
    cr_assert_eq(map_push(push_touching("[\"workersx/main.py\", \"docs/workers/a\"]")),
                 MAPPING_IGNORED);
    /* What the payload cannot vouch for counts as touching. */
    cJSON *b = push_touching("[\"README.md\"]");
    cJSON_ReplaceItemInObjectCaseSensitive(b, "forced", cJSON_CreateTrue());
    cr_assert_eq(map_push(b), MAPPING_FANOUT);
    b = push_touching("[\"README.md\"]");
    cJSON_DeleteItemFromObjectCaseSensitive(
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(b, "commits"), 0), "added");
    cr_assert_eq(map_push(b), MAPPING_FANOUT);
    b = push_touching("[\"README.md\"]");
    cJSON_AddNumberToObject(b, "size", 30);
    cr_assert_eq(map_push(b), MAPPING_FANOUT);
    b = push_touching("[\"README.md\"]");
    cJSON *commits = cJSON_GetObjectItemCaseSensitive(b, "commits");
    for (int i = 1; i < MAPPING_MAX_LISTED_COMMITS; i++)
        cJSON_AddItemToArray(commits, cJSON_Duplicate(cJSON_GetArrayItem(commits, 0), true));
    cr_assert_eq(map_push(b), MAPPING_FANOUT, "a full commit list may be truncated");
    b = push_touching("[\"README.md\"]");
    cJSON_ReplaceItemInObjectCaseSensitive(b, "commits", cJSON_CreateArray());
    cr_assert_eq(map_push(b), MAPPING_FANOUT);
}

Test(mapping, github_push_validation, .fini = unload)
{
    setenv("WORKER_REPO", "baxterthehacker/public-repo", 1);
    setenv("WORKER_BRANCH", "changes", 1);
    setenv("WORKER_PATHS_FILTER", "off", 1);
    load();
    cJSON *b = fixture(PUSH2015);
    cJSON_ReplaceItemInObjectCaseSensitive(b, "after", cJSON_CreateString("not-a-sha"));
    struct mapping_result res;
    mapping_result_init(&res);
    cr_assert_eq(mapping_github(&rules, "push", b, "x", &res), RH_INVALID);
    cr_assert_str_eq(res.field, "after");
    mapping_result_free(&res);
    cJSON_Delete(b);

    b = fixture(PUSH2015);
    cJSON_DeleteItemFromObjectCaseSensitive(b, "ref");
    mapping_result_init(&res);
    cr_assert_eq(mapping_github(&rules, "push", b, "x", &res), RH_INVALID);
    cr_assert_str_eq(res.field, "ref");
    mapping_result_free(&res);
    cJSON_Delete(b);

    b = fixture(PUSH2015);
    cJSON_ReplaceItemInObjectCaseSensitive(b, "deleted", cJSON_CreateTrue());
    mapping_result_init(&res);
    mapping_github(&rules, "push", b, "x", &res);
    cr_assert_eq(res.outcome, MAPPING_IGNORED);
    cr_assert_str_eq(res.reason, "branch deleted");
    mapping_result_free(&res);
    cJSON_Delete(b);

    /* No head commit (null) gives an empty message; a long one is cut. */
    b = fixture(PUSH2015);
    cJSON_ReplaceItemInObjectCaseSensitive(b, "head_commit", cJSON_CreateNull());
    mapping_result_init(&res);
    mapping_github(&rules, "push", b, "x", &res);
    cr_assert_eq(res.outcome, MAPPING_FANOUT);
    cr_assert_str_eq(pstr(res.redeploy, "head_commit_message"), "");
    mapping_result_free(&res);
    cJSON_Delete(b);
}

Test(mapping, github_without_worker_repo_ignores_pushes, .fini = unload)
{
    load();
    expect_github(PUSH2015, "push", MAPPING_IGNORED, "WORKER_REPO is not set");
}

Test(mapping, utf8_validation)
{
    cr_assert(mapping_utf8_valid("", 0));
    cr_assert(mapping_utf8_valid("plain", 5));
    cr_assert(mapping_utf8_valid("caf\xc3\xa9", 5));
    cr_assert(mapping_utf8_valid("\xf0\x9f\x9a\x80", 4));
    cr_assert_not(mapping_utf8_valid("\xc3", 1));
    cr_assert_not(mapping_utf8_valid("\xc0\xaf", 2));         /* overlong */
    cr_assert_not(mapping_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    cr_assert_not(mapping_utf8_valid("\xf4\x90\x80\x80", 4)); /* past U+10FFFF */
    cr_assert_not(mapping_utf8_valid("\xff", 1));
}
