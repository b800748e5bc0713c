/* The notification outbox (migration 006): the settings the trigger reads, the senders' claim
 * and record, retention, the read model of GET /notifications, and the write-back's UPDATE of
 * a manifest row on MANIFESTS_DATABASE_URL. The rows themselves are written by the trigger on
 * jobs, in the transaction of the job's change. */
#ifndef RAILHOOK_STORE_NOTIFICATIONS_H
#define RAILHOOK_STORE_NOTIFICATIONS_H

#include "util/config.h"
#include "util/status.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* The sink name of the write-back; every other sink is a NOTIFY_URLS entry. */
#define STORE_NOTIFY_SINK_MANIFEST "manifest"

/* Replaces the one settings row: urls (n of them) get a delivery for each final state change,
 * or each state change when all_events; write_back adds the sink 'manifest' for every change
 * of a job that names a manifest. RH_OK, or a failure status with err set. */
enum rh_status store_notify_settings_write(PGconn *c, char *const *urls, int n, bool all_events,
                                           bool write_back, const char *instance, char *err,
                                           size_t errlen);

/* One claimed delivery. Strings are owned: free with store_notify_claim_free(). */
struct store_notify_claim {
    char *id;      /* the notification's id: the webhook-id */
    char *sink;    /* a URL or STORE_NOTIFY_SINK_MANIFEST */
    int attempt;   /* this attempt's number, from 1 */
    char *payload; /* the body (JSON) */
    char *status;  /* the write-back's fields (JSON) */
    double age_s;  /* seconds since the notification was written */
};

/* Claims the oldest due pending delivery (FOR UPDATE SKIP LOCKED), for owner, for lease_s
 * seconds: a sender that dies leaves it due again when the lease ends. urls/manifest say which
 * sinks this sender can serve. RH_OK with *found false when nothing is due. */
enum rh_status store_notify_claim(PGconn *c, const char *owner, int lease_s, bool urls,
                                  bool manifest, struct store_notify_claim *out, bool *found,
                                  char *err, size_t errlen);
void store_notify_claim_free(struct store_notify_claim *cl);

enum store_notify_result { STORE_NOTIFY_DELIVERED, STORE_NOTIFY_RETRY, STORE_NOTIFY_GAVE_UP };

/* The outcome of one attempt. http_status 0: none (a connection error or timeout); error: a
 * short redacted text, or NULL. */
struct store_notify_outcome {
    const struct store_notify_claim *claim;
    const char *owner;
    enum store_notify_result result;
    long retry_in_ms; /* STORE_NOTIFY_RETRY */
    long duration_ms;
    int http_status;
    const char *error;
};

/* Records an attempt and the delivery's new state, guarded by the claim (owner and attempt):
 * a sender whose lease ran out records nothing. RH_OK, or a failure status with err set. */
enum rh_status store_notify_record(PGconn *c, const struct store_notify_outcome *o, char *err,
                                   size_t errlen);

/* Deletes up to limit notifications older than days whose deliveries are all finished. */
enum rh_status store_notify_prune(PGconn *c, int days, int limit, long *deleted, char *err,
                                  size_t errlen);

/* Deliveries pending now (a gauge). */
enum rh_status store_notify_pending(PGconn *c, long *pending, char *err, size_t errlen);

/* GET /notifications: {"notifications": [...]} newest first, at most limit, only job's when
 * job is not NULL (a UUID), each with its deliveries and their attempts. A URL sink shows only
 * its scheme, host and port: a URL's path or query may hold what a reader should not see. */
enum rh_status store_view_notifications(PGconn *c, const char *job, int limit, char **json,
                                        char *err, size_t errlen);

/* Opens a connection to the manifests database (MANIFESTS_DATABASE_URL); NULL with a redacted
 * message in err. The caller owns it (PQfinish). */
PGconn *store_manifest_open(const char *url, char *err, size_t errlen);

/* Writes the mapped columns of cfg's status columns from status (a notification's status
 * JSON) to the manifest row whose id is its manifest_id, unless the row's updated_at column
 * already holds a newer time. *rows: 1 written, 0 when the row is gone or newer. */
enum rh_status store_manifest_status_write(PGconn *c, const struct config *cfg, const char *status,
                                           int *rows, char *err, size_t errlen);

/* What the manifests database says of one column of cfg's table (railhook check). */
struct store_manifest_column {
    char name[64];
    bool exists;
    bool may_update;
    bool may_select;
};

/* Looks up the id column and every mapped column of cfg's status columns on the manifests
 * table: out[0] is id, out[1..] the mapped columns in order (cfg->nstatus_columns + 1 in all).
 * *table_found false when the table is not there (then no column exists). */
enum rh_status store_manifest_columns_check(PGconn *c, const struct config *cfg, bool *table_found,
                                            struct store_manifest_column *out, char *err,
                                            size_t errlen);

#endif
