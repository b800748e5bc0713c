/* The deliveries the tests build (support/deliveries.c) have their senders' shape: Supabase
 * bodies in PostgreSQL's jsonb text form, GitHub pushes whose flags follow their shas, and the
 * headers each sender adds. The real files beside the checkout, when present, are held to the
 * same rules: re-printing a real Supabase body gives back its exact bytes. */
#include "support/deliveries.h"
#include "support/harness.h"
#include "util/util.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parsing a jsonb body and printing it again as jsonb text gives back the same bytes. */
static void expect_jsonb_round_trip(const char *body, size_t len, const char *name)
{
    cJSON *j = cJSON_ParseWithLength(body, len);
    cr_assert_not_null(j, "%s is not JSON", name);
    size_t n = 0;
    char *again = td_jsonb_text(j, &n);
    cr_assert_eq(n, len, "%s: %zu bytes printed, %zu sent", name, n, len);
    cr_assert_eq(memcmp(again, body, len), 0, "%s:\n%s\n%.*s", name, again, (int)len, body);
    free(again);
    cJSON_Delete(j);
}

Test(deliveries, supabase_bodies_are_jsonb_text)
{
    size_t len = 0;
    char *body = td_supabase(TD_SUPABASE_INSERT, &len);
    /* jsonb order: shorter keys first, then bytewise; ", " and ": " between; one line. */
    const char *head =
        "{\"type\": \"INSERT\", \"table\": \"manifests\", \"record\": {\"id\": \"" TD_MANIFEST_ID
        "\", \"spec\": {\"env\": {\"LOG_LEVEL\": \"debug\"}, \"image\": ";
    cr_assert_eq(strncmp(body, head, strlen(head)), 0, "%s", body);
    const char *tail = "\"service_schema\": \"" TD_SCHEMA "\"}, \"schema\": \"public\", "
                       "\"old_record\": null}";
    cr_assert_str_eq(body + len - strlen(tail), tail);
    cr_assert_null(memchr(body, '\n', len));
    free(body);

    body = td_supabase(TD_SUPABASE_ESCAPES, &len);
    cr_assert_not_null(strstr(body, "\"spec\": null"), "%s", body);
    cr_assert_not_null(strstr(body, "\"r\xc3\xa9sum\xc3\xa9_\\\"q\\\"\\\\dir\""),
                       "raw UTF-8, escaped quote and backslash: %s", body);
    free(body);

    body = td_supabase(TD_SUPABASE_DELETE, &len);
    cr_assert_eq(
        strncmp(body, "{\"type\": \"DELETE\", \"table\": \"manifests\", \"record\": null, ", 56), 0,
        "%s", body);
    free(body);

    for (int c = 0; c < TD_SUPABASE_CASES; c++) {
        body = td_supabase((enum td_supabase_case)c, &len);
        expect_jsonb_round_trip(body, len, td_supabase_name((enum td_supabase_case)c));
        free(body);
    }

    /* The real bodies, written by PostgreSQL itself, print back byte for byte. */
    static const char *const files[] = {"supabase/manifests.insert.body.json",
                                        "supabase/manifests.update.body.json",
                                        "supabase/manifests.delete.body.json",
                                        "supabase/manifests.insert-null-and-escapes.body.json"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        body = th_fixture_read(files[i], &len);
        if (body)
            expect_jsonb_round_trip(body, len, files[i]);
        free(body);
    }
}

/* A push's created, deleted and head_commit follow its shas; commits hold at most the head. */
static void expect_push_shape(const char *body, size_t len, const char *name)
{
    cJSON *j = cJSON_ParseWithLength(body, len);
    cr_assert_not_null(j, "%s is not JSON", name);
    const char *before = cJSON_GetObjectItemCaseSensitive(j, "before")->valuestring;
    const char *after = cJSON_GetObjectItemCaseSensitive(j, "after")->valuestring;
    bool created = strcmp(before, TD_SHA_ZERO) == 0;
    bool deleted = strcmp(after, TD_SHA_ZERO) == 0;
    cr_assert_eq(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "created")), created, "%s", name);
    cr_assert_eq(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "deleted")), deleted, "%s", name);
    const cJSON *head = cJSON_GetObjectItemCaseSensitive(j, "head_commit");
    cr_assert_eq(cJSON_IsNull(head), deleted, "%s: head_commit is null exactly on deletion", name);
    if (!deleted)
        cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(head, "id")->valuestring, after);
    const cJSON *commits = cJSON_GetObjectItemCaseSensitive(j, "commits");
    cr_assert(cJSON_IsArray(commits), "%s", name);
    if (deleted)
        cr_assert_eq(cJSON_GetArraySize(commits), 0, "%s", name);
    const cJSON *repo = cJSON_GetObjectItemCaseSensitive(j, "repository");
    cr_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(repo, "full_name")), "%s", name);
    cr_assert(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(repo, "pushed_at")),
              "%s: push payloads give pushed_at in Unix seconds", name);
    cr_assert_eq(body[len - 1], '\n', "%s ends with a newline", name);
    cJSON_Delete(j);
}

