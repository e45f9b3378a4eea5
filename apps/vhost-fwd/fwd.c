/* SPDX-License-Identifier: BSD-3-Clause */
/* The forwarding loop: one thread, every enabled queue of every port, the
 * chosen mode. Queue q of a port forwards to queue q of its destination
 * (as testpmd does), or to one of its enabled queues picked by q when q is
 * off there: a flow enters on one queue, so it leaves on one, in order. */
#include <errno.h>
#include <stddef.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "flowhash.h"
#include "fwd.h"
#include "pkt.h"

#define IDLE_POLLS_BEFORE_SLEEP 1000
#define SLEEP_MS 100

static const uint8_t mac_src[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t mac_dst[6] = { 0x02, 0, 0, 0, 0, 0x02 };

static void add(_Atomic uint64_t *c, uint64_t v)
{
	/* one writer: a relaxed load+store is enough and cheaper */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

static uint64_t pkts_bytes(struct vhost_pktbuf **p, uint16_t n)
{
	uint64_t b = 0;

	for (uint16_t i = 0; i < n; i++)
		b += p[i]->pkt_len;
	return b;
}

static struct fwd *fwd_of(struct fwd_port *port)
{
	return (struct fwd *)((char *)(port - port->id) -
			      offsetof(struct fwd, ports));
}

/* The RX queue of port that traffic from queue pair q goes to; -1: none. */
static int out_queue(struct fwd_port *port, unsigned q)
{
	uint64_t on = atomic_load_explicit(&port->rxq_on, memory_order_acquire);
	uint8_t qs[FWD_MAX_QP];
	unsigned m;

	if (on >> q & 1)
		return (int)q;
	m = flow_queues(on, qs, FWD_MAX_QP);
	return m ? qs[flow_pick(fh_final(q + 1), m)] : -1;
}

/* Send n packets to port's RX queue for queue pair q; free all (sent or
 * not). */
static void send_and_free(struct fwd_port *port, struct vhost_dev *dev,
			  unsigned q, struct vhost_pktbuf **pkts, uint16_t n)
{
	int oq = dev ? out_queue(port, q) : -1;
	uint16_t sent = oq >= 0 ? vhost_enqueue_burst(dev, VHOST_QUEUE_RX(oq),
						      pkts, n) : 0;

	if (oq >= 0)
		add(&port->q_tx_packets[oq], sent);
	add(&port->tx_packets, sent);
	add(&port->tx_bytes, pkts_bytes(pkts, sent));
	if (sent < n)
		add(&port->tx_drops, (uint64_t)(n - sent));
	vhost_pktbuf_free_bulk(pkts, n);
}

static uint16_t receive(struct fwd *f, struct fwd_port *port,
			struct vhost_dev *dev, unsigned q,
			struct vhost_pktbuf **pkts)
{
	uint16_t n = vhost_dequeue_burst(dev, VHOST_QUEUE_TX(q), f->pool, pkts,
					 f->burst);

	if (n) {
		add(&port->q_rx_packets[q], n);
		add(&port->rx_packets, n);
		add(&port->rx_bytes, pkts_bytes(pkts, n));
	}
	return n;
}

/* txonly packets are copies of one template, like testpmd's txonly (which
 * writes headers into its buffers); larger-than-a-buffer packets are built
 * segment by segment. */
static int make_tx_packet(struct fwd *f, struct vhost_pktbuf *p)
{
	if (f->pkt_len <= vhost_pktbuf_tailroom(p)) {
		/* The pool was filled with the template at start (txonly
		 * buffers hold nothing else): only the headers are
		 * rewritten, as testpmd's txonly does. */
		memcpy(vhost_pktbuf_data(p), f->tx_template, PKT_HDRS_LEN);
		p->data_len = (uint16_t)f->pkt_len;
		p->pkt_len = f->pkt_len;
		return 0;
	}
	return pkt_build_udp(p, f->pkt_len, f->tx_seq++, mac_src, mac_dst);
}

static uint16_t do_txonly(struct fwd *f, struct fwd_port *port,
			  struct vhost_dev *dev, unsigned q)
{
	struct vhost_pktbuf *pkts[FWD_MAX_BURST];
	uint16_t n = f->burst, sent;

	/* While the guest keeps up, the whole burst is built and sent: one
	 * ring lock per burst. After a short burst (its ring was full), only
	 * what it can take now is built (counted no further than the burst:
	 * on packed rings each count is a flag read), so a full ring costs
	 * no packets built in vain and no drops. */
	if (port->q_tx_short[q]) {
		uint16_t room = vhost_vring_avail_upto(dev, VHOST_QUEUE_RX(q), n);

		if (room < n)
			n = room;
		if (n == 0)
			return 0;
	}
	if (vhost_pktbuf_alloc_bulk(f->pool, pkts, n))
		return 0;
	for (uint16_t i = 0; i < n; i++) {
		if (make_tx_packet(f, pkts[i])) {
			vhost_pktbuf_free_bulk(pkts, n);
			return 0;
		}
	}
	sent = vhost_enqueue_burst(dev, VHOST_QUEUE_RX(q), pkts, n);
	port->q_tx_short[q] = sent < n;
	add(&port->q_tx_packets[q], sent);
	add(&port->tx_packets, sent);
	add(&port->tx_bytes, pkts_bytes(pkts, sent));
	/* Not sent: the guest ran out of room; generated traffic is simply
	 * dropped, as testpmd's txonly does. */
	if (sent < n)
		add(&port->tx_drops, (uint64_t)(n - sent));
	vhost_pktbuf_free_bulk(pkts, n);
	return sent;
}

/* One queue pair q of one port; returns packets moved. */
static uint32_t pass_queue(struct fwd *f, struct fwd_port *port,
			   struct vhost_dev *dev, unsigned q)
{
	struct vhost_pktbuf *pkts[FWD_MAX_BURST];
	uint16_t n;

	switch (f->mode) {
	case MODE_TXONLY:
		return 0; /* by RX queue, in pass() */
	case MODE_RXONLY:
		n = receive(f, port, dev, q, pkts);
		if (f->validate)
			for (uint16_t i = 0; i < n; i++)
				if (!pkt_validate_udp(pkts[i], false))
					add(&port->rx_invalid, 1);
		vhost_pktbuf_free_bulk(pkts, n);
		return n;
	case MODE_MAC:
		n = receive(f, port, dev, q, pkts);
		for (uint16_t i = 0; i < n; i++)
			pkt_swap_macs(pkts[i]);
		if (n)
			send_and_free(port, dev, q, pkts, n);
		return n;
	case MODE_IO: {
		/* port 0 <-> 1; a single port sends back to itself */
		struct fwd_port *out = f->nports > 1 ? &f->ports[port->id ^ 1] :
				       port;

		n = receive(f, port, dev, q, pkts);
		if (n)
			send_and_free(out, out == port ? dev :
				      atomic_load(&out->dev), q, pkts, n);
		return n;
	}
	}
	return 0;
}

/* One pass over every enabled queue of every port; returns packets
 * moved. */
static uint32_t pass(struct fwd *f)
{
	uint32_t moved = 0;

	for (int p = 0; p < f->nports; p++) {
		struct fwd_port *port = &f->ports[p];
		struct vhost_dev *dev = atomic_load_explicit(&port->dev,
							     memory_order_acquire);
		uint64_t on;

		if (!dev)
			continue;
		if (f->mode == MODE_TXONLY) {
			if (atomic_load_explicit(&f->paused,
						 memory_order_relaxed))
				continue;
			on = atomic_load_explicit(&port->rxq_on,
						  memory_order_acquire);
			for (; on; on &= on - 1)
				moved += do_txonly(f, port, dev,
						   (unsigned)__builtin_ctzll(on));
			continue;
		}
		on = atomic_load_explicit(&port->txq_on, memory_order_acquire);
		for (; on; on &= on - 1)
			moved += pass_queue(f, port, dev,
					    (unsigned)__builtin_ctzll(on));
	}
	return moved;
}

/* Interrupt mode: ask for kicks on every enabled TX ring, look once more,
 * then sleep on them. */
static void sleep_on_kicks(struct fwd *f)
{
	struct pollfd pfd[FWD_MAX_PORTS * FWD_MAX_QP];
	struct vhost_dev *devs[FWD_MAX_PORTS * FWD_MAX_QP];
	uint16_t qs[FWD_MAX_PORTS * FWD_MAX_QP];
	int n = 0;
	bool pending = false;

	for (int p = 0; p < f->nports; p++) {
		struct vhost_dev *dev = atomic_load(&f->ports[p].dev);
		uint64_t on = atomic_load(&f->ports[p].txq_on);

		for (; dev && on; on &= on - 1) {
			uint16_t q = VHOST_QUEUE_TX(__builtin_ctzll(on));
			int fd = vhost_vring_kickfd(dev, q);

			if (fd < 0)
				continue;
			vhost_vring_enable_notify(dev, q, true);
			devs[n] = dev;
			qs[n] = q;
			pfd[n].fd = fd;
			pfd[n].events = POLLIN;
			n++;
			if (vhost_vring_avail_upto(dev, q, 1))
				pending = true;
		}
	}
	/* Still inside the pass while sleeping (at most SLEEP_MS): a
	 * destroy_device or a ring turned off waits for us, so the kick fds
	 * stay open. */
	if (!pending && n && poll(pfd, (nfds_t)n, SLEEP_MS) > 0) {
		atomic_fetch_add(&f->wakeups, 1);
		for (int i = 0; i < n; i++) {
			eventfd_t v;

			if (pfd[i].revents & POLLIN)
				eventfd_read(pfd[i].fd, &v);
		}
	} else if (!n) {
		usleep(SLEEP_MS * 1000);
	}
	/* Back to polling, on the rings still there. */
	for (int i = 0; i < n; i++)
		for (int p = 0; p < f->nports; p++)
			if (atomic_load(&f->ports[p].dev) == devs[i] &&
			    (atomic_load(&f->ports[p].txq_on) >> (qs[i] / 2) & 1))
				vhost_vring_enable_notify(devs[i], qs[i], false);
}

void fwd_vring_state_changed(struct vhost_dev *dev, uint16_t queue, bool on)
{
	struct fwd_port *port = vhost_dev_socket_opaque(dev);
	_Atomic uint64_t *mask = queue & 1 ? &port->txq_on : &port->rxq_on;
	unsigned qp = queue / 2;

	if (atomic_load(&port->dev) != dev || qp >= FWD_MAX_QP)
		return;
	if (on) {
		atomic_fetch_or(mask, 1ull << qp);
		return;
	}
	atomic_fetch_and(mask, ~(1ull << qp));
	fwd_quiesce(fwd_of(port));
}

void fwd_port_rings_off(struct fwd_port *port)
{
	atomic_store(&port->txq_on, 0);
	atomic_store(&port->rxq_on, 0);
}

void fwd_quiesce(struct fwd *f)
{
	uint64_t s;

	/* The caller's store (the port's device cleared) before our read of
	 * the count: a full barrier, as the worker's increments are. */
	atomic_thread_fence(memory_order_seq_cst);
	s = atomic_load(&f->worker_seq);
	if (!(s & 1))
		return;
	/* Not cut short by f->stop: the pass in progress always ends (its
	 * longest wait is one bounded poll), and a device destroyed while we
	 * shut down must not be freed under it. */
	while (atomic_load(&f->worker_seq) == s)
		sched_yield();
}

int fwd_port_start(struct fwd *f, struct fwd_port *port, uint64_t disable,
		   const struct vhost_device_ops *ops)
{
	uint16_t queues = port->queues ? port->queues : f->queues;
	int ret = vhost_socket_register(f->ctx, port->path,
					f->client ? VHOST_SOCKET_CLIENT : 0,
					&port->sock);

	if (!ret)
		ret = vhost_socket_disable_features(port->sock,
						    disable |
						    FWD_UNDELIVERABLE_FEATURES);
	if (!ret && queues > 1)
		ret = vhost_socket_enable_features(port->sock,
						   1ull << VIRTIO_NET_F_MQ);
	if (!ret && queues > 1)
		ret = vhost_socket_set_max_queue_pairs(port->sock, queues);
	if (!ret)
		ret = vhost_socket_set_ops(port->sock, ops, port);
	if (!ret)
		ret = vhost_socket_start(port->sock);
	return ret;
}

int fwd_init_template(struct fwd *f)
{
	struct vhost_pktbuf *p = vhost_pktbuf_alloc(f->pool);
	int ret;

	if (!p)
		return -ENOBUFS;
	ret = pkt_build_udp(p, f->pkt_len, 0, mac_src, mac_dst);
	if (!ret)
		vhost_pktbuf_read(p, 0, f->pkt_len, f->tx_template);
	vhost_pktbuf_free(p);
	if (ret || f->mode != MODE_TXONLY)
		return ret;
	/* Every buffer of the pool starts as a copy of the packet. */
	{
		unsigned n = vhost_pktbuf_pool_count(f->pool), i = 0;
		struct vhost_pktbuf **all = calloc(n, sizeof(*all));

		if (!all)
			return -ENOMEM;
		while (i < n && (all[i] = vhost_pktbuf_alloc(f->pool)))
			i++;
		for (unsigned k = 0; k < i; k++)
			if (f->pkt_len <= vhost_pktbuf_tailroom(all[k]))
				memcpy(vhost_pktbuf_data(all[k]), f->tx_template,
				       f->pkt_len);
		vhost_pktbuf_free_bulk(all, i);
		free(all);
	}
	return 0;
}

void *fwd_worker(void *arg)
{
	struct fwd *f = arg;
	unsigned idle = 0;

	if (f->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(f->cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	pthread_setname_np(pthread_self(), "vhost-fwd");
	while (!atomic_load_explicit(&f->stop, memory_order_relaxed)) {
		uint32_t moved;

		atomic_fetch_add_explicit(&f->worker_seq, 1, memory_order_seq_cst);
		moved = pass(f);
		add(&f->passes, 1);
		if (moved) {
			idle = 0;
		} else {
			add(&f->idle_passes, 1);
			if (f->interrupt && f->mode != MODE_TXONLY &&
			    ++idle >= IDLE_POLLS_BEFORE_SLEEP) {
				idle = 0;
				sleep_on_kicks(f);
			}
		}
		atomic_fetch_add_explicit(&f->worker_seq, 1, memory_order_seq_cst);
	}
	return NULL;
}
