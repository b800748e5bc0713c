/* Unit tests for handlers/jobcache.c: hits and misses, the invalidation guard on late puts,
 * resets, the TTL, the size cap, id case folding and colliding slots. */
#include "handlers/jobcache.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char id_a[] = "6fa459ea-ee8a-4ca4-894e-db77e160355e";
static const char id_b[] = "0b3c1f7e-2d4a-4e8b-9c6d-7a5e3f1b2c4d";

/* Looks id up; returns the document (free()) or NULL on a miss, and the ETag in etag. */
static char *lookup(struct jobcache *c, const char *id, char etag[JOBCACHE_ETAG_LEN])
{
    struct buf b;
    buf_init(&b, 0);
    char *doc = NULL;
    if (jobcache_get(c, id, etag, &b))
        doc = xstrdup(b.data ? b.data : "");
    buf_free(&b);
    return doc;
}

static struct jobcache *open_cache(int64_t ttl_ms)
{
    struct jobcache *c = jobcache_new(16, 1024, ttl_ms);
    jobcache_reset(c, true);
    return c;
}

Test(jobcache, a_closed_cache_stores_nothing)
{
    struct jobcache *c = jobcache_new(16, 1024, 60000);
    char etag[JOBCACHE_ETAG_LEN];
    jobcache_put(c, id_a, "{\"a\":1}", "\"e1\"", jobcache_seq(c));
    cr_assert_null(lookup(c, id_a, etag), "stored before the listener opened it");
    jobcache_reset(c, true);
    jobcache_put(c, id_a, "{\"a\":1}", "\"e1\"", jobcache_seq(c));
    char *doc = lookup(c, id_a, etag);
    cr_assert_not_null(doc);
    cr_assert_str_eq(doc, "{\"a\":1}");
    cr_assert_str_eq(etag, "\"e1\"");
    free(doc);
    cr_assert_null(lookup(c, id_b, etag), "another job must miss");
    jobcache_free(c);
}

Test(jobcache, a_put_after_an_invalidation_of_that_job_is_refused)
{
    struct jobcache *c = open_cache(60000);
    char etag[JOBCACHE_ETAG_LEN];
    uint64_t seq = jobcache_seq(c);
    /* The job is retried while its old document is being read. */
    jobcache_invalidate(c, id_a);
    jobcache_put(c, id_a, "{\"state\":\"failed\"}", "\"old\"", seq);
    cr_assert_null(lookup(c, id_a, etag), "a document older than the retry was stored");
    /* Another job's change does not refuse it. */
    seq = jobcache_seq(c);
    jobcache_invalidate(c, id_b);
    jobcache_put(c, id_a, "{\"state\":\"succeeded\"}", "\"new\"", seq);
    char *doc = lookup(c, id_a, etag);
    cr_assert_not_null(doc);
    free(doc);
    jobcache_free(c);
}

Test(jobcache, too_many_changes_since_the_read_refuse_the_put)
{
    struct jobcache *c = open_cache(60000);
    char etag[JOBCACHE_ETAG_LEN];
    uint64_t seq = jobcache_seq(c);
    for (int i = 0; i < 500; i++) {
        char other[37];
        snprintf(other, sizeof(other), "00000000-0000-4000-8000-%012d", i);
        jobcache_invalidate(c, other);
    }
    jobcache_put(c, id_a, "{}", "\"e\"", seq);
    cr_assert_null(lookup(c, id_a, etag), "the guard cannot vouch for the job any more");
    jobcache_free(c);
}

Test(jobcache, invalidate_and_reset_drop_documents)
{
    struct jobcache *c = open_cache(60000);
    char etag[JOBCACHE_ETAG_LEN];
    jobcache_put(c, id_a, "{\"a\":1}", "\"a\"", jobcache_seq(c));
    jobcache_put(c, id_b, "{\"b\":1}", "\"b\"", jobcache_seq(c));
    jobcache_invalidate(c, id_a);
    cr_assert_null(lookup(c, id_a, etag));
    char *doc = lookup(c, id_b, etag);
    cr_assert_not_null(doc, "invalidating one job dropped another");
    free(doc);
    /* The listener lost its connection: everything goes and nothing is stored meanwhile. */
    uint64_t seq = jobcache_seq(c);
    jobcache_reset(c, false);
    cr_assert_null(lookup(c, id_b, etag));
    jobcache_put(c, id_b, "{\"b\":1}", "\"b\"", jobcache_seq(c));
    cr_assert_null(lookup(c, id_b, etag), "a closed cache stored a document");
    /* Reopened: reads that began before the reset still may not store. */
    jobcache_reset(c, true);
    jobcache_put(c, id_b, "{\"b\":1}", "\"b\"", seq);
    cr_assert_null(lookup(c, id_b, etag), "a read from before the reset was stored");
    jobcache_free(c);
}

