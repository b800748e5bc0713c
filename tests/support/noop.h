/* The test-only "noop" job kind. The test binary's `serve` mode (tests/support/main.c)
 * registers it, so process-level tests (SIGKILL, SIGTERM) can run jobs that block in a
 * controllable way; the production binary never knows it. */
#ifndef RAILHOOK_TESTS_NOOP_H
#define RAILHOOK_TESTS_NOOP_H

#include "queue/job.h"

/* The noop handler (static storage). Its payload: {"sleep_ms": N (job_sleep, at most 600000),
 * "record": true (insert the run into a noop_runs(job_id uuid, owner text, attempt int)
 * table the test created, exactly once per job, together with a saved step)}. */
const struct job_handler *th_noop_handler(void);

#endif
