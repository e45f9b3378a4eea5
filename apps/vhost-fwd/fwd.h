/* SPDX-License-Identifier: BSD-3-Clause */
/* vhost-fwd: a testpmd-like forwarding tool on libvhost. */
#ifndef VHOST_FWD_H
#define VHOST_FWD_H

#include <linux/virtio_net.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <vhost/vhost.h>

#include "ethdev.h"

#define FWD_MAX_PORTS 2
#define FWD_MAX_BURST 256
#define FWD_MAX_QP 16      /* queue pairs a port may offer */
#define FWD_DEFAULT_QP 8

enum fwd_mode { MODE_RXONLY, MODE_TXONLY, MODE_MAC, MODE_IO };

struct fwd_port {
	int id;
	const char *path;
	uint16_t queues;    /* PATH,queues=N; 0: the default (f->queues) */
	struct vhost_socket *sock;
	/* Set by new_device, cleared by destroy_device (event thread); the
	 * worker reads it once per loop. */
	struct vhost_dev *_Atomic dev;
	/* Rings the guest enabled, a bit per queue pair (event thread): its
	 * TX rings are polled, its RX rings sent to. Cleared when the
	 * device stops. */
	_Atomic uint64_t txq_on, rxq_on;
	/* Counters, written by the worker only. */
	_Atomic uint64_t rx_packets, rx_bytes, rx_invalid;
	_Atomic uint64_t tx_packets, tx_bytes, tx_drops;
	_Atomic uint64_t connects;
	/* Per queue pair: from the guest's TX ring q, into its RX ring q. */
	_Atomic uint64_t q_rx_packets[FWD_MAX_QP], q_tx_packets[FWD_MAX_QP];
	/* txonly, worker only: the last burst into RX ring q came up short
	 * (the guest's ring was full), so the next one counts room first. */
	bool q_tx_short[FWD_MAX_QP];
	/* The library's per-ring counters over every connection (for the
	 * control socket). */
	struct ethdev_vq_totals vq_totals;
};

struct fwd {
	enum fwd_mode mode;
	bool client;
	bool json;
	bool validate;      /* rxonly: check every packet's headers */
	bool interrupt;     /* sleep on kick fds when idle */
	uint32_t pkt_len;
	uint16_t burst;
	uint16_t queues;    /* queue pairs offered per port (<= 1: no MQ) */
	int cpu;
	double duration;
	double stats_interval;
	int nports;
	struct fwd_port ports[FWD_MAX_PORTS];
	struct vhost_ctx *ctx;
	struct vhost_pktbuf_pool *pool;
	/* Worker quiescence: odd while the worker is inside a loop pass. */
	_Atomic uint64_t worker_seq;
	_Atomic bool stop;
	_Atomic bool paused;   /* txonly: generate nothing for now */
	uint64_t tx_seq;    /* worker only */
	uint8_t tx_template[VHOST_PKTBUF_MAX_PKT_LEN]; /* txonly packet */
	const char *stats_file;
	_Atomic uint64_t wakeups; /* interrupt mode: sleeps that ended on a kick */
	/* Loop passes, and those that moved nothing: a mostly idle worker
	 * means the peer, not us, sets the pace. Worker only. */
	_Atomic uint64_t passes, idle_passes;
};

/* Offloads vhost-fwd cannot deliver, never offered: it forwards frames
 * unchanged and has no software segmentation, so a TSO frame from a guest
 * would reach a peer that did not negotiate GUEST_TSO4/6 (the library
 * refuses it there). Partial checksums (CSUM) stay offered: libvhost
 * completes the checksum for a guest without GUEST_CSUM. */
#define FWD_UNDELIVERABLE_FEATURES                                           \
	((1ull << VIRTIO_NET_F_HOST_TSO4) | (1ull << VIRTIO_NET_F_HOST_TSO6))

/* Register port's socket (server, or client with f->client), take away
 * disable | FWD_UNDELIVERABLE_FEATURES, offer MQ with port->queues (else
 * f->queues) pairs when more than one, set ops (opaque: port), start. */
int fwd_port_start(struct fwd *f, struct fwd_port *port, uint64_t disable,
		   const struct vhost_device_ops *ops);
void *fwd_worker(void *arg);
int fwd_init_template(struct fwd *f);
/* Wait until the worker is not inside a pass that may use a device it
 * read before the caller cleared it. */
void fwd_quiesce(struct fwd *f);
/* vring_state_changed: track the port's enabled rings; a ring turned off
 * is not used by the worker once this returns. */
void fwd_vring_state_changed(struct vhost_dev *dev, uint16_t queue, bool on);
/* The device stopped: no ring is on (destroy_device, before quiescing). */
void fwd_port_rings_off(struct fwd_port *port);
/* The control socket (fwd_ethdev.c): the ethdev snapshot provider, and
 * /vhost-fwd/ports. */
void fwd_ethdev_provider(struct fwd *f, struct ethdev_provider *out);
int fwd_ctl_register(struct tel *t, struct fwd *f);

/* Start the Prometheus metrics threads (metrics_fwd.c, metrics.h), then
 * tell systemd READY=1. *err: 0, or -errno (nothing started). */
struct metrics;
struct metrics_params;
struct metrics *fwd_ops_start(struct fwd *f, const struct metrics_params *mp,
			      int *err);

#endif
