/* Test support shared by the integration suites. */
#include "support/harness.h"

#include "handlers/events.h"
#include "handlers/intake.h"
#include "handlers/longpoll.h"
#include "railway/railway.h"

#include "util/log.h"
#include "util/util.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int atoi_safe(const char *s)
{
    return (int)strtol(s, NULL, 10);
}

static const char *pg_base(void)
{
    const char *base = getenv("RAILHOOK_TEST_PGURL");
    if (!base || !*base)
        cr_assert_fail("RAILHOOK_TEST_PGURL is not set: run the suite through `make test`");
    return base;
}

static PGconn *admin_conn(void)
{
    char *url = xasprintf("%s/postgres", pg_base());
    PGconn *c = PQconnectdb(url);
    free(url);
    if (PQstatus(c) != CONNECTION_OK)
        cr_assert_fail("cannot reach the test cluster: %s", PQerrorMessage(c));
    return c;
}

char *th_db_create(void)
{
    return th_db_create_from(getenv("RAILHOOK_TEST_TEMPLATE"));
}

char *th_db_create_from(const char *tmpl)
{
    char name[40];
    unsigned char rnd[8];
    char hex[17];
    random_bytes(rnd, sizeof(rnd));
    hex_encode(rnd, sizeof(rnd), hex);
    snprintf(name, sizeof(name), "t_%s", hex);
    PGconn *c = admin_conn();
    char *sql = xasprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl ? tmpl : "template1");
    /* Concurrent clones of one template can collide briefly; retry a few times. */
    for (int i = 0; i < 50; i++) {
        PGresult *r = PQexec(c, sql);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (ok)
            break;
        if (i == 49)
            cr_assert_fail("CREATE DATABASE failed: %s", PQerrorMessage(c));
        usleep(100 * 1000);
    }
    free(sql);
    PQfinish(c);
    return xasprintf("%s/%s", pg_base(), name);
}

void th_db_drop(char *url)
{
    if (!url)
        return;
    const char *name = strrchr(url, '/');
    PGconn *c = admin_conn();
    char *sql = xasprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name + 1);
    PQclear(PQexec(c, sql));
    free(sql);
    PQfinish(c);
    free(url);
}

PGresult *th_query(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK)
        cr_assert_fail("cannot connect: %s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
        cr_assert_fail("SQL failed: %s\n%s", sql, PQerrorMessage(c));
    PQfinish(c);
    return r;
}

char *th_sql(const char *url, const char *sql)
{
    PGresult *r = th_query(url, sql);
    char *out = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        out = xstrdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return out;
}

long th_sql_long(const char *url, const char *sql)
{
    char *v = th_sql(url, sql);
    long n = v ? strtol(v, NULL, 10) : 0;
    free(v);
    return n;
}

bool th_wait_sql_long(const char *url, const char *sql, long want, int timeout_ms)
{
    int64_t end = time_mono_ms() + timeout_ms;
    while (th_sql_long(url, sql) != want) {
        if (time_mono_ms() > end)
            return false;
        usleep(50 * 1000);
    }
    return true;
}

void th_server_start(struct th_server *ts, const char *db_url)
{
    memset(ts, 0, sizeof(*ts));
    setenv("DATABASE_URL", db_url, 1);
    setenv("PORT", "0", 1);
    setenv("BIND_ADDRESS", "127.0.0.1", 1);
    if (!getenv("LOG_LEVEL"))
        setenv("LOG_LEVEL", "warn", 1);
    char err[256];
    if (!config_load(&ts->cfg, CONFIG_NEED_DATABASE, err, sizeof(err)))
        cr_assert_fail("config: %s", err);
    enum log_level level = LOG_WARN;
    log_level_parse(ts->cfg.log_level, &level);
    log_setup(level, false, 2);
    ts->app.cfg = &ts->cfg;
    ts->app.store = store_open(ts->cfg.database_url, ts->cfg.db_pool_size, ts->cfg.db_pool_wait_ms,
                               ts->cfg.queue_listen);
    ts->app.longpoll = longpoll_start(ts->app.store);
    ts->app.limiter = railway_limiter_new(ts->cfg.railway_max_rps, ts->cfg.railway_hourly_budget);
    ts->app.events = events_start(ts->app.store, ts->cfg.events_max_streams);
    longpoll_events_set(ts->app.longpoll, ts->app.events);
    ts->app.intake = intake_start(&ts->cfg, ts->app.store, err, sizeof(err));
    if (!ts->app.intake)
        cr_assert_fail("intake: %s", err);
    ts->srv = http_server_start(&ts->app, err, sizeof(err));
    if (!ts->srv)
        cr_assert_fail("server: %s", err);
    ts->port = http_server_port(ts->srv);
    snprintf(ts->base, sizeof(ts->base), "http://127.0.0.1:%d", ts->port);
}

