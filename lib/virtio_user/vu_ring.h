/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Split ring, driver side (virtio 1.1, 2.6): free descriptor list, avail
 * ring posting, used ring reading with every value the back-end wrote
 * checked, and the notification decisions in both directions.
 *
 * Nothing in shared memory is read back but the used ring (idx, then each
 * entry's id and len, each read once): descriptors, chains and the order of
 * posts are kept in private arrays (next[], heads[]). Callers hold the
 * ring's busy flag.
 */
#ifndef VU_RING_H
#define VU_RING_H

#include <stdatomic.h>
#include <sys/eventfd.h>

#include "vu.h"

#define VU_READ(x) (*(const volatile __typeof__(x) *)&(x))

static inline uint8_t *vu_slot(const struct vu_ring *r, uint16_t head)
{
	return r->slots + (size_t)head * r->slot_len;
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

/* The chain at head back to the free list (the chain links are ours). */
static inline void vu_free_chain(struct vu_ring *r, uint16_t head)
{
	uint16_t n = r->heads[head].ndesc, last = head;

	for (uint16_t i = 1; i < n; i++)
		last = r->next[last];
	r->next[last] = r->free_head;
	r->free_head = head;
	r->nfree = (uint16_t)(r->nfree + n);
	r->heads[head].ndesc = 0;
}

/* Used entries the back-end added: at most what is in flight, or it broke
 * the ring (pairs with the back-end's release store of used->idx). */
static inline int vu_used_count(const struct vu_ring *r, uint16_t *count)
{
	uint16_t idx = atomic_load_explicit((_Atomic uint16_t *)&r->used->idx,
					    memory_order_acquire);
	uint16_t n = (uint16_t)(idx - r->last_used);

	if (n > (uint16_t)(r->avail_idx - r->last_used))
		return -1;
	*count = n;
	return 0;
}

/* Used entry i (from last_used): a head we posted and have not had back,
 * and a length within its buffer for receive rings. */
static inline int vu_used_entry(const struct vu_ring *r, uint16_t i,
				uint16_t *head, uint32_t *len)
{
	const struct vring_used_elem *e =
		&r->used->ring[(uint16_t)(r->last_used + i) & r->mask];
	uint32_t id = VU_READ(e->id), l = VU_READ(e->len);

	if (id >= r->size || !r->heads[id].ndesc)
		return -1;
	if (!r->tx && l > r->slot_len)
		return -1;
	*head = (uint16_t)id;
	*len = l;
	return 0;
}

static inline void vu_post(struct vu_ring *r, uint16_t head)
{
	r->avail->ring[r->avail_idx & r->mask] = head;
	r->avail_idx++;
}

/* Publish posts since old and kick the back-end if it asked: avail->idx
 * after the ring entries (release), then a full fence before reading the
 * back-end's suppression fields (pairs with its fence between writing them
 * and reading avail->idx again). */
static inline void vu_publish(struct vu_ring *r, uint16_t old)
{
	bool need;

	atomic_store_explicit((_Atomic uint16_t *)&r->avail->idx, r->avail_idx,
			      memory_order_release);
	atomic_thread_fence(memory_order_seq_cst);
	if (r->event_idx) {
		uint16_t ev = VU_READ(*(uint16_t *)&r->used->ring[r->size]);

		need = (uint16_t)(r->avail_idx - ev - 1) <
		       (uint16_t)(r->avail_idx - old);
	} else {
		need = !(VU_READ(r->used->flags) & VRING_USED_F_NO_NOTIFY);
	}
	if (need) {
		eventfd_write(r->kickfd, 1);
		r->st.kicks++;
	} else {
		r->st.kicks_suppressed++;
	}
}

/* Calls from the back-end: with EVENT_IDX, used_event just behind
 * last_used asks for one at the next used entry, half a wrap ahead for
 * none (never reached: at most size <= 4096 entries are in flight). */
static inline void vu_update_intr(struct vu_ring *r)
{
	if (r->event_idx)
		*(volatile uint16_t *)&r->avail->ring[r->size] =
			(uint16_t)(r->last_used + (r->intr ? 0 : 0x8000));
	else
		*(volatile uint16_t *)&r->avail->flags =
			r->intr ? 0 : VRING_AVAIL_F_NO_INTERRUPT;
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
