/* railway-sim: a local stand-in for Railway's public GraphQL API (POST /graphql/v2).
 *
 * Threading: libmicrohttpd runs one thread per connection, so a delayed answer never holds up
 * the others. All simulator state lives in one struct sim behind sim.lock; a request takes the
 * lock for its rate-limit charge and fault draw, and again for the whole of its execution, but
 * never while it sleeps for a delay fault or holds back a slow deploy mutation's answer. Parsing
 * and validating a document read only the schema, which main() loads before the daemon starts; it,
 * the command-line config and the token lists are read-only afterwards. The main thread only waits
 * for SIGINT/SIGTERM. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "execute.h"
#include "railway/graphql.h"
#include "server.h"
#include "sim.h"
#include "util/util.h"

#define GRAPHQL_PATH "/graphql/v2"

#define SCHEMA_MAX (64u << 20)

/* ---- GraphQL ----------------------------------------------------------------------------------
 */

static bool token_known(char *const *list, size_t count, const char *token)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(list[i], token) == 0)
            return true;
    return false;
}

/* Finds the caller's token: Project-Access-Token wins over Authorization: Bearer. key receives
 * the rate-limit key; returns the kind of token, SIM_CALLER_NONE for one the simulator does not
 * accept. */
static enum sim_caller request_authorize(const struct server *srv, struct MHD_Connection *conn,
                                         char *key, size_t keysize)
{
    const char *pt = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Project-Access-Token");
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");

    key[0] = '\0';
    if (pt != NULL) {
        while (*pt == ' ')
            pt++;
        snprintf(key, keysize, "project:%s", pt);
        return token_known(srv->project_tokens, srv->project_token_count, pt) ? SIM_CALLER_PROJECT
                                                                              : SIM_CALLER_NONE;
    }
    if (auth != NULL) {
        while (*auth == ' ')
            auth++;
        if (strncasecmp(auth, "Bearer ", 7) != 0)
            return SIM_CALLER_NONE;
        auth += 7;
        while (*auth == ' ')
            auth++;
        snprintf(key, keysize, "account:%s", auth);
        if (token_known(srv->tokens, srv->token_count, auth))
            return SIM_CALLER_ACCOUNT;
        if (token_known(srv->workspace_tokens, srv->workspace_token_count, auth))
            return SIM_CALLER_WORKSPACE;
    }
    return SIM_CALLER_NONE;
}

static void exec_error(cJSON *errors, const struct exec_field *c, const char *message)
{
    cJSON *e = cJSON_CreateObject(), *locs, *loc, *path, *ext;

    cJSON_AddStringToObject(e, "message", message);
    locs = cJSON_AddArrayToObject(e, "locations");
    loc = cJSON_CreateObject();
    cJSON_AddNumberToObject(loc, "line", c->field->line);
    cJSON_AddNumberToObject(loc, "column", c->field->column);
    cJSON_AddItemToArray(locs, loc);
    path = cJSON_AddArrayToObject(e, "path");
    cJSON_AddItemToArray(path, cJSON_CreateString(c->key));
    ext = cJSON_AddObjectToObject(e, "extensions");
    cJSON_AddStringToObject(ext, "code", "INTERNAL_SERVER_ERROR");
    cJSON_AddItemToArray(errors, e);
}

static void fields_note(struct reply *r, const char *name)
{
    size_t n = strlen(r->fields);

    snprintf(r->fields + n, sizeof(r->fields) - n, "%s%s", n ? "," : "", name);
}

/* The root fields of op as they will run (fragments followed, @skip/@include applied with
 * vars); free with exec_fields_cleanup(). */
static void root_fields(const struct server *srv, const struct graphql_document *doc,
                        const struct graphql_operation *op, const cJSON *vars,
                        struct exec_fields *out)
{
    struct exec x = {.schema = &srv->schema, .doc = doc, .vars = vars};
    const struct graphql_schema_type *root = graphql_schema_root(&srv->schema, op->kind);
    const struct graphql_selection_set *sets[1] = {op->selections};

