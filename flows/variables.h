/* Worker variable templates: WORKER_VARIABLES_FILE (a JSON object NAME -> template, where
 * {record.COLUMN} takes a value from the manifest row and {env.NAME} from railhook's
 * environment; any other text, braces included, is kept as written) or the built-in defaults,
 * and their rendering for one manifest row. */
#ifndef RAILHOOK_FLOWS_VARIABLES_H
#define RAILHOOK_FLOWS_VARIABLES_H

#include "util/config.h"
#include "util/status.h"

#include <cjson/cJSON.h>
#include <stddef.h>

/* Loads the templates (new object, caller deletes) or NULL with err naming the problem.
 * Every environment value the templates read ({env.NAME}) is registered with the redactor,
 * so Railway echoing it back is blanked; one shorter than 8 bytes only when its name looks
 * secret (KEY, SECRET, TOKEN, PASSWORD). Call before threads start. */
cJSON *variables_templates_load(const struct config *cfg, char *err, size_t errlen);
/* The manifest columns the templates read (new array of strings, caller deletes). */
cJSON *variables_template_columns(const cJSON *templates);
/* Renders every template for record into *out (new object NAME -> value). RH_INVALID with err
 * naming the template and the missing column or variable. */
enum rh_status variables_render(const cJSON *templates, const cJSON *record, cJSON **out, char *err,
                                size_t errlen);
/* SHA-256 hex digests of each value (new object NAME -> digest): what railhook remembers of
 * the values it set, so secrets are never stored. */
cJSON *variables_digests(const cJSON *values);

#endif
