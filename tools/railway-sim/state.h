/* state: the simulator's objects (services, deployments, rate buckets) and the helpers the
 * simulator's source files share; private to tools/railway-sim. Like sim.h, every function
 * expects the caller to hold sim->lock. */
#ifndef RAILWAY_SIM_STATE_H
#define RAILWAY_SIM_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "sim.h"

#define SIM_MAX_SERVICES    10000
#define SIM_MAX_DEPLOYMENTS 100000

struct sim_service {
    char id[40];
    char instance_id[40];
    char *name;
    char *icon;
    bool deleted;
    int64_t created_wall, updated_wall, deleted_wall;
    int64_t instance_ready_mono; /* the instance exists from this time on */
    int64_t instance_ready_wall;
    cJSON *variables;
    char *root_directory;
    char *repo, *branch, *image;
    cJSON *settings;   /* other ServiceInstanceUpdateInput fields (watchPatterns among them) */
    bool auto_deploys; /* a push to its branch deploys it (Railway's default: on) */
    bool check_suites; /* "wait for CI": a push deploys only after its checks pass */
};

struct sim_deployment {
    char id[40];
    struct sim_service *service;
    char *commit_hash, *commit_message;
    char *repo, *branch, *image, *root_directory;
    const char *reason;
    /* It is listed from created_mono on (a deployment Railway starts by itself appears late);
     * it holds in hold_status for hold_ms (0: until superseded), then is SKIPPED when
     * skipped_reason is set, else builds for build_ms. */
    int64_t created_mono, created_wall;
    const char *hold_status;
    long hold_ms;
    const char *skipped_reason;
    long build_ms;
    long sleep_after_ms; /* SUCCESS turns SLEEPING after this long; 0: never */
    bool fail;
    bool removed; /* its service was deleted */
    int64_t removed_wall;
};

struct sim_bucket {
    char *key;
    double tokens;
    int64_t last_mono;
    long hour_count;
    int64_t window_start_wall;
};

/* A branch head set by a simulated push. */
struct sim_head {
    char *repo, *branch, *sha;
};

/* ---- sim.c: ids, strings, JSON helpers --------------------------------------------------------
 */

/* A uuid-like id from the seeded id stream. */
void sim_id_new(struct sim *s, char *buf, size_t size);
/* A stable 40-hex head commit of repo@branch, or the one the last push set; caller frees. */
char *sim_branch_head(const struct sim *s, const char *repo, const char *branch);
/* A copy of s, or NULL for NULL. */
char *sim_strdup_or_null(const char *s);
/* Replaces *slot with a copy of value (NULL allowed). */
void sim_str_set(char **slot, const char *value);
/* Adds an ISO 8601 time, or null for wall_ms <= 0. */
void sim_json_time_add(cJSON *obj, const char *key, int64_t wall_ms);
/* Adds a string, or null for NULL. */
void sim_json_str_add(cJSON *obj, const char *key, const char *value);
/* Deep copy of a config; free with sim_config_cleanup(). */
void sim_config_copy(struct sim_config *dst, const struct sim_config *src);

/* ---- deploy.c: deployments --------------------------------------------------------------------
 */

/* Starts a deployment of svc (commit NULL: the branch head) listed after delay_ms; NULL when
 * the limit is reached. */
struct sim_deployment *sim_deployment_start(struct sim *s, struct sim_service *svc,
                                            const char *commit, const char *reason, long delay_ms);
/* Whether d is listed yet. */
bool sim_deployment_visible(const struct sim_deployment *d, int64_t now_mono);
/* Its status now; *status_wall receives when it took it. */
const char *sim_deployment_status(const struct sim *s, const struct sim_deployment *d,
                                  int64_t *status_wall);
/* The Deployment object (nested: with its service). */
cJSON *sim_deployment_json(const struct sim *s, const struct sim_deployment *d, bool nested);
/* The Service object (nested: with its deployments). */
cJSON *sim_service_json(const struct sim *s, const struct sim_service *svc, bool nested);
/* The ServiceInstance object. */
cJSON *sim_instance_json(const struct sim *s, const struct sim_service *svc);
/* Whether the service's instance exists yet. */
bool sim_instance_ready(const struct sim_service *svc);
/* buildLogs and deploymentLogs. */
int sim_build_logs_resolve(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n);
int sim_deployment_logs_resolve(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n);

/* ---- intro.c: introspection -------------------------------------------------------------------
 */

int sim_intro_schema_resolve(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n);
int sim_intro_type_resolve(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n);

/* ---- resolve.c: lookups -----------------------------------------------------------------------
 */

/* The live (not deleted) service with this id, or NULL. */
struct sim_service *sim_service_find(struct sim *s, const char *id);
/* "Project not found" unless id is the project's. */
int sim_project_check(struct sim *s, const char *id, char *err, size_t errsize);
/* "Environment not found" for a given id that is not the environment's (NULL passes). */
int sim_environment_check(struct sim *s, const char *id, char *err, size_t errsize);
/* Checks repo and branch against the repos Railway's GitHub app sees; *branch_out is the given
 * branch or the default one. */
int sim_repo_check(struct sim *s, const char *repo, const char *branch, const char **branch_out,
                   char *err, size_t errsize);

/* ---- mutate.c: mutations (and serviceInstanceAutoDeployStatus) --------------------------------
 */

int sim_service_create_resolve(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n);
int sim_service_instance_update_resolve(struct sim *s, const cJSON *args, cJSON **out, char *err,
                                        size_t n);
int sim_variable_collection_upsert_resolve(struct sim *s, const cJSON *args, cJSON **out, char *err,
                                           size_t n);
int sim_service_connect_resolve(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n);
int sim_deployment_trigger_create_resolve(struct sim *s, const cJSON *args, cJSON **out, char *err,
                                          size_t n);
int sim_service_instance_deploy_v2_resolve(struct sim *s, const cJSON *args, cJSON **out, char *err,
                                           size_t n);
int sim_service_update_resolve(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n);
int sim_service_delete_resolve(struct sim *s, const cJSON *args, cJSON **out, char *err, size_t n);
int sim_service_instance_auto_deploy_status_resolve(struct sim *s, const cJSON *args, cJSON **out,
                                                    char *err, size_t n);
int sim_service_instance_auto_deploy_update_resolve(struct sim *s, const cJSON *args, cJSON **out,
                                                    char *err, size_t n);

/* ---- argument helpers -------------------------------------------------------------------------
 */

static inline const char *sim_arg_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static inline bool sim_arg_true(const cJSON *obj, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

/* Copies msg into err and returns -1. */
static inline int sim_fail(char *err, size_t errsize, const char *msg)
{
    snprintf(err, errsize, "%s", msg);
    return -1;
}

#endif
