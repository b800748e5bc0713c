/* Support for the resilience suite: processes, load, and the closing checks. */
#include "chaos/chaos.h"

#include "util/util.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

bool chaos_full(void)
{
    const char *s = getenv("CHAOS_SCALE");
    return s && strcmp(s, "full") == 0;
}

int chaos_size(int short_n, int full_n)
{
    return chaos_full() ? full_n : short_n;
}

void chaos_tag(char out[8])
{
    unsigned char rnd[3];
    char hex[7];
    random_bytes(rnd, sizeof(rnd));
    hex_encode(rnd, sizeof(rnd), hex);
    snprintf(out, 8, "c%s", hex);
}

char *chaos_path(const char *name, const char *ext)
{
    const char *tmp = getenv("RAILHOOK_TEST_TMP");
    return xasprintf("%s/chaos-%s-%d.%s", tmp && *tmp ? tmp : "/tmp", name, (int)getpid(), ext);
}

char *chaos_db_url(const char *db_url)
{
    const char *scheme = strstr(db_url, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    cr_assert_not_null(at, "unexpected database URL shape");
    return xasprintf("%.*s:%s%s", (int)(at - db_url), db_url, CHAOS_DB_PASSWORD, at);
}

void chaos_sim_start(struct th_sim *sim, const char *const *extra_flags)
{
    const char *flags[36] = {
        "--token", CHAOS_RAILWAY_TOKEN,   "--rps", "5000", "--hourly", "100000000", "--build-ms",
        "300",     "--instance-delay-ms", "100"};
    int n = 10;
    for (const char *const *f = extra_flags; f && *f && n < 35; f++)
        flags[n++] = *f;
    flags[n] = NULL;
    th_sim_start(sim, flags);
}

void chaos_serve(struct chaos_proc *p, const char *name, const char *db_url,
                 const struct th_sim *sim, const char *log_path, const char *const *extra)
{
    memset(p, 0, sizeof(*p));
    p->port = th_free_port();
    snprintf(p->name, sizeof(p->name), "%s", name);
    snprintf(p->base, sizeof(p->base), "http://127.0.0.1:%d", p->port);
    snprintf(p->log, sizeof(p->log), "%s", log_path);
    char *owned[8];
    int nowned = 0;
    owned[nowned++] = xasprintf("DATABASE_URL=%s", db_url);
    owned[nowned++] = xasprintf("PORT=%d", p->port);
    owned[nowned++] = xasprintf("INSTANCE_ID=%s", name);
    owned[nowned++] =
        xasprintf("RAILWAY_API_URL=%s", sim ? sim->url : "http://127.0.0.1:9/graphql/v2");
    const char *env[80] = {owned[0],
                           owned[1],
                           owned[2],
                           owned[3],
                           "BIND_ADDRESS=127.0.0.1",
                           "LOG_LEVEL=info",
                           "API_AUTH=token",
                           "API_TOKEN=" CHAOS_API_TOKEN,
                           "API_ADMIN_TOKEN=" CHAOS_ADMIN_TOKEN,
                           "SUPABASE_WEBHOOK_SECRET=" CHAOS_SUPABASE_SECRET,
                           "SUPABASE_WEBHOOK_SIGNING_SECRET=" CHAOS_SIGNING_SECRET,
                           "GITHUB_WEBHOOK_SECRET=" CHAOS_GITHUB_SECRET,
                           "RAILWAY_TOKEN=" CHAOS_RAILWAY_TOKEN,
                           "RAILWAY_PROJECT_ID=proj-sim",
                           "RAILWAY_ENVIRONMENT_ID=env-sim",
                           "WORKER_REPO=acme/osp",
                           "WORKER_BRANCH=main",
                           "RAILWAY_MAX_RPS=1000",
                           "RAILWAY_HOURLY_BUDGET=1000000",
                           "DEPLOY_POLL_MIN_MS=100",
                           "DEPLOY_POLL_MAX_MS=300",
                           "RETRY_BASE_MS=100",
                           "RETRY_MAX_MS=500",
                           "PUSH_DEPLOY_GRACE_S=1",
                           "QUEUE_POLL_MS=200",
                           "JOB_LEASE_S=2",
                           "WORKERS=8",
                           "SHUTDOWN_GRACE_S=5"};
    int n = 0;
    while (env[n])
        n++;
    for (const char *const *e = extra; e && *e && n < 79; e++)
        env[n++] = *e;
    env[n] = NULL;
    const char *argv[] = {RAILHOOK_BIN_PATH, "serve", NULL};
    p->pid = th_spawn(argv, env, log_path);
    for (int i = 0; i < nowned; i++)
        free(owned[i]);
    char url[96];
    snprintf(url, sizeof(url), "%s/healthz", p->base);
    cr_assert(th_wait_http(url, 60000), "railhook %s did not become healthy (log: %s)", name,
              log_path);
}

int chaos_signal(struct chaos_proc *p, int sig)
{
    int status = 0;
    if (p->pid <= 0)
        return 0;
    kill(p->pid, sig);
    waitpid(p->pid, &status, 0);
    p->pid = 0;
    return status;
}

static size_t on_body(char *ptr, size_t size, size_t n, void *ud)
{
    buf_append(ud, ptr, size * n);
    return size * n;
}

long chaos_post_insert(void *curl, int port, const char *tag, int i, char job_id[37],
                       long timeout_ms)
{
    CURL *h = curl;
    char url[96], body[400];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/webhooks/supabase", port);
    snprintf(body, sizeof(body),
             "{\"type\":\"INSERT\",\"table\":\"manifests\",\"schema\":\"public\",\"record\":{"
             "\"id\":\"%s-%d\",\"service_schema\":\"%s_%d\",\"status\":\"pending\"},"
             "\"old_record\":null}",
             tag, i, tag, i);
    struct curl_slist *hd = NULL;
    hd = curl_slist_append(hd, "Content-Type: application/json");
    hd = curl_slist_append(hd, "Authorization: Bearer " CHAOS_SUPABASE_SECRET);
    hd = curl_slist_append(hd, "Expect:");
    struct buf b;
    buf_init(&b, 1u << 16);
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (job_id) {
        job_id[0] = '\0';
        cJSON *j = b.len ? cJSON_ParseWithLength(b.data, b.len) : NULL;
        const cJSON *id = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "job_ids"), 0);
        if (cJSON_IsString(id))
            snprintf(job_id, 37, "%s", id->valuestring);
        cJSON_Delete(j);
    }
    buf_free(&b);
    curl_slist_free_all(hd);
    return status;
}

