-- An event's job summary (migration 007) from the row its writer changed. The trigger looked the
-- job up for every event: in the queue benchmark that lookup was 7 % of PostgreSQL's time, on
-- the statements that finish and claim jobs, which write the job and its event together and
-- already hold the changed row. Those statements (and the enqueue) now pass
-- railhook_job_summary() of that row (RETURNING gives the row as the change left it, which is
-- what the lookup read); any other writer still leaves summary out, and the trigger fills it
-- in as before. The id and xid are still assigned here, in this order (migration 007).
CREATE OR REPLACE FUNCTION railhook_job_events_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.xid := pg_current_xact_id();
    NEW.id := nextval('job_events_id_seq');
    IF NEW.summary IS NULL THEN
        NEW.summary := (SELECT railhook_job_summary(j) FROM jobs j WHERE j.id = NEW.job_id);
    END IF;
    RETURN NEW;
END;
$$;
