/* Deliveries built in code, shaped like the senders' own: Supabase's trigger body in jsonb text
 * form, GitHub's event payloads, and the signatures and headers each sender adds. */
#include "support/deliveries.h"

#include "util/util.h"

#include <math.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GH_API  "https://api.github.com"
#define GH_WEB  "https://github.com"
#define REPO_ID 613224970L

/* ---- JSON text ---- */

/* A JSON string as PostgreSQL and cJSON both escape it: quote, backslash, the five short
 * escapes, \u00XX for other control bytes, everything else raw. */
static void put_string(struct buf *b, const char *s)
{
    buf_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            buf_puts(b, "\\\"");
            break;
        case '\\':
            buf_puts(b, "\\\\");
            break;
        case '\b':
            buf_puts(b, "\\b");
            break;
        case '\f':
            buf_puts(b, "\\f");
            break;
        case '\n':
            buf_puts(b, "\\n");
            break;
        case '\r':
            buf_puts(b, "\\r");
            break;
        case '\t':
            buf_puts(b, "\\t");
            break;
        default:
            if (*p < 0x20)
                buf_printf(b, "\\u%04x", *p);
            else
                buf_append(b, p, 1);
        }
    }
    buf_puts(b, "\"");
}

static void put_scalar(struct buf *b, const cJSON *v)
{
    if (cJSON_IsString(v)) {
        put_string(b, v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == floor(d) && fabs(d) < 1e15)
            buf_printf(b, "%.0f", d);
        else
            buf_printf(b, "%.17g", d);
    } else if (cJSON_IsTrue(v)) {
        buf_puts(b, "true");
    } else if (cJSON_IsFalse(v)) {
        buf_puts(b, "false");
    } else {
        buf_puts(b, "null");
    }
}

/* jsonb's key order: shorter keys first, then bytewise. */
static int jsonb_key_order(const void *a, const void *b)
{
    const char *x = (*(const cJSON *const *)a)->string;
    const char *y = (*(const cJSON *const *)b)->string;
    size_t lx = strlen(x), ly = strlen(y);
    if (lx != ly)
        return lx < ly ? -1 : 1;
    return memcmp(x, y, lx);
}

static void put_jsonb(struct buf *b, const cJSON *v)
{
    if (cJSON_IsObject(v)) {
        size_t n = (size_t)cJSON_GetArraySize(v);
        const cJSON **kids = xcalloc(n, sizeof(*kids));
        size_t i = 0;
        for (const cJSON *k = v->child; k; k = k->next)
            kids[i++] = k;
        qsort(kids, n, sizeof(*kids), jsonb_key_order);
        buf_puts(b, "{");
        for (i = 0; i < n; i++) {
            buf_puts(b, i ? ", " : "");
            put_string(b, kids[i]->string);
            buf_puts(b, ": ");
            put_jsonb(b, kids[i]);
        }
        buf_puts(b, "}");
        free(kids);
    } else if (cJSON_IsArray(v)) {
        buf_puts(b, "[");
        for (const cJSON *k = v->child; k; k = k->next) {
            buf_puts(b, k == v->child ? "" : ", ");
            put_jsonb(b, k);
        }
        buf_puts(b, "]");
    } else {
        put_scalar(b, v);
    }
}

char *td_jsonb_text(const cJSON *v, size_t *len)
{
    struct buf b;
    buf_init(&b, 0);
    put_jsonb(&b, v);
    if (len)
        *len = b.len;
    return buf_steal(&b);
}

static void put_pretty(struct buf *b, const cJSON *v, int depth)
{
    bool obj = cJSON_IsObject(v);
    if (!obj && !cJSON_IsArray(v)) {
        put_scalar(b, v);
        return;
    }
    if (!v->child) {
        buf_puts(b, obj ? "{}" : "[]");
        return;
    }
    buf_puts(b, obj ? "{\n" : "[\n");
    for (const cJSON *k = v->child; k; k = k->next) {
        buf_printf(b, "%*s", 2 * (depth + 1), "");
        if (obj) {
            put_string(b, k->string);
            buf_puts(b, ": ");
        }
        put_pretty(b, k, depth + 1);
        buf_puts(b, k->next ? ",\n" : "\n");
    }
    buf_printf(b, "%*s%s", 2 * depth, "", obj ? "}" : "]");
}

char *td_json_pretty(const cJSON *json, size_t *len)
{
    struct buf b;
    buf_init(&b, 0);
    put_pretty(&b, json, 0);
    buf_puts(&b, "\n");
    if (len)
        *len = b.len;
    return buf_steal(&b);
}