    *out = (struct exec_fields){0};
    if (root != NULL)
        exec_fields_collect(&x, root, sets, 1, out);
}

/* Runs the operation's root fields in order (the caller holds the sim lock). Every root field
 * railway-sim serves is non-null, so any error nulls the whole of data. Introspection
 * (__schema, __type, __typename) needs no token, as on Railway. */
static cJSON *operation_execute(struct server *srv, const struct graphql_document *doc,
                                const struct graphql_operation *op, const cJSON *vars,
                                enum sim_caller caller, bool generic_fault, struct reply *r)
{
    const struct graphql_schema_type *root = graphql_schema_root(&srv->schema, op->kind);
    cJSON *out = cJSON_CreateObject();
    cJSON *errors = cJSON_CreateArray();
    cJSON *data = cJSON_CreateObject();
    struct exec x = {.schema = &srv->schema, .doc = doc, .vars = vars, .errors = errors};
    struct exec_fields roots;

    srv->sim.caller = caller;
    root_fields(srv, doc, op, vars, &roots);
    for (size_t i = 0; i < roots.count; i++) {
        const struct exec_field *c = &roots.items[i];
        const struct graphql_field *def =
            graphql_schema_field_find(&srv->schema, root, c->field->name);
        char msg[256];
        cJSON *args, *src = NULL;

        if (strcmp(c->field->name, "__typename") == 0) {
            cJSON_AddStringToObject(data, c->key, root->name);
            continue;
        }
        if (caller == SIM_CALLER_NONE && strncmp(c->field->name, "__", 2) != 0) {
            exec_error(errors, c, "Not Authorized");
            continue;
        }
        if (generic_fault) {
            exec_error(errors, c, "Problem processing request");
            continue;
        }
        if (sim_forced_error_take(&srv->sim, c->field->name, msg, sizeof(msg))) {
            exec_error(errors, c, msg);
            continue;
        }
        args = exec_arguments(&x, def, c->field);
        if (sim_field_slow(c->field->name))
            r->slow_ms = srv->sim.config.slow_deploy_ms;
        if (sim_field_resolve(&srv->sim, c->field->name, args, &src, msg, sizeof(msg)) < 0)
            exec_error(errors, c, msg);
        else
            cJSON_AddItemToObject(data, c->key, exec_value_complete(&x, def->type, c, args, src));
        cJSON_Delete(src);
        cJSON_Delete(args);
    }
    exec_fields_cleanup(&roots);
    reply_errors_code(errors, "INTERNAL_SERVER_ERROR");
    r->error_count = cJSON_GetArraySize(errors);
    if (r->error_count > 0) {
        cJSON_AddItemToObject(out, "errors", errors);
        cJSON_AddNullToObject(out, "data");
        cJSON_Delete(data);
    } else {
        cJSON_Delete(errors);
        cJSON_AddItemToObject(out, "data", data);
    }
    return out;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Counts a parsed request under its operation and root fields, valid or not, so tests can see
 * what a client sent. */
static void request_count(struct server *srv, const struct graphql_document *doc, const char *name,
                          struct reply *r)
{
    const struct graphql_operation *op = NULL;
    struct exec_fields roots;

