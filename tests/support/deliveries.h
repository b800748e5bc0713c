/* Deliveries the tests build and sign themselves: Supabase database-webhook bodies as pg_net
 * sends them, GitHub push, ping and pull_request payloads (JSON or form-encoded), and the
 * signatures and headers their senders add (GitHub HMAC, Standard Webhooks v1, bearer).
 * Nothing here needs Criterion: the railhook-delivery tool links it as well. */
#ifndef RAILHOOK_TEST_DELIVERIES_H
#define RAILHOOK_TEST_DELIVERIES_H

#include <cjson/cJSON.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The repository and branch the built pushes come from (set WORKER_REPO / WORKER_BRANCH to
 * these to act on them), the commit the branch update moves to, and the webhook's hook id. */
#define TD_REPO           "acme-labs/osp-workers"
#define TD_BRANCH         "main"
#define TD_SHA_BEFORE     "5e3f1a9c0b7d2e4f6a8c1b3d5e7f9a0c2b4d6e8f"
#define TD_SHA_AFTER      "a41c7e9d3b5f2081c6e4d7a9b0f3e5c8d1a2b4f6"
#define TD_SHA_ZERO       "0000000000000000000000000000000000000000"
#define TD_PUSHER         "mara-ops"
#define TD_COMMIT_MESSAGE "Bump the worker image to 2.3.1 \xf0\x9f\x9a\x80"
#define TD_HOOK_ID        "418034529"

/* The public.manifests row the built Supabase deliveries carry. */
#define TD_MANIFEST_ID "9d2c61f4-5e0b-4b8a-a3c7-1f8e2d6b4c90"
#define TD_SCHEMA      "ledger_v3"

/* ---- Supabase database webhooks ---- */

enum td_supabase_case {
    TD_SUPABASE_INSERT,  /* a new row: record, old_record null */
    TD_SUPABASE_UPDATE,  /* status pending -> applied, nothing else changed */
    TD_SUPABASE_DELETE,  /* the deleted row in old_record, record null */
    TD_SUPABASE_ESCAPES, /* an INSERT with a NULL jsonb column and a service_schema holding raw
                          * UTF-8, a quote and a backslash */
    TD_SUPABASE_CASES
};

/* A short name for case c ("insert", "update", ...). */
const char *td_supabase_name(enum td_supabase_case c);
/* The body Supabase sends for case c (free()); *len gets its length. */
char *td_supabase(enum td_supabase_case c, size_t *len);

/* v as PostgreSQL writes jsonb text (what pg_net puts on the wire): object keys shorter first
 * then bytewise, ", " and ": " separators, one line, non-ASCII as raw UTF-8. free() it. */
char *td_jsonb_text(const cJSON *v, size_t *len);

/* ---- GitHub webhooks ---- */

enum td_github_case {
    TD_GITHUB_PUSH,              /* TD_REPO@TD_BRANCH from TD_SHA_BEFORE to TD_SHA_AFTER, one
                                  * commit touching README.md */
    TD_GITHUB_PUSH_NEW_BRANCH,   /* TD_BRANCH created (before is zeros), from a GitHub App */
    TD_GITHUB_PUSH_OTHER_BRANCH, /* the same update on another branch */
    TD_GITHUB_PUSH_OTHER_REPO,   /* the same update in another repository */
    TD_GITHUB_PUSH_DELETED,      /* TD_BRANCH deleted: after is zeros, head_commit null */
    TD_GITHUB_PUSH_TAG_CREATED,  /* a tag created: no commits listed, head_commit present */
    TD_GITHUB_PUSH_TAG_DELETED,  /* a tag deleted, from a GitHub App (installation) */
    TD_GITHUB_PING,              /* the ping sent when the webhook is created */
    TD_GITHUB_PULL_REQUEST,      /* a pull request opened */
    TD_GITHUB_CASES
};

/* A push: repository full name, ref, before and after shas, the files the one listed commit
 * modifies (NULL-terminated; NULL: no commit listed), and whether a GitHub App sent it. */
