/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Metrics for Prometheus (prom.h format), two ways:
 *   --metrics-textfile PATH  the file is rewritten every --metrics-interval
 *                            seconds (default 10) and at exit, for
 *                            node_exporter's textfile collector: written to
 *                            PATH.tmp in the same directory, then renamed,
 *                            so a reader never sees half a file (no fsync:
 *                            after a crash the next write replaces it);
 *   --metrics-listen [ADDR:]PORT  GET /metrics over HTTP (libmicrohttpd,
 *                            meson feature metrics_http), ADDR 127.0.0.1
 *                            by default, "[::1]:PORT" for IPv6; 404 for
 *                            any other path.
 * Each has its own thread; the render callback only reads counters the
 * data path publishes atomically, so workers never wait for a scrape.
 * Renders are serialised (one at a time).
 */
#ifndef APPS_METRICS_H
#define APPS_METRICS_H

#include <getopt.h>

#include "prom.h"

/* getopt_long codes of the options, above any character. */
enum {
	METRICS_OPT_TEXTFILE = 0x4d00,
	METRICS_OPT_INTERVAL,
	METRICS_OPT_LISTEN,
};

#define METRICS_LONG_OPTIONS                                                \
	{ "metrics-textfile", required_argument, NULL, METRICS_OPT_TEXTFILE }, \
	{ "metrics-interval", required_argument, NULL, METRICS_OPT_INTERVAL }, \
	{ "metrics-listen", required_argument, NULL, METRICS_OPT_LISTEN }

#define METRICS_USAGE                                                       \
	"         [--metrics-textfile PATH] [--metrics-interval S]\n"           \
	"         [--metrics-listen [ADDR:]PORT]\n"

typedef void (*metrics_render_fn)(struct prom *p, void *arg);

struct metrics_params {
	const char *textfile;    /* NULL: none */
	double interval;         /* seconds, > 0 */
	const char *listen;      /* NULL: no HTTP */
};

struct metrics;

void metrics_params_init(struct metrics_params *mp);
/* A getopt_long code: 1 if it was one of ours (consumed), 0 if not ours,
 * -1 on a bad value (message printed). */
int metrics_parse_option(struct metrics_params *mp, int code, const char *arg);
/* Write the textfile once, then start the threads. Returns NULL with
 * nothing started when neither option is set (*err = 0) or on failure
 * (*err = -errno, message printed: the textfile cannot be written, the
 * address cannot be bound...). */
struct metrics *metrics_start(const struct metrics_params *mp,
			      metrics_render_fn render, void *arg, int *err);
/* Stop the threads and write the textfile a last time. NULL is fine. */
void metrics_stop(struct metrics *m);

#endif
