/* Railway's public GraphQL API: the client (one per thread, over libcurl), the shared rate
 * limiter (one per process) and the classification of every answer into success, transient
 * or permanent failure. Every operation is a named document in railway/ops/, embedded at
 * build time as the operation table (railway/ops_gen.h: RAILWAY_OP_SERVICE_CREATE, ...) and
 * sent with variables; no document is ever built from strings, and an operation without a
 * document does not compile. */
#ifndef RAILHOOK_RAILWAY_H
#define RAILHOOK_RAILWAY_H

#include "railway/ops_gen.h"
#include "util/config.h"
#include "util/status.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the embedded operations ---- */

/* Calls fn for every document of the operation table (railway_ops[], generated from
 * railway/ops/ with enum railway_op): its file name, operation name and text. */
void railway_op_each(void (*fn)(void *ud, const char *file, const char *op, const char *text),
                     void *ud);

/* The document of op, whose one root field is aliased d0 with one variable $d0, expanded to n
 * copies of that field (aliases d0..d<n-1>, variables $d0..$d<n-1>, String!): how the watcher
 * reads n deployments in one request with RAILWAY_OP_DEPLOYMENTS_WATCH. A new string (free()),
 * or NULL when op's document has no such shape or n < 1. */
char *railway_op_expand(enum railway_op op, int n);

/* ---- the shared rate limiter ---- */

struct railway_limiter;

/* A token bucket of rps requests per second (burst rps) and an hourly budget, shared by
 * every worker of the process. Free with railway_limiter_free(). */
struct railway_limiter *railway_limiter_new(int rps, int hourly_budget);
void railway_limiter_free(struct railway_limiter *l);
/* Takes one request's worth of budget, waiting as needed, but not past max_wait_ms. Returns
 * the milliseconds waited, or -1 (nothing taken) when the wait would be longer; then
 * *retry_in_ms says how long until a request could go. */
int64_t railway_limiter_acquire(struct railway_limiter *l, int64_t max_wait_ms,
                                int64_t *retry_in_ms);
/* Feeds what Railway said: X-RateLimit-Remaining (-1 unknown), X-RateLimit-Reset as the
 * milliseconds until the window resets (0 unknown; at most an hour), Retry-After (seconds, 0
 * none). */
void railway_limiter_observe(struct railway_limiter *l, long remaining, int64_t reset_in_ms,
                             int retry_after_s);

/* The hourly budget at a glance, for GET /railway/budget. */
struct railway_budget {
    long hourly_budget;   /* RAILWAY_HOURLY_BUDGET */
    long spent_last_hour; /* requests the bucket has not yet earned back */
    long remaining;       /* requests that could go now (0 while Railway asked for a pause) */
    long resets_in_s;     /* seconds until the bucket is whole again (or the pause ends) */
};
/* Fills *out from the limiter's state now, under its lock, changing nothing. The hourly
 * bucket refills continuously, so "spent in the last hour" is what it has yet to earn back. */
void railway_limiter_budget(struct railway_limiter *l, struct railway_budget *out);
/* Milliseconds until the hourly budget (and any pause Railway asked for) lets one more request
 * go after ahead others waiting before it: the estimate a job waiting for budget shows. */
int64_t railway_limiter_budget_eta_ms(struct railway_limiter *l, int ahead);

/* ---- what a call ended with ---- */

/* What kind of failure a Railway call met. Every comparison is on these; the stable string
 * code of each (kept in job rows and events, shown by the API) is railway_error_name(). */
