/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-switch's Prometheus metrics (apps/common/metrics.h): rendered on
 * the metrics threads; ports and queues from the ethdev snapshot
 * (sw_ethdev.c, the control socket's source too), the rest from the
 * counters the workers publish atomically.
 * Names and labels are listed in docs/operations.md.
 */
#include <stdatomic.h>
#include <stddef.h>

#include "ethdev_prom.h"
#include "metrics.h"
#include "sdnotify.h"
#include "switch.h"

static const char *name_of(const struct sw_port *p)
{
	return p->kind == PORT_VHOST ? p->name : p->kind == PORT_VXLAN ?
	       "vxlan" : p->ifname;
}

/* The ethdev snapshot's driver names, so labels match across families. */
static const char *driver_of(const struct sw_port *p)
{
	return p->kind == PORT_VHOST ? "vhost_user" : p->kind == PORT_TAP ?
	       "tap" : p->kind == PORT_NIC ? "af_packet" : "vxlan";
}

static void port_labels(struct prom_labels *l, const struct sw_port *p)
{
	prom_labels_clear(l);
	prom_label_u(l, "port", p->id);
	prom_label(l, "name", name_of(p));
	prom_label(l, "driver", driver_of(p));
}

/* One sample per port, with direction and reason labels when given. */
static void per_port(struct prom *pr, const struct sw *sw, const char *dir,
		     const char *reason,
		     uint64_t (*value)(const struct sw *, unsigned))
{
	struct prom_labels l;

	/* The caller holds cfg_lock: names stay valid, free slots skipped. */
	for (unsigned i = 0; i < sw->nports; i++) {
		if (atomic_load(&sw->ports[i].state) == SW_SLOT_FREE)
			continue;
		port_labels(&l, &sw->ports[i]);
		if (dir)
			prom_label(&l, "direction", dir);
		if (reason)
			prom_label(&l, "reason", reason);
		prom_value(pr, &l, value(sw, i));
	}
}

#define LOAD(field)                                                       \
	static uint64_t field(const struct sw *sw, unsigned i)            \
	{                                                                 \
		return atomic_load_explicit(&sw->ports[i].field,          \
					    memory_order_relaxed);        \
	}
LOAD(tx_no_room)
LOAD(tx_unplaceable)
LOAD(tx_segmented)
LOAD(connects)

static uint64_t tx_other(const struct sw *sw, unsigned i)
{
	const struct sw_port *p = &sw->ports[i];
	uint64_t all = atomic_load(&p->tx_drops);
	uint64_t known = atomic_load(&p->tx_no_room) +
			 atomic_load(&p->tx_unplaceable);

	return all > known ? all - known : 0;
}

static uint64_t spoofed(const struct sw *sw, unsigned i)
{
	return atomic_load(&sw->sec[i].drop_spoof);
}

static uint64_t mac_limit(const struct sw *sw, unsigned i)
{
	return atomic_load(&sw->sec[i].drop_limit);
}

static void workers(struct prom *pr, const struct sw *sw, const char *name,
		    const char *help, size_t offset)
{
	struct prom_labels l;

	prom_family(pr, name, PROM_COUNTER, help);
	for (unsigned i = 0; i < sw->nworkers; i++) {
		const struct sw_worker *w = &sw->workers[i];

		prom_labels_clear(&l);
		prom_label_u(&l, "worker", (unsigned long)i);
		/* cpu="" when the worker is not pinned */
		if (w->cpu >= 0)
			prom_label_u(&l, "cpu", (unsigned long)w->cpu);
		else
			prom_label(&l, "cpu", "");
		prom_value(pr, &l, atomic_load((const _Atomic uint64_t *)
					       ((const char *)w + offset)));
	}
}

void sw_metrics_render(struct prom *pr, void *arg)
{
	struct sw *sw = arg;
	struct ethdev_provider ethdev;

	/* Ports and queues: the ethdev snapshot, as /ethdev/stats shows. */
	sw_ethdev_provider(sw, &ethdev);
	ethdev_prom_render(pr, "vhost_switch", &ethdev);
	/* What only the switch knows; ports come and go (port_del frees
	 * names), so under cfg_lock, after the snapshot that takes it too. */
	pthread_mutex_lock(&sw->cfg_lock);
	prom_family(pr, "vhost_switch_port_output_drops_total", PROM_COUNTER,
		    "Packets not sent to the port by reason (parts of "
		    "port_drops_total direction tx).");
	per_port(pr, sw, "tx", "no_room", tx_no_room);
	per_port(pr, sw, "tx", "unplaceable", tx_unplaceable);
	per_port(pr, sw, "tx", "other", tx_other);
	prom_family(pr, "vhost_switch_port_security_drops_total", PROM_COUNTER,
		    "Packets from the port refused by port security (parts of "
		    "port_drops_total direction rx reason missed).");
	per_port(pr, sw, "rx", "spoofed", spoofed);
	per_port(pr, sw, "rx", "mac_limit", mac_limit);
	prom_family(pr, "vhost_switch_port_tso_segmented_total", PROM_COUNTER,
		    "TSO packets cut in software for the port.");
	per_port(pr, sw, NULL, NULL, tx_segmented);
	prom_family(pr, "vhost_switch_port_connects_total", PROM_COUNTER,
		    "Times a front-end connected and started the port.");
	per_port(pr, sw, NULL, NULL, connects);
	pthread_mutex_unlock(&sw->cfg_lock);
	prom_family(pr, "vhost_switch_mac_table_entries", PROM_GAUGE,
		    "MAC addresses in the forwarding table.");
	prom_value(pr, NULL, mac_table_count(sw->macs));
	workers(pr, sw, "vhost_switch_worker_passes_total",
		"Worker loop passes.", offsetof(struct sw_worker, passes));
	workers(pr, sw, "vhost_switch_worker_busy_passes_total",
		"Worker loop passes that moved packets.",
		offsetof(struct sw_worker, busy_passes));
	workers(pr, sw, "vhost_switch_worker_packets_total",
		"Packets the worker received.",
		offsetof(struct sw_worker, packets));
	workers(pr, sw, "vhost_switch_worker_floods_total",
		"Packets the worker flooded.", offsetof(struct sw_worker, floods));
}

struct metrics *sw_ops_start(struct sw *sw, const struct metrics_params *mp,
			     int *ret)
{
	int err;
	struct metrics *m = metrics_start(mp, sw_metrics_render, sw, &err);

	if (err) {
		*ret = err;
		atomic_store(&sw->stop, true);
		return NULL;
	}
	if (!*ret && !atomic_load(&sw->stop)) {
		sd_notify_status("%u ports, %u workers", sw->nports, sw->nworkers);
		sd_notify_send("READY=1");
	}
	return m;
}
