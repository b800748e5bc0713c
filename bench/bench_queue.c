/* `make bench-queue`: the job queue's throughput and start latency with a no-op handler.
 *
 * Throughput: N jobs are enqueued (in batches of 1000), then a pool of W workers is started
 * and timed until every job has succeeded (claimed, run, and its outcome committed).
 * Start delay: with the pool idle, jobs are enqueued one at a time (one commit each, a few
 * milliseconds apart); the delay is from the moment the INSERT's commit returned to this
 * program to the moment the no-op handler started running the job (right after its claim).
 *
 * Environment: DATABASE_URL (required), BENCH_JOBS (20000), BENCH_WORKERS ("4,10"),
 * BENCH_LATENCY_JOBS (2000). The no-op handler lives here, not in the service.
 *
 * Threading: the main thread enqueues and measures; the pool's threads run the handler, which
 * writes only its own job's slot of the start-time array (atomically). */
#include "store/enqueue.h"
#include "store/jobs.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/util.h"
#include "queue/queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct store *store; /* the pools' connections come from it */
static int64_t *start_us;   /* per latency job: when its handler started (atomic access) */
static int latency_jobs;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static enum rh_status bench_run(void *ctx, struct job_run *run, const struct job *job,
                                struct job_result *res)
{
    (void)ctx;
    (void)run;
    (void)res;
    const cJSON *seq = cJSON_GetObjectItem(job->payload, "seq");
    if (cJSON_IsNumber(seq) && seq->valueint >= 0 && seq->valueint < latency_jobs)
        __atomic_store_n(&start_us[seq->valueint], now_us(), __ATOMIC_RELAXED);
    return RH_OK;
}

static int env_int(const char *name, int def)
{
    int64_t v = 0;
    const char *s = getenv(name);
    return s && parse_i64(s, 1, 10000000, &v) ? (int)v : def;
}

static void check(enum rh_status st, const char *what, const char *err)
{
    if (st != RH_OK) {
        fprintf(stderr, "bench-queue: %s: %s\n", what, err);
        exit(1);
    }
}

static struct queue *pool_start(int workers)
{
    char n[16], err[256] = "";
    snprintf(n, sizeof(n), "%d", workers);
    setenv("WORKERS", n, 1);
    setenv("INSTANCE_ID", "bench", 1);
    struct config cfg;
    if (!config_load(&cfg, CONFIG_NEED_DATABASE, err, sizeof(err))) {
        fprintf(stderr, "bench-queue: %s\n", err);
        exit(2);
    }
    struct queue *p = queue_create(&cfg, store);
    config_free(&cfg);
    struct job_handler h = {.kind = "noop", .run = bench_run};
    queue_register(p, &h);
    if (queue_start(p, err, sizeof(err)) != RH_OK) {
        fprintf(stderr, "bench-queue: %s\n", err);
        exit(1);
    }
    return p;
}

static void wait_succeeded(struct queue *p, long n)
{
    struct queue_stats s;
    for (;;) {
        queue_stats_get(p, &s);
        if (s.succeeded >= n)
            return;
        usleep(500);
    }
}

