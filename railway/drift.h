/* Schema drift: what Railway's live schema (one introspection answer, the CheckSchema document)
 * would refuse in railhook's embedded GraphQL documents, and in the input fields each
 * document's "# input-fields: Type { field ... }" comments say railhook sets in its variables,
 * in graphql-js's words; uses of deprecated fields are warnings. */
#ifndef RAILHOOK_RAILWAY_DRIFT_H
#define RAILHOOK_RAILWAY_DRIFT_H

#include "util/status.h"

#include <cjson/cJSON.h>
#include <stddef.h>

/* Compares one document (file names it in findings) with schema, the "__schema" object of an
 * introspection answer, and appends a finding per problem to the findings array:
 * {"document","operation","path":"line N","problem","severity":"error"|"warning"}. RH_OK when
 * the document could be analysed (with or without findings); RH_INVALID with err otherwise. */
enum rh_status railway_drift_document(const cJSON *schema, const char *file, const char *text,
                                      cJSON *findings, char *err, size_t errlen);
/* The same for every embedded document; *documents receives how many were compared.
 * RH_INVALID with err when schema is not an introspection answer or a document cannot be
 * analysed. */
enum rh_status railway_drift_all(const cJSON *schema, cJSON *findings, int *documents, char *err,
                                 size_t errlen);

#endif
