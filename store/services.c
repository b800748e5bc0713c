/* The services table's statements. */
#include "store/services.h"

#include "store/store_int.h"
#include "util/util.h"

#include <stdlib.h>

static const struct store_stmt active_stmt = {
    "railhook_services_active",
    "SELECT name, manifest_id FROM services WHERE status = 'active' ORDER BY name",
    0,
};

enum rh_status store_service_names_active(PGconn *c, char ***names, char ***manifests, size_t *n,
                                          char *err, size_t errlen)
{
    PGresult *r = NULL;
    *names = NULL;
    *manifests = NULL;
    *n = 0;
    enum rh_status st = store_run(c, &active_stmt, NULL, &r, err, errlen);
    if (st != RH_OK)
        goto out;
    *n = (size_t)PQntuples(r);
    *names = xcalloc(*n ? *n : 1, sizeof(**names));
    *manifests = xcalloc(*n ? *n : 1, sizeof(**manifests));
    for (size_t i = 0; i < *n; i++) {
        (*names)[i] = xstrdup(PQgetvalue(r, (int)i, 0));
        if (!PQgetisnull(r, (int)i, 1))
            (*manifests)[i] = xstrdup(PQgetvalue(r, (int)i, 1));
    }
out:
    PQclear(r);
    return st;
}

void store_service_names_free(char **names, char **manifests, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(names ? names[i] : NULL);
        free(manifests ? manifests[i] : NULL);
    }
    free(names);
    free(manifests);
}

/* Runs one of the statements below, which return at most one row. */
static enum rh_status run(PGconn *c, const char *sql, int n, const char *const *p, PGresult **out,
                          char *err, size_t errlen)
{
    const struct store_stmt st = {NULL, sql, n};
    return store_run(c, &st, p, out, err, errlen);
}

enum rh_status store_service_upsert(PGconn *c, const struct store_service *s, bool *owned,
                                    char *err, size_t errlen)
{
    const char *p[] = {s->name,     s->manifest_id, s->railway_service_id, s->repo, s->branch,
                       s->root_dir, s->status,      s->last_job_id};
    PGresult *r = NULL;
    *owned = false;
    /* A removed row, or one without a manifest, may be taken over; a live one of another
     * manifest may not. */
    enum rh_status st =
        run(c,
            "INSERT INTO services (name, manifest_id, railway_service_id, repo, branch,"
            " root_dir, status, last_job_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            " ON CONFLICT (name) DO UPDATE SET manifest_id = coalesce(EXCLUDED.manifest_id,"
            " services.manifest_id), railway_service_id = EXCLUDED.railway_service_id,"
            " repo = EXCLUDED.repo, branch = EXCLUDED.branch, root_dir = EXCLUDED.root_dir,"
            " status = EXCLUDED.status, last_job_id = EXCLUDED.last_job_id,"
            " updated_at = now()"
            " WHERE EXCLUDED.manifest_id IS NULL OR services.manifest_id IS NULL"
            " OR services.manifest_id = EXCLUDED.manifest_id OR services.status = 'removed'"
            " RETURNING 1",
            8, p, &r, err, errlen);
    if (st == RH_OK)
        *owned = PQntuples(r) == 1;
    PQclear(r);
    return st;
}

enum rh_status store_service_railway_id(PGconn *c, const char *manifest_id, const char *name,
                                        char **id, char *err, size_t errlen)
{
    const char *p[] = {manifest_id ? manifest_id : name};
    PGresult *r = NULL;
    *id = NULL;
    enum rh_status st =
        run(c,
            manifest_id ? "SELECT railway_service_id FROM services WHERE manifest_id = $1"
                          " AND status <> 'removed' AND railway_service_id IS NOT NULL"
                          " ORDER BY updated_at DESC LIMIT 1"
                        : "SELECT railway_service_id FROM services"
                          " WHERE name = $1 AND status <> 'removed'",
            1, p, &r, err, errlen);
    if (st == RH_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        *id = xstrdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return st;
}

enum rh_status store_service_tracked(PGconn *c, const char *name, bool *tracked, char **manifest_id,
                                     char *err, size_t errlen)
{
    const char *p[] = {name};
    PGresult *r = NULL;
    *tracked = false;
    *manifest_id = NULL;
    enum rh_status st = run(c,
                            "SELECT manifest_id FROM services"
                            " WHERE name = $1 AND status <> 'removed'",
                            1, p, &r, err, errlen);
    if (st == RH_OK && PQntuples(r) == 1) {
        *tracked = true;
        if (!PQgetisnull(r, 0, 0))
            *manifest_id = xstrdup(PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    return st;
}

enum rh_status store_service_deployed(PGconn *c, const char *name, const char *deployment_id,
                                      const char *status, const char *job_id, const cJSON *digests,
                                      char *err, size_t errlen)
{
    char *vars = digests ? cJSON_PrintUnformatted(digests) : NULL;
    const char *p[] = {name, deployment_id, status, job_id, vars};
    enum rh_status st =
        run(c,
            "UPDATE services SET last_deployment_id = $2, last_deployment_status = $3,"
            " last_job_id = $4, status = CASE WHEN $3 = 'SUCCESS' THEN 'active' ELSE status END,"
            " variables = coalesce($5::jsonb, variables), updated_at = now() WHERE name = $1",
            5, p, NULL, err, errlen);
    cJSON_free(vars);
    return st;
}

enum rh_status store_service_status_set(PGconn *c, const char *name, const char *status,
                                        const char *job_id, char *err, size_t errlen)
{
    const char *p[] = {name, status, job_id};
    return run(c,
               "UPDATE services SET status = $2, last_job_id = coalesce($3::uuid, last_job_id),"
               " updated_at = now() WHERE name = $1",
               3, p, NULL, err, errlen);
}

enum rh_status store_service_release(PGconn *c, const char *name, const char *manifest_id,
                                     char *err, size_t errlen)
{
    const char *p[] = {name, manifest_id};
    return run(c,
               "UPDATE services SET status = 'removed', updated_at = now() WHERE name = $1"
               " AND manifest_id = $2 AND railway_service_id IS NULL AND status <> 'removed'",
               2, p, NULL, err, errlen);
}

enum rh_status store_service_rename(PGconn *c, const char *from, const char *to, char *err,
                                    size_t errlen)
{
    const char *p[] = {from, to};
    return run(c,
               "UPDATE services SET name = $2, updated_at = now() WHERE name = $1"
               " AND NOT EXISTS (SELECT 1 FROM services WHERE name = $2)",
               2, p, NULL, err, errlen);
}

enum rh_status store_service_digests(PGconn *c, const char *name, cJSON **digests, char *err,
                                     size_t errlen)
{
    const char *p[] = {name};
    PGresult *r = NULL;
    *digests = NULL;
    enum rh_status st =
        run(c, "SELECT variables FROM services WHERE name = $1", 1, p, &r, err, errlen);
    if (st == RH_OK && PQntuples(r) == 1)
        *digests = cJSON_Parse(PQgetvalue(r, 0, 0));
    PQclear(r);
    return st;
}
