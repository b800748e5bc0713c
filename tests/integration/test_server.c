/* The real HTTP server on a loopback port: health, readiness, routing, errors, body caps,
 * request ids, graceful shutdown of the real binary, and its JSON log lines. */
#include "support/harness.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static struct th_server ts;
static char *db;

static void start(void)
{
    db = th_db_create();
    th_server_start(&ts, db);
}

static void stop(void)
{
    th_server_stop(&ts);
    th_db_drop(db);
}

static cJSON *error_of(const struct th_response *r)
{
    cJSON *j = cJSON_Parse(r->body);
    cr_assert_not_null(j, "body is not JSON: %s", r->body);
    cJSON *e = cJSON_GetObjectItem(j, "error");
    cr_assert(cJSON_IsObject(e), "no error object: %s", r->body);
    cr_assert(cJSON_IsString(cJSON_GetObjectItem(e, "code")));
    cr_assert(cJSON_IsString(cJSON_GetObjectItem(e, "message")));
    cr_assert(cJSON_IsString(cJSON_GetObjectItem(e, "request_id")));
    return j;
}

Test(server, healthz_and_readyz, .init = start, .fini = stop)
{
    struct th_response r;
    char url[128];
    snprintf(url, sizeof(url), "%s/healthz", ts.base);
    th_http(&r, "GET", url, NULL, NULL, 0);
    cr_assert_eq(r.status, 200);
    cr_assert_not_null(strstr(r.body, "\"status\":\"ok\""));
    th_response_free(&r);

    snprintf(url, sizeof(url), "%s/readyz", ts.base);
    th_http(&r, "GET", url, NULL, NULL, 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_not_null(strstr(r.body, "\"status\":\"ready\""));
    th_response_free(&r);
}

Test(server, readyz_reports_pending_migrations, .init = start, .fini = stop)
{
    free(th_sql(db, "DELETE FROM schema_migrations"));
    struct th_response r;
    char url[128];
    snprintf(url, sizeof(url), "%s/readyz", ts.base);
    th_http(&r, "GET", url, NULL, NULL, 0);
    cr_assert_eq(r.status, 503);
    cJSON *j = error_of(&r);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "code")->valuestring,
                     "migrations_pending");
    cJSON_Delete(j);
    th_response_free(&r);
}

Test(server, readyz_reports_unreachable_database)
{
    char *url_db =
        xasprintf("postgresql://railhook@127.0.0.1:%d/none?connect_timeout=2", th_free_port());
    setenv("DB_POOL_WAIT_MS", "500", 1);
    th_server_start(&ts, url_db);
    struct th_response r;
    char url[128];
    snprintf(url, sizeof(url), "%s/readyz", ts.base);
    th_http(&r, "GET", url, NULL, NULL, 0);
    cr_assert_eq(r.status, 503);
    char *ra = th_response_header(&r, "Retry-After");
    cr_assert_not_null(ra);
    free(ra);
    cJSON_Delete(error_of(&r));
    th_response_free(&r);
    th_server_stop(&ts);
    free(url_db);
}

Test(server, unknown_path_and_wrong_method, .init = start, .fini = stop)
{
    struct th_response r;
    char url[128];
    snprintf(url, sizeof(url), "%s/nope", ts.base);
    th_http(&r, "GET", url, NULL, NULL, 0);
    cr_assert_eq(r.status, 404);
    cJSON_Delete(error_of(&r));
    th_response_free(&r);

    snprintf(url, sizeof(url), "%s/healthz", ts.base);
    th_http(&r, "DELETE", url, NULL, NULL, 0);
    cr_assert_eq(r.status, 405);
    char *allow = th_response_header(&r, "Allow");
    cr_assert_not_null(allow);
    cr_assert_str_eq(allow, "GET");
    free(allow);
    cJSON_Delete(error_of(&r));
    th_response_free(&r);
}

Test(server, request_id_is_echoed_or_generated, .init = start, .fini = stop)
{
    struct th_response r;
    char url[128];
    snprintf(url, sizeof(url), "%s/nope", ts.base);
    const char *hdrs[] = {"X-Request-Id: abc-123", NULL};
    th_http(&r, "GET", url, hdrs, NULL, 0);
    char *rid = th_response_header(&r, "X-Request-Id");
    cr_assert_str_eq(rid, "abc-123");
    cr_assert_not_null(strstr(r.body, "\"request_id\":\"abc-123\""));
    free(rid);
    th_response_free(&r);

    const char *bad[] = {"X-Request-Id: has spaces \"and quotes\"", NULL};
    th_http(&r, "GET", url, bad, NULL, 0);
    rid = th_response_header(&r, "X-Request-Id");
    cr_assert(uuid_valid(rid), "a unsafe id is replaced by a generated one: %s", rid);
    free(rid);
    th_response_free(&r);
}

