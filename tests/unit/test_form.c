/* The x-www-form-urlencoded decoder: escapes, caps, field lookup, and GitHub's form body. */
#include "handlers/form.h"
#include "support/harness.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static void expect_decode(const char *in, const char *want)
{
    char *out = NULL;
    size_t n = 0;
    cr_assert_eq(form_decode(in, strlen(in), 1024, &out, &n), RH_OK, "%s", in);
    cr_assert_eq(n, strlen(want));
    cr_assert_str_eq(out, want);
    free(out);
}

static void expect_bad(const char *in, size_t max)
{
    char *out = (char *)"untouched";
    size_t n = 7;
    cr_assert_eq(form_decode(in, strlen(in), max, &out, &n), RH_INVALID, "%s", in);
    cr_assert_null(out);
    cr_assert_eq(n, 0);
}

Test(form, decodes_plus_and_percent_escapes)
{
    expect_decode("", "");
    expect_decode("plain", "plain");
    expect_decode("a+b%20c", "a b c");
    expect_decode("%7B%22k%22%3A+1%7D", "{\"k\": 1}");
    expect_decode("%c3%A9", "\xc3\xa9");
    expect_decode("100%25", "100%");
}

Test(form, refuses_broken_escapes_and_output_past_the_cap)
{
    expect_bad("%", 1024);
    expect_bad("%4", 1024);
    expect_bad("ab%G1", 1024);
    expect_bad("%%41", 1024);
    expect_bad("abcdef", 5);
    expect_bad("%41%41%41", 2);
}

Test(form, keeps_nul_bytes_counted)
{
    char *out = NULL;
    size_t n = 0;
    cr_assert_eq(form_decode("a%00b", 5, 64, &out, &n), RH_OK);
    cr_assert_eq(n, 3);
    cr_assert_eq(memcmp(out, "a\0b", 3), 0);
    free(out);
}

static enum rh_status field(const char *body, const char *name, char **out)
{
    size_t n = 0;
    return form_field_get(body, strlen(body), name, 1024, out, &n);
}

Test(form, finds_the_first_field_by_decoded_name)
{
    char *v = NULL;
    cr_assert_eq(field("a=1&payload=x%7B&payload=second", "payload", &v), RH_OK);
    cr_assert_str_eq(v, "x{");
    free(v);
    cr_assert_eq(field("&&pay%6Coad=ok&", "payload", &v), RH_OK);
    cr_assert_str_eq(v, "ok");
    free(v);
    cr_assert_eq(field("payload", "payload", &v), RH_OK);
    cr_assert_str_eq(v, "");
    free(v);
    cr_assert_eq(field("payloadx=1&xpayload=2", "payload", &v), RH_NOT_FOUND);
    cr_assert_null(v);
    cr_assert_eq(field("", "payload", &v), RH_NOT_FOUND);
    cr_assert_eq(field("a%ZZ=1&payload=2", "payload", &v), RH_INVALID);
    cr_assert_eq(field("payload=%Z", "payload", &v), RH_INVALID);
}

Test(form, github_form_body_decodes_to_the_json_file)
{
    char *form_path =
        th_fixture_path("github/signatures/push-branch-update-2015.form-urlencoded.body");
    char *json_path =
        th_fixture_path("github/push/developer.github.com-push-branch-update-2015.payload.json");
    if (!form_path || !json_path)
        cr_skip_test("GitHub fixtures are absent (../shared/fixtures)");
    size_t flen = 0, jlen = 0;
    char *form = th_read_file(form_path, &flen);
    char *json = th_read_file(json_path, &jlen);
    char *out = NULL;
    size_t n = 0;
    cr_assert_eq(form_field_get(form, flen, "payload", 1 << 20, &out, &n), RH_OK);
    cr_assert_eq(n, jlen);
    cr_assert_eq(memcmp(out, json, n), 0);
    free(out);
    /* The same field with a cap below its size is refused, not cut. */
    cr_assert_eq(form_field_get(form, flen, "payload", jlen - 1, &out, &n), RH_INVALID);
    free(form);
    free(json);
    free(form_path);
    free(json_path);
}