void chaos_post_inserts(int port, const char *tag, int n)
{
    CURL *h = curl_easy_init();
    for (int i = 0; i < n; i++) {
        char id[37];
        long st = chaos_post_insert(h, port, tag, i, id, 30000);
        cr_assert_eq(st, 202, "delivery %d answered %ld", i, st);
        cr_assert(uuid_valid(id), "delivery %d: no job id", i);
    }
    curl_easy_cleanup(h);
}

void chaos_tally(const char *db, struct chaos_tally *t)
{
    PGresult *r = th_query(
        db, "SELECT count(*), count(*) FILTER (WHERE state = 'queued'), count(*) FILTER (WHERE "
            "state = 'running'), count(*) FILTER (WHERE state = 'succeeded'), count(*) FILTER "
            "(WHERE state = 'failed'), count(*) FILTER (WHERE state = 'cancelled'), "
            "coalesce(sum(rescues), 0), count(*) FILTER (WHERE attempt > 1) FROM jobs");
    long *f[] = {&t->jobs,   &t->queued,    &t->running, &t->succeeded,
                 &t->failed, &t->cancelled, &t->rescues, &t->attempts_over_1};
    for (int i = 0; i < 8; i++)
        *f[i] = strtol(PQgetvalue(r, 0, i), NULL, 10);
    PQclear(r);
}

bool chaos_wait_finished(const char *db, long n, int64_t timeout_ms)
{
    int64_t end = time_mono_ms() + timeout_ms;
    for (;;) {
        struct chaos_tally t;
        chaos_tally(db, &t);
        if (t.succeeded + t.failed + t.cancelled >= n)
            return true;
        if (time_mono_ms() > end)
            return false;
        usleep(200 * 1000);
    }
}

bool chaos_wait_terminal(const char *db, int64_t timeout_ms)
{
    int64_t end = time_mono_ms() + timeout_ms;
    for (;;) {
        struct chaos_tally t;
        chaos_tally(db, &t);
        if (t.queued == 0 && t.running == 0)
            return true;
        if (time_mono_ms() > end)
            return false;
        usleep(200 * 1000);
    }
}

struct sim_svc {
    const char *name;
    bool live;
    bool claimed; /* matched by a succeeded job */
};

