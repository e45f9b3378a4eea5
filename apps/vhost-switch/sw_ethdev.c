/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-switch's ports as ethdev snapshots (apps/common/ethdev.h), for
 * the /ethdev commands and the metrics. Runs on the control thread: reads only the
 * ports' atomic counters and, for vhost ports, the per-ring totals (whose
 * lock keeps the device alive while it is read).
 */
#include <string.h>

#include "switch.h"

static unsigned sw_list(void *arg, uint16_t *ids, unsigned max)
{
	struct sw *sw = arg;
	unsigned n = 0;

	for (unsigned i = 0; i < sw->nports && n < max; i++)
		if (atomic_load(&sw->ports[i].state) != SW_SLOT_FREE)
			ids[n++] = (uint16_t)i; /* ports come and go */
	return n;
}

static const char *driver_of(const struct sw_port *p)
{
	switch (p->kind) {
	case PORT_VHOST: return "vhost_user";
	case PORT_TAP: return "tap";
	case PORT_NIC: return "af_packet";
	case PORT_VXLAN: return "vxlan";
	}
	return "";
}

static int port_snapshot(struct sw *sw, uint16_t id, struct ethdev_port *out);

/* Under cfg_lock: ports come and go (port_add/port_del), and a removed
 * port's slot gets a new name and fresh totals. */
static int sw_snapshot(void *arg, uint16_t id, struct ethdev_port *out)
{
	struct sw *sw = arg;
	int ret = -1;

	pthread_mutex_lock(&sw->cfg_lock);
	if (id < sw->nports &&
	    atomic_load(&sw->ports[id].state) != SW_SLOT_FREE)
		ret = port_snapshot(sw, id, out);
	pthread_mutex_unlock(&sw->cfg_lock);
	return ret;
}

static int port_snapshot(struct sw *sw, uint16_t id, struct ethdev_port *out)
{
	struct sw_port *p;
	unsigned nq;

	if (id >= sw->nports)
		return -1;
	p = &sw->ports[id];
	out->port_id = id;
	snprintf(out->name, sizeof(out->name), "%s",
		 p->kind == PORT_VHOST ? p->name : p->kind == PORT_VXLAN ?
		 "vxlan" : p->ifname);
	snprintf(out->driver_name, sizeof(out->driver_name), "%s",
		 driver_of(p));
	out->link_up = atomic_load(&p->up);
	out->link_speed = 10000; /* as DPDK's vhost and tap PMDs report */
	out->mtu = 1500;
	out->ipackets = atomic_load(&p->rx_packets);
	out->ibytes = atomic_load(&p->rx_bytes);
	out->imissed = atomic_load(&p->rx_drops);
	out->opackets = atomic_load(&p->tx_packets);
	out->obytes = atomic_load(&p->tx_bytes);
	out->oerrors = atomic_load(&p->tx_drops);
	if (p->kind != PORT_VHOST) {
		out->nb_rx_queues = out->nb_tx_queues = 1;
		out->rxq[0].packets = out->ipackets;
		out->rxq[0].bytes = out->ibytes;
		out->txq[0].packets = out->opackets;
		out->txq[0].bytes = out->obytes;
		return 0;
	}
	nq = p->queues ? p->queues : 1;
	if (nq > ETHDEV_MAX_QUEUES)
		nq = ETHDEV_MAX_QUEUES;
	out->nb_rx_queues = out->nb_tx_queues = (uint16_t)nq;
	ethdev_vq_totals_read(&p->vq_totals, out, nq);
	/* What the rings refused as malformed is the port's input errors;
	 * an empty pool is rx_nombuf. */
	for (unsigned q = 0; q < nq; q++) {
		const uint64_t *d = out->rxq[q].drops;
		out->rxq[q].errors = d[VHOST_DROP_BAD_DESC] +
				     d[VHOST_DROP_BAD_ADDR] +
				     d[VHOST_DROP_BAD_HDR] + d[VHOST_DROP_TOO_BIG];
		out->ierrors += out->rxq[q].errors;
		out->rx_nombuf += d[VHOST_DROP_NO_PKTBUF];
	}
	return 0;
}

void sw_ethdev_provider(struct sw *sw, struct ethdev_provider *out)
{
	*out = (struct ethdev_provider){ .list = sw_list,
					 .snapshot = sw_snapshot,
					 .arg = sw };
}
