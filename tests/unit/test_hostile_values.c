/* Manifest values stay data: Railway references ("${{...}}") in any column the service name or
 * the variable templates read, row ids that are not a UUID, an integer or a MANIFEST_ID_PATTERN
 * match, old_record checked like record, and JSON documents that hold a key twice. */
#include "flows/flows.h"
#include "handlers/mapping.h"
#include "handlers/webhook.h"
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

/* The service name reads {region} too, so region is a templated column. */
static void load_region(void)
{
    setenv("SERVICE_NAME_TEMPLATE", "osp-{service_schema}-{region}", 1);
    load();
}

/* Maps a Supabase body of type with rows (JSON text of "record" and "old_record", NULL for
 * none) and checks the outcome; for MAPPING_INVALID, field is the field the 422 must name. */
static void expect(const char *type, const char *record, const char *old_record,
                   enum mapping_outcome outcome, const char *field)
{
    char *json = xasprintf("{\"type\":\"%s\",\"table\":\"manifests\",\"schema\":\"public\","
                           "\"record\":%s,\"old_record\":%s}",
                           type, record ? record : "null", old_record ? old_record : "null");
    cJSON *body = cJSON_Parse(json);
    cr_assert_not_null(body, "%s", json);
    struct mapping_result res;
    mapping_result_init(&res);
    enum rh_status st = mapping_supabase(&rules, body, "d-1", &res);
    cr_assert_eq(res.outcome, outcome, "%s gave outcome %d (%s %s)", json, res.outcome, res.field,
                 res.message);
    cr_assert_eq(st, outcome == MAPPING_INVALID ? RH_INVALID : RH_OK);
    if (field)
        cr_assert_str_eq(res.field, field, "%s: %s", json, res.message);
    mapping_result_free(&res);
    cJSON_Delete(body);
    free(json);
}

#define ROW(id, schema, extra) "{\"id\":" id ",\"service_schema\":\"" schema "\"" extra "}"

Test(hostile_values, references_in_templated_columns_are_refused, .init = load_region,
     .fini = unload)
{
    expect("INSERT", ROW("7", "billing", ",\"region\":\"eu\""), NULL, MAPPING_JOBS, NULL);
    expect("INSERT", ROW("7", "billing", ",\"region\":\"${{Postgres.DATABASE_URL}}\""), NULL,
           MAPPING_INVALID, "record.region");
    /* Inside a structured value, or in one of its keys. */
    expect("INSERT", ROW("7", "billing", ",\"region\":{\"a\":[\"x${{shared.KEY}}\"]}"), NULL,
           MAPPING_INVALID, "record.region");
    expect("INSERT", ROW("7", "billing", ",\"region\":{\"${{Redis.URL}}\":1}"), NULL,
           MAPPING_INVALID, "record.region");
    expect("INSERT", ROW("7", "${{Postgres.PGPASSWORD}}", ",\"region\":\"eu\""), NULL,
           MAPPING_INVALID, "record.service_schema");
    expect("INSERT", ROW("\"${{Postgres.DATABASE_URL}}\"", "billing", ",\"region\":\"eu\""), NULL,
           MAPPING_INVALID, "record.id");
    /* A column no template reads is data nobody renders: it may hold anything. */
    expect("INSERT", ROW("7", "billing", ",\"region\":\"eu\",\"notes\":\"${{x.y}}\""), NULL,
           MAPPING_JOBS, NULL);
    /* "${" alone or "{{" alone is no reference. */
    expect("INSERT", ROW("7", "billing", ",\"region\":\"${HOME}{{x}}\""), NULL, MAPPING_JOBS, NULL);
}

