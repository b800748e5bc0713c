/* sim_client: see sim_client.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <curl/curl.h>

#include "sim_client.h"

#ifndef RAILWAY_SIM_PATH
#define RAILWAY_SIM_PATH NULL
#endif

/* The documents railhook sends (the .graphql files in railway/ops), copied so the test stands
 * alone. */
const char DOC_SERVICE_CREATE[] = "mutation ServiceCreate($input: ServiceCreateInput!) {\n"
                                  "  serviceCreate(input: $input) {\n    id\n    name\n  }\n}\n";
const char DOC_SERVICE_CONNECT[] =
    "# Connects a service to a GitHub repo and branch.\n"
    "mutation ServiceConnect($id: String!, $input: ServiceConnectInput!) {\n"
    "  serviceConnect(id: $id, input: $input) {\n    id\n  }\n}\n";
const char DOC_SERVICE_CONNECT_BROKEN[] =
    "mutation ServiceConnect($serviceId: String!, $repo: String!) {\n"
    "  serviceConnect(input: {serviceId: $serviceId, repo: $repo})\n}\n";
const char DOC_SERVICE_INSTANCE[] =
    "query ServiceInstance($serviceId: String!, $environmentId: String!) {\n"
    "  serviceInstance(serviceId: $serviceId, environmentId: $environmentId) {\n"
    "    id\n    serviceId\n    rootDirectory\n    source {\n      repo\n    }\n"
    "    latestDeployment {\n      id\n      status\n    }\n  }\n}\n";
const char DOC_SERVICE_INSTANCE_UPDATE[] =
    "mutation ServiceInstanceUpdate(\n  $serviceId: String!\n  $environmentId: String\n"
    "  $input: ServiceInstanceUpdateInput!\n) {\n"
    "  serviceInstanceUpdate(serviceId: $serviceId, environmentId: $environmentId, input: "
    "$input)\n}\n";
const char DOC_DEPLOYMENT[] =
    "query Deployment($id: String!) {\n  deployment(id: $id) {\n    id\n    status\n  }\n}\n";
const char DOC_SERVICE_DEPLOYMENTS[] =
    "query ServiceDeployments($input: DeploymentListInput!, $first: Int) {\n"
    "  deployments(input: $input, first: $first) {\n    edges {\n      node {\n        id\n"
    "        status\n        createdAt\n        meta\n      }\n    }\n  }\n}\n";
const char DOC_SERVICE_INSTANCE_DEPLOY[] =
    "mutation ServiceInstanceDeploy($serviceId: String!, $environmentId: String!, $commitSha: "
    "String) {\n  serviceInstanceDeployV2(serviceId: $serviceId, environmentId: $environmentId, "
    "commitSha: $commitSha)\n}\n";
const char DOC_PROJECT_SERVICES[] =
    "query ProjectServices($projectId: String!) {\n  project(id: $projectId) {\n    id\n"
    "    services(first: 500) {\n      edges {\n        node {\n          id\n          name\n"
    "        }\n      }\n    }\n  }\n}\n";

void sim_stop(struct sim_proc *p, bool expect_clean)
{
    int status = 0;

    if (p->pid <= 0)
        return;
    kill(p->pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(p->pid, &status, WNOHANG) == p->pid)
            break;
        if (i == 99) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
        }
        usleep(50 * 1000);
    }
    p->pid = -1;
    if (expect_clean)
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "railway-sim did not exit 0 on SIGTERM (status %d)", status);
}

