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

Test(util, buf_growth_stops_at_the_cap)
{
    struct buf b;
    buf_init(&b, 1000);
    char chunk[300];
    memset(chunk, 'x', sizeof(chunk));
    cr_assert(buf_append(&b, chunk, sizeof(chunk)));
    cr_assert(buf_append(&b, chunk, sizeof(chunk)));
    cr_assert(buf_append(&b, chunk, sizeof(chunk)));
    /* Doubling would reach 1024 bytes; the buffer never holds more than max and a NUL. */
    cr_assert_leq(b.cap, 1001, "capacity %zu past a 1000-byte cap", b.cap);
    cr_assert(buf_append(&b, chunk, 100));
    cr_assert_eq(b.len, 1000);
    cr_assert_not(buf_append(&b, "y", 1));
    buf_free(&b);
}

Test(util, buf_reserve_allocates_once_within_the_cap)
{
    struct buf b;
    buf_init(&b, 4096);
    cr_assert_not(buf_reserve(&b, 4097));
    cr_assert_null(b.data, "a refused reservation allocates nothing");
    cr_assert(buf_reserve(&b, 3000));
    cr_assert_eq(b.cap, 3001);
    cr_assert_str_eq(b.data, "");
    char *before = b.data;
    char chunk[1000];
    memset(chunk, 'z', sizeof(chunk));
    for (int i = 0; i < 3; i++)
        cr_assert(buf_append(&b, chunk, sizeof(chunk)));
    cr_assert_eq(b.data, before, "appends within the reservation must not reallocate");
    cr_assert_eq(b.len, 3000);
    buf_free(&b);
}

Test(util, ct_token_equal_matches_only_the_same_token)
{
    cr_assert(ct_token_equal("tok-123", 7, "tok-123", 7));
    cr_assert_not(ct_token_equal("tok-123", 7, "tok-124", 7));
    cr_assert_not(ct_token_equal("tok-12", 6, "tok-123", 7), "a prefix must not match");
    cr_assert_not(ct_token_equal("tok-1234", 8, "tok-123", 7), "a longer token must not match");
    cr_assert_not(ct_token_equal("", 0, "tok-123", 7));
    cr_assert(ct_token_equal("", 0, "", 0));
}

Test(util, secret_list_next_trims_and_skips_empty_entries)
{
    const char *cur = " a ,\tbb\t,, ,c";
    const char *s;
    size_t n;
    cr_assert(secret_list_next(&cur, &s, &n));
    cr_assert_eq(n, 1);
    cr_assert_eq(strncmp(s, "a", n), 0);
    cr_assert(secret_list_next(&cur, &s, &n));
    cr_assert_eq(n, 2);
    cr_assert_eq(strncmp(s, "bb", n), 0);
    cr_assert(secret_list_next(&cur, &s, &n));
    cr_assert_eq(n, 1);
    cr_assert_eq(strncmp(s, "c", n), 0);
    cr_assert_not(secret_list_next(&cur, &s, &n));
    cur = " , \t,";
    cr_assert_not(secret_list_next(&cur, &s, &n));
}

Test(redact, the_longest_secret_wins_whatever_the_order)
{
    redact_register("abc");
    redact_register("abcdef-long");
    redact_register("ab");
    char *out = redact_string("x abcdef-long y abc z ab");
    cr_assert_str_eq(out, "x [REDACTED] y [REDACTED] z [REDACTED]");
    free(out);
    redact_clear();
}

Test(redact, text_around_and_between_secrets_is_kept_exactly)
{
    redact_register("bZ9-secret");
    redact_register("Qq1");
    char *out = redact_string("");
    cr_assert_str_eq(out, "");
    free(out);
    out = redact_string("bZ9-secretQq1 but bearer-ish, Bearer  tok; b bZ9 Qq tail Qq1");
    cr_assert_str_eq(out, "[REDACTED][REDACTED] but bearer-ish, Bearer  [REDACTED]; b bZ9 Qq tail "
                          "[REDACTED]");
    free(out);
    redact_clear();
    /* Forgotten secrets are no longer blanked. */
    out = redact_string("Qq1 stays");
    cr_assert_str_eq(out, "Qq1 stays");
    free(out);
}

Test(util, uuids_stay_valid_and_distinct_across_many_pool_refills)
{
    enum { N = 2000 }; /* 32,000 random bytes: many refills of the per-thread pool */
    static char ids[N][37];
    for (int i = 0; i < N; i++) {
        uuid_v4(ids[i]);
        cr_assert(uuid_valid(ids[i]), "%s", ids[i]);
        cr_assert_eq(ids[i][14], '4');
        cr_assert(strchr("89ab", ids[i][19]), "variant of %s", ids[i]);
    }
    qsort(ids, N, sizeof(ids[0]), (int (*)(const void *, const void *))strcmp);
    for (int i = 1; i < N; i++)
        cr_assert_str_neq(ids[i - 1], ids[i]);
    unsigned char big[3000], zero[3000] = {0};
    random_bytes(big, sizeof(big)); /* larger than the pool */
    cr_assert_neq(memcmp(big, zero, sizeof(big)), 0);
    cr_assert_neq(memcmp(big + 2000, zero, 1000), 0);
}

Test(util, sha256_matches_the_standard_vectors)
{
    unsigned char md[32];
    char hex[65];
    sha256("abc", 3, md);
    hex_encode(md, sizeof(md), hex);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha256("", 0, md);
    hex_encode(md, sizeof(md), hex);
    cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
