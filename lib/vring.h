/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ring interface the virtio-net logic is written over, once for both
 * formats: "next available chain" (ring_peek, ring_walk, ring_next), "return
 * used" (ring_used_add, ring_publish), "should we notify" (in ring_publish)
 * and "enable/disable notifications" (ring_set_kick_wanted).
 *
 * Every function takes the format as a constant (`packed`): the net bodies
 * are instantiated per format by thin wrappers (virtio_net.c), so each
 * format keeps its own fast path and no per-packet branch on the format
 * remains. Split lives in vring_split.h, packed in vring_packed.h.
 *
 * A burst reads the ring through a cursor: where the next chain is, and
 * how much the burst may still take (split: entries the guest made
 * available; packed: ring slots, so one burst never takes more than the
 * ring holds whatever the guest writes). Used entries are counted from the
 * burst's start (u) and published at its end.
 */
#ifndef VHOST_VRING_H
#define VHOST_VRING_H

#include <sys/eventfd.h>

#include "vring_log.h"
#include "vring_packed.h"
#include "vring_split.h"

struct ring_cur {
	uint16_t idx;   /* split: avail index; packed: position */
	uint16_t left;  /* split: entries not taken; packed: slots */
	bool wrap;      /* packed: avail wrap counter */
	bool known;     /* split: left is from an earlier read of avail->idx */
};

/* One available head, as peeked: split: the descriptor index; packed:
 * the position is the cursor's, flags as read once with acquire. */
struct ring_head {
	uint16_t head;
	uint16_t flags;
};

enum ring_peek { RING_EMPTY, RING_HEAD, RING_BROKEN };

/* Start of a burst of up to want heads (split: avail->idx is not read
 * again while an earlier read covers them; see split_avail_atleast). -1:
 * the ring is broken (split: avail->idx moved by more than the ring size). */
static inline int ring_begin(struct vhost_vring *vq, const bool packed,
			     struct ring_cur *cur, uint16_t want)
{
	cur->idx = vq->last_avail_idx;
	cur->known = false;
	if (packed) {
		cur->wrap = vq->avail_wrap;
		cur->left = vq->size;
		return 0;
	}
	cur->wrap = false;
	return split_avail_atleast(vq, want, &cur->left, &cur->known);
}

/* Split: the cursor used up what an earlier read of avail->idx showed
 * (a burst of mergeable packets, or bad chains, took more entries than it
 * has packets): read it now, so that "empty" always comes from a fresh
 * read. The cursor is at cur_idx, past last_avail_idx by what this burst
 * took. Returns the entries left from there, or -1: the ring is broken.
 * (Values in, value out: the cursor stays in the caller's registers.) */
static __attribute__((noinline, cold)) int
split_avail_refresh(const struct vhost_vring *vq, uint16_t cur_idx)
{
	int n = split_avail_load(vq);

	/* n covers at least what was shown before, which covers cur_idx. */
	return n < 0 ? -1 : n - (uint16_t)(cur_idx - vq->last_avail_idx);
}

/* bounded: the caller knows the cursor has entries left (split). */
static inline enum ring_peek ring_peek_n(const struct vhost_vring *vq,
					 const bool packed,
					 struct ring_cur *cur,
					 struct ring_head *h, const bool bounded)
{
	if (!bounded && !cur->left) {
		int left;

		if (packed || !cur->known)
			return RING_EMPTY;
		left = split_avail_refresh(vq, cur->idx);
		cur->known = false;
		if (left <= 0) {
			h->head = h->flags = 0;
			return left ? RING_BROKEN : RING_EMPTY;
		}
		cur->left = (uint16_t)left;
	}
	if (packed) {
		h->flags = packed_head_flags(vq, cur->idx);
		h->head = cur->idx;
		return packed_desc_avail(h->flags, cur->wrap) ? RING_HEAD :
								 RING_EMPTY;
	}
	h->head = GUEST_READ(vq->avail->ring[cur->idx & vq->mask]);
	h->flags = 0;
	/* Only ids the guest posted go back: a head that is no descriptor
	 * breaks the ring. */
	return h->head < vq->size ? RING_HEAD : RING_BROKEN;
}

static inline enum ring_peek ring_peek(const struct vhost_vring *vq,
				       const bool packed,
				       struct ring_cur *cur,
				       struct ring_head *h)
{
	return ring_peek_n(vq, packed, cur, h, false);
}

/* The chain at the cursor (peeked as h) into c; c->head is the id to
 * return, c->nslots what ring_next moves by. */
static inline enum chain_status ring_walk(const struct vhost_vring *vq,
					  const bool packed,
					  const struct ring_cur *cur,
					  const struct ring_head *h,
					  bool writable, uint32_t max_bytes,
					  struct chain *c)
{
	if (packed)
		return packed_walk_chain(vq, cur->idx, cur->wrap, h->flags,
					 cur->left, writable, max_bytes, c);
	c->nslots = 1;
	return split_walk_chain(vq, h->head, writable, max_bytes, c);
}

static inline void ring_next(const struct vhost_vring *vq, const bool packed,
			     struct ring_cur *cur, uint16_t nslots)
{
	if (packed) {
		packed_pos_add(&cur->idx, &cur->wrap, nslots, vq->size);
		cur->left = (uint16_t)(cur->left - nslots);
		return;
	}
	cur->idx++;
	cur->left--;
}

/* The fast paths' view of a head: one descriptor, nothing chained, with
 * exactly the flags `want` (VRING_DESC_F_WRITE or 0). Each field read
 * once; false sends the head to the general walk, which reads it again. */
