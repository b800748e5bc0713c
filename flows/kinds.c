/* The job-kind table: the one list of the kinds railhook runs. Adding a kind: its flow's file
 * (the flow and its struct flows_handler), a row here, and the JobKind enum of openapi.yaml
 * (a test holds it equal to this table). */
#include "flows/flows_int.h"

#include "util/util.h"

#include <string.h>

/* Each flow's handler, defined in its own file (flows/<kind>.c). */
extern const struct flows_handler flows_provision, flows_update, flows_redeploy, flows_deprovision;

const struct flows_kind flows_kinds[] = {
    {"provision", &flows_provision, true, FLOWS_TRIGGER_SUPABASE_INSERT, FLOWS_INPUT_ROW},
    {"update", &flows_update, true, FLOWS_TRIGGER_SUPABASE_UPDATE, FLOWS_INPUT_ROW_CHANGE},
    {"redeploy", &flows_redeploy, true, FLOWS_TRIGGER_GITHUB_PUSH, FLOWS_INPUT_SERVICE},
    {"deprovision", &flows_deprovision, true, FLOWS_TRIGGER_SUPABASE_DELETE, FLOWS_INPUT_ROW},
    {NULL, NULL, false, FLOWS_TRIGGER_NONE, FLOWS_INPUT_ROW},
};

const struct flows_kind *flows_kind_find(const char *name)
{
    const struct flows_kind *k = flows_kinds;
    while (k->name && (!name || strcmp(k->name, name) != 0))
        k++;
    return k->name ? k : NULL;
}

char *flows_kind_names(bool api_only)
{
    struct buf b;
    buf_init(&b, 0);
    for (const struct flows_kind *k = flows_kinds; k->name; k++)
        if (!api_only || k->api_create)
            buf_printf(&b, "%s%s", b.len ? ", " : "", k->name);
    return buf_steal(&b);
}
