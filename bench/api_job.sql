-- A job `scripts/bench.sh api` reads: a provision as the worker records one, with its Railway
-- ids, saved steps and ten events (some with details), in the state given as the psql
-- variable `state` (succeeded: finished; running: still at its last step, leased for an hour
-- by a worker of another instance, as a provision waiting for its build is), under the
-- delivery id given as `n`. Prints its id.
WITH j AS (
    INSERT INTO jobs (kind, state, payload, dedupe_key, attempt, step, steps, service_name,
                      railway_service_id, railway_deployment_id, railway_deployment_status,
                      lease_owner, lease_expires_at, created_at, updated_at, started_at,
                      finished_at)
    VALUES ('provision', :'state',
            '{"manifest_id": "3f1c2b7e-9a4d-4c1e-8f2a-6b5d0e9c7a13", "service_schema": "billing_v2",
              "source": "supabase", "delivery_id": "bench-delivery-1"}',
            'supabase:bench-delivery-' || :'n' || ':provision:' || :'state', 1, 'wait_deploy',
            '{"service_id": "3b9e4c1a-51f2-4f7e-9d0c-2a7be1f4c9d8", "root_dir": "/workers",
              "variables_hash": "9f2c41d07be3", "deployment_id": "d1c7a9e2-0b4f-4c3e-8a61-5e2f7b9c4d10"}',
            'osp-worker-billing_v2', '3b9e4c1a-51f2-4f7e-9d0c-2a7be1f4c9d8',
            'd1c7a9e2-0b4f-4c3e-8a61-5e2f7b9c4d10', 'SUCCESS',
            CASE WHEN :'state' = 'running' THEN 'bench-other-instance/w0/' || :'n' END,
            CASE WHEN :'state' = 'running' THEN now() + interval '1 hour' END,
            now() - interval '95 seconds', now() - interval '3 seconds',
            now() - interval '94 seconds',
            CASE WHEN :'state' = 'running' THEN NULL ELSE now() - interval '3 seconds' END)
    RETURNING id
), ev AS (
    INSERT INTO job_events (job_id, at, step, level, message, details)
    SELECT j.id, now() - (interval '1 second' * e.ago), e.step, e.level, e.message, e.details::jsonb
    FROM j, (VALUES
        (95, NULL, 'info', 'enqueued', '{"source": "supabase", "delivery_id": "bench-delivery-1"}'),
        (94, NULL, 'info', 'claimed', '{"attempt": 1, "owner": "bench-host-1234/w0"}'),
        (94, 'validate', 'info', 'step validate', NULL),
        (93, 'find_service', 'info', 'step find_service', NULL),
        (92, 'create_service', 'info', 'created service osp-worker-billing_v2',
         '{"service_id": "3b9e4c1a-51f2-4f7e-9d0c-2a7be1f4c9d8"}'),
        (90, 'set_root_directory', 'info', 'root directory set', '{"root_dir": "/workers"}'),
        (89, 'set_variables', 'info', 'variables set',
         '{"count": 6, "names": ["DATABASE_URL", "SERVICE_SCHEMA", "LOG_LEVEL", "IMAGE", "REPLICAS", "MANIFEST_ID"]}'),
        (88, 'connect', 'warn', 'serviceConnect answered 429; retrying in 1 s',
         '{"http_status": 429, "retry_after_s": 1}'),
        (86, 'connect', 'info', 'connected to acme/osp@main', '{"repo": "acme/osp", "branch": "main"}'),
        (3, 'wait_deploy', 'info', 'provisioned',
         '{"deployment_id": "d1c7a9e2-0b4f-4c3e-8a61-5e2f7b9c4d10", "status": "SUCCESS", "waited_ms": 83000}')
    ) AS e (ago, step, level, message, details)
)
SELECT id FROM j;