struct td_push {
    const char *repo;
    const char *ref;
    const char *before;
    const char *after;
    const char *const *modified;
    bool installation;
};

/* The X-GitHub-Event of case c. */
const char *td_github_event(enum td_github_case c);
/* A short name for case c ("push", "push-new-branch", ...). */
const char *td_github_name(enum td_github_case c);
/* The JSON body GitHub sends for case c, pretty-printed with a final newline like GitHub's
 * published examples (free()); *len gets its length. */
char *td_github(enum td_github_case c, size_t *len);
/* A push event body for p (free()); created, deleted and head_commit follow the shas. */
char *td_github_push(const struct td_push *p, size_t *len);
/* The body of a webhook whose content type is "form": payload=<url-encoded json> (free()). */
char *td_form_encode(const char *json, size_t len, size_t *outlen);
/* json printed with two-space indents and a final newline (free()). */
char *td_json_pretty(const cJSON *json, size_t *len);

/* ---- signatures ---- */

#define TD_GITHUB_SIG_CAP 72  /* "sha256=" + 64 hex + NUL */
#define TD_SWH_SIG_CAP    48  /* "v1," + 44 base64 + NUL */
#define TD_SWH_SECRET_CAP 128 /* "whsec_" + base64 of up to 64 key bytes + NUL */

/* X-Hub-Signature-256: "sha256=" and the lowercase hex HMAC-SHA256 of body under secret. */
void td_github_sign(const char *secret, const void *body, size_t len, char out[TD_GITHUB_SIG_CAP]);
/* X-Hub-Signature (legacy): "sha1=" and the hex HMAC-SHA1 of body under secret. */
void td_github_sign_sha1(const char *secret, const void *body, size_t len, char out[48]);
/* "whsec_" and the base64 of n (<= 64) key bytes: a Standard Webhooks secret. */
void td_swh_secret(const unsigned char *key, size_t n, char out[TD_SWH_SECRET_CAP]);
/* The webhook-signature entry "v1," + base64(HMAC-SHA256(key, id "." ts "." body)) for a
 * secret written "whsec_<base64>", "v1,whsec_<base64>" or bare base64. False when the secret
 * does not decode. */
bool td_swh_sign(const char *secret, const char *id, const char *ts, const void *body, size_t len,
                 char out[TD_SWH_SIG_CAP]);

/* ---- whole requests ---- */

#define TD_MAX_HEADERS 12
#define TD_HEADER_CAP  320

/* A request as its sender makes it: the body and its header lines ("Name: value"). */
struct td_delivery {
    char *body;
    size_t len;
    const char *headers[TD_MAX_HEADERS + 1]; /* NULL-terminated; point into lines */
    char lines[TD_MAX_HEADERS][TD_HEADER_CAP];
    size_t nheaders;
};

/* Adds a header line; aborts when there is no room (a test's own mistake). */
void td_delivery_header(struct td_delivery *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The value of d's header name (case-insensitive), or NULL. */
const char *td_delivery_header_value(const struct td_delivery *d, const char *name);
/* Frees the body; the delivery may be built again. */
void td_delivery_free(struct td_delivery *d);

/* GitHub's request for case c: the JSON body (or form-encoded with form), Content-Type,
 * User-Agent, X-GitHub-Event, X-GitHub-Delivery (delivery_id), X-GitHub-Hook-ID (TD_HOOK_ID)
 * and, with a secret, X-Hub-Signature and X-Hub-Signature-256. */
void td_github_delivery(struct td_delivery *d, enum td_github_case c, bool form, const char *secret,
                        const char *delivery_id);
/* pg_net's request for case c: a Dashboard-made webhook with "Authorization: Bearer <bearer>"
 * when bearer is set, else the SQL-made one of Supabase's docs (no credentials). */
void td_supabase_delivery(struct td_delivery *d, enum td_supabase_case c, const char *bearer);
/* Adds the Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature) for
 * d's body signed with secret at ts_s; false when the secret does not decode. */
bool td_swh_headers_add(struct td_delivery *d, const char *secret, const char *id, int64_t ts_s);

#endif
