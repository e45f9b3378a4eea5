/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-user internals: the front-end object, its rings, and the split
 * ring driver side. Control state is written by the control thread only
 * (vu_ctrl.c); a ring's data-path state by the thread holding its busy
 * flag (one trylock per burst; the control thread spins on it to stop a
 * ring).
 */
#ifndef VU_H
#define VU_H

#include <linux/virtio_net.h>
#include <linux/virtio_ring.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <vhost/virtio_user.h>

#define VU_HDR_LEN ((uint32_t)sizeof(struct virtio_net_hdr_mrg_rxbuf))
/* A slot's buffer starts this far into it: the virtio-net header fills the
 * end of the slot's first cache line and the packet starts on the next.
 * A transmit slot's header then has a line of its own, which stays clean
 * while the header does not change (vu_tx_slot_hdr). */
#define VU_SLOT_PAD (64u - VU_HDR_LEN)
#define VU_MAX_RINGS (2 * VIRTIO_USER_MAX_QUEUE_PAIRS)
#define VU_REPLY_TIMEOUT_MS 5000

/* Our bookkeeping for one descriptor head, private (the back-end can
 * write everything in shared memory, so nothing there is read back but
 * the used ring, and that is checked). */
struct vu_head {
	uint32_t seq;     /* post order, for re-posting in flight buffers */
	uint16_t ndesc;   /* descriptors in the chain (0: not a posted head) */
	uint16_t pad;
};

struct vu_ring {
	atomic_flag busy;       /* data path: trylock per burst */
	bool ready;             /* running: set by the control thread under busy */
	bool broken;            /* the back-end broke it; reset on reconnect */
	bool tx;
	bool gen;               /* prebuilt packets (load generator) */
	bool intr;              /* the application wants calls */
	bool event_idx, mrg;
	bool packed;            /* VIRTIO_F_RING_PACKED negotiated */
	bool rx_desc_dirty;     /* split receive: a descriptor carried a
				 * pktbuf since ring_clear wrote slots */
	bool in_order;          /* split, VIRTIO_F_IN_ORDER negotiated: used
				 * entries come back in post order */
	bool ordered;           /* split: descriptors are taken in ring order
				 * (free list consecutive; vu_free_chain) */
	uint16_t index, size, mask;
	/* Split: descriptor table, avail and used rings. Packed: the
	 * descriptor ring (pdesc, the same memory), the driver event area
	 * (drv_event, in avail's place: ours) and the device event area
	 * (dev_event, in used's place: the back-end's). */
	union {
		struct vring_desc *desc;
		struct vring_packed_desc *pdesc;
	};
	union {
		struct vring_avail *avail;
		struct vring_packed_desc_event *drv_event;
	};
	union {
		struct vring_used *used;
		struct vring_packed_desc_event *dev_event;
	};
	uint8_t *slots;         /* size slots of slot_len bytes */
	uint32_t slot_len;      /* VU_SLOT_PAD + header + buf_len, rounded */
	uint32_t slot_room;     /* bytes from vu_slot(): slot_len - VU_SLOT_PAD */
	uint16_t avail_idx;     /* split: next avail->idx we publish;
				 * packed: descriptors posted (mod 2^16) */
	uint16_t last_used;     /* split: used entries consumed */
	/* Packed: the next descriptor we make available and the next one
	 * the back-end marks used, with their wrap counters (virtio 2.7.1). */
	uint16_t avail_pos, used_pos;
	bool avail_wrap, used_wrap;
	uint16_t head_flags;    /* packed: the chain head's flags, stored
				 * last (vu_post) */
	/* What vu_update_intr last wrote (intr_mode 0: nothing since the
	 * ring was cleared; 1: calls on; 2: off) and the value. */
	uint8_t intr_mode;
	uint16_t intr_sh;
	uint32_t post_len;      /* length of a prebuilt buffer (rx, gen) */
	/* Free list, first in first out: with a back-end that returns
	 * buffers in order (all do), descriptors, slots and avail entries are
	 * then taken in ring order and written only where they change. */
	uint16_t free_head, free_tail, nfree;
	uint16_t *next;         /* private chain links and free list */
	struct vu_head *heads;
	uint32_t seq;
	uint32_t gen_len;       /* gen: bytes in each tx descriptor */
	uint64_t rx_features;   /* net_hdr_to_pkt view of the features */
	uint64_t tx_features;   /* net_hdr_from_pkt view of the features */
	uint32_t *lens;         /* private: each buffer's posted length
				 * (packed rings are rewritten on recovery) */
	uint64_t *addrs;        /* private: each descriptor's address, likewise
				 * (and what split descriptors hold: see
				 * rx_refill_zc) */
	/* Split, private copies of what the shared ring holds (written there
	 * only when they change: an unchanged line stays clean in the
	 * back-end's cache): each descriptor's flags | next << 16, and the
	 * avail ring (also the post order, for IN_ORDER). */
	uint32_t *links;
	uint16_t *avail_sh;
	/* Transmit: slots whose header bytes may be non-zero (else we know
	 * them zero and do not write them again). */
	uint8_t *hdr_set;
	/* Per chain head: the packet posted by reference (zero-copy), whose
	 * reference we hold until the chain comes back or the ring is reset;
	 * NULL for a chain of slots. */
	struct vhost_pktbuf **zc;
	int kickfd, callfd;
	struct virtio_user_queue_stats st;
};

