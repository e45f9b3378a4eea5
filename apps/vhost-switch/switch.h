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

#include <vhost/vhost.h>

#include "mac_table.h"
#include "network.h"
#include "port_sec.h"

#define SW_MAX_PORTS 64
#define SW_MAX_WORKERS 16
#define SW_MAX_TAPS 8
#define SW_BURST 32
#define SW_BUSY_RETRIES 4 /* enqueue retries when the ring is busy */

enum port_kind { PORT_VHOST, PORT_TAP, PORT_VXLAN, PORT_NIC };

struct vxlan;
struct afp;
struct virtio_net_hdr;

struct sw_port {
	uint16_t id;
	enum port_kind kind;
	const char *name;              /* socket path or TAP name */
	bool client;
	struct vhost_socket *sock;
	struct vhost_dev *_Atomic dev; /* vhost: set while running */
	int tap_fd;                    /* tap: -1 if none */
	struct port_net pnet;          /* network(s): network.h */
	struct vxlan *vx;              /* the VXLAN uplink: vxlan.h */
	struct afp *afp;               /* a NIC uplink: afpacket.h */
	_Atomic bool up;               /* may be polled and sent to */
	_Atomic int worker;            /* polling worker, -1 if none */
	_Atomic uint32_t tx_lock;      /* one sender at a time per port */
	/* rx_* written by the owning worker, tx_* by any worker */
	_Atomic uint64_t rx_packets, rx_bytes, rx_drops;
	_Atomic uint64_t tx_packets, tx_bytes, tx_drops;
	/* Parts of tx_drops: the guest had no room (or the ring stayed
	 * busy), a packet the guest can never take. */
	_Atomic uint64_t tx_no_room, tx_unplaceable;
	_Atomic uint64_t tx_segmented;  /* TSO packets cut in software */
	_Atomic uint64_t connects;
	char ifname[32];               /* tap: actual name */
};

struct sw_worker {
	int id;
	int cpu;                       /* -1: not pinned */
	pthread_t thread;
	struct sw *sw;
	_Atomic uint64_t seq;          /* odd while inside a pass */
	struct sw_port *_Atomic ports[SW_MAX_PORTS];
	_Atomic unsigned nports;       /* assigned (for balancing) */
	_Atomic uint64_t passes, busy_passes, packets, floods;
};

struct sw {
	struct sw_port ports[SW_MAX_PORTS];
	unsigned nports;
	struct sw_worker workers[SW_MAX_WORKERS];
	unsigned nworkers;
	struct mac_table *macs;
	struct port_sec sec[SW_MAX_PORTS]; /* by port id */
	uint64_t moves_logged[SW_MAX_PORTS]; /* main thread only */
	bool lock_logged[SW_MAX_PORTS];      /* main thread only */
	struct vhost_ctx *ctx;
	struct vhost_pktbuf_pool *pool;
	_Atomic bool stop;
	pthread_mutex_t assign_lock;   /* port <-> worker assignment */
};

void *sw_worker_main(void *arg);
/* Give port to the least loaded worker / take it away (then quiesce). */
void sw_assign_port(struct sw *sw, struct sw_port *port);
void sw_unassign_port(struct sw *sw, struct sw_port *port);
/* Wait until no worker is in a pass that began before this call. */
void sw_quiesce(struct sw *sw);

/* Ports (port.c): start a vhost port's socket (one connection at a time
 * on a server socket: a port is one VM); log MAC moves and locks. */
int sw_port_start(struct sw *sw, struct sw_port *port, bool client);
void sw_log_events(struct sw *sw);

/* TAP uplink (tap.c) */
int tap_open(const char *name, char *actual, size_t actual_len);
uint16_t tap_rx(struct sw_port *port, struct vhost_pktbuf_pool *pool,
		struct vhost_pktbuf **pkts, uint16_t n);
uint16_t tap_tx(struct sw_port *port, struct vhost_pktbuf *const *pkts,
		uint16_t n);
void tap_vnet_hdr(const struct vhost_pktbuf *p, struct virtio_net_hdr *h);

#endif
