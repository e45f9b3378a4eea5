/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packed virtqueue access for the data path (virtio 1.1, 2.7): which
 * descriptors are available (flags against the avail wrap counter),
 * walking a chain of ring descriptors (or one indirect table) into a buffer
 * vector, writing used descriptors back, and event suppression.
 *
 * Positions are < size and wrap by compare-and-subtract (a packed ring's
 * size need not be a power of two). Every guest field is read once; the
 * head's flags are read with acquire (the driver writes them last, with a
 * release), the rest of the chain after them.
 *
 * A chain whose extent or id cannot be known (a follow-on descriptor not
 * available under the wrap counter, longer than the ring, an id >= size)
 * is CHAIN_BROKEN: the ring stops, since nothing may be written back for
 * it. A chain whose extent is known but whose content is bad is returned
 * with length 0 like a bad split chain.
 *
 * Callers hold the virtqueue lock and have checked vq->access_ok.
 */
#ifndef VHOST_VRING_PACKED_H
#define VHOST_VRING_PACKED_H

#include "vring_log.h"
#include "vring_split.h"

#define PACKED_AVAIL (1u << VRING_PACKED_DESC_F_AVAIL)
#define PACKED_USED (1u << VRING_PACKED_DESC_F_USED)

/* Available under wrap counter w: AVAIL == w and USED != w. */
static inline bool packed_desc_avail(uint16_t flags, bool w)
{
	/* w ? AVAIL alone : USED alone, among the two bits. */
	return (flags & (PACKED_AVAIL | PACKED_USED)) ==
	       (uint16_t)(PACKED_USED >> (w << 3));
}

static inline void packed_pos_add(uint16_t *pos, bool *wrap, uint16_t n,
				  uint16_t size)
{
	uint32_t p = (uint32_t)*pos + n;

	if (p >= size) {
		p -= size;
		*wrap = !*wrap;
	}
	*pos = (uint16_t)p;
}

/* The head's flags (acquire: the chain's other fields are read after). */
static inline uint16_t packed_head_flags(const struct vhost_vring *vq,
					 uint16_t pos)
{
	return atomic_load_explicit(
		(_Atomic uint16_t *)&vq->pdesc[pos].flags,
		memory_order_acquire);
}

/* Descriptors the batch paths take together: 4 x 16 bytes, one 64-byte
 * cache line of the ring when the driver aligned it so (DPDK's
 * PACKED_BATCH_SIZE). */
#define PACKED_BATCH 4
/* Each loop over a batch unrolled (both compilers take this pragma). */
#define BATCH_UNROLL _Pragma("GCC unroll 4")

struct packed_batch {
	uint64_t addr[PACKED_BATCH];
	uint32_t len[PACKED_BATCH];
	uint16_t id[PACKED_BATCH];
};

/*
 * The PACKED_BATCH descriptors from pos (wrap counter w) for the batch
 * paths: true if pos is a multiple of the batch, the batch ends before the
 * ring does and within room (slots the burst may still take), and every
 * descriptor is available, alone (no NEXT, no INDIRECT) with exactly the
 * flags `want` (VRING_DESC_F_WRITE or 0), a nonzero length and an id the
 * ring has. f0: the head's flags as peeked (with acquire). Each field is
 * read once, into pb; on false nothing is kept: the one-by-one path reads
 * the descriptors afresh and decides for each what it decides anyway.
 */
static inline bool packed_batch_take(const struct vhost_vring *vq,
				     uint16_t pos, bool w, uint16_t f0,
				     uint16_t room, uint16_t want,
				     struct packed_batch *pb)
{
	const struct vring_packed_desc *d = &vq->pdesc[pos];
	uint16_t expect = (uint16_t)((PACKED_USED >> (w << 3)) | want);
	uint16_t size = vq->size;

	if ((pos & (PACKED_BATCH - 1)) || pos + PACKED_BATCH > size ||
	    room < PACKED_BATCH || f0 != expect)
		return false;
	BATCH_UNROLL
	for (unsigned k = 1; k < PACKED_BATCH; k++)
		if (atomic_load_explicit((_Atomic uint16_t *)&d[k].flags,
					 memory_order_relaxed) != expect)
			return false;
	/* All flags before any other field: pairs with the driver's release
	 * store of each descriptor's flags, written after the rest. */
	atomic_thread_fence(memory_order_acquire);
	BATCH_UNROLL
	for (unsigned k = 0; k < PACKED_BATCH; k++) {
		pb->addr[k] = GUEST_READ(d[k].addr);
		pb->len[k] = GUEST_READ(d[k].len);
		pb->id[k] = GUEST_READ(d[k].id);
		if (!pb->len[k] || pb->id[k] >= size)
			return false;
	}
	return true;
}

/* The burst's used entries u.. for a batch taken by packed_batch_take:
 * one slot each; len NULL: all 0 (transmit). Into the shadow, like
 * ring_used_add, through one pointer load. */
