/* The job-kind table (flows/kinds.c) and what derives from it: openapi.yaml's JobKind enum,
 * the status page's kind filter, the mapper's choice of kind per webhook event. */
#include "flows/flows.h"
#include "handlers/handlers.h"
#include "handlers/mapping.h"
#include "support/harness.h"
#include "util/util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t table_size(void)
{
    size_t n = 0;
    while (flows_kinds[n].name)
        n++;
    return n;
}

/* The names listed by `JobKind: ... enum: [a, b, c]` in openapi.yaml (a new array of
 * strings, caller deletes). */
static cJSON *openapi_job_kinds(void)
{
    char *path = xasprintf("%s/openapi.yaml", RAILHOOK_SOURCE_DIR);
    char *text = th_read_file(path, NULL);
    const char *schema = strstr(text, "\n    JobKind:\n");
    cr_assert_not_null(schema, "openapi.yaml has no components.schemas.JobKind");
    const char *line = strstr(schema, "enum: [");
    const char *end = line ? strchr(line, ']') : NULL;
    cr_assert(line && end, "JobKind has no enum");
    cr_assert_lt(line - schema, 80, "JobKind's enum is not its own");
    cJSON *names = cJSON_CreateArray();
    const char *p = line + strlen("enum: [");
    while (p < end) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ",]");
        while (n > 0 && p[n - 1] == ' ')
            n--;
        char *name = xstrndup(p, n);
        cJSON_AddItemToArray(names, cJSON_CreateString(name));
        free(name);
        p += strcspn(p, ",]");
    }
    free(text);
    free(path);
    return names;
}

Test(kinds, openapi_job_kind_enum_is_the_table)
{
    cJSON *names = openapi_job_kinds();
    cr_assert_eq((size_t)cJSON_GetArraySize(names), table_size(),
                 "openapi.yaml lists %d kinds, the table %zu", cJSON_GetArraySize(names),
                 table_size());
    const cJSON *n;
    cJSON_ArrayForEach(n, names)
    {
        cr_assert_not_null(flows_kind_find(n->valuestring),
                           "openapi.yaml lists %s, which the table lacks", n->valuestring);
    }
    cJSON_Delete(names);
}

Test(kinds, every_kind_is_found_by_name_and_has_a_handler)
{
    cr_assert_gt(table_size(), 0);
    for (const struct flows_kind *k = flows_kinds; k->name; k++) {
        cr_assert_eq(flows_kind_find(k->name), k, "%s", k->name);
        cr_assert_not_null(k->handler, "%s", k->name);
        for (const struct flows_kind *o = flows_kinds; o < k; o++)
            cr_assert(o->trigger == FLOWS_TRIGGER_NONE || o->trigger != k->trigger,
                      "%s and %s share a trigger", o->name, k->name);
    }
    cr_assert_null(flows_kind_find("noop"), "the test-only kind is not in the table");
    cr_assert_null(flows_kind_find("Provision"));
    cr_assert_null(flows_kind_find(""));
    cr_assert_null(flows_kind_find(NULL));
}

Test(kinds, names_list_every_kind_in_table_order)
{
    char *all = flows_kind_names(false);
    char expect[256] = "";
    for (const struct flows_kind *k = flows_kinds; k->name; k++)
        snprintf(expect + strlen(expect), sizeof(expect) - strlen(expect), "%s%s",
                 k == flows_kinds ? "" : ", ", k->name);
    cr_assert_str_eq(all, expect);
    cr_assert_not_null(strstr(all, "provision, update, redeploy, deprovision"));
    char *api = flows_kind_names(true);
    for (const struct flows_kind *k = flows_kinds; k->name; k++)
        cr_assert_eq(strstr(api, k->name) != NULL, k->api_create, "%s", k->name);
    free(api);
    free(all);
}

