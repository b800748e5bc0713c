/* Worker variable templates: the renderer keeps scanning past braces that hold no placeholder,
 * and every environment value a template reads is registered with the redactor. */
#include "flows/variables.h"
#include "util/redact.h"
#include "util/util.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *render(const char *tmpl, const char *record_json)
{
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "V", tmpl);
    cJSON *record = cJSON_Parse(record_json);
    cJSON *out = NULL;
    char err[256] = "";
    cr_assert_eq(variables_render(t, record, &out, err, sizeof(err)), RH_OK, "%s", err);
    char *v = xstrdup(cJSON_GetObjectItem(out, "V")->valuestring);
    cJSON_Delete(out);
    cJSON_Delete(record);
    cJSON_Delete(t);
    return v;
}

Test(variables, braces_without_a_dot_are_text_and_the_scan_goes_on)
{
    setenv("RH_TEST_PLAIN", "plain", 1);
    char *v = render("{a}{record.id}-{}x{env.RH_TEST_PLAIN}{b}{other.k}{", "{\"id\":42}");
    cr_assert_str_eq(v, "{a}42-{}xplain{b}{other.k}{");
    free(v);
    v = render("json {\"k\": 1} then {record.name}", "{\"name\":\"w\"}");
    cr_assert_str_eq(v, "json {\"k\": 1} then w");
    free(v);
}

Test(variables, a_missing_column_after_plain_braces_is_still_refused)
{
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "V", "{x}{record.nope}");
    cJSON *record = cJSON_Parse("{\"id\":1}");
    cJSON *out = NULL;
    char err[256] = "";
    cr_assert_eq(variables_render(t, record, &out, err, sizeof(err)), RH_INVALID);
    cr_assert_not_null(strstr(err, "nope"), "%s", err);
    cr_assert_null(out);
    cJSON_Delete(record);
    cJSON_Delete(t);
}

Test(variables, every_environment_value_a_template_reads_is_redacted)
{
    char path[] = "/tmp/rh-variables-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    const char *doc = "{\"A\": \"{x}{env.RH_TEST_ENDPOINT}\", \"B\": \"{env.RH_TEST_LEVEL}\","
                      " \"C\": \"{env.RH_TEST_KEY}\"}";
    cr_assert_eq(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
    close(fd);
    setenv("RH_TEST_ENDPOINT", "https://internal.example/hook-9f3e", 1);
    setenv("RH_TEST_LEVEL", "debug", 1);
    setenv("RH_TEST_KEY", "k-42", 1);
    struct config cfg = {.worker_variables_file = path};
    char err[256] = "";
    redact_clear();
    cJSON *t = variables_templates_load(&cfg, err, sizeof(err));
    cr_assert_not_null(t, "%s", err);
    char *s = redact_string("echo https://internal.example/hook-9f3e k-42 level debug");
    cr_assert_str_eq(s, "echo [REDACTED] [REDACTED] level debug");
    free(s);
    redact_clear();
    cJSON_Delete(t);
    unlink(path);
}
