/* SPDX-License-Identifier: BSD-3-Clause */
/* The forwarding loop: one thread, every port, the chosen mode. */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fwd.h"
#include "pkt.h"

#define IDLE_POLLS_BEFORE_SLEEP 1000
#define SLEEP_MS 100

static void add(_Atomic uint64_t *c, uint64_t v)
{
	/* one writer: a relaxed load+store is enough and cheaper */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

static uint64_t bytes_of(struct vhost_pktbuf **p, uint16_t n)
{
	uint64_t b = 0;

	for (uint16_t i = 0; i < n; i++)
		b += p[i]->pkt_len;
	return b;
}

static void send_free(struct vf_port *out, uint16_t qp, struct vhost_pktbuf **p,
		      uint16_t n)
{
	uint16_t sent = virtio_user_tx_burst(out->vu, qp, p, n);

	add(&out->tx_packets, sent);
	add(&out->tx_bytes, bytes_of(p, sent));
	if (sent < n)
		add(&out->tx_drops, (uint64_t)(n - sent));
	vhost_pktbuf_free_bulk(p, n);
}

static uint16_t receive(struct vf *f, struct vf_port *port, uint16_t qp,
			struct vhost_pktbuf **p)
{
	uint16_t n = virtio_user_rx_burst(port->vu, qp, f->pool, p, f->burst);

	if (n) {
		add(&port->rx_packets, n);
		add(&port->rx_bytes, bytes_of(p, n));
	}
	return n;
}

static uint16_t txonly(struct vf *f, struct vf_port *port, uint16_t qp)
{
	struct vhost_pktbuf *p[VF_MAX_BURST];
	uint16_t n = f->burst, sent;

	if (f->gen) {
		sent = virtio_user_gen_tx(port->vu, qp, n);
		add(&port->tx_packets, sent);
		add(&port->tx_bytes, (uint64_t)sent * f->pkt_len);
		return sent;
	}
	if (vhost_pktbuf_alloc_bulk(f->pool, p, n))
		return 0;
	for (uint16_t i = 0; i < n; i++) {
		if (f->pkt_len <= vhost_pktbuf_tailroom(p[i])) {
			/* The pool holds copies of the packet (main.c): only
			 * the headers are written, as testpmd's txonly does. */
			memcpy(vhost_pktbuf_data(p[i]), f->tmpl, PKT_HDRS_LEN);
			p[i]->data_len = (uint16_t)f->pkt_len;
			p[i]->pkt_len = f->pkt_len;
		} else if (pkt_build_udp(p[i], f->pkt_len, f->tx_seq++,
					 f->tmpl + 6, f->tmpl)) {
			vhost_pktbuf_free_bulk(p, n);
			return 0;
		}
	}
	sent = virtio_user_tx_burst(port->vu, qp, p, n);
	add(&port->tx_packets, sent);
	add(&port->tx_bytes, (uint64_t)sent * f->pkt_len);
	vhost_pktbuf_free_bulk(p, n);
	return sent;
}

static uint32_t pass_queue(struct vf *f, uint16_t qp);

static uint32_t pass(struct vf *f)
{
	uint32_t moved = 0;

	for (uint16_t qp = 0; qp < f->queues; qp++)
		moved += pass_queue(f, qp);
	return moved;
}

/* One pass over every port on queue pair qp. */
static uint32_t pass_queue(struct vf *f, uint16_t qp)
{
	struct vhost_pktbuf *p[VF_MAX_BURST];
	uint32_t moved = 0;

	for (int i = 0; i < f->nports; i++) {
		struct vf_port *port = &f->ports[i];
		uint16_t n;

		if (qp && qp >= virtio_user_queue_pairs(port->vu))
			continue;

		switch (f->mode) {
		case VF_TXONLY:
			if (!atomic_load_explicit(&f->paused, memory_order_relaxed))
				moved += txonly(f, port, qp);
			/* Keep receive buffers posted (a back-end may loop
			 * packets back); count and check what comes. */
			n = f->gen ? 0 : receive(f, port, qp, p);
			if (f->validate)
				for (uint16_t k = 0; k < n; k++)
					if (!pkt_validate_udp(p[k], false))
						add(&port->rx_invalid, 1);
			vhost_pktbuf_free_bulk(p, n);
			break;
		case VF_RXONLY:
			if (f->gen) {
				uint64_t b = 0;

				n = virtio_user_gen_rx(port->vu, qp, f->burst, &b);
				add(&port->rx_packets, n);
				add(&port->rx_bytes, b);
				moved += n;
				break;
			}
			n = receive(f, port, qp, p);
			if (f->validate)
				for (uint16_t k = 0; k < n; k++)
					if (!pkt_validate_udp(p[k], false))
						add(&port->rx_invalid, 1);
			vhost_pktbuf_free_bulk(p, n);
			moved += n;
			break;
		case VF_MAC:
			n = receive(f, port, qp, p);
			if (f->validate)
				for (uint16_t k = 0; k < n; k++)
					if (!pkt_validate_udp(p[k], false))
						add(&port->rx_invalid, 1);
			for (uint16_t k = 0; k < n; k++)
				pkt_swap_macs(p[k]);
			if (n)
				send_free(port, qp, p, n);
			moved += n;
			break;
		case VF_IO:
			if (f->gen) {
				/* Loop through the back-end: post prebuilt
				 * packets, count what comes back. */
				uint64_t b = 0;

				if (!atomic_load_explicit(&f->paused, memory_order_relaxed))
					moved += txonly(f, port, qp);
				n = virtio_user_gen_rx(port->vu, qp, f->burst, &b);
				add(&port->rx_packets, n);
				add(&port->rx_bytes, b);
				moved += n;
				break;
			}
			n = receive(f, port, qp, p);
			if (n)
				send_free(&f->ports[f->nports > 1 ? i ^ 1 : i], qp, p, n);
			moved += n;
			break;
		}
	}
	return moved;
}

/* Interrupt mode: ask for calls, look once more, sleep on the call fds. */
static void sleep_on_calls(struct vf *f)
{
	struct pollfd pfd[VF_MAX_PORTS];
	struct vhost_pktbuf *p[VF_MAX_BURST];
	bool pending = false;

	for (int i = 0; i < f->nports; i++) {
		struct virtio_user *vu = f->ports[i].vu;

		pfd[i].fd = virtio_user_callfd(vu, VIRTIO_USER_RX(0));
		pfd[i].events = POLLIN;
		virtio_user_enable_intr(vu, VIRTIO_USER_RX(0), true);
	}
	/* Packets that came in between: handled by the next pass. */
	for (int i = 0; i < f->nports && !pending; i++) {
		uint16_t n = receive(f, &f->ports[i], 0, p);

		if (n) {
			pending = true;
			if (f->mode == VF_RXONLY)
				vhost_pktbuf_free_bulk(p, n);
			else
				send_free(&f->ports[f->mode == VF_IO && f->nports > 1 ?
						    i ^ 1 : i], 0, p, n);
		}
	}
	if (!pending && poll(pfd, (nfds_t)f->nports, SLEEP_MS) > 0) {
		atomic_fetch_add(&f->wakeups, 1);
		for (int i = 0; i < f->nports; i++) {
			eventfd_t v;

			if (pfd[i].revents & POLLIN)
				eventfd_read(pfd[i].fd, &v);
		}
	}
	for (int i = 0; i < f->nports; i++)
		virtio_user_enable_intr(f->ports[i].vu, VIRTIO_USER_RX(0), false);
}

void *vf_worker(void *arg)
{
	struct vf *f = arg;
	unsigned idle = 0;

	if (f->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(f->cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	pthread_setname_np(pthread_self(), "virtio-fwd");
	/* Seed a loop (like testpmd's start tx_first): on each port once its
	 * back-end is there. */
	for (int i = 0; i < f->nports && f->tx_first; i++) {
		while (!atomic_load(&f->stop) &&
		       virtio_user_wait_ready(f->ports[i].vu, 100))
			;
		for (uint16_t b = 0; b < f->tx_first; b++)
			for (uint16_t qp = 0; qp < virtio_user_queue_pairs(f->ports[i].vu); qp++)
				txonly(f, &f->ports[i], qp);
	}
	while (!atomic_load_explicit(&f->stop, memory_order_relaxed)) {
		uint32_t moved = pass(f);

		add(&f->passes, 1);
		if (moved) {
			idle = 0;
			continue;
		}
		add(&f->idle_passes, 1);
		if (f->interrupt && f->mode != VF_TXONLY && !f->gen && f->queues == 1 &&
		    ++idle >= IDLE_POLLS_BEFORE_SLEEP) {
			idle = 0;
			sleep_on_calls(f);
		}
	}
	return NULL;
}
