/* sim: the simulated Railway project: services, instances, deployments, variables, rate limits,
 * fault draws and counters. Every function here expects the caller to hold sim->lock, except
 * sim_init() and sim_cleanup(). */
#ifndef RAILWAY_SIM_SIM_H
#define RAILWAY_SIM_SIM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

enum sim_fault {
    SIM_FAULT_NONE = 0,
    SIM_FAULT_500,
    SIM_FAULT_502,
    SIM_FAULT_503,
    SIM_FAULT_RESET,
    SIM_FAULT_DELAY,
    SIM_FAULT_GENERIC,
    SIM_FAULT_429,
    SIM_FAULT_403, /* an edge (Cloudflare-like) "Access denied" HTML page */
    SIM_FAULT_COUNT,
};

/* How X-RateLimit-Reset is written (Railway does not document it). */
enum sim_reset_format {
    SIM_RESET_EPOCH = 0, /* epoch seconds */
    SIM_RESET_EPOCH_MS,  /* epoch milliseconds */
    SIM_RESET_DELTA,     /* seconds until the window ends */
    SIM_RESET_HTTP_DATE, /* IMF-fixdate, as in Retry-After */
    SIM_RESET_ISO,       /* ISO 8601 UTC */
    SIM_RESET_FORMAT_COUNT,
};

/* How Retry-After is written. */
enum sim_retry_format {
    SIM_RETRY_SECONDS = 0,
    SIM_RETRY_HTTP_DATE,
    SIM_RETRY_FORMAT_COUNT,
};

struct sim_repo {
    char *name; /* owner/name */
    char **branches;
    size_t branch_count; /* the first branch is the default one */
};

/* Who sent the request being executed: the kind of token main.c recognised. */
enum sim_caller {
    SIM_CALLER_NONE = 0,  /* no token or an unknown one */
    SIM_CALLER_ACCOUNT,   /* Authorization: Bearer, an account token */
    SIM_CALLER_WORKSPACE, /* Authorization: Bearer, a workspace token */
    SIM_CALLER_PROJECT,   /* Project-Access-Token */
};

struct sim_forced_error {
    char *field;
    char *message;
    long count; /* -1: always */
};

/* Settings: from flags at start, most also changeable through POST /_sim/config. */
struct sim_config {
    char *project_id;
    char *environment_id;
    long build_ms;
    long instance_delay_ms;
    char *fail_builds; /* NULL: no build fails */
    char *fail_log;    /* the last lines of a failed build's log, '\n'-separated */
    double fault_rate;
    unsigned fault_kinds; /* bit (1 << enum sim_fault) */
    long fault_delay_ms;
    long rps;
    long hourly;
    uint64_t seed;
    bool autodeploy_on_connect;
    long connect_deploy_delay_ms; /* a connect's or create's deployment is listed this late */
    long push_deploy_delay_ms;    /* a push's deployments are listed this late */
    long sleep_after_ms;          /* SUCCESS turns SLEEPING after this long; 0: never */
    bool supersede_unfinished;    /* a newer deployment removes an older unfinished one at once */
    const char *hold_status;      /* WAITING, QUEUED or NEEDS_APPROVAL first; NULL: none */
    long hold_ms;                 /* how long; 0: until superseded */
    bool list_deleted_services;   /* project.services keeps deleted services, with deletedAt */
    enum sim_reset_format reset_format;
    enum sim_retry_format retry_format;
    long slow_deploy_ms; /* deploy mutations answer this late, after acting */
    struct sim_repo *repos;
    size_t repo_count;
    struct sim_forced_error *forced;
    size_t forced_count;
    char *schema_path;  /* the schema snapshot validated against and served for introspection */
    char **drop_schema; /* "Type", "Type.field" or "Type.field.arg" left out of it */
    size_t drop_count;
};

struct sim_service;
struct sim_deployment;
struct sim_bucket;
struct sim_head;

struct sim {
    pthread_mutex_t lock;
    struct sim_config config;  /* current */
    struct sim_config initial; /* as started, restored by sim_reset() */
    struct sim_service **services;
    size_t service_count;
    struct sim_deployment **deployments;
    size_t deployment_count;
    cJSON *shared_variables;
    struct sim_bucket *buckets;
    size_t bucket_count;
    struct sim_head *heads; /* branch heads set by pushes */
    size_t head_count;
    uint64_t fault_rng, id_rng;
    /* counters */
    long requests, status_400, status_413, status_429, faults, not_authorized, forced_errors;
    long faults_by_kind[SIM_FAULT_COUNT];
    cJSON *by_operation;
    cJSON *by_root_field;
    /* the "__schema" answered for introspection: main.c loads it from config.schema_path before
     * the first request, owns it, and no one changes it afterwards */
    const cJSON *schema;
    /* set by main.c before each execution */
    enum sim_caller caller;
};

