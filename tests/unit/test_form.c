/* The x-www-form-urlencoded decoder: escapes, caps, field lookup, and GitHub's form body. */
#include "handlers/form.h"
#include "support/deliveries.h"
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

/* GitHub's form body decodes to the JSON it carries, byte for byte; a cap below the JSON's size
 * refuses the field rather than cutting it. */
static void expect_form_decodes(const char *form, size_t flen, const char *json, size_t jlen,
                                const char *name)
{
    char *out = NULL;
    size_t n = 0;
    cr_assert_eq(form_field_get(form, flen, "payload", 1 << 20, &out, &n), RH_OK, "%s", name);
    cr_assert_eq(n, jlen, "%s", name);
    cr_assert_eq(memcmp(out, json, n), 0, "%s", name);
    free(out);
    cr_assert_eq(form_field_get(form, flen, "payload", jlen - 1, &out, &n), RH_INVALID, "%s", name);
}

Test(form, github_form_body_decodes_to_the_json_it_carries)
{
    for (int c = 0; c < TD_GITHUB_CASES; c++) {
        size_t jlen = 0, flen = 0;
        char *json = td_github((enum td_github_case)c, &jlen);
        char *form = td_form_encode(json, jlen, &flen);
        cr_assert_not_null(memchr(form, '+', flen), "spaces are sent as '+'");
        cr_assert_not_null(strstr(form, "%0A"), "newlines are percent-encoded");
        expect_form_decodes(form, flen, json, jlen, td_github_name((enum td_github_case)c));
        free(form);
        free(json);
    }
    /* The real form body, when it sits beside the checkout. */
    size_t flen = 0, jlen = 0;
    char *form =
        th_fixture_read("github/signatures/push-branch-update-2015.form-urlencoded.body", &flen);
    char *json = th_fixture_read(
        "github/push/developer.github.com-push-branch-update-2015.payload.json", &jlen);
    if (form && json)
        expect_form_decodes(form, flen, json, jlen, "push-branch-update-2015 (shared)");
    free(form);
    free(json);
}
