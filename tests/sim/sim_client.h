/* sim_client: what the railway-sim tests share: starting and stopping the simulator binary,
 * HTTP and GraphQL requests to it over libcurl, JSON look-ups, and the documents railhook sends
 * (the .graphql files in railway/ops, copied so the tests stand alone). */
#ifndef TESTS_SIM_CLIENT_H
#define TESTS_SIM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#define ACCOUNT_TOKEN "sim-account-token"

extern const char DOC_SERVICE_CREATE[];
extern const char DOC_SERVICE_CONNECT[];
extern const char DOC_SERVICE_CONNECT_BROKEN[];
extern const char DOC_SERVICE_INSTANCE[];
extern const char DOC_SERVICE_INSTANCE_UPDATE[];
extern const char DOC_DEPLOYMENT[];
extern const char DOC_SERVICE_DEPLOYMENTS[];
extern const char DOC_SERVICE_INSTANCE_DEPLOY[];
extern const char DOC_PROJECT_SERVICES[];

struct sim_proc {
    pid_t pid;
    int port;
};

struct http_reply {
    long status;
    CURLcode curl;
    char *body;
    size_t len;
    char retry_after[32];
    char rl_limit[32], rl_remaining[32], rl_reset[48];
    char content_type[64];
    cJSON *json;
};

/* Stops the simulator with SIGTERM (SIGKILL after 5 s); expect_clean: it must exit 0. */
void sim_stop(struct sim_proc *p, bool expect_clean);
/* Starts the simulator with the given flags (NULL-terminated) and reads its port. */
void sim_start(struct sim_proc *p, const char *const *flags);
/* Frees a reply's body and JSON. */
void reply_free(struct http_reply *r);
/* One request on a fresh connection; body NULL means GET. Extra header may be NULL. */
void http_do(const struct sim_proc *p, const char *path, const char *header, const char *body,
             struct http_reply *r);
/* http_do() that gives up after timeout_ms (r->curl says so). */
void http_do_timeout(const struct sim_proc *p, const char *path, const char *header,
                     const char *body, long timeout_ms, struct http_reply *r);
/* Sends a GraphQL request with header (NULL: no auth header). */
void gql_as(const struct sim_proc *p, const char *header, const char *doc, const char *vars_json,
            struct http_reply *r);
/* gql_as() with the account token. */
void gql(const struct sim_proc *p, const char *doc, const char *vars_json, struct http_reply *r);
/* The message of the first GraphQL error, or "" when there is none. */
const char *first_error(const struct http_reply *r);
/* Follows a dotted path of object keys ("data.serviceCreate.id"). */
const cJSON *jpath(const cJSON *j, const char *path);
/* The string at a dotted path, or NULL. */
const char *jstr(const cJSON *j, const char *path);
/* Sleeps ms milliseconds; the monotonic clock in ms. */
void sleep_ms(long ms);
long now_ms(void);
/* Creates a service and returns its id in buf. */
void service_create(const struct sim_proc *p, const char *name, const char *repo, char *buf,
                    size_t size);
/* GET /_sim/state (caller deletes); a number in it by dotted path, or -1. */
cJSON *sim_state(const struct sim_proc *p);
double state_count(const cJSON *state, const char *path);

#endif
