/* PostgreSQL crashes (pg_ctl -m immediate) and stays down for 5 s (10 s with
 * CHAOS_SCALE=full) while three clients keep posting Supabase deliveries. A delivery sent
 * and answered while the database is down gets 503, never 202; every 202 before, during and
 * after is in the database once it is back; railhook takes deliveries again and its workers
 * finish jobs again without being restarted. The test owns its cluster (durable, fsync on). */
#include "chaos/chaos.h"

#include "util/util.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CLIENTS      3
#define MAX_REQUESTS 30000

struct delivery {
    int64_t sent_ms, done_ms;
    long status;
    char job_id[37];
};

static struct delivery *log_of;
static atomic_int next_index;
static atomic_bool stop_load;
static int target_port;
static char run_tag[8];

static void *client(void *arg)
{
    (void)arg;
    CURL *h = curl_easy_init();
    while (!atomic_load(&stop_load)) {
        int i = atomic_fetch_add(&next_index, 1);
        if (i >= MAX_REQUESTS)
            break;
        struct delivery *d = &log_of[i];
        d->sent_ms = time_mono_ms();
        d->status = chaos_post_insert(h, target_port, run_tag, i, d->job_id, 30000);
        d->done_ms = time_mono_ms();
        usleep(d->status == 202 ? 15 * 1000 : 30 * 1000);
    }
    curl_easy_cleanup(h);
    return NULL;
}

static void pg_script(const char *cmd, const char *dir, const char *arg)
{
    char *script = xasprintf("%s/scripts/pg.sh", RAILHOOK_SOURCE_DIR);
    const char *argv[] = {"/bin/bash", script, cmd, dir, arg, NULL};
    char *log = chaos_path("outage-pg", "log");
    pid_t pid = th_spawn(argv, NULL, log);
    int status = 0;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "pg.sh %s failed (see %s)", cmd, log);
    free(log);
    free(script);
}

static long succeeded(const char *db)
{
    return th_sql_long(db, "SELECT count(*) FROM jobs WHERE state = 'succeeded'");
}