char *td_form_encode(const char *json, size_t len, size_t *outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    struct buf b;
    buf_init(&b, 0);
    buf_puts(&b, "payload=");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)json[i];
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~';
        if (plain) {
            buf_append(&b, &c, 1);
        } else if (c == ' ') {
            buf_puts(&b, "+");
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 0x0f]};
            buf_append(&b, esc, sizeof(esc));
        }
    }
    if (outlen)
        *outlen = b.len;
    return buf_steal(&b);
}

/* ---- Supabase ---- */

static const char ledger_spec[] =
    "{\"image\": \"ghcr.io/acme-labs/ledger:3.0.4\", \"replicas\": 3, "
    "\"env\": {\"LOG_LEVEL\": \"debug\"}}";
#define CREATED_AT "2025-06-02T14:07:31.402118+00:00"
#define APPLIED_AT "2025-06-02T14:08:09.775301+00:00"

/* A public.manifests row (id uuid, service_schema, status, spec jsonb, created_at, updated_at)
 * as the trigger sees it; spec_json NULL is a NULL column. */
static cJSON *manifest(const char *id, const char *service_schema, const char *status,
                       const char *spec_json, const char *created_at, const char *updated_at)
{
    cJSON *row = cJSON_CreateObject();
    cJSON_AddStringToObject(row, "id", id);
    cJSON_AddStringToObject(row, "service_schema", service_schema);
    cJSON_AddStringToObject(row, "status", status);
    cJSON *spec = spec_json ? cJSON_Parse(spec_json) : cJSON_CreateNull();
    if (!spec)
        abort(); /* the caller's spec is not JSON */
    cJSON_AddItemToObject(row, "spec", spec);
    cJSON_AddStringToObject(row, "created_at", created_at);
    cJSON_AddStringToObject(row, "updated_at", updated_at);
    return row;
}

static cJSON *copy_or_null(const cJSON *v)
{
    return v ? cJSON_Duplicate(v, true) : cJSON_CreateNull();
}

/* What supabase_functions.http_request() posts: jsonb_build_object('old_record', OLD, 'record',
 * NEW, 'type', TG_OP, 'table', TG_TABLE_NAME, 'schema', TG_TABLE_SCHEMA) as jsonb text. */
static char *supabase_body(const char *type, const cJSON *record, const cJSON *old, size_t *len)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "old_record", copy_or_null(old));
    cJSON_AddItemToObject(o, "record", copy_or_null(record));
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddStringToObject(o, "table", "manifests");
    cJSON_AddStringToObject(o, "schema", "public");
    char *text = td_jsonb_text(o, len);
    cJSON_Delete(o);
    return text;
}

const char *td_supabase_name(enum td_supabase_case c)
{
    static const char *const names[TD_SUPABASE_CASES] = {"insert", "update", "delete", "escapes"};
    return (unsigned)c < TD_SUPABASE_CASES ? names[c] : "?";
}

char *td_supabase(enum td_supabase_case c, size_t *len)
{
    cJSON *pending =
        manifest(TD_MANIFEST_ID, TD_SCHEMA, "pending", ledger_spec, CREATED_AT, CREATED_AT);
    cJSON *applied =
        manifest(TD_MANIFEST_ID, TD_SCHEMA, "applied", ledger_spec, CREATED_AT, APPLIED_AT);
    cJSON *odd =
        manifest("c0ffee00-7a1b-4c2d-9e3f-5a6b7c8d9e0f", "r\xc3\xa9sum\xc3\xa9_\"q\"\\dir",
                 "pending", NULL, "2025-06-02T15:00:00+00:00", "2025-06-02T15:00:00+00:00");
    char *body = NULL;
    switch (c) {
    case TD_SUPABASE_INSERT:
        body = supabase_body("INSERT", pending, NULL, len);
        break;
    case TD_SUPABASE_UPDATE:
        body = supabase_body("UPDATE", applied, pending, len);
        break;
    case TD_SUPABASE_DELETE:
        body = supabase_body("DELETE", NULL, applied, len);
        break;
    case TD_SUPABASE_ESCAPES:
        body = supabase_body("INSERT", odd, NULL, len);
        break;
    default:
        abort(); /* not a case */
    }
    cJSON_Delete(pending);
    cJSON_Delete(applied);
    cJSON_Delete(odd);
    return body;
}

/* ---- GitHub ---- */

static void add_fmt(cJSON *o, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_fmt(cJSON *o, const char *key, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(text))
        abort(); /* a built value outgrew its buffer */
    cJSON_AddStringToObject(o, key, text);
}