enum vu_state { VU_IDLE, VU_READY, VU_GONE };

struct virtio_user {
	struct virtio_user_params p;
	char path[108];
	uint64_t offered;       /* features we offer */
	_Atomic uint64_t features; /* negotiated */
	uint64_t protocol_features; /* control thread; copied below */
	_Atomic uint64_t protocol_features_pub;
	uint16_t nrings;        /* allocated: 2 * p.queue_pairs */
	_Atomic uint16_t active_pairs; /* in use with this back-end */
	int memfd;
	uint8_t *mem;
	uint64_t mem_size;
	/* Shared pools posted by reference; their areas are regions 1.. of
	 * SET_MEM_TABLE. */
	struct vhost_pktbuf_pool *pools[VIRTIO_USER_MAX_POOLS];
	unsigned npools;
	struct vu_ring rings[VU_MAX_RINGS];
	/* control */
	pthread_t thread;
	bool started;
	int sock, listen_fd, wakefd;
	_Atomic bool stop;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	_Atomic int state;      /* enum vu_state */
	_Atomic uint64_t connects, disconnects;
};

/* vu_mem.c: memory and ring layout */
int vu_mem_init(struct virtio_user *vu);
void vu_mem_fini(struct virtio_user *vu);
/* The ring's descriptors back to the free list, indices to 0; packets
 * posted by reference released. */
void vu_ring_reset(struct vu_ring *r);
/* After a back-end went away (ring stopped): consume what it returned,
 * then make the heads still in flight available again, in post order
 * (split: from the used index on; packed: on a fresh ring). Returns the
 * payload for SET_VRING_BASE. */
uint32_t vu_ring_recover(struct vu_ring *r);

/* vu_proto.c: the protocol client on a connected socket */
int vu_request(int fd, bool ack, uint32_t req, const void *payload,
	       uint32_t size, const int *fds, unsigned nfds);
int vu_get_u64(int fd, uint32_t req, uint64_t *out);
int vu_negotiate(struct virtio_user *vu, int fd);
int vu_setup_ring(struct virtio_user *vu, int fd, struct vu_ring *r,
		  uint32_t base);
int vu_set_status(struct virtio_user *vu, int fd);

/* vu_net.c: rings at setup */
void vu_ring_post_rx(struct vu_ring *r);
void vu_ring_set_features(struct vu_ring *r, uint64_t features);

#endif
