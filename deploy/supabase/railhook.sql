-- railhook's side in Supabase: one file, no parameters, safe to run again.
--
-- What it does, in the database that holds public.manifests:
--   1. public.railhook_manifests_notify(): a trigger function that posts Supabase's
--      database-webhook payload {type, table, schema, record, old_record} to
--      <railhook_url>/webhooks/supabase with pg_net (net.http_post), with the header
--      "Authorization: Bearer <railhook_webhook_secret>". Both values are read from Supabase
--      Vault (vault.decrypted_secrets) each time a row changes: neither is in this file, in
--      the function's text or in the trigger's definition. When either secret is missing, or
--      anything of railhook's part fails, it raises a WARNING and the row change goes through:
--      railhook never makes a manifest insert fail. An UPDATE that changes only the status
--      columns below (railhook's own write-back) posts nothing.
--   2. The trigger railhook_manifests_notify on public.manifests, AFTER INSERT OR UPDATE OR
--      DELETE FOR EACH ROW.
--   3. The status columns railhook writes back (added if missing): railway_service_id,
--      railway_status, railway_deployment_status, railway_error, railway_updated_at.
--   4. The role railhook_manifests for reconciliation and write-back: USAGE on schema public,
--      SELECT on public.manifests, UPDATE on the five status columns only, and row-level
--      security policies that let it read and update the rows. It is NOLOGIN unless the Vault
--      secret railhook_db_password exists; then it may log in with that password (set once,
--      by dynamic SQL: the password is never in this file). To change the password later,
--      update the Vault secret, run ALTER ROLE railhook_manifests NOLOGIN; and run this file
--      again.
--   5. public.manifests in the supabase_realtime publication, if that publication exists and
--      the table is not in it yet.
--
-- First, once, create the two Vault secrets (SQL editor, or psql):
--   select vault.create_secret('https://<railhook domain>', 'railhook_url');
--   select vault.create_secret('<one of railhook''s SUPABASE_WEBHOOK_SECRET values>',
--                              'railhook_webhook_secret');
-- and, only if railhook reconciles or writes status back (MANIFESTS_DATABASE_URL):
--   select vault.create_secret('<a long random password>', 'railhook_db_password');
-- The extensions pg_net and supabase_vault must be enabled (Database > Extensions).
--
-- Then run this file, either
--   psql "$SUPABASE_DB_URL" -v ON_ERROR_STOP=1 --single-transaction -f railhook.sql
-- or copy it to supabase/migrations/<timestamp>_railhook.sql and run `supabase db push`.
-- deploy/supabase/railhook_undo.sql removes what it added.

CREATE OR REPLACE FUNCTION public.railhook_manifests_notify()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $railhook$
DECLARE
    base text;
    secret text;
    status_columns text[] := ARRAY['railway_service_id', 'railway_status',
                                   'railway_deployment_status', 'railway_error',
                                   'railway_updated_at'];
BEGIN
    IF TG_OP = 'UPDATE'
       AND (pg_catalog.to_jsonb(NEW) OPERATOR(pg_catalog.-) status_columns)
           OPERATOR(pg_catalog.=) (pg_catalog.to_jsonb(OLD) OPERATOR(pg_catalog.-) status_columns)
    THEN
        RETURN NULL;
    END IF;
    BEGIN
        SELECT s.decrypted_secret INTO base
          FROM vault.decrypted_secrets AS s WHERE s.name OPERATOR(pg_catalog.=) 'railhook_url';
        SELECT s.decrypted_secret INTO secret
          FROM vault.decrypted_secrets AS s
         WHERE s.name OPERATOR(pg_catalog.=) 'railhook_webhook_secret';
        IF base IS NULL OR base OPERATOR(pg_catalog.=) ''
           OR secret IS NULL OR secret OPERATOR(pg_catalog.=) '' THEN
            RAISE WARNING 'railhook: the Vault secret railhook_url or railhook_webhook_secret is missing; % on %.% not sent to railhook',
                TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME;
            RETURN NULL;
        END IF;
        PERFORM net.http_post(
            url := pg_catalog.rtrim(base, '/') OPERATOR(pg_catalog.||) '/webhooks/supabase',
            body := pg_catalog.jsonb_build_object(
                'type', TG_OP,
                'table', TG_TABLE_NAME,
                'schema', TG_TABLE_SCHEMA,
                'record', pg_catalog.to_jsonb(NEW),
                'old_record', pg_catalog.to_jsonb(OLD)),
            params := '{}'::pg_catalog.jsonb,
            headers := pg_catalog.jsonb_build_object(
                'Content-Type', 'application/json',
                'Authorization', 'Bearer ' OPERATOR(pg_catalog.||) secret),
            timeout_milliseconds := 5000);
    EXCEPTION WHEN OTHERS THEN
        -- SQLSTATE only: a message could quote the URL or a header.
        RAISE WARNING 'railhook: % on %.% not sent to railhook (error %)',
            TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME, SQLSTATE;
    END;
    RETURN NULL;
END
$railhook$;

COMMENT ON FUNCTION public.railhook_manifests_notify() IS
    'railhook: posts manifests changes to <railhook_url>/webhooks/supabase (secrets in Vault)';

-- Only the trigger runs it: nobody calls it, through PostgREST or otherwise.
REVOKE ALL ON FUNCTION public.railhook_manifests_notify() FROM PUBLIC;
DO $railhook$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
        IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) r) THEN
            EXECUTE pg_catalog.format(
                'REVOKE ALL ON FUNCTION public.railhook_manifests_notify() FROM %I', r);
        END IF;
    END LOOP;
