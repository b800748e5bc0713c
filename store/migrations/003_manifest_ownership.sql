-- A manifest's jobs run one at a time, in order: the claim (store/jobs.c) looks for the
-- unfinished jobs of a job's manifest.
CREATE INDEX jobs_manifest_unfinished_idx ON jobs ((payload->>'manifest_id'), created_at)
    WHERE state IN ('queued', 'running');
