/* Railway misbehaving: the simulator answers 20 % of GraphQL requests with a fault (429 with
 * Retry-After, 500, 502, 503, connection resets, generic "Problem processing request"
 * errors, and delays longer than railhook's request timeout, after which the operation has
 * run anyway). Every provision ends succeeded with one live service or failed and rolled back
 * with none; no service is created twice, none is orphaned. With CHAOS_SCALE=full (200
 * provisions) at least 99 % succeed within their attempts; the short form runs 50. */
#include "chaos/chaos.h"

#include "util/util.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

Test(chaos, railway_with_20_percent_faults, .timeout = 1800)
{
    const int n = chaos_size(50, 200);
    char tag[8];
    chaos_tag(tag);
    struct th_sim sim;
    const char *flags[] = {"--fault-rate",
                           "0.2",
                           "--fault-kinds",
                           "429,500,502,503,reset,delay,generic",
                           "--fault-delay-ms",
                           "1500",
                           "--seed",
                           "20261127",
                           NULL};
    chaos_sim_start(&sim, flags);
    char *db = th_db_create();
    char *url = chaos_db_url(db);
    char *log = chaos_path("faults", "log");
    /* A delay fault outlasts the 1 s timeout: the request counts as failed although Railway
     * carried it out, the case that tempts a client into creating a twin. */
    const char *extra[] = {"WORKERS=16", "RAILWAY_TIMEOUT_S=1", "RETRY_BASE_MS=200",
                           "RETRY_MAX_MS=1000", NULL};
    int64_t t0 = time_mono_ms();

    struct chaos_proc p;
    chaos_serve(&p, "faulty", url, &sim, log, extra);
    chaos_post_inserts(p.port, tag, n);
    cr_assert(chaos_wait_terminal(db, 900000), "jobs still queued or running");

    struct chaos_tally t;
    chaos_tally(db, &t);
    cr_assert_eq(t.jobs, n);
    cr_assert_eq(t.succeeded + t.failed, n, "%ld cancelled", t.cancelled);
    struct chaos_services s;
    chaos_assert_services(db, &sim, &s);
    chaos_assert_rolled_back(db);
    cr_assert_eq(s.live, t.succeeded);
    if (chaos_full())
        cr_assert_geq(t.succeeded * 100, 99L * n, "only %ld of %d provisions succeeded",
                      t.succeeded, n);

    cJSON *st = th_sim_state(&sim);
    const cJSON *counts = cJSON_GetObjectItem(st, "counts");
    int faults = cJSON_GetObjectItem(counts, "faults")->valueint;
    char *kinds = cJSON_PrintUnformatted(cJSON_GetObjectItem(counts, "faults_by_kind"));
    cr_assert_gt(faults, 0);
    long retried_events = th_sql_long(db, "SELECT count(*) FROM job_events WHERE level = 'warn' "
                                          "AND message LIKE '% failed: %'");
    cr_assert_eq(WEXITSTATUS(chaos_signal(&p, SIGTERM)), 0);

    const char *files[] = {log, NULL};
    chaos_assert_no_secrets(db, files);
    fprintf(stderr,
            "chaos faults: %d provisions, %d of %ld Railway requests faulted %s; %ld transient "
            "failure events; %ld succeeded (%ld needed a second attempt), %ld failed and rolled "
            "back; %d live services, %d ever created, no orphan; %.1f s\n",
            n, faults, s.railway_requests, kinds, retried_events, t.succeeded, t.attempts_over_1,
            t.failed, s.live, s.created, (double)(time_mono_ms() - t0) / 1000.0);
    cJSON_free(kinds);
    cJSON_Delete(st);
    th_sim_stop(&sim);
    free(log);
    free(url);
    th_db_drop(db);
}