    for (size_t i = 0; i < doc->operation_count; i++)
        if (name == NULL ? doc->operation_count == 1
                         : (doc->operations[i].name && strcmp(doc->operations[i].name, name) == 0))
            op = &doc->operations[i];
    if (op == NULL)
        return;
    snprintf(r->op, sizeof(r->op), "%s", op->name ? op->name : "(anonymous)");
    root_fields(srv, doc, op, NULL, &roots);
    pthread_mutex_lock(&srv->sim.lock);
    sim_count_operation(&srv->sim, op->name);
    for (size_t i = 0; i < roots.count; i++) {
        if (strcmp(roots.items[i].field->name, "__typename") != 0)
            sim_count_root_field(&srv->sim, roots.items[i].field->name);
        fields_note(r, roots.items[i].field->name);
    }
    pthread_mutex_unlock(&srv->sim.lock);
    exec_fields_cleanup(&roots);
}

/* Refuses, like validation, root fields Railway has and railway-sim does not answer. Returns
 * the number of errors appended. */
static int simulated_check(const struct server *srv, const struct graphql_document *doc,
                           const struct graphql_operation *op, const cJSON *vars, cJSON *errors)
{
    const struct graphql_schema_type *root = graphql_schema_root(&srv->schema, op->kind);
    struct exec_fields roots;
    int n = 0;

    root_fields(srv, doc, op, vars, &roots);
    for (size_t i = 0; i < roots.count; i++) {
        const struct graphql_selection *f = roots.items[i].field;

        if (strcmp(f->name, "__typename") == 0 || sim_field_simulated(f->name))
            continue;
        graphql_error_add(errors, f->line, f->column,
                          "Cannot query field \"%s\" on type \"%s\": it exists in Railway's "
                          "schema but railway-sim does not simulate it.",
                          f->name, root->name);
        n++;
    }
    exec_fields_cleanup(&roots);
    return n;
}

/* Answers a list of GraphQL errors with HTTP 400 (document or variables rejected). */
static void reply_errors_400(struct server *srv, struct reply *r, cJSON *errors, const char *code)
{
    cJSON *doc = cJSON_CreateObject();

    reply_errors_code(errors, code);
    r->error_count = cJSON_GetArraySize(errors);
    cJSON_AddItemToObject(doc, "errors", errors);
    reply_json(r, MHD_HTTP_BAD_REQUEST, doc);
    pthread_mutex_lock(&srv->sim.lock);
    srv->sim.status_400++;
    pthread_mutex_unlock(&srv->sim.lock);
}

static void graphql_handle(struct server *srv, struct MHD_Connection *conn, struct request *req,
                           struct reply *r)
{
    char key[300];
    enum sim_caller caller = request_authorize(srv, conn, key, sizeof(key));
    enum sim_fault fault;
    long delay_ms;
    cJSON *body = NULL, *errors = NULL, *vars = NULL, *result;
    const cJSON *query, *opname, *variables;
    const char *name;
    struct graphql_document doc;
    const struct graphql_operation *op = NULL;
    bool have_doc = false;

    pthread_mutex_lock(&srv->sim.lock);
    srv->sim.requests++;
    if (req->too_big) {
        srv->sim.status_413++;
        pthread_mutex_unlock(&srv->sim.lock);
        reply_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "PAYLOAD_TOO_LARGE", false,
                    "Request body exceeds %d bytes", BODY_MAX);
        return;
    }
    sim_rate_take(&srv->sim, key, &r->rate);
    r->has_rate = true;
    if (r->rate.limited)
        r->retry_after = r->rate.retry_after;
    if (r->rate.limited) {
        srv->sim.status_429++;
        sim_rate_format(&srv->sim, &r->rate, r->reset_value, sizeof(r->reset_value), r->retry_value,
                        sizeof(r->retry_value));
        pthread_mutex_unlock(&srv->sim.lock);
        snprintf(r->note, sizeof(r->note), "rate-limited");
        reply_error(r, MHD_HTTP_TOO_MANY_REQUESTS, "RATE_LIMITED", true,
                    "Rate limit exceeded. Please try again in %ld seconds.", r->retry_after);
        return;
    }
    fault = sim_fault_draw(&srv->sim);
    delay_ms = srv->sim.config.fault_delay_ms;
    if (fault != SIM_FAULT_NONE) {
        srv->sim.faults++;
        srv->sim.faults_by_kind[fault]++;
        if (fault == SIM_FAULT_429) {
            srv->sim.status_429++;
            r->retry_after = 1;
        }
        snprintf(r->note, sizeof(r->note), "fault:%s", sim_fault_name(fault));
    }
    {
        struct sim_rate shown = r->rate;

        shown.retry_after = r->retry_after;
        sim_rate_format(&srv->sim, &shown, r->reset_value, sizeof(r->reset_value), r->retry_value,
                        sizeof(r->retry_value));
    }
    pthread_mutex_unlock(&srv->sim.lock);