/* Initialises s with a deep copy of config (the caller keeps its own). Free with
 * sim_cleanup(). */
void sim_init(struct sim *s, const struct sim_config *config);

/* Frees all state; NULL-safe and idempotent. */
void sim_cleanup(struct sim *s);

/* Frees the strings and arrays a config owns. */
void sim_config_cleanup(struct sim_config *c);

/* Parses "owner/name:b1,b2;owner2/name2:main" into c->repos; returns 0 or -1. */
int sim_config_repos_parse(struct sim_config *c, const char *spec);

/* Parses "500,502,503,reset,delay,generic,429,403" into a kind mask; returns 0 or -1. */
int sim_fault_kinds_parse(const char *spec, unsigned *mask);

/* Parse "epoch", "epoch-ms", "delta", "http-date", "iso" / "seconds", "http-date" / "WAITING",
 * "QUEUED", "NEEDS_APPROVAL" (the result points to a static string); return 0 or -1. */
int sim_reset_format_parse(const char *s, enum sim_reset_format *out);
int sim_retry_format_parse(const char *s, enum sim_retry_format *out);
int sim_hold_status_parse(const char *s, const char **out);

/* The name of a fault kind ("502", "reset", ...). */
const char *sim_fault_name(enum sim_fault kind);

/* Clears services, deployments, counters and buckets and restores the initial config. */
void sim_reset(struct sim *s);

/* Applies a /_sim/config object atomically. Returns 0, or -1 with a message in err. */
int sim_config_apply(struct sim *s, const cJSON *patch, char *err, size_t errsize);

/* The current config as JSON; caller frees with cJSON_Delete(). */
cJSON *sim_config_json(const struct sim *s);

/* The whole state for GET /_sim/state; caller frees with cJSON_Delete(). */
cJSON *sim_state_json(struct sim *s);

/* Rate-limit outcome of one request. */
struct sim_rate {
    long limit, remaining;
    int64_t reset_epoch;
    long retry_after; /* seconds; meaningful when limited */
    bool limited;
};

/* Charges one request to the token's buckets (key: the token, or "" when there is none). */
void sim_rate_take(struct sim *s, const char *key, struct sim_rate *out);

/* The X-RateLimit-Reset and Retry-After values of a rate outcome, in the configured formats. */
void sim_rate_format(const struct sim *s, const struct sim_rate *rate, char *reset,
                     size_t reset_size, char *retry, size_t retry_size);

/* Draws whether this request is faulted, and how. */
enum sim_fault sim_fault_draw(struct sim *s);

/* Takes one forced error for a root field; true with its message copied into msg. */
bool sim_forced_error_take(struct sim *s, const char *field, char *msg, size_t msgsize);

/* Counts a request by operation name (NULL: anonymous) and root field. */
void sim_count_operation(struct sim *s, const char *operation);
void sim_count_root_field(struct sim *s, const char *field);

/* Whether railway-sim answers the root field (of Query, Mutation or Subscription). Needs no
 * lock. */
bool sim_field_simulated(const char *field);

/* Whether a root field is a deploy mutation that --slow-deploy-ms delays. Needs no lock. */
bool sim_field_slow(const char *field);

/* POST /_sim/push: a GitHub push of {"repo","branch","sha","paths","message","ci",
 * "ci_wait_ms"}; Railway deploys every connected service of that branch. Returns 0 with *out
 * (what it started), or -1 with a message in err. */
int sim_push(struct sim *s, const cJSON *body, cJSON **out, char *err, size_t errsize);

/* POST /_sim/service: {"id","auto_deploys","check_suites"} changes a service's triggers.
 * Returns 0 with *out, or -1 with a message in err. */
int sim_service_control(struct sim *s, const cJSON *body, cJSON **out, char *err, size_t errsize);

/* EnvironmentSnapshot (tools/railway-sim/snapshot.c): adds the serviceInstances and
 * deploymentTriggers lists (one trigger per connected service) to an environment object. */
void sim_environment_snapshot_add(struct sim *s, cJSON *env);
/* POST /_sim/drift: {"id", "disconnect", "root_directory", "delete"}, a change made by hand in
 * Railway's dashboard. Returns 0 with *out, or -1 with a message in err. */
int sim_drift(struct sim *s, const cJSON *body, cJSON **out, char *err, size_t errsize);
/* POST /_sim/services: {"prefix","count","repo","branch","root_directory"} creates count
 * services at once (instances listed at once). Returns 0 with *out ({"ok","ids"}), or -1. */
int sim_services_bulk(struct sim *s, const cJSON *body, cJSON **out, char *err, size_t errsize);

/* Runs one root field with evaluated arguments. Returns 0 with *out (the full object the
 * schema shapes; caller frees), or -1 with a Railway-style message in err. */
int sim_field_resolve(struct sim *s, const char *field, const cJSON *args, cJSON **out, char *err,
                      size_t errsize);

#endif
