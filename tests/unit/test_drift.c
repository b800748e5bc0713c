/* Schema drift (railway/drift.c): the embedded documents against Railway's schema (the
 * committed snapshot, and the full introspection in ../shared when it is there), and each kind
 * of change railhook must notice, made by editing a copy of the snapshot. */
#include "railway/drift.h"
#include "support/harness.h"
#include "util/util.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cJSON *root;   /* the whole introspection file */
static cJSON *schema; /* its __schema */

static void load_from(const char *path)
{
    size_t len = 0;
    char *text = th_read_file(path, &len);
    cJSON_Delete(root);
    root = cJSON_ParseWithLength(text, len);
    cr_assert_not_null(root);
    schema = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "data"), "__schema");
    cr_assert_not_null(schema);
    free(text);
}

static void load(void)
{
    char *path = xasprintf("%s/railway/schema/railway-schema.json", RAILHOOK_SOURCE_DIR);
    load_from(path);
    free(path);
}

static void unload(void)
{
    cJSON_Delete(root);
    root = schema = NULL;
}

static cJSON *named(cJSON *list, const char *name)
{
    cJSON *it;
    cJSON_ArrayForEach(it, list)
    {
        const cJSON *n = cJSON_GetObjectItem(it, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
            return it;
    }
    cr_assert_fail("no %s", name);
    return NULL;
}

static cJSON *type(const char *name)
{
    return named(cJSON_GetObjectItem(schema, "types"), name);
}

static void drop(cJSON *list, const char *name)
{
    cJSON_Delete(cJSON_DetachItemViaPointer(list, named(list, name)));
}

/* The findings of every embedded document, joined as "Op (file): path: problem" lines. */
static char *all_findings(int *count)
{
    cJSON *findings = cJSON_CreateArray();
    char err[256] = "";
    int docs = 0;
    cr_assert_eq(railway_drift_all(schema, findings, &docs, err, sizeof(err)), RH_OK, "%s", err);
    cr_assert_geq(docs, 20);
    struct buf b;
    buf_init(&b, 0);
    const cJSON *f;
    cJSON_ArrayForEach(f, findings)
    {
        buf_printf(&b, "%s (%s): %s: %s [%s]\n", cJSON_GetObjectItem(f, "operation")->valuestring,
                   cJSON_GetObjectItem(f, "document")->valuestring,
                   cJSON_GetObjectItem(f, "path")->valuestring,
                   cJSON_GetObjectItem(f, "problem")->valuestring,
                   cJSON_GetObjectItem(f, "severity")->valuestring);
    }
    *count = cJSON_GetArraySize(findings);
    cJSON_Delete(findings);
    char *out = buf_steal(&b);
    return out ? out : xstrdup("");
}

static void expect_finding(const char *want)
{
    int n = 0;
    char *got = all_findings(&n);
    cr_assert_not_null(strstr(got, want), "want \"%s\" in:\n%s", want, got);
    free(got);
}

TestSuite(check_drift, .init = load, .fini = unload);

Test(check_drift, embedded_documents_match_railway_s_schema)
{
    int n = 0;
    char *got = all_findings(&n);
    cr_assert_eq(n, 0, "findings:\n%s", got);
    free(got);
    /* The full introspection, descriptions and deprecation reasons included, when present. */
    char *shared = xasprintf("%s/../shared/railway/railway-public-schema.introspection.json",
                             RAILHOOK_SOURCE_DIR);
    if (access(shared, R_OK) == 0) {
        load_from(shared);
        got = all_findings(&n);
        cr_assert_eq(n, 0, "findings against %s:\n%s", shared, got);
        free(got);
    }
    free(shared);
}

Test(check_drift, removed_input_field_names_the_document)
{
    drop(cJSON_GetObjectItem(type("ServiceConnectInput"), "inputFields"), "repo");
    expect_finding(
        "ServiceConnect (service_connect.graphql): line 2: Field \"repo\" is not defined "
        "by type \"ServiceConnectInput\". [error]");
}

Test(check_drift, nested_input_fields_are_followed)
{
    drop(cJSON_GetObjectItem(type("ServiceSourceInput"), "inputFields"), "repo");
    expect_finding(
        "ServiceCreate (service_create.graphql): line 2: Field \"repo\" is not defined by "
        "type \"ServiceSourceInput\".");
}

Test(check_drift, removed_argument_and_output_field)
{
    cJSON *project = named(cJSON_GetObjectItem(type("Query"), "fields"), "project");
    drop(cJSON_GetObjectItem(project, "args"), "id");
    drop(cJSON_GetObjectItem(type("ServiceInstance"), "fields"), "rootDirectory");
    expect_finding("ProjectServices (project_services.graphql): line 3: Unknown argument \"id\" on "
                   "field \"Query.project\".");
    expect_finding("CheckProject (check_project.graphql): line 3: Unknown argument \"id\" on field "
                   "\"Query.project\".");
    expect_finding("ServiceInstance (service_instance.graphql): line 6: Cannot query field "
                   "\"rootDirectory\" on type \"ServiceInstance\".");
}

Test(check_drift, changed_argument_type_and_new_required_argument)
{
    cJSON *deployment = named(cJSON_GetObjectItem(type("Query"), "fields"), "deployment");
    cJSON *id_type =
        cJSON_GetObjectItem(named(cJSON_GetObjectItem(deployment, "args"), "id"), "type");
    cJSON *inner = cJSON_GetObjectItem(id_type, "ofType");
    cJSON_ReplaceItemInObject(inner, "name", cJSON_CreateString("ID"));
    /* A new non-null argument without a default, copied from id. */
    cJSON *extra = cJSON_Duplicate(named(cJSON_GetObjectItem(deployment, "args"), "id"), 1);
    cJSON_ReplaceItemInObject(extra, "name", cJSON_CreateString("workspaceId"));
    cJSON_AddItemToArray(cJSON_GetObjectItem(deployment, "args"), extra);
    expect_finding("Deployment (deployment.graphql): line 3: Variable \"$id\" of type \"String!\" "
                   "used in position expecting type \"ID!\".");
    expect_finding("Deployment (deployment.graphql): line 3: Field \"deployment\" argument "
                   "\"workspaceId\" of type \"ID!\" is required, but it was not provided.");
}

Test(check_drift, new_required_input_field)
{
    cJSON *fields = cJSON_GetObjectItem(type("ServiceConnectInput"), "inputFields");
    cJSON *extra = cJSON_Duplicate(named(fields, "repo"), 1);
    cJSON_ReplaceItemInObject(extra, "name", cJSON_CreateString("provider"));
    cJSON *nn = cJSON_CreateObject();
    cJSON_AddStringToObject(nn, "kind", "NON_NULL");
    cJSON_AddNullToObject(nn, "name");
    cJSON_AddItemToObject(nn, "ofType", cJSON_DetachItemFromObject(extra, "type"));
    cJSON_AddItemToObject(extra, "type", nn);
    cJSON_AddItemToArray(fields, extra);
    expect_finding("ServiceConnect (service_connect.graphql): line 2: Field "
                   "\"ServiceConnectInput.provider\" of required type \"String!\" was not "
                   "provided.");
}

Test(check_drift, removed_type_and_leaf_turned_object)
{
    drop(cJSON_GetObjectItem(schema, "types"), "DeploymentListInput");
    cJSON *status = named(cJSON_GetObjectItem(type("Deployment"), "fields"), "status");
    cJSON *t = cJSON_GetObjectItem(status, "type");
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(t, "ofType"), "name",
                              cJSON_CreateString("Service"));
    expect_finding("ServiceDeployments (service_deployments.graphql): line 3: Unknown type "
                   "\"DeploymentListInput\".");
    expect_finding("Deployment (deployment.graphql): line 5: Field \"status\" of type \"Service!\" "
                   "must have a selection of subfields. Did you mean \"status { ... }\"?");
}

