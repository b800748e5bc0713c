/* schema: embedded slice of Railway's public schema, validation, coercion and result shaping.
 *
 * Types are kept as GraphQL spells them ("[String!]!") and taken apart with small string
 * helpers. Field and argument lists of the types below are those of
 * shared/railway/railway-public-schema.sdl.graphql. Messages follow graphql-js 16. */
#include "schema.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#include "schema_roots.inc"

#define TYPE_MAX        96
#define CODE_VALIDATION "GRAPHQL_VALIDATION_FAILED"
#define MAX_ERRORS      100
/* Recursion cap through nested selections and fragment spreads. */
#define MAX_WALK_DEPTH 200
/* Distinct fragments spread into one selection level at execution. */
#define MAX_COLLECT_FRAGMENTS 256

/* ---- the schema table ---------------------------------------------------------------------- */

static const struct schema_input_value no_args[] = {{NULL, NULL, NULL}};

static const struct schema_input_value connection_args[] = {
    {"after", "String", NULL}, {"before", "String", NULL}, {"first", "Int", NULL},
    {"last", "Int", NULL},     {NULL, NULL, NULL},
};

static const struct schema_input_value args_project[] = {
    {"id", "String!", NULL},
    {NULL, NULL, NULL},
};

static const struct schema_input_value args_service_instance[] = {
    {"environmentId", "String!", NULL},
    {"serviceId", "String!", NULL},
    {NULL, NULL, NULL},
};

static const struct schema_input_value args_variables[] = {
    {"environmentId", "String!", NULL},
    {"projectId", "String!", NULL},
    {"serviceId", "String", NULL},
    {"unrendered", "Boolean", NULL},
    {NULL, NULL, NULL},
};

static const struct schema_input_value args_id[] = {
    {"id", "String!", NULL},
    {NULL, NULL, NULL},
};

static const struct schema_input_value args_deployments[] = {
    {"after", "String", NULL}, {"before", "String", NULL},
    {"first", "Int", NULL},    {"input", "DeploymentListInput!", NULL},
    {"last", "Int", NULL},     {NULL, NULL, NULL},
};

static const struct schema_input_value args_service_create[] = {
    {"input", "ServiceCreateInput!", NULL},
    {NULL, NULL, NULL},
};

static const struct schema_input_value args_service_instance_update[] = {
    {"environmentId", "String", NULL},
    {"input", "ServiceInstanceUpdateInput!", NULL},
    {"serviceId", "String!", NULL},
    {NULL, NULL, NULL},
};

static const struct schema_input_value args_variable_collection_upsert[] = {
    {"input", "VariableCollectionUpsertInput!", NULL},
    {NULL, NULL, NULL},
};

static const struct schema_input_value args_service_connect[] = {
    {"id", "String!", NULL},
    {"input", "ServiceConnectInput!", NULL},
    {NULL, NULL, NULL},
};

static const struct schema_input_value args_deployment_trigger_create[] = {
    {"input", "DeploymentTriggerCreateInput!", NULL},
    {NULL, NULL, NULL},
};

static const struct schema_input_value args_service_instance_deploy_v2[] = {
    {"commitSha", "String", NULL},
    {"environmentId", "String!", NULL},
    {"serviceId", "String!", NULL},
    {NULL, NULL, NULL},
};

static const struct schema_input_value args_service_update[] = {
    {"id", "String!", NULL},
    {"input", "ServiceUpdateInput!", NULL},
    {NULL, NULL, NULL},
};

static const struct schema_input_value args_service_delete[] = {
    {"environmentId", "String", NULL},
    {"id", "String!", NULL},
    {NULL, NULL, NULL},
};

static const struct schema_input_value args_name[] = {
    {"name", "String!", NULL},
    {NULL, NULL, NULL},
};

static const struct schema_input_value args_environment[] = {
    {"id", "String!", NULL},
    {"projectId", "String", NULL},
    {NULL, NULL, NULL},
};

static const struct schema_input_value args_github_repo_branches[] = {
    {"owner", "String!", NULL},
    {"repo", "String!", NULL},
    {NULL, NULL, NULL},
};

static const struct schema_input_value args_project_environments[] = {
    {"after", "String", NULL}, {"before", "String", NULL},
    {"first", "Int", NULL},    {"isEphemeral", "Boolean", NULL},
    {"last", "Int", NULL},     {"sort", "SortOrder", NULL},
    {NULL, NULL, NULL},
};

/* Introspection's `includeDeprecated` argument (graphql-js 16). */
static const struct schema_input_value args_include_deprecated[] = {
    {"includeDeprecated", "Boolean", "false"},
    {NULL, NULL, NULL},
};