enum railway_error {
    RAILWAY_ERR_NONE,               /* "ok": the call succeeded */
    RAILWAY_ERR_INVALID_REQUEST,    /* HTTP 400: the document or its variables */
    RAILWAY_ERR_NOT_AUTHORIZED,     /* HTTP 401/403 or a "not authorized" error */
    RAILWAY_ERR_NOT_FOUND,          /* a "not found" error */
    RAILWAY_ERR_PROBLEM,            /* a "problem processing request" (transient) error */
    RAILWAY_ERR_RATE_LIMITED,       /* HTTP 429 or a "rate limit" error */
    RAILWAY_ERR_ERROR,              /* any other error in a 200 answer */
    RAILWAY_ERR_UNAVAILABLE,        /* HTTP 5xx */
    RAILWAY_ERR_HTTP_ERROR,         /* any other HTTP status */
    RAILWAY_ERR_BAD_RESPONSE,       /* not JSON, no data, or data without what was asked */
    RAILWAY_ERR_NOT_CONFIGURED,     /* no token */
    RAILWAY_ERR_BUDGET,             /* the limiter's budget is spent for now */
    RAILWAY_ERR_RESPONSE_TOO_LARGE, /* the answer passed the response cap */
    RAILWAY_ERR_TIMEOUT,            /* no answer in time */
    RAILWAY_ERR_NETWORK,            /* no answer: connection, TLS, DNS */
    RAILWAY_ERR_EDGE,               /* HTTP 401/403 that is not GraphQL JSON: an edge page */
};

/* The stable code of e ("ok", "railway_not_found", ...): static storage. */
const char *railway_error_name(enum railway_error e);

/* ---- the client ---- */

struct railway_client;

/* One answer, classified. */
struct railway_result {
    enum rh_status status;    /* RH_OK, RH_TRANSIENT or RH_PERMANENT */
    long http_status;         /* 0 when no answer arrived */
    int retry_after_ms;       /* transient: the wait Railway (or the limiter) asked for */
    cJSON *data;              /* the "data" member on success (points into body) */
    cJSON *body;              /* the parsed answer (owned), or NULL */
    char *excerpt;            /* the answer's first bytes, redacted (owned), or NULL */
    enum railway_error error; /* RAILWAY_ERR_NONE on success */
    char message[512];        /* Railway's message or the transport error, redacted */
    long rate_limit;          /* X-RateLimit-Limit of the answer, -1 when absent */
    long rate_remaining;      /* X-RateLimit-Remaining, -1 when absent */
    int64_t rate_reset_in_ms; /* X-RateLimit-Reset as ms from the answer, 0 when absent */
};

/* How an X-RateLimit-Reset value was read (Railway does not document its format). */
enum railway_reset_format {
    RAILWAY_RESET_NONE,       /* no header */
    RAILWAY_RESET_EPOCH_S,    /* a number above 10^9: epoch seconds */
    RAILWAY_RESET_EPOCH_MS,   /* a number above 10^12: epoch milliseconds */
    RAILWAY_RESET_DELTA_S,    /* a smaller number: seconds until the reset */
    RAILWAY_RESET_HTTP_DATE,  /* "Wed, 21 Oct 2026 07:28:00 GMT" */
    RAILWAY_RESET_ISO_DATE,   /* "2026-10-21T07:28:00Z", fractions and offsets allowed */
    RAILWAY_RESET_UNREADABLE, /* none of these: ignored */
};

/* The name of f ("epoch_seconds", "http_date", ...): static storage. */
const char *railway_reset_format_name(enum railway_reset_format f);

/* An answer as it arrived: the status line, the headers railhook reads, the body. */
struct railway_answer {
    int64_t now_ms;           /* wall clock when the answer came: dates are read against it */
    long http_status;         /* 0 when no answer arrived */
    long rate_limit;          /* X-RateLimit-Limit, -1 when absent */
    long rate_remaining;      /* X-RateLimit-Remaining, -1 when absent */
    int64_t rate_reset_in_ms; /* X-RateLimit-Reset as ms from now_ms (0..3600000), 0 absent */
    enum railway_reset_format reset_format; /* how X-RateLimit-Reset was read */
    char reset_raw[48];                     /* X-RateLimit-Reset as sent (for the log) */
    int retry_after_s; /* Retry-After (seconds or an HTTP date) in seconds (1..3600), 0 absent */
    const char *body;  /* not NUL-terminated; may be NULL when body_len is 0 */
    size_t body_len;
};

