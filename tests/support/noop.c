/* The test-only noop handler (see support/noop.h). */
#include "support/noop.h"

#include <libpq-fe.h>
#include <stdbool.h>

#include <stdio.h>
#include <string.h>

/* Inserts the run record and saves the "recorded" step in one transaction, so a re-run after
 * a crash finds the step and never records twice. */
static enum rh_status record_run(struct job_run *run, const struct job *job)
{
    PGconn *c = job_db(run);
    char attempt[16];
    snprintf(attempt, sizeof(attempt), "%d", job->attempt);
    const char *p[] = {job->id, job_lease_owner(run), attempt};
    enum rh_status st = RH_TRANSIENT;
    PGresult *r = PQexec(c, "BEGIN");
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok)
        goto out;
    r = PQexecParams(c, "INSERT INTO noop_runs (job_id, owner, attempt) VALUES ($1, $2, $3)", 3,
                     NULL, p, NULL, NULL, 0);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        st = RH_PERMANENT;
        goto rollback;
    }
    cJSON *yes = cJSON_CreateTrue();
    st = job_step_save(run, "recorded", yes);
    cJSON_Delete(yes);
    if (st != RH_OK)
        goto rollback;
    r = PQexec(c, "COMMIT");
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    st = ok ? RH_OK : RH_TRANSIENT;
    goto out;
rollback:
    PQclear(PQexec(c, "ROLLBACK"));
out:
    return st;
}

static enum rh_status noop_run(void *ctx, struct job_run *run, const struct job *job,
                               struct job_result *res)
{
    (void)ctx;
    if (job_step_get(run, "recorded"))
        return RH_OK;
    enum rh_status st = job_checkpoint(run, "sleep");
    if (st != RH_OK)
        return st;
    const cJSON *ms = cJSON_GetObjectItem(job->payload, "sleep_ms");
    if (cJSON_IsNumber(ms) && ms->valuedouble > 0) {
        int sleep_ms = ms->valuedouble > 600000 ? 600000 : (int)ms->valuedouble;
        if ((st = job_sleep(run, sleep_ms)) != RH_OK)
            return st;
    }
    if (!cJSON_IsTrue(cJSON_GetObjectItem(job->payload, "record")))
        return RH_OK;
    if ((st = job_checkpoint(run, "record")) != RH_OK)
        return st;
    st = record_run(run, job);
    if (st == RH_PERMANENT)
        return job_result_fail(res, st, "noop_record_failed", "cannot insert into noop_runs");
    if (st == RH_TRANSIENT)
        return job_result_fail(res, st, "noop_record_failed", "cannot commit the run record");
    return st;
}

const struct job_handler *th_noop_handler(void)
{
    static const struct job_handler h = {.kind = "noop", .run = noop_run};
    return &h;
}
