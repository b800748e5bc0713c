/* Payload-to-job mapping: every Supabase and GitHub delivery the tests build (and the real ones
 * beside the checkout, when present), the UPDATE relevance rule, the paths filter, service
 * names, template columns and the derived Supabase delivery id. */
#include "handlers/mapping.h"
#include "support/deliveries.h"
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

static cJSON *parse(char *text, size_t len)
{
    cJSON *j = cJSON_ParseWithLength(text, len);
    cr_assert_not_null(j, "a built delivery is not JSON: %s", text);
    free(text);
    return j;
}

static cJSON *supabase(enum td_supabase_case c)
{
    size_t len = 0;
    char *text = td_supabase(c, &len);
    return parse(text, len);
}

static cJSON *github(enum td_github_case c)
{
    size_t len = 0;
    char *text = td_github(c, &len);
    return parse(text, len);
}

/* The real Supabase bodies beside the checkout, as extra cases. */
#define SB_INSERT  "supabase/manifests.insert.body.json"
#define SB_UPDATE  "supabase/manifests.update.body.json"
#define SB_DELETE  "supabase/manifests.delete.body.json"
#define SB_ESCAPES "supabase/manifests.insert-null-and-escapes.body.json"

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

static const char *row_str(const cJSON *body, const char *row, const char *key)
{
    return pstr(cJSON_GetObjectItemCaseSensitive(body, row), key);
}

/* An INSERT is one provision job for the service its record names. */
static void expect_provision(cJSON *body, const char *name)
{
    struct mapping_result res;
    mapping_result_init(&res);
    cr_assert_eq(mapping_supabase(&rules, body, "d1", &res), RH_OK, "%s", name);
    cr_assert_eq(res.outcome, MAPPING_JOBS, "%s", name);
    cr_assert_eq(res.njobs, 1, "%s", name);
    const struct mapping_job *j = &res.jobs[0];
    char *service = xasprintf("osp-worker-%s", row_str(body, "record", "service_schema"));
    cr_assert_str_eq(j->kind, "provision");
    cr_assert_str_eq(j->service_name, service, "%s", name);
    cr_assert_str_eq(j->dedupe_key, "supabase:d1:provision");
    cr_assert_str_eq(pstr(j->payload, "manifest_id"), row_str(body, "record", "id"));
    cr_assert_str_eq(pstr(j->payload, "service_schema"), row_str(body, "record", "service_schema"));
    cr_assert_str_eq(pstr(j->payload, "source"), "supabase");
    cr_assert_str_eq(pstr(j->payload, "delivery_id"), "d1");
    cr_assert(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(j->payload, "record"),
                            cJSON_GetObjectItemCaseSensitive(body, "record"), true));
    cr_assert_null(cJSON_GetObjectItemCaseSensitive(j->payload, "old_record"));
    mapping_result_free(&res);
    mapping_result_free(&res);
    free(service);
    cJSON_Delete(body);
}

Test(mapping, supabase_insert_is_a_provision_job, .fini = unload)
{
    load();
    cJSON *body = supabase(TD_SUPABASE_INSERT);
    cr_assert_str_eq(row_str(body, "record", "id"), TD_MANIFEST_ID);
    cr_assert_str_eq(row_str(body, "record", "service_schema"), TD_SCHEMA);
    expect_provision(body, "built insert");
    body = th_fixture_json(SB_INSERT);
    if (body)
        expect_provision(body, SB_INSERT);
}

/* An UPDATE that changes only status (no template reads it) is ignored. */
static void expect_irrelevant_update(cJSON *body, const char *name)
{
    struct mapping_result res;
    mapping_result_init(&res);
    cr_assert_eq(mapping_supabase(&rules, body, "d2", &res), RH_OK, "%s", name);
    cr_assert_eq(res.outcome, MAPPING_IGNORED, "%s", name);
    cr_assert_str_eq(res.reason, "no relevant change");
    cr_assert_eq(res.njobs, 0);
    mapping_result_free(&res);
    cJSON_Delete(body);
}

Test(mapping, supabase_update_changes_nothing_relevant, .fini = unload)
{
    load();
    expect_irrelevant_update(supabase(TD_SUPABASE_UPDATE), "built update");
    cJSON *body = th_fixture_json(SB_UPDATE);
    if (body)
        expect_irrelevant_update(body, SB_UPDATE);
}