/* Sets a to "nothing received yet" at wall-clock time now_ms: status 0, every header
 * absent, no body. */
void railway_answer_init(struct railway_answer *a, int64_t now_ms);
/* Reads one raw header line ("Name: value\r\n", not NUL-terminated) into a; other headers
 * are ignored. X-RateLimit-Reset is read as epoch seconds or milliseconds, seconds until the
 * reset, or an HTTP or ISO 8601 date, and capped at one hour (Railway's rate window). */
void railway_answer_header(struct railway_answer *a, const char *line, size_t len);
/* Classifies a complete answer into res (status, code, redacted message and excerpt,
 * retry_after_ms, parsed body and data, rate-limit fields) without I/O: a pure function of
 * a (and the registered secrets). Free res with railway_result_free(). */
enum rh_status railway_classify(const struct railway_answer *a, struct railway_result *res);
/* Sets res's status, error and redacted message for a failure found before any answer. */
void railway_result_fail(struct railway_result *res, enum rh_status st, enum railway_error error,
                         const char *msg);
/* Replaces res's excerpt with the redacted first bytes of body (nothing when len is 0). */
void railway_result_excerpt(struct railway_result *res, const char *body, size_t len);

/* Makes a client for the calling thread, using cfg's URL, token and timeout, and the shared
 * limiter. Free with railway_client_free(). */
struct railway_client *railway_client_new(const struct config *cfg, struct railway_limiter *lim);
void railway_client_free(struct railway_client *c);
/* True when a token of any kind is configured. */
bool railway_client_has_token(const struct config *cfg);
/* The token railhook uses, by precedence: RAILWAY_API_TOKEN, else RAILWAY_TOKEN, else
 * RAILWAY_PROJECT_TOKEN (the first set), or NULL; *var names its variable (static). The
 * others are ignored. */
const char *railway_token_pick(const struct config *cfg, const char **var);
/* Whether c sends its token as Authorization: Bearer (an account or workspace token) rather
 * than Project-Access-Token (a project token). A token goes first in the header its variable
 * says (Bearer for RAILWAY_API_TOKEN and RAILWAY_TOKEN), swapped when cfg says so. */
bool railway_client_bearer(const struct railway_client *c);
/* Sends c's token in the other header from now on. */
void railway_client_token_swap(struct railway_client *c);
/* Finds which header Railway accepts c's token in: asks in the current one (Bearer: the
 * project RAILWAY_PROJECT_ID, or `me` without it; Project-Access-Token: `projectToken`) and,
 * when Railway answers Not Authorized, in the other. Returns RH_OK with c sending the header
 * that works (*swapped: it is not the one its variable says), RH_PERMANENT when Railway
 * refuses both (c unchanged), RH_TRANSIENT when it could not tell; msg says what was found. */
enum rh_status railway_token_detect(struct railway_client *c, const struct config *cfg,
                                    bool *swapped, char *msg, size_t msglen);
/* Sends the operation op with variables (may be NULL; not consumed) and classifies the
 * answer into res; free res with railway_result_free(). Waits for the limiter at most
 * max_wait_ms; a longer wait returns RH_TRANSIENT with retry_after_ms set. */
enum rh_status railway_call(struct railway_client *c, enum railway_op op, const cJSON *variables,
                            int64_t max_wait_ms, struct railway_result *res);
/* railway_call() for op's document expanded to n copies of its root field
 * (railway_op_expand()); variables hold $d0..$d<n-1>. */
enum rh_status railway_call_expanded(struct railway_client *c, enum railway_op op, int n,
                                     const cJSON *variables, int64_t max_wait_ms,
                                     struct railway_result *res);
void railway_result_free(struct railway_result *res);
/* The result's details for a job event: {"operation" (op, the operation's name),
 * "http_status", "code", "message", "errors", "response_excerpt"} (new object, caller
 * deletes). */
cJSON *railway_result_details(const char *op, const struct railway_result *res);
/* Requests sent by this client so far, and how many got 429 (metrics). */
long railway_client_requests(const struct railway_client *c);

#endif