/* An account as GitHub embeds it; name and email (push payloads' owner) when given. */
static cJSON *account(const char *login, long id, const char *type, const char *name,
                      const char *email)
{
    cJSON *u = cJSON_CreateObject();
    if (name) {
        cJSON_AddStringToObject(u, "name", name);
        cJSON_AddStringToObject(u, "email", email);
    }
    cJSON_AddStringToObject(u, "login", login);
    cJSON_AddNumberToObject(u, "id", (double)id);
    add_fmt(u, "node_id", "%s%ld", strcmp(type, "User") == 0 ? "U_kgDOB" : "O_kgDOB", id);
    add_fmt(u, "avatar_url", "https://avatars.githubusercontent.com/u/%ld?v=4", id);
    cJSON_AddStringToObject(u, "gravatar_id", "");
    add_fmt(u, "url", GH_API "/users/%s", login);
    add_fmt(u, "html_url", GH_WEB "/%s", login);
    add_fmt(u, "followers_url", GH_API "/users/%s/followers", login);
    add_fmt(u, "following_url", GH_API "/users/%s/following{/other_user}", login);
    add_fmt(u, "gists_url", GH_API "/users/%s/gists{/gist_id}", login);
    add_fmt(u, "starred_url", GH_API "/users/%s/starred{/owner}{/repo}", login);
    add_fmt(u, "subscriptions_url", GH_API "/users/%s/subscriptions", login);
    add_fmt(u, "organizations_url", GH_API "/users/%s/orgs", login);
    add_fmt(u, "repos_url", GH_API "/users/%s/repos", login);
    add_fmt(u, "events_url", GH_API "/users/%s/events{/privacy}", login);
    add_fmt(u, "received_events_url", GH_API "/users/%s/received_events", login);
    cJSON_AddStringToObject(u, "type", type);
    cJSON_AddStringToObject(u, "user_view_type", "public");
    cJSON_AddFalseToObject(u, "site_admin");
    return u;
}

static cJSON *pusher_account(void)
{
    return account(TD_PUSHER, 51932047L, "User", NULL, NULL);
}

/* The repository object; push payloads write created_at and pushed_at as Unix seconds, link to
 * the web page and give the owner a name and email. */
