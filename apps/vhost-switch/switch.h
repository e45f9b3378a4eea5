/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-switch: an L2 learning switch between vhost-user ports (VMs) and
 * an optional TAP uplink to the host kernel.
 *
 * Threads: the libvhost event thread runs the callbacks (ports come and
 * go); N workers each poll the ports given to them and forward what they
 * receive to any port; the main thread prints statistics and ages the MAC
 * table clock. A worker never touches a destroyed device: destroy_device
 * clears the port's device pointer, then waits until every worker has
 * finished the loop pass that may have read it (a sequence count, odd
 * while inside a pass).
 */
#ifndef VHOST_SWITCH_H
#define VHOST_SWITCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <vhost/vhost.h>

#include "ethdev.h"
#include "mac_table.h"
#include "network.h"
#include "port_sec.h"

#define SW_MAX_PORTS 64
#define SW_MAX_WORKERS 16
#define SW_MAX_TAPS 8
#define SW_BURST 32
#define SW_BUSY_RETRIES 4 /* enqueue retries when the ring is busy */
#define SW_MAX_QP 16       /* queue pairs a port may offer */
#define SW_DEFAULT_QP 8
/* Poll units (port, queue pair) a worker may hold: every one of them. */
#define SW_MAX_UNITS (SW_MAX_PORTS * SW_MAX_QP)
#define SW_UNIT(port, qp) ((((uint32_t)(port) << 8) | (uint32_t)(qp)) + 1)
#define SW_UNIT_PORT(u) (((u) - 1) >> 8)
#define SW_UNIT_QP(u) (((u) - 1) & 0xff)

enum port_kind { PORT_VHOST, PORT_TAP, PORT_VXLAN, PORT_NIC };

/* A port slot's life (sw_port.state). Ports come and go at run time
 * (sw_port_add/del, under cfg_lock); a slot is reused only after its units
 * left the workers, the workers were quiesced and its MACs flushed, so
 * nothing reaches the new port through a stale reference. */
enum port_slot { SW_SLOT_FREE, SW_SLOT_LIVE, SW_SLOT_DYING };
#define SW_NAME_MAX 108 /* sun_path */

struct vxlan;
struct afp;
struct virtio_net_hdr;
struct jw;

struct sw_port {
	uint16_t id;
	_Atomic int state;             /* enum port_slot */
	enum port_kind kind;
	const char *name;              /* socket path or TAP name */
	char name_buf[SW_NAME_MAX];    /* name of a port made by sw_port_add */
	bool client;
	struct vhost_socket *sock;
	struct vhost_dev *_Atomic dev; /* vhost: set while running */
	int tap_fd;                    /* tap: -1 if none */
	struct port_net pnet;          /* network(s): network.h */
	struct vxlan *vx;              /* the VXLAN uplink: vxlan.h */
	struct afp *afp;               /* a NIC uplink: afpacket.h */
	_Atomic bool up;               /* may be polled and sent to */
	_Atomic int worker;            /* worker of queue pair 0, -1: none */
	uint16_t queues;               /* queue pairs offered (1: no MQ) */
	/* Rings the guest enabled, by queue pair (set on the event thread):
	 * its TX rings are polled, its RX rings sent to. */
	_Atomic uint64_t txq_on, rxq_on;
	_Atomic uint32_t tx_lock;      /* one sender at a time per port */
	/* rx_* written by the owning worker, tx_* by any worker */
	_Atomic uint64_t rx_packets, rx_bytes, rx_drops;
	_Atomic uint64_t tx_packets, tx_bytes, tx_drops;
	/* Parts of tx_drops: the guest had no room (or the ring stayed
	 * busy), a packet the guest can never take. */
	_Atomic uint64_t tx_no_room, tx_unplaceable;
	_Atomic uint64_t tx_segmented;  /* TSO packets cut in software */
	_Atomic uint64_t connects;
	/* Per queue pair: packets from the guest's TX ring q (written by its
	 * polling worker) and into its RX ring q (by any worker). */
	_Atomic uint64_t q_rx_packets[SW_MAX_QP], q_tx_packets[SW_MAX_QP];
	char ifname[32];               /* tap: actual name */
	/* vhost: the library's per-ring counters summed over every guest
	 * connection (for /ethdev/xstats and the metrics) */
	struct ethdev_vq_totals vq_totals;
};

struct sw_worker {
	int id;
	int cpu;                       /* -1: not pinned */
	pthread_t thread;
	struct sw *sw;
	_Atomic uint64_t seq;          /* odd while inside a pass */
	/* Poll units (SW_UNIT, 0: free slot) in slots [0, nslots). */
	_Atomic uint32_t units[SW_MAX_UNITS];
	_Atomic unsigned nslots;
	_Atomic unsigned nunits;       /* units held (for the statistics) */
	_Atomic uint64_t passes, busy_passes, packets, floods;
};

/* Defaults of ports made from a spec (the command line's --queues,
 * --max-macs, --lock-macs, --client). */
struct sw_port_defaults {
	uint16_t queues;
	unsigned max_learned;
	bool lock;
	bool client;
};

