/* `railhook serve`: the HTTP server, the webhook intake and the job queue with the Railway
 * flows, from start to an orderly shutdown on SIGINT or SIGTERM. */
#ifndef RAILHOOK_SERVE_H
#define RAILHOOK_SERVE_H

#include "queue/job.h"
#include "util/config.h"

#include <stdbool.h>
#include <stddef.h>

/* Loads the configuration (what need asks for) and sets up logging and the store's limits
 * (store_limits_set) from it; false after printing the problem to stderr. Free cfg with
 * config_free() when it returns true. */
bool serve_setup(struct config *cfg, enum config_need need);
/* Learns which header Railway accepts the token in (one request), so that a project token in
 * RAILWAY_TOKEN (as Railway's CLI names it) or an account token in RAILWAY_PROJECT_TOKEN is
 * sent the right way by every client made from cfg afterwards; logs what it found. */
void serve_token_detect(struct config *cfg);
/* Runs the service until SIGINT/SIGTERM and returns the process exit code (0 after an orderly
 * shutdown). extra (nextra handlers, may be NULL) are registered with the queue besides the
 * flows: the test binary adds its test-only job kinds this way. Call from the main thread
 * before any other thread starts. */
int serve_run(const struct job_handler *extra, size_t nextra);

#endif