/* The same UPDATE is an update job once a worker variable reads status. */
static void expect_update_job(cJSON *body, const char *name)
{
    struct mapping_result res;
    mapping_result_init(&res);
    cr_assert_eq(mapping_supabase(&rules, body, "d3", &res), RH_OK, "%s", name);
    cr_assert_eq(res.outcome, MAPPING_JOBS, "%s", name);
    cr_assert_str_eq(res.jobs[0].kind, "update");
    char *service = xasprintf("osp-worker-%s", row_str(body, "record", "service_schema"));
    cr_assert_str_eq(res.jobs[0].service_name, service);
    const cJSON *p = res.jobs[0].payload;
    cr_assert_str_eq(pstr(cJSON_GetObjectItemCaseSensitive(p, "old_record"), "status"), "pending");
    cr_assert_null(cJSON_GetObjectItemCaseSensitive(p, "old_service_name"),
                   "same schema: no rename");
    mapping_result_free(&res);
    free(service);
    cJSON_Delete(body);
}

Test(mapping, supabase_update_of_a_templated_column_is_an_update_job, .fini = unload)
{
    char *path = write_tmp("{\"STATUS\":\"{record.status}\"}");
    setenv("WORKER_VARIABLES_FILE", path, 1);
    load();
    expect_update_job(supabase(TD_SUPABASE_UPDATE), "built update");
    cJSON *body = th_fixture_json(SB_UPDATE);
    if (body)
        expect_update_job(body, SB_UPDATE);
    unlink(path);
    free(path);
}

/* An UPDATE that renames service_schema names the old service; without old_record it counts
 * as relevant. */
static void expect_rename(cJSON *body, const char *name)
{
    char *old_service = xasprintf("osp-worker-%s", row_str(body, "old_record", "service_schema"));
    cJSON *rec = cJSON_GetObjectItemCaseSensitive(body, "record");
    cJSON_ReplaceItemInObjectCaseSensitive(rec, "service_schema", cJSON_CreateString("renamed_v9"));
    struct mapping_result res;
    mapping_result_init(&res);
    cr_assert_eq(mapping_supabase(&rules, body, "d4", &res), RH_OK, "%s", name);
    cr_assert_eq(res.outcome, MAPPING_JOBS, "%s", name);
    cr_assert_str_eq(res.jobs[0].kind, "update");
    cr_assert_str_eq(res.jobs[0].service_name, "osp-worker-renamed_v9");
    cr_assert_str_eq(pstr(res.jobs[0].payload, "old_service_name"), old_service);
    mapping_result_free(&res);

    cJSON_ReplaceItemInObjectCaseSensitive(body, "old_record", cJSON_CreateNull());
    mapping_result_init(&res);
    cr_assert_eq(mapping_supabase(&rules, body, "d5", &res), RH_OK);
    cr_assert_eq(res.outcome, MAPPING_JOBS);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(res.jobs[0].payload, "old_record")));
    mapping_result_free(&res);
    free(old_service);
    cJSON_Delete(body);
}

Test(mapping, supabase_update_of_service_schema_names_the_old_service, .fini = unload)
{
    load();
    expect_rename(supabase(TD_SUPABASE_UPDATE), "built update");
    cJSON *body = th_fixture_json(SB_UPDATE);
    if (body)
        expect_rename(body, SB_UPDATE);
}

/* A DELETE is a deprovision of the service its old_record names. */
static void expect_deprovision(cJSON *body, const char *name)
{
    struct mapping_result res;
    mapping_result_init(&res);
    cr_assert_eq(mapping_supabase(&rules, body, "d6", &res), RH_OK, "%s", name);
    cr_assert_eq(res.outcome, MAPPING_JOBS, "%s", name);
    cr_assert_str_eq(res.jobs[0].kind, "deprovision");
    char *service = xasprintf("osp-worker-%s", row_str(body, "old_record", "service_schema"));
    cr_assert_str_eq(res.jobs[0].service_name, service);
    cr_assert_str_eq(pstr(res.jobs[0].payload, "manifest_id"), row_str(body, "old_record", "id"));
    mapping_result_free(&res);
    free(service);
    cJSON_Delete(body);
}

Test(mapping, supabase_delete_is_a_deprovision_from_old_record, .fini = unload)
{
    load();
    expect_deprovision(supabase(TD_SUPABASE_DELETE), "built delete");
    cJSON *body = th_fixture_json(SB_DELETE);
    if (body)
        expect_deprovision(body, SB_DELETE);
}

/* A service_schema with a quote, a backslash and non-ASCII fails the schema pattern. */
static void expect_bad_schema(cJSON *body, const char *name)
{
    cr_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(
                  cJSON_GetObjectItemCaseSensitive(body, "record"), "spec")),
              "%s keeps its NULL column", name);
    struct mapping_result res;
    mapping_result_init(&res);
    cr_assert_eq(mapping_supabase(&rules, body, "d7", &res), RH_INVALID, "%s", name);
    cr_assert_eq(res.outcome, MAPPING_INVALID);
    cr_assert_str_eq(res.field, "record.service_schema");
    cr_assert_eq(res.njobs, 0);
    mapping_result_free(&res);
    cJSON_Delete(body);
}