    switch (fault) {
    case SIM_FAULT_500:
        reply_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "INTERNAL_SERVER_ERROR", true,
                    "Internal Server Error");
        return;
    case SIM_FAULT_502:
        reply_text(r, MHD_HTTP_BAD_GATEWAY, "text/html; charset=utf-8",
                   "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad "
                   "Gateway</h1></center></body></html>\n");
        return;
    case SIM_FAULT_503:
        reply_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "text/html; charset=utf-8",
                   "<html><head><title>503 Service Temporarily Unavailable</title></head><body>"
                   "<center><h1>503 Service Temporarily Unavailable</h1></center></body></html>\n");
        return;
    case SIM_FAULT_RESET:
        r->reset = true;
        return;
    case SIM_FAULT_403:
        /* Railway's edge (Cloudflare) blocking a client: an HTML page, not GraphQL. */
        reply_text(r, MHD_HTTP_FORBIDDEN, "text/html; charset=UTF-8",
                   "<!DOCTYPE html>\n<html lang=\"en-US\"><head><title>Access denied | "
                   "backboard.railway.com used Cloudflare to restrict access</title></head>\n"
                   "<body><div id=\"cf-error-details\"><h1>Error 1020</h1><h2>Access "
                   "denied</h2><p>The owner of this website (backboard.railway.com) does not "
                   "allow your access at the moment.</p></div></body></html>\n");
        return;
    case SIM_FAULT_429:
        reply_error(r, MHD_HTTP_TOO_MANY_REQUESTS, "RATE_LIMITED", true,
                    "Rate limit exceeded. Please try again in 1 seconds.");
        return;
    case SIM_FAULT_DELAY:
        sleep_ms(delay_ms);
        break;
    case SIM_FAULT_NONE:
    case SIM_FAULT_GENERIC:
    case SIM_FAULT_COUNT:
        break;
    }

    body = cJSON_ParseWithLength(req->body.data ? req->body.data : "", req->body.len);
    if (!cJSON_IsObject(body)) {
        reply_error(r, MHD_HTTP_BAD_REQUEST, "BAD_REQUEST", false,
                    cJSON_IsArray(body) ? "Operation batching is not supported."
                                        : "POST body sent invalid JSON.");
        goto count_400;
    }
    query = cJSON_GetObjectItemCaseSensitive(body, "query");
    opname = cJSON_GetObjectItemCaseSensitive(body, "operationName");
    variables = cJSON_GetObjectItemCaseSensitive(body, "variables");
    if (!cJSON_IsString(query) || query->valuestring[0] == '\0') {
        reply_error(r, MHD_HTTP_BAD_REQUEST, "BAD_REQUEST", false,
                    "GraphQL operations must contain a non-empty `query` or a `persistedQuery` "
                    "extension.");
        goto count_400;
    }
    if (opname != NULL && !cJSON_IsNull(opname) && !cJSON_IsString(opname)) {
        reply_error(r, MHD_HTTP_BAD_REQUEST, "BAD_REQUEST", false,
                    "`operationName` in a POST body must be a string if provided.");
        goto count_400;
    }
    if (variables != NULL && !cJSON_IsNull(variables) && !cJSON_IsObject(variables)) {
        reply_error(r, MHD_HTTP_BAD_REQUEST, "BAD_REQUEST", false,
                    "`variables` in a POST body should be an object if provided.");
        goto count_400;
    }
    if (cJSON_IsString(opname))
        snprintf(r->op, sizeof(r->op), "%s", opname->valuestring);

    errors = cJSON_CreateArray();
    have_doc = true;
    if (graphql_document_parse(&doc, query->valuestring, strlen(query->valuestring)) != RH_OK) {
        graphql_error_add(errors, doc.error_line, doc.error_column, "%s", doc.error);
        reply_errors_400(srv, r, errors, "GRAPHQL_PARSE_FAILED");
        errors = NULL;
        goto out;
    }
    name = cJSON_IsString(opname) ? opname->valuestring : NULL;
    request_count(srv, &doc, name, r);
    /* Validation reads only the schema, which no one changes after start: no lock. */
    if (graphql_document_validate(&srv->schema, &doc, errors, NULL) > 0 ||
        (op = graphql_operation_pick(&doc, name, errors)) == NULL ||
        graphql_variables_coerce(&srv->schema, op, variables, &vars, errors) > 0 ||
        simulated_check(srv, &doc, op, vars, errors) > 0) {
        reply_errors_400(srv, r, errors, "GRAPHQL_VALIDATION_FAILED");
        errors = NULL;
        goto out;
    }

    pthread_mutex_lock(&srv->sim.lock);
    if (caller == SIM_CALLER_NONE)
        srv->sim.not_authorized++;
    result = operation_execute(srv, &doc, op, vars, caller, fault == SIM_FAULT_GENERIC, r);
    pthread_mutex_unlock(&srv->sim.lock);
    if (r->slow_ms > 0) {
        /* A slow deploy mutation: it has acted; the answer comes after the client gave up. */
        snprintf(r->note, sizeof(r->note), "slow:%ldms", r->slow_ms);
        sleep_ms(r->slow_ms);
    }
    reply_json(r, MHD_HTTP_OK, result);
    goto out;