Test(server, body_over_cap_is_413_from_content_length, .init = start, .fini = stop)
{
    size_t n = (size_t)ts.cfg.max_body_bytes + 1;
    char *body = xmalloc(n);
    memset(body, 'a', n);
    struct th_response r;
    char url[128];
    snprintf(url, sizeof(url), "%s/healthz", ts.base);
    th_http(&r, "POST", url, NULL, body, n);
    cr_assert_eq(r.status, 413);
    cJSON_Delete(error_of(&r));
    th_response_free(&r);
    free(body);
}

static void start_open(void)
{
    setenv("API_AUTH", "none", 1);
    start();
}

Test(server, chunked_body_over_cap_is_413_while_streaming, .init = start_open, .fini = stop)
{
    size_t n = (size_t)ts.cfg.max_body_bytes * 2;
    char *body = xmalloc(n);
    memset(body, 'b', n);
    struct th_response r;
    char url[128];
    snprintf(url, sizeof(url), "%s/jobs", ts.base);
    /* Chunked encoding: no Content-Length, the cap applies while the body streams in. */
    const char *hdrs[] = {"Transfer-Encoding: chunked", "Content-Type: application/json", NULL};
    th_http(&r, "POST", url, hdrs, body, n);
    cr_assert_eq(r.status, 413);
    th_response_free(&r);
    free(body);

    /* The server still answers. */
    snprintf(url, sizeof(url), "%s/healthz", ts.base);
    th_http(&r, "GET", url, NULL, NULL, 0);
    cr_assert_eq(r.status, 200);
    th_response_free(&r);
}

static int connect_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

Test(process, sigterm_during_a_request_completes_it_and_exits_zero, .timeout = 60)
{
    db = th_db_create();
    int port = th_free_port();
    char env_db[512], env_port[32];
    snprintf(env_db, sizeof(env_db), "DATABASE_URL=%s", db);
    snprintf(env_port, sizeof(env_port), "PORT=%d", port);
    const char *env[] = {env_db,
                         env_port,
                         "BIND_ADDRESS=127.0.0.1",
                         "LOG_LEVEL=warn",
                         "SHUTDOWN_GRACE_S=10",
                         "WORKERS=0",
                         "API_AUTH=none",
                         NULL};
    const char *argv[] = {RAILHOOK_BIN_PATH, "serve", NULL};
    pid_t pid = th_spawn(argv, env, NULL);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", port);
    cr_assert(th_wait_http(url, 15000), "railhook did not become healthy");

    /* Start a request whose body is still arriving, then ask the process to stop. */
    int fd = connect_port(port);
    const char *head = "POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: 10\r\n\r\n{\"a\":";
    cr_assert_gt(write(fd, head, strlen(head)), 0);
    usleep(200 * 1000);
    kill(pid, SIGTERM);
    usleep(300 * 1000);
    cr_assert_gt(write(fd, "1234}", 5), 0);
    char resp[2048] = {0};
    size_t got = 0;
    ssize_t n;
    while (got < sizeof(resp) - 1 && (n = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
        got += (size_t)n;
    close(fd);
    /* Read whole and answered: the job has no kind. */
    cr_assert_not_null(strstr(resp, "HTTP/1.1 422"), "in-flight request got: %s", resp);
    cr_assert_not_null(strstr(resp, "\"field\":\"kind\""), "in-flight request got: %s", resp);

    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status), "railhook did not exit normally");
    cr_assert_eq(WEXITSTATUS(status), 0);
    th_db_drop(db);
}

/* Asserts that every line of the log at path is a JSON object and that some line's "error"
 * holds libpq's whole reason for the refused connection to port (it quotes the host). Returns
 * how many lines the log has. */
static int assert_json_log_keeps_db_error(const char *path, int port)
{
    char *log = th_read_file(path, NULL);
    char *reason = xasprintf("connection to server at \"127.0.0.1\", port %d failed: Connection "
                             "refused\n\tIs the server running on that host and accepting TCP/IP "
                             "connections?",
                             port);
    int lines = 0, whole = 0;
    for (char *line = log, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        cr_assert_not_null(nl, "the log ends inside a line: %s", line);
        *nl = '\0';
        cJSON *j = cJSON_Parse(line);
        cr_assert(cJSON_IsObject(j), "a log line is not JSON: %s", line);
        cr_assert(cJSON_IsString(cJSON_GetObjectItem(j, "msg")), "%s", line);
        const cJSON *e = cJSON_GetObjectItem(j, "error");
        if (cJSON_IsString(e) && strstr(e->valuestring, reason))
            whole++;
        cJSON_Delete(j);
        lines++;
    }
    cr_assert_gt(whole, 0, "no line holds the whole database error (%s)", reason);
    free(reason);
    free(log);
    return lines;
}

static void log_path_for(char *out, size_t n, const char *what)
{
    const char *tmp = getenv("RAILHOOK_TEST_TMP");
    snprintf(out, n, "%s/json-log-%s-%d.log", tmp ? tmp : "/tmp", what, (int)getpid());
    unlink(out);
}

