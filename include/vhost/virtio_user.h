/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-user: the front-end (driver) side of vhost-user for virtio-net,
 * without a VM. The process owns the "guest" memory (one shared memfd) and
 * the rings in it (split, or packed when VIRTIO_F_RING_PACKED is offered
 * and the back-end takes it), and talks to a back-end (a vhost-user switch:
 * libvhost, DPDK net_vhost, OVS-DPDK, VPP) over a UNIX socket.
 *
 * Model
 * -----
 * virtio_user_create() lays out the memory, rings and buffers; then
 * virtio_user_start() starts one control thread that connects to the
 * back-end's socket (or listens for it with VIRTIO_USER_SERVER), negotiates
 * features, hands over the memory (SET_MEM_TABLE) and the rings. When the
 * back-end goes away, the control thread stops the rings and keeps trying
 * (client: connect with back-off 50 ms doubling to 1 s; server: accept the
 * next back-end); a new back-end gets the rings where they were: ring
 * indices are kept, buffers that were in flight are posted again (a
 * transmitted packet the old back-end had read but not returned may be
 * sent twice; received packets it had returned but we had not read yet are
 * dropped and counted in lost_on_reset).
 *
 * Queue numbering follows virtio-net: ring 2*i receives (back-end -> us),
 * ring 2*i+1 transmits, for queue pair i.
 *
 * Threads
 * -------
 * - create/start/destroy: one thread, not concurrently with anything else
 *   on the same object.
 * - The burst, gen, intr and stats functions: any thread, one thread at a
 *   time per ring (one uncontended trylock per burst; a burst that loses
 *   it, or finds the ring stopped, returns 0).
 * - Everything else: any thread, any time.
 *
 * Packets
 * -------
 * Buffers posted to the back-end live in the shared memory; packets are
 * struct vhost_pktbuf (vhost/pktbuf.h) from the application's pools, copied
 * in (tx) and out (rx). virtio_user_tx_burst() leaves the caller the owner
 * of every packet passed; virtio_user_rx_burst() gives the caller the
 * packets it returns. The virtio-net header is built from and parsed into
 * the pktbuf offload metadata (checksum, TSO).
 *
 * Zero-copy: pools created with vhost_pktbuf_pool_create_shared() and
 * listed in virtio_user_params.pools are part of the memory the back-end
 * maps. A transmitted packet of more than 256 bytes (smaller ones cost
 * less to copy) whose every segment comes from one of them is posted by
 * reference, not copied: the front-end takes a reference
 * (vhost_pktbuf_refcnt_update) until the back-end has used it, or until the
 * ring is reset or destroyed. The caller still frees the packet after
 * virtio_user_tx_burst() as before, but must treat it as shared (read-only,
 * vhost/pktbuf.h) from then on. Packets that need a checksum written into
 * their data, and packets from other pools, are copied. virtio_user_rx_burst()
 * with a registered pool (whose buffers hold a whole packet, unless
 * MRG_RXBUF) posts that pool's buffers as receive buffers and returns them
 * filled in place (mergeable packets as chained segments); buffers posted
 * and not yet used are released when the ring is reset or destroyed.
 * Zero-copy data lives in memory the back-end can write at any time: an
 * application that must not see a packet change after checking it copies
 * it first. The control thread releases what a reset ring held, so it
 * counts as one more thread with a cache of such a pool (vhost/pktbuf.h:
 * count >= needed + threads * cache_size); the data threads need buffers
 * for every receive ring they poll (queue_size each) on top.
 *
 * The back-end is not trusted: every used entry it writes (id, length,
 * index) and every reply is checked. A bad used entry breaks that ring (it
 * stops, is counted in its statistics, and is set up afresh when the next
 * back-end connects); a bad reply closes the connection. Never a crash.
 */
#ifndef VHOST_VIRTIO_USER_H
#define VHOST_VIRTIO_USER_H

#include <stdbool.h>
#include <stdint.h>

#include <vhost/pktbuf.h>