Test(jobcache, documents_expire_after_the_ttl)
{
    struct jobcache *c = open_cache(400);
    char etag[JOBCACHE_ETAG_LEN];
    jobcache_put(c, id_a, "{}", "\"e\"", jobcache_seq(c));
    char *doc = lookup(c, id_a, etag);
    cr_assert_not_null(doc);
    free(doc);
    usleep(450 * 1000);
    cr_assert_null(lookup(c, id_a, etag), "an expired document was served to the first reader");
    /* While that reader refreshes it, the others still get it, for one more TTL at most. */
    doc = lookup(c, id_a, etag);
    cr_assert_not_null(doc, "a second reader also went to the database");
    free(doc);
    usleep(400 * 1000);
    cr_assert_null(lookup(c, id_a, etag), "served past twice the TTL");
    jobcache_put(c, id_a, "{\"b\":1}", "\"e2\"", jobcache_seq(c));
    doc = lookup(c, id_a, etag);
    cr_assert_str_eq(doc, "{\"b\":1}", "the refreshed document");
    free(doc);
    jobcache_free(c);
}

Test(jobcache, large_documents_are_not_kept)
{
    struct jobcache *c = open_cache(60000);
    char etag[JOBCACHE_ETAG_LEN];
    char *big = xmalloc(2000);
    memset(big, 'x', 1999);
    big[1999] = '\0';
    jobcache_put(c, id_a, big, "\"e\"", jobcache_seq(c));
    cr_assert_null(lookup(c, id_a, etag));
    free(big);
    jobcache_free(c);
}

Test(jobcache, ids_match_whatever_their_case)
{
    struct jobcache *c = open_cache(60000);
    char etag[JOBCACHE_ETAG_LEN];
    jobcache_put(c, "6FA459EA-EE8A-4CA4-894E-DB77E160355E", "{}", "\"e\"", jobcache_seq(c));
    char *doc = lookup(c, id_a, etag);
    cr_assert_not_null(doc, "the uppercase spelling was not found in lowercase");
    free(doc);
    /* Notifications carry PostgreSQL's lowercase spelling. */
    jobcache_invalidate(c, id_a);
    cr_assert_null(lookup(c, "6FA459EA-EE8A-4CA4-894E-DB77E160355E", etag));
    jobcache_free(c);
}

Test(jobcache, a_null_cache_never_hits)
{
    char etag[JOBCACHE_ETAG_LEN];
    jobcache_put(NULL, id_a, "{}", "\"e\"", jobcache_seq(NULL));
    jobcache_invalidate(NULL, id_a);
    jobcache_reset(NULL, true);
    cr_assert_null(lookup(NULL, id_a, etag));
    jobcache_free(NULL);
}

Test(jobcache, jobs_whose_slots_collide_keep_their_documents)
{
    /* Four slots: every id's set is all four, so four jobs all fit whatever their hashes. */
    static const char *const ids[] = {id_a, id_b, "11111111-2222-4333-8444-555555555555",
                                      "99999999-8888-4777-8666-555555555555"};
    struct jobcache *c = jobcache_new(4, 1024, 60000);
    jobcache_reset(c, true);
    char etag[JOBCACHE_ETAG_LEN];
    for (int i = 0; i < 4; i++)
        jobcache_put(c, ids[i], ids[i], "\"e\"", jobcache_seq(c));
    for (int i = 0; i < 4; i++) {
        char *doc = lookup(c, ids[i], etag);
        cr_assert_not_null(doc, "job %d was evicted", i);
        cr_assert_str_eq(doc, ids[i]);
        free(doc);
    }
    /* A fifth takes the oldest's place; an invalidation drops only its own job. */
    jobcache_put(c, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "{}", "\"e\"", jobcache_seq(c));
    jobcache_invalidate(c, ids[3]);
    cr_assert_null(lookup(c, ids[3], etag));
    int kept = 0;
    for (int i = 0; i < 3; i++) {
        char *doc = lookup(c, ids[i], etag);
        kept += doc != NULL;
        free(doc);
    }
    cr_assert_eq(kept, 2, "one of the older three made room");
    jobcache_free(c);
}
