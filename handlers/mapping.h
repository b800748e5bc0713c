/* Webhook payloads to queue jobs: pure functions from a parsed delivery and the configuration
 * to the jobs it asks for, a reason to ignore it (200), or the field that makes it unusable
 * (422). Nothing here touches the network or the database; after mapping_rules_load() the
 * rules are read-only and every function is safe from any thread. */
#ifndef RAILHOOK_HANDLERS_MAPPING_H
#define RAILHOOK_HANDLERS_MAPPING_H

#include "flows/flows.h"
#include "util/config.h"
#include "util/status.h"

#include <cjson/cJSON.h>
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#define MAPPING_MAX_SERVICE_NAME   128
#define MAPPING_MAX_MESSAGE        4096 /* head commit messages are cut (on a UTF-8 boundary) here */
#define MAPPING_MAX_LISTED_COMMITS 20   /* a push listing this many commits may be truncated */

enum mapping_outcome {
    MAPPING_JOBS,    /* jobs[] holds the jobs to queue */
    MAPPING_FANOUT,  /* a job per active service: see mapping_redeploy_jobs() */
    MAPPING_IGNORED, /* reason says why (answer 200, store nothing) */
    MAPPING_INVALID, /* field and message say what is wrong (answer 422, store nothing) */
};

struct mapping_job {
    const char *kind;   /* a name of the kind table (flows/flows.h; static) */
    cJSON *payload;     /* owned */
    char *dedupe_key;   /* owned: "<source>:<delivery id>:<kind>[:<service>]" */
    char *active_key;   /* owned, or NULL: "<kind>:<service>:<commit>" for a push's jobs, at
                         * most one of which is queued or running (store/enqueue.h) */
    char *service_name; /* owned */
};

struct mapping_result {
    enum mapping_outcome outcome;
    struct mapping_job *jobs;
    size_t njobs;
    cJSON *redeploy;         /* MAPPING_FANOUT: the payload every job shares (owned) */
    const char *fanout_kind; /* MAPPING_FANOUT: the kind of those jobs (static) */
    char reason[160];
    char field[96];
    char message[256];
};

/* What the mappers need from the configuration, prepared once. */
struct mapping_rules {
    const struct config *cfg;
    const struct flows_kind *kinds; /* the kind table (flows_kinds, or a test's) */
    regex_t schema_re;              /* SERVICE_SCHEMA_PATTERN */
    bool schema_re_ready;
    regex_t id_re; /* MANIFEST_ID_PATTERN */
    bool id_re_ready;
    char **columns; /* manifest columns whose change makes an UPDATE relevant */
    size_t ncolumns;
    char *root_dir; /* WORKER_ROOT_DIR without leading/trailing '/' ("" = whole repo) */
};

/* Lists the manifest columns the worker variable templates read (WORKER_VARIABLES_FILE or
 * the flows' defaults: {record.X} placeholders), plus service_schema and the columns of
 * SERVICE_NAME_TEMPLATE, each once. Free the array with mapping_columns_free(). RH_INVALID
 * with err naming the variable when a template is unusable. */
enum rh_status mapping_template_columns(const struct config *cfg, char ***columns, size_t *n,
                                        char *err, size_t errlen);
/* Frees what mapping_template_columns() returned; NULL-safe. */
void mapping_columns_free(char **columns, size_t n);

/* Prepares rules from cfg and the kind table whose triggers pick the kinds (both must
 * outlive the rules). RH_INVALID with err set on a bad pattern or template. Free with
 * mapping_rules_free(). Call before threads start. */
enum rh_status mapping_rules_load(struct mapping_rules *rules, const struct config *cfg,
                                  const struct flows_kind *kinds, char *err, size_t errlen);
/* Frees what mapping_rules_load() made; safe on a zeroed or freed struct. */
void mapping_rules_free(struct mapping_rules *rules);

/* Starts an empty result; free with mapping_result_free() (safe twice). */
void mapping_result_init(struct mapping_result *res);
void mapping_result_free(struct mapping_result *res);

/* Renders a service name template ("osp-worker-{service_schema}": {column} takes the row's
 * column) for record into a new string (free()). RH_INVALID with err naming the column when
 * it is missing, null or not a scalar, or when the name is empty, too long or has control
 * characters or an unclosed brace. */
enum rh_status mapping_service_name(const char *tmpl, const cJSON *record, char **out, char *err,
                                    size_t errlen);

/* True when s[0..len) is well-formed UTF-8 (no overlongs, surrogates or code points past
 * U+10FFFF), as JSON text must be. */
bool mapping_utf8_valid(const void *s, size_t len);

/* Derives the delivery id of a Supabase delivery that carries none (bearer-authenticated):
 * "<type>:<schema>.<table>:<row id>:<hash of the raw body>", printable ASCII, into out. */
void mapping_supabase_delivery_id(const cJSON *body, const void *raw, size_t len, char *out,
                                  size_t cap);

/* Maps one manifest row to a job of kind (a kind made from a row): row is the row the job
 * acts on, named rowname in messages and res->field; old (may be NULL) the row before an
 * update, which ignores a change of no relevant column. Every row used (row, and old) is
 * checked alike: id a UUID, an integer or a MANIFEST_ID_PATTERN match; service_schema a
 * SERVICE_SCHEMA_PATTERN match; a usable service name; and no "${{" (Railway's reference
 * syntax, resolved inside variable values) in the id or any column the service name or the
 * variable templates read. The payload and dedupe key ("<source>:<delivery id>:<kind>") name
 * source. RH_OK with res->outcome JOBS or IGNORED; RH_INVALID with outcome INVALID and
 * res->field naming the offending field. */
enum rh_status mapping_row_job(const struct mapping_rules *rules, const struct flows_kind *kind,
                               const cJSON *row, const cJSON *old, const char *rowname,
                               const char *source, const char *delivery_id,
                               struct mapping_result *res);

/* Maps a Supabase database webhook body ({type, table, schema, record, old_record}) to at
 * most one job, of the kind the table's trigger for that type names (the row of a DELETE is
 * old_record; an UPDATE passes old_record as the row before). Results as mapping_row_job(). */
enum rh_status mapping_supabase(const struct mapping_rules *rules, const cJSON *body,
                                const char *delivery_id, struct mapping_result *res);

/* Maps a GitHub delivery (X-GitHub-Event and parsed body). A push to WORKER_REPO's
 * WORKER_BRANCH that passes the paths filter gives outcome FANOUT (res->redeploy and
 * res->fanout_kind, the kind the push triggers, set);
 * ping, other events, repos, branches, tags and deletions give IGNORED. RH_INVALID (outcome
 * INVALID) when a push lacks a field it needs. */
enum rh_status mapping_github(const struct mapping_rules *rules, const char *event,
                              const cJSON *body, const char *delivery_id,
                              struct mapping_result *res);

/* Turns a FANOUT result into one job per service name (outcome JOBS), or into IGNORED with a
 * reason when n is 0 ("no active services") or over max_jobs (MAX_JOBS_PER_DELIVERY). Other
 * outcomes are left alone. manifests (may be NULL, as may its entries) gives the id of the
 * manifest that owns each service: its job carries it, so it runs in order with that
 * manifest's other jobs. */
void mapping_redeploy_jobs(struct mapping_result *res, const char *const *services,
                           const char *const *manifests, size_t n, size_t max_jobs);

#endif
