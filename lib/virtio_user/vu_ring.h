/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Split and packed rings, driver side (virtio 1.1, 2.6 and 2.7): the free
 * buffer list, posting chains, reading used entries with every value the
 * back-end wrote checked, and the notification decisions both ways.
 *
 * Buffers are the ring's slots, numbered 0..size-1; a chain is a list of
 * them (next[]) named by its first, which is also its id. Split: buffer d
 * is descriptor d. Packed: a chain takes the next ring positions and
 * carries its id in every descriptor; the back-end returns it as one used
 * descriptor at the chain's first position, and we skip the chain's
 * length (heads[id].ndesc, ours) to the next.
 *
 * Nothing in shared memory is read back but the used entries (split: idx,
 * then each entry's id and len; packed: flags, then id and len), each
 * field read once: descriptors, chains and the order of posts are kept in
 * private arrays (next[], heads[], lens[], addrs[], links[], avail_sh[]).
 * Callers hold the ring's busy flag.
 *
 * Split rings are written only where they change. The free list is first
 * in, first out, so with a back-end that returns buffers in order (every
 * real one does; IN_ORDER promises it) descriptor d is always slot d at
 * avail position d: after the first lap a post of a same-sized packet
 * writes the packet and nothing else, and the lines of the descriptor
 * table and the avail ring stay clean in the back-end's cache. Where both
 * sides sit on different cores, a line written is a line moved: the copy
 * of a 64-byte packet went from three or four moved lines to one.
 */
#ifndef VU_RING_H
#define VU_RING_H

#include <stdatomic.h>
#include <sys/eventfd.h>

#include "vu.h"

#define VU_READ(x) (*(const volatile __typeof__(x) *)&(x))

/* Where slot d's buffer starts (r->slot_room bytes): header, then packet
 * on a cache line boundary. */
static inline uint8_t *vu_slot(const struct vu_ring *r, uint16_t d)
{
	return r->slots + (size_t)d * r->slot_len + VU_SLOT_PAD;
}

/* Take ndesc descriptors off the free list as one chain; returns its head.
 * Caller checked nfree >= ndesc. */
static inline uint16_t vu_alloc_chain(struct vu_ring *r, uint16_t ndesc)
{
	uint16_t head = r->free_head, last = head;

	for (uint16_t i = 1; i < ndesc; i++)
		last = r->next[last];
	r->free_head = r->next[last];
	r->nfree = (uint16_t)(r->nfree - ndesc);
	r->heads[head].ndesc = ndesc;
	r->heads[head].seq = r->seq++;
	return head;
}

/* The free list's ends, its length and whether it is in ring order: the
 * ring's fields, or a copy in locals (the fast paths: vu_free_load and
 * vu_free_store around a burst). */
struct vu_free {
	uint16_t head, tail, n;
	bool ordered;
};

static inline struct vu_free vu_free_load(const struct vu_ring *r)
{
	return (struct vu_free){ r->free_head, r->free_tail, r->nfree,
				 r->ordered };
}

static inline void vu_free_store(struct vu_ring *r, const struct vu_free *f)
{
	r->free_head = f->head;
	r->free_tail = f->tail;
	r->nfree = f->n;
	r->ordered = f->ordered;
}

/* The chain head..last (nd descriptors, linked by next[]) to the tail of
 * the free list. While the list is in ring order (consecutive from head to
 * tail), the oldest chain in flight starts right after its tail: any other
 * chain coming back first ends the order (IN_ORDER is then not offered to
 * the next back-end: vu_negotiate). */
static inline void vu_free_append(uint16_t *next, uint16_t mask,
				  struct vu_free *f, uint16_t head,
				  uint16_t last, uint16_t nd)
{
	if (head != (uint16_t)((f->tail + 1) & mask))
		f->ordered = false;
	if (f->n)
		next[f->tail] = head;
	else
		f->head = head;
	f->tail = last;
	f->n = (uint16_t)(f->n + nd);
}

/* The chain at head back to the free list (the chain links are ours). */
static inline void vu_free_chain(struct vu_ring *r, uint16_t head)
{
	uint16_t n = r->heads[head].ndesc, last = head;
	struct vu_free f = vu_free_load(r);

	for (uint16_t i = 1; i < n; i++)
		last = r->next[last];
	vu_free_append(r->next, r->mask, &f, head, last, n);
	vu_free_store(r, &f);
	r->heads[head].ndesc = 0;
}

/* Drop the reference on the packet the chain at head carried by
 * reference, if any (the chain came back or will never be used). */
static inline void vu_zc_release(struct vu_ring *r, uint16_t head)
{
	struct vhost_pktbuf *p = r->zc[head];

	if (p) {
		r->zc[head] = NULL;
		vhost_pktbuf_free(p);
	}
}

#define VU_P_AVAIL ((uint16_t)(1u << VRING_PACKED_DESC_F_AVAIL))
#define VU_P_USED ((uint16_t)(1u << VRING_PACKED_DESC_F_USED))

static inline void vu_p_advance(const struct vu_ring *r, uint16_t *pos,
				bool *wrap, uint16_t n)
{
	uint32_t p = (uint32_t)*pos + n;

	if (p >= r->size) {
		p -= r->size;
		*wrap = !*wrap;
	}
	*pos = (uint16_t)p;
}

/* Packed: the descriptor at pos marked used under wrap counter w (AVAIL
 * and USED both equal to w; acquire: its id and len are read after). */
static inline bool vu_p_used_at(const struct vu_ring *r, uint16_t pos, bool w)
{
	uint16_t f = atomic_load_explicit((_Atomic uint16_t *)&r->pdesc[pos].flags,
					  memory_order_acquire);
	uint16_t want = w ? (uint16_t)(VU_P_AVAIL | VU_P_USED) : 0;

	return (f & (VU_P_AVAIL | VU_P_USED)) == want;
}

/* Buffers in flight (posted, not yet had back). */
static inline uint16_t vu_inflight(const struct vu_ring *r)
{
	return (uint16_t)(r->size - r->nfree);
}

/* Used entries the back-end added. Split: all of them (at most what is
 * in flight, or it broke the ring (pairs with the back-end's release
 * store of used->idx). Packed (one-descriptor chains only: receive rings
 * and the generator): consecutive used descriptors from used_pos, at most
 * limit and what is in flight (a scan: vu_used_extend goes further). */
static inline int vu_used_count(const struct vu_ring *r, uint16_t *count,
				uint16_t limit)
{
	if (r->packed) {
		uint16_t pos = r->used_pos, n = 0, max = vu_inflight(r);
		bool w = r->used_wrap;

		if (max > limit)
			max = limit;
		while (n < max && vu_p_used_at(r, pos, w)) {
			n++;
			vu_p_advance(r, &pos, &w, 1);
		}
		*count = n;
		return 0;
	}
	uint16_t idx = atomic_load_explicit((_Atomic uint16_t *)&r->used->idx,
					    memory_order_acquire);
	uint16_t n = (uint16_t)(idx - r->last_used);

	if (n > (uint16_t)(r->avail_idx - r->last_used))
		return -1;
	*count = n; /* all there is: no scan to save */
	return 0;
}

/* Packed: extend a count of vu_used_count up to want (a mergeable packet
 * whose buffers lie past it). Split: the count was all there is. */
static inline void vu_used_extend(const struct vu_ring *r, uint16_t *count,
				  uint16_t want)
{
	uint16_t pos = r->used_pos, n = *count, max = vu_inflight(r);
	bool w = r->used_wrap;

	if (!r->packed)
		return;
	if (want > max)
		want = max;
	vu_p_advance(r, &pos, &w, n);
	while (n < want && vu_p_used_at(r, pos, w)) {
		n++;
		vu_p_advance(r, &pos, &w, 1);
	}
	*count = n;
}

/* A used entry's id and length, checked: a head we posted and have not
 * had back, and a length within its buffer for receive rings (lens[],
 * private: receive chains are one descriptor). */
static inline int vu_used_check(const struct vu_ring *r, uint32_t id,
				uint32_t l, uint16_t *head, uint32_t *len)
{
	if (id >= r->size || !r->heads[id].ndesc)
		return -1;
	/* Receive: within what was posted (a slot, or a pktbuf's room). */
	if (!r->tx && l > r->lens[id])
		return -1;
	*head = (uint16_t)id;
	*len = l;
	return 0;
}

/* Split: the entry at ring position at (id and len read once by the
 * caller), checked as vu_used_check does; with IN_ORDER it must name the
 * chain posted at that position, no other. */
static inline int vu_used_check_split(const struct vu_ring *r, uint16_t at,
				      uint32_t id, uint32_t l, uint16_t *head,
				      uint32_t *len)
{
	if (r->in_order && id != r->avail_sh[at])
		return -1;
	return vu_used_check(r, id, l, head, len);
}

/* Used entry i (from last_used / used_pos; for packed, of a ring of
 * one-descriptor chains), counted by vu_used_count: each field read once. */
static inline int vu_used_entry(const struct vu_ring *r, uint16_t i,
				uint16_t *head, uint32_t *len)
{
	if (r->packed) {
		uint32_t p = (uint32_t)r->used_pos + i;
		const struct vring_packed_desc *d;

		if (p >= r->size)
			p -= r->size;
		d = &r->pdesc[p];
		return vu_used_check(r, VU_READ(d->id), VU_READ(d->len), head,
				     len);
	}
	uint16_t at = (uint16_t)(r->last_used + i) & r->mask;
	const struct vring_used_elem *e = &r->used->ring[at];

	return vu_used_check_split(r, at, VU_READ(e->id), VU_READ(e->len),
				   head, len);
}

/* Split, IN_ORDER, transmit: the chain of used entry i is the one posted
 * at that position; the entry itself is not read (virtio 2.7.9: a device
 * may write only the last entry of a batch). */
static inline int vu_used_head_in_order(const struct vu_ring *r, uint16_t i,
					uint16_t *head)
{
	uint16_t h = r->avail_sh[(uint16_t)(r->last_used + i) & r->mask];

	if (!r->heads[h].ndesc)
		return -1;
	*head = h;
	return 0;
}

/* Consume n entries read with vu_used_entry. */
static inline void vu_used_consume(struct vu_ring *r, uint16_t n)
{
	if (r->packed)
		vu_p_advance(r, &r->used_pos, &r->used_wrap, n);
	else
		r->last_used = (uint16_t)(r->last_used + n);
}

/* Packed, chains of any length (transmit): the next used entry if there
 * is one (1), none (0), or a bad one (-1). The caller frees the chain and
 * calls vu_p_used_next_done. */
static inline int vu_p_used_next(const struct vu_ring *r, uint16_t *head,
				 uint32_t *len)
{
	const struct vring_packed_desc *d = &r->pdesc[r->used_pos];

	if (!vu_p_used_at(r, r->used_pos, r->used_wrap))
		return 0;
	return vu_used_check(r, VU_READ(d->id), VU_READ(d->len), head,
			     len) < 0 ? -1 : 1;
}

/* Split: descriptor d says addr, len, flags, next; each field stored only
 * if our copy (addrs[], lens[], links[]: flags | next << 16) says it
 * holds something else. */
static inline void vu_split_desc_put(struct vu_ring *r, uint16_t d,
				     uint64_t addr, uint32_t len,
				     uint16_t flags, uint16_t next)
{
	uint32_t link = flags | (uint32_t)next << 16;

	if (r->addrs[d] != addr) {
		r->desc[d].addr = addr;
		r->addrs[d] = addr;
	}
	if (r->lens[d] != len) {
		r->desc[d].len = len;
		r->lens[d] = len;
	}
	if (r->links[d] != link) {
		r->desc[d].flags = flags;
		r->desc[d].next = next;
		r->links[d] = link;
	}
}

/* Write descriptor k of the chain head (descriptor d, len bytes at addr,
 * more: not the last). Split: the descriptor table entry of d. Packed: the
 * ring slot k after avail_pos; the head's flags wait for vu_post. */
static inline void vu_desc_write(struct vu_ring *r, uint16_t head, uint16_t k,
				 uint16_t d, uint64_t addr, uint32_t len,
				 bool more)
{
	if (r->packed) {
		uint32_t p = (uint32_t)r->avail_pos + k;
		bool w = r->avail_wrap;
		struct vring_packed_desc *pd;
		uint16_t f = more ? VRING_DESC_F_NEXT : 0;

		if (p >= r->size) {
			p -= r->size;
			w = !w;
		}
		pd = &r->pdesc[p];
		/* AVAIL = w, USED = !w: available (virtio 2.7.1). */
		f |= w ? VU_P_AVAIL : VU_P_USED;
		if (!r->tx)
			f |= VRING_DESC_F_WRITE;
		pd->addr = addr;
		pd->len = len;
		pd->id = head;
		r->lens[d] = len;
		r->addrs[d] = addr;
		if (k == 0)
			r->head_flags = f;
		else
			pd->flags = f;
		return;
	}
	/* Split: next as written, or kept: the back-end ignores it without
	 * NEXT. */
	uint16_t flags = more ? VRING_DESC_F_NEXT :
			 r->tx ? 0 : VRING_DESC_F_WRITE;

	vu_split_desc_put(r, d, addr, len, flags,
			  more ? r->next[d] : (uint16_t)(r->links[d] >> 16));
}

/* Split: the avail entry at pos (already masked) names head; written only
 * if it does not say so already (avail_sh: our copy of the ring). */
static inline void vu_avail_put(struct vring_avail *avail, uint16_t *avail_sh,
				uint16_t pos, uint16_t head)
{
	if (avail_sh[pos] != head) {
		avail->ring[pos] = head;
		avail_sh[pos] = head;
	}
}

static inline void vu_avail_set(struct vu_ring *r, uint16_t pos, uint16_t head)
{
	vu_avail_put(r->avail, r->avail_sh, pos & r->mask, head);
}

/* Make the chain at head available (its descriptors written). Packed: the
 * head's flags last, with release (the back-end reads them with acquire,
 * then the rest). */
static inline void vu_post(struct vu_ring *r, uint16_t head)
{
	if (r->packed) {
		atomic_store_explicit(
			(_Atomic uint16_t *)&r->pdesc[r->avail_pos].flags,
			r->head_flags, memory_order_release);
		vu_p_advance(r, &r->avail_pos, &r->avail_wrap,
			     r->heads[head].ndesc);
		r->avail_idx = (uint16_t)(r->avail_idx + r->heads[head].ndesc);
		return;
	}
	vu_avail_set(r, r->avail_idx, head);
	r->avail_idx++;
}

/* A prebuilt one-buffer chain (receive buffers, generator packets): the
 * split descriptor never changes; a packed one is written each time. */
static inline void vu_post_prebuilt(struct vu_ring *r, uint16_t head)
{
	if (r->packed)
		vu_desc_write(r, head, 0, head,
			      (uint64_t)(uintptr_t)vu_slot(r, head),
			      r->post_len, false);
	vu_post(r, head);
}

/* Does the back-end want a kick for the descriptors posted since old (an
 * avail_idx value)? Packed (virtio 2.7.10): flags ENABLE, DISABLE, or
 * DESC with off_wrap naming the descriptor whose posting wants one. */
static inline bool vu_kick_wanted(const struct vu_ring *r, uint16_t old)
{
	uint16_t done = (uint16_t)(r->avail_idx - old);

	if (r->packed) {
		uint32_t ev = VU_READ(*(const uint32_t *)r->dev_event);
		uint16_t off_wrap = (uint16_t)ev, flags = (uint16_t)(ev >> 16);
		uint16_t off = off_wrap & 0x7fff, dist;

		if (flags != VRING_PACKED_EVENT_FLAG_DESC || !r->event_idx)
			return flags != VRING_PACKED_EVENT_FLAG_DISABLE;
		if (off >= r->size)
			return true; /* nonsense: kick, the safe side */
		/* How far behind avail_pos the named descriptor is. */
		if (!!(off_wrap >> 15) == r->avail_wrap)
			dist = off <= r->avail_pos ?
			       (uint16_t)(r->avail_pos - off) : 0xffff;
		else
			dist = (uint16_t)(r->avail_pos + r->size - off);
		return (uint16_t)(dist - 1) < done;
	}
	if (r->event_idx) {
		uint16_t ev = VU_READ(*(uint16_t *)&r->used->ring[r->size]);

		return (uint16_t)(r->avail_idx - ev - 1) < done;
	}
	return !(VU_READ(r->used->flags) & VRING_USED_F_NO_NOTIFY);
}

/* Publish posts since old and kick the back-end if it asked: split:
 * avail->idx after the ring entries (release); then a full fence before
 * reading the back-end's suppression fields (pairs with its fence between
 * writing them and reading the ring again). */
static inline void vu_publish(struct vu_ring *r, uint16_t old)
{
	if (!r->packed)
		atomic_store_explicit((_Atomic uint16_t *)&r->avail->idx,
				      r->avail_idx, memory_order_release);
	atomic_thread_fence(memory_order_seq_cst);
	if (vu_kick_wanted(r, old)) {
		eventfd_write(r->kickfd, 1);
		r->st.kicks++;
	} else {
		r->st.kicks_suppressed++;
	}
}

/* Calls from the back-end. Split with EVENT_IDX: used_event at last_used
 * asks for one at the next used entry; half a wrap ahead, for none (the
 * back-end's used index stays within a ring of last_used, so it is not
 * reached before we move it on, a quarter wrap later). Packed: the driver
 * event area's flags, ENABLE or DISABLE. Written only when that changes:
 * the line is the back-end's to read, and a store to it each burst moved
 * it each burst. */
static inline void vu_update_intr(struct vu_ring *r)
{
	uint8_t mode = r->intr ? 1 : 2;
	uint16_t v;

	if (r->packed) {
		if (mode == r->intr_mode)
			return;
		*(volatile uint16_t *)&r->drv_event->flags =
			r->intr ? VRING_PACKED_EVENT_FLAG_ENABLE :
				  VRING_PACKED_EVENT_FLAG_DISABLE;
	} else if (r->event_idx) {
		v = (uint16_t)(r->last_used + (r->intr ? 0 : 0x8000));
		if (mode == r->intr_mode &&
		    (r->intr ? v == r->intr_sh :
			       (uint16_t)(r->intr_sh - r->last_used) >= 0x4000))
			return;
		*(volatile uint16_t *)&r->avail->ring[r->size] = v;
		r->intr_sh = v;
	} else {
		if (mode == r->intr_mode)
			return;
		*(volatile uint16_t *)&r->avail->flags =
			r->intr ? 0 : VRING_AVAIL_F_NO_INTERRUPT;
	}
	r->intr_mode = mode;
}

static inline bool vu_ring_lock(struct vu_ring *r)
{
	return !atomic_flag_test_and_set_explicit(&r->busy,
						  memory_order_acquire);
}

static inline void vu_ring_unlock(struct vu_ring *r)
{
	atomic_flag_clear_explicit(&r->busy, memory_order_release);
}

void vu_ring_break(struct vu_ring *r, const char *why);

#endif