void th_server_stop(struct th_server *ts)
{
    longpoll_release_all(ts->app.longpoll);
    events_close_all(ts->app.events);
    http_server_stop(ts->srv, 1000);
    longpoll_events_set(ts->app.longpoll, NULL);
    longpoll_stop(ts->app.longpoll);
    ts->app.longpoll = NULL;
    events_stop(ts->app.events);
    ts->app.events = NULL;
    ts->srv = NULL;
    intake_stop(ts->app.intake);
    ts->app.intake = NULL;
    store_close(ts->app.store);
    ts->app.store = NULL;
    railway_limiter_free(ts->app.limiter);
    ts->app.limiter = NULL;
    config_free(&ts->cfg);
}

static size_t on_body(char *ptr, size_t size, size_t n, void *ud)
{
    buf_append(ud, ptr, size * n);
    return size * n;
}

/* Appends the exchange to $RAILHOOK_TEST_TMP/responses/<pid>.jsonl so the suite can check
 * every response against openapi.yaml afterwards (tests/js/check-responses.mjs). */
static void record_response(const char *method, const char *url, long status,
                            const struct buf *headers, const struct buf *body)
{
    const char *tmp = getenv("RAILHOOK_TEST_TMP");
    const char *path_start = strstr(url, "://");
    if (!tmp || !path_start)
        return;
    path_start = strchr(path_start + 3, '/');
    /* The simulator's control endpoints are not railhook's API. */
    if (!path_start || strncmp(path_start, "/_sim/", 6) == 0)
        return;
    char *dir = xasprintf("%s/responses", tmp);
    mkdir(dir, 0755);
    char *file = xasprintf("%s/%d.jsonl", dir, (int)getpid());
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddStringToObject(rec, "method", method);
    char *path = xstrndup(path_start, strcspn(path_start, "?"));
    cJSON_AddStringToObject(rec, "path", path);
    cJSON_AddNumberToObject(rec, "status", (double)status);
    char *ct = NULL;
    struct th_response tmpres = {.headers = headers->data};
    ct = th_response_header(&tmpres, "Content-Type");
    cJSON_AddStringToObject(rec, "content_type", ct ? ct : "");
    cJSON_AddStringToObject(rec, "body", body->data ? body->data : "");
    char *line = cJSON_PrintUnformatted(rec);
    FILE *f = fopen(file, "a");
    if (f) {
        fprintf(f, "%s\n", line);
        fclose(f);
    }
    cJSON_free(line);
    cJSON_Delete(rec);
    free(ct);
    free(path);
    free(file);
    free(dir);
}

void th_http(struct th_response *out, const char *method, const char *url,
             const char *const *headers, const char *body, size_t body_len)
{
    memset(out, 0, sizeof(*out));
    CURL *h = curl_easy_init();
    struct buf b, hd;
    buf_init(&b, 0);
    buf_init(&hd, 0);
    struct curl_slist *list = NULL;
    bool expect = false;
    for (const char *const *p = headers; p && *p; p++) {
        list = curl_slist_append(list, *p);
        expect = expect || strncasecmp(*p, "Expect:", 7) == 0;
    }
    /* Large bodies go as curl sends them, after "Expect: 100-continue", so a body refused
     * from its headers (413, 503) is answered before it is sent: railhook closes a connection
     * whose body it will not read. Small ones go at once. */
    if (!expect)
        list = curl_slist_append(list, body_len > 65536 ? "Expect: 100-continue" : "Expect:");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &hd);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)body_len);
    }
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK)
        cr_assert_fail("%s %s: %s", method, url, curl_easy_strerror(rc));
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
    record_response(method, url, out->status, &hd, &b);
    out->body_len = b.len;
    out->body = buf_steal(&b);
    out->headers = buf_steal(&hd);
    curl_slist_free_all(list);
    curl_easy_cleanup(h);
}

void th_response_free(struct th_response *r)
{
    free(r->body);
    free(r->headers);
    r->body = NULL;
    r->headers = NULL;
}

char *th_response_header(const struct th_response *r, const char *name)
{
    size_t n = strlen(name);
    const char *p = r->headers;
    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            return xstrndup(v, len - (size_t)(v - p));
        }
        p = eol ? eol + 2 : p + len;
    }
    return NULL;
}

char *th_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        cr_assert_fail("cannot read %s", path);
    struct buf b;
    buf_init(&b, 0);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&b, chunk, n);
    fclose(f);
    if (len)
        *len = b.len;
    return buf_steal(&b);
}

char *th_fixture_read(const char *rel, size_t *len)
{
    const char *dir = getenv("RAILHOOK_FIXTURES");
    char *path = dir ? xasprintf("%s/%s", dir, rel)
                     : xasprintf("%s/../shared/fixtures/%s", RAILHOOK_SOURCE_DIR, rel);
    char *data = NULL;
    struct stat st;
    if (stat(path, &st) == 0)
        data = th_read_file(path, len);
    free(path);
    return data;
}

cJSON *th_fixture_json(const char *rel)
{
    size_t len = 0;
    char *text = th_fixture_read(rel, &len);
    if (!text)
        return NULL;
    cJSON *j = cJSON_ParseWithLength(text, len);
    cr_assert_not_null(j, "%s is not JSON", rel);
    free(text);
    return j;
}

const char *th_railhook_bin(void)
{
    const char *bin = getenv("RAILHOOK_BIN");
    return bin && *bin ? bin : RAILHOOK_BIN_PATH;
}

