/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-fwd's Prometheus metrics (apps/common/metrics.h), the same shape
 * as vhost-switch's under the prefix vhost_fwd_ (docs/operations.md):
 * ports and queues from the ethdev snapshot (fwd_ethdev.c).
 */
#include <stdatomic.h>

#include "ethdev_prom.h"
#include "fwd.h"
#include "metrics.h"
#include "sdnotify.h"

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

static void port_labels(struct prom_labels *l, const struct fwd_port *p)
{
	prom_labels_clear(l);
	prom_label_u(l, "port", (unsigned long)p->id);
	prom_label(l, "name", p->path);
	prom_label(l, "driver", "vhost_user");
}

static void worker_labels(struct prom_labels *l, const struct fwd *f)
{
	prom_labels_clear(l);
	prom_label(l, "worker", "0");
	if (f->cpu >= 0)
		prom_label_u(l, "cpu", (unsigned long)f->cpu);
	else
		prom_label(l, "cpu", "");
}

static void fwd_metrics_render(struct prom *pr, void *arg)
{
	const struct fwd *f = arg;
	struct ethdev_provider ethdev;
	struct prom_labels l;
	uint64_t packets = 0, passes = LOAD(f->passes);
	uint64_t idle = LOAD(f->idle_passes);
	int i;

	/* Ports and queues: the ethdev snapshot, as /ethdev/stats shows. */
	fwd_ethdev_provider((struct fwd *)f, &ethdev);
	ethdev_prom_render(pr, "vhost_fwd", &ethdev);
	prom_family(pr, "vhost_fwd_port_connects_total", PROM_COUNTER,
		    "Times a front-end connected and started the port.");
	for (i = 0; i < f->nports; i++) {
		port_labels(&l, &f->ports[i]);
		prom_value(pr, &l, LOAD(f->ports[i].connects));
		packets += LOAD(f->ports[i].rx_packets);
	}
	prom_family(pr, "vhost_fwd_worker_passes_total", PROM_COUNTER,
		    "Worker loop passes.");
	worker_labels(&l, f);
	prom_value(pr, &l, passes);
	prom_family(pr, "vhost_fwd_worker_busy_passes_total", PROM_COUNTER,
		    "Worker loop passes that moved packets.");
	prom_value(pr, &l, passes > idle ? passes - idle : 0);
	prom_family(pr, "vhost_fwd_worker_packets_total", PROM_COUNTER,
		    "Packets the worker received.");
	prom_value(pr, &l, packets);
}

struct metrics *fwd_ops_start(struct fwd *f, const struct metrics_params *mp,
			      int *err)
{
	struct metrics *m = metrics_start(mp, fwd_metrics_render, f, err);

	if (*err)
		return NULL;
	sd_notify_status("mode %d, %d port(s)", (int)f->mode, f->nports);
	sd_notify_send("READY=1");
	return m;
}