Test(check_drift, deprecation_is_a_warning)
{
    cJSON *f = named(cJSON_GetObjectItem(type("Query"), "fields"), "serviceInstance");
    cJSON_ReplaceItemInObject(f, "isDeprecated", cJSON_CreateTrue());
    cJSON_AddStringToObject(f, "deprecationReason", "Use environment"); /* the snapshot has none */
    expect_finding("ServiceInstance (service_instance.graphql): line 3: The field "
                   "Query.serviceInstance is deprecated. Use environment [warning]");
}

Test(check_drift, documents_it_cannot_read_are_errors)
{
    cJSON *findings = cJSON_CreateArray();
    char err[256] = "";
    cr_assert_eq(railway_drift_document(schema, "broken.graphql",
                                        "query Broken {\n  project(id: \"x\") {\n    id\n",
                                        findings, err, sizeof(err)),
                 RH_INVALID);
    cr_assert_not_null(strstr(err, "broken.graphql:"), "%s", err);

    /* An input-fields comment must name a type the document's variables use. */
    cr_assert_eq(railway_drift_document(schema, "odd.graphql",
                                        "# input-fields: ServiceConnectInput { repo }\n"
                                        "query Odd($id: String!) { deployment(id: $id) { id } }\n",
                                        findings, err, sizeof(err)),
                 RH_OK, "%s", err);
    cr_assert_eq(cJSON_GetArraySize(findings), 1);
    cr_assert_not_null(
        strstr(cJSON_GetObjectItem(cJSON_GetArrayItem(findings, 0), "problem")->valuestring,
               "which no variable of the operation has"));
    cJSON_Delete(findings);

    findings = cJSON_CreateArray();
    int docs = 0;
    cJSON *empty = cJSON_CreateObject();
    cr_assert_eq(railway_drift_all(empty, findings, &docs, err, sizeof(err)), RH_INVALID);
    cJSON_Delete(empty);
    cJSON_Delete(findings);
}
