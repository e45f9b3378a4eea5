/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Which worker polls which (port, queue pair). A vhost port's units are the
 * TX rings its guest enabled (a guest changes its queue count at run time:
 * QEMU turns that into SET_VRING_ENABLE, which reaches us as
 * vring_state_changed); a TAP port is one unit. Every change re-plans on
 * the event thread, under assign_lock: the plan keeps units where they
 * are unless the loads differ by more than one. Applying it takes the
 * leaving units out of their workers' slots, waits the workers out
 * (sw_quiesce), then gives the arriving units to their new workers: a ring
 * is never polled by two workers, and never by anyone after the callback
 * that disabled it returns.
 */
#include <inttypes.h>
#include <linux/virtio_net.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "switch.h"

static struct sw *sw_of(struct sw_port *port)
{
	return (struct sw *)((char *)(port - port->id) -
			     offsetof(struct sw, ports));
}

void sw_sched_plan(uint8_t owner[][SW_MAX_QP], const uint64_t *want,
		   unsigned nports, unsigned nworkers)
{
	unsigned load[SW_MAX_WORKERS] = { 0 };

	if (nworkers == 0 || nworkers > SW_MAX_WORKERS)
		return;
	for (unsigned p = 0; p < nports; p++) {
		for (unsigned q = 0; q < SW_MAX_QP; q++) {
			if (!(want[p] >> q & 1) || owner[p][q] > nworkers)
				owner[p][q] = 0;
			else if (owner[p][q])
				load[owner[p][q] - 1]++;
		}
	}
	for (unsigned p = 0; p < nports; p++) {
		for (unsigned q = 0; q < SW_MAX_QP; q++) {
			unsigned best = 0;

			if (!(want[p] >> q & 1) || owner[p][q])
				continue;
			for (unsigned w = 1; w < nworkers; w++)
				if (load[w] < load[best])
					best = w;
			owner[p][q] = (uint8_t)(best + 1);
			load[best]++;
		}
	}
	/* Even out: each move takes the last unit of the most loaded. */
	for (;;) {
		unsigned hi = 0, lo = 0;
		bool moved = false;

		for (unsigned w = 1; w < nworkers; w++) {
			if (load[w] > load[hi])
				hi = w;
			if (load[w] < load[lo])
				lo = w;
		}
		if (load[hi] <= load[lo] + 1)
			break;
		for (unsigned p = nports; p-- > 0 && !moved;) {
			for (unsigned q = SW_MAX_QP; q-- > 0 && !moved;) {
				if (owner[p][q] != hi + 1)
					continue;
				owner[p][q] = (uint8_t)(lo + 1);
				moved = true;
			}
		}
		load[hi]--;
		load[lo]++;
	}
}

static void slot_clear(struct sw_worker *w, uint32_t unit)
{
	unsigned n = atomic_load(&w->nslots);

	for (unsigned i = 0; i < n; i++) {
		if (atomic_load(&w->units[i]) == unit) {
			atomic_store_explicit(&w->units[i], 0,
					      memory_order_release);
			atomic_fetch_sub(&w->nunits, 1);
			return;
		}
	}
}

static void slot_set(struct sw_worker *w, uint32_t unit)
{
	unsigned n = atomic_load(&w->nslots), i = 0;

	while (i < n && atomic_load(&w->units[i]))
		i++;
	if (i >= SW_MAX_UNITS)
		return; /* cannot happen: a worker has a slot for every unit */
	atomic_store_explicit(&w->units[i], unit, memory_order_release);
	if (i == n)
		atomic_store_explicit(&w->nslots, n + 1, memory_order_release);
	atomic_fetch_add(&w->nunits, 1);
}

/* Re-plan and apply, under assign_lock. */
static void sched_update(struct sw *sw)
{
	static uint8_t next[SW_MAX_PORTS][SW_MAX_QP]; /* under assign_lock */
	uint64_t want[SW_MAX_PORTS];
	bool left = false;

	for (unsigned p = 0; p < sw->nports; p++) {
		struct sw_port *port = &sw->ports[p];

		want[p] = atomic_load(&port->up) ?
			  atomic_load(&port->txq_on) : 0;
	}
	memcpy(next, sw->owner, sizeof(next));
	sw_sched_plan(next, want, sw->nports, sw->nworkers);
	for (unsigned p = 0; p < sw->nports; p++) {
		for (unsigned q = 0; q < SW_MAX_QP; q++) {
			uint8_t o = sw->owner[p][q];

			if (o && o != next[p][q]) {
				slot_clear(&sw->workers[o - 1], SW_UNIT(p, q));
				left = true;
			}
		}
	}
	/* The leaving units are out of every worker's hands before they are
	 * given to another or their ring goes away. */
	if (left)
		sw_quiesce(sw);
	for (unsigned p = 0; p < sw->nports; p++) {
		for (unsigned q = 0; q < SW_MAX_QP; q++) {
			uint8_t o = next[p][q];

			if (o && o != sw->owner[p][q])
				slot_set(&sw->workers[o - 1], SW_UNIT(p, q));
			sw->owner[p][q] = o;
		}
		atomic_store(&sw->ports[p].worker, (int)next[p][0] - 1);
	}
}