Test(hostile_values, the_variable_templates_columns_are_guarded_too, .fini = unload)
{
    char path[] = "/tmp/railhook-hostile-vars-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    static const char vars[] = "{\"DB_SCHEMA\":\"{record.service_schema}\","
                               "\"OWNER\":\"{record.owner_email}\"}";
    cr_assert_eq(write(fd, vars, sizeof(vars) - 1), (ssize_t)(sizeof(vars) - 1));
    close(fd);
    setenv("WORKER_VARIABLES_FILE", path, 1);
    load();
    expect("INSERT", ROW("7", "billing", ",\"owner_email\":\"a@example.com\""), NULL, MAPPING_JOBS,
           NULL);
    expect("INSERT", ROW("7", "billing", ",\"owner_email\":\"${{Postgres.DATABASE_URL}}\""), NULL,
           MAPPING_INVALID, "record.owner_email");
    unlink(path);
}

Test(hostile_values, record_id_is_a_uuid_an_integer_or_a_pattern_match, .init = load,
     .fini = unload)
{
    expect("INSERT", ROW("\"3f1c2b7e-9a4d-4c1e-8f2a-6b5d0e9c7a13\"", "billing", ""), NULL,
           MAPPING_JOBS, NULL);
    expect("INSERT", ROW("42", "billing", ""), NULL, MAPPING_JOBS, NULL);
    expect("INSERT", ROW("\"42\"", "billing", ""), NULL, MAPPING_JOBS, NULL);
    expect("INSERT", ROW("\"m-42\"", "billing", ""), NULL, MAPPING_JOBS, NULL);
    expect("INSERT", ROW("1.5", "billing", ""), NULL, MAPPING_INVALID, "record.id");
    expect("INSERT", ROW("\"a b\"", "billing", ""), NULL, MAPPING_INVALID, "record.id");
    expect("INSERT", ROW("\"-lead\"", "billing", ""), NULL, MAPPING_INVALID, "record.id");
    expect("INSERT", ROW("\"x\\ny\"", "billing", ""), NULL, MAPPING_INVALID, "record.id");
    expect("INSERT", ROW("true", "billing", ""), NULL, MAPPING_INVALID, "record.id");
}

Test(hostile_values, manifest_id_pattern_replaces_the_default_for_strings, .fini = unload)
{
    setenv("MANIFEST_ID_PATTERN", "^m-[0-9]+$", 1);
    load();
    expect("INSERT", ROW("\"m-7\"", "billing", ""), NULL, MAPPING_JOBS, NULL);
    expect("INSERT", ROW("\"x-7\"", "billing", ""), NULL, MAPPING_INVALID, "record.id");
    expect("INSERT", ROW("\"3f1c2b7e-9a4d-4c1e-8f2a-6b5d0e9c7a13\"", "billing", ""), NULL,
           MAPPING_JOBS, NULL);
    expect("INSERT", ROW("7", "billing", ""), NULL, MAPPING_JOBS, NULL);
    /* A lax pattern still never lets a reference through. */
    unload();
    setenv("MANIFEST_ID_PATTERN", ".*", 1);
    load();
    expect("INSERT", ROW("\"${{Postgres.DATABASE_URL}}\"", "billing", ""), NULL, MAPPING_INVALID,
           "record.id");
}

Test(hostile_values, old_record_is_checked_like_record, .init = load, .fini = unload)
{
    expect("UPDATE", ROW("7", "billing", ""), ROW("7", "billing_old", ""), MAPPING_JOBS, NULL);
    expect("UPDATE", ROW("7", "billing", ""), NULL, MAPPING_JOBS, NULL);
    expect("UPDATE", ROW("7", "billing", ""), ROW("7", "${{Postgres.PGPASSWORD}}", ""),
           MAPPING_INVALID, "old_record.service_schema");
    expect("UPDATE", ROW("7", "billing", ""), ROW("\"a b\"", "billing_old", ""), MAPPING_INVALID,
           "old_record.id");
    expect("UPDATE", ROW("7", "billing", ""), "{\"id\":7}", MAPPING_INVALID,
           "old_record.service_schema");
    expect("UPDATE", ROW("7", "billing", ""), "\"billing_old\"", MAPPING_INVALID, "old_record");
    /* DELETE's row is old_record itself. */
    expect("DELETE", NULL, ROW("\"${{Redis.URL}}\"", "billing", ""), MAPPING_INVALID,
           "old_record.id");
}

static const char *dup_path(const char *json)
{
    static char path[64];
    cJSON *j = cJSON_Parse(json);
    cr_assert_not_null(j, "%s", json);
    bool found = webhook_json_duplicate_key(j, path, sizeof(path));
    cJSON_Delete(j);
    return found ? path : NULL;
}

Test(hostile_values, duplicate_keys_are_found_at_any_depth)
{
    cr_assert_null(dup_path("{\"a\":1,\"b\":{\"a\":2},\"c\":[{\"a\":3},{\"a\":4}]}"),
                   "the same key in different objects is no repeat");
    cr_assert_str_eq(dup_path("{\"type\":\"INSERT\",\"type\":\"DELETE\"}"), "type");
    cr_assert_str_eq(dup_path("{\"record\":{\"id\":1,\"service_schema\":\"a\",\"id\":2}}"),
                     "record.id");
    cr_assert_str_eq(dup_path("{\"a\":[1,{\"b\":[{},{\"c\":1,\"c\":2}]}]}"), "a[1].b[1].c");
    /* Escapes are undone before keys are compared, as PostgreSQL does. */
    cr_assert_str_eq(dup_path("{\"id\":1,\"\\u0069d\":2}"), "id");
    cr_assert_null(dup_path("{\"id\":1,\"ID\":2,\"id \":3}"));
    cr_assert_null(dup_path("[1,2,3]"));
    cr_assert_null(dup_path("\"x\""));
}

Test(hostile_values, duplicate_key_search_handles_wide_objects_and_long_paths)
{
    struct buf b;
    buf_init(&b, 0);
    buf_puts(&b, "{\"wide\":{");
    for (int i = 0; i < 20000; i++)
        buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
    buf_puts(&b, "}}");
    cr_assert_null(dup_path(b.data));
    b.len -= 2;
    buf_puts(&b, ",\"k12345\":0}}");
    cr_assert_str_eq(dup_path(b.data), "wide.k12345");
    buf_free(&b);

    /* The path is cut to the caller's buffer, never past it. */
    char path[8];
    cJSON *j = cJSON_Parse("{\"a-long-key\":{\"another-long-key\":{\"x\":1,\"x\":2}}}");
    cr_assert(webhook_json_duplicate_key(j, path, sizeof(path)));
    cr_assert_str_eq(path, "a-long-");
    cJSON_Delete(j);
}

Test(hostile_values, duplicate_keys_are_found_on_both_sides_of_the_pairwise_width)
{
    /* Objects of up to 16 keys are compared pairwise, wider ones sorted: a repeat is found,
     * and a clean object passes, at 15, 16, 17 and 40 keys, with the repeat first or last. */
    int widths[] = {15, 16, 17, 40};
    for (size_t w = 0; w < sizeof(widths) / sizeof(widths[0]); w++) {
        struct buf b;
        buf_init(&b, 0);
        buf_puts(&b, "{\"list\":[0,{");
        for (int i = 0; i < widths[w]; i++)
            buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
        buf_puts(&b, "}]}");
        cr_assert_null(dup_path(b.data), "%d keys", widths[w]);
        b.len -= 3;
        buf_puts(&b, ",\"k0\":0}]}");
        cr_assert_str_eq(dup_path(b.data), "list[1].k0", "%d keys", widths[w]);
        b.len -= 10;
        buf_printf(&b, ",\"k%d\":0}]}", widths[w] - 1);
        char want[32];
        snprintf(want, sizeof(want), "list[1].k%d", widths[w] - 1);
        cr_assert_str_eq(dup_path(b.data), want, "%d keys", widths[w]);
        buf_free(&b);
    }
}

Test(hostile_values, a_payload_nested_as_deep_as_cjson_allows_is_searched_whole)
{
    struct buf b;
    buf_init(&b, 0);
    int depth = CJSON_NESTING_LIMIT - 1;
    for (int i = 0; i < depth; i++)
        buf_puts(&b, "{\"a\":");
    buf_puts(&b, "{\"x\":1,\"x\":2}");
    for (int i = 0; i < depth; i++)
        buf_puts(&b, "}");
    cJSON *j = cJSON_Parse(b.data);
    cr_assert_not_null(j);
    char path[4096];
    cr_assert(webhook_json_duplicate_key(j, path, sizeof(path)));
    cr_assert_eq(strlen(path), (size_t)depth * 2 - 1 + 2, "%zu", strlen(path));
    cr_assert_str_eq(path + strlen(path) - 3, "a.x");
    cJSON_Delete(j);
    buf_free(&b);
}
