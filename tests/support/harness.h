/* Test support: throwaway databases cloned from the migrated template, an in-process
 * railhook server on an ephemeral loopback port, a libcurl client, and child processes. */
#ifndef RAILHOOK_TEST_HARNESS_H
#define RAILHOOK_TEST_HARNESS_H

#include "handlers/handlers.h"
#include "server/http_server.h"
#include "util/config.h"

#include <cjson/cJSON.h>
#include <libpq-fe.h>

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A fresh database cloned from the migrated template; returns its URL (free()). Fails the
 * test when the suite's cluster is not configured. */
char *th_db_create(void);
/* The same from another template ("template1" gives an empty, unmigrated database). */
char *th_db_create_from(const char *tmpl);
/* Drops a database made by th_db_create() and frees url. */
void th_db_drop(char *url);
/* Runs one SQL statement on url and returns its result (PQclear it); fails the test on an
 * error. */
PGresult *th_query(const char *url, const char *sql);
/* Runs one SQL statement on url and returns the first column of the first row (free()), or
 * NULL when the statement returns no rows. Fails the test on an error. */
char *th_sql(const char *url, const char *sql);
/* Counts rows: runs "SELECT count(*) ..." style sql and returns the number. */
long th_sql_long(const char *url, const char *sql);
/* Runs th_sql_long(url, sql) every 50 ms until it returns want; false after timeout_ms. */
bool th_wait_sql_long(const char *url, const char *sql, long want, int timeout_ms);

struct th_server {
    struct config cfg;
    struct app app;
    struct http_server *srv;
    int port;
    char base[64]; /* "http://127.0.0.1:PORT" */
};

/* Sets DATABASE_URL=db_url and PORT=0 (plus whatever the test setenv()'d before), loads the
 * configuration and starts the server in this process. */
void th_server_start(struct th_server *ts, const char *db_url);
void th_server_stop(struct th_server *ts);

struct th_response {
    long status;
    char *body;
    size_t body_len;
    char *headers; /* raw header block */
};

/* Sends a request; headers is a NULL-terminated list of "Name: value" strings (may be NULL).
 * Fails the test when the transport fails. Free with th_response_free(). */
void th_http(struct th_response *out, const char *method, const char *url,
             const char *const *headers, const char *body, size_t body_len);
void th_response_free(struct th_response *r);
/* The value of a response header (case-insensitive name), or NULL; free(). */
char *th_response_header(const struct th_response *r, const char *name);

/* Reads a whole file into a new buffer (free()); fails the test when unreadable. */
char *th_read_file(const char *path, size_t *len);
/* The bytes of a file among the real deliveries that may sit beside the checkout
 * ($RAILHOOK_FIXTURES, else ../shared/fixtures), or NULL when it is absent: suites run them as
 * extra cases next to the deliveries they build (support/deliveries.h), never instead. free(). */
char *th_fixture_read(const char *rel, size_t *len);
/* The same file parsed as JSON (cJSON_Delete), or NULL when absent; fails the test when it is
 * not JSON. */
cJSON *th_fixture_json(const char *rel);

/* The railhook binary the tests spawn: $RAILHOOK_BIN (e.g. a sanitizer build) when set, else
 * the one built beside the tests. th_spawn() swaps it in for RAILHOOK_BIN_PATH. */
const char *th_railhook_bin(void);
/* The binary that runs `serve` with the test-only job kinds (tests/support/main.c):
 * $RAILHOOK_TEST_SERVER (e.g. a sanitizer build of the tests) when set, else this test binary. */
const char *th_test_server_bin(void);
/* Starts a child process with extra environment entries ("K=V", NULL-terminated) added to the
 * current environment; stdout and stderr go to log_path (appended) when given. */
pid_t th_spawn(const char *const *argv, const char *const *env, const char *log_path);
/* Waits until GET url answers 200, at most timeout_ms; false on timeout. */
bool th_wait_http(const char *url, int timeout_ms);
/* A TCP port on 127.0.0.1 that is free right now. */
int th_free_port(void);

/* ---- the Railway simulator ---- */

struct th_sim {
    pid_t pid;
    int port;
    char url[96];  /* GraphQL endpoint */
    char base[64]; /* http://127.0.0.1:PORT */
};

/* Starts build/railway-sim on a free port with extra flags (NULL-terminated, may be NULL),
 * and points RAILWAY_API_URL, RAILWAY_TOKEN, RAILWAY_PROJECT_ID, RAILWAY_ENVIRONMENT_ID and
 * WORKER_REPO at it (setenv). Fails the test when it does not start. */
void th_sim_start(struct th_sim *sim, const char *const *flags);
void th_sim_stop(struct th_sim *sim);
/* GET /_sim/state (cJSON_Delete it). */
cJSON *th_sim_state(const struct th_sim *sim);
/* POST /_sim/config with a JSON object text; fails the test unless it is accepted. */
void th_sim_config(const struct th_sim *sim, const char *json);
/* The simulator's live (not deleted) services named name. */
int th_sim_count_services(const struct th_sim *sim, const char *name);

#endif
