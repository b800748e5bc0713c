/* The four Railway flows (provision, update, redeploy, deprovision) as queue handlers, with
 * provision's rollback as its compensation. */
#ifndef RAILHOOK_FLOWS_H
#define RAILHOOK_FLOWS_H

#include "railway/railway.h"
#include "util/config.h"

#include <stddef.h>

struct flows;
struct queue;

/* Loads the worker variable templates and makes the flows' shared state (the Railway rate
 * limiter). NULL with err set when the templates are unusable. Call before threads start;
 * free with flows_free() after the queue has stopped. */
struct flows *flows_new(const struct config *cfg, char *err, size_t errlen);
void flows_free(struct flows *fl);
/* Registers the four handlers with the queue. */
void flows_register(struct flows *fl, struct queue *q);

#endif
