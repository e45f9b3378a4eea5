/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The VXLAN uplink (RFC 7348): the switch's networks carried over UDP to
 * remote VTEPs (the Linux kernel's vxlan device, OVS, another
 * vhost-switch). One VNI per network; a flood list of remote VTEPs per
 * network, from the command line or the control socket (sw_vxlan.h):
 * head-end replication of broadcast, multicast and unknown unicast, never
 * back to the VTEP a frame came from; remote MACs are learned from
 * decapsulated frames (MAC -> VTEP, in the MAC table).
 *
 * Receive: one UDP socket bound to LOCAL_IP:PORT, recvmmsg in bursts.
 * Send: one raw IPv4 socket (protocol UDP, the kernel adds the IP header)
 * and sendmmsg per burst, so each datagram has its own UDP source port,
 * hashed from the inner flow (ECMP in the underlay spreads flows), and UDP
 * checksum 0 (RFC 7348 5; any checksum is accepted on receive). Needs
 * CAP_NET_RAW.
 *
 * The underlay MTU (mtu=, default 1500) bounds what is sent: an inner
 * frame of L bytes makes an L + 36 byte IP packet (outer IPv4 20 + UDP 8 +
 * VXLAN 8), so guests get MTU underlay - 50 (1450), counting their own
 * Ethernet header (14); larger frames are dropped and counted (TSO packets
 * are cut to their MSS first, partial checksums completed).
 *
 * Threads: the control thread (under the switch's cfg_lock) maps networks
 * and adds or removes VTEPs while the workers run; the worker that polls
 * the uplink receives (and claims slots for learned VTEPs when not
 * strict); any worker sends under the port's send lock. Readers take no
 * lock: a VTEP slot is claimed with a CAS (FREE -> BUSY), filled, then
 * published (LIVE, release); removal marks it GONE (flooding and lookups
 * skip it), the caller waits the workers out (sw_quiesce) and flushes the
 * MACs behind it, then frees the slot for reuse. A VNI mapping is written
 * before its key (release), and never undone while the uplink runs.
 */
#ifndef SWITCH_VXLAN_H
#define SWITCH_VXLAN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <sys/socket.h>

#include <vhost/pktbuf.h>

#define VXLAN_UDP_PORT 4789
#define VXLAN_HLEN 8
#define VXLAN_OVERHEAD 50      /* outer Ethernet + IPv4 + UDP + VXLAN */
#define VX_MAX_VTEPS 64        /* configured and learned */
#define VX_MAX_NETS 64         /* networks with a VNI */
#define VX_NET_SLOTS 128       /* VNI -> network hash, power of two */
#define VX_BATCH 64            /* datagrams per sendmmsg / recvmmsg */
#define VX_MAX_IOV 18          /* header + inner segments */
#define VX_RX_SEGS 5           /* buffers one datagram may fill */
#define VX_MIN_INNER 14        /* an inner frame is at least an Ethernet header */

/* Why a datagram or frame was dropped; 0 is "not dropped" (vxlan_decap). */
enum vx_drop {
	VX_DROP_SHORT = 1,     /* shorter than a VXLAN header */
	VX_DROP_FLAGS,         /* I flag missing or reserved bits set */
	VX_DROP_VNI,           /* a VNI we have no network for */
	VX_DROP_TINY,          /* inner frame below an Ethernet header */
	VX_DROP_VTEP,          /* from an unknown VTEP (strict) */
	VX_DROP_TRUNC,         /* datagram larger than our buffers */
	VX_DROP_BIG,           /* inner frame + 50 above the underlay MTU */
	VX_DROP_NOVNI,         /* to send, but its network has no VNI */
	VX_DROP_BAD,           /* to send, bad checksum/TSO metadata */
	VX_DROP_SEND,          /* the socket refused it (full, error) */
	VX_DROP_N
};

struct jw;

/* A VTEP slot's life (vx_vtep.state). */
enum vx_vtep_state { VX_VTEP_FREE, VX_VTEP_BUSY, VX_VTEP_LIVE, VX_VTEP_GONE };

struct vx_vtep {
	_Atomic uint8_t state;   /* enum vx_vtep_state */
	_Atomic bool flood;      /* configured: in the flood list */
	_Atomic uint16_t port;   /* UDP destination, network order */
	uint32_t ip;             /* network order; set while BUSY */
	uint16_t net;            /* set while BUSY */
};

struct vxlan {
	/* configuration */
	uint32_t local_ip;     /* network order */
	uint16_t local_port;   /* host order */
	unsigned mtu;          /* underlay IP MTU */
	bool strict;           /* only configured VTEPs may send to us */
	_Atomic uint32_t vni_of[4095]; /* by network: VNI + 1, 0: none */
	/* net is written before vni1 (release): a reader that sees the key
	 * sees its network */
	struct { _Atomic uint32_t vni1; uint16_t net; } by_vni[VX_NET_SLOTS];
	unsigned nnets;        /* control thread only */
	struct vx_vtep vteps[VX_MAX_VTEPS];
	/* slots [0, nvteps) may be LIVE; only grows while the uplink runs */
	_Atomic unsigned nvteps;
	int rx_fd, tx_fd;
	/* receive buffers kept between bursts (an idle poll allocates
	 * nothing): rx_nbuf of them, receiving worker only */
	struct vhost_pktbuf *rx_buf[VX_BATCH * VX_RX_SEGS];
	unsigned rx_nbuf;
	/* statistics */
	_Atomic uint64_t drops[VX_DROP_N];
	_Atomic uint64_t rx_dgrams, tx_dgrams, learned_vteps;
	/* send state, under the uplink's send lock */
	struct mmsghdr tx_msg[VX_BATCH];
	struct iovec tx_iov[VX_BATCH][VX_MAX_IOV];
	uint8_t tx_hdr[VX_BATCH][16];
	struct sockaddr_storage tx_addr[VX_BATCH];
	struct vhost_pktbuf *tx_own[VX_BATCH]; /* segments made here */
	unsigned tx_n, tx_nown;
};

/* Configuration (before vxlan_open). "LOCAL_IP[:PORT][,mtu=N][,strict]" */
void vxlan_init(struct vxlan *vx);
int vxlan_parse_local(struct vxlan *vx, const char *arg);
/* "NET:VNI:REMOTE_IP[:PORT]": network NET is VNI on the wire (one VNI per
 * network and one network per VNI), REMOTE_IP in its flood list. */
int vxlan_parse_vtep(struct vxlan *vx, const char *arg);
/* The same, pure: "NET:VNI:IP[:PORT]" (vtep_add) and "NET:IP[:PORT]"
 * (vtep_del; *port 0 when not given: any). 0 or -EINVAL. */
int vxlan_vtep_spec(const char *arg, uint16_t *net, uint32_t *vni,
		    uint32_t *ip, uint16_t *port);
int vxlan_vtep_del_spec(const char *arg, uint16_t *net, uint32_t *ip,
			uint16_t *port);
/* Map net <-> vni: 0, -EEXIST (either already mapped otherwise), -ENOSPC,
 * -EINVAL. Safe while decapsulation runs (one writer at a time). */
int vxlan_map(struct vxlan *vx, uint16_t net, uint32_t vni);
/* VNI of a network + 1, 0: none. */
uint32_t vxlan_vni1_of(const struct vxlan *vx, uint16_t net);
/* Put a VTEP (port: host order) in net's flood list: its index, or
 * -EINVAL (net has no VNI), -EEXIST (already there), -ENOSPC (table
 * full). A learned VTEP with that address joins the list. */
int vxlan_add_vtep(struct vxlan *vx, uint16_t net, uint32_t ip, uint16_t port);
/* Removal, step 1: the VTEP (net, ip, port; port 0: any), flood-list or
 * learned, is GONE: no new lookup or flood finds it. Its index, or
 * -ENOENT. Step 2, once no worker can still use it (sw_quiesce) and the
 * MACs behind it are flushed: its slot is free. */
int vxlan_vtep_unpublish(struct vxlan *vx, uint16_t net, uint32_t ip,
			 uint16_t port);
void vxlan_vtep_release(struct vxlan *vx, unsigned idx);
/* VTEPs in use (LIVE). */
unsigned vxlan_vtep_count(const struct vxlan *vx);
/* The VTEP at idx if LIVE: true, its fields copied out (port in network
 * order). */
bool vxlan_vtep_get(const struct vxlan *vx, unsigned idx, uint32_t *ip,
		    uint16_t *port, uint16_t *net, bool *flood);
/* Sockets: 0 or -errno. vxlan_close is safe on a closed one; it frees
 * the receive buffers it keeps (before their pool goes). */
int vxlan_open(struct vxlan *vx);
void vxlan_close(struct vxlan *vx);

/* Network of a VNI, or 0. */
uint16_t vxlan_net_of(const struct vxlan *vx, uint32_t vni);
/* A received datagram in p (from ip:port, network order): checked, the
 * VXLAN header taken off, network and VTEP in p's userdata. 0, or the
 * enum vx_drop reason (counted by the caller). Learns a VTEP when not
 * strict. Pure but for that: the fuzz target calls it. */
int vxlan_decap(struct vxlan *vx, uint32_t ip, struct vhost_pktbuf *p);
/* UDP source port for an inner frame: a hash of its flow (addresses,
 * IPv4/IPv6 and TCP/UDP ports), in 49152..65535. */
uint16_t vxlan_src_port(const struct vhost_pktbuf *p);

/* Bursts for the worker: like tap_rx / tap_tx. vxlan_tx sends each packet
 * to its VTEP (userdata) or to the flood list of its network, and returns
 * how many packets it took (the caller frees them all). */
uint16_t vxlan_rx(struct vxlan *vx, struct vhost_pktbuf_pool *pool,
		  struct vhost_pktbuf **pkts, uint16_t n);
uint16_t vxlan_tx(struct vxlan *vx, struct vhost_pktbuf_pool *pool,
		  struct vhost_pktbuf *const *pkts, uint16_t n);

void vxlan_print_stats(const struct vxlan *vx, FILE *o);
/* Its counters as one JSON object (under key, NULL in an array). */
void vxlan_json(const struct vxlan *vx, const char *key, struct jw *w);

#endif
