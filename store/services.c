/* The services table's statements. */
#include "store/services.h"

#include "store/store_int.h"
#include "util/util.h"

#include <stdlib.h>

static const struct store_stmt active_stmt = {
    "railhook_services_active",
    "SELECT name FROM services WHERE status = 'active' ORDER BY name",
    0,
};

enum rh_status store_service_names_active(PGconn *c, char ***names, size_t *n, char *err,
                                          size_t errlen)
{
    PGresult *r = NULL;
    *names = NULL;
    *n = 0;
    enum rh_status st = store_run(c, &active_stmt, NULL, &r, err, errlen);
    if (st != RH_OK)
        goto out;
    *n = (size_t)PQntuples(r);
    *names = xcalloc(*n ? *n : 1, sizeof(**names));
    for (size_t i = 0; i < *n; i++)
        (*names)[i] = xstrdup(PQgetvalue(r, (int)i, 0));
out:
    PQclear(r);
    return st;
}

void store_service_names_free(char **names, size_t n)
{
    if (!names)
        return;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}
