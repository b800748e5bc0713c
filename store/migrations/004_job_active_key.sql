-- At most one queued or running job per active key: a redeploy's key names its service and
-- commit, so a signed push posted again under fresh delivery ids adds no job.
ALTER TABLE jobs ADD COLUMN active_key text;
CREATE UNIQUE INDEX jobs_active_key_idx ON jobs (active_key)
    WHERE state IN ('queued', 'running');
