/* The services table: the Railway services railhook created and keeps, by name. */
#ifndef RAILHOOK_STORE_SERVICES_H
#define RAILHOOK_STORE_SERVICES_H

#include "util/status.h"

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* The names of the active services, sorted: *names holds *n of them, and (*manifests)[i] the
 * id of the manifest that owns names[i] (NULL when none is recorded); free both with
 * store_service_names_free(). RH_UNAVAILABLE with err set when the query fails. */
enum rh_status store_service_names_active(PGconn *c, char ***names, char ***manifests, size_t *n,
                                          char *err, size_t errlen);
/* Frees what store_service_names_active() returned; NULL-safe. */
void store_service_names_free(char **names, char **manifests, size_t n);

/* A service row as a provision records it; strings are borrowed. */
struct store_service {
    const char *name;
    const char *manifest_id; /* NULL keeps the one recorded */
    const char *railway_service_id;
    const char *repo;
    const char *branch;
    const char *root_dir;
    const char *status; /* 'provisioning', 'active', 'failed' or 'removed' */
    const char *last_job_id;
};

/* Inserts the row named s->name or updates it, but only when it is this manifest's: a live
 * row of that name that another manifest owns is left alone and *owned is false. RH_OK, or a
 * failure status with err set. */
enum rh_status store_service_upsert(PGconn *c, const struct store_service *s, bool *owned,
                                    char *err, size_t errlen);
/* The Railway id recorded for manifest_id's service (or, with manifest_id NULL, for the
 * service named name) unless it was removed: *id (free()), NULL when there is none. RH_OK, or
 * a failure status with err set (*id NULL). */
enum rh_status store_service_railway_id(PGconn *c, const char *manifest_id, const char *name,
                                        char **id, char *err, size_t errlen);
/* Whether railhook tracks a live (not removed) service named name (*tracked), and the
 * manifest it belongs to (*manifest_id, free(); NULL when none). RH_OK, or a failure status
 * with err set. */
enum rh_status store_service_tracked(PGconn *c, const char *name, bool *tracked, char **manifest_id,
                                     char *err, size_t errlen);
/* Records the outcome of job_id's deployment deployment_id of service name: its status
 * (SUCCESS makes the service active) and, unless NULL, the digests of the variables railhook
 * set (a JSON object). */
enum rh_status store_service_deployed(PGconn *c, const char *name, const char *deployment_id,
                                      const char *status, const char *job_id, const cJSON *digests,
                                      char *err, size_t errlen);
/* Sets the status of service name and, unless NULL, its last job. */
enum rh_status store_service_status_set(PGconn *c, const char *name, const char *status,
                                        const char *job_id, char *err, size_t errlen);
/* Gives up the name manifest_id claimed for a service that was never created (no Railway id):
 * its row is marked removed. Another manifest's row, or one with a service, is untouched. */
enum rh_status store_service_release(PGconn *c, const char *name, const char *manifest_id,
                                     char *err, size_t errlen);
/* Renames service from to to, unless a service named to exists already. */
enum rh_status store_service_rename(PGconn *c, const char *from, const char *to, char *err,
                                    size_t errlen);
/* The variable digests last recorded for service name: *digests (cJSON_Delete()), NULL when
 * the service is unknown. RH_OK, or a failure status with err set (*digests NULL). */
enum rh_status store_service_digests(PGconn *c, const char *name, cJSON **digests, char *err,
                                     size_t errlen);

#endif
