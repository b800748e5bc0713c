-- The notification outbox: signed notifications to NOTIFY_URLS and status write-back to the
-- manifest row (sink 'manifest'), written by a trigger in the same transaction as the job's
-- change, sent by the notification senders (notify/sender.c over store/notifications.c).

-- A job's summary: the document of one item of GET /jobs, and the `data` of a notification.
-- Its one definition (store/views.c calls it too).
CREATE FUNCTION railhook_job_summary(j jobs) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', j.id, 'kind', j.kind, 'state', j.state,
        'attempt', j.attempt, 'max_attempts', j.max_attempts, 'step', j.step,
        'service_name', j.service_name,
        'railway_deployment_status', j.railway_deployment_status,
        'error_code', j.last_error->>'code', 'created_at', j.created_at,
        'updated_at', j.updated_at, 'finished_at', j.finished_at)
$$;

-- What the trigger produces, written by `serve` at start (store_notify_settings_write). One
-- row: with several instances the one that started last wins; instances should share the
-- configuration (docs/operations.md).
CREATE TABLE notify_settings (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    urls text[] NOT NULL DEFAULT '{}',              -- one sink per URL
    events text NOT NULL DEFAULT 'final' CHECK (events IN ('final', 'all')),
    write_back boolean NOT NULL DEFAULT false,      -- sink 'manifest'
    instance text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE notifications (
    id text PRIMARY KEY,                            -- the webhook-id
    type text NOT NULL,                             -- job.<state>
    job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    payload json NOT NULL,                          -- the body, frozen at the change
    status jsonb NOT NULL,                          -- what the write-back may use
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX notifications_created_idx ON notifications (created_at DESC, id);
CREATE INDEX notifications_job_idx ON notifications (job_id, created_at DESC);

CREATE TABLE notification_deliveries (
    notification_id text NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    sink text NOT NULL,                             -- a NOTIFY_URLS entry, or 'manifest'
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'gave_up')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(), -- while claimed: the lease's end
    lease_owner text,
    last_status integer,
    last_error text,
    finished_at timestamptz,
    PRIMARY KEY (notification_id, sink)
);

CREATE INDEX notification_deliveries_due_idx ON notification_deliveries (next_attempt_at)
    WHERE state = 'pending';

CREATE TABLE notification_attempts (
    id bigserial PRIMARY KEY,
    notification_id text NOT NULL,
    sink text NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    duration_ms integer NOT NULL,
    http_status integer,
    error text,
    FOREIGN KEY (notification_id, sink)
        REFERENCES notification_deliveries (notification_id, sink) ON DELETE CASCADE
);

CREATE INDEX notification_attempts_delivery_idx ON notification_attempts (notification_id, sink, id);

-- Writes the outbox rows of one change. Its own function and trigger: railhook_jobs_notify()
-- is another's. The WHEN clauses keep heartbeats and step saves from calling it.
CREATE FUNCTION railhook_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    s notify_settings;
    state_changed boolean := TG_OP = 'INSERT' OR NEW.state IS DISTINCT FROM OLD.state;
    final boolean := NEW.state IN ('succeeded', 'failed', 'cancelled');
    to_urls boolean;
    to_manifest boolean;
    nid text;
BEGIN
    SELECT * INTO s FROM notify_settings WHERE id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    to_urls := cardinality(s.urls) > 0 AND state_changed AND (final OR s.events = 'all');
    to_manifest := s.write_back AND NEW.payload->>'manifest_id' IS NOT NULL;
    IF NOT (to_urls OR to_manifest) THEN
        RETURN NULL;
    END IF;
    nid := 'msg_' || replace(gen_random_uuid()::text, '-', '');
    INSERT INTO notifications (id, type, job_id, payload, status)
    VALUES (nid, 'job.' || NEW.state, NEW.id,
        json_build_object('type', 'job.' || NEW.state, 'timestamp', now(),
            'data', railhook_job_summary(NEW)),
        jsonb_build_object('manifest_id', NEW.payload->>'manifest_id',
            'service_id', NEW.railway_service_id, 'state', NEW.state,
            'deployment_status', NEW.railway_deployment_status,
            'error', NEW.last_error->>'message', 'updated_at', NEW.updated_at,
            'job_id', NEW.id, 'kind', NEW.kind));
    IF to_urls THEN
        INSERT INTO notification_deliveries (notification_id, sink)
        SELECT nid, u FROM unnest(s.urls) u;
    END IF;
    IF to_manifest THEN
        INSERT INTO notification_deliveries (notification_id, sink) VALUES (nid, 'manifest');
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER jobs_notify_outbox_insert AFTER INSERT ON jobs
    FOR EACH ROW EXECUTE FUNCTION railhook_notify_outbox();
CREATE TRIGGER jobs_notify_outbox_update AFTER UPDATE ON jobs
    FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state
        OR OLD.railway_service_id IS DISTINCT FROM NEW.railway_service_id
        OR OLD.railway_deployment_status IS DISTINCT FROM NEW.railway_deployment_status)
    EXECUTE FUNCTION railhook_notify_outbox();