static cJSON *repository(const char *full, long id, bool push)
{
    static const char *const links[][2] = {
        {"forks_url", "/forks"},
        {"keys_url", "/keys{/key_id}"},
        {"collaborators_url", "/collaborators{/collaborator}"},
        {"teams_url", "/teams"},
        {"hooks_url", "/hooks"},
        {"issue_events_url", "/issues/events{/number}"},
        {"events_url", "/events"},
        {"assignees_url", "/assignees{/user}"},
        {"branches_url", "/branches{/branch}"},
        {"tags_url", "/tags"},
        {"blobs_url", "/git/blobs{/sha}"},
        {"git_tags_url", "/git/tags{/sha}"},
        {"git_refs_url", "/git/refs{/sha}"},
        {"trees_url", "/git/trees{/sha}"},
        {"statuses_url", "/statuses/{sha}"},
        {"languages_url", "/languages"},
        {"stargazers_url", "/stargazers"},
        {"contributors_url", "/contributors"},
        {"subscribers_url", "/subscribers"},
        {"subscription_url", "/subscription"},
        {"commits_url", "/commits{/sha}"},
        {"git_commits_url", "/git/commits{/sha}"},
        {"comments_url", "/comments{/number}"},
        {"issue_comment_url", "/issues/comments{/number}"},
        {"contents_url", "/contents/{+path}"},
        {"compare_url", "/compare/{base}...{head}"},
        {"merges_url", "/merges"},
        {"archive_url", "/{archive_format}{/ref}"},
        {"downloads_url", "/downloads"},
        {"issues_url", "/issues{/number}"},
        {"pulls_url", "/pulls{/number}"},
        {"milestones_url", "/milestones{/number}"},
        {"notifications_url", "/notifications{?since,all,participating}"},
        {"labels_url", "/labels{/name}"},
        {"releases_url", "/releases{/id}"},
        {"deployments_url", "/deployments"},
    };
    const char *slash = strchr(full, '/');
    char owner[128];
    snprintf(owner, sizeof(owner), "%.*s", slash ? (int)(slash - full) : 0, full);
    const char *name = slash ? slash + 1 : full;

    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "id", (double)id);
    add_fmt(r, "node_id", "R_kgDOJ%ld", id);
    cJSON_AddStringToObject(r, "name", name);
    cJSON_AddStringToObject(r, "full_name", full);
    cJSON_AddFalseToObject(r, "private");
    cJSON_AddItemToObject(
        r, "owner",
        account(owner, 87021453L, "Organization", push ? owner : NULL, "ops@acme-labs.example"));
    add_fmt(r, "html_url", GH_WEB "/%s", full);
    cJSON_AddStringToObject(r, "description", "Workers that railhook provisions on Railway");
    cJSON_AddFalseToObject(r, "fork");
    if (push)
        add_fmt(r, "url", GH_WEB "/%s", full);
    else
        add_fmt(r, "url", GH_API "/repos/%s", full);
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
        add_fmt(r, links[i][0], GH_API "/repos/%s%s", full, links[i][1]);
    if (push) {
        cJSON_AddNumberToObject(r, "created_at", 1709652102);
        cJSON_AddStringToObject(r, "updated_at", "2025-05-30T08:12:44Z");
        cJSON_AddNumberToObject(r, "pushed_at", 1748873251);
    } else {
        cJSON_AddStringToObject(r, "created_at", "2024-03-05T15:21:42Z");
        cJSON_AddStringToObject(r, "updated_at", "2025-05-30T08:12:44Z");
        cJSON_AddStringToObject(r, "pushed_at", "2025-06-02T14:07:31Z");
    }
    add_fmt(r, "git_url", "git://github.com/%s.git", full);
    add_fmt(r, "ssh_url", "git@github.com:%s.git", full);
    add_fmt(r, "clone_url", GH_WEB "/%s.git", full);
    add_fmt(r, "svn_url", GH_WEB "/%s", full);
    cJSON_AddNullToObject(r, "homepage");
    cJSON_AddNumberToObject(r, "size", 214);
    cJSON_AddNumberToObject(r, "stargazers_count", 3);
    cJSON_AddNumberToObject(r, "watchers_count", 3);
    cJSON_AddStringToObject(r, "language", "Python");
    cJSON_AddTrueToObject(r, "has_issues");
    cJSON_AddFalseToObject(r, "has_projects");
    cJSON_AddTrueToObject(r, "has_downloads");
    cJSON_AddFalseToObject(r, "has_wiki");
    cJSON_AddFalseToObject(r, "has_pages");
    cJSON_AddFalseToObject(r, "has_discussions");
    cJSON_AddNumberToObject(r, "forks_count", 0);
    cJSON_AddNullToObject(r, "mirror_url");
    cJSON_AddFalseToObject(r, "archived");
    cJSON_AddFalseToObject(r, "disabled");
    cJSON_AddNumberToObject(r, "open_issues_count", 2);
    cJSON_AddNullToObject(r, "license");
    cJSON_AddTrueToObject(r, "allow_forking");
    cJSON_AddFalseToObject(r, "is_template");
    cJSON_AddFalseToObject(r, "web_commit_signoff_required");
    cJSON_AddItemToObject(r, "topics", cJSON_CreateArray());
    cJSON_AddStringToObject(r, "visibility", "public");
    cJSON_AddNumberToObject(r, "forks", 0);
    cJSON_AddNumberToObject(r, "open_issues", 2);
    cJSON_AddNumberToObject(r, "watchers", 3);
    cJSON_AddStringToObject(r, "default_branch", TD_BRANCH);
    if (push) {
        cJSON_AddNumberToObject(r, "stargazers", 3);
        cJSON_AddStringToObject(r, "master_branch", TD_BRANCH);
        cJSON_AddStringToObject(r, "organization", owner);
    }
    cJSON_AddItemToObject(r, "custom_properties", cJSON_CreateObject());
    return r;
}

static cJSON *string_array(const char *const *items)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; items && items[i]; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(items[i]));
    return a;
}

static cJSON *person(const char *name, const char *email, const char *username)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "name", name);
    cJSON_AddStringToObject(p, "email", email);
    cJSON_AddStringToObject(p, "username", username);
    return p;
}

static cJSON *commit(const char *full, const char *sha, const char *const *modified)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "id", sha);
    cJSON_AddStringToObject(c, "tree_id", "d8e2f4a6b0c1e3f5a7b9d0e2f4a6c8e0b1d3f5a7");
    cJSON_AddTrueToObject(c, "distinct");
    cJSON_AddStringToObject(c, "message", TD_COMMIT_MESSAGE);
    cJSON_AddStringToObject(c, "timestamp", "2025-06-02T16:07:31+02:00");
    add_fmt(c, "url", GH_WEB "/%s/commit/%s", full, sha);
    cJSON_AddItemToObject(c, "author",
                          person("Mara Lindqvist", "mara@acme-labs.example", TD_PUSHER));
    cJSON_AddItemToObject(c, "committer", person("GitHub", "noreply@github.com", "web-flow"));
    cJSON_AddItemToObject(c, "added", cJSON_CreateArray());
    cJSON_AddItemToObject(c, "removed", cJSON_CreateArray());
    cJSON_AddItemToObject(c, "modified", string_array(modified));
    return c;
}

