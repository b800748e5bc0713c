/* Unit tests for util/: buffers, ids, parsing, comparisons, redaction. */
#include "util/redact.h"
#include "util/util.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

Test(util, buf_respects_its_cap)
{
    struct buf b;
    buf_init(&b, 8);
    cr_assert(buf_puts(&b, "12345"));
    cr_assert_not(buf_puts(&b, "6789"), "appending past the cap must fail");
    cr_assert_str_eq(b.data, "12345", "a refused append leaves the data unchanged");
    cr_assert(buf_puts(&b, "678"));
    cr_assert_eq(b.len, 8);
    buf_free(&b);
    buf_free(&b);
}

Test(util, buf_printf_grows)
{
    struct buf b;
    buf_init(&b, 0);
    for (int i = 0; i < 1000; i++)
        cr_assert(buf_printf(&b, "%d,", i));
    cr_assert_eq(strncmp(b.data, "0,1,2,", 6), 0);
    cr_assert(strstr(b.data, "999,") != NULL);
    char *s = buf_steal(&b);
    cr_assert_eq(b.len, 0);
    free(s);
}

Test(util, uuid_v4_is_valid_and_unique)
{
    char a[37], b[37];
    uuid_v4(a);
    uuid_v4(b);
    cr_assert(uuid_valid(a));
    cr_assert_eq(a[14], '4', "version nibble");
    cr_assert_str_neq(a, b);
    cr_assert_not(uuid_valid("not-a-uuid"));
    cr_assert_not(uuid_valid("0123456789abcdef0123456789abcdef0123"));
    cr_assert(uuid_valid("6fa459ea-ee8a-3ca4-894e-db77e160355e"));
}

Test(util, parse_i64_checks_bounds_and_garbage)
{
    int64_t v = 0;
    cr_assert(parse_i64("42", 0, 100, &v));
    cr_assert_eq(v, 42);
    cr_assert_not(parse_i64("101", 0, 100, &v));
    cr_assert_not(parse_i64("-1", 0, 100, &v));
    cr_assert_not(parse_i64("4x", 0, 100, &v));
    cr_assert_not(parse_i64("", 0, 100, &v));
    cr_assert_not(parse_i64("99999999999999999999999", 0, INT64_MAX, &v));
}

Test(util, ct_equal_compares_bytes_and_lengths)
{
    cr_assert(ct_equal("abc", 3, "abc", 3));
    cr_assert_not(ct_equal("abc", 3, "abd", 3));
    cr_assert_not(ct_equal("abc", 3, "abcd", 4));
}

Test(util, hex_and_time_format)
{
    unsigned char in[] = {0x00, 0xab, 0xff};
    char out[7];
    hex_encode(in, 3, out);
    cr_assert_str_eq(out, "00abff");
    char ts[32];
    time_format_utc(ts, 1614265330123LL);
    cr_assert_str_eq(ts, "2021-02-25T15:02:10.123Z");
}

Test(util, random_below_stays_in_range)
{
    for (int i = 0; i < 1000; i++)
        cr_assert_lt(random_below(7), 7u);
}

Test(redact, replaces_registered_secrets_and_bearer_values)
{
    redact_register("s3cr3t-token");
    redact_register("");
    char *out = redact_string("token=s3cr3t-token and Authorization: Bearer abc.def x");
    cr_assert_null(strstr(out, "s3cr3t"), "%s", out);
    cr_assert_null(strstr(out, "abc.def"), "%s", out);
    cr_assert_not_null(strstr(out, "token=[REDACTED]"));
    cr_assert_not_null(strstr(out, " x"));
    free(out);
    redact_clear();
}
