/* The desired state of reconciliation: the manifest rows of SUPABASE_SCHEMA.SUPABASE_TABLE in
 * the database MANIFESTS_DATABASE_URL names (Supabase's), read on a short-lived connection of
 * its own, a page at a time, within a statement timeout. */
#ifndef RAILHOOK_STORE_MANIFESTS_H
#define RAILHOOK_STORE_MANIFESTS_H

#include "util/status.h"

#include <cjson/cJSON.h>
#include <stddef.h>

/* What to read and how. Strings are borrowed. */
struct store_manifests_query {
    const char *url;            /* MANIFESTS_DATABASE_URL */
    const char *schema;         /* SUPABASE_SCHEMA */
    const char *table;          /* SUPABASE_TABLE */
    const char *const *columns; /* the columns the templates read ("id" is always read) */
    size_t ncolumns;
    int connect_timeout_s;
    int statement_timeout_ms; /* each page's limit */
    int page;                 /* rows per page (keyset on id) */
    int max_rows;             /* more rows than this is an error (0: no limit) */
};

/* Reads every row as the JSON object a database webhook's record would be (the columns read,
 * with their JSON types) into *rows (a new array, caller deletes), ordered by id. Identifiers
 * are quoted, values never interpolated. RH_UNAVAILABLE with err set (the URL's password never
 * in it) when the database cannot be reached, the table or a column is missing, or a page
 * timed out; *rows is then NULL. */
enum rh_status store_manifests_read(const struct store_manifests_query *q, cJSON **rows, char *err,
                                    size_t errlen);

#endif