static cJSON *installation(void)
{
    cJSON *i = cJSON_CreateObject();
    cJSON_AddNumberToObject(i, "id", 61893204);
    cJSON_AddStringToObject(i, "node_id", "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNjE4OTMyMDQ=");
    return i;
}

static char *finish(cJSON *o, size_t *len)
{
    char *text = td_json_pretty(o, len);
    cJSON_Delete(o);
    return text;
}

char *td_github_push(const struct td_push *p, size_t *len)
{
    bool created = strcmp(p->before, TD_SHA_ZERO) == 0;
    bool deleted = strcmp(p->after, TD_SHA_ZERO) == 0;
    long id = strcmp(p->repo, TD_REPO) == 0 ? REPO_ID : 598112033L;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "ref", p->ref);
    cJSON_AddStringToObject(o, "before", p->before);
    cJSON_AddStringToObject(o, "after", p->after);
    cJSON_AddItemToObject(o, "repository", repository(p->repo, id, true));
    cJSON *pusher = cJSON_AddObjectToObject(o, "pusher");
    cJSON_AddStringToObject(pusher, "name", TD_PUSHER);
    cJSON_AddStringToObject(pusher, "email", "mara@acme-labs.example");
    cJSON_AddItemToObject(o, "sender", pusher_account());
    if (p->installation)
        cJSON_AddItemToObject(o, "installation", installation());
    cJSON_AddBoolToObject(o, "created", created);
    cJSON_AddBoolToObject(o, "deleted", deleted);
    cJSON_AddFalseToObject(o, "forced");
    cJSON_AddNullToObject(o, "base_ref");
    add_fmt(o, "compare", GH_WEB "/%s/compare/%.12s...%.12s", p->repo, p->before, p->after);
    cJSON *commits = cJSON_AddArrayToObject(o, "commits");
    if (p->modified && !deleted)
        cJSON_AddItemToArray(commits, commit(p->repo, p->after, p->modified));
    if (deleted)
        cJSON_AddNullToObject(o, "head_commit");
    else
        cJSON_AddItemToObject(o, "head_commit", commit(p->repo, p->after, p->modified));
    return finish(o, len);
}

static char *ping(size_t *len)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "zen", "Design for failure.");
    cJSON_AddNumberToObject(o, "hook_id", 418034529);
    cJSON *h = cJSON_AddObjectToObject(o, "hook");
    cJSON_AddStringToObject(h, "type", "Repository");
    cJSON_AddNumberToObject(h, "id", 418034529);
    cJSON_AddStringToObject(h, "name", "web");
    cJSON_AddTrueToObject(h, "active");
    static const char *const events[] = {"push", NULL};
    cJSON_AddItemToObject(h, "events", string_array(events));
    cJSON *cfg = cJSON_AddObjectToObject(h, "config");
    cJSON_AddStringToObject(cfg, "content_type", "json");
    cJSON_AddStringToObject(cfg, "insecure_ssl", "0");
    cJSON_AddStringToObject(cfg, "url", "https://hooks.acme-labs.example/webhooks/github");
    cJSON_AddStringToObject(h, "updated_at", "2025-06-02T13:58:10Z");
    cJSON_AddStringToObject(h, "created_at", "2025-06-02T13:58:10Z");
    add_fmt(h, "url", GH_API "/repos/%s/hooks/418034529", TD_REPO);
    add_fmt(h, "test_url", GH_API "/repos/%s/hooks/418034529/test", TD_REPO);
    add_fmt(h, "ping_url", GH_API "/repos/%s/hooks/418034529/pings", TD_REPO);
    add_fmt(h, "deliveries_url", GH_API "/repos/%s/hooks/418034529/deliveries", TD_REPO);
    cJSON *last = cJSON_AddObjectToObject(h, "last_response");
    cJSON_AddNullToObject(last, "code");
    cJSON_AddStringToObject(last, "status", "unused");
    cJSON_AddNullToObject(last, "message");
    cJSON_AddItemToObject(o, "repository", repository(TD_REPO, REPO_ID, false));
    cJSON_AddItemToObject(o, "sender", pusher_account());
    return finish(o, len);
}

