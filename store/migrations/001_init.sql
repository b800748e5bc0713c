-- First schema: jobs and their events, tracked services, webhook deliveries.
CREATE TABLE jobs (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind text NOT NULL CHECK (kind IN ('provision', 'update', 'redeploy', 'deprovision', 'noop')),
    state text NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    payload jsonb NOT NULL DEFAULT '{}'::jsonb,
    dedupe_key text UNIQUE,
    attempt integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 3 CHECK (max_attempts > 0),
    rescues integer NOT NULL DEFAULT 0,
    run_after timestamptz NOT NULL DEFAULT now(),
    lease_owner text,
    lease_expires_at timestamptz,
    cancel_requested boolean NOT NULL DEFAULT false,
    step text,
    steps jsonb NOT NULL DEFAULT '{}'::jsonb,
    service_name text,
    railway_service_id text,
    railway_deployment_id text,
    railway_deployment_status text,
    last_error jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz
);

CREATE INDEX jobs_queued_idx ON jobs (run_after, created_at) WHERE state = 'queued';
CREATE INDEX jobs_running_lease_idx ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_created_idx ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_service_idx ON jobs (service_name, created_at DESC);
CREATE INDEX jobs_finished_idx ON jobs (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE job_events (
    id bigserial PRIMARY KEY,
    job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    step text,
    level text NOT NULL DEFAULT 'info' CHECK (level IN ('debug', 'info', 'warn', 'error')),
    message text NOT NULL,
    details jsonb
);

CREATE INDEX job_events_job_idx ON job_events (job_id, id);

CREATE TABLE services (
    id bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    manifest_id text,
    railway_service_id text,
    repo text,
    branch text,
    root_dir text,
    status text NOT NULL DEFAULT 'provisioning'
        CHECK (status IN ('provisioning', 'active', 'failed', 'removed')),
    last_job_id uuid,
    last_deployment_id text,
    last_deployment_status text,
    variables jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX services_manifest_idx ON services (manifest_id);

CREATE TABLE deliveries (
    id bigserial PRIMARY KEY,
    source text NOT NULL,
    delivery_id text NOT NULL,
    event text,
    outcome text NOT NULL,
    job_ids uuid[] NOT NULL DEFAULT '{}',
    received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, delivery_id)
);

CREATE INDEX deliveries_received_idx ON deliveries (received_at);

-- Wake sleeping workers when a job becomes runnable, and long-polling readers when a job
-- changes. Notifications are sent at commit, so a woken reader always sees the row.
CREATE FUNCTION railhook_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state = 'queued' AND (TG_OP = 'INSERT' OR OLD.state <> 'queued') THEN
        PERFORM pg_notify('railhook_jobs', '');
    END IF;
    IF TG_OP = 'INSERT' OR NEW.updated_at IS DISTINCT FROM OLD.updated_at THEN
        PERFORM pg_notify('railhook_job_changed', NEW.id::text);
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE ON jobs
    FOR EACH ROW EXECUTE FUNCTION railhook_jobs_notify();
