/* The one result type for calls across modules, in the spirit of curl's CURLcode. */
#ifndef RAILHOOK_STATUS_H
#define RAILHOOK_STATUS_H

enum rh_status {
    RH_OK = 0,
    RH_NOT_FOUND,   /* the thing asked for does not exist */
    RH_CONFLICT,    /* the thing is in a state that forbids the operation */
    RH_INVALID,     /* the input is malformed or fails validation */
    RH_UNAVAILABLE, /* the database (or another dependency) cannot be reached now */
    RH_TRANSIENT,   /* a failure worth retrying later */
    RH_PERMANENT,   /* a failure that retrying will not fix */
    RH_LEASE_LOST,  /* another worker owns the job now */
    RH_CANCELLED,   /* the job was asked to stop */
    RH_STOPPING,    /* the process is shutting down: hand the job back unfinished */
    RH_PARKED,      /* the job waits on something outside (job_park()): it frees its worker */
};

/* A short stable name for a status ("ok", "not_found", ...). */
const char *rh_status_name(enum rh_status st);

#endif