#ifdef __cplusplus
extern "C" {
#endif

struct virtio_user;

#define VIRTIO_USER_SERVER       (1u << 0) /* listen for the back-end */
#define VIRTIO_USER_NO_RECONNECT (1u << 1) /* give up after the first back-end */
#define VIRTIO_USER_MAX_QUEUE_PAIRS 8
#define VIRTIO_USER_MAX_QUEUE_SIZE 4096
/* Shared pools one front-end can post by reference: each is one more
 * region of SET_MEM_TABLE, next to the front-end's own (vhost-user allows
 * 8). */
#define VIRTIO_USER_MAX_POOLS 4

#define VIRTIO_USER_RX(pair) ((uint16_t)((pair) * 2))
#define VIRTIO_USER_TX(pair) ((uint16_t)((pair) * 2 + 1))

struct virtio_user_params {
	const char *path;      /* the vhost-user socket */
	uint32_t flags;        /* VIRTIO_USER_* */
	uint16_t queue_pairs;  /* 0: 1; at most VIRTIO_USER_MAX_QUEUE_PAIRS */
	uint16_t queue_size;   /* 0: 256; a power of two <= 4096 */
	/* Virtio features to offer; 0: virtio_user_default_features() (MQ
	 * added when queue_pairs > 1; split rings: add VIRTIO_F_RING_PACKED
	 * for packed ones, as DPDK's packed_vq=1). VIRTIO_F_IN_ORDER is taken
	 * on split rings only. Bits outside
	 * virtio_user_supported_features() are refused (EINVAL). */
	uint64_t features;
	/* Bytes per buffer after the 12-byte virtio-net header; 0: 2048.
	 * Without MRG_RXBUF a receive buffer must hold a whole packet, so at
	 * least 1518. */
	uint32_t buf_len;
	/* Shared pools (vhost_pktbuf_pool_create_shared) whose buffers this
	 * front-end posts to the back-end by reference (zero-copy, see
	 * Packets); at most VIRTIO_USER_MAX_POOLS, else EINVAL, as for a pool
	 * not created shared or listed twice. Copied at create; the pools must outlive the
	 * front-end (it holds references to their buffers until destroy). */
	struct vhost_pktbuf_pool *const *pools;
	unsigned npools;
};

uint64_t virtio_user_supported_features(void);
uint64_t virtio_user_default_features(void);

/* NULL with errno set on failure (EINVAL, ENOMEM, ENAMETOOLONG...). */
struct virtio_user *virtio_user_create(const struct virtio_user_params *p);
/* Start the control thread (connect or listen). 0 or -errno. */
int virtio_user_start(struct virtio_user *vu);
/* Stop the control thread, close the connection, free everything. */
void virtio_user_destroy(struct virtio_user *vu);

/* Wait until a back-end is connected and the rings run; 0 or -ETIMEDOUT
 * (or -ENOTCONN once a NO_RECONNECT front-end gave up). */
int virtio_user_wait_ready(struct virtio_user *vu, int timeout_ms);
bool virtio_user_is_ready(const struct virtio_user *vu);
/* Negotiated with the current (or last) back-end. */
uint64_t virtio_user_features(const struct virtio_user *vu);
uint64_t virtio_user_protocol_features(const struct virtio_user *vu);
/* Queue pairs in use (min of the requested and the back-end's). */
uint16_t virtio_user_queue_pairs(const struct virtio_user *vu);
/* Times a back-end was connected and set up, and lost. */
uint64_t virtio_user_connects(const struct virtio_user *vu);
uint64_t virtio_user_disconnects(const struct virtio_user *vu);

/* ------------------------------------------------------------ data path */

/* Copy up to n packets into transmit buffers of pair qp, in order.
 * Returns how many were taken from the front of pkts: sent, or dropped
 * because their offload metadata cannot be sent (stats bad_hdr) or they
 * are larger than the ring (stats too_big). The caller keeps ownership of
 * every packet. Stops early when the ring is full (used buffers are
 * reclaimed at the start of every burst). */
uint16_t virtio_user_tx_burst(struct virtio_user *vu, uint16_t qp,
			      struct vhost_pktbuf *const *pkts, uint16_t n);
/* Receive up to n packets of pair qp into buffers from pool; the caller
 * owns the packets returned. Receive buffers are posted again at once;
 * with a registered pool (zero-copy) its own buffers, at the start of the
 * next burst (then the ones the caller freed meanwhile come back). */
uint16_t virtio_user_rx_burst(struct virtio_user *vu, uint16_t qp,
			      struct vhost_pktbuf_pool *pool,
			      struct vhost_pktbuf **pkts, uint16_t n);

/*
 * Load generator: the least work per packet. virtio_user_gen_set_packet()
 * writes the packet (with a zero virtio-net header) once into every
 * transmit buffer of qp; virtio_user_gen_tx() then posts up to n of them
 * and recycles the used ones, writing only avail ring entries (no copy, no
 * descriptor write). virtio_user_gen_rx() consumes up to n received
 * buffers without reading them (one buffer is one packet: use buffers
 * that hold a whole packet) and posts them again, adding their data bytes
 * to *bytes. A ring used by the generator must not be used by the bursts
 * above. Both count empty polls in the ring's statistics.
 */
int virtio_user_gen_set_packet(struct virtio_user *vu, uint16_t qp,
			       const void *pkt, uint32_t len);
uint16_t virtio_user_gen_tx(struct virtio_user *vu, uint16_t qp, uint16_t n);
uint16_t virtio_user_gen_rx(struct virtio_user *vu, uint16_t qp, uint16_t n,
			    uint64_t *bytes);

/* Interrupt mode: the call eventfd the back-end writes for ring (stays
 * the same across reconnects; non-blocking; read it to clear it), and
 * whether to ask for calls. After enabling, burst once more before
 * sleeping: the back-end may have used buffers in between. */
int virtio_user_callfd(struct virtio_user *vu, uint16_t ring);
int virtio_user_enable_intr(struct virtio_user *vu, uint16_t ring, bool on);

struct virtio_user_queue_stats {
	uint64_t packets;
	uint64_t bytes;
	uint64_t bad_hdr;       /* rx: invalid header from the back-end;
				 * tx: metadata the back-end cannot take */
	uint64_t too_big;       /* larger than a packet or the ring */
	uint64_t no_pktbuf;     /* rx: the pool was empty */
	uint64_t kicks;         /* kick eventfd writes */
	uint64_t kicks_suppressed; /* bursts where the back-end wanted none */
	uint64_t empty_polls;   /* bursts that moved nothing */
	uint64_t lost_on_reset; /* rx: returned by a back-end that went away */
	uint64_t broken;        /* times the back-end broke this ring */
	uint64_t zero_copy;     /* tx: packets posted by reference; rx:
				 * packets received in place */
};

/* Counters of ring (written by the data thread; read without stopping
 * it). -EINVAL for a bad ring index. */
int virtio_user_stats_get(const struct virtio_user *vu, uint16_t ring,
			  struct virtio_user_queue_stats *st);
/* True while ring is stopped because the back-end broke it. */
bool virtio_user_ring_broken(const struct virtio_user *vu, uint16_t ring);

#ifdef __cplusplus
}
#endif
#endif