Test(kinds, status_page_filters_by_the_table_kinds)
{
    struct http_request req;
    struct http_response res;
    memset(&req, 0, sizeof(req));
    http_response_init(&res);
    handle_status_page(NULL, &req, &res);
    cr_assert_eq(res.status, 200);
    const char *select = strstr(res.body.data, "<select id=\"f-kind\">");
    cr_assert_not_null(select);
    const char *end = strstr(select, "</select>");
    cr_assert_not_null(end);
    int options = 0;
    for (const char *p = select; (p = strstr(p, "<option>")) && p < end; p++)
        options++;
    cr_assert_eq((size_t)options, table_size(), "one option per kind");
    for (const struct flows_kind *k = flows_kinds; k->name; k++) {
        char *opt = xasprintf("<option>%s</option>", k->name);
        const char *at = strstr(select, opt);
        cr_assert(at && at < end, "no option for %s", k->name);
        free(opt);
    }
    cr_assert_null(strstr(res.body.data, "<!--job-kinds-->"));
    http_response_free(&res);
}

/* A Supabase database webhook body for cfg's table (a new tree, caller deletes). */
static cJSON *supabase_body(const struct config *cfg, const char *type, const char *record,
                            const char *old_record)
{
    char *text = xasprintf("{\"type\":\"%s\",\"table\":\"%s\",\"schema\":\"%s\","
                           "\"record\":%s,\"old_record\":%s}",
                           type, cfg->supabase_table, cfg->supabase_schema, record, old_record);
    cJSON *j = cJSON_Parse(text);
    cr_assert_not_null(j, "%s", text);
    free(text);
    return j;
}

/* The mapper takes each webhook event's kind from the table it was given. */
Test(kinds, mapper_picks_kinds_by_trigger)
{
    static const struct flows_kind only_delete[] = {
        {"teardown", NULL, true, FLOWS_TRIGGER_SUPABASE_DELETE, FLOWS_INPUT_ROW},
        {NULL, NULL, false, FLOWS_TRIGGER_NONE, FLOWS_INPUT_ROW},
    };
    struct config cfg;
    struct mapping_rules rules;
    struct mapping_result res;
    char err[256];
    setenv("WORKER_REPO", "acme/workers", 1);
    setenv("WORKER_BRANCH", "main", 1);
    cr_assert(config_load(&cfg, CONFIG_NEED_NOTHING, err, sizeof(err)), "%s", err);
    cr_assert_eq(mapping_rules_load(&rules, &cfg, only_delete, err, sizeof(err)), RH_OK, "%s", err);
    const char *row = "{\"id\":\"m-1\",\"service_schema\":\"acme\"}";

    cJSON *j = supabase_body(&cfg, "INSERT", row, "null");
    mapping_result_init(&res);
    cr_assert_eq(mapping_supabase(&rules, j, "d1", &res), RH_OK);
    cr_assert_eq(res.outcome, MAPPING_IGNORED, "no kind is triggered by an insert here");
    mapping_result_free(&res);
    cJSON_Delete(j);

    j = supabase_body(&cfg, "DELETE", "null", row);
    mapping_result_init(&res);
    cr_assert_eq(mapping_supabase(&rules, j, "d2", &res), RH_OK, "%s", res.message);
    cr_assert_eq(res.outcome, MAPPING_JOBS);
    cr_assert_eq(res.njobs, 1);
    cr_assert_str_eq(res.jobs[0].kind, "teardown");
    cr_assert_str_eq(res.jobs[0].dedupe_key, "supabase:d2:teardown");
    mapping_result_free(&res);
    cJSON_Delete(j);

    j = cJSON_Parse("{\"ref\":\"refs/heads/main\",\"repository\":{\"full_name\":\"acme/workers\"},"
                    "\"after\":\"0123456789abcdef0123456789abcdef01234567\"}");
    mapping_result_init(&res);
    cr_assert_eq(mapping_github(&rules, "push", j, "g1", &res), RH_OK);
    cr_assert_eq(res.outcome, MAPPING_IGNORED, "no kind is triggered by a push here");
    mapping_result_free(&res);
    cJSON_Delete(j);

    mapping_rules_free(&rules);
    config_free(&cfg);
}