static inline bool ring_single(const struct vhost_vring *vq, const bool packed,
			       const struct ring_head *h, uint16_t want,
			       uint64_t *addr, uint32_t *len, uint16_t *id)
{
	if (packed) {
		const struct vring_packed_desc *d = &vq->pdesc[h->head];

		if ((h->flags & ~(PACKED_AVAIL | PACKED_USED)) != want)
			return false;
		*len = GUEST_READ(d->len);
		*addr = GUEST_READ(d->addr);
		*id = GUEST_READ(d->id);
		return *id < vq->size;
	} else {
		const struct vring_desc *d = &vq->desc[h->head];

		if (GUEST_READ(d->flags) != want)
			return false;
		*len = GUEST_READ(d->len);
		*addr = GUEST_READ(d->addr);
		*id = h->head;
		return true;
	}
}

/* The burst's u-th used entry. */
static inline void ring_used_add(struct vhost_vring *vq, const bool packed,
				 uint16_t u, uint16_t id, uint32_t len,
				 uint16_t nslots)
{
	if (packed) {
		struct packed_used *s = &vq->shadow[u];

		s->id = id;
		s->len = len;
		s->nslots = nslots;
		return;
	}
	split_used_write(vq, (uint16_t)(vq->last_used_idx + u), id, len);
}

/* Entry u of this burst goes back empty after all. */
static inline void ring_used_zero(struct vhost_vring *vq, const bool packed,
				  uint16_t u)
{
	if (packed)
		vq->shadow[u].len = 0;
	else
		vq->used->ring[(uint16_t)(vq->last_used_idx + u) &
			       vq->mask].len = 0;
}

/* End of a burst: the cursor's place becomes the ring's. */
static inline void ring_commit(struct vhost_vring *vq, const bool packed,
			       const struct ring_cur *cur)
{
	vq->last_avail_idx = cur->idx;
	if (packed)
		vq->avail_wrap = cur->wrap;
	else
		vq->avail_known = cur->left;
}

/* Publish n used entries (log them while migrating) and tell the guest
 * if it asked. rx: used entries of a receive ring. Returns true if the
 * guest was notified. */
static inline __attribute__((always_inline)) bool
ring_publish(struct vhost_vring *vq, const bool packed,
				uint16_t n, bool rx)
{
	uint16_t old = vq->last_used_idx;
	bool notify;

	if (packed) {
		if (vq->log_bits)
			packed_used_flush(vq, n, rx, true);
		else
			packed_used_flush(vq, n, rx, false);
		notify = packed_need_notify(vq);
	} else {
		vq->last_used_idx = (uint16_t)(old + n);
		split_used_publish(vq, vq->last_used_idx);
		if (vq->log_bits)
			vring_log_used(vq, old, n);
		notify = split_need_notify(vq, old, vq->last_used_idx);
	}
	if (notify && vq->callfd >= 0) {
		eventfd_write(vq->callfd, 1);
		STAT_ADD(vq->stats.notifications, 1);
		return true;
	}
	STAT_ADD(vq->stats.notify_suppressed, 1);
	return false;
}

/* Ask the guest for kicks (interrupt mode, draining) or not (polling),
 * logged while migrating. Caller holds the lock; the ring is translated. */
static inline void ring_set_kick_wanted(struct vhost_vring *vq, bool want)
{
	if (vq->packed) {
		packed_set_kick_wanted(vq, want);
		if (vq->log_bits) {
			/* log_guest_addr is the device area for packed. */
			vring_log_used_bytes(vq, 0, sizeof(*vq->device_event));
			vring_log_flush(vq);
		}
		return;
	}
	split_set_kick_wanted(vq, want);
	if (vq->log_bits)
		vring_log_used_flags(vq);
}

/* Packed: descriptors available from the ring's place on, at most max
 * (flags only: an upper bound of the buffers, exact for one-descriptor
 * buffers). Caller holds the lock. */
static inline uint16_t packed_count_avail(const struct vhost_vring *vq,
					  uint16_t max)
{
	uint16_t pos = vq->last_avail_idx, n = 0;
	bool w = vq->avail_wrap;

	if (max > vq->size)
		max = vq->size;
	while (n < max && packed_desc_avail(GUEST_READ(vq->pdesc[pos].flags), w)) {
		n++;
		packed_pos_add(&pos, &w, 1, vq->size);
	}
	return n;
}

/* Up to max available descriptors, for sizing a burst: drivers publish
 * in ring order, so the max-th descriptor being available says the ones
 * before it are too: one flag read (one cache line the guest writes)
 * instead of max. A hint only (a driver that publishes out of order
 * makes it high): the burst checks every descriptor it takes. */
static inline uint16_t packed_avail_upto(const struct vhost_vring *vq,
					 uint16_t max)
{
	uint16_t pos = vq->last_avail_idx;
	bool w = vq->avail_wrap;

	if (max > vq->size)
		max = vq->size;
	if (!max)
		return 0;
	packed_pos_add(&pos, &w, (uint16_t)(max - 1), vq->size);
	if (packed_desc_avail(GUEST_READ(vq->pdesc[pos].flags), w))
		return max;
	return packed_count_avail(vq, max);
}

/* Anything available at the ring's own place (control paths). */
static inline bool ring_has_avail(struct vhost_vring *vq)
{
	struct ring_cur cur;
	struct ring_head h;

	if (ring_begin(vq, vq->packed, &cur, 1))
		return false;
	return vq->packed ? ring_peek(vq, true, &cur, &h) != RING_EMPTY :
			    cur.left > 0;
}

#endif