static inline void packed_shadow_batch(struct vhost_vring *vq, uint16_t u,
				       const struct packed_batch *pb,
				       const uint32_t *len)
{
	struct packed_used *s = &vq->shadow[u];

	BATCH_UNROLL
	for (unsigned k = 0; k < PACKED_BATCH; k++) {
		s[k].id = pb->id[k];
		s[k].len = len ? len[k] : 0;
		s[k].nslots = 1;
	}
}

/* One indirect table (virtio 2.7.5): len / 16 descriptors, all used; WRITE
 * is the only flag that means something there. */
static inline enum chain_status
packed_walk_indirect(const struct vhost_vring *vq, uint64_t addr,
		     uint32_t len, bool writable, uint32_t max_bytes,
		     struct chain *c, uint32_t *total)
{
	const struct vring_packed_desc *t;
	uint32_t n;

	if (!vq->indirect || len == 0 || (len & 15) || len / 16 > vq->size)
		return CHAIN_BAD_DESC;
	t = mem_gpa_range(vq->mem, addr, len);
	if (!t)
		return CHAIN_BAD_ADDR;
	if ((uintptr_t)t & 7)
		return CHAIN_BAD_DESC;
	n = len / 16;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t a = GUEST_READ(t[i].addr);
		uint32_t l = GUEST_READ(t[i].len);
		uint16_t f = GUEST_READ(t[i].flags);
		enum chain_status st;

		if (++*total > CHAIN_MAX_DESCS ||
		    (f & VRING_DESC_F_INDIRECT) ||
		    !!(f & VRING_DESC_F_WRITE) != writable)
			return CHAIN_BAD_DESC;
		if (l > max_bytes - c->len) {
			if (!writable)
				return CHAIN_TOO_BIG;
			l = max_bytes - c->len;
		}
		st = chain_add(c, vq->mem, a, l);
		if (st != CHAIN_OK)
			return st;
	}
	return CHAIN_OK;
}

/*
 * Walk the chain whose head is at pos (wrap counter w, head flags f0 as
 * read by the caller) into c: c->id is the buffer id (from the chain's
 * last descriptor), c->nslots the ring slots it takes. room: slots the
 * chain may take (what the burst has not consumed of the ring).
 */
static inline enum chain_status
packed_walk_chain(const struct vhost_vring *vq, uint16_t pos, bool w,
		  uint16_t f0, uint16_t room, bool writable,
		  uint32_t max_bytes, struct chain *c)
{
	enum chain_status bad = CHAIN_OK;
	uint32_t n = 0, total = 0;
	uint16_t flags = f0;

	c->nvec = 0;
	c->len = 0;
	for (;;) {
		const struct vring_packed_desc *d = &vq->pdesc[pos];
		uint64_t addr = GUEST_READ(d->addr);
		uint32_t len = GUEST_READ(d->len);

		if (n && !packed_desc_avail(flags, w))
			return CHAIN_BROKEN; /* a hole inside the chain */
		if (++n > room)
			return CHAIN_BROKEN; /* longer than the ring */
		if (bad != CHAIN_OK) {
			/* Known bad: only the extent matters now. */
		} else if (flags & VRING_DESC_F_INDIRECT) {
			/* Alone in its chain (2.7.5.3.1). */
			if (n > 1 || (flags & VRING_DESC_F_NEXT))
				bad = CHAIN_BAD_DESC;
			else
				bad = packed_walk_indirect(vq, addr, len,
							   writable, max_bytes,
							   c, &total);
		} else if (++total > CHAIN_MAX_DESCS ||
			   !!(flags & VRING_DESC_F_WRITE) != writable) {
			bad = CHAIN_BAD_DESC;
		} else {
			if (len > max_bytes - c->len) {
				if (!writable)
					bad = CHAIN_TOO_BIG;
				len = max_bytes - c->len;
			}
			if (bad == CHAIN_OK)
				bad = chain_add(c, vq->mem, addr, len);
		}
		if (!(flags & VRING_DESC_F_NEXT)) {
			uint16_t id = GUEST_READ(d->id);

			if (id >= vq->size)
				return CHAIN_BROKEN;
			c->head = id;
			c->nslots = (uint16_t)n;
			c->ndesc = (uint16_t)(total ? total : 1);
			return bad;
		}
		packed_pos_add(&pos, &w, 1, vq->size);
		flags = GUEST_READ(vq->pdesc[pos].flags);
	}
}

/* The next PACKED_BATCH of left shadow entries are written back together:
 * single slots filling the cache line at pos, before the ring's end. */
static inline bool packed_used_batch(const struct packed_used *sh,
				     unsigned left, uint16_t pos,
				     uint16_t size)
{
	return left >= PACKED_BATCH && !(pos & (PACKED_BATCH - 1)) &&
	       pos + PACKED_BATCH <= size && sh[0].nslots == 1 &&
	       sh[1].nslots == 1 && sh[2].nslots == 1 && sh[3].nslots == 1;
}

/*
 * Write the burst's n used entries (vq->shadow) to the ring: each at the
 * position of its chain's head, flags last. The first entry's flags are
 * stored last of all, with release: the driver reads used entries in
 * order, so it sees none of the burst before all of it is written.
 * write_flag: the used entries carry VRING_DESC_F_WRITE (receive).
 */