/* Starts the simulator with the given flags (NULL-terminated) and reads its port. */
void sim_start(struct sim_proc *p, const char *const *flags)
{
    const char *path = getenv("RAILWAY_SIM");
    const char *argv[48];
    int fds[2], n = 0;
    char line[256];
    size_t got = 0;
    struct pollfd pfd;
    const char *at;

    if (path == NULL || path[0] == '\0')
        path = RAILWAY_SIM_PATH;
    if (path == NULL)
        cr_skip_test("set RAILWAY_SIM to the railway-sim binary");
    argv[n++] = path;
    argv[n++] = "--port";
    argv[n++] = "0";
    for (size_t i = 0; flags && flags[i] && n < 46; i++)
        argv[n++] = flags[i];
    argv[n] = NULL;
    cr_assert_eq(pipe(fds), 0);
    p->pid = fork();
    cr_assert_geq(p->pid, 0);
    if (p->pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(fds[1], STDOUT_FILENO);
        if (getenv("RAILWAY_SIM_VERBOSE") == NULL && devnull >= 0)
            dup2(devnull, STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(path, (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    close(fds[1]);
    pfd.fd = fds[0];
    pfd.events = POLLIN;
    while (got < sizeof(line) - 1 && memchr(line, '\n', got) == NULL) {
        ssize_t r;

        if (poll(&pfd, 1, 5000) <= 0)
            break;
        r = read(fds[0], line + got, sizeof(line) - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        line[got] = '\0';
    }
    close(fds[0]);
    line[got] = '\0';
    cr_assert(strncmp(line, "railway-sim listening on http://127.0.0.1:", 42) == 0,
              "unexpected first line from railway-sim: \"%s\"", line);
    at = line + 42;
    p->port = (int)strtol(at, NULL, 10);
    cr_assert_gt(p->port, 0);
    cr_assert(strstr(line, "/graphql/v2\n") != NULL);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct http_reply *r = userdata;
    size_t n = size * nmemb;
    char *grown = realloc(r->body, r->len + n + 1);

    if (grown == NULL)
        return 0;
    r->body = grown;
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

static void header_copy(const char *line, size_t len, const char *name, char *dst, size_t size)
{
    size_t nl = strlen(name);
    size_t v, e;

    if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    v = nl + 1;
    while (v < len && line[v] == ' ')
        v++;
    e = len;
    while (e > v && (line[e - 1] == '\r' || line[e - 1] == '\n'))
        e--;
    snprintf(dst, size, "%.*s", (int)(e - v), line + v);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct http_reply *r = userdata;
    size_t n = size * nmemb;

    header_copy(data, n, "Retry-After", r->retry_after, sizeof(r->retry_after));
    header_copy(data, n, "X-RateLimit-Limit", r->rl_limit, sizeof(r->rl_limit));
    header_copy(data, n, "X-RateLimit-Remaining", r->rl_remaining, sizeof(r->rl_remaining));
    header_copy(data, n, "X-RateLimit-Reset", r->rl_reset, sizeof(r->rl_reset));
    return n;
}

void reply_free(struct http_reply *r)
{
    free(r->body);
    cJSON_Delete(r->json);
    memset(r, 0, sizeof(*r));
}

/* One request on a fresh connection; body NULL means GET. Extra header may be NULL. */
void http_do(const struct sim_proc *p, const char *path, const char *header, const char *body,
             struct http_reply *r)
{
    http_do_timeout(p, path, header, body, 15000, r);
}

void http_do_timeout(const struct sim_proc *p, const char *path, const char *header,
                     const char *body, long timeout_ms, struct http_reply *r)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    char url[128];

    memset(r, 0, sizeof(*r));
    cr_assert_not_null(c);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", p->port, path);
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    if (header)
        hdrs = curl_slist_append(hdrs, header);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    r->curl = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    {
        char *ct = NULL;

        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        snprintf(r->content_type, sizeof(r->content_type), "%s", ct ? ct : "");
    }
    if (r->body)
        r->json = cJSON_Parse(r->body);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
}

/* Sends a GraphQL request with an account token (token NULL: no Authorization header). */
void gql_as(const struct sim_proc *p, const char *header, const char *doc, const char *vars_json,
            struct http_reply *r)
{
    cJSON *req = cJSON_CreateObject();
    cJSON *vars = vars_json ? cJSON_Parse(vars_json) : cJSON_CreateObject();
    char *body;

    cr_assert_not_null(vars, "bad test variables: %s", vars_json);
    cJSON_AddStringToObject(req, "query", doc);
    cJSON_AddItemToObject(req, "variables", vars);
    body = cJSON_PrintUnformatted(req);
    http_do(p, "/graphql/v2", header, body, r);
    cJSON_free(body);
    cJSON_Delete(req);
}

void gql(const struct sim_proc *p, const char *doc, const char *vars_json, struct http_reply *r)
{
    gql_as(p, "Authorization: Bearer " ACCOUNT_TOKEN, doc, vars_json, r);
}

/* The message of the first GraphQL error, or "" when there is none. */
const char *first_error(const struct http_reply *r)
{
    const cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(r->json, "errors"), 0);
    const cJSON *m = cJSON_GetObjectItem(e, "message");

    return cJSON_IsString(m) ? m->valuestring : "";
}

/* Follows a dotted path of object keys ("data.serviceCreate.id"). */
const cJSON *jpath(const cJSON *j, const char *path)
{
    char key[64];

    while (j != NULL && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);

        snprintf(key, sizeof(key), "%.*s", (int)n, path);
        j = cJSON_GetObjectItem(j, key);
        path += n + (dot ? 1 : 0);
    }
    return j;
}

const char *jstr(const cJSON *j, const char *path)
{
    const cJSON *v = jpath(j, path);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Creates a service and returns its id in buf. */
void service_create(const struct sim_proc *p, const char *name, const char *repo, char *buf,
                    size_t size)
{
    struct http_reply r;
    char vars[512];

    if (repo)
        snprintf(vars, sizeof(vars),
                 "{\"input\":{\"projectId\":\"proj-sim\",\"name\":\"%s\",\"source\":{\"repo\":"
                 "\"%s\"},\"branch\":\"main\",\"variables\":{\"PORT\":\"8080\"}}}",
                 name, repo);
    else
        snprintf(vars, sizeof(vars), "{\"input\":{\"projectId\":\"proj-sim\",\"name\":\"%s\"}}",
                 name);
    gql(p, DOC_SERVICE_CREATE, vars, &r);
    cr_assert_eq(r.status, 200, "serviceCreate: HTTP %ld %s", r.status, r.body);
    cr_assert_not_null(jstr(r.json, "data.serviceCreate.id"), "serviceCreate: %s", r.body);
    snprintf(buf, size, "%s", jstr(r.json, "data.serviceCreate.id"));
    reply_free(&r);
}

cJSON *sim_state(const struct sim_proc *p)
{
    struct http_reply r;
    cJSON *state;

    http_do(p, "/_sim/state", NULL, NULL, &r);
    cr_assert_eq(r.status, 200);
    state = r.json;
    r.json = NULL;
    reply_free(&r);
    cr_assert_not_null(state);
    return state;
}

double state_count(const cJSON *state, const char *path)
{
    const cJSON *v = jpath(state, path);

    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}