void chaos_assert_services(const char *db, const struct th_sim *sim, struct chaos_services *out)
{
    cJSON *st = th_sim_state(sim);
    const cJSON *services = cJSON_GetObjectItem(st, "services");
    int nsvc = cJSON_GetArraySize(services);
    struct sim_svc *svc = xcalloc((size_t)nsvc + 1, sizeof(*svc));
    int i = 0, live = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, services)
    {
        const cJSON *nm = cJSON_GetObjectItem(s, "name");
        svc[i].name = cJSON_IsString(nm) ? nm->valuestring : "";
        svc[i].live = !cJSON_IsTrue(cJSON_GetObjectItem(s, "deleted"));
        live += svc[i].live;
        i++;
    }
    PGresult *r = th_query(db, "SELECT service_name, state, id FROM jobs WHERE kind = "
                               "'provision' ORDER BY created_at");
    for (int row = 0; row < PQntuples(r); row++) {
        const char *name = PQgetvalue(r, row, 0);
        const char *state = PQgetvalue(r, row, 1);
        int nlive = 0, ncreated = 0;
        for (int k = 0; k < nsvc; k++) {
            if (strcmp(svc[k].name, name) != 0)
                continue;
            ncreated++;
            if (svc[k].live) {
                nlive++;
                if (strcmp(state, "succeeded") == 0)
                    svc[k].claimed = true;
            }
        }
        if (strcmp(state, "succeeded") == 0)
            cr_assert(nlive == 1 && ncreated == 1,
                      "job %s (%s) succeeded but Railway holds %d live of %d created services",
                      PQgetvalue(r, row, 2), name, nlive, ncreated);
        else if (strcmp(state, "failed") == 0 || strcmp(state, "cancelled") == 0)
            cr_assert_eq(nlive, 0, "job %s (%s) %s but left %d live services (orphans)",
                         PQgetvalue(r, row, 2), name, state, nlive);
        else
            cr_assert_fail("job %s (%s) is still %s", PQgetvalue(r, row, 2), name, state);
    }
    for (int k = 0; k < nsvc; k++)
        cr_assert(!svc[k].live || svc[k].claimed,
                  "orphan: Railway holds %s, which no succeeded job provisioned", svc[k].name);
    const cJSON *counts = cJSON_GetObjectItem(st, "counts");
    if (out) {
        out->live = live;
        out->created = nsvc;
        const cJSON *create =
            cJSON_GetObjectItem(cJSON_GetObjectItem(counts, "by_operation"), "ServiceCreate");
        out->service_creates = cJSON_IsNumber(create) ? create->valueint : 0;
        out->railway_requests = (long)cJSON_GetNumberValue(cJSON_GetObjectItem(counts, "requests"));
    }
    PQclear(r);
    free(svc);
    cJSON_Delete(st);
}

void chaos_assert_rolled_back(const char *db)
{
    PGresult *r = th_query(
        db, "SELECT j.id, j.service_name FROM jobs j WHERE j.kind = 'provision' AND j.state = "
            "'failed' AND NOT EXISTS (SELECT 1 FROM job_events e WHERE e.job_id = j.id AND "
            "(e.message = 'rolled_back' OR e.message LIKE 'rollback: %'))");
    cr_assert_eq(PQntuples(r), 0, "failed job %s (%s) was not rolled back",
                 PQntuples(r) ? PQgetvalue(r, 0, 0) : "", PQntuples(r) ? PQgetvalue(r, 0, 1) : "");
    PQclear(r);
}

static char *pg_dump_path(void)
{
    glob_t g;
    char *out = NULL;
    if (glob("/usr/lib/postgresql/*/bin/pg_dump", 0, NULL, &g) == 0 && g.gl_pathc > 0)
        out = xstrdup(g.gl_pathv[g.gl_pathc - 1]);
    globfree(&g);
    return out;
}

static void grep_secrets(const char *path, const char *what)
{
    static const char *const secrets[][2] = {
        {"RAILWAY_TOKEN", CHAOS_RAILWAY_TOKEN},
        {"GITHUB_WEBHOOK_SECRET", CHAOS_GITHUB_SECRET},
        {"SUPABASE_WEBHOOK_SECRET", CHAOS_SUPABASE_SECRET},
        {"SUPABASE_WEBHOOK_SIGNING_SECRET", CHAOS_SIGNING_SECRET},
        {"API_TOKEN", CHAOS_API_TOKEN},
        {"API_ADMIN_TOKEN", CHAOS_ADMIN_TOKEN},
        {"the database password", CHAOS_DB_PASSWORD},
    };
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    fclose(f);
    size_t len = 0;
    char *text = th_read_file(path, &len);
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        cr_assert_null(memmem(text, len, secrets[i][1], strlen(secrets[i][1])),
                       "%s appears in %s (%s)", secrets[i][0], what, path);
    free(text);
}

void chaos_assert_no_secrets(const char *db, const char *const *files)
{
    for (const char *const *f = files; f && *f; f++)
        grep_secrets(*f, "a log");
    if (!db)
        return;
    char *bin = pg_dump_path();
    cr_assert_not_null(bin, "pg_dump not found");
    char *dump = chaos_path("dump", "sql");
    char *log = chaos_path("dump", "log");
    const char *argv[] = {bin, "--data-only", "--no-owner", "-f", dump, "-d", db, NULL};
    pid_t pid = th_spawn(argv, NULL, log);
    int status = 0;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "pg_dump failed (see %s)", log);
    grep_secrets(dump, "the database (jobs, events, deliveries)");
    free(bin);
    free(dump);
    free(log);
}