Test(mapping, supabase_escapes_fail_the_schema_pattern, .fini = unload)
{
    load();
    expect_bad_schema(supabase(TD_SUPABASE_ESCAPES), "built escapes");
    cJSON *body = th_fixture_json(SB_ESCAPES);
    if (body)
        expect_bad_schema(body, SB_ESCAPES);
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

static void expect_github(cJSON *body, const char *event, const char *name,
                          enum mapping_outcome outcome, const char *reason)
{
    struct mapping_result res;
    mapping_result_init(&res);
    mapping_github(&rules, event, body, "h:d", &res);
    cr_assert_eq(res.outcome, outcome, "%s: outcome %d (%s%s)", name, res.outcome, res.reason,
                 res.field);
    if (reason)
        cr_assert_str_eq(res.reason, reason, "%s", name);
    mapping_result_free(&res);
    cJSON_Delete(body);
}

/* What each built delivery comes to for TD_REPO@TD_BRANCH (NULL reason: a fan-out). */
static const char *const built_reasons[TD_GITHUB_CASES] = {
    [TD_GITHUB_PUSH] = NULL,
    [TD_GITHUB_PUSH_NEW_BRANCH] = NULL, /* cannot tell what changed: the paths filter passes */
    [TD_GITHUB_PUSH_OTHER_BRANCH] = "other branch",
    [TD_GITHUB_PUSH_OTHER_REPO] = "other repository",
    [TD_GITHUB_PUSH_DELETED] = "branch deleted",
    [TD_GITHUB_PUSH_TAG_CREATED] = "tag",
    [TD_GITHUB_PUSH_TAG_DELETED] = "tag",
    [TD_GITHUB_PING] = "ping",
    [TD_GITHUB_PULL_REQUEST] = "event pull_request is not handled",
};

/* The real GitHub files beside the checkout, with what they come to for the two repositories
 * they were sent from. */
struct shared_github {
    const char *file;
    const char *event;
    const char *public_repo; /* baxterthehacker/public-repo@changes; NULL: a fan-out */
    const char *hello_world; /* Codertocat/Hello-World@master */
};

static const struct shared_github shared_github[] = {
    {"ping/octokit-api.github.com-ping", "ping", "ping", "ping"},
    {"ping/octokit-api.github.com-ping-with-app_id", "ping", "ping", "ping"},
    {"pull_request/octokit-api.github.com-pull_request-opened", "pull_request",
     "event pull_request is not handled", "event pull_request is not handled"},
    {"push/developer.github.com-push-branch-update-2015", "push", NULL, "other repository"},
    {"push/developer.github.com-push-branch-update-2014", "push", "other branch",
     "other repository"},
    {"push/octokit-api.github.com-push-with-new-branch", "push", "other repository", NULL},
    {"push/octokit-api.github.com-push-tag-deleted", "push", "other repository", "tag"},
    {"push/octokit-api.github.com-push-with-installation", "push", "other repository", "tag"},
    {"push/octokit-ghes-35-push-tag-created", "push", "other repository", "tag"},
};

static void expect_shared_github(bool hello_world)
{
    for (size_t i = 0; i < sizeof(shared_github) / sizeof(shared_github[0]); i++) {
        const struct shared_github *g = &shared_github[i];
        char rel[160];
        snprintf(rel, sizeof(rel), "github/%s.payload.json", g->file);
        cJSON *body = th_fixture_json(rel);
        if (!body)
            continue;
        const char *reason = hello_world ? g->hello_world : g->public_repo;
        expect_github(body, g->event, rel, reason ? MAPPING_IGNORED : MAPPING_FANOUT, reason);
    }
}

Test(mapping, github_every_delivery, .fini = unload)
{
    setenv("WORKER_REPO", "ACME-Labs/OSP-Workers", 1); /* case-insensitive */
    setenv("WORKER_BRANCH", TD_BRANCH, 1);
    setenv("WORKER_ROOT_DIR", "/", 1);
    load();
    for (int c = 0; c < TD_GITHUB_CASES; c++) {
        const char *reason = built_reasons[c];
        expect_github(github((enum td_github_case)c), td_github_event((enum td_github_case)c),
                      td_github_name((enum td_github_case)c),
                      reason ? MAPPING_IGNORED : MAPPING_FANOUT, reason);
    }
    unload();

    setenv("WORKER_REPO", "BaxterTheHacker/Public-Repo", 1);
    setenv("WORKER_BRANCH", "changes", 1);
    load();
    expect_shared_github(false);
    unload();
    setenv("WORKER_REPO", "Codertocat/Hello-World", 1);
    setenv("WORKER_BRANCH", "master", 1);
    load();
    expect_shared_github(true);
}

static void env_repo(void)
{
    setenv("WORKER_REPO", TD_REPO, 1);
    setenv("WORKER_BRANCH", TD_BRANCH, 1);
}

Test(mapping, github_push_payload_and_redeploy_fanout, .fini = unload)
{
    env_repo();
    setenv("WORKER_PATHS_FILTER", "off", 1);
    load();
    cJSON *body = github(TD_GITHUB_PUSH);
    struct mapping_result res;
    mapping_result_init(&res);
    cr_assert_eq(mapping_github(&rules, "push", body, "42:abc", &res), RH_OK);
    cr_assert_eq(res.outcome, MAPPING_FANOUT);
    cr_assert_str_eq(pstr(res.redeploy, "commit_sha"), TD_SHA_AFTER);
    cr_assert_str_eq(pstr(res.redeploy, "pusher"), TD_PUSHER);
    cr_assert_str_eq(pstr(res.redeploy, "head_commit_message"), TD_COMMIT_MESSAGE);
    cr_assert_str_eq(pstr(res.redeploy, "repo"), TD_REPO);
    cr_assert_str_eq(pstr(res.redeploy, "branch"), TD_BRANCH);
    cr_assert_str_eq(pstr(res.redeploy, "source"), "github");
    cr_assert_str_eq(pstr(res.redeploy, "delivery_id"), "42:abc");

    const char *services[] = {"osp-worker-a", "osp-worker-b"};
    const char *manifests[] = {"m-a", NULL};
    mapping_redeploy_jobs(&res, services, manifests, 2, 1000);
    cr_assert_eq(res.outcome, MAPPING_JOBS);
    cr_assert_eq(res.njobs, 2);
    for (size_t i = 0; i < 2; i++) {
        cr_assert_str_eq(res.jobs[i].kind, "redeploy");
        cr_assert_str_eq(res.jobs[i].service_name, services[i]);
        cr_assert_str_eq(pstr(res.jobs[i].payload, "service_name"), services[i]);
        cr_assert_str_eq(pstr(res.jobs[i].payload, "commit_sha"), TD_SHA_AFTER);
    }
    /* Each job carries its service's manifest, so it runs in order with that manifest's jobs. */
    cr_assert_str_eq(pstr(res.jobs[0].payload, "manifest_id"), "m-a");
    cr_assert_null(cJSON_GetObjectItem(res.jobs[1].payload, "manifest_id"));
    cr_assert_str_eq(res.jobs[1].dedupe_key, "github:42:abc:redeploy:osp-worker-b");
    cr_assert_str_eq(res.jobs[1].active_key, "redeploy:osp-worker-b:" TD_SHA_AFTER);
    mapping_result_free(&res);

    /* A fan-out over MAX_JOBS_PER_DELIVERY queues nothing and says why. */
    mapping_result_init(&res);
    mapping_github(&rules, "push", body, "42:abe", &res);
    mapping_redeploy_jobs(&res, services, NULL, 2, 1);
    cr_assert_eq(res.outcome, MAPPING_IGNORED);
    cr_assert_eq(res.njobs, 0);
    cr_assert_not_null(strstr(res.reason, "MAX_JOBS_PER_DELIVERY"), "%s", res.reason);
    mapping_result_free(&res);

    mapping_result_init(&res);
    mapping_github(&rules, "push", body, "42:abd", &res);
    mapping_redeploy_jobs(&res, NULL, NULL, 0, 1000);
    cr_assert_eq(res.outcome, MAPPING_IGNORED);
    cr_assert_str_eq(res.reason, "no active services");
    mapping_result_free(&res);
    cJSON_Delete(body);
}

/* A push to TD_REPO@TD_BRANCH whose one commit modifies the given files. */
static cJSON *push_touching(const char *const *files)
{
    struct td_push p = {TD_REPO, "refs/heads/" TD_BRANCH, TD_SHA_BEFORE, TD_SHA_AFTER, files,
                        false};
    size_t len = 0;
    char *text = td_github_push(&p, &len);
    return parse(text, len);
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
    static const char *const readme[] = {"README.md", NULL};
    static const char *const root[] = {"workers", NULL};
    static const char *const inside[] = {"workers/app/main.py", NULL};
    static const char *const beside[] = {"workersx/main.py", "docs/workers/a", NULL};
    env_repo();
    setenv("WORKER_ROOT_DIR", "/workers/", 1);
    load();
    cr_assert_eq(map_push(push_touching(readme)), MAPPING_IGNORED);
    cr_assert_eq(map_push(push_touching(root)), MAPPING_FANOUT);
    cr_assert_eq(map_push(push_touching(inside)), MAPPING_FANOUT);
    cr_assert_eq(map_push(push_touching(beside)), MAPPING_IGNORED);
    /* What the payload cannot vouch for counts as touching. */
    cJSON *b = push_touching(readme);
    cJSON_ReplaceItemInObjectCaseSensitive(b, "forced", cJSON_CreateTrue());
    cr_assert_eq(map_push(b), MAPPING_FANOUT);
    b = push_touching(readme);
    cJSON_DeleteItemFromObjectCaseSensitive(
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(b, "commits"), 0), "added");
    cr_assert_eq(map_push(b), MAPPING_FANOUT);
    b = push_touching(readme);
    cJSON_AddNumberToObject(b, "size", 30);
    cr_assert_eq(map_push(b), MAPPING_FANOUT);
    b = push_touching(readme);
    cJSON *commits = cJSON_GetObjectItemCaseSensitive(b, "commits");
    for (int i = 1; i < MAPPING_MAX_LISTED_COMMITS; i++)
        cJSON_AddItemToArray(commits, cJSON_Duplicate(cJSON_GetArrayItem(commits, 0), true));
    cr_assert_eq(map_push(b), MAPPING_FANOUT, "a full commit list may be truncated");
    b = push_touching(NULL);
    cr_assert_eq(map_push(b), MAPPING_FANOUT, "no commit listed");
}

