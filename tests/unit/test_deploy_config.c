/* railway.json against what Railway reads (docs/railway-behaviour.md cites the fields) and
 * against the Dockerfile: the builder and its Dockerfile, the pre-deploy command, the
 * healthcheck and the restart policy; the command Railway runs before each deployment is
 * railhook's own `migrate`, whichever way Railway applies it to the image. */
#include "support/harness.h"
#include "util/util.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static cJSON *railway_json(void)
{
    size_t len = 0;
    char *text = th_read_file(RAILHOOK_SOURCE_DIR "/railway.json", &len);
    cJSON *j = cJSON_ParseWithLength(text, len);
    cr_assert_not_null(j, "railway.json is not JSON");
    free(text);
    return j;
}

static const char *str_at(const cJSON *obj, const char *section, const char *key)
{
    const cJSON *v =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, section), key);
    cr_assert(cJSON_IsString(v), "railway.json has no string %s.%s", section, key);
    return v->valuestring;
}

static int int_at(const cJSON *obj, const char *section, const char *key)
{
    const cJSON *v =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, section), key);
    cr_assert(cJSON_IsNumber(v), "railway.json has no number %s.%s", section, key);
    return v->valueint;
}

/* The lines of the Dockerfile's last stage (from its last FROM), as one string (free()). */
static char *final_stage(const char *dockerfile)
{
    size_t len = 0;
    char *text = th_read_file(dockerfile, &len);
    char *last = text, *p = text;
    while ((p = strstr(p, "\nFROM ")) != NULL)
        last = ++p;
    char *out = xstrdup(last);
    free(text);
    return out;
}

/* Whether a line of text starts with word (an instruction). */
static bool has_instruction(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *line = text; line; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncmp(line, word, n) == 0 && line[n] == ' ')
            return true;
    }
    return false;
}

Test(deploy_config, railway_json_has_the_fields_railway_reads)
{
    cJSON *j = railway_json();
    cr_assert_str_eq(cJSON_GetObjectItem(j, "$schema")->valuestring,
                     "https://railway.com/railway.schema.json");
    cr_assert_str_eq(str_at(j, "build", "builder"), "DOCKERFILE");
    char *path = xasprintf("%s/%s", RAILHOOK_SOURCE_DIR, str_at(j, "build", "dockerfilePath"));
    cr_assert_eq(access(path, R_OK), 0, "no Dockerfile at %s", path);
    free(path);
    cr_assert_str_eq(str_at(j, "deploy", "healthcheckPath"), "/readyz");
    int timeout = int_at(j, "deploy", "healthcheckTimeout");
    cr_assert(timeout >= 30 && timeout <= 300, "healthcheckTimeout %d", timeout);
    cr_assert_str_eq(str_at(j, "deploy", "restartPolicyType"), "ON_FAILURE");
    int retries = int_at(j, "deploy", "restartPolicyMaxRetries");
    cr_assert(retries > 0 && retries <= 20, "restartPolicyMaxRetries %d", retries);
    /* The image's own command starts the service: no start command overrides it. */
    cr_assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "deploy"), "startCommand"));

    /* The healthcheck path is one of railhook's documented routes. */
    size_t len = 0;
    char *api = th_read_file(RAILHOOK_SOURCE_DIR "/openapi.yaml", &len);
    cr_assert_not_null(strstr(api, "\n  /readyz:"), "openapi.yaml has no /readyz");
    free(api);
    cJSON_Delete(j);
}

/* The pre-deploy command is "railhook migrate": the image has no ENTRYPOINT (so the command
 * runs as written whether Railway replaces the ENTRYPOINT or the CMD), "railhook" is the binary
 * the image installs on the PATH and runs as its CMD, and `railhook migrate` is railhook's
 * migrate command (it tries the database; an unknown command would print the usage). */
Test(deploy_config, the_pre_deploy_command_is_railhooks_migrate)
{
    cJSON *j = railway_json();
    const cJSON *pre = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "deploy"), "preDeployCommand");
    cr_assert(cJSON_IsArray(pre) && cJSON_GetArraySize(pre) == 1,
              "preDeployCommand must be an array of one command");
    const char *cmd = cJSON_GetArrayItem(pre, 0)->valuestring;
    cr_assert_str_eq(cmd, "railhook migrate");

    char *path = xasprintf("%s/%s", RAILHOOK_SOURCE_DIR, str_at(j, "build", "dockerfilePath"));
    char *stage = final_stage(path);
    cr_assert_not(has_instruction(stage, "ENTRYPOINT"),
                  "an ENTRYPOINT would run before the pre-deploy command");
    cr_assert(has_instruction(stage, "CMD"));
    cr_assert_not_null(strstr(stage, "\nCMD [\"railhook\", \"serve\"]"),
                       "the image's command is not `railhook serve`");
    cr_assert_not_null(strstr(stage, " /usr/local/bin/railhook\n"),
                       "the image does not install railhook in /usr/local/bin");
    free(stage);
    free(path);

    char *log = xasprintf("%s/deploy-config-%d.out",
                          getenv("RAILHOOK_TEST_TMP") ? getenv("RAILHOOK_TEST_TMP") : "/tmp",
                          (int)getpid());
    const char *argv[] = {th_railhook_bin(), "migrate", NULL};
    const char *env[] = {"DATABASE_URL=postgresql://127.0.0.1:1/railhook_absent",
                         "DB_CONNECT_TIMEOUT_S=2", "LOG_FORMAT=logfmt", NULL};
    pid_t pid = th_spawn(argv, env, log);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    size_t len = 0;
    char *out = th_read_file(log, &len);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "exit %d: %s", WEXITSTATUS(status),
              out);
    cr_assert_not_null(strstr(out, "migration failed"), "%s", out);
    cr_assert_null(strstr(out, "unknown command"), "%s", out);
    unlink(log);
    free(out);
    free(log);
    cJSON_Delete(j);
}