const char *th_test_server_bin(void)
{
    static char self[4096];
    const char *bin = getenv("RAILHOOK_TEST_SERVER");
    if (bin && *bin)
        return bin;
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    cr_assert(n > 0 && (size_t)n < sizeof(self) - 1, "cannot find the test binary");
    self[n] = '\0';
    return self;
}

pid_t th_spawn(const char *const *argv, const char *const *env, const char *log_path)
{
    pid_t pid = fork();
    if (pid < 0)
        cr_assert_fail("fork failed");
    if (pid == 0) {
        /* Criterion's sandbox marker: a spawned test binary (th_test_server_bin()) must not
         * take itself for a test worker. */
        unsetenv("BXFI_MAP");
        for (const char *const *e = env; e && *e; e++)
            putenv(xstrdup(*e));
        if (log_path) {
            int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
                close(fd);
            }
        }
        char *args[32];
        int n = 0;
        for (; argv[n] && n < 31; n++)
            args[n] = xstrdup(argv[n]);
        args[n] = NULL;
        if (strcmp(args[0], RAILHOOK_BIN_PATH) == 0) {
            free(args[0]);
            args[0] = xstrdup(th_railhook_bin());
        }
        execv(args[0], args);
        _exit(127);
    }
    return pid;
}

bool th_wait_http(const char *url, int timeout_ms)
{
    int64_t deadline = time_mono_ms() + timeout_ms;
    while (time_mono_ms() < deadline) {
        CURL *h = curl_easy_init();
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        long status = 0;
        if (curl_easy_perform(h) == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(h);
        if (status == 200)
            return true;
        usleep(50 * 1000);
    }
    return false;
}

int th_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        cr_assert_fail("cannot find a free port");
    int port = ntohs(a.sin_port);
    close(fd);
    return port;
}

void th_sim_start(struct th_sim *sim, const char *const *flags)
{
    memset(sim, 0, sizeof(*sim));
    const char *bin = getenv("RAILWAY_SIM");
#ifdef RAILWAY_SIM_PATH
    if (!bin)
        bin = RAILWAY_SIM_PATH;
#endif
    if (!bin)
        cr_assert_fail("the Railway simulator was not built");
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    const char *argv[40] = {bin, "--port", "0", "--quiet"};
    int n = 4;
    for (const char *const *f = flags; f && *f && n < 39; f++)
        argv[n++] = *f;
    argv[n] = NULL;
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        char *args[40];
        for (int i = 0; i <= n; i++)
            args[i] = argv[i] ? xstrdup(argv[i]) : NULL;
        execv(args[0], args);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[256] = "";
    if (!fgets(line, sizeof(line), f))
        cr_assert_fail("railway-sim printed nothing");
    fclose(f);
    const char *p = strstr(line, "127.0.0.1:");
    cr_assert_not_null(p, "unexpected first line: %s", line);
    sim->pid = pid;
    sim->port = atoi_safe(p + 10);
    snprintf(sim->base, sizeof(sim->base), "http://127.0.0.1:%d", sim->port);
    snprintf(sim->url, sizeof(sim->url), "%s/graphql/v2", sim->base);
    setenv("RAILWAY_API_URL", sim->url, 1);
    setenv("RAILWAY_TOKEN", "sim-account-token", 1);
    setenv("RAILWAY_PROJECT_ID", "proj-sim", 1);
    setenv("RAILWAY_ENVIRONMENT_ID", "env-sim", 1);
    setenv("WORKER_REPO", "acme/osp", 1);
    setenv("WORKER_BRANCH", "main", 1);
}

void th_sim_stop(struct th_sim *sim)
{
    if (sim->pid > 0) {
        kill(sim->pid, SIGTERM);
        waitpid(sim->pid, NULL, 0);
    }
    sim->pid = 0;
}

cJSON *th_sim_state(const struct th_sim *sim)
{
    char url[128];
    snprintf(url, sizeof(url), "%s/_sim/state", sim->base);
    struct th_response r;
    th_http(&r, "GET", url, NULL, NULL, 0);
    cr_assert_eq(r.status, 200);
    cJSON *j = cJSON_Parse(r.body);
    cr_assert_not_null(j);
    th_response_free(&r);
    return j;
}

void th_sim_config(const struct th_sim *sim, const char *json)
{
    char url[128];
    snprintf(url, sizeof(url), "%s/_sim/config", sim->base);
    struct th_response r;
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    th_http(&r, "POST", url, hdrs, json, strlen(json));
    cr_assert_eq(r.status, 200, "sim config refused: %s", r.body);
    th_response_free(&r);
}

int th_sim_count_services(const struct th_sim *sim, const char *name)
{
    cJSON *st = th_sim_state(sim);
    int n = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(st, "services"))
    {
        const cJSON *nm = cJSON_GetObjectItem(s, "name");
        if (cJSON_IsString(nm) && strcmp(nm->valuestring, name) == 0 &&
            !cJSON_IsTrue(cJSON_GetObjectItem(s, "deleted")))
            n++;
    }
    cJSON_Delete(st);
    return n;
}