static cJSON *branch_ref(const char *ref, const char *sha)
{
    cJSON *b = cJSON_CreateObject();
    add_fmt(b, "label", "acme-labs:%s", ref);
    cJSON_AddStringToObject(b, "ref", ref);
    cJSON_AddStringToObject(b, "sha", sha);
    cJSON_AddItemToObject(b, "user", account("acme-labs", 87021453L, "Organization", NULL, NULL));
    cJSON_AddItemToObject(b, "repo", repository(TD_REPO, REPO_ID, false));
    return b;
}

static char *pull_request(size_t *len)
{
    const char *pulls = GH_API "/repos/" TD_REPO "/pulls/17";
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "action", "opened");
    cJSON_AddNumberToObject(o, "number", 17);
    cJSON *pr = cJSON_AddObjectToObject(o, "pull_request");
    cJSON_AddStringToObject(pr, "url", pulls);
    cJSON_AddNumberToObject(pr, "id", 2504116385.0);
    cJSON_AddStringToObject(pr, "node_id", "PR_kwDOJJ2u6s6VQ9ah");
    cJSON_AddStringToObject(pr, "html_url", GH_WEB "/" TD_REPO "/pull/17");
    cJSON_AddStringToObject(pr, "diff_url", GH_WEB "/" TD_REPO "/pull/17.diff");
    cJSON_AddStringToObject(pr, "patch_url", GH_WEB "/" TD_REPO "/pull/17.patch");
    cJSON_AddStringToObject(pr, "issue_url", GH_API "/repos/" TD_REPO "/issues/17");
    cJSON_AddNumberToObject(pr, "number", 17);
    cJSON_AddStringToObject(pr, "state", "open");
    cJSON_AddFalseToObject(pr, "locked");
    cJSON_AddStringToObject(pr, "title", "Ledger worker: read the queue size from the manifest");
    cJSON_AddItemToObject(pr, "user", pusher_account());
    cJSON_AddStringToObject(pr, "body",
                            "The worker now sizes its queue from `spec.queue`.\r\n\r\n"
                            "Tested against a \"staging\" manifest.");
    cJSON_AddStringToObject(pr, "created_at", "2025-06-02T14:20:05Z");
    cJSON_AddStringToObject(pr, "updated_at", "2025-06-02T14:20:05Z");
    cJSON_AddNullToObject(pr, "closed_at");
    cJSON_AddNullToObject(pr, "merged_at");
    cJSON_AddNullToObject(pr, "merge_commit_sha");
    cJSON_AddNullToObject(pr, "assignee");
    cJSON_AddItemToObject(pr, "assignees", cJSON_CreateArray());
    cJSON_AddItemToObject(pr, "requested_reviewers", cJSON_CreateArray());
    cJSON_AddItemToObject(pr, "requested_teams", cJSON_CreateArray());
    cJSON_AddItemToObject(pr, "labels", cJSON_CreateArray());
    cJSON_AddNullToObject(pr, "milestone");
    cJSON_AddFalseToObject(pr, "draft");
    add_fmt(pr, "commits_url", "%s/commits", pulls);
    add_fmt(pr, "review_comments_url", "%s/comments", pulls);
    cJSON_AddStringToObject(pr, "review_comment_url",
                            GH_API "/repos/" TD_REPO "/pulls/comments{/number}");
    cJSON_AddStringToObject(pr, "comments_url", GH_API "/repos/" TD_REPO "/issues/17/comments");
    cJSON_AddStringToObject(pr, "statuses_url", GH_API "/repos/" TD_REPO "/statuses/" TD_SHA_AFTER);
    cJSON_AddItemToObject(pr, "head", branch_ref("queue-size", TD_SHA_AFTER));
    cJSON_AddItemToObject(pr, "base", branch_ref(TD_BRANCH, TD_SHA_BEFORE));
    cJSON_AddStringToObject(pr, "author_association", "MEMBER");
    cJSON_AddNullToObject(pr, "auto_merge");
    cJSON_AddNullToObject(pr, "active_lock_reason");
    cJSON_AddFalseToObject(pr, "merged");
    cJSON_AddNullToObject(pr, "mergeable");
    cJSON_AddNullToObject(pr, "rebaseable");
    cJSON_AddStringToObject(pr, "mergeable_state", "unknown");
    cJSON_AddNullToObject(pr, "merged_by");
    cJSON_AddNumberToObject(pr, "comments", 0);
    cJSON_AddNumberToObject(pr, "review_comments", 0);
    cJSON_AddFalseToObject(pr, "maintainer_can_modify");
    cJSON_AddNumberToObject(pr, "commits", 1);
    cJSON_AddNumberToObject(pr, "additions", 3);
    cJSON_AddNumberToObject(pr, "deletions", 1);
    cJSON_AddNumberToObject(pr, "changed_files", 1);
    cJSON_AddItemToObject(o, "repository", repository(TD_REPO, REPO_ID, false));
    cJSON_AddItemToObject(o, "sender", pusher_account());
    return finish(o, len);
}