static inline __attribute__((always_inline)) void
packed_used_flush(struct vhost_vring *vq, uint16_t n, bool write_flag,
		  const bool logging)
{
	/* In locals: stores into the guest's ring must not make the
	 * compiler reload them (they could alias, as far as it knows). */
	struct vring_packed_desc *ring = vq->pdesc;
	const struct packed_used *sh = vq->shadow;
	uint16_t size = vq->size, pos = vq->last_used_idx, first = pos;
	uint16_t first_flags = 0;
	bool w = vq->used_wrap;
	/* AVAIL and USED both equal to the used wrap counter. */
	uint16_t used_bits = w ? (uint16_t)(PACKED_AVAIL | PACKED_USED) : 0;

	for (uint16_t i = 0; i < n; i++) {
		struct vring_packed_desc *d = &ring[pos];
		uint16_t f = used_bits;

		if (packed_used_batch(sh + i, n - i, pos, size)) {
			/* One cache line of single-slot entries: ids and
			 * lens, then the flags (DPDK's batch write-back). */
			BATCH_UNROLL
			for (unsigned k = 0; k < PACKED_BATCH; k++) {
				d[k].id = sh[i + k].id;
				d[k].len = sh[i + k].len;
			}
			BATCH_UNROLL
			for (unsigned k = 0; k < PACKED_BATCH; k++) {
				f = used_bits;
				if (write_flag && sh[i + k].len)
					f |= VRING_DESC_F_WRITE;
				if (i + k == 0)
					first_flags = f;
				else
					atomic_store_explicit(
						(_Atomic uint16_t *)&d[k].flags,
						f, memory_order_release);
			}
			if (logging && vq->log_used)
				vring_log_hva(vq, d, sizeof(*d) * PACKED_BATCH);
			i = (uint16_t)(i + PACKED_BATCH - 1);
			pos = (uint16_t)(pos + PACKED_BATCH);
			if (pos >= size) {
				pos = (uint16_t)(pos - size);
				w = !w;
				used_bits ^= PACKED_AVAIL | PACKED_USED;
			}
			continue;
		}

		if (write_flag && sh[i].len)
			f |= VRING_DESC_F_WRITE;
		d->id = sh[i].id;
		d->len = sh[i].len;
		if (i == 0)
			first_flags = f;
		else
			atomic_store_explicit((_Atomic uint16_t *)&d->flags, f,
					      memory_order_release);
		/* len, id, flags: the descriptor ring is where packed
		 * rings write back (QEMU logs it as guest RAM). */
		if (logging && vq->log_used)
			vring_log_hva(vq, &d->len, 8);
		pos = (uint16_t)(pos + sh[i].nslots);
		if (pos >= size) {
			pos = (uint16_t)(pos - size);
			w = !w;
			used_bits ^= PACKED_AVAIL | PACKED_USED;
		}
	}
	atomic_store_explicit((_Atomic uint16_t *)&ring[first].flags,
			      first_flags, memory_order_release);
	vq->last_used_idx = pos;
	vq->used_wrap = w;
}

/* Does the driver want an interrupt for the used entries written since
 * old (position; DPDK's vhost_vring_call_packed)? */
static inline bool packed_need_notify(struct vhost_vring *vq)
{
	uint32_t ev;
	uint16_t flags, off_wrap, off, old, now = vq->last_used_idx;
	bool was_valid = vq->signalled_used_valid;

	/* Our used flags before the driver's event area (pairs with the
	 * driver's barrier between writing it and re-reading the ring). */
	atomic_thread_fence(memory_order_seq_cst);
	/* off_wrap and flags: one read of the whole area. */
	ev = GUEST_READ(*(const uint32_t *)vq->driver_event);
	off_wrap = (uint16_t)ev;
	flags = (uint16_t)(ev >> 16);
	old = vq->signalled_used;
	vq->signalled_used = now;
	vq->signalled_used_valid = true;
	if (!vq->event_idx || flags != VRING_PACKED_EVENT_FLAG_DESC)
		return flags != VRING_PACKED_EVENT_FLAG_DISABLE;
	if (!was_valid)
		return true;
	off = off_wrap & 0x7fff;
	/* Positions as if on one lap ending at now (uint16_t arithmetic). */
	if (now <= old)
		old = (uint16_t)(old - vq->size);
	if (vq->used_wrap != (off_wrap >> 15))
		off = (uint16_t)(off - vq->size);
	return (uint16_t)(now - off - 1) < (uint16_t)(now - old);
}

/* Tell the driver whether to kick us (device event area). */
static inline void packed_set_kick_wanted(struct vhost_vring *vq, bool want)
{
	*(volatile uint16_t *)&vq->device_event->flags =
		want ? VRING_PACKED_EVENT_FLAG_ENABLE :
		       VRING_PACKED_EVENT_FLAG_DISABLE;
	atomic_thread_fence(memory_order_seq_cst);
}

#endif