Test(mapping, github_push_validation, .fini = unload)
{
    env_repo();
    setenv("WORKER_PATHS_FILTER", "off", 1);
    load();
    cJSON *b = github(TD_GITHUB_PUSH);
    cJSON_ReplaceItemInObjectCaseSensitive(b, "after", cJSON_CreateString("not-a-sha"));
    struct mapping_result res;
    mapping_result_init(&res);
    cr_assert_eq(mapping_github(&rules, "push", b, "x", &res), RH_INVALID);
    cr_assert_str_eq(res.field, "after");
    mapping_result_free(&res);
    cJSON_Delete(b);

    b = github(TD_GITHUB_PUSH);
    cJSON_DeleteItemFromObjectCaseSensitive(b, "ref");
    mapping_result_init(&res);
    cr_assert_eq(mapping_github(&rules, "push", b, "x", &res), RH_INVALID);
    cr_assert_str_eq(res.field, "ref");
    mapping_result_free(&res);
    cJSON_Delete(b);

    b = github(TD_GITHUB_PUSH);
    cJSON_ReplaceItemInObjectCaseSensitive(b, "deleted", cJSON_CreateTrue());
    mapping_result_init(&res);
    mapping_github(&rules, "push", b, "x", &res);
    cr_assert_eq(res.outcome, MAPPING_IGNORED);
    cr_assert_str_eq(res.reason, "branch deleted");
    mapping_result_free(&res);
    cJSON_Delete(b);

    /* No head commit (null) gives an empty message. */
    b = github(TD_GITHUB_PUSH);
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
    expect_github(github(TD_GITHUB_PUSH), "push", "built push", MAPPING_IGNORED,
                  "WORKER_REPO is not set");
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

Test(mapping, utf8_validation_is_the_same_at_every_offset_in_ascii_runs)
{
    /* ASCII is skipped eight bytes at a time: a sequence, good or bad, is judged alike at
     * every position around that stride, and a cut sequence at the end is refused. */
    const char *good[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x9a\x80"};
    const char *bad[] = {"\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff", "\x80"};
    char text[64];
    for (size_t at = 0; at < 20; at++) {
        for (size_t g = 0; g < sizeof(good) / sizeof(good[0]); g++) {
            size_t n = strlen(good[g]);
            memset(text, 'a', sizeof(text));
            memcpy(text + at, good[g], n);
            cr_assert(mapping_utf8_valid(text, 40), "good %zu at %zu", g, at);
            cr_assert_not(mapping_utf8_valid(text, at + n - 1), "cut %zu at %zu", g, at);
        }
        for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
            memset(text, 'a', sizeof(text));
            memcpy(text + at, bad[b], strlen(bad[b]));
            cr_assert_not(mapping_utf8_valid(text, 40), "bad %zu at %zu", b, at);
        }
    }
}
