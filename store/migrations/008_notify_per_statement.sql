-- One notification per statement instead of one per changed row. PostgreSQL serialises the
-- commits that NOTIFY (a cluster-wide lock from the notification's queueing to the end of the
-- commit), and every listening session reads every notification, so a statement that changes
-- many jobs (the intake's batches, the queue's group commits) now sends one
-- railhook_job_changed carrying the ids it changed, comma-separated, 200 at most per
-- notification (under the 8000-byte payload limit; more ids make more notifications of the
-- same commit), and one railhook_jobs when any job became queued. A change is what it was
-- before: an inserted job, or an update that moves updated_at (every change of a job's document
-- does, events included: store/jobs.c). Notifications are sent at commit, so a woken reader
-- always sees the rows.
DROP TRIGGER jobs_notify ON jobs;
DROP FUNCTION railhook_jobs_notify();

CREATE FUNCTION railhook_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    queued boolean;
    ids text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT bool_or(state = 'queued') INTO queued FROM new_rows;
        FOR ids IN
            SELECT string_agg(id::text, ',') FROM
                (SELECT id, (row_number() OVER () - 1) / 200 AS chunk FROM new_rows) c
            GROUP BY chunk
        LOOP
            PERFORM pg_notify('railhook_job_changed', ids);
        END LOOP;
    ELSE
        SELECT bool_or(n.state = 'queued' AND o.state <> 'queued') INTO queued
            FROM new_rows n JOIN old_rows o ON o.id = n.id;
        FOR ids IN
            SELECT string_agg(id::text, ',') FROM
                (SELECT n.id, (row_number() OVER () - 1) / 200 AS chunk
                 FROM new_rows n JOIN old_rows o ON o.id = n.id
                 WHERE n.updated_at IS DISTINCT FROM o.updated_at) c
            GROUP BY chunk
        LOOP
            PERFORM pg_notify('railhook_job_changed', ids);
        END LOOP;
    END IF;
    IF queued THEN
        PERFORM pg_notify('railhook_jobs', '');
    END IF;
    RETURN NULL;
END;
$$;

-- A trigger with transition tables fires for one event only: one for each.
CREATE TRIGGER jobs_notify_insert AFTER INSERT ON jobs
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION railhook_jobs_notify();
CREATE TRIGGER jobs_notify_update AFTER UPDATE ON jobs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION railhook_jobs_notify();
