/* SPDX-License-Identifier: BSD-3-Clause */
/* Ring state across back-ends: reset, break, and recovery after a
 * back-end went away. Called by the control thread with the ring stopped,
 * or by the data path holding the ring (vu_ring_break). */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "vu_ring.h"

void vu_ring_reset(struct vu_ring *r)
{
	for (uint16_t i = 0; i < r->size; i++) {
		r->next[i] = (uint16_t)(i + 1);
		r->heads[i].ndesc = 0;
		r->heads[i].seq = 0;
		/* Receive buffers, and generator packets, never change. */
		r->desc[i].addr = (uint64_t)(uintptr_t)vu_slot(r, i);
		r->desc[i].len = r->tx ? VU_HDR_LEN + r->gen_len : r->slot_len;
		r->desc[i].flags = r->tx ? 0 : VRING_DESC_F_WRITE;
		r->desc[i].next = 0;
	}
	r->free_head = 0;
	r->nfree = r->size;
	r->avail_idx = 0;
	r->last_used = 0;
	r->seq = 0;
	r->avail->flags = 0;
	r->avail->idx = 0;
	r->used->flags = 0;
	r->used->idx = 0;
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

uint16_t vu_ring_recover(struct vu_ring *r)
{
	uint16_t n, head, *inflight, k = 0;
	uint32_t len;

	if (r->broken || vu_used_count(r, &n) < 0)
		goto reset;
	/* What the old back-end returned: transmit buffers are free again;
	 * received packets are dropped (the application may be gone from
	 * this ring for a while, and a new back-end needs the buffers). */
	for (uint16_t i = 0; i < n; i++) {
		if (vu_used_entry(r, i, &head, &len) < 0)
			goto reset;
		if (!r->tx)
			r->st.lost_on_reset++;
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
	if (k != (uint16_t)(r->avail_idx - r->last_used)) {
		free(inflight);
		goto reset;
	}
	qsort_r(inflight, k, sizeof(*inflight), cmp_seq, r->heads);
	for (uint16_t i = 0; i < k; i++)
		r->avail->ring[(uint16_t)(r->last_used + i) & r->mask] =
			inflight[i];
	free(inflight);
	atomic_store_explicit((_Atomic uint16_t *)&r->avail->idx, r->avail_idx,
			      memory_order_release);
	return r->last_used;
reset:
	LOG_WARN("virtio-user ring %u: state not recoverable, reset", r->index);
	vu_ring_reset(r);
	return 0;
}
