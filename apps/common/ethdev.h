/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK's ethdev telemetry commands (/ethdev/list, ...) (key names of DPDK 22.11) over a
 * per-port snapshot the application fills. The same snapshot feeds the
 * Prometheus exporter, so every consumer reads one plain struct.
 *
 * Direction is the switch's, as in DPDK's vhost PMD: "rx" / "i*" are
 * packets the application received from the port (the guest transmitted),
 * "tx" / "o*" packets it sent to the port (the guest received).
 *
 * Every counter is cumulative since the application started: a guest that
 * disconnects and reconnects does not reset it (the application keeps the
 * totals; libvhost's vhost_vring_stats_get counts per connected device, so
 * a provider adds what the previous devices counted).
 */
#ifndef APPS_ETHDEV_H
#define APPS_ETHDEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <vhost/vhost.h>

struct tel;

#define ETHDEV_MAX_PORTS 64
#define ETHDEV_MAX_QUEUES 16   /* DPDK: RTE_ETHDEV_QUEUE_STAT_CNTRS */
#define ETHDEV_NAME_LEN 64

/* One direction of one queue. Size buckets and drop reasons are
 * libvhost's (VHOST_SIZE_BUCKETS, enum vhost_drop_reason); ports without
 * virtqueues (tap, nic, vxlan) leave them 0 and set only packets/bytes. */
struct ethdev_queue {
	uint64_t packets;
	uint64_t bytes;
	uint64_t errors;        /* packets lost on this queue (q_errors) */
	/* <=64, <=127, <=255, <=511, <=1023, <=1518, <=9000, more */
	uint64_t size_buckets[VHOST_SIZE_BUCKETS];
	uint64_t drops[VHOST_DROP_REASONS];
	uint64_t notifications;      /* guest_notifications: call eventfd writes */
	uint64_t notify_suppressed;  /* bursts where the guest wanted none */
};

struct ethdev_port {
	uint16_t port_id;
	char name[ETHDEV_NAME_LEN];   /* socket path, TAP or interface name */
	/* "vhost_user", "tap", "af_packet", "vxlan" */
	char driver_name[32];
	bool link_up;                 /* a guest is connected / the uplink is up */
	uint32_t link_speed;          /* Mb/s, 0: unknown (vhost: 10000 as DPDK) */
	uint16_t mtu;
	uint8_t mac[6];               /* all zero: none */
	/* Queues in use; the per-queue arrays hold this many entries. */
	uint16_t nb_rx_queues, nb_tx_queues;
	/* Port totals (DPDK struct rte_eth_stats). */
	uint64_t ipackets, opackets, ibytes, obytes;
	uint64_t imissed;    /* received but dropped by the application */
	uint64_t ierrors;    /* malformed input (bad descriptors, headers) */
	uint64_t oerrors;    /* could not be sent (no room, unplaceable) */
	uint64_t rx_nombuf;  /* no packet buffer */
	/* has_ring_stats: rxq/txq carry libvhost's per-virtqueue counters
	 * (size buckets, drops, notifications); else only packets/bytes. */
	bool has_ring_stats;
	struct ethdev_queue rxq[ETHDEV_MAX_QUEUES];
	struct ethdev_queue txq[ETHDEV_MAX_QUEUES];
};

/* What the application implements. Both are called on the control
 * thread and must only read what the data path publishes atomically. */
struct ethdev_provider {
	/* Fill ids (at most max, ascending) with the ports that exist;
	 * return how many. */
	unsigned (*list)(void *arg, uint16_t *ids, unsigned max);
	/* Fill *out (zeroed by the caller) for port id: 0, or -1 if there
	 * is no such port. */
	int (*snapshot)(void *arg, uint16_t id, struct ethdev_port *out);
	void *arg;
};

/* Register /ethdev/list, /ethdev/info, /ethdev/stats, /ethdev/xstats and
 * /ethdev/link_status. *p must stay valid until tel_stop. Returns 0 or
 * -errno. */
int ethdev_register(struct tel *t, const struct ethdev_provider *p);

/* Cumulative per-virtqueue counters of one vhost port across the devices
 * (guest connections) it has had: libvhost counts per device, this adds
 * what the previous ones counted, so totals never go back. */
struct ethdev_vq_totals {
	pthread_mutex_t lock;
	struct vhost_dev *dev;        /* the device counting now, NULL: none */
	struct vhost_vring_stats base[2 * ETHDEV_MAX_QUEUES]; /* by vring */
};

void ethdev_vq_totals_init(struct ethdev_vq_totals *vt);
void ethdev_vq_totals_fini(struct ethdev_vq_totals *vt);
/* new_device: dev counts from now on. */
void ethdev_vq_totals_attach(struct ethdev_vq_totals *vt,
			     struct vhost_dev *dev);
/* destroy_device, once the data path no longer touches dev: fold its
 * counters into the base (dev is not used after this returns). */
void ethdev_vq_totals_detach(struct ethdev_vq_totals *vt,
			     struct vhost_dev *dev);
/* Fill out->rxq/txq[0..nq) from the totals (vring 2q+1, the guest's TX,
 * is rxq[q]; vring 2q is txq[q]) and set has_ring_stats. packets/bytes of
 * those queues are set too (the library's view). */
void ethdev_vq_totals_read(struct ethdev_vq_totals *vt,
			   struct ethdev_port *out, unsigned nq);

/* Name of a drop reason as an xstats suffix ("drop_no_room"), NULL if out
 * of range. For the exporters, so every output names drops alike. */
const char *ethdev_drop_name(unsigned reason);
/* Name of a size bucket as DPDK's vhost PMD spells it
 * ("size_65_127_packets"); buckets 6 and 7 both map to
 * "size_1519_max_packets". NULL if out of range. */
const char *ethdev_size_name(unsigned bucket);

#endif
