/* SPDX-License-Identifier: BSD-3-Clause */
/* virtio-fwd: vhost-fwd's sibling on the front-end side (libvhost's
 * virtio-user), with a load-generator mode. */
#ifndef VIRTIO_FWD_H
#define VIRTIO_FWD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <vhost/virtio_user.h>

#define VF_MAX_PORTS 2
#define VF_MAX_BURST 256

enum vf_mode { VF_RXONLY, VF_TXONLY, VF_MAC, VF_IO };

struct vf_port {
	const char *path;
	struct virtio_user *vu;
	/* Written by the worker only. */
	_Atomic uint64_t rx_packets, rx_bytes, rx_invalid;
	_Atomic uint64_t tx_packets, tx_bytes, tx_drops;
};

struct vf {
	enum vf_mode mode;
	bool gen;          /* load generator: prebuilt packets, no copies */
	bool validate;
	bool interrupt;
	uint32_t pkt_len;
	uint16_t burst;
	uint16_t queues;    /* queue pairs per port, each polled in turn */
	uint16_t tx_first;  /* mac/io: bursts to send once a back-end is there */
	int cpu;
	int nports;
	struct vf_port ports[VF_MAX_PORTS];
	struct vhost_pktbuf_pool *pool;
	uint8_t tmpl[VHOST_PKTBUF_MAX_PKT_LEN];
	uint64_t tx_seq;
	_Atomic bool stop, paused;
	_Atomic uint64_t passes, idle_passes, wakeups;
};

void *vf_worker(void *arg);

#endif
