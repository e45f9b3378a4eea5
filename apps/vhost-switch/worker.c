/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Workers: poll the (port, queue pair) units they own (sched.c), put each
 * frame in its network (network.h: the port's, or a trunk's tag, or the
 * VNI), check and learn source MACs (port security, port_sec.c: frames
 * from MACs a port may not use are dropped and counted; on the VXLAN
 * uplink the MAC is learned behind its VTEP), and forward each burst by
 * destination within the network: known unicast to its port (and VTEP),
 * broadcast, multicast and unknown unicast to every other port that is up
 * and carries the network; never back out of the ingress port. Packets are
 * batched per destination, one send per destination per burst; into a
 * guest, spread over its enabled RX queues by flow hash (flowhash.h).
 */
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include <linux/virtio_net.h>

#include "afpacket.h"
#include "flowhash.h"
#include "gso.h"
#include "switch.h"
#include "vxlan.h"

static void add(_Atomic uint64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static void port_lock(struct sw_port *p)
{
	while (atomic_exchange_explicit(&p->tx_lock, 1, memory_order_acquire))
		sched_yield();
}

static void port_unlock(struct sw_port *p)
{
	atomic_store_explicit(&p->tx_lock, 0, memory_order_release);
}

static uint64_t bytes_of(struct vhost_pktbuf *const *pkts, uint16_t n)
{
	uint64_t b = 0;

	for (uint16_t i = 0; i < n; i++)
		b += pkts[i]->pkt_len;
	return b;
}

/* A TSO packet the destination guest cannot take as such. */
static bool needs_segmenting(const struct vhost_pktbuf *p, uint64_t features)
{
	if (!(p->ol_flags & VHOST_PKT_F_GSO))
		return false;
	if (p->gso_type == VHOST_GSO_TCPV4)
		return !(features & (1ull << VIRTIO_NET_F_GUEST_TSO4));
	if (p->gso_type == VHOST_GSO_TCPV6)
		return !(features & (1ull << VIRTIO_NET_F_GUEST_TSO6));
	return true;
}

static bool port_send(struct sw_port *port, struct vhost_pktbuf *const *pkts,
		      uint16_t n);

/* Cut one TSO packet in batches of SW_BURST segments (any count: a 64 KiB
 * frame at MSS 536 makes 123) and send them; stop once the guest is out of
 * room, counting the segments not made as one drop of the packet. */
static void send_cut(struct sw_worker *w, struct sw_port *port,
		     const struct vhost_pktbuf *pkt)
{
	struct vhost_pktbuf *segs[SW_BURST];
	int total = gso_count(pkt);

	if (total < 0) {
		add(&port->tx_drops, 1);
		add(&port->tx_unplaceable, 1);
		return;
	}
	add(&port->tx_segmented, 1);
	for (int first = 0; first < total;) {
		int k = gso_segment(pkt, w->sw->pool, (unsigned)first, segs,
				    SW_BURST);
		bool room;

		if (k <= 0) { /* pool empty: the rest of the packet is lost */
			add(&port->tx_drops, 1);
			return;
		}
		room = port_send(port, segs, (uint16_t)k);
		vhost_pktbuf_free_bulk(segs, (unsigned)k);
		first += k;
		if (!room && first < total) {
			add(&port->tx_drops, 1);
			add(&port->tx_no_room, 1);
			return;
		}
	}
}

/* Send what the guest cannot take whole in pieces (software TSO), the rest
 * as it is, keeping the order. */
static void port_send_segmenting(struct sw_worker *w, struct sw_port *port,
				 struct vhost_pktbuf *const *pkts, uint16_t n,
				 uint64_t features)
{
	uint16_t start = 0;

	for (uint16_t i = 0; i < n; i++) {
		if (!needs_segmenting(pkts[i], features))
			continue;
		if (i > start)
			port_send(port, pkts + start, (uint16_t)(i - start));
		start = (uint16_t)(i + 1);
		send_cut(w, port, pkts[i]);
	}
	if (n > start)
		port_send(port, pkts + start, (uint16_t)(n - start));
}

/* Send n packets to port, cutting TSO packets its guest cannot take. The
 * caller keeps and later frees them. */
static void port_output(struct sw_worker *w, struct sw_port *port,
			struct vhost_pktbuf *const *pkts, uint16_t n)
{
	struct vhost_dev *dev = atomic_load_explicit(&port->dev,
						     memory_order_acquire);

	if (port->kind == PORT_VHOST && dev) {
		uint64_t features = vhost_dev_features(dev);

		for (uint16_t i = 0; i < n; i++) {
			if (needs_segmenting(pkts[i], features)) {
				port_send_segmenting(w, port, pkts, n, features);
				return;
			}
		}
	}
	port_send(port, pkts, n);
}

/* Into a guest's RX queue, by why each burst stops: a packet that can
 * never be placed is dropped and the next one tried; a busy ring is
 * retried (bounded); no room (or a stopped queue) drops the rest. Returns
 * how many were placed; *room: false if the guest ran out of room. */
static uint16_t vhost_send(struct sw_port *port, struct vhost_dev *dev,
			   unsigned q, struct vhost_pktbuf *const *pkts,
			   uint16_t n, bool *room)
{
	uint16_t off = 0, sent = 0;
	unsigned busy = 0;

	*room = true;
	while (off < n) {
		enum vhost_enqueue_status st = VHOST_ENQUEUE_DONE;
		uint16_t k = vhost_enqueue_burst_status(dev, VHOST_QUEUE_RX(q),
							pkts + off,
							(uint16_t)(n - off), &st);

		add(&port->tx_bytes, bytes_of(pkts + off, k));
		add(&port->q_tx_packets[q], k);
		sent = (uint16_t)(sent + k);
		off = (uint16_t)(off + k);
		if (off >= n)
			break;
		if (st == VHOST_ENQUEUE_UNPLACEABLE) {
			add(&port->tx_unplaceable, 1);
			off++; /* dropped; the next may fit */
			continue;
		}
		/* Busy: the control thread held the ring for a moment,
		 * or the burst's budget went on bad chains (consumed, so
		 * a retry makes progress). */
		if (st == VHOST_ENQUEUE_BUSY && ++busy <= SW_BUSY_RETRIES)
			continue;
		/* No room, stopped, or still busy after the retries: the
		 * rest is dropped (nothing is queued for later). */
		add(&port->tx_no_room, (uint64_t)(n - off));
		*room = false;
		break;
	}
	return sent;
}

/* Into the guest's enabled RX queues, each packet by its flow hash (a flow
 * stays on one queue, in order); each queue's share in one burst. */
static uint16_t vhost_spread(struct sw_port *port, struct vhost_dev *dev,
			     struct vhost_pktbuf *const *pkts, uint16_t n,
			     bool *room)
{
	uint8_t qs[SW_MAX_QP], pick[SW_BURST];
	struct vhost_pktbuf *batch[SW_BURST];
	/* A disabled queue is out of this mask before its callback returns
	 * (it quiesces the workers). */
	unsigned m = flow_queues(atomic_load_explicit(&port->rxq_on,
						      memory_order_acquire),
				 qs, SW_MAX_QP);
	uint16_t sent = 0;

	*room = true;
	if (m == 0) {
		add(&port->tx_no_room, n);
		*room = false;
		return 0;
	}
	if (m == 1)
		return vhost_send(port, dev, qs[0], pkts, n, room);
	for (uint16_t off = 0; off < n; off = (uint16_t)(off + SW_BURST)) {
		uint16_t k = (uint16_t)(n - off < SW_BURST ? n - off : SW_BURST);

		for (uint16_t i = 0; i < k; i++)
			pick[i] = (uint8_t)flow_pick(flow_hash(pkts[off + i]), m);
		for (unsigned j = 0; j < m; j++) {
			uint16_t c = 0;
			bool r;

			for (uint16_t i = 0; i < k; i++)
				if (pick[i] == j)
					batch[c++] = pkts[off + i];
			if (!c)
				continue;
			sent = (uint16_t)(sent + vhost_send(port, dev, qs[j],
							    batch, c, &r));
			if (!r)
				*room = false;
		}
	}
	return sent;
}

/* Send n packets to port. The caller keeps and later frees them. Returns
 * false if the port had no room left (or is down). */
static bool port_send(struct sw_port *port, struct vhost_pktbuf *const *pkts,
		      uint16_t n)
{
	uint16_t sent = 0;
	bool room = false;

	if (!atomic_load_explicit(&port->up, memory_order_acquire)) {
		add(&port->tx_drops, n);
		return false;
	}
	/* Several workers may send to one port; the guest's RX queue (and
	 * the TAP's write order) wants one sender at a time. */
	port_lock(port);
	if (port->kind == PORT_TAP) {
		sent = tap_tx(port, pkts, n);
		add(&port->tx_bytes, bytes_of(pkts, sent));
		room = sent == n;
	} else if (port->kind == PORT_VXLAN) {
		sent = vxlan_tx(port->vx, pkts[0]->pool, pkts, n);
		add(&port->tx_bytes, bytes_of(pkts, sent));
		room = sent == n;
	} else if (port->kind == PORT_NIC) {
		sent = afp_tx(port, pkts, n);
		add(&port->tx_bytes, bytes_of(pkts, sent));
		room = sent == n;
	} else {
		struct vhost_dev *dev = atomic_load_explicit(&port->dev,
							     memory_order_acquire);

		if (dev)
			sent = vhost_spread(port, dev, pkts, n, &room);
	}
	port_unlock(port);
	add(&port->tx_packets, sent);
	if (sent < n)
		add(&port->tx_drops, (uint64_t)(n - sent));
	return room;
}

static uint16_t port_receive(struct sw *sw, struct sw_port *port,
			     unsigned qp, struct vhost_pktbuf **pkts)
{
	uint16_t n = 0;

	if (port->kind == PORT_TAP) {
		n = tap_rx(port, sw->pool, pkts, SW_BURST);
	} else if (port->kind == PORT_VXLAN) {
		n = vxlan_rx(port->vx, sw->pool, pkts, SW_BURST);
	} else if (port->kind == PORT_NIC) {
		n = afp_rx(port, sw->pool, pkts, SW_BURST);
	} else {
		struct vhost_dev *dev = atomic_load_explicit(&port->dev,
							     memory_order_acquire);

		if (dev)
			n = vhost_dequeue_burst(dev, VHOST_QUEUE_TX(qp), sw->pool,
						pkts, SW_BURST);
		if (n)
			add(&port->q_rx_packets[qp], n);
	}
	if (n) {
		add(&port->rx_packets, n);
		add(&port->rx_bytes, bytes_of(pkts, n));
	}
	return n;
}

struct dest_batch {
	uint16_t n;
	struct vhost_pktbuf *pkts[SW_BURST];
};

/* Flood pkts (unknown destination, broadcast, multicast) to every other
 * port that is up, each packet only where its network is. */
static void flood_out(struct sw_worker *w, struct sw_port *in,
		      struct vhost_pktbuf *const *pkts, uint16_t n)
{
	struct sw *sw = w->sw;
	struct vhost_pktbuf *sub[SW_BURST];

	add(&w->floods, n);
	for (unsigned p = 0; p < sw->nports; p++) {
		struct sw_port *out = &sw->ports[p];
		uint16_t k = 0;

		if (p == in->id || !atomic_load(&out->up))
			continue;
		for (uint16_t i = 0; i < n; i++)
			if (network_carries(&out->pnet, pkt_net(pkts[i])))
				sub[k++] = pkts[i];
		if (k)
			port_output(w, out, sub, k);
	}
}

static void forward(struct sw_worker *w, struct sw_port *in,
		    struct vhost_pktbuf **pkts, uint16_t n)
{
	struct sw *sw = w->sw;
	struct dest_batch flood = { 0 };
	/* Destinations touched in this burst, and their batches. */
	static _Thread_local struct dest_batch per_port[SW_MAX_PORTS];
	uint16_t touched[SW_BURST];
	unsigned ntouched = 0;
	uint64_t dropped = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct vhost_pktbuf *p = pkts[i];
		const uint8_t *eth;
		uint32_t dest;
		uint16_t out, net;

		/* The frame's network (a trunk's tag comes off here); a
		 * frame of no network we carry goes nowhere. */
		net = p->data_len < 14 ? NET_NONE : network_ingress(&in->pnet, p);
		if (net == NET_NONE) {
			dropped++;
			continue;
		}
		eth = vhost_pktbuf_data(p);
		if (in->kind == PORT_VXLAN) {
			/* Remote MACs live behind the VTEP they came from;
			 * one a local port owns stays local (checked when
			 * the MAC is new or moves here). */
			uint32_t want = MAC_DEST(in->id, pkt_vtep_in(p));

			if (!(eth[6] & 1) &&
			    mac_table_lookup(sw->macs, net, eth + 6) != want) {
				if (!port_sec_remote_ok(sw->sec, sw->nports,
							in->id, net, eth + 6)) {
					dropped++;
					continue;
				}
			}
			if (MAC_DEST_VTEP1(want) && !(eth[6] & 1))
				mac_table_learn(sw->macs, net, eth + 6, want);
		} else if (port_sec_ingress(sw->macs, sw->sec, sw->nports,
					    in->id, net, eth + 6) != PSEC_PASS) {
			/* Source allowed on this port, learned within its
			 * limit. */
			dropped++;
			continue;
		}
		dest = (eth[0] & 1) ? MAC_PORT_NONE :
		       mac_table_lookup(sw->macs, net, eth);
		if (dest == MAC_PORT_NONE) {
			flood.pkts[flood.n++] = p;
			continue;
		}
		out = MAC_DEST_PORT(dest);
		/* hairpin: the host is on the ingress side (for the VXLAN
		 * uplink: VTEPs reach each other directly) */
		if (out == in->id || out >= sw->nports ||
		    !network_carries(&sw->ports[out].pnet, net)) {
			dropped++;
			continue;
		}
		if (MAC_DEST_VTEP1(dest))
			pkt_set_meta(p, net, pkt_vtep_in(p), MAC_DEST_VTEP1(dest));
		if (per_port[out].n == 0)
			touched[ntouched++] = out;
		per_port[out].pkts[per_port[out].n++] = p;
	}
	for (unsigned t = 0; t < ntouched; t++) {
		struct dest_batch *b = &per_port[touched[t]];

		port_output(w, &sw->ports[touched[t]], b->pkts, b->n);
		b->n = 0;
	}
	if (flood.n)
		flood_out(w, in, flood.pkts, flood.n);
	if (dropped)
		add(&in->rx_drops, dropped);
	vhost_pktbuf_free_bulk(pkts, n);
}

