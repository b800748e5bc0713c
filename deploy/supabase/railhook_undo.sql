-- Undoes deploy/supabase/railhook.sql: safe to run again, and on a database where
-- railhook.sql never ran.
--
-- What it removes: the trigger railhook_manifests_notify on public.manifests, the function
-- public.railhook_manifests_notify(), public.manifests from the supabase_realtime
-- publication (only when railhook.sql put it there), the policies railhook_manifests_read and
-- railhook_manifests_write_back, and the role railhook_manifests with every privilege granted
-- to it.
--
-- What it keeps: the status columns railway_service_id, railway_status,
-- railway_deployment_status, railway_error and railway_updated_at of public.manifests. They
-- hold data (what railhook wrote back), and dropping a user's data by default would be wrong.
-- To drop them too, say so in the same session first:
--   SET railhook.drop_status_columns = 'on';
-- The Vault secrets (railhook_url, railhook_webhook_secret, railhook_db_password) are yours:
-- delete them in Vault if you want them gone.
--
-- Run it with
--   psql "$SUPABASE_DB_URL" -v ON_ERROR_STOP=1 --single-transaction -f railhook_undo.sql
-- or copy it to supabase/migrations/<timestamp>_railhook_undo.sql and run `supabase db push`.

DO $railhook$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_trigger t
                WHERE t.tgrelid = 'public.manifests'::pg_catalog.regclass
                  AND t.tgname = 'railhook_manifests_notify'
                  AND pg_catalog.obj_description(t.oid, 'pg_trigger')
                      = 'railhook: added public.manifests to supabase_realtime')
       AND EXISTS (SELECT FROM pg_catalog.pg_publication_tables
                    WHERE pubname = 'supabase_realtime' AND schemaname = 'public'
                      AND tablename = 'manifests') THEN
        ALTER PUBLICATION supabase_realtime DROP TABLE public.manifests;
    END IF;
END
$railhook$;

DROP TRIGGER IF EXISTS railhook_manifests_notify ON public.manifests;
DROP FUNCTION IF EXISTS public.railhook_manifests_notify();
DROP POLICY IF EXISTS railhook_manifests_read ON public.manifests;
DROP POLICY IF EXISTS railhook_manifests_write_back ON public.manifests;

DO $railhook$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'railhook_manifests') THEN
        -- The role owns nothing railhook made; anything it came to own goes to the caller.
        REASSIGN OWNED BY railhook_manifests TO CURRENT_USER;
        DROP OWNED BY railhook_manifests;
        DROP ROLE railhook_manifests;
    END IF;
END
$railhook$;

DO $railhook$
BEGIN
    IF pg_catalog.current_setting('railhook.drop_status_columns', true) = 'on' THEN
        ALTER TABLE public.manifests
            DROP COLUMN IF EXISTS railway_service_id,
            DROP COLUMN IF EXISTS railway_status,
            DROP COLUMN IF EXISTS railway_deployment_status,
            DROP COLUMN IF EXISTS railway_error,
            DROP COLUMN IF EXISTS railway_updated_at;
    END IF;
END
$railhook$;
