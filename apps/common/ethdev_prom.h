/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ethdev snapshot (ethdev.h) as Prometheus families PREFIX_port_* and
 * PREFIX_queue_*: the same numbers /ethdev/stats and /ethdev/xstats show,
 * so the control socket and the metrics never disagree. Names and labels
 * in docs/operations.md.
 */
#ifndef APPS_ETHDEV_PROM_H
#define APPS_ETHDEV_PROM_H

#include "ethdev.h"
#include "prom.h"

/* prefix: "vhost_switch", "vhost_fwd". Snapshots are taken once per call
 * (heap, not stack: a port snapshot is large). */
void ethdev_prom_render(struct prom *p, const char *prefix,
			const struct ethdev_provider *provider);

#endif
