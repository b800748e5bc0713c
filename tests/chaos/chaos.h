/* Support for the resilience suite (Criterion suite "chaos"): real `railhook serve` processes
 * with distinctive secrets, the Railway simulator, webhook load on loopback, and the checks
 * every test ends with (terminal jobs, one service per manifest, no orphan, no secret). */
#ifndef RAILHOOK_TEST_CHAOS_H
#define RAILHOOK_TEST_CHAOS_H

#include "support/harness.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Distinctive secret values: every test runs with them and greps what it produced. */
#define CHAOS_RAILWAY_TOKEN   "rt-chaos-7f3a9c1e5b2d4f60a8c4"
#define CHAOS_GITHUB_SECRET   "gh-chaos-2b8e6d4f1a3c5e7092ab"
#define CHAOS_SUPABASE_SECRET "sb-chaos-5c1f7a9e3d2b4068f1ce"
/* base64 of "chaos-signing-9d4e1a7c3b5f" */
#define CHAOS_SIGNING_SECRET "whsec_Y2hhb3Mtc2lnbmluZy05ZDRlMWE3YzNiNWY="
#define CHAOS_API_TOKEN      "api-chaos-read-8e2c4a6f0b1d3957"
#define CHAOS_ADMIN_TOKEN    "api-chaos-admin-4d6f8a0c2e1b3597"
#define CHAOS_DB_PASSWORD    "pg-chaos-pass-1a2b3c4d5e6f7081"

/* True when CHAOS_SCALE=full (make chaos); the short form runs in make test. */
bool chaos_full(void);
/* short_n in the short form, full_n with CHAOS_SCALE=full. */
int chaos_size(int short_n, int full_n);
/* A lowercase tag unique to this run, for manifest ids and schemas ("c" + 6 hex digits). */
void chaos_tag(char out[8]);
/* A file path under the suite's temp folder: "<tmp>/chaos-<name>-<pid>.<ext>" (free()). */
char *chaos_path(const char *name, const char *ext);

/* db_url (from th_db_create()) with CHAOS_DB_PASSWORD added; trust auth ignores it (free()). */
char *chaos_db_url(const char *db_url);

/* The Railway simulator with the chaos token, no rate limit in the way, fast builds, plus
 * extra flags (NULL-terminated, may be NULL). */
void chaos_sim_start(struct th_sim *sim, const char *const *extra_flags);

struct chaos_proc {
    pid_t pid;
    int port;
    char name[32];
    char base[64]; /* http://127.0.0.1:PORT */
    char log[512];
};

/* Spawns `railhook serve` (th_railhook_bin()) named name on a free port with every chaos
 * secret, db_url (a chaos_db_url()), the simulator (may be NULL), fast test timings and the
 * extra "K=V" entries (NULL-terminated, may be NULL; they win), logging to log_path (appended);
 * waits until /healthz answers. */
void chaos_serve(struct chaos_proc *p, const char *name, const char *db_url,
                 const struct th_sim *sim, const char *log_path, const char *const *extra);
/* Sends sig and reaps the process; returns the wait status. */
int chaos_signal(struct chaos_proc *p, int sig);

/* One Supabase INSERT delivery (bearer secret) of manifest "<tag>-<i>" with schema
 * "<tag>_<i>" to port; returns the HTTP status (0: no answer) and the first job id in
 * job_id (may be NULL; "" when none). timeout_ms bounds the request. Thread-safe. */
long chaos_post_insert(void *curl, int port, const char *tag, int i, char job_id[37],
                       long timeout_ms);
/* Posts manifests 0..n-1 and fails the test unless every one is answered 202. */
void chaos_post_inserts(int port, const char *tag, int n);

struct chaos_tally {
    long jobs, queued, running, succeeded, failed, cancelled;
    long rescues; /* sum of jobs.rescues */
    long attempts_over_1;
};
void chaos_tally(const char *db, struct chaos_tally *t);
/* Waits until every job is succeeded, failed or cancelled, at most timeout_ms. */
bool chaos_wait_terminal(const char *db, int64_t timeout_ms);
/* Waits until at least n jobs are terminal, at most timeout_ms. */
bool chaos_wait_finished(const char *db, long n, int64_t timeout_ms);

struct chaos_services {
    int live;            /* live services in the simulator */
    int created;         /* services ever created (deleted ones too) */
    int service_creates; /* ServiceCreate requests the simulator counted */
    long railway_requests;
};
/* Checks the simulator against the provision jobs: each succeeded job's service is live and
 * was created exactly once, no failed or cancelled job left a live service, and no live
 * service lacks a succeeded job. Fails the test naming the first offender. */
void chaos_assert_services(const char *db, const struct th_sim *sim, struct chaos_services *out);
/* Failed provisions were rolled back: each has a "rolled_back" or "rollback: ..." event. */
void chaos_assert_rolled_back(const char *db);

/* Greps every file of files (NULL-terminated) and a data-only pg_dump of db (may be NULL)
 * for every chaos secret; fails naming the file and the secret's name. */
void chaos_assert_no_secrets(const char *db, const char *const *files);

#endif