static const char *const readme[] = {"README.md", NULL};

const char *td_github_event(enum td_github_case c)
{
    switch (c) {
    case TD_GITHUB_PING:
        return "ping";
    case TD_GITHUB_PULL_REQUEST:
        return "pull_request";
    default:
        return "push";
    }
}

const char *td_github_name(enum td_github_case c)
{
    static const char *const names[TD_GITHUB_CASES] = {
        "push",         "push-new-branch",  "push-other-branch", "push-other-repo",
        "push-deleted", "push-tag-created", "push-tag-deleted",  "ping",
        "pull-request"};
    return (unsigned)c < TD_GITHUB_CASES ? names[c] : "?";
}

char *td_github(enum td_github_case c, size_t *len)
{
    struct td_push p = {TD_REPO, "refs/heads/" TD_BRANCH, TD_SHA_BEFORE, TD_SHA_AFTER, readme,
                        false};
    switch (c) {
    case TD_GITHUB_PUSH:
        break;
    case TD_GITHUB_PUSH_NEW_BRANCH:
        p.before = TD_SHA_ZERO;
        p.installation = true;
        break;
    case TD_GITHUB_PUSH_OTHER_BRANCH:
        p.ref = "refs/heads/docs-refresh";
        break;
    case TD_GITHUB_PUSH_OTHER_REPO:
        p.repo = "acme-labs/website";
        break;
    case TD_GITHUB_PUSH_DELETED:
        p.after = TD_SHA_ZERO;
        p.modified = NULL;
        break;
    case TD_GITHUB_PUSH_TAG_CREATED:
        p.ref = "refs/tags/v2.3.1";
        p.before = TD_SHA_ZERO;
        p.modified = NULL;
        break;
    case TD_GITHUB_PUSH_TAG_DELETED:
        p.ref = "refs/tags/v2.3.0";
        p.after = TD_SHA_ZERO;
        p.modified = NULL;
        p.installation = true;
        break;
    case TD_GITHUB_PING:
        return ping(len);
    case TD_GITHUB_PULL_REQUEST:
        return pull_request(len);
    default:
        abort(); /* not a case */
    }
    return td_github_push(&p, len);
}

/* ---- signatures ---- */

void td_github_sign(const char *secret, const void *body, size_t len, char out[TD_GITHUB_SIG_CAP])
{
    unsigned char mac[32];
    unsigned int n = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), body ? body : (const void *)"", len, mac, &n);
    char hex[2 * sizeof(mac) + 1];
    hex_encode(mac, sizeof(mac), hex);
    snprintf(out, TD_GITHUB_SIG_CAP, "sha256=%s", hex);
}

void td_github_sign_sha1(const char *secret, const void *body, size_t len, char out[48])
{
    unsigned char mac[20];
    unsigned int n = 0;
    HMAC(EVP_sha1(), secret, (int)strlen(secret), body ? body : (const void *)"", len, mac, &n);
    char hex[2 * sizeof(mac) + 1];
    hex_encode(mac, sizeof(mac), hex);
    snprintf(out, 48, "sha1=%s", hex);
}

void td_swh_secret(const unsigned char *key, size_t n, char out[TD_SWH_SECRET_CAP])
{
    if (n > 64)
        abort(); /* the caller's key is longer than a secret holds */
    memcpy(out, "whsec_", 6);
    EVP_EncodeBlock((unsigned char *)out + 6, key, (int)n);
}

/* The key bytes of a secret written "[v1,][whsec_]<base64>" (padding optional). */
static bool swh_key(const char *secret, unsigned char key[128], size_t *keylen)
{
    if (strncmp(secret, "v1,", 3) == 0)
        secret += 3;
    if (strncmp(secret, "whsec_", 6) == 0)
        secret += 6;
    size_t n = strlen(secret);
    if (n == 0 || n > 160 || n % 4 == 1)
        return false;
    char padded[164];
    memcpy(padded, secret, n);
    while (n % 4)
        padded[n++] = '=';
    size_t pads = 0;
    while (pads < 2 && padded[n - 1 - pads] == '=')
        pads++;
    int got = EVP_DecodeBlock(key, (const unsigned char *)padded, (int)n);
    if (got < 0 || (size_t)got < pads)
        return false;
    *keylen = (size_t)got - pads;
    return true;
}

