/* railhook-delivery: writes one signed test delivery, built by tests/support/deliveries.c, as a
 * body file and the request's header lines on stdout, for the scripts that need a real-shaped
 * delivery without the tests (benchmarks, fuzz seeds).
 *
 *   railhook-delivery --list
 *   railhook-delivery CASE --body FILE [--form] [--secret S] [--delivery ID]
 *                          [--bearer TOKEN] [--whsec SECRET] [--id WEBHOOK_ID] [--ts SECONDS]
 *
 * CASE is github-<name> (--secret signs it as GitHub does, --form sends it form-encoded) or
 * supabase-<name> (--bearer adds the Dashboard's Authorization header, --whsec signs it with
 * Standard Webhooks headers at --ts, default now). */
#include "support/deliveries.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fputs("usage: railhook-delivery --list\n"
          "       railhook-delivery CASE --body FILE [--form] [--secret S] [--delivery ID]\n"
          "                         [--bearer TOKEN] [--whsec SECRET] [--id ID] [--ts SECONDS]\n",
          f);
}

static void list(void)
{
    for (int c = 0; c < TD_GITHUB_CASES; c++)
        printf("github-%s\n", td_github_name((enum td_github_case)c));
    for (int c = 0; c < TD_SUPABASE_CASES; c++)
        printf("supabase-%s\n", td_supabase_name((enum td_supabase_case)c));
}

/* The GitHub or Supabase case named name; false when there is none. */
static bool find_case(const char *name, bool *github, int *which)
{
    for (int c = 0; c < TD_GITHUB_CASES; c++) {
        if (strncmp(name, "github-", 7) == 0 &&
            strcmp(name + 7, td_github_name((enum td_github_case)c)) == 0) {
            *github = true;
            *which = c;
            return true;
        }
    }
    for (int c = 0; c < TD_SUPABASE_CASES; c++) {
        if (strncmp(name, "supabase-", 9) == 0 &&
            strcmp(name + 9, td_supabase_name((enum td_supabase_case)c)) == 0) {
            *github = false;
            *which = c;
            return true;
        }
    }
    return false;
}

int main(int argc, char **argv)
{
    int rc = 2;
    const char *body_path = NULL, *secret = NULL, *delivery = NULL, *bearer = NULL;
    const char *whsec = NULL, *id = NULL, *ts_text = NULL;
    bool form = false, github = false;
    int which = 0;
    int64_t ts = 0;
    struct td_delivery d = {0};
    FILE *f = NULL;
    char uuid[37], msg_id[64];

    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        list();
        rc = 0;
        goto out;
    }
    if (argc < 2 || !find_case(argv[1], &github, &which)) {
        fprintf(stderr, "railhook-delivery: unknown case %s (see --list)\n",
                argc < 2 ? "(none)" : argv[1]);
        usage(stderr);
        goto out;
    }
    for (int i = 2; i < argc; i++) {
        const char *opt = argv[i];
        if (strcmp(opt, "--form") == 0) {
            form = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "railhook-delivery: %s needs a value\n", opt);
            goto out;
        }
        const char *val = argv[++i];
        if (strcmp(opt, "--body") == 0)
            body_path = val;
        else if (strcmp(opt, "--secret") == 0)
            secret = val;
        else if (strcmp(opt, "--delivery") == 0)
            delivery = val;
        else if (strcmp(opt, "--bearer") == 0)
            bearer = val;
        else if (strcmp(opt, "--whsec") == 0)
            whsec = val;
        else if (strcmp(opt, "--id") == 0)
            id = val;
        else if (strcmp(opt, "--ts") == 0)
            ts_text = val;
        else {
            fprintf(stderr, "railhook-delivery: unknown option %s\n", opt);
            usage(stderr);
            goto out;
        }
    }
    if (!body_path) {
        fputs("railhook-delivery: --body FILE is required\n", stderr);
        goto out;
    }
    if (github && (bearer || whsec || id || ts_text)) {
        fputs("railhook-delivery: --bearer, --whsec, --id and --ts are for supabase cases\n",
              stderr);
        goto out;
    }
    if (!github && (form || secret || delivery)) {
        fputs("railhook-delivery: --form, --secret and --delivery are for github cases\n", stderr);
        goto out;
    }
    ts = time_wall_ms() / 1000;
    if (ts_text && !parse_i64(ts_text, 0, INT64_MAX, &ts)) {
        fprintf(stderr, "railhook-delivery: --ts %s is not a number of seconds\n", ts_text);
        goto out;
    }

    rc = 1;
    if (github) {
        if (!delivery) {
            uuid_v4(uuid);
            delivery = uuid;
        }
        td_github_delivery(&d, (enum td_github_case)which, form, secret, delivery);
    } else {
        td_supabase_delivery(&d, (enum td_supabase_case)which, bearer);
        if (!id) {
            char hex[25];
            unsigned char raw[12];
            random_bytes(raw, sizeof(raw));
            hex_encode(raw, sizeof(raw), hex);
            snprintf(msg_id, sizeof(msg_id), "msg_%s", hex);
            id = msg_id;
        }
        if (whsec && !td_swh_headers_add(&d, whsec, id, ts)) {
            fputs("railhook-delivery: --whsec is not whsec_<base64>\n", stderr);
            goto out;
        }
    }
    f = fopen(body_path, "wb");
    if (!f || fwrite(d.body, 1, d.len, f) != d.len) {
        fprintf(stderr, "railhook-delivery: cannot write %s\n", body_path);
        goto out;
    }
    for (size_t i = 0; i < d.nheaders; i++)
        printf("%s\n", d.headers[i]);
    rc = fflush(stdout) == 0 ? 0 : 1;
out:
    if (f && fclose(f) != 0 && rc == 0) {
        fprintf(stderr, "railhook-delivery: cannot write %s\n", body_path);
        rc = 1;
    }
    td_delivery_free(&d);
    return rc;
}
