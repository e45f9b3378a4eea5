/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packed rings: four packets through the four descriptors of one cache
 * line at once, when all four are single buffers that fit (DPDK's batch
 * path; flags, fields and translations in one pass each, copies in
 * another). Every check of all four comes before the first byte is
 * written, each descriptor field is read once (packed_batch_take), and
 * false changes nothing the guest can see: virtio_net.c's one-by-one path
 * then takes the same descriptors afresh. Used entries go to the burst's
 * shadow like the others, so the head's flags are still written last
 * (ring_publish). The virtio-net header rules are net_hdr.c's, as for
 * the one-by-one path.
 *
 * Callers hold the virtqueue lock and have checked vq->access_ok.
 */
#ifndef VHOST_VIRTIO_NET_BATCH_H
#define VHOST_VIRTIO_NET_BATCH_H

#include <linux/virtio_net.h>

#include "burst_stats.h"
#include "net_hdr.h"
#include "vring.h"

/* h0: the head at the cursor as peeked; used: the burst's used entries
 * so far. true: pkts[0..PACKED_BATCH) placed, the cursor moved past them. */
static inline __attribute__((always_inline)) bool
enqueue_batch(struct vhost_vring *vq, struct ring_cur *cur,
	      const struct ring_head *h0, struct vhost_pktbuf *const *pkts,
	      uint16_t used, struct burst_stats *b, const bool logging)
{
	/* num_buffers is 1 with or without MRG_RXBUF (5.1.6.4). */
	static const struct virtio_net_hdr_mrg_rxbuf plain = { .num_buffers = 1 };
	/* Locals: the copies into guest memory could alias vq, as far as
	 * the compiler knows. */
	const struct mem_table *mt = vq->mem;
	uint32_t hint = vq->mem_hint, need[PACKED_BATCH];
	uint8_t *p[PACKED_BATCH];
	struct packed_batch pb;

	/* Packed rings come with VERSION_1: the 12-byte header. */
	if (vq->hdr_len != sizeof(plain))
		return false;
	BATCH_UNROLL
	for (unsigned k = 0; k < PACKED_BATCH; k++) {
		if (pkts[k]->next || pkts[k]->ol_flags)
			return false;
		need[k] = sizeof(plain) + pkts[k]->pkt_len;
	}
	if (!packed_batch_take(vq, cur->idx, cur->wrap, h0->flags, cur->left,
			       VRING_DESC_F_WRITE, &pb))
		return false;
	BATCH_UNROLL
	for (unsigned k = 0; k < PACKED_BATCH; k++)
		if (pb.len[k] < need[k])
			return false;
	if (!mem_gpa_ranges_hint(mt, PACKED_BATCH, pb.addr, need, p, &hint))
		return false;
	vq->mem_hint = hint;
	/* Bookkeeping before the copies, which could alias it all. */
	packed_shadow_batch(vq, used, &pb, need);
	BATCH_UNROLL
	for (unsigned k = 0; k < PACKED_BATCH; k++)
		count_packet(b, need[k] - (uint32_t)sizeof(plain));
	ring_next(vq, true, cur, PACKED_BATCH);
	BATCH_UNROLL
	for (unsigned k = 0; k < PACKED_BATCH; k++) {
		memcpy(p[k], &plain, sizeof(plain));
		memcpy(p[k] + sizeof(plain), vhost_pktbuf_data(pkts[k]),
		       need[k] - sizeof(plain));
		if (logging)
			vring_log_gpa(vq, pb.addr[k], need[k]);
	}
	return true;
}

/* A header the batch refused leaves fresh buffers as they came: no
 * offload metadata (cold: one guest's bad header). */
static __attribute__((cold, noinline)) void
batch_clear_offloads(struct vhost_pktbuf *const *fresh, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		fresh[k]->ol_flags = 0;
		fresh[k]->csum_start = fresh[k]->csum_offset = 0;
		fresh[k]->gso_size = 0;
		fresh[k]->gso_type = VHOST_GSO_NONE;
	}
}

/* fresh: PACKED_BATCH empty packet buffers, filled on true, unchanged on
 * false. */
static inline __attribute__((always_inline)) bool
dequeue_batch(struct vhost_vring *vq, struct ring_cur *cur,
	      const struct ring_head *h0, struct vhost_pktbuf *const *fresh,
	      uint16_t taken, uint16_t queue, struct burst_stats *b)
{
	const struct mem_table *mt = vq->mem;
	uint64_t features = vq->features;
	uint32_t hint = vq->mem_hint, hdr_len = vq->hdr_len;
	uint8_t *p[PACKED_BATCH];
	struct packed_batch pb;

	if (!packed_batch_take(vq, cur->idx, cur->wrap, h0->flags, cur->left,
			       0, &pb))
		return false;
	BATCH_UNROLL
	for (unsigned k = 0; k < PACKED_BATCH; k++)
		if (pb.len[k] <= hdr_len ||
		    pb.len[k] - hdr_len > vhost_pktbuf_tailroom(fresh[k]))
			return false;
	if (!mem_gpa_ranges_hint(mt, PACKED_BATCH, pb.addr, pb.len, p, &hint))
		return false;
	BATCH_UNROLL
	for (unsigned k = 0; k < PACKED_BATCH; k++) {
		struct virtio_net_hdr_mrg_rxbuf h;

		/* The header is read once, into our memory, then checked. */
		memcpy(&h, p[k], sizeof(h.hdr));
		if (h.hdr.flags || h.hdr.gso_type) {
			if (!net_hdr_to_pkt(features, &h, pb.len[k] - hdr_len,
					    fresh[k])) {
				batch_clear_offloads(fresh, k + 1);
				return false;
			}
		} else {
			fresh[k]->ol_flags = 0;
		}
	}
	vq->mem_hint = hint;
	/* Bookkeeping before the copies, which could alias it all. */
	packed_shadow_batch(vq, taken, &pb, NULL);
	BATCH_UNROLL
	for (unsigned k = 0; k < PACKED_BATCH; k++)
		count_packet(b, pb.len[k] - hdr_len);
	ring_next(vq, true, cur, PACKED_BATCH);
	BATCH_UNROLL
	for (unsigned k = 0; k < PACKED_BATCH; k++) {
		struct vhost_pktbuf *pkt = fresh[k];
		uint32_t len = pb.len[k] - hdr_len;

		memcpy(vhost_pktbuf_data(pkt), p[k] + hdr_len, len);
		pkt->data_len = (uint16_t)len;
		pkt->pkt_len = len;
		pkt->queue = queue;
	}
	return true;
}

#endif
