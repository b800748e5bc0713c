/* deploy/supabase/railhook.sql and its undo on a real PostgreSQL, with the few parts of
 * Supabase they call stood in by minimal functions made here (vault.create_secret and
 * vault.decrypted_secrets over a plain table; net.http_post recording its arguments; a
 * supabase_realtime publication; public.manifests shaped like the real one): each row change
 * records one call with railhook's URL, the Vault secret as the bearer and a body railhook's
 * intake turns into the right job; no secret in any definition; a second run changes nothing;
 * the undo takes away all it added. */
#include "support/harness.h"
#include "support/webhook_helpers.h"
#include "util/util.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET      "sb-railhook-s3cr3t-7f2a9c"
#define DB_PASSWORD "sb-railhook-db-pw-41d0e8"
#define MANIFEST    "3f1c2b7e-9a4d-4c1e-8f2a-6b5d0e9c7a13"

static struct th_server ts;
static char *db; /* railhook's own database */
static char *sb; /* the stand-in Supabase database */
static PGconn *conn;
static struct buf notices;

/* What the SQL files use of Supabase, as small as it can be. */
static const char *const stand_ins =
    "CREATE SCHEMA vault;"
    "CREATE TABLE vault.secrets (id uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
    " name text UNIQUE, description text, secret text NOT NULL);"
    "CREATE VIEW vault.decrypted_secrets AS"
    " SELECT id, name, description, secret, secret AS decrypted_secret FROM vault.secrets;"
    "CREATE FUNCTION vault.create_secret(new_secret text, new_name text DEFAULT NULL,"
    " new_description text DEFAULT '', new_key_id uuid DEFAULT NULL) RETURNS uuid"
    " LANGUAGE sql AS $$ INSERT INTO vault.secrets (secret, name, description)"
    " VALUES (new_secret, new_name, new_description) RETURNING id $$;"
    "CREATE SCHEMA net;"
    "CREATE TABLE net.calls (id bigserial PRIMARY KEY, url text, body jsonb, params jsonb,"
    " headers jsonb, timeout_milliseconds int);"
    "CREATE FUNCTION net.http_post(url text, body jsonb DEFAULT '{}', params jsonb DEFAULT '{}',"
    " headers jsonb DEFAULT '{\"Content-Type\": \"application/json\"}',"
    " timeout_milliseconds int DEFAULT 5000) RETURNS bigint LANGUAGE sql AS $$"
    " INSERT INTO net.calls (url, body, params, headers, timeout_milliseconds)"
    " VALUES (url, body, params, headers, timeout_milliseconds) RETURNING id $$;"
    "CREATE PUBLICATION supabase_realtime;"
    "CREATE TABLE public.manifests (id uuid PRIMARY KEY, service_schema text NOT NULL,"
    " status text NOT NULL DEFAULT 'pending', spec jsonb,"
    " created_at timestamptz NOT NULL DEFAULT now(),"
    " updated_at timestamptz NOT NULL DEFAULT now());"
    "ALTER TABLE public.manifests ENABLE ROW LEVEL SECURITY;";

/* Everything the file may add, except the columns of public.manifests: functions (with their
 * settings, privileges, comments and text), triggers, roles, privileges on the schema, the
 * table and its columns, policies and the publication's tables. Privileges are compared as
 * the grants they make, so a default ACL and its explicit form are equal; a password as its
 * hash (a password set again gets a new salt). */
static const char *const snapshot_sql =
    "SELECT concat_ws(E'\\n',"
    " 'functions: ' || coalesce((SELECT string_agg(format('%s.%s(%s) secdef=%s config=%s "
    "comment=%s src=%s grants=%s', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid),"
    " p.prosecdef, p.proconfig, obj_description(p.oid, 'pg_proc'), md5(p.prosrc),"
    " (SELECT string_agg(a.grantee::regrole || ':' || a.privilege_type, ',' ORDER BY 1)"
    "  FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a)), E'\\n' ORDER BY 1)"
    " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
    " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')), ''),"
    " 'triggers: ' || coalesce((SELECT string_agg(pg_get_triggerdef(t.oid) || ' comment='"
    " || coalesce(obj_description(t.oid, 'pg_trigger'), ''), E'\\n' ORDER BY 1)"
    " FROM pg_trigger t WHERE NOT t.tgisinternal), ''),"
    " 'roles: ' || coalesce((SELECT string_agg(rolname || ' login=' || rolcanlogin || ' pw='"
    " || md5(coalesce(rolpassword, '')), ',' ORDER BY 1) FROM pg_authid"
    " WHERE rolname !~ '^pg_'), ''),"
    " 'schema: ' || coalesce((SELECT string_agg(a.grantee::regrole || ':' || a.privilege_type,"
    " ',' ORDER BY 1) FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n',"
    " n.nspowner))) a WHERE n.nspname = 'public'), ''),"
    " 'table: ' || coalesce((SELECT string_agg(a.grantee::regrole || ':' || a.privilege_type,"
    " ',' ORDER BY 1) FROM pg_class c, aclexplode(coalesce(c.relacl, acldefault('r',"
    " c.relowner))) a WHERE c.oid = 'public.manifests'::regclass), ''),"
    " 'columns acl: ' || coalesce((SELECT string_agg(t.attname || '/' || a.grantee::regrole ||"
    " ':' || a.privilege_type, ',' ORDER BY 1) FROM pg_attribute t, aclexplode(t.attacl) a"
    " WHERE t.attrelid = 'public.manifests'::regclass), ''),"
    " 'policies: ' || coalesce((SELECT string_agg(policyname || ' ' || cmd || ' ' ||"
    " roles::text, ',' ORDER BY 1) FROM pg_policies), ''),"
    " 'published: ' || coalesce((SELECT string_agg(schemaname || '.' || tablename, ','"
    " ORDER BY 1) FROM pg_publication_tables), ''))";

