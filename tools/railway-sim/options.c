/* options: railway-sim's command line: the flags, their defaults, and parsing. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* The snapshot of Railway's schema the repository carries (railway/schema/), located at build
 * time. */
#ifndef RAILWAY_SIM_SCHEMA
#define RAILWAY_SIM_SCHEMA "railway/schema/railway-schema.json"
#endif

/* ---- command line -----------------------------------------------------------------------------
 */

enum flag_kind {
    FLAG_LONG,
    FLAG_DOUBLE,
    FLAG_STRING,
    FLAG_SWITCH,
};

struct flag {
    const char *name;
    enum flag_kind kind;
    long min, max;
    const char *help;
};

static const struct flag flags[] = {
    {"port", FLAG_LONG, 0, 65535, "TCP port on 127.0.0.1; 0 picks a free one (default 0)"},
    {"bind", FLAG_STRING, 0, 0, "loopback IPv4 address to listen on (default 127.0.0.1)"},
    {"token", FLAG_STRING, 0, 0, "accepted account/workspace token, repeatable"},
    {"workspace-token", FLAG_STRING, 0, 0,
     "accepted workspace token (Bearer; no `me`), repeatable"},
    {"project-token", FLAG_STRING, 0, 0, "accepted Project-Access-Token, repeatable"},
    {"project-id", FLAG_STRING, 0, 0, "the project's id (default proj-sim)"},
    {"environment-id", FLAG_STRING, 0, 0, "the environment's id (default env-sim)"},
    {"repos", FLAG_STRING, 0, 0, "visible repos: owner/name:b1,b2;owner2/name2:main"},
    {"schema", FLAG_STRING, 0, 0, "Railway's schema (introspection JSON) to validate and serve"},
    {"instance-delay-ms", FLAG_LONG, 0, 3600000, "delay before a service instance exists (300)"},
    {"build-ms", FLAG_LONG, 0, 3600000, "QUEUED to SUCCESS duration of a deployment (1500)"},
    {"fail-builds", FLAG_STRING, 0, 0, "builds of services whose name contains this fail"},
    {"rps", FLAG_LONG, 1, 1000000, "requests per second per token (50)"},
    {"hourly", FLAG_LONG, 1, 1000000000, "requests per hour per token (10000)"},
    {"seed", FLAG_LONG, 0, 0x7FFFFFFF, "seed of the fault and id generators (1)"},
    {"fault-rate", FLAG_DOUBLE, 0, 1, "share of requests that get a fault (0)"},
    {"fault-kinds", FLAG_STRING, 0, 0, "500,502,503,reset,delay,generic,429,403 (all but 403)"},
    {"fault-delay-ms", FLAG_LONG, 0, 600000, "length of a delay fault (2000)"},
    {"autodeploy-on-connect", FLAG_SWITCH, 0, 0, "serviceConnect starts a deployment (default)"},
    {"no-autodeploy-on-connect", FLAG_SWITCH, 0, 0, "serviceConnect does not deploy"},
    {"connect-deploy-delay-ms", FLAG_LONG, 0, 3600000,
     "a connect's or create's own deployment is listed this late (0)"},
    {"push-deploy-delay-ms", FLAG_LONG, 0, 3600000,
     "a push's deployments are listed this late (1000)"},
    {"sleep-after-ms", FLAG_LONG, 0, 3600000,
     "SUCCESS turns SLEEPING after this long; 0: never (0)"},
    {"supersede-unfinished", FLAG_SWITCH, 0, 0,
     "a newer deployment removes an older unfinished one at once (off)"},
    {"hold-status", FLAG_STRING, 0, 0, "new deployments start WAITING, QUEUED or NEEDS_APPROVAL"},
    {"hold-ms", FLAG_LONG, 0, 3600000, "how long they hold; 0: until superseded (0)"},
    {"list-deleted-services", FLAG_SWITCH, 0, 0, "project.services keeps deleted ones (off)"},
    {"rate-reset-format", FLAG_STRING, 0, 0,
     "X-RateLimit-Reset: epoch, epoch-ms, delta, http-date, iso"},
    {"retry-after-format", FLAG_STRING, 0, 0, "Retry-After: seconds or http-date"},
    {"slow-deploy-ms", FLAG_LONG, 0, 600000, "deploy mutations act, then answer this late (0)"},
    {"fail-log", FLAG_STRING, 0, 0, "last lines of a failed build's log (\\n-separated)"},
    {"quiet", FLAG_SWITCH, 0, 0, "no per-request log lines on stderr"},
    {"help", FLAG_SWITCH, 0, 0, "this text"},
};

