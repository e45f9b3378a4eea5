/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-fwd's ports as ethdev snapshots (apps/common/ethdev.h). Runs on
 * the control thread: reads the ports' atomic counters and the per-ring
 * totals (whose lock keeps the device alive while it is read).
 */
#include <stdio.h>

#include "fwd.h"

static unsigned fwd_list(void *arg, uint16_t *ids, unsigned max)
{
	struct fwd *f = arg;
	unsigned n = 0;

	for (int i = 0; i < f->nports && n < max; i++)
		ids[n++] = (uint16_t)i;
	return n;
}

static int fwd_snapshot(void *arg, uint16_t id, struct ethdev_port *out)
{
	struct fwd *f = arg;
	struct fwd_port *p;
	unsigned nq;

	if (id >= f->nports)
		return -1;
	p = &f->ports[id];
	out->port_id = id;
	snprintf(out->name, sizeof(out->name), "%s", p->path);
	snprintf(out->driver_name, sizeof(out->driver_name), "vhost_user");
	out->link_up = atomic_load(&p->dev) != NULL;
	out->link_speed = 10000; /* as DPDK's vhost PMD reports */
	out->mtu = 1500;
	out->ipackets = atomic_load(&p->rx_packets);
	out->ibytes = atomic_load(&p->rx_bytes);
	out->ierrors = atomic_load(&p->rx_invalid);
	out->opackets = atomic_load(&p->tx_packets);
	out->obytes = atomic_load(&p->tx_bytes);
	out->oerrors = atomic_load(&p->tx_drops);
	nq = p->queues ? p->queues : f->queues;
	if (nq < 1)
		nq = 1;
	if (nq > ETHDEV_MAX_QUEUES)
		nq = ETHDEV_MAX_QUEUES;
	out->nb_rx_queues = out->nb_tx_queues = (uint16_t)nq;
	ethdev_vq_totals_read(&p->vq_totals, out, nq);
	for (unsigned q = 0; q < nq; q++)
		out->rx_nombuf += out->rxq[q].drops[VHOST_DROP_NO_PKTBUF];
	return 0;
}

void fwd_ethdev_provider(struct fwd *f, struct ethdev_provider *out)
{
	*out = (struct ethdev_provider){ .list = fwd_list,
					 .snapshot = fwd_snapshot,
					 .arg = f };
}
