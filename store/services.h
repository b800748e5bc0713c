/* The services table: the Railway services railhook created and keeps, by name. */
#ifndef RAILHOOK_STORE_SERVICES_H
#define RAILHOOK_STORE_SERVICES_H

#include "util/status.h"

#include <libpq-fe.h>
#include <stddef.h>

/* The names of the active services, sorted: *names (free with store_service_names_free())
 * holds *n of them. RH_UNAVAILABLE with err set when the query fails. */
enum rh_status store_service_names_active(PGconn *c, char ***names, size_t *n, char *err,
                                          size_t errlen);
/* Frees what store_service_names_active() returned; NULL-safe. */
void store_service_names_free(char **names, size_t n);

#endif