count_400:
    pthread_mutex_lock(&srv->sim.lock);
    srv->sim.status_400++;
    pthread_mutex_unlock(&srv->sim.lock);
out:
    if (have_doc)
        graphql_document_cleanup(&doc);
    cJSON_Delete(errors);
    cJSON_Delete(vars);
    cJSON_Delete(body);
}

/* ---- libmicrohttpd callbacks ------------------------------------------------------------------
 */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct server *srv = cls;
    struct request *req = *con_cls;
    struct reply r;
    enum MHD_Result ret;

    (void)version;
    if (req == NULL) {
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        int64_t len = 0;

        req = xcalloc(1, sizeof(*req));
        buf_init(&req->body, BODY_MAX);
        req->start_ms = time_mono_ms();
        *con_cls = req;
        if (cl != NULL && parse_i64(cl, 0, INT64_C(1) << 40, &len) && len > BODY_MAX) {
            /* Refuse before reading a body that is too big. */
            req->too_big = true;
        } else {
            return MHD_YES;
        }
    }
    if (*upload_data_size > 0) {
        if (!buf_append(&req->body, upload_data, *upload_data_size))
            req->too_big = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->rejected)
        return MHD_YES;
    req->rejected = true;
    memset(&r, 0, sizeof(r));
    r.status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    if (strcmp(url, GRAPHQL_PATH) == 0) {
        if (strcmp(method, "POST") == 0) {
            graphql_handle(srv, conn, req, &r);
        } else {
            r.allow = "POST";
            reply_error(&r, MHD_HTTP_METHOD_NOT_ALLOWED, "BAD_REQUEST", false,
                        "railway-sim accepts GraphQL requests by POST only.");
        }
    } else {
        if (req->too_big) {
            reply_error(&r, MHD_HTTP_CONTENT_TOO_LARGE, "PAYLOAD_TOO_LARGE", false,
                        "Request body exceeds %d bytes", BODY_MAX);
        } else {
            control_handle(srv, method, url, req, &r);
        }
    }
    ret = reply_send(conn, &r);
    reply_log(srv, method, url, &r, req->start_ms);
    if (r.body != NULL && r.body_free != NULL)
        r.body_free(r.body);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct request *req = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (req == NULL)
        return;
    buf_free(&req->body);
    free(req);
    *con_cls = NULL;
}

