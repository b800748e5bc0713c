/* server: what railway-sim's HTTP side shares between its files: the server, one request, one
 * reply, and the command-line options. */
#ifndef RAILWAY_SIM_SERVER_H
#define RAILWAY_SIM_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "railway/graphql.h"
#include "sim.h"
#include "util/util.h"

#define BODY_MAX (1024 * 1024)

struct server {
    struct sim sim;
    cJSON *introspection;         /* the schema file as parsed; sim.schema points into it */
    struct graphql_schema schema; /* the same, for validation */
    char **tokens;
    size_t token_count;
    char **project_tokens;
    size_t project_token_count;
    char **workspace_tokens;
    size_t workspace_token_count;
    bool quiet;
};

/* One per HTTP request: created on the first callback, freed in on_completed(). */
struct request {
    struct buf body;
    bool too_big; /* the body passed BODY_MAX */
    int64_t start_ms;
    bool rejected; /* a response was queued before the body arrived */
};

struct reply {
    unsigned status;
    char *body;
    void (*body_free)(void *);
    const char *content_type;
    bool reset; /* close the connection without answering */
    bool has_rate;
    struct sim_rate rate;
    long retry_after;                      /* 0: no Retry-After */
    char reset_value[48], retry_value[48]; /* the rate headers as the configured formats say */
    long slow_ms;                          /* answer this late (a slow deploy mutation) */
    const char *allow;
    /* for the log line */
    char op[96];
    char fields[160];
    char note[64];
    int error_count;
};

struct options {
    struct sim_config config;
    long port;
    char *bind;
    bool help;
};

/* ---- reply.c --------------------------------------------------------------------------------- */

/* Sets a JSON reply (takes doc). */
void reply_json(struct reply *r, unsigned status, cJSON *doc);
/* Sets a reply of text with a content type. */
void reply_text(struct reply *r, unsigned status, const char *content_type, const char *text);
/* Sets extensions.code on every error of the list that has none. */
void reply_errors_code(cJSON *errors, const char *code);
/* {"errors":[{"message", "extensions":{"code"}}]} with an optional "data": null. */
void reply_error(struct reply *r, unsigned status, const char *code, bool with_data,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Queues the reply on the connection (or resets it). */
enum MHD_Result reply_send(struct MHD_Connection *conn, struct reply *r);
/* One log line on stderr for the request, unless quiet. */
void reply_log(const struct server *srv, const char *method, const char *url, const struct reply *r,
               int64_t start_ms);

/* ---- control.c ------------------------------------------------------------------------------- */

/* Answers a /_sim/... control request. */
void control_handle(struct server *srv, const char *method, const char *url, struct request *req,
                    struct reply *r);

/* ---- options.c ------------------------------------------------------------------------------- */

/* Parses argv into o and srv (defaults first); returns 0, or -1 after naming the bad flag on
 * stderr. */
int options_parse(struct options *o, struct server *srv, int argc, char **argv);
/* Prints the flags. */
void options_usage(FILE *to);
/* Frees a list of strings. */
void options_list_free(char **list, size_t count);

#endif