static const char *const columns_sql =
    "SELECT string_agg(attname || ':' || format_type(atttypid, atttypmod), ',' ORDER BY attnum)"
    " FROM pg_attribute WHERE attrelid = 'public.manifests'::regclass AND attnum > 0"
    " AND NOT attisdropped";

static void on_notice(void *arg, const char *message)
{
    (void)arg;
    buf_puts(&notices, message);
}

static void exec_ok(const char *sql)
{
    PGresult *r = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(r);
    cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "SQL failed: %s\n%s",
              PQerrorMessage(conn), sql);
    PQclear(r);
}

/* The first column of the first row (free()), "" for NULL. */
static char *value(const char *sql)
{
    PGresult *r = PQexec(conn, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s\n%s", PQerrorMessage(conn), sql);
    cr_assert_gt(PQntuples(r), 0, "no row: %s", sql);
    char *v = xstrdup(PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

/* Runs a file of deploy/supabase/ as one simple query, as psql or a migration would. */
static void run_file(const char *name)
{
    char *path = xasprintf("%s/deploy/supabase/%s", RAILHOOK_SOURCE_DIR, name);
    size_t len = 0;
    char *text = th_read_file(path, &len);
    cr_assert_null(strstr(text, "\n\\"), "%s holds a psql meta-command", name);
    exec_ok(text);
    free(text);
    free(path);
}

static void start(void)
{
    setenv("SUPABASE_WEBHOOK_SECRET", SECRET, 1);
    setenv("API_TOKEN", "read-tok", 1);
    setenv("API_ADMIN_TOKEN", "admin-tok", 1);
    db = th_db_create();
    th_server_start(&ts, db);
    sb = th_db_create_from("template1");
    conn = PQconnectdb(sb);
    cr_assert_eq(PQstatus(conn), CONNECTION_OK, "%s", PQerrorMessage(conn));
    buf_init(&notices, 1 << 20);
    PQsetNoticeProcessor(conn, on_notice, NULL);
    exec_ok(stand_ins);
}

static void stop(void)
{
    PQfinish(conn);
    buf_free(&notices);
    th_server_stop(&ts);
    th_db_drop(db);
    th_db_drop(sb);
}

/* Posts a recorded call's body to railhook with the recorded headers; returns the one job id
 * it answers with (free()). */
static char *deliver(const char *content_type, const char *authorization, const char *body)
{
    char *h_ct = xasprintf("Content-Type: %s", content_type);
    char *h_auth = xasprintf("Authorization: %s", authorization);
    const char *hdrs[] = {h_ct, h_auth, "User-Agent: pg_net/0.19.5", NULL};
    struct th_response r;
    wh_post(&r, &ts, "/webhooks/supabase", hdrs, body, strlen(body));
    cr_assert_eq(r.status, 202, "railhook answered %ld: %s", r.status, r.body);
    char ids[WH_MAX_IDS][37];
    cr_assert_eq(wh_job_ids(&r, ids), 1, "%s", r.body);
    char *id = xstrdup(ids[0]);
    th_response_free(&r);
    free(h_auth);
    free(h_ct);
    return id;
}

/* The kind of job id, read through the status API. */
static char *job_kind(const char *id)
{
    char *url = xasprintf("%s/jobs/%s", ts.base, id);
    const char *hdrs[] = {"Authorization: Bearer read-tok", NULL};
    struct th_response r;
    th_http(&r, "GET", url, hdrs, NULL, 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cJSON *j = wh_json(&r);
    const cJSON *kind = cJSON_GetObjectItem(j, "kind");
    cr_assert(cJSON_IsString(kind), "%s", r.body);
    char *out = xstrdup(kind->valuestring);
    cJSON_Delete(j);
    th_response_free(&r);
    free(url);
    return out;
}

/* Checks one recorded call (row i of net.calls) and feeds it to railhook: the job's kind must
 * be kind. type is the row change, with_record/with_old whether record/old_record are rows. */
static void check_call(PGresult *calls, int i, const char *type, bool with_record, bool with_old,
                       const char *kind)
{
    const char *url = PQgetvalue(calls, i, 0);
    const char *auth = PQgetvalue(calls, i, 1);
    const char *ctype = PQgetvalue(calls, i, 2);
    const char *body = PQgetvalue(calls, i, 3);
    char *want_url = xasprintf("%s/webhooks/supabase", ts.base);
    cr_assert_str_eq(url, want_url);
    cr_assert_str_eq(auth, "Bearer " SECRET);
    cr_assert_str_eq(ctype, "application/json");
    cr_assert_str_eq(PQgetvalue(calls, i, 4), "5000");
    cJSON *b = cJSON_Parse(body);
    cr_assert_not_null(b, "%s", body);
    cr_assert_eq(cJSON_GetArraySize(b), 5, "body has other keys: %s", body);
    cr_assert_str_eq(cJSON_GetObjectItem(b, "type")->valuestring, type);
    cr_assert_str_eq(cJSON_GetObjectItem(b, "table")->valuestring, "manifests");
    cr_assert_str_eq(cJSON_GetObjectItem(b, "schema")->valuestring, "public");
    const cJSON *rec = cJSON_GetObjectItem(b, "record");
    const cJSON *old = cJSON_GetObjectItem(b, "old_record");
    cr_assert(with_record ? cJSON_IsObject(rec) : cJSON_IsNull(rec), "record: %s", body);
    cr_assert(with_old ? cJSON_IsObject(old) : cJSON_IsNull(old), "old_record: %s", body);
    const cJSON *row = with_record ? rec : old;
    cr_assert_str_eq(cJSON_GetObjectItem(row, "id")->valuestring, MANIFEST);
    cr_assert_not_null(cJSON_GetObjectItem(row, "railway_status"), "the row lacks the columns");
    cJSON_Delete(b);

    char *job = deliver(ctype, auth, body);
    char *got = job_kind(job);
    cr_assert_str_eq(got, kind, "a %s made a %s job", type, got);
    free(got);
    free(job);
    free(want_url);
}

/* The INSERT's body is the one Supabase's own webhook function sends for the same row (the
 * real delivery beside the checkout, when present), but for the status columns. */
static void same_as_supabases(const char *body)
{
    cJSON *real = th_fixture_json("supabase/manifests.insert.body.json");
    if (!real)
        return;
    cJSON *ours = cJSON_Parse(body);
    cJSON *rec = cJSON_GetObjectItem(ours, "record");
    const char *const status[] = {"railway_service_id", "railway_status",
                                  "railway_deployment_status", "railway_error",
                                  "railway_updated_at"};
    for (size_t i = 0; i < sizeof(status) / sizeof(status[0]); i++)
        cJSON_DeleteItemFromObjectCaseSensitive(rec, status[i]);
    cr_assert(cJSON_Compare(ours, real, true), "not Supabase's payload: %s", body);
    cJSON_Delete(ours);
    cJSON_Delete(real);
}

Test(supabase_sql, installs_posts_each_change_reruns_as_a_no_op_and_undoes, .init = start,
     .fini = stop, .timeout = 60)
{
    char *before = value(snapshot_sql);
    char *columns_before = value(columns_sql);
    exec_ok("SELECT vault.create_secret('" DB_PASSWORD "', 'railhook_db_password')");

    /* Installed before railhook's two secrets exist: a row change still goes through, with a
     * warning and no call. */
    run_file("railhook.sql");
    buf_reset(&notices);
    exec_ok("INSERT INTO public.manifests (id, service_schema) VALUES "
            "('0b7a5d1e-2c3f-4e8a-9b1d-7f6e5c4d3b2a', 'early')");
    cr_assert_not_null(strstr(notices.data ? notices.data : "", "WARNING:  railhook: the Vault"),
                       "no warning: %s", notices.data ? notices.data : "");
    exec_ok("DELETE FROM public.manifests");
    char *n = value("SELECT count(*) FROM net.calls");
    cr_assert_str_eq(n, "0");
    free(n);

    char *base = xasprintf("SELECT vault.create_secret('%s/', 'railhook_url')", ts.base);
    exec_ok(base);
    exec_ok("SELECT vault.create_secret('" SECRET "', 'railhook_webhook_secret')");

    /* A second run changes nothing (the role already logs in with the Vault password). */
    run_file("railhook.sql");
    char *first = value(snapshot_sql);
    char *columns_first = value(columns_sql);
    run_file("railhook.sql");
    char *second = value(snapshot_sql);
    char *columns_second = value(columns_sql);
    cr_assert_str_eq(second, first, "a second run changed the catalog");
    cr_assert_str_eq(columns_second, columns_first);
    cr_assert_not_null(strstr(first, "railhook_manifests login=true"), "%s", first);
    cr_assert_not_null(strstr(first, "published: public.manifests"), "%s", first);

    /* Neither secret in the function's or the trigger's definition. */
    char *def =
        value("SELECT pg_get_functiondef('public.railhook_manifests_notify()'::regprocedure)"
              " || pg_get_triggerdef((SELECT oid FROM pg_trigger"
              " WHERE tgname = 'railhook_manifests_notify'))");
    cr_assert_null(strstr(def, SECRET), "the definition holds the webhook secret");
    cr_assert_null(strstr(def, ts.base), "the definition holds railhook's URL");
    cr_assert_null(strstr(first, SECRET));
    cr_assert_null(strstr(first, DB_PASSWORD));

    /* Insert, a relevant update, a status-only update (railhook's write-back: no call), and
     * a delete. */
    exec_ok("SET TimeZone = 'UTC'");
    exec_ok("INSERT INTO public.manifests (id, service_schema, spec, created_at, updated_at) "
            "VALUES ('" MANIFEST "', 'billing_v2', '{\"env\": {\"LOG_LEVEL\": \"info\"}, "
            "\"image\": \"ghcr.io/acme/billing:1.4.2\", \"replicas\": 2}', "
            "'2025-03-14T09:26:53.589793+00:00', '2025-03-14T09:26:53.589793+00:00')");
    exec_ok("UPDATE public.manifests SET service_schema = 'billing_v3', status = 'applied'");
    exec_ok("UPDATE public.manifests SET railway_status = 'active', railway_updated_at = now()");
    exec_ok("DELETE FROM public.manifests");
    PGresult *calls = PQexec(conn, "SELECT url, headers->>'Authorization', "
                                   "headers->>'Content-Type', body::text, timeout_milliseconds "
                                   "FROM net.calls ORDER BY id");
    cr_assert_eq(PQresultStatus(calls), PGRES_TUPLES_OK, "%s", PQerrorMessage(conn));
    cr_assert_eq(PQntuples(calls), 3, "%d calls recorded", PQntuples(calls));
    check_call(calls, 0, "INSERT", true, false, "provision");
    same_as_supabases(PQgetvalue(calls, 0, 3));
    check_call(calls, 1, "UPDATE", true, true, "update");
    check_call(calls, 2, "DELETE", false, true, "deprovision");
    PQclear(calls);

    /* The role reads the rows through row-level security and writes only the status columns. */
    exec_ok("INSERT INTO public.manifests (id, service_schema) VALUES ('" MANIFEST "', 'ro')");
    const char *keys[] = {"dbname", "user", "password", NULL};
    const char *vals[] = {sb, "railhook_manifests", DB_PASSWORD, NULL};
    PGconn *ro = PQconnectdbParams(keys, vals, 1);
    cr_assert_eq(PQstatus(ro), CONNECTION_OK, "%s", PQerrorMessage(ro));
    PGresult *r = PQexec(ro, "SELECT count(*) FROM public.manifests");
    cr_assert_str_eq(PQgetvalue(r, 0, 0), "1");
    PQclear(r);
    r = PQexec(ro, "UPDATE public.manifests SET railway_status = 'active'");
    cr_assert_str_eq(PQcmdTuples(r), "1", "%s", PQerrorMessage(ro));
    PQclear(r);
    r = PQexec(ro, "UPDATE public.manifests SET service_schema = 'x'");
    cr_assert_eq(PQresultStatus(r), PGRES_FATAL_ERROR, "the role may change manifests");
    PQclear(r);
    PQfinish(ro);
    exec_ok("DELETE FROM public.manifests");

    /* The undo takes away everything but the columns; run again it is a no-op; with the flag
     * the columns go too. */
    run_file("railhook_undo.sql");
    char *after = value(snapshot_sql);
    cr_assert_str_eq(after, before, "the undo left something behind");
    char *columns_kept = value(columns_sql);
    cr_assert_str_eq(columns_kept, columns_first, "the undo dropped the status columns");
    run_file("railhook_undo.sql");
    exec_ok("SET railhook.drop_status_columns = 'on'");
    run_file("railhook_undo.sql");
    char *columns_after = value(columns_sql);
    cr_assert_str_eq(columns_after, columns_before);
    char *final = value(snapshot_sql);
    cr_assert_str_eq(final, before);

    free(final);
    free(columns_after);
    free(columns_kept);
    free(after);
    free(def);
    free(columns_second);
    free(second);
    free(columns_first);
    free(first);
    free(base);
    free(columns_before);
    free(before);
}
