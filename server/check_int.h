/* The private parts of `railhook check` its files share: the check's state, the report's
 * items, and the item groups check.c runs. Single-threaded, like the check itself. */
#ifndef RAILHOOK_SERVER_CHECK_INT_H
#define RAILHOOK_SERVER_CHECK_INT_H

#include "railway/railway.h"
#include "util/config.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DETAIL_MAX 2000

enum item_status { ITEM_OK, ITEM_WARN, ITEM_FAIL };

struct item {
    char *name;
    enum item_status status;
    char *detail;
    char *hint; /* NULL when there is nothing to do */
};

/* What Railway made of the token; TOKEN_UNKNOWN until it answered. */
enum token_kind { TOKEN_UNKNOWN, TOKEN_REFUSED, TOKEN_ACCOUNT, TOKEN_WORKSPACE, TOKEN_PROJECT };

struct check {
    struct config cfg;
    struct item *items;
    size_t nitems;
    /* Railway */
    struct railway_limiter *lim;
    struct railway_client *rc;
    bool reached;        /* Railway answered something over HTTP */
    bool unreachable;    /* a transport failure or a 5xx: stop asking */
    char transport[600]; /* what went wrong on the way */
    int64_t first_ms;    /* how long the first answer took */
    enum token_kind kind;
    bool token_swapped; /* the token is sent in the other header than its variable says */
    long rate_limit, rate_remaining;
    int64_t rate_reset_in_ms;
    int64_t busy_waited_ms; /* waited out for Railway's 429s and edge blocks so far */
    int busy_retries;       /* requests sent again after one */
    bool busy_gave_up;      /* the wait budget is spent: ask Railway nothing more */
    cJSON *project;         /* CheckProject's project, or NULL */
    struct railway_result project_res;
    bool project_tried;
};

/* Appends item name to the report with status st, the detail formatted from fmt (made one
 * line, redacted) and hint (NULL when there is nothing to do; redacted). */
void check_item_add(struct check *ck, const char *name, enum item_status st, const char *hint,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Whether s is set and not empty. */
bool check_is_set(const char *s);

/* The database, migrations and db_pool items (check_db.c); needs ck->cfg loaded. */
void check_database(struct check *ck);

/* The notifications and write_back items (check_notify.c). */
void check_notify(struct check *ck);

/* The Railway items, railway_endpoint to rate_limit (check_railway.c): at most six requests,
 * 429s waited out within one budget. Leaves ck->rc, ck->lim and ck->project_res for the
 * caller to free. */
void check_railway(struct check *ck);

#endif
