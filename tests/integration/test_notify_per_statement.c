/* The jobs trigger (store/migrations/008): one railhook_job_changed per statement carrying the
 * ids it changed (200 at most per notification), one railhook_jobs when a job became queued,
 * none for an update that does not move updated_at. A session LISTENs and counts. */
#include "store/jobs.h"
#include "support/harness.h"

#include <criterion/criterion.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

static char *db;
static PGconn *listener;

static void start(void)
{
    db = th_db_create();
    listener = PQconnectdb(db);
    cr_assert_eq(PQstatus(listener), CONNECTION_OK);
    PQclear(PQexec(listener, "LISTEN railhook_job_changed; LISTEN railhook_jobs"));
}

static void stop(void)
{
    PQfinish(listener);
    th_db_drop(db);
}

struct heard {
    int changed;     /* railhook_job_changed notifications */
    int changed_ids; /* ids they carried */
    int queued;      /* railhook_jobs notifications */
};

/* Collects what the statements before now sent: a NOTIFY sent after them marks the end. */
static struct heard collect(void)
{
    struct heard h = {0};
    free(th_sql(db, "SELECT pg_notify('railhook_job_changed', 'end')"));
    int64_t deadline = time_mono_ms() + 10000;
    for (;;) {
        PQconsumeInput(listener);
        PGnotify *n;
        while ((n = PQnotifies(listener)) != NULL) {
            bool end = strcmp(n->extra, "end") == 0;
            if (strcmp(n->relname, "railhook_jobs") == 0) {
                h.queued++;
            } else if (!end) {
                h.changed++;
                h.changed_ids++;
                for (const char *p = n->extra; *p; p++)
                    h.changed_ids += *p == ',';
            }
            PQfreemem(n);
            if (end)
                return h;
        }
        cr_assert_lt(time_mono_ms(), deadline, "the end marker never came");
        struct pollfd pfd = {.fd = PQsocket(listener), .events = POLLIN};
        poll(&pfd, 1, 100);
    }
}

Test(notify_per_statement, one_notification_per_statement_whatever_the_rows, .init = start,
     .fini = stop)
{
    free(th_sql(db, "INSERT INTO jobs (kind) SELECT 'noop' FROM generate_series(1, 50)"));
    struct heard h = collect();
    cr_assert_eq(h.changed, 1, "%d notifications for one statement", h.changed);
    cr_assert_eq(h.changed_ids, 50);
    cr_assert_eq(h.queued, 1, "one wake-up");

    free(th_sql(db, "UPDATE jobs SET state = 'running', updated_at = now() + interval '1 s'"));
    h = collect();
    cr_assert_eq(h.changed, 1);
    cr_assert_eq(h.changed_ids, 50);
    cr_assert_eq(h.queued, 0, "nothing became queued");

    /* A heartbeat moves the lease, not updated_at: the document is the same, nobody hears. */
    free(th_sql(db, "UPDATE jobs SET lease_expires_at = now() + interval '30 s'"));
    h = collect();
    cr_assert_eq(h.changed, 0);
    cr_assert_eq(h.queued, 0);

    /* Back in line (a retry): one wake-up for all of them. */
    free(th_sql(db, "UPDATE jobs SET state = 'queued', updated_at = now() + interval '2 s'"));
    h = collect();
    cr_assert_eq(h.changed, 1);
    cr_assert_eq(h.queued, 1);
}

Test(notify_per_statement, many_ids_are_split_under_the_payload_limit, .init = start, .fini = stop)
{
    free(th_sql(db, "INSERT INTO jobs (kind, state) SELECT 'noop', 'succeeded'"
                    " FROM generate_series(1, 450)"));
    struct heard h = collect();
    cr_assert_eq(h.changed, 3, "200 + 200 + 50 ids: %d notifications", h.changed);
    cr_assert_eq(h.changed_ids, 450);
    cr_assert_eq(h.queued, 0, "none queued");
}

Test(notify_per_statement, an_event_is_a_change_of_its_job, .init = start, .fini = stop)
{
    char *id = th_sql(db, "INSERT INTO jobs (kind, state) VALUES ('noop', 'running') RETURNING id");
    collect();
    PGconn *c = PQconnectdb(db);
    char err[256] = "";
    cr_assert_eq(
        store_job_event_add(c, id, "deploy", "info", "build started", NULL, err, sizeof(err)),
        RH_OK, "%s", err);
    PQfinish(c);
    struct heard h = collect();
    cr_assert_eq(h.changed, 1);
    cr_assert_eq(h.changed_ids, 1);
    free(id);
}
