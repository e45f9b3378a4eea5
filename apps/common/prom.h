/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A writer of Prometheus's text exposition format 0.0.4: what
 * node_exporter's textfile collector and a /metrics scrape read.
 *
 * Samples of one family must be contiguous (the format's rule): callers
 * loop family first, then over ports and queues. prom_family writes
 * "# HELP" and "# TYPE" the first time a family appears and nothing after.
 * Counter names end in _total (prom_family refuses others). Label values
 * are escaped (\\, \", \n), so socket paths are safe as labels.
 */
#ifndef APPS_PROM_H
#define APPS_PROM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define PROM_MAX_FAMILIES 64
#define PROM_MAX_NAME_LEN 96
#define PROM_MAX_LABELS_LEN 512

enum prom_type { PROM_COUNTER, PROM_GAUGE, PROM_HISTOGRAM };

struct prom {
	FILE *out;
	bool failed;           /* a misuse or a truncated label set */
	unsigned nfamilies;
	char families[PROM_MAX_FAMILIES][PROM_MAX_NAME_LEN]; /* names seen */
	const char *current;   /* family the next samples belong to, NULL:
				* none (refused) */
};

/* A label set under construction: prom_label appends key="value". */
struct prom_labels {
	char text[PROM_MAX_LABELS_LEN];
	size_t len;
	bool truncated;
};

void prom_init(struct prom *p, FILE *out);
/* Start (or continue) the family name (copied; at most
 * PROM_MAX_NAME_LEN - 1 characters); help is one line. */
void prom_family(struct prom *p, const char *name, enum prom_type type,
		 const char *help);
void prom_labels_clear(struct prom_labels *l);
void prom_label(struct prom_labels *l, const char *key, const char *value);
void prom_label_u(struct prom_labels *l, const char *key, unsigned long value);
/* One sample of the current counter or gauge family (l may be NULL). */
void prom_value(struct prom *p, const struct prom_labels *l, uint64_t value);
/* One histogram of the current family: counts[i] is the number of
 * observations in range i (not cumulative) for i < n, with upper bounds
 * le[i] for i < n - 1; counts[n - 1] is everything above le[n - 2]. The
 * writer makes the buckets cumulative, adds le="+Inf", _sum and _count. */
void prom_histogram(struct prom *p, const struct prom_labels *l,
		    const double *le, const uint64_t *counts, unsigned n,
		    double sum);
/* 0, or -1 when something was refused or the stream failed. */
int prom_finish(struct prom *p);

#endif