void options_usage(FILE *to)
{
    fprintf(to, "usage: railway-sim [--flag value | --flag=value]...\n");
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        fprintf(to, "  --%-26s %s\n", flags[i].name, flags[i].help);
}

static void list_add(char ***list, size_t *count, const char *value)
{
    *list = xrealloc(*list, (*count + 1) * sizeof(**list));
    (*list)[(*count)++] = xstrdup(value);
}

void options_list_free(char **list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(list[i]);
    free(list);
}

/* Parses a whole decimal floating-point number in [min, max]. */
static bool parse_double(const char *s, double min, double max, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (s[0] == '\0' || errno != 0 || *end != '\0' || !(v >= min && v <= max))
        return false;
    *out = v;
    return true;
}

static int flag_apply(struct options *o, struct server *srv, const struct flag *f,
                      const char *value)
{
    int64_t l = 0;
    double d = 0;

    if (f->kind == FLAG_LONG && !parse_i64(value, f->min, f->max, &l))
        return -1;
    if (f->kind == FLAG_DOUBLE && !parse_double(value, (double)f->min, (double)f->max, &d))
        return -1;
    if (strcmp(f->name, "port") == 0) {
        o->port = l;
    } else if (strcmp(f->name, "bind") == 0) {
        struct in_addr a;

        if (inet_pton(AF_INET, value, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127)
            return -1; /* loopback only */
        free(o->bind);
        o->bind = xstrdup(value);
    } else if (strcmp(f->name, "token") == 0) {
        if (value[0] == '\0')
            return -1;
        list_add(&srv->tokens, &srv->token_count, value);
    } else if (strcmp(f->name, "workspace-token") == 0) {
        if (value[0] == '\0')
            return -1;
        list_add(&srv->workspace_tokens, &srv->workspace_token_count, value);
    } else if (strcmp(f->name, "schema") == 0) {
        if (value[0] == '\0')
            return -1;
        free(o->config.schema_path);
        o->config.schema_path = xstrdup(value);
    } else if (strcmp(f->name, "project-token") == 0) {
        if (value[0] == '\0')
            return -1;
        list_add(&srv->project_tokens, &srv->project_token_count, value);
    } else if (strcmp(f->name, "project-id") == 0) {
        if (value[0] == '\0')
            return -1;
        free(o->config.project_id);
        o->config.project_id = xstrdup(value);
    } else if (strcmp(f->name, "environment-id") == 0) {
        if (value[0] == '\0')
            return -1;
        free(o->config.environment_id);
        o->config.environment_id = xstrdup(value);
    } else if (strcmp(f->name, "repos") == 0) {
        return sim_config_repos_parse(&o->config, value);
    } else if (strcmp(f->name, "instance-delay-ms") == 0) {
        o->config.instance_delay_ms = l;
    } else if (strcmp(f->name, "build-ms") == 0) {
        o->config.build_ms = l;
    } else if (strcmp(f->name, "fail-builds") == 0) {
        free(o->config.fail_builds);
        o->config.fail_builds = value[0] ? xstrdup(value) : NULL;
    } else if (strcmp(f->name, "rps") == 0) {
        o->config.rps = l;
    } else if (strcmp(f->name, "hourly") == 0) {
        o->config.hourly = l;
    } else if (strcmp(f->name, "seed") == 0) {
        o->config.seed = (uint64_t)l;
    } else if (strcmp(f->name, "fault-rate") == 0) {
        o->config.fault_rate = d;
    } else if (strcmp(f->name, "fault-kinds") == 0) {
        return sim_fault_kinds_parse(value, &o->config.fault_kinds);
    } else if (strcmp(f->name, "fault-delay-ms") == 0) {
        o->config.fault_delay_ms = l;
    } else if (strcmp(f->name, "autodeploy-on-connect") == 0) {
        o->config.autodeploy_on_connect = true;
    } else if (strcmp(f->name, "no-autodeploy-on-connect") == 0) {
        o->config.autodeploy_on_connect = false;
    } else if (strcmp(f->name, "connect-deploy-delay-ms") == 0) {
        o->config.connect_deploy_delay_ms = l;
    } else if (strcmp(f->name, "push-deploy-delay-ms") == 0) {
        o->config.push_deploy_delay_ms = l;
    } else if (strcmp(f->name, "sleep-after-ms") == 0) {
        o->config.sleep_after_ms = l;
    } else if (strcmp(f->name, "supersede-unfinished") == 0) {
        o->config.supersede_unfinished = true;
    } else if (strcmp(f->name, "hold-status") == 0) {
        return sim_hold_status_parse(value, &o->config.hold_status);
    } else if (strcmp(f->name, "hold-ms") == 0) {
        o->config.hold_ms = l;
    } else if (strcmp(f->name, "list-deleted-services") == 0) {
        o->config.list_deleted_services = true;
    } else if (strcmp(f->name, "rate-reset-format") == 0) {
        return sim_reset_format_parse(value, &o->config.reset_format);
    } else if (strcmp(f->name, "retry-after-format") == 0) {
        return sim_retry_format_parse(value, &o->config.retry_format);
    } else if (strcmp(f->name, "slow-deploy-ms") == 0) {
        o->config.slow_deploy_ms = l;
    } else if (strcmp(f->name, "fail-log") == 0) {
        if (value[0] == '\0')
            return -1;
        free(o->config.fail_log);
        o->config.fail_log = xstrdup(value);
    } else if (strcmp(f->name, "quiet") == 0) {
        srv->quiet = true;
    } else if (strcmp(f->name, "help") == 0) {
        o->help = true;
    }
    return 0;
}

int options_parse(struct options *o, struct server *srv, int argc, char **argv)
{
    memset(o, 0, sizeof(*o));
    o->config.project_id = xstrdup("proj-sim");
    o->config.environment_id = xstrdup("env-sim");
    o->config.build_ms = 1500;
    o->config.instance_delay_ms = 300;
    o->config.fault_delay_ms = 2000;
    o->config.rps = 50;
    o->config.hourly = 10000;
    o->config.seed = 1;
    o->config.autodeploy_on_connect = true;
    o->config.push_deploy_delay_ms = 1000;
    o->config.fail_log = xstrdup("npm ERR! Missing script: \"start\"\n"
                                 "npm ERR! To see a list of scripts, run: npm run\n"
                                 "ERROR: process \"npm start\" exited with code 1");
    o->bind = xstrdup("127.0.0.1");
    if (sim_config_repos_parse(&o->config, "acme/osp:main") < 0 ||
        sim_fault_kinds_parse("500,502,503,reset,delay,generic,429", &o->config.fault_kinds) < 0)
        return -1;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *eq, *value = NULL;
        const struct flag *f = NULL;
        size_t nlen;

        if (strncmp(arg, "--", 2) != 0) {
            fprintf(stderr, "railway-sim: unexpected argument %s\n", arg);
            return -1;
        }
        arg += 2;
        eq = strchr(arg, '=');
        nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
            if (strlen(flags[k].name) == nlen && strncmp(flags[k].name, arg, nlen) == 0)
                f = &flags[k];
        if (f == NULL) {
            fprintf(stderr, "railway-sim: unknown flag --%.*s\n", (int)nlen, arg);
            return -1;
        }
        if (f->kind != FLAG_SWITCH) {
            if (eq != NULL) {
                value = eq + 1;
            } else if (i + 1 < argc) {
                value = argv[++i];
            } else {
                fprintf(stderr, "railway-sim: --%s needs a value\n", f->name);
                return -1;
            }
        } else if (eq != NULL) {
            fprintf(stderr, "railway-sim: --%s takes no value\n", f->name);
            return -1;
        }
        if (flag_apply(o, srv, f, value ? value : "") < 0) {
            /* Name the flag, never echo a token. */
            fprintf(stderr, "railway-sim: bad value for --%s (%s)\n", f->name, f->help);
            return -1;
        }
    }
    if (srv->token_count == 0)
        list_add(&srv->tokens, &srv->token_count, "sim-account-token");
    if (srv->project_token_count == 0)
        list_add(&srv->project_tokens, &srv->project_token_count, "sim-project-token");
    if (srv->workspace_token_count == 0)
        list_add(&srv->workspace_tokens, &srv->workspace_token_count, "sim-workspace-token");
    if (o->config.schema_path == NULL)
        o->config.schema_path = xstrdup(RAILWAY_SIM_SCHEMA);
    return 0;
}