Test(process, json_log_lines_parse_and_keep_the_database_error_whole, .timeout = 60)
{
    int db_port = th_free_port(); /* nothing listens there */
    int port = th_free_port();
    while (port == db_port)
        port = th_free_port();
    char env_db[128], env_port[32], log_path[256];
    snprintf(env_db, sizeof(env_db),
             "DATABASE_URL=postgresql://railhook@127.0.0.1:%d/none?connect_timeout=2", db_port);
    snprintf(env_port, sizeof(env_port), "PORT=%d", port);
    log_path_for(log_path, sizeof(log_path), "serve");
    const char *env[] = {env_db,
                         env_port,
                         "BIND_ADDRESS=127.0.0.1",
                         "LOG_LEVEL=debug",
                         "LOG_FORMAT=json",
                         "WORKERS=1",
                         "API_AUTH=none",
                         "DB_POOL_WAIT_MS=500",
                         NULL};
    const char *argv[] = {RAILHOOK_BIN_PATH, "serve", NULL};
    pid_t pid = th_spawn(argv, env, log_path);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", port);
    cr_assert(th_wait_http(url, 15000), "railhook did not become healthy");
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", port);
    struct th_response r;
    th_http(&r, "GET", url, NULL, NULL, 0);
    cr_assert_eq(r.status, 503);
    th_response_free(&r);
    /* The dispatcher logs its first failed connection once it has tried. */
    bool tried = false;
    for (int i = 0; i < 150 && !tried; i++) {
        char *log = th_read_file(log_path, NULL);
        tried = strstr(log, "job dispatcher cannot reach the database") != NULL;
        free(log);
        if (!tried)
            usleep(100 * 1000);
    }
    cr_assert(tried, "the job dispatcher never reported the database error");
    kill(pid, SIGTERM);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_geq(assert_json_log_keeps_db_error(log_path, db_port), 5);
    unlink(log_path);
}

Test(process, migrate_logs_the_whole_database_error_as_json, .timeout = 60)
{
    int db_port = th_free_port();
    char env_db[128], log_path[256];
    snprintf(env_db, sizeof(env_db),
             "DATABASE_URL=postgresql://railhook@127.0.0.1:%d/none?connect_timeout=2", db_port);
    log_path_for(log_path, sizeof(log_path), "migrate");
    const char *env[] = {env_db, "LOG_FORMAT=json", NULL};
    const char *argv[] = {RAILHOOK_BIN_PATH, "migrate", NULL};
    pid_t pid = th_spawn(argv, env, log_path);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    cr_assert_eq(assert_json_log_keeps_db_error(log_path, db_port), 1);
    unlink(log_path);
}

/* On Railway (RAILWAY_SERVICE_ID set, as Railway does) serve logs once that it runs there,
 * with the project, environment and service ids, and never the token. */
Test(process, on_railway_it_logs_its_own_ids_once, .timeout = 60)
{
    db = th_db_create();
    int port = th_free_port();
    char env_db[512], env_port[32], log_path[256];
    snprintf(env_db, sizeof(env_db), "DATABASE_URL=%s", db);
    snprintf(env_port, sizeof(env_port), "PORT=%d", port);
    log_path_for(log_path, sizeof(log_path), "railway");
    const char *env[] = {env_db,
                         env_port,
                         "BIND_ADDRESS=127.0.0.1",
                         "LOG_LEVEL=info",
                         "LOG_FORMAT=json",
                         "WORKERS=0",
                         "API_AUTH=none",
                         "RAILWAY_PROJECT_ID=prj-own-1",
                         "RAILWAY_ENVIRONMENT_ID=env-own-2",
                         "RAILWAY_SERVICE_ID=svc-own-3",
                         "RAILWAY_API_TOKEN=tok-s3cr3t-never-logged",
                         NULL};
    const char *argv[] = {RAILHOOK_BIN_PATH, "serve", NULL};
    pid_t pid = th_spawn(argv, env, log_path);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/healthz", port);
    cr_assert(th_wait_http(url, 15000), "railhook did not become healthy");
    kill(pid, SIGTERM);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    char *log = th_read_file(log_path, NULL);
    cr_assert_null(strstr(log, "tok-s3cr3t-never-logged"), "the token is in the log");
    int found = 0;
    for (char *line = log, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        *nl = '\0';
        cJSON *j = cJSON_Parse(line);
        const cJSON *msg = cJSON_GetObjectItem(j, "msg");
        if (cJSON_IsString(msg) && strcmp(msg->valuestring, "running on Railway") == 0) {
            found++;
            cr_assert_str_eq(cJSON_GetObjectItem(j, "project")->valuestring, "prj-own-1");
            cr_assert_str_eq(cJSON_GetObjectItem(j, "environment")->valuestring, "env-own-2");
            cr_assert_str_eq(cJSON_GetObjectItem(j, "service")->valuestring, "svc-own-3");
        }
        cJSON_Delete(j);
    }
    cr_assert_eq(found, 1, "%d \"running on Railway\" lines", found);
    free(log);
    unlink(log_path);
    th_db_drop(db);
}
