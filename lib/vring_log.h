/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Dirty logging on the data path (migration). Every byte the device writes
 * into guest memory while the front-end logs (vq->log_bits set: LOG_ALL
 * negotiated and a log mapped) has its page marked in the log after the
 * write: RX buffers (header and num_buffers included) by the guest physical
 * address of each piece, the used ring's entries, index, flags and
 * avail_event at the ring's log_guest_addr. Bits are gathered per burst
 * (vq->log_cache) and set in the log at its end, after a release fence
 * (vring_log_flush): the lock is held until then, so GET_VRING_BASE, which
 * takes it, replies only after every bit of the ring's bursts is in the
 * log. Callers hold the vq lock and test vq->log_bits first (one branch
 * when not migrating).
 */
#ifndef VHOST_VRING_LOG_H
#define VHOST_VRING_LOG_H

#include <stddef.h>

#include "dirty_log.h"
#include "vring_split.h"

static inline void vring_log_gpa(struct vhost_vring *vq, uint64_t gpa,
				 uint64_t len)
{
	dirty_log_range(&vq->log_cache, vq->log_bits, vq->log_size, gpa, len);
}

static inline bool vring_log_in_region(const struct mem_region *r,
				       uintptr_t a, uint64_t len)
{
	uint64_t off = (uint64_t)(a - (uintptr_t)r->hva);

	return a >= (uintptr_t)r->hva && off < r->size && len <= r->size - off;
}

/* Our pointer p (len bytes, inside one region: pieces never cross one)
 * -> its guest pages. The region of the last translation first. */
static inline void vring_log_hva(struct vhost_vring *vq, const void *p,
				 uint64_t len)
{
	const struct mem_table *mt = vq->mem;
	uintptr_t a = (uintptr_t)p;
	const struct mem_region *r;

	if (vq->mem_hint < mt->nregions &&
	    vring_log_in_region(&mt->regions[vq->mem_hint], a, len)) {
		r = &mt->regions[vq->mem_hint];
		vring_log_gpa(vq, r->gpa + (a - (uintptr_t)r->hva), len);
		return;
	}
	for (uint32_t i = 0; i < mt->nregions; i++) {
		r = &mt->regions[i];
		if (vring_log_in_region(r, a, len)) {
			vring_log_gpa(vq, r->gpa + (a - (uintptr_t)r->hva), len);
			return;
		}
	}
}

/* The first len bytes written into chain c. */
static inline void vring_log_chain(struct vhost_vring *vq,
				   const struct chain *c, uint32_t len)
{
	for (uint16_t i = 0; i < c->nvec && len; i++) {
		uint32_t n = c->vec[i].len < len ? c->vec[i].len : len;

		vring_log_hva(vq, c->vec[i].addr, n);
		len -= n;
	}
}

/* A part of the used ring, by offset from its start. */
static inline void vring_log_used_bytes(struct vhost_vring *vq, uint64_t off,
					uint64_t len)
{
	if (vq->log_used)
		vring_log_gpa(vq, vq->log_used_gpa + off, len);
}

/* Used entries [first, first + n) (ring order, wrapping) and used->idx,
 * after they were published. */
static inline void vring_log_used(struct vhost_vring *vq, uint16_t first,
				  uint16_t n)
{
	uint16_t s = first & vq->mask;
	uint16_t k = (uint16_t)(vq->size - s) < n ? (uint16_t)(vq->size - s) : n;

	vring_log_used_bytes(vq, offsetof(struct vring_used, ring) +
			     (uint64_t)s * sizeof(struct vring_used_elem),
			     (uint64_t)k * sizeof(struct vring_used_elem));
	if (n > k)
		vring_log_used_bytes(vq, offsetof(struct vring_used, ring),
				     (uint64_t)(n - k) *
				     sizeof(struct vring_used_elem));
	vring_log_used_bytes(vq, offsetof(struct vring_used, idx),
			     sizeof(uint16_t));
}

/* End of a burst (or of a control-path write): into the log. */
static inline void vring_log_flush(struct vhost_vring *vq)
{
	dirty_log_flush(&vq->log_cache, vq->log_bits);
}

/* used->flags and avail_event (split_set_kick_wanted), flushed. */
static inline void vring_log_used_flags(struct vhost_vring *vq)
{
	vring_log_used_bytes(vq, offsetof(struct vring_used, flags),
			     sizeof(uint16_t));
	if (vq->event_idx)
		vring_log_used_bytes(vq, offsetof(struct vring_used, ring) +
				     (uint64_t)vq->size *
				     sizeof(struct vring_used_elem),
				     sizeof(uint16_t));
	vring_log_flush(vq);
}

#endif
