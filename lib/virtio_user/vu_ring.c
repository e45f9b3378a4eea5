/* SPDX-License-Identifier: BSD-3-Clause */
/* Ring state across back-ends: reset, break, and recovery after a
 * back-end went away. Called by the control thread with the ring stopped,
 * or by the data path holding the ring (vu_ring_break). */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "vu_ring.h"

/* The ring's memory as a new driver leaves it (no buffer posted). */
static void ring_clear(struct vu_ring *r)
{
	r->avail_idx = 0;
	r->last_used = 0;
	r->intr_mode = 0;
	r->post_len = r->tx ? VU_HDR_LEN + r->gen_len : r->slot_room;
	if (r->packed) {
		/* Wrap counters start at 1 (virtio 2.7.1): flags 0 is neither
		 * available nor used. */
		memset(r->pdesc, 0, sizeof(*r->pdesc) * r->size);
		r->avail_pos = r->used_pos = 0;
		r->avail_wrap = r->used_wrap = true;
		memset(r->drv_event, 0, sizeof(*r->drv_event));
		memset(r->dev_event, 0, sizeof(*r->dev_event));
		return;
	}
	for (uint16_t i = 0; i < r->size; i++) {
		/* Receive buffers, and generator packets, never change. */
		r->desc[i].addr = (uint64_t)(uintptr_t)vu_slot(r, i);
		r->desc[i].len = r->post_len;
		r->lens[i] = r->post_len;
		r->addrs[i] = r->desc[i].addr;
		r->desc[i].flags = r->tx ? 0 : VRING_DESC_F_WRITE;
		r->desc[i].next = 0;
		r->links[i] = r->desc[i].flags;
		/* Where a free list in ring order will post it. */
		r->avail->ring[i] = i;
		r->avail_sh[i] = i;
	}
	r->rx_desc_dirty = false;
	r->avail->flags = 0;
	r->avail->idx = 0;
	r->used->flags = 0;
	r->used->idx = 0;
}

void vu_ring_reset(struct vu_ring *r)
{
	for (uint16_t i = 0; i < r->size; i++) {
		vu_zc_release(r, i);
		r->next[i] = (uint16_t)(i + 1);
		r->heads[i].ndesc = 0;
		r->heads[i].seq = 0;
	}
	r->free_head = 0;
	r->free_tail = r->mask;
	r->nfree = r->size;
	r->ordered = true;
	r->seq = 0;
	ring_clear(r);
	r->broken = false;
}

void vu_ring_break(struct vu_ring *r, const char *why)
{
	LOG_RATELIMIT(VHOST_LOG_ERR,
		      "virtio-user ring %u: back-end broke it (%s); stopped",
		      r->index, why);
	r->broken = true;
	r->st.broken++;
}

static int cmp_seq(const void *a, const void *b, void *arg)
{
	const struct vu_head *h = arg;
	uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
	int32_t d = (int32_t)(h[x].seq - h[y].seq);

	return d < 0 ? -1 : d > 0;
}

/* SET_VRING_BASE for a packed ring at its start: avail index 0, wrap 1;
 * used likewise (bits 16-31). */
#define PACKED_BASE_START (0x8000u | 0x8000u << 16)

/* Packed: what the old back-end returned (chains of any length), then the
 * chains still in flight written again on a cleared ring, from position
 * 0, oldest first: the new back-end starts there. */
static uint32_t recover_packed(struct vu_ring *r, uint16_t *inflight,
			       uint16_t k)
{
	ring_clear(r);
	for (uint16_t i = 0; i < k; i++) {
		uint16_t head = inflight[i], d = head, nd = r->heads[head].ndesc;

		for (uint16_t j = 0; j < nd; j++) {
			vu_desc_write(r, head, j, d, r->addrs[d], r->lens[d],
				      j + 1 < nd);
			d = r->next[d];
		}
		vu_post(r, head);
	}
	return PACKED_BASE_START;
}

uint32_t vu_ring_recover(struct vu_ring *r)
{
	uint16_t n = 0, head, *inflight, k = 0;
	uint32_t len;
	int got;

	if (r->broken)
		goto reset;
	if (r->packed) {
		/* Transmit buffers free again; received packets dropped. */
		while ((got = vu_p_used_next(r, &head, &len)) > 0) {
			uint16_t nd = r->heads[head].ndesc;

			if (!r->tx)
				r->st.lost_on_reset++;
			vu_zc_release(r, head);
			vu_free_chain(r, head);
			vu_p_advance(r, &r->used_pos, &r->used_wrap, nd);
		}
		if (got < 0)
			goto reset;
	} else if (vu_used_count(r, &n, 0xffff) < 0) {
		goto reset;
	}
	/* What the old back-end returned: transmit buffers are free again;
	 * received packets are dropped (the application may be gone from
	 * this ring for a while, and a new back-end needs the buffers). */
	for (uint16_t i = 0; i < n; i++) {
		if ((r->in_order && r->tx ? vu_used_head_in_order(r, i, &head) :
		     vu_used_entry(r, i, &head, &len)) < 0)
			goto reset;
		if (!r->tx)
			r->st.lost_on_reset++;
		vu_zc_release(r, head);
		vu_free_chain(r, head);
	}
	r->last_used = (uint16_t)(r->last_used + n);
	/* Still in flight: post them again from last_used on, oldest first,
	 * so the new back-end finds them at the base we give it. */
	inflight = malloc(sizeof(*inflight) * r->size);
	if (!inflight)
		goto reset;
	for (uint16_t h = 0; h < r->size; h++)
		if (r->heads[h].ndesc)
			inflight[k++] = h;
	if (!r->packed && k != (uint16_t)(r->avail_idx - r->last_used)) {
		free(inflight);
		goto reset;
	}
	qsort_r(inflight, k, sizeof(*inflight), cmp_seq, r->heads);
	if (r->packed) {
		uint32_t base = recover_packed(r, inflight, k);

		free(inflight);
		return base;
	}
	for (uint16_t i = 0; i < k; i++)
		vu_avail_set(r, (uint16_t)(r->last_used + i), inflight[i]);
	free(inflight);
	atomic_store_explicit((_Atomic uint16_t *)&r->avail->idx, r->avail_idx,
			      memory_order_release);
	return r->last_used;
reset:
	LOG_WARN("virtio-user ring %u: state not recoverable, reset", r->index);
	vu_ring_reset(r);
	return r->packed ? PACKED_BASE_START : 0;
}
