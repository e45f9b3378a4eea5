/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Split virtqueue access for the data path (virtio 1.1, 2.6): reading the
 * avail ring, walking descriptor chains into buffer vectors, writing the
 * used ring, and deciding whether the guest wants a notification.
 *
 * Everything read from the ring is guest memory the guest may change under
 * us: each field is read once into a local (GUEST_READ) and checked before
 * use. A chain walk ends after at most as many hops as the table has
 * entries (so loops end), refuses nested or malformed indirect tables, and
 * translates every buffer piecewise with bounds checks.
 *
 * Callers hold the virtqueue lock (trylock per burst) and have checked
 * vq->access_ok.
 */
#ifndef VHOST_VRING_SPLIT_H
#define VHOST_VRING_SPLIT_H

#include <stdatomic.h>
#include <string.h>

#include "device.h"

#define GUEST_READ(x) (*(const volatile __typeof__(x) *)&(x))

/* Pieces of guest memory one chain may span, and descriptors one chain
 * may have (DPDK's limit too); more is refused as bad. */
#define BUF_VEC_MAX 256
#define CHAIN_MAX_DESCS 256

struct buf_vec {
	uint8_t *addr;
	uint32_t len;
};

struct chain {
	uint16_t head;            /* split: head index; packed: buffer id */
	uint16_t nslots;          /* packed: ring slots the chain takes */
	uint16_t nvec;
	uint16_t ndesc;           /* descriptors walked (CHAIN_OK) */
	uint32_t len;             /* bytes in vec */
	struct buf_vec vec[BUF_VEC_MAX];
};

enum chain_status {
	CHAIN_OK = 0,
	CHAIN_BAD_DESC,   /* index, flags, loop, indirect rules */
	CHAIN_BAD_ADDR,   /* buffer outside guest memory */
	CHAIN_TOO_BIG,    /* more than max_bytes (device-readable chains) */
	CHAIN_BROKEN,     /* packed: extent or id unknowable; the ring stops */
};

/* One read of avail->idx (pairs with the guest's release store): the
 * entries made available past last_avail_idx, at most the ring size, or
 * -1: the guest moved it too far and the ring is broken. */
static inline int split_avail_load(const struct vhost_vring *vq)
{
	uint16_t idx = atomic_load_explicit(
		(_Atomic uint16_t *)&vq->avail->idx, memory_order_acquire);
	uint16_t n = (uint16_t)(idx - vq->last_avail_idx);

	return n > vq->size ? -1 : n;
}

/* Entries the guest made available and we have not taken, read afresh
 * and remembered in avail_known; -1: the ring is broken. */
static inline int split_avail_count(struct vhost_vring *vq, uint16_t *count)
{
	int n = split_avail_load(vq);

	if (n < 0)
		return -1;
	*count = vq->avail_known = (uint16_t)n;
	return 0;
}

/* At least want entries, or all there are: what an earlier read showed
 * when it covers want (*known; avail->idx only grows past it, and the
 * acquire of that read already orders the entries it covers), else a
 * fresh read. A count short of want is always a fresh one, so "nothing
 * there" is never concluded from an old read. */
static inline int split_avail_atleast(struct vhost_vring *vq, uint16_t want,
				      uint16_t *count, bool *known)
{
	*known = want && vq->avail_known >= want;
	if (*known) {
		*count = vq->avail_known;
		return 0;
	}
	return split_avail_count(vq, count);
}

static inline uint16_t split_avail_head(const struct vhost_vring *vq,
					uint16_t i)
{
	return GUEST_READ(vq->avail->ring[(uint16_t)(vq->last_avail_idx + i) &
					  vq->mask]);
}

/* Add [gpa, gpa + len) to c, split at region ends. */
static inline enum chain_status chain_add(struct chain *c,
					  const struct mem_table *mt,
					  uint64_t gpa, uint32_t len)
{
	while (len) {
		uint64_t got = len;
		uint8_t *p = mem_gpa_to_hva(mt, gpa, &got);

		if (!p)
			return CHAIN_BAD_ADDR;
		if (c->nvec == BUF_VEC_MAX)
			return CHAIN_BAD_DESC;
		c->vec[c->nvec].addr = p;
		c->vec[c->nvec].len = (uint32_t)got;
		c->nvec++;
		c->len += (uint32_t)got;
		/* got <= bytes left in the region: gpa + got cannot wrap. */
		gpa += got;
		len -= (uint32_t)got;
	}
	return CHAIN_OK;
}

/*
 * Walk the chain at head into c. writable: the chain must consist of
 * device-writable descriptors (receive) or device-readable ones (transmit).
 * max_bytes: stop collecting there (writable; the rest of the chain is still
 * walked and checked), or refuse past it (readable).
 */