static double throughput(PGconn *c, int jobs, int workers, double *secs, double *per_commit)
{
    enum { BATCH = 1000 };
    struct store_job_new *batch = xcalloc(BATCH, sizeof(*batch));
    for (int i = 0; i < BATCH; i++)
        batch[i] = (struct store_job_new){.kind = "noop"};
    char err[256] = "";
    for (int done = 0; done < jobs; done += BATCH) {
        struct store_enqueue g = {.jobs = batch,
                                  .njobs = (size_t)(jobs - done < BATCH ? jobs - done : BATCH)};
        check(store_job_enqueue(c, &g, 1, err, sizeof(err)), "enqueue", err);
    }
    free(batch);
    check(store_job_analyze(c, err, sizeof(err)), "vacuum", err);
    int64_t t0 = now_us();
    struct queue *p = pool_start(workers);
    wait_succeeded(p, jobs);
    int64_t t1 = now_us();
    struct queue_stats s;
    queue_stats_get(p, &s);
    *per_commit = (double)jobs / (double)(s.commits + s.dispatches);
    queue_stop(p, 5000);
    *secs = (double)(t1 - t0) / 1e6;
    return jobs / *secs;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void latency(PGconn *c, int workers, double *p50, double *p99)
{
    int64_t *commit_us = xcalloc((size_t)latency_jobs, sizeof(*commit_us));
    int64_t *delay = xcalloc((size_t)latency_jobs, sizeof(*delay));
    for (int i = 0; i < latency_jobs; i++)
        __atomic_store_n(&start_us[i], 0, __ATOMIC_RELAXED);
    struct queue *p = pool_start(workers);
    usleep(500 * 1000); /* let every worker go idle */
    char err[256] = "";
    for (int i = 0; i < latency_jobs; i++) {
        cJSON *payload = cJSON_CreateObject();
        cJSON_AddNumberToObject(payload, "seq", i);
        struct store_job_new j = {.kind = "noop", .payload = payload};
        struct store_enqueue g = {.jobs = &j, .njobs = 1};
        check(store_job_enqueue(c, &g, 1, err, sizeof(err)), "enqueue", err);
        cJSON_Delete(payload);
        commit_us[i] = now_us();
        usleep(3000);
    }
    wait_succeeded(p, latency_jobs);
    queue_stop(p, 5000);
    for (int i = 0; i < latency_jobs; i++) {
        int64_t d = __atomic_load_n(&start_us[i], __ATOMIC_RELAXED) - commit_us[i];
        delay[i] = d > 0 ? d : 0; /* a start before the commit's reply reached us: ~0 */
    }
    qsort(delay, (size_t)latency_jobs, sizeof(*delay), cmp_i64);
    *p50 = (double)delay[latency_jobs / 2] / 1000.0;
    *p99 = (double)delay[(latency_jobs * 99) / 100] / 1000.0;
    free(commit_us);
    free(delay);
}

int main(void)
{
    const char *url = getenv("DATABASE_URL");
    if (!url || !*url) {
        fprintf(stderr, "bench-queue: DATABASE_URL is not set (run `make bench-queue`)\n");
        return 2;
    }
    /* Errors only: the pool's warning about the production job kinds it has no handler for
     * is expected here. */
    setenv("LOG_LEVEL", "error", 1);
    log_setup(LOG_ERROR, false, 2);
    int jobs = env_int("BENCH_JOBS", 20000);
    latency_jobs = env_int("BENCH_LATENCY_JOBS", 2000);
    const char *wl = getenv("BENCH_WORKERS") ? getenv("BENCH_WORKERS") : "4,10";
    start_us = xcalloc((size_t)latency_jobs, sizeof(*start_us));

    char err[256] = "";
    /* Prepared statements, as `railhook serve` uses them without a transaction pooler. */
    store = store_open(url, 1, 5000, true);
    PGconn *c = store_conn_open(store, STORE_SESSION_DEFAULT, err, sizeof(err));
    check(c ? RH_OK : RH_UNAVAILABLE, "connect", err);
    struct store_server srv;
    store_server_describe(c, &srv, err, sizeof(err));
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    printf("bench-queue: PostgreSQL %s (fsync=%s synchronous_commit=%s), %ld CPUs, no-op "
           "handler\n",
           srv.version, srv.fsync, srv.synchronous_commit, cpus);
    printf("%-8s %-46s %-22s\n", "workers", "throughput (drain N jobs)", "commit->start p50 / p99");
    fflush(stdout);

    char *list = xstrdup(wl);
    char *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int64_t w = 0;
        if (!parse_i64(t, 1, 256, &w))
            continue;
        check(store_job_purge(c, err, sizeof(err)), "purge", err);
        double secs = 0, per_commit = 0;
        double rate = throughput(c, jobs, (int)w, &secs, &per_commit);
        check(store_job_purge(c, err, sizeof(err)), "purge", err);
        double p50 = 0, p99 = 0;
        latency(c, (int)w, &p50, &p99);
        char tp[96], lat[64];
        snprintf(tp, sizeof(tp), "%.0f jobs/s (%d in %.2f s, %.1f jobs/commit)", rate, jobs, secs,
                 per_commit);
        snprintf(lat, sizeof(lat), "%.2f / %.2f ms (%d jobs)", p50, p99, latency_jobs);
        printf("%-8d %-46s %-22s\n", (int)w, tp, lat);
        fflush(stdout);
    }
    free(list);
    PQfinish(c);
    store_close(store);
    free(start_us);
    return 0;
}