Test(deliveries, github_pushes_follow_their_shas)
{
    for (int c = 0; c < TD_GITHUB_CASES; c++) {
        enum td_github_case gc = (enum td_github_case)c;
        size_t len = 0;
        char *body = td_github(gc, &len);
        cJSON *j = cJSON_ParseWithLength(body, len);
        cr_assert_not_null(j);
        /* Printed as GitHub's examples are: two-space indents, a final newline. */
        size_t n = 0;
        char *again = td_json_pretty(j, &n);
        cr_assert_eq(n, len);
        cr_assert_eq(memcmp(again, body, len), 0, "%s", td_github_name(gc));
        cr_assert_eq(strncmp(body, "{\n  \"", 5), 0);
        bool app = cJSON_GetObjectItemCaseSensitive(j, "installation") != NULL;
        cr_assert_eq(app, gc == TD_GITHUB_PUSH_NEW_BRANCH || gc == TD_GITHUB_PUSH_TAG_DELETED, "%s",
                     td_github_name(gc));
        if (strcmp(td_github_event(gc), "push") == 0)
            expect_push_shape(body, len, td_github_name(gc));
        free(again);
        free(body);
        cJSON_Delete(j);
    }

    /* The real pushes obey the same rules. */
    static const char *const files[] = {
        "push/developer.github.com-push-branch-update-2014.payload.json",
        "push/developer.github.com-push-branch-update-2015.payload.json",
        "push/octokit-api.github.com-push-tag-deleted.payload.json",
        "push/octokit-api.github.com-push-with-installation.payload.json",
        "push/octokit-api.github.com-push-with-new-branch.payload.json",
        "push/octokit-ghes-35-push-tag-created.payload.json"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char rel[160];
        snprintf(rel, sizeof(rel), "github/%s", files[i]);
        size_t len = 0;
        char *body = th_fixture_read(rel, &len);
        if (body)
            expect_push_shape(body, len, rel);
        free(body);
    }
}

Test(deliveries, github_requests_carry_githubs_headers)
{
    struct td_delivery d;
    td_github_delivery(&d, TD_GITHUB_PUSH, false, "s", "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    cr_assert_str_eq(td_delivery_header_value(&d, "content-type"), "application/json");
    cr_assert_str_eq(td_delivery_header_value(&d, "X-GitHub-Event"), "push");
    cr_assert_str_eq(td_delivery_header_value(&d, "X-GitHub-Delivery"),
                     "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    cr_assert_str_eq(td_delivery_header_value(&d, "X-GitHub-Hook-ID"), TD_HOOK_ID);
    cr_assert_eq(strncmp(td_delivery_header_value(&d, "User-Agent"), "GitHub-Hookshot/", 16), 0);
    char sig[TD_GITHUB_SIG_CAP], sha1[48];
    td_github_sign("s", d.body, d.len, sig);
    td_github_sign_sha1("s", d.body, d.len, sha1);
    cr_assert_str_eq(td_delivery_header_value(&d, "X-Hub-Signature-256"), sig);
    cr_assert_str_eq(td_delivery_header_value(&d, "X-Hub-Signature"), sha1);
    cr_assert_eq(strlen(sig), 71);
    cr_assert_eq(strlen(sha1), 45);
    cr_assert_eq(d.headers[d.nheaders], NULL);
    td_delivery_free(&d);

    td_github_delivery(&d, TD_GITHUB_PING, true, NULL, "d");
    cr_assert_str_eq(td_delivery_header_value(&d, "Content-Type"),
                     "application/x-www-form-urlencoded");
    cr_assert_str_eq(td_delivery_header_value(&d, "X-GitHub-Event"), "ping");
    cr_assert_null(td_delivery_header_value(&d, "X-Hub-Signature-256"), "no secret, no signature");
    const char *form = "payload=%7B%0A++%22zen%22%3A+";
    cr_assert_eq(strncmp(d.body, form, strlen(form)), 0, "%s", d.body);
    td_delivery_free(&d);
}

Test(deliveries, supabase_requests_carry_pg_nets_headers)
{
    struct td_delivery d;
    td_supabase_delivery(&d, TD_SUPABASE_INSERT, "tok");
    /* A Dashboard-made webhook: its header row is spelled "Content-type". */
    cr_assert_str_eq(d.headers[0], "Content-type: application/json");
    cr_assert_str_eq(td_delivery_header_value(&d, "Authorization"), "Bearer tok");
    cr_assert_eq(strncmp(td_delivery_header_value(&d, "User-Agent"), "pg_net/", 7), 0);
    cr_assert_null(td_delivery_header_value(&d, "webhook-signature"), "pg_net never signs");

    char secret[TD_SWH_SECRET_CAP];
    const unsigned char key[24] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12,
                                   13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24};
    td_swh_secret(key, sizeof(key), secret);
    cr_assert_str_eq(secret, "whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcY");
    cr_assert(td_swh_headers_add(&d, secret, "msg_1", 1748873251));
    cr_assert_str_eq(td_delivery_header_value(&d, "webhook-id"), "msg_1");
    cr_assert_str_eq(td_delivery_header_value(&d, "webhook-timestamp"), "1748873251");
    char sig[TD_SWH_SIG_CAP];
    cr_assert(td_swh_sign(secret, "msg_1", "1748873251", d.body, d.len, sig));
    cr_assert_str_eq(td_delivery_header_value(&d, "webhook-signature"), sig);
    cr_assert_not(td_swh_headers_add(&d, "whsec_*not base64*", "msg_2", 1));
    td_delivery_free(&d);

    td_supabase_delivery(&d, TD_SUPABASE_DELETE, NULL);
    cr_assert_str_eq(d.headers[0], "Content-Type: application/json");
    cr_assert_null(td_delivery_header_value(&d, "Authorization"));
    td_delivery_free(&d);
}
