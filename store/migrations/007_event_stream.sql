-- The live event stream (GET /events) reads job_events in id order and must never send an id
-- before every smaller id is final (committed, or never to be). Ids come from a sequence,
-- handed out before commit, so id 7 can become visible after id 8. The rule the reader
-- follows (store/events.c) needs one property of the writers: a transaction holds a
-- transaction id (xid) before it holds an event id. A plain `DEFAULT nextval(...)` breaks it
-- (the default is computed before the row is written, and the xid is assigned only when the
-- row is), so ids are now assigned by a BEFORE INSERT trigger that first takes the xid
-- (pg_current_xact_id() assigns one if the transaction has none yet) and only then the id.
--
-- Why that suffices: the reader reads the sequence's last value S, then (a new transaction)
-- takes a transaction id X of its own with pg_current_xact_id() and commits. Transaction ids
-- are handed out in order, so every transaction T that holds an id <= S (it called nextval
-- before S was read, and took its xid before that) has an xid below X. Once a later
-- snapshot's xmin is above X, no transaction with an xid below X is running: every id <= S is
-- committed or rolled back, for good, and visible. Ids above S may still be in flight and
-- wait for the next round. (A snapshot's xmax is not enough in place of X: it is the newest
-- *completed* xid + 1, and a running transaction whose xid is above it is in no snapshot's
-- list, so "xmin reached the earlier snapshot's xmax" can hold while T still runs.)
--
-- Each event also keeps the job's summary as it is in the writing transaction, right after the
-- change the event records (a VOLATILE function, as this trigger is, sees the changes its
-- calling statement made so far, and every writer inserts an event from the row it changed): the stream sends the job as it
-- was at that event, so a client sees queued, running, succeeded in order even when it reads
-- them all at once. railhook_job_summary() (migration 006) is the one definition of that
-- document, also used by GET /jobs' list and the notifications.

ALTER TABLE job_events ADD COLUMN xid xid8, ADD COLUMN summary json;
ALTER TABLE job_events ALTER COLUMN id DROP DEFAULT;

CREATE FUNCTION railhook_job_events_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.xid := pg_current_xact_id();
    NEW.id := nextval('job_events_id_seq');
    NEW.summary := (SELECT railhook_job_summary(j) FROM jobs j WHERE j.id = NEW.job_id);
    RETURN NEW;
END;
$$;

CREATE TRIGGER job_events_id BEFORE INSERT ON job_events
    FOR EACH ROW EXECUTE FUNCTION railhook_job_events_id();