/* Loads the introspection answer at path ({"data":{"__schema":...}}) into srv->introspection
 * and srv->schema and returns its "__schema", or NULL after saying why on stderr. */
static const cJSON *schema_load(struct server *srv, const char *path)
{
    FILE *f = fopen(path, "rb");
    struct buf text;
    char chunk[65536], err[256] = "";
    size_t got;
    const cJSON *schema = NULL;
    bool too_big = false;

    buf_init(&text, SCHEMA_MAX);
    if (f == NULL) {
        fprintf(stderr, "railway-sim: cannot read the schema %s: %s\n", path, strerror(errno));
        goto out;
    }
    while (!too_big && (got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        too_big = !buf_append(&text, chunk, got);
    srv->introspection = cJSON_ParseWithLength(text.data ? text.data : "", text.len);
    schema = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(srv->introspection, "data"), "__schema");
    if (too_big || graphql_schema_load(&srv->schema, schema, err, sizeof(err)) != RH_OK) {
        fprintf(stderr, "railway-sim: the schema %s is not an introspection answer: %s\n", path,
                too_big ? "too big" : err);
        schema = NULL;
    }
out:
    if (f != NULL)
        fclose(f);
    buf_free(&text);
    return schema;
}

int main(int argc, char **argv)
{
    struct server srv;
    struct options opts;
    struct MHD_Daemon *daemon = NULL;
    const union MHD_DaemonInfo *info;
    struct sockaddr_in addr;
    sigset_t sigs;
    const cJSON *schema;
    int sig = 0, rc = 1;
    bool sim_ready = false;

    memset(&srv, 0, sizeof(srv));
    if (options_parse(&opts, &srv, argc, argv) < 0) {
        options_usage(stderr);
        rc = 2;
        goto out;
    }
    if (opts.help) {
        options_usage(stdout);
        rc = 0;
        goto out;
    }

    /* Threads inherit this mask: the signals reach only sigwait() below. A shell starts
     * background jobs with SIGINT ignored, and an ignored signal is never pending. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    schema = schema_load(&srv, opts.config.schema_path);
    if (schema == NULL)
        goto out;
    sim_init(&srv.sim, &opts.config);
    srv.sim.schema = schema;
    sim_ready = true;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)opts.port);
    inet_pton(AF_INET, opts.bind, &addr.sin_addr);
    daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
        (uint16_t)opts.port, NULL, NULL, on_request, &srv, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)256, MHD_OPTION_END);
    if (daemon == NULL) {
        fprintf(stderr, "railway-sim: cannot listen on %s:%ld\n", opts.bind, opts.port);
        goto out;
    }
    info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (info == NULL || info->port == 0) {
        fprintf(stderr, "railway-sim: cannot learn the listening port\n");
        goto out;
    }
    printf("railway-sim listening on http://%s:%u%s\n", opts.bind, (unsigned)info->port,
           GRAPHQL_PATH);
    fflush(stdout);

    while (sig != SIGINT && sig != SIGTERM) {
        if (sigwait(&sigs, &sig) != 0)
            break;
    }
    rc = 0;
out:
    if (daemon != NULL)
        MHD_stop_daemon(daemon);
    if (sim_ready)
        sim_cleanup(&srv.sim);
    graphql_schema_cleanup(&srv.schema);
    cJSON_Delete(srv.introspection);
    sim_config_cleanup(&opts.config);
    free(opts.bind);
    options_list_free(srv.tokens, srv.token_count);
    options_list_free(srv.project_tokens, srv.project_token_count);
    options_list_free(srv.workspace_tokens, srv.workspace_token_count);
    return rc;
}