struct sw {
	struct sw_port ports[SW_MAX_PORTS];
	/* Slots [0, nports) may be in use (a FREE one among them is skipped:
	 * it is not up); grows when sw_port_add needs a new slot. */
	_Atomic unsigned nports;
	/* Serialises port add/del and readers of port names and
	 * configuration (control thread, main thread); never the data path. */
	pthread_mutex_t cfg_lock;
	struct sw_port_defaults defaults;
	struct sw_worker workers[SW_MAX_WORKERS];
	unsigned nworkers;
	struct mac_table *macs;
	struct port_sec sec[SW_MAX_PORTS]; /* by port id */
	uint64_t moves_logged[SW_MAX_PORTS]; /* main thread only */
	bool lock_logged[SW_MAX_PORTS];      /* main thread only */
	struct vhost_ctx *ctx;
	struct vhost_pktbuf_pool *pool;
	_Atomic bool stop;
	pthread_mutex_t assign_lock;   /* unit <-> worker assignment */
	/* Worker of each unit plus one, 0: none (under assign_lock). */
	uint8_t owner[SW_MAX_PORTS][SW_MAX_QP];
};

void *sw_worker_main(void *arg);

/* Scheduling (sched.c). A port's units are its enabled TX rings (a TAP:
 * one). The event thread re-plans on every change: units leave their
 * workers first (then a quiesce: a worker never touches a unit after the
 * call that took it returns), then arrive at their new ones. owner[][]
 * holds worker + 1, 0 for none. */
/* The port came up / went down: its units join or leave (then quiesce). */
void sw_assign_port(struct sw *sw, struct sw_port *port);
void sw_unassign_port(struct sw *sw, struct sw_port *port);
/* vring_state_changed of a vhost port's device. */
void sw_vring_state_changed(struct vhost_dev *dev, uint16_t queue, bool on);
/* Offer MQ on the port's socket (before it starts) when queues > 1. */
int sw_port_setup_queues(struct sw_port *port);
/* The plan, on owner[][] (pure, for the tests): units not in want[port]
 * (a bit per queue pair) leave, new ones go to the least loaded worker,
 * then units move from the most to the least loaded until loads differ by
 * at most one. Units that need not move stay. */
void sw_sched_plan(uint8_t owner[][SW_MAX_QP], const uint64_t *want,
		   unsigned nports, unsigned nworkers);
/* Per-queue statistics lines / JSON array of a port. */
void sw_print_queues(const struct sw_port *port, FILE *o);
void sw_json_queues(const struct sw_port *port, struct jw *w);
/* Wait until no worker is in a pass that began before this call. */
void sw_quiesce(struct sw *sw);

/* Ports (port.c): start a vhost port's socket (one connection at a time
 * on a server socket: a port is one VM); log MAC moves and locks. */
int sw_port_start(struct sw *sw, struct sw_port *port, bool client);
void sw_log_events(struct sw *sw);
/* The ethdev snapshot provider (sw_ethdev.c): every port, any kind. */
void sw_ethdev_provider(struct sw *sw, struct ethdev_provider *out);

/* Prometheus metrics and systemd readiness (metrics_sw.c): start the
 * metrics threads (metrics.h), then tell systemd READY=1 unless *ret is
 * already an error. On a metrics failure: NULL, *ret = -errno, sw->stop. */
struct prom;
struct metrics;
struct metrics_params;
void sw_metrics_render(struct prom *p, void *arg);
struct metrics *sw_ops_start(struct sw *sw, const struct metrics_params *mp,
			     int *ret);
/* Ports at run time (port.c), each under cfg_lock; from the control or main
 * thread, never from a libvhost callback. Add: the slot is filled from the
 * spec (port_spec.h) and started; returns its id, or -errno with a reason
 * in err. Del (by name or id): the port goes down, its socket or device is
 * closed, its units leave the workers, its MACs and security state are
 * flushed, its counters zeroed, then the slot is free for reuse. */
struct port_spec;
int sw_port_add(struct sw *sw, const struct port_spec *spec, char *err,
		size_t errlen);
int sw_port_del(struct sw *sw, const char *name_or_id, char *msg,
		size_t msglen); /* msg: the reason, or the removed port's name */
/* Under cfg_lock: the port named so (name, interface name, or id), or
 * NULL. */
struct sw_port *sw_port_find(struct sw *sw, const char *name_or_id);
/* The port's name as shown to the operator, and its kind's name. */
const char *sw_port_name(const struct sw_port *p);
const char *sw_port_kind_name(const struct sw_port *p);

/* TAP uplink (tap.c) */
int tap_open(const char *name, char *actual, size_t actual_len);
uint16_t tap_rx(struct sw_port *port, struct vhost_pktbuf_pool *pool,
		struct vhost_pktbuf **pkts, uint16_t n);
uint16_t tap_tx(struct sw_port *port, struct vhost_pktbuf *const *pkts,
		uint16_t n);
void tap_vnet_hdr(const struct vhost_pktbuf *p, struct virtio_net_hdr *h);

#endif
