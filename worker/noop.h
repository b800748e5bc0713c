/* A test hook, not a feature: the "noop" job kind, registered by `railhook serve` only when
 * the environment has RAILHOOK_TEST_HANDLERS=on, so process-level tests (SIGKILL, SIGTERM) can
 * run jobs that block in a controllable way. */
#ifndef RAILHOOK_WORKER_NOOP_H
#define RAILHOOK_WORKER_NOOP_H

struct worker_pool;

/* Registers the noop handler. Its payload: {"sleep_ms": N (job_sleep, at most 600000),
 * "record": true (insert the run into a noop_runs(job_id uuid, owner text, attempt int)
 * table the test created, exactly once per job, together with a saved step)}. */
void worker_noop_register(struct worker_pool *pool);

#endif