void sw_assign_port(struct sw *sw, struct sw_port *port)
{
	pthread_mutex_lock(&sw->assign_lock);
	/* An uplink (TAP, NIC, VXLAN) has one queue, on from the start; a
	 * vhost port's rings come with vring_state_changed. */
	if (port->kind != PORT_VHOST) {
		atomic_store(&port->txq_on, 1);
		atomic_store(&port->rxq_on, 1);
	}
	sched_update(sw);
	pthread_mutex_unlock(&sw->assign_lock);
}

void sw_unassign_port(struct sw *sw, struct sw_port *port)
{
	pthread_mutex_lock(&sw->assign_lock);
	atomic_store(&port->txq_on, 0);
	atomic_store(&port->rxq_on, 0);
	sched_update(sw);
	pthread_mutex_unlock(&sw->assign_lock);
}

void sw_vring_state_changed(struct vhost_dev *dev, uint16_t queue, bool on)
{
	struct sw_port *port = vhost_dev_socket_opaque(dev);
	struct sw *sw = sw_of(port);
	unsigned qp = queue / 2;
	_Atomic uint64_t *mask = queue & 1 ? &port->txq_on : &port->rxq_on;

	if (atomic_load(&port->dev) != dev || qp >= SW_MAX_QP)
		return;
	pthread_mutex_lock(&sw->assign_lock);
	if (on)
		atomic_fetch_or(mask, 1ull << qp);
	else
		atomic_fetch_and(mask, ~(1ull << qp));
	if (queue & 1)
		sched_update(sw);
	else if (!on)
		sw_quiesce(sw); /* no sender still picks the disabled RX ring */
	pthread_mutex_unlock(&sw->assign_lock);
	if (queue & 1)
		fprintf(stderr, "port %u: queue pair %u %s; polled 0x%" PRIx64
			", receiving 0x%" PRIx64 "\n", port->id, qp,
			on ? "on" : "off", atomic_load(&port->txq_on),
			atomic_load(&port->rxq_on));
}

int sw_port_setup_queues(struct sw_port *port)
{
	int ret;

	if (port->queues <= 1)
		return 0;
	ret = vhost_socket_enable_features(port->sock, 1ull << VIRTIO_NET_F_MQ);
	if (!ret)
		ret = vhost_socket_set_max_queue_pairs(port->sock, port->queues);
	return ret;
}

/* Queue pairs worth showing: up to the last that carried a packet. */
static unsigned shown_queues(const struct sw_port *port)
{
	unsigned n = 0;

	for (unsigned q = 0; q < SW_MAX_QP; q++)
		if (atomic_load(&port->q_rx_packets[q]) ||
		    atomic_load(&port->q_tx_packets[q]))
			n = q + 1;
	return n;
}

void sw_print_queues(const struct sw_port *port, FILE *o)
{
	unsigned n = shown_queues(port);

	if (port->kind != PORT_VHOST || n == 0)
		return;
	fprintf(o, "     queues (polled 0x%" PRIx64 ", receiving 0x%" PRIx64 "):",
		atomic_load(&port->txq_on), atomic_load(&port->rxq_on));
	for (unsigned q = 0; q < n; q++)
		fprintf(o, " q%u rx %" PRIu64 " tx %" PRIu64, q,
			atomic_load(&port->q_rx_packets[q]),
			atomic_load(&port->q_tx_packets[q]));
	fputc('\n', o);
}

void sw_json_queues(const struct sw_port *port, struct jw *w)
{
	unsigned n = shown_queues(port);

	jw_arr_open(w, "queues");
	for (unsigned q = 0; q < n; q++) {
		jw_obj_open(w, NULL);
		jw_u64(w, "rx_packets", atomic_load(&port->q_rx_packets[q]));
		jw_u64(w, "tx_packets", atomic_load(&port->q_tx_packets[q]));
		jw_obj_close(w);
	}
	jw_arr_close(w);
}
