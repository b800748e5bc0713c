/* `railhook check`: the operator's preflight. Checks the configuration, the database and
 * Railway (endpoint, token kind, project, environment, the worker repo and branch as Railway's
 * GitHub app sees them, drift of the embedded documents from the live schema, rate-limit
 * budget) with at most six Railway requests, and says what to do about each failure. */
#ifndef RAILHOOK_SERVER_CHECK_H
#define RAILHOOK_SERVER_CHECK_H

#include <stdbool.h>
#include <stdio.h>

/* Runs every check with the configuration from the environment and writes the report to out:
 * one line per item, or one JSON object {"ok","items":[{"name","status","detail","hint"}],
 * "railway_requests"} when json. Returns the exit status: 0 when everything needed works,
 * 1 otherwise. Needs curl_global_init() done; never prints a secret. */
int check_run(FILE *out, bool json);

#endif
