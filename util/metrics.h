/* Process-wide Prometheus metrics: counters, gauges and histograms keyed by name and label set,
 * safe to update from any thread, rendered in the text exposition format (0.0.4). */
#ifndef RAILHOOK_METRICS_H
#define RAILHOOK_METRICS_H

#include "util/util.h"

/* Adds v to the counter name{labels}; labels is the inside of the braces, already escaped
 * (e.g. "route=\"/jobs\",status=\"200\""), or "" for none. The name must be declared in
 * util/metrics.c's table. */
void metrics_count(const char *name, const char *labels, double v);
/* Records one observation of the histogram name{labels}. */
void metrics_observe(const char *name, const char *labels, double v);
/* Sets the gauge name{labels} to v (a gauge of util/metrics.c's table that railhook updates as
 * it goes, e.g. the Railway budget left). */
void metrics_set(const char *name, const char *labels, double v);
/* Appends every series, with HELP and TYPE lines, to out. */
void metrics_render(struct buf *out);
/* For gauges read at scrape time: the HELP and TYPE lines once, then one line per sample. */
void metrics_gauge_header(struct buf *out, const char *name, const char *help);
void metrics_gauge_sample(struct buf *out, const char *name, const char *labels, double v);

#endif