static const struct schema_field fields_query[] = {
    /* The introspection meta-fields, valid on the query root only. */
    {"__schema", "__Schema!", no_args, NULL},
    {"__type", "__Type", args_name, NULL},
    {"deployment", "Deployment!", args_id, NULL},
    {"deployments", "QueryDeploymentsConnection!", args_deployments, NULL},
    {"environment", "Environment!", args_environment, NULL},
    {"githubRepoBranches", "[GitHubBranch!]!", args_github_repo_branches, NULL},
    {"githubRepos", "[GitHubRepo!]!", no_args, NULL},
    {"me", "User!", no_args, NULL},
    {"project", "Project!", args_project, NULL},
    {"projectToken", "ProjectToken!", no_args, NULL},
    {"service", "Service!", args_id, NULL},
    {"serviceInstance", "ServiceInstance!", args_service_instance, NULL},
    {"variables", "EnvironmentVariables!", args_variables, NULL},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_mutation[] = {
    {"deploymentTriggerCreate", "DeploymentTrigger!", args_deployment_trigger_create, NULL},
    {"serviceConnect", "Service!", args_service_connect, NULL},
    {"serviceCreate", "Service!", args_service_create, NULL},
    {"serviceDelete", "Boolean!", args_service_delete, NULL},
    {"serviceInstanceDeployV2", "String!", args_service_instance_deploy_v2, NULL},
    {"serviceInstanceUpdate", "Boolean!", args_service_instance_update, NULL},
    {"serviceUpdate", "Service!", args_service_update, NULL},
    {"variableCollectionUpsert", "Boolean!", args_variable_collection_upsert, NULL},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_project[] = {
    {"baseEnvironment", NULL, NULL, NULL},
    {"baseEnvironmentId", "String", no_args, NULL},
    {"botPrEnvironments", "Boolean!", no_args, "false"},
    {"buckets", NULL, NULL, NULL},
    {"createdAt", "DateTime!", no_args, NULL},
    {"deletedAt", "DateTime", no_args, NULL},
    {"deploymentTriggers", NULL, NULL, NULL},
    {"deployments", NULL, NULL, NULL},
    {"description", "String", no_args, NULL},
    {"environments", "ProjectEnvironmentsConnection!", args_project_environments, "[]"},
    {"expiredAt", "DateTime", no_args, NULL},
    {"featureFlags", NULL, NULL, NULL},
    {"focusedPrEnvironments", "Boolean!", no_args, "false"},
    {"groups", NULL, NULL, NULL},
    {"id", "ID!", no_args, NULL},
    {"isPublic", "Boolean!", no_args, "false"},
    {"isTempProject", "Boolean!", no_args, "false"},
    {"members", NULL, NULL, NULL},
    {"name", "String!", no_args, NULL},
    {"plugins", NULL, NULL, NULL},
    {"prDeploys", "Boolean!", no_args, "false"},
    {"primaryEnvironmentId", "String", no_args, NULL},
    {"projectPermissions", NULL, NULL, NULL},
    {"services", "ProjectServicesConnection!", connection_args, "[]"},
    {"subscriptionPlanLimit", NULL, NULL, NULL},
    {"subscriptionType", NULL, NULL, NULL},
    {"team", NULL, NULL, NULL},
    {"teamId", "String", no_args, NULL},
    {"updatedAt", "DateTime!", no_args, NULL},
    {"volumes", NULL, NULL, NULL},
    {"workspace", NULL, NULL, NULL},
    {"workspaceId", "String", no_args, NULL},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_service[] = {
    {"createdAt", "DateTime!", no_args, NULL},
    {"deletedAt", "DateTime", no_args, NULL},
    {"deployments", "ServiceDeploymentsConnection!", connection_args, "[]"},
    {"featureFlags", NULL, NULL, NULL},
    {"groupId", "String", no_args, NULL},
    {"hasHiddenRegistryCredentialsFromTemplate", "Boolean!", no_args, "false"},
    {"icon", "String", no_args, NULL},
    {"id", "ID!", no_args, NULL},
    {"isRestricted", "Boolean!", no_args, "false"},
    {"name", "String!", no_args, NULL},
    {"project", NULL, NULL, NULL},
    {"projectId", "String!", no_args, NULL},
    {"repoTriggers", NULL, NULL, NULL},
    {"serviceInstances", NULL, NULL, NULL},
    {"templateId", "String", no_args, NULL},
    {"templateServiceId", "String", no_args, NULL},
    {"templateThreadSlug", "String", no_args, NULL},
    {"updatedAt", "DateTime!", no_args, NULL},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_service_instance[] = {
    {"activeDeployments", "[Deployment!]!", no_args, "[]"},
    {"buildCommand", "String", no_args, NULL},
    {"builder", "Builder!", no_args, "\"RAILPACK\""},
    {"createdAt", "DateTime!", no_args, NULL},
    {"cronSchedule", "String", no_args, NULL},
    {"deletedAt", "DateTime", no_args, NULL},
    {"dockerfilePath", "String", no_args, NULL},
    {"domains", NULL, NULL, NULL},
    {"drainingSeconds", "Int", no_args, NULL},
    {"edgeConfig", NULL, NULL, NULL},
    {"environmentId", "String!", no_args, NULL},
    {"healthcheckPath", "String", no_args, NULL},
    {"healthcheckTimeout", "Int", no_args, NULL},
    {"id", "ID!", no_args, NULL},
    {"ipv6EgressEnabled", "Boolean", no_args, NULL},
    {"isUpdatable", "Boolean!", no_args, "true"},
    {"latestDeployment", "Deployment", no_args, NULL},
    {"nextCronRunAt", "DateTime", no_args, NULL},
    {"nixpacksPlan", "JSON", no_args, NULL},
    {"numReplicas", "Int", no_args, NULL},
    {"overlapSeconds", "Int", no_args, NULL},
    {"preDeployCommand", "JSON", no_args, NULL},
    {"railpackInfo", NULL, NULL, NULL},
    {"railwayConfigFile", "String", no_args, NULL},
    {"region", "String", no_args, NULL},
    {"restartPolicyMaxRetries", "Int!", no_args, "10"},
    {"restartPolicyType", "RestartPolicyType!", no_args, "\"ON_FAILURE\""},
    {"rootDirectory", "String", no_args, NULL},
    {"service", "Service!", no_args, NULL},
    {"serviceId", "String!", no_args, NULL},
    {"serviceName", "String!", no_args, NULL},
    {"sleepApplication", "Boolean", no_args, NULL},
    {"source", "ServiceSource", no_args, NULL},
    {"startCommand", "String", no_args, NULL},
    {"updatedAt", "DateTime!", no_args, NULL},
    {"upstreamUrl", "String", no_args, NULL},
    {"watchPatterns", "[String!]!", no_args, "[]"},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_service_source[] = {
    {"image", "String", no_args, NULL},
    {"repo", "String", no_args, NULL},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_deployment[] = {
    {"canRedeploy", "Boolean!", no_args, "true"},
    {"canRollback", "Boolean!", no_args, "false"},
    {"createdAt", "DateTime!", no_args, NULL},
    {"creator", NULL, NULL, NULL},
    {"deploymentStopped", "Boolean!", no_args, "false"},
    {"diagnosis", "DeploymentDiagnosis", no_args, NULL},
    {"environment", NULL, NULL, NULL},
    {"environmentId", "String!", no_args, NULL},
    {"id", "ID!", no_args, NULL},
    {"instances", NULL, NULL, NULL},
    {"meta", "DeploymentMeta", no_args, NULL},
    {"projectId", "String!", no_args, NULL},
    {"service", "Service!", no_args, NULL},
    {"serviceId", "String", no_args, NULL},
    {"snapshotId", "String", no_args, NULL},
    {"sockets", NULL, NULL, NULL},
    {"staticUrl", "String", no_args, NULL},
    {"status", "DeploymentStatus!", no_args, NULL},
    {"statusUpdatedAt", "DateTime", no_args, NULL},
    {"suggestAddServiceDomain", "Boolean!", no_args, "false"},
    {"updatedAt", "DateTime!", no_args, NULL},
    {"url", "String", no_args, NULL},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_deployment_trigger[] = {
    {"baseEnvironmentOverrideId", "String", no_args, NULL},
    {"branch", "String!", no_args, NULL},
    {"checkSuites", "Boolean!", no_args, "false"},
    {"environmentId", "String!", no_args, NULL},
    {"id", "ID!", no_args, NULL},
    {"projectId", "String!", no_args, NULL},
    {"provider", "String!", no_args, NULL},
    {"repository", "String!", no_args, NULL},
    {"serviceId", "String", no_args, NULL},
    {"validCheckSuites", "Int!", no_args, "0"},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_page_info[] = {
    {"endCursor", "String", no_args, NULL},
    {"hasNextPage", "Boolean!", no_args, "false"},
    {"hasPreviousPage", "Boolean!", no_args, "false"},
    {"startCursor", "String", no_args, NULL},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_project_services_connection[] = {
    {"edges", "[ProjectServicesConnectionEdge!]!", no_args, "[]"},
    {"pageInfo", "PageInfo!", no_args, "{}"},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_project_services_edge[] = {
    {"cursor", "String!", no_args, "\"\""},
    {"node", "Service!", no_args, NULL},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_service_deployments_connection[] = {
    {"edges", "[ServiceDeploymentsConnectionEdge!]!", no_args, "[]"},
    {"pageInfo", "PageInfo!", no_args, "{}"},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_service_deployments_edge[] = {
    {"cursor", "String!", no_args, "\"\""},
    {"node", "Deployment!", no_args, NULL},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_query_deployments_connection[] = {
    {"edges", "[QueryDeploymentsConnectionEdge!]!", no_args, "[]"},
    {"pageInfo", "PageInfo!", no_args, "{}"},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_query_deployments_edge[] = {
    {"cursor", "String!", no_args, "\"\""},
    {"node", "Deployment!", no_args, NULL},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_environment[] = {
    {"canAccess", "Boolean!", no_args, "true"},
    {"canvasGroupRefs", "JSON!", no_args, "{}"},
    {"config", NULL, NULL, NULL},
    {"configEtag", "String!", no_args, "\"sim\""},
    {"createdAt", "DateTime!", no_args, NULL},
    {"deletedAt", "DateTime", no_args, NULL},
    {"deploymentTriggers", NULL, NULL, NULL},
    {"deployments", NULL, NULL, NULL},
    {"id", "ID!", no_args, NULL},
    {"isEphemeral", "Boolean!", no_args, "false"},
    {"meta", NULL, NULL, NULL},
    {"name", "String!", no_args, NULL},
    {"projectId", "String!", no_args, NULL},
    {"serviceInstances", NULL, NULL, NULL},
    {"sourceEnvironment", NULL, NULL, NULL},
    {"unmergedChangesCount", "Int", no_args, NULL},
    {"updatedAt", "DateTime!", no_args, NULL},
    {"variables", NULL, NULL, NULL},
    {"volumeInstances", NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_project_environments_connection[] = {
    {"edges", "[ProjectEnvironmentsConnectionEdge!]!", no_args, "[]"},
    {"pageInfo", "PageInfo!", no_args, "{}"},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_project_environments_edge[] = {
    {"cursor", "String!", no_args, "\"\""},
    {"node", "Environment!", no_args, NULL},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_user[] = {
    {"agreedFairUse", "Boolean!", no_args, "true"},
    {"apiTokenRateLimit", NULL, NULL, NULL},
    {"avatar", "String", no_args, NULL},
    {"banReason", "String", no_args, NULL},
    {"createdAt", "DateTime!", no_args, NULL},
    {"email", "String!", no_args, NULL},
    {"featureFlags", NULL, NULL, NULL},
    {"flags", NULL, NULL, NULL},
    {"githubProviderId", "String", no_args, NULL},
    {"githubUsername", "String", no_args, NULL},
    {"has2FA", "Boolean!", no_args, "false"},
    {"hasPasskeys", "Boolean!", no_args, "false"},
    {"id", "ID!", no_args, NULL},
    {"isAdmin", "Boolean!", no_args, "false"},
    {"isConductor", "Boolean!", no_args, "false"},
    {"isVerified", "Boolean!", no_args, "true"},
    {"lastLogin", "DateTime!", no_args, NULL},
    {"name", "String", no_args, NULL},
    {"platformFeatureFlags", NULL, NULL, NULL},
    {"profile", NULL, NULL, NULL},
    {"projects", NULL, NULL, NULL},
    {"providerAuths", NULL, NULL, NULL},
    {"registrationStatus", NULL, NULL, NULL},
    {"riskLevel", "Float", no_args, NULL},
    {"termsAgreedOn", "DateTime", no_args, NULL},
    {"username", "String", no_args, NULL},
    {"workspace", NULL, NULL, NULL},
    {"workspaces", NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_github_repo[] = {
    {"defaultBranch", "String!", no_args, NULL},
    {"description", "String", no_args, NULL},
    {"fullName", "String!", no_args, NULL},
    {"id", "Int!", no_args, NULL},
    {"installationId", "String!", no_args, NULL},
    {"isPrivate", "Boolean!", no_args, "true"},
    {"name", "String!", no_args, NULL},
    {"ownerAvatarUrl", "String", no_args, NULL},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_github_branch[] = {
    {"name", "String!", no_args, NULL},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_project_token[] = {
    {"createdAt", "DateTime!", no_args, NULL},
    {"displayToken", "String!", no_args, NULL},
    {"environment", NULL, NULL, NULL},
    {"environmentId", "String!", no_args, NULL},
    {"id", "ID!", no_args, NULL},
    {"name", "String!", no_args, NULL},
    {"project", NULL, NULL, NULL},
    {"projectId", "String!", no_args, NULL},
    {NULL, NULL, NULL, NULL},
};

/* Introspection types as graphql-js 16 defines them; answered from the schema file. */
static const struct schema_field fields_intro_schema[] = {
    {"description", "String", no_args, NULL},
    {"directives", "[__Directive!]!", no_args, "[]"},
    {"mutationType", "__Type", no_args, NULL},
    {"queryType", "__Type!", no_args, NULL},
    {"subscriptionType", "__Type", no_args, NULL},
    {"types", "[__Type!]!", no_args, "[]"},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_intro_type[] = {
    {"description", "String", no_args, NULL},
    {"enumValues", "[__EnumValue!]", args_include_deprecated, NULL},
    {"fields", "[__Field!]", args_include_deprecated, NULL},
    {"inputFields", "[__InputValue!]", args_include_deprecated, NULL},
    {"interfaces", "[__Type!]", no_args, NULL},
    {"isOneOf", "Boolean", no_args, NULL},
    {"kind", "__TypeKind!", no_args, NULL},
    {"name", "String", no_args, NULL},
    {"ofType", "__Type", no_args, NULL},
    {"possibleTypes", "[__Type!]", no_args, NULL},
    {"specifiedByURL", "String", no_args, NULL},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_intro_field[] = {
    {"args", "[__InputValue!]!", args_include_deprecated, "[]"},
    {"deprecationReason", "String", no_args, NULL},
    {"description", "String", no_args, NULL},
    {"isDeprecated", "Boolean!", no_args, "false"},
    {"name", "String!", no_args, NULL},
    {"type", "__Type!", no_args, NULL},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_intro_input_value[] = {
    {"defaultValue", "String", no_args, NULL},
    {"deprecationReason", "String", no_args, NULL},
    {"description", "String", no_args, NULL},
    {"isDeprecated", "Boolean!", no_args, "false"},
    {"name", "String!", no_args, NULL},
    {"type", "__Type!", no_args, NULL},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_intro_enum_value[] = {
    {"deprecationReason", "String", no_args, NULL},
    {"description", "String", no_args, NULL},
    {"isDeprecated", "Boolean!", no_args, "false"},
    {"name", "String!", no_args, NULL},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_field fields_intro_directive[] = {
    {"args", "[__InputValue!]!", args_include_deprecated, "[]"},
    {"description", "String", no_args, NULL},
    {"isRepeatable", "Boolean!", no_args, "false"},
    {"locations", "[__DirectiveLocation!]!", no_args, "[]"},
    {"name", "String!", no_args, NULL},
    {NULL, NULL, NULL, NULL},
};

static const struct schema_input_value input_service_create[] = {
    {"branch", "String", NULL},
    {"environmentId", "String", NULL},
    {"icon", "String", NULL},
    {"name", "String", NULL},
    {"projectId", "String!", NULL},
    {"registryCredentials", "RegistryCredentialsInput", NULL},
    {"source", "ServiceSourceInput", NULL},
    {"templateId", "String", NULL},
    {"templateServiceId", "String", NULL},
    {"variables", "EnvironmentVariables", NULL},
    {NULL, NULL, NULL},
};

static const struct schema_input_value input_service_source[] = {
    {"image", "String", NULL},
    {"repo", "String", NULL},
    {NULL, NULL, NULL},
};

static const struct schema_input_value input_registry_credentials[] = {
    {"password", "String!", NULL},
    {"username", "String!", NULL},
    {NULL, NULL, NULL},
};

static const struct schema_input_value input_service_connect[] = {
    {"branch", "String", NULL},
    {"image", "String", NULL},
    {"repo", "String", NULL},
    {NULL, NULL, NULL},
};

static const struct schema_input_value input_service_instance_update[] = {
    {"buildCommand", "String", NULL},
    {"builder", "Builder", NULL},
    {"cronSchedule", "String", NULL},
    {"dockerfilePath", "String", NULL},
    {"drainingSeconds", "Int", NULL},
    {"healthcheckPath", "String", NULL},
    {"healthcheckTimeout", "Int", NULL},
    {"ipv6EgressEnabled", "Boolean", NULL},
    {"multiRegionConfig", "JSON", NULL},
    {"nixpacksPlan", "JSON", NULL},
    {"numReplicas", "Int", NULL},
    {"overlapSeconds", "Int", NULL},
    {"preDeployCommand", "[String!]", NULL},
    {"railwayConfigFile", "String", NULL},
    {"region", "String", NULL},
    {"registryCredentials", "RegistryCredentialsInput", NULL},
    {"restartPolicyMaxRetries", "Int", NULL},
    {"restartPolicyType", "RestartPolicyType", NULL},
    {"rootDirectory", "String", NULL},
    {"sleepApplication", "Boolean", NULL},
    {"source", "ServiceSourceInput", NULL},
    {"startCommand", "String", NULL},
    {"watchPatterns", "[String!]", NULL},
    {NULL, NULL, NULL},
};

static const struct schema_input_value input_variable_collection_upsert[] = {
    {"environmentId", "String!", NULL},
    {"projectId", "String!", NULL},
    {"replace", "Boolean", "false"},
    {"serviceId", "String", NULL},
    {"skipDeploys", "Boolean", "false"},
    {"variables", "EnvironmentVariables!", NULL},
    {NULL, NULL, NULL},
};

static const struct schema_input_value input_deployment_trigger_create[] = {
    {"branch", "String!", NULL},
    {"checkSuites", "Boolean", NULL},
    {"environmentId", "String!", NULL},
    {"projectId", "String!", NULL},
    {"provider", "String!", NULL},
    {"repository", "String!", NULL},
    {"rootDirectory", "String", NULL},
    {"serviceId", "String!", NULL},
    {NULL, NULL, NULL},
};

static const struct schema_input_value input_service_update[] = {
    {"icon", "String", NULL},
    {"name", "String", NULL},
    {NULL, NULL, NULL},
};

static const struct schema_input_value input_deployment_list[] = {
    {"environmentId", "String", NULL},
    {"includeDeleted", "Boolean", NULL},
    {"projectId", "String", NULL},
    {"serviceId", "String", NULL},
    {"status", "DeploymentStatusInput", NULL},
    {NULL, NULL, NULL},
};

static const struct schema_input_value input_deployment_status[] = {
    {"in", "[DeploymentStatus!]", NULL},
    {"notIn", "[DeploymentStatus!]", NULL},
    {NULL, NULL, NULL},
};

static const char *const values_deployment_status[] = {
    "BUILDING", "CRASHED",  "DEPLOYING", "FAILED",   "INITIALIZING", "NEEDS_APPROVAL", "QUEUED",
    "REMOVED",  "REMOVING", "SKIPPED",   "SLEEPING", "SUCCESS",      "WAITING",        NULL,
};

static const char *const values_builder[] = {"HEROKU", "NIXPACKS", "PAKETO", "RAILPACK", NULL};

static const char *const values_restart_policy_type[] = {"ALWAYS", "NEVER", "ON_FAILURE", NULL};

static const char *const values_sort_order[] = {"asc", "desc", NULL};

static const char *const values_type_kind[] = {
    "ENUM", "INPUT_OBJECT", "INTERFACE", "LIST", "NON_NULL", "OBJECT", "SCALAR", "UNION", NULL,
};

static const char *const values_directive_location[] = {
    "ARGUMENT_DEFINITION",
    "ENUM",
    "ENUM_VALUE",
    "FIELD",
    "FIELD_DEFINITION",
    "FRAGMENT_DEFINITION",
    "FRAGMENT_SPREAD",
    "INLINE_FRAGMENT",
    "INPUT_FIELD_DEFINITION",
    "INPUT_OBJECT",
    "INTERFACE",
    "MUTATION",
    "OBJECT",
    "QUERY",
    "SCALAR",
    "SCHEMA",
    "SUBSCRIPTION",
    "UNION",
    "VARIABLE_DEFINITION",
    NULL,
};

static const struct schema_type types[] = {
    {"Boolean", SCHEMA_SCALAR, NULL, NULL, NULL},
    {"Builder", SCHEMA_ENUM, NULL, NULL, values_builder},
    {"DateTime", SCHEMA_SCALAR, NULL, NULL, NULL},
    {"Deployment", SCHEMA_OBJECT, fields_deployment, NULL, NULL},
    {"DeploymentDiagnosis", SCHEMA_SCALAR, NULL, NULL, NULL},
    {"DeploymentListInput", SCHEMA_INPUT, NULL, input_deployment_list, NULL},
    {"DeploymentMeta", SCHEMA_SCALAR, NULL, NULL, NULL},
    {"DeploymentStatus", SCHEMA_ENUM, NULL, NULL, values_deployment_status},
    {"DeploymentStatusInput", SCHEMA_INPUT, NULL, input_deployment_status, NULL},
    {"DeploymentTrigger", SCHEMA_OBJECT, fields_deployment_trigger, NULL, NULL},
    {"DeploymentTriggerCreateInput", SCHEMA_INPUT, NULL, input_deployment_trigger_create, NULL},
    {"Environment", SCHEMA_OBJECT, fields_environment, NULL, NULL},
    {"EnvironmentVariables", SCHEMA_SCALAR, NULL, NULL, NULL},
    {"Float", SCHEMA_SCALAR, NULL, NULL, NULL},
    {"GitHubBranch", SCHEMA_OBJECT, fields_github_branch, NULL, NULL},
    {"GitHubRepo", SCHEMA_OBJECT, fields_github_repo, NULL, NULL},
    {"ID", SCHEMA_SCALAR, NULL, NULL, NULL},
    {"Int", SCHEMA_SCALAR, NULL, NULL, NULL},
    {"JSON", SCHEMA_SCALAR, NULL, NULL, NULL},
    {"Mutation", SCHEMA_OBJECT, fields_mutation, NULL, NULL},
    {"PageInfo", SCHEMA_OBJECT, fields_page_info, NULL, NULL},
    {"Project", SCHEMA_OBJECT, fields_project, NULL, NULL},
    {"ProjectEnvironmentsConnection", SCHEMA_OBJECT, fields_project_environments_connection, NULL,
     NULL},
    {"ProjectEnvironmentsConnectionEdge", SCHEMA_OBJECT, fields_project_environments_edge, NULL,
     NULL},
    {"ProjectServicesConnection", SCHEMA_OBJECT, fields_project_services_connection, NULL, NULL},
    {"ProjectServicesConnectionEdge", SCHEMA_OBJECT, fields_project_services_edge, NULL, NULL},
    {"Query", SCHEMA_OBJECT, fields_query, NULL, NULL},
    {"QueryDeploymentsConnection", SCHEMA_OBJECT, fields_query_deployments_connection, NULL, NULL},
    {"ProjectToken", SCHEMA_OBJECT, fields_project_token, NULL, NULL},
    {"QueryDeploymentsConnectionEdge", SCHEMA_OBJECT, fields_query_deployments_edge, NULL, NULL},
    {"RegistryCredentialsInput", SCHEMA_INPUT, NULL, input_registry_credentials, NULL},
    {"RestartPolicyType", SCHEMA_ENUM, NULL, NULL, values_restart_policy_type},
    {"Service", SCHEMA_OBJECT, fields_service, NULL, NULL},
    {"ServiceConnectInput", SCHEMA_INPUT, NULL, input_service_connect, NULL},
    {"ServiceCreateInput", SCHEMA_INPUT, NULL, input_service_create, NULL},
    {"ServiceDeploymentsConnection", SCHEMA_OBJECT, fields_service_deployments_connection, NULL,
     NULL},
    {"ServiceDeploymentsConnectionEdge", SCHEMA_OBJECT, fields_service_deployments_edge, NULL,
     NULL},
    {"ServiceInstance", SCHEMA_OBJECT, fields_service_instance, NULL, NULL},
    {"ServiceInstanceUpdateInput", SCHEMA_INPUT, NULL, input_service_instance_update, NULL},
    {"ServiceSource", SCHEMA_OBJECT, fields_service_source, NULL, NULL},
    {"ServiceSourceInput", SCHEMA_INPUT, NULL, input_service_source, NULL},
    {"ServiceUpdateInput", SCHEMA_INPUT, NULL, input_service_update, NULL},
    {"SortOrder", SCHEMA_ENUM, NULL, NULL, values_sort_order},
    {"String", SCHEMA_SCALAR, NULL, NULL, NULL},
    {"User", SCHEMA_OBJECT, fields_user, NULL, NULL},
    {"VariableCollectionUpsertInput", SCHEMA_INPUT, NULL, input_variable_collection_upsert, NULL},
    {"__Directive", SCHEMA_OBJECT, fields_intro_directive, NULL, NULL},
    {"__DirectiveLocation", SCHEMA_ENUM, NULL, NULL, values_directive_location},
    {"__EnumValue", SCHEMA_OBJECT, fields_intro_enum_value, NULL, NULL},
    {"__Field", SCHEMA_OBJECT, fields_intro_field, NULL, NULL},
    {"__InputValue", SCHEMA_OBJECT, fields_intro_input_value, NULL, NULL},
    {"__Schema", SCHEMA_OBJECT, fields_intro_schema, NULL, NULL},
    {"__Type", SCHEMA_OBJECT, fields_intro_type, NULL, NULL},
    {"__TypeKind", SCHEMA_ENUM, NULL, NULL, values_type_kind},
};

const struct schema_type *schema_type_find(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(types[i].name, name) == 0)
            return &types[i];
    return NULL;
}

const struct schema_type *schema_root_type(enum gql_operation_type type)
{
    switch (type) {
    case GQL_OPERATION_QUERY:
        return schema_type_find("Query");
    case GQL_OPERATION_MUTATION:
        return schema_type_find("Mutation");
    case GQL_OPERATION_SUBSCRIPTION:
        break;
    }
    return NULL;
}

const struct schema_field *schema_field_find(const struct schema_type *type, const char *name)
{
    if (type == NULL || type->fields == NULL)
        return NULL;
    for (const struct schema_field *f = type->fields; f->name != NULL; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

static const struct schema_input_value *input_value_find(const struct schema_input_value *list,
                                                         const char *name)
{
    if (list == NULL)
        return NULL;
    for (const struct schema_input_value *v = list; v->name != NULL; v++)
        if (strcmp(v->name, name) == 0)
            return v;
    return NULL;
}

static int cmp_name(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

/* Whether Railway's real schema has this root field (simulated or not). */
static bool railway_root_has(const char *root, const char *name)
{
    if (strcmp(root, "Query") == 0)
        return bsearch(name, railway_query_fields,
                       sizeof(railway_query_fields) / sizeof(railway_query_fields[0]),
                       sizeof(railway_query_fields[0]), cmp_name) != NULL;
    return bsearch(name, railway_mutation_fields,
                   sizeof(railway_mutation_fields) / sizeof(railway_mutation_fields[0]),
                   sizeof(railway_mutation_fields[0]), cmp_name) != NULL;
}

/* ---- type strings ---------------------------------------------------------------------------- */

static bool type_non_null(const char *t)
{
    size_t n = strlen(t);

    return n > 0 && t[n - 1] == '!';
}

/* "X!" -> "X"; other types unchanged. */
static void type_nullable(const char *t, char *buf)
{
    size_t n = strlen(t);

    if (n > 0 && t[n - 1] == '!')
        n--;
    if (n >= TYPE_MAX)
        n = TYPE_MAX - 1;
    memcpy(buf, t, n);
    buf[n] = '\0';
}

static bool type_is_list(const char *t)
{
    return t[0] == '[';
}

/* "[X]" or "[X]!" -> "X". */
static void type_item(const char *t, char *buf)
{
    char tmp[TYPE_MAX];
    size_t n;

    type_nullable(t, tmp);
    n = strlen(tmp);
    if (n < 2) {
        buf[0] = '\0';
        return;
    }
    memcpy(buf, tmp + 1, n - 2);
    buf[n - 2] = '\0';
}

/* The named type under all list and non-null wrappers. */
static void type_named(const char *t, char *buf)
{
    size_t n = 0;

    for (const char *s = t; *s != '\0' && n < TYPE_MAX - 1; s++)
        if (*s != '[' && *s != ']' && *s != '!')
            buf[n++] = *s;
    buf[n] = '\0';
}

static const struct schema_type *type_lookup(const char *t)
{
    char named[TYPE_MAX];

    type_named(t, named);
    return schema_type_find(named);
}

/* ---- errors ------------------------------------------------------------------------------------
 */

static bool error_exists(const cJSON *errors, const char *msg, int line, int column)
{
    const cJSON *e;

    cJSON_ArrayForEach(e, errors)
    {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
        const cJSON *locs = cJSON_GetObjectItemCaseSensitive(e, "locations");
        const cJSON *loc = cJSON_GetArrayItem(locs, 0);
        int l = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(loc, "line"));
        int c = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(loc, "column"));

        if (cJSON_IsString(m) && strcmp(m->valuestring, msg) == 0 &&
            (loc == NULL || (l == line && c == column)))
            return true;
    }
    return false;
}

void schema_error_add(cJSON *errors, const char *code, int line, int column, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    cJSON *e, *ext;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (cJSON_GetArraySize(errors) >= MAX_ERRORS) {
        if (cJSON_GetArraySize(errors) > MAX_ERRORS)
            return;
        /* graphql-js stops at 100 errors the same way. */
        snprintf(msg, sizeof(msg),
                 "Too many validation errors, error limit reached. Validation "
                 "aborted.");
        line = column = 0;
    } else if (error_exists(errors, msg, line, column)) {
        return; /* a fragment shared by several operations reports once */
    }
    e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "message", msg);
    if (line > 0) {
        cJSON *locs = cJSON_AddArrayToObject(e, "locations");
        cJSON *loc = cJSON_CreateObject();

        cJSON_AddNumberToObject(loc, "line", line);
        cJSON_AddNumberToObject(loc, "column", column);
        cJSON_AddItemToArray(locs, loc);
    }
    ext = cJSON_AddObjectToObject(e, "extensions");
    cJSON_AddStringToObject(ext, "code", code);
    cJSON_AddItemToArray(errors, e);
}

/* ---- printing values ------------------------------------------------------------------------- */

static void value_print(const struct gql_value *v, struct strbuf *sb)
{
    if (v == NULL) {
        strbuf_append(sb, "null", 4);
        return;
    }
    switch (v->kind) {
    case GQL_VALUE_VARIABLE:
        strbuf_printf(sb, "$%s", v->text);
        break;
    case GQL_VALUE_INT:
    case GQL_VALUE_FLOAT:
    case GQL_VALUE_ENUM:
        strbuf_printf(sb, "%s", v->text);
        break;
    case GQL_VALUE_STRING: {
        cJSON *s = cJSON_CreateString(v->text);
        char *p = cJSON_PrintUnformatted(s);

        strbuf_printf(sb, "%s", p ? p : "\"\"");
        cJSON_free(p);
        cJSON_Delete(s);
        break;
    }
    case GQL_VALUE_BOOLEAN:
        strbuf_printf(sb, "%s", v->boolean ? "true" : "false");
        break;
    case GQL_VALUE_NULL:
        strbuf_append(sb, "null", 4);
        break;
    case GQL_VALUE_LIST:
        strbuf_append(sb, "[", 1);
        for (size_t i = 0; i < v->count; i++) {
            if (i > 0)
                strbuf_append(sb, ", ", 2);
            value_print(v->items[i].value, sb);
        }
        strbuf_append(sb, "]", 1);
        break;
    case GQL_VALUE_OBJECT:
        strbuf_append(sb, "{", 1);
        for (size_t i = 0; i < v->count; i++) {
            if (i > 0)
                strbuf_append(sb, ", ", 2);
            strbuf_printf(sb, "%s: ", v->items[i].name);
            value_print(v->items[i].value, sb);
        }
        strbuf_append(sb, "}", 1);
        break;
    }
}

/* Prints an AST value into buf, cut to fit. */
static const char *value_text(const struct gql_value *v, char *buf, size_t size)
{
    struct strbuf sb;

    strbuf_init(&sb, 4096);
    value_print(v, &sb);
    snprintf(buf, size, "%s", sb.data ? sb.data : "");
    strbuf_cleanup(&sb);
    return buf;
}

/* Prints a JSON value into buf, cut to fit. */
static const char *json_text(const cJSON *j, char *buf, size_t size)
{
    char *p = j ? cJSON_PrintUnformatted(j) : NULL;

    snprintf(buf, size, "%s", p ? p : "undefined");
    cJSON_free(p);
    if (strlen(buf) == size - 1 && size > 4)
        memcpy(buf + size - 4, "...", 4);
    return buf;
}

/* ---- validation --------------------------------------------------------------------------------
 */

struct usage {
    const char *name;
    char type[TYPE_MAX];
    bool location_has_default;
    int line, column;
};

struct vctx {
    const struct gql_document *doc;
    cJSON *errors;
    const struct gql_operation *op;
    struct usage *usages;
    size_t usage_count, usage_cap;
    const struct gql_fragment **visited;
    size_t visited_count, visited_cap;
    bool *fragment_used;
    int depth;
};

static void verr(struct vctx *c, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void verr(struct vctx *c, int line, int column, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    schema_error_add(c->errors, CODE_VALIDATION, line, column, "%s", msg);
}

static void usage_add(struct vctx *c, const struct gql_value *v, const char *type,
                      bool location_has_default)
{
    struct usage *u;

    if (c->usage_count == c->usage_cap) {
        c->usage_cap = c->usage_cap ? c->usage_cap * 2 : 8;
        c->usages = xrealloc(c->usages, c->usage_cap * sizeof(*c->usages));
    }
    u = &c->usages[c->usage_count++];
    u->name = v->text;
    snprintf(u->type, sizeof(u->type), "%s", type);
    u->location_has_default = location_has_default;
    u->line = v->line;
    u->column = v->column;
}

/* Records the variables under a value whose type is unknown (no type check, only "defined"). */
static void value_usages(struct vctx *c, const struct gql_value *v)
{
    if (v == NULL)
        return;
    if (v->kind == GQL_VALUE_VARIABLE) {
        usage_add(c, v, "", false);
        return;
    }
    for (size_t i = 0; i < v->count; i++)
        value_usages(c, v->items[i].value);
}

static bool fragment_visit(struct vctx *c, const struct gql_fragment *f);

static void directive_usages(struct vctx *c, const struct gql_directive *dirs, size_t count)
{
    for (size_t i = 0; i < count; i++)
        for (size_t a = 0; a < dirs[i].arg_count; a++)
            value_usages(c, dirs[i].args[a].value);
}

static void selection_usages(struct vctx *c, const struct gql_selection_set *set);

/* Records the variables used in and below a selection whose type is unknown. */
static void one_selection_usages(struct vctx *c, const struct gql_selection *s)
{
    for (size_t a = 0; a < s->arg_count; a++)
        value_usages(c, s->args[a].value);
    directive_usages(c, s->directives, s->directive_count);
    if (s->kind == GQL_SELECTION_SPREAD) {
        const struct gql_fragment *f = gql_document_fragment_find(c->doc, s->name);

        if (f != NULL && fragment_visit(c, f))
            selection_usages(c, f->selections);
    } else {
        selection_usages(c, s->selections);
    }
}

static void selection_usages(struct vctx *c, const struct gql_selection_set *set)
{
    if (set == NULL || c->depth >= MAX_WALK_DEPTH)
        return;
    c->depth++;
    for (size_t i = 0; i < set->count; i++)
        one_selection_usages(c, &set->items[i]);
    c->depth--;
}

static bool is_int32_text(const char *text)
{
    char *end;
    double d = strtod(text, &end);

    return *end == '\0' && d >= -2147483648.0 && d <= 2147483647.0;
}

/* Checks a literal (or a variable, recorded as a usage) against an input type. */
static void literal_check(struct vctx *c, const struct gql_value *v, const char *type,
                          bool location_has_default)
{
    char inner[TYPE_MAX], shown[256];
    const struct schema_type *t;

    if (v == NULL)
        return;
    if (v->kind == GQL_VALUE_VARIABLE) {
        usage_add(c, v, type, location_has_default);
        return;
    }
    if (type_non_null(type)) {
        if (v->kind == GQL_VALUE_NULL) {
            verr(c, v->line, v->column, "Expected value of type \"%s\", found null.", type);
            return;
        }
        type_nullable(type, inner);
        literal_check(c, v, inner, false);
        return;
    }
    if (v->kind == GQL_VALUE_NULL)
        return;
    if (type_is_list(type)) {
        type_item(type, inner);
        if (v->kind == GQL_VALUE_LIST) {
            for (size_t i = 0; i < v->count; i++)
                literal_check(c, v->items[i].value, inner, false);
        } else {
            literal_check(c, v, inner, false);
        }
        return;
    }
    t = schema_type_find(type);
    if (t == NULL)
        return; /* an unknown type is reported where it is declared */
    value_text(v, shown, sizeof(shown));
    if (t->kind == SCHEMA_INPUT) {
        if (v->kind != GQL_VALUE_OBJECT) {
            verr(c, v->line, v->column, "Expected value of type \"%s\", found %s.", type, shown);
            return;
        }
        for (size_t i = 0; i < v->count; i++) {
            const struct schema_input_value *f =
                input_value_find(t->input_fields, v->items[i].name);

            for (size_t j = 0; j < i; j++)
                if (strcmp(v->items[j].name, v->items[i].name) == 0)
                    verr(c, v->items[i].line, v->items[i].column,
                         "There can be only one input field named \"%s\".", v->items[i].name);
            if (f == NULL) {
                verr(c, v->items[i].line, v->items[i].column,
                     "Field \"%s\" is not defined by type \"%s\".", v->items[i].name, t->name);
                value_usages(c, v->items[i].value);
                continue;
            }
            literal_check(c, v->items[i].value, f->type, f->default_json != NULL);
        }
        for (const struct schema_input_value *f = t->input_fields; f->name != NULL; f++) {
            bool present = false;

            if (!type_non_null(f->type) || f->default_json != NULL)
                continue;
            for (size_t i = 0; i < v->count; i++)
                if (strcmp(v->items[i].name, f->name) == 0)
                    present = true;
            if (!present)
                verr(c, v->line, v->column,
                     "Field \"%s.%s\" of required type \"%s\" was not provided.", t->name, f->name,
                     f->type);
        }
        return;
    }
    if (t->kind == SCHEMA_ENUM) {
        bool found = false;

        if (v->kind != GQL_VALUE_ENUM) {
            verr(c, v->line, v->column, "Enum \"%s\" cannot represent non-enum value: %s.", t->name,
                 shown);
            return;
        }
        for (const char *const *e = t->values; *e != NULL; e++)
            if (strcmp(*e, v->text) == 0)
                found = true;
        if (!found)
            verr(c, v->line, v->column, "Value \"%s\" does not exist in \"%s\" enum.", v->text,
                 t->name);
        return;
    }
    if (strcmp(t->name, "String") == 0 || strcmp(t->name, "DateTime") == 0) {
        if (v->kind != GQL_VALUE_STRING)
            verr(c, v->line, v->column, "%s cannot represent a non string value: %s", t->name,
                 shown);
    } else if (strcmp(t->name, "Int") == 0) {
        if (v->kind != GQL_VALUE_INT)
            verr(c, v->line, v->column, "Int cannot represent non-integer value: %s", shown);
        else if (!is_int32_text(v->text))
            verr(c, v->line, v->column, "Int cannot represent non 32-bit signed integer value: %s",
                 shown);
    } else if (strcmp(t->name, "Float") == 0) {
        if (v->kind != GQL_VALUE_INT && v->kind != GQL_VALUE_FLOAT)
            verr(c, v->line, v->column, "Float cannot represent non numeric value: %s", shown);
    } else if (strcmp(t->name, "Boolean") == 0) {
        if (v->kind != GQL_VALUE_BOOLEAN)
            verr(c, v->line, v->column, "Boolean cannot represent a non boolean value: %s", shown);
    } else if (strcmp(t->name, "ID") == 0) {
        if (v->kind != GQL_VALUE_STRING && v->kind != GQL_VALUE_INT)
            verr(c, v->line, v->column,
                 "ID cannot represent a non-string and non-integer value: %s", shown);
    } else if (strcmp(t->name, "EnvironmentVariables") == 0) {
        bool ok = v->kind == GQL_VALUE_OBJECT;

        for (size_t i = 0; ok && i < v->count; i++)
            ok = v->items[i].value != NULL && v->items[i].value->kind == GQL_VALUE_STRING;
        if (!ok)
            verr(
                c, v->line, v->column,
                "Expected value of type \"EnvironmentVariables\" (an object of strings), found %s.",
                shown);
    }
    /* JSON, DeploymentMeta, DeploymentDiagnosis: any literal. */
}

static void directives_check(struct vctx *c, const struct gql_directive *dirs, size_t count,
                             const char *location)
{
    for (size_t i = 0; i < count; i++) {
        const struct gql_directive *d = &dirs[i];
        bool conditional = strcmp(d->name, "include") == 0 || strcmp(d->name, "skip") == 0;
        bool have_if = false;

        if (!conditional && strcmp(d->name, "deprecated") != 0 && strcmp(d->name, "oneOf") != 0 &&
            strcmp(d->name, "specifiedBy") != 0) {
            verr(c, d->line, d->column, "Unknown directive \"@%s\".", d->name);
            directive_usages(c, d, 1);
            continue;
        }
        if (!conditional ||
            (strcmp(location, "FIELD") != 0 && strcmp(location, "FRAGMENT_SPREAD") != 0 &&
             strcmp(location, "INLINE_FRAGMENT") != 0)) {
            verr(c, d->line, d->column, "Directive \"@%s\" may not be used on %s.", d->name,
                 location);
            continue;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(dirs[j].name, d->name) == 0)
                verr(c, d->line, d->column,
                     "The directive \"@%s\" can only be used once at this location.", d->name);
        for (size_t a = 0; a < d->arg_count; a++) {
            if (strcmp(d->args[a].name, "if") != 0) {
                verr(c, d->args[a].line, d->args[a].column,
                     "Unknown argument \"%s\" on directive \"@%s\".", d->args[a].name, d->name);
                continue;
            }
            have_if = true;
            literal_check(c, d->args[a].value, "Boolean!", false);
        }
        if (!have_if)
            verr(c, d->line, d->column,
                 "Directive \"@%s\" argument \"if\" of type \"Boolean!\" is required, but it was "
                 "not provided.",
                 d->name);
    }
}

static void selection_set_check(struct vctx *c, const struct gql_selection_set *set,
                                const struct schema_type *parent);

static bool fragment_visit(struct vctx *c, const struct gql_fragment *f)
{
    for (size_t i = 0; i < c->visited_count; i++)
        if (c->visited[i] == f)
            return false;
    if (c->visited_count == c->visited_cap) {
        c->visited_cap = c->visited_cap ? c->visited_cap * 2 : 8;
        c->visited = xrealloc(c->visited, c->visited_cap * sizeof(*c->visited));
    }
    c->visited[c->visited_count++] = f;
    c->fragment_used[f - c->doc->fragments] = true;
    return true;
}

/* Checks a fragment's type condition against the parent; returns the type to descend with. */
static const struct schema_type *type_condition_check(struct vctx *c, const char *cond,
                                                      const char *frag_name,
                                                      const struct schema_type *parent, int line,
                                                      int column)
{
    const struct schema_type *t;

    if (cond == NULL)
        return parent;
    t = schema_type_find(cond);
    if (t == NULL) {
        verr(c, line, column, "Unknown type \"%s\".", cond);
        return NULL;
    }
    if (t->kind != SCHEMA_OBJECT) {
        verr(c, line, column, "Fragment%s%s%s cannot condition on non composite type \"%s\".",
             frag_name ? " \"" : "", frag_name ? frag_name : "", frag_name ? "\"" : "", cond);
        return NULL;
    }
    if (parent != NULL && t != parent) {
        verr(c, line, column,
             "Fragment%s%s%s cannot be spread here as objects of type \"%s\" can never be of type "
             "\"%s\".",
             frag_name ? " \"" : "", frag_name ? frag_name : "", frag_name ? "\"" : "",
             parent->name, cond);
        return NULL;
    }
    return t;
}

static void field_check(struct vctx *c, const struct gql_selection *s,
                        const struct schema_type *parent)
{
    const struct schema_field *def;
    const struct schema_type *t;
    char named[TYPE_MAX];

    directives_check(c, s->directives, s->directive_count, "FIELD");
    if (strcmp(s->name, "__typename") == 0) {
        for (size_t i = 0; i < s->arg_count; i++)
            verr(c, s->args[i].line, s->args[i].column,
                 "Unknown argument \"%s\" on field \"%s.__typename\".", s->args[i].name,
                 parent->name);
        if (s->selections != NULL)
            verr(c, s->line, s->column,
                 "Field \"__typename\" must not have a selection since type \"String!\" has no "
                 "subfields.");
        return;
    }
    def = schema_field_find(parent, s->name);
    if (def == NULL || def->type == NULL)
        one_selection_usages(c, s);
    if (def == NULL &&
        (strcmp(parent->name, "Query") == 0 || strcmp(parent->name, "Mutation") == 0) &&
        railway_root_has(parent->name, s->name)) {
        verr(c, s->line, s->column,
             "Cannot query field \"%s\" on type \"%s\": it exists in Railway's schema but "
             "railway-sim does not simulate it.",
             s->name, parent->name);
        return;
    }
    if (def == NULL) {
        verr(c, s->line, s->column, "Cannot query field \"%s\" on type \"%s\".", s->name,
             parent->name);
        return;
    }
    if (def->type == NULL) {
        verr(c, s->line, s->column,
             "Cannot query field \"%s\" on type \"%s\": it exists in Railway's schema but "
             "railway-sim does not simulate it.",
             s->name, parent->name);
        return;
    }
    for (size_t i = 0; i < s->arg_count; i++) {
        const struct gql_argument *a = &s->args[i];
        const struct schema_input_value *ad = input_value_find(def->args, a->name);

        for (size_t j = 0; j < i; j++)
            if (strcmp(s->args[j].name, a->name) == 0)
                verr(c, a->line, a->column, "There can be only one argument named \"%s\".",
                     a->name);
        if (ad == NULL) {
            verr(c, a->line, a->column, "Unknown argument \"%s\" on field \"%s.%s\".", a->name,
                 parent->name, s->name);
            value_usages(c, a->value);
            continue;
        }
        literal_check(c, a->value, ad->type, ad->default_json != NULL);
    }
    for (const struct schema_input_value *ad = def->args; ad && ad->name != NULL; ad++) {
        bool present = false;

        if (!type_non_null(ad->type) || ad->default_json != NULL)
            continue;
        for (size_t i = 0; i < s->arg_count; i++)
            if (strcmp(s->args[i].name, ad->name) == 0)
                present = true;
        if (!present)
            verr(c, s->line, s->column,
                 "Field \"%s\" argument \"%s\" of type \"%s\" is required, but it was not "
                 "provided.",
                 s->name, ad->name, ad->type);
    }
    type_named(def->type, named);
    t = schema_type_find(named);
    if (t != NULL && t->kind == SCHEMA_OBJECT) {
        if (s->selections == NULL) {
            verr(c, s->line, s->column,
                 "Field \"%s\" of type \"%s\" must have a selection of subfields. Did you mean "
                 "\"%s { ... }\"?",
                 s->name, def->type, s->name);
            return;
        }
        selection_set_check(c, s->selections, t);
    } else if (s->selections != NULL) {
        verr(c, s->line, s->column,
             "Field \"%s\" must not have a selection since type \"%s\" has no subfields.", s->name,
             def->type);
    }
}

/* Same response key, different fields: a conflict (argument differences are not compared). */
static void merge_check(struct vctx *c, const struct gql_selection_set *set)
{
    if (set->count > 1000)
        return; /* quadratic; documents that size are not what this simulator is for */
    for (size_t i = 0; i < set->count; i++) {
        const struct gql_selection *a = &set->items[i];
        const char *ka;

        if (a->kind != GQL_SELECTION_FIELD)
            continue;
        ka = a->alias ? a->alias : a->name;
        for (size_t j = 0; j < i; j++) {
            const struct gql_selection *b = &set->items[j];
            const char *kb;

            if (b->kind != GQL_SELECTION_FIELD)
                continue;
            kb = b->alias ? b->alias : b->name;
            if (strcmp(ka, kb) == 0 && strcmp(a->name, b->name) != 0)
                verr(c, a->line, a->column,
                     "Fields \"%s\" conflict because \"%s\" and \"%s\" are different fields. Use "
                     "different aliases on the fields to fetch both if this was intentional.",
                     ka, b->name, a->name);
        }
    }
}

static void selection_set_check(struct vctx *c, const struct gql_selection_set *set,
                                const struct schema_type *parent)
{
    if (set == NULL)
        return;
    if (parent == NULL) {
        selection_usages(c, set);
        return;
    }
    if (c->depth >= MAX_WALK_DEPTH) {
        verr(c, set->line, set->column, "Document nesting exceeds %d levels.", MAX_WALK_DEPTH);
        return;
    }
    c->depth++;
    merge_check(c, set);
    for (size_t i = 0; i < set->count; i++) {
        const struct gql_selection *s = &set->items[i];

        if (s->kind == GQL_SELECTION_FIELD) {
            field_check(c, s, parent);
        } else if (s->kind == GQL_SELECTION_INLINE) {
            const struct schema_type *t;

            directives_check(c, s->directives, s->directive_count, "INLINE_FRAGMENT");
            t = type_condition_check(c, s->type_cond, NULL, parent, s->line, s->column);
            selection_set_check(c, s->selections, t);
        } else {
            const struct gql_fragment *f = gql_document_fragment_find(c->doc, s->name);
            const struct schema_type *t;

            directives_check(c, s->directives, s->directive_count, "FRAGMENT_SPREAD");
            if (f == NULL) {
                verr(c, s->line, s->column, "Unknown fragment \"%s\".", s->name);
                continue;
            }
            t = type_condition_check(c, f->type_cond, f->name, parent, s->line, s->column);
            if (fragment_visit(c, f))
                selection_set_check(c, f->selections, t);
        }
    }
    c->depth--;
}

/* Whether a variable of type vt may be used where lt is expected (graphql-js rules). */
static bool type_fits(const char *vt, const char *lt)
{
    char a[TYPE_MAX], b[TYPE_MAX];

    if (type_non_null(lt)) {
        if (!type_non_null(vt))
            return false;
        type_nullable(vt, a);
        type_nullable(lt, b);
        return type_fits(a, b);
    }
    if (type_non_null(vt)) {
        type_nullable(vt, a);
        return type_fits(a, lt);
    }
    if (type_is_list(lt)) {
        if (!type_is_list(vt))
            return false;
        type_item(vt, a);
        type_item(lt, b);
        return type_fits(a, b);
    }
    if (type_is_list(vt))
        return false;
    return strcmp(vt, lt) == 0;
}

static void operation_check(struct vctx *c, const struct gql_operation *op)
{
    const struct schema_type *root = schema_root_type(op->type);
    char vt[TYPE_MAX];
    bool *used = NULL;

    c->op = op;
    c->usage_count = 0;
    c->visited_count = 0;
    directives_check(c, op->directives, op->directive_count,
                     op->type == GQL_OPERATION_MUTATION ? "MUTATION" : "QUERY");
    if (root == NULL) {
        verr(c, op->line, op->column,
             "railway-sim does not simulate subscriptions (Railway serves them over WebSocket).");
        return;
    }
    for (size_t i = 0; i < op->variable_count; i++) {
        const struct gql_variable_definition *d = &op->variables[i];
        const struct schema_type *t;

        gql_type_print(d->type, vt, sizeof(vt));
        for (size_t j = 0; j < i; j++)
            if (strcmp(op->variables[j].name, d->name) == 0)
                verr(c, d->line, d->column, "There can be only one variable named \"$%s\".",
                     d->name);
        t = type_lookup(vt);
        if (t == NULL) {
            char named[TYPE_MAX];

            type_named(vt, named);
            verr(c, d->line, d->column, "Unknown type \"%s\".", named);
        } else if (t->kind == SCHEMA_OBJECT) {
            verr(c, d->line, d->column, "Variable \"$%s\" cannot be non-input type \"%s\".",
                 d->name, vt);
        } else if (d->default_value != NULL) {
            literal_check(c, d->default_value, vt, false);
        }
    }
    selection_set_check(c, op->selections, root);

    used = calloc(op->variable_count ? op->variable_count : 1, sizeof(*used));
    if (used == NULL)
        abort();
    for (size_t u = 0; u < c->usage_count; u++) {
        const struct usage *us = &c->usages[u];
        const struct gql_variable_definition *d = NULL;

        for (size_t i = 0; i < op->variable_count; i++) {
            if (strcmp(op->variables[i].name, us->name) == 0) {
                d = &op->variables[i];
                used[i] = true;
                break;
            }
        }
        if (d == NULL) {
            if (op->name != NULL)
                verr(c, us->line, us->column,
                     "Variable \"$%s\" is not defined by operation \"%s\".", us->name, op->name);
            else
                verr(c, us->line, us->column, "Variable \"$%s\" is not defined.", us->name);
            continue;
        }
        gql_type_print(d->type, vt, sizeof(vt));
        if (us->type[0] == '\0' || type_lookup(vt) == NULL)
            continue;
        if (!type_fits(vt, us->type)) {
            /* A nullable variable may feed a non-null spot that has a default. */
            bool relaxed = false;

            if (type_non_null(us->type) && !type_non_null(vt) &&
                ((d->default_value && d->default_value->kind != GQL_VALUE_NULL) ||
                 us->location_has_default)) {
                char lt[TYPE_MAX];

                type_nullable(us->type, lt);
                relaxed = type_fits(vt, lt);
            }
            if (!relaxed)
                verr(c, us->line, us->column,
                     "Variable \"$%s\" of type \"%s\" used in position expecting type \"%s\".",
                     us->name, vt, us->type);
        }
    }
    for (size_t i = 0; i < op->variable_count; i++) {
        if (used[i])
            continue;
        if (op->name != NULL)
            verr(c, op->variables[i].line, op->variables[i].column,
                 "Variable \"$%s\" is never used in operation \"%s\".", op->variables[i].name,
                 op->name);
        else
            verr(c, op->variables[i].line, op->variables[i].column,
                 "Variable \"$%s\" is never used.", op->variables[i].name);
    }
    free(used);
}

/* Reports a fragment that spreads itself, directly or through others. */
static void cycle_check(struct vctx *c, const struct gql_fragment *start,
                        const struct gql_selection_set *set, const struct gql_fragment **path,
                        size_t depth)
{
    if (set == NULL || depth >= 32)
        return;
    for (size_t i = 0; i < set->count; i++) {
        const struct gql_selection *s = &set->items[i];
        const struct gql_fragment *f;
        bool seen = false;

        if (s->kind != GQL_SELECTION_SPREAD) {
            cycle_check(c, start, s->selections, path, depth);
            continue;
        }
        f = gql_document_fragment_find(c->doc, s->name);
        if (f == NULL)
            continue;
        if (f == start) {
            char via[512] = "";
            size_t n = 0;

            for (size_t k = 1; k < depth && n < sizeof(via) - 1; k++)
                n += (size_t)snprintf(via + n, sizeof(via) - n, "%s\"%s\"", k > 1 ? ", " : " via ",
                                      path[k]->name);
            verr(c, s->line, s->column, "Cannot spread fragment \"%s\" within itself%s.",
                 start->name, via);
            continue;
        }
        for (size_t k = 0; k < depth; k++)
            if (path[k] == f)
                seen = true;
        if (seen)
            continue;
        path[depth] = f;
        cycle_check(c, start, f->selections, path, depth + 1);
    }
}

int schema_document_validate(const struct gql_document *doc, cJSON *errors)
{
    struct vctx c;
    int before = cJSON_GetArraySize(errors);
    const struct gql_fragment *path[32];

    memset(&c, 0, sizeof(c));
    c.doc = doc;
    c.errors = errors;
    c.fragment_used = calloc(doc->fragment_count ? doc->fragment_count : 1, sizeof(bool));
    if (c.fragment_used == NULL)
        abort();
    for (size_t i = 0; i < doc->operation_count; i++) {
        const struct gql_operation *op = &doc->operations[i];

        if (op->name == NULL && doc->operation_count > 1)
            verr(&c, op->line, op->column,
                 "This anonymous operation must be the only defined operation.");
        for (size_t j = 0; j < i && op->name != NULL; j++)
            if (doc->operations[j].name && strcmp(doc->operations[j].name, op->name) == 0)
                verr(&c, op->line, op->column, "There can be only one operation named \"%s\".",
                     op->name);
    }
    for (size_t i = 0; i < doc->fragment_count; i++) {
        for (size_t j = 0; j < i; j++)
            if (strcmp(doc->fragments[j].name, doc->fragments[i].name) == 0)
                verr(&c, doc->fragments[i].line, doc->fragments[i].column,
                     "There can be only one fragment named \"%s\".", doc->fragments[i].name);
        path[0] = &doc->fragments[i];
        cycle_check(&c, &doc->fragments[i], doc->fragments[i].selections, path, 1);
    }
    for (size_t i = 0; i < doc->operation_count; i++)
        operation_check(&c, &doc->operations[i]);
    for (size_t i = 0; i < doc->fragment_count; i++)
        if (!c.fragment_used[i])
            verr(&c, doc->fragments[i].line, doc->fragments[i].column,
                 "Fragment \"%s\" is never used.", doc->fragments[i].name);
    free(c.fragment_used);
    free(c.usages);
    free(c.visited);
    return cJSON_GetArraySize(errors) - before;
}

const struct gql_operation *schema_operation_select(const struct gql_document *doc,
                                                    const char *name, cJSON *errors)
{
    if (name != NULL && name[0] != '\0') {
        for (size_t i = 0; i < doc->operation_count; i++)
            if (doc->operations[i].name && strcmp(doc->operations[i].name, name) == 0)
                return &doc->operations[i];
        schema_error_add(errors, CODE_VALIDATION, 0, 0, "Unknown operation named \"%s\".", name);
        return NULL;
    }
    if (doc->operation_count == 1)
        return &doc->operations[0];
    if (doc->operation_count == 0)
        schema_error_add(errors, CODE_VALIDATION, 0, 0, "Must provide an operation.");
    else
        schema_error_add(errors, CODE_VALIDATION, 0, 0,
                         "Must provide operation name if query contains multiple operations.");
    return NULL;
}

/* ---- variable coercion ---------------------------------------------------------------------- */

struct cctx {
    cJSON *errors;
    const char *var;
    const cJSON *whole;
    int line, column;
    char path[256];
};

static void cerr(struct cctx *c, const cJSON *bad, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void cerr(struct cctx *c, const cJSON *bad, const char *fmt, ...)
{
    char msg[512], shown[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_text(bad, shown, sizeof(shown));
    if (c->path[0] != '\0')
        schema_error_add(c->errors, CODE_VALIDATION, c->line, c->column,
                         "Variable \"$%s\" got invalid value %s at \"%s%s\"; %s", c->var, shown,
                         c->var, c->path, msg);
    else
        schema_error_add(c->errors, CODE_VALIDATION, c->line, c->column,
                         "Variable \"$%s\" got invalid value %s; %s", c->var, shown, msg);
}

static cJSON *coerce(struct cctx *c, const cJSON *v, const char *type);

static cJSON *coerce_input_object(struct cctx *c, const cJSON *v, const struct schema_type *t)
{
    size_t plen = strlen(c->path);
    cJSON *out, *item;

    if (!cJSON_IsObject(v)) {
        cerr(c, v, "Expected type \"%s\" to be an object.", t->name);
        return NULL;
    }
    out = cJSON_CreateObject();
    for (const struct schema_input_value *f = t->input_fields; f->name != NULL; f++) {
        const cJSON *fv = cJSON_GetObjectItemCaseSensitive(v, f->name);

        if (fv == NULL) {
            if (f->default_json != NULL)
                cJSON_AddItemToObject(out, f->name, cJSON_Parse(f->default_json));
            else if (type_non_null(f->type))
                cerr(c, v, "Field \"%s\" of required type \"%s\" was not provided.", f->name,
                     f->type);
            continue;
        }
        snprintf(c->path + plen, sizeof(c->path) - plen, ".%s", f->name);
        item = coerce(c, fv, f->type);
        c->path[plen] = '\0';
        if (item != NULL)
            cJSON_AddItemToObject(out, f->name, item);
    }
    cJSON_ArrayForEach(item, v)
    {
        if (input_value_find(t->input_fields, item->string) == NULL)
            cerr(c, v, "Field \"%s\" is not defined by type \"%s\".", item->string, t->name);
    }
    return out;
}

static cJSON *coerce_leaf(struct cctx *c, const cJSON *v, const struct schema_type *t)
{
    char shown[256];

    json_text(v, shown, sizeof(shown));
    if (t->kind == SCHEMA_ENUM) {
        if (!cJSON_IsString(v)) {
            cerr(c, v, "Enum \"%s\" cannot represent non-string value: %s.", t->name, shown);
            return NULL;
        }
        for (const char *const *e = t->values; *e != NULL; e++)
            if (strcmp(*e, v->valuestring) == 0)
                return cJSON_CreateString(*e);
        cerr(c, v, "Value \"%s\" does not exist in \"%s\" enum.", v->valuestring, t->name);
        return NULL;
    }
    if (strcmp(t->name, "String") == 0 || strcmp(t->name, "DateTime") == 0) {
        if (!cJSON_IsString(v)) {
            cerr(c, v, "%s cannot represent a non string value: %s", t->name, shown);
            return NULL;
        }
    } else if (strcmp(t->name, "Int") == 0) {
        double d = cJSON_GetNumberValue(v);

        if (!cJSON_IsNumber(v) || floor(d) != d) {
            cerr(c, v, "Int cannot represent non-integer value: %s", shown);
            return NULL;
        }
        if (d < -2147483648.0 || d > 2147483647.0) {
            cerr(c, v, "Int cannot represent non 32-bit signed integer value: %s", shown);
            return NULL;
        }
    } else if (strcmp(t->name, "Float") == 0) {
        if (!cJSON_IsNumber(v)) {
            cerr(c, v, "Float cannot represent non numeric value: %s", shown);
            return NULL;
        }
    } else if (strcmp(t->name, "Boolean") == 0) {
        if (!cJSON_IsBool(v)) {
            cerr(c, v, "Boolean cannot represent a non boolean value: %s", shown);
            return NULL;
        }
    } else if (strcmp(t->name, "ID") == 0) {
        if (cJSON_IsNumber(v) && floor(v->valuedouble) == v->valuedouble) {
            char num[32];

            snprintf(num, sizeof(num), "%.0f", v->valuedouble);
            return cJSON_CreateString(num);
        }
        if (!cJSON_IsString(v)) {
            cerr(c, v, "ID cannot represent value: %s", shown);
            return NULL;
        }
    } else if (strcmp(t->name, "EnvironmentVariables") == 0) {
        const cJSON *it;
        bool ok = cJSON_IsObject(v);

        cJSON_ArrayForEach(it, v)
        {
            if (!cJSON_IsString(it))
                ok = false;
        }
        if (!ok) {
            cerr(c, v, "Expected type \"EnvironmentVariables\" to be an object of string values.");
            return NULL;
        }
    }
    return cJSON_Duplicate(v, true);
}

static cJSON *coerce(struct cctx *c, const cJSON *v, const char *type)
{
    char inner[TYPE_MAX];
    const struct schema_type *t;

    if (type_non_null(type)) {
        if (v == NULL || cJSON_IsNull(v)) {
            cerr(c, v, "Expected non-nullable type \"%s\" not to be null.", type);
            return NULL;
        }
        type_nullable(type, inner);
        return coerce(c, v, inner);
    }
    if (v == NULL || cJSON_IsNull(v))
        return cJSON_CreateNull();
    if (type_is_list(type)) {
        cJSON *out = cJSON_CreateArray();
        size_t plen = strlen(c->path);
        const cJSON *it;
        int i = 0;

        type_item(type, inner);
        if (!cJSON_IsArray(v)) {
            cJSON *one = coerce(c, v, inner);

            if (one != NULL)
                cJSON_AddItemToArray(out, one);
            return out;
        }
        cJSON_ArrayForEach(it, v)
        {
            cJSON *x;

            snprintf(c->path + plen, sizeof(c->path) - plen, "[%d]", i++);
            x = coerce(c, it, inner);
            c->path[plen] = '\0';
            cJSON_AddItemToArray(out, x ? x : cJSON_CreateNull());
        }
        return out;
    }
    t = schema_type_find(type);
    if (t == NULL)
        return cJSON_Duplicate(v, true);
    if (t->kind == SCHEMA_INPUT)
        return coerce_input_object(c, v, t);
    return coerce_leaf(c, v, t);
}

/* Builds the JSON of a constant AST value (a variable default). */
static cJSON *const_value_json(const struct gql_value *v)
{
    cJSON *out;
    char *end;

    if (v == NULL)
        return cJSON_CreateNull();
    switch (v->kind) {
    case GQL_VALUE_INT:
    case GQL_VALUE_FLOAT:
        return cJSON_CreateNumber(strtod(v->text, &end));
    case GQL_VALUE_STRING:
    case GQL_VALUE_ENUM:
        return cJSON_CreateString(v->text);
    case GQL_VALUE_BOOLEAN:
        return cJSON_CreateBool(v->boolean);
    case GQL_VALUE_LIST:
        out = cJSON_CreateArray();
        for (size_t i = 0; i < v->count; i++)
            cJSON_AddItemToArray(out, const_value_json(v->items[i].value));
        return out;
    case GQL_VALUE_OBJECT:
        out = cJSON_CreateObject();
        for (size_t i = 0; i < v->count; i++)
            cJSON_AddItemToObject(out, v->items[i].name, const_value_json(v->items[i].value));
        return out;
    case GQL_VALUE_NULL:
    case GQL_VALUE_VARIABLE:
        break;
    }
    return cJSON_CreateNull();
}

int schema_variables_coerce(const struct gql_operation *op, const cJSON *values, cJSON **out,
                            cJSON *errors)
{
    int before = cJSON_GetArraySize(errors);
    cJSON *result = cJSON_CreateObject();

    for (size_t i = 0; i < op->variable_count; i++) {
        const struct gql_variable_definition *d = &op->variables[i];
        const cJSON *v = values ? cJSON_GetObjectItemCaseSensitive(values, d->name) : NULL;
        char vt[TYPE_MAX];
        struct cctx c;
        cJSON *x;

        gql_type_print(d->type, vt, sizeof(vt));
        if (v == NULL) {
            if (d->default_value != NULL) {
                cJSON_AddItemToObject(result, d->name, const_value_json(d->default_value));
            } else if (d->type->non_null) {
                schema_error_add(errors, CODE_VALIDATION, d->line, d->column,
                                 "Variable \"$%s\" of required type \"%s\" was not provided.",
                                 d->name, vt);
            }
            continue;
        }
        if (cJSON_IsNull(v) && d->type->non_null) {
            schema_error_add(errors, CODE_VALIDATION, d->line, d->column,
                             "Variable \"$%s\" of non-null type \"%s\" must not be null.", d->name,
                             vt);
            continue;
        }
        memset(&c, 0, sizeof(c));
        c.errors = errors;
        c.var = d->name;
        c.whole = v;
        c.line = d->line;
        c.column = d->column;
        x = coerce(&c, v, vt);
        if (x != NULL)
            cJSON_AddItemToObject(result, d->name, x);
    }
    *out = result;
    return cJSON_GetArraySize(errors) - before;
}

/* ---- execution helpers ----------------------------------------------------------------------- */

/* Builds the JSON of an argument value, substituting variables; NULL means "absent". */
static cJSON *arg_value_json(const struct gql_value *v, const char *type, const cJSON *vars)
{
    char inner[TYPE_MAX];
    const struct schema_type *t;
    cJSON *out;

    if (v == NULL)
        return NULL;
    if (v->kind == GQL_VALUE_VARIABLE) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(vars, v->text);

        return x ? cJSON_Duplicate(x, true) : NULL;
    }
    if (v->kind == GQL_VALUE_NULL)
        return cJSON_CreateNull();
    type_nullable(type, inner);
    if (type_is_list(inner)) {
        char item[TYPE_MAX];

        type_item(inner, item);
        out = cJSON_CreateArray();
        if (v->kind != GQL_VALUE_LIST) {
            cJSON *one = arg_value_json(v, item, vars);

            cJSON_AddItemToArray(out, one ? one : cJSON_CreateNull());
            return out;
        }
        for (size_t i = 0; i < v->count; i++) {
            cJSON *x = arg_value_json(v->items[i].value, item, vars);

            cJSON_AddItemToArray(out, x ? x : cJSON_CreateNull());
        }
        return out;
    }
    t = schema_type_find(inner);
    if (t != NULL && t->kind == SCHEMA_INPUT && v->kind == GQL_VALUE_OBJECT) {
        out = cJSON_CreateObject();
        for (const struct schema_input_value *f = t->input_fields; f->name != NULL; f++) {
            cJSON *x = NULL;

            for (size_t i = 0; i < v->count; i++)
                if (strcmp(v->items[i].name, f->name) == 0)
                    x = arg_value_json(v->items[i].value, f->type, vars);
            if (x == NULL && f->default_json != NULL)
                x = cJSON_Parse(f->default_json);
            if (x != NULL)
                cJSON_AddItemToObject(out, f->name, x);
        }
        return out;
    }
    if (t != NULL && strcmp(t->name, "ID") == 0 && v->kind == GQL_VALUE_INT)
        return cJSON_CreateString(v->text);
    if (v->kind == GQL_VALUE_OBJECT) {
        out = cJSON_CreateObject();
        for (size_t i = 0; i < v->count; i++) {
            cJSON *x = arg_value_json(v->items[i].value, "JSON", vars);

            cJSON_AddItemToObject(out, v->items[i].name, x ? x : cJSON_CreateNull());
        }
        return out;
    }
    if (v->kind == GQL_VALUE_LIST) {
        out = cJSON_CreateArray();
        for (size_t i = 0; i < v->count; i++) {
            cJSON *x = arg_value_json(v->items[i].value, "JSON", vars);

            cJSON_AddItemToArray(out, x ? x : cJSON_CreateNull());
        }
        return out;
    }
    return const_value_json(v);
}

cJSON *schema_arguments_eval(const struct schema_field *def, const struct gql_selection *field,
                             const cJSON *vars)
{
    cJSON *out = cJSON_CreateObject();

    for (const struct schema_input_value *ad = def->args; ad && ad->name != NULL; ad++) {
        cJSON *x = NULL;

        for (size_t i = 0; i < field->arg_count; i++)
            if (strcmp(field->args[i].name, ad->name) == 0)
                x = arg_value_json(field->args[i].value, ad->type, vars);
        if (x == NULL && ad->default_json != NULL)
            x = cJSON_Parse(ad->default_json);
        if (x != NULL)
            cJSON_AddItemToObject(out, ad->name, x);
    }
    return out;
}

/* Evaluates @skip/@include; true when the selection is to be kept. */
static bool directives_keep(const struct gql_directive *dirs, size_t count, const cJSON *vars)
{
    for (size_t i = 0; i < count; i++) {
        bool skip = strcmp(dirs[i].name, "skip") == 0;
        bool include = strcmp(dirs[i].name, "include") == 0;
        bool value = false;

        if (!skip && !include)
            continue;
        for (size_t a = 0; a < dirs[i].arg_count; a++) {
            cJSON *x = arg_value_json(dirs[i].args[a].value, "Boolean!", vars);

            value = cJSON_IsTrue(x);
            cJSON_Delete(x);
        }
        if ((skip && value) || (include && !value))
            return false;
    }
    return true;
}

static void collect_one(const struct gql_document *doc, const struct gql_selection_set *set,
                        const cJSON *vars, struct schema_collection *out,
                        const struct gql_fragment **seen, size_t *seen_count, size_t depth)
{
    if (set == NULL || depth > MAX_WALK_DEPTH)
        return;
    for (size_t i = 0; i < set->count; i++) {
        const struct gql_selection *s = &set->items[i];

        if (!directives_keep(s->directives, s->directive_count, vars))
            continue;
        if (s->kind == GQL_SELECTION_FIELD) {
            const char *key = s->alias ? s->alias : s->name;
            struct schema_collected *c = NULL;

            for (size_t k = 0; k < out->count; k++)
                if (strcmp(out->items[k].key, key) == 0)
                    c = &out->items[k];
            if (c == NULL) {
                out->items = xrealloc(out->items, (out->count + 1) * sizeof(*out->items));
                c = &out->items[out->count++];
                c->key = key;
                c->field = s;
                c->subs = NULL;
                c->sub_count = 0;
            }
            if (s->selections != NULL) {
                c->subs = xrealloc(c->subs, (c->sub_count + 1) * sizeof(*c->subs));
                c->subs[c->sub_count++] = s->selections;
            }
        } else if (s->kind == GQL_SELECTION_INLINE) {
            collect_one(doc, s->selections, vars, out, seen, seen_count, depth + 1);
        } else {
            const struct gql_fragment *f = gql_document_fragment_find(doc, s->name);
            bool dup = false;

            if (f == NULL)
                continue;
            for (size_t k = 0; k < *seen_count; k++)
                if (seen[k] == f)
                    dup = true;
            if (dup || *seen_count >= MAX_COLLECT_FRAGMENTS)
                continue;
            seen[(*seen_count)++] = f;
            collect_one(doc, f->selections, vars, out, seen, seen_count, depth + 1);
        }
    }
}

void schema_fields_collect(const struct gql_document *doc,
                           const struct gql_selection_set *const *sets, size_t set_count,
                           const cJSON *vars, struct schema_collection *out)
{
    const struct gql_fragment *seen[MAX_COLLECT_FRAGMENTS];
    size_t seen_count = 0;

    out->items = NULL;
    out->count = 0;
    for (size_t i = 0; i < set_count; i++)
        collect_one(doc, sets[i], vars, out, seen, &seen_count, 0);
}

void schema_collection_cleanup(struct schema_collection *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->count; i++)
        free(c->items[i].subs);
    free(c->items);
    c->items = NULL;
    c->count = 0;
}

static int connection_int_arg(const struct gql_selection *field, const char *name,
                              const cJSON *vars)
{
    int out = -1;

    for (size_t i = 0; field && i < field->arg_count; i++) {
        if (strcmp(field->args[i].name, name) == 0) {
            cJSON *x = arg_value_json(field->args[i].value, "Int", vars);

            if (cJSON_IsNumber(x) && x->valuedouble >= 0)
                out = (int)x->valuedouble;
            cJSON_Delete(x);
        }
    }
    return out;
}

/* Finds the position of the node whose id is the cursor named by the argument, or -1. */
static int connection_cursor_arg(const struct gql_selection *field, const char *name,
                                 const cJSON *vars, const cJSON *nodes)
{
    int out = -1;

    for (size_t i = 0; field && i < field->arg_count; i++) {
        if (strcmp(field->args[i].name, name) == 0) {
            cJSON *x = arg_value_json(field->args[i].value, "String", vars);
            const cJSON *node;
            int k = 0;

            cJSON_ArrayForEach(node, nodes)
            {
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(node, "id");

                if (cJSON_IsString(x) && cJSON_IsString(id) &&
                    strcmp(id->valuestring, x->valuestring) == 0)
                    out = k;
                k++;
            }
            cJSON_Delete(x);
        }
    }
    return out;
}

/* Turns an array of nodes into {edges:[{cursor,node}], pageInfo} per first/after/last/before;
 * the cursor of a node is its id. */
static cJSON *connection_build(const struct gql_selection *field, const cJSON *nodes,
                               const cJSON *vars)
{
    int n = cJSON_GetArraySize(nodes);
    int start = 0, end = n;
    int first = connection_int_arg(field, "first", vars);
    int last = connection_int_arg(field, "last", vars);
    int after = connection_cursor_arg(field, "after", vars, nodes);
    int before = connection_cursor_arg(field, "before", vars, nodes);
    bool has_next, has_prev;
    cJSON *out = cJSON_CreateObject();
    cJSON *edges = cJSON_AddArrayToObject(out, "edges");
    cJSON *page = cJSON_AddObjectToObject(out, "pageInfo");
    const cJSON *startc = NULL, *endc = NULL;

    if (after >= 0)
        start = after + 1;
    if (before >= 0 && before < end)
        end = before;
    if (end < start)
        end = start;
    has_next = false;
    has_prev = start > 0;
    if (first >= 0 && end - start > first) {
        end = start + first;
        has_next = true;
    }
    if (last >= 0 && end - start > last) {
        start = end - last;
        has_prev = true;
    }
    for (int i = start; i < end; i++) {
        const cJSON *node = cJSON_GetArrayItem(nodes, i);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(node, "id");
        cJSON *edge = cJSON_CreateObject();

        cJSON_AddStringToObject(edge, "cursor", cJSON_IsString(id) ? id->valuestring : "");
        cJSON_AddItemToObject(edge, "node", cJSON_Duplicate(node, true));
        cJSON_AddItemToArray(edges, edge);
        if (startc == NULL)
            startc = id;
        endc = id;
    }
    cJSON_AddBoolToObject(page, "hasNextPage", has_next);
    cJSON_AddBoolToObject(page, "hasPreviousPage", has_prev);
    if (cJSON_IsString(startc))
        cJSON_AddStringToObject(page, "startCursor", startc->valuestring);
    else
        cJSON_AddNullToObject(page, "startCursor");
    if (cJSON_IsString(endc))
        cJSON_AddStringToObject(page, "endCursor", endc->valuestring);
    else
        cJSON_AddNullToObject(page, "endCursor");
    return out;
}

static cJSON *complete(const struct gql_document *doc, const char *type,
                       const struct schema_collected *field, const cJSON *src, const cJSON *vars);

/* Introspection lists (fields, args, enumValues, inputFields) leave out deprecated entries
 * unless includeDeprecated is true. Returns a new array of references to the kept items. */
static cJSON *deprecated_filter(const struct schema_field *def, const struct gql_selection *field,
                                const cJSON *list, const cJSON *vars)
{
    cJSON *args = schema_arguments_eval(def, field, vars);
    bool all = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(args, "includeDeprecated"));
    cJSON *out = cJSON_CreateArray();
    const cJSON *it;

    cJSON_ArrayForEach(it, list)
    {
        if (all || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "isDeprecated")))
            cJSON_AddItemReferenceToArray(out, (cJSON *)(uintptr_t)it);
    }
    cJSON_Delete(args);
    return out;
}

static cJSON *object_complete(const struct gql_document *doc, const struct schema_type *t,
                              const struct schema_collected *field, const cJSON *src,
                              const cJSON *vars)
{
    struct schema_collection sub;
    cJSON *out = cJSON_CreateObject();

    schema_fields_collect(doc, field->subs, field->sub_count, vars, &sub);
    for (size_t i = 0; i < sub.count; i++) {
        const struct schema_collected *c = &sub.items[i];
        const struct schema_field *def;
        const cJSON *v;
        cJSON *owned = NULL;

        if (strcmp(c->field->name, "__typename") == 0) {
            cJSON_AddItemToObject(out, c->key, cJSON_CreateString(t->name));
            continue;
        }
        def = schema_field_find(t, c->field->name);
        if (def == NULL || def->type == NULL) {
            cJSON_AddItemToObject(out, c->key, cJSON_CreateNull());
            continue;
        }
        v = cJSON_GetObjectItemCaseSensitive(src, c->field->name);
        if (v == NULL && def->fallback_json != NULL)
            v = owned = cJSON_Parse(def->fallback_json);
        else if (cJSON_IsArray(v) && input_value_find(def->args, "includeDeprecated") != NULL)
            v = owned = deprecated_filter(def, c->field, v, vars);
        cJSON_AddItemToObject(out, c->key, complete(doc, def->type, c, v, vars));
        cJSON_Delete(owned);
    }
    schema_collection_cleanup(&sub);
    return out;
}

static cJSON *complete(const struct gql_document *doc, const char *type,
                       const struct schema_collected *field, const cJSON *src, const cJSON *vars)
{
    char inner[TYPE_MAX];
    const struct schema_type *t;

    if (type_non_null(type)) {
        type_nullable(type, inner);
        return complete(doc, inner, field, src, vars);
    }
    if (src == NULL || cJSON_IsNull(src))
        return cJSON_CreateNull();
    if (type_is_list(type)) {
        cJSON *out = cJSON_CreateArray();
        const cJSON *it;

        type_item(type, inner);
        cJSON_ArrayForEach(it, src)
        {
            cJSON_AddItemToArray(out, complete(doc, inner, field, it, vars));
        }
        return out;
    }
    t = schema_type_find(type);
    if (t != NULL && t->kind == SCHEMA_OBJECT) {
        if (cJSON_IsArray(src)) {
            cJSON *conn = connection_build(field->field, src, vars);
            cJSON *out = object_complete(doc, t, field, conn, vars);

            cJSON_Delete(conn);
            return out;
        }
        return object_complete(doc, t, field, src, vars);
    }
    return cJSON_Duplicate(src, true);
}

cJSON *schema_value_complete(const struct gql_document *doc, const char *type,
                             const struct schema_collected *field, const cJSON *source,
                             const cJSON *vars)
{
    return complete(doc, type, field, source, vars);
}