void *sw_worker_main(void *arg)
{
	struct sw_worker *w = arg;
	struct sw *sw = w->sw;
	struct vhost_pktbuf *pkts[SW_BURST];
	char name[16];

	if (w->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	snprintf(name, sizeof(name), "sw-worker-%d", w->id);
	pthread_setname_np(pthread_self(), name);
	while (!atomic_load_explicit(&sw->stop, memory_order_relaxed)) {
		uint64_t moved = 0;

		atomic_fetch_add_explicit(&w->seq, 1, memory_order_seq_cst);
		unsigned nslots = atomic_load_explicit(&w->nslots,
						       memory_order_acquire);

		for (unsigned i = 0; i < nslots; i++) {
			uint32_t u = atomic_load_explicit(&w->units[i],
							  memory_order_acquire);
			struct sw_port *port;
			uint16_t n;

			if (!u)
				continue;
			port = &sw->ports[SW_UNIT_PORT(u)];
			if (!atomic_load(&port->up))
				continue;
			n = port_receive(sw, port, SW_UNIT_QP(u), pkts);
			if (n) {
				forward(w, port, pkts, n);
				moved += n;
			}
		}
		atomic_fetch_add_explicit(&w->seq, 1, memory_order_seq_cst);
		add(&w->passes, 1);
		if (moved) {
			add(&w->busy_passes, 1);
			add(&w->packets, moved);
		}
	}
	return NULL;
}

void sw_quiesce(struct sw *sw)
{
	uint64_t seen[SW_MAX_WORKERS];

	/* The caller's store (the port's device cleared) must be visible
	 * before we read the workers' counts: a full barrier, not acquire. */
	atomic_thread_fence(memory_order_seq_cst);
	for (unsigned i = 0; i < sw->nworkers; i++)
		seen[i] = atomic_load(&sw->workers[i].seq);
	/* Not cut short by sw->stop: a worker inside a pass always ends it
	 * (it never blocks), and a device destroyed during shutdown must not
	 * be freed under a worker still using it. */
	for (unsigned i = 0; i < sw->nworkers; i++) {
		if (!(seen[i] & 1))
			continue;
		while (atomic_load(&sw->workers[i].seq) == seen[i])
			sched_yield();
	}
}
