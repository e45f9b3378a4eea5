/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NIC uplink: a network interface (a physical NIC, or a veth) read and
 * written through AF_PACKET rings shared with the kernel, so no system
 * call per packet:
 * - receive: a TPACKET_V3 ring of blocks; the worker walks the frames of
 *   each block the kernel handed over and gives the block back, without a
 *   system call (a block is handed over when full or after 1 ms). VLAN
 *   tags the driver took off are put back, so trunks work. Frames larger
 *   than our buffers are dropped and counted.
 * - send: a TPACKET_V2 ring on a second socket with the virtio-net header
 *   (PACKET_VNET_HDR), so the kernel completes checksums and segments TSO
 *   packets of the guests (as on the TAP uplink); one send() per burst.
 * Threads: the worker that polls the port receives; senders hold the
 * port's send lock.
 */
#ifndef SWITCH_AFPACKET_H
#define SWITCH_AFPACKET_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include <vhost/pktbuf.h>

#define AFP_RX_BLOCK (1u << 18)       /* 256 KiB */
#define AFP_RX_BLOCKS 16              /* power of two */
#define AFP_RX_FRAME 2048
#define AFP_TX_FRAME (1u << 17)       /* a 64 KiB TSO packet + header */
#define AFP_TX_FRAMES 64              /* power of two */

struct afp {
	int rx_fd, tx_fd;
	uint8_t *rx_ring, *tx_ring;
	unsigned rx_block;            /* block being read */
	unsigned rx_left;             /* its frames not read yet */
	uint8_t *rx_pkt;              /* the next of them */
	unsigned tx_head;             /* next send slot */
	/* statistics */
	_Atomic uint64_t rx_trunc, tx_full, tx_bad;
};

struct sw_port;
struct jw;

/* Open both rings on interface ifname (and make it promiscuous): 0 or
 * -errno. afp_close is safe on a closed one. */
int afp_open(struct afp *a, const char *ifname);
void afp_close(struct afp *a);
uint16_t afp_rx(struct sw_port *port, struct vhost_pktbuf_pool *pool,
		struct vhost_pktbuf **pkts, uint16_t n);
uint16_t afp_tx(struct sw_port *port, struct vhost_pktbuf *const *pkts,
		uint16_t n);
/* Its drop counters: a statistics line, and JSON members. */
void afp_print_stats(const struct afp *a, const char *ifname, FILE *o);
/* Its drop counters as keys of the JSON object being written. */
void afp_json(const struct afp *a, struct jw *w);

#endif