END
$railhook$;

CREATE OR REPLACE TRIGGER railhook_manifests_notify
    AFTER INSERT OR UPDATE OR DELETE ON public.manifests
    FOR EACH ROW EXECUTE FUNCTION public.railhook_manifests_notify();

ALTER TABLE public.manifests
    ADD COLUMN IF NOT EXISTS railway_service_id text,
    ADD COLUMN IF NOT EXISTS railway_status text,
    ADD COLUMN IF NOT EXISTS railway_deployment_status text,
    ADD COLUMN IF NOT EXISTS railway_error text,
    ADD COLUMN IF NOT EXISTS railway_updated_at timestamptz;

DO $railhook$
DECLARE
    password text;
    can_login boolean;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles
                    WHERE rolname OPERATOR(pg_catalog.=) 'railhook_manifests') THEN
        CREATE ROLE railhook_manifests NOLOGIN;
    END IF;
    SELECT rolcanlogin INTO can_login FROM pg_catalog.pg_roles
     WHERE rolname OPERATOR(pg_catalog.=) 'railhook_manifests';
    IF pg_catalog.to_regclass('vault.decrypted_secrets') IS NOT NULL THEN
        EXECUTE 'SELECT decrypted_secret FROM vault.decrypted_secrets WHERE name = $1'
           INTO password USING 'railhook_db_password';
    END IF;
    IF password IS NOT NULL AND password OPERATOR(pg_catalog.<>) '' AND NOT can_login THEN
        EXECUTE pg_catalog.format('ALTER ROLE railhook_manifests LOGIN PASSWORD %L', password);
    ELSIF (password IS NULL OR password OPERATOR(pg_catalog.=) '') AND can_login THEN
        ALTER ROLE railhook_manifests NOLOGIN;
    END IF;
END
$railhook$;

GRANT USAGE ON SCHEMA public TO railhook_manifests;
GRANT SELECT ON public.manifests TO railhook_manifests;
GRANT UPDATE (railway_service_id, railway_status, railway_deployment_status, railway_error,
              railway_updated_at) ON public.manifests TO railhook_manifests;

-- With row-level security on (Supabase's default for new tables), grants alone show no rows.
DO $railhook$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_policies
                    WHERE schemaname OPERATOR(pg_catalog.=) 'public'
                      AND tablename OPERATOR(pg_catalog.=) 'manifests'
                      AND policyname OPERATOR(pg_catalog.=) 'railhook_manifests_read') THEN
        CREATE POLICY railhook_manifests_read ON public.manifests
            FOR SELECT TO railhook_manifests USING (true);
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_policies
                    WHERE schemaname OPERATOR(pg_catalog.=) 'public'
                      AND tablename OPERATOR(pg_catalog.=) 'manifests'
                      AND policyname OPERATOR(pg_catalog.=) 'railhook_manifests_write_back') THEN
        CREATE POLICY railhook_manifests_write_back ON public.manifests
            FOR UPDATE TO railhook_manifests USING (true) WITH CHECK (true);
    END IF;
END
$railhook$;

-- Realtime: the table joins supabase_realtime when that publication exists and lists it not
-- yet. The trigger's comment records that railhook added it, so the undo takes out only what
-- this file put in.
DO $railhook$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_publication
                WHERE pubname OPERATOR(pg_catalog.=) 'supabase_realtime' AND NOT puballtables)
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_publication_tables
                        WHERE pubname OPERATOR(pg_catalog.=) 'supabase_realtime'
                          AND schemaname OPERATOR(pg_catalog.=) 'public'
                          AND tablename OPERATOR(pg_catalog.=) 'manifests') THEN
        ALTER PUBLICATION supabase_realtime ADD TABLE public.manifests;
        COMMENT ON TRIGGER railhook_manifests_notify ON public.manifests IS
            'railhook: added public.manifests to supabase_realtime';
    END IF;
END
$railhook$;