static inline enum chain_status split_walk_chain(const struct vhost_vring *vq,
						 uint16_t head, bool writable,
						 uint32_t max_bytes,
						 struct chain *c)
{
	const struct vring_desc *table = vq->desc;
	uint32_t table_size = vq->size;
	uint32_t hops = 0, total = 0;
	uint16_t idx = head;
	bool indirect = false;

	c->head = head;
	c->nvec = 0;
	c->len = 0;
	if (head >= vq->size)
		return CHAIN_BAD_DESC;
	for (;;) {
		const struct vring_desc *d = &table[idx];
		uint64_t addr = GUEST_READ(d->addr);
		uint32_t len = GUEST_READ(d->len);
		uint16_t flags = GUEST_READ(d->flags);
		uint16_t next = GUEST_READ(d->next);
		enum chain_status st;

		/* A loop ends at the table size; any chain, with its
		 * indirect part, at CHAIN_MAX_DESCS (zero-length descriptors
		 * count: they cost a walk too). */
		if (++hops > table_size || ++total > CHAIN_MAX_DESCS)
			return CHAIN_BAD_DESC;
		if (flags & VRING_DESC_F_INDIRECT) {
			/* virtio 2.6.5.3.1: no NEXT with INDIRECT, no
			 * indirect inside indirect, len a multiple of 16,
			 * no chain longer than the queue. */
			if (!vq->indirect || indirect ||
			    (flags & VRING_DESC_F_NEXT) || len == 0 ||
			    (len & 15) || len / 16 > vq->size)
				return CHAIN_BAD_DESC;
			table = mem_gpa_range(vq->mem, addr, len);
			if (!table)
				return CHAIN_BAD_ADDR;
			if ((uintptr_t)table & 7)
				return CHAIN_BAD_DESC;
			table_size = len / 16;
			indirect = true;
			hops = 0;
			idx = 0;
			continue;
		}
		if (!!(flags & VRING_DESC_F_WRITE) != writable)
			return CHAIN_BAD_DESC;
		if (len > max_bytes - c->len) {
			if (!writable)
				return CHAIN_TOO_BIG;
			/* Enough room: the rest of the chain is checked but
			 * not used (a loop must still end in an error). */
			len = max_bytes - c->len;
		}
		st = chain_add(c, vq->mem, addr, len);
		if (st != CHAIN_OK)
			return st;
		if (!(flags & VRING_DESC_F_NEXT)) {
			c->ndesc = (uint16_t)total;
			return CHAIN_OK;
		}
		if (next >= table_size)
			return CHAIN_BAD_DESC;
		idx = next;
	}
}

static inline void split_used_write(struct vhost_vring *vq, uint16_t slot,
				    uint16_t head, uint32_t len)
{
	struct vring_used_elem *e = &vq->used->ring[slot & vq->mask];

	e->id = head;
	e->len = len;
}

/* Publish used entries: the entries must be visible before the index
 * (pairs with the guest's read barrier after reading used->idx). */
static inline void split_used_publish(struct vhost_vring *vq, uint16_t idx)
{
	atomic_store_explicit((_Atomic uint16_t *)&vq->used->idx, idx,
			      memory_order_release);
}

/* Does the guest want an interrupt for used entries old..new? */
static inline bool split_need_notify(struct vhost_vring *vq, uint16_t old,
				     uint16_t new_idx)
{
	/* Our used->idx store must be visible before we read the guest's
	 * flags/used_event (pairs with the barrier in the guest between
	 * writing used_event and re-reading used->idx). */
	atomic_thread_fence(memory_order_seq_cst);
	if (vq->event_idx) {
		uint16_t event = GUEST_READ(vq->avail->ring[vq->size]);
		bool was_valid = vq->signalled_used_valid;
		uint16_t since = vq->signalled_used;

		vq->signalled_used = new_idx;
		vq->signalled_used_valid = true;
		if (!was_valid)
			return true;
		/* vring_need_event(): event in [since, new) */
		return (uint16_t)(new_idx - event - 1) <
		       (uint16_t)(new_idx - since);
	}
	(void)old;
	return !(GUEST_READ(vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
}

/* Tell the guest whether to kick us (interrupt mode) or not (polling).
 * Caller holds the vq lock; the ring is translated. */
static inline void split_set_kick_wanted(struct vhost_vring *vq, bool want)
{
	if (vq->event_idx) {
		/* avail_event: kick once avail->idx passes last_avail_idx. */
		if (want)
			*(volatile uint16_t *)&vq->used->ring[vq->size] =
				vq->last_avail_idx;
	}
	*(volatile uint16_t *)&vq->used->flags =
		want ? 0 : VRING_USED_F_NO_NOTIFY;
	atomic_thread_fence(memory_order_seq_cst);
}

#endif