Test(chaos, postgres_down_during_intake, .timeout = 900)
{
    const int outage_s = chaos_size(5, 10);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    chaos_tag(run_tag);
    char *dir = chaos_path("outage-pg", "d");
    mkdir(dir, 0755);
    int pgport = th_free_port();
    char port_s[16];
    snprintf(port_s, sizeof(port_s), "%d", pgport);
    pg_script("start", dir, port_s);
    char *admin = xasprintf("postgresql://railhook@127.0.0.1:%d/postgres", pgport);
    free(th_sql(admin, "CREATE DATABASE railhook"));
    char *db = xasprintf("postgresql://railhook@127.0.0.1:%d/railhook", pgport);
    char *url = chaos_db_url(db);
    char *log = chaos_path("outage", "log");
    char *env_db = xasprintf("DATABASE_URL=%s", url);
    const char *menv[] = {env_db, "LOG_LEVEL=warn", NULL};
    const char *margv[] = {RAILHOOK_BIN_PATH, "migrate", NULL};
    int status = 0;
    waitpid(th_spawn(margv, menv, log), &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "migrate failed (see %s)", log);

    struct th_sim sim;
    chaos_sim_start(&sim, NULL);
    const char *extra[] = {"WORKERS=4", "DB_POOL_WAIT_MS=1000", NULL};
    struct chaos_proc p;
    chaos_serve(&p, "outage", url, &sim, log, extra);

    log_of = xcalloc(MAX_REQUESTS, sizeof(*log_of));
    target_port = p.port;
    pthread_t th[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        pthread_create(&th[i], NULL, client, NULL);

    usleep(3000 * 1000);
    long done_before = succeeded(db);
    pg_script("stop", dir, "immediate");
    int64_t down_ms = time_mono_ms();
    usleep((useconds_t)outage_s * 1000 * 1000);
    int64_t restart_ms = time_mono_ms();
    pg_script("start", dir, port_s);
    int64_t up_ms = time_mono_ms();
    long done_at_restart = succeeded(db);

    /* Recovery: a delivery sent after the restart is accepted, within 30 s. */
    int64_t recovered_ms = -1;
    while (recovered_ms < 0 && time_mono_ms() < up_ms + 30000) {
        int n = atomic_load(&next_index);
        for (int i = 0; i < n && i < MAX_REQUESTS; i++)
            if (log_of[i].status == 202 && log_of[i].sent_ms >= up_ms && log_of[i].done_ms > 0 &&
                (recovered_ms < 0 || log_of[i].done_ms < recovered_ms))
                recovered_ms = log_of[i].done_ms;
        usleep(100 * 1000);
    }
    usleep(3000 * 1000);
    atomic_store(&stop_load, true);
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(th[i], NULL);
    cr_assert_geq(recovered_ms, 0, "no delivery was accepted within 30 s of the restart");

    int total = atomic_load(&next_index);
    if (total > MAX_REQUESTS)
        total = MAX_REQUESTS;
    long n202 = 0, n503 = 0, during = 0, during_503 = 0;
    struct buf ids;
    buf_init(&ids, 0);
    buf_puts(&ids, "SELECT count(*) FROM jobs WHERE id IN (");
    for (int i = 0; i < total; i++) {
        const struct delivery *d = &log_of[i];
        cr_assert(d->status == 202 || d->status == 503,
                  "delivery %d answered %ld (sent %lld ms after the crash)", i, d->status,
                  (long long)(d->sent_ms - down_ms));
        bool in_outage = d->sent_ms >= down_ms && d->done_ms <= restart_ms;
        if (in_outage) {
            during++;
            cr_assert_eq(d->status, 503, "delivery %d got 202 while PostgreSQL was down", i);
            during_503++;
        }
        if (d->status == 202) {
            cr_assert(uuid_valid(d->job_id), "a 202 without a job id");
            buf_printf(&ids, "%s'%s'", n202 ? "," : "", d->job_id);
            n202++;
        } else {
            n503++;
        }
    }
    buf_puts(&ids, ")");
    cr_assert_gt(during, 0, "no delivery fell inside the outage");
    long stored = th_sql_long(db, ids.data);
    cr_assert_eq(stored, n202, "%ld of %ld accepted deliveries' jobs are in the database", stored,
                 n202);
    long deliveries = th_sql_long(db, "SELECT count(*) FROM deliveries");
    cr_assert_geq(deliveries, n202);

    char ready[96];
    snprintf(ready, sizeof(ready), "%s/readyz", p.base);
    cr_assert(th_wait_http(ready, 10000), "readyz does not recover");
    /* The worker pool recovered by itself too: jobs keep finishing. */
    int64_t end = time_mono_ms() + 60000;
    while (succeeded(db) < done_at_restart + 10 && time_mono_ms() < end)
        usleep(200 * 1000);
    long done_after = succeeded(db);
    cr_assert_geq(done_after, done_at_restart + 10, "the workers did not resume (%ld -> %ld)",
                  done_at_restart, done_after);
    cr_assert_eq(WEXITSTATUS(chaos_signal(&p, SIGTERM)), 0);

    const char *files[] = {log, NULL};
    chaos_assert_no_secrets(db, files);
    fprintf(stderr,
            "chaos outage: PostgreSQL down %d s; %d deliveries: %ld accepted (all %ld stored), "
            "%ld answered 503; %ld sent and answered during the outage, all 503; first 202 "
            "%lld ms after PostgreSQL was back; jobs finished before/at restart/after: "
            "%ld/%ld/%ld\n",
            outage_s, total, n202, stored, n503, during_503, (long long)(recovered_ms - up_ms),
            done_before, done_at_restart, done_after);

    buf_free(&ids);
    free(log_of);
    th_sim_stop(&sim);
    pg_script("stop", dir, "fast");
    free(env_db);
    free(log);
    free(url);
    free(db);
    free(admin);
    free(dir);
}