bool td_swh_sign(const char *secret, const char *id, const char *ts, const void *body, size_t len,
                 char out[TD_SWH_SIG_CAP])
{
    unsigned char key[128];
    size_t keylen = 0;
    if (!swh_key(secret, key, &keylen))
        return false;
    struct buf msg;
    buf_init(&msg, 0);
    buf_printf(&msg, "%s.%s.", id, ts);
    buf_append(&msg, body, len);
    unsigned char mac[32];
    unsigned int n = 0;
    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg.data, msg.len, mac, &n);
    buf_free(&msg);
    memcpy(out, "v1,", 3);
    EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)n);
    return true;
}

/* ---- whole requests ---- */

static void delivery_start(struct td_delivery *d, char *body, size_t len)
{
    d->body = body;
    d->len = len;
    d->nheaders = 0;
    d->headers[0] = NULL;
}

void td_delivery_header(struct td_delivery *d, const char *fmt, ...)
{
    if (d->nheaders >= TD_MAX_HEADERS) {
        fprintf(stderr, "td_delivery_header: more than %d headers\n", TD_MAX_HEADERS);
        abort();
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(d->lines[d->nheaders], TD_HEADER_CAP, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= TD_HEADER_CAP) {
        fprintf(stderr, "td_delivery_header: a header line is longer than %d bytes\n",
                TD_HEADER_CAP - 1);
        abort();
    }
    d->headers[d->nheaders] = d->lines[d->nheaders];
    d->headers[++d->nheaders] = NULL;
}

const char *td_delivery_header_value(const struct td_delivery *d, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < d->nheaders; i++) {
        const char *line = d->headers[i];
        if (strncasecmp(line, name, n) == 0 && line[n] == ':')
            return line[n + 1] == ' ' ? line + n + 2 : line + n + 1;
    }
    return NULL;
}

void td_delivery_free(struct td_delivery *d)
{
    free(d->body);
    d->body = NULL;
    d->len = 0;
}

void td_github_delivery(struct td_delivery *d, enum td_github_case c, bool form, const char *secret,
                        const char *delivery_id)
{
    size_t len = 0;
    char *json = td_github(c, &len);
    if (form) {
        char *encoded = td_form_encode(json, len, &len);
        free(json);
        json = encoded;
    }
    delivery_start(d, json, len);
    td_delivery_header(d, "Content-Type: %s",
                       form ? "application/x-www-form-urlencoded" : "application/json");
    td_delivery_header(d, "User-Agent: GitHub-Hookshot/7e3b5a1");
    td_delivery_header(d, "X-GitHub-Event: %s", td_github_event(c));
    td_delivery_header(d, "X-GitHub-Delivery: %s", delivery_id);
    td_delivery_header(d, "X-GitHub-Hook-ID: " TD_HOOK_ID);
    td_delivery_header(d, "X-GitHub-Hook-Installation-Target-ID: %ld", REPO_ID);
    td_delivery_header(d, "X-GitHub-Hook-Installation-Target-Type: repository");
    if (secret) {
        char sig1[48], sig256[TD_GITHUB_SIG_CAP];
        td_github_sign_sha1(secret, d->body, d->len, sig1);
        td_github_sign(secret, d->body, d->len, sig256);
        td_delivery_header(d, "X-Hub-Signature: %s", sig1);
        td_delivery_header(d, "X-Hub-Signature-256: %s", sig256);
    }
}

void td_supabase_delivery(struct td_delivery *d, enum td_supabase_case c, const char *bearer)
{
    size_t len = 0;
    char *body = td_supabase(c, &len);
    delivery_start(d, body, len);
    /* The Dashboard writes "Content-type"; pg_net sends the trigger's header object in jsonb
     * key order, then its User-Agent; libcurl adds Accept. */
    if (bearer) {
        td_delivery_header(d, "Content-type: application/json");
        td_delivery_header(d, "Authorization: Bearer %s", bearer);
    } else {
        td_delivery_header(d, "Content-Type: application/json");
    }
    td_delivery_header(d, "User-Agent: pg_net/0.19.5");
    td_delivery_header(d, "Accept: */*");
}

bool td_swh_headers_add(struct td_delivery *d, const char *secret, const char *id, int64_t ts_s)
{
    char ts[24], sig[TD_SWH_SIG_CAP];
    snprintf(ts, sizeof(ts), "%lld", (long long)ts_s);
    if (!td_swh_sign(secret, id, ts, d->body, d->len, sig))
        return false;
    td_delivery_header(d, "webhook-id: %s", id);
    td_delivery_header(d, "webhook-timestamp: %s", ts);
    td_delivery_header(d, "webhook-signature: %s", sig);
    return true;
}
